//! The shipped configs load, span ~1M to ~350M parameters, and the GPT-2 small
//! shape has GPT-2's exact parameter count.

use scalelab::config::RunConfig;
use scalelab::model::params::param_counts;
use std::path::Path;

fn load(p: &str, ov: &[&str]) -> RunConfig {
    let ov: Vec<String> = ov.iter().map(|s| s.to_string()).collect();
    RunConfig::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join(p), &ov)
        .unwrap_or_else(|e| panic!("{p}: {e:#}"))
}

#[test]
fn presets_span_one_to_350_million_parameters() {
    let mut counts = Vec::new();
    for entry in
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/presets")).unwrap()
    {
        let p = entry.unwrap().path();
        let cfg = load(p.to_str().unwrap(), &[]);
        counts.push(param_counts(&cfg.model).total);
    }
    counts.sort();
    assert!(counts.len() >= 5, "{counts:?}");
    assert!((1_000_000..2_000_000).contains(&counts[0]), "{counts:?}");
    assert!(
        (300_000_000..400_000_000).contains(counts.last().unwrap()),
        "{counts:?}"
    );
    load("configs/quickstart.toml", &[]);
}

#[test]
fn gpt2_small_shape_has_gpt2s_parameter_count() {
    // Hugging Face `gpt2`: 124,439,808 parameters (vocab 50257, n_positions 1024).
    let cfg = load(
        "configs/presets/gpt2-124m.toml",
        &["model.vocab_size=50257"],
    );
    let c = param_counts(&cfg.model);
    assert_eq!(c.total, 124_439_808);
    assert_eq!(c.kaplan_12ld2, 12 * 12 * 768 * 768);
}

#[test]
fn shipped_sweeps_plan_at_least_three_sizes_per_budget() {
    use scalelab::sweep::design::Outcome;
    use scalelab::sweep::spec::Spec;
    for name in ["quick", "gpu", "cpu-reference"] {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("configs/sweeps/{name}.toml"));
        let (spec, _) = Spec::load(&path).unwrap_or_else(|e| panic!("{name}: {e:#}"));
        // An adaptive design plans its later budgets from results: a
        // Chinchilla-shaped law stands in for the runs.
        let law = |r: &scalelab::sweep::spec::PlannedRun| {
            let n = param_counts(&r.cfg.model).total as f64;
            let d = (scalelab::flops::total_steps(&r.cfg) as u64 * r.cfg.tokens_per_step()) as f64;
            Outcome::Done(1.5 + 400.0 / n.powf(0.34) + 410.0 / d.powf(0.28))
        };
        let plan = spec.plan_with(&spec.family().unwrap(), &law).unwrap();
        assert!(plan.complete, "{name}");
        let mut per_budget = std::collections::BTreeMap::<String, usize>::new();
        for r in plan
            .runs
            .iter()
            .filter(|r| r.cfg.train.seed == plan.runs[0].cfg.train.seed)
        {
            *per_budget
                .entry(format!("{:e}", r.budget.value()))
                .or_default() += 1;
        }
        assert!(per_budget.len() >= 3, "{name}: {per_budget:?}");
        let least = spec.design.sizes_per_budget.unwrap_or(3);
        assert!(
            per_budget.values().all(|n| *n >= least),
            "{name}: every IsoFLOP profile needs {least} sizes: {per_budget:?}"
        );
    }
}
