use clap::Parser;

// candle allocates a fresh buffer for every op; glibc's malloc hands large ones
// back to the kernel and faults them in again each step. mimalloc keeps them.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc 2.x's `mi_option_e` (include/mimalloc.h).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

fn main() {
    // Die quietly on a closed pipe (`scalelab sweep --jobs | head`) like other CLI tools.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    // candle's elementwise pool spin-waits for its workers while rayon (gemm and
    // our fused kernels) keeps the same cores busy: on a 2-core machine the two
    // pools fight and a step takes 2× longer. One candle thread (the caller)
    // leaves the cores to rayon; docs/benchmarks.md has the measurement.
    if std::env::var_os("CANDLE_NUM_THREADS").is_none() {
        std::env::set_var("CANDLE_NUM_THREADS", "1");
    }
    // Never hand freed pages back: every training step reuses the same buffer sizes.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
    let cli = match scalelab::cli::Cli::try_parse() {
        Ok(c) => c,
        Err(e) if !e.use_stderr() => e.exit(), // --help, --version
        Err(e) => {
            // Usage errors in one line too; `--help` has the details.
            let msg = e.to_string();
            let first = msg
                .lines()
                .next()
                .unwrap_or("invalid arguments")
                .trim_start_matches("error: ");
            eprintln!("error: {first} (see --help)");
            std::process::exit(2);
        }
    };
    match scalelab::cli::run(cli) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            // One line, naming the field or file; details joined with ": ".
            eprintln!("error: {}", scalelab::config::one_line(&format!("{e:#}")));
            std::process::exit(1);
        }
    }
}
