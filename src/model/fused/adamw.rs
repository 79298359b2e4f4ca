//! AdamW's update in place, three passes per tensor (m, v, then the parameter),
//! instead of a dozen tensor ops that each allocate and fill a fresh buffer; and
//! the sum of squares behind the gradient norm, accumulated in f64 without an
//! f64 copy of every gradient.

use super::cpu::{dispatch, slice, slice_mut, sum_by, Real};
use candle_core::{CpuStorage, CustomOp1, InplaceOp2, InplaceOp3, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

const CHUNK: usize = 16 * 1024;

/// One AdamW step's scalars (PyTorch's update): with bias corrections
/// bc1 = 1 − β1ᵗ, bc2 = 1 − β2ᵗ,
/// p ← p·(1 − lr·wd) − (lr/bc1)·m / (√v/√bc2 + eps).
#[derive(Debug, Clone, Copy)]
pub struct Step {
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub lr: f64,
    pub weight_decay: f64,
    pub bc1: f64,
    pub bc2: f64,
}

/// `m ← β·m + (1 − β)·g`, or with `square` `v ← β·v + (1 − β)·g²`.
struct Moment {
    beta: f64,
    square: bool,
}

impl InplaceOp2 for Moment {
    fn name(&self) -> &'static str {
        "fused-adamw-moment"
    }

    fn cpu_fwd(
        &self,
        s1: &mut CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<()> {
        let n = self.name();
        dispatch!(n, s2, |T| {
            let (b, c) = (T::c(self.beta), T::c(1.0 - self.beta));
            let g = slice::<T>(n, s2, l2)?;
            let m = slice_mut::<T>(n, s1, l1)?;
            m.par_chunks_mut(CHUNK)
                .zip(g.par_chunks(CHUNK))
                .for_each(|(mc, gc)| {
                    for (m, &g) in mc.iter_mut().zip(gc) {
                        *m = b * *m + c * if self.square { g * g } else { g };
                    }
                });
            Ok(())
        })
    }
}

struct Update(Step);

impl InplaceOp3 for Update {
    fn name(&self) -> &'static str {
        "fused-adamw-update"
    }

    fn cpu_fwd(
        &self,
        s1: &mut CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<()> {
        let (n, s) = (self.name(), self.0);
        dispatch!(n, s2, |T| {
            let (decay, step, inv_sqrt_bc2, eps) = (
                T::c(1.0 - s.lr * s.weight_decay),
                T::c(s.lr / s.bc1),
                T::c(1.0 / s.bc2.sqrt()),
                T::c(s.eps),
            );
            let (m, v) = (slice::<T>(n, s2, l2)?, slice::<T>(n, s3, l3)?);
            let p = slice_mut::<T>(n, s1, l1)?;
            p.par_chunks_mut(CHUNK)
                .zip(m.par_chunks(CHUNK).zip(v.par_chunks(CHUNK)))
                .for_each(|(pc, (mc, vc))| {
                    for ((p, &m), &v) in pc.iter_mut().zip(mc).zip(vc) {
                        *p = *p * decay - step * m / (v.sqrt() * inv_sqrt_bc2 + eps);
                    }
                });
            Ok(())
        })
    }
}

/// Update parameter `p` and its moments `m`, `v` in place from gradient `g`
/// (all contiguous, same dtype); `weight_decay` 0 for tensors that do not decay.
pub fn adamw_step(p: &Tensor, g: &Tensor, m: &Tensor, v: &Tensor, s: Step) -> Result<()> {
    let g = g.contiguous()?;
    m.inplace_op2(
        &g,
        &Moment {
            beta: s.beta1,
            square: false,
        },
    )?;
    v.inplace_op2(
        &g,
        &Moment {
            beta: s.beta2,
            square: true,
        },
    )?;
    p.inplace_op3(m, v, &Update(s))
}

struct SumSquares;

impl CustomOp1 for SumSquares {
    fn name(&self) -> &'static str {
        "fused-sum-squares"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        dispatch!(self.name(), s, |T| {
            let x = slice::<T>(self.name(), s, l)?;
            // Per-chunk f64 partials, added in chunk order (deterministic).
            let partial: Vec<f64> = x
                .par_chunks(CHUNK)
                .map(|c| sum_by(c, |v| v.wide() * v.wide()))
                .collect();
            Ok((CpuStorage::F64(vec![partial.iter().sum()]), Shape::from(())))
        })
    }
}

/// Σ x² over `x` (f32/f64 on CPU), in f64.
pub fn sum_squares(x: &Tensor) -> Result<f64> {
    x.contiguous()?
        .apply_op1_no_bwd(&SumSquares)?
        .to_scalar::<f64>()
}
