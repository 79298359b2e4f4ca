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

/// A strided matrix view for the GEMM calls: element (i, j) at `p + i·rs + j·cs`.
#[derive(Clone, Copy)]
pub struct View<T> {
    pub p: *mut T,
    pub rs: isize,
    pub cs: isize,
}

impl<T> View<T> {
    /// Row-major `[.., cols]` storage with row stride `rs` starting at `p`.
    pub fn rows(p: *const T, rs: usize) -> Self {
        View { p: p as *mut T, rs: rs as isize, cs: 1 }
    }

    /// The transposed view (no copy).
    pub fn t(self) -> Self {
        View { p: self.p, rs: self.cs, cs: self.rs }
    }

    /// The view starting at element (i, j).
    pub fn at(self, i: usize, j: usize) -> Self {
        View { p: self.p.wrapping_offset(i as isize * self.rs + j as isize * self.cs), ..self }
    }
}

/// `dst[m×n] = scale · a[m×k] · b[k×n]` (`+=` with `accumulate`) on `threads`
/// rayon threads (1: on the caller, for kernels that parallelise over products).
///
/// # Safety
/// The views must address valid memory for the given extents, and `dst` must
/// not overlap `a`, `b` or any memory another thread touches meanwhile.
#[allow(clippy::too_many_arguments)]
pub unsafe fn gemm<T: Real + 'static>(m: usize, n: usize, k: usize, dst: View<T>, a: View<T>, b: View<T>, scale: T, accumulate: bool, threads: usize) {
    let par = if threads > 1 { gemm::Parallelism::Rayon(threads) } else { gemm::Parallelism::None };
    gemm::gemm(m, n, k, dst.p, dst.cs, dst.rs, accumulate, a.p, a.cs, a.rs, b.p, b.cs, b.rs, T::one(), scale, false, false, false, par);
}

/// A raw pointer that rayon tasks may share: each task writes a disjoint region.
#[derive(Clone, Copy)]
pub struct SharedMut<T>(pub *mut T);
unsafe impl<T> Send for SharedMut<T> {}
unsafe impl<T> Sync for SharedMut<T> {}

impl<T> SharedMut<T> {
    /// The pointer (a method, so closures capture the whole Sync wrapper).
    pub fn get(&self) -> *mut T {
        self.0
    }
}
