//! `scalelab sweep`: expand a spec into runs, train them in order (resumable:
//! finished runs are skipped, interrupted ones resumed, failed ones retried),
//! keep results.csv / curves.csv current, then fit and report.

pub mod axes;
pub mod cli;
pub mod spec;
pub mod tables;
pub mod validation;

use crate::fsx;
use crate::rundir::{self, results};
use crate::train::{self, Stopped, TrainOptions};
use anyhow::{anyhow, bail, Context, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use results::{Failure, RunState};
use spec::{PlannedRun, Spec};
use std::path::{Path, PathBuf};

/// A sweep folder: spec.toml, runs/<name>/ (ordinary run folders), results.csv, curves.csv.
pub struct Sweep {
    pub spec: Spec,
    pub plan: Vec<PlannedRun>,
    pub out: PathBuf,
    /// The validation runs, planned (one fit) once the main runs have finished.
    validation: std::sync::OnceLock<Vec<PlannedRun>>,
}

impl Sweep {
    /// Load and expand the spec; `out` defaults to checkpoints/sweeps/<spec name>.
    pub fn open(spec_path: &Path, out: Option<PathBuf>) -> Result<Self> {
        let (spec, _) = Spec::load(spec_path)?;
        let plan = spec
            .plan()
            .map_err(|e| anyhow!("sweep spec {}: {e:#}", spec_path.display()))?;
        let stem = spec_path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("sweep");
        let out = out.unwrap_or_else(|| PathBuf::from("checkpoints/sweeps").join(stem));
        Ok(Sweep {
            spec,
            plan,
            out,
            validation: Default::default(),
        })
    }

    pub fn run_dir(&self, run: &PlannedRun) -> PathBuf {
        self.out.join("runs").join(&run.name)
    }

    pub fn state(&self, run: &PlannedRun) -> RunState {
        results::state(
            &self.run_dir(run),
            &results::failure_path(&self.out, &run.name),
        )
    }

    /// Record the spec in the folder, refusing a folder made by a different spec
    /// (its runs would be mixed with ours).
    pub fn claim_folder(&self) -> Result<()> {
        let path = self.out.join("spec.toml");
        if !path.exists() {
            // Not a folder of any sweep: its results.csv (or anything else) is not ours to replace.
            rundir::refuse_foreign(&self.out, "sweep folder", |n| n == "runs")?;
        }
        std::fs::create_dir_all(self.out.join("runs"))
            .with_context(|| format!("sweep folder {}: cannot create", self.out.display()))?;
        let text = toml::to_string_pretty(&self.spec)?;
        match std::fs::read_to_string(&path) {
            Ok(old) if old != text => bail!(
                "sweep folder {} was made by a different spec ({}); choose another --out",
                self.out.display(),
                path.display()
            ),
            Ok(_) => Ok(()),
            Err(_) => fsx::write_atomic(&path, text.as_bytes()),
        }
    }

    fn rows(&self, runs: &[PlannedRun]) -> Vec<results::Row> {
        runs.iter()
            .map(|r| {
                tables::row(
                    r,
                    &self.run_dir(r),
                    &results::failure_path(&self.out, &r.name),
                )
            })
            .collect()
    }

    /// The validation runs (spec `[validation]`): planned from a fit of the
    /// main runs once all of them have finished; none before that.
    pub fn validation_plan(&self) -> Result<Vec<PlannedRun>> {
        let Some(v) = &self.spec.validation else {
            return Ok(Vec::new());
        };
        if let Some(planned) = self.validation.get() {
            return Ok(planned.clone());
        }
        let rows = self.rows(&self.plan);
        if rows.iter().any(|r| r.status != "ok") {
            return Ok(Vec::new());
        }
        let planned = validation::plan(&self.spec, v, &rows)?;
        Ok(self.validation.get_or_init(|| planned).clone())
    }

    /// Rebuild results.csv and curves.csv from the run folders (curves.csv
    /// without the validation runs: they never enter a fit).
    pub fn write_tables(&self) -> Result<Vec<results::Row>> {
        let validation = self.validation_plan()?;
        let runs: Vec<PlannedRun> = self.plan.iter().chain(&validation).cloned().collect();
        let rows = self.rows(&runs);
        results::write_csv(&self.out.join("results.csv"), &rows)?;
        let mut curves = Vec::new();
        for (r, row) in runs.iter().zip(&rows) {
            if row.status == "ok" && !r.validation {
                curves.extend(tables::curve(r, &self.run_dir(r))?);
            }
        }
        results::write_csv(&self.out.join("curves.csv"), &curves)?;
        Ok(rows)
    }

    /// Write the run's resolved config to configs/<name>.toml and return the
    /// `scalelab train` command line that trains it (for --jobs).
    pub fn job(&self, run: &PlannedRun, exe: &str) -> Result<String> {
        let cfg_path = self.out.join("configs").join(format!("{}.toml", run.name));
        crate::fsx::create_dir_all(cfg_path.parent().expect("has parent"))?;
        fsx::write_atomic(&cfg_path, run.cfg.to_toml().as_bytes())?;
        Ok(format!(
            "{exe} train --config {} --out {} --resume --quiet",
            sh(&cfg_path.display().to_string()),
            sh(&self.run_dir(run).display().to_string())
        ))
    }
}

/// Quote for a POSIX shell when needed.
fn sh(s: &str) -> String {
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_./=:+,".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// How a sweep ended.
pub struct Outcome {
    pub rows: Vec<results::Row>,
    pub trained: usize,
    pub failed: usize,
}

/// Train every run that is not finished, in plan order; then, when the spec
/// asks for validation, fit the finished runs and train the validation runs
/// beyond the fitted compute.
pub fn run(sweep: &Sweep, quiet: bool) -> Result<Outcome> {
    sweep.claim_folder()?;
    let _lock = rundir::lock(&sweep.out).map_err(|_| {
        anyhow!(
            "sweep folder {} is in use by another scalelab sweep",
            sweep.out.display()
        )
    })?;
    // Tokenize once, up front, with its own progress output.
    crate::data::ensure_dataset(&sweep.plan[0].cfg, quiet)?;

    let pb = if quiet {
        ProgressBar::with_draw_target(Some(1000), ProgressDrawTarget::hidden())
    } else {
        ProgressBar::new(1000)
    };
    pb.set_style(
        ProgressStyle::with_template(
            "{bar:30} {percent}% of tokens | {msg} | elapsed {elapsed} | eta {eta}",
        )
        .expect("template")
        .progress_chars("=> "),
    );
    let mut progress = Progress {
        pb,
        total: sweep.plan.iter().map(cost).sum(),
        done: 0.0,
        trained: 0,
        failed: 0,
    };
    progress.train_all(sweep, &sweep.plan, "")?;
    let validation = sweep.validation_plan()?;
    if !validation.is_empty() {
        progress.total += validation.iter().map(cost).sum::<f64>();
        progress.train_all(sweep, &validation, "validation ")?;
    }
    progress.pb.finish_and_clear();
    let rows = sweep.write_tables()?;
    Ok(Outcome {
        rows,
        trained: progress.trained,
        failed: progress.failed,
    })
}

/// Tokens a planned run trains on (the progress bar's unit).
fn cost(r: &PlannedRun) -> f64 {
    crate::flops::total_steps(&r.cfg) as f64 * r.cfg.tokens_per_step() as f64
}

struct Progress {
    pb: ProgressBar,
    total: f64,
    done: f64,
    trained: usize,
    failed: usize,
}

impl Progress {
    /// Train each unfinished run of `runs` in order, recording failures; a
    /// stop (signal, ranks left blocked) ends the sweep.
    fn train_all(&mut self, sweep: &Sweep, runs: &[PlannedRun], what: &str) -> Result<()> {
        let n = runs.len();
        for (i, r) in runs.iter().enumerate() {
            let label = format!("[{what}{}/{n}] {}", i + 1, r.name);
            self.train_one(sweep, r, &label)?;
            self.done += cost(r);
            self.pb
                .set_position((1000.0 * self.done / self.total) as u64);
            sweep.write_tables()?;
        }
        Ok(())
    }

    fn train_one(&mut self, sweep: &Sweep, r: &PlannedRun, label: &str) -> Result<()> {
        let pb = &self.pb;
        let failure = results::failure_path(&sweep.out, &r.name);
        let state = sweep.state(r);
        if let RunState::Finished(s) = state {
            rundir::metrics::println(
                pb,
                format!("{label}: finished earlier (val loss {:.4})", s.val_loss),
            );
            return Ok(());
        }
        if let RunState::Failed(_) = state {
            let _ = std::fs::remove_file(&failure);
        }
        pb.set_message(r.name.clone());
        let opts = TrainOptions {
            out: sweep.run_dir(r),
            resume: true,
            halt_after: None,
            quiet: true,
        };
        let res = std::panic::catch_unwind(|| train::train(&r.cfg, &opts)).unwrap_or_else(|p| {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            Err(anyhow!("panicked: {msg}"))
        });
        match res {
            Ok(s) => {
                self.trained += 1;
                rundir::metrics::println(pb, format!(
                    "{label}: {} params, {} tokens, {:.2e} FLOPs | val loss {:.4} (bpb {:.4}) | {:.0} s, {:.0} tok/s",
                    crate::fmt::si(s.params as f64, 1),
                    crate::fmt::si(s.tokens as f64, 1),
                    s.flops,
                    s.val_loss,
                    s.val_bpb,
                    s.wall_s,
                    s.tok_per_s
                ));
            }
            // A stop, or GPUs left blocked by a failed multi-GPU run: no next run.
            Err(e)
                if e.downcast_ref::<Stopped>().is_some()
                    || e.downcast_ref::<crate::train::dist::RanksLeftBehind>()
                        .is_some() =>
            {
                pb.abandon();
                sweep.write_tables()?;
                return Err(e);
            }
            Err(e) => {
                self.failed += 1;
                let msg = crate::config::one_line(&format!("{e:#}"));
                rundir::metrics::println(pb, format!("{label}: FAILED: {msg}"));
                crate::fsx::create_dir_all(&sweep.out.join("failed"))?;
                fsx::write_json_atomic(&failure, &Failure { error: msg })?;
            }
        }
        Ok(())
    }
}
