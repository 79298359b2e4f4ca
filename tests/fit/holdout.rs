//! Holdout validation: the largest runs held out and scored.

use scalelab::scaling::approach3::Grid;
use scalelab::scaling::{fit_all, FitOptions};

use super::{isoflop_points, opts, BUDGETS, CHINCHILLA};

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
