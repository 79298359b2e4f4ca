//! Every parameter gets a gradient, and it matches central finite differences.
//! A tiny GPT in f64: if an op without backward (candle-nn's fused LayerNorm,
//! softmax_last_dim, …) slips onto the training path, some parameter stops
//! receiving a gradient and the check fails naming it.

use crate::config::ModelConfig;
use crate::model::params::Params;
use crate::model::{Gpt, Kernels};
use anyhow::{bail, Result};
use candle_core::{DType, Device, Tensor};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use std::collections::HashMap;

/// Entries checked per parameter tensor.
const SAMPLES: usize = 6;

/// The tiny shape the checks run on (every code path, small enough for finite differences).
pub fn tiny(bias: bool) -> ModelConfig {
    ModelConfig {
        n_layer: 2,
        n_head: 2,
        d_model: 8,
        seq_len: 6,
        vocab_size: 13,
        bias,
        ln_eps: 1e-5,
        parametrization: Default::default(),
        base_width: None,
    }
}

/// [`tiny`] under μP at 4× its base width (every multiplier ≠ 1).
pub fn tiny_mup() -> ModelConfig {
    ModelConfig {
        parametrization: crate::config::Parametrization::Mup,
        base_width: Some(2),
        ..tiny(true)
    }
}

/// A fixed batch of 2 sequences.
pub fn batch(cfg: &ModelConfig, dev: &Device) -> Result<(Tensor, Tensor)> {
    let n = 2 * cfg.seq_len;
    let x: Vec<u32> = (0..n)
        .map(|i| ((i * 5 + 3) % cfg.vocab_size) as u32)
        .collect();
    let y: Vec<u32> = (0..n)
        .map(|i| ((i * 7 + 1) % cfg.vocab_size) as u32)
        .collect();
    Ok((
        Tensor::from_vec(x, (2, cfg.seq_len), dev)?,
        Tensor::from_vec(y, (2, cfg.seq_len), dev)?,
    ))
}

/// The worst relative error between analytic and numeric gradient over the
/// sampled entries of one parameter.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ParamCheck {
    pub name: String,
    pub max_rel_err: f64,
    pub samples: usize,
}

/// Check every parameter of `cfg` with `kernels` on `dev`, in f64.
pub fn gradcheck(cfg: &ModelConfig, kernels: Kernels, dev: &Device) -> Result<Vec<ParamCheck>> {
    let params = Params::init(cfg, 7, DType::F64, dev)?;
    // Perturb the init (seeded) so LayerNorm gains/biases are off their trivial
    // values and attention is not uniform: every gradient is then well above
    // the finite-difference noise floor.
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let normal = Normal::new(0.0, 0.3)?;
    for v in &params.vars {
        let noise: Vec<f64> = (0..v.as_tensor().elem_count())
            .map(|_| normal.sample(&mut rng))
            .collect();
        v.set(&(v.as_tensor() + Tensor::from_vec(noise, v.as_tensor().shape(), dev)?)?)?;
    }
    let (x, y) = batch(cfg, dev)?;
    let model = Gpt::with_kernels(cfg, params.var_builder(DType::F64, true)?, kernels)?;
    let grads = params.grads(&model.loss(&x, &y)?.backward()?)?;
    let named: HashMap<String, Tensor> = params.named_tensors().into_iter().collect();
    let loss_with = |m: HashMap<String, Tensor>| -> Result<f64> {
        let vb = candle_nn::VarBuilder::from_tensors(m, DType::F64, dev);
        Ok(Gpt::with_kernels(cfg, vb, kernels)?
            .loss(&x, &y)?
            .to_scalar::<f64>()?)
    };
    let eps = 1e-5;
    let mut out = Vec::new();
    for ((spec, var), g) in params.specs.iter().zip(&params.vars).zip(&grads) {
        let g: Vec<f64> = g.flatten_all()?.to_vec1()?;
        let gmax = g.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        if gmax == 0.0 {
            bail!("gradient of {} is identically zero", spec.name);
        }
        let base: Vec<f64> = var.as_tensor().flatten_all()?.to_vec1()?;
        // Entries spread over the tensor among those whose gradient is not
        // negligible (≥ 1e-3 of the tensor's largest), where a relative error means something.
        let live: Vec<usize> = (0..g.len())
            .filter(|&i| g[i].abs() >= 1e-3 * gmax)
            .collect();
        let mut worst = 0.0f64;
        for k in 0..SAMPLES {
            let i = live[k * (live.len() - 1) / (SAMPLES - 1)];
            let at = |delta: f64| {
                let mut p = base.clone();
                p[i] += delta;
                let mut m = named.clone();
                m.insert(
                    spec.name.clone(),
                    Tensor::from_vec(p, spec.shape.as_slice(), dev)?,
                );
                loss_with(m)
            };
            let num = (at(eps)? - at(-eps)?) / (2.0 * eps);
            worst = worst.max((g[i] - num).abs() / g[i].abs().max(num.abs()).max(1e-6));
        }
        out.push(ParamCheck {
            name: spec.name.clone(),
            max_rel_err: worst,
            samples: SAMPLES,
        });
    }
    Ok(out)
}
