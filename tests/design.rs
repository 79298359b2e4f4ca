//! The adaptive IsoFLOP design (`[design] sizes_per_budget`): against a known
//! law L(N, D) it brackets each budget's optimum with evenly spaced sizes,
//! predicts the next budgets from the trained ones, and extends a budget
//! whose profile has no interior minimum. No training: the runs' losses come
//! from the law.

mod common;

use scalelab::flops::total_steps;
use scalelab::model::params::param_counts;
use scalelab::sweep::design::{Outcome, Plan};
use scalelab::sweep::spec::{PlannedRun, Spec};

/// A Chinchilla-shaped law with a = β/(α+β) = 0.5.
fn law(n: f64, d: f64) -> f64 {
    1.5 + 400.0 / n.powf(0.4) + 900.0 / d.powf(0.4)
}

fn outcome(r: &PlannedRun) -> Outcome {
    let n = param_counts(&r.cfg.model).total as f64;
    let d = (total_steps(&r.cfg) as u64 * r.cfg.tokens_per_step()) as f64;
    Outcome::Done(law(n, d))
}

fn spec(fx: &common::Fixture, design: &str) -> Spec {
    let text = format!(
        r#"
base = "{}"
set = ["model.n_layer=2", "model.vocab_size=256", "model.seq_len=32", "train.batch_size=8"]
evals_per_run = 2
warmup_frac = 0.05
[sizes]
shapes = [{{ n_layer = 2, n_head = 2, d_model = 16 }}]
[design]
isoflop = [1e11, 4e11, 1.6e12]
{design}
"#,
        fx.config_path.display()
    );
    let p = fx.path("spec.toml");
    std::fs::write(&p, text).unwrap();
    Spec::load(&p).unwrap().0
}

fn plan(s: &Spec, outcome: &dyn Fn(&PlannedRun) -> Outcome) -> Plan {
    s.plan_with(&s.family().unwrap(), outcome).unwrap()
}

/// The N that minimises the law at compute c among the runs' (N, D) trade-off.
fn true_optimum(runs: &[&PlannedRun]) -> f64 {
    let r = runs
        .iter()
        .min_by(|a, b| {
            let l = |r: &PlannedRun| match outcome(r) {
                Outcome::Done(l) => l,
                _ => unreachable!(),
            };
            l(a).total_cmp(&l(b))
        })
        .unwrap();
    param_counts(&r.cfg.model).total as f64
}

#[test]
fn each_budget_is_bracketed_around_its_optimum() {
    let fx = common::Fixture::new();
    let s = spec(&fx, "sizes_per_budget = 5\nsize_ratio = 1.6");
    let p = plan(&s, &outcome);
    assert!(p.complete);
    assert_eq!(p.budgets.len(), 3);
    for b in &p.budgets {
        assert!(b.sizes.len() >= 5, "{b:?}");
        assert_eq!(b.interior, Some(true), "{b:?}");
        // Evenly spaced in ln N: no gap more than 2.5× the nominal ratio.
        for w in b.params.windows(2) {
            assert!(w[1] / w[0] < 1.6 * 2.5 && w[1] > w[0], "{b:?}");
        }
        let runs: Vec<&PlannedRun> = p
            .runs
            .iter()
            .filter(|r| r.budget.value() == b.flops)
            .collect();
        let best = true_optimum(&runs);
        let (lo, hi) = (b.params[0], b.params[b.params.len() - 1]);
        assert!(lo < best && best < hi, "optimum {best} not inside {b:?}");
        let n_opt = b.n_opt.unwrap();
        assert!((n_opt / best).ln().abs() < 1.6f64.ln(), "{n_opt} vs {best}");
    }
    // Later budgets come from the earlier ones' optima, not the prior.
    assert!(p.budgets[0].predicted_from.contains("prior"));
    assert!(
        p.budgets[2].predicted_from.contains("fit of 2 budgets"),
        "{:?}",
        p.budgets[2]
    );
}

#[test]
fn a_budget_without_interior_minimum_is_extended_on_the_missing_side() {
    let fx = common::Fixture::new();
    // A prior of 5000 tokens/param puts the first budget's sizes far below its optimum.
    let s = spec(
        &fx,
        "sizes_per_budget = 3\nsize_ratio = 1.4\nprior_tokens_per_param = 5000\nmax_extend = 12",
    );
    let p = plan(&s, &outcome);
    let b = &p.budgets[0];
    assert!(!b.extended.is_empty(), "{b:?}");
    assert!(b.extended.iter().all(|e| e == "larger"), "{b:?}");
    assert_eq!(b.interior, Some(true), "{b:?}");
    assert!(b.sizes.len() == 3 + b.extended.len());
    // Every run once, extensions included.
    let mut names: Vec<&str> = p.runs.iter().map(|r| r.name.as_str()).collect();
    let n = names.len();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), n, "a run is planned twice");
    let in_budget = p
        .runs
        .iter()
        .filter(|r| r.budget.value() == b.flops)
        .count();
    assert_eq!(in_budget, b.sizes.len());

    // With too few extensions allowed it stops and says why.
    let s = spec(
        &fx,
        "sizes_per_budget = 3\nsize_ratio = 1.4\nprior_tokens_per_param = 5000\nmax_extend = 1",
    );
    let p = plan(&s, &outcome);
    let b = &p.budgets[0];
    assert_eq!((b.extended.len(), b.interior), (1, Some(false)), "{b:?}");
    assert!(b.note.as_deref().unwrap().contains("larger edge"), "{b:?}");
}

#[test]
fn the_plan_stops_at_the_first_budget_still_training() {
    let fx = common::Fixture::new();
    let s = spec(&fx, "sizes_per_budget = 5");
    let first = plan(&s, &|_| Outcome::Pending);
    assert!(!first.complete);
    assert_eq!(first.budgets.len(), 1);
    assert_eq!(first.runs.len(), 5);
    // Spec::plan (no results) is the same first budget.
    let names: Vec<String> = s.plan().unwrap().into_iter().map(|r| r.name).collect();
    let expect: Vec<String> = first.runs.iter().map(|r| r.name.clone()).collect();
    assert_eq!(names, expect);
    // Once those finish, the second budget is planned; a failure is not fatal.
    let done: Vec<String> = expect.clone();
    let second = plan(&s, &|r| {
        if r.name == done[2] {
            Outcome::Failed
        } else if done.contains(&r.name) {
            outcome(r)
        } else {
            Outcome::Pending
        }
    });
    assert!(second.budgets.len() >= 2, "{:?}", second.budgets);
    assert!(second.runs.len() > 5);
}

#[test]
fn seeds_replicate_design_runs_and_bad_settings_are_refused() {
    let fx = common::Fixture::new();
    let s = spec(&fx, "sizes_per_budget = 4");
    let base = std::fs::read_to_string(fx.path("spec.toml")).unwrap();
    std::fs::write(fx.path("spec.toml"), format!("seeds = [1, 2]\n{base}")).unwrap();
    let s2 = Spec::load(&fx.path("spec.toml")).unwrap().0;
    assert_eq!(s2.plan().unwrap().len(), 2 * s.plan().unwrap().len());
    for (bad, field) in [
        ("sizes_per_budget = 2", "design.sizes_per_budget"),
        (
            "sizes_per_budget = 5\nsize_ratio = 1.0",
            "design.size_ratio",
        ),
        ("size_ratio = 1.5", "design.size_ratio"),
        (
            "sizes_per_budget = 5\ntokens_per_param_range = [1, 100]",
            "tokens_per_param_range",
        ),
        (
            "sizes_per_budget = 5\nprior_tokens_per_param = -1",
            "prior_tokens_per_param",
        ),
    ] {
        let text = base.replace("sizes_per_budget = 4", bad);
        std::fs::write(fx.path("spec.toml"), text).unwrap();
        let e = format!("{:#}", Spec::load(&fx.path("spec.toml")).unwrap_err());
        assert!(e.contains(field), "{bad}: {e}");
        assert!(!e.contains('\n'), "{e}");
    }
}
