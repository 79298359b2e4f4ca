//! Bad input to the commands around training (issue #13): `logits`, `report`,
//! `fit` CSVs and `estimate` values whose errors misled or whose output was
//! absurd. docs/bad-input.md lists the cases.

mod common;

use common::{fails, sweep_fails};
use std::fs;

// ---- command-line values ----

#[test]
fn cli_logits_without_tokens_or_prompt() {
    let dir = tempfile::tempdir().unwrap();
    fails(
        dir.path(),
        &["logits", "--run", "t0"],
        &["required", "--tokens", "--prompt"],
    );
}

#[test]
fn cli_estimate_needs_more_gpus_than_a_number_holds() {
    let dir = tempfile::tempdir().unwrap();
    let e = fails(
        dir.path(),
        &[
            "estimate",
            "--params",
            "1e40",
            "--tokens",
            "1e40",
            "--hardware",
            "h100-sxm",
            "--gpus",
            "8",
        ],
        &["GPUs", "--params"],
    );
    assert!(!e.contains("18446744073709551615"), "{e}");
}

#[test]
fn cli_estimate_n_head_does_not_divide_d_model() {
    let dir = tempfile::tempdir().unwrap();
    fails(
        dir.path(),
        &[
            "estimate",
            "--model",
            "llama3-8b",
            "--n-head",
            "7",
            "--d-model",
            "4096",
            "--hardware",
            "h100-sxm",
        ],
        &["--n-head (7)", "--d-model (4096)"],
    );
}

// ---- results CSVs ----

const GOOD: &str =
    "params,tokens,loss\n1e6,2e7,4.0\n3e6,6e7,3.5\n1e7,2e8,3.1\n3e7,6e8,2.8\n1e8,2e9,2.6\n";

/// `fit r.csv` of `text` fails naming the file and each of `expect`.
fn fit_fails(text: &str, expect: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("r.csv"), text).unwrap();
    let mut want = vec!["r.csv"];
    want.extend(expect);
    fails(dir.path(), &["fit", "r.csv", "--bootstrap", "1"], &want);
}

#[test]
fn results_csv_derived_flops_overflow() {
    fit_fails(
        &format!("{GOOD}1e300,1e300,2.85\n"),
        &["row 6 (line 7)", "`params`", "`tokens`", "overflows"],
    );
}

#[test]
fn results_csv_column_given_twice() {
    // Every row has both: which loss the fit used was a guess.
    fit_fails(
        "params,tokens,loss,loss\n1e6,2e7,4.0,9\n3e6,6e7,3.5,9\n1e7,2e8,3.1,9\n3e7,6e8,2.8,9\n",
        &["`loss`", "twice"],
    );
}

#[test]
fn results_csv_curves_column_given_twice() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("r.csv"), GOOD).unwrap();
    fs::write(
        dir.path().join("c.csv"),
        "run,params,params,tokens,loss\na,1,1,2,3\n",
    )
    .unwrap();
    fails(
        dir.path(),
        &["fit", "r.csv", "--curves", "c.csv", "--bootstrap", "1"],
        &["c.csv", "`params`", "twice"],
    );
}

#[test]
fn results_csv_beta2_out_of_range() {
    fit_fails(
        "params,tokens,loss,beta2\n1e6,2e7,4.0,0.95\n3e6,6e7,3.5,1.5\n1e7,2e8,3.1,0.95\n",
        &["row 2 (line 3)", "`beta2`", "(0, 1)"],
    );
}

// ---- sweep specs: hyperparameter axes ----

const AXES_SPEC: &str = "[sizes]\ndepth = [1]\n[design]\nisoflop = [2e8]\n[axes]\n";

#[test]
fn sweep_axis_negative_learning_rate() {
    let fx = common::Fixture::new();
    sweep_fails(
        &fx,
        &format!("{AXES_SPEC}lr = [1e-3, -1e-3]"),
        &["axes.lr", "positive"],
    );
}

#[test]
fn sweep_axis_learning_rates_share_a_run_name() {
    let fx = common::Fixture::new();
    sweep_fails(
        &fx,
        &format!("{AXES_SPEC}lr = [1e-3, 1.001e-3]"),
        &["axes.lr", "each value once", "lr1e-3"],
    );
}

#[test]
fn sweep_axis_beta2_of_one() {
    let fx = common::Fixture::new();
    sweep_fails(
        &fx,
        &format!("{AXES_SPEC}beta2 = [0.99, 1.0]"),
        &["axes.beta2", "(0, 1)"],
    );
}

#[test]
fn sweep_axis_empty_batch_sizes() {
    let fx = common::Fixture::new();
    sweep_fails(
        &fx,
        &format!("{AXES_SPEC}batch_size = []"),
        &["axes.batch_size", "empty"],
    );
}

#[test]
fn sweep_axis_batch_above_the_budget() {
    let fx = common::Fixture::new();
    sweep_fails(
        &fx,
        &format!("{AXES_SPEC}batch_size = [4, 100000]"),
        &["axes.batch_size = 100000", "smaller than one training step"],
    );
}

// ---- reports and written files ----

#[test]
fn report_folder_cannot_be_written() {
    // As root a read-only folder is still writable; a file where the charts
    // folder goes fails the same way: the error must name the path.
    let fx = common::Fixture::new();
    let cfg = fx.config(&["train.max_steps=2"]);
    scalelab::train::train(&cfg, &common::train_opts(fx.path("run"), false, None)).unwrap();
    fs::write(fx.path("run/charts"), "not a folder").unwrap();
    fails(fx.dir.path(), &["report", "run"], &["run/charts"]);
}

#[test]
fn written_file_errors_name_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let blocked = dir.path().join("file");
    fs::write(&blocked, "x").unwrap();
    let target = blocked.join("out.json");
    for e in [
        scalelab::fsx::write_atomic(&target, b"{}").unwrap_err(),
        scalelab::fsx::write_json_atomic(&target, &1).unwrap_err(),
        scalelab::fsx::create_dir_all(&target).unwrap_err(),
    ] {
        assert!(
            format!("{e:#}").contains(&*target.to_string_lossy()),
            "{e:#}"
        );
    }
}

// ---- device profiles (`scalelab calibrate`'s JSON) ----

/// `scalelab <head> --config q.toml <tail…>` (the quickstart config, copied
/// into `dir`) in `dir` with `env` fails with one line naming each of `expect`.
fn config_fails(
    dir: &std::path::Path,
    env: &[(&str, &str)],
    head: &[&str],
    tail: &[&str],
    expect: &[&str],
) {
    fs::copy(
        common::repo_root().join("configs/quickstart.toml"),
        dir.join("q.toml"),
    )
    .unwrap();
    let args: Vec<&str> = head
        .iter()
        .copied()
        .chain(["--config", "q.toml"])
        .chain(tail.iter().copied())
        .collect();
    common::fails_env(dir, env, &args, expect);
}

const TIME: &[&str] = &["estimate", "time"];

/// A profile of `text` in `dir/p.json`: `estimate time --profile p.json`
/// fails naming the file and each of `expect`.
fn profile_text_fails(text: &str, expect: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("p.json"), text).unwrap();
    let mut want = vec!["p.json", "scalelab calibrate"];
    want.extend(expect);
    config_fails(dir.path(), &[], TIME, &["--profile", "p.json"], &want);
}

/// A good profile edited by `edit` (of its JSON): as [`profile_text_fails`].
fn profile_fails(edit: impl FnOnce(&mut serde_json::Value), expect: &[&str]) {
    let mut v = serde_json::to_value(common::profile::cpu()).unwrap();
    edit(&mut v);
    profile_text_fails(&v.to_string(), expect);
}

#[test]
fn profile_none_anywhere() {
    let dir = tempfile::tempdir().unwrap();
    let want = [
        "no device profile",
        "checkpoints/device-profile.json",
        "scalelab calibrate",
    ];
    config_fails(dir.path(), &[], TIME, &[], &want);
}

#[test]
fn profile_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let want = ["missing.json", "scalelab calibrate"];
    config_fails(dir.path(), &[], TIME, &["--profile", "missing.json"], &want);
}

#[test]
fn profile_named_by_the_environment_missing() {
    let dir = tempfile::tempdir().unwrap();
    let env = [("SCALELAB_PROFILE", "gone.json")];
    config_fails(
        dir.path(),
        &env,
        TIME,
        &[],
        &["gone.json", "scalelab calibrate"],
    );
}

#[test]
fn profile_missing_for_bench() {
    let dir = tempfile::tempdir().unwrap();
    let want = ["none.json", "cannot read", "scalelab calibrate"];
    config_fails(
        dir.path(),
        &[],
        &["bench"],
        &["--profile", "none.json"],
        &want,
    );
}

#[test]
fn profile_not_json() {
    profile_text_fails("{\"version\": 1,", &["EOF while parsing", "line 1"]);
}

#[test]
fn profile_wrong_field() {
    profile_fails(
        |v| {
            let bw = v["bandwidth_gbs"].take();
            v.as_object_mut().unwrap().remove("bandwidth_gbs");
            v["bandwidth"] = bw;
        },
        &["unknown field `bandwidth`"],
    );
}

#[test]
fn profile_negative_bandwidth() {
    profile_fails(|v| v["bandwidth_gbs"] = (-3.0).into(), &["bandwidth_gbs"]);
}

#[test]
fn profile_gemm_grid_incomplete() {
    profile_fails(
        |v| {
            v["gemm"].as_array_mut().unwrap().pop();
        },
        &["gemm", "full grid"],
    );
}

#[test]
fn profile_wrong_version() {
    profile_fails(|v| v["version"] = 99.into(), &["version 99"]);
}

#[test]
fn profile_without_step_model() {
    profile_fails(
        |v| v["step_model"] = serde_json::Value::Null,
        &["no fitted step model", "--no-fit"],
    );
}

#[test]
fn profile_for_the_cost_tables() {
    let dir = tempfile::tempdir().unwrap();
    common::profile::write(dir.path(), "cpu.json", &common::profile::cpu());
    let gpu = common::profile::synthetic("cuda:0", "NVIDIA H100 80GB HBM3", "bf16", 4e14);
    common::profile::write(dir.path(), "gpu.json", &gpu);
    let est = |tail: &[&str], want: &[&str]| {
        let mut t = vec!["--tokens", "1e9"];
        t.extend(tail);
        config_fails(dir.path(), &[], &["estimate"], &t, want);
    };
    est(
        &["--profile", "cpu.json"],
        &["--profile cpu.json", "a CPU profile"],
    );
    est(
        &["--profile", "gpu.json", "--hardware", "a100-sxm"],
        &["--profile gpu.json", "h100-sxm", "not --hardware a100-sxm"],
    );
    est(
        &["--profile", "gpu.json", "--mfu", "0.3"],
        &["--profile", "--mfu"],
    );
    fails(
        dir.path(),
        &["estimate", "--model", "llama3-8b", "--profile", "gpu.json"],
        &["--profile needs --config"],
    );
}

#[test]
fn cli_memory_budget_is_not_a_size() {
    let fx = common::Fixture::new();
    let cfg = fx.config_path.to_str().unwrap();
    for bad in ["lots", "0", "-2GiB", "2 parsecs"] {
        let flag = format!("--memory-budget={bad}");
        for cmd in ["train", "bench"] {
            fails(
                fx.dir.path(),
                &[cmd, "--config", cfg, &flag],
                &["--memory-budget", bad, "is not a memory size"],
            );
        }
    }
    assert!(!fx.path("checkpoints").exists());
}
