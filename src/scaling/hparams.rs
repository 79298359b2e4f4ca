//! Optimal hyperparameters against compute, DeepSeek-style (DeepSeek LLM
//! 2024, §3: η_opt = 0.3118·C^−0.125, B_opt = 0.292·C^0.3271): for each
//! budget, the optimum of each hyperparameter axis at that budget's best size,
//! then a power law opt = k·C^e through the budgets.
//!
//! - The profile of an axis at one (budget, size) is, per grid value, the
//!   lowest loss over the other axes (each loss the mean over seeds).
//! - The size is the one whose tuned loss is lowest at that budget: the
//!   compute-optimal size among those sampled, found without a fitted law.
//! - The optimum is the vertex of the parabola, in log(value) (log(1 − β2)
//!   for β2), through the best grid value and its two neighbours; at the
//!   first or last grid value it is that value, flagged `at_edge`, and the law
//!   is then not determined (the true optimum lies outside the grid).
//! - The law is a least-squares line in log-log through the interior
//!   optima, with a 95% t interval on the exponent from ≥ 3 of them.

use super::{budget_groups, isoflop::parabola, linfit, Point};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A hyperparameter axis of a sweep spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Axis {
    Lr,
    BatchSize,
    Beta2,
}

impl Axis {
    pub const ALL: [Axis; 3] = [Axis::Lr, Axis::BatchSize, Axis::Beta2];

    /// Its name in the spec, the tables and fit.json.
    pub fn name(self) -> &'static str {
        match self {
            Axis::Lr => "lr",
            Axis::BatchSize => "batch_size",
            Axis::Beta2 => "beta2",
        }
    }

    pub fn of(self, p: &Point) -> Option<f64> {
        match self {
            Axis::Lr => p.lr,
            Axis::BatchSize => p.batch_size,
            Axis::Beta2 => p.beta2,
        }
    }

    /// The quantity that scales as a power of compute: the value, or 1 − β2
    /// (β2 = 0.9, 0.99, 0.999 are evenly spaced in it).
    pub fn law_var(self, v: f64) -> f64 {
        match self {
            Axis::Beta2 => 1.0 - v,
            _ => v,
        }
    }

    /// The label of [`Self::law_var`].
    pub fn law_label(self) -> &'static str {
        match self {
            Axis::Lr => "lr_opt",
            Axis::BatchSize => "batch_opt",
            Axis::Beta2 => "1 − beta2_opt",
        }
    }
}

/// The loss along one axis at one budget and size.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    /// The budget group's value (see [`budget_groups`]).
    pub budget: f64,
    /// Geometric mean of the runs' training FLOPs.
    pub flops: f64,
    pub params: f64,
    /// (axis value, loss), ascending in the value.
    pub points: Vec<(f64, f64)>,
}

impl Profile {
    pub fn best_loss(&self) -> f64 {
        self.points
            .iter()
            .map(|p| p.1)
            .fold(f64::INFINITY, f64::min)
    }
}

/// Key of a grid value (exact: values come from one spec).
fn key(v: Option<f64>) -> Option<u64> {
    v.map(f64::to_bits)
}

/// The profiles of `axis`, budget-major, sizes ascending; only (budget,
/// size) pairs whose runs take at least two values of the axis.
pub fn profiles(points: &[Point], axis: Axis) -> Vec<Profile> {
    let ai = Axis::ALL.iter().position(|a| *a == axis).expect("listed");
    let mut out = Vec::new();
    for (budget, idx) in budget_groups(points) {
        let mut by_size: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
        for i in idx.into_iter().filter(|&i| axis.of(&points[i]).is_some()) {
            by_size
                .entry(points[i].params.to_bits())
                .or_default()
                .push(i);
        }
        for idx in by_size.values() {
            // Mean over seeds per grid combination, then the best over the other axes.
            let mut combos: BTreeMap<[Option<u64>; 3], Vec<f64>> = BTreeMap::new();
            for &i in idx {
                let p = &points[i];
                let k = Axis::ALL.map(|a| key(a.of(p)));
                combos.entry(k).or_default().push(p.loss);
            }
            let mut best: BTreeMap<u64, f64> = BTreeMap::new();
            for (k, losses) in combos {
                let v = k[ai].expect("filtered on the axis");
                let mean = losses.iter().sum::<f64>() / losses.len() as f64;
                let e = best.entry(v).or_insert(f64::INFINITY);
                *e = e.min(mean);
            }
            if best.len() < 2 {
                continue;
            }
            let mut pts: Vec<(f64, f64)> = best
                .into_iter()
                .map(|(v, l)| (f64::from_bits(v), l))
                .collect();
            pts.sort_by(|a, b| a.0.total_cmp(&b.0));
            let lnf = idx.iter().map(|&i| points[i].flops.ln()).sum::<f64>() / idx.len() as f64;
            out.push(Profile {
                budget,
                flops: lnf.exp(),
                params: points[idx[0]].params,
                points: pts,
            });
        }
    }
    out
}

/// The optimum of one budget.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Optimum {
    pub budget: f64,
    pub flops: f64,
    /// The size it was found at (the best tuned loss of the budget).
    pub params: f64,
    /// The parabola's vertex, or the best grid value at the edge.
    pub optimum: f64,
    pub grid_best: f64,
    pub loss: f64,
    /// The best grid value is the smallest or largest of the grid.
    pub at_edge: bool,
    pub grid_values: usize,
}

/// opt = coef · C^exponent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PowerLaw {
    pub coef: f64,
    pub exponent: f64,
    /// 95% interval of the exponent (t, from the residuals; ≥ 3 budgets).
    pub exponent_ci: Option<[f64; 2]>,
    pub r2: f64,
    pub budgets: usize,
}

/// One axis's optima and law.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AxisFit {
    pub axis: String,
    /// What the law is of: `lr_opt`, `batch_opt`, `1 − beta2_opt`.
    pub law_of: String,
    pub budgets: Vec<Optimum>,
    /// Through the budgets whose optimum is interior (≥ 2 of them).
    pub law: Option<PowerLaw>,
    /// ≥ 3 budgets, every optimum inside its grid: the law is pinned down.
    pub determined: bool,
    /// Why not determined, in words.
    pub notes: Vec<String>,
}

/// fit.json's `hparams`: how the scaling fit was tuned and the optimal
/// hyperparameters against compute.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HparamFit {
    /// Runs on a hyperparameter grid, and the grids whose best run the
    /// scaling fit used.
    pub grid_runs: usize,
    pub grids: usize,
    pub axes: Vec<AxisFit>,
}

/// The optimum of a profile, its best grid point (value, loss), and whether
/// that sits at the grid's edge.
fn optimum(axis: Axis, pts: &[(f64, f64)]) -> (f64, (f64, f64), bool) {
    let i = (0..pts.len())
        .min_by(|&i, &j| pts[i].1.total_cmp(&pts[j].1))
        .expect("profiles have two values or more");
    let (v, l) = pts[i];
    if i == 0 || i + 1 == pts.len() {
        return (v, (v, l), true);
    }
    let x = |v: f64| axis.law_var(v).ln();
    let xs = [x(pts[i - 1].0), x(v), x(pts[i + 1].0)];
    let ys = [pts[i - 1].1, l, pts[i + 1].1];
    let vertex = parabola(&xs, &ys)
        .filter(|c| c[2] > 0.0)
        .map(|c| -c[1] / (2.0 * c[2]));
    // Equal neighbours (no curvature): the grid value is the best estimate.
    let xv = vertex.map_or(xs[1], |xv| xv.clamp(xs[0].min(xs[2]), xs[0].max(xs[2])));
    let opt = match axis {
        Axis::Beta2 => 1.0 - xv.exp(),
        _ => xv.exp(),
    };
    (opt, (v, l), false)
}

/// Two-sided 95% quantile of Student's t with `dof` degrees of freedom.
fn t975(dof: usize) -> f64 {
    const T: [f64; 10] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    ];
    match dof {
        0 => f64::NAN,
        d if d <= T.len() => T[d - 1],
        d if d <= 30 => 2.042 + (2.228 - 2.042) * (30 - d) as f64 / 20.0,
        _ => 1.96,
    }
}

/// Least squares of ln y on ln C with the exponent's t interval.
fn power_law(opts: &[&Optimum], axis: Axis) -> Option<PowerLaw> {
    let x: Vec<f64> = opts.iter().map(|o| o.flops.ln()).collect();
    let y: Vec<f64> = opts.iter().map(|o| axis.law_var(o.optimum).ln()).collect();
    let f = linfit(&x, &y)?;
    let n = x.len();
    let exponent_ci = (n >= 3).then(|| {
        let mx = x.iter().sum::<f64>() / n as f64;
        let sxx: f64 = x.iter().map(|v| (v - mx).powi(2)).sum();
        let sse: f64 = x
            .iter()
            .zip(&y)
            .map(|(a, b)| (b - f.intercept - f.slope * a).powi(2))
            .sum();
        let h = t975(n - 2) * (sse / (n - 2) as f64 / sxx).sqrt();
        [f.slope - h, f.slope + h]
    });
    Some(PowerLaw {
        coef: f.intercept.exp(),
        exponent: f.slope,
        exponent_ci,
        r2: f.r2,
        budgets: n,
    })
}

/// One axis: its optimum per budget at the best size, and the law.
fn fit_axis(points: &[Point], axis: Axis) -> Option<AxisFit> {
    let profiles = profiles(points, axis);
    let mut budgets: Vec<Optimum> = Vec::new();
    for p in &profiles {
        let better = budgets
            .last()
            .is_some_and(|o| o.budget == p.budget && o.loss <= p.best_loss());
        if better {
            continue;
        }
        if budgets.last().is_some_and(|o| o.budget == p.budget) {
            budgets.pop();
        }
        let (opt, (grid_best, loss), at_edge) = optimum(axis, &p.points);
        budgets.push(Optimum {
            budget: p.budget,
            flops: p.flops,
            params: p.params,
            optimum: opt,
            grid_best,
            loss,
            at_edge,
            grid_values: p.points.len(),
        });
    }
    if budgets.is_empty() {
        return None;
    }
    let interior: Vec<&Optimum> = budgets.iter().filter(|o| !o.at_edge).collect();
    let law = power_law(&interior, axis);
    let mut notes = Vec::new();
    let edges: Vec<String> = budgets
        .iter()
        .filter(|o| o.at_edge)
        .map(|o| format!("{:.2e}", o.budget))
        .collect();
    if !edges.is_empty() {
        notes.push(format!(
            "the optimum sits at the grid edge at budget(s) {}: the true optimum lies outside the grid there; widen axes.{}",
            edges.join(", "),
            axis.name()
        ));
    }
    if budgets.len() < 3 {
        notes.push(format!(
            "{} budget(s): at least 3 are needed to determine the law and its exponent's interval",
            budgets.len()
        ));
    } else if interior.len() < 3 {
        notes.push(format!(
            "only {} budget(s) with an interior optimum: the exponent has no interval",
            interior.len()
        ));
    }
    Some(AxisFit {
        axis: axis.name().into(),
        law_of: axis.law_label().into(),
        determined: law.is_some() && notes.is_empty(),
        budgets,
        law,
        notes,
    })
}

/// The optimal-hyperparameter fit of every axis the points vary; `None`
/// without a grid.
pub fn fit(points: &[Point], grid_runs: usize, grids: usize) -> Option<HparamFit> {
    let axes: Vec<AxisFit> = Axis::ALL
        .iter()
        .filter_map(|&a| fit_axis(points, a))
        .collect();
    (grids > 0 && !axes.is_empty()).then_some(HparamFit {
        grid_runs,
        grids,
        axes,
    })
}

impl AxisFit {
    /// The law in one line, `lr_opt = 0.5·C^-0.120 (exponent 95% CI [..]) over
    /// 3 budgets, r² 0.99`, followed by what leaves it undetermined.
    pub fn law_text(&self) -> String {
        let mut s = match &self.law {
            Some(l) => format!(
                "{} = {}·C^{:.3} (exponent 95% CI {}) over {} budget(s), r² {:.3}",
                self.law_of,
                crate::fmt::param(l.coef),
                l.exponent,
                crate::fmt::param_interval(l.exponent_ci.as_ref()),
                l.budgets,
                l.r2
            ),
            None => format!(
                "{}: no law (fewer than 2 budgets with an interior optimum)",
                self.law_of
            ),
        };
        if !self.determined {
            s.push_str(&format!("; NOT DETERMINED: {}", self.notes.join("; ")));
        }
        s
    }
}
