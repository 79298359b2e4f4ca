//! Batches of random windows. The sampler's RNG position is part of every
//! checkpoint, so a resumed run draws exactly the batches it would have drawn.

use super::tokens::TokenFile;
use anyhow::{bail, Result};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// `x` and `y` are `batch × seq_len` row-major token ids; `y` is `x` shifted by one.
pub struct Batch {
    pub x: Vec<u32>,
    pub y: Vec<u32>,
    pub batch: usize,
    pub seq_len: usize,
}

fn check_fits(data: &TokenFile, seq_len: usize, what: &str) -> Result<()> {
    if data.len() < seq_len + 1 {
        bail!("model.seq_len ({seq_len}) is longer than the {what} split ({} tokens); use a shorter seq_len or more data", data.len());
    }
    Ok(())
}

fn window_batch(data: &TokenFile, starts: &[usize], seq_len: usize) -> Batch {
    let mut buf = Vec::with_capacity(seq_len + 1);
    let mut x = Vec::with_capacity(starts.len() * seq_len);
    let mut y = Vec::with_capacity(starts.len() * seq_len);
    for &s in starts {
        buf.clear();
        data.read_into(s, seq_len + 1, &mut buf);
        x.extend_from_slice(&buf[..seq_len]);
        y.extend_from_slice(&buf[1..]);
    }
    Batch {
        x,
        y,
        batch: starts.len(),
        seq_len,
    }
}

/// Serialisable sampler position: the seed plus the ChaCha word position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SamplerState {
    pub seed: u64,
    /// u128 as a decimal string (JSON numbers lose precision past 2^53).
    pub word_pos: String,
}

pub struct Sampler {
    rng: ChaCha8Rng,
    seed: u64,
}

impl Sampler {
    pub fn new(seed: u64) -> Self {
        Sampler {
            rng: ChaCha8Rng::seed_from_u64(seed),
            seed,
        }
    }

    pub fn state(&self) -> SamplerState {
        SamplerState {
            seed: self.seed,
            word_pos: self.rng.get_word_pos().to_string(),
        }
    }

    pub fn from_state(s: &SamplerState) -> Result<Self> {
        let mut me = Self::new(s.seed);
        let pos: u128 = s
            .word_pos
            .parse()
            .map_err(|_| anyhow::anyhow!("sampler word_pos `{}` is not a number", s.word_pos))?;
        me.rng.set_word_pos(pos);
        Ok(me)
    }

    /// `batch` windows at uniformly random offsets.
    pub fn next_batch(&mut self, data: &TokenFile, batch: usize, seq_len: usize) -> Result<Batch> {
        check_fits(data, seq_len, "train")?;
        let hi = data.len() - seq_len - 1;
        let starts: Vec<usize> = (0..batch).map(|_| self.rng.random_range(0..=hi)).collect();
        Ok(window_batch(data, &starts, seq_len))
    }
}

/// The fixed evaluation set: `n_batches × batch` windows spread evenly over the split.
pub fn eval_batches(
    data: &TokenFile,
    n_batches: usize,
    batch: usize,
    seq_len: usize,
) -> Result<Vec<Batch>> {
    check_fits(data, seq_len, "validation")?;
    let n = n_batches * batch;
    let hi = data.len() - seq_len - 1;
    let starts: Vec<usize> = (0..n)
        .map(|i| if n == 1 { 0 } else { i * hi / (n - 1) })
        .collect();
    Ok(starts
        .chunks(batch)
        .map(|c| window_batch(data, c, seq_len))
        .collect())
}
