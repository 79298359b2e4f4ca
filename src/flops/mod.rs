//! Exact FLOP accounting for the GPT as executed, and the published
//! conventions beside it. A matmul (m×k)·(k×n) is 2·m·k·n FLOPs; its backward
//! (input and weight gradients) is twice that. Non-matmul work is estimated
//! per element and always reported separately: MFU uses matmul FLOPs only.

pub mod cli;
pub mod step_time;

use crate::config::{ModelConfig, RunConfig};
use crate::model::params::param_counts;
use serde::Serialize;

/// Forward matmul FLOPs per sequence of `t` tokens, by component.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MatmulFlops {
    pub qkv: u64,
    /// Q·Kᵀ: the full t×t score matrix is computed (the mask is applied after).
    pub attn_scores: u64,
    pub attn_values: u64,
    pub attn_proj: u64,
    pub mlp_up: u64,
    pub mlp_down: u64,
    /// Tied embedding as the output projection; the input lookup is not a matmul.
    pub lm_head: u64,
}

impl MatmulFlops {
    pub fn new(cfg: &ModelConfig, t: usize) -> Self {
        let (l, d, v, t) = (
            cfg.n_layer as u64,
            cfg.d_model as u64,
            cfg.vocab_size as u64,
            t as u64,
        );
        MatmulFlops {
            qkv: l * 2 * t * d * 3 * d,
            attn_scores: l * 2 * t * t * d,
            attn_values: l * 2 * t * t * d,
            attn_proj: l * 2 * t * d * d,
            mlp_up: l * 2 * t * d * 4 * d,
            mlp_down: l * 2 * t * 4 * d * d,
            lm_head: 2 * t * d * v,
        }
    }

    pub fn components(&self) -> [(&'static str, u64); 7] {
        [
            ("qkv", self.qkv),
            ("attn_scores (QK^T)", self.attn_scores),
            ("attn_values (A.V)", self.attn_values),
            ("attn_proj", self.attn_proj),
            ("mlp_up", self.mlp_up),
            ("mlp_down", self.mlp_down),
            ("lm_head", self.lm_head),
        ]
    }

    pub fn total(&self) -> u64 {
        self.components().iter().map(|c| c.1).sum()
    }
}

/// Forward non-matmul FLOPs per sequence (estimates: ~operations per element).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct OtherFlops {
    /// Scale, mask, max, subtract, exp, sum, divide: 7 per score.
    pub softmax: u64,
    /// Mean, centre, square, mean, rsqrt, scale, shift: 8 per element, 2L+1 norms.
    pub layernorm: u64,
    /// tanh-approximate GELU, ~8 per element.
    pub gelu: u64,
    /// Residual adds, bias adds, position-embedding add.
    pub elementwise: u64,
    /// Max, subtract, exp, sum per logit; log and pick per token.
    pub cross_entropy: u64,
}

impl OtherFlops {
    pub fn new(cfg: &ModelConfig, t: usize) -> Self {
        let (l, d, h, v, t) = (
            cfg.n_layer as u64,
            cfg.d_model as u64,
            cfg.n_head as u64,
            cfg.vocab_size as u64,
            t as u64,
        );
        let bias = if cfg.bias { 9 * d } else { 0 };
        OtherFlops {
            softmax: l * 7 * h * t * t,
            layernorm: (2 * l + 1) * 8 * t * d,
            gelu: l * 8 * t * 4 * d,
            elementwise: t * d + l * t * (2 * d + bias),
            cross_entropy: t * (4 * v + 2),
        }
    }

    pub fn total(&self) -> u64 {
        self.softmax + self.layernorm + self.gelu + self.elementwise + self.cross_entropy
    }
}

/// AdamW: ~12 FLOPs per parameter per optimizer step (moments, bias correction, decay, update).
pub const ADAMW_FLOPS_PER_PARAM: u64 = 12;

/// Everything one optimizer step costs.
#[derive(Debug, Clone, Serialize)]
pub struct StepFlops {
    pub seq_len: usize,
    pub sequences: u64,
    pub forward_matmul: MatmulFlops,
    pub forward_other: OtherFlops,
    /// Matmul FLOPs of forward + backward for the whole step (the MFU numerator).
    pub matmul_step: u64,
    /// Non-matmul forward + backward (backward counted as 2× forward) for the step.
    pub other_step: u64,
    pub adamw_step: u64,
}

impl StepFlops {
    /// One optimizer step of a run: `batch_size × grad_accum` sequences of `seq_len`.
    pub fn for_run(cfg: &RunConfig) -> Self {
        let seqs = (cfg.train.batch_size * cfg.train.grad_accum) as u64;
        Self::new(&cfg.model, cfg.model.seq_len, seqs)
    }

    /// A step of `sequences` sequences of `t` tokens.
    pub fn new(cfg: &ModelConfig, t: usize, sequences: u64) -> Self {
        let fm = MatmulFlops::new(cfg, t);
        let fo = OtherFlops::new(cfg, t);
        StepFlops {
            seq_len: t,
            sequences,
            forward_matmul: fm,
            forward_other: fo,
            matmul_step: 3 * fm.total() * sequences,
            other_step: 3 * fo.total() * sequences,
            adamw_step: ADAMW_FLOPS_PER_PARAM * param_counts(cfg).total,
        }
    }

    pub fn tokens(&self) -> u64 {
        self.sequences * self.seq_len as u64
    }

    /// Exact training matmul FLOPs per token (forward + backward).
    pub fn matmul_per_token(&self) -> f64 {
        3.0 * self.forward_matmul.total() as f64 / self.seq_len as f64
    }

    pub fn all_step(&self) -> u64 {
        self.matmul_step + self.other_step + self.adamw_step
    }
}

/// A published FLOPs-per-token convention, evaluated for a config.
#[derive(Debug, Clone, Serialize)]
pub struct Convention {
    pub name: &'static str,
    pub formula: &'static str,
    pub per_token: f64,
    /// Convention ÷ exact matmul FLOPs per token.
    pub ratio: f64,
}

/// Training FLOPs per token under each convention (context length `t`).
pub fn conventions(cfg: &ModelConfig, t: usize) -> Vec<Convention> {
    let pc = param_counts(cfg);
    let (l, d, h, v, t) = (
        cfg.n_layer as f64,
        cfg.d_model as f64,
        cfg.n_head as f64,
        cfg.vocab_size as f64,
        t as f64,
    );
    let q = d / h;
    let n_nonemb = pc.non_embedding as f64;
    let n_total = pc.total as f64;
    let wpe = (cfg.seq_len * cfg.d_model) as f64;
    let linear_weights = 12.0 * l * d * d + v * d;
    let exact = StepFlops::new(cfg, t as usize, 1).matmul_per_token();
    let rows: Vec<(&'static str, &'static str, f64)> = vec![
        (
            "Kaplan 6N",
            "6·N (N = non-embedding parameters)",
            6.0 * n_nonemb,
        ),
        (
            "llm.c",
            "6·N + 6·L·T·d (N = all parameters; causal-halved attention)",
            6.0 * n_total + 6.0 * l * t * d,
        ),
        (
            "PaLM / nanoGPT",
            "6·N + 12·L·H·Q·T (N = all but position embeddings)",
            6.0 * (n_total - wpe) + 12.0 * l * h * q * t,
        ),
        (
            "nanochat",
            "6·(Linear weights incl. LM head) + 12·L·H·Q·T",
            6.0 * linear_weights + 12.0 * l * h * q * t,
        ),
        (
            "Megatron (no recompute)",
            "72·B·s·L·h²·(1 + s/6h + V/12hL) per step",
            72.0 * l * d * d * (1.0 + t / (6.0 * d) + v / (12.0 * d * l)),
        ),
        (
            "Megatron (full recompute)",
            "96·B·s·L·h²·(1 + s/6h + V/16hL) per step",
            96.0 * l * d * d * (1.0 + t / (6.0 * d) + v / (16.0 * d * l)),
        ),
        (
            "DeepSeek M",
            "72·L·d² + 12·L·d·T (no vocabulary term)",
            72.0 * l * d * d + 12.0 * l * d * t,
        ),
    ];
    rows.into_iter()
        .map(|(name, formula, per_token)| Convention {
            name,
            formula,
            per_token,
            ratio: per_token / exact,
        })
        .collect()
}

/// Total optimizer steps: the tightest of max_steps / max_tokens / max_flops.
pub fn total_steps(cfg: &RunConfig) -> usize {
    let per_step = StepFlops::for_run(cfg);
    let mut n = usize::MAX;
    if let Some(s) = cfg.train.max_steps {
        n = n.min(s);
    }
    if let Some(t) = cfg.train.max_tokens {
        n = n.min(t.div_ceil(cfg.tokens_per_step()) as usize);
    }
    if let Some(f) = cfg.train.max_flops {
        n = n.min((f / per_step.matmul_step as f64).floor() as usize);
    }
    n.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn megatron_without_recompute_equals_exact_count() {
        let cfg = ModelConfig::from_depth(4, 64, 64, 128, 1000);
        let exact = StepFlops::new(&cfg, 128, 1).matmul_per_token();
        let meg = conventions(&cfg, 128)
            .into_iter()
            .find(|c| c.name == "Megatron (no recompute)")
            .unwrap();
        assert!(
            (meg.per_token / exact - 1.0).abs() < 1e-12,
            "{} vs {exact}",
            meg.per_token
        );
    }
}

/// Matmul FLOPs counted from the shapes a real forward pass executes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Instrumented {
    pub matmuls: usize,
    pub flops: u64,
    pub analytic: u64,
}

/// Run one forward pass of a randomly initialised model (CPU, f32) on
/// `batch` × seq_len tokens, recording every matmul it issues.
pub fn instrumented_forward(cfg: &ModelConfig, batch: usize) -> anyhow::Result<Instrumented> {
    use crate::model::{ops::record_matmuls, params::Params, Gpt};
    use candle_core::{DType, Device, Tensor};
    let dev = Device::Cpu;
    let params = Params::init(cfg, 0, DType::F32, &dev)?;
    let model = Gpt::new(cfg, params.var_builder(DType::F32, false)?)?;
    let ids: Vec<u32> = (0..batch * cfg.seq_len)
        .map(|i| (i * 7919 % cfg.vocab_size) as u32)
        .collect();
    let x = Tensor::from_vec(ids, (batch, cfg.seq_len), &dev)?;
    let (out, log) = record_matmuls(|| model.forward(&x));
    out?;
    Ok(Instrumented {
        matmuls: log.len(),
        flops: log.iter().map(|s| s.flops()).sum(),
        analytic: MatmulFlops::new(cfg, cfg.seq_len).total() * batch as u64,
    })
}
