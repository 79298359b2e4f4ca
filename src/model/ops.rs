//! Differentiable building blocks, composed from candle primitives that all
//! record a backward pass. candle-nn's fused `softmax_last_dim`, `layer_norm`,
//! `rms_norm`, `rope*` and `sdpa` record none, so they never appear here.
//!
//! Every matmul of the model goes through [`matmul`], which can count the
//! shapes it executes: the independent check of the analytic FLOP count.

use candle_core::{DType, Device, Result, Tensor, D};
use std::cell::RefCell;

thread_local! {
    static MATMUL_LOG: RefCell<Option<Vec<MatmulShape>>> = const { RefCell::new(None) };
}

/// One executed matmul: `batch` independent (m×k)·(k×n) products.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MatmulShape {
    pub batch: usize,
    pub m: usize,
    pub k: usize,
    pub n: usize,
}

impl MatmulShape {
    /// 2·m·k·n multiply-adds per product.
    pub fn flops(&self) -> u64 {
        2 * (self.batch * self.m * self.k * self.n) as u64
    }
}

/// Run `f` while recording every matmul issued on this thread.
pub fn record_matmuls<T>(f: impl FnOnce() -> T) -> (T, Vec<MatmulShape>) {
    MATMUL_LOG.with(|l| *l.borrow_mut() = Some(Vec::new()));
    let out = f();
    let log = MATMUL_LOG
        .with(|l| l.borrow_mut().take())
        .unwrap_or_default();
    (out, log)
}

/// `a·b` over the last two dims (leading dims are batch dims).
pub fn matmul(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let (ad, bd) = (a.dims(), b.dims());
    let r = ad.len();
    log_matmul(MatmulShape {
        batch: ad[..r - 2].iter().product(),
        m: ad[r - 2],
        k: ad[r - 1],
        n: bd[bd.len() - 1],
    });
    a.matmul(b)
}

/// Record a matmul executed elsewhere (inside a fused kernel) when recording.
pub fn log_matmul(shape: MatmulShape) {
    MATMUL_LOG.with(|l| {
        if let Some(log) = l.borrow_mut().as_mut() {
            log.push(shape);
        }
    });
}

/// `x·w + b` with `w` stored `[in, out]` (GPT-2's Conv1D layout); `x` is `[..., in]`.
pub fn linear(x: &Tensor, w: &Tensor, b: Option<&Tensor>) -> Result<Tensor> {
    let dims = x.dims().to_vec();
    let (din, dout) = w.dims2()?;
    let rows = x.elem_count() / din;
    let y = matmul(&x.reshape((rows, din))?, w)?;
    let y = match b {
        Some(b) => y.broadcast_add(b)?,
        None => y,
    };
    let mut out = dims;
    *out.last_mut().expect("rank >= 1") = dout;
    y.reshape(out)
}

/// GELU, tanh approximation, from primitives so that autograd is exact:
/// candle's own `gelu` backward uses constants rounded to 6 digits, which puts
/// ~6e-5 relative error into the gradients upstream of it (`scalelab check`).
pub fn gelu(x: &Tensor) -> Result<Tensor> {
    let inner = ((x + (x.powf(3.0)? * 0.044715)?)? * (2.0 / std::f64::consts::PI).sqrt())?;
    (x * 0.5)? * (inner.tanh()? + 1.0)?
}

/// Causal multi-head self-attention of `qkv [b, t, 3d]` (q | k | v) → `[b, t, d]`:
/// split heads, softmax(scale·QKᵀ + mask)·V, merge heads (scale 1/√hd in SP).
pub fn causal_attention(qkv: &Tensor, n_head: usize, scale: f64) -> Result<Tensor> {
    let (b, t, d3) = qkv.dims3()?;
    let (d, h) = (d3 / 3, n_head);
    let hd = d / h;
    let heads = |i: usize| {
        qkv.narrow(2, i * d, d)?
            .reshape((b, t, h, hd))?
            .transpose(1, 2)?
            .contiguous()
    };
    let (q, k, v) = (heads(0)?, heads(1)?, heads(2)?);
    let scores = (matmul(&q, &k.t()?)? * scale)?;
    let att = softmax_last(&scores.broadcast_add(&causal_mask(t, qkv.dtype(), qkv.device())?)?)?;
    matmul(&att, &v)?.transpose(1, 2)?.reshape((b, t, d))
}

/// LayerNorm over the last dim: (x − mean)/sqrt(var + eps)·w + b.
pub fn layer_norm(x: &Tensor, w: &Tensor, b: Option<&Tensor>, eps: f64) -> Result<Tensor> {
    let mean = x.mean_keepdim(D::Minus1)?;
    let xc = x.broadcast_sub(&mean)?;
    let var = xc.sqr()?.mean_keepdim(D::Minus1)?;
    let y = xc.broadcast_div(&(var + eps)?.sqrt()?)?.broadcast_mul(w)?;
    match b {
        Some(b) => y.broadcast_add(b),
        None => Ok(y),
    }
}

/// Softmax over the last dim; the max shift is a constant for the gradient.
pub fn softmax_last(x: &Tensor) -> Result<Tensor> {
    let max = x.max_keepdim(D::Minus1)?.detach();
    let e = x.broadcast_sub(&max)?.exp()?;
    e.broadcast_div(&e.sum_keepdim(D::Minus1)?)
}

/// Additive causal mask `[t, t]`: 0 on and below the diagonal, −inf above.
pub fn causal_mask(t: usize, dtype: DType, dev: &Device) -> Result<Tensor> {
    let m: Vec<f32> = (0..t * t)
        .map(|i| {
            if i % t > i / t {
                f32::NEG_INFINITY
            } else {
                0.0
            }
        })
        .collect();
    Tensor::from_vec(m, (t, t), dev)?.to_dtype(dtype)
}

/// Mean cross-entropy of `logits [n, v]` against `targets [n]` (u32), computed
/// in the logits' dtype via a shifted log-sum-exp.
pub fn cross_entropy(logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
    let max = logits.max_keepdim(D::Minus1)?.detach();
    let z = logits.broadcast_sub(&max)?;
    let lse = z.exp()?.sum_keepdim(D::Minus1)?.log()?;
    let picked = z.gather(&targets.unsqueeze(1)?, 1)?;
    (lse - picked)?.mean_all()
}
