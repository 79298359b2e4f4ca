//! What [`fit_all`](super::fit_all) takes and returns: [`FitOptions`], and the
//! [`FitReport`] with its parts (approach 3's constants, the held-out runs).

use super::{approach3, cost_model, envelope, hparams, isoflop, percentile, verdict, Law3};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Options for [`fit_all`](super::fit_all).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FitOptions {
    /// Bootstrap resamples for approach 3 (0: no confidence intervals).
    pub bootstrap: usize,
    pub seed: u64,
    /// Fit on all but the `holdout` largest runs (by FLOPs) and score those.
    pub holdout: usize,
    /// Starting points for approach 3.
    pub grid: approach3::Grid,
    /// Grid starts (best first) added to the warm start in each resample.
    pub bootstrap_starts: usize,
    /// Log-spaced FLOP values for approach 1 (with multi-point curves).
    pub envelope_points: usize,
}

impl Default for FitOptions {
    fn default() -> Self {
        FitOptions {
            bootstrap: 1000,
            seed: 0,
            holdout: 0,
            grid: approach3::Grid::wide(),
            bootstrap_starts: 3,
            envelope_points: 40,
        }
    }
}

/// Approach 3 in the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Approach3 {
    #[serde(rename = "E")]
    pub e: f64,
    #[serde(rename = "A")]
    pub a_coef: f64,
    #[serde(rename = "B")]
    pub b_coef: f64,
    pub alpha: f64,
    pub beta: f64,
    /// β/(α+β): N_opt ∝ C^a.
    pub a: f64,
    /// α/(α+β): D_opt ∝ C^b.
    pub b: f64,
    /// 95% bootstrap percentile intervals for E, A, B, alpha, beta, a, b.
    pub ci: Option<BTreeMap<String, [f64; 2]>>,
    /// Summed Huber objective at the optimum.
    pub objective: f64,
    pub n_points: usize,
    pub huber_delta: f64,
    /// Grid starts, how many finished, how many reached the best objective.
    pub starts: usize,
    pub starts_finished: usize,
    pub starts_at_best: usize,
    /// Bootstrap resamples requested and fitted.
    pub bootstrap: usize,
    pub bootstrap_fitted: usize,
}

impl Approach3 {
    pub fn law(&self) -> Law3 {
        Law3 {
            e: self.e,
            a: self.a_coef,
            b: self.b_coef,
            alpha: self.alpha,
            beta: self.beta,
        }
    }
}

/// One held-out run, scored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HoldoutRun {
    pub run: String,
    pub params: f64,
    pub tokens: f64,
    pub flops: f64,
    pub actual: f64,
    pub predicted: f64,
    /// (predicted − actual) / actual.
    pub rel_error: f64,
    /// 95% bootstrap interval of the prediction (when bootstrapped).
    pub lo: Option<f64>,
    pub hi: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Holdout {
    pub k: usize,
    pub runs: Vec<HoldoutRun>,
    pub mean_abs_rel_error: f64,
}

/// Everything `fit_all` found. Approaches without enough data are `None`, with
/// the reason in `skipped`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FitReport {
    /// Whether to believe the law, and up to which compute (set by the
    /// report and `scalelab fit` from the validation runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<verdict::Verdict>,
    /// Points the fits used (after holding out).
    pub n_points: usize,
    pub approach3: Option<Approach3>,
    pub approach1: Option<envelope::Envelope>,
    pub approach2: Option<isoflop::IsoFlop>,
    pub cost_model: Option<cost_model::CostModel>,
    pub holdout: Option<Holdout>,
    /// Why an approach is null, keyed by its name.
    pub skipped: BTreeMap<String, String>,
    /// Softer notes (e.g. a budget whose parabola opens downwards).
    pub warnings: Vec<String>,
    /// With a hyperparameter grid: the fits above used the best run of each
    /// grid; the optimal hyperparameters against compute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hparams: Option<hparams::HparamFit>,
    /// Bootstrap fits of approach 3 (not serialized: 1000 of them by default).
    #[serde(skip)]
    pub samples: Vec<Law3>,
}

impl FitReport {
    pub fn law(&self) -> Option<Law3> {
        self.approach3.as_ref().map(Approach3::law)
    }

    /// Approach 3's loss at (n, d) and its 95% bootstrap percentile interval:
    /// (mid, lo, hi). Without bootstrap samples lo = hi = mid; without an
    /// approach-3 fit all three are NaN.
    pub fn predict_interval(&self, n: f64, d: f64) -> (f64, f64, f64) {
        let Some(law) = self.law() else {
            return (f64::NAN, f64::NAN, f64::NAN);
        };
        let mid = law.loss(n, d);
        if self.samples.is_empty() {
            return (mid, mid, mid);
        }
        let mut v: Vec<f64> = self
            .samples
            .iter()
            .map(|s| s.loss(n, d))
            .filter(|x| x.is_finite())
            .collect();
        v.sort_by(f64::total_cmp);
        (mid, percentile(&v, 0.025), percentile(&v, 0.975))
    }
}
