//! The verdict on a fit: do the three approaches agree on the compute
//! exponent a (N_opt ∝ C^a), is Approach 3's interval for it narrow, and did
//! the law predict runs trained beyond the fitted compute? A law is only as
//! trustworthy as the largest compute at which one of its predictions was
//! checked; everything above that is extrapolation and is labelled so.

use super::{FitReport, Point};
use serde::{Deserialize, Serialize};

/// The approaches may differ on a by at most this much.
pub const MAX_A_SPREAD: f64 = 0.1;
/// Approach 3's 95% interval for a may be at most this wide.
pub const MAX_A_INTERVAL: f64 = 0.3;
/// A validation run counts as predicted when within this relative error.
pub const VALIDATION_TOLERANCE: f64 = 0.015;
/// A higher budget's frontier may fall faster than a lower one's by this many
/// standard deviations of the replicates' noise before the fitted range is
/// judged to hold a change of regime ([`frontier_bend`]).
pub const BEND_SIGMAS: f64 = 3.0;

/// One approach's compute exponent, with its 95% interval where it has one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApproachA {
    pub approach: String,
    pub a: f64,
    pub interval: Option<[f64; 2]>,
}

/// A run trained beyond the fitted compute, never used in the fit, and the
/// law's prediction of its final validation loss.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValidationRun {
    pub run: String,
    pub params: f64,
    pub tokens: f64,
    pub flops: f64,
    /// Its compute as a multiple of the largest compute in the fit.
    pub beyond_fit: f64,
    pub predicted: f64,
    /// 95% bootstrap interval of the prediction.
    pub lo: Option<f64>,
    pub hi: Option<f64>,
    pub actual: f64,
    /// (predicted − actual) / actual.
    pub rel_error: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// a from each approach that produced a fit.
    pub a: Vec<ApproachA>,
    pub validation: Vec<ValidationRun>,
    /// The largest training compute in the fit.
    pub fitted_up_to_flops: f64,
    /// The largest compute at which a prediction was checked and held
    /// (within [`VALIDATION_TOLERANCE`]); the fitted range when none was.
    pub trusted_up_to_flops: f64,
    pub credible: bool,
    /// Seed-to-seed spread of the final loss where runs were replicated: the
    /// mean relative standard deviation over the replicated (size, budget)
    /// groups. Errors below it cannot be resolved by single runs.
    #[serde(default)]
    pub seed_spread: Option<f64>,
    /// The best loss per budget falling faster higher up (a change of
    /// regime inside the fitted range), where replicates measure the noise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frontier_bend: Option<FrontierBend>,
    /// Why not credible (empty when credible), or what limits the trust.
    pub reasons: Vec<String>,
}

/// Two stretches of the IsoFLOP frontier (the best loss per budget against
/// ln C) where the higher one falls faster than the lower one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrontierBend {
    /// Compute at the ends of the lower stretch and of the higher one.
    pub below: [f64; 2],
    pub above: [f64; 2],
    /// d loss / d ln C over each (negative: the loss falls).
    pub slope_below: f64,
    pub slope_above: f64,
    /// slope_below − slope_above in standard deviations of its noise.
    pub sigmas: f64,
}

/// The frontier's steepest bend the wrong way. Every law of Approach 3's
/// form has the frontier L*(C) = E + G·C^−γ, whose slope in ln C,
/// −γ·G·C^−γ, shrinks as C grows: the frontier flattens. So a stretch that
/// falls faster than a lower one is a change of regime such a law cannot
/// follow. `budgets` are (C, best loss); `noise_rel` the relative sd of one
/// run's final loss (the replicates'); each loss's sd is noise_rel × loss and
/// the difference of two slopes gets its exact variance from the losses it
/// is made of. Returns the pair of stretches with the most sigmas when that
/// is at least [`BEND_SIGMAS`].
pub fn frontier_bend(budgets: &[(f64, f64)], noise_rel: f64) -> Option<FrontierBend> {
    if noise_rel <= 0.0 {
        return None;
    }
    let mut b = budgets.to_vec();
    b.sort_by(|x, y| x.0.total_cmp(&y.0));
    // Stretch k runs from budget k to k + 1: its width in ln C and its slope.
    let width: Vec<f64> = b.windows(2).map(|w| (w[1].0 / w[0].0).ln()).collect();
    let slope: Vec<f64> = b
        .windows(2)
        .zip(&width)
        .map(|(w, d)| (w[1].1 - w[0].1) / d)
        .collect();
    let mut best: Option<FrontierBend> = None;
    for j in 1..slope.len() {
        for i in 0..j {
            // slope_i − slope_j as Σ c_k·L_k, then its variance Σ c_k²·σ_k².
            let mut c = vec![0.0; b.len()];
            c[i] -= 1.0 / width[i];
            c[i + 1] += 1.0 / width[i];
            c[j] += 1.0 / width[j];
            c[j + 1] -= 1.0 / width[j];
            let var: f64 = c
                .iter()
                .zip(&b)
                .map(|(c, (_, l))| (c * noise_rel * l).powi(2))
                .sum();
            let sigmas = (slope[i] - slope[j]) / var.sqrt();
            if sigmas >= BEND_SIGMAS && best.as_ref().is_none_or(|x| sigmas > x.sigmas) {
                best = Some(FrontierBend {
                    below: [b[i].0, b[i + 1].0],
                    above: [b[j].0, b[j + 1].0],
                    slope_below: slope[i],
                    slope_above: slope[j],
                    sigmas,
                });
            }
        }
    }
    best
}

/// Judge `fit` (made without `validation`) against the validation runs.
pub fn judge(fit: &FitReport, fitted: &[Point], validation: &[Point]) -> Verdict {
    let mut a = Vec::new();
    if let Some(e) = &fit.approach1 {
        a.push(ApproachA {
            approach: "1 (envelope)".into(),
            a: e.a,
            interval: None,
        });
    }
    if let Some(i) = &fit.approach2 {
        a.push(ApproachA {
            approach: "2 (IsoFLOP)".into(),
            a: i.a,
            interval: i.a_interval,
        });
    }
    if let Some(p) = &fit.approach3 {
        a.push(ApproachA {
            approach: "3 (parametric)".into(),
            a: p.a,
            interval: p.ci.as_ref().and_then(|c| c.get("a").copied()),
        });
    }
    let fitted_up_to = fitted.iter().map(|p| p.flops).fold(0.0, f64::max);
    let runs: Vec<ValidationRun> = replicate_means(validation)
        .iter()
        .filter_map(|p| {
            fit.law()?;
            let (predicted, lo, hi) = fit.predict_interval(p.params, p.tokens);
            let bootstrapped = !fit.samples.is_empty();
            Some(ValidationRun {
                run: p.run.clone(),
                params: p.params,
                tokens: p.tokens,
                flops: p.flops,
                beyond_fit: p.flops / fitted_up_to,
                predicted,
                lo: bootstrapped.then_some(lo),
                hi: bootstrapped.then_some(hi),
                actual: p.loss,
                rel_error: (predicted - p.loss) / p.loss,
            })
        })
        .collect();
    let mut reasons = Vec::new();
    if fit.approach3.is_none() {
        reasons.push("Approach 3 has no fit: no law to extrapolate".into());
    }
    if a.len() < 3 {
        let have: Vec<&str> = a.iter().map(|x| x.approach.as_str()).collect();
        reasons.push(format!(
            "only {} of the 3 approaches produced an exponent ({})",
            a.len(),
            have.join(", ")
        ));
    }
    let (lo, hi) = a
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), x| {
            (l.min(x.a), h.max(x.a))
        });
    if a.len() >= 2 && hi - lo > MAX_A_SPREAD {
        reasons.push(format!(
            "the approaches disagree on a by {:.2} (> {MAX_A_SPREAD}): {lo:.2}–{hi:.2}",
            hi - lo
        ));
    }
    // The interval rule is Approach 3's (the law that extrapolates).
    let a3_interval = a
        .iter()
        .find(|x| x.approach.starts_with('3'))
        .and_then(|x| x.interval);
    match a3_interval {
        Some([l, h]) if h - l > MAX_A_INTERVAL => reasons.push(format!(
            "Approach 3's 95% interval for a is {l:.2}–{h:.2}, {:.2} wide (> {MAX_A_INTERVAL})",
            h - l
        )),
        Some(_) => {}
        None if fit.approach3.is_some() => {
            reasons.push("Approach 3 has no interval for a (no bootstrap)".into())
        }
        None => {}
    }
    for v in runs
        .iter()
        .filter(|v| v.rel_error.abs() > VALIDATION_TOLERANCE)
    {
        reasons.push(format!(
            "validation run {} at {:.1}× the fitted compute is off by {:+.2}% (> {:.1}%)",
            v.run,
            v.beyond_fit,
            v.rel_error * 100.0,
            VALIDATION_TOLERANCE * 100.0
        ));
    }
    if runs.is_empty() {
        reasons.push(
            "no run beyond the fitted compute checks a prediction: trust ends at the fitted range"
                .into(),
        );
    }
    // Only replicates measure the noise that a bend must stand out of.
    let bend = fit.approach2.as_ref().and_then(|i| {
        let frontier: Vec<(f64, f64)> = i
            .budgets
            .iter()
            .filter(|b| b.interior)
            .map(|b| (b.flops, b.loss_opt))
            .collect();
        frontier_bend(&frontier, super::isoflop::replicate_noise(fitted)?)
    });
    if let Some(b) = &bend {
        reasons.push(format!(
            "the best loss per budget falls faster at {:.2e}–{:.2e} FLOPs ({:.3} per e-fold of compute) than at {:.2e}–{:.2e} ({:.3}), {:.1} sd beyond the replicates' noise: a change of regime inside the fitted range, which a law of Approach 3's form (its frontier flattens as compute grows) cannot follow",
            b.above[0], b.above[1], b.slope_above, b.below[0], b.below[1], b.slope_below, b.sigmas
        ));
    }
    // Trust extends to a validated compute only when every validation run up
    // to it held, those at the same budget (within 10%) included.
    let mut trusted = fitted_up_to;
    let mut by_flops: Vec<&ValidationRun> = runs.iter().collect();
    by_flops.sort_by(|x, y| x.flops.total_cmp(&y.flops));
    for v in &by_flops {
        let missed = by_flops
            .iter()
            .any(|w| w.flops <= v.flops * 1.1 && w.rel_error.abs() > VALIDATION_TOLERANCE);
        if missed {
            break;
        }
        trusted = trusted.max(v.flops);
    }
    let credible = fit.approach3.is_some()
        && a.len() == 3
        && hi - lo <= MAX_A_SPREAD
        && a3_interval.is_some_and(|[l, h]| h - l <= MAX_A_INTERVAL)
        && runs
            .iter()
            .all(|v| v.rel_error.abs() <= VALIDATION_TOLERANCE)
        && bend.is_none();
    Verdict {
        a,
        validation: runs,
        fitted_up_to_flops: fitted_up_to,
        trusted_up_to_flops: trusted,
        credible,
        seed_spread: None,
        frontier_bend: bend,
        reasons,
    }
}

/// Replicates (the same params, tokens and FLOPs: runs that differ only in
/// their seed) merged into one point with their mean loss, named without the
/// `-sN` seed suffix; single runs are kept as they are.
pub fn replicate_means(points: &[Point]) -> Vec<Point> {
    replicate_groups(points)
        .into_iter()
        .map(|g| {
            let mut m = g[0].clone();
            if g.len() > 1 {
                m.loss = g.iter().map(|p| p.loss).sum::<f64>() / g.len() as f64;
                m.run = strip_seed(&m.run).to_string();
            }
            m
        })
        .collect()
}

/// Points grouped as replicates: the same params, tokens and FLOPs (runs
/// that differ only in their seed), in order of first appearance.
pub fn replicate_groups(points: &[Point]) -> Vec<Vec<&Point>> {
    let mut groups: Vec<Vec<&Point>> = Vec::new();
    for p in points {
        let same = |q: &&Point| q.params == p.params && q.tokens == p.tokens && q.flops == p.flops;
        match groups.iter_mut().find(|g| same(&g[0])) {
            Some(g) => g.push(p),
            None => groups.push(vec![p]),
        }
    }
    groups
}

/// `name` without a trailing `-s<digits>`.
fn strip_seed(name: &str) -> &str {
    match name.rsplit_once("-s") {
        Some((head, tail)) if !tail.is_empty() && tail.bytes().all(|b| b.is_ascii_digit()) => head,
        _ => name,
    }
}

/// Mean relative standard deviation (sample sd / mean) over groups of
/// replicated final losses; groups of one are ignored, `None` without any.
pub fn seed_spread(groups: &[Vec<f64>]) -> Option<f64> {
    let rel: Vec<f64> = groups
        .iter()
        .filter(|g| g.len() >= 2)
        .map(|g| {
            let n = g.len() as f64;
            let mean = g.iter().sum::<f64>() / n;
            let var = g.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
            var.sqrt() / mean
        })
        .collect();
    (!rel.is_empty()).then(|| rel.iter().sum::<f64>() / rel.len() as f64)
}

impl Verdict {
    /// One line: credible or not, and the compute up to which it was checked.
    pub fn headline(&self) -> String {
        format!(
            "{} Trusted up to C = {:.2e} FLOPs (fitted up to {:.2e}); every prediction above that is an extrapolation.",
            if self.credible {
                "The law is credible within its checked range."
            } else {
                "The law is NOT credible: read its predictions as ranges, not numbers."
            },
            self.trusted_up_to_flops,
            self.fitted_up_to_flops
        )
    }

    /// The verdict as the opening section of a report (Markdown).
    pub fn markdown(&self) -> String {
        use std::fmt::Write as _;
        let mut md = String::new();
        let _ = writeln!(md, "**{}**\n", self.headline());
        md.push_str("| approach | a (N_opt ∝ C^a) | 95% interval |\n|---|---|---|\n");
        for x in &self.a {
            let iv = x
                .interval
                .map(|[l, h]| format!("{l:.3}–{h:.3}"))
                .unwrap_or_else(|| "–".into());
            let _ = writeln!(md, "| {} | {:.3} | {iv} |", x.approach, x.a);
        }
        md.push('\n');
        if !self.validation.is_empty() {
            md.push_str("| validation run | × fitted compute | predicted (95%) | actual | error |\n|---|---|---|---|---|\n");
            for v in &self.validation {
                let iv = match (v.lo, v.hi) {
                    (Some(l), Some(h)) => format!(" ({l:.4}–{h:.4})"),
                    _ => String::new(),
                };
                let _ = writeln!(
                    md,
                    "| {} | {:.1}× | {:.4}{iv} | {:.4} | {:+.2}% |",
                    v.run,
                    v.beyond_fit,
                    v.predicted,
                    v.actual,
                    v.rel_error * 100.0
                );
            }
            md.push('\n');
        }
        if let Some(s) = self.seed_spread {
            let _ = writeln!(
                md,
                "Seed-to-seed spread of the final loss (replicates): {:.2}% (relative sd); errors below it cannot be resolved by single runs.\n",
                s * 100.0
            );
        }
        for r in &self.reasons {
            let _ = writeln!(md, "- {r}");
        }
        md
    }
}
