//! `scalelab sweep`: expand a spec into runs, train them in order (resumable:
//! finished runs are skipped, interrupted ones resumed, failed ones retried),
//! keep results.csv / curves.csv current, then fit and report.

pub mod axes;
pub mod cli;
pub mod design;
pub mod spec;
pub mod tables;
pub mod validation;

use crate::fsx;
use crate::rundir::{self, results};
use crate::train::{self, Stopped, TrainOptions};
use anyhow::{anyhow, bail, Context, Result};
use design::{Outcome as RunOutcome, Plan};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use results::{Failure, RunState};
use spec::{PlannedRun, Spec};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// A sweep folder: spec.toml, runs/<name>/ (ordinary run folders), results.csv,
/// curves.csv, and design.json for an adaptive design.
pub struct Sweep {
    pub spec: Spec,
    pub out: PathBuf,
    /// The spec's family of sizes (adaptive designs and validation runs).
    family: OnceLock<Vec<(String, crate::config::RunConfig)>>,
    /// The validation runs, planned (one fit) once the main runs have finished.
    validation: OnceLock<Vec<PlannedRun>>,
}

impl Sweep {
    /// Load and expand the spec, with `set` appended to its overrides; `out`
    /// defaults to checkpoints/sweeps/<spec name>.
    pub fn open(spec_path: &Path, out: Option<PathBuf>, set: &[String]) -> Result<Self> {
        let (mut spec, _) = Spec::load(spec_path)?;
        spec.set.extend(set.iter().cloned());
        // Plan once up front: a spec that cannot be planned fails before anything is written.
        spec.plan()
            .map_err(|e| anyhow!("sweep spec {}: {e:#}", spec_path.display()))?;
        let stem = spec_path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("sweep");
        let out = out.unwrap_or_else(|| PathBuf::from("checkpoints/sweeps").join(stem));
        Ok(Sweep {
            spec,
            out,
            family: Default::default(),
            validation: Default::default(),
        })
    }

    pub fn family(&self) -> Result<&[(String, crate::config::RunConfig)]> {
        if self.family.get().is_none() {
            let f = self.spec.family()?;
            let _ = self.family.set(f);
        }
        Ok(self.family.get().expect("set above"))
    }

    /// The main runs planned so far: all of a static design; an adaptive
    /// design's budgets up to the first that is still training.
    pub fn plan(&self) -> Result<Plan> {
        let family = match self.spec.adaptive() {
            Some(_) => self.family()?,
            None => &[],
        };
        self.spec.plan_with(family, &|r| match self.state(r) {
            RunState::Finished(s) => RunOutcome::Done(s.val_loss),
            RunState::Failed(_) => RunOutcome::Failed,
            RunState::Partial | RunState::Missing => RunOutcome::Pending,
        })
    }

    /// Every run planned so far: the main plan, then — once it is complete and
    /// finished — the validation runs.
    pub fn runs(&self) -> Result<(Plan, Vec<PlannedRun>)> {
        let plan = self.plan()?;
        let validation = if plan.complete {
            self.validation_plan(&plan.runs)?
        } else {
            Vec::new()
        };
        Ok((plan, validation))
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
    fn validation_plan(&self, main: &[PlannedRun]) -> Result<Vec<PlannedRun>> {
        let Some(v) = &self.spec.validation else {
            return Ok(Vec::new());
        };
        if let Some(planned) = self.validation.get() {
            return Ok(planned.clone());
        }
        let rows = self.rows(main);
        if rows.iter().any(|r| r.status != "ok") {
            return Ok(Vec::new());
        }
        let planned = validation::plan(&self.spec, v, &rows, self.family()?)?;
        Ok(self.validation.get_or_init(|| planned).clone())
    }

    /// Rebuild results.csv and curves.csv from the run folders (curves.csv
    /// without the validation runs: they never enter a fit), and design.json.
    pub fn write_tables(&self) -> Result<Vec<results::Row>> {
        let (plan, validation) = self.runs()?;
        if self.spec.adaptive().is_some() {
            fsx::write_json_atomic(&self.out.join(design::DESIGN_FILE), &plan.budgets)?;
        }
        let runs: Vec<PlannedRun> = plan.runs.iter().chain(&validation).cloned().collect();
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
    /// `scalelab train` command line that trains it (for --jobs), with the
    /// `--profile` and `--memory-budget` of `base` when given.
    pub fn job(&self, run: &PlannedRun, exe: &str, base: &TrainOptions) -> Result<String> {
        let cfg_path = self.out.join("configs").join(format!("{}.toml", run.name));
        crate::fsx::create_dir_all(cfg_path.parent().expect("has parent"))?;
        fsx::write_atomic(&cfg_path, run.cfg.to_toml().as_bytes())?;
        let profile = base
            .profile
            .as_ref()
            .map(|p| format!(" --profile {}", sh(&p.display().to_string())))
            .unwrap_or_default();
        let budget = base
            .memory_budget
            .map(|b| format!(" --memory-budget {b}"))
            .unwrap_or_default();
        Ok(format!(
            "{exe} train --config {} --out {} --resume --quiet{profile}{budget}",
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
/// `base` holds what every run shares: the device profile for MFU against
/// the measured peak (else the default location) and the memory budget.
pub fn run(sweep: &Sweep, quiet: bool, base: &TrainOptions) -> Result<Outcome> {
    sweep.claim_folder()?;
    let _lock = rundir::lock(&sweep.out).map_err(|_| {
        anyhow!(
            "sweep folder {} is in use by another scalelab sweep",
            sweep.out.display()
        )
    })?;
    // Tokenize once, up front, with its own progress output.
    let first = sweep
        .plan()?
        .runs
        .into_iter()
        .next()
        .expect("a plan has runs");
    crate::data::ensure_dataset(&first.cfg, quiet)?;
    // Said once here: the runs train quietly.
    let dev = first.cfg.train.device.open()?;
    let profile = base.profile.as_deref();
    if let Err(note) = crate::profile::measured_peak(profile, &dev, first.cfg.train.dtype)? {
        eprintln!("note: {note}");
    }

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
        base: base.clone(),
        tried: HashSet::new(),
        trained: 0,
        failed: 0,
    };
    // Rounds: an adaptive design plans more runs as runs finish; each run is
    // tried at most once per invocation (a failure is retried by the next one).
    loop {
        let (plan, validation) = sweep.runs()?;
        let all: Vec<&PlannedRun> = plan.runs.iter().chain(&validation).collect();
        let todo: Vec<&PlannedRun> = all
            .iter()
            .copied()
            .filter(|r| !progress.tried.contains(&r.name))
            .collect();
        if todo.is_empty() {
            break;
        }
        let total: f64 = all.iter().map(|r| cost(r)).sum();
        let mut done: f64 = all
            .iter()
            .filter(|r| progress.tried.contains(&r.name))
            .map(|r| cost(r))
            .sum();
        let n = todo.len();
        for (i, r) in todo.into_iter().enumerate() {
            let what = if r.validation { "validation " } else { "" };
            progress.train_one(sweep, r, &format!("[{what}{}/{n}] {}", i + 1, r.name))?;
            done += cost(r);
            progress.pb.set_position((1000.0 * done / total) as u64);
            sweep.write_tables()?;
        }
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
    /// Profile and memory budget of every run.
    base: TrainOptions,
    /// Runs already trained, skipped or failed by this invocation.
    tried: HashSet<String>,
    trained: usize,
    failed: usize,
}

impl Progress {
    fn train_one(&mut self, sweep: &Sweep, r: &PlannedRun, label: &str) -> Result<()> {
        self.tried.insert(r.name.clone());
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
            ..self.base.clone()
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
