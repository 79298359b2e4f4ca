//! Text generation from a trained run (`scalelab sample`).

pub mod cli;

use crate::data::tokenizer;
use crate::model::Gpt;
use anyhow::{bail, Result};
use candle_core::{Device, Tensor};
use candle_transformers::generation::{LogitsProcessor, Sampling};
use tokenizers::Tokenizer;

#[derive(Debug, Clone)]
pub struct SampleOptions {
    pub tokens: usize,
    /// 0 = greedy.
    pub temperature: f64,
    pub top_k: Option<usize>,
    /// Nucleus sampling: only the most likely tokens whose probabilities sum to `top_p`.
    pub top_p: Option<f64>,
    pub seed: u64,
}

impl SampleOptions {
    pub fn validate(&self) -> Result<()> {
        if !(self.temperature.is_finite() && self.temperature >= 0.0) {
            bail!(
                "--temperature must be a non-negative number, got {}",
                self.temperature
            );
        }
        if self.top_k == Some(0) {
            bail!("--top-k must be at least 1");
        }
        if let Some(p) = self.top_p {
            if !(p > 0.0 && p <= 1.0) {
                bail!("--top-p must be in (0, 1], got {p}");
            }
        }
        Ok(())
    }

    fn sampling(&self) -> Sampling {
        let temperature = self.temperature;
        // Below 1e-7 (as LogitsProcessor::new), f32 logits / T overflow; the limit is greedy.
        if temperature < 1e-7 {
            return Sampling::ArgMax;
        }
        match (self.top_k, self.top_p) {
            (None, None) => Sampling::All { temperature },
            (Some(k), None) => Sampling::TopK { k, temperature },
            (None, Some(p)) => Sampling::TopP { p, temperature },
            (Some(k), Some(p)) => Sampling::TopKThenTopP { k, p, temperature },
        }
    }
}

/// Continue `prompt` by `opts.tokens` tokens (context cropped to seq_len).
pub fn generate(
    model: &Gpt,
    tk: &Tokenizer,
    prompt: &str,
    opts: &SampleOptions,
    dev: &Device,
) -> Result<String> {
    opts.validate()?;
    let mut ids = tokenizer::encode(tk, prompt)?;
    if ids.is_empty() {
        ids = tokenizer::encode(tk, "\n")?;
    }
    let n_prompt = ids.len();
    let vocab = model.config().vocab_size;
    let real_vocab = tk.get_vocab_size(true).min(vocab);
    let mut sampler = LogitsProcessor::from_sampling(opts.seed, opts.sampling());
    for _ in 0..opts.tokens {
        let ctx = &ids[ids.len().saturating_sub(model.config().seq_len)..];
        let x = Tensor::from_slice(ctx, (1, ctx.len()), dev)?;
        // Padding entries beyond the tokenizer's vocabulary are never sampled.
        let logits = model
            .last_logits(&x)?
            .squeeze(0)?
            .narrow(0, 0, real_vocab)?;
        ids.push(sampler.sample(&logits)?);
    }
    tokenizer::decode(tk, &ids[n_prompt..]).map(|s| format!("{prompt}{s}"))
}
