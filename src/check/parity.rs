//! The same weights and batch on the CPU and on another device: the loss and
//! every parameter's gradient must agree (f32; TF32 off).

use super::gradcheck::batch;
use crate::config::ModelConfig;
use crate::model::params::Params;
use crate::model::{Gpt, Kernels};
use anyhow::Result;
use candle_core::{DType, Device, Tensor};

#[derive(Debug, Clone, serde::Serialize)]
pub struct Parity {
    pub loss_cpu: f64,
    pub loss_device: f64,
    /// |Δloss| / loss.
    pub loss_rel: f64,
    /// The parameter whose gradient differs most, and by how much: max |Δg| over max |g_cpu|.
    pub worst_param: String,
    pub grad_rel: f64,
}

fn loss_and_grads(cfg: &ModelConfig, params: &Params, dev: &Device) -> Result<(f64, Vec<Tensor>)> {
    let (x, y) = batch(cfg, dev)?;
    let model = Gpt::with_kernels(
        cfg,
        params.var_builder(DType::F32, true)?,
        Kernels::Composed,
    )?;
    let loss = model.loss(&x, &y)?;
    let g = params.grads(&loss.backward()?)?;
    Ok((loss.to_dtype(DType::F64)?.to_scalar::<f64>()?, g))
}

/// CPU against `dev` with seeded f32 weights (the composed ops on both, as CUDA runs them).
pub fn parity(cfg: &ModelConfig, dev: &Device) -> Result<Parity> {
    let cpu = Params::init(cfg, 7, DType::F32, &Device::Cpu)?;
    let on_dev = cpu
        .named_tensors()
        .into_iter()
        .map(|(n, t)| Ok((n, t.to_device(dev)?)))
        .collect::<Result<_>>()?;
    let other = Params::from_named(cfg, on_dev, DType::F32, dev, "parity check")?;
    let (lc, gc) = loss_and_grads(cfg, &cpu, &Device::Cpu)?;
    let (ld, gd) = loss_and_grads(cfg, &other, dev)?;
    let (mut worst_param, mut grad_rel) = (String::new(), 0.0f64);
    for ((a, b), s) in gc.iter().zip(&gd).zip(&cpu.specs) {
        let scale = a.abs()?.max_all()?.to_scalar::<f32>()? as f64;
        let diff = (a - b.to_device(&Device::Cpu)?)?
            .abs()?
            .max_all()?
            .to_scalar::<f32>()? as f64;
        let rel = diff / scale.max(1e-30);
        if rel >= grad_rel {
            (worst_param, grad_rel) = (s.name.clone(), rel);
        }
    }
    Ok(Parity {
        loss_cpu: lc,
        loss_device: ld,
        loss_rel: (lc - ld).abs() / lc.abs(),
        worst_param,
        grad_rel,
    })
}
