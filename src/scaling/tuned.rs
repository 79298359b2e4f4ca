//! Tuned points: when a sweep trains each (size, budget) over a grid of
//! hyperparameters (`[axes]`: lr, batch size, β2), the scaling laws are fitted
//! to the best run of each grid, as Porian et al. (2024) tune per scale — a
//! law through badly tuned runs measures the tuning, not the scaling.

use super::{budget_groups, fit_all, hparams, Curve, FitOptions, FitReport, Point};
use anyhow::Result;
use std::collections::BTreeMap;

/// The points a fit uses, and how many runs they were chosen from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tuned {
    pub points: Vec<Point>,
    /// Runs on a hyperparameter grid (groups of more than one run); 0 when
    /// no grid: then `points` are all the points.
    pub grid_runs: usize,
    /// Grids (one per size, budget and seed) whose best run was kept.
    pub grids: usize,
}

impl Tuned {
    /// Whether the points held a hyperparameter grid.
    pub fn has_grid(&self) -> bool {
        self.grids > 0
    }

    /// The training curves of the kept runs only (Approach 1's envelope must
    /// see the same runs as the other approaches).
    pub fn curves(&self, curves: &[Curve]) -> Vec<Curve> {
        let keep: std::collections::HashSet<&str> =
            self.points.iter().map(|p| p.run.as_str()).collect();
        curves
            .iter()
            .filter(|c| keep.contains(c.run.as_str()))
            .cloned()
            .collect()
    }
}

/// Per (size, budget, seed), the run with the lowest final loss over the
/// hyperparameter grid. Points without any hyperparameter column are never
/// grouped (replicates without a `seed` column stay replicates), so a table
/// without a grid comes back unchanged. Sizes are told apart by their
/// parameter count, budgets as in [`budget_groups`].
pub fn select(points: &[Point]) -> Tuned {
    let has_hp = |p: &Point| p.lr.is_some() || p.batch_size.is_some() || p.beta2.is_some();
    let mut groups: BTreeMap<(usize, u64, Option<u64>), Vec<usize>> = BTreeMap::new();
    let mut alone = Vec::new();
    for (g, (_, idx)) in budget_groups(points).iter().enumerate() {
        for &i in idx {
            let p = &points[i];
            if has_hp(p) {
                groups
                    .entry((g, p.params.to_bits(), p.seed))
                    .or_default()
                    .push(i);
            } else {
                alone.push(i);
            }
        }
    }
    let mut out = Tuned::default();
    let mut keep = alone;
    for idx in groups.values() {
        if idx.len() > 1 {
            out.grids += 1;
            out.grid_runs += idx.len();
        }
        // The first of equal losses: the choice must not depend on float ties' order.
        let best = idx
            .iter()
            .copied()
            .min_by(|&i, &j| points[i].loss.total_cmp(&points[j].loss).then(i.cmp(&j)))
            .expect("groups are non-empty");
        keep.push(best);
    }
    // In the input's order: downstream output (tables, holdout ties) stays stable.
    keep.sort_unstable();
    out.points = keep.into_iter().map(|i| points[i].clone()).collect();
    out
}

/// [`fit_all`] over the tuned points ([`select`]: the best run of each
/// hyperparameter grid; all points without a grid), their curves only, and
/// the optimal-hyperparameter fit over all points when they hold a grid.
/// Returns the report and the points it fitted.
pub fn fit_tuned(
    points: &[Point],
    curves: Option<&[Curve]>,
    opts: &FitOptions,
) -> Result<(FitReport, Tuned)> {
    let t = select(points);
    let kept = curves.map(|c| t.curves(c));
    let mut rep = if t.has_grid() && t.points.len() < 3 {
        // The grid still tells the optimal hyperparameters; only the laws need more sizes.
        let why = format!(
            "the hyperparameter grids leave {} tuned points; need at least 3",
            t.points.len()
        );
        FitReport {
            n_points: t.points.len(),
            skipped: ["approach1", "approach2", "approach3", "cost_model"]
                .map(|k| (k.to_string(), why.clone()))
                .into(),
            ..Default::default()
        }
    } else {
        fit_all(&t.points, kept.as_deref(), opts)?
    };
    rep.hparams = hparams::fit(points, t.grid_runs, t.grids);
    Ok((rep, t))
}
