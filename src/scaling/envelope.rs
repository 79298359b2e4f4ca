//! Approach 1: the lower envelope of the training curves. At log-spaced FLOP
//! values C across the covered range, the run whose curve (interpolated in
//! log-FLOPs) has the lowest loss at C gives (C, N, D); D is the curve's tokens
//! at C. Least-squares lines through (ln C, ln N) and (ln C, ln D) give
//! N_opt ∝ C^a and D_opt ∝ C^b. With one-point curves (no curves file) the
//! FLOP values are the compute budgets ([`super::budget_groups`]).
//!
//! A value of C is kept only if at least three curves reach it and the winner
//! is neither the smallest nor the largest of them: otherwise the optimum may
//! lie beyond the sizes that reach C and the envelope is clipped there.

use super::{budget_groups, linfit, Curve, Point};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnvPoint {
    pub flops: f64,
    pub params: f64,
    pub tokens: f64,
    pub loss: f64,
    pub run: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    /// N_opt ∝ C^a.
    pub a: f64,
    /// D_opt ∝ C^b.
    pub b: f64,
    pub n_coef: f64,
    pub d_coef: f64,
    pub r2: f64,
    /// FLOP values tried and how many were dropped at the edge of the sizes.
    pub tried: usize,
    pub dropped_at_edge: usize,
    pub points: Vec<EnvPoint>,
}

/// Best curve at `c` among `cands` (indices into `curves`); `None` if the
/// winner is at the edge of the candidate sizes or fewer than 3 reach `c`.
fn winner(curves: &[Curve], cands: &[(usize, f64, f64)], c: f64) -> Option<EnvPoint> {
    if cands.len() < 3 {
        return None;
    }
    let (wi, wl, wt) = *cands.iter().min_by(|a, b| a.1.total_cmp(&b.1))?;
    let p = curves[wi].params;
    let smallest = cands.iter().all(|&(i, _, _)| curves[i].params >= p);
    let largest = cands.iter().all(|&(i, _, _)| curves[i].params <= p);
    if smallest || largest {
        return None;
    }
    Some(EnvPoint {
        flops: c,
        params: p,
        tokens: wt,
        loss: wl,
        run: curves[wi].run.clone(),
    })
}

pub fn fit(curves: &[Curve], n_grid: usize) -> Result<Envelope, String> {
    let curves: Vec<Curve> = curves
        .iter()
        .filter(|c| !c.evals.is_empty())
        .cloned()
        .collect();
    if curves.is_empty() {
        return Err("no curves".into());
    }
    let mut pts = Vec::new();
    let tried;
    if curves.iter().all(|c| c.evals.len() == 1) {
        let as_points: Vec<Point> = curves
            .iter()
            .map(|c| Point {
                flops: c.evals[0].flops,
                ..Point::new(c.run.clone(), c.params, c.evals[0].tokens, c.evals[0].loss)
            })
            .collect();
        let groups = budget_groups(&as_points);
        tried = groups.len();
        for (c, idx) in groups {
            let cands: Vec<(usize, f64, f64)> = idx
                .iter()
                .map(|&i| (i, curves[i].evals[0].loss, curves[i].evals[0].tokens))
                .collect();
            pts.extend(winner(&curves, &cands, c));
        }
    } else {
        let lo = curves
            .iter()
            .map(|c| c.flops_range().0)
            .fold(f64::INFINITY, f64::min)
            .ln();
        let hi = curves
            .iter()
            .map(|c| c.flops_range().1)
            .fold(f64::NEG_INFINITY, f64::max)
            .ln();
        let n = n_grid.max(2);
        tried = n;
        for k in 0..n {
            let c = (lo + (hi - lo) * k as f64 / (n - 1) as f64).exp();
            let cands: Vec<(usize, f64, f64)> = curves
                .iter()
                .enumerate()
                .filter_map(|(i, cv)| cv.at(c).map(|(l, t)| (i, l, t)))
                .collect();
            pts.extend(winner(&curves, &cands, c));
        }
    }
    let sizes = {
        let mut v: Vec<f64> = pts.iter().map(|p| p.params).collect();
        v.sort_by(f64::total_cmp);
        v.dedup();
        v.len()
    };
    if pts.len() < 3 || sizes < 2 {
        return Err(format!(
            "needs at least 3 compute values whose best run is an interior model size (≥ 3 sizes reaching that compute), and 2 distinct winners; found {} points, {} sizes",
            pts.len(),
            sizes
        ));
    }
    let lc: Vec<f64> = pts.iter().map(|p| p.flops.ln()).collect();
    let fnn = linfit(&lc, &pts.iter().map(|p| p.params.ln()).collect::<Vec<_>>())
        .ok_or("the envelope spans no range of compute")?;
    let fd = linfit(&lc, &pts.iter().map(|p| p.tokens.ln()).collect::<Vec<_>>())
        .ok_or("the envelope spans no range of compute")?;
    Ok(Envelope {
        a: fnn.slope,
        b: fd.slope,
        n_coef: fnn.intercept.exp(),
        d_coef: fd.intercept.exp(),
        r2: fnn.r2,
        tried,
        dropped_at_edge: tried - pts.len(),
        points: pts,
    })
}
