#!/usr/bin/env bash
# build.sh - check or build scalelab with `--features cuda` on a machine without a GPU or CUDA toolkit.
#
# Usage:   bash scripts/cuda/build.sh [check|build] [extra cargo args...]      (default: check)
#   check: cargo check --release --features cuda   (still runs candle-kernels' build script, i.e. nvcc)
#   build: cargo build --release --features cuda   -> $CARGO_TARGET_DIR/release/scalelab (or target/release)
# Env:
#   CUDA_COMPUTE_CAP     target GPU, default 90 (H100/H200; sm_90a runs only on Hopper);
#                        89 RTX 40xx/L4/L40, 86 RTX 30xx/A10/A40, 80 A100. bf16 needs >= 80.
#   SCALELAB_CUDA_PREFIX where the pip-installed nvcc lives (default <repo>/target/cuda-toolkit)
#   CUDAFORGE_THREADS    parallel nvcc jobs in candle-kernels' build script (default: all cores)
#   CARGO_TARGET_DIR     as usual
# With a real CUDA 13.0 toolkit installed, plain `cargo build --release --features cuda` works too.
# The binary needs libcuda.so.1, libcudart.so.13, libcublas.so.13, libcurand.so.10 at start-up, even
# to run on CPU: on the GPU machine start it with scripts/cuda/run-on-gpu.sh.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
MODE="${1:-check}"
[[ $# -gt 0 ]] && shift
case "$MODE" in
  check|build) ;;
  *) echo "usage: build.sh [check|build] [extra cargo args...]" >&2; exit 2;;
esac

PREFIX="${SCALELAB_CUDA_PREFIX:-$REPO/target/cuda-toolkit}"
bash "$HERE/setup-nvcc.sh" "$PREFIX"
# shellcheck disable=SC1091
source "$PREFIX/env.sh"

cd "$REPO"
echo "[cuda-build] cargo $MODE --release --features cuda${*:+ $*} (CUDA_COMPUTE_CAP=$CUDA_COMPUTE_CAP, nvcc: $(command -v nvcc))"
t0=$(date +%s)
cargo "$MODE" --release --features cuda "$@"
echo "[cuda-build] cargo $MODE OK in $(( $(date +%s) - t0 ))s"
if [[ "$MODE" == build ]]; then
  bin="${CARGO_TARGET_DIR:-$REPO/target}/release/scalelab"
  echo "[cuda-build] binary: $bin ($(du -h "$bin" | cut -f1)); run it on the GPU machine with scripts/cuda/run-on-gpu.sh"
fi
