//! Property / fuzz tests of every reader of outside input, called as library
//! functions: corpus blocks, configs with `--set`, sweep specs, results /
//! curves / metrics files, tokenizer files, checkpoints (safetensors and
//! state.json) and Hugging Face folders. Each input is a mutation of a valid
//! one (tests/fuzz/mutate.rs); a reader must return Ok or an Err with a
//! message, never panic (proptest catches and shrinks panics).
//!
//! CI runs `CI_CASES` cases per reader (`SCALELAB_FUZZ_CASES=N` overrides);
//! the ignored `*_100k` variants run 100,000 each:
//!
//!     cargo test --release --test fuzz -- --ignored --test-threads 1
//!
//! (counts and times measured: docs/bad-input.md, "Fuzzing").

mod mutate;
mod seeds;

use candle_core::{DType, Device};
use mutate::{bytes_from, json_from, safetensors_from, TOKENS};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use scalelab::rundir::results::read_rows;
use scalelab::rundir::{checkpoint, metrics};
use scalelab::scaling::data;
use std::fs;
use std::path::Path;

/// Cases per reader in CI: the whole file stays under a minute on 2 cores.
const CI_CASES: u32 = 5_000;
const LONG_CASES: u32 = 100_000;

fn ci_cases() -> u32 {
    std::env::var("SCALELAB_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(CI_CASES)
}

/// Feed `cases` inputs of `strategy` to `read`. A panic fails the test (after
/// shrinking to a small input); an error must say something.
fn fuzz<S: Strategy>(
    name: &str,
    cases: u32,
    strategy: S,
    read: impl Fn(S::Value) -> anyhow::Result<()>,
) {
    // The binary's hook: quiet for panics the library catches on purpose.
    scalelab::crash::install();
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 4_000,
        ..Config::default()
    });
    let t0 = std::time::Instant::now();
    let errors = std::cell::Cell::new(0u32);
    let res = runner.run(&strategy, |input| {
        if let Err(e) = read(input) {
            errors.set(errors.get() + 1);
            let msg = format!("{e:#}");
            prop_assert!(!msg.trim().is_empty(), "an error without a message");
        }
        Ok(())
    });
    eprintln!(
        "fuzz {name}: {cases} cases ({} errors) in {:.1} s",
        errors.get(),
        t0.elapsed().as_secs_f64()
    );
    if let Err(e) = res {
        panic!("fuzz {name}: {e}");
    }
}

/// `#[test] NAME` with CI's case count and `#[ignore] NAME_100k` with 100,000.
macro_rules! fuzz_test {
    ($name:ident, $long:ident, $body:expr) => {
        #[test]
        fn $name() {
            $body(ci_cases())
        }
        #[test]
        #[ignore = "long fuzz run: cargo test --release --test fuzz -- --ignored"]
        fn $long() {
            $body(LONG_CASES)
        }
    };
}

fn write(path: &Path, bytes: &[u8]) {
    fs::write(path, bytes).unwrap();
}

/// A scratch folder in memory where there is one: each case writes its input
/// file, and a disk file system can take milliseconds per rewrite.
fn scratch() -> tempfile::TempDir {
    tempfile::tempdir_in("/dev/shm")
        .or_else(|_| tempfile::tempdir())
        .unwrap()
}

// ---- corpus blocks ----

/// Text from pieces that stress the block cut: long lines, multi-byte
/// characters, NULs, invalid bytes, CRLF.
fn corpus_bytes() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        4 => "[a-z ]{1,80}".prop_map(String::into_bytes),
        2 => Just(b"\n".to_vec()),
        1 => Just(b"\r\n".to_vec()),
        2 => prop::sample::select(vec!["é", "漢", "😀", "ß"]).prop_map(|s| s.as_bytes().to_vec()),
        1 => (1..1500usize).prop_map(|n| "x".repeat(n).into_bytes()),
        1 => (1..400usize).prop_map(|n| "é".repeat(n).into_bytes()),
    ];
    // One text in four gets a NUL or a stray (often invalid) byte somewhere.
    let stray = prop::option::weighted(0.25, (any::<usize>(), any::<u8>()));
    (prop::collection::vec(piece, 0..120), stray).prop_map(|(v, stray)| {
        let mut b = v.concat();
        if let Some((at, x)) = stray {
            b.insert(at % (b.len() + 1), if x < 64 { 0 } else { x });
        }
        b
    })
}

fn corpus(cases: u32) {
    let dir = scratch();
    let p = dir.path().join("c.txt");
    fuzz("corpus blocks", cases, corpus_bytes(), |bytes| {
        write(&p, &bytes);
        let mut r = scalelab::data::corpus::CorpusReader::open(&p)?;
        let mut out = Vec::new();
        while let Some(b) = r.next_block()? {
            assert!(b.len() <= r.block_bytes, "block of {} bytes", b.len());
            out.extend(b.into_bytes());
        }
        assert!(out == bytes, "blocks do not add up to the file");
        Ok(())
    });
}
fuzz_test!(corpus_reader, corpus_reader_100k, corpus);

// ---- configs and --set ----

fn set_value() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => (1u32..300).prop_map(|v| v.to_string()),
        1 => prop::sample::select(TOKENS).prop_map(str::to_string),
        1 => any::<i64>().prop_map(|v| v.to_string()),
        1 => any::<f64>().prop_map(|v| v.to_string()),
        1 => "[a-z0-9_.\"]{0,8}",
    ]
}

fn config(cases: u32) {
    let overrides = prop::collection::vec(
        (prop::sample::select(seeds::KEYS), set_value()).prop_map(|(k, v)| format!("{k}={v}")),
        0..3,
    );
    let input = (bytes_from(seeds::CONFIG.into()), overrides);
    fuzz("config + --set", cases, input, |(text, sets)| {
        let text = String::from_utf8_lossy(&text);
        let cfg = scalelab::config::RunConfig::from_toml_str(&text, &sets)?;
        // What a loaded config feeds: the numbers must stay computable.
        scalelab::config::RunConfig::from_toml_str(&cfg.to_toml(), &[])?;
        scalelab::flops::total_steps(&cfg);
        scalelab::memory::estimate_peak_bytes(&cfg, true);
        scalelab::data::dataset_dir(&cfg);
        let m = &cfg.model;
        scalelab::flops::StepFlops::new(m, m.seq_len, cfg.train.batch_size as u64);
        Ok(())
    });
}
fuzz_test!(config_toml_and_set, config_toml_and_set_100k, config);

// ---- sweep specs ----

fn sweep(cases: u32) {
    let dir = scratch();
    write(&dir.path().join("base.toml"), seeds::CONFIG.as_bytes());
    let p = dir.path().join("spec.toml");
    fuzz(
        "sweep spec",
        cases,
        bytes_from(seeds::SWEEP.into()),
        |bytes| {
            write(&p, &bytes);
            let (spec, _) = scalelab::sweep::spec::Spec::load(&p)?;
            spec.plan()?;
            Ok(())
        },
    );
}
fuzz_test!(sweep_spec, sweep_spec_100k, sweep);

// ---- results, curves and metrics files ----

/// Fuzz a reader of one text file, starting from `seed`.
fn text_file<T>(name: &str, cases: u32, seed: &str, read: impl Fn(&Path) -> anyhow::Result<T>) {
    let dir = scratch();
    let p = dir.path().join("f.csv");
    fuzz(name, cases, bytes_from(seed.into()), |bytes| {
        write(&p, &bytes);
        read(&p).map(|_| ())
    });
}

fuzz_test!(results_csv, results_csv_100k, |n| {
    text_file("results.csv (fit)", n, seeds::RESULTS, data::load_points)
});
fuzz_test!(curves_csv, curves_csv_100k, |n| {
    text_file("curves.csv (fit)", n, seeds::CURVES, data::load_curves)
});
fuzz_test!(sweep_results_csv, sweep_results_csv_100k, |n| {
    text_file("results.csv (sweep)", n, seeds::SWEEP_ROWS, read_rows)
});
fuzz_test!(metrics_jsonl, metrics_jsonl_100k, |n| {
    text_file("metrics.jsonl", n, seeds::METRICS, metrics::read)
});

// ---- tokenizer files ----

fn tokenizer(cases: u32) {
    let dir = scratch();
    let p = dir.path().join("tokenizer.json");
    let seed = seeds::tokenizer_json();
    let v: serde_json::Value = serde_json::from_slice(&seed).unwrap();
    let input = prop_oneof![3 => json_from(v), 1 => bytes_from(seed)];
    fuzz("tokenizer.json", cases, input, |bytes| {
        use scalelab::data::tokenizer as tk;
        write(&p, &bytes);
        let t = tk::load(&p)?;
        let ids = tk::encode(&t, "the quick 😀 fox\n")?;
        tk::decode(&t, &ids)?;
        Ok(())
    });
}
fuzz_test!(tokenizer_file, tokenizer_file_100k, tokenizer);

// ---- checkpoints ----

fn checkpoint_weights(cases: u32) {
    let dir = scratch();
    let ck = seeds::checkpoint(dir.path());
    let p = ck.join(checkpoint::MODEL_FILE);
    let seed = fs::read(&p).unwrap();
    let model = seeds::config().model;
    fuzz(
        "checkpoint model.safetensors",
        cases,
        safetensors_from(seed),
        |bytes| {
            write(&p, &bytes);
            let w = checkpoint::load_safetensors(&p, &Device::Cpu)?;
            scalelab::model::params::Params::from_named(
                &model,
                w,
                DType::F32,
                &Device::Cpu,
                "fuzz",
            )?;
            Ok(())
        },
    );
}
fuzz_test!(
    checkpoint_safetensors,
    checkpoint_safetensors_100k,
    checkpoint_weights
);

fn checkpoint_state(cases: u32) {
    let dir = scratch();
    let ck = seeds::checkpoint(dir.path());
    let p = ck.join(checkpoint::STATE_FILE);
    let sealed: serde_json::Value = serde_json::from_slice(&fs::read(&p).unwrap()).unwrap();
    // Checkpoints of older versions have no state_sha256: their fields are read as they are.
    let mut legacy = sealed.clone();
    legacy.as_object_mut().unwrap().remove("state_sha256");
    let input = prop_oneof![1 => json_from(sealed), 3 => json_from(legacy)];
    fuzz("checkpoint state.json", cases, input, |bytes| {
        write(&p, &bytes);
        let st = checkpoint::verify(&ck)?;
        scalelab::data::batches::Sampler::from_state(&st.sampler)?;
        st.config.validate()?;
        Ok(())
    });
}
fuzz_test!(
    checkpoint_state_json,
    checkpoint_state_json_100k,
    checkpoint_state
);

// ---- Hugging Face folders ----

fn hf(cases: u32) {
    use scalelab::interop::hf;
    let dir = scratch();
    let d = dir.path().join("hf");
    seeds::hf_folder(&d);
    let (cfg_path, w_path) = (d.join(hf::CONFIG_FILE), d.join(hf::WEIGHTS_FILE));
    let cfg_seed = fs::read(&cfg_path).unwrap();
    let w_seed = fs::read(&w_path).unwrap();
    let cfg_json: serde_json::Value = serde_json::from_slice(&cfg_seed).unwrap();
    // One file mutated per case, the other restored.
    let input = prop_oneof![
        json_from(cfg_json).prop_map(|b| (b, true)),
        safetensors_from(w_seed.clone()).prop_map(|b| (b, false)),
    ];
    fuzz("hf folder", cases, input, |(bytes, is_config)| {
        write(&cfg_path, if is_config { &bytes } else { &cfg_seed });
        write(&w_path, if is_config { &w_seed } else { &bytes });
        let model = hf::read_hf_config(&d)?;
        let w = hf::read_hf_weights(&d, &model)?;
        scalelab::model::params::Params::from_named(&model, w, DType::F32, &Device::Cpu, "fuzz")?;
        Ok(())
    });
}
fuzz_test!(hf_import_folder, hf_import_folder_100k, hf);

// ---- run reports (metrics.jsonl drawn as charts) ----

/// Drawing charts takes ~15 ms a case: in CI a fifth of the other readers' count.
fn run_report(cases: u32) {
    let dir = scratch();
    let run = dir.path().join("run");
    fs::create_dir(&run).unwrap();
    let p = run.join("metrics.jsonl");
    let opts = scalelab::report::sweep::Options::default();
    fuzz(
        "run report",
        cases,
        bytes_from(seeds::METRICS.into()),
        |bytes| {
            write(&p, &bytes);
            scalelab::report::report(&run, &opts).map(|_| ())
        },
    );
}
fuzz_test!(report_of_a_run, report_of_a_run_100k, |n| {
    run_report(if n < LONG_CASES { n / 5 } else { n })
});
