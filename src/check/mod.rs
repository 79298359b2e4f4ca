//! `scalelab check`: the correctness checks of the training path, run on a
//! chosen device — the test suite's gradient, parity and mixed-precision
//! checks as a command, for machines with a GPU but no Rust toolchain.
//!
//! - `gradcheck`: every parameter's gradient against finite differences (f64).
//! - `parity`: CPU against the device, same weights and batch (f32).
//! - `precision`: bf16 / f16 (and TF32 on CUDA) training against fp32.
//! - `coord` (`scalelab check coord`): μP's coordinate check across widths.

pub mod cli;
pub mod coord;
pub mod gradcheck;
pub mod parity;
pub mod precision;

use crate::device::DTypeSpec;
use crate::model::Kernels;
use anyhow::Result;
use candle_core::Device;
use serde::Serialize;

// Stated tolerances.
/// Gradients: 1e-6 catches candle's rounded GELU backward (6e-5); the exact path measures ~7e-8.
pub const GRAD_TOL: f64 = 1e-6;
pub const PARITY_LOSS_TOL: f64 = 1e-5;
pub const PARITY_GRAD_TOL: f64 = 1e-4;
pub const PRECISION_TOL: f64 = 0.02;

#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub check: String,
    /// The measured error (NaN when the check could not run).
    pub value: f64,
    pub tolerance: f64,
    pub pass: bool,
    pub detail: String,
}

fn row(check: String, tolerance: f64, r: Result<(f64, String)>) -> Row {
    match r {
        Ok((value, detail)) => Row {
            check,
            value,
            tolerance,
            pass: value <= tolerance,
            detail,
        },
        Err(e) => Row {
            check,
            value: f64::NAN,
            tolerance,
            pass: false,
            detail: format!("{e:#}"),
        },
    }
}

/// Every check that applies to `dev`; a failing check is a row, not an error.
pub fn run(dev: &Device) -> Vec<Row> {
    let mut rows = Vec::new();
    // Exact f32 matmuls (no TF32) for the gradient and parity checks.
    crate::device::configure_precision(dev, DTypeSpec::F32);
    // The fused kernels are CPU-only; CUDA trains with the composed ops.
    let kernels: &[Kernels] = if dev.is_cpu() {
        &[Kernels::Fused, Kernels::Composed]
    } else {
        &[Kernels::Composed]
    };
    for &k in kernels {
        for (cfg, what) in [
            (gradcheck::tiny(true), "bias true"),
            (gradcheck::tiny(false), "bias false"),
            (gradcheck::tiny_mup(), "μp"),
        ] {
            let r = gradcheck::gradcheck(&cfg, k, dev).map(|ps| {
                let worst = ps
                    .iter()
                    .max_by(|a, b| a.max_rel_err.total_cmp(&b.max_rel_err))
                    .expect("parameters");
                (
                    worst.max_rel_err,
                    format!(
                        "{} parameters × {} entries; worst {}",
                        ps.len(),
                        worst.samples,
                        worst.name
                    ),
                )
            });
            rows.push(row(
                format!("gradients = finite differences (f64, {k:?} kernels, {what})")
                    .to_lowercase(),
                GRAD_TOL,
                r,
            ));
        }
    }
    if !dev.is_cpu() {
        match parity::parity(&gradcheck::tiny(true), dev) {
            Ok(p) => {
                rows.push(row(
                    "loss on device = loss on CPU (f32)".into(),
                    PARITY_LOSS_TOL,
                    Ok((
                        p.loss_rel,
                        format!("{:.8} vs {:.8}", p.loss_device, p.loss_cpu),
                    )),
                ));
                rows.push(row(
                    "gradients on device = on CPU (f32)".into(),
                    PARITY_GRAD_TOL,
                    Ok((p.grad_rel, format!("worst {}", p.worst_param))),
                ));
            }
            Err(e) => {
                let msg = format!("{e:#}");
                rows.push(row(
                    "loss on device = loss on CPU (f32)".into(),
                    PARITY_LOSS_TOL,
                    Err(anyhow::anyhow!("{msg}")),
                ));
                rows.push(row(
                    "gradients on device = on CPU (f32)".into(),
                    PARITY_GRAD_TOL,
                    Err(e),
                ));
            }
        }
    }
    let mut dtypes = vec![DTypeSpec::Bf16, DTypeSpec::F16];
    if dev.is_cuda() {
        dtypes.push(DTypeSpec::Tf32);
    }
    let reference = precision::losses(DTypeSpec::F32, dev);
    for dtype in dtypes {
        crate::device::configure_precision(dev, dtype);
        let r = match &reference {
            Ok((f32_losses, _)) => precision::losses(dtype, dev).map(|(l, _)| {
                (
                    precision::worst_gap(f32_losses, &l),
                    format!(
                        "loss after {} steps {:.4} vs fp32 {:.4}",
                        precision::STEPS,
                        l[l.len() - 1],
                        f32_losses[f32_losses.len() - 1]
                    ),
                )
            }),
            Err(e) => Err(anyhow::anyhow!("the fp32 reference run failed: {e:#}")),
        };
        rows.push(row(
            format!("{dtype:?} training tracks fp32 (worst step)").to_lowercase(),
            PRECISION_TOL,
            r,
        ));
    }
    crate::device::configure_precision(dev, DTypeSpec::F32);
    #[cfg(feature = "nccl")]
    if dev.is_cuda() {
        rows.push(row(
            "NCCL all-reduce on a 1-rank group returns its input".into(),
            0.0,
            crate::train::dist::nccl::self_test(dev).map(|d| (d, "max |out − in|".into())),
        ));
    }
    rows
}
