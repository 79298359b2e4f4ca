//! Checkpoints: `model.safetensors` (weights, HF GPT-2 names),
//! `optim.safetensors` (AdamW moments) and `state.json` (step, sampler RNG,
//! resolved config, tokenizer hash, sha256 of each tensor file). A checkpoint
//! is built in a temporary folder and renamed into place, so a crash at any
//! moment leaves either the whole checkpoint or none of it.

use crate::config::RunConfig;
use crate::data::batches::SamplerState;
use crate::fsx;
use anyhow::{anyhow, bail, Context, Result};
use candle_core::{DType, Device, Tensor};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::{Path, PathBuf};

pub const MODEL_FILE: &str = "model.safetensors";
pub const OPTIM_FILE: &str = "optim.safetensors";
pub const STATE_FILE: &str = "state.json";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainState {
    /// Optimizer steps completed.
    pub step: usize,
    pub tokens_seen: u64,
    pub flops_cum: f64,
    pub sampler: SamplerState,
    pub adam_t: u64,
    pub skipped_nonfinite: u64,
    pub last_val_loss: Option<f64>,
    pub best_val: Option<(usize, f64)>,
    pub elapsed_s: f64,
    /// Tokens and seconds of the timed steps (all but each process's first),
    /// summed over resumes: the run's throughput.
    #[serde(default)]
    pub timed_tokens: u64,
    #[serde(default)]
    pub timed_s: f64,
    pub config: RunConfig,
    pub tokenizer_sha256: String,
    pub code_version: String,
    /// sha256 of model.safetensors and optim.safetensors.
    pub files: BTreeMap<String, String>,
    /// sha256 of this state's canonical JSON without this field (see [`write_state`]):
    /// an edited state.json fails [`verify`]. Absent in checkpoints of older versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_sha256: Option<String>,
}

impl TrainState {
    /// The state of a run before its first step (fresh training, or an imported model).
    pub fn fresh(config: &RunConfig, sampler: SamplerState, tokenizer_sha256: String) -> Self {
        TrainState {
            step: 0,
            tokens_seen: 0,
            flops_cum: 0.0,
            sampler,
            adam_t: 0,
            skipped_nonfinite: 0,
            last_val_loss: None,
            best_val: None,
            elapsed_s: 0.0,
            timed_tokens: 0,
            timed_s: 0.0,
            config: config.clone(),
            tokenizer_sha256,
            code_version: env!("CARGO_PKG_VERSION").to_string(),
            files: BTreeMap::new(),
            state_sha256: None,
        }
    }
}

pub fn step_dir_name(step: usize) -> String {
    format!("step_{step:08}")
}

/// Serialise named tensors into safetensors bytes (CPU copies).
pub fn safetensors_bytes(tensors: &[(String, Tensor)]) -> Result<Vec<u8>> {
    // Collect CPU copies first, then one serialisation into memory (written atomically by the caller).
    let cpu: Vec<(String, Tensor)> = tensors
        .iter()
        .map(|(n, t)| Ok((n.clone(), t.to_device(&Device::Cpu)?)))
        .collect::<Result<_>>()?;
    let data: Vec<(String, Vec<u8>, Vec<usize>, safetensors::Dtype)> = cpu
        .iter()
        .map(|(n, t)| {
            let (bytes, dt) = tensor_bytes(t)?;
            Ok((n.clone(), bytes, t.dims().to_vec(), dt))
        })
        .collect::<Result<_>>()?;
    let views = data
        .iter()
        .map(|(n, b, s, dt)| {
            Ok((
                n.clone(),
                safetensors::tensor::TensorView::new(*dt, s.clone(), b)
                    .map_err(|e| anyhow!("{e}"))?,
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    safetensors::serialize(views, None).map_err(|e| anyhow!("safetensors: {e}"))
}

fn tensor_bytes(t: &Tensor) -> Result<(Vec<u8>, safetensors::Dtype)> {
    let t = t.flatten_all()?;
    Ok(match t.dtype() {
        DType::F32 => (
            t.to_vec1::<f32>()?
                .iter()
                .flat_map(|x| x.to_le_bytes())
                .collect(),
            safetensors::Dtype::F32,
        ),
        DType::F64 => (
            t.to_vec1::<f64>()?
                .iter()
                .flat_map(|x| x.to_le_bytes())
                .collect(),
            safetensors::Dtype::F64,
        ),
        DType::BF16 => (
            t.to_vec1::<half::bf16>()?
                .iter()
                .flat_map(|x| x.to_le_bytes())
                .collect(),
            safetensors::Dtype::BF16,
        ),
        DType::F16 => (
            t.to_vec1::<half::f16>()?
                .iter()
                .flat_map(|x| x.to_le_bytes())
                .collect(),
            safetensors::Dtype::F16,
        ),
        DType::U32 => (
            t.to_vec1::<u32>()?
                .iter()
                .flat_map(|x| x.to_le_bytes())
                .collect(),
            safetensors::Dtype::U32,
        ),
        dt => bail!("cannot checkpoint a tensor of dtype {dt:?}"),
    })
}

/// Read a safetensors file into named tensors on `dev`; errors name the file.
pub fn load_safetensors(path: &Path, dev: &Device) -> Result<HashMap<String, Tensor>> {
    let bytes =
        fs::read(path).with_context(|| format!("checkpoint {}: cannot read", path.display()))?;
    let st = safetensors::SafeTensors::deserialize(&bytes).map_err(|e| {
        anyhow!(
            "checkpoint {}: not a valid safetensors file ({e})",
            path.display()
        )
    })?;
    let mut out = HashMap::new();
    for (name, view) in st.tensors() {
        let shape = view.shape().to_vec();
        let data = view.data();
        let t = match view.dtype() {
            safetensors::Dtype::F32 => Tensor::from_vec(data.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect::<Vec<_>>(), shape, dev)?,
            safetensors::Dtype::F64 => Tensor::from_vec(data.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes"))).collect::<Vec<_>>(), shape, dev)?,
            safetensors::Dtype::BF16 => Tensor::from_vec(data.chunks_exact(2).map(|c| half::bf16::from_le_bytes([c[0], c[1]])).collect::<Vec<_>>(), shape, dev)?,
            safetensors::Dtype::F16 => Tensor::from_vec(data.chunks_exact(2).map(|c| half::f16::from_le_bytes([c[0], c[1]])).collect::<Vec<_>>(), shape, dev)?,
            dt => bail!("checkpoint {}: tensor `{name}` has unsupported dtype {dt:?} (expected a float type)", path.display()),
        };
        out.insert(name, t);
    }
    Ok(out)
}

/// Write a checkpoint for `state` atomically into `ckpt_root/step_XXXXXXXX`.
pub fn save(
    ckpt_root: &Path,
    weights: &[(String, Tensor)],
    moments: &[(String, Tensor)],
    state: &TrainState,
) -> Result<PathBuf> {
    fs::create_dir_all(ckpt_root)
        .with_context(|| format!("cannot create {}", ckpt_root.display()))?;
    let final_dir = ckpt_root.join(step_dir_name(state.step));
    let tmp = ckpt_root.join(format!(
        ".{}.tmp-{}",
        step_dir_name(state.step),
        std::process::id()
    ));
    let _ = fs::remove_dir_all(&tmp);
    let res = (|| -> Result<()> {
        fs::create_dir_all(&tmp)?;
        let mut state = state.clone();
        for (file, tensors) in [(MODEL_FILE, weights), (OPTIM_FILE, moments)] {
            let bytes = safetensors_bytes(tensors)?;
            state
                .files
                .insert(file.to_string(), fsx::sha256_hex(&bytes));
            fsx::write_atomic(&tmp.join(file), &bytes)?;
            crate::fault::checkpoint_pause();
        }
        write_state(&tmp, &state)?;
        fsx::sync_dir(&tmp);
        if final_dir.exists() {
            // Same step written again (e.g. after falling back past a corrupt one):
            // move the old folder out of the `step_` namespace in one rename, so a
            // crash never leaves a half-deleted `step_` folder behind.
            let trash = trash_path(&final_dir);
            fs::rename(&final_dir, &trash)?;
            let _ = fs::remove_dir_all(&trash);
        }
        fs::rename(&tmp, &final_dir)?;
        fsx::sync_dir(ckpt_root);
        Ok(())
    })();
    if let Err(e) = res {
        let _ = fs::remove_dir_all(&tmp);
        return Err(e.context(format!(
            "cannot write checkpoint in {} (disk full or read-only?); earlier checkpoints are kept",
            ckpt_root.display()
        )));
    }
    Ok(final_dir)
}

/// The sha256 of `state`'s canonical JSON with `state_sha256` left out. Field
/// order is fixed and maps are ordered, and floats round-trip exactly, so
/// parsing a state.json and hashing again gives the digest it was written with.
fn state_digest(state: &TrainState) -> Result<String> {
    let bare = TrainState {
        state_sha256: None,
        ..state.clone()
    };
    Ok(fsx::sha256_hex(&serde_json::to_vec(&bare)?))
}

/// Write `state` (sealed with its own digest) as `dir/state.json`, atomically.
pub fn write_state(dir: &Path, state: &TrainState) -> Result<()> {
    let sealed = TrainState {
        state_sha256: Some(state_digest(state)?),
        ..state.clone()
    };
    fsx::write_json_atomic(&dir.join(STATE_FILE), &sealed)
}

/// Read and verify one checkpoint folder: state.json parses, matches its own
/// digest and the folder's step, and each tensor file matches its recorded sha256.
pub fn verify(dir: &Path) -> Result<TrainState> {
    let state: TrainState = fsx::read_json(&dir.join(STATE_FILE))
        .map_err(|e| anyhow!("checkpoint {}: {e:#}", dir.display()))?;
    if let Some(want) = &state.state_sha256 {
        if &state_digest(&state)? != want {
            bail!(
                "checkpoint {}: {STATE_FILE} is corrupt or was edited (sha256 mismatch)",
                dir.display()
            );
        }
    }
    let name = dir.file_name().unwrap_or_default().to_string_lossy();
    if let Some(step) = name
        .strip_prefix("step_")
        .and_then(|s| s.parse::<usize>().ok())
    {
        if state.step != step {
            bail!(
                "checkpoint {}: {STATE_FILE} says step {} but the folder is step {step}",
                dir.display(),
                state.step
            );
        }
    }
    for file in [MODEL_FILE, OPTIM_FILE] {
        let want = state.files.get(file).ok_or_else(|| {
            anyhow!(
                "checkpoint {}: state.json has no hash for {file}",
                dir.display()
            )
        })?;
        let path = dir.join(file);
        if !path.is_file() {
            bail!("checkpoint {}: {file} is missing", dir.display());
        }
        let got = fsx::sha256_file(&path)?;
        if &got != want {
            bail!(
                "checkpoint {}: {file} is corrupt (sha256 mismatch)",
                dir.display()
            );
        }
    }
    Ok(state)
}

/// Checkpoint folders under `ckpt_root`, newest step first (temp folders skipped).
pub fn list(ckpt_root: &Path) -> Vec<(usize, PathBuf)> {
    let mut v: Vec<(usize, PathBuf)> = fs::read_dir(ckpt_root)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let step = name.strip_prefix("step_")?.parse().ok()?;
            Some((step, e.path()))
        })
        .collect();
    v.sort_by_key(|b| std::cmp::Reverse(b.0));
    v
}

/// The newest checkpoint that verifies; corrupt ones are reported through
/// `warn` and skipped.
pub fn latest_good(
    ckpt_root: &Path,
    mut warn: impl FnMut(String),
) -> Option<(PathBuf, TrainState)> {
    for (_, dir) in list(ckpt_root) {
        match verify(&dir) {
            Ok(s) => return Some((dir, s)),
            Err(e) => warn(format!("{e:#}; falling back to the previous checkpoint")),
        }
    }
    None
}

/// Delete old checkpoints: keep the newest `keep_last` and the best-validation one.
/// Each is first renamed out of the `step_` namespace (atomic), then deleted, so
/// a crash mid-delete leaves no torn `step_` folder.
/// Folders without a state.json are not checkpoints (nor are they ours to
/// delete): they neither count towards `keep_last` nor are removed.
pub fn prune(ckpt_root: &Path, keep_last: usize, best_step: Option<usize>) -> Result<()> {
    let ours = list(ckpt_root)
        .into_iter()
        .filter(|(_, dir)| dir.join(STATE_FILE).is_file());
    for (step, dir) in ours.skip(keep_last) {
        if Some(step) != best_step {
            let trash = trash_path(&dir);
            fs::rename(&dir, &trash)
                .with_context(|| format!("cannot remove old checkpoint {}", dir.display()))?;
            fs::remove_dir_all(&trash)
                .with_context(|| format!("cannot remove old checkpoint {}", dir.display()))?;
        }
    }
    Ok(())
}

fn trash_path(dir: &Path) -> PathBuf {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    dir.with_file_name(format!(".trash-{name}-{}", std::process::id()))
}

/// Remove what a killed writer left in `ckpt_root`: temp folders of unfinished
/// checkpoints and half-deleted old ones. Call only while holding the run lock.
pub fn clean_stale(ckpt_root: &Path) {
    for e in fs::read_dir(ckpt_root).into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with(".step_") || name.starts_with(".trash-") {
            let _ = fs::remove_dir_all(e.path());
        }
    }
}
