use clap::Parser;

// candle allocates a fresh buffer for every op; glibc's malloc hands large ones
// back to the kernel and faults them in again each step. mimalloc keeps them.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc 2.x's `mi_option_e` (include/mimalloc.h).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

fn main() {
    scalelab::crash::install();
    // Die quietly on a closed pipe (`scalelab sweep --jobs | head`) like other CLI tools.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    // candle's elementwise pool spin-waits for its workers while rayon (gemm and
    // our fused kernels) keeps the same cores busy: on a 2-core machine the two
    // pools fight and a step takes 2× longer. One candle thread (the caller)
    // leaves the cores to rayon; docs/benchmarks.md has the measurement.
    if std::env::var_os("CANDLE_NUM_THREADS").is_none() {
        std::env::set_var("CANDLE_NUM_THREADS", "1");
    }
    // Never hand freed pages back: every training step reuses the same buffer
    // sizes; the pages kept add 10–50% to the peak RSS (docs/memory.md). Under
    // --memory-budget, which promises resident memory, hand them back at once.
    // MIMALLOC_PURGE_DELAY (ms), when set, is mimalloc's own and wins.
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        let budget = std::env::args().any(|a| a.starts_with("--memory-budget"));
        let delay = if budget { 0 } else { -1 };
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, delay) };
    }
    let cli = match scalelab::cli::Cli::try_parse() {
        Ok(c) => c,
        Err(e) if !e.use_stderr() => e.exit(), // --help, --version
        Err(e) => {
            // Usage errors in one line too: the first paragraph (which names a
            // missing argument on its following lines); `--help` has the rest.
            let msg = e.to_string();
            let para: Vec<&str> = msg.lines().take_while(|l| !l.trim().is_empty()).collect();
            let first = scalelab::config::one_line(&para.join(" "));
            let first = first.trim_start_matches("error: ");
            eprintln!("error: {first} (see --help)");
            std::process::exit(2);
        }
    };
    match scalelab::cli::run(cli) {
        Ok(code) => std::process::exit(code),
        // A rank's panic, come back as an error: the panic hook has said it all.
        Err(e) if e.chain().any(|c| c.is::<scalelab::crash::Panicked>()) => std::process::exit(101),
        Err(e) => {
            // One line, naming the field or file; details joined with ": ".
            eprintln!("error: {}", scalelab::config::one_line(&format!("{e:#}")));
            std::process::exit(1);
        }
    }
}
