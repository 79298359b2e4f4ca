//! Console tables for the estimator (the `--json` forms are the structs themselves).

use super::claims::Claim;
use super::cost::CostEstimate;
use super::inference::{Optimum, Plan};
use super::law::Law;

/// 1234567 → "1.23M" (k, M, B, T, P, E; plain below 1000).
pub fn si(v: f64) -> String {
    const UNITS: [(f64, &str); 6] = [
        (1e18, "E"),
        (1e15, "P"),
        (1e12, "T"),
        (1e9, "B"),
        (1e6, "M"),
        (1e3, "k"),
    ];
    UNITS
        .iter()
        .find(|(s, _)| v.abs() >= *s)
        .map(|(s, u)| format!("{:.3}{u}", v / s))
        .unwrap_or_else(|| format!("{v:.3}"))
}

pub fn usd(v: f64) -> String {
    if v >= 1e6 {
        format!("${:.2}M", v / 1e6)
    } else if v >= 1e3 {
        format!("${:.1}k", v / 1e3)
    } else {
        format!("${v:.2}")
    }
}

pub fn gb(bytes: f64) -> String {
    format!("{:.1} GB", bytes / 1e9)
}

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
                si(w.params_total),
                si(w.params_active)
            ),
        );
    } else {
        row("parameters", si(w.params_total));
    }
    row(
        "training tokens",
        format!(
            "{} ({}; {:.1} tokens/param)",
            si(w.tokens),
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
            "{:.1}% ({}) → {:.1} TFLOP/s per GPU",
            100.0 * e.mfu,
            e.mfu_source,
            e.achieved_flops_per_gpu / 1e12
        ),
    );
    row(
        "GPU-hours",
        format!("{} ({:.2} GPU-years)", si(e.gpu_hours), e.gpu_years),
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
    row("cost (final run)", usd(e.cost_usd));
    match (e.energy_kwh, e.tdp_w) {
        (Some(k), Some(t)) => row(
            "energy",
            format!("{} kWh = {t} W TDP × GPU-hours × PUE {}", si(k), e.pue),
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
    row("weights+grads+optimizer", gb(m.states_bytes));
    row(
        "activations",
        m.activation_bytes.map(gb).unwrap_or_else(|| {
            "– (shape unknown: give --n-layer --d-model --n-head --seq-len)".into()
        }),
    );
    row(
        "total / per GPU",
        format!(
            "{} / {} over {} GPUs",
            gb(m.total_bytes),
            gb(m.per_gpu_bytes),
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
                gb(mem),
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
                si(s.gpu_hours),
                usd(s.cost_usd),
                s.energy_kwh
                    .map(|k| format!(", {} kWh", si(k)))
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
            si(p.params),
            si(p.train_tokens),
            p.tokens_per_param,
            p.train_flops,
            p.inference_flops,
            p.total_flops
        ),
    );
}

pub fn print_law(l: &Law) {
    println!(
        "Law {} ({}): L = {} + {}/N^{} + {}/D^{}",
        l.id, l.source, l.e, l.a, l.alpha, l.b, l.beta
    );
}

pub fn print_compute_optimal(l: &Law, c: f64, n: f64, d: f64) {
    row("compute budget", format!("{c:.4e} FLOPs (C = 6ND)"));
    row(
        "N_opt = G·(C/6)^(β/(α+β))",
        format!("{} (G = {:.4})", si(n), l.g()),
    );
    row("D_opt", format!("{} ({:.1} tokens/param)", si(d), d / n));
    row("predicted loss", format!("{:.4}", l.loss(n, d)));
}

pub fn print_optimum(o: &Optimum) {
    row("target loss", format!("{:.4}", o.target_loss));
    row(
        "inference tokens",
        format!("{} (2N FLOPs each)", si(o.inference_tokens)),
    );
    plan_line("Chinchilla-optimal", &o.chinchilla);
    plan_line("training+inference optimum", &o.optimal);
    row(
        "saved",
        format!(
            "{:.3e} FLOPs ({:.1}%)",
            o.saved_flops,
            100.0 * o.saved_fraction
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
