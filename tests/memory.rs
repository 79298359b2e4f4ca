//! The training-memory model (src/memory/): how the prediction moves with the
//! shape and the kernels, `info --memory --json`, and the refusal before
//! anything is allocated or written (`--memory-budget`). Its accuracy against
//! the live heap is tests/memory_heap.rs.

mod common;

use scalelab::config::RunConfig;
use scalelab::memory::{breakdown, estimate_peak_bytes};

fn cfg(sets: &[&str]) -> RunConfig {
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    RunConfig::load(&common::repo_root().join("configs/quickstart.toml"), &sets).unwrap()
}

#[test]
fn prediction_grows_with_batch_sequence_and_width() {
    let base = breakdown(&cfg(&[]), true);
    for (set, what) in [
        ("train.batch_size=32", "batch"),
        ("model.seq_len=256", "sequence"),
        ("model.d_model=256", "width"),
    ] {
        let b = breakdown(&cfg(&[set]), true);
        assert!(b.peak() > base.peak(), "{what}: {b:?}");
        assert!(b.activations > base.activations, "{what}");
    }
    // Per-token tensors are linear in the batch, the T×T matrices quadratic in T.
    let b2 = breakdown(&cfg(&["train.batch_size=32"]), true);
    assert!((b2.activations / base.activations - 2.0).abs() < 1e-12);
    assert!((b2.attention / base.attention - 2.0).abs() < 1e-12);
    let t2 = breakdown(&cfg(&["model.seq_len=256"]), true);
    assert!((t2.attention / base.attention - 4.0).abs() < 1e-12);
    // Weights, gradients and moments do not depend on the batch.
    assert_eq!(b2.states(), base.states());
    let w2 = breakdown(&cfg(&["model.d_model=256"]), true);
    assert!(w2.states() > 3.0 * base.states());
}

#[test]
fn composed_kernels_keep_more_than_fused() {
    let f = breakdown(&cfg(&[]), true);
    let c = breakdown(&cfg(&["train.kernels=composed"]), true);
    assert_eq!(format!("{:?}", f.kernels), "Fused");
    assert!(c.activations > 3.0 * f.activations, "{f:?} {c:?}");
    assert!(c.attention >= 6.0 * f.attention);
    assert!(c.kept_gradients > 0.0 && f.kept_gradients == 0.0);
    assert!(c.peak() > f.peak());
    // On a GPU the fused kernels do not apply: both settings give the composed model.
    let g = breakdown(&cfg(&["train.dtype=bf16"]), false);
    assert_eq!(format!("{:?}", g.kernels), "Composed");
    assert!(g.weights_compute_copy > 0.0);
}

#[test]
fn recompute_keeps_only_the_block_boundaries() {
    for kernels in ["fused", "composed"] {
        let k = format!("train.kernels={kernels}");
        let sets = ["model.n_layer=6", &k];
        let plain = breakdown(&cfg(&sets), true);
        let r = breakdown(
            &cfg(&[&sets[..], &["train.recompute=blocks"]].concat()),
            true,
        );
        // 7 boundaries of 16 rows × 128 positions × 128 wide, f32.
        assert_eq!(r.activations, 7.0 * 16.0 * 128.0 * 128.0 * 4.0, "{kernels}");
        assert_eq!((r.attention, r.logits), (0.0, 0.0), "{kernels}");
        assert!(r.segment > 0.0 && plain.segment == 0.0, "{kernels}");
        assert_eq!(r.states(), plain.states());
        assert!(r.peak() < 0.75 * plain.peak(), "{kernels}: {r:?} {plain:?}");
        // The saving grows with depth: one block is recomputed at a time.
        let deep = |s: &str| breakdown(&cfg(&["model.n_layer=12", &k, s]), true).peak();
        let saved = deep("train.recompute=none") - deep("train.recompute=blocks");
        assert!(saved > plain.peak() - r.peak(), "{kernels}");
    }
}

#[test]
fn gradient_accumulation_keeps_a_second_set_of_gradients() {
    let one = breakdown(&cfg(&[]), true);
    let acc = breakdown(&cfg(&["train.grad_accum=4"]), true);
    assert_eq!(acc.accumulated_gradients, one.gradients);
    assert_eq!(acc.saved(), one.saved());
}

#[test]
fn info_memory_json_has_the_predicted_peak() {
    let dir = tempfile::tempdir().unwrap();
    let config = common::repo_root().join("configs/quickstart.toml");
    let args = [
        "info",
        "--config",
        config.to_str().unwrap(),
        "--memory",
        "--json",
    ];
    let out = common::run_cli(dir.path(), &[], &args);
    assert!(out.status.success(), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let peak = v["predicted_peak_bytes"].as_u64().unwrap();
    assert_eq!(peak, estimate_peak_bytes(&cfg(&[]), true));
    assert!(v["breakdown"]["activations"].as_f64().unwrap() > 0.0);
    let text = common::run_cli(dir.path(), &[], &args[..4]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("predicted peak") && text.contains("AdamW moments"),
        "{text}"
    );
}

#[test]
fn config_over_budget_runs_are_refused_before_anything_is_written() {
    let fx = common::Fixture::new();
    let cfg_path = fx.config_path.to_str().unwrap();
    // A run folder with files from before: they must survive the refusal.
    let run = fx.path("run");
    std::fs::create_dir_all(&run).unwrap();
    std::fs::write(run.join("summary.json"), "{\"kept\": true}").unwrap();
    let expect = ["needs about", "--memory-budget allows 1.0 MiB", "; lower "];
    for out in ["run", "fresh"] {
        let args = [
            "train",
            "--config",
            cfg_path,
            "--out",
            out,
            "--quiet",
            "--memory-budget",
            "1MiB",
        ];
        common::fails(fx.dir.path(), &args, &expect);
    }
    assert_eq!(
        std::fs::read_to_string(run.join("summary.json")).unwrap(),
        "{\"kept\": true}"
    );
    assert_eq!(std::fs::read_dir(&run).unwrap().count(), 1);
    assert!(!fx.path("fresh").exists() && !fx.path("data").exists());
    let bench = [
        "bench",
        "--config",
        cfg_path,
        "--steps",
        "1",
        "--memory-budget",
        "1MiB",
    ];
    common::fails(fx.dir.path(), &bench, &expect);
    // A budget is held to the prediction plus, on CPU, what the resident
    // memory holds beyond the tensors: just above that lets the config through.
    let c = RunConfig::load(&fx.config_path, &[]).unwrap();
    let need = need(&c);
    assert!(need > estimate_peak_bytes(&c, true) as f64 * 1.1);
    let dev = candle_core::Device::Cpu;
    scalelab::memory::check(&c, &dev, Some(need as u64 + 1)).unwrap();
    assert!(scalelab::memory::check(&c, &dev, Some(need as u64 - 1)).is_err());
}

fn need(c: &RunConfig) -> f64 {
    scalelab::memory::need_bytes(&breakdown(c, true), true)
}

/// Per-step training losses of a 3-step run of the fixture with `sets`.
fn losses(fx: &common::Fixture, out: &str, sets: &[&str]) -> Vec<f64> {
    let mut all = vec!["train.max_steps=3"];
    all.extend(sets);
    let cfg = fx.config(&all);
    let dir = fx.path(out);
    scalelab::train::train(&cfg, &common::train_opts(dir.clone(), false, None)).unwrap();
    let (steps, _) =
        scalelab::rundir::metrics::read(&scalelab::rundir::metrics_path(&dir)).unwrap();
    steps.iter().map(|s| s.loss).collect()
}

#[test]
fn micro_batches_give_the_losses_of_the_whole_batch() {
    let fx = common::Fixture::new();
    let whole = losses(&fx, "whole", &[]);
    for (out, sets) in [
        ("rows1", vec!["train.micro_batch=1"]),
        (
            "rows2",
            vec!["train.micro_batch=2", "train.kernels=composed"],
        ),
    ] {
        let split = losses(&fx, out, &sets);
        assert_eq!(split.len(), whole.len());
        for (a, b) in whole.iter().zip(&split) {
            assert!(
                (a - b).abs() <= 1e-5 * a.abs(),
                "{sets:?}: {whole:?} vs {split:?}"
            );
        }
    }
    // The config in the run folder keeps "auto"; the run trains with rows that fit.
    let cfg = fx.config(&["train.micro_batch=auto"]);
    let dev = candle_core::Device::Cpu;
    let at = |rows: &str| need(&fx.config(&[&format!("train.micro_batch={rows}")])).ceil() as u64;
    let (two, four) = (at("2"), at("4"));
    assert!(two < four);
    let fitted = scalelab::memory::fit(&cfg, &dev, Some((two + four) / 2)).unwrap();
    assert_eq!(fitted.micro_rows(), 2);
    assert_eq!(
        scalelab::memory::fit(&cfg, &dev, Some(four))
            .unwrap()
            .micro_rows(),
        4
    );
    assert!(scalelab::memory::fit(&cfg, &dev, Some(at("1") - 1)).is_err());
}

#[test]
fn config_micro_batch_neither_auto_nor_a_divisor() {
    let fx = common::Fixture::new();
    let cfg = fx.config_path.to_str().unwrap();
    for (set, expect) in [
        ("train.micro_batch=3", "must divide the 4 rows"),
        ("train.micro_batch=0", "must divide the 4 rows"),
        (
            "train.micro_batch=most",
            "must be \"auto\" or a number of rows",
        ),
        ("train.micro_batch=-1", "a positive integer"),
        ("train.micro_batch=1.5", "a positive integer"),
    ] {
        let args = [
            "train", "--config", cfg, "--out", "o", "--quiet", "--set", set,
        ];
        common::fails(fx.dir.path(), &args, &["train.micro_batch", expect]);
    }
    assert!(!fx.path("o").exists());
}

/// `micro_batch = "auto"` under `--memory-budget`: the rows it picks keep
/// the measured peak (RSS above the baseline, evaluation included) under
/// each of three budgets.
#[test]
fn auto_micro_batch_keeps_the_measured_peak_under_the_budget() {
    let fx = common::Fixture::new();
    let shape = [
        "model.d_model=128",
        "model.n_head=4",
        "model.n_layer=4",
        "model.seq_len=64",
        "train.batch_size=16",
    ];
    let cfg = fx.config_path.to_str().unwrap();
    for rows in [2, 4, 16] {
        let at = format!("train.micro_batch={rows}");
        let budget = need(&fx.config(&[&shape[..], &[at.as_str()]].concat())) as u64 + (1 << 20);
        let out = format!("auto{rows}");
        let budget_arg = budget.to_string();
        let mut args = vec![
            "train",
            "--config",
            cfg,
            "--out",
            &out,
            "--memory-budget",
            &budget_arg,
        ];
        for s in shape.iter().chain(&[
            "train.micro_batch=auto",
            "train.max_steps=2",
            "train.eval_every=1",
        ]) {
            args.extend(["--set", s]);
        }
        let run = common::run_cli(fx.dir.path(), &[], &args);
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert!(run.status.success(), "{stderr}");
        assert!(
            stderr.contains(&format!("{rows} rows per forward")) || rows == 16,
            "{stderr}"
        );
        let summary: serde_json::Value =
            serde_json::from_slice(&std::fs::read(fx.path(&out).join("summary.json")).unwrap())
                .unwrap();
        let measured = summary["measured_peak_bytes"].as_u64().unwrap();
        eprintln!("{rows} rows: measured {measured} B, budget {budget} B");
        assert!(
            measured < budget,
            "{rows} rows: measured {measured} over the budget {budget}"
        );
    }
}
