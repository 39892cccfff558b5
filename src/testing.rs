//! Checking scenarios from `cargo test`: the `expect` block of a scenario
//! file, as `kcheck check` checks it.
//!
//! ```no_run
//! #[test]
//! fn my_scenario_converges_as_expected() {
//!     kcheck::testing::check_scenario("scenarios/mine.json", &kcheck::harnesses::registry());
//! }
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use kcheck_harnesses::Registry;

use crate::cli::{self, Settings};

/// Explores the scenario in `file` with its own `explore` settings and
/// panics unless the result is what its `expect` block says. The panic
/// message says what differs and gives a `replay` command for the trace of
/// every converged state and finding (written under the system's temporary
/// folder).
#[track_caller]
pub fn check_scenario(file: impl AsRef<Path>, registry: &Registry) {
    if let Err(message) = try_check_scenario(file.as_ref(), registry) {
        panic!("{message}");
    }
}

/// [`check_scenario`] without the panic: `Ok` with the one-line summary
/// `kcheck check` prints, or `Err` with everything that went wrong.
pub fn try_check_scenario(file: &Path, registry: &Registry) -> Result<String, String> {
    let loaded = cli::load(file, registry).map_err(|e| format!("{e:#}"))?;
    let settings =
        Settings::resolve(&loaded, &Default::default(), false).map_err(|e| format!("{e:#}"))?;
    let traces = trace_dir(file);
    let outcome = cli::explore_once(
        &loaded,
        &settings,
        Some(&traces),
        Arc::new(AtomicBool::new(false)),
    )
    .map_err(|e| format!("{e:#}"))?;
    cli::check_expect(&loaded, &outcome).map_err(|failure| {
        let mut message = failure;
        let written = outcome
            .converged_traces
            .iter()
            .chain(&outcome.finding_traces);
        for trace in written.flatten() {
            message.push_str(&format!(
                "        replay: cargo run -- replay {}\n",
                trace.display()
            ));
        }
        message
    })
}

/// Where the traces of `file`'s check go: one folder per scenario file.
fn trace_dir(file: &Path) -> PathBuf {
    let stem = file.file_stem().map(|s| s.to_string_lossy().into_owned());
    std::env::temp_dir()
        .join("kcheck-check")
        .join(stem.unwrap_or_else(|| "scenario".into()))
}
