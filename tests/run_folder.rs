//! What scalelab may write where: a run or sweep folder holding the user's
//! files is refused, a resume that fails part-way changes nothing, and
//! pruning keeps the right checkpoints (issue 13, items 2–4 and 12).

mod common;

use std::fs;
use std::path::Path;
use std::process::Output;

/// scalelab in the fixture's folder (the shared runner of tests/common).
fn scalelab(fx: &common::Fixture, args: &[&str], env: &[(&str, &str)]) -> Output {
    common::run_cli(fx.dir.path(), env, args)
}

fn train_args<'a>(fx: &'a common::Fixture, out: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let cfg = fx.config_path.to_str().unwrap();
    let mut a = vec!["train", "--config", cfg, "--out", out, "--quiet"];
    a.extend_from_slice(extra);
    a
}

/// The one error line of a failed command (exit 1, no panic), logged for
/// docs/bad-input.md with the environment `env` it ran under.
fn error_line(fx: &common::Fixture, env: &str, args: &[&str], o: &Output) -> String {
    let e = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(1), "expected exit 1: {e}");
    let lines: Vec<&str> = e.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected one error line: {e}");
    assert!(
        lines[0].starts_with("error: ") && !e.contains("panicked"),
        "{e}"
    );
    let root = common::repo_root();
    let strip = [fx.dir.path(), root.as_path()];
    common::log_case_env(&strip, env, args, o.status.code(), lines[0]);
    lines[0].to_string()
}

fn ok(o: &Output) {
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "failed ({:?}): {e}", o.status.code());
}

fn steps(run: &Path) -> Vec<usize> {
    let mut v: Vec<usize> = scalelab::rundir::checkpoint::list(&run.join("checkpoints"))
        .into_iter()
        .map(|(s, _)| s)
        .collect();
    v.sort();
    v
}

#[test]
fn run_folder_train_refuses_a_folder_with_the_users_files() {
    let fx = common::Fixture::new();
    let u = fx.path("u");
    fs::create_dir_all(&u).unwrap();
    fs::write(u.join("config.toml"), "mine").unwrap();
    let args = train_args(&fx, "u", &[]);
    let line = error_line(&fx, "", &args, &scalelab(&fx, &args, &[]));
    assert!(
        line.contains("config.toml") && line.contains("did not write"),
        "{line}"
    );
    assert_eq!(fs::read_to_string(u.join("config.toml")).unwrap(), "mine");
    assert!(!u.join("metrics.jsonl").exists());

    // An exported Hugging Face folder: its tokenizer.json must survive.
    let hf = fx.path("hf");
    fs::create_dir_all(&hf).unwrap();
    for f in ["config.json", "tokenizer.json", "model.safetensors"] {
        fs::write(hf.join(f), f).unwrap();
    }
    let args = train_args(&fx, "hf", &["--set", "model.vocab_size=1024"]);
    let line = error_line(&fx, "", &args, &scalelab(&fx, &args, &[]));
    assert!(line.contains("tokenizer.json"), "{line}");
    assert_eq!(
        fs::read_to_string(hf.join("tokenizer.json")).unwrap(),
        "tokenizer.json"
    );
}

#[test]
fn run_folder_sweep_collect_keeps_a_results_csv_it_did_not_write() {
    let fx = common::Fixture::new();
    let out = fx.path("mine");
    fs::create_dir_all(&out).unwrap();
    fs::write(out.join("results.csv"), "params,tokens,loss\n1e6,2e7,3.1\n").unwrap();
    let spec = common::repo_root().join("configs/sweeps/quick.toml");
    let args = [
        "sweep",
        spec.to_str().unwrap(),
        "--out",
        "mine",
        "--collect",
        "--quiet",
    ];
    let line = error_line(&fx, "", &args, &scalelab(&fx, &args, &[]));
    assert!(line.contains("results.csv"), "{line}");
    assert_eq!(
        fs::read_to_string(out.join("results.csv")).unwrap(),
        "params,tokens,loss\n1e6,2e7,3.1\n"
    );
    assert!(!out.join("spec.toml").exists());
}

/// A resume that fails on a full disk (the 2nd atomic write: tokenizer.json)
/// leaves config.toml, tokenizer.json and metrics.jsonl as they were.
#[test]
fn run_folder_failed_resume_writes_nothing() {
    let fx = common::Fixture::new();
    ok(&scalelab(
        &fx,
        &train_args(&fx, "r", &["--halt-after", "4"]),
        &[],
    ));
    let r = fx.path("r");
    let before: Vec<Vec<u8>> = ["config.toml", "tokenizer.json", "metrics.jsonl"]
        .iter()
        .map(|f| fs::read(r.join(f)).unwrap())
        .collect();
    let args = train_args(&fx, "r", &["--resume", "--set", "train.max_steps=16"]);
    let o = scalelab(&fx, &args, &[("SCALELAB_FAULT_ENOSPC_AT_WRITE", "2")]);
    let line = error_line(&fx, "SCALELAB_FAULT_ENOSPC_AT_WRITE=2 ", &args, &o);
    assert!(line.contains("No space left on device"), "{line}");
    for (f, b) in ["config.toml", "tokenizer.json", "metrics.jsonl"]
        .iter()
        .zip(&before)
    {
        assert_eq!(&fs::read(r.join(f)).unwrap(), b, "{f} was changed");
    }
    let left: Vec<String> = fs::read_dir(&r)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp-"))
        .collect();
    assert!(left.is_empty(), "temp files left: {left:?}");
}

/// A folder in checkpoints/ without a state.json is not a checkpoint: it
/// neither counts towards keep_last nor gets deleted.
#[test]
fn run_folder_foreign_checkpoint_folder_does_not_count_towards_keep_last() {
    let fx = common::Fixture::new();
    ok(&scalelab(
        &fx,
        &train_args(&fx, "r", &["--halt-after", "8"]),
        &[],
    ));
    let r = fx.path("r");
    assert_eq!(steps(&r), vec![4, 8]);
    fs::create_dir_all(r.join("checkpoints/step_00000099")).unwrap();
    ok(&scalelab(&fx, &train_args(&fx, "r", &["--resume"]), &[]));
    assert_eq!(steps(&r), vec![8, 12, 99]);
}

/// A run whose last process died between the final checkpoint and its
/// pruning (here: keep_last lowered afterwards) is pruned on resume.
#[test]
fn run_folder_resume_prunes_what_a_killed_process_left() {
    let fx = common::Fixture::new();
    ok(&scalelab(
        &fx,
        &train_args(&fx, "r", &["--set", "train.keep_last=10"]),
        &[],
    ));
    let r = fx.path("r");
    assert_eq!(steps(&r), vec![4, 8, 12]);
    let args = train_args(&fx, "r", &["--resume", "--set", "train.keep_last=1"]);
    ok(&scalelab(&fx, &args, &[]));
    // Evaluations (the best-validation step) fall on steps 5, 10, 12: none is 4 or 8.
    assert_eq!(steps(&r), vec![12]);
}

/// A checkpoint written by an earlier build (commit aacb759, before
/// `train.micro_batch` existed) still verifies: fields added to the state
/// since then serialize to nothing at their defaults, so its digest holds.
#[test]
fn run_folder_checkpoint_from_an_earlier_build_verifies() {
    let dir = common::repo_root().join("tests/fixtures/checkpoint-aacb759/step_00002211");
    let state = scalelab::rundir::checkpoint::verify(&dir).unwrap();
    assert_eq!(state.step, 2211);
}
