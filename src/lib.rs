//! kcheck, a deterministic model checker for Kubernetes controllers, as a
//! library: the whole command-line tool over your own controllers
//! ([`cli::main_with`]), and a `cargo test` helper for scenario files
//! ([`testing::check_scenario`]).
//!
//! The engine (API server, client, explorer) is [`engine`]; the built-in
//! controllers and the [`Registry`] that names controllers for scenario
//! files are [`harnesses`]. `docs/harnesses.md` is the guide.

pub mod cli;
pub mod testing;

pub use kcheck_engine as engine;
pub use kcheck_harnesses as harnesses;
pub use kcheck_harnesses::Registry;
