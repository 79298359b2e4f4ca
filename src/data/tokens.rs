//! Token files (`train.bin`, `val.bin`): little-endian u16 or u32, memory-mapped.

use anyhow::{bail, Context, Result};
use memmap2::Mmap;
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenWidth {
    U16,
    U32,
}

impl TokenWidth {
    /// u16 whenever every id fits.
    pub fn for_vocab(vocab: usize) -> Self {
        if vocab <= 1 << 16 {
            Self::U16
        } else {
            Self::U32
        }
    }

    pub fn bytes(self) -> usize {
        match self {
            Self::U16 => 2,
            Self::U32 => 4,
        }
    }

    pub fn encode(self, ids: &[u32], out: &mut Vec<u8>) {
        for &id in ids {
            match self {
                Self::U16 => out.extend_from_slice(&(id as u16).to_le_bytes()),
                Self::U32 => out.extend_from_slice(&id.to_le_bytes()),
            }
        }
    }
}

pub struct TokenFile {
    mmap: Option<Mmap>,
    width: TokenWidth,
    len: usize,
}

impl TokenFile {
    /// Map a token file of `expect_tokens` ids, each below `vocab` (checked
    /// here, so a foreign or damaged file fails now, named, not inside the model).
    pub fn open(path: &Path, width: TokenWidth, expect_tokens: u64, vocab: usize) -> Result<Self> {
        let f =
            File::open(path).with_context(|| format!("dataset {}: cannot open", path.display()))?;
        let bytes = f.metadata()?.len();
        if bytes != expect_tokens * width.bytes() as u64 {
            bail!(
                "dataset {}: {} bytes but meta.json says {} tokens of {} bytes (truncated or foreign file)",
                path.display(),
                bytes,
                expect_tokens,
                width.bytes()
            );
        }
        // An empty file cannot be mapped; it is still a valid (empty) split.
        let mmap = if bytes == 0 {
            None
        } else {
            Some(
                unsafe { Mmap::map(&f) }
                    .with_context(|| format!("dataset {}: mmap failed", path.display()))?,
            )
        };
        let tf = TokenFile {
            mmap,
            width,
            len: expect_tokens as usize,
        };
        if let Some((at, id)) = tf.first_id_at_least(vocab) {
            bail!(
                "dataset {}: token {at} has id {id}, outside the tokenizer's vocabulary of {vocab} (damaged or foreign file?)",
                path.display()
            );
        }
        Ok(tf)
    }

    /// The first (position, id) with id >= `vocab`, scanning in parallel.
    fn first_id_at_least(&self, vocab: usize) -> Option<(usize, u32)> {
        use rayon::prelude::*;
        const CHUNK: usize = 1 << 20;
        (0..self.len.div_ceil(CHUNK))
            .into_par_iter()
            .find_map_first(|c| {
                let start = c * CHUNK;
                let mut ids = Vec::new();
                self.read_into(start, CHUNK.min(self.len - start), &mut ids);
                let k = ids.iter().position(|&id| id as usize >= vocab)?;
                Some((start + k, ids[k]))
            })
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Append tokens `[start, start + n)` to `out`.
    pub fn read_into(&self, start: usize, n: usize, out: &mut Vec<u32>) {
        let m = self.mmap.as_deref().unwrap_or(&[]);
        match self.width {
            TokenWidth::U16 => out.extend(
                m[2 * start..2 * (start + n)]
                    .chunks_exact(2)
                    .map(|c| u16::from_le_bytes([c[0], c[1]]) as u32),
            ),
            TokenWidth::U32 => out.extend(
                m[4 * start..4 * (start + n)]
                    .chunks_exact(4)
                    .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])),
            ),
        }
    }
}
