//! The process's resident memory, from /proc (Linux): the measurement the
//! model's CPU prediction is compared with. None where /proc is unreadable.

use std::sync::atomic::{AtomicU64, Ordering};

/// A `KEY:  N kB` line of a /proc file, in KiB.
fn kib_field(path: &str, key: &str) -> Option<u64> {
    let s = std::fs::read_to_string(path).ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix(key))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// A field of /proc/meminfo, in KiB.
pub fn meminfo_kib(key: &str) -> Option<u64> {
    kib_field("/proc/meminfo", key)
}

/// Peak resident memory of the process (VmHWM), bytes.
pub fn peak_bytes() -> Option<u64> {
    kib_field("/proc/self/status", "VmHWM:").map(|k| k * 1024)
}

/// Current resident memory (VmRSS), bytes.
pub fn current_bytes() -> Option<u64> {
    kib_field("/proc/self/status", "VmRSS:").map(|k| k * 1024)
}

/// VmRSS when [`mark_baseline`] last ran (0: never).
static BASELINE: AtomicU64 = AtomicU64::new(0);
/// File-backed and shared resident memory (RssFile + RssShmem) then.
static BASELINE_FILE: AtomicU64 = AtomicU64::new(0);

/// File-backed and shared resident memory now, bytes.
fn file_bytes() -> Option<u64> {
    let f = kib_field("/proc/self/status", "RssFile:")?;
    Some((f + kib_field("/proc/self/status", "RssShmem:").unwrap_or(0)) * 1024)
}

/// Take the baseline just before the model is allocated: reset the kernel's
/// high-water mark to the current RSS (`5` to clear_refs, Linux ≥ 4.0) so
/// that what the process held earlier (tokenizing, data loading) does not
/// count, and remember the current RSS.
pub fn mark_baseline() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    if let Some(b) = current_bytes() {
        BASELINE.store(b, Ordering::Relaxed);
    }
    BASELINE_FILE.store(file_bytes().unwrap_or(0), Ordering::Relaxed);
}

/// Peak RSS above the baseline, bytes; None without a baseline or /proc.
/// File-backed pages faulted in since (the code of the training path the
/// first step runs, ~20 MiB of this binary's text; a memory-mapped
/// dataset) are not memory the run allocates and are taken off: they only
/// grow, so this is the anonymous memory at the high-water mark, or a little
/// less if file pages came in after it.
pub fn peak_above_baseline() -> Option<u64> {
    let base = BASELINE.load(Ordering::Relaxed);
    (base > 0).then_some(())?;
    let file_growth = file_bytes()
        .unwrap_or(0)
        .saturating_sub(BASELINE_FILE.load(Ordering::Relaxed));
    Some(peak_bytes()?.saturating_sub(base + file_growth))
}

/// `mi_option_purge_delay` in mimalloc 2.x's `mi_option_e` (include/mimalloc.h).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// How long mimalloc (the binary's allocator) waits before handing freed
/// pages back to the OS, ms: -1 never, 0 at once. MIMALLOC_PURGE_DELAY, when
/// set, is mimalloc's own and wins. Nothing changes where mimalloc is not the
/// allocator (the test binaries).
pub fn set_purge_delay(ms: i64) {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, ms as _) };
    }
}
