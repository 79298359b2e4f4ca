#!/usr/bin/env python3
"""Validation loss by position in the context for trained runs, through
`scalelab logits` (docs/fitting.md, "The CPU reference study"):
    W=400 python3 scripts/loss_by_position.py data/prepared/pd_classics-bpe384/val.bin RUN_DIR...
W windows of seq_len 64 are taken evenly from the val split (u16 token ids);
the in-context gain is the loss at positions 1-3 minus the loss at 32-63."""
import json, math, struct, subprocess, sys
val, runs = sys.argv[1], sys.argv[2:]
b = open(val, 'rb').read()
toks = struct.unpack('<%dH' % (len(b) // 2), b)
T, W = 64, int(__import__("os").environ.get("W", "48"))
step = (len(toks) - T - 1) // W
wins = [toks[i * step: i * step + T + 1] for i in range(W)]
for run in runs:
    sums = [0.0] * T
    for w in wins:
        out = subprocess.run(['./target/release/scalelab', 'logits', '--run', run, '--json',
                              '--tokens', ','.join(map(str, w[:T]))], capture_output=True, text=True, check=True)
        lg = json.loads(out.stdout)['logits']
        for t in range(T):
            row = lg[t]; m = max(row)
            lse = m + math.log(sum(math.exp(x - m) for x in row))
            sums[t] += lse - row[w[t + 1]]
    pos = [s / W for s in sums]
    cuts = [(0, 1), (1, 4), (4, 16), (16, 32), (32, 64)]
    bands = [sum(pos[a:b]) / (b - a) for a, b in cuts]
    print(run.split('/')[-1], 'mean %.3f' % (sum(pos) / T),
          ' '.join('pos %d-%d %.3f' % (a, b - 1, x) for (a, b), x in zip(cuts, bands)),
          '| in-context gain (pos 1-3 minus 32-63) %.3f' % (bands[1] - bands[4]))
