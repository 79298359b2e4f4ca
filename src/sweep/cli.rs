//! `scalelab sweep SPEC [--out DIR] [--jobs] [--collect]`.

use super::Sweep;
use anyhow::Result;
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct SweepArgs {
    /// Sweep spec (TOML, see configs/sweeps/).
    pub spec: PathBuf,
    /// Sweep folder (default: checkpoints/sweeps/<spec name>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print one `scalelab train` command per unfinished run instead of training
    /// (for GNU parallel or a Slurm array); then `--collect` merges the results.
    #[arg(long, conflicts_with = "collect")]
    pub jobs: bool,
    /// Only rebuild results.csv / curves.csv (and the fit and report) from the run folders.
    #[arg(long)]
    pub collect: bool,
    /// Override a config field for every run, after the spec's own `set`
    /// (repeatable), e.g. `--set data.corpus=data/rust_code.txt.xz`; it
    /// becomes part of the spec recorded in the sweep folder.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
    /// Refuse (or, with train.micro_batch = "auto", split) every run whose
    /// predicted peak memory exceeds SIZE (e.g. 2GiB, 500MB).
    #[arg(long, value_name = "SIZE")]
    pub memory_budget: Option<String>,
    /// Skip the fit and report after training.
    #[arg(long)]
    pub no_report: bool,
    #[command(flatten)]
    pub report: crate::report::cli::ReportOptions,
}

pub fn run(a: SweepArgs) -> Result<i32> {
    let report_opts = a.report.resolve()?;
    let base = crate::train::TrainOptions {
        profile: a.report.profile.clone(),
        memory_budget: crate::memory::budget_flag(&a.memory_budget)?,
        ..Default::default()
    };
    let sweep = Sweep::open(&a.spec, a.out.clone(), &a.set)?;
    if a.jobs {
        sweep.claim_folder()?;
        let exe = std::env::current_exe()
            .ok()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "scalelab".into());
        // An adaptive design's next budget and the validation runs appear as runs
        // finish (run --collect, then --jobs again).
        let (plan, validation) = sweep.runs()?;
        for r in plan.runs.iter().chain(&validation) {
            if !matches!(
                sweep.state(r),
                crate::rundir::results::RunState::Finished(_)
            ) {
                println!("{}", sweep.job(r, &exe, &base)?);
            }
        }
        return Ok(0);
    }
    let rows = if a.collect {
        sweep.claim_folder()?;
        sweep.write_tables()?
    } else {
        let o = match super::run(&sweep, a.quiet, &base) {
            Ok(o) => o,
            Err(e) => {
                // Ctrl-C / SIGTERM: the run in progress wrote a checkpoint; the same command resumes.
                if let Some(stop) = e.downcast_ref::<crate::train::Stopped>() {
                    eprintln!("sweep interrupted: {stop}; run the same command again to continue");
                    return Ok(stop.exit_code());
                }
                return Err(e);
            }
        };
        eprintln!(
            "sweep {}: {} runs trained now, {} failed",
            sweep.out.display(),
            o.trained,
            o.failed
        );
        o.rows
    };
    let ok = rows.iter().filter(|r| r.status == "ok").count();
    let failed = rows.iter().filter(|r| r.status == "failed").count();
    eprintln!(
        "{ok}/{} runs finished; results in {}",
        rows.len(),
        sweep.out.join("results.csv").display()
    );
    if !a.no_report && ok > 0 {
        let t = std::time::Instant::now();
        let path = crate::report::report(&sweep.out, &report_opts)?;
        eprintln!(
            "fit and report in {:.0} s: {} (charts in {}, fit in {})",
            t.elapsed().as_secs_f64(),
            path.display(),
            sweep.out.join("charts").display(),
            sweep.out.join("fit.json").display()
        );
        let fit: Option<crate::scaling::FitReport> =
            crate::fsx::read_json(&sweep.out.join("fit.json")).ok();
        if let Some(v) = fit.and_then(|f| f.verdict) {
            eprintln!("verdict: {}", v.headline());
            for r in &v.reasons {
                eprintln!("  - {r}");
            }
        }
    }
    if failed > 0 {
        eprintln!("error: {failed} runs failed (see the error column of results.csv); run the sweep again to retry them");
        return Ok(1);
    }
    Ok(0)
}
