//! A device profile: what `scalelab calibrate` measured on one device in one
//! precision (GEMM throughput over a grid of shapes, streaming bandwidth,
//! per-op dispatch overhead) and the step-time model's fitted constants.
//! Read by `train` / `bench` (MFU against the measured peak), `estimate time`
//! and the sweep report (predicted step time). Default location:
//! `$SCALELAB_PROFILE`, else `checkpoints/device-profile.json`.

use crate::device::{DTypeSpec, DeviceSpec};
use anyhow::{anyhow, bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Where `calibrate` writes and the other commands look when `--profile` is not given.
pub const DEFAULT_PATH: &str = "checkpoints/device-profile.json";
pub const ENV: &str = "SCALELAB_PROFILE";
pub const VERSION: u32 = 1;

/// One measured GEMM: (m×k)·(k×n) at `flops_per_s` (2·m·k·n per call).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GemmRate {
    pub m: usize,
    pub k: usize,
    pub n: usize,
    pub flops_per_s: f64,
}

/// Multipliers of one phase's physical terms (1 = exactly as calibrated).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhaseConstants {
    /// Linear layers and LM head: Σ flops / rate(shape).
    pub matmul: f64,
    /// Attention core (per-head GEMMs and softmax): Σ flops / rate(shape).
    pub attention: f64,
    /// Non-matmul bytes / bandwidth.
    pub memory: f64,
    /// Op count × per-op overhead.
    pub overhead: f64,
}

impl PhaseConstants {
    pub fn as_array(&self) -> [f64; 4] {
        [self.matmul, self.attention, self.memory, self.overhead]
    }

    pub fn from_array(c: [f64; 4]) -> Self {
        PhaseConstants {
            matmul: c[0],
            attention: c[1],
            memory: c[2],
            overhead: c[3],
        }
    }
}

/// The step-time model's fitted constants, per phase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepConstants {
    pub forward: PhaseConstants,
    pub backward: PhaseConstants,
    pub optimizer: PhaseConstants,
    /// The calibration shapes the constants were fitted on (names).
    pub fitted_on: Vec<String>,
    /// RMS relative error of the fit on those shapes.
    pub fit_rms_error: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceProfile {
    pub version: u32,
    /// `train.device` as written (`cpu`, `cuda:0`).
    pub device: String,
    /// Model name and vector ISA (CPU) or the CUDA device name.
    pub device_name: String,
    /// `train.dtype` the GEMMs ran in.
    pub dtype: String,
    pub threads: usize,
    /// A full grid: every (m, k, n) of the distinct m, k and n values.
    pub gemm: Vec<GemmRate>,
    /// Streaming bandwidth (an elementwise add, read 2 + write 1), GB/s.
    pub bandwidth_gbs: f64,
    /// Wall time of one small elementwise op (dispatch, allocation), µs.
    pub op_overhead_us: f64,
    /// None until fitted on `bench` runs (`calibrate` without `--no-fit`).
    pub step_model: Option<StepConstants>,
}

impl DeviceProfile {
    /// Parse and check a profile's text; errors name `source` and the field.
    pub fn parse(text: &str, source: &str) -> Result<Self> {
        let p: DeviceProfile = serde_json::from_str(text).map_err(|e| {
            anyhow!(
                "device profile {source}: {}",
                crate::config::one_line(&e.to_string())
            )
        })?;
        p.check()
            .map_err(|e| anyhow!("device profile {source}: {e}"))?;
        Ok(p)
    }

    fn check(&self) -> Result<()> {
        if self.version != VERSION {
            bail!(
                "version {} is not supported (expected {VERSION})",
                self.version
            );
        }
        DeviceSpec::parse(&self.device).map_err(|e| anyhow!("device: {e}"))?;
        DTypeSpec::parse(&self.dtype).map_err(|e| anyhow!("dtype: {e}"))?;
        let positive = |v: f64| v.is_finite() && v > 0.0;
        if !positive(self.bandwidth_gbs) {
            bail!("bandwidth_gbs must be a positive number");
        }
        if !(self.op_overhead_us.is_finite() && self.op_overhead_us >= 0.0) {
            bail!("op_overhead_us must be a number >= 0");
        }
        if self.gemm.is_empty() {
            bail!("gemm must list at least one measured shape");
        }
        for (i, g) in self.gemm.iter().enumerate() {
            if g.m == 0 || g.k == 0 || g.n == 0 || !positive(g.flops_per_s) {
                bail!("gemm[{i}]: m, k, n must be >= 1 and flops_per_s a positive number");
            }
        }
        let (ms, ks, ns) = self.axes();
        if ms.len() * ks.len() * ns.len() != self.gemm.len() {
            bail!("gemm must be a full grid of its distinct m, k and n values (no shape twice, none missing)");
        }
        if let Some(c) = &self.step_model {
            for (phase, pc) in [
                ("forward", c.forward),
                ("backward", c.backward),
                ("optimizer", c.optimizer),
            ] {
                if pc.as_array().iter().any(|v| !(v.is_finite() && *v >= 0.0)) {
                    bail!("step_model.{phase}: constants must be numbers >= 0");
                }
            }
        }
        Ok(())
    }

    /// Read a profile file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("device profile {}: cannot read", path.display()))?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Write it atomically (temp file + rename).
    pub fn save(&self, path: &Path) -> Result<()> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            crate::fsx::create_dir_all(dir)?;
        }
        crate::fsx::write_json_atomic(path, self)
    }

    /// The distinct m, k and n values of the grid, ascending.
    fn axes(&self) -> (Vec<usize>, Vec<usize>, Vec<usize>) {
        let axis = |f: fn(&GemmRate) -> usize| {
            let mut v: Vec<usize> = self.gemm.iter().map(f).collect();
            v.sort_unstable();
            v.dedup();
            v
        };
        (axis(|g| g.m), axis(|g| g.k), axis(|g| g.n))
    }

    /// The highest measured GEMM rate: the "measured peak" MFU refers to.
    pub fn peak_flops(&self) -> f64 {
        self.gemm.iter().map(|g| g.flops_per_s).fold(0.0, f64::max)
    }

    /// GEMM rate for (m×k)·(k×n): trilinear interpolation of log rate in
    /// log m, log k, log n over the grid, clamped at its edges (small GEMMs
    /// are much slower per FLOP; beyond the largest measured size the rate
    /// is flat).
    pub fn gemm_rate(&self, m: usize, k: usize, n: usize) -> f64 {
        let (ms, ks, ns) = self.axes();
        let rate = |i: usize, j: usize, l: usize| {
            self.gemm
                .iter()
                .find(|g| g.m == ms[i] && g.k == ks[j] && g.n == ns[l])
                .map(|g| g.flops_per_s.ln())
                .expect("checked: a full grid")
        };
        let (bm, bk, bn) = (bracket(&ms, m), bracket(&ks, k), bracket(&ns, n));
        let mut acc = 0.0;
        for (i, wi) in [(bm.0, 1.0 - bm.2), (bm.1, bm.2)] {
            for (j, wj) in [(bk.0, 1.0 - bk.2), (bk.1, bk.2)] {
                for (l, wl) in [(bn.0, 1.0 - bn.2), (bn.1, bn.2)] {
                    let w = wi * wj * wl;
                    if w > 0.0 {
                        acc += w * rate(i, j, l);
                    }
                }
            }
        }
        acc.exp()
    }

    /// Whether this profile describes runs on the opened device `dev` in `dtype`.
    pub fn matches(&self, dev: &candle_core::Device, dtype: DTypeSpec) -> bool {
        DeviceSpec::parse(&self.device).ok() == Some(spec_of(dev))
            && DTypeSpec::parse(&self.dtype).ok() == Some(dtype)
    }
}

/// Indices below/above `x` on a sorted axis and the weight of the upper one,
/// linear in log x; clamped outside the axis.
fn bracket(axis: &[usize], x: usize) -> (usize, usize, f64) {
    let last = axis.len() - 1;
    if x <= axis[0] {
        return (0, 0, 0.0);
    }
    if x >= axis[last] {
        return (last, last, 0.0);
    }
    let hi = axis.iter().position(|&a| a >= x).expect("x < last");
    let lo = hi - 1;
    let (a, b) = ((axis[lo] as f64).ln(), (axis[hi] as f64).ln());
    (lo, hi, ((x as f64).ln() - a) / (b - a))
}

/// The profile file to use: `explicit` (must exist), else `$SCALELAB_PROFILE`
/// (must exist), else [`DEFAULT_PATH`] if it exists; None when none applies.
pub fn locate(explicit: Option<&Path>) -> Result<Option<PathBuf>> {
    let named = explicit.is_some() || std::env::var(ENV).is_ok();
    let p = path(explicit);
    Ok((named || p.is_file()).then_some(p))
}

/// Where a profile is written or read: `explicit`, else `$SCALELAB_PROFILE`,
/// else [`DEFAULT_PATH`].
pub fn path(explicit: Option<&Path>) -> PathBuf {
    explicit
        .map(Path::to_path_buf)
        .or_else(|| std::env::var(ENV).ok().map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(DEFAULT_PATH))
}

/// The spec naming an opened device (`auto` resolved).
pub fn spec_of(dev: &candle_core::Device) -> DeviceSpec {
    match dev.location() {
        candle_core::DeviceLocation::Cuda { gpu_id } => DeviceSpec::Cuda(gpu_id),
        _ => DeviceSpec::Cpu,
    }
}

/// The profile for commands that cannot go on without one (`estimate
/// time`, `estimate --profile`): every failure is one line naming the file
/// and saying how to make one.
pub fn require(explicit: Option<&Path>) -> Result<(PathBuf, DeviceProfile)> {
    let p = path(explicit);
    if explicit.is_none() && std::env::var(ENV).is_err() && !p.is_file() {
        bail!(
            "no device profile at {} (nor ${ENV}, nor --profile FILE): {HINT}",
            p.display()
        );
    }
    let prof = load_or_hint(&p)?;
    Ok((p, prof))
}

const HINT: &str = "run scalelab calibrate to write one";

/// [`DeviceProfile::load`], its error one line that says how to make a good one.
pub fn load_or_hint(p: &Path) -> Result<DeviceProfile> {
    DeviceProfile::load(p).map_err(|e| anyhow!("{e:#}: {HINT}"))
}

/// The measured peak (FLOP/s) for MFU of runs on `dev` in `dtype`, or why
/// there is none (no profile, or one of another device or precision: it is
/// not used) as a note to print once.
pub fn measured_peak(
    explicit: Option<&Path>,
    dev: &candle_core::Device,
    dtype: DTypeSpec,
) -> Result<std::result::Result<f64, String>> {
    let here = format!("{} {dtype}", spec_of(dev));
    let Some(file) = locate(explicit)? else {
        return Ok(Err(format!(
            "no device profile ({DEFAULT_PATH}; ${ENV} or --profile FILE): MFU against the measured peak not reported; run scalelab calibrate --device {} --dtype {dtype}",
            spec_of(dev)
        )));
    };
    let p = load_or_hint(&file)?;
    Ok(if p.matches(dev, dtype) {
        Ok(p.peak_flops())
    } else {
        Err(format!(
            "device profile {} is for {} {}, not {here}: MFU against the measured peak not reported; run scalelab calibrate --device {} --dtype {dtype} --out FILE and give --profile FILE",
            file.display(),
            p.device,
            p.dtype,
            spec_of(dev)
        ))
    })
}
