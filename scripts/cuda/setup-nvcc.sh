#!/usr/bin/env bash
# setup-nvcc.sh - a CUDA 13.0 nvcc + headers for building scalelab's `cuda` feature on a machine
# WITHOUT a GPU or CUDA toolkit, from PyPI wheels only (no NVIDIA apt repo, no runfile), installed
# with `pip --target` under a private prefix. Nothing here is ever shipped with the binary.
#
# Usage:   bash scripts/cuda/setup-nvcc.sh [PREFIX]
#            PREFIX default: $SCALELAB_CUDA_PREFIX, else <repo>/target/cuda-toolkit (git-ignored)
#          source PREFIX/env.sh     # PATH, CUDA_ROOT/CUDA_HOME/CUDA_PATH, NVCC, CUDA_COMPUTE_CAP, LIBRARY_PATH
# Normally called by scripts/cuda/build.sh. Idempotent: with the same pins and stub lists it only
# rewrites env.sh (no network). ~104 MB download, ~300 MB on disk.
#
# Result: PREFIX/nvidia/cu13 is a CUDA_ROOT-like tree:
#   bin/nvcc bin/ptxas bin/fatbinary ...  include/ (cuda_runtime.h cuda_fp16.h cuda_bf16.h, crt/, cccl/)
#   nvvm/bin/cicc nvvm/libdevice/   lib/libcudart.so.13 (+ libcudart.so, lib64 -> lib)
#   lib/stubs/*.so: small GENERATED link-time stubs (libcuda.so.1, libcublas.so.13, libcublasLt.so.13,
#   libcurand.so.10, libnvrtc.so.13, libnccl.so.2), so that candle's cudarc "dynamic-linking" can link without
#   ~1 GB of cuBLAS wheels. Every stub function returns 999 (CUDA_ERROR_UNKNOWN). The real libraries
#   come from the GPU machine at run time (see run-on-gpu.sh).
#
# Pins: CUDA 13.0.x on purpose. candle loads most of its kernels as PTX that the driver JIT-compiles;
# PTX from a newer nvcc (13.1+) carries a newer PTX ISA that a CUDA 13.0 driver (R580) refuses
# (CUDA_ERROR_UNSUPPORTED_PTX_VERSION). Override with NVCC_VER=... etc. only together with a newer driver.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
PREFIX="${1:-${SCALELAB_CUDA_PREFIX:-$REPO/target/cuda-toolkit}}"
mkdir -p "$(dirname "$PREFIX")"
PREFIX="$(cd "$(dirname "$PREFIX")" && pwd)/$(basename "$PREFIX")"
PY="${PYTHON:-python3}"

NVCC_VER="${NVCC_VER:-13.0.88}"
NVVM_VER="${NVVM_VER:-13.0.88}"
CRT_VER="${CRT_VER:-13.0.88}"
CUDART_VER="${CUDART_VER:-13.0.96}"
CCCL_VER="${CCCL_VER:-13.0.85}"
STUB_LIBS=(cuda cublas cublasLt curand nvrtc nccl)
for lib in "${STUB_LIBS[@]}"; do
  [[ -s "$HERE/stub-symbols/$lib.txt" ]] || { echo "[setup-nvcc] missing $HERE/stub-symbols/$lib.txt (run gen-stub-symbols.sh)" >&2; exit 1; }
done
STUBS_SUM="$(cd "$HERE/stub-symbols" && cat "${STUB_LIBS[@]/%/.txt}" | sha256sum | cut -c1-12)"
STAMP="nvcc=$NVCC_VER nvvm=$NVVM_VER crt=$CRT_VER cudart=$CUDART_VER cccl=$CCCL_VER stubs=$STUBS_SUM"

ROOT="$PREFIX/nvidia/cu13"
t0=$(date +%s)
fresh=0

if [[ -f "$PREFIX/.stamp" && "$(cat "$PREFIX/.stamp")" == "$STAMP" && -x "$ROOT/bin/nvcc" ]]; then
  echo "[setup-nvcc] already installed ($STAMP) in $PREFIX"
else
  echo "[setup-nvcc] installing CUDA $NVCC_VER wheels into $PREFIX"
  # only wipe a prefix this script made (stamped, or a half-finished install), or an empty one
  if [[ -d "$PREFIX" && -n "$(ls -A "$PREFIX")" && ! -f "$PREFIX/.stamp" && ! -f "$PREFIX/.installing" ]]; then
    echo "[setup-nvcc] refusing to wipe non-empty $PREFIX that this script did not make" >&2; exit 1
  fi
  rm -rf "$PREFIX"
  mkdir -p "$PREFIX"
  touch "$PREFIX/.installing"
  # --no-deps + explicit pins: nvidia-cuda-nvcc's own requirements (nvvm, runtime, crt) are unpinned.
  "$PY" -m pip install --quiet --no-cache-dir --disable-pip-version-check --root-user-action=ignore --no-deps \
      --target "$PREFIX" \
      "nvidia-cuda-nvcc==$NVCC_VER" \
      "nvidia-nvvm==$NVVM_VER" \
      "nvidia-cuda-crt==$CRT_VER" \
      "nvidia-cuda-runtime==$CUDART_VER" \
      "nvidia-cuda-cccl==$CCCL_VER"
  rm -rf "$ROOT/.metadata"
  [[ -x "$ROOT/bin/nvcc" ]] || { echo "[setup-nvcc] no $ROOT/bin/nvcc after pip install (wheel layout changed?)" >&2; exit 1; }

  # ---- make the tree look like a toolkit install ----
  ln -sfn lib "$ROOT/lib64"                        # nvcc.profile and cudaforge look at lib64
  ln -sfn libcudart.so.13 "$ROOT/lib/libcudart.so" # -lcudart at link time (candle-kernels)

  # ---- generated link-time stubs (never shipped, never loaded at run time) ----
  mkdir -p "$ROOT/lib/stubs"
  mk_stub() {  # mk_stub <soname> <linkname> <symbol-list>
    local soname=$1 linkname=$2 list=$3
    local c="$ROOT/lib/stubs/${linkname%.so}.c"
    sed 's/.*/int &(void){return 999;}/' "$list" > "$c"   # any call fails (999 = CUDA_ERROR_UNKNOWN)
    gcc -shared -fPIC -o "$ROOT/lib/stubs/$soname" -Wl,-soname,"$soname" "$c"
    ln -sfn "$soname" "$ROOT/lib/stubs/$linkname"
    rm -f "$c"
  }
  # soname, link name, symbol list (every `pub unsafe fn` of cudarc's {driver,cublas,cublaslt,curand,nvrtc}
  # sys bindings: a superset of what the binary references; the linker keeps only the used ones)
  mk_stub libcuda.so.1      libcuda.so     "$HERE/stub-symbols/cuda.txt"
  mk_stub libcublas.so.13   libcublas.so   "$HERE/stub-symbols/cublas.txt"
  mk_stub libcublasLt.so.13 libcublasLt.so "$HERE/stub-symbols/cublasLt.txt"
  mk_stub libcurand.so.10   libcurand.so   "$HERE/stub-symbols/curand.txt"
  mk_stub libnvrtc.so.13    libnvrtc.so    "$HERE/stub-symbols/nvrtc.txt"
  mk_stub libnccl.so.2      libnccl.so     "$HERE/stub-symbols/nccl.txt"   # --features nccl
  echo "$STAMP" > "$PREFIX/.stamp"
  rm -f "$PREFIX/.installing"
  fresh=1
fi

# ---- env file ----
cat > "$PREFIX/env.sh" <<ENV
# source me (written by scripts/cuda/setup-nvcc.sh)
export CUDA_ROOT="$ROOT"
export CUDA_HOME="$ROOT"
export CUDA_PATH="$ROOT"
export NVCC="$ROOT/bin/nvcc"
export PATH="$ROOT/bin:\$PATH"
# Target GPU (no GPU here, so it must be given; it also stops build scripts from calling nvidia-smi):
# 90 = H100/H200 (cudaforge makes it sm_90a, which runs ONLY on Hopper), 89 = RTX 40xx / L4 / L40,
# 86 = RTX 30xx / A10 / A40, 80 = A100. bf16 kernels need >= 80.
export CUDA_COMPUTE_CAP="\${CUDA_COMPUTE_CAP:-90}"
# where the linker finds libcudart.so and the stubs (cudarc's build.rs also adds \$CUDA_ROOT/lib/stubs)
export LIBRARY_PATH="$ROOT/lib:$ROOT/lib/stubs\${LIBRARY_PATH:+:\$LIBRARY_PATH}"
ENV

if [[ $fresh == 1 ]]; then
  # ---- smoke test after a fresh install: nvcc compiles a bf16/fp16 kernel to PTX and to SASS ----
  # shellcheck disable=SC1091
  source "$PREFIX/env.sh"
  tmp=$(mktemp -d)
  cat > "$tmp/t.cu" <<'CU'
#include <cuda_runtime.h>
#include <cuda_fp16.h>
#include <cuda_bf16.h>
extern "C" __global__ void k(__nv_bfloat16 *a, __half *b, float *c) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  c[i] = __bfloat162float(a[i]) + __half2float(b[i]);
}
CU
  nvcc --version | tail -2
  nvcc -arch=sm_80 --ptx -std=c++17 -O3 -o "$tmp/t.ptx" "$tmp/t.cu"
  nvcc -arch=sm_80 -c -Xcompiler -fPIC -std=c++17 -o "$tmp/t.o" "$tmp/t.cu"
  echo "[setup-nvcc] smoke test OK: $(grep -m1 '^.version' "$tmp/t.ptx") $(grep -m1 '^.target' "$tmp/t.ptx")"
  rm -rf "$tmp"
  echo "[setup-nvcc] done in $(( $(date +%s) - t0 ))s; disk: $(du -sh "$PREFIX" | cut -f1)"
fi
