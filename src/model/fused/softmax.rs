//! Causal, scaled softmax of attention scores s [.., t, t]:
//! p[i, j] = exp(c·s[i, j]) / Σ_{k ≤ i} exp(c·s[i, k]) for j ≤ i, and 0 for j > i.
//! Replaces scale, mask add and the five-op softmax; the masked half is never read.

use super::cpu::{dispatch, owned, slice, Real};
use candle_core::{bail, CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

fn forward<T: Real>(s: &[T], t: usize, scale: T) -> Vec<T> {
    let mut p = vec![T::zero(); s.len()];
    // One task per [t, t] matrix (one batch element and head).
    p.par_chunks_mut(t * t).zip(s.par_chunks(t * t)).for_each(|(pm, sm)| {
        for i in 0..t {
            let (row, out) = (&sm[i * t..i * t + i + 1], &mut pm[i * t..i * t + i + 1]);
            let max = row.iter().fold(T::neg_infinity(), |m, &v| num_traits::Float::max(m, v));
            let mut sum = T::zero();
            for (o, &v) in out.iter_mut().zip(row) {
                *o = ((v - max) * scale).exp();
                sum = sum + *o;
            }
            let inv = sum.recip();
            out.iter_mut().for_each(|o| *o = *o * inv);
        }
    });
    p
}

/// ds[i, j] = c·p[i, j]·(dp[i, j] − Σ_k p[i, k]·dp[i, k]) on and below the diagonal.
fn backward<T: Real>(p: &[T], dp: &[T], t: usize, scale: T) -> Vec<T> {
    let mut ds = vec![T::zero(); p.len()];
    ds.par_chunks_mut(t * t).zip(p.par_chunks(t * t).zip(dp.par_chunks(t * t))).for_each(|(dm, (pm, gm))| {
        for i in 0..t {
            let r = i * t..i * t + i + 1;
            let (pr, gr) = (&pm[r.clone()], &gm[r.clone()]);
            let dot = pr.iter().zip(gr).map(|(&a, &b)| a * b).sum::<T>();
            for ((d, &p), &g) in dm[r].iter_mut().zip(pr).zip(gr) {
                *d = scale * p * (g - dot);
            }
        }
    });
    ds
}

fn square_side(op: &str, l: &Layout) -> Result<usize> {
    let dims = l.dims();
    match dims {
        [.., a, b] if a == b => Ok(*a),
        _ => bail!("{op}: expected scores [.., t, t], got {dims:?}"),
    }
}

struct CausalSoftmax {
    scale: f64,
}

impl CustomOp1 for CausalSoftmax {
    fn name(&self) -> &'static str {
        "fused-causal-softmax"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let t = square_side(self.name(), l)?;
        dispatch!(self.name(), s, |T| {
            let p = forward(slice::<T>(self.name(), s, l)?, t, T::c(self.scale));
            Ok((owned::<T>(p), l.shape().clone()))
        })
    }

    fn bwd(&self, _s: &Tensor, p: &Tensor, dp: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(p.apply_op2_no_bwd(&dp.contiguous()?, &CausalSoftmaxBwd { scale: self.scale })?))
    }
}

struct CausalSoftmaxBwd {
    scale: f64,
}

impl CustomOp2 for CausalSoftmaxBwd {
    fn name(&self) -> &'static str {
        "fused-causal-softmax-bwd"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let t = square_side(self.name(), l1)?;
        dispatch!(self.name(), s1, |T| {
            let ds = backward(slice::<T>(self.name(), s1, l1)?, slice::<T>(self.name(), s2, l2)?, t, T::c(self.scale));
            Ok((owned::<T>(ds), l1.shape().clone()))
        })
    }
}

/// Causal softmax of `scale · scores` over the last dim of `scores [.., t, t]`.
pub fn causal_softmax(scores: &Tensor, scale: f64) -> Result<Tensor> {
    scores.contiguous()?.apply_op1(CausalSoftmax { scale })
}
