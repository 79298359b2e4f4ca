#!/usr/bin/env bash
# scalelab vs the PyTorch eager reference on the same machine, back to back:
#   bench/compare.sh CONFIG [STEPS]
# runs `scalelab bench --config CONFIG --steps STEPS --json`, then
# bench/torch_reference.py with the same config, steps and warm-up, and prints
# both figures and the ratios scalelab / torch (tok/s: > 1 means scalelab is
# faster; ms/step: < 1 means scalelab is faster).
# Environment: SCALELAB (binary, default target/release/scalelab, else `scalelab`
# on PATH), PYTHON (with torch; default python3), WARMUP (default 3),
# THREADS (torch.set_num_threads; default: all cores, as scalelab's rayon pool),
# ATTN (manual | sdpa; default manual, the ops scalelab computes),
# DEVICE (cpu | cuda[:N]; default cpu) and DTYPE (f32 | tf32 | bf16; default f32)
# for both, TORCH_FLAGS (extra reference flags, e.g. "--compile --fused-adamw"),
# SCALELAB_FLAGS (extra bench flags, e.g. "--set train.batch_size=16").
# ISA (native | avx2; default native): avx2 emulates an AVX2-only CPU on an AVX-512
# one: torch is capped by ATEN_CPU_CAPABILITY=avx2, MKL_ENABLE_INSTRUCTIONS=AVX2 and
# ONEDNN_MAX_CPU_ISA=AVX2, and SCALELAB must be a build without the avx512 feature
# (cargo build --release --no-default-features; checked). Each figure is printed with
# the CPU's ISA and the kernels' ISA of both programs.
# ABA=1 runs scalelab a second time after torch and takes the mean of its two
# runs (ms and tok/s): a machine whose speed drifts during the pair then moves
# both programs alike; the second run over the first is printed as the drift.
# OMP_WAIT_POLICY defaults to PASSIVE: with libgomp's default spinning, torch on
# a 2-core machine shared with another busy process runs several times slower
# (docs/benchmarks.md has the measurement); scalelab's own thread pool is
# likewise kept from spinning (src/main.rs).
set -euo pipefail
if [ $# -lt 1 ] || [ $# -gt 2 ]; then
  echo "usage: bench/compare.sh CONFIG [STEPS]" >&2
  exit 2
fi
CONFIG=$1
STEPS=${2:-20}
WARMUP=${WARMUP:-3}
ATTN=${ATTN:-manual}
DEVICE=${DEVICE:-cpu}
DTYPE=${DTYPE:-f32}
TORCH_FLAGS=${TORCH_FLAGS:-}
SCALELAB_FLAGS=${SCALELAB_FLAGS:-}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
SCALELAB=${SCALELAB:-$ROOT/target/release/scalelab}
[ -x "$SCALELAB" ] || SCALELAB=scalelab
PYTHON=${PYTHON:-python3}
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
THREADS=${THREADS:-$(nproc)}
ISA=${ISA:-native}
ABA=${ABA:-0}
case $ISA in
  native) ;;
  avx2) export ATEN_CPU_CAPABILITY=avx2 MKL_ENABLE_INSTRUCTIONS=AVX2 ONEDNN_MAX_CPU_ISA=AVX2 ;;
  *) echo "ISA must be native or avx2, not $ISA" >&2; exit 2 ;;
esac

echo "# $(date -u '+%Y-%m-%d %H:%M:%S UTC') | $(nproc) cores | load:$(uptime | sed 's/.*load average://')"
# One scalelab bench run (twice with ABA=1), its JSON on stdout.
scalelab_bench() {
  # shellcheck disable=SC2086  # the *_FLAGS are word lists
  "$SCALELAB" bench --config "$CONFIG" --steps "$STEPS" --warmup "$WARMUP" --device "$DEVICE" --dtype "$DTYPE" $SCALELAB_FLAGS --json
}
echo "\$ scalelab bench --config $CONFIG --steps $STEPS --warmup $WARMUP --device $DEVICE --dtype $DTYPE $SCALELAB_FLAGS --json"
sl=$(scalelab_bench)
BS=$(SL="$sl" "$PYTHON" -c 'import json, os; s = json.loads(os.environ["SL"]); print(s["batch_size"], s["grad_accum"])')
read -r B ACC <<<"$BS"
if [ "$ISA" = avx2 ] && [[ $sl == *'"gemm": "gemm AVX-512"'* ]]; then
  echo "ISA=avx2 needs a scalelab built with --no-default-features (this one runs gemm's AVX-512 kernels): set SCALELAB" >&2
  exit 2
fi
echo "\$ OMP_WAIT_POLICY=$OMP_WAIT_POLICY $PYTHON bench/torch_reference.py --config $CONFIG --batch-size $B --grad-accum $ACC --steps $STEPS --warmup $WARMUP --threads $THREADS --attn $ATTN --device $DEVICE --dtype $DTYPE $TORCH_FLAGS --json"
# shellcheck disable=SC2086
tr=$("$PYTHON" "$HERE/torch_reference.py" --config "$CONFIG" --batch-size "$B" --grad-accum "$ACC" --steps "$STEPS" --warmup "$WARMUP" --threads "$THREADS" --attn "$ATTN" --device "$DEVICE" --dtype "$DTYPE" $TORCH_FLAGS --json)
sl2=
if [ "$ABA" = 1 ]; then
  echo "\$ scalelab bench … (the same command again: ABA)"
  sl2=$(scalelab_bench)
fi
echo "# load after: $(uptime | sed 's/.*load average://')"
SL="$sl" SL2="$sl2" TR="$tr" "$PYTHON" - <<'PY'
import json, os
s, t = json.loads(os.environ["SL"]), json.loads(os.environ["TR"])
assert s["params"] == t["params"] and s["tokens_per_step"] == t["tokens_per_step"], "the two models differ"
rows = [(f"scalelab ({s['kernels']} kernels)", s)]
if os.environ["SL2"]:
    s2 = json.loads(os.environ["SL2"])
    rows = [(f"scalelab ({s['kernels']} kernels), run 1", s), ("scalelab, run 2 (after torch)", s2)]
    drift = s2["tok_per_s"] / s["tok_per_s"]
    # The ratios below use the mean of the two runs.
    s = dict(s, **{k: (s[k] + s2[k]) / 2 for k in ("ms_per_step", "ms_per_step_median", "ms_forward", "ms_backward", "ms_optimizer", "tok_per_s")})
    rows.append(("scalelab, mean of runs 1 and 2", s))
row = "{:<46} {:>10} {:>10} {:>10} {:>10} {:>10} {:>8} {:>9}"
print(row.format("", "ms/step", "median", "fwd", "bwd", "opt", "tok/s", "peak MiB"))
for name, r in rows + [(t["impl"], t)]:
    rss = f"{r['peak_rss_mib']:.0f}" if r.get("peak_rss_mib") else "-"
    print(row.format(name[:46], *(f"{r[k]:.1f}" for k in ("ms_per_step", "ms_per_step_median", "ms_forward", "ms_backward", "ms_optimizer")), f"{r['tok_per_s']:.0f}", rss))
isa = f"ISA: CPU {s.get('cpu_isa') or '-'} | scalelab {s.get('gemm') or '-'} | torch {t.get('cpu_capability', '-')}, MKL {t.get('mkl_instructions', '-')}"
print(isa)
print(f"{s['params']} params | {s['tokens_per_step']} tokens/step | {s['steps']} steps after {s['warmup_steps']} warm-up | threads scalelab {s['threads']}, torch {t['threads']}")
if os.environ["SL2"]:
    print(f"ABA: scalelab run 2 / run 1 tok/s {drift:.2f} (the machine's drift across the pair)")
print(f"ratio scalelab/torch ({s.get('gemm') or '-'} vs torch {t.get('cpu_capability', '-')}): tok/s {s['tok_per_s'] / t['tok_per_s']:.2f}x | ms/step {s['ms_per_step'] / t['ms_per_step']:.2f} "
      f"(fwd {s['ms_forward'] / t['ms_forward']:.2f}, bwd {s['ms_backward'] / t['ms_backward']:.2f}, opt {s['ms_optimizer'] / t['ms_optimizer']:.2f})")
if s.get("mfu") is not None:
    # Same FLOP count for both: the reference's MFU scales with its tok/s.
    print(f"MFU (exact matmul FLOPs): scalelab {s['mfu'] * 100:.1f}% | torch {s['mfu'] * t['tok_per_s'] / s['tok_per_s'] * 100:.1f}%")
if s.get("peak_gpu_mib") is not None and t.get("peak_gpu_mib") is not None:
    print(f"peak GPU memory allocated: scalelab {s['peak_gpu_mib']:.0f} MiB | torch {t['peak_gpu_mib']:.0f} MiB")
PY
