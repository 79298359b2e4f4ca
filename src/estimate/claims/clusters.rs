//! Claim [9], "Meta used 2 clusters of 24,576 H100s" (for Llama 3), against
//! Meta's engineering blog and the Llama 3 paper.

use super::{claim, Claim, Verdict};
use crate::estimate::presets::Presets;
use anyhow::{anyhow, Result};

/// GPUs per cluster: Meta Engineering, "Building Meta's GenAI Infrastructure" (2024-03-12): "two
/// versions of our 24,576-GPU data center scale cluster" (one RoCE, one InfiniBand), used for Llama 3.
const CLUSTER_GPUS: f64 = 24_576.0;
const CLUSTERS: f64 = 2.0;
/// GPU-hours of the whole Llama 3.1 herd (8B + 70B + 405B): Llama 3.1 model card, 39.3M.
const HERD_GPU_HOURS: f64 = 39.3e6;

pub(super) fn meta_clusters(presets: &Presets) -> Result<Claim> {
    let p = presets.get("llama3-405b")?;
    let lacks = |what: &str| anyhow!("preset llama3-405b lacks {what}");
    let max_gpus = p
        .reported_max_gpus
        .ok_or_else(|| lacks("reported_max_gpus"))? as f64;
    let hours = p
        .reported_gpu_hours
        .ok_or_else(|| lacks("reported_gpu_hours"))?;
    let fleet = CLUSTERS * CLUSTER_GPUS;
    let days = hours / max_gpus / 24.0;
    Ok(claim(
        "9",
        "Meta used 2 clusters of 24,576 H100s (Llama 3)",
        format!(
            "Meta's engineering blog (2024-03-12): two {CLUSTER_GPUS:.0}-GPU H100 clusters (RoCE and InfiniBand) used for Llama 3 = {fleet:.0} GPUs; Llama 3 paper (Dubey et al. 2024, Sec. 3.3.1): 405B trained on up to {max_gpus:.0} H100s on the RoCE cluster, the smaller models on InfiniBand; {max_gpus:.0} = {:.1}% of one cluster, {:.1}% of both; 405B took {hours:.3e} of the herd's {HERD_GPU_HOURS:.3e} GPU-h ({:.1}%), ≥ {days:.1} days on {max_gpus:.0} GPUs",
            100.0 * max_gpus / CLUSTER_GPUS,
            100.0 * max_gpus / fleet,
            100.0 * hours / HERD_GPU_HOURS
        ),
        Verdict::Consistent,
        format!("the two clusters exist and both trained Llama 3 models, but no single run used them: the largest (405B) ran on at most {max_gpus:.0} GPUs, two thirds of one cluster; {fleet:.0} is the fleet, not a training job"),
        &[("cluster_gpus", CLUSTER_GPUS), ("fleet_gpus", fleet), ("max_gpus_405b", max_gpus), ("share_of_one_cluster", max_gpus / CLUSTER_GPUS), ("gpu_hours_405b", hours), ("herd_gpu_hours", HERD_GPU_HOURS), ("min_days_405b", days)],
    ))
}
