//! Reliability of `scalelab train` as a process: signals, kill -9 at random
//! moments (also inside checkpoint writes), non-finite steps, the run-folder
//! lock and a disk that fills up. Every run is a subprocess; faults come from
//! the test hooks in src/fault.rs (inert unless their env var is set).

mod common;

use scalelab::rundir::checkpoint::{self, MODEL_FILE, OPTIM_FILE};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_scalelab");

fn cmd(
    fx: &common::Fixture,
    out: &Path,
    resume: bool,
    sets: &[&str],
    env: &[(&str, String)],
) -> Command {
    let mut c = Command::new(BIN);
    c.args([
        "train",
        "--config",
        fx.config_path.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ]);
    if resume {
        c.arg("--resume");
    }
    for s in sets {
        c.args(["--set", s]);
    }
    for (k, v) in env {
        c.env(k, v);
    }
    c.current_dir(fx.dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

fn run(
    fx: &common::Fixture,
    out: &Path,
    resume: bool,
    sets: &[&str],
    env: &[(&str, String)],
) -> Output {
    cmd(fx, out, resume, sets, env).output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn ok(o: &Output) {
    assert!(
        o.status.success(),
        "train failed ({:?}): {}",
        o.status.code(),
        stderr(o)
    );
}

/// Run `c`, expecting a failure; its single error line (exit 1, no panic),
/// recorded for docs/bad-input.md (tests/gen_bad_input_doc.py).
fn fails(fx: &common::Fixture, mut c: Command) -> String {
    let o = c.output().unwrap();
    let line = one_error_line(&o);
    let env: String = c
        .get_envs()
        .filter_map(|(k, v)| Some(format!("{}={} ", k.to_str()?, v?.to_str()?)))
        .collect();
    let args: Vec<String> = c
        .get_args()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    common::log_case_env(&[fx.dir.path()], &env, &args, o.status.code(), &line);
    line
}

/// The single error line of a failed run (exit 1, no panic).
fn one_error_line(o: &Output) -> String {
    let e = stderr(o);
    assert_eq!(o.status.code(), Some(1), "expected exit 1: {e}");
    assert!(!e.contains("panicked"), "{e}");
    let lines: Vec<&str> = e.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected one error line, got: {e}");
    assert!(lines[0].starts_with("error: "), "{e}");
    lines[0].to_string()
}

fn step_dir(out: &Path, step: usize) -> PathBuf {
    out.join("checkpoints")
        .join(checkpoint::step_dir_name(step))
}

/// model and optimizer state of `step` are byte-identical in two runs.
fn assert_same_checkpoint(a: &Path, b: &Path, step: usize) {
    for file in [MODEL_FILE, OPTIM_FILE] {
        let fa = fs::read(step_dir(a, step).join(file)).unwrap();
        let fb = fs::read(step_dir(b, step).join(file)).unwrap();
        assert!(
            fa == fb,
            "{file} at step {step} differs between {} and {}",
            a.display(),
            b.display()
        );
    }
}

/// Every `step_*` folder verifies, and its weights are all finite.
fn assert_checkpoints_sound(out: &Path) -> Vec<usize> {
    let list = checkpoint::list(&out.join("checkpoints"));
    for (step, dir) in &list {
        let st = checkpoint::verify(dir)
            .unwrap_or_else(|e| panic!("torn checkpoint {}: {e:#}", dir.display()));
        assert_eq!(st.step, *step);
        for (name, t) in
            checkpoint::load_safetensors(&dir.join(MODEL_FILE), &candle_core::Device::Cpu).unwrap()
        {
            let v = t
                .flatten_all()
                .unwrap()
                .to_dtype(candle_core::DType::F64)
                .unwrap()
                .to_vec1::<f64>()
                .unwrap();
            assert!(
                v.iter().all(|x| x.is_finite()),
                "{name} in {} holds non-finite values",
                dir.display()
            );
        }
    }
    list.into_iter().map(|(s, _)| s).collect()
}

/// Names starting with '.' in `dir`, except the lock file: what a killed writer left.
fn stray(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.') && n != ".lock")
        .collect()
}

/// The newest step recorded in metrics.jsonl so far.
fn logged_step(out: &Path) -> usize {
    let text = fs::read_to_string(out.join("metrics.jsonl")).unwrap_or_default();
    text.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["kind"] == "step")
        .filter_map(|v| v["step"].as_u64())
        .max()
        .unwrap_or(0) as usize
}

fn wait_for_step(child: &mut Child, out: &Path, step: usize) {
    let t0 = Instant::now();
    while logged_step(out) < step {
        assert!(
            child.try_wait().unwrap().is_none(),
            "train exited before step {step}"
        );
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "train did not reach step {step}"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn send(child: &Child, sig: i32) {
    assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, sig) }, 0);
}

/// SIGTERM / SIGINT mid-run: checkpoint, exit 128+signal, resume bit-identical.
fn signal_then_resume(sig: i32, name: &str, code: i32) {
    let fx = common::Fixture::new();
    // Periodic checkpoints never coincide with the signal's: it must write its own.
    let sets = ["train.max_steps=150", "train.checkpoint_every=1000"];
    let (a, b) = (fx.path("a"), fx.path("b"));
    ok(&run(&fx, &a, false, &sets, &[]));
    let mut child = cmd(&fx, &b, false, &sets, &[]).spawn().unwrap();
    wait_for_step(&mut child, &b, 5);
    send(&child, sig);
    let o = child.wait_with_output().unwrap();
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(code), "{name}: {e}");
    assert!(e.contains(&format!("interrupted by {name}")), "{e}");
    let steps = assert_checkpoints_sound(&b);
    assert_eq!(steps.len(), 1, "{steps:?}");
    assert!(
        (5..150).contains(&steps[0]),
        "{name} checkpoint at step {}",
        steps[0]
    );
    ok(&run(&fx, &b, true, &sets, &[]));
    assert_same_checkpoint(&a, &b, 150);
}

#[test]
fn sigterm_checkpoints_and_resumes_bit_identical() {
    signal_then_resume(libc::SIGTERM, "SIGTERM", 143);
}

#[test]
fn sigint_checkpoints_and_resumes_bit_identical() {
    signal_then_resume(libc::SIGINT, "SIGINT", 130);
}

/// kill -9 at seeded random moments, a checkpoint every step, every process
/// pausing inside each checkpoint write (long pauses for half of them, so
/// kills land mid-write; short ones for the rest, so the run cannot finish
/// before the kills are done however fast the machine): resuming each time
/// ends bit-identical to an uninterrupted run, and no torn checkpoint is ever seen.
#[test]
fn kill9_at_random_moments_resumes_bit_identical() {
    let fx = common::Fixture::new();
    let steps = 200;
    let max = format!("train.max_steps={steps}");
    let sets = [
        max.as_str(),
        "train.checkpoint_every=1",
        "train.keep_last=2",
    ];
    let (a, b) = (fx.path("a"), fx.path("b"));
    ok(&run(&fx, &a, false, &sets, &[]));

    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut next = move |n: u64| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % n
    };
    let (mut kills, mut in_write, mut resumed_at) = (0, 0, Vec::new());
    let t0 = Instant::now();
    while kills < 20 {
        let pause = if kills % 2 == 0 { "80" } else { "15" };
        let env = vec![("SCALELAB_FAULT_CKPT_SLEEP_MS", pause.to_string())];
        let before = checkpoint::list(&b.join("checkpoints"))
            .first()
            .map(|c| c.0);
        let mut child = cmd(&fx, &b, true, &sets, &env).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(60 + next(340)));
        if child.try_wait().unwrap().is_some() {
            break; // finished on its own before this kill
        }
        send(&child, libc::SIGKILL);
        let o = child.wait_with_output().unwrap();
        assert_eq!(
            o.status.code(),
            None,
            "killed process should have no exit code: {}",
            stderr(&o)
        );
        kills += 1;
        let ckpts = b.join("checkpoints");
        if stray(&ckpts).iter().any(|n| n.starts_with(".step_")) {
            in_write += 1;
        }
        // Only whole checkpoints carry a step_ name, and the newest one is what resume takes.
        assert_checkpoints_sound(&b);
        let mut warnings = Vec::new();
        let latest = checkpoint::latest_good(&ckpts, |w| warnings.push(w)).map(|(_, st)| st.step);
        assert!(warnings.is_empty(), "kill {kills}: {warnings:?}");
        assert_eq!(latest, checkpoint::list(&ckpts).first().map(|c| c.0));
        assert!(
            latest >= before,
            "kill {kills}: went back from {before:?} to {latest:?}"
        );
        resumed_at.push(latest.unwrap_or(0));
    }
    assert!(
        kills >= 10,
        "only {kills} kills landed before the run finished"
    );
    assert!(in_write >= 1, "no kill landed inside a checkpoint write");
    ok(&run(&fx, &b, true, &sets, &[]));
    assert_checkpoints_sound(&b);
    assert!(
        stray(&b.join("checkpoints")).is_empty(),
        "{:?}",
        stray(&b.join("checkpoints"))
    );
    assert!(stray(&b).is_empty(), "{:?}", stray(&b));
    assert_same_checkpoint(&a, &b, steps);
    let (ma, _) = scalelab::rundir::metrics::read(&a.join("metrics.jsonl")).unwrap();
    let (mb, _) = scalelab::rundir::metrics::read(&b.join("metrics.jsonl")).unwrap();
    assert_eq!(
        mb.iter().map(|r| r.step).collect::<Vec<_>>(),
        (1..=steps).collect::<Vec<_>>()
    );
    assert_eq!(
        ma.iter().map(|r| r.loss.to_bits()).collect::<Vec<_>>(),
        mb.iter().map(|r| r.loss.to_bits()).collect::<Vec<_>>()
    );
    eprintln!("{kills} kills ({in_write} inside a checkpoint write) in {:.1} s; newest checkpoint after each: {resumed_at:?}", t0.elapsed().as_secs_f64());
}

#[test]
fn nonfinite_skip_drops_the_update_and_finishes() {
    let fx = common::Fixture::new();
    let out = fx.path("run");
    let sets = [
        "train.checkpoint_every=1",
        "train.keep_last=20",
        "train.on_nonfinite=\"skip\"",
    ];
    ok(&run(
        &fx,
        &out,
        false,
        &sets,
        &[("SCALELAB_FAULT_NONFINITE_AT_STEP", "3".into())],
    ));
    let (steps, _) = scalelab::rundir::metrics::read(&out.join("metrics.jsonl")).unwrap();
    assert_eq!(steps.len(), 12);
    for r in &steps {
        assert_eq!(r.skipped, r.step == 3, "step {}", r.step);
    }
    assert!(steps[2].grad_norm.is_nan());
    let summary: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["skipped_nonfinite"], 1);
    assert!(summary["final_train_loss"].as_f64().unwrap().is_finite());
    assert_eq!(assert_checkpoints_sound(&out).len(), 12);
    // The skipped step left weights and moments exactly as step 2 had them.
    for file in [MODEL_FILE, OPTIM_FILE] {
        assert!(
            fs::read(step_dir(&out, 2).join(file)).unwrap()
                == fs::read(step_dir(&out, 3).join(file)).unwrap(),
            "{file}"
        );
    }
}

#[test]
fn nonfinite_stop_exits_with_one_line_and_keeps_last_checkpoint() {
    let fx = common::Fixture::new();
    let out = fx.path("run");
    let sets = ["train.on_nonfinite=\"stop\""];
    let line = fails(
        &fx,
        cmd(
            &fx,
            &out,
            false,
            &sets,
            &[("SCALELAB_FAULT_NONFINITE_AT_STEP", "6".into())],
        ),
    );
    assert!(
        line.contains("non-finite") && line.contains("step 6") && line.contains("on_nonfinite"),
        "{line}"
    );
    assert_eq!(assert_checkpoints_sound(&out), vec![4]);
    assert!(stray(&out.join("checkpoints")).is_empty());
    // It resumes from that checkpoint (the fault hook is not set this time).
    ok(&run(&fx, &out, true, &sets, &[]));
}

#[test]
fn second_concurrent_train_is_refused() {
    let fx = common::Fixture::new();
    let out = fx.path("run");
    let sets = ["train.max_steps=100000", "train.checkpoint_every=1000"];
    let mut first = cmd(&fx, &out, false, &sets, &[]).spawn().unwrap();
    wait_for_step(&mut first, &out, 1);
    let metrics_before = logged_step(&out);
    // --resume passes the "already holds a run" check; the lock must stop it.
    let line = fails(&fx, cmd(&fx, &out, true, &sets, &[]));
    assert!(
        line.contains(out.to_str().unwrap()) && line.contains("in use"),
        "{line}"
    );
    assert!(
        first.try_wait().unwrap().is_none(),
        "the first run must keep going"
    );
    assert!(
        logged_step(&out) >= metrics_before,
        "the refused run must not truncate the metrics"
    );
    send(&first, libc::SIGTERM);
    assert_eq!(first.wait().unwrap().code(), Some(143));
}

/// The 8th atomic write of the process (optim.safetensors of the step-8
/// checkpoint: config, tokenizer, metrics, 3 files at step 4, model at 8)
/// fails with ENOSPC halfway through.
#[test]
fn disk_full_during_checkpoint_keeps_the_previous_one() {
    let fx = common::Fixture::new();
    let (a, b) = (fx.path("a"), fx.path("b"));
    ok(&run(&fx, &a, false, &[], &[]));
    let line = fails(
        &fx,
        cmd(
            &fx,
            &b,
            false,
            &[],
            &[("SCALELAB_FAULT_ENOSPC_AT_WRITE", "8".into())],
        ),
    );
    for want in [
        "No space left on device",
        "optim.safetensors",
        "earlier checkpoints are kept",
    ] {
        assert!(line.contains(want), "`{want}` missing: {line}");
    }
    assert_eq!(assert_checkpoints_sound(&b), vec![4]);
    assert!(
        stray(&b.join("checkpoints")).is_empty(),
        "{:?}",
        stray(&b.join("checkpoints"))
    );
    ok(&run(&fx, &b, true, &[], &[]));
    assert_same_checkpoint(&a, &b, 12);
}

#[test]
fn unwritable_checkpoints_folder_fails_before_training() {
    let fx = common::Fixture::new();
    let out = fx.path("run");
    fs::create_dir_all(&out).unwrap();
    fs::write(
        out.join("checkpoints"),
        "a file where the checkpoints folder must go",
    )
    .unwrap();
    let line = fails(&fx, cmd(&fx, &out, false, &[], &[]));
    assert!(
        line.contains(out.join("checkpoints").to_str().unwrap()),
        "{line}"
    );
    assert_eq!(
        logged_step(&out),
        0,
        "no step may run when checkpoints cannot be written"
    );
}
