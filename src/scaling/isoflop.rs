//! Approach 2: IsoFLOP profiles. Points are grouped by compute budget
//! ([`super::budget_groups`]); in each group with at least three model sizes a
//! parabola L = c0 + c1·x + c2·x², x = ln N, is fitted by least squares to the
//! best size and up to [`WINDOW`] sizes on each side of it; its vertex is
//! N_opt(C) and D_opt = C/(6·N_opt). The exponents come from
//! least-squares lines through (ln C, ln N_opt) and (ln C, ln D_opt) over the
//! budgets whose vertex lies inside their sampled sizes.

use super::{budget_groups, linfit, Point};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Budget {
    pub flops: f64,
    pub n_opt: f64,
    pub d_opt: f64,
    /// Loss at the vertex.
    pub loss_opt: f64,
    /// [c0, c1, c2] of L = c0 + c1·ln N + c2·(ln N)².
    pub parabola: [f64; 3],
    /// Points and distinct sizes the parabola was fitted to.
    pub points: usize,
    pub sizes: usize,
    /// Sizes of the budget left out of the parabola: beyond [`WINDOW`] sizes
    /// from the best one.
    #[serde(default)]
    pub left_out: usize,
    /// Smallest and largest N the parabola was fitted to (charts draw it
    /// over this range only); none in fits written before the window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fitted_range: Option<[f64; 2]>,
    /// The vertex lies within the sampled sizes (otherwise it is extrapolated).
    pub interior: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IsoFlop {
    /// N_opt ∝ C^a.
    pub a: f64,
    /// D_opt ∝ C^b.
    pub b: f64,
    /// N_opt = n_coef · C^a, D_opt = d_coef · C^b.
    pub n_coef: f64,
    pub d_coef: f64,
    pub r2: f64,
    pub budgets: Vec<Budget>,
    /// 95% interval for a from refits on losses perturbed by the measured
    /// seed-to-seed noise ([`a_interval`]); none without replicates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub a_interval: Option<[f64; 2]>,
    /// That noise: the relative standard deviation of replicated final losses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noise: Option<f64>,
}

/// Least-squares parabola y = c0 + c1 x + c2 x² (fitted around the mean of x).
pub fn parabola(x: &[f64], y: &[f64]) -> Option<[f64; 3]> {
    let m = x.iter().sum::<f64>() / x.len() as f64;
    let mut s = [0.0f64; 5];
    let mut t = [0.0f64; 3];
    for (xi, yi) in x.iter().zip(y) {
        let u = xi - m;
        let mut p = 1.0;
        for k in 0..5 {
            s[k] += p;
            if k < 3 {
                t[k] += p * yi;
            }
            p *= u;
        }
    }
    let mat = [[s[0], s[1], s[2]], [s[1], s[2], s[3]], [s[2], s[3], s[4]]];
    let det = det3(&mat);
    // Singular (or NaN) normal equations: no parabola.
    let tiny = 1e-12 * s[4].abs().max(1e-300) * s[0];
    if det.abs().partial_cmp(&tiny) != Some(std::cmp::Ordering::Greater) {
        return None;
    }
    let mut c = [0.0; 3];
    for (k, ck) in c.iter_mut().enumerate() {
        let mut mk = mat;
        for r in 0..3 {
            mk[r][k] = t[r];
        }
        *ck = det3(&mk) / det;
    }
    // Back from u = x − m to x.
    Some([c[0] - c[1] * m + c[2] * m * m, c[1] - 2.0 * c[2] * m, c[2]])
}

fn det3(m: &[[f64; 3]; 3]) -> f64 {
    m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
        - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
        + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
}

/// Sizes on each side of a budget's best size that its parabola is fitted
/// to. A parabola describes a loss profile only near its minimum: far from
/// it, small models flatten out and large ones get too few optimizer steps
/// to leave the unigram plateau (a cliff in the profile, measured in
/// docs/fitting.md), and either bends a parabola through every size away
/// from the minimum it is meant to locate.
pub const WINDOW: usize = 2;

fn distinct(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(f64::total_cmp);
    v.dedup_by(|a, b| same(*a, *b));
    v
}

fn same(a: f64, b: f64) -> bool {
    (a / b - 1.0).abs() < 1e-9
}

/// The points of one budget (`idx`) within [`WINDOW`] sizes of its best size
/// (lowest mean loss over a size's points), how many distinct sizes they
/// hold, and how many sizes were left out.
fn near_minimum(points: &[Point], idx: &[usize]) -> (Vec<usize>, usize, usize) {
    let sizes = distinct(idx.iter().map(|&i| points[i].params).collect());
    let mean_loss = |n: f64| {
        let l: Vec<f64> = idx
            .iter()
            .filter(|&&i| same(points[i].params, n))
            .map(|&i| points[i].loss)
            .collect();
        l.iter().sum::<f64>() / l.len() as f64
    };
    let best = (0..sizes.len())
        .min_by(|&x, &y| mean_loss(sizes[x]).total_cmp(&mean_loss(sizes[y])))
        .unwrap_or(0);
    let keep = &sizes[best.saturating_sub(WINDOW)..(best + WINDOW + 1).min(sizes.len())];
    let used = idx
        .iter()
        .copied()
        .filter(|&i| keep.iter().any(|&n| same(points[i].params, n)))
        .collect();
    (used, keep.len(), sizes.len() - keep.len())
}

/// The IsoFLOP fit, with warnings for budgets left out; `Err(reason)` when
/// fewer than two budgets have a usable parabola.
pub fn fit(points: &[Point]) -> Result<(IsoFlop, Vec<String>), String> {
    let mut warns = Vec::new();
    let mut budgets = Vec::new();
    let groups = budget_groups(points);
    for (c, all) in &groups {
        let (idx, sizes, left_out) = near_minimum(points, all);
        let x: Vec<f64> = idx.iter().map(|&i| points[i].params.ln()).collect();
        let y: Vec<f64> = idx.iter().map(|&i| points[i].loss).collect();
        if sizes < 3 {
            continue;
        }
        let Some(p) = parabola(&x, &y) else {
            warns.push(format!(
                "approach 2: budget {c:.3e}: degenerate parabola, left out"
            ));
            continue;
        };
        if p[2] <= 0.0 {
            warns.push(format!("approach 2: budget {c:.3e}: the loss profile has no minimum (parabola opens downwards), left out"));
            continue;
        }
        let xv = -p[1] / (2.0 * p[2]);
        let (lo, hi) = x
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
                (a.min(v), b.max(v))
            });
        let interior = xv >= lo && xv <= hi;
        if !interior {
            warns.push(format!("approach 2: budget {c:.3e}: the optimum N = {:.3e} lies outside the sampled sizes (extrapolated)", xv.exp()));
        }
        let n_opt = xv.exp();
        budgets.push(Budget {
            flops: *c,
            n_opt,
            d_opt: c / (6.0 * n_opt),
            loss_opt: p[0] + p[1] * xv + p[2] * xv * xv,
            parabola: p,
            points: idx.len(),
            sizes,
            left_out,
            fitted_range: Some([lo.exp(), hi.exp()]),
            interior,
        });
    }
    if budgets.len() < 2 {
        let most = groups
            .iter()
            .map(|(_, g)| distinct(g.iter().map(|&i| points[i].params).collect()).len())
            .max()
            .unwrap_or(0);
        return Err(format!(
            "needs at least 2 compute budgets with ≥ 3 model sizes each and a convex loss profile; found {} usable of {} budgets (most sizes in one budget: {most})",
            budgets.len(),
            groups.len()
        ));
    }
    // An optimum outside the sampled sizes is an extrapolation of a parabola,
    // not a measurement: the exponents come from the interior optima only.
    let inner: Vec<&Budget> = budgets.iter().filter(|b| b.interior).collect();
    if inner.len() < 2 {
        return Err(format!(
            "needs at least 2 compute budgets whose loss minimum lies inside their sampled sizes; found {} of {} (widen the size range around the optimum)",
            inner.len(),
            budgets.len()
        ));
    }
    let lc: Vec<f64> = inner.iter().map(|b| b.flops.ln()).collect();
    let fnn = linfit(&lc, &inner.iter().map(|b| b.n_opt.ln()).collect::<Vec<_>>())
        .ok_or("the budgets do not span a range of compute")?;
    let fd = linfit(&lc, &inner.iter().map(|b| b.d_opt.ln()).collect::<Vec<_>>())
        .ok_or("the budgets do not span a range of compute")?;
    Ok((
        IsoFlop {
            a: fnn.slope,
            b: fd.slope,
            n_coef: fnn.intercept.exp(),
            d_coef: fd.intercept.exp(),
            r2: fnn.r2,
            budgets,
            a_interval: None,
            noise: None,
        },
        warns,
    ))
}

/// Approach 2's 95% interval for a when replicates measure the noise: the
/// fit is repeated `n` times on losses multiplied by (1 + ε), ε ~ N(0, noise²),
/// and a's 2.5th–97.5th percentiles are taken over the refits that succeed
/// (at least half of them; otherwise `None`). It shows how far the final-loss
/// noise alone moves the IsoFLOP minima and so a.
pub fn a_interval(points: &[Point], noise: f64, n: usize, seed: u64) -> Option<[f64; 2]> {
    use rand::SeedableRng;
    use rand_distr::{Distribution, Normal};
    let normal = Normal::new(0.0, noise).ok()?;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut a: Vec<f64> = (0..n)
        .filter_map(|_| {
            let noisy: Vec<Point> = points
                .iter()
                .map(|p| Point {
                    loss: p.loss * (1.0 + normal.sample(&mut rng)),
                    ..p.clone()
                })
                .collect();
            fit(&noisy).ok().map(|(f, _)| f.a)
        })
        .collect();
    if a.len() * 2 < n.max(1) {
        return None;
    }
    a.sort_by(f64::total_cmp);
    Some([
        super::stats::percentile(&a, 0.025),
        super::stats::percentile(&a, 0.975),
    ])
}

/// Relative standard deviation of the final loss over replicates
/// ([`super::verdict::replicate_groups`]), if any point is replicated.
pub fn replicate_noise(points: &[Point]) -> Option<f64> {
    let losses: Vec<Vec<f64>> = super::verdict::replicate_groups(points)
        .into_iter()
        .map(|g| g.iter().map(|p| p.loss).collect())
        .collect();
    super::verdict::seed_spread(&losses)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parabola_is_exact_on_a_parabola() {
        let x: Vec<f64> = (0..6).map(|i| 14.0 + i as f64).collect();
        let y: Vec<f64> = x.iter().map(|x| 3.0 - 0.5 * x + 0.02 * x * x).collect();
        let p = parabola(&x, &y).unwrap();
        assert!(
            (p[0] - 3.0).abs() < 1e-8 && (p[1] + 0.5).abs() < 1e-9 && (p[2] - 0.02).abs() < 1e-11,
            "{p:?}"
        );
    }

    /// Two budgets whose profiles are parabolas in ln N with a known vertex,
    /// plus a far-out size on a cliff (loss 0.8 above the parabola): the
    /// window leaves the cliff out, so the vertices are exact.
    #[test]
    fn a_cliff_beyond_the_window_does_not_move_the_vertex() {
        let mut pts = Vec::new();
        for (c, ln_opt) in [(1e10f64, 9.0f64), (1e11, 10.0)] {
            for k in 0..6 {
                let x = ln_opt - 1.0 + 0.5 * k as f64;
                let cliff = if k == 5 { 0.8 } else { 0.0 };
                let n = x.exp();
                let mut p = Point::new(format!("r{c}-{k}"), n, c / (6.0 * n), 0.0);
                p.loss = 3.0 + 0.05 * (x - ln_opt).powi(2) + cliff;
                p.budget = Some(c);
                pts.push(p);
            }
        }
        let (f, _) = fit(&pts).unwrap();
        for (b, ln_opt) in f.budgets.iter().zip([9.0f64, 10.0]) {
            assert!((b.n_opt.ln() - ln_opt).abs() < 1e-9, "{b:?}");
            assert_eq!((b.sizes, b.left_out), (5, 1));
        }
        assert!((f.a - 1.0 / 10f64.ln()).abs() < 1e-9, "{}", f.a);
    }
}
