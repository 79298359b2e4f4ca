//! The sweep report: runs table, training curves, IsoFLOP profiles, the fit
//! (Chinchilla approaches 1–3, held-out validation) and its extrapolation to
//! 1–175B parameters with costs, next to the published laws.

use super::charts::{Band, Bars, Chart, Mark, Series};
use super::curves::{self, RunCurves};
use crate::estimate::{cost, law::Law, workload::Workload};
use crate::fmt;
use crate::hardware::Catalog;
use crate::scaling::{data, fit_all, FitOptions, FitReport, Law3};
use crate::sweep::results::{read_rows, Row};
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
        }
    }
}

fn runs_table(rows: &[Row]) -> String {
    let mut s = String::from("| run | status | params | non-emb | tokens | tokens/param | FLOPs | val loss | val bpb | wall s | tok/s |\n|---|---|---|---|---|---|---|---|---|---|---|\n");
    for r in rows {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.run,
            r.status,
            r.params,
            r.non_embedding_params,
            fmt::or_dash(r.tokens, |t| t.to_string()),
            fmt::fixed_or_dash(r.tokens.map(|t| t as f64 / r.params as f64), 1),
            fmt::or_dash(r.flops, |x| fmt::sci(x, 3)),
            fmt::fixed_or_dash(r.val_loss, 4),
            fmt::fixed_or_dash(r.val_bpb, 4),
            fmt::fixed_or_dash(r.wall_s, 0),
            fmt::fixed_or_dash(r.tok_per_s, 0)
        );
    }
    s
}

/// log-spaced values from lo to hi inclusive.
fn logspace(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| (lo.ln() + (hi.ln() - lo.ln()) * i as f64 / (n - 1) as f64).exp())
        .collect()
}

/// IsoFLOP profiles: final loss vs parameters per budget, with the fitted parabolas.
fn isoflop_chart(points: &[data::Point], fit: &FitReport, out: &Path) -> Result<Option<PathBuf>> {
    let groups = crate::scaling::budget_groups(points);
    if groups.is_empty() {
        return Ok(None);
    }
    let mut series = Vec::new();
    for (i, (c, idx)) in groups.iter().enumerate() {
        let mut pts: Vec<(f64, f64)> = idx
            .iter()
            .map(|&j| (points[j].params, points[j].loss))
            .collect();
        pts.sort_by(|a, b| a.0.total_cmp(&b.0));
        series.push(Series {
            label: format!("C = {c:.2e} FLOPs"),
            points: pts.clone(),
            mark: Mark::Points,
            color: i,
        });
        if let Some(b) = fit
            .approach2
            .as_ref()
            .and_then(|a| a.budgets.iter().find(|b| (b.flops / c - 1.0).abs() < 0.1))
        {
            let (lo, hi) = (pts[0].0 / 1.5, pts[pts.len() - 1].0 * 1.5);
            let [c0, c1, c2] = b.parabola;
            let curve = logspace(lo, hi, 60)
                .into_iter()
                .map(|n| (n, c0 + c1 * n.ln() + c2 * n.ln().powi(2)))
                .collect();
            series.push(Series {
                label: String::new(),
                points: curve,
                mark: Mark::Line,
                color: i,
            });
            if b.interior {
                series.push(Series {
                    label: String::new(),
                    points: vec![(b.n_opt, b.loss_opt)],
                    mark: Mark::Points,
                    color: 6,
                });
            }
        }
    }
    let chart = Chart {
        title: "IsoFLOP profiles (Approach 2): loss vs model size at fixed compute".into(),
        x_label: "parameters N".into(),
        y_label: "final validation loss (nats/token)".into(),
        log_x: true,
        series,
        ..Default::default()
    };
    let stem = out.join("isoflop");
    chart.write(&stem)?;
    Ok(Some(stem))
}

/// N_opt(C) and D_opt(C) on log-log axes with the fitted power laws, and the
/// published exponent (Hoffmann et al. 2022: a ≈ b ≈ 0.5) through the same centre.
fn optimal_charts(fit: &FitReport, points: &[data::Point], out: &Path) -> Result<Vec<PathBuf>> {
    let (c_lo, c_hi) = (
        points.iter().map(|p| p.flops).fold(f64::INFINITY, f64::min),
        points.iter().map(|p| p.flops).fold(0.0, f64::max),
    );
    let mut stems = Vec::new();
    for (what, idx) in [("N_opt", 0usize), ("D_opt", 1usize)] {
        let mut series = Vec::new();
        let mut all: Vec<(f64, f64)> = Vec::new();
        if let Some(a2) = &fit.approach2 {
            let pts: Vec<(f64, f64)> = a2
                .budgets
                .iter()
                .map(|b| (b.flops, if idx == 0 { b.n_opt } else { b.d_opt }))
                .collect();
            all.extend(&pts);
            let (coef, exp) = if idx == 0 {
                (a2.n_coef, a2.a)
            } else {
                (a2.d_coef, a2.b)
            };
            series.push(Series {
                label: "Approach 2 (IsoFLOP minima)".into(),
                points: pts.clone(),
                mark: Mark::Points,
                color: 0,
            });
            let (lo, hi) = (
                pts.iter().map(|p| p.0).fold(f64::INFINITY, f64::min),
                pts.iter().map(|p| p.0).fold(0.0, f64::max),
            );
            series.push(Series {
                label: format!("fit: ∝ C^{exp:.3}"),
                points: logspace(lo / 2.0, hi * 2.0, 20)
                    .into_iter()
                    .map(|c| (c, coef * c.powf(exp)))
                    .collect(),
                mark: Mark::Line,
                color: 0,
            });
        }
        if let Some(a1) = &fit.approach1 {
            let pts: Vec<(f64, f64)> = a1
                .points
                .iter()
                .map(|p| (p.flops, if idx == 0 { p.params } else { p.tokens }))
                .collect();
            all.extend(&pts);
            series.push(Series {
                label: format!(
                    "Approach 1 (envelope): ∝ C^{:.3}",
                    if idx == 0 { a1.a } else { a1.b }
                ),
                points: pts,
                mark: Mark::Points,
                color: 1,
            });
        }
        if let Some(law) = fit.law() {
            if c_lo.is_finite() && c_hi > 0.0 {
                let pts: Vec<(f64, f64)> = logspace(c_lo / 2.0, c_hi * 2.0, 20)
                    .into_iter()
                    .map(|c| {
                        (
                            c,
                            if idx == 0 {
                                law.compute_optimal(c).0
                            } else {
                                law.compute_optimal(c).1
                            },
                        )
                    })
                    .collect();
                let e = if idx == 0 { law.a_exp() } else { law.b_exp() };
                if all.is_empty() {
                    all.extend(&pts);
                }
                series.push(Series {
                    label: format!("Approach 3: ∝ C^{e:.3}"),
                    points: pts,
                    mark: Mark::Dashed,
                    color: 2,
                });
            }
        }
        if all.is_empty() {
            continue;
        }
        // Reference slope 0.5 through the geometric centre of our points.
        let (cx, cy) = all
            .iter()
            .fold((0.0, 0.0), |(a, b), p| (a + p.0.ln(), b + p.1.ln()));
        let (cx, cy) = ((cx / all.len() as f64).exp(), (cy / all.len() as f64).exp());
        let (lo, hi) = (
            all.iter().map(|p| p.0).fold(f64::INFINITY, f64::min),
            all.iter().map(|p| p.0).fold(0.0, f64::max),
        );
        series.push(Series {
            label: "Hoffmann et al. 2022 slope 0.5 (reference)".into(),
            points: logspace(lo / 2.0, hi * 2.0, 20)
                .into_iter()
                .map(|c| (c, cy * (c / cx).sqrt()))
                .collect(),
            mark: Mark::Dashed,
            color: 6,
        });
        let chart = Chart {
            title: format!(
                "Compute-optimal {} vs compute",
                if idx == 0 { "model size" } else { "tokens" }
            ),
            x_label: "training compute C (FLOPs)".into(),
            y_label: if idx == 0 {
                "N_opt (parameters)".into()
            } else {
                "D_opt (tokens)".into()
            },
            log_x: true,
            log_y: true,
            series,
            ..Default::default()
        };
        let stem = out.join(format!("{}_vs_compute", what.to_lowercase()));
        chart.write(&stem)?;
        stems.push(stem);
    }
    Ok(stems)
}

/// One target size under one law: compute-optimal tokens, loss, FLOPs and cost.
struct Projection {
    tokens: f64,
    loss: (f64, f64, f64),
    flops: f64,
    cost: Option<cost::CostEstimate>,
}

fn project(
    law: &Law3,
    n: f64,
    interval: Option<&FitReport>,
    hw: Option<&crate::hardware::Hardware>,
    opts: &Options,
) -> Projection {
    let d = law.optimal_tokens(n);
    let loss = match interval {
        Some(f) => f.predict_interval(n, d),
        None => {
            let l = law.loss(n, d);
            (l, l, l)
        }
    };
    let cost = hw.and_then(|hw| {
        let w = Workload::dense(&format!("{n:.3e}"), n, d).ok()?;
        cost::estimate(
            &w,
            hw,
            &cost::CostParams::new(&opts.hardware, opts.gpus, opts.mfu),
        )
        .ok()
    });
    Projection {
        tokens: d,
        loss,
        flops: 6.0 * n * d,
        cost,
    }
}

/// Frontier chart, cost chart and the extrapolation tables.
fn extrapolation(
    fit: &FitReport,
    points: &[data::Point],
    opts: &Options,
    out: &Path,
) -> Result<(String, Vec<PathBuf>)> {
    let Some(ours) = fit.law() else {
        return Ok((
            String::from("Approach 3 could not be fitted; no extrapolation.\n"),
            vec![],
        ));
    };
    let catalog = Catalog::load()?;
    let hw = catalog.get(&opts.hardware).ok();
    let published: Vec<Law> = ["hoffmann2022", "besiroglu2024"]
        .iter()
        .map(|n| crate::estimate::law::named(n))
        .collect::<Result<_>>()?;
    let mut md = String::new();
    let _ = writeln!(
        md,
        "Targets trained compute-optimally under each law (D_opt(N) from its constants, C = 6·N·D), on {} at an assumed MFU of {:.0}% ({} GPUs for the wall-clock column). \
Loss intervals are 95% bootstrap percentiles of this sweep's Approach 3 fit. The published laws were fitted to MassiveText with a 32k SentencePiece tokenizer: their losses are not comparable with ours in absolute terms (different data and tokenizer), only their shapes and the token counts they imply.\n",
        hw.map(|h| h.name.as_str()).unwrap_or(&opts.hardware),
        opts.mfu * 100.0,
        opts.gpus
    );
    // The MFU the user's own runs achieved (where their device's peak is known).
    let measured: Vec<(f64, String)> = points
        .iter()
        .filter_map(|p| {
            Some((
                p.mfu.filter(|m| *m > 0.0)?,
                p.device.clone().unwrap_or_default(),
            ))
        })
        .collect();
    let measured_mfu = (!measured.is_empty())
        .then(|| measured.iter().map(|m| m.0).sum::<f64>() / measured.len() as f64);
    match measured_mfu {
        Some(m) => {
            let _ = writeln!(
                md,
                "MFU measured in this sweep's runs: **{:.1}%** (mean of {} runs on {}). The last column scales the GPU-hours to it: what the targets would cost if training at scale ran as efficiently as these runs.\n",
                m * 100.0,
                measured.len(),
                measured[0].1
            );
        }
        None => md.push_str("No MFU was measured in this sweep's runs (a CPU has no catalog peak unless `train.hardware` is set), so only the assumed MFU is used.\n\n"),
    }
    md.push_str("| target | law | tokens | tokens/param | loss [95% PI] | FLOPs | GPU-hours | days | cost $ | energy MWh | GPU-hours at measured MFU |\n|---|---|---|---|---|---|---|---|---|---|---|\n");
    let mut bars: Vec<(String, Vec<f64>)> = vec![("this sweep (Approach 3)".into(), vec![])];
    for l in &published {
        bars.push((l.id.clone(), vec![]));
    }
    for &n in &opts.targets {
        let mut rows: Vec<(String, Projection)> =
            vec![("this sweep".into(), project(&ours, n, Some(fit), hw, opts))];
        for l in &published {
            rows.push((l.id.clone(), project(&l.core(), n, None, hw, opts)));
        }
        for (j, (name, p)) in rows.iter().enumerate() {
            let c = p.cost.as_ref();
            let _ = writeln!(
                md,
                "| {} | {} | {:.3e} | {} | {} [{}, {}] | {:.3e} | {} | {} | {} | {} | {} |",
                fmt::model_size(n),
                name,
                p.tokens,
                fmt::compact(p.tokens / n),
                fmt::compact(p.loss.0),
                fmt::compact(p.loss.1),
                fmt::compact(p.loss.2),
                p.flops,
                fmt::or_dash(c, |c| fmt::compact(c.gpu_hours)),
                fmt::or_dash(c, |c| fmt::compact(c.wall_days)),
                fmt::or_dash(c, |c| fmt::compact(c.cost_usd)),
                fmt::or_dash(c.and_then(|c| c.energy_kwh), |e| fmt::compact(e / 1e3)),
                match (c, measured_mfu) {
                    (Some(c), Some(m)) => fmt::compact(c.gpu_hours * opts.mfu / m),
                    _ => fmt::DASH.into(),
                },
            );
            bars[j].1.push(c.map(|c| c.gpu_hours).unwrap_or(f64::NAN));
        }
    }
    let mut stems = Vec::new();
    // Loss-vs-compute frontier of this sweep's law out to the largest target, with its band.
    let c_max = 6.0
        * opts.targets.iter().cloned().fold(0.0, f64::max)
        * ours.optimal_tokens(opts.targets.iter().cloned().fold(0.0, f64::max));
    let c_min = points.iter().map(|p| p.flops).fold(f64::INFINITY, f64::min) / 2.0;
    if c_min.is_finite() && c_max > c_min {
        let cs = logspace(c_min, c_max, 80);
        let mid: Vec<(f64, f64)> = cs
            .iter()
            .map(|&c| {
                let (n, d) = ours.compute_optimal(c);
                (c, ours.loss(n, d))
            })
            .collect();
        let (lo, hi): (Vec<f64>, Vec<f64>) = cs
            .iter()
            .map(|&c| {
                let (n, d) = ours.compute_optimal(c);
                let (_, lo, hi) = fit.predict_interval(n, d);
                (lo, hi)
            })
            .unzip();
        let mut series = vec![
            Series {
                label: "runs of this sweep".into(),
                points: points.iter().map(|p| (p.flops, p.loss)).collect(),
                mark: Mark::Points,
                color: 6,
            },
            Series {
                label: "this sweep, Approach 3 frontier".into(),
                points: mid,
                mark: Mark::Line,
                color: 0,
            },
        ];
        // The published laws only over compute they were fitted on (Chinchilla's
        // runs span ~6e18–3e21 FLOPs); below that they are not a prediction.
        const PUBLISHED_MIN_C: f64 = 1e18;
        for (i, l) in published.iter().enumerate() {
            let core = l.core();
            let pts: Vec<(f64, f64)> = cs
                .iter()
                .filter(|&&c| c >= PUBLISHED_MIN_C)
                .map(|&c| {
                    let (n, d) = core.compute_optimal(c);
                    (c, core.loss(n, d))
                })
                .collect();
            if pts.len() > 1 {
                series.push(Series {
                    label: format!("{} (other data and tokenizer; C ≥ 1e18)", l.id),
                    points: pts,
                    mark: Mark::Dashed,
                    color: i + 1,
                });
            }
        }
        let chart = Chart {
            title: "Compute-optimal loss frontier, extrapolated to the largest target".into(),
            x_label: "training compute C (FLOPs)".into(),
            y_label: "loss (nats/token)".into(),
            log_x: true,
            log_y: false,
            series,
            bands: vec![Band {
                label: "95% bootstrap band".into(),
                xs: cs.clone(),
                lo,
                hi,
                color: 0,
            }],
        };
        let stem = out.join("frontier");
        chart.write(&stem)?;
        stems.push(stem);
    }
    if hw.is_some() {
        let b = Bars {
            title: format!(
                "GPU-hours to train each target compute-optimally ({}, MFU {:.0}%)",
                opts.hardware,
                opts.mfu * 100.0
            ),
            y_label: "GPU-hours".into(),
            categories: opts.targets.iter().map(|n| fmt::model_size(*n)).collect(),
            series: bars,
        };
        let stem = out.join("cost");
        b.write(&stem)?;
        stems.push(stem);
    }
    Ok((md, stems))
}

fn fit_section(fit: &FitReport) -> String {
    let mut md = String::new();
    match &fit.approach3 {
        Some(a) => {
            let ci = |k: &str| fmt::param_interval(a.ci.as_ref().and_then(|c| c.get(k)));
            let _ = writeln!(md, "**Approach 3** — L(N, D) = E + A/N^α + B/D^β, Huber δ = {} summed over {} runs, L-BFGS from {} starts, {} bootstrap resamples:\n", a.huber_delta, a.n_points, a.starts, a.bootstrap_fitted);
            md.push_str("| parameter | estimate | 95% CI | Hoffmann 2022 | Besiroglu 2024 |\n|---|---|---|---|---|\n");
            for (k, v, h, b) in [
                ("E", a.e, "1.69", "1.8172"),
                ("A", a.a_coef, "406.4", "482.01"),
                ("B", a.b_coef, "410.7", "2085.43"),
                ("alpha", a.alpha, "0.34", "0.3478"),
                ("beta", a.beta, "0.28", "0.3658"),
                ("a", a.a, "0.46", "0.512"),
                ("b", a.b, "0.54", "0.488"),
            ] {
                let _ = writeln!(md, "| {k} | {} | {} | {h} | {b} |", fmt::param(v), ci(k));
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
        md.push_str("| budget (FLOPs) | sizes | N_opt | D_opt | loss at optimum | optimum inside the sampled sizes |\n|---|---|---|---|---|---|\n");
        for b in &a2.budgets {
            let _ = writeln!(
                md,
                "| {:.2e} | {} | {:.3e} | {:.3e} | {:.4} | {} |",
                b.flops,
                b.sizes,
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
        return format!("Held-out validation skipped: {} runs are too few to hold out {k} and still fit five constants.\n", points.len());
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
            None => "Held-out validation: no result.\n".into(),
        },
        Err(e) => format!("Held-out validation failed: {e:#}\n"),
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
    let mut md = format!(
        "# Sweep report: {}\n\n{} of {} runs finished; {:.3e} training FLOPs in {:.0} s of training.\n\n## Runs\n\n{}\n",
        dir.display(),
        ok.len(),
        rows.len(),
        total_flops,
        total_wall,
        runs_table(&rows)
    );
    if !runs.is_empty() {
        md.push_str("## Training curves\n\n");
        md.push_str(&super::images(
            dir,
            &curves::write_loss_charts(&runs, &charts)?,
        ));
    }
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
        let fit = fit_all(
            &loaded.points,
            curves.as_deref(),
            &FitOptions {
                bootstrap: opts.bootstrap,
                ..FitOptions::default()
            },
        )?;
        crate::fsx::write_json_atomic(&dir.join("fit.json"), &fit)?;
        md.push_str("## Scaling-law fit\n\n");
        md.push_str(&fit_section(&fit));
        let mut stems = Vec::new();
        stems.extend(isoflop_chart(&loaded.points, &fit, &charts)?);
        stems.extend(optimal_charts(&fit, &loaded.points, &charts)?);
        md.push_str(&super::images(dir, &stems));
        md.push_str("## Held-out validation\n\n");
        md.push_str(&holdout_section(&loaded.points, curves.as_deref(), opts));
        md.push_str("\n## Extrapolation to 1–175B parameters\n\n");
        let (text, stems) = extrapolation(&fit, &loaded.points, opts, &charts)?;
        md.push_str(&text);
        md.push('\n');
        md.push_str(&super::images(dir, &stems));
        if let Some(cm) = &fit.cost_model {
            md.push_str("## Cost model of these runs\n\n");
            md.push_str("Achieved training FLOP/s (exact matmul count / wall time) and tokens/s against model size, per device; effective MFU where the device's peak is known.\n\n| device | runs | FLOP/s ≈ k·N^e | tok/s ≈ k·N^e |\n|---|---|---|---|\n");
            let pf = |f: &Option<crate::scaling::cost_model::PowerFit>| {
                fmt::or_dash(f.as_ref(), |f| f.to_string())
            };
            for d in &cm.devices {
                let _ = writeln!(
                    md,
                    "| {} | {} | {} | {} |",
                    d.device,
                    d.runs,
                    pf(&d.flops_per_s),
                    pf(&d.tok_per_s)
                );
            }
            md.push_str(
                "\n| device | params | runs | FLOP/s | tok/s | MFU |\n|---|---|---|---|---|---|\n",
            );
            for d in &cm.devices {
                for r in &d.by_size {
                    let _ = writeln!(
                        md,
                        "| {} | {:.3e} | {} | {} | {} | {} |",
                        d.device,
                        r.params,
                        r.runs,
                        fmt::fixed_or_dash(r.flops_per_s.map(|f| f / 1e9), 2) + " G",
                        fmt::fixed_or_dash(r.tok_per_s, 0),
                        fmt::or_dash(r.mfu, |m| fmt::percent(m, 1))
                    );
                }
            }
        }
    }
    let path = dir.join("report.md");
    crate::fsx::write_atomic(&path, md.as_bytes())?;
    Ok(path)
}
