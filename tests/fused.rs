//! Each fused kernel against the composed reference, forward and backward,
//! in f64 (tolerance 1e-12 relative) and f32 (1e-5), on awkward shapes
//! (rows not a multiple of the task size, t = 1, large logits).

use candle_core::{DType, Device, Tensor, Var};
use scalelab::model::fused::{attention, cross_entropy, gelu, layer_norm, linear};
use scalelab::model::ops;

fn tol(dtype: DType) -> f64 {
    if dtype == DType::F64 {
        1e-12
    } else {
        1e-5
    }
}

/// max |a − b| / max(1, max |b|).
fn rel_diff(a: &Tensor, b: &Tensor) -> f64 {
    let a = a.to_dtype(DType::F64).unwrap().flatten_all().unwrap();
    let b = b.to_dtype(DType::F64).unwrap().flatten_all().unwrap();
    let d = (&a - &b)
        .unwrap()
        .abs()
        .unwrap()
        .max(0)
        .unwrap()
        .to_scalar::<f64>()
        .unwrap();
    let m = b.abs().unwrap().max(0).unwrap().to_scalar::<f64>().unwrap();
    d / m.max(1.0)
}

fn randn(shape: &[usize], scale: f64, dtype: DType, seed: u64) -> Tensor {
    // Deterministic pseudo-random values without touching a global RNG.
    let n: usize = shape.iter().product();
    let v: Vec<f64> = (0..n)
        .map(|i| (((i as u64 + 1) * 2654435761 + seed * 97) % 10007) as f64 / 10007.0 * 2.0 - 1.0)
        .map(|x| x * scale)
        .collect();
    Tensor::from_vec(v, shape, &Device::Cpu)
        .unwrap()
        .to_dtype(dtype)
        .unwrap()
}

/// Forward outputs and the gradients of `sum(out · probe)` w.r.t. every input.
fn run(inputs: &[Tensor], f: &dyn Fn(&[Tensor]) -> Tensor) -> (Tensor, Vec<Tensor>) {
    let vars: Vec<Var> = inputs
        .iter()
        .map(|t| Var::from_tensor(t).unwrap())
        .collect();
    let ts: Vec<Tensor> = vars.iter().map(|v| v.as_tensor().clone()).collect();
    let out = f(&ts);
    let probe = randn(out.dims(), 1.0, out.dtype(), 5);
    let grads = (&out * &probe)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    let g = vars
        .iter()
        .map(|v| {
            grads
                .get(v.as_tensor())
                .expect("every input gets a gradient")
                .clone()
        })
        .collect();
    (out, g)
}

fn compare(
    name: &str,
    dtype: DType,
    inputs: &[Tensor],
    fused: &dyn Fn(&[Tensor]) -> Tensor,
    reference: &dyn Fn(&[Tensor]) -> Tensor,
) {
    let (yf, gf) = run(inputs, fused);
    let (yr, gr) = run(inputs, reference);
    assert_eq!(yf.dims(), yr.dims(), "{name}: shape");
    let d = rel_diff(&yf, &yr);
    assert!(d <= tol(dtype), "{name} {dtype:?} forward differs by {d:e}");
    for (i, (a, b)) in gf.iter().zip(&gr).enumerate() {
        let d = rel_diff(a, b);
        assert!(
            d <= tol(dtype),
            "{name} {dtype:?} gradient of input {i} differs by {d:e}"
        );
    }
}

#[test]
fn layer_norm_matches_reference() {
    for dtype in [DType::F64, DType::F32] {
        for (rows, d) in [(1, 8), (37, 24), (515, 64)] {
            let x = (randn(&[rows, d], 3.0, dtype, 1) + 0.7).unwrap();
            let w = (randn(&[d], 0.5, dtype, 2) + 1.0).unwrap();
            let b = randn(&[d], 0.5, dtype, 3);
            compare(
                "layer_norm",
                dtype,
                &[x, w, b],
                &|t| layer_norm::layer_norm(&t[0], &t[1], Some(&t[2]), 1e-5).unwrap(),
                &|t| ops::layer_norm(&t[0], &t[1], Some(&t[2]), 1e-5).unwrap(),
            );
        }
    }
}

#[test]
fn layer_norm_without_bias_matches_reference() {
    let (x, w) = (
        randn(&[3, 5, 16], 2.0, DType::F64, 4),
        randn(&[16], 1.0, DType::F64, 6),
    );
    compare(
        "layer_norm(no bias)",
        DType::F64,
        &[x, w],
        &|t| layer_norm::layer_norm(&t[0], &t[1], None, 1e-5).unwrap(),
        &|t| ops::layer_norm(&t[0], &t[1], None, 1e-5).unwrap(),
    );
}

#[test]
fn linear_matches_reference() {
    for dtype in [DType::F64, DType::F32] {
        for (lead, din, dout) in [
            (vec![1], 3, 1),
            (vec![3, 100], 96, 40),
            (vec![2049], 64, 384),
        ] {
            let x = randn(&[lead.clone(), vec![din]].concat(), 2.0, dtype, 11);
            let w = randn(&[din, dout], 0.5, dtype, 12);
            let b = randn(&[dout], 1.0, dtype, 13);
            compare(
                "linear",
                dtype,
                &[x.clone(), w.clone(), b],
                &|t| linear::linear(&t[0], &t[1], Some(&t[2])).unwrap(),
                &|t| ops::linear(&t[0], &t[1], Some(&t[2])).unwrap(),
            );
            compare(
                "linear(no bias)",
                dtype,
                &[x, w],
                &|t| linear::linear(&t[0], &t[1], None).unwrap(),
                &|t| ops::linear(&t[0], &t[1], None).unwrap(),
            );
        }
    }
}

#[test]
fn gelu_matches_reference() {
    for dtype in [DType::F64, DType::F32] {
        let x = randn(&[3, 4099], 6.0, dtype, 7);
        // Reference: the tanh formula from primitives (not candle's `gelu`,
        // whose backward uses constants rounded to 6 digits).
        let reference = |t: &[Tensor]| scalelab::model::ops::gelu(&t[0]).unwrap();
        compare(
            "gelu",
            dtype,
            &[x],
            &|t| gelu::gelu(&t[0]).unwrap(),
            &reference,
        );
    }
}

#[test]
fn causal_attention_matches_reference() {
    // t = 1, t not a multiple of the 64-row causal block, and t spanning three blocks.
    for dtype in [DType::F64, DType::F32] {
        for (b, t, h, hd) in [(1, 1, 1, 4), (2, 7, 3, 5), (2, 130, 2, 8)] {
            let qkv = randn(&[b, t, 3 * h * hd], 2.0, dtype, 8);
            // SP's 1/√hd and a μP-style 1/hd: the backward must use the same scale.
            for scale in [1.0 / (hd as f64).sqrt(), 1.0 / hd as f64] {
                compare(
                    "causal_attention",
                    dtype,
                    std::slice::from_ref(&qkv),
                    &|x| attention::causal_attention(&x[0], h, scale).unwrap(),
                    &|x| ops::causal_attention(&x[0], h, scale).unwrap(),
                );
            }
        }
    }
}

#[test]
fn cross_entropy_matches_reference() {
    for dtype in [DType::F64, DType::F32] {
        for (n, v) in [(1, 5), (67, 300), (9, 4096)] {
            let z = randn(&[n, v], 20.0, dtype, 9);
            let targets: Vec<u32> = (0..n).map(|i| ((i * 31 + 7) % v) as u32).collect();
            let y = Tensor::from_vec(targets, n, &Device::Cpu).unwrap();
            compare(
                "cross_entropy",
                dtype,
                &[z],
                &|t| cross_entropy::cross_entropy(&t[0], &y).unwrap(),
                &|t| ops::cross_entropy(&t[0], &y).unwrap(),
            );
        }
    }
}

#[test]
fn cross_entropy_rejects_out_of_range_targets() {
    let z = randn(&[2, 10], 1.0, DType::F32, 1);
    let y = Tensor::from_vec(vec![3u32, 10], 2, &Device::Cpu).unwrap();
    let err = cross_entropy::cross_entropy(&z, &y)
        .unwrap_err()
        .to_string();
    assert!(err.contains("out of range"), "{err}");
}

#[test]
fn fused_kernels_are_deterministic() {
    // Fixed reduction order: the same inputs give bit-identical gradients.
    let x = randn(&[1000, 48], 2.0, DType::F32, 3);
    let w = randn(&[48], 1.0, DType::F32, 4);
    let b = randn(&[48], 1.0, DType::F32, 5);
    let f = |t: &[Tensor]| layer_norm::layer_norm(&t[0], &t[1], Some(&t[2]), 1e-5).unwrap();
    let (_, g1) = run(&[x.clone(), w.clone(), b.clone()], &f);
    let (_, g2) = run(&[x, w, b], &f);
    for (a, b) in g1.iter().zip(&g2) {
        assert_eq!(
            a.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
            b.flatten_all().unwrap().to_vec1::<f32>().unwrap()
        );
    }
}

#[test]
fn adamw_and_grad_norm_match_reference() {
    use scalelab::config::{ModelConfig, OptimConfig};
    use scalelab::model::params::Params;
    use scalelab::model::Kernels;
    use scalelab::train::optim::{grad_norm, AdamW};
    let cfg = ModelConfig {
        n_layer: 1,
        n_head: 2,
        d_model: 8,
        seq_len: 5,
        vocab_size: 11,
        bias: true,
        ln_eps: 1e-5,
        parametrization: Default::default(),
        base_width: None,
    };
    let ocfg = OptimConfig {
        weight_decay: 0.1,
        ..OptimConfig::default()
    };
    for dtype in [DType::F64, DType::F32] {
        let run = |k: Kernels| {
            let params = Params::init(&cfg, 3, dtype, &Device::Cpu).unwrap();
            let mut opt = AdamW::new(&ocfg, &params).unwrap();
            let mut norms = Vec::new();
            for step in 0..3u64 {
                let grads: Vec<Tensor> = params
                    .vars
                    .iter()
                    .enumerate()
                    .map(|(i, v)| randn(v.dims(), 0.1, dtype, 10 * step + i as u64))
                    .collect();
                norms.push(grad_norm(&grads, k).unwrap());
                opt.step(&params, &grads, 1e-2, k).unwrap();
            }
            let state: Vec<Tensor> = params
                .vars
                .iter()
                .map(|v| v.as_tensor().clone())
                .chain(opt.m.clone())
                .chain(opt.v.clone())
                .collect();
            (norms, state)
        };
        let ((nf, sf), (nr, sr)) = (run(Kernels::Fused), run(Kernels::Composed));
        for (a, b) in nf.iter().zip(&nr) {
            // Both accumulate in f64: only the summation order differs.
            assert!((a - b).abs() <= 1e-12 * b, "{dtype:?} grad norm {a} vs {b}");
        }
        for (i, (a, b)) in sf.iter().zip(&sr).enumerate() {
            let d = rel_diff(a, b);
            assert!(
                d <= tol(dtype),
                "{dtype:?} AdamW state tensor {i} differs by {d:e}"
            );
        }
    }
}
