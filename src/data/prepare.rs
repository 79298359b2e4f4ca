//! `scalelab data prepare`: stream a corpus through a tokenizer into
//! `train.bin` / `val.bin` + `meta.json` + `tokenizer.json`, in bounded memory.

use super::corpus::{is_val_block, split_rule, CorpusReader};
use super::tokenizer::{self, TokenizerSpec};
use super::tokens::TokenWidth;
use super::{Meta, SplitStats};
use crate::fsx;
use anyhow::{anyhow, bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use sha2::{Digest, Sha256};
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use tokenizers::Tokenizer;

/// Blocks encoded together (in parallel) per round: bounds memory to ~4 MiB of text.
const ENCODE_BATCH: usize = 64;

fn progress(path: &Path, msg: &str) -> ProgressBar {
    let pb = ProgressBar::new(CorpusReader::file_len(path));
    pb.set_style(
        ProgressStyle::with_template(
            "{msg:>12} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .expect("template")
        .progress_chars("=> "),
    );
    pb.set_message(msg.to_string());
    pb
}

/// Train split blocks of the corpus as an iterator (errors are parked in `err`).
struct TrainBlocks {
    reader: CorpusReader,
    err: Arc<Mutex<Option<anyhow::Error>>>,
    pb: ProgressBar,
}

impl Iterator for TrainBlocks {
    type Item = String;
    fn next(&mut self) -> Option<String> {
        loop {
            let i = self.reader.blocks_read;
            match self.reader.next_block() {
                Ok(Some(b)) => {
                    self.pb
                        .set_position(self.reader.file_pos.load(Ordering::Relaxed));
                    if !is_val_block(i) {
                        return Some(b);
                    }
                }
                Ok(None) => return None,
                Err(e) => {
                    *self.err.lock().expect("lock") = Some(e);
                    return None;
                }
            }
        }
    }
}

fn get_tokenizer(corpus: &Path, spec: &TokenizerSpec) -> Result<(Tokenizer, Vec<u8>)> {
    match spec {
        TokenizerSpec::Bpe(vocab) => {
            let err = Arc::new(Mutex::new(None));
            let pb = progress(corpus, "bpe train");
            let blocks = TrainBlocks {
                reader: CorpusReader::open(corpus)?,
                err: err.clone(),
                pb: pb.clone(),
            };
            let tk = tokenizer::train_bpe(*vocab, blocks);
            pb.finish_and_clear();
            if let Some(e) = err.lock().expect("lock").take() {
                return Err(e);
            }
            let tk = tk?;
            let json = tokenizer::to_json(&tk)?;
            Ok((tk, json))
        }
        TokenizerSpec::File(p) => Ok((tokenizer::load(p)?, tokenizer::read_bytes(p)?)),
        TokenizerSpec::Hf { repo, revision } => {
            let p = tokenizer::resolve_hf(repo, revision.as_deref(), "tokenizer.json")?;
            Ok((tokenizer::load(&p)?, tokenizer::read_bytes(&p)?))
        }
    }
}

struct SplitWriter {
    out: BufWriter<File>,
    stats: SplitStats,
    buf: Vec<u8>,
}

impl SplitWriter {
    fn create(path: &Path) -> Result<Self> {
        let f = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
        Ok(SplitWriter {
            out: BufWriter::with_capacity(1 << 20, f),
            stats: SplitStats::default(),
            buf: Vec::new(),
        })
    }

    fn push(&mut self, width: TokenWidth, ids: &[u32], text_bytes: usize) -> Result<()> {
        self.buf.clear();
        width.encode(ids, &mut self.buf);
        self.out.write_all(&self.buf)?;
        self.stats.tokens += ids.len() as u64;
        self.stats.bytes += text_bytes as u64;
        self.stats.blocks += 1;
        Ok(())
    }

    fn finish(self) -> Result<SplitStats> {
        let f = self
            .out
            .into_inner()
            .map_err(|e| anyhow!("flush failed: {}", e.error()))?;
        f.sync_all()?;
        Ok(self.stats)
    }
}

/// Refuse an `--out` the final rename could not replace (a file, a non-empty
/// folder), before any work is done.
fn check_out(out: &Path) -> Result<()> {
    if out.join("meta.json").exists() {
        bail!(
            "data prepare: {} already holds a prepared dataset; choose another --out or delete it",
            out.display()
        );
    }
    match fs::symlink_metadata(out) {
        Ok(m) if m.is_dir() => {
            let mut entries = fs::read_dir(out)
                .with_context(|| format!("data prepare: cannot read {}", out.display()))?;
            if entries.next().is_some() {
                bail!("data prepare: {} is a folder that is not empty; choose another --out or empty it", out.display());
            }
        }
        Ok(_) => bail!(
            "data prepare: {} exists and is not a folder; choose another --out",
            out.display()
        ),
        Err(_) => {}
    }
    Ok(())
}

/// Prepare `corpus` into `out`. The folder is built under a temporary name and
/// renamed at the end, so an interrupted run leaves nothing half-written; an
/// existing dataset is never overwritten.
pub fn prepare(corpus: &Path, out: &Path, spec: &TokenizerSpec, spec_text: &str) -> Result<Meta> {
    check_out(out)?;
    fsx::require_file(corpus, "corpus")?;
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    // What a killed `data prepare` of this folder left behind (its process is gone).
    if let Some(name) = out.file_name() {
        fsx::clean_stale_temps(parent, fsx::Stale::DeadOf(&name.to_string_lossy()));
    }
    let corpus_sha256 = fsx::sha256_file(corpus)?;
    let (tk, tk_json) = get_tokenizer(corpus, spec)?;
    let vocab = tk.get_vocab_size(true);
    if vocab == 0 {
        bail!("tokenizer {spec_text}: empty vocabulary (a malformed or foreign tokenizer file?)");
    }
    let width = TokenWidth::for_vocab(vocab);

    fsx::create_dir_all(parent)?;
    let tmp: PathBuf = fsx::temp_sibling(out);
    let _ = fs::remove_dir_all(&tmp);
    fs::create_dir_all(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    let result = (|| -> Result<Meta> {
        let mut train = SplitWriter::create(&tmp.join("train.bin"))?;
        let mut val = SplitWriter::create(&tmp.join("val.bin"))?;
        let mut reader = CorpusReader::open(corpus)?;
        let mut text_hash = Sha256::new();
        let pb = progress(corpus, "tokenize");
        let mut done = false;
        while !done {
            let first = reader.blocks_read;
            let mut blocks = Vec::with_capacity(ENCODE_BATCH);
            while blocks.len() < ENCODE_BATCH {
                match reader.next_block()? {
                    Some(b) => blocks.push(b),
                    None => {
                        done = true;
                        break;
                    }
                }
            }
            let encs = tk
                .encode_batch_fast(blocks.iter().map(String::as_str).collect::<Vec<_>>(), false)
                .map_err(|e| {
                    anyhow!(
                        "tokenizer {spec_text}: cannot encode corpus {} ({e})",
                        corpus.display()
                    )
                })?;
            for (k, (b, enc)) in blocks.iter().zip(&encs).enumerate() {
                text_hash.update(b.as_bytes());
                let ids = enc.get_ids();
                if let Some(&bad) = ids.iter().find(|&&id| id as usize >= vocab) {
                    bail!("tokenizer produced id {bad} >= its vocab size {vocab}");
                }
                let w = if is_val_block(first + k as u64) {
                    &mut val
                } else {
                    &mut train
                };
                w.push(width, ids, b.len())?;
            }
            pb.set_position(reader.file_pos.load(Ordering::Relaxed));
        }
        pb.finish_and_clear();
        if reader.stray_nuls > 0 {
            eprintln!(
                "warning: corpus {}: kept {} stray NUL bytes found after the first block",
                corpus.display(),
                reader.stray_nuls
            );
        }
        let train = train.finish()?;
        let val = val.finish()?;
        if val.tokens == 0 && val.bytes > 0 {
            bail!(
                "tokenizer {spec_text}: encodes {} bytes of text as no tokens at all (an empty vocabulary?)",
                train.bytes + val.bytes
            );
        }
        if val.tokens == 0 {
            bail!(
                "corpus {}: too small for a validation split ({} bytes in {} blocks; need at least {})",
                corpus.display(),
                reader.bytes_read,
                reader.blocks_read,
                super::corpus::VAL_EVERY
            );
        }
        let meta = Meta {
            format: 1,
            dtype: width,
            vocab_size: vocab,
            tokenizer: spec_text.to_string(),
            tokenizer_sha256: fsx::sha256_hex(&tk_json),
            corpus: corpus.display().to_string(),
            corpus_sha256,
            text_sha256: fsx::hex(&text_hash.finalize()),
            split_rule: split_rule(reader.block_bytes),
            train,
            val,
            scalelab_version: env!("CARGO_PKG_VERSION").to_string(),
        };
        fsx::write_atomic(&tmp.join("tokenizer.json"), &tk_json)?;
        fsx::write_json_atomic(&tmp.join("meta.json"), &meta)?;
        Ok(meta)
    })();
    match result {
        Ok(meta) => {
            fs::rename(&tmp, out).with_context(|| {
                format!("cannot move the prepared dataset into {}", out.display())
            })?;
            fsx::sync_dir(parent);
            Ok(meta)
        }
        Err(e) => {
            let _ = fs::remove_dir_all(&tmp);
            Err(e)
        }
    }
}
