//! SIGINT / SIGTERM: the loop checks a flag each step and stops with a
//! checkpoint; a second signal of the same kind exits at once.

use super::Stopped;
use anyhow::Result;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Flags set by SIGINT / SIGTERM; a second signal of the same kind exits at once.
pub(super) struct Signals {
    int: Arc<AtomicBool>,
    term: Arc<AtomicBool>,
}

impl Signals {
    /// The process-wide flags, installed once: a signal that arrives between
    /// two runs of a sweep is not lost, the next run stops at once.
    pub(super) fn get() -> Result<&'static Signals> {
        static SIGNALS: std::sync::OnceLock<Signals> = std::sync::OnceLock::new();
        if let Some(s) = SIGNALS.get() {
            return Ok(s);
        }
        let s = Self::install()?;
        Ok(SIGNALS.get_or_init(|| s))
    }

    fn install() -> Result<Self> {
        use signal_hook::consts::{SIGINT, SIGTERM};
        let int = Arc::new(AtomicBool::new(false));
        let term = Arc::new(AtomicBool::new(false));
        for (sig, flag) in [(SIGINT, &int), (SIGTERM, &term)] {
            signal_hook::flag::register_conditional_shutdown(sig, 128 + sig, flag.clone())?;
            signal_hook::flag::register(sig, flag.clone())?;
        }
        Ok(Signals { int, term })
    }

    /// The exit code of a pending signal (128 + its number).
    pub(super) fn pending(&self) -> Option<i32> {
        if self.int.load(Ordering::SeqCst) {
            Some(130)
        } else if self.term.load(Ordering::SeqCst) {
            Some(143)
        } else {
            None
        }
    }

    /// How a run stopped by the signal with exit `code` ends.
    pub(super) fn stopped(code: i32, step: usize) -> Stopped {
        Stopped::Signal {
            name: if code == 130 { "SIGINT" } else { "SIGTERM" },
            code,
            step,
        }
    }
}
