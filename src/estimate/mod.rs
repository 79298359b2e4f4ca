//! The cost estimator: `scalelab estimate`, `scalelab estimate optimum` and
//! `scalelab estimate claims`.
//!
//! - `law`: parametric scaling laws, compute-optimal N and D.
//! - `presets`: named models (configs/models.toml).
//! - `workload`: parameters (total / active), tokens, training FLOPs.
//! - `memory`: model states + activations → minimum GPUs.
//! - `cost`: GPU-hours, days, dollars, energy, overheads.
//! - `inference`: the training + inference compute optimum.
//! - `parallel`: data-parallel step time on W GPUs (`estimate data-parallel`).
//! - `claims`: the cost articles' claims recomputed.
//! - `time`: the step-time model on a device profile (`estimate time`, `estimate --profile`).
//! - `report`, `args`, `cli`: console output, the command-line arguments and dispatch.

pub mod args;
pub mod claims;
pub mod cli;
pub mod cost;
pub mod inference;
pub mod law;
pub mod memory;
pub mod parallel;
pub mod presets;
pub mod report;
pub mod time;
pub mod workload;
