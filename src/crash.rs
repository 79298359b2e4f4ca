//! The panic hook of the `scalelab` binary: a panic is a bug, so the user gets
//! one line asking for a report and the backtrace goes to a file, never to the
//! terminal (whatever RUST_BACKTRACE says).

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};

static PANICKED: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// Inside [`catch`] on this thread: a panic there is expected, not a bug of ours.
    static CATCHING: Cell<u32> = const { Cell::new(0) };
}

/// The message of a panic payload.
fn message(payload: &(dyn std::any::Any + Send)) -> String {
    let msg = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".into());
    crate::config::one_line(&msg)
}

/// A panic caught and passed on as an error (a rank thread's): the hook has
/// already reported it, so `main` exits 101 without another line.
#[derive(Debug, thiserror::Error)]
#[error("panicked: {0}")]
pub struct Panicked(pub String);

impl Panicked {
    pub fn from_payload(payload: &(dyn std::any::Any + Send)) -> Self {
        Panicked(message(payload))
    }
}

/// Run `f`, which may panic on malformed input inside a dependency (the
/// tokenizers crate does on some broken tokenizer.json files): the panic
/// becomes an error carrying its message, and the hook stays quiet.
pub fn catch<T>(f: impl FnOnce() -> T) -> anyhow::Result<T> {
    CATCHING.with(|c| c.set(c.get() + 1));
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    CATCHING.with(|c| c.set(c.get() - 1));
    r.map_err(|p| anyhow::anyhow!("{}", message(&*p)))
}

/// Install the hook. A panic prints `internal error: <message> — please report
/// it …` with the path of a file holding the backtrace. The process then exits
/// 101: by unwinding out of `main`, or from `main` when the panic comes back
/// as a [`Panicked`] error (a rank thread's).
pub fn install() {
    std::panic::set_hook(Box::new(|info| {
        if CATCHING.with(Cell::get) > 0 {
            return;
        }
        let first = !PANICKED.swap(true, Ordering::SeqCst);
        let msg = message(info.payload());
        let path = std::env::temp_dir().join(format!("scalelab-panic-{}.txt", std::process::id()));
        let report = format!(
            "scalelab {} internal error\ncommand: {:?}\nthread: {}\nmessage: {msg}\nlocation: {}\n\nbacktrace:\n{}\n",
            env!("CARGO_PKG_VERSION"),
            std::env::args().collect::<Vec<_>>(),
            std::thread::current().name().unwrap_or("?"),
            info.location().map(|l| l.to_string()).unwrap_or_default(),
            std::backtrace::Backtrace::force_capture()
        );
        // Later panics (other ranks stopped by the first) add to the file, silently.
        let saved = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut f| std::io::Write::write_all(&mut f, report.as_bytes()));
        if first {
            let saved = match saved {
                Ok(()) => format!("with the details in {}", path.display()),
                Err(e) => format!("(no backtrace: cannot write {}: {e})", path.display()),
            };
            eprintln!("internal error: {msg} — please report it, {saved}");
        }
    }));
}
