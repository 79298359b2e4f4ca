//! `scalelab fit`'s Approach 3 starting grids (Hoffmann et al.'s, and the wider
//! default under its own name) and the labels of the fit table.

mod common;

use scalelab::scaling::approach3::Grid;
use scalelab::scaling::Law3;

/// Hoffmann et al. 2022 Appendix D.2: e ∈ {−1, −0.5, …, 1}; the default widens e to 1.5.
#[test]
fn hoffmann_grid_is_appendix_d2_and_wide_is_named_apart() {
    let h = Grid::hoffmann();
    assert_eq!(h.e, [-1.0, -0.5, 0.0, 0.5, 1.0]);
    assert_eq!(h.alpha, [0.0, 0.5, 1.0, 1.5, 2.0]);
    assert_eq!(h.a, [0.0, 5.0, 10.0, 15.0, 20.0, 25.0]);
    assert_eq!(h.starts().len(), 4500);
    let w = Grid::wide();
    assert_eq!(w.e.last(), Some(&1.5));
    assert_eq!(w.starts().len(), 5400);
    assert_eq!(scalelab::scaling::FitOptions::default().grid, w);
}

/// The table labels the derived exponents with the Greek names they are made of, and
/// `--grid hoffmann` runs from 4500 starts.
#[test]
fn fit_table_labels_and_grid_choice() {
    let law = Law3 {
        e: 1.69,
        a: 406.4,
        b: 410.7,
        alpha: 0.34,
        beta: 0.28,
    };
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("results.csv");
    let mut s = String::from("run,params,tokens,loss\n");
    for (i, n) in [1e6, 3e6, 1e7, 3e7, 1e8].into_iter().enumerate() {
        for (j, tpp) in [5.0, 20.0, 80.0].into_iter().enumerate() {
            s += &format!("r{i}{j},{n},{},{}\n", n * tpp, law.loss(n, n * tpp));
        }
    }
    std::fs::write(&csv, s).unwrap();
    let c = csv.to_str().unwrap();
    let run = |grid: &str, json: bool| {
        let mut a = vec!["fit", c, "--bootstrap", "2", "--grid", grid];
        if json {
            a.push("--json");
        }
        let o = common::run_cli(dir.path(), &[], &a);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    };
    let text = run("coarse", false);
    assert!(text.contains("a = β/(α+β)"), "{text}");
    assert!(text.contains("b = α/(α+β)"), "{text}");
    let v: serde_json::Value = serde_json::from_str(&run("hoffmann", true)).unwrap();
    assert_eq!(v["approach3"]["starts"], 4500);
}
