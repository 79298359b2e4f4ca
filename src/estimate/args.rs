//! The command-line arguments of `scalelab estimate` and its subcommands, with
//! their value parsers (numbers such as 175B, 7.7M).

use super::cost::{DEFAULT_FAILURE_OVERHEAD, DEFAULT_PUE};
use super::memory::{Recompute, ADAM_MIXED_BYTES_PER_PARAM};
use clap::{Args, Subcommand};
use std::path::PathBuf;

/// A positive number, plain or with a suffix: 1.9e9, 175B, 7.7M, 2T, 12k.
fn number(s: &str) -> std::result::Result<f64, String> {
    let t = s.trim();
    let (body, mult) = match t.chars().last() {
        Some('k' | 'K') => (&t[..t.len() - 1], 1e3),
        Some('M') => (&t[..t.len() - 1], 1e6),
        Some('B' | 'G') => (&t[..t.len() - 1], 1e9),
        Some('T') => (&t[..t.len() - 1], 1e12),
        _ => (t, 1.0),
    };
    let v = body
        .parse::<f64>()
        .map_err(|_| "expected a number such as 1.9e9 or 175B".to_string())?
        * mult;
    if !(v.is_finite() && v > 0.0) {
        return Err(format!("must be a positive number (got {s})"));
    }
    Ok(v)
}

/// A whole number >= 1.
fn count(s: &str) -> std::result::Result<u64, String> {
    let v = number(s)?;
    if v.fract() != 0.0 || v > u64::MAX as f64 {
        return Err(format!("must be a whole number >= 1 (got {s})"));
    }
    Ok(v as u64)
}

#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct EstimateArgs {
    #[command(subcommand)]
    pub command: Option<EstimateCommand>,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Subcommand, Debug)]
pub enum EstimateCommand {
    /// Recompute the numeric claims of the cost articles, with verdicts.
    Claims(ClaimsArgs),
    /// Compute-optimal N, D for a budget, and the training + inference optimum for a target loss.
    Optimum(OptimumArgs),
    /// Step time, tok/s and scaling efficiency of a training config on 1…W GPUs (train.ranks).
    DataParallel(DataParallelArgs),
    /// Predicted ms per optimizer step of a training config on a device profile, with its breakdown.
    Time(super::time::TimeArgs),
}

#[derive(Args, Debug)]
pub struct DataParallelArgs {
    /// A scalelab training config (its model, batch and dtype).
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// Rank counts, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,2,4,8", value_parser = count)]
    pub ranks: Vec<u64>,
    #[command(flatten)]
    pub mfu: MfuArgs,
    #[arg(long)]
    pub json: bool,
}

/// Hardware and utilisation, shared by `estimate` and `estimate data-parallel`.
#[derive(Args, Debug)]
pub struct MfuArgs {
    /// Hardware id in configs/hardware.toml (default: the --mfu-from run's hardware).
    #[arg(long, value_name = "ID")]
    pub hardware: Option<String>,
    /// Assumed model FLOPs utilisation per GPU, 0 < X <= 1 (default 0.40).
    #[arg(long, value_name = "X", value_parser = number, allow_negative_numbers = true, conflicts_with = "mfu_from")]
    pub mfu: Option<f64>,
    /// Use the measured MFU in RUN_DIR/summary.json of a finished training run.
    #[arg(long, value_name = "RUN_DIR")]
    pub mfu_from: Option<PathBuf>,
    /// Precision whose dense peak the MFU refers to (default: the --mfu-from run's dtype,
    /// else bf16, or the config's train.dtype for data-parallel).
    #[arg(long, value_parser = ["fp32", "tf32", "bf16", "fp16", "fp8", "fp4"])]
    pub precision: Option<String>,
    /// A GPU's device profile (`scalelab calibrate --device cuda`): the MFU the step-time
    /// model predicts for --config's shape on it, instead of an assumed one.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["mfu", "mfu_from", "precision"])]
    pub profile: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct ClaimsArgs {
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct LawArgs {
    /// Named scaling law: hoffmann2022 (default, unrounded constants), hoffmann2022-rounded
    /// (as printed) or besiroglu2024.
    #[arg(long, conflicts_with = "law_file")]
    pub law: Option<String>,
    /// A `scalelab fit` result JSON; its `approach3` {E, A, B, alpha, beta} is the law.
    #[arg(long, value_name = "FIT.json")]
    pub law_file: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct OptimumArgs {
    #[command(flatten)]
    pub law: LawArgs,
    /// Compute budget C in FLOPs: print the compute-optimal N and D.
    #[arg(long, value_parser = number, allow_negative_numbers = true)]
    pub compute: Option<f64>,
    /// Target loss for the inference-aware optimum.
    #[arg(long, value_parser = number, allow_negative_numbers = true, conflicts_with = "reference_params")]
    pub target_loss: Option<f64>,
    /// Target = the loss of the compute-optimal model of this many parameters (e.g. 13B).
    #[arg(long, value_parser = number, allow_negative_numbers = true)]
    pub reference_params: Option<f64>,
    /// Expected lifetime inference tokens (2N FLOPs each).
    #[arg(long, value_parser = number, allow_negative_numbers = true)]
    pub inference_tokens: Option<f64>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// Named model preset (configs/models.toml): gpt3-175b, gpt-3.5, llama2-70b, llama3-8b, ...
    #[arg(long, value_name = "NAME")]
    pub model: Option<String>,
    /// Parameter count (dense unless --active-params), e.g. 7e9 or 7B.
    #[arg(long, value_name = "N", value_parser = number, allow_negative_numbers = true, conflicts_with_all = ["model", "config"])]
    pub params: Option<f64>,
    /// Parameters active per token (MoE), with --params.
    #[arg(long, value_name = "N", value_parser = number, allow_negative_numbers = true, requires = "params")]
    pub active_params: Option<f64>,
    /// A scalelab training config: exact parameter count and matmul FLOPs per token.
    #[arg(long, value_name = "FILE", conflicts_with = "model")]
    pub config: Option<PathBuf>,
    /// Shape for the activation estimate (overrides the preset/config).
    #[arg(long, value_parser = count, allow_negative_numbers = true)]
    pub n_layer: Option<u64>,
    #[arg(long, value_parser = count, allow_negative_numbers = true)]
    pub d_model: Option<u64>,
    #[arg(long, value_parser = count, allow_negative_numbers = true)]
    pub n_head: Option<u64>,
    #[arg(long, value_parser = count, allow_negative_numbers = true)]
    pub seq_len: Option<u64>,
    /// Training tokens.
    #[arg(long, value_name = "D", value_parser = number, allow_negative_numbers = true, conflicts_with_all = ["tokens_per_param", "chinchilla"])]
    pub tokens: Option<f64>,
    /// Training tokens per (active) parameter.
    #[arg(long, value_name = "R", value_parser = number, allow_negative_numbers = true, conflicts_with = "chinchilla")]
    pub tokens_per_param: Option<f64>,
    /// Compute-optimal tokens for the model size: a law (hoffmann2022, hoffmann2022-rounded,
    /// besiroglu2024, fit with --law-file) or rule20 (20 tokens/param, Hoffmann et al.'s
    /// Approaches 1-2, which their Approach 3 law does not reproduce).
    #[arg(long, value_name = "LAW")]
    pub chinchilla: Option<String>,
    /// `scalelab fit` result JSON for `--chinchilla fit`.
    #[arg(long, value_name = "FIT.json", requires = "chinchilla")]
    pub law_file: Option<PathBuf>,
    /// GPUs (default: the fewest whose memory holds the training state).
    #[arg(long, value_name = "K", value_parser = count, allow_negative_numbers = true)]
    pub gpus: Option<u64>,
    #[command(flatten)]
    pub mfu: MfuArgs,
    /// Hardware FLOPs utilisation instead of --mfu: a utilisation that counts recomputed FLOPs
    /// (e.g. Megatron-LM's); with --recompute full it is 8/6 of the MFU.
    #[arg(long, value_name = "X", value_parser = number, allow_negative_numbers = true, conflicts_with_all = ["mfu", "mfu_from", "profile"])]
    pub hfu: Option<f64>,
    /// USD per GPU-hour (default: the catalog's on-demand price).
    #[arg(long, value_name = "P", value_parser = number, allow_negative_numbers = true, conflicts_with = "spot")]
    pub price_per_hour: Option<f64>,
    /// Use the catalog's spot price.
    #[arg(long)]
    pub spot: bool,
    /// Power usage effectiveness for the energy estimate.
    #[arg(long, default_value_t = DEFAULT_PUE, value_parser = number, allow_negative_numbers = true)]
    pub pue: f64,
    /// Multiplier for failed/restarted work (default 1/0.9, Llama 3's >90% effective training time).
    #[arg(long, value_name = "X", default_value_t = DEFAULT_FAILURE_OVERHEAD, value_parser = number, allow_negative_numbers = true)]
    pub overhead_failures: f64,
    /// Multiplier for experiments before the final run (default: show 1.2× / 2.2× / 4×).
    #[arg(long, value_name = "X", value_parser = number, allow_negative_numbers = true)]
    pub overhead_experiments: Option<f64>,
    /// Bytes per parameter of weights + gradients + optimizer states (16: bf16 + fp32 Adam).
    #[arg(long, default_value_t = ADAM_MIXED_BYTES_PER_PARAM, value_parser = number, allow_negative_numbers = true)]
    pub bytes_per_param: f64,
    /// Activation recomputation for the activation estimate.
    #[arg(long, value_enum, default_value = "selective")]
    pub recompute: Recompute,
    /// Sequences per GPU per micro-step for the activation estimate.
    #[arg(long, default_value_t = 1, value_parser = count, allow_negative_numbers = true)]
    pub micro_batch: u64,
    #[arg(long)]
    pub json: bool,
}
