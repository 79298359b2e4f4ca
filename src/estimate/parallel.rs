//! Data-parallel step time of one training config on W GPUs, as `train.ranks`
//! runs it (src/train/dist): each rank computes 1/W of the global batch, then
//! one ring all-reduce of the fp32 gradients, not overlapped with the backward.
//! A ring all-reduce moves 2(W−1)/W of the buffer through each GPU's link; the
//! link is taken at its full per-direction bandwidth and latency is ignored,
//! so the all-reduce time is a lower bound and the efficiency an upper bound.
//! Per-GPU MFU is held at its single-GPU value, although smaller per-rank
//! batches usually lower it.

use serde::Serialize;

/// Seconds for a ring all-reduce of `bytes` over `w` ranks at `link_gbs` GB/s per direction.
pub fn ring_allreduce_s(bytes: f64, w: usize, link_gbs: f64) -> f64 {
    if w <= 1 {
        return 0.0;
    }
    2.0 * (w - 1) as f64 / w as f64 * bytes / (link_gbs * 1e9)
}

#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub ranks: usize,
    pub compute_ms: f64,
    pub allreduce_ms: f64,
    pub step_ms: f64,
    pub tok_per_s: f64,
    /// tok/s relative to one GPU.
    pub speedup: f64,
    /// speedup / ranks.
    pub efficiency: f64,
}

/// What one optimizer step of the config costs.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub flops: f64,
    pub tokens: u64,
    /// Bytes all-reduced per step: the gradients in their master precision, plus the loss.
    pub grad_bytes: f64,
}

/// One row per rank count: compute at `achieved` FLOP/s per GPU, then the all-reduce.
pub fn predict(step: &Step, achieved: f64, link_gbs: f64, ranks: &[usize]) -> Vec<Row> {
    let one = step.flops / achieved;
    ranks
        .iter()
        .map(|&w| {
            let compute = one / w as f64;
            let comm = ring_allreduce_s(step.grad_bytes, w, link_gbs);
            let speedup = one / (compute + comm);
            Row {
                ranks: w,
                compute_ms: compute * 1e3,
                allreduce_ms: comm * 1e3,
                step_ms: (compute + comm) * 1e3,
                tok_per_s: step.tokens as f64 / (compute + comm),
                speedup,
                efficiency: speedup / w as f64,
            }
        })
        .collect()
}
