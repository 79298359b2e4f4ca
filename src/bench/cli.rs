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
    /// Run the composed reference ops and the fused kernels back to back and print the ratio.
    #[arg(long)]
    pub compare_kernels: bool,
}

/// `scalelab bench`.
pub fn run(a: BenchArgs) -> Result<i32> {
    let cfg = with_device(a.cfg.load()?, &a.device, &a.dtype, None)?;
    if !a.compare_kernels {
        let r = super::bench(&cfg, a.steps, a.warmup)?;
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
            "bench {} [{}]: {} params | {} × {} tokens | {} steps after {} warm-up | {:.1} ms/step (median {:.1}; fwd {:.1}, bwd {:.1}, opt {:.1}) | {:.0} tok/s | {:.3} TFLOP/s | mfu {} | {} threads | peak RSS {}{}",
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
            r.mfu.map(|m| format!("{:.1}%", m * 100.0)).unwrap_or_else(|| "–".into()),
            r.threads,
            r.peak_rss_mib.map(|m| format!("{m:.0} MiB")).unwrap_or_else(|| "–".into()),
            r.peak_gpu_mib.map(|m| format!(" | peak GPU {m:.0} MiB")).unwrap_or_default(),
        );
    }
    Ok(())
}
