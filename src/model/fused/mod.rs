//! Fused CPU kernels that record their own backward: LayerNorm, linear layer
//! (matmul + bias), GELU, causal self-attention and softmax cross-entropy; plus
//! AdamW's update in place. Each file holds one op's forward and backward side
//! by side (llm.c style). They replace chains of candle primitives (each a full
//! pass over memory and a fresh allocation, and in the backward a zero-filled
//! gradient buffer and an add) by one graph node.
//!
//! They run on CPU in f32/f64; elsewhere (CUDA, half precision) the model uses
//! the composed ops of [`super::ops`], which are the reference the tests
//! compare against (`tests/fused.rs`).

pub mod adamw;
pub mod attention;
mod cpu;
pub mod cross_entropy;
pub mod gelu;
pub mod layer_norm;
pub mod linear;

pub use cpu::gemm_kernels;

use candle_core::{DType, Tensor};

pub use crate::config::Kernels;

impl Kernels {
    /// Whether the fused kernel applies to `t`.
    pub fn fused_for(self, t: &Tensor) -> bool {
        self.effective(t.device(), t.dtype()) == Kernels::Fused
    }

    /// The kernels that actually run on `dev` in `dtype`: the fused ones are CPU f32/f64 only.
    pub fn effective(self, dev: &candle_core::Device, dtype: DType) -> Kernels {
        self.effective_on(dev.is_cpu(), dtype)
    }

    /// [`Self::effective`] for a device known only by whether it is the CPU
    /// (a device profile, which names its device rather than opening it).
    pub fn effective_on(self, cpu: bool, dtype: DType) -> Kernels {
        if self == Kernels::Fused && cpu && matches!(dtype, DType::F32 | DType::F64) {
            Kernels::Fused
        } else {
            Kernels::Composed
        }
    }
}

impl Kernels {
    /// LayerNorm over the last dim.
    pub fn layer_norm(
        self,
        x: &Tensor,
        w: &Tensor,
        b: Option<&Tensor>,
        eps: f64,
    ) -> candle_core::Result<Tensor> {
        if self.fused_for(x) {
            layer_norm::layer_norm(x, w, b, eps)
        } else {
            super::ops::layer_norm(x, w, b, eps)
        }
    }

    /// `x [.., in] · w [in, out] (+ b [out])`.
    pub fn linear(self, x: &Tensor, w: &Tensor, b: Option<&Tensor>) -> candle_core::Result<Tensor> {
        if self.fused_for(x) {
            let (din, dout) = w.dims2()?;
            super::ops::log_matmul(super::ops::MatmulShape {
                batch: 1,
                m: x.elem_count() / din,
                k: din,
                n: dout,
            });
            linear::linear(x, w, b)
        } else {
            super::ops::linear(x, w, b)
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

    /// Causal multi-head self-attention of the packed projection `qkv [b, t, 3d]` → `[b, t, d]`.
    /// `scale` multiplies the scores (1/√head_dim in SP, see `ModelConfig::attn_scale`).
    pub fn causal_attention(
        self,
        qkv: &Tensor,
        n_head: usize,
        scale: f64,
    ) -> candle_core::Result<Tensor> {
        if self.fused_for(qkv) {
            let (b, t, d3) = qkv.dims3()?;
            let hd = d3 / 3 / n_head;
            // The fused op runs its GEMMs itself: count them like `ops::matmul` does.
            super::ops::log_matmul(super::ops::MatmulShape {
                batch: b * n_head,
                m: t,
                k: hd,
                n: t,
            });
            super::ops::log_matmul(super::ops::MatmulShape {
                batch: b * n_head,
                m: t,
                k: t,
                n: hd,
            });
            attention::causal_attention(qkv, n_head, scale)
        } else {
            super::ops::causal_attention(qkv, n_head, scale)
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
