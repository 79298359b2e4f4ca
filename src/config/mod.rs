//! Run configuration: TOML file + `--set key=value` overrides → a validated, fully
//! resolved [`RunConfig`]. Unknown keys and impossible shapes are one-line errors
//! that name the field.

pub mod args;
mod model;
mod overrides;

use model::RawModel;
pub use model::{ModelConfig, Parametrization};
use overrides::apply_override;

use crate::device::{DTypeSpec, DeviceSpec};
use anyhow::{anyhow, bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Where tokens come from. `tokenizer`: `bpe` (train byte-level BPE with
/// `vocab` entries, default model.vocab_size), a path to a tokenizer.json, or
/// `hf:OWNER/REPO` (resolved from the local Hugging Face cache).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    pub corpus: PathBuf,
    #[serde(default = "default_tokenizer")]
    pub tokenizer: String,
    /// BPE vocabulary to train; defaults to model.vocab_size.
    #[serde(default)]
    pub vocab: Option<usize>,
    /// Prepared dataset folder; default `data/prepared/<corpus>-<tokenizer>`.
    #[serde(default)]
    pub dir: Option<PathBuf>,
}

fn default_tokenizer() -> String {
    "bpe".into()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Schedule {
    /// Linear warmup, cosine decay to `min_lr` at the last step.
    Cosine,
    /// Linear warmup, then constant.
    Constant,
    /// Warmup-stable-decay: linear warmup, constant, linear decay to `min_lr`
    /// over the last `decay_frac` of the run.
    Wsd,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OptimConfig {
    pub lr: f64,
    pub min_lr: f64,
    pub warmup_steps: usize,
    pub schedule: Schedule,
    pub decay_frac: f64,
    pub weight_decay: f64,
    /// Also decay the token/position embeddings (off by default, as in nanoGPT).
    pub decay_embeddings: bool,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    /// Global grad-norm clip; 0 disables.
    pub grad_clip: f64,
}

impl Default for OptimConfig {
    fn default() -> Self {
        OptimConfig {
            lr: 6e-4,
            min_lr: 6e-5,
            warmup_steps: 100,
            schedule: Schedule::Cosine,
            decay_frac: 0.2,
            weight_decay: 0.1,
            decay_embeddings: false,
            beta1: 0.9,
            beta2: 0.95,
            eps: 1e-8,
            grad_clip: 1.0,
        }
    }
}

/// Which implementation of LayerNorm, the linear layers, GELU, causal
/// self-attention and cross-entropy the model uses; the math is the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kernels {
    /// Fused kernels with their own backward where available (CPU, f32/f64),
    /// composed ops elsewhere.
    #[default]
    Fused,
    /// Always the composed candle primitives (the reference).
    Composed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NonFinite {
    /// Drop the update, count it in metrics, go on.
    Skip,
    /// Stop the run with an error; the last good checkpoint stays.
    Stop,
}

/// `train.recompute`: what a training step keeps of the forward for backward.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Recompute {
    /// Every tensor the forward makes stays until backward (fastest).
    #[default]
    None,
    /// Only each block's input stays; backward runs each block's forward again
    /// (model/recompute.rs): activations of one block instead of all of them.
    Blocks,
}

impl Recompute {
    fn is_none(&self) -> bool {
        *self == Recompute::None
    }
}

/// `train.micro_batch`: the rows of a batch that go through forward and
/// backward at once (gradients accumulate over the rest), or "auto": the
/// most that fit the memory available or `--memory-budget`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum MicroBatch {
    Rows(usize),
    Auto(String),
}

/// A number of rows or a string (checked to be "auto" with the rest of the
/// config), with an error that says so rather than serde's untagged-enum one.
impl<'de> Deserialize<'de> for MicroBatch {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = MicroBatch;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("\"auto\" or a number of rows (a positive integer)")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> std::result::Result<MicroBatch, E> {
                Ok(MicroBatch::Rows(v as usize))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> std::result::Result<MicroBatch, E> {
                match u64::try_from(v) {
                    Ok(u) => self.visit_u64(u),
                    Err(_) => Err(E::invalid_value(serde::de::Unexpected::Signed(v), &self)),
                }
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> std::result::Result<MicroBatch, E> {
                Ok(MicroBatch::Auto(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    pub batch_size: usize,
    pub grad_accum: usize,
    /// Rows per forward/backward within each rank's share of a batch; none: all of it.
    /// Not written when none: a checkpoint's digest is over its re-serialized
    /// state, so a field added later must serialize to nothing at its default
    /// for checkpoints written before it to verify (tests/run_folder.rs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub micro_batch: Option<MicroBatch>,
    /// `none` (default) or `blocks`: activation recompute. Not written at its
    /// default, for the same reason as `micro_batch`.
    #[serde(default, skip_serializing_if = "Recompute::is_none")]
    pub recompute: Recompute,
    /// Stop conditions: the smallest of those given wins; at least one is required.
    pub max_steps: Option<usize>,
    pub max_tokens: Option<u64>,
    pub max_flops: Option<f64>,
    pub seed: u64,
    pub eval_every: usize,
    pub eval_batches: usize,
    pub log_every: usize,
    pub checkpoint_every: usize,
    pub keep_last: usize,
    /// `cpu`, `cuda`, `cuda:N`, `auto`.
    pub device: DeviceSpec,
    /// Data-parallel ranks (GPUs from `device` on; simulated on CPU). Each takes
    /// `batch_size / ranks` rows of every batch; the global batch is unchanged.
    pub ranks: usize,
    /// `f32` (default), `f64` (tests), `tf32`, `bf16`, `f16` (CUDA).
    pub dtype: DTypeSpec,
    /// Hardware catalog id for MFU (e.g. `h100-sxm`); default: detected.
    pub hardware: Option<String>,
    pub on_nonfinite: NonFinite,
    /// `fused` (default) or `composed`.
    pub kernels: Kernels,
    /// Samples printed at the end of a run (0 disables).
    pub sample_tokens: usize,
    pub sample_prompt: String,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            batch_size: 16,
            grad_accum: 1,
            micro_batch: None,
            recompute: Recompute::None,
            max_steps: None,
            max_tokens: None,
            max_flops: None,
            seed: 1337,
            eval_every: 100,
            eval_batches: 20,
            log_every: 10,
            checkpoint_every: 250,
            keep_last: 2,
            device: DeviceSpec::Cpu,
            ranks: 1,
            dtype: DTypeSpec::F32,
            hardware: None,
            on_nonfinite: NonFinite::Skip,
            kernels: Kernels::Fused,
            sample_tokens: 0,
            sample_prompt: "\n".into(),
        }
    }
}

/// The whole resolved run configuration, as saved in the run folder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    pub model: ModelConfig,
    pub data: DataConfig,
    #[serde(default)]
    pub train: TrainConfig,
    #[serde(default)]
    pub optim: OptimConfig,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRun {
    model: RawModel,
    data: DataConfig,
    #[serde(default)]
    train: TrainConfig,
    #[serde(default)]
    optim: OptimConfig,
}

impl RunConfig {
    /// Load a TOML file and apply `key=value` overrides (`train.max_steps=100`,
    /// or a bare key when it names exactly one field).
    pub fn load(path: &Path, overrides: &[String]) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("config {}: cannot read", path.display()))?;
        Self::from_toml_str(&text, overrides)
            .map_err(|e| anyhow!("config {}: {e:#}", path.display()))
    }

    pub fn from_toml_str(text: &str, overrides: &[String]) -> Result<Self> {
        let mut value: toml::Table =
            toml::from_str(text).map_err(|e| anyhow!("{}", one_line(&e.to_string())))?;
        for ov in overrides {
            apply_override(&mut value, ov)?;
        }
        let raw: RawRun = toml::Value::Table(value)
            .try_into()
            .map_err(|e: toml::de::Error| anyhow!("{}", one_line(&e.to_string())))?;
        let cfg = RunConfig {
            model: raw.model.resolve()?,
            data: raw.data,
            train: raw.train,
            optim: raw.optim,
        };
        cfg.validate()?;
        Ok(cfg)
    }

    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("config serialises")
    }

    pub fn validate(&self) -> Result<()> {
        self.model.validate()?;
        let t = &self.train;
        for (f, v) in [
            ("batch_size", t.batch_size),
            ("grad_accum", t.grad_accum),
            ("eval_batches", t.eval_batches),
            ("eval_every", t.eval_every),
            ("log_every", t.log_every),
            ("checkpoint_every", t.checkpoint_every),
            ("keep_last", t.keep_last),
        ] {
            if v == 0 {
                bail!("train.{f} must be > 0");
            }
        }
        if t.batch_size > 1 << 16 {
            bail!("train.batch_size = {} is absurd", t.batch_size);
        }
        if t.max_steps.is_none() && t.max_tokens.is_none() && t.max_flops.is_none() {
            bail!("train: give at least one of max_steps, max_tokens, max_flops");
        }
        if t.max_steps == Some(0) || t.max_tokens == Some(0) {
            bail!("train.max_steps/max_tokens must be > 0");
        }
        if let Some(f) = t.max_flops {
            if !(f.is_finite() && f > 0.0) {
                bail!("train.max_flops must be a positive number, got {f}");
            }
        }
        // Whether this build can run the ranks on the device is train's question:
        // a config naming 8 GPUs must still load for `sample` or `estimate`.
        check_ranks(t.ranks, t.batch_size)?;
        let rows = t.batch_size / t.ranks.max(1);
        match &t.micro_batch {
            Some(MicroBatch::Rows(n)) if *n == 0 || !rows.is_multiple_of(*n) => bail!(
                "train.micro_batch = {n} must divide the {rows} rows each rank takes of a batch (train.batch_size / train.ranks)"
            ),
            Some(MicroBatch::Auto(s)) if s != "auto" => {
                bail!("train.micro_batch must be \"auto\" or a number of rows, got \"{s}\"")
            }
            _ => {}
        }
        let o = &self.optim;
        let finite_pos = |v: f64, f: &str, allow_zero: bool| -> Result<()> {
            if !v.is_finite() || v < 0.0 || (!allow_zero && v == 0.0) {
                bail!(
                    "optim.{f} must be a {} number, got {v}",
                    if allow_zero {
                        "non-negative"
                    } else {
                        "positive"
                    }
                );
            }
            Ok(())
        };
        finite_pos(o.lr, "lr", false)?;
        finite_pos(o.min_lr, "min_lr", true)?;
        finite_pos(o.weight_decay, "weight_decay", true)?;
        finite_pos(o.eps, "eps", false)?;
        finite_pos(o.grad_clip, "grad_clip", true)?;
        if o.min_lr > o.lr {
            bail!(
                "optim.min_lr ({}) must not exceed optim.lr ({})",
                o.min_lr,
                o.lr
            );
        }
        if o.lr > 10.0 {
            bail!("optim.lr = {} is absurd", o.lr);
        }
        for (f, b) in [("beta1", o.beta1), ("beta2", o.beta2)] {
            if !(0.0..1.0).contains(&b) {
                bail!("optim.{f} must be in [0, 1), got {b}");
            }
        }
        if !(o.decay_frac > 0.0 && o.decay_frac <= 1.0) {
            bail!("optim.decay_frac must be in (0, 1], got {}", o.decay_frac);
        }
        if let Some(v) = self.data.vocab {
            if v < 257 || v > self.model.vocab_size {
                bail!(
                    "data.vocab ({v}) must be in [257, model.vocab_size = {}] (byte-level BPE needs the 256 bytes + 1 special)",
                    self.model.vocab_size
                );
            }
        }
        Ok(())
    }

    /// Tokens consumed by one optimizer step.
    /// Rows of one forward/backward on one rank; "auto" counts as the whole
    /// share until `train` resolves it.
    pub fn micro_rows(&self) -> usize {
        match &self.train.micro_batch {
            Some(MicroBatch::Rows(n)) => *n,
            _ => self.train.batch_size / self.train.ranks.max(1),
        }
    }

    pub fn tokens_per_step(&self) -> u64 {
        (self.train.batch_size * self.train.grad_accum * self.model.seq_len) as u64
    }
}

/// Data-parallel ranks must split every batch evenly.
pub fn check_ranks(ranks: usize, batch_size: usize) -> Result<()> {
    if ranks == 0 {
        bail!("train.ranks must be >= 1");
    }
    if !batch_size.is_multiple_of(ranks) {
        bail!("train.batch_size ({batch_size}) must be divisible by train.ranks ({ranks}): each rank takes an equal share of every batch");
    }
    Ok(())
}

/// Collapse a multi-line parser message into one line.
pub fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
[model]
n_layer = 2
n_head = 2
d_model = 32
seq_len = 16
vocab_size = 300
[data]
corpus = "c.txt"
[train]
max_steps = 10
"#;

    #[test]
    fn overrides_and_depth_dial() {
        let c = RunConfig::from_toml_str(BASE, &["train.batch_size=4".into(), "lr=0.01".into()])
            .unwrap();
        assert_eq!(c.train.batch_size, 4);
        assert_eq!(c.optim.lr, 0.01);
        let c = RunConfig::from_toml_str(
            BASE,
            &[
                "model.depth=3".into(),
                "model.aspect_ratio=32".into(),
                "head_dim=32".into(),
            ],
        )
        .unwrap();
        assert_eq!(
            (c.model.n_layer, c.model.d_model, c.model.n_head),
            (3, 96, 3)
        );
    }

    #[test]
    fn errors_name_the_field() {
        let e = RunConfig::from_toml_str(BASE, &["model.n_head=3".into()])
            .unwrap_err()
            .to_string();
        assert!(e.contains("n_head") && e.contains("d_model"), "{e}");
        let e = RunConfig::from_toml_str(&BASE.replace("max_steps", "max_stepz"), &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("max_stepz"), "{e}");
        let e = RunConfig::from_toml_str(BASE, &["bogus=1".into()])
            .unwrap_err()
            .to_string();
        assert!(e.contains("bogus"), "{e}");
    }
}
