//! `scalelab export`, `scalelab import`, `scalelab logits`.

use super::hf;
use crate::data::tokenizer;
use crate::fsx;
use anyhow::{bail, Result};
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// Run folder written by `scalelab train`.
    #[arg(long)]
    pub run: PathBuf,
    /// New folder for the Hugging Face GPT-2 files (absent or empty).
    #[arg(long)]
    pub out: PathBuf,
    /// Export this step's checkpoint (default: the newest good one).
    #[arg(long)]
    pub step: Option<usize>,
}

#[derive(Args, Debug)]
pub struct ImportArgs {
    /// Hugging Face GPT-2 folder: config.json, model.safetensors (or sharded with
    /// model.safetensors.index.json), tokenizer.json.
    #[arg(long)]
    pub hf: PathBuf,
    /// New run folder (absent or empty); `scalelab sample --run` reads it.
    #[arg(long)]
    pub out: PathBuf,
    /// tokenizer.json to use instead of the folder's own.
    #[arg(long)]
    pub tokenizer: Option<PathBuf>,
    /// Also write the run's config.toml here (a new file), as a start for training configs.
    #[arg(long)]
    pub config_out: Option<PathBuf>,
}

#[derive(Args, Debug)]
#[command(group(clap::ArgGroup::new("input").required(true).args(["tokens", "prompt"])))]
pub struct LogitsArgs {
    /// Run folder (its newest good checkpoint unless --step).
    #[arg(long)]
    pub run: PathBuf,
    #[arg(long)]
    pub step: Option<usize>,
    /// Token ids, comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub tokens: Vec<u32>,
    /// Text to tokenize with the run's tokenizer instead of --tokens.
    #[arg(long)]
    pub prompt: Option<String>,
    /// Print {"tokens", "logits": [[...] per position]} instead of a top-5 summary.
    #[arg(long)]
    pub json: bool,
}

/// The commands that cross to and from Hugging Face folders.
pub enum InteropCommand {
    Export(ExportArgs),
    Import(ImportArgs),
    Logits(LogitsArgs),
}

/// `scalelab export` / `import` / `logits`.
pub fn run(cmd: InteropCommand) -> Result<i32> {
    match cmd {
        InteropCommand::Export(a) => export(a),
        InteropCommand::Import(a) => import(a),
        InteropCommand::Logits(a) => logits(a),
    }
}

fn export(a: ExportArgs) -> Result<i32> {
    let e = hf::export(&a.run, &a.out, a.step)?;
    println!(
        "exported {} (step {}, {} tensors, {} parameters) to {} ({}, {}, {})",
        e.checkpoint.display(),
        e.step,
        e.tensors,
        e.params,
        a.out.display(),
        hf::CONFIG_FILE,
        hf::WEIGHTS_FILE,
        hf::TOKENIZER_FILE
    );
    Ok(0)
}

fn import(a: ImportArgs) -> Result<i32> {
    if let Some(c) = &a.config_out {
        if c.exists() {
            bail!(
                "--config-out {}: file exists (nothing is overwritten)",
                c.display()
            );
        }
    }
    let r = hf::import(&a.hf, &a.out, a.tokenizer.as_deref())?;
    let m = &r.config.model;
    println!(
        "imported {} ({} tensors, {} parameters: n_layer {} n_head {} d_model {} seq_len {} vocab {}) into {}",
        a.hf.display(),
        r.tensors,
        r.params,
        m.n_layer,
        m.n_head,
        m.d_model,
        m.seq_len,
        m.vocab_size,
        r.checkpoint.display()
    );
    if let Some(c) = &a.config_out {
        fsx::write_atomic(c, hf::config_toml(&r.config, &a.hf).as_bytes())?;
        println!("config written to {}", c.display());
    }
    Ok(0)
}

fn logits(a: LogitsArgs) -> Result<i32> {
    let ck = crate::rundir::Run::open(&a.run, a.step, &candle_core::Device::Cpu)?;
    let tokens = match &a.prompt {
        Some(p) => tokenizer::encode(&ck.tokenizer, p)?,
        None => a.tokens.clone(),
    };
    let logits = hf::logits(&ck, &tokens)?;
    if a.json {
        let v = serde_json::json!({
            "run": a.run.display().to_string(),
            "step": ck.step,
            "vocab_size": ck.cfg.model.vocab_size,
            "tokens": tokens,
            "logits": logits,
        });
        println!("{v}");
        return Ok(0);
    }
    println!(
        "{} step {}: logits for {} tokens (top 5 next-token ids per position)",
        a.run.display(),
        ck.step,
        tokens.len()
    );
    for (i, (t, row)) in tokens.iter().zip(&logits).enumerate() {
        let mut idx: Vec<usize> = (0..row.len()).collect();
        idx.sort_by(|&x, &y| row[y].total_cmp(&row[x]));
        let top: Vec<String> = idx
            .iter()
            .take(5)
            .map(|&j| format!("{j} ({:.3})", row[j]))
            .collect();
        println!("{i:>4} token {t:>6}: {}", top.join(", "));
    }
    Ok(0)
}
