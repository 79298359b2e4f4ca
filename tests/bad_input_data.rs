//! Bad input on the data path (issue #13): corpora with very long lines or of
//! the wrong kind, broken tokenizer files, token files with foreign ids, and
//! `data prepare` destinations it cannot fill. docs/bad-input.md lists the cases.

mod common;

use common::{fails, succeeds};
use scalelab::data::corpus::CorpusReader;
use std::fs;
use std::path::Path;

fn prepare<'a>(corpus: &'a str, out: &'a str, tokenizer: &'a str) -> Vec<&'a str> {
    let mut a = vec!["data", "prepare", "--corpus", corpus, "--out", out];
    if let Some(v) = tokenizer.strip_prefix("bpe:") {
        a.extend(["--vocab", v]);
    } else {
        a.extend(["--tokenizer", tokenizer]);
    }
    a
}

/// Every block of `text` read back through the reader: concatenated it is the text.
fn blocks_of(dir: &Path, text: &str) -> Vec<String> {
    let p = dir.join("c.txt");
    fs::write(&p, text).unwrap();
    let mut r = CorpusReader::open(&p).unwrap();
    let mut out = Vec::new();
    while let Some(b) = r.next_block().unwrap() {
        assert!(b.len() <= r.block_bytes);
        out.push(b);
    }
    assert_eq!(out.concat(), text);
    out
}

/// A corpus of a few hundred blocks (the validation split exists) in `dir`.
fn small_corpus(dir: &Path) {
    fs::write(
        dir.join("c.txt"),
        "the quick brown fox jumps over the lazy dog\n".repeat(3_000),
    )
    .unwrap();
}

// ---- corpora ----

#[test]
fn corpus_line_longer_than_a_block() {
    // 270 kB without a newline: every block is cut at a character boundary.
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("o.txt"), "abcd efg ".repeat(30_000)).unwrap();
    succeeds(
        dir.path(),
        &prepare("o.txt", "dp", "bpe:300"),
        "prepared dp",
    );
    let meta: scalelab::data::Meta =
        scalelab::fsx::read_json(&dir.path().join("dp/meta.json")).unwrap();
    assert_eq!(meta.train.bytes + meta.val.bytes, 270_000);
}

#[test]
fn corpus_long_multibyte_line_is_cut_between_characters() {
    let dir = tempfile::tempdir().unwrap();
    // 2-, 3- and 4-byte characters, no newline: some block end falls inside one
    // (an exact multiple of the block size puts the last cut at the end of the data).
    for text in [
        "é漢😀x".repeat(20_000),
        "é".repeat(40_000),
        "😀".repeat(512 * 30 / 4),
    ] {
        let blocks = blocks_of(dir.path(), &text);
        assert!(blocks.len() > 2);
    }
    // Newline-aligned text keeps its newline-aligned cut.
    for b in blocks_of(dir.path(), &"a short line\n".repeat(10_000)) {
        assert!(b.ends_with('\n'));
    }
}

/// `prepare` fails in a folder holding `c.txt` (a small corpus) and a folder `dir`.
fn prepare_fails(corpus: &str, tokenizer: &str, expect: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    small_corpus(dir.path());
    fs::create_dir(dir.path().join("dir")).unwrap();
    fails(dir.path(), &prepare(corpus, "dp", tokenizer), expect);
}

#[test]
fn corpus_is_a_folder() {
    prepare_fails("dir", "bpe:300", &["corpus dir", "is a folder"]);
}

#[test]
fn corpus_is_a_character_device() {
    prepare_fails(
        "/dev/null",
        "bpe:300",
        &["corpus /dev/null", "not a regular file"],
    );
}

// ---- tokenizers ----

#[test]
fn tokenizer_is_a_folder() {
    prepare_fails("c.txt", "dir", &["tokenizer dir", "is a folder"]);
}

#[test]
fn tokenizer_bpe_with_an_empty_vocabulary() {
    let dir = tempfile::tempdir().unwrap();
    small_corpus(dir.path());
    let tk = r#"{"version":"1.0","truncation":null,"padding":null,"added_tokens":[],
        "normalizer":null,"pre_tokenizer":null,"post_processor":null,"decoder":null,
        "model":{"type":"BPE","dropout":null,"unk_token":null,"continuing_subword_prefix":null,
        "end_of_word_suffix":null,"fuse_unk":false,"byte_fallback":false,"vocab":{},"merges":[]}}"#;
    fs::write(dir.path().join("empty.json"), tk).unwrap();
    let e = fails(
        dir.path(),
        &prepare("c.txt", "dp", "empty.json"),
        &["tokenizer empty.json", "vocabulary"],
    );
    assert!(!e.contains("too small"), "{e}");
}

#[test]
fn tokenizer_word_level_without_an_unknown_token() {
    let dir = tempfile::tempdir().unwrap();
    small_corpus(dir.path());
    let tk = r#"{"version":"1.0","truncation":null,"padding":null,"added_tokens":[],
        "normalizer":null,"pre_tokenizer":{"type":"Whitespace"},"post_processor":null,"decoder":null,
        "model":{"type":"WordLevel","vocab":{"the":0,"fox":1},"unk_token":"[UNK]"}}"#;
    fs::write(dir.path().join("words.json"), tk).unwrap();
    fails(
        dir.path(),
        &prepare("c.txt", "dp", "words.json"),
        &["tokenizer words.json", "UNK"],
    );
}

#[test]
fn tokenizer_with_a_broken_decoder() {
    // Found by tests/fuzz: the tokenizers crate panics (`expect("Helper")`) on it.
    let dir = tempfile::tempdir().unwrap();
    small_corpus(dir.path());
    let tk =
        scalelab::data::tokenizer::train_bpe(300, std::iter::once("abc\n".repeat(99))).unwrap();
    let json = String::from_utf8(scalelab::data::tokenizer::to_json(&tk).unwrap()).unwrap();
    assert!(json.contains("\"decoder\":{"));
    fs::write(
        dir.path().join("broken.json"),
        json.replace("\"decoder\":{", "\"decoder\":{,"),
    )
    .unwrap();
    fails(
        dir.path(),
        &prepare("c.txt", "dp", "broken.json"),
        &["tokenizer broken.json", "malformed tokenizer file"],
    );
}

// ---- token files ----

#[test]
fn dataset_token_id_outside_the_vocabulary() {
    let fx = common::Fixture::new();
    let cfg = fx.config(&["train.max_steps=1"]);
    scalelab::data::ensure_dataset(&cfg, true).unwrap();
    // Token 10 of train.bin (u16) becomes 0xFFFF, past the 384-entry vocabulary.
    let bin = fx.path("data/train.bin");
    let mut b = fs::read(&bin).unwrap();
    b[20..22].copy_from_slice(&[0xFF, 0xFF]);
    fs::write(&bin, b).unwrap();
    let cfg_path = fx.config_path.display().to_string();
    fails(
        fx.dir.path(),
        &["train", "--config", &cfg_path, "--out", "o", "--quiet"],
        &["train.bin", "token 10", "65535", "384"],
    );
}

// ---- `data prepare` destinations ----

/// `data prepare` into `out` fails before tokenizing and leaves no temp folder.
fn prepare_refused(out: &str, expect: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    small_corpus(dir.path());
    fs::create_dir(dir.path().join("full")).unwrap();
    fs::write(dir.path().join("full/notes.txt"), "keep me").unwrap();
    fs::write(dir.path().join("file"), "keep me").unwrap();
    let t0 = std::time::Instant::now();
    fails(dir.path(), &prepare("c.txt", out, "bpe:300"), expect);
    assert!(t0.elapsed().as_secs() < 5, "refused only after the work");
    let names: Vec<String> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!names.iter().any(|n| n.contains(".tmp-")), "{names:?}");
    assert_eq!(
        fs::read_to_string(dir.path().join("file")).unwrap(),
        "keep me"
    );
}

#[test]
fn dataset_out_is_a_file() {
    prepare_refused("file", &["file", "not a folder"]);
}

#[test]
fn dataset_out_is_a_folder_that_is_not_empty() {
    prepare_refused("full", &["full", "not empty"]);
}

#[test]
fn dataset_temp_folder_of_a_killed_prepare_is_removed() {
    let dir = tempfile::tempdir().unwrap();
    small_corpus(dir.path());
    // A process that has exited: its temp folder is stale.
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    let stale = dir.path().join(format!(".dp.tmp-{dead}"));
    fs::create_dir(&stale).unwrap();
    fs::write(stale.join("train.bin"), vec![0u8; 4096]).unwrap();
    // A live process's (this test's) temp may be a prepare still running: kept.
    let live = dir.path().join(format!(".dp.tmp-{}", std::process::id()));
    fs::create_dir(&live).unwrap();
    // Another folder's temp is not this prepare's business.
    let other = dir.path().join(format!(".other.tmp-{dead}"));
    fs::create_dir(&other).unwrap();
    succeeds(
        dir.path(),
        &prepare("c.txt", "dp", "bpe:300"),
        "prepared dp",
    );
    assert!(!stale.exists() && live.exists() && other.exists());
}

#[test]
fn dataset_prepare_killed_then_run_again() {
    // kill -9 in the middle of tokenizing leaves the temp folder; the next run removes it.
    let dir = tempfile::tempdir().unwrap();
    let text = common::corpus(dir.path(), 4_000_000);
    let corpus = text.display().to_string();
    let mut child = std::process::Command::new(common::BIN)
        .args(prepare(&corpus, "dp", "bpe:300"))
        .current_dir(dir.path())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let tmp = dir.path().join(format!(".dp.tmp-{}", child.id()));
    let t0 = std::time::Instant::now();
    while !tmp.exists() && child.try_wait().unwrap().is_none() && t0.elapsed().as_secs() < 120 {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(tmp.exists(), "no temp folder seen while preparing");
    succeeds(
        dir.path(),
        &prepare(&corpus, "dp", "bpe:300"),
        "prepared dp",
    );
    assert!(!tmp.exists(), "the killed run's temp folder is still there");
}
