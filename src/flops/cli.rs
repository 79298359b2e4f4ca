//! `scalelab info --config FILE` and `scalelab flops --config FILE [--verify]`.

use super::{conventions, total_steps, StepFlops};
use crate::config::args::ConfigArgs;
use crate::model::params::param_counts;
use anyhow::{bail, Result};
use clap::Args;

/// The two config-describing commands.
pub enum FlopsCommand {
    Info(InfoArgs),
    Flops(FlopsArgs),
}

/// `scalelab info` / `scalelab flops`.
pub fn run(cmd: FlopsCommand) -> Result<i32> {
    match cmd {
        FlopsCommand::Info(a) => info(a),
        FlopsCommand::Flops(a) => flops(a),
    }
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
pub struct InfoArgs {
    #[command(flatten)]
    pub cfg: ConfigArgs,
    /// The training-memory model's breakdown of one step's peak (docs/memory.md).
    #[arg(long)]
    pub memory: bool,
    /// Machine-readable output (with --memory).
    #[arg(long, requires = "memory")]
    pub json: bool,
}

fn info(a: InfoArgs) -> Result<i32> {
    let cfg = a.cfg.load()?;
    if a.memory {
        return memory_info(&cfg, a.json);
    }
    let m = &cfg.model;
    let pc = param_counts(m);
    let sf = StepFlops::for_run(&cfg);
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
        total_steps(&cfg),
        sf.matmul_step as f64 * total_steps(&cfg) as f64
    );
    Ok(0)
}

/// `info --memory`: the predicted peak of one training step on the config's
/// device (a CUDA one when `train.device` names it, or `auto` finds one).
fn memory_info(cfg: &crate::config::RunConfig, json: bool) -> Result<i32> {
    use crate::device::DeviceSpec;
    let cpu = match cfg.train.device {
        DeviceSpec::Cpu => true,
        DeviceSpec::Cuda(_) => false,
        DeviceSpec::Auto => !candle_core::utils::cuda_is_available(),
    };
    let b = crate::memory::breakdown(cfg, cpu);
    if json {
        let v = serde_json::json!({
            "device": if cpu { "cpu" } else { "cuda" },
            "dtype": cfg.train.dtype.to_string(),
            "breakdown": b,
            "states_bytes": b.states() as u64,
            "saved_bytes": b.saved() as u64,
            "backward_bytes": b.backward() as u64,
            "predicted_peak_bytes": b.peak() as u64,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(0);
    }
    println!(
        "training memory, one step on {} in {} with {:?} kernels, recompute {:?} (docs/memory.md):",
        if cpu { "CPU" } else { "CUDA" },
        cfg.train.dtype,
        b.kernels,
        cfg.train.recompute
    );
    for (name, bytes) in b.rows() {
        println!("  {name:<40} {:>12}", crate::fmt::bytes(bytes));
    }
    println!(
        "  {:<40} {:>12}  (peak during backward at: {})",
        "predicted peak",
        crate::fmt::bytes(b.peak()),
        b.transient_at
    );
    Ok(0)
}

fn flops(a: FlopsArgs) -> Result<i32> {
    let cfg = a.cfg.load()?;
    let m = &cfg.model;
    let t = m.seq_len;
    let sf = StepFlops::for_run(&cfg);
    let conv = conventions(m, t);
    let verify = if a.verify {
        Some(super::instrumented_forward(m, 1)?)
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
        super::ADAMW_FLOPS_PER_PARAM as f64,
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
