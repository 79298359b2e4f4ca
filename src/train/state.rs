//! What one rank carries from step to step (weights, AdamW, sampler, the
//! checkpointed state): made fresh, restored from a checkpoint, or written to one.

use super::optim;
use crate::config::RunConfig;
use crate::data::batches::Sampler;
use crate::device::DTypeSpec;
use crate::model::params::Params;
use crate::rundir::checkpoint::{self, TrainState};
use anyhow::{anyhow, bail, Result};
use candle_core::{DType, Device, Tensor};
use std::path::{Path, PathBuf};

/// Everything a rank carries from step to step.
pub(super) struct RankState {
    pub cfg: RunConfig,
    pub dir: PathBuf,
    pub dev: Device,
    pub dtype: DTypeSpec,
    pub params: Params,
    pub opt: optim::AdamW,
    pub sampler: Sampler,
    pub state: TrainState,
}

impl RankState {
    pub(super) fn checkpoint(&mut self) -> Result<PathBuf> {
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
        let root = crate::rundir::checkpoints_dir(&self.dir);
        let path = checkpoint::save(&root, &self.params.named_tensors(), &moments, &self.state)?;
        checkpoint::prune(
            &root,
            self.cfg.train.keep_last,
            self.state.best_val.map(|b| b.0),
        )?;
        Ok(path)
    }

    fn with(
        cfg: &RunConfig,
        run_dir: &Path,
        dev: &Device,
        dtype: DTypeSpec,
        (params, opt, sampler, state): (Params, optim::AdamW, Sampler, TrainState),
    ) -> RankState {
        RankState {
            cfg: cfg.clone(),
            dir: run_dir.to_path_buf(),
            dev: dev.clone(),
            dtype,
            params,
            opt,
            sampler,
            state,
        }
    }

    /// A new run into `run_dir`: seeded weights, zero moments, the sampler at its start.
    pub(super) fn fresh(
        cfg: &RunConfig,
        run_dir: &Path,
        dev: &Device,
        dtype: DTypeSpec,
        tokenizer_sha: &str,
    ) -> Result<RankState> {
        let params = Params::init(&cfg.model, cfg.train.seed, dtype.master(), dev)?;
        let opt = optim::AdamW::new(&cfg.optim, &params)?;
        let sampler = Sampler::new(cfg.train.seed.wrapping_add(1));
        let state = TrainState::fresh(cfg, sampler.state(), tokenizer_sha.to_string());
        Ok(Self::with(
            cfg,
            run_dir,
            dev,
            dtype,
            (params, opt, sampler, state),
        ))
    }

    /// The run in `run_dir` from its checkpoint `dir`, continuing under `cfg`
    /// (the optimizer and the state take the config given now).
    pub(super) fn restore(
        cfg: &RunConfig,
        run_dir: &Path,
        dir: &Path,
        mut state: TrainState,
        dev: &Device,
        dtype: DTypeSpec,
    ) -> Result<RankState> {
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
        Ok(Self::with(
            cfg,
            run_dir,
            dev,
            dtype,
            (params, opt, sampler, state),
        ))
    }
}

/// Check that a checkpoint belongs to this config; the error names the mismatch.
pub(super) fn check_compatible(
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
