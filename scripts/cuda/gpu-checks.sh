#!/usr/bin/env bash
# gpu-checks.sh - the GPU checks of issues 5, 6 and 8 in one run, on the GPU machine (no Rust there).
#
# Usage, from the repository root on the GPU machine:
#   bash scripts/cuda/gpu-checks.sh BINARY [OUT]
# BINARY: a `--features nccl` (or `cuda`) build (scripts/cuda/build.sh build --features nccl);
# OUT: results folder (default $OUT, else gpu-out). Env: TORCH_PY (python with torch, default
# /opt/torch/.venv/bin/python3), STEPS (bench steps, default 20).
#
# Writes into OUT: check.json (`scalelab check --device cuda`: gradients vs finite differences
# in f64 on the GPU, GPU vs CPU, bf16/f16/tf32 vs fp32, NCCL on a 1-rank group), the bf16
# quickstart run, bench-*.json, and compare-*.txt (scalelab against the PyTorch reference with
# torch.compile, fused AdamW and flash attention, same config, back to back); summary.txt
# collects the key lines. Each step has its own time limit; a failing step does not stop the rest.
set -uo pipefail
BIN="${1:?usage: gpu-checks.sh BINARY [OUT]}"
OUT="${2:-${OUT:-gpu-out}}"
STEPS="${STEPS:-20}"
TORCH_PY="${TORCH_PY:-/opt/torch/.venv/bin/python3}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
[[ "$BIN" == */* ]] || BIN="./$BIN"
BIN="$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")"
SUMMARY="$OUT/summary.txt"
: > "$SUMMARY"
note() { echo "$*" | tee -a "$SUMMARY"; }
step() {  # step NAME LIMIT_S CMD...: run with a time limit, log to OUT/NAME.log, record the exit code
  local name=$1 limit=$2; shift 2
  local t0=$SECONDS
  timeout "$limit" "$@" > "$OUT/$name.log" 2>&1
  local rc=$?
  note "[$name] exit $rc after $((SECONDS - t0)) s"
  return $rc
}

TORCH_PY="$TORCH_PY" ENV_OUT="$OUT/env.sh" LOG_DIR="$OUT" bash "$HERE/run-on-gpu.sh" "$BIN" > "$OUT/setup.log" 2>&1 \
  || note "[setup] library set-up reported problems (see setup.log)"
# shellcheck disable=SC1091
source "$OUT/env.sh"
nvidia-smi --query-gpu=name,compute_cap,driver_version,memory.total --format=csv,noheader | sed 's/^/gpu: /' | tee -a "$SUMMARY"

step check 300 "$BIN" check --device cuda --json
cp "$OUT/check.log" "$OUT/check.json"
"$TORCH_PY" - "$OUT/check.json" <<'PY' | tee -a "$SUMMARY"
import json, sys
try:
    v = json.load(open(sys.argv[1]))
except Exception as e:
    sys.exit(f"check: no JSON ({e})")
for c in v["checks"]:
    print(f"  {'ok  ' if c['pass'] else 'FAIL'} {c['check']}: {c['value']:.2e} (tolerance {c['tolerance']:.0e}) {c['detail']}")
PY

step quickstart 300 "$BIN" train --config configs/quickstart.toml --device cuda --dtype bf16 --out "$OUT/quickstart"
grep -E "^done:" "$OUT/quickstart.log" | sed 's/^/  quickstart bf16: /' | tee -a "$SUMMARY"

for spec in "gpt-10m:configs/presets/gpt-10m.toml:" "gpt2-124m:configs/presets/gpt2-124m.toml:--set train.batch_size=16 --set train.grad_accum=1"; do
  IFS=: read -r name cfg flags <<<"$spec"
  # shellcheck disable=SC2086
  step "bench-$name" 300 "$BIN" bench --config "$cfg" --device cuda --dtype bf16 --steps "$STEPS" $flags --json
  cp "$OUT/bench-$name.log" "$OUT/bench-$name.json"
  SCALELAB="$BIN" PYTHON="$TORCH_PY" DEVICE=cuda DTYPE=bf16 ATTN=sdpa TORCH_FLAGS="--compile --fused-adamw" SCALELAB_FLAGS="$flags" \
    step "compare-$name" 420 bash bench/compare.sh "$cfg" "$STEPS"
  grep -E "^(scalelab|torch|ratio|MFU|peak)" "$OUT/compare-$name.log" | sed "s/^/  $name: /" | tee -a "$SUMMARY"
done
note "done; results in $OUT"
