//! Helpers of the `scalelab estimate` tests (tests/estimate_*.rs): run the
//! command in a temp dir, read its JSON, and check one-line errors.

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

pub const BIN: &str = env!("CARGO_BIN_EXE_scalelab");

/// Run `scalelab estimate ARGS` in `cwd` (a temp dir: the built-in catalogs apply).
pub fn scalelab(cwd: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("estimate")
        .args(args)
        .current_dir(cwd)
        .env_remove("SCALELAB_HARDWARE")
        .env_remove("SCALELAB_MODELS")
        .output()
        .unwrap()
}

pub fn json_ok(cwd: &Path, args: &[&str]) -> Value {
    let mut a = args.to_vec();
    a.push("--json");
    let out = scalelab(cwd, &a);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A clean one-line `error: …` mentioning `needle`, non-zero exit, no panic.
pub fn error_line(cwd: &Path, args: &[&str], needle: &str) {
    let out = scalelab(cwd, args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        matches!(out.status.code(), Some(1 | 2)),
        "{args:?} exited {:?}: {err}",
        out.status.code()
    );
    assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{args:?}: want one line, got {err}");
    assert!(
        lines[0].starts_with("error: ") && lines[0].contains(needle),
        "{args:?}: `{}` should mention `{needle}`",
        lines[0]
    );
}

pub fn close(got: f64, want: f64, tol: f64, what: &str) {
    assert!(
        (got / want - 1.0).abs() <= tol,
        "{what}: got {got}, want {want} ± {}%",
        tol * 100.0
    );
}

pub fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// A finished run's summary.json in `dir` with the given `mfu` (a JSON value).
pub fn write_summary(dir: &Path, mfu: &str) {
    std::fs::create_dir_all(dir).unwrap();
    let s = format!(
        r#"{{"status":"finished","run_dir":"x","params":1000,"non_embedding_params":900,"steps":10,"tokens":10000,"flops":1e12,"final_train_loss":3.0,"val_loss":3.1,"val_bpb":1.2,"best_val_loss":3.1,"wall_s":10.0,"tok_per_s":1000.0,"mfu":{mfu},"device":"cuda:0","hardware":"a100-sxm","dtype":"bf16","skipped_nonfinite":0}}"#
    );
    std::fs::write(dir.join("summary.json"), s).unwrap();
}
