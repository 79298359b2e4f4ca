#!/usr/bin/env bash
# gen-stub-symbols.sh - regenerate stub-symbols/*.txt: every C function that cudarc's sys bindings can
# reference, per library. setup-nvcc.sh turns these lists into tiny link-time stub .so files, because
# candle-core enables cudarc's "dynamic-linking" (the binary gets DT_NEEDED entries and undefined symbols
# for libcuda/libcublas/libcublasLt/libcurand/libnvrtc, and libnccl with --features nccl).
#
# Only needed when Cargo.lock moves cudarc to another version. The committed lists were made from
# cudarc 0.19.10 (the version Cargo.lock pins). Needs the cudarc sources: run `cargo fetch` first.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CUDARC="${CUDARC_SRC:-$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/cudarc-0.19.* | sort -V | tail -1)}"
echo "using $CUDARC"
mkdir -p "$HERE/stub-symbols"
for pair in driver:cuda cublas:cublas cublaslt:cublasLt curand:curand nvrtc:nvrtc nccl:nccl; do
  mod=${pair%%:*}; lib=${pair##*:}
  grep -oP '^pub unsafe fn \K[A-Za-z_][A-Za-z0-9_]*(?=\()' "$CUDARC/src/$mod/sys/mod.rs" \
    | grep -vxE "culib|is_culib_present|lib" | sort -u > "$HERE/stub-symbols/$lib.txt"
  echo "$lib: $(wc -l < "$HERE/stub-symbols/$lib.txt") symbols"
done
