//! Checkpoints: damaged model files, refused and resumed.

use std::fs;
use std::path::PathBuf;

use super::common::{self, fails};
use super::{run_fails, setup, train_args};

/// Train 4 steps into `run`, then rewrite its model.safetensors through `edit`
/// (keeping state.json's hash consistent so the damage is semantic).
fn damaged_run(
    fx: &common::Fixture,
    edit: impl Fn(&mut Vec<(String, candle_core::Tensor)>),
) -> PathBuf {
    use scalelab::rundir::checkpoint;
    let cfg = fx.config(&["train.max_steps=4"]);
    let run = fx.path("run");
    scalelab::train::train(
        &cfg,
        &scalelab::train::TrainOptions {
            out: run.clone(),
            quiet: true,
            ..Default::default()
        },
    )
    .unwrap();
    let dir = run.join("checkpoints/step_00000004");
    let mut tensors: Vec<(String, candle_core::Tensor)> =
        checkpoint::load_safetensors(&dir.join(checkpoint::MODEL_FILE), &candle_core::Device::Cpu)
            .unwrap()
            .into_iter()
            .collect();
    tensors.sort_by(|a, b| a.0.cmp(&b.0));
    edit(&mut tensors);
    let bytes = checkpoint::safetensors_bytes(&tensors).unwrap();
    fs::write(dir.join(checkpoint::MODEL_FILE), &bytes).unwrap();
    let mut st: checkpoint::TrainState =
        scalelab::fsx::read_json(&dir.join(checkpoint::STATE_FILE)).unwrap();
    st.files.insert(
        checkpoint::MODEL_FILE.into(),
        scalelab::fsx::sha256_hex(&bytes),
    );
    checkpoint::write_state(&dir, &st).unwrap();
    run
}

#[test]
fn checkpoint_missing_tensor() {
    let (fx, _) = setup();
    let run = damaged_run(&fx, |t| t.retain(|(n, _)| n != "h.0.ln_1.weight"));
    fails(
        fx.dir.path(),
        &["sample", "--run", run.to_str().unwrap(), "--tokens", "3"],
        &["step_00000004", "h.0.ln_1.weight"],
    );
}

#[test]
fn checkpoint_wrong_shape() {
    let (fx, _) = setup();
    let run = damaged_run(&fx, |t| {
        for (n, x) in t.iter_mut() {
            if n == "ln_f.weight" {
                *x = candle_core::Tensor::zeros(
                    7,
                    candle_core::DType::F32,
                    &candle_core::Device::Cpu,
                )
                .unwrap();
            }
        }
    });
    fails(
        fx.dir.path(),
        &["sample", "--run", run.to_str().unwrap(), "--tokens", "3"],
        &["ln_f.weight", "shape"],
    );
}

#[test]
fn checkpoint_wrong_dtype() {
    let (fx, _) = setup();
    let run = damaged_run(&fx, |t| {
        for (n, x) in t.iter_mut() {
            if n == "ln_f.bias" {
                *x = candle_core::Tensor::zeros(
                    32,
                    candle_core::DType::U32,
                    &candle_core::Device::Cpu,
                )
                .unwrap();
            }
        }
    });
    fails(
        fx.dir.path(),
        &["sample", "--run", run.to_str().unwrap(), "--tokens", "3"],
        &["ln_f.bias", "dtype"],
    );
}

#[test]
fn checkpoint_truncated_everywhere() {
    let (fx, _) = setup();
    let run = damaged_run(&fx, |_| {});
    let f = run
        .join("checkpoints/step_00000004")
        .join(scalelab::rundir::checkpoint::MODEL_FILE);
    let b = fs::read(&f).unwrap();
    fs::write(&f, &b[..b.len() / 2]).unwrap();
    // The only checkpoint is torn: a clear error, not a load of garbage.
    fails(
        fx.dir.path(),
        &["sample", "--run", run.to_str().unwrap(), "--tokens", "3"],
        &["no usable checkpoint"],
    );
}

#[test]
fn checkpoint_wrong_shape_on_resume() {
    let (fx, cfg) = setup();
    let run = damaged_run(&fx, |t| {
        for (n, x) in t.iter_mut() {
            if n == "wpe.weight" {
                *x = candle_core::Tensor::zeros(
                    (7, 32),
                    candle_core::DType::F32,
                    &candle_core::Device::Cpu,
                )
                .unwrap();
            }
        }
    });
    let before = fs::read(run.join("metrics.jsonl")).unwrap();
    let mut a = train_args(&cfg.display().to_string(), &run);
    a.extend([
        "--resume".into(),
        "--set".into(),
        "train.max_steps=4".into(),
    ]);
    run_fails(&fx, a, &["step_00000004", "wpe.weight", "shape"]);
    assert_eq!(
        before,
        fs::read(run.join("metrics.jsonl")).unwrap(),
        "a refused resume must not touch the metrics"
    );
}
