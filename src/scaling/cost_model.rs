//! Cost model: achieved throughput by model size, from the `wall_s`,
//! `tok_per_s`, `mfu` and `device` columns. Per run, achieved FLOP/s =
//! flops / wall_s and tokens/s = tok_per_s (or tokens / wall_s); per device, a
//! least-squares line in log-log against params gives throughput ≈ coef·N^k,
//! and a table by size gives the means (and the mean MFU where recorded).

use super::{linfit, Point};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// y ≈ coef · params^exponent.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PowerFit {
    pub coef: f64,
    pub exponent: f64,
    pub r2: f64,
}

/// `5.154e13·N^0.041 (r² 0.998)`, in the fit's console table and the sweep report alike.
impl std::fmt::Display for PowerFit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:.3e}·N^{:.3} (r² {:.3})",
            self.coef, self.exponent, self.r2
        )
    }
}

impl PowerFit {
    pub fn at(&self, params: f64) -> f64 {
        self.coef * params.powf(self.exponent)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SizeRow {
    pub params: f64,
    pub runs: usize,
    pub flops_per_s: Option<f64>,
    pub tok_per_s: Option<f64>,
    /// Mean of the `mfu` column ("effective MFU" at this size).
    pub mfu: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceCost {
    /// The `device` column, or "all" when absent.
    pub device: String,
    pub runs: usize,
    pub flops_per_s: Option<PowerFit>,
    pub tok_per_s: Option<PowerFit>,
    pub by_size: Vec<SizeRow>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CostModel {
    pub devices: Vec<DeviceCost>,
}

fn mean(v: &[f64]) -> Option<f64> {
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

fn power_fit(x: &[f64], y: &[f64]) -> Option<PowerFit> {
    let lx: Vec<f64> = x.iter().map(|v| v.ln()).collect();
    let ly: Vec<f64> = y.iter().map(|v| v.ln()).collect();
    linfit(&lx, &ly).map(|f| PowerFit {
        coef: f.intercept.exp(),
        exponent: f.slope,
        r2: f.r2,
    })
}

pub fn fit(points: &[Point]) -> Result<CostModel, String> {
    let timed: Vec<&Point> = points
        .iter()
        .filter(|p| p.wall_s.is_some() || p.tok_per_s.is_some())
        .collect();
    if timed.is_empty() {
        return Err("no wall_s or tok_per_s values".into());
    }
    let mut by_dev: BTreeMap<String, Vec<&Point>> = BTreeMap::new();
    for p in timed {
        by_dev
            .entry(p.device.clone().unwrap_or_else(|| "all".into()))
            .or_default()
            .push(p);
    }
    let devices = by_dev
        .into_iter()
        .map(|(device, ps)| {
            let fl: Vec<(f64, f64)> = ps
                .iter()
                .filter_map(|p| p.wall_s.map(|w| (p.params, p.flops / w)))
                .collect();
            let tk: Vec<(f64, f64)> = ps
                .iter()
                .filter_map(|p| {
                    p.tok_per_s
                        .or(p.wall_s.map(|w| p.tokens / w))
                        .map(|t| (p.params, t))
                })
                .collect();
            let unzip = |v: &[(f64, f64)]| -> (Vec<f64>, Vec<f64>) { v.iter().copied().unzip() };
            let (fx, fy) = unzip(&fl);
            let (tx, ty) = unzip(&tk);
            let mut sizes: Vec<f64> = ps.iter().map(|p| p.params).collect();
            sizes.sort_by(f64::total_cmp);
            sizes.dedup();
            let same = |a: f64, b: f64| (a / b - 1.0).abs() < 1e-9;
            let by_size = sizes
                .iter()
                .map(|&n| {
                    let sel = |v: &[(f64, f64)]| {
                        v.iter()
                            .filter(|(p, _)| same(*p, n))
                            .map(|x| x.1)
                            .collect::<Vec<_>>()
                    };
                    let mfu: Vec<f64> = ps
                        .iter()
                        .filter(|p| same(p.params, n))
                        .filter_map(|p| p.mfu)
                        .collect();
                    SizeRow {
                        params: n,
                        runs: ps.iter().filter(|p| same(p.params, n)).count(),
                        flops_per_s: mean(&sel(&fl)),
                        tok_per_s: mean(&sel(&tk)),
                        mfu: mean(&mfu),
                    }
                })
                .collect();
            DeviceCost {
                device,
                runs: ps.len(),
                flops_per_s: power_fit(&fx, &fy),
                tok_per_s: power_fit(&tx, &ty),
                by_size,
            }
        })
        .collect();
    Ok(CostModel { devices })
}
