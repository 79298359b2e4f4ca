#!/usr/bin/env python3
"""Regenerate docs/bad-input.md from real runs of the bad-input tests.

Runs `cargo test --release --test bad_input` and the `bad_*` tests of
tests/fit.rs with SCALELAB_BAD_INPUT_LOG set; each case's helper appends the
command it ran, the error line scalelab printed and its exit code
(tests/common/mod.rs: log_case). Usage, from the repository root:

    python3 tests/gen_bad_input_doc.py        # honours CARGO_TARGET_DIR etc.
"""
import json, os, re, subprocess, sys, tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GROUPS = [  # (test-name prefix, heading, source file)
    ("config_", "Configs", "bad_input.rs"),
    ("cli_", "Command-line values", "bad_input.rs"),
    ("corpus_", "Corpora", "bad_input.rs"),
    ("dataset_", "Corpora", "bad_input.rs"),
    ("tokenizer_", "Tokenizers", "bad_input.rs"),
    ("checkpoint_", "Checkpoints", "bad_input.rs"),
    ("run_folder_", "Run folders", "bad_input.rs"),
    ("sweep_", "Sweep specs", "bad_input.rs"),
    ("bad_", "Results CSVs for `scalelab fit`", "fit.rs"),
    ("", "Faults while running (tests/reliability.rs, with the test hooks of src/fault.rs)", "reliability.rs"),
]


def code(s):
    s = s.replace("|", "\\|")
    return f"`` {s} ``" if "`" in s else f"`{s}`"


def main():
    with tempfile.TemporaryDirectory() as tmp:
        log = os.path.join(tmp, "cases.jsonl")
        env = dict(os.environ, SCALELAB_BAD_INPUT_LOG=log)
        for args in (["--test", "bad_input"], ["--test", "fit", "bad_"], ["--test", "reliability"]):
            subprocess.run(["cargo", "test", "--release", *args], cwd=ROOT, env=env, check=True)
        cases = {}
        for line in open(log):
            r = json.loads(line)
            cases.setdefault(r["test"], r)
    order = []
    for f in ("bad_input.rs", "fit.rs", "reliability.rs"):
        src = open(os.path.join(ROOT, "tests", f)).read()
        order += [(f, n) for n in re.findall(r"#\[test\]\s*fn (\w+)", src)]
    out = [
        "# Bad input",
        "",
        "Every case below is a test (tests/bad_input.rs, tests/fit.rs,",
        "tests/reliability.rs): scalelab",
        "prints one error line naming the field or file, exits non-zero (1 for",
        "errors, 2 for command-line usage errors), does not panic, and changes",
        "nothing already written. The command, error line and exit code are",
        "those of a real run, recorded by `python3 tests/gen_bad_input_doc.py`",
        "(temp folders shown as relative paths; `tiny.toml` is the test",
        "fixture's config, `run` a run folder the test trained first; the",
        "`SCALELAB_FAULT_*` variables are test hooks, built only with the cargo",
        "feature `fault-injection` that `cargo test` turns on, see src/fault.rs).",
        "",
    ]
    logged = set()
    for heading in dict.fromkeys(h for _, h, _ in GROUPS):
        rows = []
        for f, n in order:
            prefix = next((p for p, h, ff in GROUPS if h == heading and ff == f and n.startswith(p)), None)
            if prefix is not None and n in cases:
                rows.append(f"| {n.removeprefix(prefix).replace('_', ' ')} | {code(cases[n]['command'])} | {code(cases[n]['error'])} | {cases[n]['exit']} |")
                logged.add(n)
        out += [f"## {heading}", "", "| case | command | error line | exit |", "|---|---|---|---|", *rows, ""]
    missing = [n for (f, n) in order if (f == "bad_input.rs" or n.startswith("bad_")) and n not in cases]
    out += [
        "SIGTERM / SIGINT during `train` write a checkpoint and exit 143 / 130;",
        "`--resume` then ends bit-identical to an uninterrupted run, as it does",
        "after kill -9 at any moment (tests/reliability.rs). A failing run inside",
        "a sweep is recorded as failed and the sweep goes on; re-running retries",
        "only it (tests/sweep.rs, `failed_run_is_recorded_then_retried_alone`).",
        "",
    ]
    with open(os.path.join(ROOT, "docs", "bad-input.md"), "w") as fh:
        fh.write("\n".join(out))
    print(f"docs/bad-input.md: {len(logged)} cases", file=sys.stderr)
    if missing:
        sys.exit(f"tests that logged no case: {missing}")


if __name__ == "__main__":
    main()
