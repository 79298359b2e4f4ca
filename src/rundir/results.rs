//! The sweep's tables, one format for the sweep that writes them and the
//! report and fit that read them: results.csv (one [`Row`] per run) and
//! curves.csv (one [`CurvePoint`] per evaluation of each run, for Approach 1
//! of the fit). The sweep rebuilds them from the run folders every time.

use super::metrics::Summary;
use anyhow::Result;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Failures are recorded as `<sweep>/failed/<run>.json` (not inside the run
/// folder, which may be what failed); removed on retry.
pub fn failure_path(sweep_dir: &Path, run: &str) -> std::path::PathBuf {
    sweep_dir.join("failed").join(format!("{run}.json"))
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Failure {
    pub error: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Row {
    pub run: String,
    pub status: String,
    pub size: String,
    pub design: String,
    pub budget: f64,
    pub n_layer: usize,
    pub d_model: usize,
    pub params: u64,
    pub non_embedding_params: u64,
    pub tokens: Option<u64>,
    pub flops: Option<f64>,
    pub final_train_loss: Option<f64>,
    pub val_loss: Option<f64>,
    pub val_bpb: Option<f64>,
    pub wall_s: Option<f64>,
    pub tok_per_s: Option<f64>,
    /// Against the vendor peak; `mfu_measured` against a device profile's measured peak.
    pub mfu: Option<f64>,
    pub device: Option<String>,
    pub error: Option<String>,
    /// The run's `train.seed` (replicates of one size and budget differ only in it).
    #[serde(default)]
    pub seed: Option<u64>,
    /// The run's hyperparameters (`optim.lr`, `train.batch_size`,
    /// `optim.beta2`): what a sweep's `[axes]` vary; empty in older tables.
    #[serde(default)]
    pub lr: Option<f64>,
    #[serde(default)]
    pub batch_size: Option<usize>,
    #[serde(default)]
    pub beta2: Option<f64>,
    /// Passes over the training split; above 1 the run repeated data.
    #[serde(default)]
    pub epochs: Option<f64>,
    #[serde(default)]
    pub mfu_measured: Option<f64>,
}

/// Status of a planned run from what its folder holds.
pub enum RunState {
    Finished(Box<Summary>),
    Failed(String),
    /// Started (checkpoints or metrics) but not finished.
    Partial,
    Missing,
}

pub fn state(dir: &Path, failure: &Path) -> RunState {
    if let Ok(s) = super::read_summary(dir) {
        if s.status == "finished" {
            return RunState::Finished(Box::new(s));
        }
    }
    if let Ok(f) = crate::fsx::read_json::<Failure>(failure) {
        return RunState::Failed(f.error);
    }
    if super::metrics_path(dir).exists() {
        RunState::Partial
    } else {
        RunState::Missing
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct CurvePoint {
    pub run: String,
    pub params: u64,
    pub non_embedding_params: u64,
    pub tokens: u64,
    pub flops: f64,
    pub loss: f64,
}

/// Read a results.csv written by [`write_csv`].
pub fn read_rows(path: &Path) -> Result<Vec<Row>> {
    let mut r =
        csv::Reader::from_path(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    r.deserialize()
        .enumerate()
        .map(|(i, row)| row.map_err(|e| anyhow::anyhow!("{} row {}: {e}", path.display(), i + 2)))
        .collect()
}

/// Serialize rows as CSV and write the file atomically.
pub fn write_csv<T: Serialize>(path: &Path, rows: &[T]) -> Result<()> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in rows {
        w.serialize(r)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    crate::fsx::write_atomic(path, &bytes)
}

/// The sweep folder's record of how an adaptive design chose each budget's sizes.
pub const DESIGN_FILE: &str = "design.json";

/// How one budget was designed (an entry of design.json).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BudgetDesign {
    pub flops: f64,
    /// The predicted optimum the sizes were centred on, and where it came from.
    pub predicted_n: f64,
    pub predicted_from: String,
    /// Sizes trained, by increasing N.
    pub sizes: Vec<String>,
    pub params: Vec<f64>,
    /// Sizes added to bracket the minimum (`smaller` / `larger`, in order).
    pub extended: Vec<String>,
    /// The minimum's N (parabola vertex through the profile, or the best size);
    /// `None` while the budget is still training.
    pub n_opt: Option<f64>,
    /// The best size is not at an edge of the profile.
    pub interior: Option<bool>,
    /// Why the design stopped short of an interior minimum, if it did.
    pub note: Option<String>,
}
