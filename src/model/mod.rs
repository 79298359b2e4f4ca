//! GPT-2-style decoder: tied token embedding / LM head, learned positions,
//! pre-LayerNorm blocks of causal self-attention and a 4× GELU MLP.
//! Read top to bottom: config → modules → forward → loss.

pub mod fused;
pub mod ops;
pub mod params;
mod recompute;

pub use recompute::Segmented;

pub use crate::config::ModelConfig as Config;
use candle_core::{Result, Tensor};
use candle_nn::VarBuilder;
pub use fused::Kernels;
use ops::matmul;

struct LayerNorm {
    w: Tensor,
    b: Option<Tensor>,
    eps: f64,
    k: Kernels,
}

impl LayerNorm {
    fn new(cfg: &Config, k: Kernels, vb: VarBuilder) -> Result<Self> {
        let b = if cfg.bias {
            Some(vb.get(cfg.d_model, "bias")?)
        } else {
            None
        };
        Ok(LayerNorm {
            w: vb.get(cfg.d_model, "weight")?,
            b,
            eps: cfg.ln_eps,
            k,
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.k.layer_norm(x, &self.w, self.b.as_ref(), self.eps)
    }
}

struct Linear {
    w: Tensor,
    b: Option<Tensor>,
    k: Kernels,
}

impl Linear {
    fn new(din: usize, dout: usize, bias: bool, k: Kernels, vb: VarBuilder) -> Result<Self> {
        let b = if bias {
            Some(vb.get(dout, "bias")?)
        } else {
            None
        };
        Ok(Linear {
            w: vb.get((din, dout), "weight")?,
            b,
            k,
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.k.linear(x, &self.w, self.b.as_ref())
    }
}

struct Attention {
    c_attn: Linear,
    c_proj: Linear,
    n_head: usize,
    scale: f64,
    k: Kernels,
}

impl Attention {
    fn new(cfg: &Config, k: Kernels, vb: VarBuilder) -> Result<Self> {
        let d = cfg.d_model;
        Ok(Attention {
            c_attn: Linear::new(d, 3 * d, cfg.bias, k, vb.pp("c_attn"))?,
            c_proj: Linear::new(d, d, cfg.bias, k, vb.pp("c_proj"))?,
            n_head: cfg.n_head,
            scale: cfg.attn_scale(),
            k,
        })
    }

    /// x: [b, t, d] → [b, t, d].
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let y = self
            .k
            .causal_attention(&self.c_attn.forward(x)?, self.n_head, self.scale)?;
        self.c_proj.forward(&y)
    }
}

struct Mlp {
    c_fc: Linear,
    c_proj: Linear,
    k: Kernels,
}

impl Mlp {
    fn new(cfg: &Config, k: Kernels, vb: VarBuilder) -> Result<Self> {
        let d = cfg.d_model;
        Ok(Mlp {
            c_fc: Linear::new(d, 4 * d, cfg.bias, k, vb.pp("c_fc"))?,
            c_proj: Linear::new(4 * d, d, cfg.bias, k, vb.pp("c_proj"))?,
            k,
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        // GELU, tanh approximation (GPT-2).
        self.c_proj.forward(&self.k.gelu(&self.c_fc.forward(x)?)?)
    }
}

struct Block {
    ln_1: LayerNorm,
    attn: Attention,
    ln_2: LayerNorm,
    mlp: Mlp,
}

impl Block {
    fn new(cfg: &Config, k: Kernels, vb: VarBuilder) -> Result<Self> {
        Ok(Block {
            ln_1: LayerNorm::new(cfg, k, vb.pp("ln_1"))?,
            attn: Attention::new(cfg, k, vb.pp("attn"))?,
            ln_2: LayerNorm::new(cfg, k, vb.pp("ln_2"))?,
            mlp: Mlp::new(cfg, k, vb.pp("mlp"))?,
        })
    }

    fn forward(&self, x: &Tensor, probe: &mut Probe) -> Result<Tensor> {
        let a = self.attn.forward(&self.ln_1.forward(x)?)?;
        probe("attn", &a)?;
        let x = (x + a)?;
        let m = self.mlp.forward(&self.ln_2.forward(&x)?)?;
        probe("mlp", &m)?;
        &x + m
    }
}

/// Called with each named activation of a forward pass (the coordinate check).
pub type Probe<'a> = dyn FnMut(&str, &Tensor) -> Result<()> + 'a;

pub struct Gpt {
    cfg: Config,
    wte: Tensor,
    wpe: Tensor,
    blocks: Vec<Block>,
    ln_f: LayerNorm,
    k: Kernels,
}

impl Gpt {
    /// Build from a VarBuilder holding the tensors named by [`params::param_specs`].
    pub fn new(cfg: &Config, vb: VarBuilder) -> Result<Self> {
        Self::with_kernels(cfg, vb, Kernels::default())
    }

    /// Build with a chosen implementation of the non-matmul ops (tests, benchmarks).
    pub fn with_kernels(cfg: &Config, vb: VarBuilder, k: Kernels) -> Result<Self> {
        let blocks = (0..cfg.n_layer)
            .map(|i| Block::new(cfg, k, vb.pp(format!("h.{i}"))))
            .collect::<Result<Vec<_>>>()?;
        Ok(Gpt {
            cfg: cfg.clone(),
            wte: vb.get((cfg.vocab_size, cfg.d_model), "wte.weight")?,
            wpe: vb.get((cfg.seq_len, cfg.d_model), "wpe.weight")?,
            blocks,
            ln_f: LayerNorm::new(cfg, k, vb.pp("ln_f"))?,
            k,
        })
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Final hidden states [b, t, d] for token ids `idx` [b, t] (u32), t ≤ seq_len.
    pub fn hidden(&self, idx: &Tensor) -> Result<Tensor> {
        self.hidden_probed(idx, &mut |_, _| Ok(()))
    }

    /// [`Gpt::hidden`], showing `probe` the embedding output (`embed`), each
    /// block's attention and MLP outputs (`h.{i}.attn`, `h.{i}.mlp`) and `ln_f`.
    fn hidden_probed(&self, idx: &Tensor, probe: &mut Probe) -> Result<Tensor> {
        let mut x = self.embed(idx)?;
        probe("embed", &x)?;
        for (i, block) in self.blocks.iter().enumerate() {
            x = block.forward(&x, &mut |name, a| probe(&format!("h.{i}.{name}"), a))?;
        }
        let h = self.ln_f.forward(&x)?;
        probe("ln_f", &h)?;
        Ok(h)
    }

    /// Token plus position embeddings [b, t, d] of token ids `idx` [b, t].
    fn embed(&self, idx: &Tensor) -> Result<Tensor> {
        self.add_positions(&self.token_rows(idx)?)
    }

    /// The token embedding rows [b, t, d] of `idx` [b, t].
    fn token_rows(&self, idx: &Tensor) -> Result<Tensor> {
        let (b, t) = idx.dims2()?;
        if t > self.cfg.seq_len {
            candle_core::bail!(
                "sequence of {t} tokens exceeds model.seq_len {}",
                self.cfg.seq_len
            );
        }
        self.wte
            .index_select(&idx.flatten_all()?, 0)?
            .reshape((b, t, self.cfg.d_model))
    }

    /// `tok` [b, t, d] plus the first t position embeddings.
    fn add_positions(&self, tok: &Tensor) -> Result<Tensor> {
        tok.broadcast_add(&self.wpe.narrow(0, 0, tok.dim(1)?)?)
    }

    /// Every probed activation of [`Gpt::hidden_probed`] and the logits (`logits`), in order.
    pub fn activations(&self, idx: &Tensor) -> Result<Vec<(String, Tensor)>> {
        let mut out = Vec::new();
        let h = self.hidden_probed(idx, &mut |name, a| {
            out.push((name.to_string(), a.clone()));
            Ok(())
        })?;
        let (b, t, d) = h.dims3()?;
        out.push(("logits".into(), self.head(&h.reshape((b * t, d))?)?));
        Ok(out)
    }

    /// Logits [b, t, vocab] (the LM head is the transposed token embedding).
    pub fn forward(&self, idx: &Tensor) -> Result<Tensor> {
        let (b, t) = idx.dims2()?;
        self.logits_rows(idx)?.reshape((b, t, self.cfg.vocab_size))
    }

    /// Logits [b·t, vocab], one row per position: the loss takes them as they
    /// are (each reshape would cost the backward a pass over the largest tensor).
    fn logits_rows(&self, idx: &Tensor) -> Result<Tensor> {
        self.head_rows(&self.hidden(idx)?)
    }

    /// The LM head on final hidden states [b, t, d], as logits [b·t, vocab].
    fn head_rows(&self, h: &Tensor) -> Result<Tensor> {
        let (b, t, d) = h.dims3()?;
        self.head(&h.reshape((b * t, d))?)
    }

    /// Logits [b, vocab] of the last position only (generation).
    pub fn last_logits(&self, idx: &Tensor) -> Result<Tensor> {
        let h = self.hidden(idx)?;
        let t = h.dim(1)?;
        self.head(&h.narrow(1, t - 1, 1)?.squeeze(1)?)
    }

    /// The tied LM head on final hidden rows [n, d]. μP's 1/m logit multiplier
    /// is applied to the hidden rows (same product, d instead of vocab columns).
    fn head(&self, h: &Tensor) -> Result<Tensor> {
        match self.cfg.logit_mult() {
            Some(c) => matmul(&(h * c)?, &self.wte.t()?),
            None => matmul(h, &self.wte.t()?),
        }
    }

    /// Mean next-token cross-entropy (nats) of `idx` against `targets`, both [b, t].
    pub fn loss(&self, idx: &Tensor, targets: &Tensor) -> Result<Tensor> {
        self.loss_from_hidden(&self.hidden(idx)?, targets)
    }

    /// The loss from the final hidden states `h` [b, t, d]: LM head, cross-entropy.
    fn loss_from_hidden(&self, h: &Tensor, targets: &Tensor) -> Result<Tensor> {
        let logits = self.head_rows(h)?;
        // Log-sum-exp statistics in f32 even when the matmuls ran in bf16/f16.
        let logits = if logits.dtype().size_in_bytes() < 4 {
            logits.to_dtype(candle_core::DType::F32)?
        } else {
            logits
        };
        self.k.cross_entropy(&logits, &targets.flatten_all()?)
    }
}
