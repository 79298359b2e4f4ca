//! Hugging Face GPT-2 interop: `export` → `import` is bit-exact (weights and
//! logits), synthetic HF folders in the layouts found in the wild import
//! (`transformer.` prefix or not, f16/bf16, sharded, mask buffers, tied
//! `lm_head.weight`), bad folders give one-line errors. Two tests are
//! `#[ignore]`d because they need what a plain checkout lacks (run them with
//! `-- --ignored`, docs/interop.md): GPT-2's real tokenizer in ../shared, and
//! transformers' logits matching scalelab's (SCALELAB_PYTHON names a python
//! with torch and transformers; scripts/hf_logits_check.py).
//!
//! This file holds the helpers the modules share: running scalelab, a trained
//! run, bit views of tensors and logits.

#[path = "../common/mod.rs"]
mod common;

mod export;
mod import;
mod synthetic;

use candle_core::Tensor;
use scalelab::interop::hf;
use scalelab::train;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_scalelab");

fn scalelab(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

fn ok(args: &[&str]) -> String {
    let o = scalelab(args);
    assert!(
        o.status.success(),
        "scalelab {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Assert exit 1 with a single `error:` line that mentions each of `expect`.
fn fails(args: &[&str], expect: &[&str]) {
    let o = scalelab(args);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(
        o.status.code(),
        Some(1),
        "scalelab {args:?} should fail with exit 1: {err}"
    );
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| !l.starts_with("warning: "))
        .collect();
    assert!(
        lines.len() == 1 && lines[0].starts_with("error: "),
        "scalelab {args:?}: expected one error line, got: {err}"
    );
    for e in expect {
        assert!(
            lines[0].contains(e),
            "scalelab {args:?}: error should mention `{e}`: {}",
            lines[0]
        );
    }
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Train the fixture's tiny model for 8 steps (checkpoints at 4 and 8) into `name`.
fn trained_run(fx: &common::Fixture, name: &str, overrides: &[&str]) -> PathBuf {
    let mut ov = vec!["train.max_steps=8"];
    ov.extend_from_slice(overrides);
    let out = fx.path(name);
    train::train(
        &fx.config(&ov),
        &common::train_opts(out.clone(), false, None),
    )
    .unwrap();
    out
}

fn f32_bits(t: &Tensor) -> Vec<u32> {
    t.flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap()
        .iter()
        .map(|x| x.to_bits())
        .collect()
}

fn logits_bits(run: &Path, tokens: &[u32]) -> Vec<u32> {
    let ck = scalelab::rundir::Run::open(run, None, &candle_core::Device::Cpu).unwrap();
    hf::logits(&ck, tokens)
        .unwrap()
        .concat()
        .iter()
        .map(|x| x.to_bits())
        .collect()
}

const TOKENS: [u32; 10] = [1, 2, 3, 100, 200, 383, 0, 5, 42, 300];
