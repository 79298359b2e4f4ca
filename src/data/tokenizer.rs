//! Tokenizers: train a byte-level BPE, load a tokenizer.json, or resolve one
//! through the Hugging Face cache (offline first).

use anyhow::{anyhow, bail, Context, Result};
use std::path::{Path, PathBuf};
use tokenizers::models::bpe::{BpeTrainerBuilder, BPE};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::{
    AddedToken, DecoderWrapper, NormalizerWrapper, PostProcessorWrapper, PreTokenizerWrapper,
    Tokenizer, TokenizerBuilder,
};

pub const EOT: &str = "<|endoftext|>";

/// How `data prepare` gets its tokenizer.
#[derive(Debug, Clone, PartialEq)]
pub enum TokenizerSpec {
    /// Train byte-level BPE with this many entries on the corpus' train split.
    Bpe(usize),
    /// An existing tokenizer.json.
    File(PathBuf),
    /// `hf:OWNER/REPO[@REVISION]`: tokenizer.json from the Hugging Face cache.
    Hf {
        repo: String,
        revision: Option<String>,
    },
}

impl TokenizerSpec {
    /// `bpe`, `bpe:N`, `hf:OWNER/REPO[@REV]`, or a path.
    pub fn parse(s: &str, default_vocab: usize) -> Result<Self> {
        if s == "bpe" {
            return Ok(Self::Bpe(default_vocab));
        }
        if let Some(n) = s.strip_prefix("bpe:") {
            let n: usize = n
                .parse()
                .map_err(|_| anyhow!("tokenizer `{s}`: expected bpe:N with N a number"))?;
            return Ok(Self::Bpe(n));
        }
        if let Some(r) = s.strip_prefix("hf:") {
            let (repo, revision) = match r.split_once('@') {
                Some((a, b)) => (a, Some(b.to_string())),
                None => (r, None),
            };
            if repo.split('/').count() != 2 || repo.split('/').any(str::is_empty) {
                bail!("tokenizer `{s}`: expected hf:OWNER/REPO");
            }
            return Ok(Self::Hf {
                repo: repo.to_string(),
                revision,
            });
        }
        Ok(Self::File(PathBuf::from(s)))
    }

    /// Short name used in default folder names.
    pub fn slug(&self) -> String {
        match self {
            Self::Bpe(n) => format!("bpe{n}"),
            Self::File(p) => {
                let stem = p
                    .parent()
                    .and_then(|d| d.file_name())
                    .or(p.file_stem())
                    .unwrap_or_default();
                format!("tok-{}", stem.to_string_lossy())
            }
            Self::Hf { repo, .. } => format!("hf-{}", repo.replace('/', "-")),
        }
    }
}

/// Find `tokenizer.json` of an HF repo: the local cache first (`HF_HOME`,
/// default ~/.cache/huggingface), then — unless `HF_HUB_OFFLINE` is set — the hub.
pub fn resolve_hf(repo: &str, revision: Option<&str>, file: &str) -> Result<PathBuf> {
    let hub_repo = match revision {
        Some(r) => {
            hf_hub::Repo::with_revision(repo.to_string(), hf_hub::RepoType::Model, r.to_string())
        }
        None => hf_hub::Repo::model(repo.to_string()),
    };
    let cache = hf_hub::Cache::from_env();
    if let Some(p) = cache.repo(hub_repo.clone()).get(file) {
        return Ok(p);
    }
    // A commit hash names its snapshot directly (hf-hub only follows refs/<name>).
    if let Some(rev) =
        revision.filter(|r| r.len() == 40 && r.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        let p = cache
            .path()
            .join(format!("models--{}", repo.replace('/', "--")))
            .join("snapshots")
            .join(rev)
            .join(file);
        if p.is_file() {
            return Ok(p);
        }
    }
    let offline = std::env::var("HF_HUB_OFFLINE").is_ok_and(|v| !v.is_empty() && v != "0");
    if offline {
        bail!(
            "hf:{repo}: {file} is not in the Hugging Face cache {} and HF_HUB_OFFLINE is set",
            cache.path().display()
        );
    }
    let api = hf_hub::api::sync::ApiBuilder::from_cache(cache.clone())
        .with_progress(false)
        .with_retries(0)
        .build()
        .map_err(|e| anyhow!("hf:{repo}: cannot start the hub client: {e}"))?;
    api.repo(hub_repo).get(file).map_err(|e| {
        anyhow!(
            "hf:{repo}: {file} is not in the cache {} and the download failed ({e})",
            cache.path().display()
        )
    })
}

pub fn load(path: &Path) -> Result<Tokenizer> {
    crate::fsx::require_file(path, "tokenizer")?;
    // The tokenizers crate panics on some malformed files (e.g. a broken `decoder`).
    crate::crash::catch(|| Tokenizer::from_file(path))
        .and_then(|r| r.map_err(|e| anyhow!("{}", crate::config::one_line(&e.to_string()))))
        .map_err(|e| {
            anyhow!(
                "tokenizer {}: malformed tokenizer file ({e})",
                path.display()
            )
        })
}

/// Train a GPT-2-style byte-level BPE (no normaliser, no prefix space) with
/// `vocab` entries including the 256 byte symbols and `<|endoftext|>`.
pub fn train_bpe<I>(vocab: usize, texts: I) -> Result<Tokenizer>
where
    I: Iterator<Item = String> + Send,
{
    if vocab < 257 {
        bail!("tokenizer vocab {vocab} is too small: byte-level BPE needs at least 257 entries");
    }
    let mut tk = TokenizerBuilder::<
        BPE,
        NormalizerWrapper,
        PreTokenizerWrapper,
        PostProcessorWrapper,
        DecoderWrapper,
    >::new()
    .with_model(BPE::default())
    .with_normalizer(None)
    .with_pre_tokenizer(Some(ByteLevel::default().add_prefix_space(false).into()))
    .with_post_processor(Some(ByteLevel::default().trim_offsets(false).into()))
    .with_decoder(Some(ByteLevel::default().into()))
    .build()
    .map_err(|e| anyhow!("tokenizer: {e}"))?;
    let mut trainer = BpeTrainerBuilder::new()
        .vocab_size(vocab)
        .min_frequency(2)
        .show_progress(false)
        .special_tokens(vec![AddedToken::from(EOT, true)])
        .initial_alphabet(ByteLevel::alphabet().into_iter().collect())
        .build();
    tk.train(&mut trainer, texts)
        .map_err(|e| anyhow!("tokenizer training failed: {e}"))?;
    Ok(tk.into())
}

/// Serialise a tokenizer to its canonical JSON bytes.
pub fn to_json(tk: &Tokenizer) -> Result<Vec<u8>> {
    tk.to_string(false)
        .map(String::into_bytes)
        .map_err(|e| anyhow!("tokenizer: cannot serialise: {e}"))
}

pub fn decode(tk: &Tokenizer, ids: &[u32]) -> Result<String> {
    tk.decode(ids, false)
        .map_err(|e| anyhow!("tokenizer: decode failed: {e}"))
}

pub fn encode(tk: &Tokenizer, text: &str) -> Result<Vec<u32>> {
    Ok(tk
        .encode_fast(text, false)
        .map_err(|e| anyhow!("tokenizer: encode failed: {e}"))?
        .get_ids()
        .to_vec())
}

/// Read the bytes of a tokenizer.json, with the file named in the error.
pub fn read_bytes(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("tokenizer {}: cannot read", path.display()))
}
