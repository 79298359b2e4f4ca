//! Hyperparameter grids in the fit: the tuned-point selection (the best run
//! of each grid), the DeepSeek-style optimal-LR law recovered from synthetic
//! runs, an optimum at the grid's edge flagged, and the CSV columns read.

use scalelab::scaling::{fit_tuned, hparams, tuned, Curve, Eval, FitOptions, Point};

/// The law the synthetic optima follow: lr_opt = 0.5·C^-0.12.
fn lr_opt(c: f64) -> f64 {
    0.5 * c.powf(-0.12)
}

/// Runs of three sizes per budget over an LR grid of `lrs` (multiples of the
/// budget's optimum): loss = a parabola in ln(lr) around lr_opt(C), lowest
/// at the middle size.
fn grid(budgets: &[f64], lrs: &[f64]) -> Vec<Point> {
    let mut v = Vec::new();
    for &c in budgets {
        for (j, n) in [1e6, 2e6, 4e6].into_iter().enumerate() {
            for &m in lrs {
                let lr = lr_opt(c) * m;
                let size_penalty = [0.05, 0.0, 0.08][j];
                let loss = 3.0 - 0.1 * c.log10() + size_penalty + 0.2 * m.ln().powi(2);
                v.push(Point {
                    budget: Some(c),
                    flops: c,
                    lr: Some(lr),
                    batch_size: Some(32.0),
                    ..Point::new(format!("c{c:e}-n{j}-lr{m}"), n, c / (6.0 * n), loss)
                });
            }
        }
    }
    v
}

#[test]
fn the_optimal_lr_law_is_recovered_from_parabola_shaped_losses() {
    let budgets = [1e15, 1e16, 1e17, 1e18];
    // An asymmetric grid: the best grid value is not the optimum itself.
    let pts = grid(&budgets, &[0.3, 0.7, 1.6, 3.5]);
    let t = tuned::select(&pts);
    let h = hparams::fit(&pts, t.grid_runs, t.grids).expect("a grid");
    assert_eq!(h.axes.len(), 1, "batch_size has one value: no axis");
    let a = &h.axes[0];
    assert_eq!(a.axis, "lr");
    assert_eq!(a.budgets.len(), 4);
    for (o, c) in a.budgets.iter().zip(budgets) {
        assert_eq!(o.params, 2e6, "the best size of each budget");
        assert!(!o.at_edge);
        assert!((o.optimum / lr_opt(c) - 1.0).abs() < 1e-9, "{o:?}");
    }
    let law = a.law.as_ref().unwrap();
    assert!((law.coef / 0.5 - 1.0).abs() < 1e-6, "{law:?}");
    assert!((law.exponent + 0.12).abs() < 1e-9, "{law:?}");
    let [lo, hi] = law.exponent_ci.unwrap();
    assert!(lo <= -0.12 + 1e-9 && hi >= -0.12 - 1e-9, "{law:?}");
    assert!(a.determined, "{:?}", a.notes);
    assert!(
        a.law_text().starts_with("lr_opt = 0.5000·C^-0.120"),
        "{}",
        a.law_text()
    );
}

#[test]
fn an_optimum_at_the_grid_edge_leaves_the_law_undetermined() {
    let budgets = [1e15, 1e16, 1e17];
    let mut pts = grid(&budgets, &[0.5, 1.0, 2.0]);
    // At the largest budget, the grid stops below the optimum.
    pts.retain(|p| p.budget != Some(1e17));
    pts.extend(grid(&[1e17], &[0.1, 0.2, 0.4]));
    let t = tuned::select(&pts);
    let a = &hparams::fit(&pts, t.grid_runs, t.grids).unwrap().axes[0];
    let edge = &a.budgets[2];
    assert!(edge.at_edge && edge.optimum == edge.grid_best, "{edge:?}");
    assert!((edge.optimum / lr_opt(1e17) - 0.4).abs() < 1e-9);
    assert!(!a.determined);
    assert_eq!(a.law.as_ref().unwrap().budgets, 2, "interior budgets only");
    assert!(a.law_text().contains("grid edge"), "{}", a.law_text());
    // Two budgets only: said too.
    let two = grid(&budgets[..2], &[0.5, 1.0, 2.0]);
    let t = tuned::select(&two);
    let a = &hparams::fit(&two, t.grid_runs, t.grids).unwrap().axes[0];
    assert!(
        !a.determined && a.law_text().contains("at least 3"),
        "{}",
        a.law_text()
    );
}

#[test]
fn tuned_points_keep_the_best_run_of_each_grid_and_seed() {
    let mut pts = grid(&[1e15, 1e16], &[0.5, 1.0, 2.0]);
    // A second seed, worse everywhere: its own grid.
    let seed2: Vec<Point> = pts
        .iter()
        .map(|p| Point {
            run: format!("{}-s2", p.run),
            seed: Some(2),
            loss: p.loss + 0.01,
            ..p.clone()
        })
        .collect();
    pts.extend(seed2);
    let t = tuned::select(&pts);
    assert_eq!((t.grids, t.grid_runs), (12, 36));
    assert_eq!(t.points.len(), 12);
    let names: Vec<&str> = t.points.iter().map(|p| p.run.as_str()).collect();
    assert!(
        names
            .iter()
            .all(|n| n.ends_with("-lr1") || n.ends_with("-lr1-s2")),
        "{names:?}"
    );
    assert_eq!(names.iter().filter(|n| n.ends_with("-s2")).count(), 6);
    // Points without hyperparameter columns are never merged, even at equal size and budget.
    let plain: Vec<Point> = (0..3)
        .map(|i| Point {
            budget: Some(1e15),
            ..Point::new(format!("r{i}"), 1e6, 1e8, 3.0 + i as f64)
        })
        .collect();
    let t = tuned::select(&plain);
    assert!(!t.has_grid());
    assert_eq!(t.points, plain);
}

/// `fit_tuned`: the laws see one point per grid and only those runs' curves;
/// the hparams object comes along.
#[test]
fn fit_tuned_fits_the_best_runs_and_their_curves() {
    let pts = grid(&[1e15, 1e16, 1e17], &[0.5, 1.0, 2.0]);
    let curves: Vec<Curve> = pts
        .iter()
        .map(|p| {
            let e = |f: f64| Eval {
                tokens: p.tokens * f,
                flops: p.flops * f,
                loss: p.loss + (1.0 - f),
            };
            Curve::new(p.run.clone(), p.params, vec![e(0.5), e(1.0)])
        })
        .collect();
    let t = tuned::select(&pts);
    assert_eq!(t.curves(&curves).len(), 9);
    let (rep, t2) = fit_tuned(
        &pts,
        Some(&curves),
        &FitOptions {
            bootstrap: 0,
            grid: scalelab::scaling::approach3::Grid::coarse(),
            ..FitOptions::default()
        },
    )
    .unwrap();
    assert_eq!(t2, t);
    assert_eq!(rep.n_points, 9);
    assert!(rep.hparams.is_some());
    let j = serde_json::to_value(&rep).unwrap();
    assert_eq!(j["hparams"]["axes"][0]["axis"], "lr");
}

/// `scalelab fit`'s reader takes seed, lr, batch_size, beta2 when present;
/// older tables without them still load.
#[test]
fn results_csv_hyperparameter_columns_are_read_when_present() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("r.csv");
    std::fs::write(
        &p,
        "run,params,tokens,loss,seed,lr,batch_size,beta2\na,1e6,1e8,3.1,1,0.003,32,0.95\nb,1e6,1e8,3.0,1,0.01,,\n",
    )
    .unwrap();
    let l = scalelab::scaling::data::load_points(&p).unwrap();
    let a = &l.points[0];
    assert_eq!(
        (a.seed, a.lr, a.batch_size, a.beta2),
        (Some(1), Some(0.003), Some(32.0), Some(0.95))
    );
    assert_eq!((l.points[1].batch_size, l.points[1].beta2), (None, None));
    std::fs::write(&p, "run,params,tokens,loss,beta2\na,1e6,1e8,3.1,1.5\n").unwrap();
    let e = format!(
        "{:#}",
        scalelab::scaling::data::load_points(&p).unwrap_err()
    );
    assert!(e.contains("column `beta2`") && e.contains("(0, 1)"), "{e}");
    std::fs::write(&p, "run,status,size,design,budget,n_layer,d_model,params,non_embedding_params,tokens,flops,final_train_loss,val_loss,val_bpb,wall_s,tok_per_s,mfu,device,error,seed\na,ok,d1,isoflop,1e8,1,16,1000,500,10,6e4,3.0,3.1,1.0,1.0,10,,cpu,,1\n").unwrap();
    let rows = scalelab::rundir::results::read_rows(&p).unwrap();
    assert_eq!(
        (rows[0].lr, rows[0].batch_size, rows[0].beta2),
        (None, None, None)
    );
}
