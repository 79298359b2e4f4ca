//! Bad input to `scalelab estimate`: one line `error: …` naming the flag or
//! file, a non-zero exit and no panic.

mod common;

use common::estimate::{error_line, tmp, write_summary};

#[test]
fn bad_input_is_one_line_error() {
    let d = tmp();
    let p = d.path();
    let base = ["--params", "7B", "--tokens", "1T", "--hardware", "h100-sxm"];
    fn with<'a>(base: &[&'a str], extra: &[&'a str]) -> Vec<&'a str> {
        base.iter().chain(extra).copied().collect()
    }
    error_line(
        p,
        &["--model", "gpt-5", "--hardware", "h100-sxm"],
        "--model",
    );
    error_line(
        p,
        &["--params", "7B", "--tokens", "1T", "--hardware", "tpu-v9"],
        "--hardware",
    );
    error_line(
        p,
        &[
            "--params",
            "7B",
            "--chinchilla",
            "kaplan2020",
            "--hardware",
            "h100-sxm",
        ],
        "--chinchilla",
    );
    error_line(
        p,
        &["optimum", "--law", "kaplan2020", "--compute", "1e20"],
        "--law",
    );
    error_line(
        p,
        &["--params", "0", "--tokens", "1T", "--hardware", "h100-sxm"],
        "--params",
    );
    error_line(
        p,
        &["--params", "-5", "--tokens", "1T", "--hardware", "h100-sxm"],
        "--params",
    );
    error_line(
        p,
        &["--params", "7B", "--tokens", "-1", "--hardware", "h100-sxm"],
        "--tokens",
    );
    error_line(
        p,
        &[
            "--params",
            "7B",
            "--tokens-per-param",
            "0",
            "--hardware",
            "h100-sxm",
        ],
        "--tokens-per-param",
    );
    error_line(
        p,
        &[
            "--params",
            "lots",
            "--tokens",
            "1T",
            "--hardware",
            "h100-sxm",
        ],
        "--params",
    );
    error_line(p, &with(&base, &["--gpus", "0"]), "--gpus");
    error_line(p, &with(&base, &["--gpus", "-3"]), "--gpus");
    error_line(p, &with(&base, &["--gpus", "2.5"]), "--gpus");
    error_line(p, &with(&base, &["--mfu", "0"]), "--mfu");
    error_line(p, &with(&base, &["--mfu", "-0.2"]), "--mfu");
    error_line(p, &with(&base, &["--mfu", "1.5"]), "--mfu");
    error_line(p, &with(&base, &["--pue", "0.8"]), "--pue");
    error_line(
        p,
        &with(&base, &["--overhead-experiments", "0.5"]),
        "--overhead-experiments",
    );
    error_line(
        p,
        &with(&base, &["--price-per-hour", "-2"]),
        "--price-per-hour",
    );
    // Conflicting flags.
    error_line(
        p,
        &with(&base, &["--mfu", "0.4", "--mfu-from", "somewhere"]),
        "--mfu",
    );
    error_line(
        p,
        &[
            "--model",
            "llama3-8b",
            "--params",
            "7B",
            "--hardware",
            "h100-sxm",
        ],
        "--params",
    );
    error_line(
        p,
        &with(&base, &["--chinchilla", "hoffmann2022"]),
        "--chinchilla",
    );
    error_line(
        p,
        &with(&base, &["--spot", "--price-per-hour", "2"]),
        "--spot",
    );
    error_line(
        p,
        &[
            "--params",
            "7B",
            "--active-params",
            "8B",
            "--tokens",
            "1T",
            "--hardware",
            "h100-sxm",
        ],
        "--active-params",
    );
    error_line(
        p,
        &[
            "optimum",
            "--law",
            "hoffmann2022",
            "--law-file",
            "f.json",
            "--compute",
            "1e20",
        ],
        "--law",
    );
    // Missing pieces.
    error_line(p, &["--hardware", "h100-sxm", "--tokens", "1T"], "--model");
    error_line(p, &["--params", "7B", "--tokens", "1T"], "--hardware");
    error_line(
        p,
        &["--model", "mixtral-8x7b", "--hardware", "h100-sxm"],
        "--tokens",
    );
    error_line(p, &["--params", "7B", "--hardware", "h100-sxm"], "--tokens");
    error_line(p, &with(&base, &["--precision", "fp4"]), "--precision");
    error_line(
        p,
        &[
            "--params",
            "7B",
            "--tokens",
            "1T",
            "--hardware",
            "h800-pcie",
        ],
        "--price-per-hour",
    );
    error_line(p, &with(&base, &["--n-layer", "12"]), "--n-layer");
    error_line(
        p,
        &[
            "--params",
            "7B",
            "--chinchilla",
            "fit",
            "--hardware",
            "h100-sxm",
        ],
        "--law-file",
    );
    error_line(p, &["optimum"], "--compute");
    error_line(
        p,
        &[
            "optimum",
            "--target-loss",
            "1.5",
            "--inference-tokens",
            "1T",
        ],
        "target loss",
    );
    // RUN_DIR problems: missing, garbled, without mfu, out of range.
    error_line(
        p,
        &with(&base, &["--mfu-from", "no-such-run"]),
        "summary.json",
    );
    let garbled = p.join("garbled");
    std::fs::create_dir_all(&garbled).unwrap();
    std::fs::write(garbled.join("summary.json"), "{\"status\": ").unwrap();
    error_line(
        p,
        &with(&base, &["--mfu-from", garbled.to_str().unwrap()]),
        "--mfu-from",
    );
    let nomfu = p.join("nomfu");
    write_summary(&nomfu, "null");
    error_line(
        p,
        &with(&base, &["--mfu-from", nomfu.to_str().unwrap()]),
        "no measured mfu",
    );
    let big = p.join("big");
    write_summary(&big, "1.7");
    error_line(
        p,
        &with(&base, &["--mfu-from", big.to_str().unwrap()]),
        "--mfu-from",
    );
    // Law files: missing, garbled, without approach3, with a negative constant.
    error_line(
        p,
        &["optimum", "--law-file", "missing.json", "--compute", "1e20"],
        "--law-file",
    );
    for (name, body) in [
        ("g.json", "{"),
        ("n.json", r#"{"approach1": {}}"#),
        (
            "neg.json",
            r#"{"approach3": {"E": 1.7, "A": -1, "B": 400, "alpha": 0.3, "beta": 0.3}}"#,
        ),
    ] {
        let f = p.join(name);
        std::fs::write(&f, body).unwrap();
        error_line(
            p,
            &[
                "optimum",
                "--law-file",
                f.to_str().unwrap(),
                "--compute",
                "1e20",
            ],
            "--law-file",
        );
    }
}
