//! μP models in Hugging Face GPT-2 folders. GPT-2 computes logits h·wteᵀ and
//! attention scores q·k/√d_head; μP multiplies the first by 1/m and the
//! second by 1/√m (`ModelConfig::logit_mult`, `attn_scale`). Export folds
//! them into weights: the 1/√m into the query columns of each c_attn (weight
//! and bias), the 1/m into an untied `lm_head.weight` = wte/m
//! (`tie_word_embeddings: false`). Two extra config.json keys record μP so
//! that import unfolds them back into a μP run.

use crate::config::{ModelConfig, Parametrization};
use anyhow::{anyhow, bail, Result};
use candle_core::Tensor;
use serde_json::Value;
use std::collections::HashMap;

const PARAM_KEY: &str = "scalelab_parametrization";
const BASE_KEY: &str = "scalelab_base_width";
pub const LM_HEAD: &str = "lm_head.weight";

/// The query part of a packed c_attn weight `[d, 3d]` or bias `[3d]`, times `f`.
fn scale_query(name: &str, t: &Tensor, d: usize, f: f64) -> Result<Tensor> {
    if !name.ends_with("attn.c_attn.weight") && !name.ends_with("attn.c_attn.bias") {
        return Ok(t.clone());
    }
    let dim = t.rank() - 1;
    let q = (t.narrow(dim, 0, d)? * f)?;
    Ok(Tensor::cat(&[&q, &t.narrow(dim, d, 2 * d)?], dim)?)
}

/// Export: the named tensors with μP's multipliers folded in, plus `lm_head.weight`.
pub fn fold(m: &ModelConfig, tensors: Vec<(String, Tensor)>) -> Result<Vec<(String, Tensor)>> {
    let Some(logit) = m.logit_mult() else {
        return Ok(tensors);
    };
    let f = 1.0 / m.width_mult().sqrt();
    let mut out = Vec::with_capacity(tensors.len() + 1);
    let mut head = None;
    for (n, t) in tensors {
        if n == "wte.weight" {
            head = Some((&t * logit)?);
        }
        out.push((n.clone(), scale_query(&n, &t, m.d_model, f)?));
    }
    out.push((
        LM_HEAD.into(),
        head.ok_or_else(|| anyhow!("no wte.weight"))?,
    ));
    Ok(out)
}

/// Export: μP's config.json fields (none under SP).
pub fn config_fields(m: &ModelConfig, c: &mut Value) {
    if !m.parametrization.is_sp() {
        c["tie_word_embeddings"] = false.into();
        c[PARAM_KEY] = "mup".into();
        c[BASE_KEY] = m.base_width().into();
    }
}

/// Import: the parametrization recorded by [`config_fields`] (SP when absent).
pub fn read_config_fields(v: &Value, m: &mut ModelConfig, what: &str) -> Result<()> {
    match v.get(PARAM_KEY).and_then(Value::as_str) {
        None | Some("sp") => Ok(()),
        Some("mup") => {
            let b = v.get(BASE_KEY).and_then(Value::as_u64).filter(|b| *b > 0);
            let b = b.ok_or_else(|| anyhow!("{what}: {BASE_KEY} must be a positive integer"))?;
            m.parametrization = Parametrization::Mup;
            m.base_width = Some(b as usize);
            Ok(())
        }
        Some(p) => bail!("{what}: {PARAM_KEY} = {p:?} is not sp or mup"),
    }
}

/// Import: undo [`fold`] on the scalelab-named weights; `head` must be wte/m.
pub fn unfold(
    m: &ModelConfig,
    w: &mut HashMap<String, Tensor>,
    head: Option<Tensor>,
) -> Result<()> {
    let logit = m.logit_mult().expect("μP");
    let wte = w
        .get("wte.weight")
        .ok_or_else(|| anyhow!("no wte.weight"))?;
    let head = head.ok_or_else(|| anyhow!("a μP folder needs {LM_HEAD} (= wte.weight/m)"))?;
    let err = (&head - (wte * logit)?)?
        .abs()?
        .max_all()?
        .to_scalar::<f32>()?;
    let scale = wte.abs()?.max_all()?.to_scalar::<f32>()? * logit as f32;
    if head.dims() != wte.dims() || err > 1e-6 * scale.max(1e-30) {
        bail!(
            "{LM_HEAD} is not wte.weight/m (m = {}): an untied LM head cannot be represented",
            m.width_mult()
        );
    }
    let f = m.width_mult().sqrt();
    for (n, t) in w.iter_mut() {
        *t = scale_query(n, t, m.d_model, f)?;
    }
    Ok(())
}
