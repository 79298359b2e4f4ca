//! Every parameter gets a gradient, and it matches central finite differences.
//! Runs a tiny GPT in f64 on CPU. If an op without backward (candle-nn's fused
//! LayerNorm, softmax_last_dim, ...) slips onto the training path, some
//! parameter stops receiving a gradient and this test fails.

use candle_core::{DType, Device, Tensor};
use scalelab::check::gradcheck::{gradcheck, tiny};
use scalelab::check::GRAD_TOL;
use scalelab::config::ModelConfig;
use scalelab::model::params::Params;
use scalelab::model::{Gpt, Kernels};

/// Every parameter's sampled entries within the stated tolerance (f64).
fn check(cfg: &ModelConfig, k: Kernels) {
    let ps = gradcheck(cfg, k, &Device::Cpu).unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(
        ps.len(),
        Params::init(cfg, 0, DType::F64, &Device::Cpu)
            .unwrap()
            .specs
            .len()
    );
    for p in &ps {
        assert!(
            p.max_rel_err <= GRAD_TOL,
            "{}: analytic vs numeric gradient rel err {:.2e} (tolerance {GRAD_TOL:e})",
            p.name,
            p.max_rel_err
        );
    }
}

// The training path on CPU uses the fused kernels; the composed ops are the
// reference (and the CUDA path): both must be exact.
#[test]
fn every_parameter_matches_finite_differences_with_bias() {
    check(&tiny(true), Kernels::Fused);
}

#[test]
fn every_parameter_matches_finite_differences_without_bias() {
    check(&tiny(false), Kernels::Fused);
}

/// μP's multipliers (init, attention ×1/√m, logits ×1/m) live in the forward:
/// the gradients stay exact, for both kernel sets.
#[test]
fn mup_matches_finite_differences() {
    for k in [Kernels::Fused, Kernels::Composed] {
        check(&scalelab::check::gradcheck::tiny_mup(), k);
    }
}

#[test]
fn composed_ops_match_finite_differences() {
    check(&tiny(true), Kernels::Composed);
    check(&tiny(false), Kernels::Composed);
}

/// `scalelab check`, the same checks as a command (what a GPU machine runs), passes on CPU.
#[test]
fn check_command_passes_on_cpu() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_scalelab"))
        .args(["check", "--json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{v:#}");
    assert_eq!(v["failed"], 0);
    assert_eq!(
        v["checks"].as_array().unwrap().len(),
        8,
        "6 gradient checks (bias, no bias, μP × 2 kernel sets) + bf16 + f16 on CPU"
    );
}

#[test]
fn attention_is_causal() {
    let cfg = tiny(true);
    let dev = Device::Cpu;
    let params = Params::init(&cfg, 3, DType::F64, &dev).unwrap();
    let model = Gpt::new(&cfg, params.var_builder(DType::F64, false).unwrap()).unwrap();
    let a: Vec<u32> = vec![1, 2, 3, 4, 5, 6];
    let mut b = a.clone();
    b[4] = 9; // change a future token
    let la = model
        .forward(&Tensor::from_vec(a, (1, 6), &dev).unwrap())
        .unwrap();
    let lb = model
        .forward(&Tensor::from_vec(b, (1, 6), &dev).unwrap())
        .unwrap();
    let d = (la - lb)
        .unwrap()
        .abs()
        .unwrap()
        .narrow(1, 0, 4)
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar::<f64>()
        .unwrap();
    assert_eq!(d, 0.0, "positions before the change must not see it");
}

#[test]
fn swapping_in_a_no_backward_layer_norm_is_caught() {
    // The fused candle-nn LayerNorm records no backward: the gain gets no gradient.
    let dev = Device::Cpu;
    let w = candle_core::Var::from_tensor(&Tensor::ones(8, DType::F32, &dev).unwrap()).unwrap();
    let b = Tensor::zeros(8, DType::F32, &dev).unwrap();
    let x = Tensor::randn(0f32, 1.0, (3, 8), &dev).unwrap();
    let fused = candle_nn::ops::layer_norm(&x, w.as_tensor(), &b, 1e-5).unwrap();
    assert!(fused
        .sum_all()
        .unwrap()
        .backward()
        .unwrap()
        .get(w.as_tensor())
        .is_none());
    let ours = scalelab::model::ops::layer_norm(&x, w.as_tensor(), Some(&b), 1e-5).unwrap();
    assert!((ours.sqr().unwrap())
        .sum_all()
        .unwrap()
        .backward()
        .unwrap()
        .get(w.as_tensor())
        .is_some());
}
