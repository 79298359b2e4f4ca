//! A planned run's row of results.csv and its points of curves.csv, from what
//! its run folder holds (the table format is [`crate::rundir::results`]).

use super::spec::PlannedRun;
use crate::rundir::results::{state, CurvePoint, Row, RunState};
use crate::rundir::{metrics, metrics_path};
use anyhow::Result;
use std::path::Path;

pub fn row(run: &PlannedRun, dir: &Path, failure: &Path) -> Row {
    let pc = crate::model::params::param_counts(&run.cfg.model);
    let mut r = Row {
        run: run.name.clone(),
        status: "missing".into(),
        size: run.size.clone(),
        design: if run.validation {
            crate::scaling::data::VALIDATION_DESIGN.into()
        } else {
            run.budget.kind().into()
        },
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
        seed: Some(run.cfg.train.seed),
        lr: Some(run.cfg.optim.lr),
        batch_size: Some(run.cfg.train.batch_size),
        beta2: Some(run.cfg.optim.beta2),
        epochs: None,
        mfu_measured: None,
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
            r.mfu_measured = s.mfu_measured;
            r.device = Some(s.device);
            // Summaries from before the field: the prepared dataset's split size.
            r.epochs = s.epochs.or_else(|| {
                let dir = crate::data::resolve::dataset_dir(&run.cfg);
                let meta: crate::data::Meta = crate::fsx::read_json(&dir.join("meta.json")).ok()?;
                Some(meta.epochs(s.tokens))
            });
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

/// Every evaluation after step 0 of a finished run.
pub fn curve(run: &PlannedRun, dir: &Path) -> Result<Vec<CurvePoint>> {
    let pc = crate::model::params::param_counts(&run.cfg.model);
    let (_, evals) = metrics::read(&metrics_path(dir))?;
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
