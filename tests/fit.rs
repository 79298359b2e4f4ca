//! Scaling-law fitter: recovery of planted laws, holdout validation, and bad
//! input to `scalelab fit`. docs/fitting.md describes the method.

mod common;

use rand::SeedableRng;
use rand_distr::{Distribution, Normal};
use scalelab::scaling::approach3::{objective, theta_of, Grid, Obs};
use scalelab::scaling::{envelope, fit_all, isoflop, Curve, Eval, FitOptions, Law3, Point};
use std::fs;
use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_scalelab");

const CHINCHILLA: Law3 = Law3 {
    e: 1.69,
    a: 406.4,
    b: 410.7,
    alpha: 0.34,
    beta: 0.28,
};
const OTHER: Law3 = Law3 {
    e: 2.1,
    a: 1200.0,
    b: 3000.0,
    alpha: 0.45,
    beta: 0.38,
};

/// IsoFLOP-like design: `budgets` × `sizes` runs, sizes log-spaced over ±`half`
/// decades around the law's optimum, loss × (1 + noise·z), z ~ N(0, 1).
fn isoflop_points(
    law: &Law3,
    budgets: &[f64],
    sizes: usize,
    half: f64,
    noise: f64,
    seed: u64,
) -> Vec<Point> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let z = Normal::new(0.0, 1.0).unwrap();
    let mut v = Vec::new();
    for &c in budgets {
        let (n0, _) = law.compute_optimal(c);
        for j in 0..sizes {
            let n = n0 * 10f64.powf(-half + 2.0 * half * j as f64 / (sizes - 1) as f64);
            let d = c / (6.0 * n);
            let l = law.loss(n, d) * (1.0 + noise * z.sample(&mut rng));
            v.push(Point::new(format!("c{c:.0e}-n{j}"), n, d, l));
        }
    }
    v
}

/// Factorial design: 6 sizes N = 1e3…1e10 × 7 token counts D = 1e4…1e12 (42
/// points), loss × (1 + noise·z). N and D vary independently, so each term of
/// the law dominates somewhere and all five constants are identified.
fn grid_points(law: &Law3, noise: f64, seed: u64) -> Vec<Point> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let z = Normal::new(0.0, 1.0).unwrap();
    let mut v = Vec::new();
    for i in 0..6 {
        for j in 0..7 {
            let (n, d) = (
                10f64.powf(3.0 + 7.0 * i as f64 / 5.0),
                10f64.powf(4.0 + 8.0 * j as f64 / 6.0),
            );
            v.push(Point::new(
                format!("n{i}-d{j}"),
                n,
                d,
                law.loss(n, d) * (1.0 + noise * z.sample(&mut rng)),
            ));
        }
    }
    v
}

const BUDGETS: [f64; 5] = [1e15, 1e16, 1e17, 1e18, 1e19];
/// Eight budgets 1e13..1e20, five sizes each over ±1 decade (N ≈ 2e4..6e9).
const WIDE: [f64; 8] = [1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20];

fn opts(bootstrap: usize) -> FitOptions {
    FitOptions {
        bootstrap,
        seed: 7,
        ..FitOptions::default()
    }
}

fn close(got: f64, want: f64, rel: f64) -> bool {
    (got / want - 1.0).abs() <= rel
}

/// Fit 40 noisy points; E, alpha, beta within `tol`, A, B within `tol_ab`; the
/// optimiser's objective is no worse than the planted law's; with bootstrap,
/// every 95% CI holds the planted value.
fn check_recovery(law: &Law3, noise: f64, seed: u64, tol: f64, tol_ab: f64, bootstrap: usize) {
    check_recovery_on(
        law,
        &isoflop_points(law, &WIDE, 5, 1.0, noise, seed),
        tol,
        tol_ab,
        bootstrap,
    );
}

fn check_recovery_on(law: &Law3, pts: &[Point], tol: f64, tol_ab: f64, bootstrap: usize) {
    let rep = fit_all(pts, None, &opts(bootstrap)).unwrap();
    let r = rep.approach3.as_ref().unwrap();
    let err = |got: f64, want: f64| format!("{:+.2}%", (got / want - 1.0) * 100.0);
    eprintln!(
        "planted {law:?}: E {} A {} B {} alpha {} beta {}",
        err(r.e, law.e),
        err(r.a_coef, law.a),
        err(r.b_coef, law.b),
        err(r.alpha, law.alpha),
        err(r.beta, law.beta)
    );
    let obs = Obs::new(
        &pts.iter().map(|p| p.params).collect::<Vec<_>>(),
        &pts.iter().map(|p| p.tokens).collect::<Vec<_>>(),
        &pts.iter().map(|p| p.loss).collect::<Vec<_>>(),
    );
    let at_truth = objective(&theta_of(law), &obs, None, None);
    assert!(
        r.objective <= at_truth * (1.0 + 1e-9),
        "objective {} worse than at the planted law {at_truth}",
        r.objective
    );
    for (name, got, want, t) in [
        ("E", r.e, law.e, tol),
        ("A", r.a_coef, law.a, tol_ab),
        ("B", r.b_coef, law.b, tol_ab),
        ("alpha", r.alpha, law.alpha, tol),
        ("beta", r.beta, law.beta, tol),
    ] {
        assert!(
            close(got, want, t),
            "{name}: fitted {got}, planted {want}, tolerance {t}"
        );
        if bootstrap > 0 {
            let [lo, hi] = r.ci.as_ref().unwrap()[name];
            assert!(
                lo <= want && want <= hi,
                "{name}: 95% CI [{lo}, {hi}] misses the planted {want}"
            );
        }
    }
    assert_eq!(r.n_points, pts.len());
    if bootstrap > 0 {
        assert_eq!(r.bootstrap_fitted, bootstrap);
        // The bootstrap samples are kept for prediction intervals.
        let (n, d) = law.compute_optimal(1e22);
        let (mid, lo, hi) = rep.predict_interval(n, d);
        assert!(lo <= mid && mid <= hi && lo < hi, "{lo} {mid} {hi}");
        assert!(
            lo <= law.loss(n, d) && law.loss(n, d) <= hi,
            "extrapolated loss {} outside [{lo}, {hi}]",
            law.loss(n, d)
        );
    }
}

// At 0.1% noise all five parameters come back within 2%.
#[test]
fn approach3_recovers_chinchilla_law_within_2pct_at_low_noise() {
    check_recovery(&CHINCHILLA, 0.001, 1, 0.02, 0.02, 0);
}

#[test]
fn approach3_recovers_a_second_law_within_2pct_at_low_noise() {
    check_recovery(&OTHER, 0.001, 2, 0.02, 0.02, 0);
}

// At 0.5% noise the Cramér–Rao standard error of ln A and ln B is 2–2.4% even
// for this wide design (6% for N in 5e5..1.4e9), so A and B get 15%; E, alpha
// and beta 4% (about 4 standard errors); docs/fitting.md has the numbers.
#[test]
fn approach3_recovers_chinchilla_law_at_half_pct_noise_with_ci() {
    check_recovery(&CHINCHILLA, 0.005, 1, 0.04, 0.15, 100);
}

#[test]
fn approach3_recovers_a_second_law_at_half_pct_noise_with_ci() {
    check_recovery(&OTHER, 0.005, 2, 0.04, 0.15, 100);
}

// The test as written: 0.5% noise, ~40 points, each constant within 2%.
// On the factorial design the Cramér–Rao standard errors are 0.4–0.7% (ln A 0.60%,
// ln B 0.74%, docs/fitting.md), so 2% is ≥ 2.7 of them; five noise draws per law.
#[test]
fn approach3_recovers_each_constant_within_2pct_at_half_pct_noise_on_a_factorial_design() {
    for (law, seeds) in [(&CHINCHILLA, 1..=5), (&OTHER, 6..=10)] {
        for seed in seeds {
            check_recovery_on(law, &grid_points(law, 0.005, seed), 0.02, 0.02, 0);
        }
    }
}

#[test]
fn approach2_recovers_the_exponent_on_exact_isoflops() {
    for law in [CHINCHILLA, OTHER] {
        let pts = isoflop_points(&law, &BUDGETS, 9, 0.5, 0.0, 0);
        let (r, warns) = isoflop::fit(&pts).unwrap();
        assert!(warns.is_empty(), "{warns:?}");
        assert_eq!(r.budgets.len(), 5);
        eprintln!(
            "approach 2: a {} (law {}), b {} (law {})",
            r.a,
            law.a_exp(),
            r.b,
            law.b_exp()
        );
        assert!(
            (r.a - law.a_exp()).abs() < 0.01,
            "a {} vs {}",
            r.a,
            law.a_exp()
        );
        assert!(
            (r.b - law.b_exp()).abs() < 0.01,
            "b {} vs {}",
            r.b,
            law.b_exp()
        );
        for b in &r.budgets {
            let (n, _) = law.compute_optimal(b.flops);
            assert!(
                close(b.n_opt, n, 0.05),
                "budget {}: N_opt {} vs {}",
                b.flops,
                b.n_opt,
                n
            );
        }
    }
}

/// Curves of runs at 20 sizes over 1e6..1e9, each evaluated at 40 log-spaced
/// token counts from N to 2000·N, exact losses from the law.
fn curves(law: &Law3) -> Vec<Curve> {
    (0..20)
        .map(|i| {
            let n = 1e6 * 10f64.powf(3.0 * i as f64 / 19.0);
            let evals = (0..40)
                .map(|j| {
                    let d = n * 2000f64.powf(j as f64 / 39.0);
                    Eval {
                        tokens: d,
                        flops: 6.0 * n * d,
                        loss: law.loss(n, d),
                    }
                })
                .collect();
            Curve::new(format!("n{i}"), n, evals)
        })
        .collect()
}

#[test]
fn approach1_recovers_the_exponent_on_exact_curves() {
    for law in [CHINCHILLA, OTHER] {
        let r = envelope::fit(&curves(&law), 60).unwrap();
        eprintln!(
            "approach 1: a {} (law {}), b {} (law {}), {} points",
            r.a,
            law.a_exp(),
            r.b,
            law.b_exp(),
            r.points.len()
        );
        assert!(r.points.len() >= 20);
        assert!(
            (r.a - law.a_exp()).abs() < 0.03,
            "a {} vs {}",
            r.a,
            law.a_exp()
        );
        assert!(
            (r.b - law.b_exp()).abs() < 0.03,
            "b {} vs {}",
            r.b,
            law.b_exp()
        );
    }
}

#[test]
fn holdout_is_accurate_on_clean_data_and_flags_a_shift() {
    let mut pts = isoflop_points(&CHINCHILLA, &BUDGETS, 8, 0.8, 0.002, 3);
    let o = FitOptions {
        holdout: 5,
        bootstrap: 0,
        grid: Grid::coarse(),
        ..FitOptions::default()
    };
    let h = fit_all(&pts, None, &o).unwrap().holdout.unwrap();
    eprintln!("holdout clean: mean |rel err| {}", h.mean_abs_rel_error);
    assert_eq!(h.runs.len(), 5);
    assert!(
        h.runs.iter().all(|r| r.flops >= 0.99e19),
        "the held-out runs are the largest"
    );
    assert!(h.mean_abs_rel_error < 0.01, "{}", h.mean_abs_rel_error);
    // Shift the largest runs' losses by 10%: the law fitted on the rest cannot know.
    for p in pts.iter_mut().filter(|p| p.flops > 0.99e19) {
        p.loss *= 1.10;
    }
    let h = fit_all(&pts, None, &o).unwrap().holdout.unwrap();
    eprintln!("holdout shifted: mean |rel err| {}", h.mean_abs_rel_error);
    assert!(h.mean_abs_rel_error > 0.07, "{}", h.mean_abs_rel_error);
}

#[test]
fn holdout_must_leave_runs() {
    let pts = isoflop_points(&CHINCHILLA, &BUDGETS[..1], 4, 0.5, 0.0, 0);
    let e = fit_all(
        &pts,
        None,
        &FitOptions {
            holdout: 4,
            ..opts(0)
        },
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("--holdout 4"), "{e}");
}

#[test]
fn missing_approaches_are_skipped_not_errors() {
    // Two sizes per budget: no parabola; one-point curves: no interior winners.
    let pts = isoflop_points(&CHINCHILLA, &BUDGETS, 2, 0.5, 0.0, 0);
    let rep = fit_all(
        &pts,
        None,
        &FitOptions {
            grid: Grid::coarse(),
            ..opts(0)
        },
    )
    .unwrap();
    assert!(rep.approach2.is_none() && rep.skipped.contains_key("approach2"));
    assert!(rep.approach1.is_none() && rep.skipped.contains_key("approach1"));
    assert!(rep.approach3.is_some());
    let v = serde_json::to_value(&rep).unwrap();
    assert!(v["approach2"].is_null() && v["skipped"]["approach2"].is_string());
}

// ---- the command ----

fn write_results(path: &Path, pts: &[Point], extra: bool) {
    let mut s = String::from(if extra {
        "run,params,tokens,flops,val_loss,status,wall_s,tok_per_s,mfu,note\n"
    } else {
        "run,params,tokens,loss\n"
    });
    for (i, p) in pts.iter().enumerate() {
        if extra {
            let wall = p.flops / (1e12 * (p.params / 1e6).powf(0.2));
            s += &format!(
                "{},{},{},{},{},ok,{},{},{},x\n",
                p.run,
                p.params,
                p.tokens,
                p.flops,
                p.loss,
                wall,
                p.tokens / wall,
                0.3,
            );
        } else {
            s += &format!("{},{},{},{}\n", p.run, p.params, p.tokens, p.loss);
        }
        if extra && i == 0 {
            s += "failed,1,1,1,nan,oom,,,,\n";
        }
    }
    fs::write(path, s).unwrap();
}

fn scalelab(args: &[&str]) -> std::process::Output {
    Command::new(BIN).args(args).output().unwrap()
}

#[test]
fn cli_fit_writes_json_and_fit_json() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("results.csv");
    write_results(
        &csv,
        &isoflop_points(&CHINCHILLA, &BUDGETS, 8, 0.8, 0.003, 5),
        true,
    );
    let out = dir.path().join("fit");
    let o = scalelab(&[
        "fit",
        csv.to_str().unwrap(),
        "--json",
        "--out",
        out.to_str().unwrap(),
        "--bootstrap",
        "20",
        "--grid",
        "coarse",
        "--holdout",
        "3",
    ]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let a3 = &v["approach3"];
    for k in [
        "E",
        "A",
        "B",
        "alpha",
        "beta",
        "a",
        "b",
        "objective",
        "n_points",
    ] {
        assert!(a3[k].is_number(), "approach3.{k}: {a3}");
    }
    assert!(a3["ci"]["alpha"].as_array().unwrap().len() == 2);
    assert_eq!(a3["n_points"], 37);
    assert!(v["approach2"]["budgets"].as_array().unwrap().len() == 5);
    assert!(
        v["approach2"]["budgets"][0]["parabola"]
            .as_array()
            .unwrap()
            .len()
            == 3
    );
    assert!(v["approach1"]["points"].is_array());
    assert!(v["cost_model"]["devices"][0]["flops_per_s"]["exponent"].is_number());
    assert!(v["holdout"]["runs"].as_array().unwrap().len() == 3);
    assert!(v["holdout"]["mean_abs_rel_error"].as_f64().unwrap() < 0.02);
    let written: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(out.join("fit.json")).unwrap()).unwrap();
    assert_eq!(written, v);
    // The report type reads it back.
    let rep: scalelab::scaling::FitReport = serde_json::from_value(written).unwrap();
    assert_eq!(rep.n_points, 37);
    // The table names every section.
    let o = scalelab(&[
        "fit",
        csv.to_str().unwrap(),
        "--bootstrap",
        "10",
        "--grid",
        "coarse",
    ]);
    let text = String::from_utf8_lossy(&o.stdout);
    for s in [
        "Approach 3",
        "Approach 2",
        "Approach 1",
        "Cost model",
        "alpha",
        "95% CI",
    ] {
        assert!(text.contains(s), "table lacks {s}:\n{text}");
    }
}

// ---- bad input ----

/// A clean one-line failure mentioning every `expect`; `--out` is untouched.
fn fails(args: &[&str], expect: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    fs::create_dir(&out).unwrap();
    fs::write(out.join("fit.json"), "previous").unwrap();
    let mut a: Vec<&str> = args.to_vec();
    let o = out.to_str().unwrap().to_string();
    a.extend(["--out", &o]);
    let r = scalelab(&a);
    let line = common::error_line(&a, &r, expect);
    assert_eq!(
        fs::read_to_string(out.join("fit.json")).unwrap(),
        "previous"
    );
    assert_eq!(fs::read_dir(&out).unwrap().count(), 1);
    let csv_dir = args
        .iter()
        .filter_map(|a| Path::new(a).parent())
        .find(|p| p.starts_with(std::env::temp_dir()))
        .unwrap_or(dir.path());
    common::log_case(&[dir.path(), csv_dir], &a, r.status.code(), &line);
}

fn bad_csv(text: &str, args: &[&str], expect: &[&str]) {
    bad_csv_names(text, args, expect, true)
}

fn bad_csv_names(text: &str, args: &[&str], expect: &[&str], names_file: bool) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("r.csv");
    fs::write(&p, text).unwrap();
    let ps = p.to_str().unwrap();
    let mut a = vec!["fit", ps];
    a.extend(args);
    let mut e: Vec<&str> = expect.to_vec();
    if names_file {
        e.push(ps);
    }
    fails(&a, &e);
}

const GOOD: &str =
    "params,tokens,loss\n1e6,2e7,4.0\n3e6,6e7,3.5\n1e7,2e8,3.1\n3e7,6e8,2.8\n1e8,2e9,2.6\n";

#[test]
fn bad_missing_file() {
    fails(
        &["fit", "/nonexistent/results.csv"],
        &["/nonexistent/results.csv"],
    );
}

#[test]
fn bad_missing_params_column() {
    bad_csv("size,tokens,loss\n1,2,3\n", &[], &["`params`"]);
}

#[test]
fn bad_missing_tokens_column() {
    bad_csv("params,toks,loss\n1,2,3\n", &[], &["`tokens`"]);
}

#[test]
fn bad_missing_loss_column() {
    bad_csv("params,tokens,train\n1,2,3\n", &[], &["`loss`"]);
}

#[test]
fn bad_non_numeric_cell() {
    bad_csv(
        &GOOD.replace("3.1", "abc"),
        &[],
        &["row 3", "`loss`", "abc"],
    );
}

#[test]
fn bad_non_positive_params() {
    bad_csv(
        &GOOD.replace("3e7,6e8", "-3e7,6e8"),
        &[],
        &["row 4", "`params`", "> 0"],
    );
}

#[test]
fn bad_zero_tokens() {
    bad_csv(
        &GOOD.replace("1e6,2e7", "1e6,0"),
        &[],
        &["row 1", "`tokens`", "> 0"],
    );
}

#[test]
fn bad_too_few_points() {
    bad_csv(
        "params,tokens,loss,status\n1e6,2e7,4,ok\n3e6,6e7,3.5,ok\n1e7,2e8,3.1,diverged\n",
        &[],
        &["at least 3"],
    );
}

#[test]
fn bad_holdout_too_large() {
    bad_csv(GOOD, &["--holdout", "5"], &["--holdout 5"]);
}

#[test]
fn bad_bootstrap_zero() {
    bad_csv_names(
        GOOD,
        &["--bootstrap", "0"],
        &["--bootstrap", "at least 1"],
        false,
    );
}

#[test]
fn bad_bootstrap_negative() {
    bad_csv_names(GOOD, &["--bootstrap", "-5"], &["--bootstrap", "-5"], false);
}

#[test]
fn bad_curves_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("r.csv");
    fs::write(&p, GOOD).unwrap();
    let c = dir.path().join("curves.csv");
    fs::write(&c, "run,params,tokens,loss\na,1e6,x,3\n").unwrap();
    fails(
        &["fit", p.to_str().unwrap()],
        &[c.to_str().unwrap(), "`tokens`"],
    );
}
