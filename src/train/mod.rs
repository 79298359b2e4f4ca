//! The training loop: data → model → AdamW, with evaluation, metrics,
//! checkpoints, exact resume and clean handling of SIGINT/SIGTERM.

pub mod checkpoint;
pub mod dist;
pub mod metrics;
pub mod optim;
pub mod schedule;

use crate::config::{NonFinite, RunConfig};
use crate::data::batches::{eval_batches, Batch, Sampler};
use crate::data::Dataset;
use crate::device::DTypeSpec;
use crate::flops::StepFlops;
use crate::model::params::{param_counts, Params};
use crate::model::Gpt;
use crate::{fsx, hardware};
use anyhow::{anyhow, bail, Context, Result};
use candle_core::{DType, Device, Tensor};
use checkpoint::TrainState;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use metrics::{EvalRecord, MetricsLog, StepRecord, Summary};
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

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
}

/// Flags set by SIGINT / SIGTERM; a second signal of the same kind exits at once.
struct Signals {
    int: Arc<AtomicBool>,
    term: Arc<AtomicBool>,
}

impl Signals {
    /// The process-wide flags, installed once: a signal that arrives between
    /// two runs of a sweep is not lost, the next run stops at once.
    fn get() -> Result<&'static Signals> {
        static SIGNALS: std::sync::OnceLock<Signals> = std::sync::OnceLock::new();
        if let Some(s) = SIGNALS.get() {
            return Ok(s);
        }
        let s = Self::install()?;
        Ok(SIGNALS.get_or_init(|| s))
    }

    fn install() -> Result<Self> {
        use signal_hook::consts::{SIGINT, SIGTERM};
        let int = Arc::new(AtomicBool::new(false));
        let term = Arc::new(AtomicBool::new(false));
        for (sig, flag) in [(SIGINT, &int), (SIGTERM, &term)] {
            signal_hook::flag::register_conditional_shutdown(sig, 128 + sig, flag.clone())?;
            signal_hook::flag::register(sig, flag.clone())?;
        }
        Ok(Signals { int, term })
    }

    /// The exit code of a pending signal (128 + its number).
    fn pending(&self) -> Option<i32> {
        if self.int.load(Ordering::SeqCst) {
            Some(130)
        } else if self.term.load(Ordering::SeqCst) {
            Some(143)
        } else {
            None
        }
    }

    /// How a run stopped by the signal with exit `code` ends.
    fn stopped(code: i32, step: usize) -> Stopped {
        Stopped::Signal {
            name: if code == 130 { "SIGINT" } else { "SIGTERM" },
            code,
            step,
        }
    }
}

/// The prepared dataset for a config, preparing it first when missing.
pub fn ensure_dataset(cfg: &RunConfig, quiet: bool) -> Result<Dataset> {
    let dir = dataset_dir(cfg);
    if !dir.join("meta.json").is_file() {
        let spec_text = tokenizer_spec_text(cfg);
        let spec = crate::data::tokenizer::TokenizerSpec::parse(&spec_text, cfg.model.vocab_size)?;
        if !quiet {
            eprintln!(
                "preparing {} from {} ({spec_text})",
                dir.display(),
                cfg.data.corpus.display()
            );
        }
        crate::data::prepare::prepare(&cfg.data.corpus, &dir, &spec, &spec_text)?;
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
    let slug = crate::data::tokenizer::TokenizerSpec::parse(
        &tokenizer_spec_text(cfg),
        cfg.model.vocab_size,
    )
    .map(|s| s.slug())
    .unwrap_or_else(|_| "tok".into());
    PathBuf::from("data/prepared").join(format!("{stem}-{slug}"))
}

/// Total optimizer steps: the tightest of max_steps / max_tokens / max_flops.
pub fn total_steps(cfg: &RunConfig) -> usize {
    let per_step = StepFlops::new(
        &cfg.model,
        cfg.model.seq_len,
        (cfg.train.batch_size * cfg.train.grad_accum) as u64,
    );
    let mut n = usize::MAX;
    if let Some(s) = cfg.train.max_steps {
        n = n.min(s);
    }
    if let Some(t) = cfg.train.max_tokens {
        n = n.min(t.div_ceil(cfg.tokens_per_step()) as usize);
    }
    if let Some(f) = cfg.train.max_flops {
        n = n.min((f / per_step.matmul_step as f64).floor() as usize);
    }
    n.max(1)
}

/// Mean loss and bits-per-byte over the fixed validation batches (no backward graph).
pub fn evaluate(
    model: &Gpt,
    batches: &[Batch],
    dev: &Device,
    bytes_per_token: f64,
) -> Result<(f64, f64)> {
    let mut sum = 0.0;
    for b in batches {
        let (x, y) = batch_tensors(b, dev)?;
        sum += model
            .loss(&x, &y)?
            .to_dtype(DType::F64)?
            .to_scalar::<f64>()?;
    }
    let loss = sum / batches.len() as f64;
    Ok((loss, loss / (std::f64::consts::LN_2 * bytes_per_token)))
}

pub fn batch_tensors(b: &Batch, dev: &Device) -> Result<(Tensor, Tensor)> {
    Ok((
        Tensor::from_slice(&b.x, (b.batch, b.seq_len), dev)?,
        Tensor::from_slice(&b.y, (b.batch, b.seq_len), dev)?,
    ))
}

/// Peak FLOP/s for MFU: `train.hardware`, or the CUDA device's catalog entry.
fn resolve_peak(
    cfg: &RunConfig,
    dev: &Device,
    dtype: DTypeSpec,
) -> Result<(Option<String>, Option<f64>)> {
    let catalog = hardware::Catalog::load()?;
    let id = match &cfg.train.hardware {
        Some(id) => {
            catalog
                .get(id)
                .map_err(|e| anyhow!("train.hardware: {e}"))?;
            Some(id.clone())
        }
        // A CPU's peak is not knowable from its name: MFU on CPU needs train.hardware.
        None if dev.is_cpu() => None,
        None => crate::device::device_name(dev)
            .and_then(|n| catalog.detect(&n).map(|(id, _)| id.to_string())),
    };
    let peak = id
        .as_ref()
        .and_then(|id| catalog.entries[id].peak_flops(dtype.peak_field()));
    Ok((id, peak))
}

/// What one optimizer step did, with its phases timed (device synchronised
/// before each clock read).
#[derive(Debug, Clone, Copy)]
pub struct StepResult {
    pub loss: f64,
    pub grad_norm: f64,
    /// False when the loss or gradient norm was non-finite and the update was dropped.
    pub applied: bool,
    pub fwd_s: f64,
    pub bwd_s: f64,
    pub opt_s: f64,
}

/// One optimizer step: `grad_accum` micro-batches of forward + backward (this
/// rank's rows of each), gradients averaged over ranks, global-norm clipping,
/// AdamW. A non-finite loss or norm leaves the weights untouched.
pub fn train_step(
    cfg: &RunConfig,
    comm: &dyn dist::Collective,
    params: &Params,
    opt: &mut optim::AdamW,
    dtype: DTypeSpec,
    lr: f64,
    mut next_batch: impl FnMut() -> Result<Batch>,
) -> Result<StepResult> {
    crate::fault::injected_panic();
    let dev = params.device();
    let accum = cfg.train.grad_accum;
    let (mut fwd_s, mut bwd_s) = (0.0, 0.0);
    let mut loss_sum = 0.0;
    let mut grads: Option<Vec<Tensor>> = None;
    for _ in 0..accum {
        let batch = dist::shard(next_batch()?, comm.rank(), comm.world());
        let t0 = Instant::now();
        let (x, y) = batch_tensors(&batch, dev)?;
        let model = Gpt::with_kernels(
            &cfg.model,
            params.var_builder(dtype.compute(), true)?,
            cfg.train.kernels,
        )?;
        let loss = model.loss(&x, &y)?;
        loss_sum += loss.to_dtype(DType::F64)?.to_scalar::<f64>()?;
        let t1 = Instant::now();
        fwd_s += (t1 - t0).as_secs_f64();
        let g = params.grads(&(loss / accum as f64)?.backward()?)?;
        grads = Some(match grads {
            None => g,
            Some(acc) => acc
                .iter()
                .zip(&g)
                .map(|(a, b)| a + b)
                .collect::<candle_core::Result<_>>()?,
        });
        dev.synchronize()?;
        bwd_s += t1.elapsed().as_secs_f64();
    }
    let t2 = Instant::now();
    let mut grads = grads.expect("grad_accum >= 1");
    if crate::fault::take_nonfinite() {
        grads[0] = (&grads[0] * f64::NAN)?;
    }
    let mut loss = loss_sum / accum as f64;
    dist::average(comm, &mut grads, &mut loss)?;
    let grad_norm = optim::grad_norm(&grads, cfg.train.kernels)?;
    let applied = loss.is_finite() && grad_norm.is_finite();
    if applied {
        optim::clip(&mut grads, grad_norm, cfg.optim.grad_clip)?;
        opt.step(params, &grads, lr, cfg.train.kernels)?;
    }
    dev.synchronize()?;
    Ok(StepResult {
        loss,
        grad_norm,
        applied,
        fwd_s,
        bwd_s,
        opt_s: t2.elapsed().as_secs_f64(),
    })
}

/// Everything a run carries from step to step.
struct Run {
    cfg: RunConfig,
    dir: PathBuf,
    dev: Device,
    dtype: DTypeSpec,
    params: Params,
    opt: optim::AdamW,
    sampler: Sampler,
    state: TrainState,
}

impl Run {
    fn checkpoint(&mut self) -> Result<PathBuf> {
        let moments: Vec<(String, Tensor)> = self
            .params
            .specs
            .iter()
            .zip(self.opt.m.iter().zip(&self.opt.v))
            .flat_map(|(s, (m, v))| {
                [
                    (format!("m.{}", s.name), m.clone()),
                    (format!("v.{}", s.name), v.clone()),
                ]
            })
            .collect();
        // train_step drops non-finite updates; this guard keeps any NaN that got
        // past it out of the checkpoints (the previous one stays the latest good).
        for (s, v) in self.params.specs.iter().zip(&self.params.vars) {
            let sum = v
                .as_tensor()
                .sum_all()?
                .to_dtype(DType::F64)?
                .to_scalar::<f64>()?;
            if !sum.is_finite() {
                bail!("parameter {} holds non-finite values at step {}; refusing to write a checkpoint", s.name, self.state.step);
            }
        }
        self.state.sampler = self.sampler.state();
        self.state.adam_t = self.opt.t;
        let root = self.dir.join("checkpoints");
        let path = checkpoint::save(&root, &self.params.named_tensors(), &moments, &self.state)?;
        checkpoint::prune(
            &root,
            self.cfg.train.keep_last,
            self.state.best_val.map(|b| b.0),
        )?;
        Ok(path)
    }

    /// A new run into `run_dir`: seeded weights, zero moments, the sampler at its start.
    fn fresh(
        cfg: &RunConfig,
        run_dir: &Path,
        dev: &Device,
        dtype: DTypeSpec,
        tokenizer_sha: &str,
    ) -> Result<Run> {
        let params = Params::init(&cfg.model, cfg.train.seed, dtype.master(), dev)?;
        let opt = optim::AdamW::new(&cfg.optim, &params)?;
        let sampler = Sampler::new(cfg.train.seed.wrapping_add(1));
        let state = TrainState::fresh(cfg, sampler.state(), tokenizer_sha.to_string());
        Ok(Run {
            cfg: cfg.clone(),
            dir: run_dir.to_path_buf(),
            dev: dev.clone(),
            dtype,
            params,
            opt,
            sampler,
            state,
        })
    }

    /// The run in `run_dir` from its checkpoint `dir`, continuing under `cfg`
    /// (the optimizer and the state take the config given now).
    fn restore(
        cfg: &RunConfig,
        run_dir: &Path,
        dir: &Path,
        mut state: TrainState,
        dev: &Device,
        dtype: DTypeSpec,
    ) -> Result<Run> {
        let what = dir.display().to_string();
        let mut weights = checkpoint::load_safetensors(&dir.join(checkpoint::MODEL_FILE), dev)?;
        let params = Params::from_named(
            &cfg.model,
            std::mem::take(&mut weights),
            dtype.master(),
            dev,
            &what,
        )?;
        let mut moments = checkpoint::load_safetensors(&dir.join(checkpoint::OPTIM_FILE), dev)?;
        let mut opt = optim::AdamW::new(&cfg.optim, &params)?;
        let (mut m, mut v) = (Vec::new(), Vec::new());
        for s in &params.specs {
            for (key, out) in [
                (format!("m.{}", s.name), &mut m),
                (format!("v.{}", s.name), &mut v),
            ] {
                let t = moments
                    .remove(&key)
                    .ok_or_else(|| anyhow!("checkpoint {what}: optimizer state lacks `{key}`"))?;
                if t.dims() != s.shape.as_slice() {
                    bail!(
                        "checkpoint {what}: `{key}` has shape {:?}, expected {:?}",
                        t.dims(),
                        s.shape
                    );
                }
                out.push(t.to_dtype(dtype.master())?);
            }
        }
        opt.load_state(m, v, state.adam_t);
        let sampler =
            Sampler::from_state(&state.sampler).map_err(|e| anyhow!("checkpoint {what}: {e}"))?;
        state.config = cfg.clone();
        Ok(Run {
            cfg: cfg.clone(),
            dir: run_dir.to_path_buf(),
            dev: dev.clone(),
            dtype,
            params,
            opt,
            sampler,
            state,
        })
    }
}

/// Check that a checkpoint belongs to this config; the error names the mismatch.
fn check_compatible(
    cfg: &RunConfig,
    st: &TrainState,
    tokenizer_sha: &str,
    dir: &Path,
) -> Result<()> {
    if st.config.model != cfg.model {
        bail!(
            "checkpoint {} was trained with a different model config ({:?}) than the one given ({:?}); refusing to resume",
            dir.display(),
            st.config.model,
            cfg.model
        );
    }
    if st.tokenizer_sha256 != tokenizer_sha {
        // By characters: an edited state.json may hold a short or non-ASCII hash.
        let short = |h: &str| h.chars().take(12).collect::<String>();
        bail!("checkpoint {} was trained with a different tokenizer (sha256 {}…, now {}…); refusing to resume", dir.display(), short(&st.tokenizer_sha256), short(tokenizer_sha));
    }
    Ok(())
}

/// Lock the run folder for this process (released when the file is dropped).
pub(crate) fn lock_run_dir(dir: &Path) -> Result<File> {
    let f = File::create(dir.join(".lock")).with_context(|| {
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
    runs: std::sync::Mutex<Vec<Option<Run>>>,
    hw_id: Option<String>,
    /// Peak FLOP/s of one device.
    peak: Option<f64>,
    _lock: File,
}

/// Train `cfg` into the run folder `opts.out`, on `train.ranks` data-parallel ranks.
pub fn train(cfg: &RunConfig, opts: &TrainOptions) -> Result<Summary> {
    let dtype = DTypeSpec::parse(&cfg.train.dtype)?;
    dist::check(cfg.train.ranks, cfg.train.batch_size, &cfg.train.device)?;
    let devs = dist::open_devices(&cfg.train.device, cfg.train.ranks)?;
    for dev in &devs {
        dtype.check_device(dev)?;
    }
    crate::memory::check(cfg, &devs[0])?;
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
    let (hw_id, peak) = resolve_peak(cfg, &devs[0], dtype)?;

    // Run folder: refuse to clobber an existing run unless resuming it.
    let dir = opts.out.clone();
    let ckpt_root = dir.join("checkpoints");
    let existing = checkpoint::list(&ckpt_root);
    if !opts.resume && (!existing.is_empty() || dir.join("metrics.jsonl").exists()) {
        bail!("run folder {} already holds a run; pass --resume to continue it or choose another --out", dir.display());
    }
    fs::create_dir_all(&dir)
        .with_context(|| format!("run folder {}: cannot create", dir.display()))?;
    // Lock before reading checkpoints, so no other process writes one meanwhile.
    let lock = lock_run_dir(&dir)?;
    checkpoint::clean_stale(&ckpt_root);
    fsx::clean_stale_temps(&dir, fsx::Stale::All);
    let mut notes = Vec::new();
    let resumed = if opts.resume {
        checkpoint::latest_good(&ckpt_root, |m| notes.push(m))
    } else {
        None
    };
    if let Some((cdir, st)) = &resumed {
        check_compatible(cfg, st, &ds.meta.tokenizer_sha256, cdir)?;
    }
    if opts.resume && resumed.is_none() && !existing.is_empty() {
        // Starting over would overwrite the run's metrics: refuse and say why.
        bail!(
            "run folder {}: none of its {} checkpoints verifies ({}); nothing was changed — move the folder away to start over",
            dir.display(),
            existing.len(),
            notes.first().map(|n| n.trim_end_matches("; falling back to the previous checkpoint").to_string()).unwrap_or_default()
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
    for n in &notes {
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
            ckpt_root.display()
        ),
        _ => {}
    }
    let runs = devs
        .iter()
        .map(|dev| {
            crate::device::configure_precision(dev, dtype);
            Ok(Some(match &resumed {
                Some((cdir, st)) => Run::restore(cfg, &dir, cdir, st.clone(), dev, dtype)?,
                None => Run::fresh(cfg, &dir, dev, dtype, &ds.meta.tokenizer_sha256)?,
            }))
        })
        .collect::<Result<Vec<_>>>()?;
    fsx::write_atomic(&dir.join("config.toml"), cfg.to_toml().as_bytes())?;
    fsx::write_atomic(&dir.join("tokenizer.json"), &ds.tokenizer_json)?;
    // Resuming a run that already finished: its summary stands (re-deriving it
    // here would lose the throughput, which no step of this process measured).
    let start_step = resumed.as_ref().map_or(0, |(_, st)| st.step);
    if start_step >= total_steps(cfg) {
        if let Ok(s) = fsx::read_json::<Summary>(&dir.join("summary.json")) {
            if !opts.quiet {
                eprintln!(
                    "run {} already finished at step {start_step}; nothing to do",
                    dir.display()
                );
            }
            return Ok(s);
        }
    }
    // Installed here, once, not by W rank threads at the same time.
    Signals::get()?;
    let runs = std::sync::Mutex::new(runs);
    let setup = Arc::new(Setup {
        cfg: cfg.clone(),
        opts: opts.clone(),
        dtype,
        ds,
        dir,
        runs,
        hw_id,
        peak,
        _lock: lock,
    });
    dist::launch(devs, move |comm, dev| train_rank(&setup, comm, dev))
}

/// One rank's training loop. Rank 0 evaluates, logs, checkpoints and returns
/// the summary; the other ranks return `None`.
fn train_rank(setup: &Setup, comm: &dyn dist::Collective, dev: &Device) -> Result<Option<Summary>> {
    let Setup {
        cfg,
        opts,
        dtype,
        ds,
        dir,
        ..
    } = setup;
    let dtype = *dtype;
    let lead = comm.rank() == 0;
    let world = comm.world();
    let taken = setup.runs.lock().unwrap_or_else(|p| p.into_inner())[comm.rank()].take();
    let mut run =
        taken.ok_or_else(|| anyhow!("rank {}: no starting state (started twice?)", comm.rank()))?;
    let start_step = run.state.step;
    let mut log = if lead {
        Some(MetricsLog::open(
            &dir.join("metrics.jsonl"),
            Some(start_step).filter(|_| start_step > 0),
        )?)
    } else {
        None
    };

    let total = total_steps(cfg);
    let t = cfg.model.seq_len;
    let micro = cfg.train.batch_size;
    let step_flops = StepFlops::new(&cfg.model, t, (micro * cfg.train.grad_accum) as u64);
    let flops_step = step_flops.matmul_step as f64;
    // MFU of the whole group: every rank's device counts.
    let peak = setup.peak.map(|p| p * world as f64);
    // Rank 0 evaluates each batch in W shards: no more activations than a training step.
    let evals: Vec<Batch> = eval_batches(&ds.val, cfg.train.eval_batches, micro, t)?
        .iter()
        .flat_map(|b| (0..world).map(move |r| dist::slice_rows(b, r, world)))
        .collect();
    let bpt = ds.meta.bytes_per_token();
    let signals = Signals::get()?;
    // Rank 0 decides when to stop; every rank learns it in the same step.
    let stop_code = || -> Result<i32> { dist::agree(comm, signals.pending().unwrap_or(0), dev) };
    let code = stop_code()?;
    if code != 0 {
        return Err(Signals::stopped(code, run.state.step).into());
    }
    if lead {
        crate::device::gpu_peak_bytes(dev, true);
    }

    let pb = if opts.quiet || !lead {
        ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::hidden())
    } else {
        ProgressBar::new(total as u64)
    };
    pb.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} steps | {msg} | eta {eta}")
            .expect("template")
            .progress_chars("=> "),
    );
    pb.set_position(start_step as u64);
    let say = |s: String| {
        if !opts.quiet && lead {
            metrics::println(&pb, s);
        }
    };
    let pc = param_counts(&cfg.model);
    say(format!(
        "run {} | {} params ({} non-embedding) | {} steps × {} tokens | {:.3e} FLOPs/step | device {}{} {:?}{}",
        dir.display(),
        metrics::si(pc.total as f64),
        metrics::si(pc.non_embedding as f64),
        total,
        cfg.tokens_per_step(),
        flops_step,
        cfg.train.device,
        if world > 1 { format!(" × {world} ranks") } else { String::new() },
        dtype,
        setup.hw_id.as_ref().map(|h| format!(" | peak from {h}")).unwrap_or_default()
    ));

    let wall0 = Instant::now() - std::time::Duration::from_secs_f64(run.state.elapsed_s);
    let do_eval = |run: &mut Run, log: &mut MetricsLog| -> Result<f64> {
        let model = Gpt::with_kernels(
            &run.cfg.model,
            run.params.var_builder(run.dtype.compute(), false)?,
            run.cfg.train.kernels,
        )?;
        let (val_loss, val_bpb) = evaluate(&model, &evals, &run.dev, bpt)?;
        run.state.last_val_loss = Some(val_loss);
        if run.state.best_val.is_none_or(|(_, b)| val_loss < b) {
            run.state.best_val = Some((run.state.step, val_loss));
        }
        log.write(&EvalRecord {
            kind: "eval".into(),
            step: run.state.step,
            tokens_seen: run.state.tokens_seen,
            flops_cum: run.state.flops_cum,
            val_loss,
            val_bpb,
            elapsed_s: wall0.elapsed().as_secs_f64(),
        })?;
        say(format!(
            "step {} | val loss {val_loss:.4} | val bpb {val_bpb:.4}",
            run.state.step
        ));
        Ok(val_bpb)
    };
    if start_step == 0 {
        if let Some(log) = log.as_mut() {
            do_eval(&mut run, log)?;
        }
    }

    while run.state.step < total {
        let step = run.state.step;
        let lr = schedule::lr_at(&cfg.optim, step, total);
        let t0 = Instant::now();
        let sampler = &mut run.sampler;
        crate::fault::arm_nonfinite(step + 1);
        let r = train_step(cfg, comm, &run.params, &mut run.opt, dtype, lr, || {
            sampler.next_batch(&ds.train, micro, t)
        })?;
        let (loss, norm, finite) = (r.loss, r.grad_norm, r.applied);
        if !finite {
            if cfg.train.on_nonfinite == NonFinite::Stop {
                bail!("non-finite loss ({loss}) or gradient norm ({norm}) at step {}; stopping (train.on_nonfinite = \"stop\"); the last checkpoint is intact", step + 1);
            }
            run.state.skipped_nonfinite += 1;
        }
        let dt = t0.elapsed().as_secs_f64();
        run.state.step += 1;
        run.state.tokens_seen += cfg.tokens_per_step();
        run.state.flops_cum += flops_step;
        // Each process's first step is untimed warm-up, unless nothing else was timed.
        if step > start_step || (run.state.step == total && run.state.timed_tokens == 0) {
            run.state.timed_tokens += cfg.tokens_per_step();
            run.state.timed_s += dt;
        }
        let last = run.state.step == total;
        if let Some(log) = log.as_mut() {
            let rec = StepRecord {
                kind: "step".into(),
                step: run.state.step,
                tokens_seen: run.state.tokens_seen,
                loss,
                lr,
                grad_norm: norm,
                dt_ms: dt * 1e3,
                tok_per_s: cfg.tokens_per_step() as f64 / dt,
                flops_step,
                flops_cum: run.state.flops_cum,
                mfu: peak.map(|p| flops_step / dt / p),
                skipped: !finite,
            };
            log.write(&rec)?;
            pb.set_position(run.state.step as u64);
            pb.set_message(format!("loss {loss:.3}"));
            if run.state.step % cfg.train.log_every == 0 || run.state.step == 1 || !finite {
                say(metrics::console_line(&rec, total));
            }
            if run.state.step % cfg.train.eval_every == 0 || last {
                do_eval(&mut run, log)?;
            }
        }
        run.state.elapsed_s = wall0.elapsed().as_secs_f64();
        let code = stop_code()?;
        let halt = opts.halt_after == Some(run.state.step);
        if let Some(log) = log.as_mut().filter(|_| {
            run.state.step % cfg.train.checkpoint_every == 0 || last || code != 0 || halt
        }) {
            log.sync()?;
            run.checkpoint()?;
        }
        if code != 0 || (halt && !last) {
            // No rank leaves before rank 0's checkpoint is written.
            dist::agree(comm, 0, dev)?;
            pb.abandon();
            return Err(if code != 0 {
                Signals::stopped(code, run.state.step)
            } else {
                Stopped::Halted(run.state.step)
            }
            .into());
        }
    }
    pb.finish_and_clear();
    if !lead {
        return Ok(None);
    }

    let (steps_log, evals_log) = metrics::read(&dir.join("metrics.jsonl"))?;
    // Skipped (non-finite) steps do not count towards the final training loss.
    let applied: Vec<f64> = steps_log
        .iter()
        .filter(|r| !r.skipped)
        .map(|r| r.loss)
        .collect();
    let tail = (applied.len() / 10).max(1);
    // NaN (null in summary.json) when every step was skipped.
    let final_train_loss = if applied.is_empty() {
        f64::NAN
    } else {
        applied.iter().rev().take(tail).sum::<f64>() / tail as f64
    };
    let last_eval = evals_log
        .last()
        .ok_or_else(|| anyhow!("no evaluation recorded"))?;
    let tok_per_s = if run.state.timed_s > 0.0 {
        run.state.timed_tokens as f64 / run.state.timed_s
    } else {
        f64::NAN
    };
    let name = crate::device::device_name(dev).unwrap_or_else(|| cfg.train.device.clone());
    let summary = Summary {
        status: "finished".into(),
        run_dir: dir.display().to_string(),
        params: pc.total,
        non_embedding_params: pc.non_embedding,
        steps: run.state.step,
        tokens: run.state.tokens_seen,
        flops: run.state.flops_cum,
        final_train_loss,
        val_loss: last_eval.val_loss,
        val_bpb: last_eval.val_bpb,
        best_val_loss: run
            .state
            .best_val
            .map(|b| b.1)
            .unwrap_or(last_eval.val_loss),
        wall_s: wall0.elapsed().as_secs_f64(),
        tok_per_s,
        mfu: peak.map(|p| tok_per_s * step_flops.matmul_per_token() / p),
        device: if world > 1 {
            format!("{world}× {name}")
        } else {
            name
        },
        hardware: setup.hw_id.clone(),
        dtype: cfg.train.dtype.clone(),
        skipped_nonfinite: run.state.skipped_nonfinite,
        peak_gpu_mib: crate::device::gpu_peak_bytes(dev, false)
            .map(|b| b as f64 / (1 << 20) as f64),
    };
    fsx::write_json_atomic(&dir.join("summary.json"), &summary)?;
    Ok(Some(summary))
}
