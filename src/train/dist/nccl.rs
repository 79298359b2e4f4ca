//! CUDA ranks over NCCL: one thread per GPU, one communicator per rank, made
//! from a shared unique id (ncclCommInitRank). The all-reduce runs on the
//! candle device's own stream, so it is ordered after the backward kernels
//! that produced the gradients and before the optimizer's.

use super::Collective;
use anyhow::{anyhow, bail, Result};
use candle_core::backend::BackendStorage;
use candle_core::cuda_backend::cudarc::driver::DeviceRepr;
use candle_core::cuda_backend::cudarc::nccl::{Comm, Id, NcclType, ReduceOp};
use candle_core::cuda_backend::{CudaDType, CudaStorage};
use candle_core::op::BackpropOp;
use candle_core::{DType, Device, Storage, Tensor};

pub fn new_id() -> Result<Id> {
    Id::new().map_err(|e| anyhow!("NCCL: cannot create a unique id: {e:?}"))
}

pub struct Rank {
    comm: Comm,
    dev: candle_core::CudaDevice,
}

impl Rank {
    /// Join the group as `rank` on `device` (blocks until all ranks joined).
    pub fn join(rank: usize, world: usize, device: &Device, id: Id) -> Result<Rank> {
        let Device::Cuda(dev) = device else {
            bail!("rank {rank}: NCCL ranks need CUDA devices");
        };
        let stream = dev.cuda_stream();
        // ncclCommInitRank takes the thread's current context as the rank's GPU:
        // a fresh rank thread has none (it would default to GPU 0).
        stream
            .context()
            .bind_to_thread()
            .map_err(|e| anyhow!("rank {rank}: cannot bind its CUDA context: {e:?}"))?;
        let comm = Comm::from_rank(stream, rank, world, id)
            .map_err(|e| anyhow!("NCCL: rank {rank} of {world} cannot join: {e:?}"))?;
        Ok(Rank {
            comm,
            dev: dev.clone(),
        })
    }

    fn reduce<T: CudaDType + NcclType + DeviceRepr>(
        &self,
        s: &CudaStorage,
        offset: usize,
        n: usize,
    ) -> Result<CudaStorage> {
        let src = s.as_cuda_slice::<T>()?.slice(offset..offset + n);
        // SAFETY: the all-reduce writes all n elements before anything reads them.
        let mut dst = unsafe { self.dev.alloc::<T>(n)? };
        self.comm
            .all_reduce(&src, &mut dst, &ReduceOp::Sum)
            .map_err(|e| anyhow!("NCCL all-reduce of {n} values: {e:?}"))?;
        Ok(CudaStorage::wrap_cuda_slice(dst, self.dev.clone()))
    }
}

impl Collective for Rank {
    fn rank(&self) -> usize {
        self.comm.rank()
    }
    fn world(&self) -> usize {
        self.comm.world_size()
    }
    fn all_reduce_sum(&self, t: &Tensor) -> Result<Tensor> {
        let t = t.contiguous()?;
        let n = t.elem_count();
        let (storage, layout) = t.storage_and_layout();
        let Storage::Cuda(s) = &*storage else {
            bail!("NCCL all-reduce: tensor is not on a CUDA device")
        };
        let off = layout.start_offset();
        let out = match s.dtype() {
            DType::F32 => self.reduce::<f32>(s, off, n)?,
            DType::F64 => self.reduce::<f64>(s, off, n)?,
            dt => bail!("NCCL all-reduce: unsupported dtype {dt:?}"),
        };
        Ok(Tensor::from_storage(
            Storage::Cuda(out),
            n,
            BackpropOp::none(),
            false,
        ))
    }
}

/// A 1-rank group on `dev` all-reduces a ramp: the largest |out − in| (0 when
/// NCCL loads, joins and moves the data). What one GPU can check of the path.
pub fn self_test(dev: &Device) -> Result<f64> {
    let rank = Rank::join(0, 1, dev, new_id()?)?;
    let t = Tensor::arange(0f32, 4096f32, dev)?;
    let out = rank.all_reduce_sum(&t)?;
    Ok((out - &t)?.abs()?.max_all()?.to_scalar::<f32>()? as f64)
}
