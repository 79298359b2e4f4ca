//! `--tokenizer hf:OWNER/REPO` resolves through hf-hub's cache with no network:
//! a pre-populated cache folder in the hub layout (refs/main → snapshots/<commit>/)
//! is found under HF_HUB_OFFLINE, and a pinned revision is honoured.

mod common;

use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_scalelab");

fn prepare(hf_home: &Path, corpus: &Path, out: &Path, spec: &str) -> std::process::Output {
    Command::new(BIN)
        .args([
            "data",
            "prepare",
            "--corpus",
            corpus.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--tokenizer",
            spec,
        ])
        .env("HF_HUB_OFFLINE", "1")
        .env("HF_HOME", hf_home)
        .output()
        .unwrap()
}

/// Put `tokenizer.json` into `hf_home` as the hub would have cached `repo` at `commit`.
fn populate(hf_home: &Path, repo: &str, commit: &str, tokenizer: &[u8], main: bool) {
    let root = hf_home
        .join("hub")
        .join(format!("models--{}", repo.replace('/', "--")));
    let snap = root.join("snapshots").join(commit);
    std::fs::create_dir_all(&snap).unwrap();
    std::fs::write(snap.join("tokenizer.json"), tokenizer).unwrap();
    if main {
        std::fs::create_dir_all(root.join("refs")).unwrap();
        std::fs::write(root.join("refs/main"), commit).unwrap();
    }
}

#[test]
fn cached_tokenizer_resolves_offline() {
    let fx = common::Fixture::new();
    let corpus = fx.path("corpus.txt");
    // A real tokenizer.json to cache: train one on the fixture corpus.
    let o = Command::new(BIN)
        .args([
            "data",
            "prepare",
            "--corpus",
            corpus.to_str().unwrap(),
            "--out",
            fx.path("seed").to_str().unwrap(),
            "--vocab",
            "300",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let tok = std::fs::read(fx.path("seed/tokenizer.json")).unwrap();

    let hf = fx.path("hf");
    let commit = "0123456789abcdef0123456789abcdef01234567";
    populate(&hf, "someone/tiny-tok", commit, &tok, true);
    let o = prepare(&hf, &corpus, &fx.path("ds"), "hf:someone/tiny-tok");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        std::fs::read(fx.path("ds/tokenizer.json")).unwrap(),
        tok,
        "the cached tokenizer is the one used"
    );
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fx.path("ds/meta.json")).unwrap()).unwrap();
    assert!(meta.to_string().contains("hf:someone/tiny-tok"), "{meta}");

    // A pinned revision resolves to its own snapshot, even without refs/main.
    let pinned = "fedcba9876543210fedcba9876543210fedcba98";
    populate(&hf, "other/pinned", pinned, &tok, false);
    let o = prepare(
        &hf,
        &corpus,
        &fx.path("ds2"),
        &format!("hf:other/pinned@{pinned}"),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // …and the unpinned name is not in the cache: a one-line error naming the repo and offline mode.
    let o = prepare(&hf, &corpus, &fx.path("ds3"), "hf:other/pinned");
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("hf:other/pinned")
            && err.contains("HF_HUB_OFFLINE")
            && err.lines().count() == 1,
        "{err}"
    );
    assert!(!fx.path("ds3").exists(), "nothing is written on error");
}
