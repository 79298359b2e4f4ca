//! GELU, tanh approximation (GPT-2): y = ½x(1 + tanh(u)), u = k(x + 0.044715x³), k = √(2/π).
//! Computed as y = x·σ(2u) (since ½(1 + tanh u) = σ(2u)): one exp instead of
//! tanh's expm1, the largest non-matmul cost of a small model on CPU.

use super::cpu::{dispatch, owned, slice, Real};
use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor};
use multiversion::multiversion;
use rayon::prelude::*;

const K: f64 = 0.797_884_560_802_865_4; // sqrt(2/pi)
const C: f64 = 0.044_715;
const CHUNK: usize = 8 * 1024;

fn forward<T: Real>(x: &[T]) -> Vec<T> {
    let mut y = vec![T::zero(); x.len()];
    y.par_chunks_mut(CHUNK)
        .zip(x.par_chunks(CHUNK))
        .for_each(|(yc, xc)| forward_chunk(yc, xc));
    y
}

#[multiversion(targets("x86_64+avx2+fma"))]
fn forward_chunk<T: Real>(yc: &mut [T], xc: &[T]) {
    for (y, &x) in yc.iter_mut().zip(xc) {
        *y = x * sigmoid_2u(x);
    }
}

/// σ(2u) = 1/(1 + exp(−2u)); saturates cleanly (exp → ∞ gives 0).
#[inline(always)]
fn sigmoid_2u<T: Real>(x: T) -> T {
    let u = T::c(K) * (x + T::c(C) * x * x * x);
    (T::one() + (-(u + u)).exp_fast()).recip()
}

/// dx = dy·(s + 2x·s(1 − s)·k(1 + 3c·x²)), s = σ(2u) — the same as
/// ½(1 + t) + ½x(1 − t²)·k(1 + 3c·x²) with t = tanh u.
fn backward<T: Real>(x: &[T], dy: &[T]) -> Vec<T> {
    let mut dx = vec![T::zero(); x.len()];
    dx.par_chunks_mut(CHUNK)
        .zip(x.par_chunks(CHUNK).zip(dy.par_chunks(CHUNK)))
        .for_each(|(dxc, (xc, dyc))| backward_chunk(dxc, xc, dyc));
    dx
}

#[multiversion(targets("x86_64+avx2+fma"))]
fn backward_chunk<T: Real>(dxc: &mut [T], xc: &[T], dyc: &[T]) {
    for ((dx, &x), &dy) in dxc.iter_mut().zip(xc).zip(dyc) {
        *dx = grad(x, dy);
    }
}

#[inline(always)]
fn grad<T: Real>(x: T, dy: T) -> T {
    let (k, c3, two) = (T::c(K), T::c(3.0 * C), T::c(2.0));
    let s = sigmoid_2u(x);
    dy * (s + two * x * s * (T::one() - s) * k * (T::one() + c3 * x * x))
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

#[cfg(test)]
mod tests {
    /// The chunk kernels run an AVX2/FMA clone where the CPU has it; it must give
    /// the bits of the portable code (no FMA contraction, same operation order),
    /// so that results do not depend on the CPU's ISA.
    #[test]
    fn avx2_clone_gives_the_portable_bits() {
        let x: Vec<f32> = (0..20_000)
            .map(|i| (i as f32 - 10_000.0) * 1.3e-3)
            .collect();
        let dy: Vec<f32> = x.iter().map(|v| (v * 7.0).sin()).collect();
        let (mut y, mut dx) = (vec![0.0; x.len()], vec![0.0; x.len()]);
        super::forward_chunk(&mut y, &x);
        super::backward_chunk(&mut dx, &x, &dy);
        let mut want = (vec![0.0f32; x.len()], vec![0.0f32; x.len()]);
        for i in 0..x.len() {
            // Baseline code: this test function has no target features.
            want.0[i] = x[i] * super::sigmoid_2u(x[i]);
            want.1[i] = super::grad(x[i], dy[i]);
        }
        let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&y), bits(&want.0));
        assert_eq!(bits(&dx), bits(&want.1));
    }
}
