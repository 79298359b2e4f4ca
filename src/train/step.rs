//! One optimizer step and one evaluation: the units the loop, `bench` and
//! `check` share.

use super::{dist, optim};
use crate::config::{Recompute, RunConfig};
use crate::data::batches::Batch;
use crate::device::DTypeSpec;
use crate::model::params::Params;
use crate::model::Gpt;
use anyhow::Result;
use candle_core::{DType, Device, Tensor};
use std::time::Instant;

/// Mean loss and bits-per-byte over the fixed validation batches (no backward graph).
pub fn evaluate(
    model: &Gpt,
    batches: &[Batch],
    dev: &Device,
    bytes_per_token: f64,
) -> Result<(f64, f64)> {
    let mut sum = 0.0;
    for b in batches {
        let (x, y) = batch_tensors(b, dev)?;
        sum += model
            .loss(&x, &y)?
            .to_dtype(DType::F64)?
            .to_scalar::<f64>()?;
    }
    let loss = sum / batches.len() as f64;
    Ok((loss, loss / (std::f64::consts::LN_2 * bytes_per_token)))
}

pub fn batch_tensors(b: &Batch, dev: &Device) -> Result<(Tensor, Tensor)> {
    Ok((
        Tensor::from_slice(&b.x, (b.batch, b.seq_len), dev)?,
        Tensor::from_slice(&b.y, (b.batch, b.seq_len), dev)?,
    ))
}

/// What one optimizer step did, with its phases timed (device synchronised
/// before each clock read).
#[derive(Debug, Clone, Copy)]
pub struct StepResult {
    pub loss: f64,
    pub grad_norm: f64,
    /// False when the loss or gradient norm was non-finite and the update was dropped.
    pub applied: bool,
    pub fwd_s: f64,
    pub bwd_s: f64,
    pub opt_s: f64,
}

/// One optimizer step: `grad_accum` micro-batches of forward + backward (this
/// rank's rows of each), gradients averaged over ranks, global-norm clipping,
/// AdamW. A non-finite loss or norm leaves the weights untouched.
pub fn train_step(
    cfg: &RunConfig,
    comm: &dyn dist::Collective,
    params: &Params,
    opt: &mut optim::AdamW,
    dtype: DTypeSpec,
    lr: f64,
    mut next_batch: impl FnMut() -> Result<Batch>,
) -> Result<StepResult> {
    crate::fault::injected_panic();
    let dev = params.device();
    // Each rank's share of a batch goes through in `chunks` equal micro-batches
    // (train.micro_batch): the mean of their mean losses is the batch's.
    let rank_rows = cfg.train.batch_size / comm.world();
    let chunks = rank_rows / cfg.micro_rows().clamp(1, rank_rows);
    let accum = cfg.train.grad_accum * chunks;
    let (mut fwd_s, mut bwd_s) = (0.0, 0.0);
    let mut loss_sum = 0.0;
    let mut grads: Option<Vec<Tensor>> = None;
    let mut share = None;
    for i in 0..accum {
        if i % chunks == 0 {
            share = Some(dist::shard(next_batch()?, comm.rank(), comm.world()));
        }
        let share = share.as_ref().expect("drawn at chunk 0");
        let batch = dist::slice_rows(share, i % chunks, chunks);
        let t0 = Instant::now();
        let (x, y) = batch_tensors(&batch, dev)?;
        let model = Gpt::with_kernels(
            &cfg.model,
            params.var_builder(dtype.compute(), true)?,
            cfg.train.kernels,
        )?;
        let (loss, segmented) = match cfg.train.recompute {
            Recompute::None => (model.loss(&x, &y)?, None),
            Recompute::Blocks => {
                let s = model.loss_segmented(&x, &y)?;
                (s.loss().clone(), Some(s))
            }
        };
        loss_sum += loss.to_dtype(DType::F64)?.to_scalar::<f64>()?;
        let t1 = Instant::now();
        fwd_s += (t1 - t0).as_secs_f64();
        let g = params.grads(&match segmented {
            None => (loss / accum as f64)?.backward()?,
            Some(s) => {
                drop(loss); // the head's graph goes with its segment
                s.backward(accum as f64)?
            }
        })?;
        grads = Some(match grads {
            None => g,
            Some(acc) => acc
                .iter()
                .zip(&g)
                .map(|(a, b)| a + b)
                .collect::<candle_core::Result<_>>()?,
        });
        dev.synchronize()?;
        bwd_s += t1.elapsed().as_secs_f64();
    }
    let t2 = Instant::now();
    let mut grads = grads.expect("grad_accum >= 1");
    if crate::fault::take_nonfinite() {
        grads[0] = (&grads[0] * f64::NAN)?;
    }
    let mut loss = loss_sum / accum as f64;
    dist::average(comm, &mut grads, &mut loss)?;
    let grad_norm = optim::grad_norm(&grads, cfg.train.kernels)?;
    let applied = loss.is_finite() && grad_norm.is_finite();
    if applied {
        optim::clip(&mut grads, grad_norm, cfg.optim.grad_clip)?;
        opt.step(params, &grads, lr, cfg.train.kernels)?;
    }
    dev.synchronize()?;
    Ok(StepResult {
        loss,
        grad_norm,
        applied,
        fwd_s,
        bwd_s,
        opt_s: t2.elapsed().as_secs_f64(),
    })
}
