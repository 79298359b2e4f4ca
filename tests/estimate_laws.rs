//! Scaling laws in `scalelab estimate`: the closed-form compute-optimal
//! allocation against a numeric minimisation, `estimate optimum`, `--law-file`,
//! `--chinchilla`, and the named laws (Hoffmann unrounded and as printed).

mod common;

use common::estimate::{close, error_line, json_ok, tmp};
use scalelab::estimate::{inference, law};

#[test]
fn compute_optimal_closed_form_matches_brute_force() {
    for name in law::known() {
        let l = law::named(name).unwrap();
        for c in [1e19, 3.14e23, 1e25] {
            let (n, d) = l.compute_optimal(c);
            // Log-spaced scan, then refine around the best point.
            let loss_at = |ln: f64| l.loss(ln.exp(), c / (6.0 * ln.exp()));
            let (mut lo, mut hi) = (5f64.ln(), (c / 6.0 / 5.0).ln());
            for _ in 0..6 {
                let step = (hi - lo) / 1000.0;
                let best = (0..=1000)
                    .map(|i| lo + i as f64 * step)
                    .min_by(|a, b| loss_at(*a).total_cmp(&loss_at(*b)))
                    .unwrap();
                (lo, hi) = (best - step, best + step);
            }
            let n_num = ((lo + hi) / 2.0).exp();
            close(n_num, n, 1e-4, &format!("{name} N_opt at C={c:e}"));
            close(6.0 * n * d, c, 1e-12, "C = 6ND");
        }
    }
}

#[test]
fn optimum_cli_and_law_file() {
    let d = tmp();
    let j = json_ok(
        d.path(),
        &["optimum", "--compute", "5.76e23", "--law", "besiroglu2024"],
    );
    let (n, dd) = law::named("besiroglu2024")
        .unwrap()
        .compute_optimal(5.76e23);
    close(
        j["compute_optimal"]["params"].as_f64().unwrap(),
        n,
        1e-12,
        "CLI N_opt",
    );
    close(
        j["compute_optimal"]["tokens"].as_f64().unwrap(),
        dd,
        1e-12,
        "CLI D_opt",
    );
    // A `scalelab fit` result with Hoffmann's printed constants behaves like hoffmann2022-rounded.
    let fit = d.path().join("fit.json");
    std::fs::write(&fit, r#"{"approach3": {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}, "approach1": {}}"#).unwrap();
    let f = fit.to_str().unwrap();
    let j = json_ok(
        d.path(),
        &[
            "optimum",
            "--law-file",
            f,
            "--reference-params",
            "13B",
            "--inference-tokens",
            "2T",
        ],
    );
    let h = law::named("hoffmann2022-rounded").unwrap();
    let o = inference::optimum(&h, inference::loss_of_optimal(&h, 13e9), 2e12).unwrap();
    close(
        j["inference_optimum"]["saved_flops"].as_f64().unwrap(),
        o.saved_flops,
        1e-9,
        "law-file optimum",
    );
    let j = json_ok(
        d.path(),
        &[
            "--params",
            "7B",
            "--chinchilla",
            "fit",
            "--law-file",
            f,
            "--hardware",
            "h100-sxm",
            "--gpus",
            "8",
        ],
    );
    close(
        j["workload"]["tokens"].as_f64().unwrap(),
        h.optimal_tokens(7e9),
        1e-12,
        "--chinchilla fit tokens",
    );
    let j = json_ok(
        d.path(),
        &[
            "--params",
            "7B",
            "--chinchilla",
            "rule20",
            "--hardware",
            "h100-sxm",
            "--gpus",
            "8",
        ],
    );
    assert_eq!(j["workload"]["tokens"].as_f64().unwrap(), 140e9);
}

// ---- Hoffmann et al.'s law: unrounded by default, the printed one by name ----

/// Tokens per parameter at which `n` parameters are compute-optimal under `id`.
fn tokens_per_param(id: &str, n: f64) -> f64 {
    law::named(id).unwrap().optimal_tokens(n) / n
}

#[test]
fn hoffmann_default_is_unrounded() {
    let h = law::named("hoffmann2022").unwrap();
    assert_eq!((h.alpha, h.beta), (0.33917, 0.28491));
    close(h.e, 0.52672f64.exp(), 1e-15, "E");
    close(h.a, 6.00734f64.exp(), 1e-15, "A");
    close(h.b, 6.01792f64.exp(), 1e-15, "B");
    assert_eq!(law::named("hoffmann").unwrap(), h);
    let r = law::named("hoffmann2022-rounded").unwrap();
    assert_eq!(
        (r.e, r.a, r.b, r.alpha, r.beta),
        (1.69, 406.4, 410.7, 0.34, 0.28)
    );
    // The rounded constants' compute-optimal ratios (the issue's 76, 109, 133) and the unrounded ones.
    for (n, rounded, unrounded) in [
        (13e9, 76.3, 47.5),
        (70e9, 109.4, 65.4),
        (175e9, 133.2, 77.9),
    ] {
        close(
            tokens_per_param("hoffmann2022-rounded", n),
            rounded,
            0.002,
            "rounded",
        );
        close(
            tokens_per_param("hoffmann2022", n),
            unrounded,
            0.002,
            "unrounded",
        );
    }
    // `estimate optimum` without --law uses the unrounded law.
    let d = tmp();
    let j = json_ok(d.path(), &["optimum", "--compute", "1e23"]);
    assert_eq!(j["law"]["id"], "hoffmann2022");
    assert_eq!(j["law"]["alpha"].as_f64(), Some(0.33917));
}

#[test]
fn chinchilla_tokens_for_70b_by_law() {
    let d = tmp();
    let tokens = |rule: &str| {
        let j = json_ok(
            d.path(),
            &[
                "--params",
                "70B",
                "--chinchilla",
                rule,
                "--hardware",
                "h100-sxm",
                "--gpus",
                "1024",
            ],
        );
        (
            j["workload"]["tokens"].as_f64().unwrap(),
            j["workload"]["tokens_source"].as_str().unwrap().to_string(),
        )
    };
    let (t, src) = tokens("hoffmann2022");
    close(t, 4.580e12, 0.001, "70B unrounded");
    assert!(src.contains("Approaches 1-2"), "{src}");
    close(
        tokens("hoffmann2022-rounded").0,
        7.66e12,
        0.001,
        "70B rounded",
    );
    assert_eq!(tokens("rule20").0, 1.4e12);
}

/// "chinchilla" would name one of two answers that disagree (Approach 3 vs Approaches 1–2).
#[test]
fn chinchilla_is_not_a_law_name() {
    let d = tmp();
    let p = d.path();
    error_line(
        p,
        &[
            "--params",
            "7B",
            "--chinchilla",
            "chinchilla",
            "--hardware",
            "h100-sxm",
        ],
        "ambiguous",
    );
    error_line(
        p,
        &["optimum", "--law", "chinchilla", "--compute", "1e20"],
        "--law",
    );
}
