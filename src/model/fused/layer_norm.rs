//! LayerNorm over the last dim, y = (x − μ)·rstd·w + b, with rstd = 1/sqrt(var + eps).
//! The backward recomputes μ and rstd per row instead of storing them.

use super::cpu::{dispatch, owned, rows_per_task, slice, Real};
use candle_core::{CpuStorage, CustomOp3, Layout, Result, Shape, Tensor};
use multiversion::multiversion;
use rayon::prelude::*;

/// Row statistics (mean, rstd) of one row.
#[inline(always)]
fn stats<T: Real>(row: &[T], eps: T) -> (T, T) {
    let n = T::c(row.len() as f64);
    let mean = row.iter().copied().sum::<T>() / n;
    let var = row.iter().map(|&v| (v - mean) * (v - mean)).sum::<T>() / n;
    (mean, (var + eps).sqrt().recip())
}

fn forward<T: Real>(x: &[T], w: &[T], b: &[T], eps: T) -> Vec<T> {
    let d = w.len();
    let mut y = vec![T::zero(); x.len()];
    let chunk = rows_per_task(x.len() / d, d) * d;
    y.par_chunks_mut(chunk)
        .zip(x.par_chunks(chunk))
        .for_each(|(yc, xc)| forward_rows(yc, xc, w, b, eps));
    y
}

#[multiversion(targets("x86_64+avx2+fma"))]
fn forward_rows<T: Real>(yc: &mut [T], xc: &[T], w: &[T], b: &[T], eps: T) {
    let d = w.len();
    for (yr, xr) in yc.chunks_mut(d).zip(xc.chunks(d)) {
        let (mean, rstd) = stats(xr, eps);
        for i in 0..d {
            yr[i] = (xr[i] - mean) * rstd * w[i] + b[i];
        }
    }
}

/// Returns [dx (rows·d) | dw (d) | db (d)] in one buffer.
fn backward<T: Real>(x: &[T], w: &[T], dy: &[T], eps: T) -> Vec<T> {
    let d = w.len();
    let mut out = vec![T::zero(); x.len() + 2 * d];
    let (dx, dwb) = out.split_at_mut(x.len());
    let chunk = rows_per_task(x.len() / d, d) * d;
    let partial: Vec<Vec<T>> = dx
        .par_chunks_mut(chunk)
        .zip(x.par_chunks(chunk).zip(dy.par_chunks(chunk)))
        .map(|(dxc, (xc, dyc))| backward_rows(dxc, xc, dyc, w, eps))
        .collect();
    // Sum the partials in a fixed order: deterministic whatever the scheduling.
    for p in &partial {
        for (o, v) in dwb.iter_mut().zip(p) {
            *o += *v;
        }
    }
    out
}

/// dx of the rows of one task, and its partial sums of dw and db ([dw | db]).
#[multiversion(targets("x86_64+avx2+fma"))]
fn backward_rows<T: Real>(dxc: &mut [T], xc: &[T], dyc: &[T], w: &[T], eps: T) -> Vec<T> {
    let d = w.len();
    let mut acc = vec![T::zero(); 2 * d];
    let inv_d = T::c(1.0 / d as f64);
    for ((dxr, xr), dyr) in dxc.chunks_mut(d).zip(xc.chunks(d)).zip(dyc.chunks(d)) {
        let (mean, rstd) = stats(xr, eps);
        let (mut dnorm_mean, mut dnorm_norm_mean) = (T::zero(), T::zero());
        for i in 0..d {
            let norm = (xr[i] - mean) * rstd;
            let dnorm = w[i] * dyr[i];
            dnorm_mean += dnorm;
            dnorm_norm_mean += dnorm * norm;
            acc[i] += norm * dyr[i];
            acc[d + i] += dyr[i];
        }
        dnorm_mean *= inv_d;
        dnorm_norm_mean *= inv_d;
        for i in 0..d {
            let norm = (xr[i] - mean) * rstd;
            dxr[i] = (w[i] * dyr[i] - dnorm_mean - norm * dnorm_norm_mean) * rstd;
        }
    }
    acc
}

struct LayerNorm {
    eps: f64,
}

impl CustomOp3 for LayerNorm {
    fn name(&self) -> &'static str {
        "fused-layer-norm"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        dispatch!(self.name(), s1, |T| {
            let (x, w, b) = (
                slice::<T>(self.name(), s1, l1)?,
                slice::<T>(self.name(), s2, l2)?,
                slice::<T>(self.name(), s3, l3)?,
            );
            Ok((
                owned::<T>(forward(x, w, b, T::c(self.eps))),
                l1.shape().clone(),
            ))
        })
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _b: &Tensor,
        _y: &Tensor,
        dy: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let all = x.apply_op3_no_bwd(w, &dy.contiguous()?, &LayerNormBwd { eps: self.eps })?;
        let (n, d) = (x.elem_count(), w.elem_count());
        let dx = all.narrow(0, 0, n)?.reshape(x.shape())?;
        Ok((
            Some(dx),
            Some(all.narrow(0, n, d)?),
            Some(all.narrow(0, n + d, d)?),
        ))
    }
}

struct LayerNormBwd {
    eps: f64,
}

impl CustomOp3 for LayerNormBwd {
    fn name(&self) -> &'static str {
        "fused-layer-norm-bwd"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        dispatch!(self.name(), s1, |T| {
            let (x, w, dy) = (
                slice::<T>(self.name(), s1, l1)?,
                slice::<T>(self.name(), s2, l2)?,
                slice::<T>(self.name(), s3, l3)?,
            );
            let out = backward(x, w, dy, T::c(self.eps));
            let n = out.len();
            Ok((owned::<T>(out), Shape::from(n)))
        })
    }
}

/// Fused LayerNorm of `x [.., d]`; a missing bias is a zero bias (it gets no variable).
pub fn layer_norm(x: &Tensor, w: &Tensor, b: Option<&Tensor>, eps: f64) -> Result<Tensor> {
    let zeros;
    let b = match b {
        Some(b) => b,
        None => {
            zeros = w.zeros_like()?;
            &zeros
        }
    };
    x.contiguous()?.apply_op3(w, b, LayerNorm { eps })
}

#[cfg(test)]
mod tests {
    /// As for GELU: the AVX2/FMA clone gives the portable code's bits.
    #[test]
    fn avx2_clone_gives_the_portable_bits() {
        let (rows, d) = (37, 96);
        let x: Vec<f32> = (0..rows * d)
            .map(|i| (i as f32 * 0.37).sin() * 3.0)
            .collect();
        let w: Vec<f32> = (0..d).map(|i| 1.0 + (i as f32 * 0.11).cos()).collect();
        let b: Vec<f32> = (0..d).map(|i| (i as f32 * 0.05).sin()).collect();
        let mut y = vec![0.0; x.len()];
        super::forward_rows(&mut y, &x, &w, &b, 1e-5);
        let mut want = vec![0.0f32; x.len()];
        for r in 0..rows {
            let xr = &x[r * d..(r + 1) * d];
            let (mean, rstd) = super::stats(xr, 1e-5);
            for i in 0..d {
                want[r * d + i] = (xr[i] - mean) * rstd * w[i] + b[i];
            }
        }
        let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&y), bits(&want));
    }
}
