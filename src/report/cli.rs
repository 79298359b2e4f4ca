//! `scalelab report DIR [--hardware ID --mfu X --gpus K --targets …]`.

use super::sweep::Options;
use anyhow::{bail, Result};
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug, Clone)]
pub struct ReportOptions {
    /// Bootstrap resamples for the fit's confidence intervals.
    #[arg(long, default_value_t = 1000)]
    pub bootstrap: usize,
    /// Runs (the largest by FLOPs) held out to validate the fit; default a fifth of the runs.
    #[arg(long, default_value_t = 0)]
    pub holdout: usize,
    /// Hardware catalog id for the cost of the extrapolated targets.
    #[arg(long, default_value = "h100-sxm")]
    pub hardware: String,
    /// MFU assumed at scale for the targets.
    #[arg(long, default_value_t = 0.4)]
    pub mfu: f64,
    /// GPUs for the wall-clock column of the targets.
    #[arg(long, default_value_t = 1024)]
    pub gpus: u64,
    /// Target sizes in parameters, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = [1e9, 7e9, 13e9, 20e9, 70e9, 120e9, 175e9])]
    pub targets: Vec<f64>,
    /// Device profile (`scalelab calibrate`) for the predicted step time of every run
    /// and MFU against the measured peak (default: $SCALELAB_PROFILE, else
    /// checkpoints/device-profile.json if it exists).
    #[arg(long, value_name = "FILE")]
    pub profile: Option<PathBuf>,
}

impl ReportOptions {
    pub fn resolve(&self) -> Result<Options> {
        if self.bootstrap == 0 {
            bail!("--bootstrap must be at least 1");
        }
        if !(self.mfu > 0.0 && self.mfu <= 1.0) {
            bail!("--mfu must be in (0, 1], got {}", self.mfu);
        }
        if self.gpus == 0 {
            bail!("--gpus must be at least 1");
        }
        if self.targets.is_empty() || self.targets.iter().any(|t| !(t.is_finite() && *t >= 1.0)) {
            bail!(
                "--targets must be positive parameter counts, got {:?}",
                self.targets
            );
        }
        crate::hardware::Catalog::load()?
            .get(&self.hardware)
            .map_err(|e| anyhow::anyhow!("--hardware: {e}"))?;
        Ok(Options {
            bootstrap: self.bootstrap,
            holdout: self.holdout,
            targets: self.targets.clone(),
            hardware: self.hardware.clone(),
            mfu: self.mfu,
            gpus: self.gpus,
            profile: self.profile.clone(),
        })
    }
}

#[derive(Args, Debug)]
pub struct ReportArgs {
    /// A run folder (metrics.jsonl) or a sweep folder (results.csv).
    pub dir: PathBuf,
    #[command(flatten)]
    pub opts: ReportOptions,
}

pub fn run(a: ReportArgs) -> Result<i32> {
    let opts = a.opts.resolve()?;
    let path = super::report(&a.dir, &opts)?;
    println!(
        "wrote {} (charts in {})",
        path.display(),
        a.dir.join("charts").display()
    );
    Ok(0)
}
