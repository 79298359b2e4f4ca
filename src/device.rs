//! Device and precision selection (`--device`, `--dtype`).

use anyhow::{bail, Result};
use candle_core::{DType, Device};
use serde::{Deserialize, Serialize};

/// `train.device`: parsed once, from the config or `--device`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum DeviceSpec {
    #[default]
    Cpu,
    Cuda(usize),
    /// CUDA device 0 when the build and the machine have one, else CPU.
    Auto,
}

impl DeviceSpec {
    pub fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "cpu" => DeviceSpec::Cpu,
            "auto" => DeviceSpec::Auto,
            "cuda" => DeviceSpec::Cuda(0),
            _ => match s.strip_prefix("cuda:").map(str::parse::<usize>) {
                Some(Ok(n)) => DeviceSpec::Cuda(n),
                _ => bail!("unknown device `{s}` (expected cpu, cuda, cuda:N or auto)"),
            },
        })
    }

    pub fn open(self) -> Result<Device> {
        match self {
            DeviceSpec::Cpu => Ok(Device::Cpu),
            DeviceSpec::Cuda(n) => {
                if !candle_core::utils::cuda_is_available() {
                    bail!("device `{self}`: this binary was built without CUDA (rebuild with --features cuda)");
                }
                Ok(Device::new_cuda(n)?)
            }
            DeviceSpec::Auto => {
                if candle_core::utils::cuda_is_available() {
                    if let Ok(d) = Device::new_cuda(0) {
                        return Ok(d);
                    }
                }
                Ok(Device::Cpu)
            }
        }
    }
}

impl std::fmt::Display for DeviceSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeviceSpec::Cpu => f.write_str("cpu"),
            DeviceSpec::Auto => f.write_str("auto"),
            DeviceSpec::Cuda(0) => f.write_str("cuda"),
            DeviceSpec::Cuda(n) => write!(f, "cuda:{n}"),
        }
    }
}

/// Open a device named on the command line (`cpu`, `cuda`, `cuda:N`, `auto`).
pub fn open_device(s: &str) -> Result<Device> {
    DeviceSpec::parse(s)?.open()
}

/// Training precision. Master weights and optimizer moments stay in `master()`;
/// the forward/backward pass runs in `compute()`. `train.dtype`, parsed once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum DTypeSpec {
    #[default]
    F32,
    /// Gradient checks and reference tests.
    F64,
    /// f32 storage, TF32 tensor-core matmuls (CUDA).
    Tf32,
    Bf16,
    F16,
}

impl DTypeSpec {
    pub fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "f32" | "fp32" => Self::F32,
            "f64" | "fp64" => Self::F64,
            "tf32" => Self::Tf32,
            "bf16" => Self::Bf16,
            "f16" | "fp16" => Self::F16,
            _ => bail!("unknown dtype `{s}` (expected f32, tf32, bf16, f16 or f64)"),
        })
    }

    pub fn master(self) -> DType {
        match self {
            Self::F64 => DType::F64,
            _ => DType::F32,
        }
    }

    pub fn compute(self) -> DType {
        match self {
            Self::F64 => DType::F64,
            Self::F32 | Self::Tf32 => DType::F32,
            Self::Bf16 => DType::BF16,
            Self::F16 => DType::F16,
        }
    }

    /// The key of the hardware catalog's peak-throughput field for this precision.
    pub fn peak_field(self) -> &'static str {
        match self {
            Self::F32 | Self::F64 => "fp32",
            Self::Tf32 => "tf32",
            Self::Bf16 => "bf16",
            Self::F16 => "fp16",
        }
    }

    /// Reduced-precision modes only exist on CUDA.
    pub fn check_device(self, dev: &Device) -> Result<()> {
        if dev.is_cpu() && !matches!(self, Self::F32 | Self::F64) {
            bail!(
                "train.dtype = {:?} needs a CUDA device; on CPU use f32",
                self
            );
        }
        Ok(())
    }
}

impl std::fmt::Display for DTypeSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::F32 => "f32",
            Self::F64 => "f64",
            Self::Tf32 => "tf32",
            Self::Bf16 => "bf16",
            Self::F16 => "f16",
        })
    }
}

/// serde through the config's text form (`"cuda:1"`, `"bf16"`).
macro_rules! serde_via_text {
    ($t:ty) => {
        impl TryFrom<String> for $t {
            type Error = anyhow::Error;
            fn try_from(s: String) -> Result<Self> {
                Self::parse(&s)
            }
        }
        impl From<$t> for String {
            fn from(v: $t) -> String {
                v.to_string()
            }
        }
    };
}
serde_via_text!(DeviceSpec);
serde_via_text!(DTypeSpec);

/// A printable device name: `cpu`, or the CUDA device's name (e.g. "NVIDIA H100 80GB HBM3").
pub fn device_name(dev: &Device) -> Option<String> {
    match dev {
        Device::Cpu => Some("cpu".into()),
        #[cfg(feature = "cuda")]
        Device::Cuda(d) => d.cuda_stream().context().name().ok(),
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

/// Per-process precision switches: TF32 tensor cores for f32 matmuls only when asked.
pub fn configure_precision(dev: &Device, dtype: DTypeSpec) {
    if dev.is_cuda() {
        candle_core::cuda::set_gemm_reduced_precision_f32(dtype == DTypeSpec::Tf32);
    }
}

/// Peak bytes allocated from the CUDA device's memory pool (the pool behind
/// candle's stream-ordered allocations) since the last reset, like PyTorch's
/// `torch.cuda.max_memory_allocated`; `reset` starts a new window. `None` on
/// CPU, or where the driver has no memory pools.
pub fn gpu_peak_bytes(dev: &Device, reset: bool) -> Option<u64> {
    #[cfg(feature = "cuda")]
    if let Device::Cuda(d) = dev {
        use candle_core::cuda_backend::cudarc::driver::sys;
        let stream = d.cuda_stream();
        let ctx = stream.context();
        if !ctx.has_async_alloc() || ctx.bind_to_thread().is_err() {
            return None;
        }
        let ok = |r: sys::CUresult| r == sys::CUresult::CUDA_SUCCESS;
        let attr = sys::CUmemPool_attribute::CU_MEMPOOL_ATTR_USED_MEM_HIGH;
        // SAFETY: plain driver queries on the device's current pool, with
        // out-pointers to locals of the attribute's documented type (cuuint64_t).
        unsafe {
            let mut pool: sys::CUmemoryPool = std::ptr::null_mut();
            if !ok(sys::cuDeviceGetMemPool(&mut pool, ctx.cu_device())) {
                return None;
            }
            if reset {
                let mut zero: u64 = 0;
                if !ok(sys::cuMemPoolSetAttribute(
                    pool,
                    attr,
                    (&mut zero as *mut u64).cast(),
                )) {
                    return None;
                }
            }
            let mut high: u64 = 0;
            return ok(sys::cuMemPoolGetAttribute(
                pool,
                attr,
                (&mut high as *mut u64).cast(),
            ))
            .then_some(high);
        }
    }
    let _ = (dev, reset);
    None
}
