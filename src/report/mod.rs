//! `scalelab report DIR`: report.md plus SVG/PNG charts for a run folder or a
//! sweep folder (whose fit and extrapolation come from [`crate::scaling`] and
//! [`crate::estimate`]).

pub mod charts;
pub mod cli;
pub mod coord;
pub mod cost_model;
pub mod curves;
mod design;
mod fit_charts;
mod hparams;
mod projection;
pub mod sweep;

use anyhow::{bail, Result};
use curves::RunCurves;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Write DIR/report.md and DIR/charts/*; returns the report path.
pub fn report(dir: &Path, opts: &sweep::Options) -> Result<PathBuf> {
    if dir.join("results.csv").is_file() {
        sweep::report(dir, opts)
    } else if crate::rundir::metrics_path(dir).is_file() {
        run_report(dir)
    } else if dir.join(crate::check::coord::COORD_CSV).is_file() {
        coord_report(dir)
    } else {
        bail!(
            "report: {} is neither a run folder (metrics.jsonl), a sweep folder (results.csv) nor a coordinate check (coord.csv)",
            dir.display()
        )
    }
}

/// Markdown image links to the PNGs of each chart stem, relative to `dir`.
pub fn images(dir: &Path, stems: &[PathBuf]) -> String {
    let mut s = String::new();
    for stem in stems {
        let rel = stem.strip_prefix(dir).unwrap_or(stem).display().to_string();
        let _ = writeln!(s, "![{rel}]({rel}.png) ([svg]({rel}.svg))\n");
    }
    s
}

fn coord_report(dir: &Path) -> Result<PathBuf> {
    let charts = dir.join("charts");
    std::fs::create_dir_all(&charts)?;
    let stems = coord::write_coord_charts(&dir.join(crate::check::coord::COORD_CSV), &charts)?;
    let mut md = String::from("# Coordinate check

Activation RMS per layer against width (`scalelab check coord`): flat under μP, growing logits under SP.

");
    md.push_str(&images(dir, &stems));
    let path = dir.join("report.md");
    crate::fsx::write_atomic(&path, md.as_bytes())?;
    Ok(path)
}

fn run_report(dir: &Path) -> Result<PathBuf> {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "run".into());
    let run = RunCurves::read(&name, dir)?;
    let charts = dir.join("charts");
    crate::fsx::create_dir_all(&charts)?;
    let stems = curves::write_loss_charts(std::slice::from_ref(&run), &charts)?;
    let mut md = format!("# Run report: {name}\n\n");
    if let Ok(s) = crate::rundir::read_summary(dir) {
        let _ = writeln!(md, "| params | non-embedding | steps | tokens | FLOPs | final train loss | val loss | val bpb | wall | tok/s | MFU | device |");
        let _ = writeln!(md, "|---|---|---|---|---|---|---|---|---|---|---|---|");
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {:.3e} | {:.4} | {:.4} | {:.4} | {:.0} s | {:.0} | {} | {} |\n",
            s.params,
            s.non_embedding_params,
            s.steps,
            s.tokens,
            s.flops,
            s.final_train_loss,
            s.val_loss,
            s.val_bpb,
            s.wall_s,
            s.tok_per_s,
            crate::fmt::or_dash(s.mfu, |m| crate::fmt::percent(m, 1)),
            s.device
        );
    } else {
        md.push_str("The run has not finished (no summary.json); curves so far:\n\n");
    }
    md.push_str(&images(dir, &stems));
    let path = dir.join("report.md");
    crate::fsx::write_atomic(&path, md.as_bytes())?;
    Ok(path)
}
