//! `scalelab data prepare --corpus FILE --out DIR [--vocab N | --tokenizer T]`.

use super::tokenizer::TokenizerSpec;
use anyhow::Result;
use clap::{Args, Subcommand};
use std::path::PathBuf;

#[derive(Subcommand, Debug)]
pub enum DataCommand {
    /// Tokenize a corpus into train.bin / val.bin / meta.json / tokenizer.json.
    Prepare(PrepareArgs),
}

#[derive(Args, Debug)]
pub struct PrepareArgs {
    /// Text corpus (plain UTF-8 or .xz).
    #[arg(long)]
    pub corpus: PathBuf,
    /// Output folder (must not already hold a dataset).
    #[arg(long)]
    pub out: PathBuf,
    /// Train a byte-level BPE with this many entries (default 8192).
    #[arg(long, conflicts_with = "tokenizer")]
    pub vocab: Option<usize>,
    /// Existing tokenizer.json, or hf:OWNER/REPO from the Hugging Face cache.
    #[arg(long)]
    pub tokenizer: Option<String>,
}

/// `scalelab data …`.
pub fn run(cmd: DataCommand) -> Result<i32> {
    match cmd {
        DataCommand::Prepare(a) => prepare(a),
    }
}

fn prepare(a: PrepareArgs) -> Result<i32> {
    let spec_text = match (&a.tokenizer, a.vocab) {
        (Some(t), _) => t.clone(),
        (None, v) => format!("bpe:{}", v.unwrap_or(8192)),
    };
    let spec = TokenizerSpec::parse(&spec_text, 8192)?;
    let meta = super::prepare::prepare(&a.corpus, &a.out, &spec, &spec_text)?;
    println!(
        "prepared {}: vocab {} ({:?}) | train {} tokens / {} bytes | val {} tokens / {} bytes | {:.3} bytes/token",
        a.out.display(),
        meta.vocab_size,
        meta.dtype,
        meta.train.tokens,
        meta.train.bytes,
        meta.val.tokens,
        meta.val.bytes,
        meta.bytes_per_token()
    );
    Ok(0)
}
