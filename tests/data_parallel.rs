//! Data parallelism, tested on CPU with simulated ranks (threads that
//! all-reduce through host memory): the same training code as NCCL ranks on
//! GPUs, only the collective differs.

mod common;

use candle_core::{DType, Device, Tensor};
use common::train_opts as opts;
use scalelab::rundir::{checkpoint, metrics};
use scalelab::train;
use scalelab::train::dist::{self, host, Collective};
use std::collections::HashMap;
use std::path::Path;

fn weights(run: &Path, step: usize) -> HashMap<String, Tensor> {
    let p = run
        .join(format!("checkpoints/step_{step:08}"))
        .join(checkpoint::MODEL_FILE);
    candle_core::safetensors::load(p, &Device::Cpu).unwrap()
}

/// Largest |a − b| over all weights, relative to the largest |a|.
fn max_rel_diff(a: &HashMap<String, Tensor>, b: &HashMap<String, Tensor>) -> f64 {
    let (mut diff, mut scale) = (0f64, 0f64);
    for (k, ta) in a {
        let ta = ta.to_dtype(DType::F64).unwrap();
        let tb = b[k].to_dtype(DType::F64).unwrap();
        diff = diff.max(
            (&ta - &tb)
                .unwrap()
                .abs()
                .unwrap()
                .max_all()
                .unwrap()
                .to_scalar::<f64>()
                .unwrap(),
        );
        scale = scale.max(
            ta.abs()
                .unwrap()
                .max_all()
                .unwrap()
                .to_scalar::<f64>()
                .unwrap(),
        );
    }
    diff / scale
}

fn losses(run: &Path) -> Vec<f64> {
    metrics::read(&run.join("metrics.jsonl"))
        .unwrap()
        .0
        .iter()
        .map(|r| r.loss)
        .collect()
}

/// W ranks at the same global batch follow the single-rank run: in f64 to
/// summation order (measured ≤ 1.1e-14 relative), in f32 to float rounding
/// (measured 5e-6..1e-5 relative after 12 AdamW steps; tolerance 5e-5).
#[test]
fn ranks_match_single_rank_at_the_same_global_batch() {
    let fx = common::Fixture::new();
    for (dtype, tol) in [("f64", 1e-12), ("f32", 5e-5)] {
        let base = ["train.grad_accum=2", "train.batch_size=4"].map(String::from);
        let with = |extra: &str| {
            let mut ov: Vec<&str> = base.iter().map(String::as_str).collect();
            let d = format!("train.dtype={dtype}");
            ov.push(&d);
            ov.push(extra);
            fx.config(&ov)
        };
        let one = fx.path(&format!("{dtype}-1"));
        let s1 = train::train(&with("train.ranks=1"), &opts(one.clone(), false, None)).unwrap();
        for w in [2, 4] {
            let run = fx.path(&format!("{dtype}-{w}"));
            let s = train::train(
                &with(&format!("train.ranks={w}")),
                &opts(run.clone(), false, None),
            )
            .unwrap();
            assert_eq!(
                (s.steps, s.tokens, s.flops),
                (s1.steps, s1.tokens, s1.flops),
                "same global batch, same count"
            );
            assert_eq!(s.device, format!("{w}× cpu"));
            let d = max_rel_diff(&weights(&one, 12), &weights(&run, 12));
            eprintln!("{dtype}, {w} ranks: max relative weight difference {d:e}");
            assert!(
                d < tol,
                "{dtype}, {w} ranks: weights differ by {d:e} (tolerance {tol:e})"
            );
            for (a, b) in losses(&one).iter().zip(losses(&run)) {
                assert!(
                    (a - b).abs() <= tol * 10.0 * a.abs(),
                    "{dtype}, {w} ranks: loss {b} vs {a}"
                );
            }
            assert!(
                (s.val_loss - s1.val_loss).abs() <= tol * 10.0 * s1.val_loss,
                "{dtype}: val loss {} vs {}",
                s.val_loss,
                s1.val_loss
            );
        }
    }
}

/// μP's per-parameter learning rates apply on every rank alike (f64, 2 ranks).
#[test]
fn mup_ranks_match_single_rank() {
    let fx = common::Fixture::new();
    let run = |w: usize| {
        let cfg = fx.config(&[
            "train.dtype=f64",
            "train.batch_size=4",
            "model.parametrization=mup",
            "model.base_width=8",
            &format!("train.ranks={w}"),
        ]);
        let dir = fx.path(&format!("mup-{w}"));
        train::train(&cfg, &opts(dir.clone(), false, None)).unwrap();
        weights(&dir, 12)
    };
    let d = max_rel_diff(&run(1), &run(2));
    assert!(d < 1e-12, "μP, 2 ranks: weights differ by {d:e}");
}

/// A data-parallel run resumes bit-identically on the same number of ranks
/// (the host all-reduce is deterministic), and on a different number of ranks
/// continues the same trajectory (the checkpoint is rank-independent).
#[test]
fn data_parallel_resume() {
    let fx = common::Fixture::new();
    let two = fx.config(&["train.ranks=2"]);
    let a = fx.path("a");
    train::train(&two, &opts(a.clone(), false, None)).unwrap();
    let b = fx.path("b");
    let e = train::train(&two, &opts(b.clone(), false, Some(6))).unwrap_err();
    assert!(e.downcast_ref::<train::Stopped>().is_some(), "{e:#}");
    train::train(&two, &opts(b.clone(), true, None)).unwrap();
    common::assert_same_checkpoint(
        &a,
        &b,
        12,
        "2 ranks resumed differ from 2 ranks uninterrupted",
    );
    assert_eq!(
        losses(&a).iter().map(|l| l.to_bits()).collect::<Vec<_>>(),
        losses(&b).iter().map(|l| l.to_bits()).collect::<Vec<_>>()
    );
    // Halted on 2 ranks, resumed on 4 (and on 1): the same run up to rounding.
    for w in [4, 1] {
        let c = fx.path(&format!("c{w}"));
        let _ = train::train(&two, &opts(c.clone(), false, Some(6))).unwrap_err();
        train::train(
            &fx.config(&[&format!("train.ranks={w}")]),
            &opts(c.clone(), true, None),
        )
        .unwrap();
        let d = max_rel_diff(&weights(&a, 12), &weights(&c, 12));
        assert!(d < 1e-5, "resumed on {w} ranks: weights differ by {d:e}");
    }
}

/// The host all-reduce: sums in rank order, every rank gets the same result,
/// rounds do not mix, and one rank's failure wakes the others with an error.
#[test]
fn host_all_reduce() {
    let world = 3;
    let group = host::Group::new(world);
    let results: Vec<Vec<Vec<f32>>> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..world)
            .map(|r| {
                let m = group.member(r);
                s.spawn(move || {
                    (0..50)
                        .map(|round| {
                            let t = Tensor::new(
                                &[r as f32 + round as f32, 1.0, -(r as f32)],
                                &Device::Cpu,
                            )
                            .unwrap();
                            m.all_reduce_sum(&t).unwrap().to_vec1::<f32>().unwrap()
                        })
                        .collect()
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (r, rounds) in results.iter().enumerate() {
        for (round, got) in rounds.iter().enumerate() {
            assert_eq!(
                got,
                &vec![3.0 + 3.0 * round as f32, 3.0, -3.0],
                "rank {r}, round {round}"
            );
        }
    }
    // Rank 1 fails before its first all-reduce: ranks 0 and 2 are woken with an error.
    let group = host::Group::new(world);
    std::thread::scope(|s| {
        let waiters = [0, 2].map(|r| group.member(r)).map(|m| {
            s.spawn(move || m.all_reduce_sum(&Tensor::new(&[1f32], &Device::Cpu).unwrap()))
        });
        std::thread::sleep(std::time::Duration::from_millis(50));
        group.abort();
        for w in waiters {
            let e = w.join().unwrap().unwrap_err().to_string();
            assert!(e.contains("another rank failed"), "{e}");
        }
    });
}

/// Each rank's shard is its slice of the global batch; the shards tile it.
#[test]
fn shards_tile_the_global_batch() {
    let (b, t) = (8, 5);
    let batch = || scalelab::data::batches::Batch {
        x: (0..b * t as u32).collect(),
        y: (1..=b * t as u32).collect(),
        batch: b as usize,
        seq_len: t as usize,
    };
    for w in [1, 2, 4, 8] {
        let mut x = Vec::new();
        for r in 0..w {
            let s = dist::shard(batch(), r, w);
            assert_eq!(s.batch, b as usize / w);
            x.extend(s.x);
        }
        assert_eq!(x, batch().x, "{w} ranks");
    }
}

/// A failing or panicking rank: the group is woken, and the error returned is
/// the cause (not the peers' "another rank failed").
#[test]
fn launch_reports_the_failing_rank() {
    for panics in [false, true] {
        let e = dist::launch(
            vec![Device::Cpu; 3],
            move |comm, dev| -> anyhow::Result<Option<()>> {
                if comm.rank() == 1 {
                    if panics {
                        panic!("rank one exploded");
                    }
                    anyhow::bail!("rank one failed on purpose");
                }
                comm.all_reduce_sum(&Tensor::new(&[1f32], dev)?)?;
                Ok(Some(()))
            },
        )
        .unwrap_err();
        let msg = format!("{e:#}");
        assert!(msg.contains("rank 1 of 3"), "{msg}");
        assert!(
            msg.contains(if panics {
                "panicked: rank one exploded"
            } else {
                "failed on purpose"
            }),
            "{msg}"
        );
        assert!(e.downcast_ref::<dist::PeerFailed>().is_none(), "{msg}");
    }
}
