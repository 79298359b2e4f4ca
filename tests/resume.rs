//! Exact resume: N steps + resume + N steps gives bit-identical weights and
//! optimizer state to 2N uninterrupted steps (CPU).

mod common;

use common::train_opts as opts;
use scalelab::rundir::{checkpoint, metrics};
use scalelab::train;
use std::fs;

#[test]
fn resumed_run_is_bit_identical() {
    resumes_bit_identically(&["train.grad_accum=2"]);
}

/// μP's per-parameter learning rates come from the config: a resume rebuilds them exactly.
#[test]
fn resumed_mup_run_is_bit_identical() {
    resumes_bit_identically(&[
        "train.grad_accum=2",
        "model.parametrization=mup",
        "model.base_width=8",
    ]);
}

fn resumes_bit_identically(overrides: &[&str]) {
    let fx = common::Fixture::new();
    let cfg = fx.config(overrides);
    let a = fx.path("a");
    let b = fx.path("b");
    let sa = train::train(&cfg, &opts(a.clone(), false, None)).unwrap();
    // Halt between checkpoints' schedule (step 6; checkpoints every 4) and resume.
    let err = train::train(&cfg, &opts(b.clone(), false, Some(6))).unwrap_err();
    assert!(err.downcast_ref::<train::Stopped>().is_some(), "{err:#}");
    let sb = train::train(&cfg, &opts(b.clone(), true, None)).unwrap();
    assert_eq!(sa.steps, 12);
    assert_eq!(sb.steps, 12);
    common::assert_same_checkpoint(&a, &b, 12, "the uninterrupted and the resumed run differ");
    assert_eq!(sa.val_loss.to_bits(), sb.val_loss.to_bits());
    // Throughput is summed over both processes; resuming a finished run changes nothing.
    assert!(
        sb.tok_per_s.is_finite() && sb.tok_per_s > 0.0,
        "{}",
        sb.tok_per_s
    );
    let before = fs::read(b.join("summary.json")).unwrap();
    let again = train::train(&cfg, &opts(b.clone(), true, None)).unwrap();
    assert_eq!(again.tok_per_s.to_bits(), sb.tok_per_s.to_bits());
    assert_eq!(before, fs::read(b.join("summary.json")).unwrap());
    // The resumed run's metrics hold each step exactly once, with the same losses.
    let (ma, _) = metrics::read(&a.join("metrics.jsonl")).unwrap();
    let (mb, _) = metrics::read(&b.join("metrics.jsonl")).unwrap();
    assert_eq!(
        ma.iter().map(|r| r.step).collect::<Vec<_>>(),
        (1..=12).collect::<Vec<_>>()
    );
    assert_eq!(
        ma.iter().map(|r| r.loss.to_bits()).collect::<Vec<_>>(),
        mb.iter().map(|r| r.loss.to_bits()).collect::<Vec<_>>()
    );
}

#[test]
fn run_folder_is_not_clobbered_and_config_mismatch_is_refused() {
    let fx = common::Fixture::new();
    let cfg = fx.config(&["train.max_steps=4"]);
    let out = fx.path("run");
    train::train(&cfg, &opts(out.clone(), false, None)).unwrap();
    let before = fs::read(out.join("metrics.jsonl")).unwrap();
    let e = train::train(&cfg, &opts(out.clone(), false, None))
        .unwrap_err()
        .to_string();
    assert!(e.contains("already holds a run"), "{e}");
    let other = fx.config(&["train.max_steps=4", "model.d_model=64"]);
    let e = format!(
        "{:#}",
        train::train(&other, &opts(out.clone(), true, None)).unwrap_err()
    );
    assert!(e.contains("different model config"), "{e}");
    assert_eq!(
        before,
        fs::read(out.join("metrics.jsonl")).unwrap(),
        "a refused run must not touch the metrics"
    );
}

#[test]
fn corrupt_checkpoint_falls_back_to_previous() {
    let fx = common::Fixture::new();
    let cfg = fx.config(&["train.keep_last=3"]);
    let out = fx.path("run");
    let _ = train::train(&cfg, &opts(out.clone(), false, Some(8))).unwrap_err();
    let newest = out.join("checkpoints/step_00000008");
    let model = newest.join(checkpoint::MODEL_FILE);
    let mut bytes = fs::read(&model).unwrap();
    let n = bytes.len();
    bytes[n - 3] ^= 0xff;
    fs::write(&model, bytes).unwrap();
    let e = checkpoint::verify(&newest).unwrap_err().to_string();
    assert!(e.contains("corrupt"), "{e}");
    let mut warnings = Vec::new();
    let (dir, st) =
        checkpoint::latest_good(&out.join("checkpoints"), |w| warnings.push(w)).unwrap();
    assert_eq!(st.step, 4);
    assert!(dir.ends_with("step_00000004"));
    assert_eq!(warnings.len(), 1);
    // Resuming continues from step 4 and still finishes.
    let s = train::train(&cfg, &opts(out.clone(), true, None)).unwrap();
    assert_eq!(s.steps, 12);
}

#[test]
fn resume_with_no_good_checkpoint_is_refused_and_changes_nothing() {
    let fx = common::Fixture::new();
    let cfg = fx.config(&["train.keep_last=3"]);
    let out = fx.path("run");
    let _ = train::train(&cfg, &opts(out.clone(), false, Some(8))).unwrap_err();
    for (_, dir) in checkpoint::list(&out.join("checkpoints")) {
        fs::write(dir.join(checkpoint::MODEL_FILE), b"truncated").unwrap();
    }
    let before = fs::read(out.join("metrics.jsonl")).unwrap();
    let e = format!(
        "{:#}",
        train::train(&cfg, &opts(out.clone(), true, None)).unwrap_err()
    );
    assert!(
        e.contains("none of its 2 checkpoints verifies") && !e.contains('\n'),
        "{e}"
    );
    assert_eq!(
        before,
        fs::read(out.join("metrics.jsonl")).unwrap(),
        "the metrics must survive"
    );
}
