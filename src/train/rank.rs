//! One rank's training loop, as the steps it repeats: train a step, evaluate,
//! checkpoint, and (rank 0, at the end) write the summary. Rank 0 evaluates,
//! logs and checkpoints; every rank trains its shard of each batch.

use super::signals::Signals;
use super::state::RankState;
use super::{dist, schedule, train_step, Setup, Stopped};
use crate::config::NonFinite;
use crate::data::batches::{eval_batches, Batch};
use crate::flops::{total_steps, StepFlops};
use crate::model::params::{param_counts, ParamCounts};
use crate::model::Gpt;
use crate::rundir::metrics::{self, EvalRecord, MetricsLog, StepRecord, Summary};
use crate::{fsx, rundir};
use anyhow::{anyhow, bail, Result};
use candle_core::Device;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::time::{Duration, Instant};

/// The loop's state on one rank: its weights and optimizer, and what the
/// loop derives once from the setup.
struct RankLoop<'a> {
    setup: &'a Setup,
    comm: &'a dyn dist::Collective,
    dev: &'a Device,
    rank: RankState,
    /// Rank 0's metrics log; other ranks log nothing.
    log: Option<MetricsLog>,
    pb: ProgressBar,
    start_step: usize,
    total: usize,
    step_flops: StepFlops,
    /// Peak FLOP/s of the whole group (every rank's device counts): vendor, measured.
    peak: Option<f64>,
    measured_peak: Option<f64>,
    /// The fixed validation batches, each in W row shards.
    evals: Vec<Batch>,
    signals: &'static Signals,
    /// Wall clock of the run, counting the time of earlier processes.
    wall0: Instant,
    pc: ParamCounts,
}

/// One rank's training loop. Rank 0 returns the summary; the other ranks `None`.
pub(super) fn train_rank(
    setup: &Setup,
    comm: &dyn dist::Collective,
    dev: &Device,
) -> Result<Option<Summary>> {
    let mut lp = RankLoop::new(setup, comm, dev)?;
    lp.stop_if_signalled()?;
    lp.start()?;
    while lp.rank.state.step < lp.total {
        lp.step()?;
        let last = lp.rank.state.step == lp.total;
        let code = lp.stop_code()?;
        let halt = setup.opts.halt_after == Some(lp.rank.state.step);
        let every = lp.rank.state.step % setup.cfg.train.checkpoint_every == 0;
        if every || last || code != 0 || halt {
            lp.checkpoint()?;
        }
        if code != 0 || (halt && !last) {
            // No rank leaves before rank 0's checkpoint is written.
            dist::agree(comm, 0, dev)?;
            lp.pb.abandon();
            return Err(if code != 0 {
                Signals::stopped(code, lp.rank.state.step)
            } else {
                Stopped::Halted(lp.rank.state.step)
            }
            .into());
        }
    }
    lp.pb.finish_and_clear();
    if comm.rank() != 0 {
        return Ok(None);
    }
    lp.summary().map(Some)
}

impl<'a> RankLoop<'a> {
    fn new(setup: &'a Setup, comm: &'a dyn dist::Collective, dev: &'a Device) -> Result<Self> {
        let (cfg, lead, world) = (&setup.cfg, comm.rank() == 0, comm.world());
        let taken = setup.ranks.lock().unwrap_or_else(|p| p.into_inner())[comm.rank()].take();
        let rank = taken
            .ok_or_else(|| anyhow!("rank {}: no starting state (started twice?)", comm.rank()))?;
        let start_step = rank.state.step;
        let log = if lead {
            Some(MetricsLog::append(&rundir::metrics_path(&setup.dir))?)
        } else {
            None
        };
        let total = total_steps(cfg);
        let (rows, t) = (cfg.train.batch_size, cfg.model.seq_len);
        // Rank 0 evaluates each batch in shards of one micro-batch (W shards
        // without train.micro_batch): no more activations than a training step.
        let shards = rows / cfg.micro_rows().clamp(1, rows);
        let evals = eval_batches(&setup.ds.val, cfg.train.eval_batches, rows, t)?
            .iter()
            .flat_map(|b| (0..shards).map(move |r| dist::slice_rows(b, r, shards)))
            .collect();
        let pb = if setup.opts.quiet || !lead {
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
        let wall0 = Instant::now() - Duration::from_secs_f64(rank.state.elapsed_s);
        Ok(RankLoop {
            setup,
            comm,
            dev,
            rank,
            log,
            pb,
            start_step,
            total,
            step_flops: StepFlops::for_run(cfg),
            peak: setup.peak.map(|p| p * world as f64),
            measured_peak: setup.measured_peak.map(|p| p * world as f64),
            evals,
            signals: Signals::get()?,
            wall0,
            pc: param_counts(&cfg.model),
        })
    }

    /// Rank 0 decides when to stop; every rank learns it in the same step.
    fn stop_code(&self) -> Result<i32> {
        dist::agree(self.comm, self.signals.pending().unwrap_or(0), self.dev)
    }

    fn stop_if_signalled(&self) -> Result<()> {
        let code = self.stop_code()?;
        if code != 0 {
            return Err(Signals::stopped(code, self.rank.state.step).into());
        }
        Ok(())
    }

    /// A console line from rank 0, unless quiet.
    fn say(&self, s: String) {
        if !self.setup.opts.quiet && self.log.is_some() {
            metrics::println(&self.pb, s);
        }
    }

    /// The run's header line, and the step-0 evaluation of a new run.
    fn start(&mut self) -> Result<()> {
        let (cfg, world) = (&self.setup.cfg, self.comm.world());
        if self.log.is_some() {
            crate::device::gpu_peak_bytes(self.dev, true);
        }
        self.say(format!(
            "run {} | {} params ({} non-embedding) | {} steps × {} tokens | {:.3e} FLOPs/step | device {}{} {:?}{}",
            self.setup.dir.display(),
            crate::fmt::si(self.pc.total as f64, 1),
            crate::fmt::si(self.pc.non_embedding as f64, 1),
            self.total,
            cfg.tokens_per_step(),
            self.step_flops.matmul_step as f64,
            cfg.train.device,
            if world > 1 { format!(" × {world} ranks") } else { String::new() },
            self.setup.dtype,
            self.setup.hw_id.as_ref().map(|h| format!(" | peak from {h}")).unwrap_or_default()
        ));
        if self.start_step == 0 {
            self.evaluate()?;
        }
        Ok(())
    }

    /// Rank 0: evaluate on the fixed validation batches and log it.
    fn evaluate(&mut self) -> Result<()> {
        let Some(log) = self.log.as_mut() else {
            return Ok(());
        };
        let run = &mut self.rank;
        let model = Gpt::with_kernels(
            &run.cfg.model,
            run.params.var_builder(run.dtype.compute(), false)?,
            run.cfg.train.kernels,
        )?;
        let bpt = self.setup.ds.meta.bytes_per_token();
        let (val_loss, val_bpb) = super::evaluate(&model, &self.evals, &run.dev, bpt)?;
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
            elapsed_s: self.wall0.elapsed().as_secs_f64(),
        })?;
        let step = run.state.step;
        self.say(format!(
            "step {step} | val loss {val_loss:.4} | val bpb {val_bpb:.4}"
        ));
        Ok(())
    }

    /// One optimizer step, logged (and evaluated when due) by rank 0.
    fn step(&mut self) -> Result<()> {
        let cfg = &self.setup.cfg;
        let step = self.rank.state.step;
        let lr = schedule::lr_at(&cfg.optim, step, self.total);
        let t0 = Instant::now();
        let run = &mut self.rank;
        let sampler = &mut run.sampler;
        let (micro, t, train) = (
            cfg.train.batch_size,
            cfg.model.seq_len,
            &self.setup.ds.train,
        );
        crate::fault::arm_nonfinite(step + 1);
        let r = train_step(
            cfg,
            self.comm,
            &run.params,
            &mut run.opt,
            self.setup.dtype,
            lr,
            || sampler.next_batch(train, micro, t),
        )?;
        let (loss, norm, finite) = (r.loss, r.grad_norm, r.applied);
        if !finite {
            if cfg.train.on_nonfinite == NonFinite::Stop {
                bail!("non-finite loss ({loss}) or gradient norm ({norm}) at step {}; stopping (train.on_nonfinite = \"stop\"); the last checkpoint is intact", step + 1);
            }
            run.state.skipped_nonfinite += 1;
        }
        let dt = t0.elapsed().as_secs_f64();
        let flops_step = self.step_flops.matmul_step as f64;
        run.state.step += 1;
        run.state.tokens_seen += cfg.tokens_per_step();
        run.state.flops_cum += flops_step;
        // Each process's first step is untimed warm-up, unless nothing else was timed.
        if step > self.start_step || (run.state.step == self.total && run.state.timed_tokens == 0) {
            run.state.timed_tokens += cfg.tokens_per_step();
            run.state.timed_s += dt;
        }
        let now = run.state.step;
        if let Some(log) = self.log.as_mut() {
            let rec = StepRecord {
                kind: "step".into(),
                step: now,
                tokens_seen: run.state.tokens_seen,
                loss,
                lr,
                grad_norm: norm,
                dt_ms: dt * 1e3,
                tok_per_s: cfg.tokens_per_step() as f64 / dt,
                flops_step,
                flops_cum: run.state.flops_cum,
                mfu: self.peak.map(|p| flops_step / dt / p),
                mfu_measured: self.measured_peak.map(|p| flops_step / dt / p),
                skipped: !finite,
            };
            log.write(&rec)?;
            self.pb.set_position(now as u64);
            self.pb.set_message(format!("loss {loss:.3}"));
            if now.is_multiple_of(cfg.train.log_every) || now == 1 || !finite {
                self.say(metrics::console_line(&rec, self.total));
            }
            if now.is_multiple_of(cfg.train.eval_every) || now == self.total {
                self.evaluate()?;
            }
        }
        self.rank.state.elapsed_s = self.wall0.elapsed().as_secs_f64();
        Ok(())
    }

    /// Rank 0: sync the metrics and write a checkpoint.
    fn checkpoint(&mut self) -> Result<()> {
        if let Some(log) = self.log.as_mut() {
            log.sync()?;
            self.rank.checkpoint()?;
        }
        Ok(())
    }

    /// Rank 0, after the last step: summary.json from the metrics log.
    fn summary(&self) -> Result<Summary> {
        let (cfg, dir, world) = (&self.setup.cfg, &self.setup.dir, self.comm.world());
        let state = &self.rank.state;
        let (steps_log, evals_log) = metrics::read(&rundir::metrics_path(dir))?;
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
        let tok_per_s = if state.timed_s > 0.0 {
            state.timed_tokens as f64 / state.timed_s
        } else {
            f64::NAN
        };
        let achieved = tok_per_s * self.step_flops.matmul_per_token();
        let name =
            crate::device::device_name(self.dev).unwrap_or_else(|| cfg.train.device.to_string());
        let summary = Summary {
            status: "finished".into(),
            run_dir: dir.display().to_string(),
            params: self.pc.total,
            non_embedding_params: self.pc.non_embedding,
            steps: state.step,
            tokens: state.tokens_seen,
            flops: state.flops_cum,
            final_train_loss,
            val_loss: last_eval.val_loss,
            val_bpb: last_eval.val_bpb,
            best_val_loss: state.best_val.map(|b| b.1).unwrap_or(last_eval.val_loss),
            wall_s: self.wall0.elapsed().as_secs_f64(),
            tok_per_s,
            mfu: self.peak.map(|p| achieved / p),
            mfu_measured: self.measured_peak.map(|p| achieved / p),
            device: if world > 1 {
                format!("{world}× {name}")
            } else {
                name
            },
            hardware: self.setup.hw_id.clone(),
            dtype: cfg.train.dtype.to_string(),
            skipped_nonfinite: state.skipped_nonfinite,
            peak_gpu_mib: crate::device::gpu_peak_bytes(self.dev, false)
                .map(|b| b as f64 / (1 << 20) as f64),
            epochs: Some(self.setup.ds.meta.epochs(state.tokens_seen)),
            predicted_peak_bytes: Some(crate::memory::estimate_peak_bytes(cfg, self.dev.is_cpu())),
            measured_peak_bytes: crate::memory::measured_peak_bytes(self.dev),
        };
        fsx::write_json_atomic(&rundir::summary_path(dir), &summary)?;
        Ok(summary)
    }
}
