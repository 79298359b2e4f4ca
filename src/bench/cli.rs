//! `scalelab bench --config FILE [--compare-kernels]`.

use crate::config::args::{with_device, ConfigArgs};
use anyhow::{bail, Result};
use clap::Args;

#[derive(Args, Debug)]
pub struct BenchArgs {
    #[command(flatten)]
    pub cfg: ConfigArgs,
    /// Timed steps.
    #[arg(long, default_value_t = 20)]
    pub steps: usize,
    /// Untimed warm-up steps.
    #[arg(long, default_value_t = 3)]
    pub warmup: usize,
    #[arg(long)]
    pub device: Option<String>,
    #[arg(long)]
    pub dtype: Option<String>,
    #[arg(long)]
    pub json: bool,
    /// Refuse the run when its predicted peak memory exceeds SIZE (e.g. 2GiB, 500MB).
    #[arg(long, value_name = "SIZE")]
    pub memory_budget: Option<String>,
    /// Run the composed reference ops and the fused kernels back to back and print the ratio.
    #[arg(long)]
    pub compare_kernels: bool,
    /// Device profile for MFU against the measured peak (default: $SCALELAB_PROFILE,
    /// else checkpoints/device-profile.json if it exists).
    #[arg(long, value_name = "FILE")]
    pub profile: Option<std::path::PathBuf>,
}

/// `scalelab bench`.
pub fn run(a: BenchArgs) -> Result<i32> {
    let cfg = with_device(a.cfg.load()?, &a.device, &a.dtype, None)?;
    let budget = crate::memory::budget_flag(&a.memory_budget)?;
    if !a.compare_kernels {
        let dev = cfg.train.device.open()?;
        let peak = crate::profile::measured_peak(a.profile.as_deref(), &dev, cfg.train.dtype)?;
        let r = super::bench(&cfg, a.steps, a.warmup, peak.as_ref().ok().copied(), budget)?;
        // After the bench: a bad --steps or config stays a one-line error.
        if let Err(note) = peak {
            eprintln!("note: {note}");
        }
        print_bench(&a, &r)?;
        return Ok(0);
    }
    // Each variant in a fresh process: in one process the second would inherit
    // the first's allocator state and page faults, which biases the ratio.
    let exe = std::env::current_exe()?;
    let mut results = Vec::new();
    for k in ["composed", "fused"] {
        let mut cmd = std::process::Command::new(&exe);
        cmd.args([
            "bench",
            "--json",
            "--steps",
            &a.steps.to_string(),
            "--warmup",
            &a.warmup.to_string(),
            "--config",
        ])
        .arg(&a.cfg.config);
        for s in &a.cfg.set {
            cmd.args(["--set", s]);
        }
        if let Some(p) = &a.profile {
            cmd.arg("--profile").arg(p);
        }
        cmd.args([
            "--set",
            &format!("train.kernels={k}"),
            "--set",
            &format!("train.device={}", cfg.train.device),
            "--set",
            &format!("train.dtype={}", cfg.train.dtype),
        ]);
        let out = cmd.output()?;
        if !out.status.success() {
            bail!(
                "bench with {k} kernels failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        let r: super::BenchResult = serde_json::from_slice(&out.stdout)
            .map_err(|e| anyhow::anyhow!("bench with {k} kernels: unreadable output ({e})"))?;
        print_bench(&a, &r)?;
        results.push(r);
    }
    let ratio = results[1].tok_per_s / results[0].tok_per_s;
    if a.json {
        println!(
            "{}",
            serde_json::json!({ "fused_over_composed_tok_per_s": ratio })
        );
    } else {
        println!(
            "fused / composed: {ratio:.2}× tok/s ({:.0} vs {:.0})",
            results[1].tok_per_s, results[0].tok_per_s
        );
    }
    Ok(0)
}

fn print_bench(a: &BenchArgs, r: &super::BenchResult) -> Result<()> {
    if a.json {
        println!("{}", serde_json::to_string_pretty(r)?);
    } else {
        println!(
            "bench {} [{}]: {} params | {} × {} tokens | {} steps after {} warm-up | {:.1} ms/step (median {:.1}; fwd {:.1}, bwd {:.1}, opt {:.1}) | {:.0} tok/s | {:.3} TFLOP/s | {} | {} threads | peak RSS {}{}",
            a.cfg.config.display(),
            r.kernels,
            r.params,
            r.batch_size * r.grad_accum,
            r.seq_len,
            r.steps,
            r.warmup_steps,
            r.ms_per_step,
            r.ms_per_step_median,
            r.ms_forward,
            r.ms_backward,
            r.ms_optimizer,
            r.tok_per_s,
            r.achieved_tflops,
            crate::fmt::mfu(r.mfu_measured, r.mfu).unwrap_or_else(|| "mfu – (no peak known)".into()),
            r.threads,
            r.peak_rss_mib.map(|m| format!("{m:.0} MiB")).unwrap_or_else(|| "–".into()),
            r.peak_gpu_mib.map(|m| format!(" | peak GPU {m:.0} MiB")).unwrap_or_default(),
        );
        println!(
            "{}",
            crate::memory::predicted_vs_measured(
                r.predicted_peak_bytes,
                r.measured_peak_bytes,
                r.peak_gpu_mib.is_none()
            )
        );
    }
    Ok(())
}

#[derive(Args, Debug)]
pub struct CalibrateArgs {
    /// Device to measure (cpu, cuda, cuda:N).
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Precision of the GEMMs and the bench runs (f32 on CPU; bf16 or tf32 on a GPU).
    #[arg(long, default_value = "f32")]
    pub dtype: String,
    /// Where to write the profile (default: $SCALELAB_PROFILE, else checkpoints/device-profile.json).
    #[arg(long, value_name = "FILE")]
    pub out: Option<std::path::PathBuf>,
    /// Only the GEMM / bandwidth / overhead measurements: no bench runs, no step-time model.
    #[arg(long, conflicts_with = "validate")]
    pub no_fit: bool,
    /// Then bench the held-out shapes and print predicted vs measured ms/step.
    #[arg(long)]
    pub validate: bool,
}

/// The load average, quoted next to every timing (the machine may be shared).
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// Median ms per phase of a bench run of `cfg`.
fn bench_phases(sh: &super::step_model::Shape, cfg: &crate::config::RunConfig) -> Result<[f64; 3]> {
    let r = super::bench(cfg, sh.steps, 2, None, None)?;
    eprintln!(
        "  bench {}: {:.2} ms/step (median; fwd {:.2}, bwd {:.2}, opt {:.2})",
        sh.name, r.ms_per_step_median, r.ms_forward, r.ms_backward, r.ms_optimizer
    );
    Ok(super::step_model::measured_phases(&r))
}

/// `scalelab calibrate`.
pub fn calibrate(a: CalibrateArgs) -> Result<i32> {
    use super::step_model::{self, CALIBRATION, HELD_OUT};
    let spec = crate::device::DeviceSpec::parse(&a.device)
        .map_err(|e| anyhow::anyhow!("--device: {e}"))?;
    let dtype =
        crate::device::DTypeSpec::parse(&a.dtype).map_err(|e| anyhow::anyhow!("--dtype: {e}"))?;
    let dev = spec.open()?;
    dtype
        .check_device(&dev)
        .map_err(|e| anyhow::anyhow!("--dtype: {e}"))?;
    let out = crate::profile::path(a.out.as_deref());
    let t0 = std::time::Instant::now();
    eprintln!(
        "calibrate: {} {} | load average {}",
        a.device,
        dtype,
        load_average()
    );
    let mut p = super::calibrate::measure(&dev, &a.device, dtype, false)?;
    if !a.no_fit {
        eprintln!(
            "calibrate: bench runs of {} calibration shapes",
            CALIBRATION.len()
        );
        let c = step_model::fit_on(&p, &CALIBRATION, bench_phases)?;
        eprintln!(
            "calibrate: fitted {:?} (fit rms error {:.1}%)",
            [c.forward, c.backward, c.optimizer].map(|k| k.as_array()),
            c.fit_rms_error * 100.0
        );
        p.step_model = Some(c);
    }
    p.save(&out)?;
    println!(
        "device profile {}: {} | {} | {} threads | measured peak {:.1} GFLOP/s | {:.1} GB/s | {:.2} µs/op | {:.0} s | load average {}",
        out.display(),
        p.device_name,
        p.dtype,
        p.threads,
        p.peak_flops() / 1e9,
        p.bandwidth_gbs,
        p.op_overhead_us,
        t0.elapsed().as_secs_f64(),
        load_average()
    );
    if a.validate {
        eprintln!(
            "calibrate: bench runs of {} held-out shapes",
            HELD_OUT.len()
        );
        let rows = step_model::validate(&p, &HELD_OUT, |sh, cfg| {
            let ph = bench_phases(sh, cfg)?;
            Ok(ph.iter().sum())
        })?;
        print!("{}", step_model::table(&rows));
        println!(
            "(calibration + validation {:.0} s; load average {})",
            t0.elapsed().as_secs_f64(),
            load_average()
        );
    }
    Ok(0)
}
