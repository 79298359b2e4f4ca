//! GFLOP/s of the GEMMs of a gpt-10m training step (d 384, 4096 rows, vocab 8192)
//! in the layouts the step uses (candle's matmul on transposed views, as the
//! linear layers' backward and the tied LM head run them): gemm's AVX-512
//! kernels, or its AVX2 ones in a build without the `avx512` feature:
//!
//!     cargo run --release [--no-default-features] --example gemm_shapes [-- ROWS D VOCAB]
//!
//! Each figure is the fastest of several repetitions (the least disturbed by
//! other load). `bench/gemm_shapes.py` times the same products in PyTorch (MKL).

use candle_core::{Device, Tensor};
use scalelab::model::fused::gemm_kernels;
use std::time::Instant;

fn main() -> candle_core::Result<()> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("ROWS D VOCAB are numbers"))
        .collect();
    let (rows, d, v) = match args[..] {
        [r, d, v] => (r, d, v),
        _ => (4096, 384, 8192),
    };
    println!(
        "{} | {} rayon threads",
        gemm_kernels(),
        rayon::current_num_threads()
    );
    // (name, m, k, n, a transposed, b transposed): y = x·W, dx = dy·Wᵀ, dW = xᵀ·dy.
    let shapes = [
        ("fc y = x.W", rows, d, 4 * d, false, false),
        ("fc dx = dy.W^T", rows, 4 * d, d, false, true),
        ("fc dW = x^T.dy", d, rows, 4 * d, true, false),
        ("proj y = x.W", rows, 4 * d, d, false, false),
        ("proj dx = dy.W^T", rows, d, 4 * d, false, true),
        ("proj dW = x^T.dy", 4 * d, rows, d, true, false),
        ("head y = h.wte^T", rows, d, v, false, true),
        ("head dh = dy.wte", rows, v, d, false, false),
        ("head dwte = dy^T.h", v, rows, d, true, false),
    ];
    let dev = Device::Cpu;
    for (name, m, k, n, ta, tb) in shapes {
        let operand = |r, c, t| -> candle_core::Result<Tensor> {
            if t {
                Tensor::randn(0f32, 1.0, (c, r), &dev)?.t()
            } else {
                Tensor::randn(0f32, 1.0, (r, c), &dev)
            }
        };
        let (a, b) = (operand(m, k, ta)?, operand(k, n, tb)?);
        let flops = 2.0 * (m * k * n) as f64;
        a.matmul(&b)?;
        let best = (0..((4e9 / flops) as usize).max(5))
            .map(|_| {
                let t = Instant::now();
                a.matmul(&b).map(|_| t.elapsed().as_secs_f64())
            })
            .try_fold(f64::INFINITY, |b, s| s.map(|s| b.min(s)))?;
        println!(
            "{name:20} {m:>5}x{k:>5}x{n:>5} {:7.1} GFLOP/s",
            flops / best / 1e9
        );
    }
    Ok(())
}
