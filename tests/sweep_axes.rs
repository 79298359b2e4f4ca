//! Hyperparameter axes of sweep specs (`[axes]`: lr, batch_size, beta2):
//! the expansion, its run names and configs, its validation, and a tiny sweep
//! over learning rates whose report fits the optimal LR against compute.

mod common;

use scalelab::sweep::spec::Spec;
use std::path::{Path, PathBuf};

/// A spec over depths 1 and 2 at two FLOP budgets, with `extra` before the tables.
fn spec(fx: &common::Fixture, extra: &str, axes: &str) -> PathBuf {
    let text = format!(
        r#"base = "{}"
set = ["model.aspect_ratio=16", "model.head_dim=16", "train.checkpoint_every=100"]
evals_per_run = 3
warmup_frac = 0.1
{extra}
[sizes]
depth = [1, 2]
[design]
isoflop = [2e8, 4e8]
{axes}
"#,
        fx.config_path.display()
    );
    let p = fx.path("spec.toml");
    std::fs::write(&p, text).unwrap();
    p
}

/// `scalelab sweep SPEC --out <fixture>/sweep --quiet EXTRA…`, which must succeed; the folder.
fn sweep(fx: &common::Fixture, spec: &Path, extra: &[&str]) -> PathBuf {
    let out = fx.path("sweep");
    let mut args = vec![
        "sweep",
        spec.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ];
    args.extend(extra);
    let o = common::run_cli(fx.dir.path(), &[], &args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    out
}

fn load_err(p: &Path) -> String {
    format!("{:#}", Spec::load(p).unwrap_err())
}

/// Every (size, budget) once per combination and seed, run-major, named
/// `<size>-<budget>-lr…-b…-beta…-s…`, each config carrying its values; the
/// batch axis keeps the budget and re-derives steps, evaluation and warm-up.
#[test]
fn axes_expand_every_run_over_the_grid_and_seeds() {
    let fx = common::Fixture::new();
    let base = Spec::load(&spec(&fx, "", "")).unwrap().0.plan().unwrap();
    let p = spec(
        &fx,
        "seeds = [1, 2]",
        "[axes]\nlr = [1e-3, 3e-3]\nbatch_size = [4, 8]\nbeta2 = [0.95, 0.99]",
    );
    let plan = Spec::load(&p).unwrap().0.plan().unwrap();
    assert_eq!(plan.len(), base.len() * 16);
    assert_eq!(plan[0].name, "d1-c2e8-lr1e-3-b4-beta0.95-s1");
    assert_eq!(plan[15].name, "d1-c2e8-lr3e-3-b8-beta0.99-s2");
    let mut names: Vec<&str> = plan.iter().map(|r| r.name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), plan.len(), "run names must be unique");
    for r in &plan {
        assert!(
            r.name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-.".contains(c)),
            "{}",
            r.name
        );
        let b = base
            .iter()
            .find(|b| r.name.starts_with(&format!("{}-", b.name)))
            .unwrap();
        let (o, t) = (&r.cfg.optim, &r.cfg.train);
        assert!(r.name.contains(&format!("-b{}-", t.batch_size)));
        assert!(r.name.ends_with(&format!("-s{}", t.seed)));
        assert!(r.name.contains(&format!("-beta{}-", o.beta2)));
        // min_lr keeps its ratio to the peak.
        let ratio = b.cfg.optim.min_lr / b.cfg.optim.lr;
        assert!((o.min_lr / o.lr - ratio).abs() < 1e-12, "{}", r.name);
        assert!([1e-3, 3e-3].contains(&o.lr));
        // The budget is fixed: twice the batch, half the steps; eval and warm-up follow.
        let steps = scalelab::flops::total_steps(&r.cfg);
        assert_eq!(t.max_flops, b.cfg.train.max_flops);
        assert_eq!(t.eval_every, (steps / 3).max(1), "{}", r.name);
        assert_eq!(
            o.warmup_steps,
            (0.1 * steps as f64).round() as usize,
            "{}",
            r.name
        );
    }
    let steps = |name: &str| {
        scalelab::flops::total_steps(&plan.iter().find(|r| r.name == name).unwrap().cfg)
    };
    let (s4, s8) = (
        steps("d2-c4e8-lr1e-3-b4-beta0.95-s1"),
        steps("d2-c4e8-lr1e-3-b8-beta0.95-s1"),
    );
    assert!(s4 >= 2 * s8 && s4 <= 2 * s8 + 1, "{s4} vs {s8}");
}

/// Specs without `[axes]` serialize as before (a sweep folder compares its
/// spec.toml), and one axis alone adds only its own suffix.
#[test]
fn absent_axes_change_neither_names_nor_the_recorded_spec() {
    let fx = common::Fixture::new();
    let (s, _) = Spec::load(&spec(&fx, "", "")).unwrap();
    assert!(!toml::to_string_pretty(&s).unwrap().contains("axes"));
    assert_eq!(s.plan().unwrap()[0].name, "d1-c2e8");
    let (s, _) = Spec::load(&spec(&fx, "", "[axes]\nlr = [0.01]")).unwrap();
    let plan = s.plan().unwrap();
    assert_eq!(plan[0].name, "d1-c2e8-lr1e-2");
    assert_eq!(plan[0].cfg.optim.lr, 0.01);
    assert!(toml::to_string_pretty(&s).unwrap().contains("[axes]"));
}

#[test]
fn bad_axis_values_are_refused_naming_the_field() {
    let fx = common::Fixture::new();
    for (axes, expect) in [
        (
            "lr = [1e-3, -1e-3]",
            "axes.lr: values must be positive numbers, got -0.001",
        ),
        ("lr = [1e-3, 1.001e-3]", "axes.lr: each value once"),
        ("lr = []", "axes.lr is empty"),
        (
            "beta2 = [0.9, 1.0]",
            "axes.beta2: values must be in (0, 1), got 1",
        ),
        (
            "batch_size = [0]",
            "axes.batch_size: values must be at least 1, got 0",
        ),
        (
            "batch_size = [8, 8]",
            "axes.batch_size: each value once, got 8 and 8",
        ),
        ("momentum = [0.9]", "unknown field `momentum`"),
    ] {
        let e = load_err(&spec(&fx, "", &format!("[axes]\n{axes}")));
        assert!(e.contains(expect), "{axes}: {e}");
        assert_eq!(e.lines().count(), 1, "{e}");
    }
    // Caught when planning: a batch the base config's ranks do not divide …
    let two_ranks = std::fs::read_to_string(&fx.config_path)
        .unwrap()
        .replace("[train]\n", "[train]\nranks = 2\n");
    std::fs::write(fx.path("r2.toml"), two_ranks).unwrap();
    let p = spec(&fx, "", "[axes]\nbatch_size = [4, 5, 8]");
    let text = std::fs::read_to_string(&p).unwrap().replace(
        &fx.config_path.display().to_string(),
        &fx.path("r2.toml").display().to_string(),
    );
    std::fs::write(&p, text).unwrap();
    let e = format!("{:#}", Spec::load(&p).unwrap().0.plan().unwrap_err());
    assert!(
        e.contains("axes: run d1-c2e8-b5") && e.contains("divisible by train.ranks"),
        "{e}"
    );
    // … or whose one step is above the budget.
    let (s, _) = Spec::load(&spec(&fx, "", "[axes]\nbatch_size = [4, 100000]")).unwrap();
    let e = format!("{:#}", s.plan().unwrap_err());
    assert!(
        e.contains("axes.batch_size = 100000") && e.contains("smaller than one training step"),
        "{e}"
    );
}

/// 2 sizes × 2 budgets × 3 learning rates: the fit uses the best LR of each
/// (size, budget), the report draws loss vs LR per budget and fits the
/// optimal LR against compute — undetermined with 2 budgets, and it says so.
#[test]
fn a_tiny_lr_sweep_reports_loss_vs_lr_and_the_optimal_lr() {
    let fx = common::Fixture::new();
    let p = spec(&fx, "", "[axes]\nlr = [1e-3, 6e-3, 3e-2]");
    let out = sweep(&fx, &p, &["--bootstrap", "10"]);
    let rows = scalelab::rundir::results::read_rows(&out.join("results.csv")).unwrap();
    assert_eq!(rows.len(), 12);
    assert!(rows.iter().all(|r| r.status == "ok" && r.lr.is_some()));
    let fit: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("fit.json")).unwrap()).unwrap();
    assert_eq!(fit["n_points"].as_u64(), Some(4), "tuned points: {fit}");
    let h = &fit["hparams"];
    assert_eq!(h["grids"].as_u64(), Some(4), "{h}");
    let lr = &h["axes"][0];
    assert_eq!(lr["axis"], "lr");
    let budgets = lr["budgets"].as_array().unwrap();
    assert_eq!(budgets.len(), 2, "{lr}");
    for b in budgets {
        let opt = b["optimum"].as_f64().unwrap();
        assert!((1e-3..=3e-2).contains(&opt), "{b}");
    }
    assert_eq!(lr["determined"], false);
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("## Hyperparameters"), "{md}");
    assert!(md.contains("NOT DETERMINED"), "{md}");
    assert!(md.contains("best run of each hyperparameter grid"), "{md}");
    for b in ["2e8", "4e8"] {
        let stem = format!("loss_vs_lr_{b}");
        assert!(md.contains(&format!("charts/{stem}.png")), "{md}");
        let png = out.join("charts").join(format!("{stem}.png"));
        assert!(std::fs::metadata(&png)
            .map(|m| m.len() > 1000)
            .unwrap_or(false));
    }
}

/// `[validation]` with an lr axis: the fit that plans the validation runs
/// sees the best lr of each (size, budget), and the validation runs train
/// with the lr of the best run at the largest budget.
#[test]
fn validation_runs_take_the_best_grid_values() {
    let fx = common::Fixture::new();
    let p = spec(
        &fx,
        "",
        "[axes]\nlr = [1e-3, 1e-2]\n[validation]\nmultiple = 2",
    );
    let text = std::fs::read_to_string(&p)
        .unwrap()
        .replace("depth = [1, 2]", "depth = [1, 2, 3]");
    std::fs::write(&p, text).unwrap();
    let out = sweep(&fx, &p, &["--no-report"]);
    let rows = scalelab::rundir::results::read_rows(&out.join("results.csv")).unwrap();
    let best = rows
        .iter()
        .filter(|r| r.budget == 4e8)
        .min_by(|a, b| a.val_loss.unwrap().total_cmp(&b.val_loss.unwrap()))
        .unwrap();
    let val: Vec<_> = rows.iter().filter(|r| r.design == "validation").collect();
    assert_eq!((rows.len(), val.len()), (14, 2));
    for r in val {
        assert_eq!(r.status, "ok", "{r:?}");
        assert_eq!(r.lr, best.lr, "{} vs best {}", r.run, best.run);
    }
}
