//! Named model presets for the estimator: configs/models.toml (each number's
//! source is a comment there). Loaded like the hardware catalog: the built-in
//! copy is compiled in; `SCALELAB_MODELS` or ./configs/models.toml replaces it.

use anyhow::{anyhow, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

const BUILTIN: &str = include_str!("../../configs/models.toml");

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Preset {
    pub name: String,
    /// Total parameters (all experts for MoE): what memory holds.
    pub params: u64,
    /// Parameters used per token (MoE): what the FLOPs count.
    pub active_params: u64,
    /// Published pretraining tokens.
    pub tokens: Option<u64>,
    pub n_layer: Option<u64>,
    pub d_model: Option<u64>,
    pub n_head: Option<u64>,
    pub seq_len: Option<u64>,
    pub vocab_size: Option<u64>,
    pub reported_gpu_hours: Option<f64>,
    /// The most GPUs the published run used at once.
    pub reported_max_gpus: Option<u64>,
    pub reported_hardware: Option<String>,
    pub reported_power_w: Option<f64>,
    pub reported_energy: Option<String>,
    pub reported_flops: Option<f64>,
}

#[derive(Debug, Clone)]
pub struct Presets {
    pub entries: BTreeMap<String, Preset>,
    pub source: String,
}

impl Presets {
    pub fn parse(text: &str, source: &str) -> Result<Self> {
        let entries: BTreeMap<String, Preset> = toml::from_str(text).map_err(|e| {
            anyhow!(
                "model presets {source}: {}",
                crate::config::one_line(&e.to_string())
            )
        })?;
        if let Some((id, _)) = entries
            .iter()
            .find(|(_, p)| p.params == 0 || p.active_params == 0 || p.active_params > p.params)
        {
            anyhow::bail!("model presets {source}: {id}: need 0 < active_params <= params");
        }
        Ok(Presets {
            entries,
            source: source.to_string(),
        })
    }

    /// `SCALELAB_MODELS`, else ./configs/models.toml, else the built-in copy.
    pub fn load() -> Result<Self> {
        let (text, source) = crate::fsx::overridable_text(
            "SCALELAB_MODELS",
            "configs/models.toml",
            BUILTIN,
            "model presets",
        )?;
        Self::parse(&text, &source)
    }

    pub fn builtin() -> Result<Self> {
        Self::parse(BUILTIN, "(built-in)")
    }

    pub fn get(&self, id: &str) -> Result<&Preset> {
        self.entries.get(id).ok_or_else(|| {
            anyhow!(
                "--model: unknown model `{id}` (known: {}; or give --params N / --config FILE)",
                self.entries.keys().cloned().collect::<Vec<_>>().join(", ")
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_presets_parse_and_moe_counts_differ() {
        let p = Presets::builtin().unwrap();
        for id in [
            "gpt3-175b",
            "gpt-3.5",
            "llama2-70b",
            "llama3-8b",
            "llama3-70b",
            "llama3-405b",
            "nanochat-d32",
            "mixtral-8x7b",
            "deepseek-v3",
        ] {
            assert!(p.get(id).is_ok(), "{id}");
        }
        let ds = p.get("deepseek-v3").unwrap();
        assert!(ds.active_params < ds.params);
        assert_eq!(
            p.get("nanochat-d32").unwrap().reported_gpu_hours,
            Some(250.4)
        );
    }
}
