//! Fault-injection hooks for the reliability tests (tests/reliability.rs).
//!
//! TEST HOOKS ONLY. Each hook is inert unless its environment variable is
//! set; nothing outside the tests sets them. Each variable is read once per
//! process.
//!
//! | variable | effect |
//! |---|---|
//! | `SCALELAB_FAULT_NONFINITE_AT_STEP=N` | the gradients of optimizer step N (1-based) are multiplied by NaN, as a diverging run would make them |
//! | `SCALELAB_FAULT_CKPT_SLEEP_MS=MS` | each checkpoint write sleeps MS ms between writing model.safetensors and optim.safetensors into its temp folder, so a kill lands inside the write |
//! | `SCALELAB_FAULT_ENOSPC_AT_WRITE=N` | the Nth call of `fsx::write_atomic` in this process fails with ENOSPC ("No space left on device") |
//! | `SCALELAB_FAULT_PANIC=1` | each training step panics (a bug that slipped through: tests the panic hook of src/crash.rs) |

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::OnceLock;

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

/// Panics when `SCALELAB_FAULT_PANIC` is set; called at the start of each training step.
pub(crate) fn injected_panic() {
    static V: OnceLock<bool> = OnceLock::new();
    if *V.get_or_init(|| std::env::var_os("SCALELAB_FAULT_PANIC").is_some()) {
        panic!("injected panic (SCALELAB_FAULT_PANIC)");
    }
}
