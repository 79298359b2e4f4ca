//! The adaptive IsoFLOP design (`[design] sizes_per_budget = k`): each budget
//! gets k sizes of the spec's family, evenly spaced in ln N around the
//! optimum predicted for it, and a budget whose loss profile has no interior
//! minimum is extended on the missing side. Budgets are planned in increasing
//! order, each from the ones already trained (Hoffmann et al. 2022 bracket
//! each budget's minimum the same way), so the plan grows as runs finish: it
//! is a pure function of the spec and the finished runs' losses, and a
//! resumed sweep plans the same runs.

use super::spec::{Budget, PlannedRun, Spec};
use crate::config::RunConfig;
use crate::flops::{total_steps, StepFlops};
use crate::model::params::param_counts;
pub use crate::rundir::results::{BudgetDesign, DESIGN_FILE};
use crate::scaling::{isoflop::parabola, linfit};
use anyhow::{bail, Result};

/// Fewest optimizer steps a design run may have: shorter runs are warm-up only.
pub const MIN_STEPS: usize = 20;
/// Exponent for N_opt ∝ C^a before two budgets have an interior minimum
/// (Hoffmann et al. 2022's a ≈ 0.5); fitted exponents are clamped to
/// [A_MIN, A_MAX] so one noisy budget cannot send the next one off the family.
const A_PRIOR: f64 = 0.5;
const A_MIN: f64 = 0.25;
const A_MAX: f64 = 0.75;

/// The spec's adaptive-design settings (see [`super::spec::Design`]).
#[derive(Debug, Clone, Copy)]
pub struct Adaptive {
    pub sizes_per_budget: usize,
    /// Ratio of N between neighbouring sizes.
    pub size_ratio: f64,
    /// Tokens per parameter assumed optimal for the first budget.
    pub prior_tokens_per_param: f64,
    /// Sizes a budget may add, one at a time, to bracket its minimum.
    pub max_extend: usize,
}

/// What became of a planned run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Outcome {
    /// Not finished yet.
    Pending,
    Failed,
    /// Finished with this final validation loss.
    Done(f64),
}

/// The runs planned so far; `complete` once every budget is settled.
pub struct Plan {
    pub runs: Vec<PlannedRun>,
    pub budgets: Vec<BudgetDesign>,
    pub complete: bool,
}

/// One size of the family: label, config, total parameters.
struct Size<'a> {
    label: &'a str,
    cfg: &'a RunConfig,
    n: f64,
}

/// Tokens a run of `cfg` trains on at a budget of `c` FLOPs (exact step FLOPs).
pub fn tokens_at(cfg: &RunConfig, c: f64) -> f64 {
    let mut cfg = cfg.clone();
    (cfg.train.max_steps, cfg.train.max_tokens) = (None, None);
    cfg.train.max_flops = Some(c);
    (total_steps(&cfg) as u64 * cfg.tokens_per_step()) as f64
}

/// Plan the adaptive design as far as `outcome` (what each planned run
/// became) allows. `family` is the spec's family of sizes.
pub fn plan(
    spec: &Spec,
    a: &Adaptive,
    budgets: &[f64],
    family: &[(String, RunConfig)],
    outcome: &dyn Fn(&PlannedRun) -> Outcome,
) -> Result<Plan> {
    let mut sizes: Vec<Size> = family
        .iter()
        .map(|(label, cfg)| Size {
            label,
            cfg,
            n: param_counts(&cfg.model).total as f64,
        })
        .collect();
    sizes.sort_by(|x, y| x.n.total_cmp(&y.n));
    let mut budgets = budgets.to_vec();
    budgets.sort_by(f64::total_cmp);
    let mut out = Plan {
        runs: Vec::new(),
        budgets: Vec::new(),
        complete: false,
    };
    // (ln C, ln N_opt) of the budgets with an interior minimum so far.
    let mut optima: Vec<(f64, f64)> = Vec::new();
    for &c in &budgets {
        let eligible: Vec<&Size> = sizes
            .iter()
            .filter(|s| StepFlops::for_run(s.cfg).matmul_step as f64 * MIN_STEPS as f64 <= c)
            .collect();
        if eligible.len() < 3 {
            bail!("design.isoflop: budget {c:e} allows fewer than 3 sizes of the family {MIN_STEPS} optimizer steps each");
        }
        let (predicted_n, predicted_from) = predict(a, c, &eligible, &optima);
        let mut chosen = pick_around(&eligible, predicted_n, a.sizes_per_budget, a.size_ratio);
        let mut b = BudgetDesign {
            flops: c,
            predicted_n,
            predicted_from,
            sizes: Vec::new(),
            params: Vec::new(),
            extended: Vec::new(),
            n_opt: None,
            interior: None,
            note: None,
        };
        let runs = loop {
            chosen.sort_unstable();
            // (ln N, loss) of the settled sizes, and this round's runs of the
            // budget: every chosen size, extensions included.
            let mut profile = Vec::new();
            let mut budget_runs = Vec::new();
            let mut pending = false;
            for &i in &chosen {
                let s = eligible[i];
                let run = spec
                    .run_for(s.label, s.cfg, Budget::Flops(c), false)?
                    .expect("no range check in an adaptive design");
                let reps = super::axes::expand(spec, vec![run])?;
                let (loss, waiting) = size_loss(&reps, outcome);
                pending |= waiting;
                budget_runs.extend(reps);
                if let Some(l) = loss {
                    profile.push((s.n.ln(), l));
                }
            }
            b.sizes = chosen
                .iter()
                .map(|&i| eligible[i].label.to_string())
                .collect();
            b.params = chosen.iter().map(|&i| eligible[i].n).collect();
            if pending {
                out.runs.extend(budget_runs);
                out.budgets.push(b);
                return Ok(out);
            }
            let Some(best) =
                (0..profile.len()).min_by(|&x, &y| profile[x].1.total_cmp(&profile[y].1))
            else {
                b.note = Some("every run of this budget failed".into());
                break budget_runs;
            };
            let interior = best > 0 && best + 1 < profile.len();
            if interior {
                let n_opt = vertex(&profile).unwrap_or(profile[best].0);
                optima.push((c.ln(), n_opt));
                (b.n_opt, b.interior) = (Some(n_opt.exp()), Some(true));
                break budget_runs;
            }
            (b.n_opt, b.interior) = (Some(profile[best].0.exp()), Some(false));
            let side = if best == 0 { "smaller" } else { "larger" };
            if b.extended.len() >= a.max_extend {
                b.note = Some(format!(
                    "no interior minimum after {} extensions: the best size is the {side} edge",
                    a.max_extend
                ));
                break budget_runs;
            }
            let Some(next) = extend(&eligible, &chosen, best == 0, a.size_ratio) else {
                b.note = Some(format!(
                    "no interior minimum: the family has no {side} size for this budget"
                ));
                break budget_runs;
            };
            chosen.push(next);
            b.extended.push(side.into());
        };
        out.runs.extend(runs);
        out.budgets.push(b);
    }
    out.complete = true;
    Ok(out)
}

/// A size's loss from its runs (every hyperparameter setting × seed): each
/// setting's mean over its finished seeds, the best setting's (tuned, as the
/// fits use); and whether any run is still pending. Failed runs are left out.
fn size_loss(reps: &[PlannedRun], outcome: &dyn Fn(&PlannedRun) -> Outcome) -> (Option<f64>, bool) {
    let mut settings: Vec<((f64, usize, f64), Vec<f64>)> = Vec::new();
    let mut pending = false;
    for r in reps {
        let loss = match outcome(r) {
            Outcome::Pending => {
                pending = true;
                continue;
            }
            Outcome::Failed => continue,
            Outcome::Done(l) => l,
        };
        let key = (r.cfg.optim.lr, r.cfg.train.batch_size, r.cfg.optim.beta2);
        match settings.iter_mut().find(|s| s.0 == key) {
            Some(s) => s.1.push(loss),
            None => settings.push((key, vec![loss])),
        }
    }
    let best = settings.iter().map(|(_, l)| mean(l)).min_by(f64::total_cmp);
    (best, pending)
}

/// The N the next budget's sizes centre on: the line through the interior
/// optima so far in (ln C, ln N), one optimum scaled by C^A_PRIOR, or — for
/// the first budget — the size nearest the prior tokens per parameter.
fn predict(a: &Adaptive, c: f64, sizes: &[&Size], optima: &[(f64, f64)]) -> (f64, String) {
    let (lc, ln): (Vec<f64>, Vec<f64>) = optima.iter().copied().unzip();
    if let Some(f) = linfit(&lc, &ln).filter(|_| optima.len() >= 2) {
        let slope = f.slope.clamp(A_MIN, A_MAX);
        let (mx, my) = (mean(&lc), mean(&ln));
        let n = (my + slope * (c.ln() - mx)).exp();
        let clamp = if slope != f.slope {
            format!(", clamped from {:.2}", f.slope)
        } else {
            String::new()
        };
        return (
            n,
            format!(
                "fit of {} budgets' optima, a = {slope:.2}{clamp}",
                optima.len()
            ),
        );
    }
    if let Some(&(lc0, ln0)) = optima.last() {
        let n = (ln0 + A_PRIOR * (c.ln() - lc0)).exp();
        return (n, format!("one budget's optimum × (C ratio)^{A_PRIOR}"));
    }
    let r = a.prior_tokens_per_param.ln();
    let s = sizes
        .iter()
        .min_by(|x, y| {
            let d = |s: &Size| ((tokens_at(s.cfg, c) / s.n).ln() - r).abs();
            d(x).total_cmp(&d(y))
        })
        .expect("non-empty");
    (
        s.n,
        format!("prior of {} tokens/parameter", a.prior_tokens_per_param),
    )
}

/// Indices of `k` distinct sizes nearest `center · ratio^(j − (k−1)/2)` in ln N.
fn pick_around(sizes: &[&Size], center: f64, k: usize, ratio: f64) -> Vec<usize> {
    let mut chosen: Vec<usize> = Vec::new();
    for j in 0..k {
        let target = center.ln() + ratio.ln() * (j as f64 - (k as f64 - 1.0) / 2.0);
        if let Some(i) = nearest(sizes, target, |i| !chosen.contains(&i)) {
            chosen.push(i);
        }
    }
    chosen
}

/// The unchosen size one `ratio` step beyond the smallest (or largest) chosen.
fn extend(sizes: &[&Size], chosen: &[usize], smaller: bool, ratio: f64) -> Option<usize> {
    let edge = if smaller {
        chosen[0]
    } else {
        chosen[chosen.len() - 1]
    };
    let ln_edge = sizes[edge].n.ln();
    let target = ln_edge + if smaller { -ratio.ln() } else { ratio.ln() };
    nearest(sizes, target, |i| {
        !chosen.contains(&i) && (sizes[i].n.ln() < ln_edge) == smaller && i != edge
    })
}

fn nearest(sizes: &[&Size], ln_target: f64, ok: impl Fn(usize) -> bool) -> Option<usize> {
    (0..sizes.len()).filter(|&i| ok(i)).min_by(|&x, &y| {
        let d = |i: usize| (sizes[i].n.ln() - ln_target).abs();
        d(x).total_cmp(&d(y))
    })
}

/// ln N at the vertex of the parabola through the best size and its two
/// neighbours (the local shape; far sizes would bias it), if convex.
fn vertex(profile: &[(f64, f64)]) -> Option<f64> {
    let best = (0..profile.len()).min_by(|&x, &y| profile[x].1.total_cmp(&profile[y].1))?;
    let w = &profile[best.checked_sub(1)?..(best + 2).min(profile.len())];
    let (x, y): (Vec<f64>, Vec<f64>) = w.iter().copied().unzip();
    let p = parabola(&x, &y)?;
    let v = -p[1] / (2.0 * p[2]);
    (p[2] > 0.0 && v >= x[0] && v <= x[x.len() - 1]).then_some(v)
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}
