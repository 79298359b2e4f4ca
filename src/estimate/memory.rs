//! Training memory: model states (weights + gradients + optimizer) for all
//! parameters, plus activations, and the fewest GPUs that can hold them.

use super::workload::{Shape, Workload};
use anyhow::{bail, Result};
use serde::Serialize;

/// Rajbhandari et al. 2020 (ZeRO, Sec. 3.1): mixed-precision Adam keeps 2 (fp16/bf16
/// weights) + 2 (gradients) + 12 (fp32 master weights, momentum, variance) = 16 bytes
/// per parameter. Pure fp32 Adam is also 16: 4 weights + 4 gradients + 8 moments.
pub const ADAM_MIXED_BYTES_PER_PARAM: f64 = 16.0;

/// The consumer-GPU threshold the estimator reports against: 12 GB, the memory of the
/// RTX 4070 / 4070 Ti (configs/hardware.toml).
pub const CONSUMER_GPU_BYTES: f64 = 12e9;

/// The largest GPU count reported: 2^53, the last exact integer of an f64.
const MAX_GPUS: f64 = 9_007_199_254_740_992.0;

/// Activation-recomputation strategy (Korthikanti et al. 2022, "Reducing Activation
/// Recomputation in Large Transformer Models", Sec. 4, eq. 1 and 2, 16-bit activations).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Recompute {
    /// Everything stored: s·b·h·(34 + 5·a·s/h) bytes per layer.
    None,
    /// Attention scores recomputed (or never materialised, as with FlashAttention): 34·s·b·h.
    Selective,
    /// Only each layer's input kept: 2·s·b·h bytes per layer.
    Full,
}

impl Recompute {
    /// Activation bytes per layer for micro-batch `b` sequences.
    pub fn bytes_per_layer(self, s: &Shape, b: f64) -> f64 {
        let (sl, h, a) = (s.seq_len as f64, s.d_model as f64, s.n_head as f64);
        let sbh = sl * b * h;
        match self {
            Recompute::None => sbh * (34.0 + 5.0 * a * sl / h),
            Recompute::Selective => sbh * 34.0,
            Recompute::Full => sbh * 2.0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Memory {
    pub bytes_per_param: f64,
    /// Weights + gradients + optimizer states for all (total) parameters.
    pub states_bytes: f64,
    pub recompute: Recompute,
    pub micro_batch: u64,
    /// Activations of one micro-batch in flight; None without a shape.
    pub activation_bytes: Option<f64>,
    pub total_bytes: f64,
    /// Memory per GPU when states and activations are split evenly over the GPUs used.
    pub per_gpu_bytes: f64,
    pub gpu_memory_bytes: Option<f64>,
    /// Fewest GPUs whose memory holds it all (fully sharded: ZeRO-3 / FSDP plus tensor or
    /// pipeline parallelism for activations). A lower bound: no buffers, fragmentation or
    /// CUDA context counted.
    pub min_gpus: Option<u64>,
    /// Fits the GPUs asked for (`--gpus`)?
    pub fits_requested: Option<bool>,
    /// Fits one 12 GB consumer GPU?
    pub fits_consumer_12gb: bool,
}

/// Memory for `w` on `gpus` GPUs of `gpu_memory_gb` each.
pub fn estimate(
    w: &Workload,
    bytes_per_param: f64,
    recompute: Recompute,
    micro_batch: u64,
    gpu_memory_gb: Option<f64>,
    gpus: u64,
) -> Result<Memory> {
    if !(bytes_per_param.is_finite() && bytes_per_param > 0.0) {
        bail!("--bytes-per-param must be a positive number (got {bytes_per_param})");
    }
    if micro_batch == 0 {
        bail!("--micro-batch must be at least 1");
    }
    let states = w.params_total * bytes_per_param;
    let act = w
        .shape
        .map(|s| recompute.bytes_per_layer(&s, micro_batch as f64) * s.n_layer as f64);
    let total = states + act.unwrap_or(0.0);
    let gpu_bytes = gpu_memory_gb.map(|g| g * 1e9);
    let min_gpus = match gpu_bytes {
        Some(g) => {
            let n = (total / g).ceil().max(1.0);
            // Past 2^53 a GPU count is no longer an exact integer (and `as u64` saturates).
            if n.is_nan() || n > MAX_GPUS {
                bail!(
                    "the training state needs {total:.3e} bytes: {n:.3e} GPUs of {:.0} GB, beyond any cluster; check --params / --tokens / the shape",
                    g / 1e9
                );
            }
            Some(n as u64)
        }
        None => None,
    };
    Ok(Memory {
        bytes_per_param,
        states_bytes: states,
        recompute,
        micro_batch,
        activation_bytes: act,
        total_bytes: total,
        per_gpu_bytes: total / gpus as f64,
        gpu_memory_bytes: gpu_bytes,
        min_gpus,
        fits_requested: min_gpus.map(|m| gpus >= m),
        fits_consumer_12gb: total <= CONSUMER_GPU_BYTES,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sixteen_bytes_per_param_and_min_gpus() {
        let w = Workload::dense("x", 1e9, 2e10).unwrap();
        let m = estimate(
            &w,
            ADAM_MIXED_BYTES_PER_PARAM,
            Recompute::Selective,
            1,
            Some(12.0),
            1,
        )
        .unwrap();
        assert_eq!(m.states_bytes, 16e9);
        assert_eq!(m.min_gpus, Some(2));
        assert!(!m.fits_consumer_12gb);
        let small = Workload::dense("y", 5e8, 1e10).unwrap();
        assert!(
            estimate(&small, 16.0, Recompute::Selective, 1, Some(12.0), 1)
                .unwrap()
                .fits_consumer_12gb
        );
    }
}
