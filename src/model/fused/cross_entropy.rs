//! Softmax cross-entropy over the vocabulary: loss_r = lse(z_r) − z_r[target_r]
//! per row. The backward rebuilds the softmax from the logits and the row's
//! loss (lse = loss + z[target]): one exp per logit, and nothing but the
//! per-row losses is stored.

use super::cpu::{dispatch, owned, rows_per_task, slice, sum_by, Real};
use candle_core::{bail, CpuStorage, CustomOp2, CustomOp3, Layout, Result, Shape, Tensor};
use multiversion::multiversion;
use rayon::prelude::*;

#[multiversion(targets("x86_64+avx2+fma"))]
fn lse<T: Real>(row: &[T]) -> T {
    let max = row
        .iter()
        .fold(T::neg_infinity(), |m, &v| num_traits::Float::max(m, v));
    max + sum_by(row, |v| (v - max).exp_fast()).ln()
}

fn target(op: &str, targets: &[u32], r: usize, v: usize) -> Result<usize> {
    let t = targets[r] as usize;
    if t >= v {
        bail!("{op}: target id {t} out of range for a vocabulary of {v}");
    }
    Ok(t)
}

fn forward<T: Real>(op: &str, z: &[T], targets: &[u32], v: usize) -> Result<Vec<T>> {
    for r in 0..targets.len() {
        target(op, targets, r, v)?;
    }
    let loss = z
        .par_chunks(v)
        .zip(targets.par_iter())
        .map(|(row, &t)| lse(row) - row[t as usize])
        .collect();
    Ok(loss)
}

/// dz[r, j] = g_r·(softmax(z_r)[j] − [j = target_r]); `gl` holds (g_r, loss_r) pairs.
fn backward<T: Real>(z: &[T], targets: &[u32], gl: &[T], v: usize) -> Vec<T> {
    let mut dz = vec![T::zero(); z.len()];
    let rows = rows_per_task(targets.len(), v);
    dz.par_chunks_mut(rows * v)
        .zip(z.par_chunks(rows * v))
        .enumerate()
        .for_each(|(c, (dzc, zc))| {
            let r0 = c * rows;
            let n = dzc.len() / v;
            backward_rows(dzc, zc, &targets[r0..r0 + n], &gl[2 * r0..2 * (r0 + n)], v)
        });
    dz
}

/// [`backward`] for the rows of one task (their targets and (g, loss) pairs).
#[multiversion(targets("x86_64+avx2+fma"))]
fn backward_rows<T: Real>(dzc: &mut [T], zc: &[T], targets: &[u32], gl: &[T], v: usize) {
    for (r, (dr, zr)) in dzc.chunks_mut(v).zip(zc.chunks(v)).enumerate() {
        let (g, loss) = (gl[2 * r], gl[2 * r + 1]);
        let t = targets[r] as usize;
        let l = loss + zr[t];
        for (d, &x) in dr.iter_mut().zip(zr) {
            *d = g * (x - l).exp_fast();
        }
        dr[t] -= g;
    }
}

fn rows_cols(op: &str, l: &Layout) -> Result<(usize, usize)> {
    match l.dims() {
        [n, v] => Ok((*n, *v)),
        d => bail!("{op}: expected logits [n, vocab], got {d:?}"),
    }
}

struct CrossEntropy;

impl CustomOp2 for CrossEntropy {
    fn name(&self) -> &'static str {
        "fused-cross-entropy"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (n, v) = rows_cols(self.name(), l1)?;
        let targets = slice::<u32>(self.name(), s2, l2)?;
        if targets.len() != n {
            bail!("{}: {} targets for {n} rows", self.name(), targets.len());
        }
        dispatch!(self.name(), s1, |T| {
            let loss = forward(self.name(), slice::<T>(self.name(), s1, l1)?, targets, v)?;
            Ok((owned::<T>(loss), Shape::from(n)))
        })
    }

    fn bwd(
        &self,
        z: &Tensor,
        targets: &Tensor,
        loss: &Tensor,
        g: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let gl = Tensor::stack(&[g, loss], 1)?;
        Ok((
            Some(z.apply_op3_no_bwd(targets, &gl, &CrossEntropyBwd)?),
            None,
        ))
    }
}

struct CrossEntropyBwd;

impl CustomOp3 for CrossEntropyBwd {
    fn name(&self) -> &'static str {
        "fused-cross-entropy-bwd"
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
        let (_, v) = rows_cols(self.name(), l1)?;
        let targets = slice::<u32>(self.name(), s2, l2)?;
        dispatch!(self.name(), s1, |T| {
            let dz = backward(
                slice::<T>(self.name(), s1, l1)?,
                targets,
                slice::<T>(self.name(), s3, l3)?,
                v,
            );
            Ok((owned::<T>(dz), l1.shape().clone()))
        })
    }
}

/// Mean cross-entropy of `logits [n, v]` against `targets [n]` (u32).
pub fn cross_entropy(logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
    logits
        .contiguous()?
        .apply_op2(&targets.contiguous()?, CrossEntropy)?
        .mean_all()
}
