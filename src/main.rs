//! The kcheck command-line tool: a thin layer over `kcheck-engine` (the
//! model checker) and `kcheck-harnesses` (the controllers it knows by name).
//!
//! Exit codes: 0 every expectation holds and nothing was found, 1 a finding
//! or a failed expectation, 2 bad input or usage, 130 interrupted by Ctrl-C
//! before anything was found.

mod args;
mod commands;
mod explore;
mod hunt;
mod output;
mod progress;

use std::process::ExitCode;

use clap::Parser;

/// The allocator. A step allocates and frees many small JSON values and
/// persistent-map nodes; mimalloc's per-thread free lists serve them at a
/// fraction of the system allocator's cost (see `docs/performance.md`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(err) => {
            eprintln!("kcheck: error: {err:#}");
            ExitCode::from(2)
        }
    }
}

/// Parses the command line and runs the command; an `Err` is bad input
/// (exit code 2).
fn run() -> anyhow::Result<ExitCode> {
    let cli = args::Cli::parse();
    match cli.command {
        args::Command::Run(a) => commands::run(a),
        args::Command::Check(a) => commands::check(a),
        args::Command::Hunt(a) => hunt::hunt(a),
        args::Command::Replay(a) => commands::replay(a),
        args::Command::Show(a) => commands::show(a),
        args::Command::List(a) => commands::list(a),
    }
}
