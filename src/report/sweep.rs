//! The sweep report: runs table, training curves, IsoFLOP profiles, the fit
//! (Chinchilla approaches 1–3, a verdict with validation beyond the fitted compute, a leave-out check) and its extrapolation to
//! 1–175B parameters with costs, next to the published laws.

use super::curves::{self, RunCurves};
use super::fit_charts::{isoflop_chart, optimal_charts};
use super::projection::extrapolation;
use crate::fmt;
use crate::rundir::results::{read_rows, Row};
use crate::scaling::{data, fit_all, fit_tuned, verdict, FitOptions, FitReport};
use anyhow::{Context, Result};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct Options {
    /// Bootstrap resamples for the fit's intervals.
    pub bootstrap: usize,
    /// Runs held out (the largest by FLOPs) to validate the fit; 0 = a fifth of the runs.
    pub holdout: usize,
    /// Target sizes for the extrapolation (parameters).
    pub targets: Vec<f64>,
    /// Hardware catalog id for the cost of the targets.
    pub hardware: String,
    /// MFU assumed at scale (big models on many GPUs).
    pub mfu: f64,
    /// GPUs for the wall-clock column.
    pub gpus: u64,
    /// Device profile for the step-time model's predictions (else the default location).
    pub profile: Option<PathBuf>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            bootstrap: 1000,
            holdout: 0,
            targets: vec![1e9, 7e9, 13e9, 20e9, 70e9, 120e9, 175e9],
            hardware: "h100-sxm".into(),
            mfu: 0.4,
            gpus: 1024,
            profile: None,
        }
    }
}

fn runs_table(rows: &[Row]) -> String {
    let mut s = String::from("| run | status | params | non-emb | tokens | tokens/param | epochs | FLOPs | val loss | val bpb | wall s | tok/s |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for r in rows {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.run,
            r.status,
            r.params,
            r.non_embedding_params,
            r.tokens
                .map(|t| t.to_string())
                .unwrap_or_else(|| "–".into()),
            fmt::fixed_or_dash(r.tokens.map(|t| t as f64 / r.params as f64), 1),
            fmt::fixed_or_dash(r.epochs, 2),
            r.flops
                .map(|x| format!("{x:.3e}"))
                .unwrap_or_else(|| "–".into()),
            fmt::fixed_or_dash(r.val_loss, 4),
            fmt::fixed_or_dash(r.val_bpb, 4),
            fmt::fixed_or_dash(r.wall_s, 0),
            fmt::fixed_or_dash(r.tok_per_s, 0)
        );
    }
    s
}

/// Final losses of finished runs that differ only in their seed, grouped.
fn replicates(rows: &[Row]) -> Vec<Vec<f64>> {
    let mut groups: std::collections::BTreeMap<String, Vec<f64>> = Default::default();
    for r in rows.iter().filter(|r| r.status == "ok") {
        if let Some(l) = r.val_loss {
            let key = format!(
                "{}|{}|{}|{:?}|{:?}|{:?}",
                r.size, r.design, r.budget, r.lr, r.batch_size, r.beta2
            );
            groups.entry(key).or_default().push(l);
        }
    }
    groups.into_values().collect()
}

fn fit_section(fit: &FitReport) -> String {
    let mut md = String::new();
    match &fit.approach3 {
        Some(a) => {
            let ci = |k: &str| {
                a.ci.as_ref()
                    .and_then(|c| c.get(k))
                    .map(|[lo, hi]| format!("[{}, {}]", fmt::compact(*lo), fmt::compact(*hi)))
                    .unwrap_or_else(|| "–".into())
            };
            let _ = writeln!(md, "**Approach 3** — L(N, D) = E + A/N^α + B/D^β, Huber δ = {} summed over {} runs, L-BFGS from {} starts, {} bootstrap resamples:\n", a.huber_delta, a.n_points, a.starts, a.bootstrap_fitted);
            // The published columns come from the estimator's named laws (Hoffmann unrounded).
            let [h, b] = ["hoffmann2022", "besiroglu2024"]
                .map(|n| crate::estimate::law::named(n).expect("built-in law").core());
            md.push_str("| parameter | estimate | 95% CI | Hoffmann 2022 (unrounded) | Besiroglu 2024 |\n|---|---|---|---|---|\n");
            for (k, v, hv, bv) in [
                ("E", a.e, h.e, b.e),
                ("A", a.a_coef, h.a, b.a),
                ("B", a.b_coef, h.b, b.b),
                ("alpha", a.alpha, h.alpha, b.alpha),
                ("beta", a.beta, h.beta, b.beta),
                ("a", a.a, h.a_exp(), b.a_exp()),
                ("b", a.b, h.b_exp(), b.b_exp()),
            ] {
                let _ = writeln!(
                    md,
                    "| {k} | {} | {} | {} | {} |",
                    fmt::compact(v),
                    ci(k),
                    fmt::compact(hv),
                    fmt::compact(bv)
                );
            }
            md.push('\n');
        }
        None => md.push_str(&format!(
            "**Approach 3** skipped: {}\n\n",
            fit.skipped.get("approach3").cloned().unwrap_or_default()
        )),
    }
    for (name, a, b, r2, why) in [
        (
            "Approach 1 (lower envelope of the training curves)",
            fit.approach1.as_ref().map(|x| x.a),
            fit.approach1.as_ref().map(|x| x.b),
            fit.approach1.as_ref().map(|x| x.r2),
            fit.skipped.get("approach1"),
        ),
        (
            "Approach 2 (IsoFLOP parabolas)",
            fit.approach2.as_ref().map(|x| x.a),
            fit.approach2.as_ref().map(|x| x.b),
            fit.approach2.as_ref().map(|x| x.r2),
            fit.skipped.get("approach2"),
        ),
    ] {
        match (a, b) {
            (Some(a), Some(b)) => {
                let _ = writeln!(md, "**{name}**: N_opt ∝ C^{a:.3}, D_opt ∝ C^{b:.3} (r² {:.3}); Hoffmann et al. 2022 found a ≈ 0.50, b ≈ 0.50.\n", r2.unwrap_or(f64::NAN));
            }
            _ => {
                let _ = writeln!(
                    md,
                    "**{name}** skipped: {}\n",
                    why.cloned().unwrap_or_default()
                );
            }
        }
    }
    if let Some(a2) = &fit.approach2 {
        if let (Some([lo, hi]), Some(noise)) = (a2.a_interval, a2.noise) {
            let _ = writeln!(md, "Approach 2's 95% interval for a is {lo:.3}–{hi:.3}: the IsoFLOP fit repeated on final losses perturbed by the replicates' measured noise ({:.2}% relative sd).\n", noise * 100.0);
        }
        let _ = writeln!(md, "Each budget's parabola is fitted to its best size and up to {} sizes on each side; sizes farther out are listed as left out.\n", crate::scaling::isoflop::WINDOW);
        md.push_str("| budget (FLOPs) | sizes fitted (left out) | N_opt | D_opt | loss at optimum | optimum inside the sampled sizes |\n|---|---|---|---|---|---|\n");
        for b in &a2.budgets {
            let _ = writeln!(
                md,
                "| {:.2e} | {} ({}) | {:.3e} | {:.3e} | {:.4} | {} |",
                b.flops,
                b.sizes,
                b.left_out,
                b.n_opt,
                b.d_opt,
                b.loss_opt,
                if b.interior {
                    "yes"
                } else {
                    "no (extrapolated)"
                }
            );
        }
        md.push('\n');
    }
    for w in &fit.warnings {
        let _ = writeln!(md, "- warning: {w}");
    }
    md
}

fn holdout_section(
    points: &[data::Point],
    curves: Option<&[data::Curve]>,
    opts: &Options,
) -> String {
    let k = if opts.holdout > 0 {
        opts.holdout
    } else {
        (points.len() / 5).max(1)
    };
    if points.len() < k + 5 {
        return format!("Leave-out check skipped: {} runs are too few to hold out {k} and still fit five constants.\n", points.len());
    }
    let fo = FitOptions {
        bootstrap: opts.bootstrap.min(200),
        holdout: k,
        ..FitOptions::default()
    };
    match fit_all(points, curves, &fo) {
        Ok(f) => match f.holdout {
            Some(h) => {
                let mut md = format!("Approach 3 refitted without the {k} largest runs (by FLOPs), then asked to predict them: mean absolute relative error **{:.2}%**.\n\n| run | params | tokens | actual loss | predicted | error |\n|---|---|---|---|---|---|\n", h.mean_abs_rel_error * 100.0);
                for r in &h.runs {
                    let _ = writeln!(
                        md,
                        "| {} | {:.3e} | {:.3e} | {:.4} | {:.4} | {:+.2}% |",
                        r.run,
                        r.params,
                        r.tokens,
                        r.actual,
                        r.predicted,
                        r.rel_error * 100.0
                    );
                }
                md
            }
            None => "Leave-out check: no result.\n".into(),
        },
        Err(e) => format!("Leave-out check failed: {e:#}\n"),
    }
}

pub fn report(dir: &Path, opts: &Options) -> Result<PathBuf> {
    let results = dir.join("results.csv");
    let rows = read_rows(&results)?;
    let ok: Vec<&Row> = rows.iter().filter(|r| r.status == "ok").collect();
    let charts = dir.join("charts");
    std::fs::create_dir_all(&charts)
        .with_context(|| format!("cannot create {}", charts.display()))?;
    let runs: Vec<RunCurves> = ok
        .iter()
        .map(|r| RunCurves::read(&r.run, &dir.join("runs").join(&r.run)))
        .collect::<Result<_>>()?;
    let total_flops: f64 = ok.iter().filter_map(|r| r.flops).sum();
    let total_wall: f64 = ok.iter().filter_map(|r| r.wall_s).sum();
    let mut head = format!(
        "# Sweep report: {}\n\n{} of {} runs finished; {:.3e} training FLOPs in {:.0} s of training.\n\n",
        dir.display(),
        ok.len(),
        rows.len(),
        total_flops,
        total_wall,
    );
    let mut md = super::design::design_section(dir).unwrap_or_default();
    let _ = write!(md, "## Runs\n\n{}\n", runs_table(&rows));
    md.push_str(&super::design::repeated_data(&rows).unwrap_or_default());
    if !runs.is_empty() {
        md.push_str("## Training curves\n\n");
        md.push_str(&super::images(
            dir,
            &curves::write_loss_charts(&runs, &charts)?,
        ));
    }
    let mut cost_model = None;
    if ok.len() < 3 {
        md.push_str("Fewer than 3 finished runs: no fit.\n");
    } else {
        let loaded = data::load_points(&results)?;
        let curves_path = dir.join("curves.csv");
        let curves = if curves_path.is_file() {
            Some(data::load_curves(&curves_path)?)
        } else {
            None
        };
        let (mut fit, tuned) = fit_tuned(
            &loaded.points,
            curves.as_deref(),
            &FitOptions {
                bootstrap: opts.bootstrap,
                ..FitOptions::default()
            },
        )?;
        // With a hyperparameter grid, everything below sees the best run of each grid.
        let points = &tuned.points;
        let curves = curves.map(|c| tuned.curves(&c));
        let mut verdict = verdict::judge(&fit, points, &loaded.validation);
        verdict.seed_spread = verdict::seed_spread(&replicates(&rows));
        head.push_str("## Verdict\n\n");
        head.push_str(&verdict.markdown());
        head.push('\n');
        fit.verdict = Some(verdict);
        crate::fsx::write_json_atomic(&dir.join("fit.json"), &fit)?;
        md.push_str("## Scaling-law fit\n\n");
        if tuned.has_grid() {
            let _ = writeln!(md, "Fitted to the best run of each hyperparameter grid ({} of {} runs; see Hyperparameters below).\n", points.len(), loaded.points.len());
        }
        md.push_str(&fit_section(&fit));
        let mut stems = Vec::new();
        stems.extend(isoflop_chart(points, &fit, &charts)?);
        stems.extend(optimal_charts(&fit, points, &charts)?);
        md.push_str(&super::images(dir, &stems));
        if let Some(h) = &fit.hparams {
            md.push_str("## Hyperparameters\n\n");
            md.push_str(&super::hparams::section(h));
            md.push_str(&super::images(
                dir,
                &super::hparams::charts(&loaded.points, h, &charts)?,
            ));
        }
        md.push_str("## Leave-out check (interpolation)\n\n");
        md.push_str("The runs left out here share their budgets with runs that stay in the fit, so this checks interpolation only; the verdict's validation runs, trained beyond the fitted compute, check extrapolation.\n\n");
        md.push_str(&holdout_section(points, curves.as_deref(), opts));
        md.push_str("\n## Extrapolation to 1–175B parameters\n\n");
        let (text, stems) = extrapolation(&fit, points, opts, &charts)?;
        md.push_str(&text);
        md.push('\n');
        md.push_str(&super::images(dir, &stems));
        cost_model = fit.cost_model.clone();
    }
    md.push_str(&super::cost_model::section(
        dir,
        &rows,
        cost_model.as_ref(),
        opts.profile.as_deref(),
    )?);
    md.insert_str(0, &head);
    let path = dir.join("report.md");
    crate::fsx::write_atomic(&path, md.as_bytes())?;
    Ok(path)
}
