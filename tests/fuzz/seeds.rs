//! Valid inputs the fuzz tests start from, one per reader, built once.

use candle_core::{DType, Device, Tensor};
use scalelab::config::RunConfig;
use scalelab::model::params::Params;
use scalelab::rundir::checkpoint::{self, TrainState};
use std::path::{Path, PathBuf};

/// A tiny model: 1 layer, d_model 8, 2 heads, 8 positions, 16 tokens.
pub const CONFIG: &str = r#"
[model]
n_layer = 1
n_head = 2
d_model = 8
seq_len = 8
vocab_size = 16

[data]
corpus = "corpus.txt"
tokenizer = "bpe"

[train]
batch_size = 4
max_steps = 12
eval_every = 5
eval_batches = 2
checkpoint_every = 4
seed = 5

[optim]
lr = 3e-3
min_lr = 3e-4
warmup_steps = 3
"#;

pub fn config() -> RunConfig {
    RunConfig::from_toml_str(CONFIG, &[]).unwrap()
}

/// Keys `--set` is fuzzed with: every section's, a few wrong ones.
pub const KEYS: &[&str] = &[
    "model.depth",
    "model.aspect_ratio",
    "model.head_dim",
    "model.n_layer",
    "model.n_head",
    "model.d_model",
    "model.seq_len",
    "model.vocab_size",
    "model.bias",
    "model.ln_eps",
    "data.corpus",
    "data.tokenizer",
    "data.vocab",
    "data.dir",
    "train.batch_size",
    "train.grad_accum",
    "train.max_steps",
    "train.max_tokens",
    "train.max_flops",
    "train.eval_every",
    "train.eval_batches",
    "train.checkpoint_every",
    "train.keep_last",
    "train.device",
    "train.ranks",
    "train.dtype",
    "train.on_nonfinite",
    "train.kernels",
    "optim.lr",
    "optim.min_lr",
    "optim.schedule",
    "optim.decay_frac",
    "optim.beta1",
    "optim.beta2",
    "optim.eps",
    "depth",
    "lr",
    "nope",
    "model",
    ".x",
    "train.",
];

pub const SWEEP: &str = r#"
base = "base.toml"
set = ["train.eval_batches=1", "optim.lr=3e-3"]
evals_per_run = 3
warmup_frac = 0.05

[sizes]
shapes = [
  { n_layer = 1, n_head = 2, d_model = 8 },
  { n_layer = 2, n_head = 2, d_model = 16 },
]

[design]
isoflop = [1e7, 3e7]
tokens_per_param_range = [1, 500]
"#;

pub const RESULTS: &str =
    "run,params,tokens,flops,val_loss,loss,status,budget,wall_s,tok_per_s,mfu,device
a,1e6,2e7,1.2e14,4.0,4.1,ok,1e14,10,1000,0.4,cpu
b,3e6,6e7,1.08e15,3.5,3.6,ok,1e15,20,900,0.3,cpu
c,1e7,2e8,,3.1,3.2,ok,,30,800,,cpu
d,3e7,6e8,1.08e17,2.8,2.9,diverged,1e17,40,700,0.2,cuda:0
";

pub const CURVES: &str = "run,params,tokens,flops,loss
a,1e6,1e7,6e13,4.5
a,1e6,2e7,1.2e14,4.0
b,3e6,3e7,5.4e14,3.9
b,3e6,6e7,,3.5
";

/// A sweep results.csv as `sweep` writes it (sweep::results::Row).
pub const SWEEP_ROWS: &str = "run,status,size,design,budget,n_layer,d_model,params,non_embedding_params,tokens,flops,final_train_loss,val_loss,val_bpb,wall_s,tok_per_s,mfu,device,error
s1,ok,d1,isoflop,1e11,1,64,100000,50000,1000000,6e11,3.5,3.6,1.4,10.5,9000,0.3,cpu,
s2,failed,d2,isoflop,1e11,2,128,300000,200000,,,,,,,,,,out of memory
s3,missing,d3,tokens,1e6,3,192,500000,400000,,,,,,,,,,
";

pub const METRICS: &str = r#"{"kind":"eval","step":0,"tokens_seen":0,"flops_cum":0.0,"val_loss":6.0,"val_bpb":4.5,"elapsed_s":0.1}
{"kind":"step","step":1,"tokens_seen":128,"loss":5.9,"lr":0.001,"grad_norm":1.5,"dt_ms":12.5,"tok_per_s":10240.0,"flops_step":3e7,"flops_cum":3e7,"mfu":null,"skipped":false}
{"kind":"step","step":2,"tokens_seen":256,"loss":null,"lr":0.002,"grad_norm":null,"dt_ms":11.0,"tok_per_s":11636.0,"flops_step":3e7,"flops_cum":6e7,"mfu":0.1,"skipped":true}
{"kind":"eval","step":2,"tokens_seen":256,"flops_cum":6e7,"val_loss":5.5,"val_bpb":4.1,"elapsed_s":0.3}
"#;

/// tokenizer.json of a byte-level BPE with 300 entries.
pub fn tokenizer_json() -> Vec<u8> {
    let text = "the quick brown fox jumps over the lazy dog; é 漢字 😀\n".repeat(200);
    let tk = scalelab::data::tokenizer::train_bpe(300, std::iter::once(text)).unwrap();
    scalelab::data::tokenizer::to_json(&tk).unwrap()
}

/// A step-4 checkpoint of the tiny model in `root/step_00000004`.
pub fn checkpoint(root: &Path) -> PathBuf {
    let cfg = config();
    let p = Params::init(&cfg.model, 1, DType::F32, &Device::Cpu).unwrap();
    let moments: Vec<(String, Tensor)> = p
        .named_tensors()
        .into_iter()
        .flat_map(|(n, t)| [(format!("m.{n}"), t.clone()), (format!("v.{n}"), t)])
        .collect();
    let sampler = scalelab::data::batches::Sampler::new(6).state();
    let mut st = TrainState::fresh(&cfg, sampler, "ab".repeat(32));
    st.step = 4;
    st.tokens_seen = 4 * cfg.tokens_per_step();
    checkpoint::save(root, &p.named_tensors(), &moments, &st).unwrap()
}

/// An HF GPT-2 folder of the tiny model in `dir`: config.json and model.safetensors.
pub fn hf_folder(dir: &Path) {
    let cfg = config();
    let p = Params::init(&cfg.model, 1, DType::F32, &Device::Cpu).unwrap();
    let named: Vec<(String, Tensor)> = p
        .named_tensors()
        .into_iter()
        .map(|(n, t)| (format!("transformer.{n}"), t))
        .collect();
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join("model.safetensors"),
        checkpoint::safetensors_bytes(&named).unwrap(),
    )
    .unwrap();
    let m = &cfg.model;
    let config = serde_json::json!({
        "model_type": "gpt2", "activation_function": "gelu_new", "n_embd": m.d_model,
        "n_layer": m.n_layer, "n_head": m.n_head, "n_positions": m.seq_len,
        "vocab_size": m.vocab_size, "layer_norm_epsilon": 1e-5, "n_inner": null,
        "scale_attn_weights": true, "tie_word_embeddings": true,
    });
    std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
}
