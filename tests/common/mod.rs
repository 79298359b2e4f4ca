//! Shared fixtures: a small slice of the shipped corpus and a tiny config.
#![allow(dead_code)]

pub mod estimate;

use scalelab::config::RunConfig;
use scalelab::data::corpus::CorpusReader;
use std::path::{Path, PathBuf};

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The first ~`bytes` of the shipped corpus as a plain text file in `dir`.
pub fn corpus(dir: &Path, bytes: usize) -> PathBuf {
    let mut r = CorpusReader::open(&repo_root().join("data/pd_classics.txt.xz")).unwrap();
    let mut text = String::new();
    while text.len() < bytes {
        text.push_str(&r.next_block().unwrap().unwrap());
    }
    let p = dir.join("corpus.txt");
    std::fs::write(&p, text).unwrap();
    p
}

/// TOML for a ~50k-parameter model on `corpus`, dataset cached in `data_dir`.
pub fn config_text(corpus: &Path, data_dir: &Path) -> String {
    format!(
        r#"
[model]
n_layer = 2
n_head = 2
d_model = 32
seq_len = 32
vocab_size = 384

[data]
corpus = "{}"
dir = "{}"

[train]
batch_size = 4
max_steps = 12
eval_every = 5
eval_batches = 2
log_every = 100
checkpoint_every = 4
keep_last = 2
seed = 5

[optim]
lr = 3e-3
min_lr = 3e-4
warmup_steps = 3
"#,
        corpus.display(),
        data_dir.display()
    )
}

pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub config_path: PathBuf,
}

impl Fixture {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let c = corpus(dir.path(), 300_000);
        let config_path = dir.path().join("tiny.toml");
        std::fs::write(&config_path, config_text(&c, &dir.path().join("data"))).unwrap();
        Fixture { dir, config_path }
    }

    pub fn config(&self, overrides: &[&str]) -> RunConfig {
        let ov: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
        RunConfig::load(&self.config_path, &ov).unwrap()
    }

    pub fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }
}

pub const BIN: &str = env!("CARGO_BIN_EXE_scalelab");

/// Run scalelab in `cwd` with the variables `env` set (Hugging Face offline,
/// with an empty cache in `cwd`).
pub fn run_cli(cwd: &Path, env: &[(&str, &str)], args: &[&str]) -> std::process::Output {
    std::process::Command::new(BIN)
        .args(args)
        .current_dir(cwd)
        .env("HF_HUB_OFFLINE", "1")
        .env("HF_HOME", cwd.join("hf"))
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

/// Run scalelab in `cwd`; assert a clean one-line failure mentioning every `expect`.
pub fn fails(cwd: &Path, args: &[&str], expect: &[&str]) -> String {
    fails_env(cwd, &[], args, expect)
}

/// `fails` with the variables `env` set.
pub fn fails_env(cwd: &Path, env: &[(&str, &str)], args: &[&str], expect: &[&str]) -> String {
    let out = run_cli(cwd, env, args);
    let line = error_line(args, &out, expect);
    log_case_env(&[cwd], &env_prefix(env), args, out.status.code(), &line);
    line
}

/// The one error line of a clean failure of `scalelab args` (exit 1 or 2, no
/// panic; warnings may precede it), which mentions every `expect`.
pub fn error_line(args: &[&str], out: &std::process::Output, expect: &[&str]) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    // 1 for errors, 2 for command-line usage errors.
    assert!(
        matches!(out.status.code(), Some(1 | 2)),
        "scalelab {args:?} should exit 1 or 2, got {:?}; stderr: {stderr}",
        out.status.code()
    );
    assert!(
        !stderr.contains("panicked"),
        "scalelab {args:?} panicked: {stderr}"
    );
    // Warnings (e.g. a skipped corrupt checkpoint) may precede the one error line.
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("warning: "))
        .collect();
    assert_eq!(
        lines.len(),
        1,
        "scalelab {args:?}: expected one error line, got: {stderr}"
    );
    assert!(lines[0].starts_with("error: "), "{stderr}");
    for e in expect {
        assert!(
            lines[0].contains(e),
            "scalelab {args:?}: error should mention `{e}`: {}",
            lines[0]
        );
    }
    lines[0].to_string()
}

/// Run scalelab in `cwd`; assert exit 0 and an output line containing `want`,
/// and log that line (a case that used to fail and now works). Returns stdout.
pub fn succeeds(cwd: &Path, args: &[&str], want: &str) -> String {
    let out = run_cli(cwd, &[], args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "scalelab {args:?} exited {:?}: {stderr}",
        out.status.code()
    );
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let line = stdout.lines().find(|l| l.contains(want));
    let line = line.unwrap_or_else(|| panic!("scalelab {args:?}: no line with `{want}`: {stdout}"));
    log_case(&[cwd], args, out.status.code(), line);
    stdout
}

/// `VAR=value ` for each variable, as shown before a logged command.
fn env_prefix(env: &[(&str, &str)]) -> String {
    env.iter().map(|(k, v)| format!("{k}={v} ")).collect()
}

/// Record one bad-input case for docs/bad-input.md when `SCALELAB_BAD_INPUT_LOG`
/// names a file (tests/gen_bad_input_doc.py sets it): the test's name, the
/// command and the error line, with the temp folders in `strip` cut from both.
pub fn log_case(strip: &[&Path], args: &[&str], code: Option<i32>, line: &str) {
    log_case_env(strip, "", args, code, line)
}

/// `log_case` for a command run with environment settings `env` (`VAR=value `, shown before it).
pub fn log_case_env(strip: &[&Path], env: &str, args: &[&str], code: Option<i32>, line: &str) {
    let Some(log) = std::env::var_os("SCALELAB_BAD_INPUT_LOG") else {
        return;
    };
    let clean = |s: &str| {
        strip.iter().fold(s.to_string(), |s, p| {
            s.replace(&format!("{}/", p.display()), "")
                .replace(&p.display().to_string(), ".")
        })
    };
    let rec = serde_json::json!({
        "test": std::thread::current().name().unwrap_or("?"),
        "command": env.to_string() + &std::iter::once("scalelab").chain(args.iter().copied()).map(clean).collect::<Vec<_>>().join(" "),
        "error": clean(line),
        "exit": code,
    });
    // One write per record: parallel tests append to the same file.
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    f.write_all(format!("{rec}\n").as_bytes()).unwrap();
}

/// Options for a quiet `train::train` into `out`.
pub fn train_opts(
    out: PathBuf,
    resume: bool,
    halt_after: Option<usize>,
) -> scalelab::train::TrainOptions {
    scalelab::train::TrainOptions {
        out,
        resume,
        halt_after,
        quiet: true,
        memory_budget: None,
    }
}

/// The weights and optimizer state of two runs' checkpoints at `step` are byte-identical.
pub fn assert_same_checkpoint(a: &Path, b: &Path, step: usize, what: &str) {
    use scalelab::rundir::checkpoint::{MODEL_FILE, OPTIM_FILE};
    let at = |run: &Path, file: &str| {
        std::fs::read(run.join(format!("checkpoints/step_{step:08}")).join(file)).unwrap()
    };
    for file in [MODEL_FILE, OPTIM_FILE] {
        assert!(at(a, file) == at(b, file), "{file} at step {step}: {what}");
    }
}

/// Write `spec.toml` (base = the fixture config) with `sizes` and `design` tables; run `scalelab sweep` on it.
pub fn sweep_fails(fx: &Fixture, body: &str, expect: &[&str]) {
    let text = format!(
        "base = \"{}\"\nset = [\"model.aspect_ratio=16\", \"model.head_dim=16\"]\n{body}\n",
        fx.config_path.display()
    );
    std::fs::write(fx.path("spec.toml"), text).unwrap();
    let out = fx.path("sw");
    let mut e = vec!["spec.toml"];
    e.extend(expect);
    fails(
        fx.dir.path(),
        &[
            "sweep",
            "spec.toml",
            "--out",
            out.to_str().unwrap(),
            "--quiet",
        ],
        &e,
    );
    assert!(!out.exists(), "a refused sweep must not create its folder");
}
