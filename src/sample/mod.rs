//! Text generation from a trained run (`scalelab sample`).

pub mod cli;

use crate::data::tokenizer;
use crate::model::Gpt;
use anyhow::{bail, Result};
use candle_core::{DType, Device, Tensor};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokenizers::Tokenizer;

#[derive(Debug, Clone)]
pub struct SampleOptions {
    pub tokens: usize,
    /// 0 = greedy.
    pub temperature: f64,
    pub top_k: Option<usize>,
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
        Ok(())
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
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    for _ in 0..opts.tokens {
        let ctx = &ids[ids.len().saturating_sub(model.config().seq_len)..];
        let x = Tensor::from_slice(ctx, (1, ctx.len()), dev)?;
        let logits: Vec<f64> = model
            .last_logits(&x)?
            .squeeze(0)?
            .to_dtype(DType::F64)?
            .to_vec1()?;
        // Padding entries beyond the tokenizer's vocabulary are never sampled.
        let logits = &logits[..real_vocab];
        let next = pick(logits, opts, &mut rng);
        ids.push(next as u32);
    }
    tokenizer::decode(tk, &ids[n_prompt..]).map(|s| format!("{prompt}{s}"))
}

fn pick(logits: &[f64], opts: &SampleOptions, rng: &mut ChaCha8Rng) -> usize {
    let argmax = || {
        logits
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(i, _)| i)
            .unwrap_or(0)
    };
    if opts.temperature == 0.0 {
        return argmax();
    }
    let mut idx: Vec<usize> = (0..logits.len()).collect();
    if let Some(k) = opts.top_k {
        idx.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]));
        idx.truncate(k);
    }
    let max = idx
        .iter()
        .map(|&i| logits[i])
        .fold(f64::NEG_INFINITY, f64::max);
    let w: Vec<f64> = idx
        .iter()
        .map(|&i| ((logits[i] - max) / opts.temperature).exp())
        .collect();
    let total: f64 = w.iter().sum();
    let mut u = rng.random::<f64>() * total;
    for (j, wj) in w.iter().enumerate() {
        u -= wj;
        if u <= 0.0 {
            return idx[j];
        }
    }
    idx[idx.len() - 1]
}
