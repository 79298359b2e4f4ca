use clap::Parser;

// candle allocates a fresh buffer for every op; glibc's malloc hands large ones
// back to the kernel and faults them in again each step. mimalloc keeps them.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    // sizes; the pages kept add 10–120% to the peak RSS (docs/memory.md).
    // memory::check hands them back at once where memory is tight.
    scalelab::memory::rss::set_purge_delay(-1);
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
