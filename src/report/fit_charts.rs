//! The fit's charts: IsoFLOP profiles with their parabolas, and the
//! compute-optimal N and D against compute for each approach.

use super::charts::{Chart, Mark, Series};
use crate::scaling::{data, FitReport};
use anyhow::Result;
use std::path::{Path, PathBuf};

pub(super) fn logspace(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| (lo.ln() + (hi.ln() - lo.ln()) * i as f64 / (n - 1) as f64).exp())
        .collect()
}

/// IsoFLOP profiles: final loss vs parameters per budget, with the fitted parabolas.
pub(super) fn isoflop_chart(
    points: &[data::Point],
    fit: &FitReport,
    out: &Path,
) -> Result<Option<PathBuf>> {
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
            let [lo, hi] = b.fitted_range.unwrap_or([pts[0].0, pts[pts.len() - 1].0]);
            let (lo, hi) = (lo / 1.2, hi * 1.2);
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
pub(super) fn optimal_charts(
    fit: &FitReport,
    points: &[data::Point],
    out: &Path,
) -> Result<Vec<PathBuf>> {
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
