//! GELU, tanh approximation (GPT-2): y = ½x(1 + tanh(u)), u = k(x + 0.044715x³), k = √(2/π).
//! Computed as y = x·σ(2u) (since ½(1 + tanh u) = σ(2u)): one exp instead of
//! tanh's expm1, the largest non-matmul cost of a small model on CPU.

use super::cpu::{dispatch, owned, slice, Real};
use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

const K: f64 = 0.797_884_560_802_865_4; // sqrt(2/pi)
const C: f64 = 0.044_715;
const CHUNK: usize = 8 * 1024;

fn forward<T: Real>(x: &[T]) -> Vec<T> {
    let mut y = vec![T::zero(); x.len()];
    y.par_chunks_mut(CHUNK)
        .zip(x.par_chunks(CHUNK))
        .for_each(|(yc, xc)| {
            for (y, &x) in yc.iter_mut().zip(xc) {
                *y = x * sigmoid_2u(x);
            }
        });
    y
}

/// σ(2u) = 1/(1 + exp(−2u)); saturates cleanly (exp → ∞ gives 0).
#[inline]
fn sigmoid_2u<T: Real>(x: T) -> T {
    let u = T::c(K) * (x + T::c(C) * x * x * x);
    (T::one() + (-(u + u)).exp_fast()).recip()
}

/// dx = dy·(s + 2x·s(1 − s)·k(1 + 3c·x²)), s = σ(2u) — the same as
/// ½(1 + t) + ½x(1 − t²)·k(1 + 3c·x²) with t = tanh u.
fn backward<T: Real>(x: &[T], dy: &[T]) -> Vec<T> {
    let (k, c3, two) = (T::c(K), T::c(3.0 * C), T::c(2.0));
    let mut dx = vec![T::zero(); x.len()];
    dx.par_chunks_mut(CHUNK)
        .zip(x.par_chunks(CHUNK).zip(dy.par_chunks(CHUNK)))
        .for_each(|(dxc, (xc, dyc))| {
            for ((dx, &x), &dy) in dxc.iter_mut().zip(xc).zip(dyc) {
                let s = sigmoid_2u(x);
                *dx = dy * (s + two * x * s * (T::one() - s) * k * (T::one() + c3 * x * x));
            }
        });
    dx
}

struct Gelu;

impl CustomOp1 for Gelu {
    fn name(&self) -> &'static str {
        "fused-gelu"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        dispatch!(self.name(), s, |T| Ok((
            owned::<T>(forward(slice::<T>(self.name(), s, l)?)),
            l.shape().clone()
        )))
    }

    fn bwd(&self, x: &Tensor, _y: &Tensor, dy: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(x.apply_op2_no_bwd(&dy.contiguous()?, &GeluBwd)?))
    }
}

struct GeluBwd;

impl CustomOp2 for GeluBwd {
    fn name(&self) -> &'static str {
        "fused-gelu-bwd"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        dispatch!(self.name(), s1, |T| {
            let dx = backward(
                slice::<T>(self.name(), s1, l1)?,
                slice::<T>(self.name(), s2, l2)?,
            );
            Ok((owned::<T>(dx), l1.shape().clone()))
        })
    }
}

pub fn gelu(x: &Tensor) -> Result<Tensor> {
    x.contiguous()?.apply_op1(Gelu)
}
