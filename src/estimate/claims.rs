//! `scalelab estimate claims`: every numeric claim of the cost articles,
//! recomputed from the catalog, the presets and the estimator, with a verdict
//! and the assumption that reconciles it.

use super::cost::{self, CostParams, HOURS_PER_YEAR, SECONDS_PER_HOUR};
use super::law;
use super::memory::ADAM_MIXED_BYTES_PER_PARAM;
use super::presets::Presets;
use super::workload::Workload;
use crate::hardware::Catalog;
use anyhow::{anyhow, Result};
use serde::Serialize;
use std::collections::BTreeMap;

mod clusters;
mod inference_saving;
mod spot;
use inference_saving::inference_example;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Consistent,
    Inconsistent,
    Unverifiable,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Consistent => "consistent",
            Verdict::Inconsistent => "inconsistent",
            Verdict::Unverifiable => "unverifiable",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Claim {
    pub id: String,
    pub claim: String,
    pub recomputation: String,
    pub verdict: Verdict,
    pub assumption: String,
    /// The recomputed numbers by name (what the tests check).
    pub figures: BTreeMap<String, f64>,
}

/// Relative difference |a/b − 1|.
fn rel(a: f64, b: f64) -> f64 {
    (a / b - 1.0).abs()
}

fn verdict_within(got: f64, claimed: f64, tol: f64) -> Verdict {
    if rel(got, claimed) <= tol {
        Verdict::Consistent
    } else {
        Verdict::Inconsistent
    }
}

struct Ctx<'a> {
    cat: &'a Catalog,
    presets: &'a Presets,
}

impl Ctx<'_> {
    fn tflops(&self, hw: &str, precision: &str) -> Result<f64> {
        self.cat
            .get(hw)?
            .peak_flops(precision)
            .ok_or_else(|| anyhow!("catalog: {hw} has no {precision} peak"))
            .map(|f| f / 1e12)
    }

    /// GPU-hours for `flops` on `hw` at `mfu` (through the estimator).
    fn gpu_hours(&self, flops: f64, hw: &str, precision: &str, mfu: f64) -> Result<f64> {
        let w = Workload::dense("claim", 1.0, flops / 6.0)?;
        let mut p = CostParams::new(hw, 1, mfu);
        p.precision = precision.into();
        p.price_per_hour = Some(1.0);
        Ok(cost::estimate(&w, self.cat.get(hw)?, &p)?.gpu_hours)
    }
}

fn claim(
    id: &str,
    text: &str,
    recomputation: String,
    verdict: Verdict,
    assumption: String,
    figures: &[(&str, f64)],
) -> Claim {
    Claim {
        id: id.into(),
        claim: text.into(),
        recomputation,
        verdict,
        assumption,
        figures: figures.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
    }
}

/// Every claim, recomputed.
pub fn all(cat: &Catalog, presets: &Presets) -> Result<Vec<Claim>> {
    let cx = Ctx { cat, presets };
    let mut v = Vec::new();
    v.push(gpt35_flops(&cx)?);
    v.push(rtx4070ti_year(&cx)?);
    v.extend(gpt35_on_one_gpu(&cx)?);
    v.push(nanochat(&cx)?);
    v.push(llama3(&cx)?);
    v.extend(cost_table(&cx)?);
    v.push(energy(&cx)?);
    v.push(spot::spot_savings(cx.cat));
    v.push(inference_example()?);
    v.push(clusters::meta_clusters(cx.presets)?);
    Ok(v)
}

const GPT3_REPORTED_FLOPS: f64 = 3.14e23; // Brown et al. 2020, Table D.1
const DEFAULT_MFU: f64 = cost::DEFAULT_MFU;
const SECONDS_PER_YEAR: f64 = HOURS_PER_YEAR * SECONDS_PER_HOUR;

/// The highest MFU published for a large LLM training run: PaLM 540B, 46.2% (Chowdhery et al.
/// 2022; its hardware FLOPs utilisation, counting rematerialisation, was 57.8%). Llama 3 405B: 38–43%.
const BEST_PUBLISHED_MFU: f64 = 0.462;

/// One rule for the claims that one GPU does so many FLOPs in so much time (2 and 3a): the rate
/// they imply, as a share of the GPU's dense BF16 peak (what mixed-precision training runs on),
/// must not exceed the best published MFU.
fn utilisation_verdict(implied_mfu: f64) -> Verdict {
    if implied_mfu <= BEST_PUBLISHED_MFU {
        Verdict::Consistent
    } else {
        Verdict::Inconsistent
    }
}

/// The rule, as the claims' assumption lines state it.
fn utilisation_rule(implied_mfu: f64, gpu: &str) -> String {
    format!(
        "{:.1}% of the {gpu}'s dense BF16 peak, {} the best published MFU ({:.1}%, PaLM 540B; Llama 3 405B 38–43%)",
        100.0 * implied_mfu,
        if implied_mfu <= BEST_PUBLISHED_MFU { "within" } else { "above" },
        100.0 * BEST_PUBLISHED_MFU
    )
}

fn gpt35_flops(cx: &Ctx) -> Result<Claim> {
    let p = cx.presets.get("gpt-3.5")?;
    let tokens = p
        .tokens
        .ok_or_else(|| anyhow!("preset gpt-3.5 lacks tokens"))? as f64;
    let f = Workload::new(
        "gpt-3.5",
        p.params as f64,
        p.active_params as f64,
        None,
        tokens,
        String::new(),
    )?
    .training_flops();
    Ok(claim(
        "1",
        "GPT-3.5 ≈ GPT-3 175B pre-training ≈ 3.14e23 FLOPs (6·175e9·300e9)",
        format!("6·N·D = 6 × {:.3e} × {:.3e} = {f:.4e} FLOPs ({:+.2}% vs 3.14e23, Brown et al. 2020 Table D.1)", p.params as f64, tokens, 100.0 * (f / GPT3_REPORTED_FLOPS - 1.0)),
        verdict_within(f, GPT3_REPORTED_FLOPS, 0.01),
        "GPT-3.5's size and data were never published: it is assumed to be GPT-3 175B on 300B tokens; 6ND ignores attention FLOPs (~3% at 2k context)".into(),
        &[("flops", f)],
    ))
}

fn rtx4070ti_year(cx: &Ctx) -> Result<Claim> {
    let claimed = 1.14e21;
    let util = 0.9;
    let implied_peak = claimed / (util * SECONDS_PER_YEAR) / 1e12;
    let fp32 = cx.tflops("rtx-4070-ti", "fp32")?;
    let bf16 = cx.tflops("rtx-4070-ti", "bf16")?;
    let year = fp32 * 1e12 * util * SECONDS_PER_YEAR;
    let share = year / GPT3_REPORTED_FLOPS;
    let years = 1.0 / share;
    let realistic_years = GPT3_REPORTED_FLOPS / (bf16 * 1e12 * DEFAULT_MFU * SECONDS_PER_YEAR);
    let implied_mfu = claimed / (bf16 * 1e12 * SECONDS_PER_YEAR);
    let arithmetic = rel(implied_peak, fp32) < 0.01
        && rel(100.0 * share, 0.36) < 0.02
        && rel(years, 275.0) < 0.01;
    Ok(claim(
        "2",
        "One RTX 4070 Ti for a year at 90% utilisation = 1.14e21 FLOPs = 0.36% of 3.14e23 → ~275 GPU-years",
        format!(
            "1.14e21 / (0.9 × 365.25 d) implies a {implied_peak:.1} TFLOP/s peak = the 4070 Ti's FP32 CUDA-core rate ({fp32} TFLOP/s; BF16 tensor with FP32 accumulate is {bf16}); {fp32} × 0.9 × 1 yr = {year:.3e} FLOPs = {:.3}% of 3.14e23 → {years:.1} GPU-years",
            100.0 * share
        ),
        if arithmetic { utilisation_verdict(implied_mfu) } else { Verdict::Inconsistent },
        format!(
            "judged as claim 3a: 1.14e21 FLOPs a year is {}, though the stated 90% is of the FP32 CUDA-core rate, not of the tensor peak training uses; at {:.0}% MFU it is {realistic_years:.0} GPU-years — and 175B × 16 B = {:.1} TB of model states cannot be trained on one 12 GB card at all",
            utilisation_rule(implied_mfu, "4070 Ti"),
            100.0 * DEFAULT_MFU,
            175e9 * ADAM_MIXED_BYTES_PER_PARAM / 1e12
        ),
        &[("implied_peak_tflops", implied_peak), ("flops_per_year", year), ("share_percent", 100.0 * share), ("gpu_years", years), ("gpu_years_at_default_mfu_bf16", realistic_years), ("implied_mfu_bf16", implied_mfu)],
    ))
}

fn gpt35_on_one_gpu(cx: &Ctx) -> Result<Vec<Claim>> {
    let a100 = cx.tflops("a100-sxm", "bf16")?;
    let implied_mfu = GPT3_REPORTED_FLOPS / (35.0 * SECONDS_PER_YEAR * a100 * 1e12);
    let years_default =
        cx.gpu_hours(GPT3_REPORTED_FLOPS, "a100-sxm", "bf16", DEFAULT_MFU)? / HOURS_PER_YEAR;
    let a = claim(
        "3a",
        "GPT-3.5 would take ~35 years on one A100",
        format!(
            "3.14e23 / (35 yr × {a100} TFLOP/s BF16 dense) = {:.1}% utilisation; at {:.0}% MFU it is {years_default:.1} years",
            100.0 * implied_mfu,
            100.0 * DEFAULT_MFU
        ),
        utilisation_verdict(implied_mfu),
        format!("judged as claim 2: 35 years of one A100 is {}; at {:.0}% MFU it is ~{years_default:.0} years", utilisation_rule(implied_mfu, "A100"), 100.0 * DEFAULT_MFU),
        &[("implied_mfu", implied_mfu), ("years_at_default_mfu", years_default)],
    );
    let v100 = cx.tflops("v100", "fp16")?;
    let (years, dollars) = (355.0, 4.6e6);
    let sustained = GPT3_REPORTED_FLOPS / (years * SECONDS_PER_YEAR) / 1e12;
    let price = dollars / (years * HOURS_PER_YEAR);
    let catalog_price = cx
        .cat
        .get("v100")?
        .price_on_demand_usd_h
        .unwrap_or(f64::NAN);
    let b = claim(
        "3b",
        "Lambda: GPT-3 = 355 V100-years, $4.6M",
        format!(
            "3.14e23 / 355 V100-years = {sustained:.1} TFLOP/s sustained per V100 ({:.1}% of its {v100} TFLOP/s FP16 tensor peak); $4.6M / (355 × 8,766 h) = ${price:.2} per V100-hour",
            100.0 * sustained / v100
        ),
        Verdict::Consistent,
        format!("a sustained 28 TFLOP/s per V100 (~22% MFU, a plausible mixed-precision rate) and ~$1.5 per V100-hour (2020 cloud price); at the catalog's ${catalog_price}/h today it would be ${:.1}M", years * HOURS_PER_YEAR * catalog_price / 1e6),
        &[("sustained_tflops", sustained), ("implied_mfu", sustained / v100), ("usd_per_gpu_hour", price)],
    );
    Ok(vec![a, b])
}

fn nanochat(cx: &Ctx) -> Result<Claim> {
    let p = cx.presets.get("nanochat-d32")?;
    let n = p.params as f64;
    let d = p
        .tokens
        .ok_or_else(|| anyhow!("preset nanochat-d32 lacks tokens"))? as f64;
    let h100_hours = 33.0 * 8.0;
    let script_flops = p.reported_flops.unwrap_or(6.0 * n * d);
    let h100 = cx.tflops("h100-sxm", "bf16")?;
    let mfu = script_flops / (h100_hours * SECONDS_PER_HOUR * h100 * 1e12);
    let r4070 = cx.cat.get("rtx-4070")?;
    let bf16 = r4070.peak_flops("bf16").unwrap_or(f64::NAN) / 1e12;
    let fp8 = r4070.peak_flops("fp8").unwrap_or(f64::NAN) / 1e12;
    let (ratio_bf16, ratio_fp16acc) = (h100 / bf16, h100 / fp8);
    let (lo, hi) = (h100_hours * 8.0, h100_hours * 9.0);
    let hours_bf16 = h100_hours * ratio_bf16;
    let mem_gb = n * ADAM_MIXED_BYTES_PER_PARAM / 1e9;
    let tdp = r4070.tdp_w.unwrap_or(f64::NAN);
    let kwh = (lo + hi) / 2.0 * tdp / 1000.0;
    Ok(claim(
        "4",
        "nanochat d32: 1.9B params, 38B tokens, 33 h on 8×H100 = 264 H100-hours; one RTX 4070 is 8–9× slower → 2,100–2,400 h, 88–100 days; ~200 W",
        format!(
            "{:.3}B params × {:.1}B tokens (20 tok/param); 33 h × 8 = {h100_hours} H100-h; the script's {script_flops:.3e} FLOPs in 264 h = {:.1}% MFU; H100/4070 peak ratio = {ratio_fp16acc:.2}× at the 4070's FP16-accumulate rate ({fp8} TFLOP/s) but {ratio_bf16:.2}× at its FP32-accumulate BF16 rate ({bf16}); 264 × 8–9 = {lo:.0}–{hi:.0} h = {:.0}–{:.0} days; at {ratio_bf16:.1}× it is {hours_bf16:.0} h = {:.0} days; {tdp} W × ~{:.0} h = {kwh:.0} kWh; model states {mem_gb:.1} GB vs 12 GB",
            n / 1e9,
            d / 1e9,
            100.0 * mfu,
            lo / 24.0,
            hi / 24.0,
            hours_bf16 / 24.0,
            (lo + hi) / 2.0
        ),
        Verdict::Inconsistent,
        format!("the hours hold only if the 4070 runs at its FP16-accumulate tensor rate with the H100's MFU; mixed-precision training accumulates in FP32, where it is ~{ratio_bf16:.0}× slower ({:.0} days); and {mem_gb:.0} GB of weights + grads + Adam states do not fit 12 GB without offloading or 8-bit optimizer states. 33 h itself could not be checked (run1000.sh estimates 31.3 h)", hours_bf16 / 24.0),
        &[("h100_hours", h100_hours), ("implied_mfu", mfu), ("ratio_fp16acc", ratio_fp16acc), ("ratio_bf16", ratio_bf16), ("hours_low", lo), ("hours_high", hi), ("days_low", lo / 24.0), ("days_high", hi / 24.0), ("hours_bf16", hours_bf16), ("memory_gb", mem_gb), ("tdp_w", tdp)],
    ))
}

fn llama3(cx: &Ctx) -> Result<Claim> {
    let h = |id: &str| -> Result<f64> {
        cx.presets
            .get(id)?
            .reported_gpu_hours
            .ok_or_else(|| anyhow!("preset {id} lacks reported_gpu_hours"))
    };
    let (l2_70, l3_8, l3_70, l3_405) = (
        h("llama2-70b")?,
        h("llama3-8b")?,
        h("llama3-70b")?,
        h("llama3-405b")?,
    );
    let family = l3_8 + l3_70;
    let w700 = cx
        .presets
        .get("llama3-70b")?
        .reported_power_w
        .unwrap_or(700.0);
    let gwh_700 = family * w700 / 1e9;
    let w_for_77 = 7.7e9 / family;
    let p70 = cx.presets.get("llama3-70b")?;
    let f70 = 6.0 * p70.params as f64 * p70.tokens.unwrap_or(0) as f64;
    let mfu70 = f70 / (l3_70 * SECONDS_PER_HOUR * cx.tflops("h100-sxm", "bf16")? * 1e12);
    Ok(claim(
        "5",
        "Llama 3: 1.7M GPU-hours for 70B, 7.7M for 400B+; 5.4–7.7 GWh",
        format!(
            "model cards: Llama 2 70B {l2_70:.0} A100-h; Llama 3 8B {l3_8:.2e} + 70B {l3_70:.2e} = {family:.2e} H100-h; Llama 3.1 405B {l3_405:.3e}; {family:.2e} h × {w700} W = {gwh_700:.2} GWh; 7.7 GWh needs {w_for_77:.0} W per GPU; Llama 3 70B: 6ND = {f70:.3e} in {l3_70:.1e} h = {:.1}% MFU",
            100.0 * mfu70
        ),
        Verdict::Inconsistent,
        format!("\"1.7M for 70B\" is Llama 2 70B's A100-hours (Llama 3 70B took 6.4M H100-hours); \"7.7M\" is the Llama 3 8B + 70B total, not the 405B (30.84M); 5.4 GWh = 7.7M h at the 700 W TDP with PUE 1, 7.7 GWh assumes 1 kW per GPU (PUE ≈ {:.2})", w_for_77 / w700),
        &[("llama2_70b_gpu_hours", l2_70), ("llama3_70b_gpu_hours", l3_70), ("llama3_family_gpu_hours", family), ("llama31_405b_gpu_hours", l3_405), ("gwh_at_tdp", gwh_700), ("llama3_70b_mfu", mfu70)],
    ))
}

/// The article's A100 price for the cost table ("16 A100 × $2.75/h").
const TABLE_PRICE: f64 = 2.75;

fn cost_table(cx: &Ctx) -> Result<Vec<Claim>> {
    let total = 16.0 * TABLE_PRICE * 500.0;
    let mut v = vec![claim(
        "6a",
        "16 A100 × $2.75/h × 500 h ≈ $22,000",
        format!("16 × 2.75 × 500 = ${total:.0}"),
        verdict_within(total, 22_000.0, 0.01),
        "arithmetic only; $2.75/h is above the catalog's A100 on-demand price".into(),
        &[("usd", total)],
    )];
    let a100 = cx.cat.get("a100-sxm")?;
    let sustained = a100.peak_flops("bf16").unwrap_or(f64::NAN) * DEFAULT_MFU;
    let mem = a100.memory_gb.unwrap_or(f64::NAN) * 1e9;
    // (id, params, GPU range, $ range)
    type Range = (f64, f64);
    let rows: [(&str, f64, Range, Range); 3] = [
        ("6b", 20e9, (8.0, 16.0), (22e3, 50e3)),
        ("6c", 70e9, (32.0, 64.0), (100e3, 250e3)),
        ("6d", 120e9, (64.0, 128.0), (300e3, 800e3)),
    ];
    for (id, n, (g_lo, g_hi), (c_lo, c_hi)) in rows {
        let hours = (c_lo / TABLE_PRICE, c_hi / TABLE_PRICE);
        let tokens = (
            hours.0 * SECONDS_PER_HOUR * sustained / (6.0 * n),
            hours.1 * SECONDS_PER_HOUR * sustained / (6.0 * n),
        );
        let chin = Workload::dense("row", n, law::CHINCHILLA_TOKENS_PER_PARAM * n)?;
        let mut p = CostParams::new("a100-sxm", g_lo as u64, DEFAULT_MFU);
        p.price_per_hour = Some(TABLE_PRICE);
        let e = cost::estimate(&chin, a100, &p)?;
        let min_gpus = (n * ADAM_MIXED_BYTES_PER_PARAM / mem).ceil();
        let extra = if id == "6b" {
            format!(
                "; {g_lo}–{g_hi} GPUs × 500–1000 h = {:.0}–{:.0} GPU-h",
                g_lo * 500.0,
                g_hi * 1000.0
            )
        } else {
            String::new()
        };
        v.push(claim(
            id,
            &format!("{:.0}B on {g_lo}–{g_hi} A100 80GB: ${:.0}k–{:.0}k compute", n / 1e9, c_lo / 1e3, c_hi / 1e3),
            format!(
                "${:.0}k–{:.0}k at $2.75/h = {:.0}–{:.0} GPU-h{extra} = {:.2e}–{:.2e} FLOPs at {:.0}% MFU = {:.0}–{:.0}B tokens ({:.1}–{:.1} tokens/param); Hoffmann et al.'s ~20 tokens/param (Approaches 1–2) needs {:.3e} GPU-h = ${:.2}M; memory needs ≥ {min_gpus} A100s for 16 B/param",
                c_lo / 1e3,
                c_hi / 1e3,
                hours.0,
                hours.1,
                hours.0 * SECONDS_PER_HOUR * sustained,
                hours.1 * SECONDS_PER_HOUR * sustained,
                100.0 * DEFAULT_MFU,
                tokens.0 / 1e9,
                tokens.1 / 1e9,
                tokens.0 / n,
                tokens.1 / n,
                e.gpu_hours,
                e.cost_usd / 1e6
            ),
            Verdict::Inconsistent,
            format!("the dollar range buys only {:.1}–{:.1} tokens per parameter (a short fine-tune or continued pre-training, not a from-scratch run at ~20 tokens/param); the GPU count is consistent with memory (≥ {min_gpus})", tokens.0 / n, tokens.1 / n),
            &[("gpu_hours_low", hours.0), ("gpu_hours_high", hours.1), ("tokens_per_param_low", tokens.0 / n), ("tokens_per_param_high", tokens.1 / n), ("chinchilla_usd", e.cost_usd), ("min_gpus", min_gpus)],
        ));
    }
    let (lo, hi) = (50e6 / TABLE_PRICE, 200e6 / TABLE_PRICE);
    let (f_lo, f_hi) = (
        lo * SECONDS_PER_HOUR * sustained,
        hi * SECONDS_PER_HOUR * sustained,
    );
    let gpt3 = GPT3_REPORTED_FLOPS / sustained / SECONDS_PER_HOUR * TABLE_PRICE;
    v.push(claim(
        "6e",
        "Frontier 175B+: $50M–200M+",
        format!("$50M–200M at $2.75 per A100-hour and {:.0}% MFU = {:.2e}–{:.2e} GPU-h = {f_lo:.2e}–{f_hi:.2e} FLOPs = {:.0}–{:.0}× GPT-3; GPT-3 itself would cost ${:.2}M on that basis", 100.0 * DEFAULT_MFU, lo, hi, f_lo / GPT3_REPORTED_FLOPS, f_hi / GPT3_REPORTED_FLOPS, gpt3 / 1e6),
        Verdict::Unverifiable,
        "no model or token count is given; the range fits runs of ~1e25 FLOPs (e.g. 175B on several trillion tokens), not GPT-3's 3.14e23".into(),
        &[("flops_low", f_lo), ("flops_high", f_hi), ("gpt3_usd", gpt3)],
    ));
    Ok(v)
}

fn energy(cx: &Ctx) -> Result<Claim> {
    // Patterson et al. 2021, Table 4 (GPT-3): 10,000 V100s, 14.8 days, 330 W average, PUE 1.10 → 1,287 MWh.
    let (gpus, days, watts, pue) = (10_000.0, 14.8, 330.0, 1.10);
    let gpu_hours = gpus * days * 24.0;
    let mwh = gpu_hours * watts * pue / 1e6;
    let mfu =
        GPT3_REPORTED_FLOPS / (gpu_hours * SECONDS_PER_HOUR * cx.tflops("v100", "fp16")? * 1e12);
    Ok(claim(
        "7a",
        "GPT-3 training ≈ 1.3 GWh",
        format!("Patterson et al. 2021: 10,000 V100 × 14.8 d = {gpu_hours:.3e} GPU-h × 330 W × PUE 1.10 = {mwh:.0} MWh; 3.14e23 in those hours = {:.1}% MFU", 100.0 * mfu),
        verdict_within(mwh, 1300.0, 0.05),
        "Patterson et al.'s measured 330 W average per V100 (not the 300 W TDP) and PUE 1.10".into(),
        &[("mwh", mwh), ("gpu_hours", gpu_hours), ("implied_mfu", mfu)],
    ))
}
