//! Hugging Face GPT-2 interop: `export` → `import` is bit-exact (weights and
//! logits), synthetic HF folders in the layouts found in the wild import
//! (`transformer.` prefix or not, f16/bf16, sharded, mask buffers, tied
//! `lm_head.weight`), bad folders give one-line errors. Two tests are
//! `#[ignore]`d because they need what a plain checkout lacks (run them with
//! `-- --ignored`, docs/interop.md): GPT-2's real tokenizer in ../shared, and
//! transformers' logits matching scalelab's (SCALELAB_PYTHON names a python
//! with torch and transformers; scripts/hf_logits_check.py).

mod common;

use candle_core::{DType, Device, Tensor};
use scalelab::interop::hf;
use scalelab::model::params::{init_params, param_specs};
use scalelab::rundir::checkpoint;
use scalelab::train;
use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_scalelab");

fn scalelab(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

fn ok(args: &[&str]) -> String {
    let o = scalelab(args);
    assert!(
        o.status.success(),
        "scalelab {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Assert exit 1 with a single `error:` line that mentions each of `expect`.
fn fails(args: &[&str], expect: &[&str]) {
    let o = scalelab(args);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(
        o.status.code(),
        Some(1),
        "scalelab {args:?} should fail with exit 1: {err}"
    );
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| !l.starts_with("warning: "))
        .collect();
    assert!(
        lines.len() == 1 && lines[0].starts_with("error: "),
        "scalelab {args:?}: expected one error line, got: {err}"
    );
    for e in expect {
        assert!(
            lines[0].contains(e),
            "scalelab {args:?}: error should mention `{e}`: {}",
            lines[0]
        );
    }
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Train the fixture's tiny model for 8 steps (checkpoints at 4 and 8) into `name`.
fn trained_run(fx: &common::Fixture, name: &str, overrides: &[&str]) -> PathBuf {
    let mut ov = vec!["train.max_steps=8"];
    ov.extend_from_slice(overrides);
    let out = fx.path(name);
    train::train(
        &fx.config(&ov),
        &common::train_opts(out.clone(), false, None),
    )
    .unwrap();
    out
}

fn f32_bits(t: &Tensor) -> Vec<u32> {
    t.flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap()
        .iter()
        .map(|x| x.to_bits())
        .collect()
}

fn logits_bits(run: &Path, tokens: &[u32]) -> Vec<u32> {
    let ck = scalelab::rundir::Run::open(run, None, &candle_core::Device::Cpu).unwrap();
    hf::logits(&ck, tokens)
        .unwrap()
        .concat()
        .iter()
        .map(|x| x.to_bits())
        .collect()
}

const TOKENS: [u32; 10] = [1, 2, 3, 100, 200, 383, 0, 5, 42, 300];

#[test]
fn export_import_round_trip_is_exact() {
    let fx = common::Fixture::new();
    let run = trained_run(&fx, "run", &[]);
    let exp = fx.path("exp");
    let out = ok(&["export", "--run", s(&run), "--out", s(&exp)]);
    assert!(out.contains("step 8"), "{out}");

    // config.json: GPT2Config fields for this shape.
    let c: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(exp.join("config.json")).unwrap()).unwrap();
    let m = fx.config(&[]).model;
    for (k, v) in [
        ("model_type", serde_json::json!("gpt2")),
        ("architectures", serde_json::json!(["GPT2LMHeadModel"])),
        ("n_layer", m.n_layer.into()),
        ("n_head", m.n_head.into()),
        ("n_embd", m.d_model.into()),
        ("n_positions", m.seq_len.into()),
        ("n_ctx", m.seq_len.into()),
        ("vocab_size", m.vocab_size.into()),
        ("layer_norm_epsilon", m.ln_eps.into()),
        ("activation_function", "gelu_new".into()),
        ("tie_word_embeddings", true.into()),
        ("resid_pdrop", 0.0.into()),
    ] {
        assert_eq!(c[k], v, "config.json {k}");
    }
    // model.safetensors: every parameter, `transformer.`-prefixed, f32, format pt, no lm_head.
    let bytes = fs::read(exp.join("model.safetensors")).unwrap();
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    assert_eq!(
        meta.metadata()
            .as_ref()
            .and_then(|m| m.get("format"))
            .map(String::as_str),
        Some("pt")
    );
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut names: Vec<String> = st.names().into_iter().map(str::to_string).collect();
    names.sort();
    let mut want: Vec<String> = param_specs(&m)
        .iter()
        .map(|p| format!("transformer.{}", p.name))
        .collect();
    want.sort();
    assert_eq!(names, want);
    assert!(st
        .tensors()
        .iter()
        .all(|(_, v)| v.dtype() == safetensors::Dtype::F32));
    assert_eq!(
        fs::read(exp.join("tokenizer.json")).unwrap(),
        fs::read(run.join("tokenizer.json")).unwrap()
    );

    // Import: the same weights, bit for bit, and the same logits.
    let imp = fx.path("imp");
    let cfg_out = fx.path("imported.toml");
    ok(&[
        "import",
        "--hf",
        s(&exp),
        "--out",
        s(&imp),
        "--config-out",
        s(&cfg_out),
    ]);
    let orig = checkpoint::load_safetensors(
        &run.join("checkpoints/step_00000008/model.safetensors"),
        &Device::Cpu,
    )
    .unwrap();
    let back = checkpoint::load_safetensors(
        &imp.join("checkpoints/step_00000000/model.safetensors"),
        &Device::Cpu,
    )
    .unwrap();
    assert_eq!(orig.len(), back.len());
    for (name, t) in &orig {
        assert_eq!(
            f32_bits(t),
            f32_bits(&back[name]),
            "{name} changed in the round trip"
        );
    }
    assert_eq!(logits_bits(&run, &TOKENS), logits_bits(&imp, &TOKENS));
    // The imported run is a normal run folder: config loads, sample and logits work.
    let rc = scalelab::config::RunConfig::load(&imp.join("config.toml"), &[]).unwrap();
    assert_eq!(rc.model, m);
    assert_eq!(
        scalelab::config::RunConfig::load(&cfg_out, &[]).unwrap(),
        rc
    );
    ok(&[
        "sample",
        "--run",
        s(&imp),
        "--tokens",
        "5",
        "--prompt",
        "The",
    ]);
    let a = ok(&["logits", "--run", s(&run), "--tokens", "1,2,3", "--json"]);
    let b = ok(&["logits", "--run", s(&imp), "--tokens", "1,2,3", "--json"]);
    let (a, b): (serde_json::Value, serde_json::Value) = (
        serde_json::from_str(&a).unwrap(),
        serde_json::from_str(&b).unwrap(),
    );
    assert_eq!(a["logits"], b["logits"]);
    assert_eq!(a["logits"].as_array().unwrap().len(), 3);

    // Fine-tuning the imported model: `train --resume` continues from its step-0 checkpoint.
    let fine = fx.config(&["train.max_steps=2"]);
    let mut fine_cfg = rc.clone();
    fine_cfg.data = fine.data.clone();
    fine_cfg.data.tokenizer = rc.data.tokenizer.clone();
    fine_cfg.data.dir = Some(fx.path("data-imported"));
    fine_cfg.train = fine.train.clone();
    let sum = train::train(&fine_cfg, &common::train_opts(imp.clone(), true, None)).unwrap();
    assert_eq!(sum.steps, 2);

    // --step picks an older checkpoint; a missing one is named with those present.
    let exp4 = fx.path("exp4");
    ok(&["export", "--run", s(&run), "--out", s(&exp4), "--step", "4"]);
    assert_ne!(fs::read(exp4.join("model.safetensors")).unwrap(), bytes);
    fails(
        &[
            "export",
            "--run",
            s(&run),
            "--out",
            s(&fx.path("exp5")),
            "--step",
            "5",
        ],
        &["no checkpoint for step 5", "4, 8"],
    );
    assert!(!fx.path("exp5").exists());
}

/// μP: the logit multiplier goes into an untied lm_head = wte/m, the attention
/// factor 1/√m into c_attn's query columns; import undoes both. With m = 4 the
/// factors are powers of two, so the round trip is exact.
#[test]
fn mup_export_folds_multipliers_and_round_trips() {
    let fx = common::Fixture::new();
    let run = trained_run(
        &fx,
        "run",
        &["model.parametrization=mup", "model.base_width=8"],
    );
    let exp = fx.path("exp");
    ok(&["export", "--run", s(&run), "--out", s(&exp)]);
    let c: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(exp.join("config.json")).unwrap()).unwrap();
    assert_eq!(c["tie_word_embeddings"], false);
    let w = candle_core::safetensors::load(exp.join("model.safetensors"), &Device::Cpu).unwrap();
    let ck = scalelab::rundir::Run::open(&run, None, &Device::Cpu).unwrap();
    let p: HashMap<String, Tensor> = ck.params.named_tensors().into_iter().collect();
    assert_eq!(
        f32_bits(&w["lm_head.weight"]),
        f32_bits(&(&p["wte.weight"] * 0.25).unwrap())
    );
    let (q, q0) = (
        &w["transformer.h.0.attn.c_attn.bias"],
        &p["h.0.attn.c_attn.bias"],
    );
    assert_eq!(
        f32_bits(&q.narrow(0, 0, 32).unwrap()),
        f32_bits(&(q0.narrow(0, 0, 32).unwrap() * 0.5).unwrap())
    );
    let back = fx.path("back");
    ok(&["import", "--hf", s(&exp), "--out", s(&back)]);
    assert_eq!(logits_bits(&run, &TOKENS), logits_bits(&back, &TOKENS));
}

#[test]
fn export_refuses_bias_free_models_and_existing_folders() {
    let fx = common::Fixture::new();
    let run = trained_run(&fx, "nobias", &["model.bias=false"]);
    let exp = fx.path("exp");
    fails(
        &["export", "--run", s(&run), "--out", s(&exp)],
        &["model.bias = false", "Hugging Face GPT-2"],
    );
    assert!(!exp.exists());
    let run = trained_run(&fx, "run", &[]);
    fs::create_dir_all(&exp).unwrap();
    fs::write(exp.join("keep.txt"), "mine").unwrap();
    fails(
        &["export", "--run", s(&run), "--out", s(&exp)],
        &["export folder", "not empty"],
    );
    assert_eq!(fs::read_to_string(exp.join("keep.txt")).unwrap(), "mine");
    assert_eq!(fs::read_dir(&exp).unwrap().count(), 1);
    // An empty folder is fine.
    let empty = fx.path("empty");
    fs::create_dir_all(&empty).unwrap();
    ok(&["export", "--run", s(&run), "--out", s(&empty)]);
    fails(
        &[
            "export",
            "--run",
            s(&fx.path("nope")),
            "--out",
            s(&fx.path("x")),
        ],
        &["nope", "no such folder"],
    );
    fails(
        &["import", "--hf", s(&empty), "--out", s(&run)],
        &["run folder", "not empty"],
    );
}

// ---- synthetic Hugging Face folders ----

type Named = Vec<(String, Tensor)>;

/// GPT2Config JSON for a small model.
fn hf_config_json(
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
fn random_weights(m: &scalelab::config::ModelConfig, seed: u64) -> Named {
    init_params(m, seed, DType::F32, &Device::Cpu).unwrap()
}

/// safetensors bytes of `tensors` converted to `dtype`.
fn st_bytes(tensors: &[(String, Tensor)], dtype: DType) -> Vec<u8> {
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

fn tiny_tokenizer(fx: &common::Fixture) -> Vec<u8> {
    let text = fs::read_to_string(fx.path("corpus.txt")).unwrap();
    let chunks: Vec<String> = text.lines().take(2000).map(str::to_string).collect();
    let tk = scalelab::data::tokenizer::train_bpe(300, chunks.into_iter()).unwrap();
    scalelab::data::tokenizer::to_json(&tk).unwrap()
}

struct Synthetic {
    dir: PathBuf,
    /// The weights as scalelab should import them (f32 of the stored values).
    expect: HashMap<String, Tensor>,
}

/// An HF folder as transformers' GPT2LMHeadModel.save_pretrained (older
/// versions) left it: `transformer.` prefix, f16, attention-mask buffers and a
/// tied `lm_head.weight`.
fn synthetic_prefixed_f16(fx: &common::Fixture, name: &str, cfg: serde_json::Value) -> Synthetic {
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

fn assert_imported(run: &Path, expect: &HashMap<String, Tensor>) {
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

#[test]
fn synthetic_hf_folders_import() {
    let fx = common::Fixture::new();
    let syn = synthetic_prefixed_f16(&fx, "hf16", hf_config_json(2, 2, 32, 64, 320));
    let run = fx.path("run16");
    let out = ok(&["import", "--hf", s(&syn.dir), "--out", s(&run)]);
    assert!(
        out.contains("n_layer 2") && out.contains("vocab 320"),
        "{out}"
    );
    assert_imported(&run, &syn.expect);
    ok(&["sample", "--run", s(&run), "--tokens", "8"]);
    // The exported copy of an imported model is byte-identical in weights (f32).
    let exp = fx.path("exp16");
    ok(&["export", "--run", s(&run), "--out", s(&exp)]);
    assert_imported(
        &{
            let r = fx.path("run16b");
            ok(&["import", "--hf", s(&exp), "--out", s(&r)]);
            r
        },
        &syn.expect,
    );

    // No prefix, bf16, sharded in two files with an index, n_ctx only, tokenizer given separately.
    let dir = fx.path("hfbf16");
    fs::create_dir_all(&dir).unwrap();
    let mut cfg = hf_config_json(1, 4, 32, 16, 300);
    cfg.as_object_mut().unwrap().remove("n_positions");
    cfg["activation_function"] = "gelu_pytorch_tanh".into();
    fs::write(dir.join("config.json"), cfg.to_string()).unwrap();
    let m = hf::read_hf_config(&dir).unwrap();
    assert_eq!((m.seq_len, m.n_head, m.n_layer), (16, 4, 1));
    let w = random_weights(&m, 3);
    let (a, b) = w.split_at(w.len() / 2);
    fs::write(dir.join("part-1.safetensors"), st_bytes(a, DType::BF16)).unwrap();
    fs::write(dir.join("part-2.safetensors"), st_bytes(b, DType::BF16)).unwrap();
    let map: serde_json::Map<String, serde_json::Value> = a
        .iter()
        .map(|(n, _)| (n.clone(), "part-1.safetensors".into()))
        .chain(
            b.iter()
                .map(|(n, _)| (n.clone(), "part-2.safetensors".into())),
        )
        .collect();
    fs::write(
        dir.join("model.safetensors.index.json"),
        serde_json::json!({ "metadata": {}, "weight_map": map }).to_string(),
    )
    .unwrap();
    let tk = fx.path("tok.json");
    fs::write(&tk, tiny_tokenizer(&fx)).unwrap();
    let run = fx.path("runbf16");
    ok(&[
        "import",
        "--hf",
        s(&dir),
        "--out",
        s(&run),
        "--tokenizer",
        s(&tk),
    ]);
    let expect = w
        .into_iter()
        .map(|(n, t)| {
            (
                n,
                t.to_dtype(DType::BF16)
                    .unwrap()
                    .to_dtype(DType::F32)
                    .unwrap(),
            )
        })
        .collect();
    assert_imported(&run, &expect);
    ok(&["logits", "--run", s(&run), "--prompt", "Hello"]);
}

/// GPT-2's real tokenizer (50,257 tokens, from ../shared) with a GPT-2-shaped
/// config: the real vocabulary, context and epsilon, fewer and narrower layers.
#[test]
#[ignore = "needs ../shared/tokenizers/gpt2/tokenizer.json; run with --ignored (docs/interop.md)"]
fn gpt2_tokenizer_and_shape_import() {
    let tk = common::repo_root().join("../shared/tokenizers/gpt2/tokenizer.json");
    assert!(
        tk.is_file(),
        "{} not found: this test needs GPT-2's tokenizer there (docs/interop.md)",
        tk.display()
    );
    let fx = common::Fixture::new();
    let dir = fx.path("gpt2-small-shape");
    fs::create_dir_all(&dir).unwrap();
    let cfg = hf_config_json(2, 2, 64, 1024, 50257);
    fs::write(dir.join("config.json"), cfg.to_string()).unwrap();
    let m = hf::read_hf_config(&dir).unwrap();
    let w = random_weights(&m, 7);
    let tensors: Named = w
        .iter()
        .map(|(n, t)| (format!("transformer.{n}"), t.clone()))
        .collect();
    fs::write(
        dir.join("model.safetensors"),
        st_bytes(&tensors, DType::F32),
    )
    .unwrap();
    fs::copy(&tk, dir.join("tokenizer.json")).unwrap();
    let run = fx.path("run");
    ok(&["import", "--hf", s(&dir), "--out", s(&run)]);
    assert_imported(&run, &w.into_iter().collect());
    let j: serde_json::Value = serde_json::from_str(&ok(&[
        "logits",
        "--run",
        s(&run),
        "--prompt",
        "Hello world",
        "--json",
    ]))
    .unwrap();
    assert_eq!(j["tokens"], serde_json::json!([15496, 995]));
    assert_eq!(j["logits"][0].as_array().unwrap().len(), 50257);
    ok(&[
        "sample",
        "--run",
        s(&run),
        "--prompt",
        "Hello world",
        "--tokens",
        "3",
    ]);
}

#[test]
fn bad_hf_folders() {
    let fx = common::Fixture::new();
    let good = synthetic_prefixed_f16(&fx, "good", hf_config_json(2, 2, 32, 16, 320));
    let n = std::sync::atomic::AtomicUsize::new(0);
    // A copy of the good folder changed by `edit`, imported: fails with `expect`.
    let case = |edit: &dyn Fn(&Path), expect: &[&str]| {
        let i = n.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let dir = fx.path(&format!("bad{i}"));
        fs::create_dir_all(&dir).unwrap();
        for e in fs::read_dir(&good.dir).unwrap() {
            let e = e.unwrap();
            fs::copy(e.path(), dir.join(e.file_name())).unwrap();
        }
        edit(&dir);
        let out = fx.path(&format!("out{i}"));
        fails(&["import", "--hf", s(&dir), "--out", s(&out)], expect);
        assert!(!out.exists(), "a failed import leaves no run folder");
    };
    let set = |k: &'static str, v: serde_json::Value| {
        move |d: &Path| {
            let mut c: serde_json::Value =
                serde_json::from_str(&fs::read_to_string(d.join("config.json")).unwrap()).unwrap();
            c[k] = v.clone();
            fs::write(d.join("config.json"), c.to_string()).unwrap();
        }
    };
    let rm = |f: &'static str| move |d: &Path| fs::remove_file(d.join(f)).unwrap();
    let weights = |edit: fn(&mut Named)| {
        move |d: &Path| {
            let p = d.join("model.safetensors");
            let map = candle_core::safetensors::load(&p, &Device::Cpu).unwrap();
            let mut v: Named = map.into_iter().collect();
            edit(&mut v);
            candle_core::safetensors::save(&v.into_iter().collect::<HashMap<_, _>>(), &p).unwrap();
        }
    };
    case(&rm("config.json"), &["no config.json"]);
    case(
        &|d| fs::write(d.join("config.json"), "{ not json").unwrap(),
        &["config.json", "malformed JSON"],
    );
    case(
        &set("n_embd", serde_json::Value::Null),
        &["config.json", "n_embd", "missing"],
    );
    case(
        &set("n_layer", "two".into()),
        &["config.json", "n_layer", "positive integer"],
    );
    case(
        &set("activation_function", "gelu".into()),
        &["config.json", "activation_function", "tanh"],
    );
    case(
        &set("model_type", "llama".into()),
        &["config.json", "model_type", "gpt2"],
    );
    case(&set("n_inner", 100.into()), &["config.json", "n_inner"]);
    case(
        &set("n_head", 3.into()),
        &["config.json", "n_head", "d_model"],
    );
    case(
        &set("vocab_size", 100.into()),
        &["tokenizer", "vocab_size 100"],
    );
    case(&rm("model.safetensors"), &["no model.safetensors"]);
    case(
        &|d| fs::rename(d.join("model.safetensors"), d.join("pytorch_model.bin")).unwrap(),
        &["pytorch_model.bin", "safetensors only"],
    );
    case(
        &|d| fs::write(d.join("model.safetensors"), b"garbage").unwrap(),
        &["model.safetensors", "not a valid safetensors file"],
    );
    case(&rm("tokenizer.json"), &["no tokenizer.json", "--tokenizer"]);
    case(
        &weights(|v| v.retain(|(n, _)| n != "transformer.h.1.mlp.c_fc.weight")),
        &["missing tensor `h.1.mlp.c_fc.weight`"],
    );
    case(
        &weights(|v| {
            v.iter_mut()
                .filter(|(n, _)| n == "transformer.ln_f.bias")
                .for_each(|(_, t)| *t = Tensor::zeros(7, DType::F32, &Device::Cpu).unwrap())
        }),
        &["ln_f.bias", "[7]", "[32]"],
    );
    case(
        &weights(|v| {
            v.iter_mut()
                .filter(|(n, _)| n == "lm_head.weight")
                .for_each(|(_, t)| *t = (t.clone() * 2.0).unwrap())
        }),
        &["lm_head.weight", "untied"],
    );
    case(
        &weights(|v| v.push(("h.0.ln_1.weight".into(), v[0].1.clone()))),
        &["`h.0.ln_1.weight` appears twice"],
    );
    case(
        &weights(|v| {
            v.push((
                "h.5.mlp.c_fc.weight".into(),
                Tensor::zeros(2, DType::F32, &Device::Cpu).unwrap(),
            ))
        }),
        &["unexpected tensor `h.5.mlp.c_fc.weight`"],
    );
    case(
        &weights(|v| {
            v.iter_mut()
                .filter(|(n, _)| n == "transformer.wpe.weight")
                .for_each(|(_, t)| *t = t.to_dtype(DType::U32).unwrap())
        }),
        &["transformer.wpe.weight", "dtype"],
    );
    fails(
        &[
            "import",
            "--hf",
            s(&fx.path("absent")),
            "--out",
            s(&fx.path("o")),
        ],
        &["absent", "no such folder"],
    );
    fails(
        &[
            "import",
            "--hf",
            s(&good.dir),
            "--out",
            s(&fx.path("o")),
            "--tokenizer",
            s(&fx.path("absent.json")),
        ],
        &["absent.json", "no such file"],
    );
    let existing = fx.path("cfg-exists.toml");
    fs::write(&existing, "x").unwrap();
    fails(
        &[
            "import",
            "--hf",
            s(&good.dir),
            "--out",
            s(&fx.path("o")),
            "--config-out",
            s(&existing),
        ],
        &["--config-out", "exists"],
    );
}

/// transformers' GPT2LMHeadModel on the exported folder gives scalelab's
/// logits within 1e-4. Needs SCALELAB_PYTHON naming a python with torch and
/// transformers (e.g. /work/pyenv/bin/python).
#[test]
#[ignore = "needs SCALELAB_PYTHON (a python with torch and transformers); run with --ignored (docs/interop.md)"]
fn transformers_logits_match() {
    let py = std::env::var_os("SCALELAB_PYTHON").expect(
        "SCALELAB_PYTHON is not set: it must name a python with torch and transformers (docs/interop.md)",
    );
    let fx = common::Fixture::new();
    let run = trained_run(&fx, "run", &["train.max_steps=30", "optim.lr=1e-2"]);
    let exp = fx.path("exp");
    ok(&["export", "--run", s(&run), "--out", s(&exp)]);
    let prompt = "KING HENRY: Once more unto the breach";
    let json = ok(&["logits", "--run", s(&run), "--prompt", prompt, "--json"]);
    let lj = fx.path("logits.json");
    fs::write(&lj, json).unwrap();
    let script = common::repo_root().join("scripts/hf_logits_check.py");
    let o = Command::new(py)
        .arg(&script)
        .args([s(&exp), s(&lj), "--prompt", prompt])
        .output()
        .unwrap();
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
    );
    eprintln!("{out}{err}");
    assert!(o.status.success(), "hf_logits_check.py failed: {out}{err}");
    assert!(out.contains("max abs diff"), "{out}");
}
