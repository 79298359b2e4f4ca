//! The training loop: data → model → AdamW, with evaluation, metrics,
//! checkpoints, exact resume and clean handling of SIGINT/SIGTERM.

pub mod cli;
pub mod dist;
pub mod optim;
mod rank;
pub mod schedule;
mod signals;
mod state;
pub mod step;

pub use step::{batch_tensors, evaluate, train_step, StepResult};

use crate::config::RunConfig;
use crate::data::{ensure_dataset, Dataset};
use crate::device::DTypeSpec;
use crate::flops::total_steps;
use crate::fsx;
use crate::rundir::metrics::{MetricsLog, Summary};
use crate::rundir::{self, checkpoint, claim::claim};
use anyhow::{bail, Result};
use signals::Signals;
use state::RankState;
use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;

/// How a run ended early.
#[derive(Debug, thiserror::Error)]
pub enum Stopped {
    #[error("interrupted by {name}; checkpoint written at step {step} (resume with --resume)")]
    Signal {
        name: &'static str,
        code: i32,
        step: usize,
    },
    #[error("halted after step {0} as requested (--halt-after); resume with --resume")]
    Halted(usize),
}

impl Stopped {
    pub fn exit_code(&self) -> i32 {
        match self {
            Stopped::Signal { code, .. } => *code,
            Stopped::Halted(_) => 0,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct TrainOptions {
    pub out: PathBuf,
    pub resume: bool,
    /// Stop with a checkpoint after this step (tests of preemption and resume).
    pub halt_after: Option<usize>,
    /// No progress bar or per-step console lines (sweeps, tests).
    pub quiet: bool,
    /// Device profile for MFU against the measured peak (default: `profile::locate`).
    pub profile: Option<PathBuf>,
    /// Refuse the run when its predicted peak memory exceeds this (bytes).
    pub memory_budget: Option<u64>,
}

/// What a run settles once, before any rank starts: the data, the locked run
/// folder, and each rank's weights, optimizer and sampler (restored from the
/// checkpoint, which is thereby verified even when the run has finished).
struct Setup {
    cfg: RunConfig,
    opts: TrainOptions,
    dtype: DTypeSpec,
    ds: Dataset,
    dir: PathBuf,
    /// Each rank's starting state, taken by its thread.
    ranks: std::sync::Mutex<Vec<Option<RankState>>>,
    hw_id: Option<String>,
    /// Peak FLOP/s of one device: the catalog's (vendor) and the profile's (measured).
    peak: Option<f64>,
    measured_peak: Option<f64>,
    _lock: File,
}

/// Train `cfg` into the run folder `opts.out`, on `train.ranks` data-parallel ranks.
pub fn train(cfg: &RunConfig, opts: &TrainOptions) -> Result<Summary> {
    let dtype = cfg.train.dtype;
    dist::check(cfg.train.ranks, cfg.train.batch_size, cfg.train.device)?;
    let devs = dist::open_devices(cfg.train.device, cfg.train.ranks)?;
    for dev in &devs {
        dtype.check_device(dev)?;
    }
    // The config as given goes into the run folder; the run trains with "auto" resolved.
    let given = cfg;
    let cfg = &crate::memory::fit(given, &devs[0], opts.memory_budget)?;
    if cfg.train.micro_batch != given.train.micro_batch && !opts.quiet {
        eprintln!(
            "train.micro_batch = \"auto\": {} rows per forward/backward",
            cfg.micro_rows()
        );
    }
    let ds = ensure_dataset(cfg, opts.quiet)?;
    if ds.train.len() < cfg.model.seq_len + 1 || ds.val.len() < cfg.model.seq_len + 1 {
        bail!(
            "model.seq_len ({}) is longer than the data (train {} tokens, validation {} tokens in {})",
            cfg.model.seq_len,
            ds.train.len(),
            ds.val.len(),
            ds.dir.display()
        );
    }
    let (hw_id, peak) = crate::hardware::peak_for(cfg.train.hardware.as_deref(), &devs[0], dtype)?;
    let measured_peak = crate::profile::measured_peak(opts.profile.as_deref(), &devs[0], dtype)?;

    let dir = opts.out.clone();
    let claimed = claim(&dir, opts.resume)?;
    let resumed = claimed.resumed;
    if let Some((cdir, st)) = &resumed {
        state::check_compatible(cfg, st, &ds.meta.tokenizer_sha256, cdir)?;
    }
    for n in &claimed.notes {
        eprintln!("warning: {n}");
    }
    match &resumed {
        Some((cdir, st)) if !opts.quiet => eprintln!(
            "resuming {} from {} (step {})",
            dir.display(),
            cdir.display(),
            st.step
        ),
        None if opts.resume && !opts.quiet => eprintln!(
            "no usable checkpoint in {}; starting from scratch",
            rundir::checkpoints_dir(&dir).display()
        ),
        _ => {}
    }
    crate::memory::mark_baseline(&devs[0]);
    let ranks = devs
        .iter()
        .map(|dev| {
            crate::device::configure_precision(dev, dtype);
            Ok(Some(match &resumed {
                Some((cdir, st)) => RankState::restore(cfg, &dir, cdir, st.clone(), dev, dtype)?,
                None => RankState::fresh(cfg, &dir, dev, dtype, &ds.meta.tokenizer_sha256)?,
            }))
        })
        .collect::<Result<Vec<_>>>()?;
    // Every check has passed: now the folder's files change, all or none.
    let start_step = resumed.as_ref().map_or(0, |(_, st)| st.step);
    let metrics = rundir::metrics_path(&dir);
    let kept = MetricsLog::kept_text(&metrics, Some(start_step).filter(|&s| s > 0));
    fsx::write_all_atomic(&[
        (&rundir::config_path(&dir), given.to_toml().as_bytes()),
        (&rundir::tokenizer_path(&dir), &ds.tokenizer_json),
        (&metrics, kept.as_bytes()),
    ])?;
    if let Some((_, st)) = &resumed {
        // A process killed between its last checkpoint and the pruning after it.
        let best = st.best_val.map(|b| b.0);
        checkpoint::prune(&rundir::checkpoints_dir(&dir), cfg.train.keep_last, best)?;
    }
    // Resuming a run that already finished: its summary stands (re-deriving it
    // here would lose the throughput, which no step of this process measured).
    if start_step >= total_steps(cfg) {
        if let Ok(s) = rundir::read_summary(&dir) {
            if !opts.quiet {
                eprintln!(
                    "run {} already finished at step {start_step}; nothing to do",
                    dir.display()
                );
            }
            return Ok(s);
        }
    }
    // Said once, when training starts (a failed check stays a one-line error).
    let measured_peak = match measured_peak {
        Ok(p) => Some(p),
        Err(note) => {
            if !opts.quiet {
                eprintln!("note: {note}");
            }
            None
        }
    };
    // Installed here, once, not by W rank threads at the same time.
    Signals::get()?;
    let setup = Arc::new(Setup {
        cfg: cfg.clone(),
        opts: opts.clone(),
        dtype,
        ds,
        dir,
        ranks: std::sync::Mutex::new(ranks),
        hw_id,
        peak,
        measured_peak,
        _lock: claimed.lock,
    });
    dist::launch(devs, move |comm, dev| rank::train_rank(&setup, comm, dev))
}
