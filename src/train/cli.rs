//! `scalelab train --config FILE [--out DIR] [--resume] …`.

use super::{Stopped, TrainOptions};
use crate::config::args::{with_device, ConfigArgs};
use anyhow::Result;
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct TrainArgs {
    #[command(flatten)]
    pub cfg: ConfigArgs,
    /// Run folder (default: checkpoints/<config name>, numbered if taken).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Continue the run in --out from its newest good checkpoint.
    #[arg(long)]
    pub resume: bool,
    /// cpu, cuda, cuda:N or auto (overrides train.device).
    #[arg(long)]
    pub device: Option<String>,
    /// f32, tf32, bf16, f16 (overrides train.dtype).
    #[arg(long)]
    pub dtype: Option<String>,
    /// Data-parallel ranks: GPUs cuda:N… with --features nccl, simulated on CPU (overrides train.ranks).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub ranks: Option<u64>,
    /// Stop with a checkpoint after this step, as if preempted (for resume tests).
    #[arg(long, value_name = "STEP", value_parser = clap::value_parser!(u64).range(1..))]
    pub halt_after: Option<u64>,
    /// No progress bar or per-step lines.
    #[arg(long)]
    pub quiet: bool,
    /// Device profile for MFU against the measured peak (default: $SCALELAB_PROFILE,
    /// else checkpoints/device-profile.json if it exists; see `scalelab calibrate`).
    #[arg(long, value_name = "FILE")]
    pub profile: Option<PathBuf>,
    /// Refuse the run when its predicted peak memory exceeds SIZE (e.g. 2GiB, 500MB).
    #[arg(long, value_name = "SIZE")]
    pub memory_budget: Option<String>,
}

/// `scalelab train`: train, print the summary and (if configured) a sample.
pub fn run(a: TrainArgs) -> Result<i32> {
    let cfg = with_device(a.cfg.load()?, &a.device, &a.dtype, a.ranks)?;
    let out = a
        .out
        .clone()
        .unwrap_or_else(|| crate::rundir::default_run_dir(&a.cfg.config, a.resume));
    let opts = TrainOptions {
        out: out.clone(),
        resume: a.resume,
        halt_after: a.halt_after.map(|s| s as usize),
        quiet: a.quiet,
        profile: a.profile.clone(),
        memory_budget: crate::memory::budget_flag(&a.memory_budget)?,
    };
    let summary = match super::train(&cfg, &opts) {
        Ok(s) => s,
        Err(e) => {
            if let Some(stop) = e.downcast_ref::<Stopped>() {
                eprintln!("{stop}");
                return Ok(stop.exit_code());
            }
            return Err(e);
        }
    };
    println!(
        "done: {} steps, {} tokens, {:.3e} FLOPs in {:.1} s | val loss {:.4} | val bpb {:.4} | {:.0} tok/s{}",
        summary.steps,
        summary.tokens,
        summary.flops,
        summary.wall_s,
        summary.val_loss,
        summary.val_bpb,
        summary.tok_per_s,
        crate::fmt::mfu(summary.mfu_measured, summary.mfu)
            .map(|m| format!(" | {m}"))
            .unwrap_or_default()
    );
    println!(
        "{}",
        crate::memory::predicted_vs_measured(
            summary.predicted_peak_bytes,
            summary.measured_peak_bytes,
            summary.peak_gpu_mib.is_none()
        )
    );
    println!(
        "run folder: {} (metrics.jsonl, summary.json, checkpoints/)",
        out.display()
    );
    if cfg.train.sample_tokens > 0 {
        let opts = crate::sample::SampleOptions {
            tokens: cfg.train.sample_tokens,
            temperature: 0.8,
            top_k: Some(50),
            top_p: None,
            seed: cfg.train.seed,
        };
        let dev = cfg.train.device.open()?;
        let run = crate::rundir::Run::open(&out, None, &dev)?;
        let model = crate::model::Gpt::new(
            &run.cfg.model,
            run.params.var_builder(candle_core::DType::F32, false)?,
        )?;
        let text = crate::sample::generate(
            &model,
            &run.tokenizer,
            &cfg.train.sample_prompt,
            &opts,
            &dev,
        )?;
        println!(
            "--- sample ({} tokens, temperature 0.8, top-k 50) ---\n{text}\n---",
            cfg.train.sample_tokens
        );
    }
    Ok(0)
}
