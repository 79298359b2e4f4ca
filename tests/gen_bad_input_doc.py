#!/usr/bin/env python3
"""Regenerate docs/bad-input.md from real runs of the bad-input tests.

Runs the tests of tests/bad_input* (tests/bad_input/ is one test binary in
several files), tests/run_folder.rs, the `bad_*` tests of tests/fit/ and
tests/reliability.rs with SCALELAB_BAD_INPUT_LOG set; each case's helper
appends the command it ran, the error line scalelab printed (or, for a case
that now works, its result line) and its exit code (tests/common/mod.rs:
log_case). The "Fuzzing" section at the end of the existing document (from
its heading on) is kept as it is. Usage, from the repository root:

    python3 tests/gen_bad_input_doc.py        # honours CARGO_TARGET_DIR etc.
"""
import json, os, re, subprocess, sys, tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FILES = ["bad_input.rs", "bad_input_data.rs", "bad_input_run.rs", "bad_input_cli.rs", "run_folder.rs", "fit.rs", "reliability.rs", "memory.rs", "recompute.rs"]
GROUPS = [  # (test-name prefix, heading, source file: tests/X.rs or the binary tests/X/)
    ("config_", "Configs", "bad_input.rs"),
    ("config_", "Configs", "bad_input_run.rs"),
    ("config_", "Configs", "memory.rs"),
    ("config_", "Configs", "recompute.rs"),
    ("cli_", "Command-line values", "bad_input.rs"),
    ("cli_", "Command-line values", "bad_input_cli.rs"),
    ("corpus_", "Corpora and datasets", "bad_input.rs"),
    ("dataset_", "Corpora and datasets", "bad_input.rs"),
    ("corpus_", "Corpora and datasets", "bad_input_data.rs"),
    ("dataset_", "Corpora and datasets", "bad_input_data.rs"),
    ("tokenizer_", "Tokenizers", "bad_input.rs"),
    ("tokenizer_", "Tokenizers", "bad_input_data.rs"),
    ("checkpoint_", "Checkpoints", "bad_input.rs"),
    ("checkpoint_", "Checkpoints", "bad_input_run.rs"),
    ("run_folder_", "Run folders", "bad_input.rs"),
    ("run_folder_", "Run folders", "run_folder.rs"),
    ("run_", "Runs", "bad_input_run.rs"),
    ("sweep_", "Sweep specs", "bad_input.rs"),
    ("sweep_", "Sweep specs", "bad_input_cli.rs"),
    ("bad_", "Results CSVs for `scalelab fit`", "fit.rs"),
    ("results_csv_", "Results CSVs for `scalelab fit`", "bad_input_cli.rs"),
    ("report_", "Reports", "bad_input_cli.rs"),
    ("profile_", "Device profiles (`scalelab calibrate`)", "bad_input_cli.rs"),
    ("panic_", "Panics (the hook of src/crash.rs; tests/bad_input_run.rs)", "bad_input_run.rs"),
    ("", "Faults while running (tests/reliability.rs, with the test hooks of src/fault.rs)", "reliability.rs"),
]
# Tests of library functions (no command to show): not in the tables.
LIBRARY_LEVEL = {
    "corpus_long_multibyte_line_is_cut_between_characters",
    "config_quickstart_fits",
    "checkpoint_state_step_disagrees_with_its_folder",
    "written_file_errors_name_the_path",
}


def source(f):
    """The text of test binary `f`: tests/f, or tests/f[:-3]/main.rs and then its
    `mod name;` files in the order main.rs declares them."""
    path = os.path.join(ROOT, "tests", f)
    if os.path.exists(path):
        return open(path).read()
    folder = path[:-3]
    main = open(os.path.join(folder, "main.rs")).read()
    mods = [os.path.join(folder, m + ".rs") for m in re.findall(r"^mod (\w+);", main, re.M)]
    return main + "".join(open(m).read() for m in mods if os.path.exists(m))


def code(s):
    s = s.replace("|", "\\|")
    return f"`` {s} ``" if "`" in s else f"`{s}`"


def main():
    with tempfile.TemporaryDirectory() as tmp:
        log = os.path.join(tmp, "cases.jsonl")
        env = dict(os.environ, SCALELAB_BAD_INPUT_LOG=log)
        tests = [a for f in FILES if f.startswith(("bad_input", "run_folder")) for a in ("--test", f[:-3])]
        for args in (
            tests,
            ["--test", "fit", "bad_"],
            ["--test", "reliability"],
            ["--test", "memory", "config_"],
            ["--test", "recompute", "config_"],
        ):
            subprocess.run(["cargo", "test", "--release", *args], cwd=ROOT, env=env, check=True)
        cases = {}
        for line in open(log):
            r = json.loads(line)
            # A test in a module of tests/X/ runs as `module::name`.
            cases.setdefault(r["test"].rsplit("::", 1)[-1], r)
    order = []
    for f in FILES:
        src = source(f)
        order += [(f, n) for n in re.findall(r"#\[test\]\s*fn (\w+)", src)]
    out = [
        "# Bad input",
        "",
        "Every case below is a test (tests/bad_input*, tests/fit/,",
        "tests/reliability.rs): scalelab",
        "prints one error line naming the field or file, exits non-zero (1 for",
        "errors, 2 for command-line usage errors), does not panic, and changes",
        "nothing already written. Rows with exit 0 are inputs that used to fail",
        "and now work; their line is the result. A panic that still slips",
        "through prints one `internal error` line and exits 101 (see Panics).",
        "The command, error line and exit code are",
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
            prefix = next((p for p, h, ff in GROUPS if ff == f and n.startswith(p)), None)
            prefix = prefix if any(p == prefix and h == heading and ff == f for p, h, ff in GROUPS) else None
            if prefix is not None and n in cases:
                rows.append(f"| {n.removeprefix(prefix).replace('_', ' ')} | {code(cases[n]['command'])} | {code(cases[n]['error'])} | {cases[n]['exit']} |")
                logged.add(n)
        out += [f"## {heading}", "", "| case | command | error line | exit |", "|---|---|---|---|", *rows, ""]
    missing = [n for (f, n) in order
               if (f.startswith("bad_input") or n.startswith("bad_")) and n not in cases and n not in LIBRARY_LEVEL]
    out += [
        "SIGTERM / SIGINT during `train` write a checkpoint and exit 143 / 130;",
        "`--resume` then ends bit-identical to an uninterrupted run, as it does",
        "after kill -9 at any moment (tests/reliability.rs). A failing run inside",
        "a sweep is recorded as failed and the sweep goes on; re-running retries",
        "only it (tests/sweep.rs, `failed_run_is_recorded_then_retried_alone`).",
        "",
    ]
    doc = os.path.join(ROOT, "docs", "bad-input.md")
    kept = open(doc).read() if os.path.exists(doc) else ""
    fuzzing = kept[kept.find("\n## Fuzzing") + 1:] if "\n## Fuzzing" in kept else ""
    with open(doc, "w") as fh:
        fh.write("\n".join(out) + ("\n" + fuzzing if fuzzing else ""))
    print(f"docs/bad-input.md: {len(logged)} cases", file=sys.stderr)
    if missing:
        sys.exit(f"tests that logged no case: {missing}")


if __name__ == "__main__":
    main()
