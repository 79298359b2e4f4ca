//! The command: `scalelab fit` on a results CSV, its JSON, fit.json and table.

use scalelab::scaling::Point;
use std::fs;
use std::path::Path;

use super::{isoflop_points, scalelab, BUDGETS, CHINCHILLA};

fn write_results(path: &Path, pts: &[Point], extra: bool) {
    let mut s = String::from(if extra {
        "run,params,tokens,flops,val_loss,status,wall_s,tok_per_s,mfu,note\n"
    } else {
        "run,params,tokens,loss\n"
    });
    for (i, p) in pts.iter().enumerate() {
        if extra {
            let wall = p.flops / (1e12 * (p.params / 1e6).powf(0.2));
            s += &format!(
                "{},{},{},{},{},ok,{},{},{},x\n",
                p.run,
                p.params,
                p.tokens,
                p.flops,
                p.loss,
                wall,
                p.tokens / wall,
                0.3,
            );
        } else {
            s += &format!("{},{},{},{}\n", p.run, p.params, p.tokens, p.loss);
        }
        if extra && i == 0 {
            s += "failed,1,1,1,nan,oom,,,,\n";
        }
    }
    fs::write(path, s).unwrap();
}

#[test]
fn cli_fit_writes_json_and_fit_json() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("results.csv");
    write_results(
        &csv,
        &isoflop_points(&CHINCHILLA, &BUDGETS, 8, 0.8, 0.003, 5),
        true,
    );
    let out = dir.path().join("fit");
    let o = scalelab(&[
        "fit",
        csv.to_str().unwrap(),
        "--json",
        "--out",
        out.to_str().unwrap(),
        "--bootstrap",
        "20",
        "--grid",
        "coarse",
        "--holdout",
        "3",
    ]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let a3 = &v["approach3"];
    for k in [
        "E",
        "A",
        "B",
        "alpha",
        "beta",
        "a",
        "b",
        "objective",
        "n_points",
    ] {
        assert!(a3[k].is_number(), "approach3.{k}: {a3}");
    }
    assert!(a3["ci"]["alpha"].as_array().unwrap().len() == 2);
    assert_eq!(a3["n_points"], 37);
    assert!(v["approach2"]["budgets"].as_array().unwrap().len() == 5);
    assert!(
        v["approach2"]["budgets"][0]["parabola"]
            .as_array()
            .unwrap()
            .len()
            == 3
    );
    assert!(v["approach1"]["points"].is_array());
    assert!(v["cost_model"]["devices"][0]["flops_per_s"]["exponent"].is_number());
    assert!(v["holdout"]["runs"].as_array().unwrap().len() == 3);
    assert!(v["holdout"]["mean_abs_rel_error"].as_f64().unwrap() < 0.02);
    let written: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(out.join("fit.json")).unwrap()).unwrap();
    assert_eq!(written, v);
    // The report type reads it back.
    let rep: scalelab::scaling::FitReport = serde_json::from_value(written).unwrap();
    assert_eq!(rep.n_points, 37);
    // The table names every section.
    let o = scalelab(&[
        "fit",
        csv.to_str().unwrap(),
        "--bootstrap",
        "10",
        "--grid",
        "coarse",
    ]);
    let text = String::from_utf8_lossy(&o.stdout);
    for s in [
        "Approach 3",
        "Approach 2",
        "Approach 1",
        "Cost model",
        "alpha",
        "95% CI",
    ] {
        assert!(text.contains(s), "table lacks {s}:\n{text}");
    }
}
