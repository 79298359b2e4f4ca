//! The sweep report's cost-model section: every finished run's ms per step
//! as the step-time model predicts it from a device profile (`scalelab
//! calibrate`), against the measurement; then the descriptive power-law fit
//! of the measured throughput (k·N^e), which predicts nothing it did not see.

use crate::flops::step_time;
use crate::fmt;
use crate::profile::{self, DeviceProfile};
use crate::rundir::results::Row;
use crate::scaling::cost_model::{CostModel, PowerFit};
use anyhow::{anyhow, Result};
use std::fmt::Write as _;
use std::path::Path;

/// One finished run: predicted and measured ms per optimizer step.
#[derive(Debug, Clone)]
pub struct Predicted {
    pub run: String,
    pub params: u64,
    pub kernels: &'static str,
    pub predicted_ms: f64,
    pub measured_ms: f64,
}

impl Predicted {
    /// predicted / measured − 1.
    pub fn error(&self) -> f64 {
        self.predicted_ms / self.measured_ms - 1.0
    }
}

/// The step-time model's prediction for each finished run of the sweep in
/// `dir` (its config from the run folder), against the measured ms per step
/// (tokens per step / the run's tok/s, which leaves out each process's first
/// step, evals and checkpoints).
pub fn predictions(dir: &Path, rows: &[Row], p: &DeviceProfile) -> Result<Vec<Predicted>> {
    rows.iter()
        .filter(|r| r.status == "ok")
        .filter_map(|r| Some((r, r.tok_per_s.filter(|t| *t > 0.0)?)))
        .map(|(r, tok_per_s)| {
            let run_dir = dir.join("runs").join(&r.run);
            let cfg = crate::config::RunConfig::load(&crate::rundir::config_path(&run_dir), &[])?;
            let pred =
                step_time::predict_config(&cfg, p).map_err(|e| anyhow!("device profile: {e}"))?;
            Ok(Predicted {
                run: r.run.clone(),
                params: r.params,
                kernels: pred.kernels,
                predicted_ms: pred.ms_per_step,
                measured_ms: cfg.tokens_per_step() as f64 / tok_per_s * 1e3,
            })
        })
        .collect()
}

/// The section's Markdown (empty when there is nothing to show).
pub fn section(
    dir: &Path,
    rows: &[Row],
    cm: Option<&CostModel>,
    explicit: Option<&Path>,
) -> Result<String> {
    let found = profile::locate(explicit)?
        .map(|f| Ok::<_, anyhow::Error>((profile::load_or_hint(&f)?, f)))
        .transpose()?
        .filter(|(p, _)| p.step_model.is_some());
    let mut md = String::from("## Cost model of these runs\n\n");
    match &found {
        Some((p, file)) => {
            let pred = predictions(dir, rows, p)?;
            let _ = writeln!(
                md,
                "Predicted ms per optimizer step from the step-time model (`src/flops/step_time.rs`) on the device profile {} ({}, {}, fitted on {} calibration shapes, none of them these runs), against the measured ms per step of each run (tokens per step / tok/s).\n",
                file.display(),
                p.device_name,
                p.dtype,
                p.step_model.as_ref().map_or(0, |c| c.fitted_on.len())
            );
            md.push_str(&table(&pred));
        }
        None => md.push_str(
            "No device profile with a fitted step-time model (give `--profile FILE`, or run `scalelab calibrate`): no predicted step times.\n\n",
        ),
    }
    if let Some(cm) = cm {
        md.push_str(&power_fit(cm));
    }
    Ok(md)
}

/// Predicted against measured, with the relative error and a summary line.
pub fn table(pred: &[Predicted]) -> String {
    let mut md = String::from("| run | params | kernels | predicted ms/step | measured ms/step | error |\n|---|---|---|---|---|---|\n");
    for r in pred {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {:.2} | {:.2} | {:+.1}% |",
            r.run,
            fmt::si(r.params as f64, 2),
            r.kernels,
            r.predicted_ms,
            r.measured_ms,
            r.error() * 100.0
        );
    }
    if !pred.is_empty() {
        let mut abs: Vec<f64> = pred.iter().map(|r| r.error().abs()).collect();
        abs.sort_by(f64::total_cmp);
        let within = abs.iter().filter(|e| **e <= 0.15).count();
        let _ = writeln!(
            md,
            "\n{within} of {} runs within 15%; median |error| {:.1}%, worst {:.1}%.",
            pred.len(),
            abs[abs.len() / 2] * 100.0,
            abs[abs.len() - 1] * 100.0
        );
    }
    md.push('\n');
    md
}

/// The power-law fit of the measured throughput and the per-size table.
fn power_fit(cm: &CostModel) -> String {
    let mut md = String::from("Descriptive, for comparison (fitted to these runs' own measurements, so it checks nothing): achieved training FLOP/s (exact matmul count / wall time) and tokens/s against model size, per device; effective MFU against the vendor peak where the catalog knows the device.\n\n| device | runs | FLOP/s ≈ k·N^e | tok/s ≈ k·N^e |\n|---|---|---|---|\n");
    let pf = |f: &Option<PowerFit>| {
        f.as_ref()
            .map(|f| format!("{:.3e}·N^{:.3} (r² {:.2})", f.coef, f.exponent, f.r2))
            .unwrap_or_else(|| fmt::DASH.into())
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
    md.push_str("\n| device | params | runs | FLOP/s | tok/s | MFU |\n|---|---|---|---|---|---|\n");
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
    md
}
