//! Hyperparameter axes of a sweep spec (`[axes]`) and seeds: every planned
//! (size, budget) run is trained once per combination of the axes' values
//! and once per seed. One expansion serves both, so names and order follow
//! one rule: `<size>-<budget>[-lr<lr>][-b<batch>][-beta<β2>][-s<seed>]`,
//! run-major (a run's variants stay together, in axis order).

use super::spec::{PlannedRun, Spec};
use anyhow::{anyhow, bail, Result};
use serde::{Deserialize, Serialize};

/// `[axes]`: absent axes keep the base config's value and add no name suffix.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Axes {
    /// Peak learning rates (`optim.lr`); `optim.min_lr` is scaled by the same
    /// factor, so the schedule's floor keeps its ratio to the peak.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lr: Option<Vec<f64>>,
    /// Batch sizes in sequences (`train.batch_size`); the budget stays, so the
    /// step count, evaluation interval and warm-up follow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<Vec<usize>>,
    /// AdamW β2 (`optim.beta2`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub beta2: Option<Vec<f64>>,
}

/// Run-name suffixes of each axis value (distinct values must give distinct tags).
fn lr_tag(v: f64) -> String {
    format!("lr{}", crate::fmt::budget_tag(v))
}
fn batch_tag(v: usize) -> String {
    format!("b{v}")
}
fn beta2_tag(v: f64) -> String {
    // Shortest round-trip decimal: distinct values, distinct tags; `.` is file-name safe.
    format!("beta{v}")
}

impl Axes {
    pub fn is_empty(&self) -> bool {
        self.lr.is_none() && self.batch_size.is_none() && self.beta2.is_none()
    }

    /// One-line errors naming the field (`axes.lr: ...`).
    pub fn validate(&self) -> Result<()> {
        if let Some(v) = &self.lr {
            check(
                "lr",
                v,
                |x| x.is_finite() && *x > 0.0,
                "positive numbers",
                |x| lr_tag(*x),
            )?;
        }
        if let Some(v) = &self.batch_size {
            check(
                "batch_size",
                v,
                |x| *x >= 1,
                "at least 1",
                |x| batch_tag(*x),
            )?;
        }
        if let Some(v) = &self.beta2 {
            check(
                "beta2",
                v,
                |x| *x > 0.0 && *x < 1.0,
                "in (0, 1)",
                |x| beta2_tag(*x),
            )?;
        }
        Ok(())
    }
}

/// An axis's values: given, each valid, each once (by its run-name tag, which
/// also catches learning rates equal to the tag's three significant digits).
fn check<T: std::fmt::Display>(
    name: &str,
    v: &[T],
    ok: impl Fn(&T) -> bool,
    what: &str,
    tag: impl Fn(&T) -> String,
) -> Result<()> {
    if v.is_empty() {
        bail!("axes.{name} is empty (leave it out for no {name} axis)");
    }
    if let Some(bad) = v.iter().find(|x| !ok(x)) {
        bail!("axes.{name}: values must be {what}, got {bad}");
    }
    let tags: Vec<String> = v.iter().map(&tag).collect();
    for (i, t) in tags.iter().enumerate() {
        if let Some(j) = tags[..i].iter().position(|u| u == t) {
            bail!(
                "axes.{name}: each value once, got {} and {} (run-name tag `{t}`)",
                v[j],
                v[i]
            );
        }
    }
    Ok(())
}

/// Each run once per value of `values` (all runs unchanged when `None`):
/// `apply` sets the value in the copy's config; `tag` names it.
fn cross<T>(
    runs: Vec<PlannedRun>,
    values: Option<&[T]>,
    tag: impl Fn(&T) -> String,
    apply: impl Fn(&mut PlannedRun, &T) -> Result<()>,
) -> Result<Vec<PlannedRun>> {
    let Some(values) = values else {
        return Ok(runs);
    };
    let mut out = Vec::with_capacity(runs.len() * values.len());
    for run in runs {
        for v in values {
            let mut r = run.clone();
            r.name = format!("{}-{}", run.name, tag(v));
            apply(&mut r, v)?;
            out.push(r);
        }
    }
    Ok(out)
}

/// The peak learning rate, with `min_lr` scaled alike (the schedule's floor
/// keeps its ratio to the peak).
fn set_lr(r: &mut PlannedRun, lr: f64) -> Result<()> {
    let o = &mut r.cfg.optim;
    o.min_lr *= lr / o.lr;
    o.lr = lr;
    Ok(())
}

/// The batch size at the run's fixed budget: steps, evaluation and warm-up follow.
fn set_batch(spec: &Spec, r: &mut PlannedRun, b: usize) -> Result<()> {
    r.cfg.train.batch_size = b;
    spec.pace(&r.size, r.budget, &mut r.cfg)
        .map(|_| ())
        .map_err(|e| anyhow!("axes.batch_size = {b}: {e:#}"))
}

fn set_beta2(r: &mut PlannedRun, b2: f64) -> Result<()> {
    r.cfg.optim.beta2 = b2;
    Ok(())
}

/// A value the base config cannot take (a batch the ranks do not divide).
fn validate(r: &PlannedRun) -> Result<()> {
    r.cfg
        .validate()
        .map_err(|e| anyhow!("axes: run {}: {e:#}", r.name))
}

/// Expand the planned (size, budget) runs over the spec's axes and seeds.
pub fn expand(spec: &Spec, runs: Vec<PlannedRun>) -> Result<Vec<PlannedRun>> {
    let a = &spec.axes;
    let runs = cross(runs, a.lr.as_deref(), |v| lr_tag(*v), |r, v| set_lr(r, *v))?;
    let runs = cross(
        runs,
        a.batch_size.as_deref(),
        |v| batch_tag(*v),
        |r, v| set_batch(spec, r, *v),
    )?;
    let runs = cross(
        runs,
        a.beta2.as_deref(),
        |v| beta2_tag(*v),
        |r, v| set_beta2(r, *v),
    )?;
    let runs = replicate(spec, runs)?;
    if !a.is_empty() {
        runs.iter().try_for_each(validate)?;
    }
    Ok(runs)
}

/// Each run once per seed of the spec's `seeds` (named `-sN`), or unchanged.
pub fn replicate(spec: &Spec, runs: Vec<PlannedRun>) -> Result<Vec<PlannedRun>> {
    let seeds = (!spec.seeds.is_empty()).then_some(spec.seeds.as_slice());
    cross(
        runs,
        seeds,
        |s| format!("s{s}"),
        |r, s| {
            r.cfg.train.seed = *s;
            Ok(())
        },
    )
}

/// Give a run beyond the grid (a validation run) the hyperparameters of
/// `best`, a finished run of the grid, on each axis the spec has.
pub fn adopt(spec: &Spec, run: &mut PlannedRun, best: &crate::rundir::results::Row) -> Result<()> {
    let a = &spec.axes;
    if let (Some(_), Some(lr)) = (&a.lr, best.lr) {
        set_lr(run, lr)?;
    }
    if let (Some(_), Some(b)) = (&a.batch_size, best.batch_size) {
        set_batch(spec, run, b)?;
    }
    if let (Some(_), Some(b2)) = (&a.beta2, best.beta2) {
        set_beta2(run, b2)?;
    }
    validate(run)
}
