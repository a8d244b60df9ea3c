//! `stepwise-coordinator`: the server binary.

use clap::Parser;
use stepwise_coordinator::config::{Cli, Settings};

/// jemalloc instead of glibc's allocator: 10-20% less server CPU per
/// execution (`stepwise-bench all`), the many small allocations of HTTP
/// requests, JSON values and history events being most of what it does.
/// Built with its background thread on (`background_threads`), which hands
/// freed memory back to the system within about 10 s even when the server
/// is idle: 135 MiB at the end of the 250 KB-payload run, 27 MiB 11 s later
/// (without it 107 MiB stayed resident), no CPU while idle.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load(&cli) {
        Ok(s) => s,
        Err(e) => {
            report(&e.to_string());
            return std::process::ExitCode::from(2);
        }
    };
    stepwise_coordinator::init_logging(&settings.log_format);
    match stepwise_coordinator::serve(settings, stepwise_coordinator::shutdown_signal()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "coordinator stopped");
            report(&format!("stepwise-coordinator: {e}"));
            std::process::ExitCode::FAILURE
        }
    }
}

/// Writes a line to stderr; unlike `eprintln!`, does not panic if stderr cannot be written.
fn report(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}
