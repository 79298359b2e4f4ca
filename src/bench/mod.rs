//! `scalelab bench`: training-step throughput on synthetic batches, after
//! warm-up, with forward / backward / optimizer time split.

pub mod calibrate;
pub mod cli;
pub mod step_model;

use crate::config::RunConfig;
use crate::data::batches::Batch;
use crate::device::device_name;
use crate::flops::StepFlops;
use crate::hardware::Catalog;
use crate::model::params::{param_counts, Params};
use crate::train::{optim::AdamW, train_step, StepResult};
use anyhow::{bail, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct BenchResult {
    pub params: u64,
    pub batch_size: usize,
    pub grad_accum: usize,
    /// Rows per forward/backward (train.micro_batch, "auto" resolved).
    #[serde(default)]
    pub micro_batch: usize,
    pub seq_len: usize,
    pub tokens_per_step: u64,
    pub warmup_steps: usize,
    pub steps: usize,
    pub ms_per_step: f64,
    pub ms_per_step_median: f64,
    pub ms_forward: f64,
    pub ms_backward: f64,
    pub ms_optimizer: f64,
    pub tok_per_s: f64,
    pub matmul_flops_per_step: u64,
    pub achieved_tflops: f64,
    /// Against the vendor peak (hardware catalog).
    pub mfu: Option<f64>,
    /// Against the measured peak of a device profile (`scalelab calibrate`).
    #[serde(default)]
    pub mfu_measured: Option<f64>,
    pub hardware: Option<String>,
    pub device: String,
    pub dtype: String,
    pub kernels: String,
    /// The CPU's widest vector ISA and the GEMM kernels that ran (they differ in a
    /// build without the `avx512` feature): benchmark figures depend on both.
    #[serde(default)]
    pub cpu_isa: Option<String>,
    #[serde(default)]
    pub gemm: Option<String>,
    pub threads: usize,
    /// Peak resident memory of the process (CPU), MiB.
    pub peak_rss_mib: Option<f64>,
    /// The memory model's peak of one step (`scalelab info --memory`), bytes.
    #[serde(default)]
    pub predicted_peak_bytes: Option<u64>,
    /// Measured peak of the same: RSS above the baseline taken just before the
    /// weights were allocated (CPU), the memory pool's high-water mark (CUDA).
    #[serde(default)]
    pub measured_peak_bytes: Option<u64>,
    /// Peak CUDA memory allocated during the timed steps, MiB (like
    /// `torch.cuda.max_memory_allocated`); none on CPU.
    pub peak_gpu_mib: Option<f64>,
}

/// Bench `cfg`; `measured_peak` (FLOP/s, from a device profile) gives `mfu_measured`;
/// `memory_budget` (bytes) caps the predicted peak.
pub fn bench(
    cfg: &RunConfig,
    steps: usize,
    warmup: usize,
    measured_peak: Option<f64>,
    memory_budget: Option<u64>,
) -> Result<BenchResult> {
    if steps == 0 {
        bail!("--steps must be at least 1");
    }
    let dtype = cfg.train.dtype;
    let dev = cfg.train.device.open()?;
    dtype.check_device(&dev)?;
    let cfg = &crate::memory::fit(cfg, &dev, memory_budget)?;
    crate::device::configure_precision(&dev, dtype);
    crate::memory::mark_baseline(&dev);
    let params = Params::init(&cfg.model, cfg.train.seed, dtype.master(), &dev)?;
    let mut opt = AdamW::new(&cfg.optim, &params)?;
    let (b, t, v) = (
        cfg.train.batch_size,
        cfg.model.seq_len,
        cfg.model.vocab_size as u32,
    );
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.train.seed);
    let mut next = || -> Result<Batch> {
        let x: Vec<u32> = (0..b * t).map(|_| rng.random_range(0..v)).collect();
        let y: Vec<u32> = (0..b * t).map(|_| rng.random_range(0..v)).collect();
        Ok(Batch {
            x,
            y,
            batch: b,
            seq_len: t,
        })
    };
    let mut results: Vec<StepResult> = Vec::with_capacity(steps);
    for i in 0..warmup + steps {
        if i == warmup {
            crate::device::gpu_peak_bytes(&dev, true);
        }
        let r = train_step(
            cfg,
            &crate::train::dist::Solo,
            &params,
            &mut opt,
            dtype,
            cfg.optim.lr,
            &mut next,
        )?;
        if i >= warmup {
            results.push(r);
        }
    }
    let n = results.len() as f64;
    let mean = |f: fn(&StepResult) -> f64| results.iter().map(f).sum::<f64>() / n * 1e3;
    let mut totals: Vec<f64> = results
        .iter()
        .map(|r| (r.fwd_s + r.bwd_s + r.opt_s) * 1e3)
        .collect();
    totals.sort_by(f64::total_cmp);
    let ms = totals.iter().sum::<f64>() / n;
    let sf = StepFlops::for_run(cfg);
    let tok_per_s = cfg.tokens_per_step() as f64 / (ms / 1e3);
    let achieved = sf.matmul_step as f64 / (ms / 1e3);
    let catalog = Catalog::load()?;
    let hardware = match &cfg.train.hardware {
        Some(id) => {
            catalog.get(id)?;
            Some(id.clone())
        }
        None if dev.is_cpu() => None,
        None => device_name(&dev).and_then(|n| catalog.detect(&n).map(|(id, _)| id.to_string())),
    };
    let mfu = hardware
        .as_ref()
        .and_then(|id| catalog.entries[id].peak_flops(dtype.peak_field()))
        .map(|p| achieved / p);
    Ok(BenchResult {
        params: param_counts(&cfg.model).total,
        batch_size: b,
        grad_accum: cfg.train.grad_accum,
        micro_batch: cfg.micro_rows(),
        seq_len: t,
        tokens_per_step: cfg.tokens_per_step(),
        warmup_steps: warmup,
        steps,
        ms_per_step: ms,
        ms_per_step_median: totals[totals.len() / 2],
        ms_forward: mean(|r| r.fwd_s),
        ms_backward: mean(|r| r.bwd_s),
        ms_optimizer: mean(|r| r.opt_s),
        tok_per_s,
        matmul_flops_per_step: sf.matmul_step,
        achieved_tflops: achieved / 1e12,
        mfu,
        mfu_measured: measured_peak.map(|p| achieved / p),
        hardware,
        device: device_name(&dev).unwrap_or_else(|| cfg.train.device.to_string()),
        dtype: cfg.train.dtype.to_string(),
        kernels: format!("{:?}", cfg.train.kernels.effective(&dev, dtype.compute())).to_lowercase(),
        cpu_isa: dev.is_cpu().then(|| calibrate::cpu_isa().to_string()),
        gemm: dev
            .is_cpu()
            .then(|| crate::model::fused::gemm_kernels().to_string()),
        threads: rayon::current_num_threads(),
        peak_rss_mib: crate::memory::rss::peak_bytes().map(|b| b as f64 / (1 << 20) as f64),
        predicted_peak_bytes: Some(crate::memory::estimate_peak_bytes(cfg, dev.is_cpu())),
        measured_peak_bytes: crate::memory::measured_peak_bytes(&dev),
        peak_gpu_mib: crate::device::gpu_peak_bytes(&dev, false)
            .map(|b| b as f64 / (1 << 20) as f64),
    })
}
