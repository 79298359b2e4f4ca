//! Mixed precision against fp32 on one device: fp32 master weights and AdamW
//! moments, forward and backward in bf16/f16 through differentiable casts,
//! loss statistics in fp32. The loss of each step must track the fp32 run.

use crate::config::RunConfig;
use crate::data::batches::Batch;
use crate::device::DTypeSpec;
use crate::model::params::Params;
use crate::train::{dist::Solo, optim::AdamW, train_step};
use anyhow::{bail, Result};
use candle_core::Device;

const CONFIG: &str = r#"
[model]
n_layer = 2
n_head = 2
d_model = 64
seq_len = 32
vocab_size = 96
[data]
corpus = "unused.txt"
[train]
batch_size = 8
max_steps = 12
[optim]
lr = 3e-3
min_lr = 3e-4
warmup_steps = 2
"#;

/// Steps each run takes.
pub const STEPS: usize = 12;

/// A learnable stream: token t+1 = (3·t + 1) mod V with 10% noise, fixed seed.
pub(crate) fn batches(cfg: &RunConfig, n: usize) -> Vec<Batch> {
    let (b, t, v) = (
        cfg.train.batch_size,
        cfg.model.seq_len,
        cfg.model.vocab_size as u32,
    );
    let mut state = 12345u64;
    let mut rnd = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) as u32
    };
    (0..n)
        .map(|_| {
            let (mut x, mut y) = (Vec::with_capacity(b * t), Vec::with_capacity(b * t));
            for _ in 0..b {
                let mut row = Vec::with_capacity(t + 1);
                let mut tok = rnd() % v;
                for _ in 0..=t {
                    row.push(tok);
                    tok = if rnd() % 10 == 0 {
                        rnd() % v
                    } else {
                        (3 * tok + 1) % v
                    };
                }
                x.extend_from_slice(&row[..t]);
                y.extend_from_slice(&row[1..]);
            }
            Batch {
                x,
                y,
                batch: b,
                seq_len: t,
            }
        })
        .collect()
}

/// The loss of each of [`STEPS`] optimizer steps in `dtype` on `dev` (train_step
/// itself requires every parameter's gradient), and the parameters after.
pub fn losses(dtype: DTypeSpec, dev: &Device) -> Result<(Vec<f64>, Params)> {
    let cfg = RunConfig::from_toml_str(CONFIG, &[])?;
    let params = Params::init(&cfg.model, 7, dtype.master(), dev)?;
    let mut opt = AdamW::new(&cfg.optim, &params)?;
    let mut data = batches(&cfg, STEPS).into_iter();
    let mut out = Vec::new();
    for step in 1..=STEPS {
        let r = train_step(&cfg, &Solo, &params, &mut opt, dtype, cfg.optim.lr, || {
            Ok(data.next().expect("STEPS batches"))
        })?;
        if !r.applied {
            bail!("{dtype:?}: non-finite loss or gradient at step {step}");
        }
        out.push(r.loss);
    }
    Ok((out, params))
}

/// The largest relative gap between `dtype`'s and fp32's loss over the steps.
pub fn worst_gap(reference: &[f64], other: &[f64]) -> f64 {
    reference
        .iter()
        .zip(other)
        .map(|(a, b)| (a - b).abs() / a)
        .fold(0.0, f64::max)
}
