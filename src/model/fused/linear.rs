//! Linear layer y = x·W (+ b) over the last dim of x, W stored [in, out]
//! (GPT-2's Conv1D), and its backward dx = dy·Wᵀ, dW = xᵀ·dy, db = Σ_rows dy.
//! One graph node instead of four (flatten, matmul, bias add, unflatten), each of
//! which costs candle's backward a zero-filled buffer and an add pass. The bias
//! seeds the GEMM's output; db sums rows in order into per-task partials
//! (candle's reduction over dim 0 strides across rows: it was 7% of a small
//! model's step).

use super::cpu::{dispatch, gemm, owned, rows_per_task, slice, Real, View};
use candle_core::{
    bail, CpuStorage, CustomOp1, CustomOp2, CustomOp3, Layout, Result, Shape, Tensor,
};
use rayon::prelude::*;

fn forward<T: Real + 'static>(
    x: &[T],
    w: &[T],
    b: Option<&[T]>,
    din: usize,
    dout: usize,
) -> Vec<T> {
    let rows = x.len() / din;
    let mut y = match b {
        Some(b) => {
            let mut y = Vec::with_capacity(rows * dout);
            (0..rows).for_each(|_| y.extend_from_slice(b));
            y
        }
        None => vec![T::zero(); rows * dout],
    };
    // SAFETY: the views address exactly x [rows, din], w [din, dout] and y [rows, dout].
    unsafe {
        gemm(
            rows,
            dout,
            din,
            View::rows(y.as_mut_ptr(), dout),
            View::rows(x.as_ptr(), din),
            View::rows(w.as_ptr(), dout),
            T::one(),
            true,
            rayon::current_num_threads(),
        )
    };
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
                    *a += v;
                }
            }
            acc
        })
        .collect();
    let mut out = vec![T::zero(); d];
    for p in &partial {
        for (o, v) in out.iter_mut().zip(p) {
            *o += *v;
        }
    }
    out
}

/// (din, dout) of `x [.., din]` and `w [din, dout]`.
fn dims(op: &str, lx: &Layout, lw: &Layout) -> Result<(usize, usize)> {
    let (din, dout) = lw.shape().dims2()?;
    if lx.dims().last() != Some(&din) {
        bail!(
            "{op}: input {:?} does not end in the weight's {din} rows",
            lx.dims()
        );
    }
    Ok((din, dout))
}

fn out_shape(lx: &Layout, dout: usize) -> Shape {
    let mut s = lx.dims().to_vec();
    *s.last_mut().expect("rank >= 1") = dout;
    Shape::from(s)
}

/// dx, dW and (with a bias) db from the output gradient.
fn backward(
    x: &Tensor,
    w: &Tensor,
    dy: &Tensor,
    bias: bool,
) -> Result<(Tensor, Tensor, Option<Tensor>)> {
    let (din, dout) = w.dims2()?;
    let rows = x.elem_count() / din;
    // Detached: recorded on the tracked x and w, these products would keep
    // dy alive through the weight's gradient until backward() returns (9
    // n·d per layer; docs/memory.md).
    let (x, w) = (x.detach(), w.detach());
    let dy = dy.contiguous()?.reshape((rows, dout))?;
    let dx = dy.matmul(&w.t()?)?.reshape(x.shape())?;
    let dw = x.reshape((rows, din))?.t()?.matmul(&dy)?;
    let db = if bias {
        Some(dy.apply_op1_no_bwd(&ColumnSums)?)
    } else {
        None
    };
    Ok((dx, dw, db))
}

struct Linear;

impl CustomOp2 for Linear {
    fn name(&self) -> &'static str {
        "fused-linear"
    }

    fn cpu_fwd(
        &self,
        sx: &CpuStorage,
        lx: &Layout,
        sw: &CpuStorage,
        lw: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (n, (din, dout)) = (self.name(), dims(self.name(), lx, lw)?);
        dispatch!(n, sx, |T| Ok((
            owned(forward(
                slice::<T>(n, sx, lx)?,
                slice::<T>(n, sw, lw)?,
                None,
                din,
                dout
            )),
            out_shape(lx, dout)
        )))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _y: &Tensor,
        dy: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let (dx, dw, _) = backward(x, w, dy, false)?;
        Ok((Some(dx), Some(dw)))
    }
}

struct LinearBias;

impl CustomOp3 for LinearBias {
    fn name(&self) -> &'static str {
        "fused-linear-bias"
    }

    fn cpu_fwd(
        &self,
        sx: &CpuStorage,
        lx: &Layout,
        sw: &CpuStorage,
        lw: &Layout,
        sb: &CpuStorage,
        lb: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (n, (din, dout)) = (self.name(), dims(self.name(), lx, lw)?);
        if lb.dims() != [dout] {
            bail!("{n}: bias {:?} does not match {dout} outputs", lb.dims());
        }
        dispatch!(n, sx, |T| {
            let y = forward(
                slice::<T>(n, sx, lx)?,
                slice::<T>(n, sw, lw)?,
                Some(slice::<T>(n, sb, lb)?),
                din,
                dout,
            );
            Ok((owned(y), out_shape(lx, dout)))
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
        let (dx, dw, db) = backward(x, w, dy, true)?;
        Ok((Some(dx), Some(dw), db))
    }
}

struct ColumnSums;

impl CustomOp1 for ColumnSums {
    fn name(&self) -> &'static str {
        "fused-column-sums"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let d = l.dims()[1];
        dispatch!(self.name(), s, |T| Ok((
            owned(column_sums(slice::<T>(self.name(), s, l)?, d)),
            Shape::from(d)
        )))
    }
}

/// `x [.., in] · w [in, out] (+ b [out])`.
pub fn linear(x: &Tensor, w: &Tensor, b: Option<&Tensor>) -> Result<Tensor> {
    let (x, w) = (x.contiguous()?, w.contiguous()?);
    match b {
        Some(b) => x.apply_op3(&w, &b.contiguous()?, LinearBias),
        None => x.apply_op2(&w, Linear),
    }
}
