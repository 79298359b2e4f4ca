#!/usr/bin/env python3
"""PyTorch reference for `scalelab bench`: eager on CPU in fp32, or on CUDA in
fp32 / TF32 / bf16 autocast, optionally with torch.compile and fused AdamW.

Builds the same GPT as scalelab (GPT-2 style: learned positions, pre-LN
blocks, causal self-attention, 4x MLP with GELU tanh, biases, LM head tied to
the token embedding; init N(0, 0.02), residual projections N(0, 0.02 /
sqrt(2 n_layer)); AdamW with the config's hyper-parameters, weight decay on 2-D
weights only, embeddings excluded unless optim.decay_embeddings; global
grad-norm clipping) and times training steps on uniformly random token
batches the way src/bench.rs does:

- the batch is drawn before the clock starts;
- forward = model + cross-entropy + reading the loss (loss.item());
- backward = (loss / grad_accum).backward(), for each micro-batch;
- optimizer = grad norm + clip + AdamW step + zero_grad;
- `--warmup` untimed steps, then `--steps` timed ones; ms/step is the mean of
  the per-step totals, tok/s = batch_size * grad_accum * seq_len / mean.

Model and batch come from a scalelab TOML config (`--config`, read with
tomllib and resolved like scalelab: the depth dial or explicit dials, same
defaults), or from flags, which also override the config.

    python3 bench/torch_reference.py --config configs/quickstart.toml --steps 20 --json
    python3 bench/torch_reference.py --n-layer 6 --n-head 6 --d-model 384 --seq-len 256 --vocab-size 8192 --batch-size 16

Attention is the explicit matmul -> causal mask -> softmax -> matmul that
scalelab computes; `--attn sdpa` uses torch's fused
scaled_dot_product_attention instead (what nanoGPT does).

On CUDA (`--device cuda`) the device is synchronised before every clock read,
`--dtype bf16` runs the forward under torch.autocast with fp32 master weights
and optimizer state (scalelab's scheme), `--dtype tf32` allows TF32 matmuls,
and peak_gpu_mib is torch.cuda.max_memory_allocated over the timed steps. The
configuration the speed goal names (issue 6) is

    python3 bench/torch_reference.py --config configs/presets/gpt2-124m.toml --batch-size 16 --grad-accum 1 \
        --device cuda --dtype bf16 --attn sdpa --compile --fused-adamw --json
"""
import argparse
import json
import math
import os
import resource
import statistics
import sys
import time
import tomllib


def resolve_config(path):
    """scalelab's resolution of [model], [train], [optim] (src/config.rs), defaults included."""
    with open(path, "rb") as f:
        raw = tomllib.load(f)
    m = raw.get("model", {})
    if "depth" in m:
        depth = m["depth"]
        d = m.get("aspect_ratio", 64) * depth
        model = dict(n_layer=depth, d_model=d, n_head=max(d // m.get("head_dim", 64), 1))
    else:
        model = dict(n_layer=m["n_layer"], n_head=m["n_head"], d_model=m["d_model"])
    model.update(seq_len=m["seq_len"], vocab_size=m["vocab_size"], bias=m.get("bias", True), ln_eps=m.get("ln_eps", 1e-5))
    t = raw.get("train", {})
    train = dict(batch_size=t.get("batch_size", 16), grad_accum=t.get("grad_accum", 1), seed=t.get("seed", 1337))
    o = raw.get("optim", {})
    optim = dict(
        lr=o.get("lr", 6e-4),
        weight_decay=o.get("weight_decay", 0.1),
        decay_embeddings=o.get("decay_embeddings", False),
        beta1=o.get("beta1", 0.9),
        beta2=o.get("beta2", 0.95),
        eps=o.get("eps", 1e-8),
        grad_clip=o.get("grad_clip", 1.0),
    )
    return model, train, optim


def build(torch, cfg, attn):
    nn, F = torch.nn, torch.nn.functional
    L, H, D, T, V, bias, eps = (cfg[k] for k in ("n_layer", "n_head", "d_model", "seq_len", "vocab_size", "bias", "ln_eps"))

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln_1 = nn.LayerNorm(D, eps=eps, bias=bias)
            self.c_attn = nn.Linear(D, 3 * D, bias=bias)
            self.attn_proj = nn.Linear(D, D, bias=bias)
            self.ln_2 = nn.LayerNorm(D, eps=eps, bias=bias)
            self.c_fc = nn.Linear(D, 4 * D, bias=bias)
            self.mlp_proj = nn.Linear(4 * D, D, bias=bias)

        def attention(self, x):
            b, t, d = x.shape
            q, k, v = self.c_attn(x).split(d, dim=2)
            q, k, v = (z.view(b, t, H, d // H).transpose(1, 2) for z in (q, k, v))
            if attn == "sdpa":
                y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            else:
                att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(d // H))
                att = att.masked_fill(self.mask[:t, :t], float("-inf")).softmax(dim=-1)
                y = att @ v
            return self.attn_proj(y.transpose(1, 2).reshape(b, t, d))

        def forward(self, x):
            x = x + self.attention(self.ln_1(x))
            return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))

    class Gpt(nn.Module):
        def __init__(self):
            super().__init__()
            self.wte = nn.Embedding(V, D)
            self.wpe = nn.Embedding(T, D)
            self.h = nn.ModuleList(Block() for _ in range(L))
            self.ln_f = nn.LayerNorm(D, eps=eps, bias=bias)
            mask = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
            for blk in self.h:
                blk.register_buffer("mask", mask, persistent=False)
            std, proj_std = 0.02, 0.02 / math.sqrt(2 * L)
            for name, p in self.named_parameters():
                if p.dim() == 2:
                    nn.init.normal_(p, 0.0, proj_std if name.endswith("_proj.weight") else std)
                elif name.endswith("bias"):
                    nn.init.zeros_(p)
                else:
                    nn.init.ones_(p)

        def forward(self, idx, targets):
            t = idx.shape[1]
            x = self.wte(idx) + self.wpe.weight[:t]
            for blk in self.h:
                x = blk(x)
            logits = self.ln_f(x) @ self.wte.weight.t()  # tied LM head
            return F.cross_entropy(logits.view(-1, V), targets.view(-1))

    return Gpt()


def main():
    ap = argparse.ArgumentParser(description="PyTorch reference for `scalelab bench`")
    ap.add_argument("--config", help="scalelab TOML config")
    for k in ("n_layer", "n_head", "d_model", "seq_len", "vocab_size", "batch_size", "grad_accum"):
        ap.add_argument("--" + k.replace("_", "-"), type=int)
    ap.add_argument("--steps", type=int, default=20, help="timed steps (default 20, like scalelab bench)")
    ap.add_argument("--warmup", type=int, default=3, help="untimed warm-up steps (default 3)")
    ap.add_argument("--threads", type=int, default=os.cpu_count(), help="torch.set_num_threads (default: all cores, as rayon)")
    ap.add_argument("--attn", choices=("manual", "sdpa"), default="manual")
    ap.add_argument("--device", default="cpu", help="cpu or cuda[:N]")
    ap.add_argument("--dtype", choices=("f32", "tf32", "bf16"), default="f32")
    ap.add_argument("--compile", action="store_true", help="torch.compile the model")
    ap.add_argument("--fused-adamw", action="store_true", help="torch.optim.AdamW(fused=True) (CUDA)")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()

    if a.config:
        model_cfg, train_cfg, optim_cfg = resolve_config(a.config)
    else:
        model_cfg = dict(n_layer=None, n_head=None, d_model=None, seq_len=None, vocab_size=None, bias=True, ln_eps=1e-5)
        train_cfg = dict(batch_size=16, grad_accum=1, seed=1337)
        optim_cfg = dict(lr=6e-4, weight_decay=0.1, decay_embeddings=False, beta1=0.9, beta2=0.95, eps=1e-8, grad_clip=1.0)
    for k in ("n_layer", "n_head", "d_model", "seq_len", "vocab_size"):
        if getattr(a, k) is not None:
            model_cfg[k] = getattr(a, k)
        if model_cfg[k] is None:
            ap.error(f"--{k.replace('_', '-')} is required without --config")
    for k in ("batch_size", "grad_accum"):
        if getattr(a, k) is not None:
            train_cfg[k] = getattr(a, k)
    if a.steps < 1:
        ap.error("--steps must be at least 1")

    import contextlib

    import torch

    dev = torch.device(a.device)
    cuda = dev.type == "cuda"
    if a.dtype != "f32" and not cuda:
        ap.error(f"--dtype {a.dtype} needs --device cuda")
    torch.set_num_threads(a.threads)
    torch.backends.cuda.matmul.allow_tf32 = a.dtype == "tf32"
    torch.backends.cudnn.allow_tf32 = a.dtype == "tf32"
    torch.manual_seed(train_cfg["seed"])
    model = build(torch, model_cfg, a.attn).to(dev)
    run = torch.compile(model) if a.compile else model
    autocast = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if a.dtype == "bf16" else contextlib.nullcontext
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    o = optim_cfg
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        emb = name.startswith(("wte.", "wpe."))
        (decay if p.dim() == 2 and (o["decay_embeddings"] or not emb) else no_decay).append(p)
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": o["weight_decay"]}, {"params": no_decay, "weight_decay": 0.0}],
        lr=o["lr"], betas=(o["beta1"], o["beta2"]), eps=o["eps"], **({"fused": True} if a.fused_adamw else {}),
    )
    params = [p for p in model.parameters()]
    clip = o["grad_clip"] if o["grad_clip"] > 0 else float("inf")
    B, T, V, accum = train_cfg["batch_size"], model_cfg["seq_len"], model_cfg["vocab_size"], train_cfg["grad_accum"]
    gen = torch.Generator().manual_seed(train_cfg["seed"])

    def step():
        fwd = bwd = 0.0
        for _ in range(accum):
            x = torch.randint(0, V, (B, T), generator=gen).to(dev)
            y = torch.randint(0, V, (B, T), generator=gen).to(dev)
            sync()
            t0 = time.perf_counter()
            with autocast():
                loss = run(x, y)
            loss.item()
            t1 = time.perf_counter()
            (loss / accum).backward()
            sync()
            fwd += t1 - t0
            bwd += time.perf_counter() - t1
        t2 = time.perf_counter()
        torch.nn.utils.clip_grad_norm_(params, clip)
        opt.step()
        opt.zero_grad(set_to_none=True)
        sync()
        return fwd, bwd, time.perf_counter() - t2

    results = []
    for i in range(a.warmup + a.steps):
        if i == a.warmup and cuda:
            torch.cuda.reset_peak_memory_stats(dev)
        results.append(step())
    results = results[a.warmup:]
    totals = sorted(sum(r) * 1e3 for r in results)
    ms = statistics.fmean(totals)
    tokens = B * accum * T
    r = {
        "impl": f"torch {torch.__version__} {'compiled' if a.compile else 'eager'} ({a.attn} attention{', fused AdamW' if a.fused_adamw else ''}, {a.device} {a.dtype})",
        "params": sum(p.numel() for p in params),
        "batch_size": B,
        "grad_accum": accum,
        "seq_len": T,
        "tokens_per_step": tokens,
        "warmup_steps": a.warmup,
        "steps": a.steps,
        "ms_per_step": ms,
        "ms_per_step_median": totals[len(totals) // 2],
        "ms_forward": statistics.fmean(r[0] for r in results) * 1e3,
        "ms_backward": statistics.fmean(r[1] for r in results) * 1e3,
        "ms_optimizer": statistics.fmean(r[2] for r in results) * 1e3,
        "tok_per_s": tokens / (ms / 1e3),
        "threads": torch.get_num_threads(),
        # ATen's vector ISA (ATEN_CPU_CAPABILITY caps it) and MKL's cap: the figures depend on them.
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "mkl_instructions": os.environ.get("MKL_ENABLE_INSTRUCTIONS", "(unset: widest)"),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "(unset: libgomp spins)"),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "peak_gpu_mib": torch.cuda.max_memory_allocated(dev) / 2**20 if cuda else None,
    }
    if a.json:
        print(json.dumps(r, indent=2))
    else:
        print(
            f"torch reference: {r['params']} params | {B * accum} x {T} tokens | {a.steps} steps after {a.warmup} warm-up | "
            f"{ms:.1f} ms/step (median {r['ms_per_step_median']:.1f}; fwd {r['ms_forward']:.1f}, bwd {r['ms_backward']:.1f}, "
            f"opt {r['ms_optimizer']:.1f}) | {r['tok_per_s']:.0f} tok/s | {r['threads']} threads | OMP_WAIT_POLICY {r['omp_wait_policy']} | peak RSS {r['peak_rss_mib']:.0f} MiB"
        )


if __name__ == "__main__":
    sys.exit(main())
