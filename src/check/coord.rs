//! The coordinate check of μP (Tensor Programs V, §D.1): train a few steps at
//! several widths (same depth, heads and base width) and record the RMS of
//! every layer's activations on a fixed batch. Under μP they stay flat across
//! widths; under SP the logits grow with width. Data: the learnable synthetic
//! stream of the precision check (the config's corpus is not read), lr constant.

use crate::config::{Parametrization, RunConfig};
use crate::device::DTypeSpec;
use crate::model::params::Params;
use crate::model::Gpt;
use crate::train::{batch_tensors, dist::Solo, optim::AdamW, train_step};
use anyhow::{bail, Result};
use candle_core::{DType, Device};
use std::fmt::Write as _;

/// The file name `scalelab check coord` writes (and `scalelab report` charts).
pub const COORD_CSV: &str = "coord.csv";

#[derive(Debug, Clone, PartialEq)]
pub struct CoordRow {
    pub parametrization: Parametrization,
    pub width: usize,
    /// Optimizer steps taken before the measurement (0 = at init).
    pub step: usize,
    pub layer: String,
    pub rms: f64,
}

/// Activation RMS at `widths` (d_model), after 0..=`steps` steps, for SP and μP;
/// `cfg`'s base width (or its d_model) is the base of every width.
pub fn coord_check(cfg: &RunConfig, widths: &[usize], steps: usize) -> Result<Vec<CoordRow>> {
    let base = cfg.model.base_width();
    let mut rows = Vec::new();
    for p in [Parametrization::Sp, Parametrization::Mup] {
        for &w in widths {
            let mut c = cfg.clone();
            c.model.d_model = w;
            c.model.parametrization = p;
            c.model.base_width = Some(base);
            if let Err(e) = c.model.validate() {
                bail!("coord check at width {w}: {e}");
            }
            rows.extend(one_width(&c, steps)?);
        }
    }
    Ok(rows)
}

fn one_width(cfg: &RunConfig, steps: usize) -> Result<Vec<CoordRow>> {
    let dev = Device::Cpu;
    let params = Params::init(&cfg.model, cfg.train.seed, DType::F32, &dev)?;
    let mut opt = AdamW::new(&cfg.optim, &params)?;
    let mut data = super::precision::batches(cfg, 1 + steps * cfg.train.grad_accum).into_iter();
    let (x, _) = batch_tensors(&data.next().expect("one batch"), &dev)?;
    let mut rows = Vec::new();
    for step in 0..=steps {
        let model = Gpt::with_kernels(
            &cfg.model,
            params.var_builder(DType::F32, false)?,
            cfg.train.kernels,
        )?;
        for (layer, a) in model.activations(&x)? {
            let rms = a
                .sqr()?
                .mean_all()?
                .to_dtype(DType::F64)?
                .to_scalar::<f64>()?;
            rows.push(CoordRow {
                parametrization: cfg.model.parametrization,
                width: cfg.model.d_model,
                step,
                layer,
                rms: rms.sqrt(),
            });
        }
        if step < steps {
            let r = train_step(
                cfg,
                &Solo,
                &params,
                &mut opt,
                DTypeSpec::F32,
                cfg.optim.lr,
                || data.next().ok_or_else(|| anyhow::anyhow!("out of batches")),
            )?;
            if !r.applied {
                bail!(
                    "coord check: non-finite loss at width {}",
                    cfg.model.d_model
                );
            }
        }
    }
    Ok(rows)
}

/// `parametrization,width,step,layer,rms` rows.
pub fn to_csv(rows: &[CoordRow]) -> String {
    let mut s = String::from("parametrization,width,step,layer,rms\n");
    for r in rows {
        let p = if r.parametrization.is_sp() {
            "sp"
        } else {
            "mup"
        };
        let _ = writeln!(s, "{p},{},{},{},{:e}", r.width, r.step, r.layer, r.rms);
    }
    s
}

/// RMS of `layer` at the last step, widest over narrowest width, under `p`.
pub fn growth(rows: &[CoordRow], p: Parametrization, layer: &str) -> f64 {
    let last = rows.iter().map(|r| r.step).max().unwrap_or(0);
    let at: Vec<&CoordRow> = rows
        .iter()
        .filter(|r| r.parametrization == p && r.layer == layer && r.step == last)
        .collect();
    let by = |f: fn(usize, usize) -> bool| {
        at.iter()
            .copied()
            .reduce(|a, b| if f(b.width, a.width) { b } else { a })
            .map_or(f64::NAN, |r| r.rms)
    };
    by(|a, b| a > b) / by(|a, b| a < b)
}
