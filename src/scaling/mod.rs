//! Scaling-law fitting: the three approaches of Hoffmann et al. (2022) plus a
//! cost model, over the results of a sweep. See docs/fitting.md.
//!
//! - [`envelope`]: approach 1, the lower envelope of the training curves.
//! - [`isoflop`]: approach 2, parabolas through IsoFLOP profiles.
//! - [`approach3`]: approach 3, L(N, D) = E + A/N^α + B/D^β by Huber + L-BFGS.
//! - [`cost_model`]: achieved FLOP/s and tokens/s by model size.
//! - [`stats`]: percentiles and least-squares lines.
//! - [`tuned`]: the best run of each hyperparameter grid, which the fits use.
//! - [`hparams`]: optimal learning rate (batch size, β2) against compute.
//! - `report`: [`FitOptions`] and the [`FitReport`] types (re-exported here).
//!
//! [`fit_all`] runs everything and returns a [`FitReport`]; [`fit_tuned`]
//! first keeps the best run of each hyperparameter grid.

pub mod approach3;
pub mod cli;
pub mod cost_model;
pub mod data;
pub mod envelope;
pub mod hparams;
pub mod isoflop;
mod report;
pub mod stats;
pub mod tuned;
pub mod verdict;

pub use data::{Curve, Eval, Point};
pub use report::{Approach3, FitOptions, FitReport, Holdout, HoldoutRun};
pub use stats::{linfit, percentile, LinFit};
pub use tuned::fit_tuned;

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// L(N, D) = e + a/N^alpha + b/D^beta, coefficients in natural units
/// (`e` = E, `a` = A, `b` = B of the paper).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Law3 {
    pub e: f64,
    pub a: f64,
    pub b: f64,
    pub alpha: f64,
    pub beta: f64,
}

impl Law3 {
    pub fn loss(&self, n: f64, d: f64) -> f64 {
        self.e + self.a / n.powf(self.alpha) + self.b / d.powf(self.beta)
    }

    /// Exponent of N_opt ∝ C^a: β/(α+β).
    pub fn a_exp(&self) -> f64 {
        self.beta / (self.alpha + self.beta)
    }

    /// Exponent of D_opt ∝ C^b: α/(α+β).
    pub fn b_exp(&self) -> f64 {
        self.alpha / (self.alpha + self.beta)
    }

    /// G = (αA/(βB))^(1/(α+β)).
    pub fn g(&self) -> f64 {
        (self.alpha * self.a / (self.beta * self.b)).powf(1.0 / (self.alpha + self.beta))
    }

    /// (N_opt, D_opt) minimising the loss at C = 6·N·D:
    /// N_opt = G (C/6)^(β/(α+β)), D_opt = G⁻¹ (C/6)^(α/(α+β)).
    pub fn compute_optimal(&self, c: f64) -> (f64, f64) {
        let n = self.g() * (c / 6.0).powf(self.a_exp());
        (n, c / (6.0 * n))
    }

    /// The D for which N is the compute-optimal size (inverse of `compute_optimal`).
    pub fn optimal_tokens(&self, n: f64) -> f64 {
        let g = self.g();
        (n / g).powf(self.alpha / self.beta) / g
    }
}

/// Groups of point indices that share a compute budget: the `budget` column
/// when every point has one, else FLOPs within 10% of the group's smallest
/// (|Δ ln C| ≤ ln 1.1). Returns (budget, indices) sorted by budget; the budget
/// of a FLOPs group is the geometric mean of its FLOPs.
pub fn budget_groups(points: &[Point]) -> Vec<(f64, Vec<usize>)> {
    let mut idx: Vec<usize> = (0..points.len()).collect();
    let use_col = points.iter().all(|p| p.budget.is_some());
    let key = |i: usize| {
        if use_col {
            points[i].budget.unwrap()
        } else {
            points[i].flops
        }
    };
    idx.sort_by(|&i, &j| key(i).total_cmp(&key(j)));
    let tol = if use_col { 1e-9 } else { 1.1f64.ln() };
    let mut groups: Vec<(f64, Vec<usize>)> = Vec::new();
    for i in idx {
        match groups.last_mut() {
            Some((start, g)) if key(i).ln() - start.ln() <= tol => g.push(i),
            _ => groups.push((key(i), vec![i])),
        }
    }
    for (b, g) in &mut groups {
        *b = if use_col {
            points[g[0]].budget.unwrap()
        } else {
            (g.iter().map(|&i| points[i].flops.ln()).sum::<f64>() / g.len() as f64).exp()
        };
    }
    groups
}

/// Run every approach. `curves` feed approach 1 (without them each point is a
/// one-point curve). Errors only for unusable input (fewer than 3 points,
/// non-positive values, a holdout that leaves too little).
pub fn fit_all(points: &[Point], curves: Option<&[Curve]>, opts: &FitOptions) -> Result<FitReport> {
    if points.len() < 3 {
        bail!("need at least 3 usable points, got {}", points.len());
    }
    if let Some(p) = points.iter().find(|p| {
        !(p.params > 0.0
            && p.tokens > 0.0
            && p.flops > 0.0
            && p.loss > 0.0
            && (p.params * p.tokens * p.flops * p.loss).is_finite())
    }) {
        bail!(
            "run `{}`: params, tokens, flops and loss must be finite and > 0",
            p.run
        );
    }
    let k = opts.holdout;
    if k > 0 && k >= points.len() {
        bail!(
            "--holdout {k} must be less than the number of runs ({})",
            points.len()
        );
    }
    let mut order: Vec<usize> = (0..points.len()).collect();
    order.sort_by(|&i, &j| points[j].flops.total_cmp(&points[i].flops).then(i.cmp(&j)));
    let held: Vec<&Point> = order[..k].iter().map(|&i| &points[i]).collect();
    let mut keep = order[k..].to_vec();
    keep.sort_unstable();
    let train: Vec<Point> = keep.iter().map(|&i| points[i].clone()).collect();
    if k > 0 && train.len() < 3 {
        bail!(
            "--holdout {k} leaves {} runs to fit; need at least 3",
            train.len()
        );
    }
    let held_names: std::collections::HashSet<&str> = held.iter().map(|p| p.run.as_str()).collect();
    let train_curves: Option<Vec<Curve>> = curves.map(|cs| {
        cs.iter()
            .filter(|c| !held_names.contains(c.run.as_str()))
            .cloned()
            .collect()
    });

    let mut rep = FitReport {
        n_points: train.len(),
        ..Default::default()
    };

    // Approach 3.
    if train.len() < 5 {
        rep.skipped.insert(
            "approach3".into(),
            format!(
                "needs at least 5 points for 5 parameters, got {}",
                train.len()
            ),
        );
    } else {
        let obs = approach3::Obs::new(
            &train.iter().map(|p| p.params).collect::<Vec<_>>(),
            &train.iter().map(|p| p.tokens).collect::<Vec<_>>(),
            &train.iter().map(|p| p.loss).collect::<Vec<_>>(),
        );
        let starts = opts.grid.starts();
        match approach3::fit_multi(&obs, None, &starts) {
            None => {
                rep.skipped.insert(
                    "approach3".into(),
                    "L-BFGS failed from every starting point".into(),
                );
            }
            Some(f) => {
                let law = approach3::law_of(&f.theta);
                if !(law.alpha > 0.0 && law.beta > 0.0) {
                    rep.warnings.push(format!("approach 3: fitted alpha = {:.4}, beta = {:.4} are not both positive; the compute-optimal split is meaningless", law.alpha, law.beta));
                }
                let mut bstarts = vec![f.theta];
                bstarts.extend(f.ranked_starts.iter().take(opts.bootstrap_starts).copied());
                rep.samples = if opts.bootstrap > 0 {
                    approach3::bootstrap(&obs, &bstarts, opts.bootstrap, opts.seed)
                } else {
                    vec![]
                };
                let ci = (!rep.samples.is_empty()).then(|| ci_of(&rep.samples));
                rep.approach3 = Some(Approach3 {
                    e: law.e,
                    a_coef: law.a,
                    b_coef: law.b,
                    alpha: law.alpha,
                    beta: law.beta,
                    a: law.a_exp(),
                    b: law.b_exp(),
                    ci,
                    objective: f.objective,
                    n_points: obs.len(),
                    huber_delta: approach3::HUBER_DELTA,
                    starts: starts.len(),
                    starts_finished: f.finished,
                    starts_at_best: f.at_best,
                    bootstrap: opts.bootstrap,
                    bootstrap_fitted: rep.samples.len(),
                });
            }
        }
    }

    // Approach 2.
    match isoflop::fit(&train) {
        Ok((mut r, warns)) => {
            rep.warnings.extend(warns);
            r.noise = isoflop::replicate_noise(&train);
            r.a_interval = r
                .noise
                .filter(|_| opts.bootstrap > 0)
                .and_then(|s| isoflop::a_interval(&train, s, opts.bootstrap, opts.seed));
            rep.approach2 = Some(r);
        }
        Err(why) => {
            rep.skipped.insert("approach2".into(), why);
        }
    }

    // Approach 1.
    let one_point: Vec<Curve>;
    let cs: &[Curve] = match &train_curves {
        Some(c) if !c.is_empty() => c,
        _ => {
            one_point = train.iter().map(Curve::from_point).collect();
            &one_point
        }
    };
    match envelope::fit(cs, opts.envelope_points) {
        Ok(r) => rep.approach1 = Some(r),
        Err(why) => {
            rep.skipped.insert("approach1".into(), why);
        }
    }

    // Cost model.
    match cost_model::fit(&train) {
        Ok(c) => rep.cost_model = Some(c),
        Err(why) => {
            rep.skipped.insert("cost_model".into(), why);
        }
    }

    // Holdout.
    if k > 0 {
        match rep.law() {
            None => {
                rep.skipped
                    .insert("holdout".into(), "approach 3 was not fitted".into());
            }
            Some(_) => {
                let runs: Vec<HoldoutRun> = held
                    .iter()
                    .map(|p| {
                        let (pred, lo, hi) = rep.predict_interval(p.params, p.tokens);
                        let boot = !rep.samples.is_empty();
                        HoldoutRun {
                            run: p.run.clone(),
                            params: p.params,
                            tokens: p.tokens,
                            flops: p.flops,
                            actual: p.loss,
                            predicted: pred,
                            rel_error: (pred - p.loss) / p.loss,
                            lo: boot.then_some(lo),
                            hi: boot.then_some(hi),
                        }
                    })
                    .collect();
                let mare = runs.iter().map(|r| r.rel_error.abs()).sum::<f64>() / runs.len() as f64;
                rep.holdout = Some(Holdout {
                    k,
                    runs,
                    mean_abs_rel_error: mare,
                });
            }
        }
    }
    Ok(rep)
}

fn ci_of(samples: &[Law3]) -> BTreeMap<String, [f64; 2]> {
    type Field = (&'static str, fn(&Law3) -> f64);
    let fields: [Field; 7] = [
        ("E", |l| l.e),
        ("A", |l| l.a),
        ("B", |l| l.b),
        ("alpha", |l| l.alpha),
        ("beta", |l| l.beta),
        ("a", Law3::a_exp),
        ("b", Law3::b_exp),
    ];
    fields
        .iter()
        .map(|(name, f)| {
            let mut v: Vec<f64> = samples.iter().map(f).filter(|x| x.is_finite()).collect();
            v.sort_by(f64::total_cmp);
            (
                name.to_string(),
                [percentile(&v, 0.025), percentile(&v, 0.975)],
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compute_optimal_minimises_on_the_isoflop() {
        let l = Law3 {
            e: 1.69,
            a: 406.4,
            b: 410.7,
            alpha: 0.34,
            beta: 0.28,
        };
        let c = 1e21;
        let (n, d) = l.compute_optimal(c);
        assert!((6.0 * n * d / c - 1.0).abs() < 1e-12);
        for f in [0.97, 1.03] {
            assert!(l.loss(n * f, c / (6.0 * n * f)) > l.loss(n, d));
        }
    }

    #[test]
    fn budgets_group_within_ten_percent() {
        let p = |f: f64| Point {
            flops: f,
            ..Point::new("r", 1.0, 1.0, 1.0)
        };
        let g = budget_groups(&[p(1e18), p(1.05e18), p(2e18), p(1e19), p(0.98e18)]);
        assert_eq!(
            g.iter().map(|(_, v)| v.len()).collect::<Vec<_>>(),
            vec![3, 1, 1]
        );
    }
}
