//! Console tables for the estimator (the `--json` forms are the structs themselves).

use super::claims::Claim;
use super::cost::CostEstimate;
use super::inference::{Optimum, Plan};
use super::law::Law;
use crate::fmt;

fn row(k: &str, v: impl std::fmt::Display) {
    println!("  {k:<38} {v}");
}

pub fn print_cost(e: &CostEstimate) {
    let w = &e.workload;
    println!(
        "Estimate: {} on {} × {} ({})",
        w.model, e.gpus, e.hardware, e.hardware_name
    );
    if w.params_active < w.params_total {
        row(
            "parameters (total / active)",
            format!(
                "{} / {} (MoE: FLOPs use active, memory uses total)",
                fmt::si(w.params_total, 3),
                fmt::si(w.params_active, 3)
            ),
        );
    } else {
        row("parameters", fmt::si(w.params_total, 3));
    }
    row(
        "training tokens",
        format!(
            "{} ({}; {:.1} tokens/param)",
            fmt::si(w.tokens, 3),
            w.tokens_source,
            w.tokens / w.params_active
        ),
    );
    row(
        "FLOPs per token",
        format!("{:.4e} ({})", w.flops_per_token, w.flops_convention),
    );
    row("training FLOPs", format!("{:.4e}", e.training_flops));
    row(
        "peak per GPU",
        format!(
            "{:.1} TFLOP/s {} dense",
            e.peak_flops_per_gpu / 1e12,
            e.precision
        ),
    );
    row(
        "MFU",
        format!(
            "{} ({}) → {:.1} TFLOP/s per GPU",
            fmt::percent(e.mfu, 1),
            e.mfu_source,
            e.achieved_flops_per_gpu / 1e12
        ),
    );
    if e.hfu != e.mfu {
        row(
            "HFU (hardware FLOPs)",
            format!(
                "{} = MFU × {:.3}: full recomputation runs the forward pass twice",
                fmt::percent(e.hfu, 1),
                e.hfu / e.mfu
            ),
        );
    }
    row(
        "GPU-hours",
        format!("{} ({:.2} GPU-years)", fmt::si(e.gpu_hours, 3), e.gpu_years),
    );
    row(
        "wall-clock",
        format!(
            "{:.2} days on {} GPUs ({:.1} h)",
            e.wall_days,
            e.gpus,
            e.wall_days * 24.0
        ),
    );
    row(
        "price",
        format!(
            "${:.2} per GPU-hour ({})",
            e.price_per_gpu_hour, e.price_source
        ),
    );
    row("cost (final run)", fmt::usd(e.cost_usd));
    match (e.energy_kwh, e.tdp_w) {
        (Some(k), Some(t)) => row(
            "energy",
            format!(
                "{} kWh = {t} W TDP × GPU-hours × PUE {}",
                fmt::si(k, 3),
                e.pue
            ),
        ),
        _ => row("energy", "– (no TDP in the catalog)"),
    }
    let m = &e.memory;
    println!(
        "Memory (training, {} B/param states, recompute {}, micro-batch {}):",
        m.bytes_per_param,
        format!("{:?}", m.recompute).to_lowercase(),
        m.micro_batch
    );
    row("weights+grads+optimizer", fmt::gigabytes(m.states_bytes));
    row(
        "activations",
        m.activation_bytes.map(fmt::gigabytes).unwrap_or_else(|| {
            "– (shape unknown: give --n-layer --d-model --n-head --seq-len)".into()
        }),
    );
    row(
        "total / per GPU",
        format!(
            "{} / {} over {} GPUs",
            fmt::gigabytes(m.total_bytes),
            fmt::gigabytes(m.per_gpu_bytes),
            e.gpus
        ),
    );
    if let (Some(min), Some(mem)) = (m.min_gpus, m.gpu_memory_bytes) {
        let fits = if m.fits_requested == Some(true) {
            "fits"
        } else {
            "DOES NOT FIT"
        };
        row(
            "minimum GPUs (memory)",
            format!(
                "{min} × {} ({} requested: {fits}; fully sharded lower bound)",
                fmt::gigabytes(mem),
                e.gpus
            ),
        );
    }
    row(
        "fits one 12 GB consumer GPU",
        if m.fits_consumer_12gb { "yes" } else { "no" },
    );
    println!("Overheads (defaults from published ranges; override with --overhead-failures / --overhead-experiments):");
    for s in &e.overheads {
        row(
            &s.label,
            format!(
                "{} GPU-h, {}{}",
                fmt::si(s.gpu_hours, 3),
                fmt::usd(s.cost_usd),
                s.energy_kwh
                    .map(|k| format!(", {} kWh", fmt::si(k, 3)))
                    .unwrap_or_default()
            ),
        );
    }
}

fn plan_line(label: &str, p: &Plan) {
    row(
        label,
        format!(
            "N {} × D {} ({:.0} tok/param): train {:.3e} + inference {:.3e} = {:.3e} FLOPs",
            fmt::si(p.params, 3),
            fmt::si(p.train_tokens, 3),
            p.tokens_per_param,
            p.train_flops,
            p.inference_flops,
            p.total_flops
        ),
    );
}

pub fn print_law(l: &Law) {
    // Five decimals keep the unrounded constants apart from the printed two-decimal ones.
    let c = |x: f64| fmt::trimmed(x, 5);
    println!(
        "Law {} ({}): L = {} + {}/N^{} + {}/D^{}",
        l.id,
        l.source,
        c(l.e),
        c(l.a),
        c(l.alpha),
        c(l.b),
        c(l.beta)
    );
}

pub fn print_compute_optimal(l: &Law, c: f64, n: f64, d: f64) {
    row("compute budget", format!("{c:.4e} FLOPs (C = 6ND)"));
    row(
        "N_opt = G·(C/6)^(β/(α+β))",
        format!("{} (G = {:.4})", fmt::si(n, 3), l.g()),
    );
    row(
        "D_opt",
        format!("{} ({:.1} tokens/param)", fmt::si(d, 3), d / n),
    );
    row("predicted loss", format!("{:.4}", l.loss(n, d)));
}

pub fn print_optimum(o: &Optimum) {
    row("target loss", format!("{:.4}", o.target_loss));
    row(
        "inference tokens",
        format!("{} (2N FLOPs each)", fmt::si(o.inference_tokens, 3)),
    );
    plan_line("compute-optimal (no inference)", &o.chinchilla);
    plan_line("training+inference optimum", &o.optimal);
    row(
        "saved",
        format!(
            "{:.3e} FLOPs ({})",
            o.saved_flops,
            fmt::percent(o.saved_fraction, 1)
        ),
    );
}

pub fn print_claims(claims: &[Claim]) {
    for c in claims {
        println!("[{}] {}", c.id, c.claim);
        println!("    recomputed: {}", c.recomputation);
        println!("    verdict:    {}", c.verdict.as_str());
        println!("    assumption: {}", c.assumption);
    }
    let count = |v: &str| claims.iter().filter(|c| c.verdict.as_str() == v).count();
    println!(
        "{} claims: {} consistent, {} inconsistent, {} unverifiable",
        claims.len(),
        count("consistent"),
        count("inconsistent"),
        count("unverifiable")
    );
}
