//! Charts of a coordinate check's coord.csv (`scalelab check coord`): activation
//! RMS against width, one chart per parametrization, one series per layer
//! kind, at the last step measured. Flat lines are what μP promises.

use super::charts::{Chart, Mark, Series};
use anyhow::{anyhow, Context, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Layers shown: the embedding, block 0's outputs, the final norm and the logits.
const LAYERS: [&str; 5] = ["embed", "h.0.attn", "h.0.mlp", "ln_f", "logits"];

/// Write `charts/coord_{sp,mup}.{svg,png}` for `dir/coord.csv`; returns the stems.
pub fn write_coord_charts(csv: &Path, charts: &Path) -> Result<Vec<PathBuf>> {
    let text = std::fs::read_to_string(csv).with_context(|| csv.display().to_string())?;
    // (parametrization, layer) → width → (step, rms) of the latest step.
    let mut by: BTreeMap<(String, String), BTreeMap<usize, (usize, f64)>> = BTreeMap::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        let bad = || {
            anyhow!(
                "{}: line {}: expected parametrization,width,step,layer,rms",
                csv.display(),
                i + 1
            )
        };
        let f: Vec<&str> = line.split(',').collect();
        if f.len() != 5 {
            return Err(bad());
        }
        let (w, step, rms) = (
            f[1].parse().map_err(|_| bad())?,
            f[2].parse().map_err(|_| bad())?,
            f[4].parse::<f64>().map_err(|_| bad())?,
        );
        let e = by
            .entry((f[0].into(), f[3].into()))
            .or_default()
            .entry(w)
            .or_insert((step, rms));
        if step >= e.0 {
            *e = (step, rms);
        }
    }
    let mut stems = Vec::new();
    for (p, title) in [("sp", "SP"), ("mup", "μP")] {
        let series: Vec<Series> = LAYERS
            .iter()
            .enumerate()
            .filter_map(|(i, l)| {
                let pts = by.get(&(p.to_string(), l.to_string()))?;
                Some(Series {
                    label: l.to_string(),
                    points: pts.iter().map(|(&w, &(_, r))| (w as f64, r)).collect(),
                    mark: Mark::LinePoints,
                    color: i,
                })
            })
            .collect();
        if series.is_empty() {
            continue;
        }
        let stem = charts.join(format!("coord_{p}"));
        Chart {
            title: format!("Coordinate check, {title}: activation RMS at the last step"),
            x_label: "width (d_model)".into(),
            y_label: "RMS".into(),
            log_x: true,
            log_y: true,
            series,
            bands: Vec::new(),
        }
        .write(&stem)?;
        stems.push(stem);
    }
    Ok(stems)
}
