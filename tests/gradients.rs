//! Every parameter gets a gradient, and it matches central finite differences.
//! Runs a tiny GPT in f64 on CPU. If an op without backward (candle-nn's fused
//! LayerNorm, softmax_last_dim, ...) slips onto the training path, some
//! parameter stops receiving a gradient and this test fails.

use candle_core::{DType, Device, Tensor};
use scalelab::config::ModelConfig;
use scalelab::model::params::Params;
use scalelab::model::{Gpt, Kernels};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use std::collections::HashMap;

fn tiny(bias: bool) -> ModelConfig {
    ModelConfig { n_layer: 2, n_head: 2, d_model: 8, seq_len: 6, vocab_size: 13, bias, ln_eps: 1e-5 }
}

fn batch(cfg: &ModelConfig, dev: &Device) -> (Tensor, Tensor) {
    let n = 2 * cfg.seq_len;
    let x: Vec<u32> = (0..n).map(|i| ((i * 5 + 3) % cfg.vocab_size) as u32).collect();
    let y: Vec<u32> = (0..n).map(|i| ((i * 7 + 1) % cfg.vocab_size) as u32).collect();
    (Tensor::from_vec(x, (2, cfg.seq_len), dev).unwrap(), Tensor::from_vec(y, (2, cfg.seq_len), dev).unwrap())
}

fn loss_of(cfg: &ModelConfig, k: Kernels, named: &HashMap<String, Tensor>, x: &Tensor, y: &Tensor) -> f64 {
    let vb = candle_nn::VarBuilder::from_tensors(named.clone(), DType::F64, &Device::Cpu);
    Gpt::with_kernels(cfg, vb, k).unwrap().loss(x, y).unwrap().to_scalar::<f64>().unwrap()
}

fn check(cfg: &ModelConfig, k: Kernels) {
    let dev = Device::Cpu;
    let params = Params::init(cfg, 7, DType::F64, &dev).unwrap();
    // Perturb the init (seeded) so LayerNorm gains/biases are off their trivial
    // values and attention is not uniform: every gradient is then well above
    // the finite-difference noise floor.
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let normal = Normal::new(0.0, 0.3).unwrap();
    for v in &params.vars {
        let n = v.as_tensor().elem_count();
        let noise: Vec<f64> = (0..n).map(|_| normal.sample(&mut rng)).collect();
        let noise = Tensor::from_vec(noise, v.as_tensor().shape(), &dev).unwrap();
        v.set(&(v.as_tensor() + noise).unwrap()).unwrap();
    }
    let (x, y) = batch(cfg, &dev);
    let model = Gpt::with_kernels(cfg, params.var_builder(DType::F64, true).unwrap(), k).unwrap();
    let grads = model.loss(&x, &y).unwrap().backward().unwrap();

    let named: HashMap<String, Tensor> = params.named_tensors().into_iter().collect();
    let eps = 1e-6;
    let mut checked = 0;
    for (spec, var) in params.specs.iter().zip(&params.vars) {
        let g = grads
            .get(var.as_tensor())
            .unwrap_or_else(|| panic!("parameter {} received no gradient: an op without backward is on the training path", spec.name));
        let g: Vec<f64> = g.flatten_all().unwrap().to_vec1().unwrap();
        assert!(g.iter().any(|v| *v != 0.0), "gradient of {} is identically zero", spec.name);
        let base: Vec<f64> = var.as_tensor().flatten_all().unwrap().to_vec1().unwrap();
        // Sample entries spread over the tensor among those whose gradient is not
        // negligible (≥ 1e-3 of the tensor's largest), where a relative error means something.
        let gmax = g.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let live: Vec<usize> = (0..g.len()).filter(|&i| g[i].abs() >= 1e-3 * gmax).collect();
        let picks: Vec<usize> = (0..6).map(|k| live[k * (live.len() - 1) / 5]).collect();
        for &i in &picks {
            let at = |delta: f64| {
                let mut p = base.clone();
                p[i] += delta;
                let mut m = named.clone();
                m.insert(spec.name.clone(), Tensor::from_vec(p, spec.shape.as_slice(), &dev).unwrap());
                loss_of(cfg, k, &m, &x, &y)
            };
            let num = (at(eps) - at(-eps)) / (2.0 * eps);
            let ana = g[i];
            let rel = (ana - num).abs() / ana.abs().max(num.abs()).max(1e-6);
            assert!(rel <= 1e-4, "{}[{i}]: analytic {ana:.10e} vs numeric {num:.10e} (rel err {rel:.2e})", spec.name);
            checked += 1;
        }
    }
    assert!(checked >= 6 * params.specs.len());
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

#[test]
fn composed_ops_match_finite_differences() {
    check(&tiny(true), Kernels::Composed);
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
    let la = model.forward(&Tensor::from_vec(a, (1, 6), &dev).unwrap()).unwrap();
    let lb = model.forward(&Tensor::from_vec(b, (1, 6), &dev).unwrap()).unwrap();
    let d = (la - lb).unwrap().abs().unwrap().narrow(1, 0, 4).unwrap().max_all().unwrap().to_scalar::<f64>().unwrap();
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
    assert!(fused.sum_all().unwrap().backward().unwrap().get(w.as_tensor()).is_none());
    let ours = scalelab::model::ops::layer_norm(&x, w.as_tensor(), Some(&b), 1e-5).unwrap();
    assert!((ours.sqr().unwrap()).sum_all().unwrap().backward().unwrap().get(w.as_tensor()).is_some());
}
