#!/usr/bin/env python3
"""GFLOP/s of torch.matmul (MKL) on the GEMMs of a gpt-10m training step, in the
layouts the step uses, next to `cargo run --release --example gemm_shapes`
(same products, same order; each figure the fastest of several repetitions).

    OMP_WAIT_POLICY=PASSIVE python3 bench/gemm_shapes.py [ROWS D VOCAB]

THREADS sets torch's threads (default: all cores). Cap the ISA as bench/compare.sh's
ISA=avx2 does: ATEN_CPU_CAPABILITY=avx2 MKL_ENABLE_INSTRUCTIONS=AVX2 ONEDNN_MAX_CPU_ISA=AVX2."""
import os
import sys
import time

import torch

rows, d, v = (int(x) for x in sys.argv[1:4]) if len(sys.argv) == 4 else (4096, 384, 8192)
torch.set_num_threads(int(os.environ.get("THREADS", os.cpu_count())))
print(f"torch {torch.__version__} {torch.backends.cpu.get_cpu_capability()} | MKL_ENABLE_INSTRUCTIONS "
      f"{os.environ.get('MKL_ENABLE_INSTRUCTIONS', '(unset)')} | {torch.get_num_threads()} threads")
shapes = [("fc y = x.W", rows, d, 4 * d, False, False), ("fc dx = dy.W^T", rows, 4 * d, d, False, True),
          ("fc dW = x^T.dy", d, rows, 4 * d, True, False), ("proj y = x.W", rows, 4 * d, d, False, False),
          ("proj dx = dy.W^T", rows, d, 4 * d, False, True), ("proj dW = x^T.dy", 4 * d, rows, d, True, False),
          ("head y = h.wte^T", rows, d, v, False, True), ("head dh = dy.wte", rows, v, d, False, False),
          ("head dwte = dy^T.h", v, rows, d, True, False)]
for name, m, k, n, ta, tb in shapes:
    a = torch.randn(k, m).t() if ta else torch.randn(m, k)
    b = torch.randn(n, k).t() if tb else torch.randn(k, n)
    flops = 2.0 * m * k * n
    a @ b
    best = float("inf")
    for _ in range(max(5, int(4e9 / flops))):
        t = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t)
    print(f"{name:20} {m:>5}x{k:>5}x{n:>5} {flops / best / 1e9:7.1f} GFLOP/s")
