//! Approach 3: fit L(N, D) = E + A/N^α + B/D^β as in Hoffmann et al. (2022).
//!
//! Parameters θ = (a, b, e, α, β) with A = exp(a), B = exp(b), E = exp(e). The
//! prediction of log L is LSE(a − α log N, b − β log D, e); the objective is the
//! Huber loss (δ = 1e-3) of the residual (prediction − log L), summed over the
//! points (with multiplicities for bootstrap resamples). It is minimised with
//! L-BFGS (argmin, analytic gradient, More–Thuente line search) from every
//! point of a grid; the lowest final objective wins.

use super::Law3;
use argmin::core::{CostFunction, Error, Executor, Gradient, State};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::quasinewton::LBFGS;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

pub const HUBER_DELTA: f64 = 1e-3;
/// L-BFGS settings: history, iteration cap, stopping tolerances.
pub const LBFGS_MEMORY: usize = 10;
pub const MAX_ITERS: u64 = 1000;
pub const TOL_GRAD: f64 = 1e-10;
pub const TOL_COST: f64 = 1e-15;

/// Grid of starting points (values per parameter).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Grid {
    pub alpha: Vec<f64>,
    pub beta: Vec<f64>,
    pub e: Vec<f64>,
    pub a: Vec<f64>,
    pub b: Vec<f64>,
}

fn range(lo: f64, hi: f64, step: f64) -> Vec<f64> {
    let n = ((hi - lo) / step).round() as usize;
    (0..=n).map(|i| lo + step * i as f64).collect()
}

impl Grid {
    /// Hoffmann et al.'s grid (Appendix D.2): α, β ∈ {0, 0.5, …, 2}, e ∈ {−1, −0.5, …, 1},
    /// a, b ∈ {0, 5, …, 25}: 5·5·5·6·6 = 4500 starts.
    pub fn hoffmann() -> Self {
        Grid {
            e: range(-1.0, 1.0, 0.5),
            ..Self::wide()
        }
    }

    /// Hoffmann et al.'s grid with e widened to 1.5 (E up to e^1.5 ≈ 4.5, for losses in other
    /// units than theirs): 5·5·6·6·6 = 5400 starts. The default.
    pub fn wide() -> Self {
        Grid {
            alpha: range(0.0, 2.0, 0.5),
            beta: range(0.0, 2.0, 0.5),
            e: range(-1.0, 1.5, 0.5),
            a: range(0.0, 25.0, 5.0),
            b: range(0.0, 25.0, 5.0),
        }
    }

    /// A coarser grid over the wide box: α, β ∈ {0, 0.5, 1, 2}, e ∈ {−1, 0, 1} (1728 starts).
    pub fn coarse() -> Self {
        Grid {
            alpha: vec![0.0, 0.5, 1.0, 2.0],
            beta: vec![0.0, 0.5, 1.0, 2.0],
            e: vec![-1.0, 0.0, 1.0],
            a: range(0.0, 25.0, 5.0),
            b: range(0.0, 25.0, 5.0),
        }
    }

    pub fn starts(&self) -> Vec<[f64; 5]> {
        let mut v = Vec::new();
        for &a in &self.a {
            for &b in &self.b {
                for &e in &self.e {
                    for &al in &self.alpha {
                        for &be in &self.beta {
                            v.push([a, b, e, al, be]);
                        }
                    }
                }
            }
        }
        v
    }
}

/// Log-space observations.
#[derive(Debug, Clone, Default)]
pub struct Obs {
    pub ln_n: Vec<f64>,
    pub ln_d: Vec<f64>,
    pub ln_l: Vec<f64>,
}

impl Obs {
    pub fn new(n: &[f64], d: &[f64], l: &[f64]) -> Self {
        Obs {
            ln_n: n.iter().map(|x| x.ln()).collect(),
            ln_d: d.iter().map(|x| x.ln()).collect(),
            ln_l: l.iter().map(|x| x.ln()).collect(),
        }
    }
    pub fn len(&self) -> usize {
        self.ln_l.len()
    }
    pub fn is_empty(&self) -> bool {
        self.ln_l.is_empty()
    }
}

fn huber(r: f64, delta: f64) -> (f64, f64) {
    if r.abs() <= delta {
        (0.5 * r * r, r)
    } else {
        (delta * (r.abs() - 0.5 * delta), delta * r.signum())
    }
}

/// Objective and gradient at θ = (a, b, e, α, β); `w` are per-point multiplicities.
pub fn objective(theta: &[f64], obs: &Obs, w: Option<&[f64]>, grad: Option<&mut [f64; 5]>) -> f64 {
    let [a, b, e, al, be] = [theta[0], theta[1], theta[2], theta[3], theta[4]];
    let mut g = [0.0f64; 5];
    let mut f = 0.0;
    for i in 0..obs.len() {
        let wi = w.map_or(1.0, |w| w[i]);
        if wi == 0.0 {
            continue;
        }
        let t1 = a - al * obs.ln_n[i];
        let t2 = b - be * obs.ln_d[i];
        let m = t1.max(t2).max(e);
        let (x1, x2, x3) = ((t1 - m).exp(), (t2 - m).exp(), (e - m).exp());
        let s = x1 + x2 + x3;
        let pred = m + s.ln();
        let (h, dh) = huber(pred - obs.ln_l[i], HUBER_DELTA);
        f += wi * h;
        let c = wi * dh / s;
        g[0] += c * x1;
        g[1] += c * x2;
        g[2] += c * x3;
        g[3] -= c * x1 * obs.ln_n[i];
        g[4] -= c * x2 * obs.ln_d[i];
    }
    if let Some(out) = grad {
        *out = g;
    }
    f
}

struct Problem<'a> {
    obs: &'a Obs,
    w: Option<&'a [f64]>,
}

impl CostFunction for Problem<'_> {
    type Param = Vec<f64>;
    type Output = f64;
    fn cost(&self, p: &Vec<f64>) -> Result<f64, Error> {
        Ok(objective(p, self.obs, self.w, None))
    }
}

impl Gradient for Problem<'_> {
    type Param = Vec<f64>;
    type Gradient = Vec<f64>;
    fn gradient(&self, p: &Vec<f64>) -> Result<Vec<f64>, Error> {
        let mut g = [0.0; 5];
        objective(p, self.obs, self.w, Some(&mut g));
        Ok(g.to_vec())
    }
}

/// One L-BFGS run; `None` if the solver failed or ended non-finite.
pub fn minimise(obs: &Obs, w: Option<&[f64]>, start: [f64; 5]) -> Option<([f64; 5], f64)> {
    let solver = LBFGS::new(MoreThuenteLineSearch::new(), LBFGS_MEMORY)
        .with_tolerance_grad(TOL_GRAD)
        .ok()?
        .with_tolerance_cost(TOL_COST)
        .ok()?;
    let res = Executor::new(Problem { obs, w }, solver)
        .configure(|s| s.param(start.to_vec()).max_iters(MAX_ITERS))
        .run()
        .ok()?;
    let st = res.state();
    let p = st.get_best_param()?;
    let theta = [p[0], p[1], p[2], p[3], p[4]];
    let f = objective(&theta, obs, w, None);
    (f.is_finite() && theta.iter().all(|x| x.is_finite())).then_some((theta, f))
}

/// The result of a multi-start fit.
#[derive(Debug, Clone)]
pub struct MultiFit {
    pub theta: [f64; 5],
    pub objective: f64,
    /// Starts whose run finished (the solver did not fail).
    pub finished: usize,
    /// Starts whose final objective is within 1e-6 (relative) of the best.
    pub at_best: usize,
    /// The starting points, best final objective first (for warm starts).
    pub ranked_starts: Vec<[f64; 5]>,
}

/// Minimise from every start (in parallel); the lowest final objective wins
/// (ties go to the earlier start, so the result does not depend on threads).
pub fn fit_multi(obs: &Obs, w: Option<&[f64]>, starts: &[[f64; 5]]) -> Option<MultiFit> {
    let results: Vec<Option<([f64; 5], f64)>> =
        starts.par_iter().map(|s| minimise(obs, w, *s)).collect();
    best_of(starts, &results)
}

fn best_of(starts: &[[f64; 5]], results: &[Option<([f64; 5], f64)>]) -> Option<MultiFit> {
    let mut idx: Vec<usize> = (0..results.len())
        .filter(|&i| results[i].is_some())
        .collect();
    idx.sort_by(|&i, &j| {
        results[i]
            .unwrap()
            .1
            .total_cmp(&results[j].unwrap().1)
            .then(i.cmp(&j))
    });
    let best = *idx.first()?;
    let (theta, f) = results[best].unwrap();
    let tol = 1e-6 * f.abs().max(1e-300);
    Some(MultiFit {
        theta,
        objective: f,
        finished: idx.len(),
        at_best: idx
            .iter()
            .filter(|&&i| results[i].unwrap().1 - f <= tol)
            .count(),
        ranked_starts: idx.iter().map(|&i| starts[i]).collect(),
    })
}

/// Sequential multi-start (used inside the parallel bootstrap).
pub fn fit_multi_seq(obs: &Obs, w: Option<&[f64]>, starts: &[[f64; 5]]) -> Option<MultiFit> {
    let results: Vec<Option<([f64; 5], f64)>> =
        starts.iter().map(|s| minimise(obs, w, *s)).collect();
    best_of(starts, &results)
}

pub fn law_of(theta: &[f64; 5]) -> Law3 {
    Law3 {
        a: theta[0].exp(),
        b: theta[1].exp(),
        e: theta[2].exp(),
        alpha: theta[3],
        beta: theta[4],
    }
}

pub fn theta_of(l: &Law3) -> [f64; 5] {
    [l.a.ln(), l.b.ln(), l.e.ln(), l.alpha, l.beta]
}

/// Bootstrap: `n` resamples with replacement (resample `i` draws from a
/// ChaCha8 stream `i` of `seed`, so results do not depend on threads), each
/// fitted from `starts` (the full fit first, then a few grid starts).
pub fn bootstrap(obs: &Obs, starts: &[[f64; 5]], n: usize, seed: u64) -> Vec<Law3> {
    use rand::{Rng, SeedableRng};
    let m = obs.len();
    (0..n)
        .into_par_iter()
        .filter_map(|i| {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            rng.set_stream(i as u64);
            let mut w = vec![0.0; m];
            for _ in 0..m {
                w[rng.random_range(0..m)] += 1.0;
            }
            fit_multi_seq(obs, Some(&w), starts).map(|f| law_of(&f.theta))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gradient_matches_finite_differences() {
        let n = [1e6, 3e7, 2e8, 1e9, 5e6];
        let d = [2e7, 1e9, 4e9, 2e10, 1e8];
        let law = Law3 {
            e: 1.69,
            a: 406.4,
            b: 410.7,
            alpha: 0.34,
            beta: 0.28,
        };
        // Residuals on both sides of δ.
        let l: Vec<f64> = n
            .iter()
            .zip(&d)
            .enumerate()
            .map(|(i, (n, d))| {
                law.loss(*n, *d) * (1.0 + 0.0004 * (i as f64 - 2.0) * (1.0 + 5.0 * (i % 2) as f64))
            })
            .collect();
        let obs = Obs::new(&n, &d, &l);
        let w = [1.0, 2.0, 0.0, 1.0, 3.0];
        let th = [6.1, 5.9, 0.5, 0.35, 0.27];
        let mut g = [0.0; 5];
        objective(&th, &obs, Some(&w), Some(&mut g));
        for k in 0..5 {
            let h = 1e-7;
            let (mut p, mut q) = (th, th);
            p[k] += h;
            q[k] -= h;
            let fd = (objective(&p, &obs, Some(&w), None) - objective(&q, &obs, Some(&w), None))
                / (2.0 * h);
            assert!(
                (fd - g[k]).abs() < 1e-6 * (1.0 + g[k].abs()),
                "param {k}: fd {fd} vs analytic {}",
                g[k]
            );
        }
    }

    #[test]
    fn exact_data_is_recovered_from_the_grid() {
        let law = Law3 {
            e: 1.69,
            a: 406.4,
            b: 410.7,
            alpha: 0.34,
            beta: 0.28,
        };
        let (mut n, mut d, mut l) = (vec![], vec![], vec![]);
        for i in 0..6 {
            for j in 0..5 {
                let nn = 1e6 * 10f64.powf(i as f64 * 0.6);
                let dd = nn * 10f64.powf(j as f64 * 0.5);
                n.push(nn);
                d.push(dd);
                l.push(law.loss(nn, dd));
            }
        }
        let obs = Obs::new(&n, &d, &l);
        let f = fit_multi(&obs, None, &Grid::coarse().starts()).unwrap();
        let got = law_of(&f.theta);
        for (x, y) in [
            (got.e, law.e),
            (got.a, law.a),
            (got.b, law.b),
            (got.alpha, law.alpha),
            (got.beta, law.beta),
        ] {
            assert!((x / y - 1.0).abs() < 1e-3, "{got:?}");
        }
    }
}
