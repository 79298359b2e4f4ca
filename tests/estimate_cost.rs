//! `scalelab estimate` cost arithmetic: GPU-hours, dollars, spot, energy, MoE
//! active/total parameters, memory and minimum GPUs, and `estimate data-parallel`.

mod common;

use common::estimate::{close, error_line, json_ok, scalelab, tmp};
use std::path::Path;

#[test]
fn moe_counts_active_for_flops_and_total_for_memory() {
    let d = tmp();
    let j = json_ok(
        d.path(),
        &[
            "--model",
            "mixtral-8x7b",
            "--tokens",
            "1T",
            "--hardware",
            "h100-sxm",
            "--gpus",
            "64",
        ],
    );
    let (total, active) = (46_702_792_704.0, 12_879_925_248.0);
    close(
        j["training_flops"].as_f64().unwrap(),
        6.0 * active * 1e12,
        1e-12,
        "FLOPs use active",
    );
    close(
        j["memory"]["states_bytes"].as_f64().unwrap(),
        16.0 * total,
        1e-12,
        "memory uses total",
    );
    let j = json_ok(
        d.path(),
        &[
            "--model",
            "deepseek-v3",
            "--hardware",
            "h800",
            "--gpus",
            "2048",
            "--mfu",
            "0.4",
        ],
    );
    close(
        j["training_flops"].as_f64().unwrap(),
        6.0 * 37e9 * 14.8e12,
        1e-12,
        "DeepSeek-V3 FLOPs",
    );
    // --params with --active-params behaves the same way.
    let j = json_ok(
        d.path(),
        &[
            "--params",
            "100B",
            "--active-params",
            "10B",
            "--tokens",
            "1T",
            "--hardware",
            "a100-sxm",
            "--gpus",
            "8",
        ],
    );
    close(
        j["training_flops"].as_f64().unwrap(),
        6e22,
        1e-12,
        "active FLOPs",
    );
    close(
        j["memory"]["states_bytes"].as_f64().unwrap(),
        1.6e12,
        1e-12,
        "total memory",
    );
}

#[test]
fn cost_arithmetic_and_spot() {
    let d = tmp();
    let j = json_ok(
        d.path(),
        &[
            "--model",
            "gpt3-175b",
            "--hardware",
            "a100-sxm",
            "--gpus",
            "1024",
            "--mfu",
            "0.5",
            "--pue",
            "1.2",
        ],
    );
    let hours = 3.15e23 / (312e12 * 0.5) / 3600.0;
    close(j["gpu_hours"].as_f64().unwrap(), hours, 1e-9, "GPU-hours");
    close(
        j["wall_days"].as_f64().unwrap(),
        hours / 1024.0 / 24.0,
        1e-9,
        "days",
    );
    close(
        j["cost_usd"].as_f64().unwrap(),
        hours * 1.79,
        1e-9,
        "on-demand $",
    );
    close(
        j["energy_kwh"].as_f64().unwrap(),
        hours * 0.4 * 1.2,
        1e-9,
        "kWh",
    );
    let j = json_ok(
        d.path(),
        &[
            "--model",
            "gpt3-175b",
            "--hardware",
            "a100-sxm",
            "--gpus",
            "1024",
            "--mfu",
            "0.5",
            "--spot",
        ],
    );
    close(
        j["cost_usd"].as_f64().unwrap(),
        hours * 1.00,
        1e-9,
        "spot $",
    );
    let j = json_ok(
        d.path(),
        &[
            "--model",
            "gpt3-175b",
            "--hardware",
            "a100-sxm",
            "--gpus",
            "1024",
            "--price-per-hour",
            "2.5",
            "--overhead-experiments",
            "3",
        ],
    );
    let o = j["overheads"].as_array().unwrap();
    assert_eq!(o.len(), 2);
    close(
        o[1]["multiplier"].as_f64().unwrap(),
        3.0 / 0.9,
        1e-9,
        "overhead multiplier",
    );
    // Console table mentions the outputs.
    let out = scalelab(
        d.path(),
        &[
            "--model",
            "llama3-8b",
            "--hardware",
            "h100-sxm",
            "--gpus",
            "64",
        ],
    );
    let t = String::from_utf8_lossy(&out.stdout);
    for s in [
        "training FLOPs",
        "GPU-hours",
        "wall-clock",
        "cost (final run)",
        "energy",
        "minimum GPUs",
        "fits one 12 GB consumer GPU",
        "experiments",
    ] {
        assert!(t.contains(s), "console lacks {s}: {t}");
    }
}

#[test]
fn memory_and_minimum_gpus() {
    let d = tmp();
    // 1B params × 16 B = 16 GB of states: two 12 GB cards, not one.
    let j = json_ok(
        d.path(),
        &[
            "--params",
            "1B",
            "--tokens",
            "20B",
            "--hardware",
            "rtx-4070",
            "--gpus",
            "1",
        ],
    );
    let m = &j["memory"];
    assert_eq!(m["states_bytes"].as_f64().unwrap(), 16e9);
    assert!(m["activation_bytes"].is_null());
    assert_eq!(m["min_gpus"].as_u64(), Some(2));
    assert_eq!(m["fits_requested"].as_bool(), Some(false));
    assert_eq!(m["fits_consumer_12gb"].as_bool(), Some(false));
    // 0.5B fits one 12 GB card.
    let j = json_ok(
        d.path(),
        &[
            "--params",
            "0.5B",
            "--tokens",
            "10B",
            "--hardware",
            "rtx-4070",
        ],
    );
    assert_eq!(j["memory"]["fits_consumer_12gb"].as_bool(), Some(true));
    assert_eq!(j["gpus"].as_u64(), Some(1));
    // Activations from the shape: Korthikanti et al. selective = 34·s·b·h per layer.
    let j = json_ok(
        d.path(),
        &[
            "--params",
            "1B",
            "--tokens",
            "20B",
            "--hardware",
            "h100-sxm",
            "--n-layer",
            "24",
            "--d-model",
            "2048",
            "--n-head",
            "16",
            "--seq-len",
            "2048",
            "--micro-batch",
            "2",
        ],
    );
    assert_eq!(
        j["memory"]["activation_bytes"].as_f64().unwrap(),
        34.0 * 2048.0 * 2.0 * 2048.0 * 24.0
    );
    // Without --gpus the memory minimum is used: Llama 3 405B needs ≥ 82 H100s.
    let j = json_ok(
        d.path(),
        &["--model", "llama3-405b", "--hardware", "h100-sxm"],
    );
    let min = j["memory"]["min_gpus"].as_u64().unwrap();
    assert_eq!(j["gpus"].as_u64(), Some(min));
    assert!(min >= (405_853_388_800.0 * 16.0 / 80e9f64).ceil() as u64);
}

/// `estimate data-parallel`: the ring all-reduce formula, and the table for
/// the GPT-2 124M preset on H100 SXM against a hand computation.
#[test]
fn data_parallel_prediction() {
    use scalelab::estimate::parallel::{predict, ring_allreduce_s, Step};
    // 1 GB over 450 GB/s: 2 ranks move the buffer once, many ranks twice.
    assert_eq!(ring_allreduce_s(1e9, 1, 450.0), 0.0);
    close(
        ring_allreduce_s(1e9, 2, 450.0),
        1.0 / 450.0,
        1e-12,
        "2 ranks",
    );
    close(
        ring_allreduce_s(1e9, 1000, 450.0),
        2.0 * 0.999 / 450.0,
        1e-12,
        "1000 ranks",
    );
    let step = Step {
        flops: 1e15,
        tokens: 1 << 16,
        grad_bytes: 5e8,
    };
    let rows = predict(&step, 4e14, 450.0, &[1, 2, 8]);
    close(rows[0].step_ms, 2500.0, 1e-12, "1 rank step");
    close(
        rows[2].step_ms,
        2500.0 / 8.0 + 2.0 * 7.0 / 8.0 * 5e8 / 450e9 * 1e3,
        1e-12,
        "8 ranks step",
    );
    assert!(rows
        .windows(2)
        .all(|w| w[1].efficiency < w[0].efficiency && w[1].tok_per_s > w[0].tok_per_s));

    let dir = tmp();
    let cfg = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/presets/gpt2-124m.toml");
    let v = json_ok(
        dir.path(),
        &[
            "data-parallel",
            "--config",
            cfg.to_str().unwrap(),
            "--hardware",
            "h100-sxm",
            "--precision",
            "bf16",
            "--mfu",
            "0.4",
            "--ranks",
            "1,8",
        ],
    );
    let params = v["params"].as_f64().unwrap();
    close(
        v["step"]["grad_bytes"].as_f64().unwrap(),
        (params + 1.0) * 4.0,
        1e-12,
        "fp32 gradients + loss",
    );
    let r8 = &v["rows"][1];
    let compute = v["step"]["flops"].as_f64().unwrap() / (989.4e12 * 0.4) / 8.0;
    let comm = 2.0 * 7.0 / 8.0 * (params + 1.0) * 4.0 / 450e9;
    close(
        r8["step_ms"].as_f64().unwrap(),
        (compute + comm) * 1e3,
        1e-9,
        "8 × H100 step",
    );
    error_line(
        dir.path(),
        &[
            "data-parallel",
            "--config",
            cfg.to_str().unwrap(),
            "--hardware",
            "cpu",
        ],
        "interconnect_gbs",
    );
    error_line(
        dir.path(),
        &[
            "data-parallel",
            "--config",
            cfg.to_str().unwrap(),
            "--hardware",
            "h100-sxm",
            "--ranks",
            "0",
        ],
        "--ranks",
    );
}
