//! Fused CPU kernels that record their own backward: LayerNorm, GELU, causal
//! softmax and softmax cross-entropy. Each file holds one op's forward and
//! backward side by side (llm.c style). They replace chains of 4–8 candle
//! primitives (each a full pass over memory and a fresh allocation) by one pass.
//!
//! They run on CPU in f32/f64; elsewhere (CUDA, half precision) the model uses
//! the composed ops of [`super::ops`], which are the reference the tests
//! compare against (`tests/fused.rs`).

pub mod bias;
mod cpu;
pub mod cross_entropy;
pub mod gelu;
pub mod layer_norm;
pub mod softmax;

use candle_core::{DType, Tensor};

pub use crate::config::Kernels;

impl Kernels {
    /// Whether the fused kernel applies to `t`.
    pub fn fused_for(self, t: &Tensor) -> bool {
        self == Kernels::Fused && t.device().is_cpu() && matches!(t.dtype(), DType::F32 | DType::F64)
    }
}

impl Kernels {
    /// LayerNorm over the last dim.
    pub fn layer_norm(self, x: &Tensor, w: &Tensor, b: Option<&Tensor>, eps: f64) -> candle_core::Result<Tensor> {
        if self.fused_for(x) {
            layer_norm::layer_norm(x, w, b, eps)
        } else {
            super::ops::layer_norm(x, w, b, eps)
        }
    }

    /// `x [.., d] + b [d]`.
    pub fn bias_add(self, x: &Tensor, b: &Tensor) -> candle_core::Result<Tensor> {
        if self.fused_for(x) {
            bias::bias_add(x, b)
        } else {
            x.broadcast_add(b)
        }
    }

    /// GELU (tanh approximation).
    pub fn gelu(self, x: &Tensor) -> candle_core::Result<Tensor> {
        if self.fused_for(x) {
            gelu::gelu(x)
        } else {
            super::ops::gelu(x)
        }
    }

    /// Causal softmax of `scale · scores [b, h, t, t]`.
    pub fn causal_softmax(self, scores: &Tensor, scale: f64) -> candle_core::Result<Tensor> {
        if self.fused_for(scores) {
            softmax::causal_softmax(scores, scale)
        } else {
            let t = scores.dim(candle_core::D::Minus1)?;
            let mask = super::ops::causal_mask(t, scores.dtype(), scores.device())?;
            super::ops::softmax_last(&(scores * scale)?.broadcast_add(&mask)?)
        }
    }

    /// Mean cross-entropy of `logits [n, v]` against `targets [n]`.
    pub fn cross_entropy(self, logits: &Tensor, targets: &Tensor) -> candle_core::Result<Tensor> {
        if self.fused_for(logits) {
            cross_entropy::cross_entropy(logits, targets)
        } else {
            super::ops::cross_entropy(logits, targets)
        }
    }
}
