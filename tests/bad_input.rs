//! Bad input: each case gets a one-line error naming the field or file, a
//! non-zero exit, no panic, and nothing already written is changed.
//! docs/bad-input.md lists the cases.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{fails, sweep_fails, BIN};

/// A temp folder with a valid tiny config (`tiny.toml`) and its corpus.
fn setup() -> (common::Fixture, PathBuf) {
    let fx = common::Fixture::new();
    let cfg = fx.config_path.clone();
    (fx, cfg)
}

/// Write `tiny.toml` with `from` replaced by `to`, return its path.
fn variant(fx: &common::Fixture, name: &str, from: &str, to: &str) -> String {
    let text = fs::read_to_string(&fx.config_path).unwrap();
    assert!(text.contains(from), "fixture lacks `{from}`");
    let p = fx.path(name);
    fs::write(&p, text.replacen(from, to, 1)).unwrap();
    p.display().to_string()
}

fn train_args(cfg: &str, out: &Path) -> Vec<String> {
    vec![
        "train".into(),
        "--config".into(),
        cfg.into(),
        "--out".into(),
        out.display().to_string(),
        "--quiet".into(),
    ]
}

fn run_fails(fx: &common::Fixture, args: Vec<String>, expect: &[&str]) {
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    fails(fx.dir.path(), &a, expect);
}

// ---- configs ----

#[test]
fn config_malformed_toml() {
    let (fx, _) = setup();
    let c = variant(&fx, "bad.toml", "n_layer = 2", "n_layer = = 2");
    run_fails(&fx, train_args(&c, &fx.path("o")), &["bad.toml"]);
}

#[test]
fn config_unknown_key() {
    let (fx, _) = setup();
    let c = variant(&fx, "bad.toml", "n_layer = 2", "n_layer = 2\nn_layers = 3");
    run_fails(
        &fx,
        train_args(&c, &fx.path("o")),
        &["bad.toml", "n_layers"],
    );
}

#[test]
fn config_unknown_section() {
    let (fx, _) = setup();
    let c = variant(&fx, "bad.toml", "[optim]", "[optimizer]");
    run_fails(&fx, train_args(&c, &fx.path("o")), &["optimizer"]);
}

#[test]
fn config_n_head_does_not_divide_d_model() {
    let (fx, _) = setup();
    let c = variant(&fx, "bad.toml", "n_head = 2", "n_head = 3");
    run_fails(&fx, train_args(&c, &fx.path("o")), &["n_head", "d_model"]);
}

#[test]
fn config_zero_base_width() {
    let (fx, _) = setup();
    let c = variant(
        &fx,
        "bad.toml",
        "n_layer = 2",
        "n_layer = 2\nbase_width = 0",
    );
    run_fails(&fx, train_args(&c, &fx.path("o")), &["model.base_width"]);
}

#[test]
fn config_unknown_parametrization() {
    let (fx, _) = setup();
    let c = variant(
        &fx,
        "bad.toml",
        "n_layer = 2",
        "n_layer = 2\nparametrization = \"ntk\"",
    );
    run_fails(&fx, train_args(&c, &fx.path("o")), &["ntk", "sp", "mup"]);
}

#[test]
fn config_zero_layers() {
    let (fx, _) = setup();
    let c = variant(&fx, "bad.toml", "n_layer = 2", "n_layer = 0");
    run_fails(&fx, train_args(&c, &fx.path("o")), &["model.n_layer"]);
}

#[test]
fn config_negative_size() {
    let (fx, _) = setup();
    let c = variant(&fx, "bad.toml", "d_model = 32", "d_model = -32");
    run_fails(&fx, train_args(&c, &fx.path("o")), &["d_model"]);
}

#[test]
fn config_absurd_size() {
    let (fx, _) = setup();
    let c = variant(&fx, "bad.toml", "d_model = 32", "d_model = 3200000");
    run_fails(&fx, train_args(&c, &fx.path("o")), &["d_model", "absurd"]);
}

#[test]
fn config_missing_required_field() {
    let (fx, _) = setup();
    let c = variant(&fx, "bad.toml", "seq_len = 32", "");
    run_fails(&fx, train_args(&c, &fx.path("o")), &["seq_len"]);
}

#[test]
fn config_depth_contradicts_explicit_dials() {
    let (fx, _) = setup();
    let c = variant(&fx, "bad.toml", "n_layer = 2", "n_layer = 2\ndepth = 3");
    run_fails(&fx, train_args(&c, &fx.path("o")), &["depth", "n_layer"]);
}

#[test]
fn config_negative_learning_rate() {
    let (fx, cfg) = setup();
    let mut a = train_args(&cfg.display().to_string(), &fx.path("o"));
    a.extend(["--set".into(), "optim.lr=-1".into()]);
    run_fails(&fx, a, &["optim.lr"]);
}

#[test]
fn config_min_lr_above_lr() {
    let (fx, cfg) = setup();
    let mut a = train_args(&cfg.display().to_string(), &fx.path("o"));
    a.extend(["--set".into(), "min_lr=1".into()]);
    run_fails(&fx, a, &["min_lr"]);
}

#[test]
fn config_beta_out_of_range() {
    let (fx, cfg) = setup();
    let mut a = train_args(&cfg.display().to_string(), &fx.path("o"));
    a.extend(["--set".into(), "optim.beta2=1.5".into()]);
    run_fails(&fx, a, &["beta2"]);
}

#[test]
fn config_no_stop_condition() {
    let (fx, _) = setup();
    let c = variant(&fx, "bad.toml", "max_steps = 12", "");
    run_fails(
        &fx,
        train_args(&c, &fx.path("o")),
        &["max_steps", "max_tokens", "max_flops"],
    );
}

#[test]
fn config_wrong_type() {
    let (fx, cfg) = setup();
    let mut a = train_args(&cfg.display().to_string(), &fx.path("o"));
    a.extend(["--set".into(), "train.batch_size=\"big\"".into()]);
    run_fails(&fx, a, &["batch_size"]);
}

#[test]
fn config_file_missing() {
    let (fx, _) = setup();
    run_fails(&fx, train_args("nope.toml", &fx.path("o")), &["nope.toml"]);
}

#[test]
fn config_seq_len_longer_than_data() {
    let (fx, cfg) = setup();
    let mut a = train_args(&cfg.display().to_string(), &fx.path("o"));
    // Longer than the validation split (~8.7k tokens), short enough to fit in memory.
    a.extend(["--set".into(), "model.seq_len=9000".into()]);
    run_fails(&fx, a, &["seq_len", "longer than"]);
}

#[test]
fn config_vocab_smaller_than_tokenizer() {
    let (fx, cfg) = setup();
    // Prepare with the default 384-token BPE, then ask for a 300-entry model.
    let mut a = train_args(&cfg.display().to_string(), &fx.path("o"));
    a.extend(["--set".into(), "train.max_steps=1".into()]);
    let ok = Command::new(BIN)
        .args(&a)
        .current_dir(fx.dir.path())
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let mut a = train_args(&cfg.display().to_string(), &fx.path("o2"));
    a.extend(["--set".into(), "model.vocab_size=300".into()]);
    run_fails(&fx, a, &["model.vocab_size", "tokenizer"]);
}

// ---- CLI values ----

#[test]
fn cli_set_without_equals() {
    let (fx, cfg) = setup();
    let mut a = train_args(&cfg.display().to_string(), &fx.path("o"));
    a.extend(["--set".into(), "lr".into()]);
    run_fails(&fx, a, &["--set", "key=value"]);
}

#[test]
fn cli_halt_after_zero() {
    let (fx, cfg) = setup();
    let mut a = train_args(&cfg.display().to_string(), &fx.path("o"));
    a.extend(["--halt-after".into(), "0".into()]);
    run_fails(&fx, a, &["--halt-after"]);
}

#[test]
fn cli_set_unknown_key() {
    let (fx, cfg) = setup();
    let mut a = train_args(&cfg.display().to_string(), &fx.path("o"));
    a.extend(["--set".into(), "learning_rate=0.1".into()]);
    run_fails(&fx, a, &["learning_rate"]);
}

#[test]
fn cli_unknown_device() {
    let (fx, cfg) = setup();
    let mut a = train_args(&cfg.display().to_string(), &fx.path("o"));
    a.extend(["--device".into(), "tpu".into()]);
    run_fails(&fx, a, &["device", "tpu"]);
}

#[test]
fn cli_half_precision_on_cpu() {
    let (fx, cfg) = setup();
    let mut a = train_args(&cfg.display().to_string(), &fx.path("o"));
    a.extend(["--dtype".into(), "bf16".into()]);
    run_fails(&fx, a, &["dtype", "CUDA"]);
}

#[test]
fn cli_ranks_do_not_divide_batch() {
    let (fx, cfg) = setup();
    let mut a = train_args(&cfg.display().to_string(), &fx.path("o"));
    a.extend(["--ranks".into(), "3".into()]);
    run_fails(&fx, a, &["train.batch_size", "train.ranks", "--ranks"]);
    assert!(
        !fx.path("o").exists(),
        "a refused run must not create its folder"
    );
}

#[test]
fn cli_ranks_zero() {
    let (fx, cfg) = setup();
    let mut a = train_args(&cfg.display().to_string(), &fx.path("o"));
    a.extend(["--ranks".into(), "0".into()]);
    run_fails(&fx, a, &["--ranks"]);
}

#[test]
fn config_ranks_on_cuda_without_nccl() {
    let (fx, _) = setup();
    let cfg = variant(
        &fx,
        "r.toml",
        "batch_size = 4",
        "batch_size = 4\nranks = 2\ndevice = \"cuda\"",
    );
    run_fails(
        &fx,
        train_args(&cfg, &fx.path("o")),
        &["train.ranks", "nccl"],
    );
}

#[test]
fn cli_sample_negative_temperature() {
    let (fx, _) = setup();
    fails(
        fx.dir.path(),
        &["sample", "--run", "x", "--temperature", "-1"],
        &["--temperature"],
    );
}

#[test]
fn cli_sample_top_k_zero() {
    let (fx, _) = setup();
    fails(
        fx.dir.path(),
        &["sample", "--run", "x", "--top-k", "0"],
        &["--top-k"],
    );
}

#[test]
fn cli_sample_top_p_out_of_range() {
    let (fx, _) = setup();
    for p in ["0", "1.5", "-0.1", "NaN"] {
        fails(
            fx.dir.path(),
            &["sample", "--run", "x", "--top-p", p],
            &["--top-p"],
        );
    }
}

#[test]
fn cli_bench_zero_steps() {
    let (fx, cfg) = setup();
    fails(
        fx.dir.path(),
        &["bench", "--config", cfg.to_str().unwrap(), "--steps", "0"],
        &["--steps"],
    );
}

#[test]
fn cli_unknown_flag() {
    let (fx, _) = setup();
    fails(
        fx.dir.path(),
        &["train", "--config", "x.toml", "--epochs", "3"],
        &["--epochs"],
    );
}

#[test]
fn cli_non_numeric_value() {
    let (fx, _) = setup();
    fails(
        fx.dir.path(),
        &["sample", "--run", "x", "--tokens", "many"],
        &["many", "--tokens"],
    );
}

#[test]
fn cli_sample_missing_run() {
    let (fx, _) = setup();
    fails(
        fx.dir.path(),
        &["sample", "--run", "no_such_run"],
        &["no_such_run"],
    );
}

// ---- corpora ----

fn prepare(fx: &common::Fixture, corpus: &Path, extra: &[&str]) -> Vec<String> {
    let mut a: Vec<String> = vec![
        "data".into(),
        "prepare".into(),
        "--corpus".into(),
        corpus.display().to_string(),
        "--out".into(),
        fx.path("ds").display().to_string(),
    ];
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

#[test]
fn corpus_missing() {
    let (fx, _) = setup();
    run_fails(&fx, prepare(&fx, &fx.path("nope.txt"), &[]), &["nope.txt"]);
}

#[test]
fn corpus_empty() {
    let (fx, _) = setup();
    let p = fx.path("empty.txt");
    fs::write(&p, "").unwrap();
    run_fails(&fx, prepare(&fx, &p, &[]), &["empty.txt", "empty"]);
    assert!(!fx.path("ds").exists(), "no partial dataset may remain");
}

#[test]
fn corpus_binary() {
    let (fx, _) = setup();
    let p = fx.path("bin.dat");
    fs::write(
        &p,
        (0..50_000u32).map(|i| (i % 251) as u8).collect::<Vec<_>>(),
    )
    .unwrap();
    run_fails(&fx, prepare(&fx, &p, &[]), &["bin.dat", "binary"]);
}

#[test]
fn corpus_not_utf8() {
    let (fx, _) = setup();
    let p = fx.path("latin1.txt");
    let mut bytes = b"caf".to_vec();
    bytes.extend([0xe9u8, b'\n'].repeat(2000));
    fs::write(&p, bytes).unwrap();
    run_fails(&fx, prepare(&fx, &p, &[]), &["latin1.txt", "UTF-8"]);
}

#[test]
fn corpus_too_small_for_a_validation_split() {
    let (fx, _) = setup();
    let p = fx.path("small.txt");
    fs::write(&p, "just a few words\n".repeat(10)).unwrap();
    run_fails(
        &fx,
        prepare(&fx, &p, &["--vocab", "300"]),
        &["small.txt", "too small"],
    );
}

#[test]
fn corpus_xz_truncated() {
    let (fx, _) = setup();
    let p = fx.path("cut.txt.xz");
    let full = fs::read(common::repo_root().join("data/pd_classics.txt.xz")).unwrap();
    fs::write(&p, &full[..200_000]).unwrap();
    run_fails(&fx, prepare(&fx, &p, &["--vocab", "300"]), &["cut.txt.xz"]);
}

#[test]
fn dataset_not_overwritten() {
    let (fx, _) = setup();
    let c = fx.path("corpus.txt");
    let ok = Command::new(BIN)
        .args(prepare(&fx, &c, &["--vocab", "300"]))
        .current_dir(fx.dir.path())
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let before = fs::read(fx.path("ds/train.bin")).unwrap();
    run_fails(
        &fx,
        prepare(&fx, &c, &["--vocab", "400"]),
        &["already holds"],
    );
    assert_eq!(before, fs::read(fx.path("ds/train.bin")).unwrap());
}

// ---- tokenizers ----

#[test]
fn tokenizer_missing_file() {
    let (fx, _) = setup();
    run_fails(
        &fx,
        prepare(
            &fx,
            &fx.path("corpus.txt"),
            &["--tokenizer", "missing.json"],
        ),
        &["missing.json"],
    );
}

#[test]
fn tokenizer_malformed_json() {
    let (fx, _) = setup();
    fs::write(fx.path("tok.json"), "{\"model\": ").unwrap();
    run_fails(
        &fx,
        prepare(&fx, &fx.path("corpus.txt"), &["--tokenizer", "tok.json"]),
        &["tok.json", "malformed"],
    );
}

#[test]
fn tokenizer_hf_not_cached_offline() {
    let (fx, _) = setup();
    run_fails(
        &fx,
        prepare(
            &fx,
            &fx.path("corpus.txt"),
            &["--tokenizer", "hf:someone/some-model"],
        ),
        &["hf:someone/some-model", "HF_HUB_OFFLINE"],
    );
}

#[test]
fn tokenizer_bad_bpe_size() {
    let (fx, _) = setup();
    run_fails(
        &fx,
        prepare(&fx, &fx.path("corpus.txt"), &["--tokenizer", "bpe:lots"]),
        &["bpe:lots"],
    );
}

#[test]
fn tokenizer_vocab_too_small() {
    let (fx, _) = setup();
    run_fails(
        &fx,
        prepare(&fx, &fx.path("corpus.txt"), &["--vocab", "100"]),
        &["vocab", "257"],
    );
}

// ---- checkpoints ----

/// Train 4 steps into `run`, then rewrite its model.safetensors through `edit`
/// (keeping state.json's hash consistent so the damage is semantic).
fn damaged_run(
    fx: &common::Fixture,
    edit: impl Fn(&mut Vec<(String, candle_core::Tensor)>),
) -> PathBuf {
    use scalelab::rundir::checkpoint;
    let cfg = fx.config(&["train.max_steps=4"]);
    let run = fx.path("run");
    scalelab::train::train(
        &cfg,
        &scalelab::train::TrainOptions {
            out: run.clone(),
            quiet: true,
            ..Default::default()
        },
    )
    .unwrap();
    let dir = run.join("checkpoints/step_00000004");
    let mut tensors: Vec<(String, candle_core::Tensor)> =
        checkpoint::load_safetensors(&dir.join(checkpoint::MODEL_FILE), &candle_core::Device::Cpu)
            .unwrap()
            .into_iter()
            .collect();
    tensors.sort_by(|a, b| a.0.cmp(&b.0));
    edit(&mut tensors);
    let bytes = checkpoint::safetensors_bytes(&tensors).unwrap();
    fs::write(dir.join(checkpoint::MODEL_FILE), &bytes).unwrap();
    let mut st: checkpoint::TrainState =
        scalelab::fsx::read_json(&dir.join(checkpoint::STATE_FILE)).unwrap();
    st.files.insert(
        checkpoint::MODEL_FILE.into(),
        scalelab::fsx::sha256_hex(&bytes),
    );
    checkpoint::write_state(&dir, &st).unwrap();
    run
}

#[test]
fn checkpoint_missing_tensor() {
    let (fx, _) = setup();
    let run = damaged_run(&fx, |t| t.retain(|(n, _)| n != "h.0.ln_1.weight"));
    fails(
        fx.dir.path(),
        &["sample", "--run", run.to_str().unwrap(), "--tokens", "3"],
        &["step_00000004", "h.0.ln_1.weight"],
    );
}

#[test]
fn checkpoint_wrong_shape() {
    let (fx, _) = setup();
    let run = damaged_run(&fx, |t| {
        for (n, x) in t.iter_mut() {
            if n == "ln_f.weight" {
                *x = candle_core::Tensor::zeros(
                    7,
                    candle_core::DType::F32,
                    &candle_core::Device::Cpu,
                )
                .unwrap();
            }
        }
    });
    fails(
        fx.dir.path(),
        &["sample", "--run", run.to_str().unwrap(), "--tokens", "3"],
        &["ln_f.weight", "shape"],
    );
}

#[test]
fn checkpoint_wrong_dtype() {
    let (fx, _) = setup();
    let run = damaged_run(&fx, |t| {
        for (n, x) in t.iter_mut() {
            if n == "ln_f.bias" {
                *x = candle_core::Tensor::zeros(
                    32,
                    candle_core::DType::U32,
                    &candle_core::Device::Cpu,
                )
                .unwrap();
            }
        }
    });
    fails(
        fx.dir.path(),
        &["sample", "--run", run.to_str().unwrap(), "--tokens", "3"],
        &["ln_f.bias", "dtype"],
    );
}

#[test]
fn checkpoint_truncated_everywhere() {
    let (fx, _) = setup();
    let run = damaged_run(&fx, |_| {});
    let f = run
        .join("checkpoints/step_00000004")
        .join(scalelab::rundir::checkpoint::MODEL_FILE);
    let b = fs::read(&f).unwrap();
    fs::write(&f, &b[..b.len() / 2]).unwrap();
    // The only checkpoint is torn: a clear error, not a load of garbage.
    fails(
        fx.dir.path(),
        &["sample", "--run", run.to_str().unwrap(), "--tokens", "3"],
        &["no usable checkpoint"],
    );
}

#[test]
fn checkpoint_wrong_shape_on_resume() {
    let (fx, cfg) = setup();
    let run = damaged_run(&fx, |t| {
        for (n, x) in t.iter_mut() {
            if n == "wpe.weight" {
                *x = candle_core::Tensor::zeros(
                    (7, 32),
                    candle_core::DType::F32,
                    &candle_core::Device::Cpu,
                )
                .unwrap();
            }
        }
    });
    let before = fs::read(run.join("metrics.jsonl")).unwrap();
    let mut a = train_args(&cfg.display().to_string(), &run);
    a.extend([
        "--resume".into(),
        "--set".into(),
        "train.max_steps=4".into(),
    ]);
    run_fails(&fx, a, &["step_00000004", "wpe.weight", "shape"]);
    assert_eq!(
        before,
        fs::read(run.join("metrics.jsonl")).unwrap(),
        "a refused resume must not touch the metrics"
    );
}

// ---- configs, more ----

#[test]
fn config_zero_batch_size() {
    let (fx, cfg) = setup();
    let mut a = train_args(&cfg.display().to_string(), &fx.path("o"));
    a.extend(["--set".into(), "train.batch_size=0".into()]);
    run_fails(&fx, a, &["train.batch_size", "> 0"]);
}

#[test]
fn config_negative_steps() {
    let (fx, cfg) = setup();
    let mut a = train_args(&cfg.display().to_string(), &fx.path("o"));
    a.extend(["--set".into(), "train.max_steps=-3".into()]);
    run_fails(&fx, a, &["train.max_steps", "-3"]);
}

#[test]
fn config_unknown_nonfinite_policy() {
    let (fx, cfg) = setup();
    let mut a = train_args(&cfg.display().to_string(), &fx.path("o"));
    a.extend(["--set".into(), "train.on_nonfinite=\"ignore\"".into()]);
    run_fails(&fx, a, &["train.on_nonfinite", "ignore"]);
}

#[test]
fn config_tokenizer_file_missing() {
    let (fx, _) = setup();
    let c = variant(
        &fx,
        "bad.toml",
        "[data]",
        "[data]\ntokenizer = \"nope.json\"",
    );
    run_fails(
        &fx,
        train_args(&c, &fx.path("o")),
        &["tokenizer", "nope.json"],
    );
}

// ---- corpora, more ----

#[test]
fn corpus_smaller_than_one_window() {
    let (fx, _) = setup();
    // Large enough to split, but its validation part is shorter than one 512-token window.
    fs::write(
        fx.path("small.txt"),
        vec!["a few words here, and some more"; 400].join("\n\n"),
    )
    .unwrap();
    let c = variant(&fx, "bad.toml", "corpus.txt", "small.txt");
    let c = {
        let t = fs::read_to_string(&c)
            .unwrap()
            .replace("/data\"", "/data_small\"");
        fs::write(&c, t).unwrap();
        c
    };
    let mut a = train_args(&c, &fx.path("o"));
    a.extend(["--set".into(), "model.seq_len=512".into()]);
    run_fails(
        &fx,
        a,
        &["model.seq_len", "longer than the data", "data_small"],
    );
    assert!(!fx.path("o").exists(), "no run folder may be created");
}

// ---- run folders ----

#[test]
fn run_folder_already_holds_a_run() {
    let (fx, cfg) = setup();
    let mut a = train_args(&cfg.display().to_string(), &fx.path("o"));
    a.extend(["--set".into(), "train.max_steps=2".into()]);
    let ok = Command::new(BIN)
        .args(&a)
        .current_dir(fx.dir.path())
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let before = fs::read(fx.path("o/metrics.jsonl")).unwrap();
    run_fails(&fx, a, &["run folder", "already holds a run", "--resume"]);
    assert_eq!(before, fs::read(fx.path("o/metrics.jsonl")).unwrap());
}

#[test]
fn run_folder_resume_with_another_model() {
    let (fx, cfg) = setup();
    let mut a = train_args(&cfg.display().to_string(), &fx.path("o"));
    a.extend(["--set".into(), "train.max_steps=4".into()]);
    let ok = Command::new(BIN)
        .args(&a)
        .current_dir(fx.dir.path())
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let before = fs::read(fx.path("o/metrics.jsonl")).unwrap();
    a.extend(["--resume".into(), "--set".into(), "model.n_layer=3".into()]);
    run_fails(&fx, a, &["step_00000004", "different model config"]);
    assert_eq!(before, fs::read(fx.path("o/metrics.jsonl")).unwrap());
}

#[test]
fn run_folder_unwritable() {
    let (fx, cfg) = setup();
    fs::write(fx.path("o"), "a file where the run folder must go").unwrap();
    run_fails(
        &fx,
        train_args(&cfg.display().to_string(), &fx.path("o")),
        &["run folder", "cannot create"],
    );
    assert_eq!(
        fs::read_to_string(fx.path("o")).unwrap(),
        "a file where the run folder must go"
    );
}

// ---- sweep specs ----

#[test]
fn sweep_contradictory_designs() {
    let (fx, _) = setup();
    sweep_fails(
        &fx,
        "[sizes]\ndepth = [1]\n[design]\nisoflop = [2e8]\ntokens = [1e5]",
        &["contradictory"],
    );
}

#[test]
fn sweep_no_design() {
    let (fx, _) = setup();
    sweep_fails(
        &fx,
        "[sizes]\ndepth = [1]\n[design]",
        &["design", "isoflop"],
    );
}

#[test]
fn sweep_empty_budgets() {
    let (fx, _) = setup();
    sweep_fails(
        &fx,
        "[sizes]\ndepth = [1]\n[design]\nisoflop = []",
        &["design.isoflop", "empty"],
    );
}

#[test]
fn sweep_negative_budget() {
    let (fx, _) = setup();
    sweep_fails(
        &fx,
        "[sizes]\ndepth = [1]\n[design]\ntokens = [1e5, -1e5]",
        &["design.tokens", "positive"],
    );
}

#[test]
fn sweep_no_sizes() {
    let (fx, _) = setup();
    sweep_fails(&fx, "[sizes]\n[design]\nisoflop = [2e8]", &["sizes"]);
}

#[test]
fn sweep_zero_depth() {
    let (fx, _) = setup();
    sweep_fails(
        &fx,
        "[sizes]\ndepth = [0, 1]\n[design]\nisoflop = [2e8]",
        &["sizes.depth", "> 0"],
    );
}

#[test]
fn sweep_inverted_tokens_per_param_range() {
    let (fx, _) = setup();
    sweep_fails(
        &fx,
        "[sizes]\ndepth = [1]\n[design]\nisoflop = [2e8]\ntokens_per_param_range = [40, 10]",
        &["tokens_per_param_range"],
    );
}

#[test]
fn sweep_tokens_per_param_range_leaves_no_runs() {
    let (fx, _) = setup();
    sweep_fails(
        &fx,
        "[sizes]\ndepth = [1]\n[design]\nisoflop = [2e8]\ntokens_per_param_range = [1e6, 2e6]",
        &["tokens_per_param_range", "no runs"],
    );
}

#[test]
fn sweep_budget_below_one_step() {
    let (fx, _) = setup();
    sweep_fails(
        &fx,
        "[sizes]\ndepth = [1]\n[design]\nisoflop = [1e3]",
        &["design.isoflop", "smaller than one training step"],
    );
}

#[test]
fn sweep_unknown_key() {
    let (fx, _) = setup();
    sweep_fails(
        &fx,
        "[sizes]\ndepth = [1]\n[design]\nisoflops = [2e8]",
        &["isoflops"],
    );
}

#[test]
fn sweep_malformed_toml() {
    let (fx, _) = setup();
    sweep_fails(&fx, "[sizes]\ndepth = [1,\n[design]\nisoflop = [2e8]", &[]);
}

#[test]
fn sweep_base_config_missing() {
    let (fx, _) = setup();
    fs::write(
        fx.path("spec.toml"),
        "base = \"nope.toml\"\n[sizes]\ndepth = [1]\n[design]\nisoflop = [2e8]\n",
    )
    .unwrap();
    fails(
        fx.dir.path(),
        &["sweep", "spec.toml", "--out", "sw", "--quiet"],
        &["nope.toml"],
    );
    assert!(!fx.path("sw").exists());
}

#[test]
fn sweep_folder_made_by_another_spec() {
    let (fx, _) = setup();
    let spec = |budget: &str| {
        format!("base = \"{}\"\nset = [\"model.aspect_ratio=16\", \"model.head_dim=16\"]\n[sizes]\ndepth = [1]\n[design]\nisoflop = [{budget}]\n", fx.config_path.display())
    };
    fs::write(fx.path("a.toml"), spec("2e8")).unwrap();
    let ok = Command::new(BIN)
        .args(["sweep", "a.toml", "--out", "sw", "--jobs"])
        .current_dir(fx.dir.path())
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let before = fs::read(fx.path("sw/spec.toml")).unwrap();
    fs::write(fx.path("b.toml"), spec("4e8")).unwrap();
    fails(
        fx.dir.path(),
        &["sweep", "b.toml", "--out", "sw", "--quiet"],
        &["sweep folder sw", "different spec"],
    );
    assert_eq!(before, fs::read(fx.path("sw/spec.toml")).unwrap());
}
