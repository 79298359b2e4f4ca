//! `scalelab sample --run DIR [--prompt TEXT] …`.

use anyhow::Result;
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct SampleArgs {
    /// Run folder written by `scalelab train`.
    #[arg(long)]
    pub run: PathBuf,
    #[arg(long, default_value = "\n")]
    pub prompt: String,
    #[arg(long, default_value_t = 200)]
    pub tokens: usize,
    #[arg(long, default_value_t = 0.8, allow_negative_numbers = true)]
    pub temperature: f64,
    #[arg(long)]
    pub top_k: Option<usize>,
    /// Nucleus sampling: keep the most likely tokens whose probabilities sum to P (after --top-k).
    #[arg(long, value_name = "P", allow_negative_numbers = true)]
    pub top_p: Option<f64>,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// cpu, cuda, cuda:N or auto.
    #[arg(long, default_value = "cpu")]
    pub device: String,
}

/// `scalelab sample`.
pub fn run(a: SampleArgs) -> Result<i32> {
    let opts = super::SampleOptions {
        tokens: a.tokens,
        temperature: a.temperature,
        top_k: a.top_k,
        top_p: a.top_p,
        seed: a.seed,
    };
    opts.validate()?;
    let dev = crate::device::open_device(&a.device)?;
    let run = crate::rundir::Run::open(&a.run, None, &dev)?;
    let model = crate::model::Gpt::new(
        &run.cfg.model,
        run.params.var_builder(candle_core::DType::F32, false)?,
    )?;
    println!(
        "{}",
        super::generate(&model, &run.tokenizer, &a.prompt, &opts, &dev)?
    );
    Ok(0)
}
