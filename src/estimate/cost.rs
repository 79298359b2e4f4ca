//! Training cost: FLOPs → GPU-hours → wall-clock → dollars → energy, with the
//! overhead multipliers for failures and experiments shown beside the final run.

use super::memory::{self, Memory, Recompute};
use super::workload::{positive, Workload};
use crate::hardware::Hardware;
use anyhow::{anyhow, bail, Result};
use serde::Serialize;

/// Default assumed MFU: Dubey et al. 2024 ("The Llama 3 Herd of Models") Table 4 reports
/// 38–43% BF16 MFU for Llama 3 405B on 8,192–16,384 H100s; 40% is inside that range.
pub const DEFAULT_MFU: f64 = 0.40;

/// Default PUE: Patterson et al. 2021 ("Carbon Emissions and Large Neural Network
/// Training") Table 4 uses PUE 1.10 for GPT-3's datacenter.
pub const DEFAULT_PUE: f64 = 1.10;

/// Restart/failure overhead: Dubey et al. 2024 Sec. 3.3.4 reports "higher than 90% effective
/// training time" for Llama 3 405B (466 interruptions in 54 days) → ×1/0.9 ≈ 1.11.
pub const DEFAULT_FAILURE_OVERHEAD: f64 = 1.0 / 0.9;

/// Experiments / ablations / failed runs before the final run, as a multiplier on the final
/// run's compute: low, central, high. Cottier et al. 2024 ("The rising costs of training
/// frontier AI models", arXiv:2405.21015) model total development compute as 1.2×–4× the final
/// training run (central ~2.2×). Quoted from memory of that paper, not re-confirmed here.
pub const EXPERIMENT_OVERHEAD_RANGE: [f64; 3] = [1.2, 2.2, 4.0];

/// Hardware FLOPs per parameter per token with full activation recomputation: the forward pass
/// runs twice (2 + 2 + 4) for the 6 the model needs. A utilisation quoted on this count is HFU,
/// not MFU: Megatron-LM's 140 TFLOP/s per A100 for GPT-3 (Narayanan et al. 2021) is 44.9% HFU,
/// 33.7% MFU. Selective recomputation (Korthikanti et al. 2022) redoes only attention scores,
/// which 6·N·D does not count, so its ratio is taken as 1.
pub const FULL_RECOMPUTE_FLOPS_PER_PARAM_TOKEN: f64 = 8.0;

/// Hardware FLOPs per model FLOP under `recompute`.
pub fn hardware_per_model_flop(recompute: Recompute) -> f64 {
    match recompute {
        Recompute::Full => {
            FULL_RECOMPUTE_FLOPS_PER_PARAM_TOKEN / super::workload::TRAIN_FLOPS_PER_PARAM_TOKEN
        }
        Recompute::None | Recompute::Selective => 1.0,
    }
}

/// The MFU of a hardware FLOPs utilisation `hfu` measured with `recompute`.
pub fn mfu_from_hfu(hfu: f64, recompute: Recompute) -> Result<f64> {
    positive("--hfu", hfu)?;
    if hfu > 1.0 {
        bail!("--hfu must be at most 1 (got {hfu}; HFU is a fraction of peak, not a percentage)");
    }
    Ok(hfu / hardware_per_model_flop(recompute))
}

pub const SECONDS_PER_HOUR: f64 = 3600.0;
/// Julian year, as used for "GPU-years".
pub const HOURS_PER_YEAR: f64 = 365.25 * 24.0;

/// Everything besides the workload that the cost depends on.
#[derive(Debug, Clone, Serialize)]
pub struct CostParams {
    pub hardware_id: String,
    /// Catalog precision key (`bf16`, `fp16`, `tf32`, `fp32`, `fp8`, `fp4`).
    pub precision: String,
    pub gpus: u64,
    pub mfu: f64,
    pub mfu_source: String,
    /// Overrides the catalog price.
    pub price_per_hour: Option<f64>,
    pub spot: bool,
    pub pue: f64,
    pub failure_overhead: f64,
    /// One multiplier instead of the default range.
    pub experiment_overhead: Option<f64>,
    pub bytes_per_param: f64,
    pub recompute: Recompute,
    pub micro_batch: u64,
}

impl CostParams {
    /// Defaults for `gpus` GPUs of `hardware_id` at `mfu`.
    pub fn new(hardware_id: &str, gpus: u64, mfu: f64) -> Self {
        CostParams {
            hardware_id: hardware_id.into(),
            precision: "bf16".into(),
            gpus,
            mfu,
            mfu_source: "given".into(),
            price_per_hour: None,
            spot: false,
            pue: DEFAULT_PUE,
            failure_overhead: DEFAULT_FAILURE_OVERHEAD,
            experiment_overhead: None,
            bytes_per_param: memory::ADAM_MIXED_BYTES_PER_PARAM,
            recompute: Recompute::Selective,
            micro_batch: 1,
        }
    }
}

/// One overhead scenario: the final run times a multiplier.
#[derive(Debug, Clone, Serialize)]
pub struct Scenario {
    pub label: String,
    pub multiplier: f64,
    pub gpu_hours: f64,
    pub cost_usd: f64,
    pub energy_kwh: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CostEstimate {
    pub workload: Workload,
    pub training_flops: f64,
    pub hardware: String,
    pub hardware_name: String,
    pub precision: String,
    pub peak_flops_per_gpu: f64,
    pub gpus: u64,
    pub mfu: f64,
    pub mfu_source: String,
    /// Sustained FLOP/s per GPU = peak × MFU.
    pub achieved_flops_per_gpu: f64,
    /// Hardware FLOPs utilisation: MFU × hardware FLOPs per model FLOP (recomputation counted).
    pub hfu: f64,
    /// Final run, no overheads.
    pub gpu_hours: f64,
    pub gpu_years: f64,
    pub wall_days: f64,
    pub price_per_gpu_hour: f64,
    pub price_source: String,
    pub cost_usd: f64,
    pub tdp_w: Option<f64>,
    pub pue: f64,
    /// TDP × GPU-hours × PUE (an upper bound on board power; host CPUs/network not counted).
    pub energy_kwh: Option<f64>,
    pub memory: Memory,
    /// Final run with failures, then with the experiments multipliers on top.
    pub overheads: Vec<Scenario>,
}

/// The estimate for `w` under `p` on hardware `hw`.
pub fn estimate(w: &Workload, hw: &Hardware, p: &CostParams) -> Result<CostEstimate> {
    if p.gpus == 0 {
        bail!("--gpus must be at least 1");
    }
    positive("--mfu", p.mfu)?;
    if p.mfu > 1.0 {
        bail!(
            "--mfu must be at most 1 (got {}; MFU is a fraction of peak, not a percentage)",
            p.mfu
        );
    }
    let hfu = p.mfu * hardware_per_model_flop(p.recompute);
    if hfu > 1.0 {
        bail!(
            "--mfu {} with --recompute {} means {:.1}% of peak in hardware FLOPs (recomputation counted): above 100%",
            p.mfu,
            format!("{:?}", p.recompute).to_lowercase(),
            100.0 * hfu
        );
    }
    positive("--pue", p.pue)?;
    if p.pue < 1.0 {
        bail!("--pue must be at least 1 (got {})", p.pue);
    }
    for (flag, v) in [
        ("--overhead-failures", Some(p.failure_overhead)),
        ("--overhead-experiments", p.experiment_overhead),
    ] {
        if let Some(v) = v {
            if !(v.is_finite() && v >= 1.0) {
                bail!("{flag} must be a multiplier >= 1 (got {v})");
            }
        }
    }
    let peak = hw.peak_flops(&p.precision).ok_or_else(|| {
        anyhow!(
            "--precision: hardware `{}` has no {} peak in the catalog; choose another --precision",
            p.hardware_id,
            p.precision
        )
    })?;
    let (price, price_source) = match p.price_per_hour {
        Some(v) => (
            positive("--price-per-hour", v)?,
            "--price-per-hour".to_string(),
        ),
        None => {
            let (v, kind) = if p.spot {
                (hw.price_spot_usd_h, "spot")
            } else {
                (hw.price_on_demand_usd_h, "on-demand")
            };
            let v = v.ok_or_else(|| {
                anyhow!(
                    "--hardware {}: the catalog has no {kind} price; give --price-per-hour",
                    p.hardware_id
                )
            })?;
            (v, format!("catalog {kind}"))
        }
    };
    let flops = w.training_flops();
    let achieved = peak * p.mfu;
    let gpu_hours = flops / achieved / SECONDS_PER_HOUR;
    let energy = |h: f64| hw.tdp_w.map(|t| t * h * p.pue / 1000.0);
    let memory = memory::estimate(
        w,
        p.bytes_per_param,
        p.recompute,
        p.micro_batch,
        hw.memory_gb,
        p.gpus,
    )?;
    let scenario = |label: String, m: f64| Scenario {
        label,
        multiplier: m,
        gpu_hours: gpu_hours * m,
        cost_usd: gpu_hours * m * price,
        energy_kwh: energy(gpu_hours * m),
    };
    let f = p.failure_overhead;
    let mut overheads = vec![scenario(
        format!("final run + failures/restarts (×{f:.2})"),
        f,
    )];
    match p.experiment_overhead {
        Some(x) => overheads.push(scenario(format!("+ experiments ×{x}"), f * x)),
        None => {
            for (name, x) in ["low", "central", "high"]
                .iter()
                .zip(EXPERIMENT_OVERHEAD_RANGE)
            {
                overheads.push(scenario(format!("+ experiments ×{x} ({name})"), f * x));
            }
        }
    }
    Ok(CostEstimate {
        workload: w.clone(),
        training_flops: flops,
        hardware: p.hardware_id.clone(),
        hardware_name: hw.name.clone(),
        precision: p.precision.clone(),
        peak_flops_per_gpu: peak,
        gpus: p.gpus,
        mfu: p.mfu,
        mfu_source: p.mfu_source.clone(),
        achieved_flops_per_gpu: achieved,
        hfu,
        gpu_hours,
        gpu_years: gpu_hours / HOURS_PER_YEAR,
        wall_days: gpu_hours / p.gpus as f64 / 24.0,
        price_per_gpu_hour: price,
        price_source,
        cost_usd: gpu_hours * price,
        tdp_w: hw.tdp_w,
        pue: p.pue,
        energy_kwh: energy(gpu_hours),
        memory,
        overheads,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hardware::Catalog;

    #[test]
    fn gpt3_on_a100_at_40_percent() {
        let cat = Catalog::parse(include_str!("../../configs/hardware.toml"), "test").unwrap();
        let w = Workload::dense("gpt3", 175e9, 300e9).unwrap();
        let mut p = CostParams::new("a100-sxm", 1024, 0.4);
        p.price_per_hour = Some(2.0);
        let e = estimate(&w, cat.get("a100-sxm").unwrap(), &p).unwrap();
        let hours = 6.0 * 175e9 * 300e9 / (312e12 * 0.4) / 3600.0;
        assert!((e.gpu_hours / hours - 1.0).abs() < 1e-12);
        assert!((e.cost_usd - 2.0 * hours).abs() < 1e-6 * e.cost_usd);
        assert!((e.energy_kwh.unwrap() - 0.4 * hours * DEFAULT_PUE).abs() < 1e-6 * hours);
    }
}
