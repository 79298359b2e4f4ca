//! `scalelab sweep`: expand a spec into runs, train them in order (resumable:
//! finished runs are skipped, interrupted ones resumed, failed ones retried),
//! keep results.csv / curves.csv current, then fit and report.

pub mod cli;
pub mod results;
pub mod spec;

use crate::fsx;
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
        Ok(Sweep { spec, plan, out })
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
        std::fs::create_dir_all(self.out.join("runs"))
            .with_context(|| format!("sweep folder {}: cannot create", self.out.display()))?;
        let text = toml::to_string_pretty(&self.spec)?;
        let path = self.out.join("spec.toml");
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

    /// Rebuild results.csv and curves.csv from the run folders.
    pub fn write_tables(&self) -> Result<Vec<results::Row>> {
        let rows: Vec<results::Row> = self
            .plan
            .iter()
            .map(|r| {
                results::row(
                    r,
                    &self.run_dir(r),
                    &results::failure_path(&self.out, &r.name),
                )
            })
            .collect();
        results::write_csv(&self.out.join("results.csv"), &rows)?;
        let mut curves = Vec::new();
        for (r, row) in self.plan.iter().zip(&rows) {
            if row.status == "ok" {
                curves.extend(results::curve(r, &self.run_dir(r))?);
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

/// Train every run that is not finished, in plan order.
pub fn run(sweep: &Sweep, quiet: bool) -> Result<Outcome> {
    sweep.claim_folder()?;
    let _lock = train::lock_run_dir(&sweep.out).map_err(|_| {
        anyhow!(
            "sweep folder {} is in use by another scalelab sweep",
            sweep.out.display()
        )
    })?;
    // Tokenize once, up front, with its own progress output.
    train::ensure_dataset(&sweep.plan[0].cfg, quiet)?;

    let cost = |r: &PlannedRun| train::total_steps(&r.cfg) as f64 * r.cfg.tokens_per_step() as f64;
    let total: f64 = sweep.plan.iter().map(cost).sum();
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
    let mut done = 0.0;
    let (mut trained, mut failed) = (0, 0);
    let n = sweep.plan.len();
    for (i, r) in sweep.plan.iter().enumerate() {
        let dir = sweep.run_dir(r);
        let label = format!("[{}/{n}] {}", i + 1, r.name);
        let failure = results::failure_path(&sweep.out, &r.name);
        match sweep.state(r) {
            RunState::Finished(s) => {
                crate::train::metrics::println(
                    &pb,
                    format!("{label}: finished earlier (val loss {:.4})", s.val_loss),
                );
            }
            state => {
                if let RunState::Failed(_) = state {
                    let _ = std::fs::remove_file(&failure);
                }
                pb.set_message(r.name.clone());
                let opts = TrainOptions {
                    out: dir.clone(),
                    resume: true,
                    halt_after: None,
                    quiet: true,
                };
                let res =
                    std::panic::catch_unwind(|| train::train(&r.cfg, &opts)).unwrap_or_else(|p| {
                        let msg = p
                            .downcast_ref::<String>()
                            .cloned()
                            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                            .unwrap_or_default();
                        Err(anyhow!("panicked: {msg}"))
                    });
                match res {
                    Ok(s) => {
                        trained += 1;
                        crate::train::metrics::println(&pb, format!(
                            "{label}: {} params, {} tokens, {:.2e} FLOPs | val loss {:.4} (bpb {:.4}) | {:.0} s, {:.0} tok/s",
                            crate::train::metrics::si(s.params as f64),
                            crate::train::metrics::si(s.tokens as f64),
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
                        failed += 1;
                        let msg = crate::config::one_line(&format!("{e:#}"));
                        crate::train::metrics::println(&pb, format!("{label}: FAILED: {msg}"));
                        crate::fsx::create_dir_all(&sweep.out.join("failed"))?;
                        fsx::write_json_atomic(&failure, &Failure { error: msg })?;
                    }
                }
            }
        }
        done += cost(r);
        pb.set_position((1000.0 * done / total) as u64);
        sweep.write_tables()?;
    }
    pb.finish_and_clear();
    let rows = sweep.write_tables()?;
    Ok(Outcome {
        rows,
        trained,
        failed,
    })
}
