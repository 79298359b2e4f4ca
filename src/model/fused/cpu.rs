//! Shared plumbing of the CPU kernels: contiguous slice access, dtype dispatch
//! and row-parallel loops.

use candle_core::{bail, CpuStorage, Layout, Result, WithDType};
use num_traits::Float;

/// Scalar types the kernels are written for.
pub trait Real: Float + WithDType + Send + Sync + std::iter::Sum {
    fn c(x: f64) -> Self;
}
impl Real for f32 {
    fn c(x: f64) -> Self {
        x as f32
    }
}
impl Real for f64 {
    fn c(x: f64) -> Self {
        x
    }
}

/// A kernel's output buffer as CPU storage.
pub fn owned<T: Real>(v: Vec<T>) -> CpuStorage {
    T::to_cpu_storage_owned(v)
}

/// The contiguous elements of `s` described by `l`; the callers make inputs
/// contiguous before applying an op, so anything else is a programming error.
pub fn slice<'a, T: WithDType>(op: &str, s: &'a CpuStorage, l: &Layout) -> Result<&'a [T]> {
    let data = s.as_slice::<T>()?;
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&data[a..b]),
        None => bail!("{op}: input must be contiguous"),
    }
}

/// Rows per rayon task: enough work to amortise scheduling, at least one row.
pub fn rows_per_task(rows: usize, cols: usize) -> usize {
    (16 * 1024 / cols.max(1)).clamp(1, rows.max(1))
}

/// Dispatch a generic kernel call on the dtype of a CPU storage (f32 / f64).
macro_rules! dispatch {
    ($op:expr, $s:expr, |$t:ident| $body:expr) => {
        match $s {
            candle_core::CpuStorage::F32(_) => {
                type $t = f32;
                $body
            }
            candle_core::CpuStorage::F64(_) => {
                type $t = f64;
                $body
            }
            _ => candle_core::bail!("{}: only f32 and f64 are supported", $op),
        }
    };
}
pub(crate) use dispatch;
