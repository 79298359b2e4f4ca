//! `import` of Hugging Face folders: synthetic layouts, GPT-2's real
//! tokenizer, and bad folders.

use candle_core::{DType, Device, Tensor};
use scalelab::interop::hf;
use std::collections::HashMap;
use std::fs;
use std::path::Path;

use super::synthetic::{
    assert_imported, hf_config_json, random_weights, st_bytes, synthetic_prefixed_f16,
    tiny_tokenizer, Named,
};
use super::{common, fails, ok, s};

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
    // `import --hf hf --out o extra…` fails with `expect`.
    let out = fx.path("o");
    let import_fails = |hf: &Path, extra: &[&str], expect: &[&str]| {
        let mut a = vec!["import", "--hf", s(hf), "--out", s(&out)];
        a.extend_from_slice(extra);
        fails(&a, expect);
    };
    import_fails(&fx.path("absent"), &[], &["absent", "no such folder"]);
    import_fails(
        &good.dir,
        &["--tokenizer", s(&fx.path("absent.json"))],
        &["absent.json", "no such file"],
    );
    let existing = fx.path("cfg-exists.toml");
    fs::write(&existing, "x").unwrap();
    import_fails(
        &good.dir,
        &["--config-out", s(&existing)],
        &["--config-out", "exists"],
    );
}
