//! Synthetic device profiles: a full GEMM grid whose rate rises with the
//! GEMM's size (as measured ones do), and chosen step-model constants.

use scalelab::profile::{DeviceProfile, GemmRate, PhaseConstants, StepConstants, VERSION};
use std::path::{Path, PathBuf};

/// Step-model constants that weight every term (none is zero).
pub fn constants() -> StepConstants {
    let c = |m, a, b, o| PhaseConstants::from_array([m, a, b, o]);
    StepConstants {
        forward: c(1.2, 1.5, 0.8, 2.0),
        backward: c(1.1, 1.3, 0.9, 1.5),
        optimizer: c(0.0, 0.0, 1.4, 3.0),
        fitted_on: vec!["synthetic".into()],
        fit_rms_error: 0.0,
    }
}

/// A profile of `device` (`cpu`, `cuda:0`) named `name` in `dtype`, with
/// GEMM rates up to `peak` FLOP/s and the constants above.
pub fn synthetic(device: &str, name: &str, dtype: &str, peak: f64) -> DeviceProfile {
    let grid = [16usize, 64, 256, 1024, 4096];
    let mut gemm = Vec::new();
    for &m in &grid {
        for &k in &grid {
            for &n in &grid {
                // Saturates towards `peak` as the work per call grows.
                let work = (m * k * n) as f64;
                gemm.push(GemmRate {
                    m,
                    k,
                    n,
                    flops_per_s: peak * work / (work + 1e7),
                });
            }
        }
    }
    DeviceProfile {
        version: VERSION,
        device: device.into(),
        device_name: name.into(),
        dtype: dtype.into(),
        threads: 2,
        gemm,
        bandwidth_gbs: 20.0,
        op_overhead_us: 2.0,
        step_model: Some(constants()),
    }
}

/// A CPU f32 profile (100 GFLOP/s peak).
pub fn cpu() -> DeviceProfile {
    synthetic("cpu", "Test CPU (AVX2 FMA)", "f32", 1e11)
}

/// `p` written as `dir/name`.
pub fn write(dir: &Path, name: &str, p: &DeviceProfile) -> PathBuf {
    let path = dir.join(name);
    p.save(&path).unwrap();
    path
}
