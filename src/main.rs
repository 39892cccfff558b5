//! The kcheck command-line tool with the built-in controllers (see
//! [`kcheck::cli`]; a crate with its own controllers calls
//! [`kcheck::cli::main_with`] instead).

use std::process::ExitCode;

/// The allocator. A step allocates and frees many small JSON values and
/// persistent-map nodes; mimalloc's per-thread free lists serve them at a
/// fraction of the system allocator's cost (see `docs/performance.md`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    kcheck::cli::main()
}
