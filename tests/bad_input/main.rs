//! Bad input: each case gets a one-line error naming the field or file, a
//! non-zero exit, no panic, and nothing already written is changed.
//! docs/bad-input.md lists the cases.
//!
//! The cases are grouped by what they give scalelab (configs, cli, data,
//! checkpoints, run_folders, sweeps); this file holds the helpers they share.

#[path = "../common/mod.rs"]
mod common;

mod checkpoints;
mod cli;
mod configs;
mod data;
mod run_folders;
mod sweeps;

use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{fails, BIN};

/// A temp folder with a valid tiny config (`tiny.toml`) and its corpus.
fn setup() -> (common::Fixture, PathBuf) {
    let fx = common::Fixture::new();
    let cfg = fx.config_path.clone();
    (fx, cfg)
}

/// Write `tiny.toml` with `from` replaced by `to`, return its path.
fn variant(fx: &common::Fixture, name: &str, from: &str, to: &str) -> String {
    let text = fs::read_to_string(&fx.config_path).unwrap();
    assert!(text.contains(from), "fixture lacks `{from}`");
    let p = fx.path(name);
    fs::write(&p, text.replacen(from, to, 1)).unwrap();
    p.display().to_string()
}

fn train_args(cfg: &str, out: &Path) -> Vec<String> {
    vec![
        "train".into(),
        "--config".into(),
        cfg.into(),
        "--out".into(),
        out.display().to_string(),
        "--quiet".into(),
    ]
}

fn run_fails(fx: &common::Fixture, args: Vec<String>, expect: &[&str]) {
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    fails(fx.dir.path(), &a, expect);
}

/// Run scalelab with `args` in the fixture's folder; assert it succeeds (the
/// step that sets a bad case up).
fn run_ok<I, S>(fx: &common::Fixture, args: I)
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let ok = Command::new(BIN)
        .args(args)
        .current_dir(fx.dir.path())
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
}
