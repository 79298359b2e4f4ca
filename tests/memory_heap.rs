//! The memory model against the live heap: a counting allocator in this test
//! binary records the most bytes held at once during `bench`'s training steps.
//! That is what the model counts (the tensors the code allocates), without the
//! pages mimalloc keeps committed in the shipped binary, which the RSS table
//! in docs/benchmarks.md includes (docs/memory.md).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering::Relaxed};

struct Counting;
static LIVE: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicIsize = AtomicIsize::new(0);

fn counted(p: *mut u8, size: usize) -> *mut u8 {
    if !p.is_null() {
        let now = LIVE.fetch_add(size as isize, Relaxed) + size as isize;
        PEAK.fetch_max(now, Relaxed);
    }
    p
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        counted(System.alloc(l), l.size())
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        counted(System.alloc_zeroed(l), l.size())
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        System.dealloc(p, l);
        LIVE.fetch_sub(l.size() as isize, Relaxed);
    }
}

#[global_allocator]
static A: Counting = Counting;

/// (predicted, measured) peak bytes of `bench` (one warm-up and one timed step)
/// on quickstart with `sets`, above the heap just before the weights.
fn heap_peak(sets: &[&str]) -> (f64, f64) {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    let cfg =
        scalelab::config::RunConfig::load(&root.join("configs/quickstart.toml"), &sets).unwrap();
    let base = LIVE.load(Relaxed);
    PEAK.store(base, Relaxed);
    scalelab::bench::bench(&cfg, 1, 1, None, None).unwrap();
    let measured = (PEAK.load(Relaxed) - base) as f64;
    (scalelab::memory::breakdown(&cfg, true).peak(), measured)
}

/// One test, so that no other test's allocations run at the same time.
#[test]
fn predicted_peak_is_within_10_percent_of_the_heap_peak() {
    let shapes: [&[&str]; 8] = [
        // The loss head's moment (vocabulary-bound), fused and composed.
        &["train.batch_size=4"],
        &["train.batch_size=4", "train.kernels=composed"],
        // Long sequences: attention matrices, composed.
        &[
            "train.batch_size=1",
            "model.seq_len=512",
            "train.kernels=composed",
        ],
        // A block's moment (width- and depth-bound), fused.
        &[
            "model.vocab_size=512",
            "model.n_layer=6",
            "train.batch_size=8",
            "model.d_model=256",
        ],
        // Recompute: one block at a time, fused (a block's moment and the
        // loss head's) and composed.
        &[
            "model.vocab_size=512",
            "model.n_layer=6",
            "train.batch_size=8",
            "model.d_model=256",
            "train.recompute=blocks",
        ],
        &[
            "model.n_layer=6",
            "train.batch_size=8",
            "train.recompute=blocks",
        ],
        &[
            "model.n_layer=6",
            "train.batch_size=4",
            "train.kernels=composed",
            "train.recompute=blocks",
        ],
        // μP, no biases, composed.
        &[
            "model.parametrization=mup",
            "model.base_width=64",
            "model.bias=false",
            "train.batch_size=2",
            "train.kernels=composed",
        ],
    ];
    for sets in shapes {
        let (p, m) = heap_peak(sets);
        let err = p / m - 1.0;
        eprintln!(
            "{sets:?}: predicted {:.1} MiB, heap peak {:.1} MiB ({:+.1}%)",
            p / 1048576.0,
            m / 1048576.0,
            err * 100.0
        );
        assert!(err.abs() < 0.10, "{sets:?}: {:+.1}%", err * 100.0);
    }
}
