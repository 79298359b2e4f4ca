//! The run-folder format, in one place: what a run folder holds, how it is
//! locked, cleaned and opened, and the sweep tables built from run folders.
//!
//! ```text
//! RUN/
//!   config.toml        the resolved config the run continues under
//!   tokenizer.json     the tokenizer of its dataset
//!   metrics.jsonl      one JSON line per step and per evaluation (metrics.rs)
//!   summary.json       written when the run finishes (metrics::Summary)
//!   checkpoints/step_XXXXXXXX/{model,optim}.safetensors + state.json (checkpoint.rs)
//!   .lock              held by the process training the run
//! ```

pub mod checkpoint;
pub mod claim;
pub mod metrics;
pub mod results;

use crate::config::RunConfig;
use crate::data::tokenizer;
use crate::fsx;
use crate::model::params::Params;
use anyhow::{anyhow, bail, Context, Result};
use candle_core::{DType, Device};
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use tokenizers::Tokenizer;

pub const CONFIG_FILE: &str = "config.toml";
pub const TOKENIZER_FILE: &str = "tokenizer.json";
pub const METRICS_FILE: &str = "metrics.jsonl";
pub const SUMMARY_FILE: &str = "summary.json";
pub const CHECKPOINTS_DIR: &str = "checkpoints";
pub const LOCK_FILE: &str = ".lock";

/// Paths inside one run folder.
pub fn config_path(run: &Path) -> PathBuf {
    run.join(CONFIG_FILE)
}
pub fn tokenizer_path(run: &Path) -> PathBuf {
    run.join(TOKENIZER_FILE)
}
pub fn metrics_path(run: &Path) -> PathBuf {
    run.join(METRICS_FILE)
}
pub fn summary_path(run: &Path) -> PathBuf {
    run.join(SUMMARY_FILE)
}
pub fn checkpoints_dir(run: &Path) -> PathBuf {
    run.join(CHECKPOINTS_DIR)
}

/// True when `dir` holds (the start of) a run: metrics or a checkpoints folder.
pub fn holds_run(dir: &Path) -> bool {
    metrics_path(dir).exists() || checkpoints_dir(dir).exists()
}

/// The run's summary, when it has finished.
pub fn read_summary(run: &Path) -> Result<metrics::Summary> {
    fsx::read_json(&summary_path(run))
}

/// `checkpoints/<stem>`, or the first free `checkpoints/<stem>-N` (the newest
/// existing one when resuming).
pub fn default_run_dir(config: &Path, resume: bool) -> PathBuf {
    let stem = config
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "run".into());
    let base = PathBuf::from("checkpoints");
    let cand = |i: usize| {
        if i == 1 {
            base.join(&stem)
        } else {
            base.join(format!("{stem}-{i}"))
        }
    };
    let mut i = 1;
    while holds_run(&cand(i)) {
        i += 1;
    }
    if resume && i > 1 {
        cand(i - 1)
    } else {
        cand(i)
    }
}

/// Lock the run folder for this process (released when the file is dropped).
pub fn lock(dir: &Path) -> Result<File> {
    let f = File::create(dir.join(LOCK_FILE)).with_context(|| {
        format!(
            "run folder {}: cannot create the lock file (read-only?)",
            dir.display()
        )
    })?;
    f.try_lock().map_err(|_| {
        anyhow!(
            "run folder {} is in use by another scalelab process",
            dir.display()
        )
    })?;
    Ok(f)
}

/// Refuse to use `dir` as a `what` (e.g. "run folder") when it holds entries
/// that `ours` does not recognise: files scalelab did not write are never
/// overwritten. The error names them. A missing `dir` is fine.
pub fn refuse_foreign(dir: &Path, what: &str, ours: impl Fn(&str) -> bool) -> Result<()> {
    let mut foreign: Vec<String> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !ours(n) && !fsx::is_temp_name(n) && n != LOCK_FILE)
        .collect();
    if foreign.is_empty() {
        return Ok(());
    }
    foreign.sort();
    let more = foreign.len().saturating_sub(5);
    foreign.truncate(5);
    bail!(
        "{what} {} holds files scalelab did not write ({}{}); nothing was changed — choose another --out or move them away",
        dir.display(),
        foreign.join(", "),
        if more > 0 { format!(" and {more} more") } else { String::new() }
    )
}

/// Remove temp files (`.NAME.tmp-PID`) that a killed process left in the run
/// folder. Call only while holding the run lock.
pub fn clean_stale_temps(dir: &Path) {
    fsx::clean_stale_temps(dir, fsx::Stale::All);
}

/// One checkpoint of a run folder with its tokenizer: what `sample`, `logits`
/// and `export` work from. The config is the one the checkpoint records.
pub struct Run {
    pub cfg: RunConfig,
    pub params: Params,
    pub step: usize,
    /// The checkpoint folder.
    pub dir: PathBuf,
    pub tokenizer: Tokenizer,
    pub tokenizer_json: Vec<u8>,
}

impl Run {
    /// Checkpoint `step` of the run folder `run` (default: the newest that
    /// verifies), with its weights in f32 on `dev`.
    pub fn open(run: &Path, step: Option<usize>, dev: &Device) -> Result<Run> {
        if !run.is_dir() {
            bail!("run {}: no such folder", run.display());
        }
        let root = checkpoints_dir(run);
        let (dir, state) = match step {
            None => checkpoint::latest_good(&root, |m| eprintln!("warning: {m}"))
                .ok_or_else(|| anyhow!("run {}: no usable checkpoint", run.display()))?,
            Some(s) => {
                let dir = root.join(checkpoint::step_dir_name(s));
                if !dir.is_dir() {
                    let have: Vec<String> = checkpoint::list(&root)
                        .iter()
                        .rev()
                        .map(|(s, _)| s.to_string())
                        .collect();
                    let have = if have.is_empty() {
                        "none".into()
                    } else {
                        have.join(", ")
                    };
                    bail!(
                        "run {}: no checkpoint for step {s} (steps present: {have})",
                        run.display()
                    );
                }
                let st = checkpoint::verify(&dir)?;
                (dir, st)
            }
        };
        let tk_path = tokenizer_path(run);
        let tokenizer = tokenizer::load(&tk_path)?;
        let tokenizer_json = tokenizer::read_bytes(&tk_path)?;
        if fsx::sha256_hex(&tokenizer_json) != state.tokenizer_sha256 {
            eprintln!(
                "warning: {} is not the tokenizer checkpoint {} was trained with (sha256 differs)",
                tk_path.display(),
                dir.display()
            );
        }
        let weights = checkpoint::load_safetensors(&dir.join(checkpoint::MODEL_FILE), dev)?;
        let params = Params::from_named(
            &state.config.model,
            weights,
            DType::F32,
            dev,
            &dir.display().to_string(),
        )?;
        Ok(Run {
            cfg: state.config,
            params,
            step: state.step,
            dir,
            tokenizer,
            tokenizer_json,
        })
    }
}
