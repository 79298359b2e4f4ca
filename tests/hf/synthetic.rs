//! Synthetic Hugging Face folders, built the way the wild lays them out.

use candle_core::{DType, Device, Tensor};
use scalelab::interop::hf;
use scalelab::model::params::init_params;
use scalelab::rundir::checkpoint;
use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use super::{common, f32_bits};

pub type Named = Vec<(String, Tensor)>;

/// GPT2Config JSON for a small model.
pub fn hf_config_json(
    n_layer: usize,
    n_head: usize,
    d: usize,
    positions: usize,
    vocab: usize,
) -> serde_json::Value {
    serde_json::json!({
        "model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "activation_function": "gelu_new",
        "n_layer": n_layer, "n_head": n_head, "n_embd": d, "n_positions": positions, "n_ctx": positions,
        "vocab_size": vocab, "layer_norm_epsilon": 1e-5, "n_inner": null, "tie_word_embeddings": true,
    })
}

/// Random GPT-2 weights under scalelab names (f32), in spec order.
pub fn random_weights(m: &scalelab::config::ModelConfig, seed: u64) -> Named {
    init_params(m, seed, DType::F32, &Device::Cpu).unwrap()
}

/// safetensors bytes of `tensors` converted to `dtype`.
pub fn st_bytes(tensors: &[(String, Tensor)], dtype: DType) -> Vec<u8> {
    let conv: Named = tensors
        .iter()
        .map(|(n, t)| (n.clone(), t.to_dtype(dtype).unwrap()))
        .collect();
    let map: HashMap<String, Tensor> = conv.into_iter().collect();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("t.safetensors");
    candle_core::safetensors::save(&map, &p).unwrap();
    fs::read(p).unwrap()
}

pub fn tiny_tokenizer(fx: &common::Fixture) -> Vec<u8> {
    let text = fs::read_to_string(fx.path("corpus.txt")).unwrap();
    let chunks: Vec<String> = text.lines().take(2000).map(str::to_string).collect();
    let tk = scalelab::data::tokenizer::train_bpe(300, chunks.into_iter()).unwrap();
    scalelab::data::tokenizer::to_json(&tk).unwrap()
}

pub struct Synthetic {
    pub dir: PathBuf,
    /// The weights as scalelab should import them (f32 of the stored values).
    pub expect: HashMap<String, Tensor>,
}

/// An HF folder as transformers' GPT2LMHeadModel.save_pretrained (older
/// versions) left it: `transformer.` prefix, f16, attention-mask buffers and a
/// tied `lm_head.weight`.
pub fn synthetic_prefixed_f16(
    fx: &common::Fixture,
    name: &str,
    cfg: serde_json::Value,
) -> Synthetic {
    let dir = fx.path(name);
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("config.json"), cfg.to_string()).unwrap();
    let m = hf::read_hf_config(&dir).unwrap();
    let w = random_weights(&m, 11);
    let mut tensors: Named = w
        .iter()
        .map(|(n, t)| (format!("transformer.{n}"), t.clone()))
        .collect();
    let wte = w[0].1.clone();
    tensors.push(("lm_head.weight".into(), wte));
    for i in 0..m.n_layer {
        let mask = Tensor::tril2(m.seq_len, DType::F32, &Device::Cpu)
            .unwrap()
            .reshape((1, 1, m.seq_len, m.seq_len))
            .unwrap();
        tensors.push((format!("transformer.h.{i}.attn.bias"), mask));
        tensors.push((
            format!("transformer.h.{i}.attn.masked_bias"),
            Tensor::new(-1e4f32, &Device::Cpu).unwrap(),
        ));
    }
    fs::write(
        dir.join("model.safetensors"),
        st_bytes(&tensors, DType::F16),
    )
    .unwrap();
    fs::write(dir.join("tokenizer.json"), tiny_tokenizer(fx)).unwrap();
    let expect = w
        .into_iter()
        .map(|(n, t)| {
            (
                n,
                t.to_dtype(DType::F16)
                    .unwrap()
                    .to_dtype(DType::F32)
                    .unwrap(),
            )
        })
        .collect();
    Synthetic { dir, expect }
}

pub fn assert_imported(run: &Path, expect: &HashMap<String, Tensor>) {
    let got = checkpoint::load_safetensors(
        &run.join("checkpoints/step_00000000/model.safetensors"),
        &Device::Cpu,
    )
    .unwrap();
    assert_eq!(got.len(), expect.len());
    for (n, t) in expect {
        assert_eq!(f32_bits(&got[n]), f32_bits(t), "{n}");
    }
}
