//! AdamW with decoupled weight decay (PyTorch's update, step for step), global
//! grad-norm clipping. Moments are kept in the master precision and saved in
//! every checkpoint.

use crate::config::OptimConfig;
use crate::model::fused::adamw;
use crate::model::params::Params;
use crate::model::Kernels;
use anyhow::Result;
use candle_core::{DType, Tensor};

pub struct AdamW {
    pub cfg: OptimConfig,
    pub m: Vec<Tensor>,
    pub v: Vec<Tensor>,
    /// Steps taken (bias correction uses t ≥ 1).
    pub t: u64,
    decay: Vec<bool>,
    /// Per-parameter learning-rate multiplier (μP's 1/m on hidden matrices).
    lr_scale: Vec<f64>,
}

impl AdamW {
    pub fn new(cfg: &OptimConfig, params: &Params) -> Result<Self> {
        let zeros = |p: &candle_core::Var| p.as_tensor().zeros_like();
        Ok(AdamW {
            cfg: cfg.clone(),
            m: params
                .vars
                .iter()
                .map(zeros)
                .collect::<candle_core::Result<_>>()?,
            v: params
                .vars
                .iter()
                .map(zeros)
                .collect::<candle_core::Result<_>>()?,
            t: 0,
            decay: params
                .specs
                .iter()
                .map(|s| s.decays(cfg.decay_embeddings))
                .collect(),
            lr_scale: params.specs.iter().map(|s| s.lr_scale).collect(),
        })
    }

    /// Restore moments saved by [`AdamW::state`].
    pub fn load_state(&mut self, m: Vec<Tensor>, v: Vec<Tensor>, t: u64) {
        self.m = m;
        self.v = v;
        self.t = t;
    }

    /// One update with learning rate `lr` from gradients `grads` (same order as
    /// `params`); with fused kernels on CPU in place, else from tensor ops.
    pub fn step(&mut self, params: &Params, grads: &[Tensor], lr: f64, k: Kernels) -> Result<()> {
        self.t += 1;
        let o = &self.cfg;
        let bc1 = 1.0 - o.beta1.powi(self.t as i32);
        let bc2 = 1.0 - o.beta2.powi(self.t as i32);
        let base_lr = lr;
        for (i, (var, g)) in params.vars.iter().zip(grads).enumerate() {
            // Decoupled decay stays coupled to the group's lr (PyTorch AdamW): p·(1 − lr_i·wd).
            let lr = base_lr * self.lr_scale[i];
            let g = g.to_dtype(var.dtype())?;
            let wd = if self.decay[i] { o.weight_decay } else { 0.0 };
            let p = var.as_tensor();
            if k.fused_for(p) {
                let s = adamw::Step {
                    beta1: o.beta1,
                    beta2: o.beta2,
                    eps: o.eps,
                    lr,
                    weight_decay: wd,
                    bc1,
                    bc2,
                };
                adamw::adamw_step(p, &g, &self.m[i], &self.v[i], s)?;
                continue;
            }
            let m = ((&self.m[i] * o.beta1)? + (&g * (1.0 - o.beta1))?)?;
            let v = ((&self.v[i] * o.beta2)? + (g.sqr()? * (1.0 - o.beta2))?)?;
            let denom = ((v.sqrt()? / bc2.sqrt())? + o.eps)?;
            let p_new = ((p * (1.0 - lr * wd))? - (m.div(&denom)? * (lr / bc1))?)?;
            var.set(&p_new)?;
            self.m[i] = m;
            self.v[i] = v;
        }
        Ok(())
    }
}

/// Global L2 norm of all gradients (accumulated in f64).
pub fn grad_norm(grads: &[Tensor], k: Kernels) -> Result<f64> {
    let mut s = 0.0f64;
    for g in grads {
        s += if k.fused_for(g) {
            adamw::sum_squares(g)?
        } else {
            g.to_dtype(DType::F64)?
                .sqr()?
                .sum_all()?
                .to_scalar::<f64>()?
        };
    }
    Ok(s.sqrt())
}

/// Scale gradients so their global norm is at most `max_norm` (0 = off).
pub fn clip(grads: &mut [Tensor], norm: f64, max_norm: f64) -> Result<()> {
    if max_norm > 0.0 && norm > max_norm {
        let scale = max_norm / (norm + 1e-6);
        for g in grads.iter_mut() {
            *g = (&*g * scale)?;
        }
    }
    Ok(())
}
