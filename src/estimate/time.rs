//! `scalelab estimate time --config FILE [--profile FILE] [--json]`: the
//! step-time model's ms per optimizer step of a config on a device profile,
//! with its breakdown; and the MFU it predicts, which `estimate --profile`
//! uses in place of an assumed one.

use crate::config::RunConfig;
use crate::flops::step_time::{self, Breakdown, Component, PhaseTime};
use crate::flops::StepFlops;
use crate::hardware::Catalog;
use crate::profile::{self, DeviceProfile};
use anyhow::{anyhow, bail, Result};
use clap::Args;
use serde::Serialize;
use std::path::{Path, PathBuf};

#[derive(Args, Debug)]
pub struct TimeArgs {
    /// A scalelab training config (model, batch, gradient accumulation, kernels).
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// Device profile of `scalelab calibrate` (default: $SCALELAB_PROFILE, else
    /// checkpoints/device-profile.json).
    #[arg(long, value_name = "FILE")]
    pub profile: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Serialize)]
pub struct Phases {
    pub forward: PhaseTime,
    pub backward: PhaseTime,
    pub optimizer: PhaseTime,
}

/// What `estimate time --json` prints.
#[derive(Debug, Serialize)]
pub struct StepTime {
    pub config: String,
    pub profile: String,
    pub device_name: String,
    pub dtype: String,
    pub kernels: &'static str,
    pub ms_per_step: f64,
    pub tokens_per_step: u64,
    pub tok_per_s: f64,
    /// Exact matmul FLOPs per step (`scalelab flops`).
    pub matmul_flops_per_step: u64,
    /// Against the profile's measured peak (its fastest GEMM).
    pub mfu_of_measured_peak: f64,
    pub breakdown: Breakdown,
    pub phases: Phases,
    pub components: Vec<Component>,
}

/// The prediction for `cfg` (read from `config`) on the profile at `file`.
pub fn step_time(
    config: &Path,
    cfg: &RunConfig,
    file: &Path,
    p: &DeviceProfile,
) -> Result<StepTime> {
    let pred = step_time::predict_config(cfg, p)
        .map_err(|e| anyhow!("device profile {}: {e}", file.display()))?;
    let flops = StepFlops::for_run(cfg).matmul_step;
    let s = pred.ms_per_step / 1e3;
    Ok(StepTime {
        config: config.display().to_string(),
        profile: file.display().to_string(),
        device_name: p.device_name.clone(),
        dtype: p.dtype.clone(),
        kernels: pred.kernels,
        ms_per_step: pred.ms_per_step,
        tokens_per_step: cfg.tokens_per_step(),
        tok_per_s: cfg.tokens_per_step() as f64 / s,
        matmul_flops_per_step: flops,
        mfu_of_measured_peak: flops as f64 / s / p.peak_flops(),
        breakdown: pred.breakdown(),
        phases: Phases {
            forward: pred.forward,
            backward: pred.backward,
            optimizer: pred.optimizer,
        },
        components: pred.components,
    })
}

/// `scalelab estimate time`.
pub fn run(a: TimeArgs) -> Result<i32> {
    let cfg = RunConfig::load(&a.config, &[])?;
    let (file, p) = profile::require(a.profile.as_deref())?;
    let t = step_time(&a.config, &cfg, &file, &p)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&t)?);
        return Ok(0);
    }
    println!(
        "Step time: {} on {} {} ({} kernels; profile {})",
        t.config, t.device_name, t.dtype, t.kernels, t.profile
    );
    println!(
        "  {:<12} {:>10.2} ms per optimizer step ({} tokens: {} tok/s)",
        "predicted",
        t.ms_per_step,
        t.tokens_per_step,
        crate::fmt::si(t.tok_per_s, 1)
    );
    let b = t.breakdown;
    for (name, ms) in [
        ("matmul", b.matmul_ms),
        ("attention", b.attention_ms),
        ("memory", b.memory_ms),
        ("overhead", b.overhead_ms),
        ("optimizer", b.optimizer_ms),
    ] {
        println!(
            "  {name:<12} {ms:>10.2} ms ({})",
            crate::fmt::percent(ms / t.ms_per_step, 1)
        );
    }
    println!(
        "  {:<12} {:>10} of measured peak ({:.1} GFLOP/s)",
        "mfu",
        crate::fmt::percent(t.mfu_of_measured_peak, 1),
        p.peak_flops() / 1e9
    );
    println!("(matmul and attention: forward + backward GEMMs at the measured rates of their shapes; memory and overhead: forward + backward; optimizer: the whole AdamW pass)");
    Ok(0)
}

/// The MFU the step-time model predicts for `cfg` on the GPU a profile
/// measured, against that GPU's vendor peak in the profile's precision:
/// (mfu, hardware id, precision, where it came from).
pub fn predicted_mfu(
    file: &Path,
    cfg: &RunConfig,
    hardware: Option<&str>,
) -> Result<(f64, String, String, String)> {
    let (file, p) = profile::require(Some(file))?;
    let at = format!("--profile {}", file.display());
    if p.device == "cpu" {
        bail!("{at}: a CPU profile ({}); the cost tables need a GPU's (scalelab calibrate --device cuda --dtype bf16 on that GPU)", p.device_name);
    }
    let cat = Catalog::load()?;
    let detected = cat.detect(&p.device_name).map(|(id, _)| id.to_string());
    let hw_id = match (hardware, detected) {
        (Some(h), Some(d)) if h != d => {
            bail!(
                "{at}: measured on {} ({d}), not --hardware {h}",
                p.device_name
            )
        }
        (Some(h), _) => h.to_string(),
        (None, Some(d)) => d,
        (None, None) => bail!(
            "{at}: {} is not in the hardware catalog; give --hardware ID",
            p.device_name
        ),
    };
    let hw = cat.get(&hw_id).map_err(|e| anyhow!("--hardware: {e}"))?;
    let precision = crate::device::DTypeSpec::parse(&p.dtype)?
        .peak_field()
        .to_string();
    let peak = hw
        .peak_flops(&precision)
        .ok_or_else(|| anyhow!("{at}: {hw_id} has no {precision} peak in the catalog"))?;
    let t = step_time(Path::new("--config"), cfg, &file, &p)?;
    let mfu = t.matmul_flops_per_step as f64 / (t.ms_per_step / 1e3) / peak;
    if !(mfu > 0.0 && mfu <= 1.0) {
        bail!("{at}: the predicted MFU {mfu:.3} is not in (0, 1]; the profile does not fit {hw_id}'s catalog peak");
    }
    let source = format!(
        "predicted by the step-time model: {:.2} ms/step on {} {} ({})",
        t.ms_per_step,
        p.device_name,
        p.dtype,
        file.display()
    );
    Ok((mfu, hw_id, precision, source))
}
