//! Bad input around training runs (issue #13): config values that used to be
//! accepted, an edited checkpoint state, configs that cannot fit in memory, a
//! one-step run's throughput, and the panic hook. docs/bad-input.md lists the cases.

mod common;

use common::{fails, fails_env, run_cli};
use std::fs;

/// `train --config tiny.toml --out o --quiet` plus `extra`, in the fixture's folder.
fn train<'a>(fx: &'a common::Fixture, extra: &[&'a str]) -> Vec<&'a str> {
    let cfg = fx.config_path.to_str().unwrap();
    let mut a = vec!["train", "--config", cfg, "--out", "o", "--quiet"];
    a.extend(extra);
    a
}

/// `--set KV` for each of `kvs`.
fn sets<'a>(kvs: &[&'a str]) -> Vec<&'a str> {
    kvs.iter().flat_map(|kv| ["--set", kv]).collect()
}

// ---- configs ----

#[test]
fn config_zero_eval_batches() {
    let fx = common::Fixture::new();
    fails(
        fx.dir.path(),
        &train(&fx, &["--set", "train.eval_batches=0"]),
        &["train.eval_batches", "> 0"],
    );
    assert!(!fx.path("o").exists(), "refused only after training");
}

#[test]
fn config_depth_times_aspect_ratio_overflows() {
    let fx = common::Fixture::new();
    let cfg = fx.config_path.to_str().unwrap();
    let e = fails(
        fx.dir.path(),
        &[
            "info",
            "--config",
            cfg,
            "--set",
            "model.depth=4611686018427387904",
        ],
        &["model.depth", "aspect_ratio", "overflows"],
    );
    assert!(!e.contains("must be > 0"), "{e}");
}

// ---- memory ----

/// `train` and `bench` with `--set kvs` are refused at once from the memory
/// estimate (nothing prepared or allocated first), naming `advice`.
fn refused_for_memory(kvs: &[&str], advice: &str) {
    let fx = common::Fixture::new();
    let kvs = sets(kvs);
    let t0 = std::time::Instant::now();
    let expect = ["needs about", "GiB of memory", advice];
    fails(fx.dir.path(), &train(&fx, &kvs), &expect);
    let cfg = fx.config_path.to_str().unwrap();
    let mut bench = vec!["bench", "--config", cfg, "--steps", "1", "--warmup", "0"];
    bench.extend(&kvs);
    fails(fx.dir.path(), &bench, &expect);
    assert!(t0.elapsed().as_secs() < 10 && !fx.path("data").exists());
}

#[test]
fn config_long_sequence_needs_more_memory_than_the_machine_has() {
    refused_for_memory(
        &[
            "model.seq_len=131072",
            "model.n_head=1",
            "model.d_model=8",
            "train.batch_size=1",
        ],
        "lower model.seq_len",
    );
}

#[test]
fn config_huge_model_needs_more_memory_than_the_machine_has() {
    refused_for_memory(
        &[
            "model.n_layer=256",
            "model.d_model=32768",
            "model.n_head=256",
        ],
        "lower model.d_model",
    );
}

#[test]
fn config_quickstart_fits() {
    let root = common::repo_root();
    let cfg =
        scalelab::config::RunConfig::load(&root.join("configs/quickstart.toml"), &[]).unwrap();
    scalelab::memory::check(&cfg, &candle_core::Device::Cpu, None).unwrap();
    assert!(scalelab::memory::estimate_peak_bytes(&cfg, true) < 1 << 30);
}

// ---- checkpoints ----

/// A fixture with a 4-step run in `o` (one checkpoint, step 4).
fn trained_run() -> common::Fixture {
    let fx = common::Fixture::new();
    let cfg = fx.config(&["train.max_steps=4"]);
    scalelab::train::train(&cfg, &common::train_opts(fx.path("o"), false, None)).unwrap();
    fx
}

#[test]
fn checkpoint_state_step_edited() {
    let fx = trained_run();
    let state = fx.path("o/checkpoints/step_00000004/state.json");
    let text = fs::read_to_string(&state).unwrap();
    assert!(text.contains("\"step\": 4,"));
    fs::write(&state, text.replacen("\"step\": 4,", "\"step\": 3,", 1)).unwrap();
    let before = fs::read(fx.path("o/metrics.jsonl")).unwrap();
    fails(
        fx.dir.path(),
        &train(&fx, &["--resume", "--set", "train.max_steps=6"]),
        &["step_00000004", "state.json", "edited"],
    );
    assert_eq!(before, fs::read(fx.path("o/metrics.jsonl")).unwrap());
}

#[test]
fn checkpoint_state_with_a_short_tokenizer_hash() {
    // A state.json of an older version (no state_sha256) whose tokenizer hash was
    // cut short: resuming compared and printed its first 12 bytes (a panic).
    let fx = trained_run();
    let state = fx.path("o/checkpoints/step_00000004/state.json");
    let mut v: serde_json::Value = serde_json::from_slice(&fs::read(&state).unwrap()).unwrap();
    v.as_object_mut().unwrap().remove("state_sha256");
    v["tokenizer_sha256"] = "é1".into();
    fs::write(&state, v.to_string()).unwrap();
    fails(
        fx.dir.path(),
        &train(&fx, &["--resume", "--set", "train.max_steps=6"]),
        &["different tokenizer", "sha256 é1…"],
    );
}

#[test]
fn checkpoint_state_step_disagrees_with_its_folder() {
    // A checkpoint folder renamed by hand: its state.json (intact) says another step.
    let fx = trained_run();
    let ck = fx.path("o/checkpoints");
    fs::rename(ck.join("step_00000004"), ck.join("step_00000005")).unwrap();
    let e = scalelab::rundir::checkpoint::verify(&ck.join("step_00000005")).unwrap_err();
    let e = format!("{e:#}");
    assert!(e.contains("says step 4") && e.contains("step 5"), "{e}");
}

// ---- throughput ----

#[test]
fn run_of_one_step_reports_its_throughput() {
    let fx = common::Fixture::new();
    let out = common::succeeds(
        fx.dir.path(),
        &train(&fx, &["--set", "train.max_steps=1"]),
        "tok/s",
    );
    let s: scalelab::rundir::metrics::Summary =
        scalelab::fsx::read_json(&fx.path("o/summary.json")).unwrap();
    assert!(s.tok_per_s.is_finite() && s.tok_per_s > 0.0, "{out}");
    assert!(!out.contains("NaN"), "{out}");
}

// ---- panics ----

/// A panic (injected) prints one line and the path of its backtrace file, exit 101.
fn panic_reported(ranks: &str) {
    let fx = common::Fixture::new();
    let env = [("SCALELAB_FAULT_PANIC", "1"), ("RUST_BACKTRACE", "1")];
    let args = train(&fx, &["--ranks", ranks]);
    let out = run_cli(fx.dir.path(), &env, &args);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(101), "{stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    let line = lines[0];
    assert!(
        line.starts_with("internal error: injected panic") && line.contains("please report"),
        "{line}"
    );
    let path = line.rsplit(' ').next().unwrap();
    let report = fs::read_to_string(path).unwrap();
    assert!(
        report.contains("location: src/fault.rs") && report.contains("backtrace:"),
        "{report}"
    );
    fs::remove_file(path).unwrap();
    let shown = line.replace(path, "/tmp/scalelab-panic-PID.txt");
    common::log_case_env(
        &[fx.dir.path()],
        "SCALELAB_FAULT_PANIC=1 RUST_BACKTRACE=1 ",
        &args,
        out.status.code(),
        &shown,
    );
}

#[test]
fn panic_on_the_main_thread() {
    panic_reported("1");
}

#[test]
fn panic_on_rank_threads() {
    panic_reported("2");
}

#[test]
fn panic_hook_is_not_run_for_errors() {
    let fx = common::Fixture::new();
    fails_env(
        fx.dir.path(),
        &[("SCALELAB_FAULT_PANIC", "1")],
        &train(&fx, &["--set", "train.batch_size=0"]),
        &["train.batch_size"],
    );
}
