//! Which prepared dataset a run config uses (`data.dir`, or a folder named
//! for the corpus and tokenizer under data/prepared/), preparing it when missing.

use super::tokenizer::TokenizerSpec;
use super::Dataset;
use crate::config::RunConfig;
use anyhow::{bail, Result};
use std::path::PathBuf;

/// The prepared dataset for a config, preparing it first when missing.
pub fn ensure_dataset(cfg: &RunConfig, quiet: bool) -> Result<Dataset> {
    let dir = dataset_dir(cfg);
    if !dir.join("meta.json").is_file() {
        let spec_text = tokenizer_spec_text(cfg);
        let spec = TokenizerSpec::parse(&spec_text, cfg.model.vocab_size)?;
        if !quiet {
            eprintln!(
                "preparing {} from {} ({spec_text})",
                dir.display(),
                cfg.data.corpus.display()
            );
        }
        super::prepare::prepare(&cfg.data.corpus, &dir, &spec, &spec_text)?;
    }
    let ds = Dataset::open(&dir)?;
    if ds.meta.vocab_size > cfg.model.vocab_size {
        bail!(
            "model.vocab_size ({}) is smaller than the tokenizer's vocabulary ({}) in {}",
            cfg.model.vocab_size,
            ds.meta.vocab_size,
            dir.display()
        );
    }
    Ok(ds)
}

fn tokenizer_spec_text(cfg: &RunConfig) -> String {
    match (&cfg.data.tokenizer[..], cfg.data.vocab) {
        ("bpe", Some(v)) => format!("bpe:{v}"),
        ("bpe", None) => format!("bpe:{}", cfg.model.vocab_size),
        (s, _) => s.to_string(),
    }
}

/// `data.dir`, or `data/prepared/<corpus stem>-<tokenizer slug>`.
pub fn dataset_dir(cfg: &RunConfig) -> PathBuf {
    if let Some(d) = &cfg.data.dir {
        return d.clone();
    }
    let stem = cfg
        .data
        .corpus
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = stem.split('.').next().unwrap_or("corpus").to_string();
    let slug = TokenizerSpec::parse(&tokenizer_spec_text(cfg), cfg.model.vocab_size)
        .map(|s| s.slug())
        .unwrap_or_else(|_| "tok".into());
    PathBuf::from("data/prepared").join(format!("{stem}-{slug}"))
}
