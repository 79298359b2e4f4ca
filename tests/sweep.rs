//! `scalelab sweep`: trains every run of a spec, records results, resumes,
//! records a failed run and retries only it, and its --jobs / --collect path
//! produces the same results folder.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn scalelab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_scalelab"))
        .args(args)
        .current_dir(common::repo_root())
        .output()
        .unwrap()
}

fn spec(fx: &common::Fixture) -> PathBuf {
    let text = format!(
        r#"
base = "{}"
set = ["model.aspect_ratio=16", "model.head_dim=16", "train.checkpoint_every=3"]
evals_per_run = 3
warmup_frac = 0.1
[sizes]
depth = [1, 2, 3]
[design]
isoflop = [2e8, 4e8]
"#,
        fx.config_path.display()
    );
    let p = fx.path("spec.toml");
    std::fs::write(&p, text).unwrap();
    p
}

fn rows(dir: &Path) -> Vec<csv::StringRecord> {
    let mut r = csv::Reader::from_path(dir.join("results.csv")).unwrap();
    let h = r.headers().unwrap().clone();
    for col in [
        "run",
        "params",
        "non_embedding_params",
        "tokens",
        "flops",
        "final_train_loss",
        "val_loss",
        "val_bpb",
        "wall_s",
        "tok_per_s",
        "mfu",
        "device",
        "status",
    ] {
        assert!(
            h.iter().any(|c| c == col),
            "results.csv lacks column {col}: {h:?}"
        );
    }
    r.records().map(|x| x.unwrap()).collect()
}

fn col(dir: &Path, name: &str) -> usize {
    csv::Reader::from_path(dir.join("results.csv"))
        .unwrap()
        .headers()
        .unwrap()
        .iter()
        .position(|c| c == name)
        .unwrap()
}

/// The whole sweep, fit and report (a small bootstrap); it must succeed.
fn sweep_with_report(spec: &Path, out: &Path) -> Output {
    let o = scalelab(&[
        "sweep",
        spec.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--quiet",
        "--bootstrap",
        "20",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    o
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn sweep_trains_every_run_and_skips_finished_ones() {
    let fx = common::Fixture::new();
    let spec = spec(&fx);
    let out = fx.path("sweep");
    sweep_with_report(&spec, &out);
    let rs = rows(&out);
    assert_eq!(rs.len(), 6);
    // The sweep ends with its fit and report: fit.json, report.md and every chart as SVG and PNG.
    let fit: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("fit.json")).unwrap()).unwrap();
    assert!(fit["approach3"]["alpha"].as_f64().is_some(), "{fit}");
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        md.contains("No MFU was measured"),
        "CPU runs have no MFU; the report must say so"
    );
    for section in [
        "## Runs",
        "## Training curves",
        "## Scaling-law fit",
        "## Extrapolation to 1–175B parameters",
    ] {
        assert!(md.contains(section), "report.md lacks {section}");
    }
    for chart in [
        "loss_vs_tokens",
        "loss_vs_flops",
        "loss_vs_time",
        "isoflop",
        "n_opt_vs_compute",
        "frontier",
        "cost",
    ] {
        for ext in ["svg", "png"] {
            let p = out.join("charts").join(format!("{chart}.{ext}"));
            assert!(
                std::fs::metadata(&p)
                    .map(|m| m.len() > 1000)
                    .unwrap_or(false),
                "{} missing or empty",
                p.display()
            );
        }
        assert!(
            md.contains(&format!("charts/{chart}.png")),
            "report.md does not show {chart}"
        );
    }
    let (st, fl, loss) = (
        col(&out, "status"),
        col(&out, "flops"),
        col(&out, "val_loss"),
    );
    for r in &rs {
        assert_eq!(&r[st], "ok", "{r:?}");
        let flops: f64 = r[fl].parse().unwrap();
        let budget: f64 = if r[0].ends_with("c2e8") { 2e8 } else { 4e8 };
        // IsoFLOP: each run spends its budget to within one step.
        assert!(flops <= budget && flops > 0.6 * budget, "{r:?}");
        assert!(r[loss].parse::<f64>().unwrap() < 6.0);
    }
    let curves = std::fs::read_to_string(out.join("curves.csv")).unwrap();
    assert!(curves.lines().count() > 6 * 2, "{curves}");

    let stamp = |n: &str| {
        std::fs::metadata(out.join("runs").join(n).join("summary.json"))
            .unwrap()
            .modified()
            .unwrap()
    };
    let before = stamp("d1-c2e8");
    let o = scalelab(&[
        "sweep",
        spec.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--quiet",
        "--no-report",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        text(&o).matches("finished earlier").count(),
        6,
        "{}",
        text(&o)
    );
    assert_eq!(stamp("d1-c2e8"), before, "a finished run was retrained");
}

#[test]
fn failed_run_is_recorded_then_retried_alone() {
    let fx = common::Fixture::new();
    let spec = spec(&fx);
    let out = fx.path("sweep");
    // A file where a run folder should be: that run cannot start.
    std::fs::create_dir_all(out.join("runs")).unwrap();
    std::fs::write(out.join("runs/d2-c2e8"), "in the way").unwrap();
    let o = scalelab(&[
        "sweep",
        spec.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--quiet",
        "--no-report",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let (st, err) = (col(&out, "status"), col(&out, "error"));
    let rs = rows(&out);
    let failed: Vec<_> = rs.iter().filter(|r| &r[st] == "failed").collect();
    assert_eq!(failed.len(), 1, "{rs:?}");
    assert_eq!(&failed[0][0], "d2-c2e8");
    assert!(
        failed[0][err].contains("d2-c2e8"),
        "the error names the run folder: {:?}",
        &failed[0][err]
    );
    assert_eq!(rs.iter().filter(|r| &r[st] == "ok").count(), 5);

    std::fs::remove_file(out.join("runs/d2-c2e8")).unwrap();
    let o = scalelab(&[
        "sweep",
        spec.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--quiet",
        "--no-report",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        text(&o).matches("finished earlier").count(),
        5,
        "{}",
        text(&o)
    );
    assert!(rows(&out).iter().all(|r| &r[st] == "ok"));
}

#[test]
fn jobs_commands_and_collect_build_the_same_folder() {
    let fx = common::Fixture::new();
    let spec = spec(&fx);
    let out = fx.path("sweep");
    let o = scalelab(&[
        "sweep",
        spec.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--jobs",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let cmds: Vec<String> = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(cmds.len(), 6);
    // Run two of the jobs as a scheduler would (through a shell), then collect.
    for c in &cmds[..2] {
        let s = Command::new("sh")
            .arg("-c")
            .arg(c)
            .current_dir(common::repo_root())
            .status()
            .unwrap();
        assert!(s.success(), "{c}");
    }
    let o = scalelab(&[
        "sweep",
        spec.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--collect",
        "--no-report",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let st = col(&out, "status");
    assert_eq!(rows(&out).iter().filter(|r| &r[st] == "ok").count(), 2);
    // The remaining jobs are the only ones --jobs prints now.
    let o = scalelab(&[
        "sweep",
        spec.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--jobs",
    ]);
    assert_eq!(String::from_utf8(o.stdout).unwrap().lines().count(), 4);
    // The same spec trained in one process gives the same losses, bit for bit.
    let solo = fx.path("solo");
    let o = scalelab(&[
        "sweep",
        spec.to_str().unwrap(),
        "--out",
        solo.to_str().unwrap(),
        "--quiet",
        "--no-report",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let lc = col(&out, "val_loss");
    let by_run = |d: &Path| {
        rows(d)
            .into_iter()
            .map(|r| (r[0].to_string(), r[lc].to_string()))
            .collect::<std::collections::BTreeMap<_, _>>()
    };
    let (a, b) = (by_run(&out), by_run(&solo));
    for (run, loss) in a.iter().filter(|(_, l)| !l.is_empty()) {
        assert_eq!(
            Some(loss),
            b.get(run),
            "{run}: a job run differs from the in-process run"
        );
    }
}

#[test]
fn interrupted_sweep_exits_130_and_the_same_command_finishes_it() {
    let fx = common::Fixture::new();
    let spec = spec(&fx);
    let out = fx.path("sweep");
    let args = [
        "sweep",
        spec.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--quiet",
        "--no-report",
    ];
    // Slow checkpoint writes (test hook) so the signal lands inside a run.
    let child = Command::new(env!("CARGO_BIN_EXE_scalelab"))
        .args(args)
        .current_dir(common::repo_root())
        .env("SCALELAB_FAULT_CKPT_SLEEP_MS", "150")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Signal once the first run is training (its handlers are installed then);
    // a fixed delay raced the start-up on a loaded machine.
    let t0 = std::time::Instant::now();
    while t0.elapsed().as_secs() < 120
        && !std::fs::read_dir(out.join("runs"))
            .map(|d| d.flatten().any(|e| e.path().join("metrics.jsonl").exists()))
            .unwrap_or(false)
    {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(130), "{}", text(&o));
    assert!(
        text(&o).contains("run the same command again"),
        "{}",
        text(&o)
    );
    let o = scalelab(&args);
    assert!(o.status.success(), "{}", text(&o));
    let st = col(&out, "status");
    assert!(rows(&out).iter().all(|r| &r[st] == "ok"));
}

/// `[validation]`: two runs at 4× the largest budget, trained after the
/// fit of the others, scored by the verdict, never fitted.
#[test]
fn validation_runs_train_after_the_fit_and_stay_out_of_it() {
    let fx = common::Fixture::new();
    let spec = spec(&fx);
    let text_spec = std::fs::read_to_string(&spec).unwrap() + "[validation]\nmultiple = 4\n";
    std::fs::write(&spec, text_spec).unwrap();
    let out = fx.path("sweep");
    let o = sweep_with_report(&spec, &out);
    assert!(text(&o).contains("verdict: "), "{}", text(&o));
    let rs = rows(&out);
    let (design, st) = (col(&out, "design"), col(&out, "status"));
    let val: Vec<_> = rs.iter().filter(|r| &r[design] == "validation").collect();
    assert_eq!((rs.len(), val.len()), (8, 2), "{rs:?}");
    for r in &val {
        assert!(
            r[0].starts_with("val-") && r[0].ends_with("-c1.6e9"),
            "{r:?}"
        );
        assert_eq!(&r[st], "ok");
    }
    let curves = std::fs::read_to_string(out.join("curves.csv")).unwrap();
    assert!(!curves.contains("val-"), "validation runs in curves.csv");
    let fit: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("fit.json")).unwrap()).unwrap();
    assert_eq!(fit["approach3"]["n_points"].as_u64(), Some(6), "{fit}");
    let v = &fit["verdict"];
    assert_eq!(v["validation"].as_array().map(Vec::len), Some(2), "{v}");
    assert_eq!(
        v["fitted_up_to_flops"].as_f64().map(|f| f <= 4e8),
        Some(true)
    );
    assert!(v["credible"].is_boolean());
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.find("## Verdict").unwrap() < md.find("## Runs").unwrap());
}

/// `seeds = [...]`: every (size, budget) once per seed, named `-sN`, with its
/// `train.seed`; a repeated seed is refused.
#[test]
fn seeds_replicate_every_run() {
    let fx = common::Fixture::new();
    let spec = spec(&fx);
    let base = std::fs::read_to_string(&spec).unwrap();
    std::fs::write(&spec, format!("seeds = [7, 8]\n{base}")).unwrap();
    let (s, _) = scalelab::sweep::spec::Spec::load(&spec).unwrap();
    let plan = s.plan().unwrap();
    assert_eq!(plan.len(), 12);
    for r in &plan {
        let seed = r.cfg.train.seed;
        assert!(r.name.ends_with(&format!("-s{seed}")), "{}", r.name);
        assert!([7, 8].contains(&seed));
    }
    std::fs::write(&spec, format!("seeds = [7, 7]\n{base}")).unwrap();
    let e = scalelab::sweep::spec::Spec::load(&spec).unwrap_err();
    assert!(format!("{e:#}").contains("seeds"), "{e:#}");
}

/// `--set` overrides every run's config after the spec's own `set`, is
/// recorded in the folder's spec.toml (so a different `--set` is a different
/// sweep), and a bad key is a one-line error.
#[test]
fn set_flag_overrides_every_run_and_is_part_of_the_spec() {
    let fx = common::Fixture::new();
    let spec = spec(&fx);
    let out = fx.path("sweep");
    let (s, o) = (spec.to_str().unwrap(), out.to_str().unwrap());
    let r = scalelab(&["sweep", s, "--out", o, "--jobs", "--set", "optim.lr=0.0123"]);
    assert!(r.status.success(), "{}", text(&r));
    let cfgs: Vec<_> = std::fs::read_dir(out.join("configs")).unwrap().collect();
    assert_eq!(cfgs.len(), 6);
    for c in cfgs {
        let t = std::fs::read_to_string(c.unwrap().path()).unwrap();
        assert!(t.contains("lr = 0.0123"), "{t}");
    }
    assert!(std::fs::read_to_string(out.join("spec.toml"))
        .unwrap()
        .contains("optim.lr=0.0123"));
    let r = scalelab(&["sweep", s, "--out", o, "--jobs", "--set", "optim.lr=0.5"]);
    assert!(
        !r.status.success() && text(&r).contains("different spec"),
        "{}",
        text(&r)
    );
    let r = scalelab(&["sweep", s, "--out", o, "--jobs", "--set", "optim.nope=1"]);
    let t = text(&r);
    assert!(
        !r.status.success() && t.contains("`nope`") && t.trim().lines().count() == 1,
        "{t}"
    );
}

/// `sweep --memory-budget` reaches every run: the --jobs commands carry it,
/// and a budget no run fits refuses each one (recorded as failed, with the
/// memory line) before it trains.
#[test]
fn memory_budget_applies_to_every_run() {
    let fx = common::Fixture::new();
    let spec = spec(&fx);
    let out = fx.path("sweep");
    let (s, o) = (spec.to_str().unwrap(), out.to_str().unwrap());
    let r = scalelab(&["sweep", s, "--out", o, "--jobs", "--memory-budget", "1GiB"]);
    assert!(r.status.success(), "{}", text(&r));
    let cmds = String::from_utf8(r.stdout).unwrap();
    assert_eq!(cmds.lines().count(), 6);
    assert!(
        cmds.lines()
            .all(|c| c.ends_with(" --memory-budget 1073741824")),
        "{cmds}"
    );
    let tight = fx.path("tight");
    let t = tight.to_str().unwrap();
    let r = scalelab(&[
        "sweep",
        s,
        "--out",
        t,
        "--quiet",
        "--no-report",
        "--memory-budget",
        "1KB",
    ]);
    let all = text(&r);
    assert!(all.contains("--memory-budget allows"), "{all}");
    let st = col(&tight, "status");
    let rows = rows(&tight);
    assert!(
        !rows.is_empty() && rows.iter().all(|r| &r[st] == "failed"),
        "{all}"
    );
    assert!(
        !tight.join("runs").exists()
            || std::fs::read_dir(tight.join("runs"))
                .unwrap()
                .all(|d| { !d.unwrap().path().join("checkpoints").exists() })
    );
}
