//! `stepwise-coordinator`: the server binary.

use clap::Parser;
use std::alloc::{GlobalAlloc, Layout};
use stepwise_asl::jsonata::budget;
use stepwise_coordinator::config::{Cli, Settings};

/// jemalloc instead of glibc's allocator: 10-20% less server CPU per
/// execution (`stepwise-bench all`), the many small allocations of HTTP
/// requests, JSON values and history events being most of what it does.
/// Built with its background thread on (`background_threads`), which hands
/// freed memory back to the system within about 10 s even when the server
/// is idle: 135 MiB at the end of the 250 KB-payload run, 27 MiB 11 s later
/// (without it 107 MiB stayed resident), no CPU while idle.
///
/// Wrapped so that a JSONata evaluation's memory is counted
/// (`stepwise_asl::jsonata::budget`): an expression that would hold more
/// than its bound is stopped, instead of the allocation failing and the
/// process aborting. Outside an evaluation the count is one thread-local
/// flag read per call.
#[global_allocator]
static GLOBAL: Counted = Counted(tikv_jemallocator::Jemalloc);

struct Counted(tikv_jemallocator::Jemalloc);

// The one `unsafe` in the workspace (the lint is `deny` for this): a
// `GlobalAlloc` can only be implemented unsafely.
// SAFETY: every call is passed on unchanged to jemalloc, which upholds
// `GlobalAlloc`'s contract; the counting beside it neither allocates nor
// touches the memory.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counted {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        budget::charge(layout.size());
        // SAFETY: the caller's contract, passed on.
        unsafe { self.0.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        budget::charge(layout.size());
        // SAFETY: the caller's contract, passed on.
        unsafe { self.0.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        budget::refund(layout.size());
        // SAFETY: the caller's contract, passed on.
        unsafe { self.0.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        budget::refund(layout.size());
        budget::charge(new_size);
        // SAFETY: the caller's contract, passed on.
        unsafe { self.0.realloc(ptr, layout, new_size) }
    }
}

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
