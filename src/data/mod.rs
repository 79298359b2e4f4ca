//! Data path: corpus → tokenizer → token shards (`data prepare`) → batches.

pub mod batches;
pub mod cli;
pub mod corpus;
pub mod prepare;
pub mod resolve;
pub mod tokenizer;
pub mod tokens;

pub use resolve::{dataset_dir, ensure_dataset};

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use tokens::{TokenFile, TokenWidth};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SplitStats {
    pub tokens: u64,
    /// UTF-8 bytes of the text behind these tokens (for bits-per-byte).
    pub bytes: u64,
    pub blocks: u64,
}

/// `meta.json` of a prepared dataset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Meta {
    pub format: u32,
    pub dtype: TokenWidth,
    pub vocab_size: usize,
    pub tokenizer: String,
    pub tokenizer_sha256: String,
    pub corpus: String,
    /// sha256 of the corpus file as stored (compressed if .xz).
    pub corpus_sha256: String,
    /// sha256 of the decoded text.
    pub text_sha256: String,
    pub split_rule: String,
    pub train: SplitStats,
    pub val: SplitStats,
    pub scalelab_version: String,
}

impl Meta {
    pub fn bytes_per_token(&self) -> f64 {
        self.val.bytes as f64 / self.val.tokens.max(1) as f64
    }

    /// Passes over the training split that `tokens` training tokens make.
    pub fn epochs(&self, tokens: u64) -> f64 {
        tokens as f64 / self.train.tokens.max(1) as f64
    }
}

/// A prepared dataset, memory-mapped.
pub struct Dataset {
    pub dir: PathBuf,
    pub meta: Meta,
    pub train: TokenFile,
    pub val: TokenFile,
    pub tokenizer: tokenizers::Tokenizer,
    pub tokenizer_json: Vec<u8>,
}

impl Dataset {
    pub fn open(dir: &Path) -> Result<Self> {
        let meta_path = dir.join("meta.json");
        if !meta_path.is_file() {
            bail!(
                "dataset {}: no meta.json (run `scalelab data prepare` first)",
                dir.display()
            );
        }
        let meta: Meta = crate::fsx::read_json(&meta_path)?;
        let tk_path = dir.join("tokenizer.json");
        let tokenizer_json = tokenizer::read_bytes(&tk_path)?;
        let sha = crate::fsx::sha256_hex(&tokenizer_json);
        if sha != meta.tokenizer_sha256 {
            bail!("dataset {}: tokenizer.json does not match meta.json's tokenizer_sha256 (modified after prepare?)", dir.display());
        }
        let tokenizer = tokenizer::load(&tk_path)?;
        let open =
            |name: &str, n: u64| TokenFile::open(&dir.join(name), meta.dtype, n, meta.vocab_size);
        let train = open("train.bin", meta.train.tokens)?;
        let val = open("val.bin", meta.val.tokens)?;
        Ok(Dataset {
            dir: dir.to_path_buf(),
            meta,
            train,
            val,
            tokenizer,
            tokenizer_json,
        })
    }
}
