//! The sweep report's hyperparameter section: which runs the scaling fit
//! used, the optimum of each axis per budget with its law against compute
//! (from [`crate::scaling::hparams`]), and loss against each axis per size.

use super::charts::{Chart, Mark, Series};
use crate::fmt;
use crate::scaling::hparams::{profiles, Axis, HparamFit};
use crate::scaling::Point;
use anyhow::Result;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Markdown: the tuning note, and per axis the optima table and the law.
pub(super) fn section(h: &HparamFit) -> String {
    let mut md = format!(
        "{} runs lie on hyperparameter grids. The scaling-law fits above use only the best run of each of the {} grids (per size, budget and seed, the lowest final validation loss), as Porian et al. (2024) tune per scale.\n\n\
Per budget, each axis's optimum is taken at the budget's best size (lowest tuned loss): the vertex of a parabola in log(value) (log(1 − β2) for β2) through the best grid value and its two neighbours, or the grid value itself at the grid's edge, where the true optimum lies outside the grid. \
The law opt = k·C^e is a least-squares line in log-log through the interior optima (DeepSeek LLM 2024: η_opt = 0.3118·C^−0.125, B_opt = 0.292·C^0.3271 — their C counts non-embedding FLOPs and B tokens, ours exact matmul FLOPs and sequences: compare exponents, not constants).\n\n",
        h.grid_runs, h.grids
    );
    for a in &h.axes {
        let _ = writeln!(
            md,
            "**{}**\n\n| budget | C (FLOPs) | size (params) | grid values | best grid value | optimum | loss | at grid edge |\n|---|---|---|---|---|---|---|---|",
            a.axis
        );
        for o in &a.budgets {
            let cells = [
                format!("{:.2e}", o.budget),
                format!("{:.3e}", o.flops),
                fmt::si(o.params, 2),
                o.grid_values.to_string(),
                fmt::compact(o.grid_best),
                fmt::compact(o.optimum),
                format!("{:.4}", o.loss),
                (if o.at_edge { "yes" } else { "no" }).into(),
            ];
            let _ = writeln!(md, "| {} |", cells.join(" | "));
        }
        let _ = writeln!(md, "\n{}\n", a.law_text());
    }
    md
}

/// One chart per axis and budget: final loss against the axis's value, a
/// line per size, log x (1 − β2 for β2).
pub(super) fn charts(points: &[Point], h: &HparamFit, out: &Path) -> Result<Vec<PathBuf>> {
    let mut stems = Vec::new();
    for axis in Axis::ALL
        .into_iter()
        .filter(|a| h.axes.iter().any(|f| f.axis == a.name()))
    {
        let profiles = profiles(points, axis);
        let mut budgets: Vec<f64> = profiles.iter().map(|p| p.budget).collect();
        budgets.dedup();
        for b in budgets {
            let mut series: Vec<Series> = profiles
                .iter()
                .filter(|p| p.budget == b)
                .enumerate()
                .map(|(i, p)| Series {
                    label: format!("N = {}", fmt::si(p.params, 2)),
                    points: p
                        .points
                        .iter()
                        .map(|&(v, l)| (axis.law_var(v), l))
                        .collect(),
                    mark: Mark::LinePoints,
                    color: i,
                })
                .collect();
            let opt = h
                .axes
                .iter()
                .filter(|f| f.axis == axis.name())
                .flat_map(|f| &f.budgets)
                .find(|o| o.budget == b);
            if let Some(o) = opt {
                series.push(Series {
                    label: if o.at_edge {
                        "best grid value (at the grid edge)".into()
                    } else {
                        "estimated optimum".into()
                    },
                    points: vec![(axis.law_var(o.optimum), o.loss)],
                    mark: Mark::Points,
                    color: 6,
                });
            }
            let x_label = match axis {
                Axis::Lr => "peak learning rate",
                Axis::BatchSize => "batch size (sequences)",
                Axis::Beta2 => "1 − AdamW β2",
            };
            let chart = Chart {
                title: format!("Loss vs {} at C = {b:.2e}", axis.name()),
                x_label: x_label.into(),
                y_label: "final validation loss (nats/token)".into(),
                log_x: true,
                series,
                ..Default::default()
            };
            let stem = out.join(format!("loss_vs_{}_{}", axis.name(), fmt::budget_tag(b)));
            chart.write(&stem)?;
            stems.push(stem);
        }
    }
    Ok(stems)
}
