//! Data parallelism. W ranks each hold a full replica of the weights and the
//! optimizer state, train on their own rows of every global batch, and average
//! their gradients with one all-reduce before the optimizer step, so every
//! replica takes the same update. The global batch (`train.batch_size ×
//! grad_accum` rows) is the same as with one rank: a run on W ranks follows
//! the single-rank run up to float summation order.
//!
//! Every rank draws the same global batch from the same seeded sampler and
//! keeps rows `[r·b/W, (r+1)·b/W)` of it (its data shard), so the sampler
//! state in a checkpoint is valid for any number of ranks and a run can be
//! resumed on a different W. Rank 0 alone evaluates, logs, prints and writes
//! checkpoints; the stop decision (signal, halt) is rank 0's, broadcast each step.
//!
//! Ranks are threads of one process: on CUDA one per GPU, talking through
//! NCCL (`--features nccl`, [`nccl`]); on CPU simulated ranks share host
//! memory ([`host`]) — the same training code, for testing the math.

pub mod host;
#[cfg(feature = "nccl")]
pub mod nccl;

use crate::data::batches::Batch;
use crate::device::{open_device, parse_device_spec, DeviceSpec};
use anyhow::{anyhow, bail, Result};
use candle_core::{DType, Device, Tensor};

/// What a rank needs from the group.
pub trait Collective {
    fn rank(&self) -> usize;
    fn world(&self) -> usize;
    /// Element-wise sum of the 1-D tensor `t` over all ranks; every rank gets
    /// the same values back.
    fn all_reduce_sum(&self, t: &Tensor) -> Result<Tensor>;
}

/// One rank alone: no communication at all.
pub struct Solo;

impl Collective for Solo {
    fn rank(&self) -> usize {
        0
    }
    fn world(&self) -> usize {
        1
    }
    fn all_reduce_sum(&self, t: &Tensor) -> Result<Tensor> {
        Ok(t.clone())
    }
}

/// Rows `[r·b/W, (r+1)·b/W)` of a global micro-batch: this rank's shard.
pub fn shard(b: Batch, rank: usize, world: usize) -> Batch {
    if world == 1 {
        return b;
    }
    let rows = b.batch / world;
    let span = rank * rows * b.seq_len..(rank + 1) * rows * b.seq_len;
    Batch { x: b.x[span.clone()].to_vec(), y: b.y[span].to_vec(), batch: rows, seq_len: b.seq_len }
}

/// Replace each rank's gradients and mean loss by their averages over ranks:
/// one all-reduce of one flat buffer (the loss rides along as its last element).
pub fn average(comm: &dyn Collective, grads: &mut [Tensor], loss: &mut f64) -> Result<()> {
    let w = comm.world();
    if w == 1 {
        return Ok(());
    }
    let dtype = grads[0].dtype();
    let dev = grads[0].device().clone();
    let mut parts: Vec<Tensor> = grads.iter().map(|g| g.flatten_all()).collect::<candle_core::Result<_>>()?;
    parts.push(Tensor::new(&[*loss], &dev)?.to_dtype(dtype)?);
    let flat = Tensor::cat(&parts, 0)?;
    let sum = comm.all_reduce_sum(&flat)?;
    let mean = (sum / w as f64)?;
    let mut at = 0;
    for g in grads.iter_mut() {
        let n = g.elem_count();
        *g = mean.narrow(0, at, n)?.reshape(g.shape())?;
        at += n;
    }
    *loss = mean.narrow(0, at, 1)?.to_dtype(DType::F64)?.to_vec1::<f64>()?[0];
    Ok(())
}

/// Rank 0's `code` on every rank (the others' arguments are ignored).
pub fn agree(comm: &dyn Collective, code: i32, dev: &Device) -> Result<i32> {
    if comm.world() == 1 {
        return Ok(code);
    }
    let mine = if comm.rank() == 0 { code as f32 } else { 0.0 };
    let sum = comm.all_reduce_sum(&Tensor::new(&[mine], dev)?)?;
    Ok(sum.to_vec1::<f32>()?[0] as i32)
}

/// `train.ranks` against the batch and the device: the error names the field.
pub fn check(ranks: usize, batch_size: usize, device: &str) -> Result<()> {
    if ranks == 0 {
        bail!("train.ranks must be >= 1");
    }
    if batch_size % ranks != 0 {
        bail!("train.batch_size ({batch_size}) must be divisible by train.ranks ({ranks}): each rank takes an equal share of every batch");
    }
    if ranks > 1 && !matches!(parse_device_spec(device)?, DeviceSpec::Cpu) && !cfg!(feature = "nccl") {
        bail!("train.ranks = {ranks} on device `{device}` needs NCCL: rebuild with --features nccl (on CPU, ranks are simulated in one process)");
    }
    Ok(())
}

/// One device per rank, opened up front so a bad device fails before the
/// run folder is touched: `cuda:N` spreads ranks over `cuda:N`, `cuda:N+1`, …;
/// on CPU every rank shares the host.
pub fn open_devices(spec: &str, world: usize) -> Result<Vec<Device>> {
    let name = |rank: usize| -> Result<String> {
        Ok(match parse_device_spec(spec)? {
            DeviceSpec::Cpu => "cpu".into(),
            DeviceSpec::Cuda(n) => format!("cuda:{}", n + rank),
            DeviceSpec::Auto if world == 1 => "auto".into(),
            DeviceSpec::Auto => bail!("train.device = \"auto\" with train.ranks = {world}: name cpu or cuda[:N]"),
        })
    };
    (0..world).map(|r| open_device(&name(r)?).map_err(|e| anyhow!("train.ranks = {world}: rank {r}: {e}"))).collect()
}

/// Run `f(comm, device)` on `world` ranks and return rank 0's result. One
/// rank runs on the calling thread with [`Solo`]; more run as threads. When a
/// rank fails, the group is aborted so no simulated rank waits for it forever,
/// and rank 0's error is returned (else the first one). An NCCL rank blocked
/// on a dead peer cannot be woken: after a grace period it is left behind and
/// the caller exits with the error.
pub fn launch<T: Send + 'static>(
    devices: Vec<Device>,
    f: impl Fn(&dyn Collective, &Device) -> Result<Option<T>> + Send + Sync + 'static,
) -> Result<T> {
    let root = |r: Result<Option<T>>| r.and_then(|o| o.ok_or_else(|| anyhow!("rank 0 returned no result")));
    let world = devices.len();
    if world == 1 {
        return root(f(&Solo, &devices[0]));
    }
    let on_cuda = devices[0].is_cuda();
    let group = std::sync::Arc::new(host::Group::new(world));
    #[cfg(feature = "nccl")]
    let id = if on_cuda { Some(nccl::new_id()?) } else { None };
    let f = std::sync::Arc::new(f);
    let (tx, rx) = std::sync::mpsc::channel();
    for (rank, dev) in devices.into_iter().enumerate() {
        let (tx, f, group) = (tx.clone(), f.clone(), group.clone());
        #[cfg(feature = "nccl")]
        let id = id;
        std::thread::Builder::new().name(format!("rank{rank}")).spawn(move || {
            let r = if on_cuda {
                #[cfg(feature = "nccl")]
                {
                    nccl::Rank::join(rank, world, &dev, id.expect("NCCL id made for CUDA ranks")).and_then(|c| f(&c, &dev))
                }
                #[cfg(not(feature = "nccl"))]
                {
                    Err(anyhow!("rank {rank}: data parallelism on CUDA needs --features nccl"))
                }
            } else {
                f(&group.member(rank), &dev)
            };
            if r.is_err() {
                group.abort();
            }
            let _ = tx.send((rank, r));
        })?;
    }
    drop(tx);
    let mut results: Vec<Option<Result<Option<T>>>> = (0..world).map(|_| None).collect();
    let mut first_err = None;
    let grace = std::time::Duration::from_secs(10);
    loop {
        let next = if first_err.is_some() { rx.recv_timeout(grace).ok() } else { rx.recv().ok() };
        let Some((rank, r)) = next else { break };
        if r.is_err() && first_err.is_none() {
            first_err = Some(rank);
        }
        results[rank] = Some(r);
    }
    let pick = match (&results[0], first_err) {
        (Some(Err(_)), _) | (_, None) => 0,
        (_, Some(r)) => r,
    };
    match results[pick].take() {
        Some(Err(e)) => Err(e.context(format!("rank {pick} of {world}"))),
        Some(ok) => root(ok),
        None => bail!("rank 0 of {world} ended without a result"),
    }
}
