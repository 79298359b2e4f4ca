//! Claim [8], training vs inference compute (Sardana et al. 2023): the 13B,
//! 2T-inference-token example recomputed under each law, and how sensitive it is
//! to Hoffmann et al.'s rounded exponents.

use super::{claim, Claim, Verdict};
use crate::estimate::inference::{self, Plan};
use crate::estimate::law::{self, Law};
use anyhow::Result;

/// Sardana et al. 2023 Fig. 1 setting: a 13B model, 2T inference tokens.
const EX_PARAMS: f64 = 13e9;
const EX_INFERENCE: f64 = 2e12;

/// Total-compute saving against a 13B baseline trained on `tpp` tokens per parameter.
fn saving_vs(law: &Law, tpp: f64) -> Result<(Plan, Plan)> {
    let d0 = tpp * EX_PARAMS;
    let o = inference::optimum(law, law.loss(EX_PARAMS, d0), EX_INFERENCE)?;
    let base_total = 6.0 * EX_PARAMS * d0 + 2.0 * EX_PARAMS * EX_INFERENCE;
    let base = Plan {
        params: EX_PARAMS,
        train_tokens: d0,
        train_flops: 6.0 * EX_PARAMS * d0,
        inference_flops: 2.0 * EX_PARAMS * EX_INFERENCE,
        total_flops: base_total,
        tokens_per_param: tpp,
    };
    Ok((base, o.optimal))
}

pub(super) fn inference_example() -> Result<Claim> {
    let mut figs: Vec<(String, f64)> = Vec::new();
    let mut parts = Vec::new();
    for id in law::known() {
        let l = law::named(id)?;
        let o = inference::optimum(&l, inference::loss_of_optimal(&l, EX_PARAMS), EX_INFERENCE)?;
        parts.push(format!(
            "{id}: Chinchilla-optimal 13B trains on {:.3e} tokens (loss {:.4}); optimum {:.2}B on {:.3e} tokens; saves {:.2e} FLOPs ({:.1}%)",
            o.chinchilla.train_tokens,
            o.target_loss,
            o.optimal.params / 1e9,
            o.optimal.train_tokens,
            o.saved_flops,
            100.0 * o.saved_fraction
        ));
        figs.push((format!("{id}_saved_flops"), o.saved_flops));
        figs.push((format!("{id}_saved_fraction"), o.saved_fraction));
        figs.push((format!("{id}_optimal_params"), o.optimal.params));
    }
    // Hoffmann et al. publish α, β to two decimals; every α in [0.335, 0.345) and β in
    // [0.275, 0.285) rounds to 0.34 / 0.28. Sweep that box (corners and centre lines).
    let h = law::named("hoffmann2022")?;
    let mut box_results = Vec::new();
    for alpha in [0.335, 0.34, 0.3449] {
        for beta in [0.275, 0.28, 0.2849] {
            let l = Law::new(
                "hoffmann2022-rounding",
                &h.source,
                h.e,
                h.a,
                h.b,
                alpha,
                beta,
            )?;
            let o =
                inference::optimum(&l, inference::loss_of_optimal(&l, EX_PARAMS), EX_INFERENCE)?;
            box_results.push((o.saved_fraction, o.saved_flops, o.optimal.params));
        }
    }
    let lo_hi = |f: fn(&(f64, f64, f64)) -> f64| {
        (
            box_results.iter().map(f).fold(f64::INFINITY, f64::min),
            box_results.iter().map(f).fold(f64::NEG_INFINITY, f64::max),
        )
    };
    let (frac_lo, frac_hi) = lo_hi(|r| r.0);
    let (flops_lo, flops_hi) = lo_hi(|r| r.1);
    let (n_lo, n_hi) = lo_hi(|r| r.2);
    figs.push(("hoffmann_rounding_fraction_low".into(), frac_lo));
    figs.push(("hoffmann_rounding_fraction_high".into(), frac_hi));
    // Which baseline reproduces 17% with the rounded constants: bisection on tokens per parameter.
    let frac = |tpp: f64| -> Result<f64> {
        let (b, o) = saving_vs(&h, tpp)?;
        Ok((b.total_flops - o.total_flops) / b.total_flops)
    };
    let (mut lo, mut hi) = (20.0, h.optimal_tokens(EX_PARAMS) / EX_PARAMS);
    for _ in 0..60 {
        let mid = (lo + hi) / 2.0;
        if frac(mid)? > 0.17 {
            lo = mid
        } else {
            hi = mid
        }
    }
    let tpp = (lo + hi) / 2.0;
    let (b, o) = saving_vs(&h, tpp)?;
    figs.push(("hoffmann_tpp_for_17pct".into(), tpp));
    figs.push((
        "hoffmann_saved_at_17pct".into(),
        b.total_flops - o.total_flops,
    ));
    let inside = (frac_lo..=frac_hi).contains(&0.17)
        && (flops_lo..=flops_hi).contains(&1.7e22)
        && (n_lo..=n_hi).contains(&7e9);
    parts.push(format!(
        "Hoffmann with α in [0.335, 0.345), β in [0.275, 0.285) (all round to 0.34 / 0.28): optimum {:.1}–{:.1}B, saving {flops_lo:.2e}–{flops_hi:.2e} FLOPs ({:.1}–{:.1}%)",
        n_lo / 1e9,
        n_hi / 1e9,
        100.0 * frac_lo,
        100.0 * frac_hi
    ));
    let figures: Vec<(&str, f64)> = figs.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    Ok(claim(
        "8",
        "Sardana et al. 2023: a 13B model with 2T inference tokens — training a ~7B model longer saves ~1.7e22 FLOPs (~17%)",
        parts.join("; "),
        if inside { Verdict::Consistent } else { Verdict::Inconsistent },
        format!(
            "Hoffmann et al.'s Approach 3 law (not Besiroglu's refit, which gives ~29% and 6.1B): the example lies inside what constants that round to the published α 0.34 / β 0.28 give, but the rounded values themselves give 10.1% and 8.0B — the result is very sensitive to α and β. With the rounded constants, 17% (a {:.1}B model, {:.2e} FLOPs) needs a 13B baseline trained on {tpp:.0} tokens/param instead of the law's own compute-optimal {:.0}",
            o.params / 1e9,
            b.total_flops - o.total_flops,
            h.optimal_tokens(EX_PARAMS) / EX_PARAMS
        ),
        &figures,
    ))
}
