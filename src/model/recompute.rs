//! Activation recompute by blocks (`train.recompute = "blocks"`). candle has
//! no checkpoint primitive, so the backward runs segment by segment:
//!
//! - Forward: the embedding's output and each block's output are copied into
//!   a fresh Var at once, which drops the graph behind them: the tensors a
//!   block saved for backward are freed when it returns, and only the L + 1
//!   block boundaries x_0 … x_L stay. The head (final LayerNorm, LM head,
//!   cross-entropy) keeps its graph as usual.
//! - Backward: the loss's backward gives the head's parameter gradients and
//!   g = dL/dx_L. Then, from the last block down, the block's forward runs
//!   again on its stored input x_i, and the backward of sum(out ⊙ g) gives the
//!   block's parameter gradients and dL/dx_i, the next g: that root's gradient
//!   with respect to `out` is exactly 1·g. The embedding comes last.
//!
//! Every parameter lives in one segment except the tied `wte` (embedding and
//! LM head): the embedding's rows are added onto the head's part with the
//! same index_add the one-graph backward uses. Each segment repeats the very
//! ops of the one-graph backward on the same values, so the gradients are
//! bit-identical to it (tests/recompute.rs). The cost is one more forward of
//! every block (about a third more compute).

use super::Gpt;
use candle_core::backprop::GradStore;
use candle_core::{Result, Tensor, Var};

/// A forward pass that kept only the block boundaries; [`Segmented::backward`]
/// recomputes the rest.
pub struct Segmented<'a> {
    model: &'a Gpt,
    idx: Tensor,
    /// x_0 (embedding output) … x_L (last block's output), each a leaf.
    xs: Vec<Var>,
    loss: Tensor,
}

impl Gpt {
    /// [`Gpt::loss`], keeping for backward only each block's input (and the head's graph).
    pub fn loss_segmented(&self, idx: &Tensor, targets: &Tensor) -> Result<Segmented<'_>> {
        let mut xs = Vec::with_capacity(self.blocks.len() + 1);
        xs.push(Var::from_tensor(&self.embed(idx)?.detach())?);
        for block in &self.blocks {
            let x = block.forward(last(&xs), &mut |_, _| Ok(()))?;
            xs.push(Var::from_tensor(&x.detach())?);
        }
        let loss = self.loss_from_hidden(&self.ln_f.forward(last(&xs))?, targets)?;
        Ok(Segmented {
            model: self,
            idx: idx.clone(),
            xs,
            loss,
        })
    }
}

fn last(xs: &[Var]) -> &Tensor {
    xs.last().expect("x_0 is pushed first").as_tensor()
}

impl Segmented<'_> {
    /// The mean cross-entropy, as [`Gpt::loss`] gives it.
    pub fn loss(&self) -> &Tensor {
        &self.loss
    }

    /// The gradients of every Var (the parameters) of `loss / divisor`, as
    /// `(loss / divisor).backward()` gives them, with one block's activations
    /// alive at a time.
    pub fn backward(self, divisor: f64) -> Result<GradStore> {
        let Segmented {
            model,
            idx,
            mut xs,
            loss,
        } = self;
        let mut total = GradStore::default();
        let x = xs.pop().expect("x_L");
        let mut g = segment(&mut total, &(loss / divisor)?, &x)?;
        drop(x);
        for block in model.blocks.iter().rev() {
            let x = xs.pop().expect("one input per block");
            let out = block.forward(x.as_tensor(), &mut |_, _| Ok(()))?;
            g = segment(&mut total, &seeded(&out, &g)?, &x)?;
        }
        // The embedding: wpe's gradient as a segment; then the token rows'
        // gradient goes onto the head's part of wte's with candle's own
        // index_add, as its one-graph backward adds them (in that order).
        let tok = Var::from_tensor(&model.token_rows(&idx)?.detach())?;
        let g = segment(&mut total, &seeded(&model.add_positions(&tok)?, &g)?, &tok)?;
        let wte = model
            .wte
            .sorted_nodes()
            .into_iter()
            .find(|n| n.is_variable());
        let wte = wte.expect("wte is a Var or a cast of one").clone();
        let head = total.remove(&wte).ok_or_else(|| {
            candle_core::Error::Msg("recompute: the LM head gave wte no gradient".into())
        })?;
        let rows = g.flatten_to(1)?.to_dtype(head.dtype())?;
        let ids = idx.flatten_all()?.contiguous()?;
        total.insert(&wte, head.index_add(&ids, &rows, 0)?);
        Ok(total)
    }
}

/// sum(out ⊙ g): a scalar whose gradient with respect to `out` is g (detached).
fn seeded(out: &Tensor, g: &Tensor) -> Result<Tensor> {
    (out * g)?.sum_all()
}

/// Backward from `root`: adds every Var's gradient to `total`, except that of
/// the segment's `input`, which it returns.
fn segment(total: &mut GradStore, root: &Tensor, input: &Var) -> Result<Tensor> {
    let mut grads = root.backward()?;
    let g = grads.remove(input.as_tensor()).ok_or_else(|| {
        candle_core::Error::Msg("recompute: a block input received no gradient".into())
    })?;
    let g = g.detach();
    add_grads(total, root, grads)?;
    Ok(g)
}

/// Adds the gradients in `grads` of the Vars behind `root` to `total`.
fn add_grads(total: &mut GradStore, root: &Tensor, mut grads: GradStore) -> Result<()> {
    for node in root.sorted_nodes() {
        if !node.is_variable() {
            continue;
        }
        if let Some(new) = grads.remove(node) {
            let sum = match total.get(node) {
                Some(old) => (old + new)?,
                None => new,
            };
            // A weight's gradient can be recorded on the segment's activations
            // (a matmul with a tracked operand): detached, they go with it.
            total.insert(node, sum.detach());
        }
    }
    Ok(())
}
