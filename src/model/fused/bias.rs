//! Bias add y = x + b over the last dim, and its backward: dx = dy and
//! db = Σ_rows dy, summed row-major (candle's generic reduction over dim 0
//! strides across rows: cache-unfriendly, and it was 7% of a small model's step).

use super::cpu::{dispatch, owned, rows_per_task, slice, Real};
use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

fn forward<T: Real>(x: &[T], b: &[T]) -> Vec<T> {
    let d = b.len();
    let mut y = x.to_vec();
    let chunk = rows_per_task(x.len() / d, d) * d;
    y.par_chunks_mut(chunk).for_each(|yc| {
        for row in yc.chunks_mut(d) {
            for (v, &bi) in row.iter_mut().zip(b) {
                *v = *v + bi;
            }
        }
    });
    y
}

/// Column sums of `dy [rows, d]`: per-task partial sums added in a fixed order (deterministic).
fn column_sums<T: Real>(dy: &[T], d: usize) -> Vec<T> {
    let chunk = rows_per_task(dy.len() / d, d) * d;
    let partial: Vec<Vec<T>> = dy
        .par_chunks(chunk)
        .map(|c| {
            let mut acc = vec![T::zero(); d];
            for row in c.chunks(d) {
                for (a, &v) in acc.iter_mut().zip(row) {
                    *a = *a + v;
                }
            }
            acc
        })
        .collect();
    let mut out = vec![T::zero(); d];
    for p in &partial {
        for (o, v) in out.iter_mut().zip(p) {
            *o = *o + *v;
        }
    }
    out
}

struct BiasAdd;

impl CustomOp2 for BiasAdd {
    fn name(&self) -> &'static str {
        "fused-bias-add"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        dispatch!(self.name(), s1, |T| Ok((owned(forward(slice::<T>(self.name(), s1, l1)?, slice::<T>(self.name(), s2, l2)?)), l1.shape().clone())))
    }

    fn bwd(&self, _x: &Tensor, b: &Tensor, _y: &Tensor, dy: &Tensor) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let db = dy.contiguous()?.apply_op1_no_bwd(&ColumnSums { d: b.elem_count() })?;
        Ok((Some(dy.clone()), Some(db)))
    }
}

struct ColumnSums {
    d: usize,
}

impl CustomOp1 for ColumnSums {
    fn name(&self) -> &'static str {
        "fused-column-sums"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        dispatch!(self.name(), s, |T| Ok((owned(column_sums(slice::<T>(self.name(), s, l)?, self.d)), Shape::from(self.d))))
    }
}

/// `x [.., d] + b [d]`.
pub fn bias_add(x: &Tensor, b: &Tensor) -> Result<Tensor> {
    x.contiguous()?.apply_op2(&b.contiguous()?, BiasAdd)
}
