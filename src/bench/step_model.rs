//! Fitting and validating the step-time model (`src/flops/step_time.rs`) on
//! `bench` runs: a calibration set of shapes fits the constants, a held-out
//! set (never used in the fit) checks the predictions.

use crate::config::RunConfig;
use crate::flops::step_time::{self, Sample, StepWork};
use crate::profile::{DeviceProfile, StepConstants};
use anyhow::{anyhow, Result};
use serde::Serialize;

/// A benchmark shape: model, micro-batch, kernels and how many timed steps.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub name: &'static str,
    pub n_layer: usize,
    pub n_head: usize,
    pub d_model: usize,
    pub seq_len: usize,
    pub vocab: usize,
    pub batch: usize,
    pub composed: bool,
    pub steps: usize,
}

const fn s(
    name: &'static str,
    [n_layer, n_head, d_model, seq_len, vocab, batch, steps]: [usize; 7],
    composed: bool,
) -> Shape {
    Shape {
        name,
        n_layer,
        n_head,
        d_model,
        seq_len,
        vocab,
        batch,
        composed,
        steps,
    }
}

/// The shapes the constants are fitted on: cheap, spread over width, depth,
/// context, vocabulary, batch and both kernel sets.
pub const CALIBRATION: [Shape; 10] = [
    s("c-d32-l1-t64-v512-b4", [1, 2, 32, 64, 512, 4, 40], false),
    s("c-d64-l2-t128-v1k-b8", [2, 4, 64, 128, 1024, 8, 15], false),
    s("c-d128-l4-t128-v4k-b4", [4, 4, 128, 128, 4096, 4, 8], false),
    s("c-d128-l2-t256-v2k-b2", [2, 2, 128, 256, 2048, 2, 8], false),
    s("c-d192-l3-t64-v8k-b8", [3, 6, 192, 64, 8192, 8, 5], false),
    s("c-d256-l6-t256-v4k-b1", [6, 4, 256, 256, 4096, 1, 5], false),
    s("c-d256-l2-t512-v1k-b1", [2, 8, 256, 512, 1024, 1, 5], false),
    s("c-d64-l4-t64-v2k-b32", [4, 1, 64, 64, 2048, 32, 5], false),
    s(
        "c-d64-l2-t128-v1k-b4-composed",
        [2, 4, 64, 128, 1024, 4, 8],
        true,
    ),
    s(
        "c-d128-l3-t64-v2k-b8-composed",
        [3, 4, 128, 64, 2048, 8, 5],
        true,
    ),
];

/// Held out: from the tiny sweep model to gpt-30m (configs/presets/gpt-30m.toml
/// at batch 1), one with the composed ops.
pub const HELD_OUT: [Shape; 8] = [
    s("tiny d32-l2-t64-v512-b1", [2, 2, 32, 64, 512, 1, 50], false),
    s("d64-l2-t64-v512-b32", [2, 4, 64, 64, 512, 32, 10], false),
    s(
        "quickstart d128-l4-t128-v4k-b16",
        [4, 4, 128, 128, 4096, 16, 5],
        false,
    ),
    s("d96-l2-t256-v1k-b8", [2, 2, 96, 256, 1024, 8, 5], false),
    s("d256-l3-t512-v2k-b2", [3, 4, 256, 512, 2048, 2, 3], false),
    s(
        "gpt-10m d384-l6-t256-v8k-b2",
        [6, 6, 384, 256, 8192, 2, 3],
        false,
    ),
    s(
        "gpt-30m d512-l8-t512-v8k-b1",
        [8, 8, 512, 512, 8192, 1, 3],
        false,
    ),
    s(
        "quickstart-composed d128-l4-t128-v4k-b4",
        [4, 4, 128, 128, 4096, 4, 4],
        true,
    ),
];

impl Shape {
    /// The run config of this shape on `device` in `dtype` (bench feeds synthetic
    /// tokens: the corpus is never read).
    pub fn config(&self, device: &str, dtype: &str) -> Result<RunConfig> {
        let toml = format!(
            "[model]\nn_layer = {}\nn_head = {}\nd_model = {}\nseq_len = {}\nvocab_size = {}\n\
             [data]\ncorpus = \"synthetic\"\n[train]\nmax_steps = 1\nbatch_size = {}\nkernels = \"{}\"\ndevice = \"{device}\"\ndtype = \"{dtype}\"\n",
            self.n_layer,
            self.n_head,
            self.d_model,
            self.seq_len,
            self.vocab,
            self.batch,
            if self.composed { "composed" } else { "fused" },
        );
        RunConfig::from_toml_str(&toml, &[]).map_err(|e| anyhow!("shape {}: {e:#}", self.name))
    }
}

/// Measured ms per phase of one bench run: the phase means scaled so they
/// sum to the median step (robust to a slow step under load).
pub fn measured_phases(r: &super::BenchResult) -> [f64; 3] {
    let f = r.ms_per_step_median / r.ms_per_step;
    [r.ms_forward * f, r.ms_backward * f, r.ms_optimizer * f]
}

/// Bench each shape with `measure` (its ms per phase) and fit the constants.
pub fn fit_on(
    p: &DeviceProfile,
    shapes: &[Shape],
    mut measure: impl FnMut(&Shape, &RunConfig) -> Result<[f64; 3]>,
) -> Result<StepConstants> {
    let samples = shapes
        .iter()
        .map(|sh| {
            let cfg = sh.config(&p.device, &p.dtype)?;
            Ok(Sample {
                name: sh.name.to_string(),
                terms: StepWork::for_profile(&cfg, p).terms(p),
                measured_ms: measure(sh, &cfg)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    step_time::fit(&samples)
}

/// One held-out shape: predicted and measured ms per step.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub name: String,
    pub params: u64,
    pub kernels: &'static str,
    pub predicted_ms: f64,
    pub measured_ms: f64,
    /// predicted / measured − 1.
    pub error: f64,
}

/// Predict and `measure` (ms per step) each shape with the profile's fitted constants.
pub fn validate(
    p: &DeviceProfile,
    shapes: &[Shape],
    mut measure: impl FnMut(&Shape, &RunConfig) -> Result<f64>,
) -> Result<Vec<Row>> {
    let c = p
        .step_model
        .as_ref()
        .ok_or_else(|| anyhow!("the device profile has no fitted step model"))?;
    shapes
        .iter()
        .map(|sh| {
            let cfg = sh.config(&p.device, &p.dtype)?;
            let pred = step_time::predict(&StepWork::for_profile(&cfg, p), p, c);
            let measured_ms = measure(sh, &cfg)?;
            Ok(Row {
                name: sh.name.to_string(),
                params: crate::model::params::param_counts(&cfg.model).total,
                kernels: pred.kernels,
                predicted_ms: pred.ms_per_step,
                measured_ms,
                error: pred.ms_per_step / measured_ms - 1.0,
            })
        })
        .collect()
}

/// The validation table (Markdown) and its summary line.
pub fn table(rows: &[Row]) -> String {
    let mut out = String::from(
        "| held-out shape | params | kernels | predicted ms/step | measured ms/step (median) | error |\n|---|---|---|---|---|---|\n",
    );
    for r in rows {
        out += &format!(
            "| {} | {} | {} | {:.2} | {:.2} | {:+.1}% |\n",
            r.name,
            crate::fmt::si(r.params as f64, 3),
            r.kernels,
            r.predicted_ms,
            r.measured_ms,
            r.error * 100.0
        );
    }
    let within = rows.iter().filter(|r| r.error.abs() <= 0.15).count();
    let worst = rows.iter().map(|r| r.error.abs()).fold(0.0, f64::max);
    out += &format!(
        "\n{within} of {} held-out shapes within 15%; worst |error| {:.1}%\n",
        rows.len(),
        worst * 100.0
    );
    out
}
