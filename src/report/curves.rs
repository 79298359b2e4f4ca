//! Training curves of one or many runs, read from their metrics.jsonl.

use super::charts::{Chart, Mark, Series};
use crate::rundir::metrics::{self, EvalRecord, StepRecord};
use anyhow::Result;
use std::path::{Path, PathBuf};

pub struct RunCurves {
    pub name: String,
    pub steps: Vec<StepRecord>,
    pub evals: Vec<EvalRecord>,
}

impl RunCurves {
    pub fn read(name: &str, dir: &Path) -> Result<Self> {
        let (steps, evals) = metrics::read(&crate::rundir::metrics_path(dir))?;
        Ok(RunCurves {
            name: name.to_string(),
            steps,
            evals,
        })
    }
}

/// The x axes a curve can be drawn against.
#[derive(Clone, Copy)]
pub enum Axis {
    Tokens,
    Flops,
    Wall,
}

impl Axis {
    fn label(self) -> &'static str {
        match self {
            Axis::Tokens => "tokens seen",
            Axis::Flops => "training FLOPs (exact matmul count)",
            Axis::Wall => "wall-clock time (s)",
        }
    }

    fn slug(self) -> &'static str {
        match self {
            Axis::Tokens => "tokens",
            Axis::Flops => "flops",
            Axis::Wall => "time",
        }
    }

    fn of(self, e: &EvalRecord) -> f64 {
        match self {
            Axis::Tokens => e.tokens_seen as f64,
            Axis::Flops => e.flops_cum,
            Axis::Wall => e.elapsed_s,
        }
    }
}

/// Validation loss against tokens, FLOPs and wall time (log x), one series per
/// run; for a single run the training loss is drawn too. Returns the chart stems written.
pub fn write_loss_charts(runs: &[RunCurves], out: &Path) -> Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for axis in [Axis::Tokens, Axis::Flops, Axis::Wall] {
        let mut series: Vec<Series> = runs
            .iter()
            .enumerate()
            .map(|(i, r)| Series {
                label: if runs.len() == 1 {
                    "validation loss".into()
                } else {
                    r.name.clone()
                },
                points: r
                    .evals
                    .iter()
                    .filter(|e| axis.of(e) > 0.0)
                    .map(|e| (axis.of(e), e.val_loss))
                    .collect(),
                mark: Mark::LinePoints,
                color: i,
            })
            .collect();
        if let [r] = runs {
            if matches!(axis, Axis::Tokens | Axis::Flops) {
                let flops_per_token = r
                    .steps
                    .first()
                    .map(|s| s.flops_step / (s.tokens_seen.max(1) as f64 / s.step.max(1) as f64))
                    .unwrap_or(0.0);
                let x = |s: &StepRecord| {
                    if let Axis::Tokens = axis {
                        s.tokens_seen as f64
                    } else {
                        s.tokens_seen as f64 * flops_per_token
                    }
                };
                series.insert(
                    0,
                    Series {
                        label: "training loss".into(),
                        points: r.steps.iter().map(|s| (x(s), s.loss)).collect(),
                        mark: Mark::Line,
                        color: 5,
                    },
                );
            }
        }
        let chart = Chart {
            title: format!("Loss vs {}", axis.label()),
            x_label: axis.label().into(),
            y_label: "loss (nats/token)".into(),
            log_x: true,
            log_y: false,
            series,
            bands: vec![],
        };
        let stem = out.join(format!("loss_vs_{}", axis.slug()));
        chart.write(&stem)?;
        written.push(stem);
    }
    Ok(written)
}
