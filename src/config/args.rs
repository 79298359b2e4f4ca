//! The command-line side of a config: `--config FILE --set KEY=VALUE`, and
//! the `--device` / `--dtype` / `--ranks` flags that override train settings.

use super::RunConfig;
use crate::device::{DTypeSpec, DeviceSpec};
use anyhow::{anyhow, Result};
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct ConfigArgs {
    /// TOML config (see configs/).
    #[arg(long)]
    pub config: PathBuf,
    /// Override a config key: `section.key=value` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
}

impl ConfigArgs {
    pub fn load(&self) -> Result<RunConfig> {
        RunConfig::load(&self.config, &self.set)
    }
}

/// Apply `--device` / `--dtype` / `--ranks`; a resulting error names the flags given.
pub fn with_device(
    mut cfg: RunConfig,
    device: &Option<String>,
    dtype: &Option<String>,
    ranks: Option<u64>,
) -> Result<RunConfig> {
    if let Some(d) = device {
        cfg.train.device =
            DeviceSpec::parse(d).map_err(|e| anyhow!("train.device: {e} (from --device)"))?;
    }
    if let Some(d) = dtype {
        cfg.train.dtype =
            DTypeSpec::parse(d).map_err(|e| anyhow!("train.dtype: {e} (from --dtype)"))?;
    }
    if let Some(r) = ranks {
        cfg.train.ranks = r as usize;
    }
    let given: Vec<&str> = [
        (device.is_some(), "--device"),
        (dtype.is_some(), "--dtype"),
        (ranks.is_some(), "--ranks"),
    ]
    .into_iter()
    .filter(|g| g.0)
    .map(|g| g.1)
    .collect();
    if !given.is_empty() {
        cfg.validate()
            .map_err(|e| anyhow!("{e} (from {})", given.join("/")))?;
    }
    Ok(cfg)
}
