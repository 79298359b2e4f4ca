//! Run folders: occupied, holding another model, unwritable.

use std::fs;

use super::{run_fails, run_ok, setup, train_args};

#[test]
fn run_folder_already_holds_a_run() {
    let (fx, cfg) = setup();
    let mut a = train_args(&cfg.display().to_string(), &fx.path("o"));
    a.extend(["--set".into(), "train.max_steps=2".into()]);
    run_ok(&fx, &a);
    let before = fs::read(fx.path("o/metrics.jsonl")).unwrap();
    run_fails(&fx, a, &["run folder", "already holds a run", "--resume"]);
    assert_eq!(before, fs::read(fx.path("o/metrics.jsonl")).unwrap());
}

#[test]
fn run_folder_resume_with_another_model() {
    let (fx, cfg) = setup();
    let mut a = train_args(&cfg.display().to_string(), &fx.path("o"));
    a.extend(["--set".into(), "train.max_steps=4".into()]);
    run_ok(&fx, &a);
    let before = fs::read(fx.path("o/metrics.jsonl")).unwrap();
    a.extend(["--resume".into(), "--set".into(), "model.n_layer=3".into()]);
    run_fails(&fx, a, &["step_00000004", "different model config"]);
    assert_eq!(before, fs::read(fx.path("o/metrics.jsonl")).unwrap());
}

#[test]
fn run_folder_unwritable() {
    let (fx, cfg) = setup();
    fs::write(fx.path("o"), "a file where the run folder must go").unwrap();
    run_fails(
        &fx,
        train_args(&cfg.display().to_string(), &fx.path("o")),
        &["run folder", "cannot create"],
    );
    assert_eq!(
        fs::read_to_string(fx.path("o")).unwrap(),
        "a file where the run folder must go"
    );
}
