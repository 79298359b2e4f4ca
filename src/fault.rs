//! Fault-injection hooks for the reliability tests (tests/reliability.rs).
//!
//! TEST HOOKS ONLY, compiled in only with the cargo feature `fault-injection`,
//! which the tests enable (Cargo.toml: scalelab is its own dev-dependency with
//! that feature, so `cargo test` builds the library and the binary the tests run
//! with the hooks; it also leaves that binary in target/*/scalelab until the next
//! `cargo build`). Without the feature (`cargo build`, `cargo install`) every hook
//! is an empty function and the variables below are ignored. With it, each hook
//! is inert unless its environment variable is set; each variable is read once
//! per process.
//!
//! | variable | effect |
//! |---|---|
//! | `SCALELAB_FAULT_NONFINITE_AT_STEP=N` | the gradients of optimizer step N (1-based) are multiplied by NaN, as a diverging run would make them |
//! | `SCALELAB_FAULT_CKPT_SLEEP_MS=MS` | each checkpoint write sleeps MS ms between writing model.safetensors and optim.safetensors into its temp folder, so a kill lands inside the write |
//! | `SCALELAB_FAULT_ENOSPC_AT_WRITE=N` | the Nth call of `fsx::write_atomic` in this process fails with ENOSPC ("No space left on device") |
//! | `SCALELAB_FAULT_PANIC=1` | each training step panics (a bug that slipped through: tests the panic hook of src/crash.rs) |

#[cfg(feature = "fault-injection")]
pub(crate) use hooks::*;

#[cfg(feature = "fault-injection")]
mod hooks {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::OnceLock;

    /// Panics when `SCALELAB_FAULT_PANIC` is set; called at the start of each training step.
    pub(crate) fn injected_panic() {
        static V: OnceLock<bool> = OnceLock::new();
        if *V.get_or_init(|| std::env::var_os("SCALELAB_FAULT_PANIC").is_some()) {
            panic!("injected panic (SCALELAB_FAULT_PANIC)");
        }
    }

    fn env_usize(name: &str) -> Option<usize> {
        std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
    }

    fn nonfinite_step() -> Option<usize> {
        static V: OnceLock<Option<usize>> = OnceLock::new();
        *V.get_or_init(|| env_usize("SCALELAB_FAULT_NONFINITE_AT_STEP"))
    }

    static POISON_NEXT: AtomicBool = AtomicBool::new(false);

    /// Called by the train loop before optimizer step `step` (1-based).
    pub(crate) fn arm_nonfinite(step: usize) {
        if nonfinite_step() == Some(step) {
            POISON_NEXT.store(true, Ordering::SeqCst);
        }
    }

    /// True once after `arm_nonfinite` armed the current step: `train_step` then poisons its gradients.
    pub(crate) fn take_nonfinite() -> bool {
        POISON_NEXT.swap(false, Ordering::SeqCst)
    }

    /// Inside a checkpoint write, between its two tensor files.
    pub(crate) fn checkpoint_pause() {
        static V: OnceLock<Option<usize>> = OnceLock::new();
        if let Some(ms) = *V.get_or_init(|| env_usize("SCALELAB_FAULT_CKPT_SLEEP_MS")) {
            std::thread::sleep(std::time::Duration::from_millis(ms as u64));
        }
    }

    /// An injected ENOSPC for the configured atomic write, else Ok.
    pub(crate) fn atomic_write() -> std::io::Result<()> {
        static V: OnceLock<Option<usize>> = OnceLock::new();
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        if let Some(n) = *V.get_or_init(|| env_usize("SCALELAB_FAULT_ENOSPC_AT_WRITE")) {
            if COUNT.fetch_add(1, Ordering::SeqCst) + 1 == n {
                return Err(std::io::Error::from_raw_os_error(libc::ENOSPC));
            }
        }
        Ok(())
    }
}

// Without the feature: the same calls, doing nothing, so call sites need no cfg.
#[cfg(not(feature = "fault-injection"))]
pub(crate) fn arm_nonfinite(_step: usize) {}

#[cfg(not(feature = "fault-injection"))]
pub(crate) fn take_nonfinite() -> bool {
    false
}

#[cfg(not(feature = "fault-injection"))]
pub(crate) fn checkpoint_pause() {}

#[cfg(not(feature = "fault-injection"))]
pub(crate) fn atomic_write() -> std::io::Result<()> {
    Ok(())
}

#[cfg(not(feature = "fault-injection"))]
pub(crate) fn injected_panic() {}
