//! Scaling-law fitter: recovery of planted laws, holdout validation, and bad
//! input to `scalelab fit`. docs/fitting.md describes the method.
//!
//! This file holds what the modules share: the planted laws, the point designs,
//! the recovery check and a `scalelab` runner.

#[path = "../common/mod.rs"]
mod common;

mod bad_input;
mod command;
mod holdout;
mod recovery;

use rand::SeedableRng;
use rand_distr::{Distribution, Normal};
use scalelab::scaling::approach3::{objective, theta_of, Obs};
use scalelab::scaling::{fit_all, FitOptions, Law3, Point};
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

fn scalelab(args: &[&str]) -> std::process::Output {
    Command::new(BIN).args(args).output().unwrap()
}
