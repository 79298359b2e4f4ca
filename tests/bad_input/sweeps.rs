//! Sweep specs: contradictory, empty or malformed designs, and sweep folders.

use std::fs;

use super::common::{fails, sweep_fails};
use super::{run_ok, setup};

#[test]
fn sweep_contradictory_designs() {
    let (fx, _) = setup();
    sweep_fails(
        &fx,
        "[sizes]\ndepth = [1]\n[design]\nisoflop = [2e8]\ntokens = [1e5]",
        &["contradictory"],
    );
}

#[test]
fn sweep_no_design() {
    let (fx, _) = setup();
    sweep_fails(
        &fx,
        "[sizes]\ndepth = [1]\n[design]",
        &["design", "isoflop"],
    );
}

#[test]
fn sweep_empty_budgets() {
    let (fx, _) = setup();
    sweep_fails(
        &fx,
        "[sizes]\ndepth = [1]\n[design]\nisoflop = []",
        &["design.isoflop", "empty"],
    );
}

#[test]
fn sweep_negative_budget() {
    let (fx, _) = setup();
    sweep_fails(
        &fx,
        "[sizes]\ndepth = [1]\n[design]\ntokens = [1e5, -1e5]",
        &["design.tokens", "positive"],
    );
}

#[test]
fn sweep_no_sizes() {
    let (fx, _) = setup();
    sweep_fails(&fx, "[sizes]\n[design]\nisoflop = [2e8]", &["sizes"]);
}

#[test]
fn sweep_zero_depth() {
    let (fx, _) = setup();
    sweep_fails(
        &fx,
        "[sizes]\ndepth = [0, 1]\n[design]\nisoflop = [2e8]",
        &["sizes.depth", "> 0"],
    );
}

#[test]
fn sweep_inverted_tokens_per_param_range() {
    let (fx, _) = setup();
    sweep_fails(
        &fx,
        "[sizes]\ndepth = [1]\n[design]\nisoflop = [2e8]\ntokens_per_param_range = [40, 10]",
        &["tokens_per_param_range"],
    );
}

#[test]
fn sweep_tokens_per_param_range_leaves_no_runs() {
    let (fx, _) = setup();
    sweep_fails(
        &fx,
        "[sizes]\ndepth = [1]\n[design]\nisoflop = [2e8]\ntokens_per_param_range = [1e6, 2e6]",
        &["tokens_per_param_range", "no runs"],
    );
}

#[test]
fn sweep_budget_below_one_step() {
    let (fx, _) = setup();
    sweep_fails(
        &fx,
        "[sizes]\ndepth = [1]\n[design]\nisoflop = [1e3]",
        &["design.isoflop", "smaller than one training step"],
    );
}

#[test]
fn sweep_unknown_key() {
    let (fx, _) = setup();
    sweep_fails(
        &fx,
        "[sizes]\ndepth = [1]\n[design]\nisoflops = [2e8]",
        &["isoflops"],
    );
}

#[test]
fn sweep_malformed_toml() {
    let (fx, _) = setup();
    sweep_fails(&fx, "[sizes]\ndepth = [1,\n[design]\nisoflop = [2e8]", &[]);
}

#[test]
fn sweep_base_config_missing() {
    let (fx, _) = setup();
    fs::write(
        fx.path("spec.toml"),
        "base = \"nope.toml\"\n[sizes]\ndepth = [1]\n[design]\nisoflop = [2e8]\n",
    )
    .unwrap();
    fails(
        fx.dir.path(),
        &["sweep", "spec.toml", "--out", "sw", "--quiet"],
        &["nope.toml"],
    );
    assert!(!fx.path("sw").exists());
}

#[test]
fn sweep_folder_made_by_another_spec() {
    let (fx, _) = setup();
    let spec = |budget: &str| {
        format!("base = \"{}\"\nset = [\"model.aspect_ratio=16\", \"model.head_dim=16\"]\n[sizes]\ndepth = [1]\n[design]\nisoflop = [{budget}]\n", fx.config_path.display())
    };
    fs::write(fx.path("a.toml"), spec("2e8")).unwrap();
    run_ok(&fx, ["sweep", "a.toml", "--out", "sw", "--jobs"]);
    let before = fs::read(fx.path("sw/spec.toml")).unwrap();
    fs::write(fx.path("b.toml"), spec("4e8")).unwrap();
    fails(
        fx.dir.path(),
        &["sweep", "b.toml", "--out", "sw", "--quiet"],
        &["sweep folder sw", "different spec"],
    );
    assert_eq!(before, fs::read(fx.path("sw/spec.toml")).unwrap());
}
