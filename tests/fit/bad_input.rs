//! Bad input to `scalelab fit`: one-line errors, `--out` untouched
//! (docs/bad-input.md, "Results CSVs").

use std::fs;
use std::path::Path;

use super::{common, scalelab};

/// A clean one-line failure mentioning every `expect`; `--out` is untouched.
fn fails(args: &[&str], expect: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    fs::create_dir(&out).unwrap();
    fs::write(out.join("fit.json"), "previous").unwrap();
    let mut a: Vec<&str> = args.to_vec();
    let o = out.to_str().unwrap().to_string();
    a.extend(["--out", &o]);
    let r = scalelab(&a);
    let line = common::error_line(&a, &r, expect);
    assert_eq!(
        fs::read_to_string(out.join("fit.json")).unwrap(),
        "previous"
    );
    assert_eq!(fs::read_dir(&out).unwrap().count(), 1);
    let csv_dir = args
        .iter()
        .filter_map(|a| Path::new(a).parent())
        .find(|p| p.starts_with(std::env::temp_dir()))
        .unwrap_or(dir.path());
    common::log_case(&[dir.path(), csv_dir], &a, r.status.code(), &line);
}

fn bad_csv(text: &str, args: &[&str], expect: &[&str]) {
    bad_csv_names(text, args, expect, true)
}

fn bad_csv_names(text: &str, args: &[&str], expect: &[&str], names_file: bool) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("r.csv");
    fs::write(&p, text).unwrap();
    let ps = p.to_str().unwrap();
    let mut a = vec!["fit", ps];
    a.extend(args);
    let mut e: Vec<&str> = expect.to_vec();
    if names_file {
        e.push(ps);
    }
    fails(&a, &e);
}

const GOOD: &str =
    "params,tokens,loss\n1e6,2e7,4.0\n3e6,6e7,3.5\n1e7,2e8,3.1\n3e7,6e8,2.8\n1e8,2e9,2.6\n";

#[test]
fn bad_missing_file() {
    fails(
        &["fit", "/nonexistent/results.csv"],
        &["/nonexistent/results.csv"],
    );
}

#[test]
fn bad_missing_params_column() {
    bad_csv("size,tokens,loss\n1,2,3\n", &[], &["`params`"]);
}

#[test]
fn bad_missing_tokens_column() {
    bad_csv("params,toks,loss\n1,2,3\n", &[], &["`tokens`"]);
}

#[test]
fn bad_missing_loss_column() {
    bad_csv("params,tokens,train\n1,2,3\n", &[], &["`loss`"]);
}

#[test]
fn bad_non_numeric_cell() {
    bad_csv(
        &GOOD.replace("3.1", "abc"),
        &[],
        &["row 3", "`loss`", "abc"],
    );
}

#[test]
fn bad_non_positive_params() {
    bad_csv(
        &GOOD.replace("3e7,6e8", "-3e7,6e8"),
        &[],
        &["row 4", "`params`", "> 0"],
    );
}

#[test]
fn bad_zero_tokens() {
    bad_csv(
        &GOOD.replace("1e6,2e7", "1e6,0"),
        &[],
        &["row 1", "`tokens`", "> 0"],
    );
}

#[test]
fn bad_too_few_points() {
    bad_csv(
        "params,tokens,loss,status\n1e6,2e7,4,ok\n3e6,6e7,3.5,ok\n1e7,2e8,3.1,diverged\n",
        &[],
        &["at least 3"],
    );
}

#[test]
fn bad_holdout_too_large() {
    bad_csv(GOOD, &["--holdout", "5"], &["--holdout 5"]);
}

#[test]
fn bad_bootstrap_zero() {
    bad_csv_names(
        GOOD,
        &["--bootstrap", "0"],
        &["--bootstrap", "at least 1"],
        false,
    );
}

#[test]
fn bad_bootstrap_negative() {
    bad_csv_names(GOOD, &["--bootstrap", "-5"], &["--bootstrap", "-5"], false);
}

#[test]
fn bad_curves_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("r.csv");
    fs::write(&p, GOOD).unwrap();
    let c = dir.path().join("curves.csv");
    fs::write(&c, "run,params,tokens,loss\na,1e6,x,3\n").unwrap();
    fails(
        &["fit", p.to_str().unwrap()],
        &[c.to_str().unwrap(), "`tokens`"],
    );
}
