//! The shipped corpora are the files their provenance describes: each `.xz`
//! decompresses to the sha256 and size in its PROVENANCE file, which are also the
//! values its build script pins; the code corpus's crate pins are Cargo.lock's
//! checksums and appear in its provenance table.

use sha2::{Digest, Sha256};
use std::fs;
use std::io::Read;
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn hex(d: &[u8]) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// sha256 and length of the decompressed `.xz` file.
fn xz_sha256(rel: &str) -> (String, u64) {
    let f = fs::File::open(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    let mut r = xz2::read::XzDecoder::new(std::io::BufReader::new(f));
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    loop {
        let k = r.read(&mut buf).unwrap_or_else(|e| panic!("{rel}: {e}"));
        if k == 0 {
            break;
        }
        h.update(&buf[..k]);
        n += k as u64;
    }
    (hex(&h.finalize()), n)
}

/// The first backquoted 64-hex value on the Markdown table row that starts with `row`.
fn row_sha(md: &str, row: &str) -> String {
    let line = md
        .lines()
        .find(|l| l.starts_with(row))
        .unwrap_or_else(|| panic!("no row starting {row:?}"));
    line.split('`')
        .find(|s| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()))
        .unwrap_or_else(|| panic!("no sha256 on row {line:?}"))
        .to_string()
}

/// The byte count on the row starting with `row` (`| … | 23,438,484 bytes; …`).
fn row_bytes(md: &str, row: &str) -> u64 {
    let line = md.lines().find(|l| l.starts_with(row)).unwrap();
    let cell = line.split('|').nth(2).unwrap().trim();
    let num = cell.split(" bytes").next().unwrap().replace(',', "");
    num.parse()
        .unwrap_or_else(|_| panic!("no byte count on row {line:?}"))
}

/// The value of `NAME=value` at the start of a line of a shell script.
fn sh_var(sh: &str, name: &str) -> String {
    let pre = format!("{name}=");
    let line = sh.lines().find(|l| l.starts_with(&pre)).unwrap();
    line[pre.len()..]
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

fn check_corpus(stem: &str, provenance: &str, script: &str) {
    let md = read(provenance);
    let sh = read(script);
    let want = row_sha(&md, &format!("| `{stem}.txt` sha256 |"));
    let want_len = row_bytes(&md, &format!("| `{stem}.txt` size |"));
    assert_eq!(
        sh_var(&sh, "EXPECT_SHA256"),
        want,
        "{script} vs {provenance}"
    );
    assert_eq!(
        sh_var(&sh, "EXPECT_BYTES"),
        want_len.to_string(),
        "{script} vs {provenance}"
    );
    let (got, len) = xz_sha256(&format!("data/{stem}.txt.xz"));
    assert_eq!((got, len), (want, want_len), "data/{stem}.txt.xz");
}

#[test]
fn pd_classics_is_the_file_its_provenance_describes() {
    check_corpus("pd_classics", "data/PROVENANCE.md", "data/build_corpus.sh");
}

#[test]
fn rust_code_is_the_file_its_provenance_describes() {
    check_corpus(
        "rust_code",
        "data/PROVENANCE-code.md",
        "data/build_code_corpus.sh",
    );
    let md = read("data/PROVENANCE-code.md");
    let want = row_sha(&md, "| `rust_code-NOTICE.txt` sha256 |");
    assert_eq!(
        sh_var(&read("data/build_code_corpus.sh"), "NOTICE_SHA256"),
        want
    );
    let notice = fs::read(root().join("data/rust_code-NOTICE.txt")).unwrap();
    assert_eq!(
        hex(&Sha256::digest(&notice)),
        want,
        "data/rust_code-NOTICE.txt"
    );
}

#[test]
fn rust_code_pins_are_cargo_lock_checksums_and_in_the_provenance_table() {
    let py = read("data/build_code_corpus.py");
    let lock = read("Cargo.lock");
    let md = read("data/PROVENANCE-code.md");
    let mut n = 0;
    for line in py.lines().filter(|l| l.starts_with("    (\"")) {
        let f: Vec<&str> = line.split('"').collect();
        let (name, version, sha) = (f[1], f[3], f[5]);
        let entry = format!(
            "name = \"{name}\"\nversion = \"{version}\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\nchecksum = \"{sha}\"\n"
        );
        assert!(
            lock.contains(&entry),
            "{name} {version}: pin {sha} is not Cargo.lock's checksum"
        );
        let row = format!("| `{name}` | {version} |");
        assert_eq!(row_sha(&md, &row), sha, "provenance row for {name}");
        n += 1;
    }
    assert_eq!(n, 37, "pins read from data/build_code_corpus.py");
}
