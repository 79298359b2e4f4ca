//! Shared plumbing of the CPU kernels: contiguous slice access, dtype dispatch
//! and row-parallel loops.
//!
//! The kernels' inner loops (a chunk or a row) are `#[multiversion]` functions:
//! an AVX2/FMA clone is picked at run time where the CPU has it, the portable
//! code elsewhere. Both give the same bits (Rust never contracts a·b + c into an
//! FMA, and the loops fix their summation order), which tests check. The helpers
//! they call are `#[inline(always)]` so that they are compiled into the clone.

use candle_core::{bail, CpuStorage, Layout, Result, WithDType};
use num_traits::Float;

/// Scalar types the kernels are written for.
pub trait Real: Float + WithDType + Send + Sync + std::iter::Sum {
    fn c(x: f64) -> Self;
    /// The value as f64 (exact).
    fn wide(self) -> f64;
    /// eˣ for softmax and sigmoid: libm in f64 (the precision the tests hold the
    /// kernels to), a branch-free polynomial in f32 that loops vectorise (libm's
    /// expf is one call per element: 6% of a gpt-10m step).
    fn exp_fast(self) -> Self;
    /// The elements of a storage of this dtype, for in-place ops.
    fn storage_mut(s: &mut CpuStorage) -> Option<&mut Vec<Self>>;
}
impl Real for f32 {
    fn c(x: f64) -> Self {
        x as f32
    }
    fn wide(self) -> f64 {
        self as f64
    }
    #[inline(always)]
    fn exp_fast(self) -> Self {
        exp_f32(self)
    }
    fn storage_mut(s: &mut CpuStorage) -> Option<&mut Vec<Self>> {
        match s {
            CpuStorage::F32(v) => Some(v),
            _ => None,
        }
    }
}
impl Real for f64 {
    fn c(x: f64) -> Self {
        x
    }
    fn wide(self) -> f64 {
        self
    }
    #[inline(always)]
    fn exp_fast(self) -> Self {
        self.exp()
    }
    fn storage_mut(s: &mut CpuStorage) -> Option<&mut Vec<Self>> {
        match s {
            CpuStorage::F64(v) => Some(v),
            _ => None,
        }
    }
}

/// eˣ = 2ⁿ·eʳ with n = round(x·log₂e), r = x − n·ln2 (split in two constants for
/// exactness) and Cephes' expf polynomial for eʳ, |r| ≤ ln2/2: relative error
/// below 2e-7. Inputs are clamped to where 2ⁿ is a normal float; NaN stays NaN.
#[inline(always)]
fn exp_f32(x: f32) -> f32 {
    const ROUND: f32 = 12_582_912.0; // 1.5·2²³: adding and subtracting it rounds to an integer
    let x = x.clamp(-87.0, 88.0);
    let shifted = x * std::f32::consts::LOG2_E + ROUND;
    let n = shifted - ROUND;
    let r = x - n * 0.693_359_4 - n * -2.121_944_4e-4;
    let p = ((((1.987_569_2e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2) * r
        + 1.666_666_5e-1)
        * r
        + 0.5;
    // n as an integer from the low mantissa bits of `shifted` (a float-to-int
    // cast would not vectorise: it saturates lane by lane), then 2ⁿ's bits.
    let two_n = f32::from_bits(
        (shifted
            .to_bits()
            .wrapping_sub(ROUND.to_bits())
            .wrapping_add(127))
            << 23,
    );
    (p * r * r + r + 1.0) * two_n
}

/// Σ f(x) over `xs` in 8 interleaved partial sums, so that the loop vectorises
/// (one running sum is a chain of dependent adds).
#[inline(always)]
pub fn sum_by<T: Copy, A: Float>(xs: &[T], f: impl Fn(T) -> A) -> A {
    let mut acc = [A::zero(); 8];
    let chunks = xs.chunks_exact(8);
    let tail = chunks.remainder().iter().fold(A::zero(), |a, &x| a + f(x));
    for c in chunks {
        for i in 0..8 {
            acc[i] = acc[i] + f(c[i]);
        }
    }
    acc.iter().fold(tail, |a, &b| a + b)
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

/// [`slice`] for the storage an in-place op writes.
pub fn slice_mut<'a, T: Real>(op: &str, s: &'a mut CpuStorage, l: &Layout) -> Result<&'a mut [T]> {
    let Some(data) = T::storage_mut(s) else {
        bail!("{op}: storage is not {:?}", T::DTYPE)
    };
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&mut data[a..b]),
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
        View {
            p: p as *mut T,
            rs: rs as isize,
            cs: 1,
        }
    }

    /// The transposed view (no copy).
    pub fn t(self) -> Self {
        View {
            p: self.p,
            rs: self.cs,
            cs: self.rs,
        }
    }

    /// The view starting at element (i, j).
    pub fn at(self, i: usize, j: usize) -> Self {
        View {
            p: self
                .p
                .wrapping_offset(i as isize * self.rs + j as isize * self.cs),
            ..self
        }
    }
}

/// The GEMM kernels this build runs on this CPU, for benchmark records: gemm's
/// AVX-512 ones need both the `avx512` cargo feature and an avx512f CPU.
pub fn gemm_kernels() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    {
        if cfg!(feature = "avx512") && std::arch::is_x86_feature_detected!("avx512f") {
            return "gemm AVX-512";
        }
        if std::arch::is_x86_feature_detected!("fma") {
            return "gemm AVX2";
        }
        "gemm scalar"
    }
    #[cfg(not(target_arch = "x86_64"))]
    "gemm"
}

/// `dst[m×n] = scale · a[m×k] · b[k×n]` (`+=` with `accumulate`) on `threads`
/// rayon threads (1: on the caller, for kernels that parallelise over products).
///
/// # Safety
/// The views must address valid memory for the given extents, and `dst` must
/// not overlap `a`, `b` or any memory another thread touches meanwhile.
#[allow(clippy::too_many_arguments)]
pub unsafe fn gemm<T: Real + 'static>(
    m: usize,
    n: usize,
    k: usize,
    dst: View<T>,
    a: View<T>,
    b: View<T>,
    scale: T,
    accumulate: bool,
    threads: usize,
) {
    let par = if threads > 1 {
        gemm::Parallelism::Rayon(threads)
    } else {
        gemm::Parallelism::None
    };
    gemm::gemm(
        m,
        n,
        k,
        dst.p,
        dst.cs,
        dst.rs,
        accumulate,
        a.p,
        a.cs,
        a.rs,
        b.p,
        b.cs,
        b.rs,
        T::one(),
        scale,
        false,
        false,
        false,
        par,
    );
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

#[cfg(test)]
mod tests {
    #[test]
    fn exp_f32_is_within_3e7_relative_of_exp() {
        let worst = (0..=175_000)
            .map(|i| -87.0 + i as f64 * 1e-3)
            .fold(0.0f64, |w, x| {
                let got = super::exp_f32(x as f32) as f64;
                let want = (x as f32 as f64).exp();
                w.max((got - want).abs() / want)
            });
        assert!(worst < 3e-7, "{worst:e}");
        assert_eq!(super::exp_f32(f32::NEG_INFINITY), super::exp_f32(-87.0));
        assert!(super::exp_f32(f32::NAN).is_nan());
    }
}
