//! `train.recompute = "blocks"` (src/model/recompute.rs): the segment-wise
//! backward gives the one-graph backward's gradients bit for bit, so a run
//! trains exactly as without it; bad values are refused by name. What it
//! saves in memory is tests/memory.rs and tests/memory_heap.rs.

mod common;

use candle_core::{DType, Device};
use scalelab::check::gradcheck::{batch, tiny, tiny_mup};
use scalelab::config::ModelConfig;
use scalelab::model::params::Params;
use scalelab::model::{Gpt, Kernels};

/// (loss, every parameter's gradient) of `loss / 3`, by one graph or by segments.
fn grads(cfg: &ModelConfig, k: Kernels, dtype: DType, segmented: bool) -> (f64, Vec<Vec<f64>>) {
    let dev = Device::Cpu;
    let params = Params::init(cfg, 7, dtype, &dev).unwrap();
    let model = Gpt::with_kernels(cfg, params.var_builder(dtype, true).unwrap(), k).unwrap();
    let (x, y) = batch(cfg, &dev).unwrap();
    let (loss, store) = if segmented {
        let s = model.loss_segmented(&x, &y).unwrap();
        let loss = s.loss().clone();
        (loss, s.backward(3.0).unwrap())
    } else {
        let loss = model.loss(&x, &y).unwrap();
        let store = (&loss / 3.0).unwrap().backward().unwrap();
        (loss, store)
    };
    let g = params.grads(&store).unwrap();
    let flat = |t: &candle_core::Tensor| {
        t.flatten_all()
            .unwrap()
            .to_dtype(DType::F64)
            .unwrap()
            .to_vec1::<f64>()
            .unwrap()
    };
    let loss = loss.to_dtype(DType::F64).unwrap().to_scalar().unwrap();
    (loss, g.iter().map(flat).collect())
}

/// A deeper, longer shape than `tiny`: the fused attention's 64-row blocks
/// and three segments between the embedding and the head.
fn deeper() -> ModelConfig {
    ModelConfig {
        n_layer: 3,
        n_head: 2,
        d_model: 16,
        seq_len: 70,
        vocab_size: 29,
        ..tiny(true)
    }
}

#[test]
fn segmented_backward_gives_the_same_gradients_bit_for_bit() {
    for (name, cfg) in [
        ("bias", tiny(true)),
        ("no bias", tiny(false)),
        ("mup", tiny_mup()),
        ("deeper", deeper()),
    ] {
        for k in [Kernels::Fused, Kernels::Composed] {
            for dtype in [DType::F64, DType::F32] {
                let (l0, g0) = grads(&cfg, k, dtype, false);
                let (l1, g1) = grads(&cfg, k, dtype, true);
                let what = format!("{name}, {k:?}, {dtype:?}");
                assert_eq!(l0.to_bits(), l1.to_bits(), "{what}: loss");
                assert_eq!(g0.len(), g1.len());
                for (i, (a, b)) in g0.iter().zip(&g1).enumerate() {
                    assert!(
                        a.iter().any(|v| *v != 0.0),
                        "{what}: parameter {i} all zero"
                    );
                    let same = a.iter().zip(b).all(|(u, v)| u.to_bits() == v.to_bits());
                    assert!(same, "{what}: parameter {i} differs");
                }
            }
        }
    }
}

/// Per-step (loss, grad norm) of a 3-step run of the fixture with `sets`.
fn steps(fx: &common::Fixture, out: &str, sets: &[&str]) -> Vec<(f64, f64)> {
    let mut all = vec!["train.max_steps=3"];
    all.extend(sets);
    let dir = fx.path(out);
    scalelab::train::train(
        &fx.config(&all),
        &common::train_opts(dir.clone(), false, None),
    )
    .unwrap();
    let (steps, _) =
        scalelab::rundir::metrics::read(&scalelab::rundir::metrics_path(&dir)).unwrap();
    steps.iter().map(|s| (s.loss, s.grad_norm)).collect()
}

#[test]
fn a_run_with_recompute_trains_exactly_as_without() {
    let fx = common::Fixture::new();
    for (i, extra) in [
        vec![],
        vec!["train.kernels=composed"],
        vec!["train.micro_batch=2"],
        vec!["train.ranks=2"],
    ]
    .into_iter()
    .enumerate()
    {
        let plain = steps(&fx, &format!("plain{i}"), &extra);
        let mut with = extra.clone();
        with.push("train.recompute=blocks");
        let recomputed = steps(&fx, &format!("blocks{i}"), &with);
        assert_eq!(plain.len(), 3);
        assert_eq!(plain, recomputed, "{extra:?}");
    }
}

#[test]
fn config_recompute_must_be_none_or_blocks() {
    let fx = common::Fixture::new();
    let cfg = fx.config_path.to_str().unwrap();
    let args = [
        "train",
        "--config",
        cfg,
        "--out",
        "o",
        "--quiet",
        "--set",
        "train.recompute=all",
    ];
    common::fails(fx.dir.path(), &args, &["train.recompute", "blocks"]);
    assert!(!fx.path("o").exists());
}

/// The step-time model charges the backward one more forward of the blocks
/// (their GEMMs and attention), not of the embedding or the LM head.
#[test]
fn step_time_model_counts_the_blocks_forward_again() {
    use scalelab::flops::step_time::StepWork;
    let root = common::repo_root().join("configs/quickstart.toml");
    let load = |r: &str| {
        scalelab::config::RunConfig::load(&root, &[format!("train.recompute={r}")]).unwrap()
    };
    for fused in [true, false] {
        let (plain, blocks) = (
            StepWork::new(&load("none"), fused),
            StepWork::new(&load("blocks"), fused),
        );
        let flops =
            |g: &[scalelab::flops::step_time::Gemm]| g.iter().map(|g| g.flops()).sum::<f64>();
        let fwd = &plain.phases[0];
        let head: f64 = fwd
            .dense
            .iter()
            .filter(|g| g.name == "lm_head")
            .map(|g| g.flops())
            .sum();
        let extra = flops(&blocks.phases[1].dense) - flops(&plain.phases[1].dense);
        assert!((extra - (flops(&fwd.dense) - head)).abs() < 1.0, "{fused}");
        let extra_att = flops(&blocks.phases[1].attention) - flops(&plain.phases[1].attention);
        assert!((extra_att - flops(&fwd.attention)).abs() < 1.0, "{fused}");
        assert!(blocks.phases[1].bytes > plain.phases[1].bytes);
        assert_eq!(blocks.phases[0].bytes, plain.phases[0].bytes);
    }
}
