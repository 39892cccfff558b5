//! The command line (`run`, `check`, `hunt`, `replay`, `show`, `list`),
//! over any set of controllers.
//!
//! `kcheck`'s own binary is [`main`]: the built-in controllers. A crate with
//! controllers of its own gets the same tool from a `main` of one line:
//!
//! ```no_run
//! fn main() -> std::process::ExitCode {
//!     let registry = kcheck::harnesses::registry(); // the built-ins, then yours:
//!     // let registry = registry.with("mine", "What it does", build_mine);
//!     kcheck::cli::main_with(registry)
//! }
//! ```
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

use std::ffi::OsString;
use std::process::ExitCode;

use clap::Parser;
use kcheck_harnesses::Registry;

pub(crate) use commands::check_expect;
pub(crate) use explore::{Settings, load, run as explore_once};

/// The tool with the built-in controllers: what the `kcheck` binary runs.
pub fn main() -> ExitCode {
    main_with(kcheck_harnesses::registry())
}

/// The tool with `registry`'s controllers, on this process's arguments.
/// Scenario files name controllers by their registry name; `kcheck list`
/// shows them, and `kcheck replay` rebuilds a trace's controllers from them.
pub fn main_with(registry: Registry) -> ExitCode {
    main_from(std::env::args_os(), &registry)
}

/// The tool on the given arguments (the first is the program name), for
/// embedding; prints as the binary does and returns its exit code.
pub fn main_from<I, T>(args: I, registry: &Registry) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match args::Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(err) => {
            // Usage errors exit 2, --help and --version 0, as clap's own exit.
            let _ = err.print();
            return ExitCode::from(u8::try_from(err.exit_code()).unwrap_or(2));
        }
    };
    match run(cli, registry) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("kcheck: error: {err:#}");
            ExitCode::from(2)
        }
    }
}

/// Runs the parsed command; an `Err` is bad input (exit code 2).
fn run(cli: args::Cli, registry: &Registry) -> anyhow::Result<ExitCode> {
    match cli.command {
        args::Command::Run(a) => commands::run(a, registry),
        args::Command::Check(a) => commands::check(a, registry),
        args::Command::Hunt(a) => hunt::hunt(a, registry),
        args::Command::Replay(a) => commands::replay(a, registry),
        args::Command::Show(a) => commands::show(a),
        args::Command::List(a) => commands::list(a, registry),
    }
}
