//! Command-line values: bad flags and values to `train`, `sample` and `bench`.

use super::common::fails;
use super::{run_fails, setup, train_args};

#[test]
fn cli_set_without_equals() {
    let (fx, cfg) = setup();
    let mut a = train_args(&cfg.display().to_string(), &fx.path("o"));
    a.extend(["--set".into(), "lr".into()]);
    run_fails(&fx, a, &["--set", "key=value"]);
}

#[test]
fn cli_halt_after_zero() {
    let (fx, cfg) = setup();
    let mut a = train_args(&cfg.display().to_string(), &fx.path("o"));
    a.extend(["--halt-after".into(), "0".into()]);
    run_fails(&fx, a, &["--halt-after"]);
}

#[test]
fn cli_set_unknown_key() {
    let (fx, cfg) = setup();
    let mut a = train_args(&cfg.display().to_string(), &fx.path("o"));
    a.extend(["--set".into(), "learning_rate=0.1".into()]);
    run_fails(&fx, a, &["learning_rate"]);
}

#[test]
fn cli_unknown_device() {
    let (fx, cfg) = setup();
    let mut a = train_args(&cfg.display().to_string(), &fx.path("o"));
    a.extend(["--device".into(), "tpu".into()]);
    run_fails(&fx, a, &["device", "tpu"]);
}

#[test]
fn cli_half_precision_on_cpu() {
    let (fx, cfg) = setup();
    let mut a = train_args(&cfg.display().to_string(), &fx.path("o"));
    a.extend(["--dtype".into(), "bf16".into()]);
    run_fails(&fx, a, &["dtype", "CUDA"]);
}

#[test]
fn cli_ranks_do_not_divide_batch() {
    let (fx, cfg) = setup();
    let mut a = train_args(&cfg.display().to_string(), &fx.path("o"));
    a.extend(["--ranks".into(), "3".into()]);
    run_fails(&fx, a, &["train.batch_size", "train.ranks", "--ranks"]);
    assert!(
        !fx.path("o").exists(),
        "a refused run must not create its folder"
    );
}

#[test]
fn cli_ranks_zero() {
    let (fx, cfg) = setup();
    let mut a = train_args(&cfg.display().to_string(), &fx.path("o"));
    a.extend(["--ranks".into(), "0".into()]);
    run_fails(&fx, a, &["--ranks"]);
}

#[test]
fn cli_sample_negative_temperature() {
    let (fx, _) = setup();
    fails(
        fx.dir.path(),
        &["sample", "--run", "x", "--temperature", "-1"],
        &["--temperature"],
    );
}

#[test]
fn cli_sample_top_k_zero() {
    let (fx, _) = setup();
    fails(
        fx.dir.path(),
        &["sample", "--run", "x", "--top-k", "0"],
        &["--top-k"],
    );
}

#[test]
fn cli_sample_top_p_out_of_range() {
    let (fx, _) = setup();
    for p in ["0", "1.5", "-0.1", "NaN"] {
        fails(
            fx.dir.path(),
            &["sample", "--run", "x", "--top-p", p],
            &["--top-p"],
        );
    }
}

#[test]
fn cli_bench_zero_steps() {
    let (fx, cfg) = setup();
    fails(
        fx.dir.path(),
        &["bench", "--config", cfg.to_str().unwrap(), "--steps", "0"],
        &["--steps"],
    );
}

#[test]
fn cli_unknown_flag() {
    let (fx, _) = setup();
    fails(
        fx.dir.path(),
        &["train", "--config", "x.toml", "--epochs", "3"],
        &["--epochs"],
    );
}

#[test]
fn cli_non_numeric_value() {
    let (fx, _) = setup();
    fails(
        fx.dir.path(),
        &["sample", "--run", "x", "--tokens", "many"],
        &["many", "--tokens"],
    );
}

#[test]
fn cli_sample_missing_run() {
    let (fx, _) = setup();
    fails(
        fx.dir.path(),
        &["sample", "--run", "no_such_run"],
        &["no_such_run"],
    );
}
