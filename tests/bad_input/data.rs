//! Corpora, datasets and tokenizers: bad input to `data prepare` and the
//! data a config points at.

use std::fs;
use std::path::Path;

use super::common;
use super::{run_fails, run_ok, setup, train_args, variant};

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

/// `data prepare` of the fixture's corpus with `extra` fails mentioning every `expect`.
fn prepare_fails(fx: &common::Fixture, extra: &[&str], expect: &[&str]) {
    run_fails(fx, prepare(fx, &fx.path("corpus.txt"), extra), expect);
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
    run_ok(&fx, prepare(&fx, &c, &["--vocab", "300"]));
    let before = fs::read(fx.path("ds/train.bin")).unwrap();
    run_fails(
        &fx,
        prepare(&fx, &c, &["--vocab", "400"]),
        &["already holds"],
    );
    assert_eq!(before, fs::read(fx.path("ds/train.bin")).unwrap());
}

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

// ---- tokenizers ----

#[test]
fn tokenizer_missing_file() {
    let (fx, _) = setup();
    prepare_fails(&fx, &["--tokenizer", "missing.json"], &["missing.json"]);
}

#[test]
fn tokenizer_malformed_json() {
    let (fx, _) = setup();
    fs::write(fx.path("tok.json"), "{\"model\": ").unwrap();
    prepare_fails(
        &fx,
        &["--tokenizer", "tok.json"],
        &["tok.json", "malformed"],
    );
}

#[test]
fn tokenizer_hf_not_cached_offline() {
    let (fx, _) = setup();
    prepare_fails(
        &fx,
        &["--tokenizer", "hf:someone/some-model"],
        &["hf:someone/some-model", "HF_HUB_OFFLINE"],
    );
}

#[test]
fn tokenizer_bad_bpe_size() {
    let (fx, _) = setup();
    prepare_fails(&fx, &["--tokenizer", "bpe:lots"], &["bpe:lots"]);
}

#[test]
fn tokenizer_vocab_too_small() {
    let (fx, _) = setup();
    prepare_fails(&fx, &["--vocab", "100"], &["vocab", "257"]);
}
