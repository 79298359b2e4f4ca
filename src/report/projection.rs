//! The extrapolation to the target sizes (1B–175B): compute-optimal tokens,
//! predicted loss with its interval, FLOPs and cost, as tables and charts.

use super::charts::{Band, Bars, Chart, Mark, Series};
use super::fit_charts::logspace;
use super::sweep::Options;
use crate::estimate::{cost, law::Law, workload::Workload};
use crate::fmt;
use crate::hardware::Catalog;
use crate::scaling::{data, FitReport, Law3};
use anyhow::Result;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

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
pub(super) fn extrapolation(
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
    let trusted = fit.verdict.as_ref().map(|v| v.trusted_up_to_flops);
    let credible = fit.verdict.as_ref().is_none_or(|v| v.credible);
    if !credible {
        md.push_str("**The verdict found this sweep's law not credible: its rows show the 95% interval only, as a range, not a point estimate.**\n\n");
    }
    md.push_str("| target | law | tokens | tokens/param | loss [95% PI] | FLOPs | GPU-hours | days | cost $ | energy MWh | GPU-hours at measured MFU | flags |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n");
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
            let ours_row = j == 0;
            let mut flags = Vec::new();
            if let Some(t) = trusted.filter(|&t| ours_row && p.flops > t) {
                flags.push(format!("{:.0e}× beyond the checked compute", p.flops / t));
            }
            if p.tokens < n {
                flags.push("< 1 token/param: not a sensible training run".to_string());
            }
            let loss = if ours_row && !credible {
                format!("{}–{}", fmt::compact(p.loss.1), fmt::compact(p.loss.2))
            } else {
                format!(
                    "{} [{}, {}]",
                    fmt::compact(p.loss.0),
                    fmt::compact(p.loss.1),
                    fmt::compact(p.loss.2)
                )
            };
            let _ = writeln!(
                md,
                "| {} | {} | {:.3e} | {} | {} | {:.3e} | {} | {} | {} | {} | {} | {} |",
                fmt::model_size(n),
                name,
                p.tokens,
                fmt::compact(p.tokens / n),
                loss,
                p.flops,
                c.map(|c| fmt::compact(c.gpu_hours))
                    .unwrap_or_else(|| "–".into()),
                c.map(|c| fmt::compact(c.wall_days))
                    .unwrap_or_else(|| "–".into()),
                c.map(|c| fmt::compact(c.cost_usd))
                    .unwrap_or_else(|| "–".into()),
                c.and_then(|c| c.energy_kwh)
                    .map(|e| fmt::compact(e / 1e3))
                    .unwrap_or_else(|| "–".into()),
                match (c, measured_mfu) {
                    (Some(c), Some(m)) => fmt::compact(c.gpu_hours * opts.mfu / m),
                    _ => "–".into(),
                },
                if flags.is_empty() {
                    "–".to_string()
                } else {
                    flags.join("; ")
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
