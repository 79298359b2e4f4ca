//! File-system helpers: atomic writes (temp + fsync + rename) and hashing.

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};
use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// A sibling temp path in the same directory (so the rename is atomic).
pub fn temp_sibling(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

/// Write `bytes` to `path` atomically: readers see the old file or the whole new one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_all_atomic(&[(path, bytes)])
}

/// Write several files as one step: every temp file is written and synced
/// first, then all are renamed into place, so a failure while writing (a full
/// disk) changes none of them.
pub fn write_all_atomic(files: &[(&Path, &[u8])]) -> Result<()> {
    let mut staged: Vec<(PathBuf, &Path)> = Vec::new();
    let unstage = |staged: &[(PathBuf, &Path)]| {
        for (tmp, _) in staged {
            let _ = fs::remove_file(tmp);
        }
    };
    for (path, bytes) in files {
        match stage(path, bytes) {
            Ok(tmp) => staged.push((tmp, path)),
            Err(e) => {
                unstage(&staged);
                return Err(e);
            }
        }
    }
    for (i, (tmp, path)) in staged.iter().enumerate() {
        if let Err(e) = fs::rename(tmp, path) {
            unstage(&staged[i..]);
            return Err(e).with_context(|| format!("cannot write {}", path.display()));
        }
        sync_dir(path.parent().unwrap_or(Path::new(".")));
    }
    Ok(())
}

/// The synced temp sibling of `path` holding `bytes` (removed on failure).
fn stage(path: &Path, bytes: &[u8]) -> Result<PathBuf> {
    let tmp = temp_sibling(path);
    let res = (|| -> std::io::Result<()> {
        let mut f = File::create(&tmp)?;
        if let Err(e) = crate::fault::atomic_write() {
            // Test hook: a disk that fills up halfway through the file.
            f.write_all(&bytes[..bytes.len() / 2])?;
            return Err(e);
        }
        f.write_all(bytes)?;
        f.sync_all()
    })();
    if res.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    res.with_context(|| format!("cannot write {}", path.display()))?;
    Ok(tmp)
}

pub fn write_json_atomic<T: serde::Serialize>(path: &Path, v: &T) -> Result<()> {
    let mut s = serde_json::to_string_pretty(v)
        .with_context(|| format!("cannot write {}: cannot serialise", path.display()))?;
    s.push('\n');
    write_atomic(path, s.as_bytes())
}

/// `fs::create_dir_all` with the folder named in the error (e.g. a read-only file system).
pub fn create_dir_all(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))
}

/// Fail unless `path` is a regular file (following links), saying what it is
/// instead: missing, a folder, or a device / pipe / socket. `what` names the
/// role in the message ("corpus", "tokenizer").
pub fn require_file(path: &Path, what: &str) -> Result<()> {
    let kind = match fs::metadata(path) {
        Ok(m) if m.is_file() => return Ok(()),
        Ok(m) if m.is_dir() => "is a folder, expected a file",
        Ok(_) => "is not a regular file (a device, pipe or socket?)",
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => "no such file",
        Err(e) => bail!("{what} {}: cannot read: {e}", path.display()),
    };
    bail!("{what} {}: {kind}", path.display())
}

/// A temp name made by [`temp_sibling`]: a file being written atomically, or
/// one a killed process left.
pub fn is_temp_name(name: &str) -> bool {
    temp_pid(name).is_some()
}

/// The process id in a temp name made by [`temp_sibling`] (`.NAME.tmp-PID`).
fn temp_pid(name: &str) -> Option<i32> {
    let (head, pid) = name.rsplit_once(".tmp-")?;
    (name.starts_with('.') && !head.is_empty())
        .then(|| pid.parse().ok())
        .flatten()
}

/// Whether process `pid` exists (on this machine); unknown counts as alive.
fn pid_alive(pid: i32) -> bool {
    if pid <= 0 {
        return true;
    }
    // SAFETY: signal 0 only checks that the process exists; nothing is sent.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

/// Which temps (`.NAME.tmp-PID`) [`clean_stale_temps`] removes.
pub enum Stale<'a> {
    /// All of them: the caller holds the folder's lock, so no other process writes there.
    All,
    /// Only the temps of file `NAME` whose process has exited: the folder is shared.
    DeadOf(&'a str),
}

/// Remove temp files and folders that killed processes left in `dir` (best effort).
pub fn clean_stale_temps(dir: &Path, which: Stale) {
    for e in fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = temp_pid(&name) else { continue };
        let stale = match which {
            Stale::All => true,
            Stale::DeadOf(of) => name.starts_with(&format!(".{of}.tmp-")) && !pid_alive(pid),
        };
        if stale {
            let p = e.path();
            let _ = if p.is_dir() {
                fs::remove_dir_all(&p)
            } else {
                fs::remove_file(&p)
            };
        }
    }
}

/// fsync a directory so a rename inside it survives a crash (best effort).
pub fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

pub fn sha256_file(path: &Path) -> Result<String> {
    let mut f = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f
            .read(&mut buf)
            .with_context(|| format!("cannot read {}", path.display()))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text =
        fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text)
        .map_err(|e| anyhow::anyhow!("{}: malformed JSON: {e}", path.display()))
}

/// Text of a user-replaceable data file (hardware catalog, model presets): the
/// file named by `env_var`, else `local` in the working directory, else the
/// built-in copy. Returns the text and where it came from (for error messages).
pub fn overridable_text(
    env_var: &str,
    local: &str,
    builtin: &'static str,
    what: &str,
) -> anyhow::Result<(std::borrow::Cow<'static, str>, String)> {
    let path = std::env::var(env_var)
        .ok()
        .or_else(|| Path::new(local).is_file().then(|| local.to_string()));
    match path {
        Some(p) => {
            let text =
                std::fs::read_to_string(&p).with_context(|| format!("{what} {p}: cannot read"))?;
            Ok((text.into(), p))
        }
        None => Ok((builtin.into(), "(built-in)".into())),
    }
}
