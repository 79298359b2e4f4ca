//! What is being trained: parameters (total for memory, active for FLOPs), the
//! shape used for the activation estimate, tokens, and training FLOPs.

use super::law::TokenRule;
use super::presets::Preset;
use anyhow::{bail, Result};
use serde::Serialize;

/// Transformer shape for the activation estimate (Korthikanti et al. 2022).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Shape {
    pub n_layer: u64,
    pub d_model: u64,
    pub n_head: u64,
    pub seq_len: u64,
}

impl Shape {
    /// Heads split d_model evenly, as in any transformer.
    pub fn validate(&self) -> Result<()> {
        if !self.d_model.is_multiple_of(self.n_head) {
            bail!(
                "--n-head ({}) must divide --d-model ({})",
                self.n_head,
                self.d_model
            );
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Workload {
    pub model: String,
    /// Total parameters: weights, gradients and optimizer states are held for all of them.
    pub params_total: f64,
    /// Parameters touched per token (MoE: shared + routed experts in use): the FLOPs count these.
    pub params_active: f64,
    pub shape: Option<Shape>,
    pub tokens: f64,
    /// Where the token count came from.
    pub tokens_source: String,
    /// Training FLOPs per token.
    pub flops_per_token: f64,
    pub flops_convention: String,
}

/// Kaplan et al. 2020 Sec. 2.1 / Hoffmann et al. 2022: training ≈ 6 FLOPs per parameter per token
/// (2 forward + 4 backward), attention-score FLOPs ignored.
pub const TRAIN_FLOPS_PER_PARAM_TOKEN: f64 = 6.0;

/// How many tokens: exactly one of these.
#[derive(Debug, Clone, PartialEq)]
pub enum Tokens {
    Count(f64),
    PerParam(f64),
    Rule(TokenRule),
    /// The preset's published count.
    Published,
}

impl Workload {
    /// A dense model of `n` parameters trained on `d` tokens with the 6·N·D convention.
    pub fn dense(model: &str, n: f64, d: f64) -> Result<Self> {
        Self::new(model, n, n, None, d, "given".into())
    }

    /// A workload with 6·N_active FLOPs per token.
    pub fn new(
        model: &str,
        total: f64,
        active: f64,
        shape: Option<Shape>,
        tokens: f64,
        tokens_source: String,
    ) -> Result<Self> {
        positive("params", total)?;
        positive("tokens", tokens)?;
        if !(active > 0.0 && active <= total) {
            bail!("active parameters ({active}) must be in (0, total = {total}]");
        }
        Ok(Workload {
            model: model.into(),
            params_total: total,
            params_active: active,
            shape,
            tokens,
            tokens_source,
            flops_per_token: TRAIN_FLOPS_PER_PARAM_TOKEN * active,
            flops_convention: "6·N_active per token (Kaplan 2020 / Hoffmann 2022)".into(),
        })
    }

    /// A preset with tokens chosen by `t`.
    pub fn from_preset(id: &str, p: &Preset, t: &Tokens) -> Result<Self> {
        let shape = match (p.n_layer, p.d_model, p.n_head, p.seq_len) {
            (Some(n_layer), Some(d_model), Some(n_head), Some(seq_len)) => Some(Shape {
                n_layer,
                d_model,
                n_head,
                seq_len,
            }),
            _ => None,
        };
        let (tokens, src) = match t {
            Tokens::Published => match p.tokens {
                Some(d) => (d as f64, "published (configs/models.toml)".to_string()),
                None => bail!("model `{id}` has no published token count: give --tokens, --tokens-per-param or --chinchilla"),
            },
            other => resolve_tokens(other, p.active_params as f64)?,
        };
        Self::new(
            id,
            p.params as f64,
            p.active_params as f64,
            shape,
            tokens,
            src,
        )
    }

    pub fn training_flops(&self) -> f64 {
        self.flops_per_token * self.tokens
    }
}

/// Tokens for a model of `n` (active) parameters; `Published` is an error here.
pub fn resolve_tokens(t: &Tokens, n: f64) -> Result<(f64, String)> {
    Ok(match t {
        Tokens::Count(d) => (positive("--tokens", *d)?, "--tokens".into()),
        Tokens::PerParam(r) => (
            positive("--tokens-per-param", *r)? * n,
            format!("--tokens-per-param {r}"),
        ),
        // Say which of Hoffmann et al.'s two answers the count comes from: they disagree.
        Tokens::Rule(rule) => (
            rule.tokens(n),
            match rule {
                TokenRule::Law(_) => format!("compute-optimal for N under the {} law; Hoffmann et al.'s Approaches 1-2 give ~20 tokens/param (rule20)", rule.id()),
                TokenRule::Ratio { .. } => format!("--chinchilla {}: Hoffmann et al.'s Approaches 1-2; their Approach 3 law (hoffmann2022) gives more", rule.id()),
            },
        ),
        Tokens::Published => {
            bail!("no published token count: give --tokens, --tokens-per-param or --chinchilla")
        }
    })
}

/// `v` if finite and > 0, else an error naming `what`.
pub fn positive(what: &str, v: f64) -> Result<f64> {
    if !(v.is_finite() && v > 0.0) {
        bail!("{what} must be a positive number (got {v})");
    }
    Ok(v)
}
