//! Causal self-attention from the packed projection qkv [b, t, 3d] (q | k | v,
//! heads side by side in each) to the merged heads y [b, t, d]. Per (batch, head):
//!   S = c·Q·Kᵀ, P = causal softmax(S), Y = P·V;
//!   dV = Pᵀ·dY, dP = dY·Vᵀ, dS = c·P⊙(dP − rowsum(P⊙dP)), dQ = dS·K, dK = dSᵀ·Q.
//! One graph node instead of ~17 (split, head transposes and copies, two batched
//! matmuls, softmax, merge; each costs candle's backward a zero-fill and an add):
//! the GEMMs read and write the packed layouts through strides, one (batch, head)
//! per rayon task, and skip the blocks above the diagonal.

use super::cpu::{dispatch, gemm, owned, slice, sum_by, Real, SharedMut, View};
use candle_core::{bail, CpuStorage, CustomOp1, CustomOp3, Layout, Result, Shape, Tensor};
use multiversion::multiversion;
use rayon::prelude::*;
use std::sync::Mutex;

/// Row block of the causal GEMMs: rows [i0, i1) only need columns [0, i1).
const BLOCK: usize = 64;

fn blocks(t: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..t)
        .step_by(BLOCK)
        .map(move |i0| (i0, (i0 + BLOCK).min(t)))
}

/// `row ← softmax(c · row)` in place; `row` is the unmasked part (j ≤ i).
#[multiversion(targets("x86_64+avx2+fma"))]
fn softmax_row<T: Real>(row: &mut [T], scale: T) {
    let max = row
        .iter()
        .fold(T::neg_infinity(), |m, &v| num_traits::Float::max(m, v));
    row.iter_mut()
        .for_each(|v| *v = ((*v - max) * scale).exp_fast());
    let inv = sum_by(row, |v| v).recip();
    row.iter_mut().for_each(|v| *v *= inv);
}

/// `g ← c·p⊙(g − Σ p⊙g)` in place: the score gradient from the probability gradient.
#[multiversion(targets("x86_64+avx2+fma"))]
fn softmax_row_backward<T: Real>(p: &[T], g: &mut [T], scale: T) {
    let dot = p.iter().zip(g.iter()).map(|(&a, &b)| a * b).sum::<T>();
    for (g, &p) in g.iter_mut().zip(p) {
        *g = scale * p * (*g - dot);
    }
}

#[derive(Clone, Copy)]
struct Dims {
    b: usize,
    t: usize,
    h: usize,
    hd: usize,
}

impl Dims {
    fn new(op: &str, l: &Layout, n_head: usize) -> Result<Self> {
        let (b, t, d3) = l.shape().dims3()?;
        if d3 % (3 * n_head) != 0 {
            bail!("{op}: last dim {d3} is not 3 × a multiple of {n_head} heads");
        }
        Ok(Dims {
            b,
            t,
            h: n_head,
            hd: d3 / 3 / n_head,
        })
    }

    fn d(&self) -> usize {
        self.h * self.hd
    }

    /// Head `bh % h` of batch `bh / h` in a `[b, t, width]` buffer, from column `col`.
    fn head<T>(&self, base: *const T, width: usize, col: usize, bh: usize) -> View<T> {
        let (bi, hi) = (bh / self.h, bh % self.h);
        View::rows(
            base.wrapping_add(bi * self.t * width + col + hi * self.hd),
            width,
        )
    }

    /// Q, K, V of head `bh` in a packed `[b, t, 3d]` buffer.
    fn qkv<T>(&self, base: *const T, bh: usize) -> [View<T>; 3] {
        let d = self.d();
        [0, d, 2 * d].map(|col| self.head(base, 3 * d, col, bh))
    }
}

/// Y [b, t, d] and the probabilities P [b, h, t, t] (zero above the diagonal).
fn forward<T: Real + 'static>(qkv: &[T], g: Dims, scale: T) -> (Vec<T>, Vec<T>) {
    let (t, hd) = (g.t, g.hd);
    let mut y = vec![T::zero(); g.b * t * g.d()];
    let mut p = vec![T::zero(); g.b * g.h * t * t];
    let ys = SharedMut(y.as_mut_ptr());
    p.par_chunks_mut(t * t).enumerate().for_each(|(bh, pm)| {
        let [q, k, v] = g.qkv(qkv.as_ptr(), bh);
        let yv = g.head(ys.get() as *const T, g.d(), 0, bh);
        for (i0, i1) in blocks(t) {
            let pv = View::rows(pm.as_mut_ptr(), t).at(i0, 0);
            // SAFETY: the views stay inside qkv, this task's P and this head's
            // columns of y, which no other task writes.
            unsafe { gemm(i1 - i0, i1, hd, pv, q.at(i0, 0), k.t(), T::one(), false, 1) };
            for i in i0..i1 {
                softmax_row(&mut pm[i * t..i * t + i + 1], scale);
                pm[i * t + i + 1..i * t + i1].fill(T::zero());
            }
            let pv = View::rows(pm.as_ptr(), t).at(i0, 0);
            unsafe { gemm(i1 - i0, hd, i1, yv.at(i0, 0), pv, v, T::one(), false, 1) };
        }
    });
    (y, p)
}

/// dqkv [b, t, 3d] from qkv, P and dY [b, t, d].
fn backward<T: Real + 'static>(qkv: &[T], p: &[T], dy: &[T], g: Dims, scale: T) -> Vec<T> {
    let (t, hd) = (g.t, g.hd);
    let mut dqkv = vec![T::zero(); qkv.len()];
    let out = SharedMut(dqkv.as_mut_ptr());
    (0..g.b * g.h).into_par_iter().for_each_init(
        || vec![T::zero(); t * t],
        |ds, bh| {
            let [q, k, v] = g.qkv(qkv.as_ptr(), bh);
            let [dq, dk, dv] = g.qkv(out.get() as *const T, bh);
            let dyv = g.head(dy.as_ptr(), g.d(), 0, bh);
            let pm = &p[bh * t * t..(bh + 1) * t * t];
            // SAFETY (all GEMMs): the views stay inside the inputs, this task's
            // scratch and this head's columns of dqkv, which no other task writes.
            for (i0, i1) in blocks(t) {
                unsafe {
                    gemm(
                        i1 - i0,
                        i1,
                        hd,
                        View::rows(ds.as_mut_ptr(), t).at(i0, 0),
                        dyv.at(i0, 0),
                        v.t(),
                        T::one(),
                        false,
                        1,
                    )
                };
                for i in i0..i1 {
                    softmax_row_backward(
                        &pm[i * t..i * t + i + 1],
                        &mut ds[i * t..i * t + i + 1],
                        scale,
                    );
                    ds[i * t + i + 1..i * t + i1].fill(T::zero());
                }
                unsafe {
                    gemm(
                        i1 - i0,
                        hd,
                        i1,
                        dq.at(i0, 0),
                        View::rows(ds.as_ptr(), t).at(i0, 0),
                        k,
                        T::one(),
                        false,
                        1,
                    )
                };
            }
            // Column block [j0, j1) of dS and P is zero in rows above j0.
            let (dsv, pv) = (
                View::rows(ds.as_ptr(), t).t(),
                View::rows(pm.as_ptr(), t).t(),
            );
            for (j0, j1) in blocks(t) {
                unsafe {
                    gemm(
                        j1 - j0,
                        hd,
                        t - j0,
                        dk.at(j0, 0),
                        dsv.at(j0, j0),
                        q.at(j0, 0),
                        T::one(),
                        false,
                        1,
                    );
                    gemm(
                        j1 - j0,
                        hd,
                        t - j0,
                        dv.at(j0, 0),
                        pv.at(j0, j0),
                        dyv.at(j0, 0),
                        T::one(),
                        false,
                        1,
                    );
                }
            }
        },
    );
    dqkv
}

struct Attention {
    n_head: usize,
    /// Multiplier on the scores, the same in the backward.
    scale: f64,
    /// P from the forward, for the backward (dropped with the graph).
    probs: Mutex<Option<Tensor>>,
}

impl CustomOp1 for Attention {
    fn name(&self) -> &'static str {
        "fused-causal-attention"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let g = Dims::new(self.name(), l, self.n_head)?;
        dispatch!(self.name(), s, |T| {
            let (y, p) = forward(slice::<T>(self.name(), s, l)?, g, T::c(self.scale));
            *self.probs.lock().expect("not poisoned") = Some(Tensor::from_vec(
                p,
                (g.b, g.h, g.t, g.t),
                &candle_core::Device::Cpu,
            )?);
            Ok((owned(y), Shape::from((g.b, g.t, g.d()))))
        })
    }

    fn bwd(&self, qkv: &Tensor, _y: &Tensor, dy: &Tensor) -> Result<Option<Tensor>> {
        let p = self.probs.lock().expect("not poisoned").clone();
        let Some(p) = p else {
            bail!("{}: backward without forward", self.name())
        };
        Ok(Some(qkv.apply_op3_no_bwd(
            &p,
            &dy.contiguous()?,
            &AttentionBwd {
                n_head: self.n_head,
                scale: self.scale,
            },
        )?))
    }
}

struct AttentionBwd {
    n_head: usize,
    scale: f64,
}

impl CustomOp3 for AttentionBwd {
    fn name(&self) -> &'static str {
        "fused-causal-attention-bwd"
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
        let g = Dims::new(self.name(), l1, self.n_head)?;
        let n = self.name();
        dispatch!(n, s1, |T| {
            let dqkv = backward(
                slice::<T>(n, s1, l1)?,
                slice::<T>(n, s2, l2)?,
                slice::<T>(n, s3, l3)?,
                g,
                T::c(self.scale),
            );
            Ok((owned(dqkv), l1.shape().clone()))
        })
    }
}

/// Causal multi-head self-attention (scores × `scale`, 1/√head_dim in SP) of
/// `qkv [b, t, 3d]` → `[b, t, d]`.
pub fn causal_attention(qkv: &Tensor, n_head: usize, scale: f64) -> Result<Tensor> {
    qkv.contiguous()?.apply_op1(Attention {
        n_head,
        scale,
        probs: Mutex::new(None),
    })
}
