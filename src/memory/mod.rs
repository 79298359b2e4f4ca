//! Training memory: the model of one step's peak ([`model`]), the check that
//! refuses a run before it allocates when that peak does not fit the machine
//! or `--memory-budget`, and the process measurement it is compared with
//! ([`rss`]). docs/memory.md describes the model and its accuracy.

pub mod model;
pub mod rss;

pub use model::{breakdown, Breakdown};

use crate::config::RunConfig;
use crate::fmt::bytes;
use anyhow::{bail, Result};
use candle_core::Device;

/// [`breakdown`]'s peak in bytes (saturating).
pub fn estimate_peak_bytes(cfg: &RunConfig, cpu: bool) -> u64 {
    breakdown(cfg, cpu).peak() as u64
}

/// A size such as `2GiB`, `500MB`, `1.5G` or `1048576` (bytes): KB/MB/GB/TB
/// are powers of 1000, KiB/MiB/GiB/TiB and bare K/M/G/T powers of 1024.
/// `flag` names the option in the error.
pub fn parse_size(flag: &str, s: &str) -> Result<u64> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let scale: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "kb" => 1e3,
        "mb" => 1e6,
        "gb" => 1e9,
        "tb" => 1e12,
        "k" | "kib" => 1024.0,
        "m" | "mib" => 1024f64.powi(2),
        "g" | "gib" => 1024f64.powi(3),
        "t" | "tib" => 1024f64.powi(4),
        _ => f64::NAN,
    };
    let bytes = num.parse::<f64>().unwrap_or(f64::NAN) * scale;
    if !(bytes >= 1.0 && bytes < 2f64.powi(63)) {
        bail!("{flag}: `{s}` is not a memory size (give e.g. 2GiB, 500MB or a number of bytes)");
    }
    Ok(bytes as u64)
}

/// Memory the run may use on `dev`: MemAvailable on CPU, free memory on a GPU;
/// `None` where it cannot be read.
pub fn available_bytes(dev: &Device) -> Option<u64> {
    #[cfg(feature = "cuda")]
    if let Device::Cuda(d) = dev {
        use candle_core::cuda_backend::cudarc::driver::sys;
        let stream = d.cuda_stream();
        let ctx = stream.context();
        ctx.bind_to_thread().ok()?;
        let (mut free, mut total) = (0usize, 0usize);
        // SAFETY: a plain driver query with out-pointers to locals.
        let r = unsafe { sys::cuMemGetInfo_v2(&mut free, &mut total) };
        return (r == sys::CUresult::CUDA_SUCCESS).then_some(free as u64);
    }
    let _ = dev;
    rss::meminfo_kib("MemAvailable:").map(|k| k.saturating_mul(1024))
}

/// `--memory-budget SIZE`, parsed.
pub fn budget_flag(s: &Option<String>) -> Result<Option<u64>> {
    s.as_deref()
        .map(|s| parse_size("--memory-budget", s))
        .transpose()
}

/// The measured counterpart of [`estimate_peak_bytes`]: on CPU the peak RSS
/// above [`rss::mark_baseline`], on CUDA the memory pool's high-water mark.
pub fn measured_peak_bytes(dev: &Device) -> Option<u64> {
    if dev.is_cpu() {
        rss::peak_above_baseline()
    } else {
        crate::device::gpu_peak_bytes(dev, false)
    }
}

/// The line `train` and `bench` print: predicted against measured peak.
pub fn predicted_vs_measured(predicted: Option<u64>, measured: Option<u64>, cpu: bool) -> String {
    let what = if cpu {
        "RSS above the pre-model baseline"
    } else {
        "memory-pool high-water mark"
    };
    let p = crate::fmt::or_dash(predicted, |p| bytes(p as f64));
    match (predicted, measured) {
        (Some(p_), Some(m)) => format!(
            "memory: predicted peak {p}, measured {} ({what}; prediction {:+.1}%)",
            bytes(m as f64),
            (p_ as f64 / m as f64 - 1.0) * 100.0
        ),
        _ => format!("memory: predicted peak {p}, measured – ({what} unavailable)"),
    }
}

/// Take the baseline of [`measured_peak_bytes`] just before the weights are allocated.
pub fn mark_baseline(dev: &Device) {
    rss::mark_baseline();
    crate::device::gpu_peak_bytes(dev, true);
}

/// What the resident memory holds beyond the tensors on CPU, as a share of
/// the prediction and a fixed part: allocator pages (freed pages handed back
/// at once under `--memory-budget`), thread stacks and heaps. Measured
/// 2.6–16% and 20–40 MiB above the prediction (docs/memory.md, Accuracy).
const CPU_RSS_SHARE: f64 = 0.15;
const CPU_RSS_FIXED: f64 = 24.0 * 1048576.0;

/// The bytes a run of `cfg` must have: the predicted peak, plus on CPU the
/// resident memory beyond the tensors. Budgets and available memory are
/// held to this.
pub fn need_bytes(p: &Breakdown, cpu: bool) -> f64 {
    if cpu {
        p.peak() * (1.0 + CPU_RSS_SHARE) + CPU_RSS_FIXED
    } else {
        p.peak()
    }
}

/// `cfg` with `train.micro_batch = "auto"` resolved to the most rows per
/// rank whose step fits `dev` (or `budget`), checked with [`check`]: the
/// config the run trains with.
pub fn fit(cfg: &RunConfig, dev: &Device, budget: Option<u64>) -> Result<RunConfig> {
    use crate::config::MicroBatch;
    let mut c = cfg.clone();
    if matches!(c.train.micro_batch, Some(MicroBatch::Auto(_))) {
        let limit = budget
            .or_else(|| available_bytes(dev))
            .map_or(f64::INFINITY, |b| b as f64);
        let share = c.train.batch_size / c.train.ranks.max(1);
        // Divisors of the share, largest first; the smallest (1) when none fits, for check's message.
        let mut rows = (1..=share).rev().filter(|n| share.is_multiple_of(*n));
        let pick = rows
            .find(|&n| {
                c.train.micro_batch = Some(MicroBatch::Rows(n));
                need_bytes(&breakdown(&c, dev.is_cpu()), dev.is_cpu()) <= limit
            })
            .unwrap_or(1);
        c.train.micro_batch = Some(MicroBatch::Rows(pick));
    }
    check(&c, dev, budget)?;
    Ok(c)
}

/// Refuse, before anything is allocated, a run whose predicted peak exceeds
/// what `dev` has available or `budget` (bytes, from `--memory-budget`).
pub fn check(cfg: &RunConfig, dev: &Device, budget: Option<u64>) -> Result<()> {
    let p = breakdown(cfg, dev.is_cpu());
    let need = need_bytes(&p, dev.is_cpu());
    let (limit, what) = match (budget, available_bytes(dev)) {
        (Some(b), _) => (b, "--memory-budget allows {}"),
        (None, Some(a)) if dev.is_cpu() => (a, "this machine has {} available"),
        (None, Some(a)) => (a, "the GPU has {} free"),
        (None, None) => return Ok(()),
    };
    // Where memory is tight, freed pages go back to the OS at once, so the
    // resident memory stays near what the tensors hold (at a time cost:
    // docs/memory.md); elsewhere the binary keeps them, for speed.
    if budget.is_some() || need > 0.5 * limit as f64 {
        rss::set_purge_delay(0);
    }
    if need > limit as f64 {
        bail!(
            "this run needs about {} of memory (weights and AdamW {}, activations {}, backward {}{}) but {}; lower {}",
            bytes(need),
            bytes(p.states()),
            bytes(p.saved()),
            bytes(p.backward()),
            if dev.is_cpu() {
                format!(", allocator and threads {}", bytes(need - p.peak()))
            } else {
                String::new()
            },
            what.replace("{}", &bytes(limit as f64)),
            advice(cfg, &p, dev.is_cpu())
        );
    }
    Ok(())
}

/// The settings that lower the largest part of the peak, most effective first.
fn advice(cfg: &RunConfig, p: &Breakdown, cpu: bool) -> String {
    let per_step = p.saved() + p.backward() - p.gradients;
    let mut a = if p.states() + p.gradients > per_step {
        "model.d_model, model.n_layer or model.vocab_size".to_string()
    } else if p.attention >= p.activations.max(p.logits) {
        "model.seq_len, train.batch_size or model.n_head".to_string()
    } else if p.logits > p.activations {
        "train.batch_size, model.seq_len or model.vocab_size".to_string()
    } else {
        "train.batch_size, model.seq_len or model.d_model".to_string()
    };
    use crate::config::{Kernels, Recompute};
    if cfg.train.recompute == Recompute::None && p.activations + p.attention > p.states() {
        a.push_str(", or set train.recompute = \"blocks\"");
    }
    let master_f32 = cfg.train.dtype.master() == candle_core::DType::F32;
    if cpu
        && p.kernels == Kernels::Composed
        && master_f32
        && cfg.train.dtype.compute() == candle_core::DType::F32
    {
        a.push_str(", or set train.kernels = \"fused\"");
    } else if !cpu && cfg.train.dtype.compute() == candle_core::DType::F32 {
        a.push_str(", or set train.dtype = \"bf16\"");
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("f", "2GiB").unwrap(), 2 << 30);
        assert_eq!(parse_size("f", "500MB").unwrap(), 500_000_000);
        assert_eq!(parse_size("f", "1.5g").unwrap(), 3 << 29);
        assert_eq!(parse_size("f", "4096").unwrap(), 4096);
        for bad in ["", "GiB", "-1GiB", "2 parsecs", "0", "1e3MB", "nanGB"] {
            let e = parse_size("--memory-budget", bad).unwrap_err().to_string();
            assert!(e.starts_with("--memory-budget: `"), "{bad}: {e}");
        }
    }
}
