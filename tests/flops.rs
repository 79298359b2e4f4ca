//! The analytic FLOP count is checked against what a real forward pass does:
//! every matmul the candle model issues is recorded with its shape, and the
//! sum of 2·m·k·n must equal the analytic forward count exactly, for several
//! shapes (depths, widths, head counts, sequence lengths, vocabularies, batch).
//! The training step is 3× the forward (backward of a matmul = 2× its forward).

use scalelab::config::ModelConfig;
use scalelab::flops::{instrumented_forward, MatmulFlops, StepFlops};

fn shape(
    n_layer: usize,
    n_head: usize,
    d_model: usize,
    seq_len: usize,
    vocab_size: usize,
    bias: bool,
) -> ModelConfig {
    ModelConfig {
        n_layer,
        n_head,
        d_model,
        seq_len,
        vocab_size,
        bias,
        ln_eps: 1e-5,
        parametrization: Default::default(),
        base_width: None,
    }
}

#[test]
fn instrumented_forward_equals_the_analytic_count() {
    for (cfg, batch) in [
        (shape(1, 1, 16, 8, 50, true), 1),
        (shape(2, 2, 32, 16, 384, false), 3),
        (shape(3, 4, 64, 33, 1000, true), 2),
        (shape(4, 8, 128, 64, 4096, true), 1),
        (shape(6, 6, 384, 32, 8192, true), 1),
    ] {
        let got = instrumented_forward(&cfg, batch).unwrap();
        let analytic = MatmulFlops::new(&cfg, cfg.seq_len).total() * batch as u64;
        assert_eq!(got.analytic, analytic);
        assert_eq!(
            got.flops, analytic,
            "{cfg:?} batch {batch}: executed matmuls {} FLOPs vs analytic {analytic}",
            got.flops
        );
        // Per layer: QKV, QKᵀ, A·V, output projection, MLP up and down; plus the LM head.
        assert_eq!(got.matmuls, 6 * cfg.n_layer + 1, "{cfg:?}");
    }
}

#[test]
fn training_step_is_three_forwards_of_matmul_flops() {
    let cfg = shape(12, 12, 768, 1024, 50257, true);
    let f = MatmulFlops::new(&cfg, 1024).total();
    let s = StepFlops::new(&cfg, 1024, 16);
    assert_eq!(s.matmul_step, 3 * f * 16);
    // GPT-2 small: about 6·N·T + 12·L·T²·d matmul FLOPs per sequence in training.
    let n = 85_054_464.0 + 768.0 * 50257.0; // non-embedding + LM head weights
    let approx = 6.0 * n * 1024.0 + 12.0 * 12.0 * 1024.0 * 1024.0 * 768.0;
    let rel = (3.0 * f as f64 - approx).abs() / approx;
    assert!(rel < 0.01, "{rel}");
}
