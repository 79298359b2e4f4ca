//! `scalelab estimate` dispatch and its subcommands (arguments in [`super::args`]).

pub use super::args::{
    ClaimsArgs, DataParallelArgs, EstimateArgs, EstimateCommand, LawArgs, MfuArgs, OptimumArgs,
    RunArgs,
};
use super::claims;
use super::cost::{self, CostParams};
use super::inference;
use super::law::{self, TokenRule};
use super::parallel;
use super::presets::Presets;
use super::report;
use super::workload::{resolve_tokens, Shape, Tokens, Workload};
use crate::hardware::Catalog;
use anyhow::{anyhow, bail, Result};
use std::path::Path;

pub fn run(a: EstimateArgs) -> Result<i32> {
    match a.command {
        Some(EstimateCommand::Claims(c)) => cmd_claims(c),
        Some(EstimateCommand::Optimum(o)) => cmd_optimum(o),
        Some(EstimateCommand::DataParallel(d)) => cmd_data_parallel(d),
        Some(EstimateCommand::Time(t)) => super::time::run(t),
        None => cmd_estimate(a.run),
    }
}

fn print_json<T: serde::Serialize>(v: &T) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

fn cmd_claims(a: ClaimsArgs) -> Result<i32> {
    let all = claims::all(&Catalog::load()?, &Presets::load()?)?;
    if a.json {
        print_json(&all)?;
    } else {
        report::print_claims(&all);
    }
    Ok(0)
}

fn cmd_optimum(a: OptimumArgs) -> Result<i32> {
    let law = law::resolve(a.law.law.as_deref(), a.law.law_file.as_deref())?;
    let target = match (a.target_loss, a.reference_params) {
        (Some(l), _) => Some(l),
        (None, Some(n)) => Some(inference::loss_of_optimal(&law, n)),
        (None, None) => None,
    };
    if a.compute.is_none() && target.is_none() {
        bail!("give --compute C, or --target-loss L / --reference-params N (with --inference-tokens T)");
    }
    if a.inference_tokens.is_some() && target.is_none() {
        bail!("--inference-tokens needs --target-loss or --reference-params");
    }
    let co = a.compute.map(|c| {
        let (n, d) = law.compute_optimal(c);
        serde_json::json!({"compute": c, "params": n, "tokens": d, "loss": law.loss(n, d)})
    });
    let inf = target
        .map(|t| inference::optimum(&law, t, a.inference_tokens.unwrap_or(0.0)))
        .transpose()?;
    if a.json {
        print_json(
            &serde_json::json!({"law": law, "compute_optimal": co, "inference_optimum": inf}),
        )?;
        return Ok(0);
    }
    report::print_law(&law);
    if let Some(c) = a.compute {
        let (n, d) = law.compute_optimal(c);
        report::print_compute_optimal(&law, c, n, d);
    }
    if let Some(o) = &inf {
        report::print_optimum(o);
    }
    Ok(0)
}

fn cmd_data_parallel(a: DataParallelArgs) -> Result<i32> {
    let cfg = crate::config::RunConfig::load(&a.config, &[])?;
    let dtype = cfg.train.dtype;
    let (m, hw_id) = resolve_mfu(&a.mfu, dtype.peak_field(), Some(&cfg))?;
    if !(m.mfu > 0.0 && m.mfu <= 1.0) {
        bail!("--mfu must be in (0, 1], got {}", m.mfu);
    }
    let cat = Catalog::load()?;
    let hw = cat.get(&hw_id).map_err(|e| anyhow!("--hardware: {e}"))?;
    let precision = a.mfu.precision.clone().unwrap_or(m.precision);
    let peak = hw.peak_flops(&precision).ok_or_else(|| {
        anyhow!("--hardware {hw_id}: no {precision} peak in the catalog; give --precision")
    })?;
    let link = hw.interconnect_gbs.ok_or_else(|| {
        anyhow!("--hardware {hw_id}: no interconnect_gbs in the catalog (a single-device entry)")
    })?;
    let sf = crate::flops::StepFlops::for_run(&cfg);
    let params = crate::model::params::param_counts(&cfg.model).total;
    let grad_bytes = ((params + 1) * dtype.master().size_in_bytes() as u64) as f64;
    let step = parallel::Step {
        flops: sf.matmul_step as f64,
        tokens: cfg.tokens_per_step(),
        grad_bytes,
    };
    let rows = parallel::predict(
        &step,
        peak * m.mfu,
        link,
        &a.ranks.iter().map(|&r| r as usize).collect::<Vec<_>>(),
    );
    // Rank counts `train` would refuse for this config (train.batch_size not divisible).
    let refused: Vec<usize> = rows
        .iter()
        .map(|r| r.ranks)
        .filter(|&w| crate::config::check_ranks(w, cfg.train.batch_size).is_err())
        .collect();
    if a.json {
        return print_json(&serde_json::json!({"config": a.config, "hardware": hw_id, "precision": precision, "mfu": m.mfu, "mfu_source": m.source,
            "interconnect_gbs": link, "params": params, "step": step, "rows": rows, "refused_by_train": refused})).map(|_| 0);
    }
    println!(
        "Data parallel: {} | {} params | {} tokens/step | {:.3e} FLOPs/step",
        a.config.display(),
        crate::fmt::si(params as f64, 3),
        step.tokens,
        step.flops
    );
    println!(
        "{hw_id}: {precision} peak {:.1} TFLOP/s × MFU {:.1}% ({}) | all-reduce of {:.1} MB of gradients per step at {link} GB/s per direction (ring, after the backward)",
        peak / 1e12,
        m.mfu * 100.0,
        m.source,
        grad_bytes / 1e6
    );
    println!(
        "{:>6} {:>12} {:>14} {:>10} {:>12} {:>8} {:>11}",
        "ranks", "compute ms", "all-reduce ms", "step ms", "tok/s", "speedup", "efficiency"
    );
    for r in &rows {
        println!(
            "{:>6} {:>12.2} {:>14.2} {:>10.2} {:>12.0} {:>7.2}× {:>10.1}%{}",
            r.ranks,
            r.compute_ms,
            r.allreduce_ms,
            r.step_ms,
            r.tok_per_s,
            r.speedup,
            r.efficiency * 100.0,
            if refused.contains(&r.ranks) { " *" } else { "" }
        );
    }
    if !refused.is_empty() {
        println!("* train.batch_size = {} is not divisible by these rank counts: `train --ranks` refuses them", cfg.train.batch_size);
    }
    println!("(all-reduce at full link bandwidth without latency: a lower bound; per-GPU MFU held at its 1-GPU value)");
    Ok(0)
}

/// The MFU, hardware and precision from `--profile` (predicted for `cfg`),
/// `--mfu-from`, `--mfu` or the default, with `precision` the default
/// precision when no run or profile names one.
fn resolve_mfu(
    a: &MfuArgs,
    precision: &str,
    cfg: Option<&crate::config::RunConfig>,
) -> Result<(Measured, String)> {
    if let Some(file) = &a.profile {
        let cfg = cfg.ok_or_else(|| {
            anyhow!("--profile needs --config FILE: the step-time model predicts a scalelab config's step")
        })?;
        let (mfu, hw, precision, source) =
            super::time::predicted_mfu(file, cfg, a.hardware.as_deref())?;
        let m = Measured {
            mfu,
            hardware: Some(hw.clone()),
            precision,
            source,
        };
        return Ok((m, hw));
    }
    let m = match (&a.mfu_from, a.mfu) {
        (Some(dir), _) => mfu_from(dir)?,
        (None, Some(mfu)) => Measured {
            mfu,
            hardware: None,
            precision: precision.into(),
            source: "--mfu".into(),
        },
        (None, None) => Measured {
            mfu: cost::DEFAULT_MFU,
            hardware: None,
            precision: precision.into(),
            source: "assumed: Llama 3 405B reached 38–43%".into(),
        },
    };
    let hw_id = a
        .hardware
        .clone()
        .or_else(|| m.hardware.clone())
        .ok_or_else(|| {
            anyhow!("give --hardware ID (a configs/hardware.toml id such as h100-sxm)")
        })?;
    Ok((m, hw_id))
}

/// What `--mfu-from` takes from a finished run.
struct Measured {
    mfu: f64,
    hardware: Option<String>,
    /// The catalog precision whose peak the run's MFU was measured against (its dtype).
    precision: String,
    source: String,
}

/// The measured MFU, hardware and precision of a finished run.
fn mfu_from(dir: &Path) -> Result<Measured> {
    let path = crate::rundir::summary_path(dir);
    let s = crate::rundir::read_summary(dir).map_err(|e| anyhow!("--mfu-from: {e:#}"))?;
    let m = s.mfu.ok_or_else(|| anyhow!("--mfu-from {}: no measured mfu (the run's hardware was not in the catalog); give --mfu", path.display()))?;
    if !(m.is_finite() && m > 0.0 && m <= 1.0) {
        bail!("--mfu-from {}: mfu {m} is not in (0, 1]", path.display());
    }
    let precision = crate::device::DTypeSpec::parse(&s.dtype)
        .map_err(|e| anyhow!("--mfu-from {}: {e}", path.display()))?
        .peak_field()
        .to_string();
    Ok(Measured {
        mfu: m,
        hardware: s.hardware,
        source: format!("measured: {}, {} peak", path.display(), s.dtype),
        precision,
    })
}

fn tokens_choice(a: &RunArgs) -> Result<Tokens> {
    if a.law_file.is_some()
        && a.chinchilla
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
            != Some("fit")
    {
        bail!("--law-file is used with --chinchilla fit");
    }
    Ok(match (a.tokens, a.tokens_per_param, &a.chinchilla) {
        (Some(d), _, _) => Tokens::Count(d),
        (_, Some(r), _) => Tokens::PerParam(r),
        (_, _, Some(name)) => Tokens::Rule(TokenRule::parse(name, a.law_file.as_deref())?),
        _ => Tokens::Published,
    })
}

fn workload(a: &RunArgs) -> Result<Workload> {
    let t = tokens_choice(a)?;
    let mut w = if let Some(id) = &a.model {
        let presets = Presets::load()?;
        Workload::from_preset(id, presets.get(id)?, &t)?
    } else if let Some(n) = a.params {
        let active = a.active_params.unwrap_or(n);
        if active > n {
            bail!("--active-params ({active}) cannot exceed --params ({n})");
        }
        let (d, src) = resolve_tokens(&t, active)?;
        Workload::new(
            &format!("{} params", crate::fmt::si(n, 3)),
            n,
            active,
            None,
            d,
            src,
        )?
    } else if let Some(path) = &a.config {
        let cfg = crate::config::RunConfig::load(path, &[])?.model;
        let n = crate::model::params::param_counts(&cfg).total as f64;
        let (d, src) = resolve_tokens(&t, n)?;
        let shape = Shape {
            n_layer: cfg.n_layer as u64,
            d_model: cfg.d_model as u64,
            n_head: cfg.n_head as u64,
            seq_len: cfg.seq_len as u64,
        };
        let mut w = Workload::new(&path.display().to_string(), n, n, Some(shape), d, src)?;
        w.flops_per_token = crate::flops::StepFlops::new(&cfg, cfg.seq_len, 1).matmul_per_token();
        w.flops_convention = "exact matmul FLOPs per token of the config (scalelab flops)".into();
        w
    } else {
        bail!("give a model: --model NAME, --params N or --config FILE");
    };
    let base = w.shape;
    let pick = |flag: Option<u64>, f: fn(&Shape) -> u64| flag.or(base.as_ref().map(f));
    if let (Some(n_layer), Some(d_model), Some(n_head), Some(seq_len)) = (
        pick(a.n_layer, |s| s.n_layer),
        pick(a.d_model, |s| s.d_model),
        pick(a.n_head, |s| s.n_head),
        pick(a.seq_len, |s| s.seq_len),
    ) {
        let shape = Shape {
            n_layer,
            d_model,
            n_head,
            seq_len,
        };
        shape.validate()?;
        w.shape = Some(shape);
    } else if a.n_layer.is_some()
        || a.d_model.is_some()
        || a.n_head.is_some()
        || a.seq_len.is_some()
    {
        bail!("the activation estimate needs all of --n-layer, --d-model, --n-head, --seq-len");
    }
    Ok(w)
}

fn cmd_estimate(a: RunArgs) -> Result<i32> {
    let w = workload(&a)?;
    let cfg = match (&a.config, &a.mfu.profile) {
        (Some(path), Some(_)) => Some(crate::config::RunConfig::load(path, &[])?),
        _ => None,
    };
    let (m, hw_id) = resolve_mfu(&a.mfu, "bf16", cfg.as_ref())?;
    let (mfu, mfu_source) = match a.hfu {
        Some(h) => (
            cost::mfu_from_hfu(h, a.recompute)?,
            format!(
                "from --hfu {h} with --recompute {}",
                format!("{:?}", a.recompute).to_lowercase()
            ),
        ),
        None => (m.mfu, m.source),
    };
    let cat = Catalog::load()?;
    let hw = cat.get(&hw_id).map_err(|e| anyhow!("--hardware: {e}"))?;
    let mut p = CostParams::new(&hw_id, a.gpus.unwrap_or(1), mfu);
    p.mfu_source = mfu_source;
    p.precision = a.mfu.precision.clone().unwrap_or(m.precision);
    p.price_per_hour = a.price_per_hour;
    p.spot = a.spot;
    p.pue = a.pue;
    p.failure_overhead = a.overhead_failures;
    p.experiment_overhead = a.overhead_experiments;
    p.bytes_per_param = a.bytes_per_param;
    p.recompute = a.recompute;
    p.micro_batch = a.micro_batch;
    let mut e = cost::estimate(&w, hw, &p)?;
    if a.gpus.is_none() {
        p.gpus = e.memory.min_gpus.unwrap_or(1);
        e = cost::estimate(&w, hw, &p)?;
    }
    if a.json {
        print_json(&e)?;
    } else {
        report::print_cost(&e);
        if a.gpus.is_none() {
            println!("(--gpus not given: using the memory minimum, {})", e.gpus);
        }
    }
    Ok(0)
}
