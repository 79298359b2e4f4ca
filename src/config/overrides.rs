//! `--set key=value`: overrides applied to the TOML table before it is
//! deserialised, so they are checked exactly like the file.

use super::model::RawModel;
use super::{DataConfig, OptimConfig, TrainConfig};
use anyhow::{anyhow, bail, Result};

const SECTIONS: [&str; 4] = ["model", "data", "train", "optim"];

/// Set `key=value` in the table. `value` is parsed as a TOML value (number,
/// bool, string, array) and falls back to a bare string.
pub(super) fn apply_override(root: &mut toml::Table, ov: &str) -> Result<()> {
    let (key, val) = ov
        .split_once('=')
        .ok_or_else(|| anyhow!("--set {ov}: expected key=value"))?;
    let key = key.trim();
    let val = val.trim();
    let parsed: toml::Value = match toml::from_str::<toml::Table>(&format!("v = {val}")) {
        Ok(mut t) => t.remove("v").expect("key v"),
        Err(_) => toml::Value::String(val.to_string()),
    };
    let (section, field) = match key.split_once('.') {
        Some((s, f)) => (s.to_string(), f.to_string()),
        None => (
            section_of(key)
                .ok_or_else(|| {
                    anyhow!(
                        "--set {key}: unknown key; use section.key (sections: {})",
                        SECTIONS.join(", ")
                    )
                })?
                .to_string(),
            key.to_string(),
        ),
    };
    if !SECTIONS.contains(&section.as_str()) {
        bail!(
            "--set {key}: unknown section `{section}` (sections: {})",
            SECTIONS.join(", ")
        );
    }
    let table = root
        .entry(section.clone())
        .or_insert_with(|| toml::Value::Table(toml::Table::new()))
        .as_table_mut()
        .ok_or_else(|| anyhow!("config: `{section}` must be a table"))?;
    // The size dial and the explicit dials exclude each other: an override of one replaces the other.
    if section == "model" {
        if field == "depth" {
            for k in ["n_layer", "n_head", "d_model"] {
                table.remove(k);
            }
        } else if ["n_layer", "n_head", "d_model"].contains(&field.as_str())
            && table.contains_key("depth")
        {
            bail!("--set model.{field}: the config uses model.depth; override model.depth instead");
        }
    }
    table.insert(field, parsed);
    Ok(())
}

/// The section a bare key belongs to, when it is unambiguous. The keys are
/// read off the config structs themselves (serialised defaults keep every
/// field, `None` as null), so a new field needs no second list here.
fn section_of(key: &str) -> Option<&'static str> {
    let keys = |v: serde_json::Value| -> Vec<String> {
        v.as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default()
    };
    let json = |r: serde_json::Result<serde_json::Value>| keys(r.expect("config serialises"));
    [
        ("model", json(serde_json::to_value(RawModel::default()))),
        ("data", json(serde_json::to_value(DataConfig::default()))),
        ("train", json(serde_json::to_value(TrainConfig::default()))),
        ("optim", json(serde_json::to_value(OptimConfig::default()))),
    ]
    .into_iter()
    .find(|(_, keys)| keys.iter().any(|k| k == key))
    .map(|(s, _)| s)
}
