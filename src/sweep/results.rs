//! The sweep's tables, rebuilt from the run folders every time (so runs that
//! finished on other machines into the same folder are merged, and nothing is
//! appended twice): results.csv (one row per run) and curves.csv (one row per
//! evaluation of each run, for Approach 1 of the fit).

use super::spec::PlannedRun;
use crate::train::metrics::{self, Summary};
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
    pub mfu: Option<f64>,
    pub device: Option<String>,
    pub error: Option<String>,
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
    if let Ok(s) = crate::fsx::read_json::<Summary>(&dir.join("summary.json")) {
        if s.status == "finished" {
            return RunState::Finished(Box::new(s));
        }
    }
    if let Ok(f) = crate::fsx::read_json::<Failure>(failure) {
        return RunState::Failed(f.error);
    }
    if dir.join("metrics.jsonl").exists() {
        RunState::Partial
    } else {
        RunState::Missing
    }
}

pub fn row(run: &PlannedRun, dir: &Path, failure: &Path) -> Row {
    let pc = crate::model::params::param_counts(&run.cfg.model);
    let mut r = Row {
        run: run.name.clone(),
        status: "missing".into(),
        size: run.size.clone(),
        design: run.budget.kind().into(),
        budget: run.budget.value(),
        n_layer: run.cfg.model.n_layer,
        d_model: run.cfg.model.d_model,
        params: pc.total,
        non_embedding_params: pc.non_embedding,
        tokens: None,
        flops: None,
        final_train_loss: None,
        val_loss: None,
        val_bpb: None,
        wall_s: None,
        tok_per_s: None,
        mfu: None,
        device: None,
        error: None,
    };
    match state(dir, failure) {
        RunState::Finished(s) => {
            r.status = "ok".into();
            r.tokens = Some(s.tokens);
            r.flops = Some(s.flops);
            r.final_train_loss = Some(s.final_train_loss);
            r.val_loss = Some(s.val_loss);
            r.val_bpb = Some(s.val_bpb);
            r.wall_s = Some(s.wall_s);
            r.tok_per_s = Some(s.tok_per_s);
            r.mfu = s.mfu;
            r.device = Some(s.device);
        }
        RunState::Failed(e) => {
            r.status = "failed".into();
            r.error = Some(e);
        }
        RunState::Partial => r.status = "partial".into(),
        RunState::Missing => {}
    }
    r
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

/// Every evaluation after step 0 of a finished run.
pub fn curve(run: &PlannedRun, dir: &Path) -> Result<Vec<CurvePoint>> {
    let pc = crate::model::params::param_counts(&run.cfg.model);
    let (_, evals) = metrics::read(&dir.join("metrics.jsonl"))?;
    Ok(evals
        .into_iter()
        .filter(|e| e.tokens_seen > 0)
        .map(|e| CurvePoint {
            run: run.name.clone(),
            params: pc.total,
            non_embedding_params: pc.non_embedding,
            tokens: e.tokens_seen,
            flops: e.flops_cum,
            loss: e.val_loss,
        })
        .collect())
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
