//! Hugging Face GPT-2 folders: export a run's checkpoint, import a folder into
//! a run. scalelab's parameters already carry GPT-2's names and layouts
//! (linear weights `[in, out]` like HF's Conv1D, tied LM head, GELU tanh =
//! `gelu_new`), so both directions are a rename plus a config translation:
//!
//! | scalelab checkpoint | `model.safetensors` written by export |
//! |---|---|
//! | `wte.weight`, `wpe.weight` | `transformer.wte.weight`, `transformer.wpe.weight` |
//! | `h.{i}.…` (ln_1, attn.c_attn, attn.c_proj, ln_2, mlp.c_fc, mlp.c_proj) | `transformer.h.{i}.…` |
//! | `ln_f.weight`, `ln_f.bias` | `transformer.ln_f.…` |
//! | (LM head = wte) | no `lm_head.weight`: `tie_word_embeddings` |
//! | μP run | multipliers folded, untied `lm_head.weight` = wte/m (`super::mup`) |
//!
//! Import accepts names with or without the `transformer.` prefix, skips the
//! attention-mask buffers (`h.{i}.attn.bias`, `h.{i}.attn.masked_bias`),
//! accepts an `lm_head.weight` equal to `wte.weight`, and converts
//! f16/bf16/f64 to f32.

use crate::config::{DataConfig, ModelConfig, RunConfig, TrainConfig};
use crate::data::batches::Sampler;
use crate::data::tokenizer;
use crate::fsx;
use crate::model::params::Params;
use crate::model::Gpt;
use crate::rundir::checkpoint::{self, TrainState};
use crate::rundir::{self, Run};
use anyhow::{anyhow, bail, Context, Result};
use candle_core::safetensors::Load;
use candle_core::{DType, Device, Tensor};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use tokenizers::Tokenizer;

pub const CONFIG_FILE: &str = "config.json";
pub const WEIGHTS_FILE: &str = "model.safetensors";
pub const INDEX_FILE: &str = "model.safetensors.index.json";
pub const TOKENIZER_FILE: &str = "tokenizer.json";
/// The prefix `GPT2LMHeadModel.save_pretrained` gives the transformer's tensors.
pub const PREFIX: &str = "transformer.";
/// GELU variants that are the tanh approximation scalelab computes.
const TANH_GELUS: [&str; 3] = ["gelu_new", "gelu_pytorch_tanh", "gelu_fast"];

/// The HF `config.json` of a scalelab model (`GPT2Config` fields).
pub fn hf_config(m: &ModelConfig, tk: &Tokenizer) -> Value {
    let eot = tk.token_to_id(tokenizer::EOT);
    json!({
        "model_type": "gpt2",
        "architectures": ["GPT2LMHeadModel"],
        "vocab_size": m.vocab_size,
        "n_positions": m.seq_len,
        "n_ctx": m.seq_len,
        "n_embd": m.d_model,
        "n_layer": m.n_layer,
        "n_head": m.n_head,
        "n_inner": null,
        "activation_function": "gelu_new",
        "layer_norm_epsilon": m.ln_eps,
        "resid_pdrop": 0.0,
        "embd_pdrop": 0.0,
        "attn_pdrop": 0.0,
        "initializer_range": 0.02,
        "scale_attn_weights": true,
        "scale_attn_by_inverse_layer_idx": false,
        "reorder_and_upcast_attn": false,
        "tie_word_embeddings": true,
        "use_cache": true,
        "bos_token_id": eot,
        "eos_token_id": eot,
        "torch_dtype": "float32",
    })
}

/// safetensors bytes of f32 tensors, with the `format: pt` metadata that
/// transformers checks.
fn hf_safetensors_bytes(tensors: &[(String, Tensor)]) -> Result<Vec<u8>> {
    let data: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
        .iter()
        .map(|(n, t)| {
            Ok((
                n.clone(),
                t.dims().to_vec(),
                t.to_dtype(DType::F32)?
                    .flatten_all()?
                    .to_vec1::<f32>()?
                    .iter()
                    .flat_map(|x| x.to_le_bytes())
                    .collect(),
            ))
        })
        .collect::<Result<_>>()?;
    let views = data
        .iter()
        .map(|(n, shape, bytes)| {
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape.clone(), bytes)
                .map(|v| (n.clone(), v))
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow!("safetensors: {e}"))?;
    let meta = HashMap::from([("format".to_string(), "pt".to_string())]);
    safetensors::serialize(views, Some(meta)).map_err(|e| anyhow!("safetensors: {e}"))
}

/// Create `out` (absent or an empty folder) with the contents `fill` writes
/// into a temporary sibling, renamed into place at the end: `out` holds all
/// of it or, after any error, nothing new.
fn create_folder(out: &Path, what: &str, fill: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    if out.exists() {
        if !out.is_dir() {
            bail!("{what} {}: exists and is not a folder", out.display());
        }
        if fs::read_dir(out)
            .with_context(|| format!("{what} {}: cannot read", out.display()))?
            .next()
            .is_some()
        {
            bail!(
                "{what} {}: exists and is not empty; choose another --out (nothing is overwritten)",
                out.display()
            );
        }
    }
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(parent).with_context(|| {
        format!(
            "{what} {}: cannot create {}",
            out.display(),
            parent.display()
        )
    })?;
    let tmp = fsx::temp_sibling(out);
    let _ = fs::remove_dir_all(&tmp);
    let res = (|| -> Result<()> {
        fs::create_dir(&tmp).with_context(|| {
            format!("{what} {}: cannot create {}", out.display(), tmp.display())
        })?;
        fill(&tmp)?;
        fsx::sync_dir(&tmp);
        if out.exists() {
            fs::remove_dir(out)?;
        }
        fs::rename(&tmp, out).with_context(|| {
            format!(
                "{what} {}: cannot move {} into place",
                out.display(),
                tmp.display()
            )
        })?;
        fsx::sync_dir(parent);
        Ok(())
    })();
    if res.is_err() {
        let _ = fs::remove_dir_all(&tmp);
    }
    res
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Exported {
    pub step: usize,
    pub checkpoint: PathBuf,
    pub tensors: usize,
    pub params: usize,
}

/// Write checkpoint `step` (default: newest good) of `run` as a Hugging Face
/// GPT-2 folder `out`: config.json, model.safetensors (f32), tokenizer.json.
pub fn export(run: &Path, out: &Path, step: Option<usize>) -> Result<Exported> {
    let ck = Run::open(run, step, &Device::Cpu)?;
    if !ck.cfg.model.bias {
        bail!("run {}: model.bias = false cannot be represented in Hugging Face GPT-2 (its linear layers and LayerNorms always have biases)", run.display());
    }
    let tensors: Vec<(String, Tensor)> =
        super::mup::fold(&ck.cfg.model, ck.params.named_tensors())?
            .into_iter()
            .map(|(n, t)| match n == super::mup::LM_HEAD {
                true => (n, t),
                false => (format!("{PREFIX}{n}"), t),
            })
            .collect();
    let weights = hf_safetensors_bytes(&tensors)?;
    let mut hf_cfg = hf_config(&ck.cfg.model, &ck.tokenizer);
    super::mup::config_fields(&ck.cfg.model, &mut hf_cfg);
    let mut config = serde_json::to_string_pretty(&hf_cfg)?;
    config.push('\n');
    create_folder(out, "export folder", |tmp| {
        fsx::write_atomic(&tmp.join(CONFIG_FILE), config.as_bytes())?;
        fsx::write_atomic(&tmp.join(WEIGHTS_FILE), &weights)?;
        fsx::write_atomic(&tmp.join(TOKENIZER_FILE), &ck.tokenizer_json)
    })?;
    Ok(Exported {
        step: ck.step,
        checkpoint: ck.dir,
        tensors: tensors.len(),
        params: ck.params.numel(),
    })
}

/// The scalelab model config of an HF GPT-2 `config.json`; errors name the
/// file and field.
pub fn read_hf_config(hf: &Path) -> Result<ModelConfig> {
    let path = hf.join(CONFIG_FILE);
    if !path.is_file() {
        bail!("hf folder {}: no {CONFIG_FILE}", hf.display());
    }
    let v: Value = fsx::read_json(&path)?;
    let what = path.display().to_string();
    if !v.is_object() {
        bail!("{what}: expected a JSON object");
    }
    let field = |k: &str| v.get(k).filter(|x| !x.is_null());
    let uint = |keys: &[&str]| -> Result<usize> {
        let x = keys
            .iter()
            .find_map(|k| field(k))
            .ok_or_else(|| anyhow!("{what}: field `{}` is missing", keys[0]))?;
        x.as_u64()
            .filter(|n| *n > 0)
            .map(|n| n as usize)
            .ok_or_else(|| {
                anyhow!(
                    "{what}: field `{}` must be a positive integer, got {x}",
                    keys[0]
                )
            })
    };
    if let Some(t) = field("model_type") {
        if t != "gpt2" {
            bail!("{what}: model_type is {t}; only \"gpt2\" folders can be imported");
        }
    }
    let act = field("activation_function")
        .map(|a| a.as_str().unwrap_or("?"))
        .unwrap_or("gelu_new");
    if !TANH_GELUS.contains(&act) {
        bail!("{what}: activation_function \"{act}\" is not supported; scalelab's MLP uses the tanh approximation (one of {})", TANH_GELUS.join(", "));
    }
    let d_model = uint(&["n_embd"])?;
    if let Some(n) = field("n_inner") {
        if n.as_u64() != Some(4 * d_model as u64) {
            bail!(
                "{what}: n_inner = {n}; scalelab's MLP width is 4·n_embd = {}",
                4 * d_model
            );
        }
    }
    for (k, want) in [
        ("scale_attn_weights", true),
        ("scale_attn_by_inverse_layer_idx", false),
        ("add_cross_attention", false),
    ] {
        if let Some(x) = field(k) {
            if x.as_bool() != Some(want) {
                bail!("{what}: {k} = {x} is not supported (scalelab computes {k} = {want})");
            }
        }
    }
    let ln_eps = match field("layer_norm_epsilon") {
        None => 1e-5,
        Some(x) => x.as_f64().ok_or_else(|| {
            anyhow!("{what}: field `layer_norm_epsilon` must be a number, got {x}")
        })?,
    };
    let mut m = ModelConfig {
        n_layer: uint(&["n_layer"])?,
        n_head: uint(&["n_head"])?,
        d_model,
        seq_len: uint(&["n_positions", "n_ctx"])?,
        vocab_size: uint(&["vocab_size"])?,
        bias: true,
        ln_eps,
        parametrization: Default::default(),
        base_width: None,
    };
    super::mup::read_config_fields(&v, &mut m, &what)?;
    m.validate().map_err(|e| anyhow!("{what}: {e}"))?;
    Ok(m)
}

/// The safetensors files of an HF folder: `model.safetensors`, or the shards
/// named by `model.safetensors.index.json`.
fn weight_files(hf: &Path) -> Result<Vec<PathBuf>> {
    let single = hf.join(WEIGHTS_FILE);
    if single.is_file() {
        return Ok(vec![single]);
    }
    let index = hf.join(INDEX_FILE);
    if index.is_file() {
        let v: Value = fsx::read_json(&index)?;
        let map = v
            .get("weight_map")
            .and_then(Value::as_object)
            .ok_or_else(|| anyhow!("{}: no `weight_map` object", index.display()))?;
        let mut files: Vec<&str> = map.values().filter_map(Value::as_str).collect();
        files.sort_unstable();
        files.dedup();
        return Ok(files.into_iter().map(|f| hf.join(f)).collect());
    }
    if hf.join("pytorch_model.bin").is_file() {
        bail!("hf folder {}: has pytorch_model.bin but no {WEIGHTS_FILE}; scalelab reads safetensors only (re-save with save_pretrained(dir, safe_serialization=True))", hf.display());
    }
    bail!("hf folder {}: no {WEIGHTS_FILE}", hf.display());
}

/// `h.{i}.attn.bias` / `h.{i}.attn.masked_bias`: causal-mask buffers older
/// transformers saved with the weights.
fn is_mask_buffer(name: &str) -> bool {
    let p: Vec<&str> = name.split('.').collect();
    p.len() == 4 && p[0] == "h" && p[2] == "attn" && (p[3] == "bias" || p[3] == "masked_bias")
}

/// All weight tensors of an HF GPT-2 folder under scalelab names, in f32.
/// (A μP folder's folded multipliers are undone, see [`super::mup`].)
pub fn read_hf_weights(hf: &Path, model: &ModelConfig) -> Result<HashMap<String, Tensor>> {
    let mut out = HashMap::new();
    let mut lm_head = None;
    for path in weight_files(hf)? {
        let bytes = fs::read(&path).with_context(|| format!("{}: cannot read", path.display()))?;
        let st = safetensors::SafeTensors::deserialize(&bytes)
            .map_err(|e| anyhow!("{}: not a valid safetensors file ({e})", path.display()))?;
        for (name, view) in st.tensors() {
            let short = name.strip_prefix(PREFIX).unwrap_or(&name).to_string();
            if is_mask_buffer(&short) {
                continue;
            }
            use safetensors::Dtype as D;
            if !matches!(view.dtype(), D::F16 | D::BF16 | D::F32 | D::F64) {
                bail!(
                    "{}: tensor `{name}` has dtype {:?}, expected f16, bf16, f32 or f64",
                    path.display(),
                    view.dtype()
                );
            }
            let t = view.load(&Device::Cpu)?.to_dtype(DType::F32)?;
            if short == "lm_head.weight" {
                lm_head = Some((path.clone(), t));
            } else if out.insert(short.clone(), t).is_some() {
                bail!(
                    "{}: tensor `{short}` appears twice (with and without the `{PREFIX}` prefix?)",
                    path.display()
                );
            }
        }
    }
    if !model.parametrization.is_sp() {
        super::mup::unfold(model, &mut out, lm_head.map(|(_, t)| t))?;
    } else if let (Some((path, head)), Some(wte)) = (lm_head, out.get("wte.weight")) {
        let values = |t: &Tensor| t.flatten_all()?.to_vec1::<f32>();
        let same = head.dims() == wte.dims() && values(&head)? == values(wte)?;
        if !same {
            bail!("{}: `lm_head.weight` differs from `wte.weight`; an untied LM head cannot be represented in scalelab (its LM head is the token embedding)", path.display());
        }
    }
    Ok(out)
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Imported {
    pub config: RunConfig,
    pub checkpoint: PathBuf,
    pub tensors: usize,
    pub params: usize,
}

/// The run config written for an imported model: its shape, the run's
/// tokenizer.json as `data.tokenizer` (so fine-tuning with `train --resume`
/// tokenizes the same way) and the shipped corpus as a placeholder.
fn imported_run_config(model: ModelConfig, out: &Path) -> Result<RunConfig> {
    let abs = std::path::absolute(out)
        .with_context(|| format!("run folder {}: cannot resolve", out.display()))?;
    let cfg = RunConfig {
        model,
        data: DataConfig {
            corpus: PathBuf::from("data/pd_classics.txt.xz"),
            tokenizer: abs.join(TOKENIZER_FILE).display().to_string(),
            vocab: None,
            dir: None,
        },
        train: TrainConfig {
            max_steps: Some(1000),
            ..TrainConfig::default()
        },
        optim: Default::default(),
    };
    cfg.validate()?;
    Ok(cfg)
}

/// The config.toml text of an imported run (a header comment, then the config).
pub fn config_toml(cfg: &RunConfig, hf: &Path) -> String {
    format!(
        "# Imported from the Hugging Face GPT-2 folder {} by `scalelab import`.\n# data.corpus and [train] are placeholders: set them before fine-tuning.\n{}",
        hf.display(),
        cfg.to_toml()
    )
}

/// Read an HF GPT-2 folder (tokenizer from `tokenizer` or `hf/tokenizer.json`)
/// into a new run folder `out` with a step-0 checkpoint.
pub fn import(hf: &Path, out: &Path, tokenizer_path: Option<&Path>) -> Result<Imported> {
    if !hf.is_dir() {
        bail!("hf folder {}: no such folder", hf.display());
    }
    let model = read_hf_config(hf)?;
    let tk_path = tokenizer_path
        .map(Path::to_path_buf)
        .unwrap_or_else(|| hf.join(TOKENIZER_FILE));
    if tokenizer_path.is_none() && !tk_path.is_file() {
        bail!(
            "hf folder {}: no {TOKENIZER_FILE} (pass --tokenizer FILE)",
            hf.display()
        );
    }
    let tk = tokenizer::load(&tk_path)?;
    let tk_json = tokenizer::read_bytes(&tk_path)?;
    if tk.get_vocab_size(true) > model.vocab_size {
        bail!(
            "tokenizer {} has {} tokens, more than the model's vocab_size {}",
            tk_path.display(),
            tk.get_vocab_size(true),
            model.vocab_size
        );
    }
    let weights = read_hf_weights(hf, &model)?;
    let tensors = weights.len();
    let params = Params::from_named(
        &model,
        weights,
        DType::F32,
        &Device::Cpu,
        &format!("hf folder {}", hf.display()),
    )?;
    let cfg = imported_run_config(model, out)?;
    let moments: Vec<(String, Tensor)> = params
        .named_tensors()
        .into_iter()
        .map(|(n, t)| {
            Ok([
                (format!("m.{n}"), t.zeros_like()?),
                (format!("v.{n}"), t.zeros_like()?),
            ])
        })
        .collect::<Result<Vec<_>>>()?
        .into_iter()
        .flatten()
        .collect();
    let state = TrainState::fresh(
        &cfg,
        Sampler::new(cfg.train.seed.wrapping_add(1)).state(),
        fsx::sha256_hex(&tk_json),
    );
    let toml = config_toml(&cfg, hf);
    create_folder(out, "run folder", |tmp| {
        fsx::write_atomic(&rundir::config_path(tmp), toml.as_bytes())?;
        fsx::write_atomic(&tmp.join(TOKENIZER_FILE), &tk_json)?;
        checkpoint::save(
            &rundir::checkpoints_dir(tmp),
            &params.named_tensors(),
            &moments,
            &state,
        )
        .map(|_| ())
    })?;
    let checkpoint = rundir::checkpoints_dir(out).join(checkpoint::step_dir_name(0));
    Ok(Imported {
        config: cfg,
        checkpoint,
        tensors,
        params: params.numel(),
    })
}

/// Logits [t][vocab] (f32) of one sequence of token ids under a checkpoint.
pub fn logits(ck: &Run, tokens: &[u32]) -> Result<Vec<Vec<f32>>> {
    let m = &ck.cfg.model;
    if tokens.is_empty() {
        bail!("no tokens given");
    }
    if tokens.len() > m.seq_len {
        bail!("{} tokens exceed model.seq_len {}", tokens.len(), m.seq_len);
    }
    if let Some(t) = tokens.iter().find(|&&t| t as usize >= m.vocab_size) {
        bail!(
            "token id {t} is out of range (model.vocab_size {})",
            m.vocab_size
        );
    }
    let model = Gpt::new(m, ck.params.var_builder(DType::F32, false)?)?;
    let x = Tensor::from_slice(tokens, (1, tokens.len()), &Device::Cpu)?;
    Ok(model.forward(&x)?.squeeze(0)?.to_vec2::<f32>()?)
}
