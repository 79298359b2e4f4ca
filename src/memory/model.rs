//! The training-memory model of scalelab's own trainer: what one optimizer
//! step of `train::train_step` holds at its peak, term by term, counted from
//! what the code allocates (docs/memory.md walks through each count).
//!
//! candle's autograd keeps every tensor that an op recorded as an input alive
//! until the loss (the graph's root) is dropped after `backward()`; so the
//! activations are every tensor the forward creates on the training path, not
//! only those a backward formula needs. `backward()` frees a node's gradient
//! once it has passed it on, keeps the parameters' gradients, and also keeps
//! the gradient of every *untracked* operand of a binary op (a causal mask, a
//! detached max): `GradStore::or_insert` makes a full-size one for it and no
//! node ever removes it.

use crate::config::{Kernels, Recompute, RunConfig};
use crate::model::params::param_counts;
use serde::Serialize;

/// Tensors of d elements per token and layer that a block's forward creates.
/// Fused: ln_1, qkv (3), attention out, c_proj, residual, ln_2, c_fc (4),
/// GELU (4), c_proj, residual = 18 (each fused op makes exactly its output).
const FUSED_BLOCK: f64 = 18.0;
/// Composed, without biases: LayerNorm's x−mean, its square, the division and
/// the ×w (4, twice); the qkv matmul (3); q, k, v each copied twice (the
/// reshape of a narrowed view and `contiguous` after the transpose: 6); P·V
/// and its merge-heads copy (2); c_proj (1); residual (1); c_fc (4); GELU from
/// eight primitives on 4d (x³, ×0.044715, +x, ×√(2/π), tanh, +1, x·0.5, the
/// product: 32); c_proj (1); residual (1).
const COMPOSED_BLOCK: f64 = 59.0;
/// What the biases add in the composed ops: one more tensor per `broadcast_add`
/// (LayerNorm 1 twice, qkv 3, c_proj 1 twice, c_fc 4); fused ops add the bias
/// inside the kernel.
const COMPOSED_BIAS: f64 = 11.0;
/// T×T matrices per sequence, head and layer the forward keeps: fused, the
/// probabilities P; composed, QKᵀ, ×scale, +mask, −max, exp and P.
const ATTN_SAVED: [f64; 2] = [1.0, 6.0];

/// Peak bytes of one training step, by term (all in bytes).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Breakdown {
    /// The kernels that run (fused only on CPU in f32/f64).
    pub kernels: Kernels,
    /// Master weights (f32 under bf16/f16).
    pub weights: f64,
    /// The compute-precision copy of the weights a bf16/f16 step makes (0 otherwise).
    pub weights_compute_copy: f64,
    /// AdamW's two moments (master precision).
    pub adam_moments: f64,
    /// The running sum of gradients over micro-batches (grad_accum > 1 or train.micro_batch).
    pub accumulated_gradients: f64,
    /// Per-token tensors the forward keeps for backward (embedding, blocks,
    /// final LayerNorm; with recompute, only the L + 1 block boundaries).
    pub activations: f64,
    /// T×T attention matrices the forward keeps (and the causal masks, composed).
    pub attention: f64,
    /// Logits and, composed, the loss's f32 copies of them.
    pub logits: f64,
    /// `train.recompute = "blocks"` only: the tensors of the segment whose
    /// backward is running at the peak moment: the head's (final LayerNorm,
    /// logits), or one block's forward run again and its seeded product.
    pub segment: f64,
    /// Parameter gradients (master precision) in the GradStore late in backward.
    pub gradients: f64,
    /// Composed only: gradients `backward()` keeps until it returns: those of
    /// untracked operands (each layer's mask and softmax max, the loss's max)
    /// and what the weight matrices' gradients were recorded on (with
    /// recompute, one block's, freed with its segment).
    pub kept_gradients: f64,
    /// The largest set of short-lived buffers at the backward's peak moment.
    pub transient: f64,
    /// That moment: "loss head" (before any parameter gradient exists),
    /// "block" (inside a block's backward) or "end of backward".
    pub transient_at: &'static str,
}

impl Breakdown {
    /// What lives across the whole step.
    pub fn states(&self) -> f64 {
        self.weights + self.weights_compute_copy + self.adam_moments + self.accumulated_gradients
    }

    /// The forward's saved tensors of one micro-batch.
    pub fn saved(&self) -> f64 {
        self.activations + self.attention + self.logits
    }

    /// On top of states and saved tensors at the backward's peak moment.
    pub fn backward(&self) -> f64 {
        if self.transient_at == HEAD {
            self.segment + self.transient
        } else {
            self.gradients + self.kept_gradients + self.segment + self.transient
        }
    }

    /// (label, bytes) of every term, in the order `info --memory` prints them.
    pub fn rows(&self) -> Vec<(&'static str, f64)> {
        vec![
            ("weights (master)", self.weights),
            ("weights, compute-precision copy", self.weights_compute_copy),
            ("AdamW moments", self.adam_moments),
            (
                "accumulated gradients (grad_accum)",
                self.accumulated_gradients,
            ),
            ("activations saved for backward", self.activations),
            ("attention T×T matrices saved", self.attention),
            ("logits and loss copies saved", self.logits),
            ("recompute: the running segment's tensors", self.segment),
            ("parameter gradients", self.gradients),
            ("gradients backward() keeps (composed)", self.kept_gradients),
            ("largest transient buffers", self.transient),
        ]
    }

    pub fn peak(&self) -> f64 {
        self.states() + self.saved() + self.backward()
    }
}

const HEAD: &str = "loss head";
const BLOCK: &str = "block";
const END: &str = "end of backward";

/// The model for `cfg` on a CPU (`cpu`) or a GPU: on CPU every simulated rank
/// runs in this process with its own weights and optimizer, and all ranks'
/// rows are in flight at once; on a GPU each device holds one rank.
pub fn breakdown(cfg: &RunConfig, cpu: bool) -> Breakdown {
    let m = &cfg.model;
    let dtype = cfg.train.dtype;
    let (master, compute) = (dtype.master(), dtype.compute());
    let kernels = cfg.train.kernels.effective_on(cpu, compute);
    let fused = kernels == Kernels::Fused;
    let (mb, cb) = (
        master.size_in_bytes() as f64,
        compute.size_in_bytes() as f64,
    );
    // The loss's log-sum-exp runs in f32 when the matmuls ran in a half type (Gpt::loss).
    let lb = cb.max(4.0);
    let ranks = cfg.train.ranks.max(1) as f64;
    let copies = if cpu { ranks } else { 1.0 };
    let n = param_counts(m).total as f64 * copies;
    // One micro-batch of each rank in flight (all ranks at once on CPU).
    let rows = cfg.micro_rows() as f64 * if cpu { ranks } else { 1.0 };
    let split = cfg.train.grad_accum > 1
        || cfg.micro_rows() * cfg.train.ranks.max(1) < cfg.train.batch_size;
    let (l, t, d, h, v) = (
        m.n_layer as f64,
        m.seq_len as f64,
        m.d_model as f64,
        m.n_head as f64,
        m.vocab_size as f64,
    );
    let tokens = rows * t;
    let mup = if m.logit_mult().is_some() { 1.0 } else { 0.0 };
    let td = tokens * d * cb;
    // The final LayerNorm (1 fused, as in a block composed); μP's scaled hidden rows.
    let (per_block, ln_f) = if fused {
        (FUSED_BLOCK, 1.0)
    } else {
        let bias = if m.bias { 1.0 } else { 0.0 };
        (COMPOSED_BLOCK + bias * COMPOSED_BIAS, 4.0 + bias)
    };
    let k = usize::from(!fused);
    // Composed: each layer builds its own T×T causal mask (an f32 vector, kept in the compute type).
    let mask = if fused { 0.0 } else { t * t * cb };
    let layer_attention = rows * h * t * t * ATTN_SAVED[k] * cb + mask;
    let nv = tokens * v;
    // Logits in the compute type; a half type adds their f32 cast; the
    // composed loss keeps z = logits − max and exp(z), in f32.
    let logits =
        nv * cb + if cb < 4.0 { nv * 4.0 } else { 0.0 } + if fused { 0.0 } else { 2.0 * nv * lb };
    let head_saved = td * (ln_f + mup) + logits;
    let gradients = n * mb;
    let vd = v * d * copies;
    // candle's backward hands a gradient to an op's input as
    // `slot = slot.add(arg_grad)`, the slot zero-filled on first use: the
    // node's own gradient, arg_grad, the zeros and the sum are alive at once.
    let first_handoff = |node: f64, arg: f64| node + 3.0 * arg;
    // Backward moments, each on top of states and saved tensors:
    // - loss head, before any parameter gradient: fused, the cross-entropy's
    //   dlogits handed to the logits (3 n·v); composed, at the broadcast of
    //   the logits: z's gradient still held by its slots' recorded ops, the
    //   untracked max's kept gradient, the node's gradient, the copy its
    //   empty sum makes, and that copy's hand-off to the logits (7 n·v in
    //   f32; tests/memory_heap.rs measures exactly this).
    let head = if fused {
        first_handoff(0.0, nv * cb)
    } else {
        first_handoff(3.0 * nv * lb, nv * lb) + nv * lb
    };
    // - inside a block, late in backward (with nearly all parameter
    //   gradients): GELU's gradient handed to c_fc's output (4d per token);
    //   composed, the longest primitive chain's (the GELU product's two
    //   operand slots on top: 5 × 4d) or one layer's softmax quotient rule
    //   (incoming gradient, its two slots, e·g, the broadcast sum squared and
    //   the quotient: 6 T×T); fused attention adds one T×T scratch per thread.
    let per_layer = rows * h * t * t * cb;
    let block = if fused {
        let threads = (rayon::current_num_threads() as f64).min(rows * h);
        (first_handoff(4.0 * tokens * d, 4.0 * tokens * d))
            .max(first_handoff(tokens * d, 3.0 * tokens * d) + threads * t * t)
            * cb
    } else {
        (20.0 * tokens * d * cb).max(6.0 * per_layer)
    };
    // - end of backward: the embedding sum's gradient handed to its two
    //   broadcast operands (the token rows: 4 n·d, the summed copy included),
    //   and wte's last index_add (v·d).
    let end = 4.0 * tokens * d * cb + vd * mb;
    // Kept until backward returns (composed only), per layer: the gradients
    // of the untracked mask and max operands; and, where the weights enter
    // the matmuls as Vars (master = compute type), each weight's gradient is
    // recorded on the tracked activation, so its slot keeps its zero fill,
    // the product and the matmul's output gradient (9d per token).
    let layer_matrices = 12.0 * d * d * copies;
    let layer_kept = if fused {
        0.0
    } else if master != compute {
        2.0 * per_layer
    } else {
        2.0 * per_layer + 9.0 * td + 2.0 * layer_matrices * mb
    };
    let loss_kept = if fused { 0.0 } else { nv * lb };
    let moment = |at, segment, kept, transient| Moment {
        at,
        segment,
        kept,
        transient,
    };
    let (saved, moments) = if cfg.train.recompute == Recompute::Blocks {
        // Only the L + 1 block boundaries stay from the forward
        // (model/recompute.rs); each segment's backward holds its own
        // tensors: the head's, then one block run again with its incoming
        // gradient g, the seeded product out ⊙ g and g's own (unused)
        // gradient (3 n·d), then the embedding's rows, sum and the same 3.
        let one_block = td * per_block + layer_attention + 3.0 * td;
        (
            [td * (l + 1.0), 0.0, 0.0],
            [
                moment(HEAD, head_saved, 0.0, head),
                moment(BLOCK, one_block, layer_kept, block),
                moment(END, 5.0 * td, 0.0, end),
            ],
        )
    } else {
        // Embedding: the looked-up rows and the sum with positions (2).
        let kept = l * layer_kept + loss_kept;
        (
            [
                td * (2.0 + l * per_block + ln_f + mup),
                l * layer_attention,
                logits,
            ],
            [
                moment(HEAD, 0.0, 0.0, head),
                moment(BLOCK, 0.0, kept, block),
                moment(END, 0.0, kept, end),
            ],
        )
    };
    // The peak is the largest moment; parameter gradients exist after the head.
    let kept_gradients = moments[1].kept;
    let size =
        |m: &Moment| m.segment + m.kept + m.transient + if m.at == HEAD { 0.0 } else { gradients };
    let peak = moments
        .into_iter()
        .max_by(|a, b| size(a).total_cmp(&size(b)))
        .expect("three moments");
    Breakdown {
        kernels,
        weights: n * mb,
        weights_compute_copy: if master == compute { 0.0 } else { n * cb },
        adam_moments: 2.0 * n * mb,
        accumulated_gradients: if split { n * mb } else { 0.0 },
        activations: saved[0],
        attention: saved[1],
        logits: saved[2],
        segment: peak.segment,
        gradients,
        kept_gradients,
        transient: peak.transient,
        transient_at: peak.at,
    }
}

/// One moment of the backward: what is alive then besides the states, the
/// forward's saved tensors and (after the head) the parameter gradients.
struct Moment {
    at: &'static str,
    segment: f64,
    kept: f64,
    transient: f64,
}
