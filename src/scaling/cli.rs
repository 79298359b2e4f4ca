//! `scalelab fit`: the command-line face of [`super::fit_all`].

use super::approach3::Grid;
use super::{data, fit_tuned, FitOptions, FitReport};
use crate::fmt;
use anyhow::{bail, Result};
use clap::{Args, ValueEnum};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GridChoice {
    /// α, β ∈ {0, .5, …, 2}, e ∈ {−1, −.5, …, 1.5}, a, b ∈ {0, 5, …, 25} (5400 starts):
    /// Hoffmann et al.'s grid with e widened to 1.5.
    Wide,
    /// Hoffmann et al. 2022 Appendix D.2: as `wide` with e ∈ {−1, −.5, …, 1} (4500 starts).
    Hoffmann,
    /// α, β ∈ {0, .5, 1, 2}, e ∈ {−1, 0, 1}, a, b ∈ {0, 5, …, 25} (1728 starts).
    Coarse,
}

#[derive(Args, Debug)]
pub struct FitArgs {
    /// Results CSV: params, tokens, loss or val_loss; optional flops, run,
    /// budget, status, wall_s, tok_per_s, mfu, device.
    pub results: PathBuf,
    /// Training curves (run, params, tokens, flops, loss) for approach 1
    /// (default: curves.csv next to RESULTS, if present).
    #[arg(long)]
    pub curves: Option<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Write fit.json into this folder (created if missing).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Bootstrap resamples for approach 3's confidence intervals.
    #[arg(long, default_value_t = 1000, allow_negative_numbers = true)]
    pub bootstrap: i64,
    /// Seed of the bootstrap (ChaCha8).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Fit on all but the K largest runs (by FLOPs) and score those.
    #[arg(
        long,
        value_name = "K",
        default_value_t = 0,
        allow_negative_numbers = true
    )]
    pub holdout: i64,
    /// Starting grid for approach 3.
    #[arg(long, value_enum, default_value_t = GridChoice::Wide)]
    pub grid: GridChoice,
}

pub fn run(a: FitArgs) -> Result<i32> {
    if a.bootstrap < 1 {
        bail!("--bootstrap must be at least 1, got {}", a.bootstrap);
    }
    if a.holdout < 0 {
        bail!("--holdout must be 0 or more, got {}", a.holdout);
    }
    let loaded = data::load_points(&a.results)?;
    if loaded.points.len() < 3 {
        bail!(
            "{}: need at least 3 usable rows, found {} ({} skipped for status not ok)",
            a.results.display(),
            loaded.points.len(),
            loaded.skipped
        );
    }
    if a.holdout as usize >= loaded.points.len() {
        bail!(
            "--holdout {} must be less than the number of runs in {} ({})",
            a.holdout,
            a.results.display(),
            loaded.points.len()
        );
    }
    let curves_path = a.curves.clone().or_else(|| {
        let sib = a.results.with_file_name("curves.csv");
        (sib.is_file() && sib.canonicalize().ok() != a.results.canonicalize().ok()).then_some(sib)
    });
    let curves = curves_path.as_deref().map(data::load_curves).transpose()?;
    let opts = FitOptions {
        bootstrap: a.bootstrap as usize,
        seed: a.seed,
        holdout: a.holdout as usize,
        grid: match a.grid {
            GridChoice::Wide => Grid::wide(),
            GridChoice::Hoffmann => Grid::hoffmann(),
            GridChoice::Coarse => Grid::coarse(),
        },
        ..FitOptions::default()
    };
    let (mut rep, tuned) = fit_tuned(&loaded.points, curves.as_deref(), &opts)?;
    rep.verdict = Some(super::verdict::judge(
        &rep,
        &tuned.points,
        &loaded.validation,
    ));
    for (what, why) in &rep.skipped {
        if what != "cost_model" {
            eprintln!("warning: {what} skipped: {why}");
        }
    }
    for w in &rep.warnings {
        eprintln!("warning: {w}");
    }
    if let Some(dir) = &a.out {
        std::fs::create_dir_all(dir)
            .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
        crate::fsx::write_json_atomic(&dir.join("fit.json"), &rep)?;
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&rep)?);
    } else {
        print!(
            "{}",
            table(&rep, &a.results, loaded.skipped, curves_path.as_deref())
        );
        if let Some(v) = &rep.verdict {
            print!("\nverdict:\n{}", v.markdown());
        }
        if let Some(dir) = &a.out {
            println!("wrote {}", dir.join("fit.json").display());
        }
    }
    Ok(0)
}

fn ci(rep: &FitReport, key: &str) -> String {
    fmt::param_interval(
        rep.approach3
            .as_ref()
            .and_then(|r| r.ci.as_ref())
            .and_then(|c| c.get(key)),
    )
}

/// The human-readable report.
pub fn table(
    rep: &FitReport,
    results: &Path,
    skipped_rows: usize,
    curves: Option<&Path>,
) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "fit of {}: {} points{}{}",
        results.display(),
        rep.n_points,
        if skipped_rows > 0 {
            format!(" ({skipped_rows} row(s) skipped: status not ok)")
        } else {
            String::new()
        },
        curves
            .map(|c| format!(", curves from {}", c.display()))
            .unwrap_or_default()
    );
    if let Some(h) = &rep.hparams {
        let _ = writeln!(
            s,
            "the fits use the best run of each of {} hyperparameter grids ({} runs)",
            h.grids, h.grid_runs
        );
    }
    let _ = writeln!(s, "\nApproach 3: L(N, D) = E + A/N^alpha + B/D^beta");
    match &rep.approach3 {
        None => {
            let _ = writeln!(
                s,
                "  skipped: {}",
                rep.skipped.get("approach3").map_or("", String::as_str)
            );
        }
        Some(r) => {
            let _ = writeln!(
                s,
                "  Huber delta {} summed over {} points; L-BFGS from {} starts ({} finished, {} at the best objective {:.4e}); {} of {} bootstrap resamples fitted",
                r.huber_delta, r.n_points, r.starts, r.starts_finished, r.starts_at_best, r.objective, r.bootstrap_fitted, r.bootstrap
            );
            let _ = writeln!(s, "  {:<18} {:>12}   95% CI", "parameter", "estimate");
            for (name, key, v) in [
                ("E", "E", r.e),
                ("A", "A", r.a_coef),
                ("B", "B", r.b_coef),
                ("alpha", "alpha", r.alpha),
                ("beta", "beta", r.beta),
                ("a = β/(α+β)", "a", r.a),
                ("b = α/(α+β)", "b", r.b),
            ] {
                let _ = writeln!(s, "  {:<18} {:>12}   {}", name, fmt::param(v), ci(rep, key));
            }
            if r.alpha > 0.0 && r.beta > 0.0 {
                let law = r.law();
                let _ = writeln!(
                    s,
                    "  compute-optimal (C = 6ND):  {:>10} {:>12} {:>12} {:>8} {:>22}",
                    "C", "N_opt", "D_opt", "D/N", "loss [95% PI]"
                );
                for c in [1e18, 1e20, 1e22, 1e24] {
                    let (n, d) = law.compute_optimal(c);
                    let (mid, lo, hi) = rep.predict_interval(n, d);
                    let _ = writeln!(
                        s,
                        "  {:<27} {:>10.1e} {:>12.3e} {:>12.3e} {:>8.1} {:>8.4} [{:.4}, {:.4}]",
                        "",
                        c,
                        n,
                        d,
                        d / n,
                        mid,
                        lo,
                        hi
                    );
                }
            }
        }
    }
    let _ = writeln!(
        s,
        "\nApproach 2: IsoFLOP profiles (parabola in ln N per budget)"
    );
    match &rep.approach2 {
        None => {
            let _ = writeln!(
                s,
                "  skipped: {}",
                rep.skipped.get("approach2").map_or("", String::as_str)
            );
        }
        Some(r) => {
            let _ = writeln!(
                s,
                "  N_opt ∝ C^{:.4}, D_opt ∝ C^{:.4} (r² {:.4}) over {} budgets",
                r.a,
                r.b,
                r.r2,
                r.budgets.len()
            );
            if let (Some([lo, hi]), Some(noise)) = (r.a_interval, r.noise) {
                let _ = writeln!(
                    s,
                    "  a 95% interval {lo:.4}–{hi:.4} under the replicates' noise ({:.2}% relative sd)",
                    noise * 100.0
                );
            }
            let _ = writeln!(
                s,
                "  {:>12} {:>7} {:>12} {:>12} {:>10}",
                "budget", "sizes", "N_opt", "D_opt", "loss"
            );
            for b in &r.budgets {
                let _ = writeln!(
                    s,
                    "  {:>12.3e} {:>7} {:>12.3e} {:>12.3e} {:>10.4}{}{}",
                    b.flops,
                    b.sizes,
                    b.n_opt,
                    b.d_opt,
                    b.loss_opt,
                    if b.interior { "" } else { "  (extrapolated)" },
                    if b.left_out > 0 {
                        format!("  ({} far sizes left out)", b.left_out)
                    } else {
                        String::new()
                    }
                );
            }
        }
    }
    let _ = writeln!(s, "\nApproach 1: lower envelope of the training curves");
    match &rep.approach1 {
        None => {
            let _ = writeln!(
                s,
                "  skipped: {}",
                rep.skipped.get("approach1").map_or("", String::as_str)
            );
        }
        Some(r) => {
            let _ = writeln!(
                s,
                "  N_opt ∝ C^{:.4}, D_opt ∝ C^{:.4} (r² {:.4}) from {} compute values ({} of {} dropped at the edge of the sizes)",
                r.a,
                r.b,
                r.r2,
                r.points.len(),
                r.dropped_at_edge,
                r.tried
            );
        }
    }
    let _ = writeln!(s, "\nCost model");
    match &rep.cost_model {
        None => {
            let _ = writeln!(
                s,
                "  none: {}",
                rep.skipped.get("cost_model").map_or("", String::as_str)
            );
        }
        Some(c) => {
            for d in &c.devices {
                let fit = |f: &Option<super::cost_model::PowerFit>| {
                    fmt::or_dash(f.as_ref(), |f| f.to_string())
                };
                let _ = writeln!(
                    s,
                    "  device {} ({} runs): FLOP/s ≈ {} | tok/s ≈ {}",
                    d.device,
                    d.runs,
                    fit(&d.flops_per_s),
                    fit(&d.tok_per_s)
                );
                let _ = writeln!(
                    s,
                    "  {:>12} {:>5} {:>12} {:>12} {:>8}",
                    "params", "runs", "FLOP/s", "tok/s", "mfu"
                );
                for r in &d.by_size {
                    let _ = writeln!(
                        s,
                        "  {:>12.3e} {:>5} {:>12} {:>12} {:>8}",
                        r.params,
                        r.runs,
                        fmt::or_dash(r.flops_per_s, |v| fmt::sci(v, 3)),
                        fmt::fixed_or_dash(r.tok_per_s, 0),
                        fmt::or_dash(r.mfu, |v| fmt::percent(v, 1))
                    );
                }
            }
        }
    }
    if let Some(h) = &rep.hparams {
        let _ = writeln!(
            s,
            "\nOptimal hyperparameters against compute (at each budget's best size)"
        );
        for a in &h.axes {
            let _ = writeln!(
                s,
                "  {:>12} {:>12} {:>12} {:>10}  edge",
                "budget", "params", a.axis, "loss"
            );
            for o in &a.budgets {
                let _ = writeln!(
                    s,
                    "  {:>12.3e} {:>12.3e} {:>12} {:>10.4}  {}",
                    o.budget,
                    o.params,
                    fmt::compact(o.optimum),
                    o.loss,
                    if o.at_edge { "at grid edge" } else { "" }
                );
            }
            let _ = writeln!(s, "  {}", a.law_text());
        }
    }
    if let Some(h) = &rep.holdout {
        let _ = writeln!(
            s,
            "\nHoldout: fitted without the {} largest runs (by FLOPs)",
            h.k
        );
        let _ = writeln!(
            s,
            "  {:<16} {:>12} {:>12} {:>10} {:>10} {:>9} {:>20}",
            "run", "params", "tokens", "actual", "predicted", "rel err", "95% PI"
        );
        for r in &h.runs {
            let pi = match (r.lo, r.hi) {
                (Some(lo), Some(hi)) => format!("[{lo:.4}, {hi:.4}]"),
                _ => "–".into(),
            };
            let _ = writeln!(
                s,
                "  {:<16} {:>12.3e} {:>12.3e} {:>10.4} {:>10.4} {:>8.2}% {:>20}",
                r.run,
                r.params,
                r.tokens,
                r.actual,
                r.predicted,
                100.0 * r.rel_error,
                pi
            );
        }
        let _ = writeln!(
            s,
            "  mean |relative error| {:.2}%",
            100.0 * h.mean_abs_rel_error
        );
    }
    s
}
