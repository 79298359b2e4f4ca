//! `scalelab calibrate`'s measurements: GEMM throughput over a grid of
//! shapes, streaming bandwidth and per-op overhead, all through candle Tensor
//! ops so the same code measures a CUDA device (its real bf16/tf32 rate).

use crate::device::DTypeSpec;
use crate::profile::{DeviceProfile, GemmRate, VERSION};
use anyhow::Result;
use candle_core::{DType, Device, Tensor};
use std::time::Instant;

/// The GEMM grid's sizes for each of m, k, n: from attention heads (16) to
/// past the widest training dims on a CPU (4096; the rate is flat beyond).
pub const GRID: [usize; 5] = [16, 64, 256, 1024, 4096];

/// Median wall time of `f` (seconds per call): calls are batched so that each
/// timed batch lasts at least `min_s`, and `batches` batches are timed.
fn median_time(
    dev: &Device,
    min_s: f64,
    batches: usize,
    mut f: impl FnMut() -> Result<()>,
) -> Result<f64> {
    f()?; // warm-up: first-touch pages, CUDA handles
    dev.synchronize()?;
    let t0 = Instant::now();
    f()?;
    dev.synchronize()?;
    let once = t0.elapsed().as_secs_f64().max(1e-7);
    let per_batch = ((min_s / once).ceil() as usize).clamp(1, 100_000);
    let mut times: Vec<f64> = (0..batches)
        .map(|_| {
            let t0 = Instant::now();
            for _ in 0..per_batch {
                f()?;
            }
            dev.synchronize()?;
            Ok(t0.elapsed().as_secs_f64() / per_batch as f64)
        })
        .collect::<Result<_>>()?;
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}

fn random(shape: (usize, usize), dtype: DType, dev: &Device) -> Result<Tensor> {
    Ok(Tensor::randn(0f32, 1f32, shape, dev)?.to_dtype(dtype)?)
}

/// FLOP/s of (m×k)·(k×n) for every shape of the grid.
pub fn gemm_grid(dev: &Device, dtype: DType, grid: &[usize]) -> Result<Vec<GemmRate>> {
    let mut out = Vec::new();
    for &m in grid {
        for &k in grid {
            let a = random((m, k), dtype, dev)?;
            for &n in grid {
                let b = random((k, n), dtype, dev)?;
                let s = median_time(dev, 0.01, 3, || {
                    a.matmul(&b)?;
                    Ok(())
                })?;
                out.push(GemmRate {
                    m,
                    k,
                    n,
                    flops_per_s: 2.0 * (m * k * n) as f64 / s,
                });
            }
        }
    }
    Ok(out)
}

/// GB/s of an elementwise add over tensors far larger than the caches
/// (two reads and a write per element).
pub fn bandwidth_gbs(dev: &Device, dtype: DType) -> Result<f64> {
    let n = 1 << 24;
    let a = random((n, 1), dtype, dev)?;
    let b = random((n, 1), dtype, dev)?;
    let s = median_time(dev, 0.05, 5, || {
        (&a + &b)?;
        Ok(())
    })?;
    Ok(3.0 * (n * dtype.size_in_bytes()) as f64 / s / 1e9)
}

/// µs per small elementwise op (64 elements): dispatch, allocation, launch.
pub fn op_overhead_us(dev: &Device, dtype: DType) -> Result<f64> {
    let a = random((8, 8), dtype, dev)?;
    let b = random((8, 8), dtype, dev)?;
    let s = median_time(dev, 0.02, 5, || {
        (&a + &b)?;
        Ok(())
    })?;
    Ok(s * 1e6)
}

/// The CPU's model name and the widest vector ISA the GEMM kernels can use.
pub fn cpu_name() -> String {
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    format!("{model} ({})", cpu_isa())
}

/// The widest vector ISA of this CPU (what the GEMM kernels could use).
pub fn cpu_isa() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            return "AVX-512";
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            return "AVX2 FMA";
        }
        "SSE"
    }
    #[cfg(not(target_arch = "x86_64"))]
    std::env::consts::ARCH
}

/// Measure a profile (no step-model constants yet) on `dev` in `dtype`.
pub fn measure(dev: &Device, device: &str, dtype: DTypeSpec, quiet: bool) -> Result<DeviceProfile> {
    crate::device::configure_precision(dev, dtype);
    let dt = dtype.compute();
    let say = |s: &str| {
        if !quiet {
            eprintln!("{s}");
        }
    };
    let t0 = Instant::now();
    let gemm = gemm_grid(dev, dt, &GRID)?;
    let peak = gemm.iter().map(|g| g.flops_per_s).fold(0.0, f64::max);
    say(&format!(
        "calibrate: GEMM grid of {} shapes, peak {:.1} GFLOP/s ({:.0} s)",
        gemm.len(),
        peak / 1e9,
        t0.elapsed().as_secs_f64()
    ));
    let bandwidth_gbs = bandwidth_gbs(dev, dt)?;
    let op_overhead_us = op_overhead_us(dev, dt)?;
    say(&format!(
        "calibrate: bandwidth {bandwidth_gbs:.1} GB/s, per-op overhead {op_overhead_us:.2} µs"
    ));
    let device_name = if dev.is_cpu() {
        cpu_name()
    } else {
        crate::device::device_name(dev).unwrap_or_else(|| device.to_string())
    };
    Ok(DeviceProfile {
        version: VERSION,
        device: crate::profile::spec_of(dev).to_string(),
        device_name,
        dtype: dtype.to_string(),
        threads: if dev.is_cpu() {
            rayon::current_num_threads()
        } else {
            1
        },
        gemm,
        bandwidth_gbs,
        op_overhead_us,
        step_model: None,
    })
}
