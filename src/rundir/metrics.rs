//! Metrics: one JSON line per step and per eval in `metrics.jsonl`, the
//! llm.c-style console line, and the end-of-run summary.

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepRecord {
    pub kind: String,
    pub step: usize,
    pub tokens_seen: u64,
    /// JSON has no NaN/inf: serde_json writes a non-finite value as `null`, read back as NaN.
    #[serde(deserialize_with = "f64_or_nan")]
    pub loss: f64,
    pub lr: f64,
    #[serde(deserialize_with = "f64_or_nan")]
    pub grad_norm: f64,
    pub dt_ms: f64,
    pub tok_per_s: f64,
    pub flops_step: f64,
    pub flops_cum: f64,
    /// Against the vendor peak (hardware catalog).
    pub mfu: Option<f64>,
    /// Against the measured peak of a device profile (`scalelab calibrate`); none in older logs.
    #[serde(default)]
    pub mfu_measured: Option<f64>,
    /// The update was dropped because the loss or gradient norm was not finite.
    pub skipped: bool,
}

fn f64_or_nan<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EvalRecord {
    pub kind: String,
    pub step: usize,
    pub tokens_seen: u64,
    pub flops_cum: f64,
    pub val_loss: f64,
    pub val_bpb: f64,
    pub elapsed_s: f64,
}

pub struct MetricsLog {
    path: PathBuf,
    file: File,
}

impl MetricsLog {
    /// The log's text with the records after `keep_through_step` dropped
    /// (those came from work after the checkpoint a resumed run starts from);
    /// empty for a new run. The caller writes it before [`MetricsLog::append`].
    pub fn kept_text(path: &Path, keep_through_step: Option<usize>) -> String {
        let kept: Vec<String> = match (keep_through_step, File::open(path)) {
            (Some(step), Ok(f)) => BufReader::new(f)
                .lines()
                .map_while(|l| l.ok())
                .filter(|l| {
                    serde_json::from_str::<serde_json::Value>(l)
                        .ok()
                        .and_then(|v| v["step"].as_u64())
                        .is_some_and(|s| s as usize <= step)
                })
                .collect(),
            _ => Vec::new(),
        };
        let mut text = kept.join("\n");
        if !text.is_empty() {
            text.push('\n');
        }
        text
    }

    /// Open for appending.
    pub fn append(path: &Path) -> Result<Self> {
        let file = OpenOptions::new()
            .append(true)
            .open(path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        Ok(MetricsLog {
            path: path.to_path_buf(),
            file,
        })
    }

    pub fn write<T: Serialize>(&mut self, rec: &T) -> Result<()> {
        let mut line = serde_json::to_string(rec)?;
        line.push('\n');
        self.file
            .write_all(line.as_bytes())
            .with_context(|| format!("cannot write {}", self.path.display()))
    }

    pub fn sync(&mut self) -> Result<()> {
        self.file
            .sync_data()
            .with_context(|| format!("cannot sync {}", self.path.display()))
    }
}

/// Read every record of a metrics file: (steps, evals).
pub fn read(path: &Path) -> Result<(Vec<StepRecord>, Vec<EvalRecord>)> {
    let f = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let (mut steps, mut evals) = (Vec::new(), Vec::new());
    for (i, line) in BufReader::new(f).lines().enumerate() {
        let line = line?;
        let v: serde_json::Value = serde_json::from_str(&line)
            .with_context(|| format!("{}:{}: malformed JSON", path.display(), i + 1))?;
        match v["kind"].as_str() {
            Some("step") => steps.push(
                serde_json::from_value(v)
                    .with_context(|| format!("{}:{}: bad step record", path.display(), i + 1))?,
            ),
            Some("eval") => evals.push(
                serde_json::from_value(v)
                    .with_context(|| format!("{}:{}: bad eval record", path.display(), i + 1))?,
            ),
            _ => {}
        }
    }
    Ok((steps, evals))
}

/// `step 120/2000 | loss 3.41 | lr 5.9e-4 | norm 0.82 | 41 ms | 12.3k tok/s | mfu 31.0% of measured peak`
/// (no MFU part when no peak is known: the trainer said so once at the start).
pub fn console_line(r: &StepRecord, total: usize) -> String {
    let mfu = crate::fmt::mfu(r.mfu_measured, r.mfu)
        .map(|m| format!(" | {m}"))
        .unwrap_or_default();
    let skip = if r.skipped {
        " | SKIPPED (non-finite)"
    } else {
        ""
    };
    format!(
        "step {}/{} | loss {:.4} | lr {:.2e} | norm {:.3} | {:.0} ms | {} tok/s{}{}",
        r.step,
        total,
        r.loss,
        r.lr,
        r.grad_norm,
        r.dt_ms,
        crate::fmt::si(r.tok_per_s, 1),
        mfu,
        skip
    )
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Summary {
    pub status: String,
    pub run_dir: String,
    pub params: u64,
    pub non_embedding_params: u64,
    pub steps: usize,
    pub tokens: u64,
    /// Exact matmul FLOPs (forward + backward) of all steps.
    #[serde(deserialize_with = "f64_or_nan")]
    pub flops: f64,
    /// Mean training loss over the last 10% of steps (at least one).
    #[serde(deserialize_with = "f64_or_nan")]
    pub final_train_loss: f64,
    #[serde(deserialize_with = "f64_or_nan")]
    pub val_loss: f64,
    #[serde(deserialize_with = "f64_or_nan")]
    pub val_bpb: f64,
    #[serde(deserialize_with = "f64_or_nan")]
    pub best_val_loss: f64,
    #[serde(deserialize_with = "f64_or_nan")]
    pub wall_s: f64,
    /// Training throughput excluding the first step of each process, evals and checkpoints.
    #[serde(deserialize_with = "f64_or_nan")]
    pub tok_per_s: f64,
    /// Against the vendor peak (hardware catalog).
    pub mfu: Option<f64>,
    /// Against the measured peak of a device profile; none in older summaries.
    #[serde(default)]
    pub mfu_measured: Option<f64>,
    pub device: String,
    pub hardware: Option<String>,
    pub dtype: String,
    pub skipped_nonfinite: u64,
    /// Peak CUDA memory allocated by this process's last stretch of training
    /// (rank 0's device), MiB; none on CPU.
    #[serde(default)]
    pub peak_gpu_mib: Option<f64>,
    /// Passes over the training split (tokens / its size): above 1 the run
    /// repeated data (Muennighoff et al. 2023); none in older summaries.
    #[serde(default)]
    pub epochs: Option<f64>,
    /// The memory model's peak of one training step (`scalelab info --memory`),
    /// bytes; none in older summaries.
    #[serde(default)]
    pub predicted_peak_bytes: Option<u64>,
    /// Measured peak of this process's training: RSS above the baseline taken
    /// just before the weights were allocated (CPU), rank 0's memory-pool
    /// high-water mark (CUDA); none in older summaries.
    #[serde(default)]
    pub measured_peak_bytes: Option<u64>,
}

/// Print a line above a progress bar, or plainly when the bar is hidden (output
/// not a terminal, e.g. CI logs): indicatif drops `println` on hidden bars.
pub fn println(pb: &indicatif::ProgressBar, s: impl AsRef<str>) {
    if pb.is_hidden() {
        eprintln!("{}", s.as_ref());
    } else {
        pb.println(s);
    }
}
