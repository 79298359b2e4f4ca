//! Inference-aware optimum (Sardana et al. 2023, "Beyond Chinchilla-Optimal",
//! arXiv:2401.00448): for a target loss ℓ and D_inf expected inference tokens,
//! choose N (and D_tr(N), the tokens N needs to reach ℓ) minimising
//!   6·N·D_tr(N) + 2·N·D_inf,   D_tr(N) = (B / (ℓ − E − A/N^α))^(1/β).

use super::law::{golden_min, Law};
use anyhow::{anyhow, bail, Result};
use serde::Serialize;

/// Forward pass ≈ 2 FLOPs per parameter per token (Kaplan et al. 2020 Sec. 2.1).
pub const INFERENCE_FLOPS_PER_PARAM_TOKEN: f64 = 2.0;

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Plan {
    pub params: f64,
    pub train_tokens: f64,
    pub train_flops: f64,
    pub inference_flops: f64,
    pub total_flops: f64,
    pub tokens_per_param: f64,
}

impl Plan {
    fn new(n: f64, d: f64, inference_tokens: f64) -> Self {
        let train = 6.0 * n * d;
        let inf = INFERENCE_FLOPS_PER_PARAM_TOKEN * n * inference_tokens;
        Plan {
            params: n,
            train_tokens: d,
            train_flops: train,
            inference_flops: inf,
            total_flops: train + inf,
            tokens_per_param: d / n,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Optimum {
    pub law: Law,
    pub target_loss: f64,
    pub inference_tokens: f64,
    /// Training-compute-optimal model for the target loss (inference ignored), with its inference cost.
    pub chinchilla: Plan,
    /// Minimum of training + inference compute.
    pub optimal: Plan,
    pub saved_flops: f64,
    pub saved_fraction: f64,
}

/// The total-compute-minimising plan of one loss and inference demand.
fn best(law: &Law, loss: f64, inference_tokens: f64) -> Result<Plan> {
    let n_min = law.min_params_for_loss(loss).ok_or_else(|| {
        anyhow!(
            "target loss {loss} is not above the law's irreducible loss E = {}",
            law.e
        )
    })?;
    let total = |ln: f64| {
        let n = ln.exp();
        law.tokens_for_loss(n, loss)
            .map(|d| Plan::new(n, d, inference_tokens).total_flops)
            .unwrap_or(f64::INFINITY)
    };
    // The cost diverges as N → N_min (infinite data) and grows linearly for large N.
    let (lo, hi) = ((n_min * (1.0 + 1e-9)).ln(), (n_min * 1e9).ln());
    let n = golden_min(|ln| total(ln).ln(), lo, hi).exp();
    let d = law
        .tokens_for_loss(n, loss)
        .ok_or_else(|| anyhow!("no optimum found"))?;
    Ok(Plan::new(n, d, inference_tokens))
}

/// Optimum for `target_loss` and `inference_tokens` under `law`.
pub fn optimum(law: &Law, target_loss: f64, inference_tokens: f64) -> Result<Optimum> {
    if !(inference_tokens.is_finite() && inference_tokens >= 0.0) {
        bail!("--inference-tokens must be a non-negative number (got {inference_tokens})");
    }
    if !target_loss.is_finite() {
        bail!("--target-loss must be a number");
    }
    let c = best(law, target_loss, 0.0)?;
    let chinchilla = Plan::new(c.params, c.train_tokens, inference_tokens);
    let optimal = best(law, target_loss, inference_tokens)?;
    let saved = chinchilla.total_flops - optimal.total_flops;
    Ok(Optimum {
        law: law.clone(),
        target_loss,
        inference_tokens,
        chinchilla,
        optimal,
        saved_flops: saved,
        saved_fraction: saved / chinchilla.total_flops,
    })
}

/// The loss of the compute-optimal model of `params` parameters under `law` (the usual way to
/// name a target: "a Chinchilla-optimal 13B").
pub fn loss_of_optimal(law: &Law, params: f64) -> f64 {
    law.loss(params, law.optimal_tokens(params))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::estimate::law::named;

    #[test]
    fn no_inference_recovers_compute_optimal() {
        let law = named("hoffmann2022").unwrap();
        let o = optimum(&law, loss_of_optimal(&law, 13e9), 0.0).unwrap();
        assert!(
            (o.chinchilla.params / 13e9 - 1.0).abs() < 1e-4,
            "{}",
            o.chinchilla.params
        );
        assert!(o.saved_flops.abs() < 1e-6 * o.chinchilla.total_flops);
    }

    #[test]
    fn inference_demand_shrinks_the_model() {
        let law = named("hoffmann2022").unwrap();
        let o = optimum(&law, loss_of_optimal(&law, 13e9), 2e12).unwrap();
        assert!(
            o.optimal.params < 13e9
                && o.optimal.train_tokens > o.chinchilla.train_tokens
                && o.saved_flops > 0.0
        );
    }
}
