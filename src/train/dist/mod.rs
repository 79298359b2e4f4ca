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
//! resumed on a different W. Rank 0 alone evaluates (in shards of b/W rows, so
//! no rank holds more activations than in training), logs, prints and writes
//! checkpoints. A signal is seen by rank 0 and broadcast each step; `--halt-after`
//! and non-finite stops are decided identically by every rank from the same values.
//!
//! Ranks are threads of one process: on CUDA one per GPU, talking through
//! NCCL (`--features nccl`, [`nccl`]); on CPU simulated ranks share host
//! memory ([`host`]) — the same training code, for testing the math.

pub mod host;
#[cfg(feature = "nccl")]
pub mod nccl;

use crate::data::batches::Batch;
use crate::device::DeviceSpec;
use anyhow::{anyhow, bail, Result};
use candle_core::{Device, Tensor};

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
    slice_rows(&b, rank, world)
}

/// Rows `[r·b/W, (r+1)·b/W)` of `b`, copied.
pub fn slice_rows(b: &Batch, rank: usize, world: usize) -> Batch {
    let rows = b.batch / world;
    let span = rank * rows * b.seq_len..(rank + 1) * rows * b.seq_len;
    Batch {
        x: b.x[span.clone()].to_vec(),
        y: b.y[span].to_vec(),
        batch: rows,
        seq_len: b.seq_len,
    }
}

/// Replace each rank's gradients and mean loss by their averages over ranks:
/// one all-reduce of all gradients as one flat buffer, one of the loss (kept
/// in f64, as with one rank).
pub fn average(comm: &dyn Collective, grads: &mut [Tensor], loss: &mut f64) -> Result<()> {
    let w = comm.world();
    if w == 1 {
        return Ok(());
    }
    let dev = grads[0].device().clone();
    let parts: Vec<Tensor> = grads
        .iter()
        .map(|g| g.flatten_all())
        .collect::<candle_core::Result<_>>()?;
    let mean = (comm.all_reduce_sum(&Tensor::cat(&parts, 0)?)? / w as f64)?;
    let mut at = 0;
    for g in grads.iter_mut() {
        let n = g.elem_count();
        *g = mean.narrow(0, at, n)?.reshape(g.shape())?;
        at += n;
    }
    *loss = comm
        .all_reduce_sum(&Tensor::new(&[*loss], &dev)?)?
        .to_vec1::<f64>()?[0]
        / w as f64;
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

/// [`crate::config::check_ranks`], and whether this build can run `ranks` on `device`.
pub fn check(ranks: usize, batch_size: usize, device: DeviceSpec) -> Result<()> {
    crate::config::check_ranks(ranks, batch_size)?;
    if ranks > 1 && device != DeviceSpec::Cpu && !cfg!(feature = "nccl") {
        bail!("train.ranks = {ranks} on device `{device}` needs NCCL: rebuild with --features nccl (on CPU, ranks are simulated in one process)");
    }
    Ok(())
}

/// One device per rank, opened up front so a bad device fails before the
/// run folder is touched: `cuda:N` spreads ranks over `cuda:N`, `cuda:N+1`, …;
/// on CPU every rank shares the host.
pub fn open_devices(spec: DeviceSpec, world: usize) -> Result<Vec<Device>> {
    let rank_spec = |rank: usize| -> Result<DeviceSpec> {
        Ok(match spec {
            DeviceSpec::Cuda(n) => DeviceSpec::Cuda(n + rank),
            DeviceSpec::Auto if world > 1 => {
                bail!("train.device = \"auto\" with train.ranks = {world}: name cpu or cuda[:N]")
            }
            s => s,
        })
    };
    (0..world)
        .map(|r| {
            rank_spec(r)?
                .open()
                .map_err(|e| anyhow!("train.ranks = {world}: rank {r}: {e}"))
        })
        .collect()
}

/// A rank that stopped because a peer failed (not the cause).
#[derive(Debug, thiserror::Error)]
#[error("another rank failed; this rank stops")]
pub struct PeerFailed;

/// NCCL ranks still blocked in a collective after a peer failed: their GPUs
/// are not usable again in this process (a sweep stops on this).
#[derive(Debug, thiserror::Error)]
#[error("{0} rank(s) still blocked on their GPUs after a peer failed; the process must exit before they can be used again")]
pub struct RanksLeftBehind(pub usize);

/// How long to wait for the other ranks once one has failed. Simulated ranks
/// are woken at once; NCCL ranks finish their step or stay blocked.
const GRACE: std::time::Duration = std::time::Duration::from_secs(60);

/// Run `f(comm, device)` on one rank per device and return rank 0's result.
/// One rank runs on the calling thread with [`Solo`]; more run as threads. A
/// rank that fails (or panics) aborts the group so no simulated rank waits
/// for it forever; the error returned is the cause (rank 0's when it has one),
/// not a [`PeerFailed`] of the ranks it stopped.
pub fn launch<T: Send + 'static>(
    devices: Vec<Device>,
    f: impl Fn(&dyn Collective, &Device) -> Result<Option<T>> + Send + Sync + 'static,
) -> Result<T> {
    let root = |r: Result<Option<T>>| {
        r.and_then(|o| o.ok_or_else(|| anyhow!("rank 0 returned no result")))
    };
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
        std::thread::Builder::new()
            .name(format!("rank{rank}"))
            .spawn(move || {
                let run = || -> Result<Option<T>> {
                    if !on_cuda {
                        return f(&group.member(rank), &dev);
                    }
                    #[cfg(feature = "nccl")]
                    return nccl::Rank::join(
                        rank,
                        world,
                        &dev,
                        id.expect("NCCL id made for CUDA ranks"),
                    )
                    .and_then(|c| f(&c, &dev));
                    #[cfg(not(feature = "nccl"))]
                    bail!("data parallelism on CUDA needs --features nccl")
                };
                let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(run))
                    .unwrap_or_else(|p| Err(crate::crash::Panicked::from_payload(&*p).into()));
                if r.is_err() {
                    group.abort();
                }
                let _ = tx.send((rank, r));
            })?;
    }
    drop(tx);
    let mut results: Vec<Option<Result<Option<T>>>> = (0..world).map(|_| None).collect();
    let mut failed = false;
    while let Some((rank, r)) = if failed {
        rx.recv_timeout(GRACE).ok()
    } else {
        rx.recv().ok()
    } {
        failed |= r.is_err();
        results[rank] = Some(r);
    }
    let missing = results.iter().filter(|r| r.is_none()).count();
    // The cause: rank 0's error unless it only stopped for a peer, else the first real one.
    let is_cause = |r: &Option<Result<Option<T>>>| matches!(r, Some(Err(e)) if e.downcast_ref::<PeerFailed>().is_none());
    let pick = (0..world)
        .find(|&k| is_cause(&results[k]))
        .or_else(|| (0..world).find(|&k| matches!(results[k], Some(Err(_)))));
    match pick.and_then(|k| results[k].take().map(|r| (k, r))) {
        Some((k, Err(e))) if missing > 0 => Err(e
            .context(format!("rank {k} of {world}"))
            .context(RanksLeftBehind(missing))),
        Some((k, Err(e))) => Err(e.context(format!("rank {k} of {world}"))),
        _ => match results[0].take() {
            Some(ok) => root(ok),
            None => bail!("rank 0 of {world} ended without a result"),
        },
    }
}
