//! `[model]`: the GPT's shape, from the size dial (`depth`) or explicit dials.

use anyhow::{anyhow, bail, Result};
use serde::{Deserialize, Serialize};

/// Model shape. Either give `depth` (the size dial) or the explicit dials.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    pub n_layer: usize,
    pub n_head: usize,
    pub d_model: usize,
    pub seq_len: usize,
    pub vocab_size: usize,
    /// Biases on linear layers and LayerNorms (GPT-2 has them).
    pub bias: bool,
    pub ln_eps: f64,
    /// Standard or maximal-update parametrization (absent in SP run folders,
    /// which keeps their config.toml as before).
    #[serde(default, skip_serializing_if = "Parametrization::is_sp")]
    pub parametrization: Parametrization,
    /// The width at which μP equals SP (default: d_model).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_width: Option<usize>,
}

/// How initialisation, learning rates and forward multipliers scale with width
/// (docs/fitting.md, "μP").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Parametrization {
    /// Standard: GPT-2's fixed init, one learning rate, attention scale 1/√d_head.
    #[default]
    Sp,
    /// Maximal update (Tensor Programs V, Adam): hidden init σ/√m, hidden lr/m,
    /// logits ×1/m, attention ×1/√m on top of 1/√d_head; m = d_model/base_width.
    Mup,
}

impl Parametrization {
    pub fn is_sp(&self) -> bool {
        *self == Parametrization::Sp
    }
}

/// Raw `[model]` table as written by the user: `depth` is the size dial
/// (n_layer = depth, d_model = aspect_ratio·depth, head_dim fixed).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawModel {
    depth: Option<usize>,
    aspect_ratio: Option<usize>,
    head_dim: Option<usize>,
    n_layer: Option<usize>,
    n_head: Option<usize>,
    d_model: Option<usize>,
    seq_len: Option<usize>,
    vocab_size: Option<usize>,
    bias: Option<bool>,
    ln_eps: Option<f64>,
    parametrization: Option<Parametrization>,
    base_width: Option<usize>,
}

impl ModelConfig {
    /// The size dial: depth L → n_layer = L, d_model = aspect·L, n_head = d_model / head_dim.
    pub fn from_depth(
        depth: usize,
        aspect: usize,
        head_dim: usize,
        seq_len: usize,
        vocab_size: usize,
    ) -> Self {
        let d_model = aspect * depth;
        let n_head = (d_model / head_dim).max(1);
        ModelConfig::from_shape(depth, n_head, d_model, seq_len, vocab_size)
    }

    /// A shape with the defaults of everything else (biases, ε 1e-5, SP).
    pub fn from_shape(
        n_layer: usize,
        n_head: usize,
        d_model: usize,
        seq_len: usize,
        vocab_size: usize,
    ) -> Self {
        ModelConfig {
            n_layer,
            n_head,
            d_model,
            seq_len,
            vocab_size,
            bias: true,
            ln_eps: 1e-5,
            parametrization: Parametrization::Sp,
            base_width: None,
        }
    }

    pub fn head_dim(&self) -> usize {
        self.d_model / self.n_head
    }

    /// The width at which μP equals SP.
    pub fn base_width(&self) -> usize {
        self.base_width.unwrap_or(self.d_model)
    }

    /// μP's width multiplier m = d_model / base_width; 1 under SP.
    pub fn width_mult(&self) -> f64 {
        match self.parametrization {
            Parametrization::Sp => 1.0,
            Parametrization::Mup => self.d_model as f64 / self.base_width() as f64,
        }
    }

    /// The attention-score scale: 1/√d_head, and under μP a further 1/√m, i.e.
    /// √(d_head at base width)/d_head when n_head is held fixed (μP's 1/d_head).
    pub fn attn_scale(&self) -> f64 {
        1.0 / (self.head_dim() as f64 * self.width_mult()).sqrt()
    }

    /// The multiplier on the logits (tied LM head): 1/m under μP, None under SP.
    pub fn logit_mult(&self) -> Option<f64> {
        match self.parametrization {
            Parametrization::Sp => None,
            Parametrization::Mup => Some(1.0 / self.width_mult()),
        }
    }

    pub fn validate(&self) -> Result<()> {
        let pos = |v: usize, f: &str| -> Result<()> {
            if v == 0 {
                bail!("model.{f} must be > 0");
            }
            Ok(())
        };
        pos(self.n_layer, "n_layer")?;
        pos(self.n_head, "n_head")?;
        pos(self.d_model, "d_model")?;
        pos(self.seq_len, "seq_len")?;
        pos(self.vocab_size, "vocab_size")?;
        if !self.d_model.is_multiple_of(self.n_head) {
            bail!(
                "model.n_head ({}) must divide model.d_model ({})",
                self.n_head,
                self.d_model
            );
        }
        // Bounds that keep a typo (an extra zero or two) from allocating terabytes.
        let limits = [
            ("n_layer", self.n_layer, 256),
            ("d_model", self.d_model, 32_768),
            ("seq_len", self.seq_len, 131_072),
            ("vocab_size", self.vocab_size, 1 << 22),
        ];
        for (f, v, max) in limits {
            if v > max {
                bail!("model.{f} = {v} is absurd (limit {max})");
            }
        }
        if self.base_width == Some(0) {
            bail!("model.base_width must be > 0");
        }
        if !(self.ln_eps > 0.0 && self.ln_eps < 1.0) {
            bail!("model.ln_eps must be in (0, 1), got {}", self.ln_eps);
        }
        Ok(())
    }
}

impl RawModel {
    pub(super) fn resolve(self) -> Result<ModelConfig> {
        let seq_len = self
            .seq_len
            .ok_or_else(|| anyhow!("model.seq_len is required"))?;
        let vocab_size = self
            .vocab_size
            .ok_or_else(|| anyhow!("model.vocab_size is required"))?;
        let mut m = match self.depth {
            Some(depth) => {
                for (f, v) in [
                    ("n_layer", self.n_layer),
                    ("n_head", self.n_head),
                    ("d_model", self.d_model),
                ] {
                    if v.is_some() {
                        bail!("model.{f} contradicts model.depth: give the size dial or explicit dials, not both");
                    }
                }
                let aspect = self.aspect_ratio.unwrap_or(64);
                let head_dim = self.head_dim.unwrap_or(64);
                if depth == 0 || aspect == 0 || head_dim == 0 {
                    bail!("model.depth, model.aspect_ratio and model.head_dim must be > 0");
                }
                // Checked: a huge depth must not wrap round to a small d_model.
                let d_model = aspect.checked_mul(depth).ok_or_else(|| {
                    anyhow!("model.depth ({depth}) × model.aspect_ratio ({aspect}) overflows: d_model would be absurd")
                })?;
                if !d_model.is_multiple_of(head_dim) {
                    bail!(
                        "model.head_dim ({head_dim}) must divide d_model = aspect_ratio·depth = {d_model}"
                    );
                }
                ModelConfig::from_depth(depth, aspect, head_dim, seq_len, vocab_size)
            }
            None => {
                if self.aspect_ratio.is_some() || self.head_dim.is_some() {
                    bail!("model.aspect_ratio/head_dim only apply with model.depth");
                }
                let need = |v: Option<usize>, f: &str| {
                    v.ok_or_else(|| anyhow!("model.{f} is required (or give model.depth)"))
                };
                ModelConfig::from_shape(
                    need(self.n_layer, "n_layer")?,
                    need(self.n_head, "n_head")?,
                    need(self.d_model, "d_model")?,
                    seq_len,
                    vocab_size,
                )
            }
        };
        if let Some(b) = self.bias {
            m.bias = b;
        }
        if let Some(e) = self.ln_eps {
            m.ln_eps = e;
        }
        m.parametrization = self.parametrization.unwrap_or_default();
        m.base_width = self.base_width;
        m.validate()?;
        Ok(m)
    }
}
