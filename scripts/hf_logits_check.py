#!/usr/bin/env python3
"""Check a `scalelab export` folder against Hugging Face transformers.

Loads HF_DIR with transformers' GPT2LMHeadModel.from_pretrained (PyTorch,
CPU, float32), runs it on the token ids recorded in LOGITS_JSON (the output
of `scalelab logits --run RUN --tokens ... --json`) and compares its logits
with scalelab's. Exit status 0 when the max abs difference is <= --tol
(default 1e-4) and every weight was loaded from the folder (no missing or
unexpected tensors, the LM head tied exactly when config.json says so); 1
otherwise. Needs: torch, transformers, safetensors.

    scalelab export --run RUN --out EXPORT
    scalelab logits --run RUN --tokens 1,2,3 --json > logits.json
    python3 scripts/hf_logits_check.py EXPORT logits.json

Also loads EXPORT/tokenizer.json with transformers' PreTrainedTokenizerFast
and, with --prompt TEXT, checks it encodes TEXT to the recorded tokens.
"""
import argparse
import json
import sys


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("hf_dir", help="folder written by `scalelab export`")
    ap.add_argument("logits_json", help="output of `scalelab logits --json` for the same checkpoint")
    ap.add_argument("--tol", type=float, default=1e-4, help="max abs logit difference allowed (default 1e-4)")
    ap.add_argument("--prompt", help="text the tokens were encoded from (checks the tokenizer too)")
    a = ap.parse_args()

    import torch
    import transformers
    from transformers import GPT2LMHeadModel, PreTrainedTokenizerFast

    torch.set_grad_enabled(False)
    transformers.utils.logging.disable_progress_bar()
    with open(a.logits_json) as f:
        ref = json.load(f)
    tokens = ref["tokens"]
    model, info = GPT2LMHeadModel.from_pretrained(a.hf_dir, dtype=torch.float32, output_loading_info=True)
    model.eval()
    problems = {k: v for k, v in info.items() if v and k in ("missing_keys", "unexpected_keys", "mismatched_keys", "error_msgs")}
    # An SP export ties the LM head to wte; a μP export carries an untied
    # lm_head = wte/m (docs/fitting.md, μP) and says so in config.json.
    tied = model.lm_head.weight.data_ptr() == model.transformer.wte.weight.data_ptr()
    if tied != model.config.tie_word_embeddings:
        problems["tie"] = f"lm_head tied to wte: {tied}, config.json tie_word_embeddings: {model.config.tie_word_embeddings}"
    out = model(torch.tensor([tokens], dtype=torch.long)).logits[0].to(torch.float64)
    want = torch.tensor(ref["logits"], dtype=torch.float64)
    if out.shape != want.shape:
        print(f"error: transformers logits have shape {tuple(out.shape)}, scalelab's {tuple(want.shape)}", file=sys.stderr)
        return 1
    diff = (out - want).abs().max().item()
    tk = PreTrainedTokenizerFast(tokenizer_file=f"{a.hf_dir}/tokenizer.json")
    if a.prompt is not None and tk(a.prompt)["input_ids"] != tokens:
        problems["tokenizer"] = f"transformers encodes the prompt to {tk(a.prompt)['input_ids']}, scalelab to {tokens}"
    param = getattr(model.config, "scalelab_parametrization", "sp")
    print(
        f"transformers {transformers.__version__} torch {torch.__version__} ({param}): {len(tokens)} tokens x {want.shape[1]} logits, "
        f"max abs diff {diff:.3e} (tol {a.tol:g}), max |logit| {want.abs().max().item():.3f}"
    )
    for k, v in problems.items():
        print(f"error: {k}: {v}", file=sys.stderr)
    return 0 if diff <= a.tol and not problems else 1


if __name__ == "__main__":
    sys.exit(main())
