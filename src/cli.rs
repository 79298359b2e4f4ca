//! Command-line interface: argument parsing and dispatch. Each command is a
//! thin wrapper over a library function.

use crate::config::RunConfig;
use crate::data::tokenizer::TokenizerSpec;
use crate::flops::{conventions, StepFlops};
use crate::model::params::param_counts;
use crate::train::{self, TrainOptions};
use anyhow::{bail, Result};
use clap::{Args, Parser, Subcommand};
use std::path::{Path, PathBuf};

#[derive(Parser, Debug)]
#[command(
    name = "scalelab",
    version,
    about = "Train small GPTs, count their FLOPs, fit scaling laws, estimate the cost of big ones"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Train a model from a TOML config.
    Train(TrainArgs),
    /// Dataset preparation.
    #[command(subcommand)]
    Data(DataCommand),
    /// Generate text from a trained run.
    Sample(SampleArgs),
    /// Parameter counts and FLOPs per token of a config.
    Info(ConfigArgs),
    /// Exact FLOP breakdown and the published conventions side by side.
    Flops(FlopsArgs),
    /// Training throughput on synthetic batches.
    Bench(BenchArgs),
    /// Correctness checks on a device: gradients vs finite differences, device vs CPU, bf16/f16 vs fp32.
    Check(CheckArgs),
    /// Run a scaling sweep (IsoFLOP, token or tokens-per-parameter grid).
    Sweep(crate::sweep::cli::SweepArgs),
    /// Training cost, memory and scaling-law estimates; `estimate claims` checks the cost articles.
    Estimate(crate::estimate::cli::EstimateArgs),
    /// Fit scaling laws (Chinchilla approaches 1–3) to a sweep's results CSV.
    Fit(crate::scaling::cli::FitArgs),
    /// Write report.md and charts (SVG + PNG) for a run or sweep folder.
    Report(crate::report::cli::ReportArgs),
    /// Write a run's checkpoint as a Hugging Face GPT-2 folder (config.json, model.safetensors, tokenizer.json).
    Export(crate::interop::cli::ExportArgs),
    /// Read a Hugging Face GPT-2 folder into a new run folder (for `sample`, `logits`, `train --resume`).
    Import(crate::interop::cli::ImportArgs),
    /// Logits of a run's model on given token ids (checks against other implementations).
    Logits(crate::interop::cli::LogitsArgs),
}

#[derive(Args, Debug)]
pub struct ConfigArgs {
    /// TOML config (see configs/).
    #[arg(long)]
    pub config: PathBuf,
    /// Override a config key: `section.key=value` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
}

impl ConfigArgs {
    pub fn load(&self) -> Result<RunConfig> {
        RunConfig::load(&self.config, &self.set)
    }
}

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
}

#[derive(Subcommand, Debug)]
pub enum DataCommand {
    /// Tokenize a corpus into train.bin / val.bin / meta.json / tokenizer.json.
    Prepare(PrepareArgs),
}

#[derive(Args, Debug)]
pub struct PrepareArgs {
    /// Text corpus (plain UTF-8 or .xz).
    #[arg(long)]
    pub corpus: PathBuf,
    /// Output folder (must not already hold a dataset).
    #[arg(long)]
    pub out: PathBuf,
    /// Train a byte-level BPE with this many entries (default 8192).
    #[arg(long, conflicts_with = "tokenizer")]
    pub vocab: Option<usize>,
    /// Existing tokenizer.json, or hf:OWNER/REPO from the Hugging Face cache.
    #[arg(long)]
    pub tokenizer: Option<String>,
}

#[derive(Args, Debug)]
pub struct SampleArgs {
    /// Run folder written by `scalelab train`.
    #[arg(long)]
    pub run: PathBuf,
    #[arg(long, default_value = "\n")]
    pub prompt: String,
    #[arg(long, default_value_t = 200)]
    pub tokens: usize,
    #[arg(long, default_value_t = 0.8, allow_negative_numbers = true)]
    pub temperature: f64,
    #[arg(long)]
    pub top_k: Option<usize>,
    /// Nucleus sampling: keep the most likely tokens up to this total probability, in (0, 1].
    #[arg(long, allow_negative_numbers = true)]
    pub top_p: Option<f64>,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// cpu, cuda, cuda:N or auto.
    #[arg(long, default_value = "cpu")]
    pub device: String,
}

#[derive(Args, Debug)]
pub struct FlopsArgs {
    #[command(flatten)]
    pub cfg: ConfigArgs,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
    /// Also run one instrumented forward pass and compare its matmul count.
    #[arg(long)]
    pub verify: bool,
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// cpu, cuda, cuda:N or auto.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    #[arg(long)]
    pub json: bool,
}

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

/// Run the CLI; the returned code is the process exit status.
pub fn run(cli: Cli) -> Result<i32> {
    match cli.command {
        Command::Train(a) => cmd_train(a),
        Command::Data(DataCommand::Prepare(a)) => cmd_prepare(a),
        Command::Sample(a) => cmd_sample(a),
        Command::Info(a) => cmd_info(a),
        Command::Flops(a) => cmd_flops(a),
        Command::Bench(a) => cmd_bench(a),
        Command::Check(a) => cmd_check(a),
        Command::Sweep(a) => crate::sweep::cli::cmd(a),
        Command::Estimate(a) => crate::estimate::cli::run(a),
        Command::Fit(a) => crate::scaling::cli::run(a),
        Command::Report(a) => crate::report::cli::cmd(a),
        Command::Export(a) => crate::interop::cli::export(a),
        Command::Import(a) => crate::interop::cli::import(a),
        Command::Logits(a) => crate::interop::cli::logits(a),
    }
}

/// Apply `--device` / `--dtype` / `--ranks`; a resulting error names the flags given.
fn with_device(
    mut cfg: RunConfig,
    device: &Option<String>,
    dtype: &Option<String>,
    ranks: Option<u64>,
) -> Result<RunConfig> {
    if let Some(d) = device {
        cfg.train.device = d.clone();
    }
    if let Some(d) = dtype {
        cfg.train.dtype = d.clone();
    }
    if let Some(r) = ranks {
        cfg.train.ranks = r as usize;
    }
    let given: Vec<&str> = [
        (device.is_some(), "--device"),
        (dtype.is_some(), "--dtype"),
        (ranks.is_some(), "--ranks"),
    ]
    .into_iter()
    .filter(|g| g.0)
    .map(|g| g.1)
    .collect();
    if !given.is_empty() {
        cfg.validate()
            .map_err(|e| anyhow::anyhow!("{e} (from {})", given.join("/")))?;
    }
    Ok(cfg)
}

/// `checkpoints/<stem>`, or the first free `checkpoints/<stem>-N` (the newest
/// existing one when resuming).
fn default_run_dir(config: &Path, resume: bool) -> PathBuf {
    let stem = config
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "run".into());
    let base = PathBuf::from("checkpoints");
    let cand = |i: usize| {
        if i == 1 {
            base.join(&stem)
        } else {
            base.join(format!("{stem}-{i}"))
        }
    };
    let taken = |p: &Path| p.join("metrics.jsonl").exists() || p.join("checkpoints").exists();
    let mut i = 1;
    while taken(&cand(i)) {
        i += 1;
    }
    if resume && i > 1 {
        cand(i - 1)
    } else {
        cand(i)
    }
}

fn cmd_train(a: TrainArgs) -> Result<i32> {
    let cfg = with_device(a.cfg.load()?, &a.device, &a.dtype, a.ranks)?;
    let out = a
        .out
        .clone()
        .unwrap_or_else(|| default_run_dir(&a.cfg.config, a.resume));
    let opts = TrainOptions {
        out: out.clone(),
        resume: a.resume,
        halt_after: a.halt_after.map(|s| s as usize),
        quiet: a.quiet,
    };
    let summary = match train::train(&cfg, &opts) {
        Ok(s) => s,
        Err(e) => {
            if let Some(stop) = e.downcast_ref::<train::Stopped>() {
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
        summary.mfu.map(|m| format!(" | mfu {}", crate::fmt::percent(m, 1))).unwrap_or_default()
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
        let dev = crate::device::open_device(&cfg.train.device)?;
        let (rcfg, params, tk) = crate::sample::load_run(&out, &dev)?;
        let model = crate::model::Gpt::new(
            &rcfg.model,
            params.var_builder(candle_core::DType::F32, false)?,
        )?;
        let text = crate::sample::generate(&model, &tk, &cfg.train.sample_prompt, &opts, &dev)?;
        println!(
            "--- sample ({} tokens, temperature 0.8, top-k 50) ---\n{text}\n---",
            cfg.train.sample_tokens
        );
    }
    Ok(0)
}

fn cmd_prepare(a: PrepareArgs) -> Result<i32> {
    let spec_text = match (&a.tokenizer, a.vocab) {
        (Some(t), _) => t.clone(),
        (None, v) => format!("bpe:{}", v.unwrap_or(8192)),
    };
    let spec = TokenizerSpec::parse(&spec_text, 8192)?;
    let meta = crate::data::prepare::prepare(&a.corpus, &a.out, &spec, &spec_text)?;
    println!(
        "prepared {}: vocab {} ({:?}) | train {} tokens / {} bytes | val {} tokens / {} bytes | {:.3} bytes/token",
        a.out.display(),
        meta.vocab_size,
        meta.dtype,
        meta.train.tokens,
        meta.train.bytes,
        meta.val.tokens,
        meta.val.bytes,
        meta.bytes_per_token()
    );
    Ok(0)
}

fn cmd_sample(a: SampleArgs) -> Result<i32> {
    let opts = crate::sample::SampleOptions {
        tokens: a.tokens,
        temperature: a.temperature,
        top_k: a.top_k,
        top_p: a.top_p,
        seed: a.seed,
    };
    opts.validate()?;
    let dev = crate::device::open_device(&a.device)?;
    let (cfg, params, tk) = crate::sample::load_run(&a.run, &dev)?;
    let model = crate::model::Gpt::new(
        &cfg.model,
        params.var_builder(candle_core::DType::F32, false)?,
    )?;
    println!(
        "{}",
        crate::sample::generate(&model, &tk, &a.prompt, &opts, &dev)?
    );
    Ok(0)
}

fn cmd_info(a: ConfigArgs) -> Result<i32> {
    let cfg = a.load()?;
    let m = &cfg.model;
    let pc = param_counts(m);
    let sf = StepFlops::new(
        m,
        m.seq_len,
        (cfg.train.batch_size * cfg.train.grad_accum) as u64,
    );
    println!(
        "model: n_layer {} | n_head {} | d_model {} | seq_len {} | vocab {} | bias {}",
        m.n_layer, m.n_head, m.d_model, m.seq_len, m.vocab_size, m.bias
    );
    println!(
        "parameters: total {} | non-embedding {} | Kaplan 12·L·d² {}",
        pc.total, pc.non_embedding, pc.kaplan_12ld2
    );
    println!(
        "training FLOPs per token: exact {:.4e} (matmul fwd+bwd) | 6N {:.4e} | 6N_total {:.4e}",
        sf.matmul_per_token(),
        6.0 * pc.non_embedding as f64,
        6.0 * pc.total as f64
    );
    println!(
        "per step: {} tokens | {:.4e} matmul FLOPs | {} steps → {:.4e} FLOPs",
        cfg.tokens_per_step(),
        sf.matmul_step as f64,
        train::total_steps(&cfg),
        sf.matmul_step as f64 * train::total_steps(&cfg) as f64
    );
    Ok(0)
}

fn cmd_flops(a: FlopsArgs) -> Result<i32> {
    let cfg = a.cfg.load()?;
    let m = &cfg.model;
    let t = m.seq_len;
    let sf = StepFlops::new(m, t, (cfg.train.batch_size * cfg.train.grad_accum) as u64);
    let conv = conventions(m, t);
    let verify = if a.verify {
        Some(crate::flops::instrumented_forward(m, 1)?)
    } else {
        None
    };
    if a.json {
        let v = serde_json::json!({
            "model": m,
            "params": param_counts(m),
            "step": sf,
            "per_token": {
                "forward_matmul": sf.forward_matmul.total() as f64 / t as f64,
                "training_matmul": sf.matmul_per_token(),
                "training_other": sf.other_step as f64 / sf.tokens() as f64,
            },
            "conventions": conv,
            "instrumented_forward_matmul": verify,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(0);
    }
    let tt = t as f64;
    println!("Exact FLOPs for n_layer {} d_model {} n_head {} vocab {} at T = {t} (per token; ×3 = forward + backward)", m.n_layer, m.d_model, m.n_head, m.vocab_size);
    println!(
        "{:<26} {:>14} {:>14} {:>8}",
        "matmul component", "forward", "fwd+bwd", "share"
    );
    let total = sf.forward_matmul.total() as f64;
    for (name, f) in sf.forward_matmul.components() {
        println!(
            "{:<26} {:>14.4e} {:>14.4e} {:>7.1}%",
            name,
            f as f64 / tt,
            3.0 * f as f64 / tt,
            100.0 * f as f64 / total
        );
    }
    println!(
        "{:<26} {:>14.4e} {:>14.4e} {:>7.1}%",
        "matmul total",
        total / tt,
        3.0 * total / tt,
        100.0
    );
    let o = &sf.forward_other;
    println!("non-matmul (estimates, not in MFU):");
    for (name, f) in [
        ("softmax", o.softmax),
        ("layernorm", o.layernorm),
        ("gelu", o.gelu),
        ("residual/bias adds", o.elementwise),
        ("cross-entropy", o.cross_entropy),
    ] {
        println!(
            "{:<26} {:>14.4e} {:>14.4e}",
            name,
            f as f64 / tt,
            3.0 * f as f64 / tt
        );
    }
    println!(
        "{:<26} {:>14.4e} per parameter per step ({:.4e} per step)",
        "AdamW",
        crate::flops::ADAMW_FLOPS_PER_PARAM as f64,
        sf.adamw_step as f64
    );
    println!(
        "\nPublished conventions (training FLOPs per token) vs exact {:.4e}:",
        sf.matmul_per_token()
    );
    for c in &conv {
        println!(
            "{:<26} {:>14.4e}  ratio {:>6.3}  {}",
            c.name, c.per_token, c.ratio, c.formula
        );
    }
    if let Some(v) = verify {
        println!(
            "\ninstrumented forward pass (batch 1, T = {t}): {} matmuls, {:.6e} FLOPs; analytic {:.6e} → {}",
            v.matmuls,
            v.flops as f64,
            v.analytic as f64,
            if v.flops == v.analytic { "equal" } else { "MISMATCH" }
        );
        if v.flops != v.analytic {
            bail!("instrumented matmul FLOPs differ from the analytic count");
        }
    }
    Ok(0)
}

fn cmd_bench(a: BenchArgs) -> Result<i32> {
    let cfg = with_device(a.cfg.load()?, &a.device, &a.dtype, None)?;
    if !a.compare_kernels {
        let r = crate::bench::bench(&cfg, a.steps, a.warmup)?;
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
        let r: crate::bench::BenchResult = serde_json::from_slice(&out.stdout)
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

fn cmd_check(a: CheckArgs) -> Result<i32> {
    let dev =
        crate::device::open_device(&a.device).map_err(|e| anyhow::anyhow!("--device: {e}"))?;
    let name = crate::device::device_name(&dev).unwrap_or_else(|| a.device.clone());
    let rows = crate::check::run(&dev);
    let failed = rows.iter().filter(|r| !r.pass).count();
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(
                &serde_json::json!({"device": name, "failed": failed, "checks": rows})
            )?
        );
    } else {
        println!("checks on {name}:");
        for r in &rows {
            println!(
                "  {} {:<58} {:>9.2e} (tolerance {:.0e})  {}",
                if r.pass { "ok  " } else { "FAIL" },
                r.check,
                r.value,
                r.tolerance,
                r.detail
            );
        }
        println!("{} of {} checks passed", rows.len() - failed, rows.len());
    }
    Ok(if failed == 0 { 0 } else { 1 })
}

fn print_bench(a: &BenchArgs, r: &crate::bench::BenchResult) -> Result<()> {
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
            crate::fmt::or_dash(r.mfu, |m| crate::fmt::percent(m, 1)),
            r.threads,
            r.peak_rss_mib.map(|m| format!("{m:.0} MiB")).unwrap_or_else(|| "–".into()),
            r.peak_gpu_mib.map(|m| format!(" | peak GPU {m:.0} MiB")).unwrap_or_default(),
        );
    }
    Ok(())
}
