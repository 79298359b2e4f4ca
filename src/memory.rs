//! A conservative estimate of a training step's peak memory, checked against
//! what the machine has before the model is built, so a config that cannot fit
//! is refused with one line instead of aborting inside the allocator.
//!
//! Every term counts elements the way the kernels that run hold them (see
//! src/model/fused and src/model/ops.rs); the counts round up, never down.

use crate::config::{Kernels, RunConfig};
use crate::model::params::param_counts;
use anyhow::{bail, Result};
use candle_core::Device;

/// Activations kept for the backward per token per layer, in units of d_model:
/// fused kernels keep LN outputs, qkv (3d), attention out, projections, the MLP's
/// 4d hidden before and after GELU, residuals (~18d; 20 with slack); the
/// composed ops add LayerNorm and GELU intermediates and head copies (~55d).
const ACT_PER_TOKEN_LAYER: [f64; 2] = [20.0, 60.0];
/// T×T attention matrices per (sequence, head, layer): fused keeps P (its
/// backward scratch is counted per thread); composed keeps scores, scaled,
/// masked, shifted, exp and P, and builds their gradients two at a time.
const ATTN_MATRICES: [f64; 2] = [1.0, 8.0];
/// Copies of the B×T×V logits: fused cross-entropy keeps logits and their
/// gradient; composed keeps logits, shifted, exp and the gradients.
const LOGIT_COPIES: [f64; 2] = [2.0, 4.0];

/// Peak bytes of one training step, by term.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PeakMemory {
    /// Master weights, a compute-precision copy when it differs, gradients
    /// (twice with gradient accumulation), AdamW's two moments.
    pub states: f64,
    /// Activations saved for the backward (all layers of one micro-batch).
    pub activations: f64,
    /// T×T attention matrices (all layers), with the backward's scratch.
    pub attention: f64,
    /// Logits B×T×V and their copies in the loss.
    pub logits: f64,
}

impl PeakMemory {
    pub fn total(&self) -> f64 {
        self.states + self.activations + self.attention + self.logits
    }

    /// The config keys that lower the largest term.
    fn advice(&self) -> &'static str {
        let terms = [
            (
                self.states,
                "model.d_model, model.n_layer or model.vocab_size",
            ),
            (
                self.activations,
                "train.batch_size, model.seq_len or model.n_layer",
            ),
            (
                self.attention,
                "model.seq_len, train.batch_size or model.n_head",
            ),
            (
                self.logits,
                "train.batch_size, model.seq_len or model.vocab_size",
            ),
        ];
        terms
            .iter()
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map_or("", |t| t.1)
    }
}

/// Peak bytes of a training step of `cfg` in one process: on CPU every
/// (simulated) rank's weights and optimizer live in this process's memory; on
/// a GPU each device holds one rank's.
pub fn estimate(cfg: &RunConfig, cpu: bool) -> PeakMemory {
    let m = &cfg.model;
    let dtype = cfg.train.dtype;
    let (master, compute) = (
        dtype.master().size_in_bytes() as f64,
        dtype.compute().size_in_bytes() as f64,
    );
    let fused = cpu && cfg.train.kernels == Kernels::Fused && compute == master;
    let k = usize::from(!fused);
    let ranks = cfg.train.ranks.max(1) as f64;
    let n = param_counts(m).total as f64;
    let grads = if cfg.train.grad_accum > 1 { 2.0 } else { 1.0 };
    let copy = if compute == master { 0.0 } else { compute };
    let per_rank = n * (master * (1.0 + grads + 2.0) + copy);
    let states = per_rank * if cpu { ranks } else { 1.0 };
    // Rows of one micro-batch in flight at once: all ranks' on CPU, one rank's on a GPU.
    let rows = cfg.train.batch_size as f64 / if cpu { 1.0 } else { ranks };
    let (l, t, d, h, v) = (
        m.n_layer as f64,
        m.seq_len as f64,
        m.d_model as f64,
        m.n_head as f64,
        m.vocab_size as f64,
    );
    let activations = rows * t * (l * ACT_PER_TOKEN_LAYER[k] + 2.0) * d * compute;
    let scratch = if fused {
        (rayon::current_num_threads() as f64).min(rows * h)
    } else {
        0.0
    };
    let attention = (rows * h * l * ATTN_MATRICES[k] + scratch) * t * t * compute;
    let logits = rows * t * v * LOGIT_COPIES[k] * compute;
    PeakMemory {
        states,
        activations,
        attention,
        logits,
    }
}

/// [`estimate`]'s total in bytes (saturating).
pub fn estimate_peak_bytes(cfg: &RunConfig, cpu: bool) -> u64 {
    estimate(cfg, cpu).total() as u64
}

/// Memory the run may use on `dev`: MemAvailable on CPU, free memory on a GPU;
/// `None` where it cannot be read (then nothing is refused).
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
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kib = info
        .lines()
        .find_map(|l| l.strip_prefix("MemAvailable:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse::<u64>()
        .ok()?;
    Some(kib.saturating_mul(1024))
}

/// Refuse a run whose estimated peak does not fit in what `dev` has available.
pub fn check(cfg: &RunConfig, dev: &Device) -> Result<()> {
    let Some(avail) = available_bytes(dev) else {
        return Ok(());
    };
    let p = estimate(cfg, dev.is_cpu());
    if p.total() > avail as f64 {
        let gib = |b: f64| format!("{:.1} GiB", b / (1u64 << 30) as f64);
        bail!(
            "this run needs about {} of memory (weights, gradients and AdamW {}, activations {}, attention matrices {}, logits {}) but {} has {} available; lower {}",
            gib(p.total()),
            gib(p.states),
            gib(p.activations),
            gib(p.attention),
            gib(p.logits),
            if dev.is_cpu() { "this machine" } else { "the GPU" },
            gib(avail as f64),
            p.advice()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(sets: &[&str]) -> RunConfig {
        let text = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/quickstart.toml"),
        )
        .unwrap();
        let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        RunConfig::from_toml_str(&text, &sets).unwrap()
    }

    #[test]
    fn quickstart_is_small_and_the_attention_term_is_t_squared() {
        let q = estimate(&cfg(&[]), true);
        assert!(q.total() < 1e9, "{q:?}");
        // Fused on CPU: B·H·L·T² f32 probabilities plus one scratch matrix per thread.
        let long = estimate(
            &cfg(&[
                "model.seq_len=131072",
                "model.n_head=1",
                "model.d_model=8",
                "train.batch_size=1",
                "model.n_layer=2",
            ]),
            true,
        );
        let t2 = 131072f64 * 131072.0 * 4.0;
        assert!(long.attention >= 3.0 * t2 && long.attention <= 3.0 * t2 + 1.0);
        assert!(long.advice().starts_with("model.seq_len"));
    }

    #[test]
    fn huge_model_states_dominate() {
        let p = estimate(
            &cfg(&[
                "model.n_layer=256",
                "model.d_model=32768",
                "model.n_head=256",
            ]),
            true,
        );
        // ~3.3e12 parameters × 16 bytes (f32 weights, gradients, two moments).
        assert!(p.states > 5e13 && p.states < 6e13, "{p:?}");
        assert!(p.advice().starts_with("model.d_model"));
    }
}
