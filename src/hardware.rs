//! The hardware catalog (configs/hardware.toml): dense peak throughput per
//! precision, memory, bandwidth, power and prices. The built-in copy is
//! compiled in; a `configs/hardware.toml` in the working directory (or the file
//! named by `SCALELAB_HARDWARE`) replaces it, so users can add entries.

use anyhow::{anyhow, bail, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

const BUILTIN: &str = include_str!("../configs/hardware.toml");

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hardware {
    pub name: String,
    /// Lowercase substrings of the CUDA device name that identify this entry.
    #[serde(default, rename = "match")]
    pub matches: Vec<String>,
    pub fp32_tflops: Option<f64>,
    pub tf32_tflops: Option<f64>,
    pub bf16_tflops: Option<f64>,
    pub fp16_tflops: Option<f64>,
    pub fp8_tflops: Option<f64>,
    pub fp4_tflops: Option<f64>,
    /// Peaks are per core (generic CPU entry): multiply by the cores used.
    #[serde(default)]
    pub per_core: bool,
    pub memory_gb: Option<f64>,
    pub bandwidth_gbs: Option<f64>,
    /// GPU-to-GPU bandwidth per direction within one machine, GB/s.
    pub interconnect_gbs: Option<f64>,
    pub tdp_w: Option<f64>,
    pub price_on_demand_usd_h: Option<f64>,
    pub price_spot_usd_h: Option<f64>,
}

impl Hardware {
    /// Dense peak FLOP/s for a precision key (`fp32`, `tf32`, `bf16`, `fp16`, `fp8`, `fp4`).
    pub fn peak_flops(&self, precision: &str) -> Option<f64> {
        let tf = match precision {
            "fp32" => self.fp32_tflops,
            "tf32" => self.tf32_tflops,
            "bf16" => self.bf16_tflops,
            "fp16" => self.fp16_tflops.or(self.bf16_tflops),
            "fp8" => self.fp8_tflops,
            "fp4" => self.fp4_tflops,
            _ => None,
        }?;
        let cores = if self.per_core {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        } else {
            1
        };
        Some(tf * 1e12 * cores as f64)
    }
}

#[derive(Debug, Clone)]
pub struct Catalog {
    pub entries: BTreeMap<String, Hardware>,
    pub source: String,
}

impl Catalog {
    pub fn parse(text: &str, source: &str) -> Result<Self> {
        let entries: BTreeMap<String, Hardware> = toml::from_str(text).map_err(|e| {
            anyhow!(
                "hardware catalog {source}: {}",
                crate::config::one_line(&e.to_string())
            )
        })?;
        for (id, h) in &entries {
            for (f, v) in [
                ("fp32_tflops", h.fp32_tflops),
                ("bf16_tflops", h.bf16_tflops),
                ("tdp_w", h.tdp_w),
                ("memory_gb", h.memory_gb),
            ] {
                if v.is_some_and(|v| !(v.is_finite() && v > 0.0)) {
                    bail!("hardware catalog {source}: {id}.{f} must be a positive number");
                }
            }
        }
        Ok(Catalog {
            entries,
            source: source.to_string(),
        })
    }

    /// `SCALELAB_HARDWARE`, else ./configs/hardware.toml, else the built-in copy.
    pub fn load() -> Result<Self> {
        let (text, source) = crate::fsx::overridable_text(
            "SCALELAB_HARDWARE",
            "configs/hardware.toml",
            BUILTIN,
            "hardware catalog",
        )?;
        Self::parse(&text, &source)
    }

    pub fn get(&self, id: &str) -> Result<&Hardware> {
        self.entries.get(id).ok_or_else(|| {
            anyhow!(
                "unknown hardware `{id}` (known: {}; add entries to configs/hardware.toml)",
                self.entries.keys().cloned().collect::<Vec<_>>().join(", ")
            )
        })
    }

    /// The entry whose `match` substrings best fit a device name (longest match wins).
    pub fn detect(&self, device_name: &str) -> Option<(&str, &Hardware)> {
        let name = device_name.to_lowercase();
        self.entries
            .iter()
            .filter_map(|(id, h)| {
                h.matches
                    .iter()
                    .filter(|m| name.contains(m.as_str()))
                    .map(|m| m.len())
                    .max()
                    .map(|l| (l, id, h))
            })
            .max_by_key(|(l, _, _)| *l)
            .map(|(_, id, h)| (id.as_str(), h))
    }
}

/// Peak FLOP/s of one device for MFU: the catalog entry `id` (`train.hardware`),
/// or the CUDA device's entry found by name. Returns the entry's id too.
pub fn peak_for(
    id: Option<&str>,
    dev: &candle_core::Device,
    dtype: crate::device::DTypeSpec,
) -> Result<(Option<String>, Option<f64>)> {
    let catalog = Catalog::load()?;
    let id = match id {
        Some(id) => {
            catalog
                .get(id)
                .map_err(|e| anyhow!("train.hardware: {e}"))?;
            Some(id.to_string())
        }
        // A CPU's peak is not knowable from its name: MFU on CPU needs train.hardware.
        None if dev.is_cpu() => None,
        None => crate::device::device_name(dev)
            .and_then(|n| catalog.detect(&n).map(|(id, _)| id.to_string())),
    };
    let peak = id
        .as_ref()
        .and_then(|id| catalog.entries[id].peak_flops(dtype.peak_field()));
    Ok((id, peak))
}
