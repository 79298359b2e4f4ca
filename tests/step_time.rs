//! The step-time model and what reads the device profile (issue #16): the
//! prediction grows with the work and its parts add up, the fit recovers the
//! constants of a synthetic device, `estimate time --json`, the MFU the
//! model predicts for `estimate --profile`, MFU labels in train and bench,
//! and the sweep report's predicted against measured ms/step.

mod common;

use common::profile::{self, constants};
use scalelab::bench::step_model::{self, Shape, CALIBRATION, HELD_OUT};
use scalelab::config::RunConfig;
use scalelab::flops::step_time::{self, StepWork};
use scalelab::profile::DeviceProfile;

fn shape(n_layer: usize, d_model: usize, seq_len: usize, vocab: usize, batch: usize) -> RunConfig {
    Shape {
        name: "t",
        n_layer,
        n_head: 2,
        d_model,
        seq_len,
        vocab,
        batch,
        composed: false,
        steps: 1,
    }
    .config("cpu", "f32")
    .unwrap()
}

fn ms(cfg: &RunConfig, p: &DeviceProfile) -> f64 {
    step_time::predict_config(cfg, p).unwrap().ms_per_step
}

#[test]
fn prediction_grows_with_every_kind_of_work() {
    let p = profile::cpu();
    let series: [(&str, Vec<RunConfig>); 5] = [
        (
            "batch",
            [1, 2, 8, 32].map(|b| shape(2, 64, 64, 512, b)).into(),
        ),
        (
            "layers",
            [1, 2, 4, 8].map(|l| shape(l, 64, 64, 512, 4)).into(),
        ),
        (
            "width",
            [32, 64, 128, 512].map(|d| shape(2, d, 64, 512, 4)).into(),
        ),
        (
            "context",
            [64, 128, 256, 512].map(|t| shape(2, 64, t, 512, 4)).into(),
        ),
        (
            "vocab",
            [512, 2048, 8192].map(|v| shape(2, 64, 64, v, 4)).into(),
        ),
    ];
    for (what, cfgs) in series {
        let t: Vec<f64> = cfgs.iter().map(|c| ms(c, &p)).collect();
        assert!(
            t.windows(2).all(|w| w[1] > w[0]),
            "{what}: not increasing {t:?}"
        );
    }
    // Gradient accumulation repeats the micro-steps: more time, same optimizer pass.
    let mut acc = shape(2, 64, 64, 512, 4);
    let one = step_time::predict_config(&acc, &p).unwrap();
    acc.train.grad_accum = 4;
    let four = step_time::predict_config(&acc, &p).unwrap();
    assert!(four.ms_per_step > 3.0 * (one.ms_per_step - one.optimizer.total_ms));
    assert!((four.optimizer.total_ms - one.optimizer.total_ms).abs() < 1e-12);
}

#[test]
fn breakdown_phases_and_components_add_up_to_the_total() {
    let p = profile::cpu();
    for sh in CALIBRATION.iter().chain(&HELD_OUT) {
        let cfg = sh.config("cpu", "f32").unwrap();
        let pr = step_time::predict_config(&cfg, &p).unwrap();
        let b = pr.breakdown();
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs().max(1e-12);
        let parts = b.matmul_ms + b.attention_ms + b.memory_ms + b.overhead_ms + b.optimizer_ms;
        assert!(
            close(parts, pr.ms_per_step),
            "{}: {parts} vs {}",
            sh.name,
            pr.ms_per_step
        );
        for ph in [pr.forward, pr.backward, pr.optimizer] {
            let terms = ph.matmul_ms + ph.attention_ms + ph.memory_ms + ph.overhead_ms;
            assert!(close(terms, ph.total_ms), "{}", sh.name);
        }
        let comp: f64 = pr.components.iter().map(|c| c.ms).sum();
        assert!(close(comp, b.matmul_ms + b.attention_ms), "{}", sh.name);
        assert!(b.matmul_ms > 0.0 && b.memory_ms > 0.0 && b.optimizer_ms > 0.0);
        assert_eq!(pr.kernels, if sh.composed { "composed" } else { "fused" });
    }
}

/// ms per phase of `cfg` on `p` if the device followed `constants()` exactly.
fn synthetic_phases(p: &DeviceProfile, cfg: &RunConfig) -> [f64; 3] {
    let truth = constants();
    let k = [truth.forward, truth.backward, truth.optimizer];
    let terms = StepWork::for_profile(cfg, p).terms(p);
    [0, 1, 2].map(|ph| {
        (0..4)
            .map(|j| terms[ph][j] * k[ph].as_array()[j])
            .sum::<f64>()
            * 1e3
    })
}

#[test]
fn fit_recovers_the_constants_of_a_synthetic_device_and_predicts_held_out_shapes() {
    let mut p = profile::cpu();
    p.step_model = None;
    let c = step_model::fit_on(&p, &CALIBRATION, |_, cfg| Ok(synthetic_phases(&p, cfg))).unwrap();
    let truth = constants();
    for (name, got, want) in [
        ("forward", c.forward, truth.forward),
        ("backward", c.backward, truth.backward),
        ("optimizer", c.optimizer, truth.optimizer),
    ] {
        for (g, w) in got.as_array().iter().zip(want.as_array()) {
            assert!(
                (g - w).abs() <= 1e-6 * w.max(1.0),
                "{name}: fitted {got:?}, true {want:?}"
            );
        }
    }
    assert!(c.fit_rms_error < 1e-9, "{}", c.fit_rms_error);
    assert_eq!(c.fitted_on.len(), CALIBRATION.len());
    p.step_model = Some(c);
    let rows = step_model::validate(&p, &HELD_OUT, |_, cfg| {
        Ok(synthetic_phases(&p, cfg).iter().sum())
    })
    .unwrap();
    assert!(rows.iter().all(|r| r.error.abs() < 1e-9), "{rows:?}");
    assert!(step_model::table(&rows).contains("8 of 8 held-out shapes within 15%"));
}

#[test]
fn fit_needs_four_calibration_runs() {
    let p = profile::cpu();
    let e = step_model::fit_on(&p, &CALIBRATION[..3], |_, cfg| {
        Ok(synthetic_phases(&p, cfg))
    })
    .unwrap_err();
    assert!(e.to_string().contains("at least 4"), "{e}");
}

#[test]
fn estimate_time_json_has_ms_per_step_and_its_breakdown() {
    let dir = tempfile::tempdir().unwrap();
    let p = profile::cpu();
    let file = profile::write(dir.path(), "p.json", &p);
    let config = common::repo_root().join("configs/quickstart.toml");
    let args = [
        "estimate",
        "time",
        "--config",
        config.to_str().unwrap(),
        "--json",
    ];
    // Found through $SCALELAB_PROFILE as through --profile.
    let env = [("SCALELAB_PROFILE", file.to_str().unwrap())];
    let out = common::run_cli(dir.path(), &env, &args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let want = ms(&RunConfig::load(&config, &[]).unwrap(), &p);
    let got = v["ms_per_step"].as_f64().unwrap();
    assert!((got - want).abs() < 1e-9 * want, "{got} vs {want}");
    let b = &v["breakdown"];
    let sum: f64 = [
        "matmul_ms",
        "attention_ms",
        "memory_ms",
        "overhead_ms",
        "optimizer_ms",
    ]
    .iter()
    .map(|k| b[k].as_f64().unwrap())
    .sum();
    assert!((sum - got).abs() < 1e-9 * got);
    assert_eq!(v["kernels"], "fused");
    let mfu = v["mfu_of_measured_peak"].as_f64().unwrap();
    assert!(mfu > 0.0 && mfu < 1.0, "{mfu}");

    let text = common::succeeds(
        dir.path(),
        &[
            "estimate",
            "time",
            "--config",
            config.to_str().unwrap(),
            "--profile",
            file.to_str().unwrap(),
        ],
        "ms per optimizer step",
    );
    assert!(text.contains("of measured peak"), "{text}");
}

#[test]
fn estimate_with_a_gpu_profile_uses_the_predicted_mfu_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let gpu = profile::synthetic("cuda:0", "NVIDIA H100 80GB HBM3", "bf16", 4e14);
    let file = profile::write(dir.path(), "h100.json", &gpu);
    let config = common::repo_root().join("configs/quickstart.toml");
    let cfg = RunConfig::load(&config, &[]).unwrap();
    let (mfu, hw, precision, source) =
        scalelab::estimate::time::predicted_mfu(&file, &cfg, None).unwrap();
    assert_eq!((hw.as_str(), precision.as_str()), ("h100-sxm", "bf16"));
    assert!(
        source.starts_with("predicted by the step-time model"),
        "{source}"
    );
    // MFU = the config's matmul FLOPs per predicted step over the catalog's bf16 peak.
    let flops = scalelab::flops::StepFlops::for_run(&cfg).matmul_step as f64;
    let cat = scalelab::hardware::Catalog::load().unwrap();
    let peak = cat.get("h100-sxm").unwrap().peak_flops("bf16").unwrap();
    let want = flops / (ms(&cfg, &gpu) / 1e3) / peak;
    assert!((mfu - want).abs() < 1e-12, "{mfu} vs {want}");

    let args = [
        "estimate",
        "--config",
        config.to_str().unwrap(),
        "--tokens",
        "1e9",
        "--gpus",
        "1",
    ];
    let with = |extra: &[&str]| {
        let all: Vec<&str> = args.iter().chain(extra).copied().collect();
        let out = common::run_cli(dir.path(), &[], &all);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let e = with(&["--profile", file.to_str().unwrap(), "--json"]);
    assert!((e["mfu"].as_f64().unwrap() - mfu).abs() < 1e-12);
    assert!(e["mfu_source"]
        .as_str()
        .unwrap()
        .contains("step-time model"));
    let assumed = with(&["--hardware", "h100-sxm", "--json"]);
    assert!(assumed["mfu_source"]
        .as_str()
        .unwrap()
        .starts_with("assumed"));
}

#[test]
fn mfu_labels_name_the_peak() {
    use scalelab::fmt::mfu;
    assert_eq!(mfu(Some(0.5), None).unwrap(), "mfu 50.0% of measured peak");
    assert_eq!(mfu(None, Some(0.0123)).unwrap(), "mfu 1.2% of vendor peak");
    assert_eq!(
        mfu(Some(0.4), Some(0.01)).unwrap(),
        "mfu 40.0% of measured peak, 1.0% of vendor peak"
    );
    assert_eq!(mfu(None, None), None);

    // The measured peak applies to runs on the profile's device in its dtype only.
    let dir = tempfile::tempdir().unwrap();
    let p = profile::cpu();
    let file = profile::write(dir.path(), "p.json", &p);
    let dev = candle_core::Device::Cpu;
    let f32 = scalelab::device::DTypeSpec::parse("f32").unwrap();
    let bf16 = scalelab::device::DTypeSpec::parse("bf16").unwrap();
    let peak = scalelab::profile::measured_peak(Some(&file), &dev, f32).unwrap();
    assert_eq!(peak, Ok(p.peak_flops()));
    let note = scalelab::profile::measured_peak(Some(&file), &dev, bf16)
        .unwrap()
        .unwrap_err();
    assert!(note.contains("is for cpu f32, not cpu bf16"), "{note}");
}

#[test]
fn train_records_mfu_of_the_measured_peak() {
    let fx = common::Fixture::new();
    let file = profile::write(fx.dir.path(), "p.json", &profile::cpu());
    let cfg = fx.config(&["train.max_steps=3", "train.eval_every=3"]);
    let mut opts = common::train_opts(fx.path("run"), false, None);
    opts.profile = Some(file);
    let s = scalelab::train::train(&cfg, &opts).unwrap();
    let m = s.mfu_measured.expect("summary.json: mfu_measured");
    assert!(m > 0.0 && m.is_finite(), "{m}");
    assert_eq!(
        s.mfu, None,
        "no vendor peak for a CPU without train.hardware"
    );
    let (steps, _) =
        scalelab::rundir::metrics::read(&scalelab::rundir::metrics_path(&fx.path("run"))).unwrap();
    assert!(steps.iter().all(|r| r.mfu_measured.is_some()));
    let line = scalelab::rundir::metrics::console_line(&steps[0], 3);
    assert!(line.ends_with("of measured peak"), "{line}");
    // Without any peak the step line has no MFU part (the trainer says why once).
    let bare = scalelab::rundir::metrics::StepRecord {
        mfu_measured: None,
        ..steps[0].clone()
    };
    assert!(!scalelab::rundir::metrics::console_line(&bare, 3).contains("mfu"));
}

#[test]
fn bench_labels_its_mfu_and_says_when_there_is_no_profile() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = shape(1, 32, 64, 512, 2);
    std::fs::write(dir.path().join("b.toml"), cfg.to_toml()).unwrap();
    let file = profile::write(dir.path(), "p.json", &profile::cpu());
    let base = [
        "bench", "--config", "b.toml", "--steps", "1", "--warmup", "0",
    ];
    let out = common::run_cli(dir.path(), &[], &base);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no device profile") && err.contains("scalelab calibrate"),
        "{err}"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("mfu – (no peak known)"));
    let mut args = base.to_vec();
    args.extend(["--profile", file.to_str().unwrap()]);
    common::succeeds(dir.path(), &args, "of measured peak");
}

#[test]
fn sweep_report_predicts_every_finished_run() {
    let dir = tempfile::tempdir().unwrap();
    let p = profile::cpu();
    let file = profile::write(dir.path(), "p.json", &p);
    let mut rows = Vec::new();
    for (i, cfg) in [shape(1, 32, 64, 512, 2), shape(2, 64, 128, 1024, 4)]
        .iter()
        .enumerate()
    {
        let run = format!("r{i}");
        let run_dir = dir.path().join("runs").join(&run);
        std::fs::create_dir_all(&run_dir).unwrap();
        std::fs::write(scalelab::rundir::config_path(&run_dir), cfg.to_toml()).unwrap();
        // Measured: 10% slower than predicted.
        let tok_per_s = cfg.tokens_per_step() as f64 / (1.1 * ms(cfg, &p) / 1e3);
        rows.push(
            serde_json::from_value::<scalelab::rundir::results::Row>(serde_json::json!({
                "run": run, "status": "ok", "size": "s", "design": "isoflop", "budget": 1e9,
                "n_layer": cfg.model.n_layer, "d_model": cfg.model.d_model, "params": 1000,
                "non_embedding_params": 100, "tok_per_s": tok_per_s,
            }))
            .unwrap(),
        );
    }
    let pred = scalelab::report::cost_model::predictions(dir.path(), &rows, &p).unwrap();
    assert_eq!(pred.len(), 2);
    for r in &pred {
        assert!((r.error() - (1.0 / 1.1 - 1.0)).abs() < 1e-9, "{r:?}");
    }
    let md = scalelab::report::cost_model::section(dir.path(), &rows, None, Some(&file)).unwrap();
    assert!(md.contains("| r1 |") && md.contains("-9.1%"), "{md}");
    assert!(md.contains("2 of 2 runs within 15%"), "{md}");
}
