//! The parameter list of the GPT (names follow Hugging Face GPT-2), its
//! initialisation and its counts.

use crate::config::ModelConfig;
use anyhow::Result;
use candle_core::{DType, Device, Tensor};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Init {
    Normal(f64),
    Zeros,
    Ones,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ParamSpec {
    pub name: String,
    pub shape: Vec<usize>,
    pub init: Init,
    /// Multiplier on the learning rate (and so on AdamW's coupled decay): 1/m
    /// for μP's hidden matrices, 1 otherwise.
    pub lr_scale: f64,
}

impl ParamSpec {
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn is_embedding(&self) -> bool {
        self.name == "wte.weight" || self.name == "wpe.weight"
    }

    /// AdamW decays 2-D weight matrices only (embeddings optionally).
    pub fn decays(&self, decay_embeddings: bool) -> bool {
        self.shape.len() == 2 && (decay_embeddings || !self.is_embedding())
    }
}

/// Every parameter in a fixed order. Linear weights are `[in, out]` (GPT-2 Conv1D).
/// GPT-2 init: N(0, 0.02), residual projections N(0, 0.02/sqrt(2·n_layer)).
/// μP (m = width multiplier): hidden matrices' std ÷√m and learning rate ÷m.
pub fn param_specs(cfg: &ModelConfig) -> Vec<ParamSpec> {
    let d = cfg.d_model;
    // m = 1 under SP: the factors below are then exactly 1.
    let m = cfg.width_mult();
    let std = 0.02;
    let hstd = std / m.sqrt();
    let proj_std = hstd / (2.0 * cfg.n_layer as f64).sqrt();
    let mut v = Vec::new();
    let mut push = |name: String, shape: Vec<usize>, init| {
        let hidden = shape.len() == 2 && name.starts_with('h');
        let lr_scale = if hidden { 1.0 / m } else { 1.0 };
        v.push(ParamSpec {
            name,
            shape,
            init,
            lr_scale,
        })
    };
    push(
        "wte.weight".into(),
        vec![cfg.vocab_size, d],
        Init::Normal(std),
    );
    push("wpe.weight".into(), vec![cfg.seq_len, d], Init::Normal(std));
    let layers: [(&str, usize, usize, f64); 4] = [
        ("attn.c_attn", d, 3 * d, hstd),
        ("attn.c_proj", d, d, proj_std),
        ("mlp.c_fc", d, 4 * d, hstd),
        ("mlp.c_proj", 4 * d, d, proj_std),
    ];
    for i in 0..cfg.n_layer {
        let p = format!("h.{i}");
        let ln = |push: &mut dyn FnMut(String, Vec<usize>, Init), name: &str| {
            push(format!("{p}.{name}.weight"), vec![d], Init::Ones);
            if cfg.bias {
                push(format!("{p}.{name}.bias"), vec![d], Init::Zeros);
            }
        };
        ln(&mut push, "ln_1");
        for (name, din, dout, s) in &layers[..2] {
            push(
                format!("{p}.{name}.weight"),
                vec![*din, *dout],
                Init::Normal(*s),
            );
            if cfg.bias {
                push(format!("{p}.{name}.bias"), vec![*dout], Init::Zeros);
            }
        }
        ln(&mut push, "ln_2");
        for (name, din, dout, s) in &layers[2..] {
            push(
                format!("{p}.{name}.weight"),
                vec![*din, *dout],
                Init::Normal(*s),
            );
            if cfg.bias {
                push(format!("{p}.{name}.bias"), vec![*dout], Init::Zeros);
            }
        }
    }
    push("ln_f.weight".into(), vec![d], Init::Ones);
    if cfg.bias {
        push("ln_f.bias".into(), vec![d], Init::Zeros);
    }
    v
}

/// Freshly initialised parameters from a seeded RNG (same values on every device).
pub fn init_params(
    cfg: &ModelConfig,
    seed: u64,
    dtype: DType,
    dev: &Device,
) -> Result<Vec<(String, Tensor)>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    param_specs(cfg)
        .into_iter()
        .map(|s| {
            let n = s.numel();
            let data: Vec<f32> = match s.init {
                Init::Normal(std) => {
                    let dist = Normal::new(0.0f32, std as f32).expect("std > 0");
                    (0..n).map(|_| dist.sample(&mut rng)).collect()
                }
                Init::Zeros => vec![0.0; n],
                Init::Ones => vec![1.0; n],
            };
            let t = Tensor::from_vec(data, s.shape.as_slice(), dev)?.to_dtype(dtype)?;
            Ok((s.name, t))
        })
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ParamCounts {
    pub total: u64,
    /// Total minus the token and position embeddings (the tied LM head is the token embedding).
    pub non_embedding: u64,
    /// Kaplan et al.'s approximation 12·n_layer·d².
    pub kaplan_12ld2: u64,
}

pub fn param_counts(cfg: &ModelConfig) -> ParamCounts {
    let specs = param_specs(cfg);
    let total: usize = specs.iter().map(ParamSpec::numel).sum();
    let emb: usize = specs
        .iter()
        .filter(|s| s.is_embedding())
        .map(ParamSpec::numel)
        .sum();
    ParamCounts {
        total: total as u64,
        non_embedding: (total - emb) as u64,
        kaplan_12ld2: (12 * cfg.n_layer * cfg.d_model * cfg.d_model) as u64,
    }
}

/// The trainable parameters, in [`param_specs`] order, as candle `Var`s
/// (master precision).
pub struct Params {
    pub specs: Vec<ParamSpec>,
    pub vars: Vec<candle_core::Var>,
}

impl Params {
    /// Every parameter's gradient from a backward pass, in order, detached (a
    /// leaf's gradient still references the forward graph: kept as is, it would
    /// keep every step's activations alive). Names the parameter that got none.
    pub fn grads(&self, store: &candle_core::backprop::GradStore) -> Result<Vec<Tensor>> {
        self.vars
            .iter()
            .zip(&self.specs)
            .map(|(v, s)| {
                store.get(v.as_tensor()).map(Tensor::detach).ok_or_else(|| {
                    anyhow::anyhow!("parameter {} received no gradient: an op without backward is on the training path", s.name)
                })
            })
            .collect()
    }

    /// The device the weights live on.
    pub fn device(&self) -> &Device {
        self.vars[0].device()
    }

    pub fn init(cfg: &ModelConfig, seed: u64, dtype: DType, dev: &Device) -> Result<Self> {
        let vars = init_params(cfg, seed, dtype, dev)?
            .into_iter()
            .map(|(_, t)| candle_core::Var::from_tensor(&t))
            .collect::<candle_core::Result<Vec<_>>>()?;
        Ok(Params {
            specs: param_specs(cfg),
            vars,
        })
    }

    /// Adopt named tensors (e.g. from a checkpoint), checking names, shapes and dtype.
    /// `what` names the source in errors.
    pub fn from_named(
        cfg: &ModelConfig,
        mut named: std::collections::HashMap<String, Tensor>,
        dtype: DType,
        dev: &Device,
        what: &str,
    ) -> Result<Self> {
        let specs = param_specs(cfg);
        let mut vars = Vec::with_capacity(specs.len());
        for s in &specs {
            let t = named
                .remove(&s.name)
                .ok_or_else(|| anyhow::anyhow!("{what}: missing tensor `{}`", s.name))?;
            if t.dims() != s.shape.as_slice() {
                anyhow::bail!(
                    "{what}: tensor `{}` has shape {:?}, the config needs {:?}",
                    s.name,
                    t.dims(),
                    s.shape
                );
            }
            if !t.dtype().is_float() {
                anyhow::bail!(
                    "{what}: tensor `{}` has dtype {:?}, expected a float type",
                    s.name,
                    t.dtype()
                );
            }
            vars.push(candle_core::Var::from_tensor(
                &t.to_dtype(dtype)?.to_device(dev)?,
            )?);
        }
        if let Some(extra) = named.keys().next() {
            anyhow::bail!(
                "{what}: unexpected tensor `{extra}` (checkpoint from another model shape?)"
            );
        }
        Ok(Params { specs, vars })
    }

    /// A VarBuilder over the parameters cast to `dtype`. With `track` the casts
    /// are recorded so gradients flow back to the master `Var`s; without it the
    /// tensors are detached (evaluation, sampling: no backward graph is built).
    pub fn var_builder(&self, dtype: DType, track: bool) -> Result<candle_nn::VarBuilder<'static>> {
        let dev = self
            .vars
            .first()
            .map(|v| v.device().clone())
            .unwrap_or(Device::Cpu);
        let mut map = std::collections::HashMap::with_capacity(self.vars.len());
        for (s, v) in self.specs.iter().zip(&self.vars) {
            let t = if track {
                v.as_tensor().clone()
            } else {
                v.as_tensor().detach()
            };
            map.insert(s.name.clone(), t.to_dtype(dtype)?);
        }
        Ok(candle_nn::VarBuilder::from_tensors(map, dtype, &dev))
    }

    pub fn named_tensors(&self) -> Vec<(String, Tensor)> {
        self.specs
            .iter()
            .zip(&self.vars)
            .map(|(s, v)| (s.name.clone(), v.as_tensor().detach()))
            .collect()
    }

    pub fn numel(&self) -> usize {
        self.specs.iter().map(ParamSpec::numel).sum()
    }
}
