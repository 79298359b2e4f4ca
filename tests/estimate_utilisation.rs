//! Utilisation inputs of `scalelab estimate`: `--mfu-from` a finished run, and
//! `--hfu` (hardware FLOPs, recomputation counted) against MFU.

mod common;

use common::estimate::{close, error_line, json_ok, scalelab, tmp, write_summary};

#[test]
fn mfu_from_a_run_summary() {
    let d = tmp();
    let run = d.path().join("run");
    write_summary(&run, "0.3125");
    let r = run.to_str().unwrap();
    let j = json_ok(
        d.path(),
        &[
            "--params",
            "7B",
            "--tokens",
            "140B",
            "--mfu-from",
            r,
            "--gpus",
            "8",
        ],
    );
    assert_eq!(j["mfu"].as_f64(), Some(0.3125));
    assert_eq!(
        j["hardware"].as_str(),
        Some("a100-sxm"),
        "hardware taken from the run"
    );
    assert!(j["mfu_source"].as_str().unwrap().contains("summary.json"));
    close(
        j["gpu_hours"].as_f64().unwrap(),
        6.0 * 7e9 * 140e9 / (312e12 * 0.3125) / 3600.0,
        1e-9,
        "GPU-hours at measured MFU",
    );
    assert_eq!(
        j["precision"].as_str(),
        Some("bf16"),
        "the run's dtype picks the peak"
    );
    // An f32 run's MFU is relative to the FP32 peak, and stays so.
    let f32run = d.path().join("f32run");
    write_summary(&f32run, "0.5");
    let text = std::fs::read_to_string(f32run.join("summary.json"))
        .unwrap()
        .replace("\"bf16\"", "\"f32\"");
    std::fs::write(f32run.join("summary.json"), text).unwrap();
    let j = json_ok(
        d.path(),
        &[
            "--params",
            "7B",
            "--tokens",
            "140B",
            "--mfu-from",
            f32run.to_str().unwrap(),
            "--gpus",
            "8",
        ],
    );
    assert_eq!(j["precision"].as_str(), Some("fp32"));
    close(
        j["achieved_flops_per_gpu"].as_f64().unwrap(),
        19.5e12 * 0.5,
        1e-12,
        "f32 run on the FP32 peak",
    );
    // --hardware still wins over the run's.
    let j = json_ok(
        d.path(),
        &[
            "--params",
            "7B",
            "--tokens",
            "140B",
            "--mfu-from",
            r,
            "--hardware",
            "h100-sxm",
            "--gpus",
            "8",
        ],
    );
    assert_eq!(j["hardware"].as_str(), Some("h100-sxm"));
}

// ---- HFU: hardware FLOPs, recomputation counted ----

/// Megatron-LM's 140 TFLOP/s per A100 for GPT-3 (Narayanan et al. 2021) counts the recomputed
/// forward pass: 44.9% HFU is 33.7% MFU, and at 1024 GPUs their 34-day estimate follows.
#[test]
fn hfu_with_full_recompute_is_three_quarters_mfu() {
    fn gpt3<'a>(extra: &[&'a str]) -> Vec<&'a str> {
        let base = [
            "--model",
            "gpt3-175b",
            "--hardware",
            "a100-sxm",
            "--gpus",
            "1024",
        ];
        base.iter().chain(extra).copied().collect()
    }
    let d = tmp();
    let p = d.path();
    let hfu = 140.0 / 312.0;
    let h = format!("{hfu}");
    let j = json_ok(p, &gpt3(&["--hfu", &h, "--recompute", "full"]));
    close(
        j["mfu"].as_f64().unwrap(),
        0.3365,
        0.001,
        "MFU of 140 TFLOP/s",
    );
    close(j["hfu"].as_f64().unwrap(), hfu, 1e-12, "HFU kept");
    assert!(j["mfu_source"].as_str().unwrap().contains("--hfu"));
    close(
        j["wall_days"].as_f64().unwrap(),
        8.0 * 175e9 * 300e9 / (1024.0 * 140e12) / 86400.0,
        0.005,
        "Narayanan et al.'s 8TP/(nX)",
    );
    // Without recomputation HFU = MFU; an MFU with full recompute reports its HFU.
    let j = json_ok(p, &gpt3(&["--hfu", &h]));
    assert_eq!(j["mfu"].as_f64(), Some(hfu));
    let j = json_ok(p, &gpt3(&["--mfu", "0.3", "--recompute", "full"]));
    close(j["hfu"].as_f64().unwrap(), 0.4, 1e-12, "HFU of MFU 0.3");
    let out = scalelab(p, &gpt3(&["--mfu", "0.3", "--recompute", "full"]));
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find(|l| l.contains("HFU (hardware FLOPs)"));
    assert!(line.is_some_and(|l| l.contains("40.0%")), "{text}");
    // Bad values name the flag.
    error_line(p, &gpt3(&["--hfu", "0"]), "--hfu");
    error_line(p, &gpt3(&["--hfu", "1.5"]), "--hfu");
    error_line(p, &gpt3(&["--hfu", "0.4", "--mfu", "0.4"]), "--hfu");
    error_line(p, &gpt3(&["--mfu", "0.8", "--recompute", "full"]), "--mfu");
}
