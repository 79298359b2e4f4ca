//! The step-time model: milliseconds per optimizer step of a config on a
//! device profile, from the step's work, phase by phase (forward, backward,
//! optimizer) and term by term:
//!
//!   t_phase = c_mm·Σ_dense flops_i/rate(shape_i) + c_att·Σ_attention flops_j/rate(shape_j)
//!           + c_mem·bytes/bandwidth + c_ops·ops·overhead
//!
//! with rate(shape) the profile's measured GEMM table, bandwidth and per-op
//! overhead also measured, and the c's (1 = as calibrated) fitted on `bench`
//! runs of a calibration set ([`fit`]). Bytes and op counts are read off the
//! model's code (src/model/, fused kernels vs composed ops): element passes
//! per component and candle graph nodes per layer.

use crate::config::{Kernels, Recompute, RunConfig};
use crate::device::DTypeSpec;
use crate::model::params::{param_counts, param_specs};
use crate::profile::{DeviceProfile, PhaseConstants, StepConstants};
use anyhow::{bail, Result};
use serde::Serialize;

/// `calls` products (m×k)·(k×n) per step (fractional: causal blocks).
#[derive(Debug, Clone, Serialize)]
pub struct Gemm {
    pub name: &'static str,
    pub m: usize,
    pub k: usize,
    pub n: usize,
    pub calls: f64,
}

impl Gemm {
    pub fn flops(&self) -> f64 {
        2.0 * (self.m * self.k * self.n) as f64 * self.calls
    }

    fn seconds(&self, p: &DeviceProfile) -> f64 {
        self.flops() / p.gemm_rate(self.m, self.k, self.n)
    }
}

/// One phase's work.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PhaseWork {
    pub dense: Vec<Gemm>,
    pub attention: Vec<Gemm>,
    /// Bytes moved by the non-matmul ops.
    pub bytes: f64,
    /// Ops dispatched (candle graph nodes and kernels).
    pub ops: f64,
}

impl PhaseWork {
    /// The four terms at the profile's measured rates, seconds (constants 1).
    pub fn terms(&self, p: &DeviceProfile) -> [f64; 4] {
        let sum = |g: &[Gemm]| g.iter().map(|g| g.seconds(p)).sum::<f64>();
        [
            sum(&self.dense),
            sum(&self.attention),
            self.bytes / (p.bandwidth_gbs * 1e9),
            self.ops * p.op_overhead_us * 1e-6,
        ]
    }
}

/// A step's work: forward, backward, optimizer.
#[derive(Debug, Clone, Serialize)]
pub struct StepWork {
    pub fused: bool,
    pub phases: [PhaseWork; 3],
}

pub const PHASES: [&str; 3] = ["forward", "backward", "optimizer"];

/// Element passes per component: [fused fwd, fused bwd, composed fwd, composed bwd].
/// A pass reads or writes each element once; from the kernels' code (fused:
/// src/model/fused/, composed: src/model/ops.rs, each candle op a pass per
/// operand and its backward a zero-filled gradient plus an add).
const PASSES: [(&str, [f64; 4]); 7] = [
    ("layernorm", [2.0, 4.0, 16.0, 40.0]),
    ("gelu", [2.0, 3.0, 18.0, 45.0]),
    ("residual", [3.0, 3.0, 3.0, 6.0]),
    ("bias", [1.0, 1.0, 3.0, 4.0]),
    ("heads", [0.0, 0.0, 8.0, 20.0]),
    ("scores", [3.0, 3.0, 15.0, 40.0]),
    ("logits", [2.0, 3.0, 7.0, 18.0]),
];

/// Graph nodes per layer and outside the layers, forward (the backward runs
/// about two per node: its own and the gradient add): [fused, composed].
const OPS_PER_LAYER: [f64; 2] = [10.0, 72.0];
const OPS_OUTSIDE: [f64; 2] = [12.0, 24.0];
/// Optimizer ops per parameter tensor (update, norm, clip): [fused, composed].
const OPT_OPS_PER_TENSOR: [f64; 2] = [4.0, 23.0];
/// Optimizer passes per parameter (p, g, m, v read, p, m, v written; norm; clip).
const OPT_PASSES: [f64; 2] = [10.0, 43.0];
/// Backward passes per parameter: candle's zero-filled gradient and the add.
const GRAD_PASSES: f64 = 4.0;

impl StepWork {
    /// The work of one step of `cfg`, with the fused kernels or the composed ops.
    pub fn new(cfg: &RunConfig, fused: bool) -> Self {
        let m = &cfg.model;
        let (l, d, h, v, t) = (m.n_layer, m.d_model, m.n_head, m.vocab_size, m.seq_len);
        let (b, accum) = (cfg.train.batch_size, cfg.train.grad_accum as f64);
        let rows = b * t;
        let hd = d / h;
        let lf = l as f64;
        let dense_fwd = [
            ("qkv", d, 3 * d, lf),
            ("attn_proj", d, d, lf),
            ("mlp_up", d, 4 * d, lf),
            ("mlp_down", 4 * d, d, lf),
            ("lm_head", d, v, 1.0),
        ];
        let gemm = |name, m, k, n, calls: f64| Gemm {
            name,
            m,
            k,
            n,
            calls: calls * accum,
        };
        let heads = (b * h * l) as f64;
        let forward_dense = dense_fwd
            .iter()
            .map(|&(name, k, n, c)| gemm(name, rows, k, n, c))
            .collect();
        // Backward: dX = dY·Wᵀ (rows×n×k) and dW = Xᵀ·dY (k×rows×n) per linear.
        let backward_dense = dense_fwd
            .iter()
            .flat_map(|&(name, k, n, c)| [gemm(name, rows, n, k, c), gemm(name, k, rows, n, c)])
            .collect();
        let (forward_attention, backward_attention) = if fused {
            // Row blocks up to the diagonal (src/model/fused/attention.rs): scores
            // and values per row block; backward dS and dQ per row block, dK and
            // dV per column block over the rows below it.
            let mut fwd = Vec::new();
            let mut bwd = Vec::new();
            for (i0, i1) in causal_blocks(t) {
                let r = i1 - i0;
                fwd.push(gemm("attn_scores", r, hd, i1, heads));
                fwd.push(gemm("attn_values", r, i1, hd, heads));
                bwd.push(gemm("attn_scores", r, hd, i1, heads));
                bwd.push(gemm("attn_values", r, i1, hd, heads));
                bwd.push(gemm("attn_values", r, t - i0, hd, 2.0 * heads));
            }
            (fwd, bwd)
        } else {
            (
                vec![
                    gemm("attn_scores", t, hd, t, heads),
                    gemm("attn_values", t, t, hd, heads),
                ],
                vec![
                    gemm("attn_scores", t, hd, t, heads),
                    gemm("attn_values", t, t, hd, 3.0 * heads),
                ],
            )
        };

        let (rf, lu) = (rows as f64, l as u64);
        let elems = [
            ((2 * lu + 1) as f64) * rf * d as f64,
            lf * rf * 4.0 * d as f64,
            ((2 * lu + 1) as f64) * rf * d as f64,
            if m.bias {
                lf * rf * 9.0 * d as f64
            } else {
                0.0
            },
            lf * rf * d as f64,
            (b * h * l) as f64 * (t * t) as f64,
            rf * v as f64,
        ];
        let col = if fused { 0 } else { 2 };
        let bytes_per = |col: usize| {
            elems
                .iter()
                .zip(PASSES)
                .map(|(e, (_, p))| e * p[col])
                .sum::<f64>()
        };
        let act = cfg.train.dtype.compute().size_in_bytes() as f64;
        let master = cfg.train.dtype.master().size_in_bytes() as f64;
        let params = param_counts(m).total as f64;
        let tensors = param_specs(m).len() as f64;
        let k = if fused { 0 } else { 1 };
        let fwd_ops = OPS_OUTSIDE[k] + OPS_PER_LAYER[k] * lf;
        let forward = PhaseWork {
            dense: forward_dense,
            attention: forward_attention,
            bytes: bytes_per(col) * act * accum,
            ops: fwd_ops * accum,
        };
        let mut backward = PhaseWork {
            dense: backward_dense,
            attention: backward_attention,
            // Each micro-step's gradients: zero-filled and added; then summed across micro-steps.
            bytes: (bytes_per(col + 1) * act + params * GRAD_PASSES * master) * accum
                + params * 3.0 * master * (accum - 1.0),
            ops: (2.0 * fwd_ops + 2.0 * tensors) * accum + tensors * (accum - 1.0),
        };
        if cfg.train.recompute == Recompute::Blocks {
            // The backward runs every block's forward again (model/recompute.rs):
            // the blocks' GEMMs, attention, passes and ops (not the embedding
            // or the head), plus per block the boundary's copy and the seeded
            // product's forward and backward (≈ 6 passes over n·d).
            backward.dense.extend(
                forward
                    .dense
                    .iter()
                    .filter(|g| g.name != "lm_head")
                    .cloned(),
            );
            backward.attention.extend(forward.attention.iter().cloned());
            let logits = elems[elems.len() - 1] * PASSES[PASSES.len() - 1].1[col];
            backward.bytes +=
                ((bytes_per(col) - logits) * act + 6.0 * lf * rf * d as f64 * act) * accum;
            backward.ops += (OPS_PER_LAYER[k] + 6.0) * lf * accum;
        }
        let optimizer = PhaseWork {
            dense: vec![],
            attention: vec![],
            bytes: params * OPT_PASSES[k] * master,
            ops: tensors * OPT_OPS_PER_TENSOR[k],
        };
        StepWork {
            fused,
            phases: [forward, backward, optimizer],
        }
    }

    /// The work of `cfg` with the kernels that run on the profile's device in its dtype.
    pub fn for_profile(cfg: &RunConfig, p: &DeviceProfile) -> Self {
        Self::new(cfg, fused_on(cfg.train.kernels, p))
    }

    /// Each phase's four terms on `p` (seconds, constants 1).
    pub fn terms(&self, p: &DeviceProfile) -> [[f64; 4]; 3] {
        [0, 1, 2].map(|i| self.phases[i].terms(p))
    }
}

/// Whether the fused kernels run on the profile's device and dtype (CPU, f32/f64).
pub fn fused_on(k: Kernels, p: &DeviceProfile) -> bool {
    DTypeSpec::parse(&p.dtype)
        .is_ok_and(|d| k.effective_on(p.device == "cpu", d.compute()) == Kernels::Fused)
}

/// The fused attention's row blocks [i0, i1) of 64 rows, each computed up to
/// its last column i1 (src/model/fused/attention.rs).
fn causal_blocks(t: usize) -> impl Iterator<Item = (usize, usize)> {
    const BLOCK: usize = 64;
    (0..t)
        .step_by(BLOCK)
        .map(move |i0| (i0, (i0 + BLOCK).min(t)))
}

/// One phase's predicted time, ms, by term.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct PhaseTime {
    pub matmul_ms: f64,
    pub attention_ms: f64,
    pub memory_ms: f64,
    pub overhead_ms: f64,
    pub total_ms: f64,
}

/// Predicted ms of one linear layer kind (forward + backward).
#[derive(Debug, Clone, Serialize)]
pub struct Component {
    pub name: &'static str,
    pub flops: f64,
    pub ms: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Prediction {
    pub ms_per_step: f64,
    pub forward: PhaseTime,
    pub backward: PhaseTime,
    pub optimizer: PhaseTime,
    /// The matmul and attention terms by component (they sum to those terms).
    pub components: Vec<Component>,
    pub kernels: &'static str,
}

/// The step time split by kind of work, ms: the forward and backward passes'
/// four terms summed over both passes, and the optimizer pass whole (the
/// five parts sum to `ms_per_step`).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Breakdown {
    pub matmul_ms: f64,
    pub attention_ms: f64,
    pub memory_ms: f64,
    pub overhead_ms: f64,
    pub optimizer_ms: f64,
}

impl Prediction {
    pub fn breakdown(&self) -> Breakdown {
        let (f, b) = (&self.forward, &self.backward);
        Breakdown {
            matmul_ms: f.matmul_ms + b.matmul_ms,
            attention_ms: f.attention_ms + b.attention_ms,
            memory_ms: f.memory_ms + b.memory_ms,
            overhead_ms: f.overhead_ms + b.overhead_ms,
            optimizer_ms: self.optimizer.total_ms,
        }
    }
}

/// The predicted step of `cfg` on `p` with its fitted constants, with the
/// kernels that run there and `cfg`'s dtype replaced by the profile's (its
/// rates were measured in that precision).
pub fn predict_config(cfg: &RunConfig, p: &DeviceProfile) -> Result<Prediction> {
    let Some(c) = &p.step_model else {
        bail!("has no fitted step model (written with --no-fit): run scalelab calibrate");
    };
    let mut cfg = cfg.clone();
    cfg.train.dtype = DTypeSpec::parse(&p.dtype)?;
    Ok(predict(&StepWork::for_profile(&cfg, p), p, c))
}

/// The step time of `work` on `p` with constants `c`.
pub fn predict(work: &StepWork, p: &DeviceProfile, c: &StepConstants) -> Prediction {
    let consts = [c.forward, c.backward, c.optimizer];
    let phase = |i: usize| {
        let x = work.phases[i].terms(p);
        let k = consts[i].as_array();
        let ms: Vec<f64> = (0..4).map(|j| x[j] * k[j] * 1e3).collect();
        PhaseTime {
            matmul_ms: ms[0],
            attention_ms: ms[1],
            memory_ms: ms[2],
            overhead_ms: ms[3],
            total_ms: ms.iter().sum(),
        }
    };
    let mut components: Vec<Component> = Vec::new();
    for (i, w) in work.phases.iter().enumerate() {
        let gemms = w.dense.iter().map(|g| (g, consts[i].matmul));
        for (g, k) in gemms.chain(w.attention.iter().map(|g| (g, consts[i].attention))) {
            let ms = g.seconds(p) * k * 1e3;
            match components.iter_mut().find(|c| c.name == g.name) {
                Some(c) => {
                    c.flops += g.flops();
                    c.ms += ms;
                }
                None => components.push(Component {
                    name: g.name,
                    flops: g.flops(),
                    ms,
                }),
            }
        }
    }
    let (forward, backward, optimizer) = (phase(0), phase(1), phase(2));
    Prediction {
        ms_per_step: forward.total_ms + backward.total_ms + optimizer.total_ms,
        forward,
        backward,
        optimizer,
        components,
        kernels: if work.fused { "fused" } else { "composed" },
    }
}

/// A calibration run: its terms (constants 1) and measured ms per phase.
#[derive(Debug, Clone)]
pub struct Sample {
    pub name: String,
    pub terms: [[f64; 4]; 3],
    pub measured_ms: [f64; 3],
}

/// Fit the constants phase by phase: least squares on relative errors,
/// non-negative (a term whose constant would be negative is dropped: its
/// work is then explained by the others), terms that are zero in every
/// sample left at 0.
pub fn fit(samples: &[Sample]) -> Result<StepConstants> {
    if samples.len() < 4 {
        bail!(
            "the step-time fit needs at least 4 calibration runs, got {}",
            samples.len()
        );
    }
    let mut out = [PhaseConstants::default(); 3];
    for (ph, o) in out.iter_mut().enumerate() {
        let rows: Vec<([f64; 4], f64)> = samples
            .iter()
            .map(|s| {
                let y = s.measured_ms[ph] / 1e3;
                (s.terms[ph].map(|x| x / y), 1.0)
            })
            .collect();
        *o = PhaseConstants::from_array(nnls(&rows));
    }
    let c = StepConstants {
        forward: out[0],
        backward: out[1],
        optimizer: out[2],
        fitted_on: samples.iter().map(|s| s.name.clone()).collect(),
        fit_rms_error: 0.0,
    };
    let err2: f64 = samples
        .iter()
        .map(|s| {
            let pred: f64 = (0..3)
                .map(|ph| {
                    dot(
                        &s.terms[ph],
                        &[c.forward, c.backward, c.optimizer][ph].as_array(),
                    )
                })
                .sum::<f64>()
                * 1e3;
            let meas: f64 = s.measured_ms.iter().sum();
            (pred / meas - 1.0).powi(2)
        })
        .sum();
    Ok(StepConstants {
        fit_rms_error: (err2 / samples.len() as f64).sqrt(),
        ..c
    })
}

fn dot(a: &[f64; 4], b: &[f64; 4]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Non-negative least squares of `x·c ≈ y` over rows (x, y), 4 unknowns, by
/// dropping the most negative coefficient until none is (few unknowns).
fn nnls(rows: &[([f64; 4], f64)]) -> [f64; 4] {
    // Columns that are zero everywhere carry no information.
    let mut active: Vec<usize> = (0..4)
        .filter(|&j| rows.iter().any(|(x, _)| x[j] != 0.0))
        .collect();
    loop {
        let n = active.len();
        let mut a = vec![vec![0.0; n + 1]; n];
        for (x, y) in rows {
            for (i, &ji) in active.iter().enumerate() {
                for (k, &jk) in active.iter().enumerate() {
                    a[i][k] += x[ji] * x[jk];
                }
                a[i][n] += x[ji] * y;
            }
        }
        let sol = solve(a);
        let worst = sol
            .iter()
            .enumerate()
            .filter(|(_, v)| !(v.is_finite() && **v >= 0.0))
            .min_by(|a, b| a.1.total_cmp(b.1))
            .map(|(i, _)| i);
        match worst {
            Some(i) if n > 1 => {
                active.remove(i);
            }
            _ => {
                let mut c = [0.0; 4];
                for (i, &j) in active.iter().enumerate() {
                    c[j] = sol[i].max(0.0);
                }
                return c;
            }
        }
    }
}

/// Gaussian elimination with partial pivoting on an augmented n×(n+1) matrix;
/// a singular column solves to NaN (then dropped by [`nnls`]).
fn solve(mut a: Vec<Vec<f64>>) -> Vec<f64> {
    let n = a.len();
    for c in 0..n {
        let p = (c..n)
            .max_by(|&i, &j| a[i][c].abs().total_cmp(&a[j][c].abs()))
            .expect("c < n");
        a.swap(c, p);
        let pivot = a[c].clone();
        for (r, row) in a.iter_mut().enumerate() {
            if r != c {
                let f = row[c] / pivot[c];
                for (x, p) in row[c..].iter_mut().zip(&pivot[c..]) {
                    *x -= f * p;
                }
            }
        }
    }
    (0..n).map(|i| a[i][n] / a[i][i]).collect()
}
