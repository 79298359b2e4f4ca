//! Taking a run folder for training: refuse to clobber a run that is not
//! being resumed, lock it, clean what a killed process left, and find the
//! newest checkpoint that verifies.

use super::checkpoint::{self, TrainState};
use super::{checkpoints_dir, lock, metrics_path};
use anyhow::{bail, Context, Result};
use std::fs::{self, File};
use std::path::{Path, PathBuf};

/// A run folder locked by this process for training.
pub struct Claim {
    /// Held until the run ends.
    pub lock: File,
    /// The checkpoint a resume starts from, with its state.
    pub resumed: Option<(PathBuf, TrainState)>,
    /// Checkpoints that did not verify and were passed over.
    pub notes: Vec<String>,
}

/// Claim `dir` for a new run, or for resuming the run in it.
pub fn claim(dir: &Path, resume: bool) -> Result<Claim> {
    let ckpt_root = checkpoints_dir(dir);
    if !super::holds_run(dir) {
        // A new run writes config.toml, tokenizer.json, …: nothing of the user's may be there.
        super::refuse_foreign(dir, "run folder", |_| false)?;
    }
    let existing = checkpoint::list(&ckpt_root);
    if !resume && (!existing.is_empty() || metrics_path(dir).exists()) {
        bail!("run folder {} already holds a run; pass --resume to continue it or choose another --out", dir.display());
    }
    fs::create_dir_all(dir)
        .with_context(|| format!("run folder {}: cannot create", dir.display()))?;
    // Lock before reading checkpoints, so no other process writes one meanwhile.
    let lock = lock(dir)?;
    checkpoint::clean_stale(&ckpt_root);
    super::clean_stale_temps(dir);
    let mut notes = Vec::new();
    let resumed = if resume {
        checkpoint::latest_good(&ckpt_root, |m| notes.push(m))
    } else {
        None
    };
    if resume && resumed.is_none() && !existing.is_empty() {
        // Starting over would overwrite the run's metrics: refuse and say why.
        let why = notes
            .first()
            .map(|n| n.trim_end_matches("; falling back to the previous checkpoint"))
            .unwrap_or_default();
        bail!(
            "run folder {}: none of its {} checkpoints verifies ({why}); nothing was changed — move the folder away to start over",
            dir.display(),
            existing.len(),
        );
    }
    // Fail now, not after the first steps, when checkpoints cannot be written.
    fs::create_dir_all(&ckpt_root).with_context(|| {
        format!(
            "run folder {}: cannot create {}",
            dir.display(),
            ckpt_root.display()
        )
    })?;
    Ok(Claim {
        lock,
        resumed,
        notes,
    })
}
