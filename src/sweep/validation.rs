//! Validation runs beyond the fitted compute: the law fitted to the finished
//! runs picks the size it predicts best at `multiple` × the largest budget,
//! and a second size `off_optimum` × larger; both are trained and scored
//! against the law's predictions, and neither ever enters a fit.

use super::spec::{Budget, PlannedRun, Spec, ValidationSpec};
use crate::config::RunConfig;
use crate::flops::StepFlops;
use crate::model::params::param_counts;
use crate::rundir::results::Row;
use crate::scaling::{fit_tuned, FitOptions, Law3, Point};
use anyhow::{anyhow, bail, Result};

/// The validation runs for a sweep whose main runs finished as `rows`.
pub fn plan(
    spec: &Spec,
    v: &ValidationSpec,
    rows: &[Row],
    family: &[(String, RunConfig)],
) -> Result<Vec<PlannedRun>> {
    let points: Vec<Point> = rows
        .iter()
        .filter_map(|r| {
            Some(Point {
                budget: Some(r.budget),
                flops: r.flops?,
                seed: r.seed,
                lr: r.lr,
                batch_size: r.batch_size.map(|b| b as f64),
                beta2: r.beta2,
                ..Point::new(&r.run, r.params as f64, r.tokens? as f64, r.val_loss?)
            })
        })
        .collect();
    let max_budget = rows.iter().map(|r| r.budget).fold(0.0, f64::max);
    // Only the point estimate picks the sizes; the report's fit adds the intervals.
    // As the report's fit: the best run of each hyperparameter grid.
    let (fit, _) = fit_tuned(
        &points,
        None,
        &FitOptions {
            bootstrap: 0,
            ..FitOptions::default()
        },
    )
    .map_err(|e| anyhow!("validation: cannot fit the finished runs: {e:#}"))?;
    let law = fit.law().ok_or_else(|| {
        anyhow!(
            "validation: Approach 3 has no fit to validate ({:?})",
            fit.skipped
        )
    })?;
    let budget = Budget::Flops(v.multiple * max_budget);
    let (best, off) = pick_sizes(family, &law, budget.value(), v.off_optimum)?;
    // With a hyperparameter grid: those of the best run at the largest budget,
    // the nearest the grid comes to the validation budget.
    let tuned = rows
        .iter()
        .filter(|r| r.budget == max_budget)
        .filter_map(|r| Some((r, r.val_loss?)))
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(r, _)| r);
    let mut runs = Vec::new();
    for i in [best, off] {
        let (size, cfg) = &family[i];
        let mut run = spec
            .run_for(size, cfg, budget, false)?
            .expect("no range check for validation runs");
        run.name = format!("val-{}", run.name);
        run.validation = true;
        if let (false, Some(t)) = (spec.axes.is_empty(), tuned) {
            super::axes::adopt(spec, &mut run, t)?;
        }
        // Replicated like the fitted runs: the verdict scores their mean.
        runs.extend(super::axes::replicate(spec, vec![run])?);
    }
    Ok(runs)
}

/// Indices into `family` of the size the law predicts lowest at compute `c`
/// (tokens from the exact FLOPs of each size's steps), and of the size
/// nearest `off` × its parameters (in log distance) among the others.
pub fn pick_sizes(
    family: &[(String, RunConfig)],
    law: &Law3,
    c: f64,
    off: f64,
) -> Result<(usize, usize)> {
    let scored: Vec<(usize, f64, f64)> = family
        .iter()
        .enumerate()
        .filter_map(|(i, (_, cfg))| {
            let step = StepFlops::for_run(cfg).matmul_step as f64;
            if step > c {
                return None;
            }
            let n = param_counts(&cfg.model).total as f64;
            Some((i, n, law.loss(n, super::design::tokens_at(cfg, c))))
        })
        .collect();
    let Some(&(best, n_best, _)) = scored.iter().min_by(|a, b| a.2.total_cmp(&b.2)) else {
        bail!("validation: no size of the spec's family fits a budget of {c:.3e} FLOPs");
    };
    let target = (n_best * off).ln();
    let (off_i, _, _) = scored
        .iter()
        .filter(|s| s.0 != best)
        .min_by(|a, b| {
            (a.1.ln() - target)
                .abs()
                .total_cmp(&(b.1.ln() - target).abs())
        })
        .ok_or_else(|| anyhow!("validation: the spec's family has a single size"))?;
    Ok((best, *off_i))
}
