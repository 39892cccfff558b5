//! Command-line arguments, as parsed (stage one); `Settings::from_args`
//! validates them against each scenario (stage two).

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use kcheck_engine::explore::{Mode, Reduction};

/// kcheck: a deterministic model checker for Kubernetes controllers.
///
/// Exit codes: 0 every expectation holds and nothing was found, 1 a finding
/// or a failed expectation, 2 bad input or usage, 130 interrupted before
/// anything was found.
#[derive(Debug, Parser)]
#[command(name = "kcheck", version, about, long_about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Explore scenarios and report the states they converge to.
    Run(RunArgs),
    /// Check scenarios against their `expect` section (a regression test).
    Check(CheckArgs),
    /// Hunt for bugs: a reference run, the scenario's own exploration as the
    /// baseline, then one phase per planned stale view, crash and API fault;
    /// writes one folder per finding.
    Hunt(HuntArgs),
    /// Re-execute a trace and verify every state hash.
    Replay(TraceArgs),
    /// Print a trace readably.
    Show(TraceArgs),
    /// List the controllers and the scenarios in ./scenarios.
    List(ListArgs),
}

/// The exploration mode, as given on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ModeArg {
    /// One deterministic run, requests first-in first-out.
    Reference,
    /// Every ordering of pending requests.
    Exhaustive,
    /// Random orderings, `--trials` of them from `--seed`.
    Montecarlo,
}

/// Partial-order reduction, as given on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ReductionArg {
    /// Explore independent groups of work apart and combine them.
    Por,
    /// Explore every ordering of every request.
    None,
}

impl From<ReductionArg> for Reduction {
    fn from(r: ReductionArg) -> Reduction {
        match r {
            ReductionArg::Por => Reduction::Por,
            ReductionArg::None => Reduction::None,
        }
    }
}

impl From<ModeArg> for Mode {
    fn from(m: ModeArg) -> Mode {
        match m {
            ModeArg::Reference => Mode::Reference,
            ModeArg::Exhaustive => Mode::Exhaustive,
            ModeArg::Montecarlo => Mode::MonteCarlo,
        }
    }
}

/// Settings that override a scenario's `explore` section.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct ExploreArgs {
    /// Exploration mode (default: the scenario's).
    #[arg(long, value_enum)]
    pub mode: Option<ModeArg>,
    /// Monte Carlo trials (default: the scenario's).
    #[arg(long)]
    pub trials: Option<u64>,
    /// Monte Carlo seed (default: the scenario's).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Run only Monte Carlo trial I (to reproduce one trial alone).
    #[arg(long, value_name = "I")]
    pub trial: Option<u64>,
    /// Steps after which a path is cut (default: the scenario's).
    #[arg(long, value_name = "D")]
    pub max_depth: Option<u32>,
    /// Stop cleanly after about N states; the result says it is incomplete.
    #[arg(long, value_name = "N")]
    pub max_states: Option<u64>,
    /// Stop cleanly after this many seconds; the result says it is
    /// incomplete.
    #[arg(long, value_name = "SECONDS")]
    pub time_budget: Option<u64>,
    /// Stop cleanly once kcheck's resident memory reaches SIZE (e.g. 4G,
    /// 512M, or bytes); the default is three quarters of the machine's
    /// memory.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_memory: Option<u64>,
    /// Partial-order reduction in exhaustive mode: `por` explores
    /// independent groups of work apart (the default, or the scenario's
    /// `explore.reduction`), `none` every ordering of everything.
    #[arg(long, value_enum, value_name = "R")]
    pub reduction: Option<ReductionArg>,
    /// Exit 0 even when a budget or the depth limit cut the search short
    /// (findings and failed expectations still exit 1).
    #[arg(long)]
    pub allow_incomplete: bool,
    /// Worker threads; 0 uses every core. Results do not depend on it.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub threads: usize,
}

/// A size in bytes: `4G`, `512M`, `64K` (binary units, an optional `i`
/// or `iB`), or a plain number of bytes.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a size such as 4G, 512M or 1000000"))?;
    let shift = match unit
        .to_ascii_uppercase()
        .trim_end_matches("IB")
        .trim_end_matches('B')
    {
        "" => 0,
        "K" => 10,
        "M" => 20,
        "G" => 30,
        "T" => 40,
        _ => return Err(format!("unknown unit {unit:?}: use K, M, G or T (e.g. 4G)")),
    };
    let bytes = value * (1u64 << shift) as f64;
    if !(bytes >= 1.0 && bytes < u64::MAX as f64) {
        return Err(format!("{text:?} is not a usable size"));
    }
    Ok(bytes as u64)
}

/// `kcheck run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Scenario files.
    #[arg(required = true, value_name = "SCENARIO")]
    pub scenarios: Vec<PathBuf>,
    /// Exploration settings.
    #[command(flatten)]
    pub explore: ExploreArgs,
    /// Write a trace per finding and per converged state into DIR.
    #[arg(long, value_name = "DIR")]
    pub trace_dir: Option<PathBuf>,
    /// Print one JSON result per scenario per line instead of a summary.
    #[arg(long)]
    pub json: bool,
    /// Write the explored state graph as Graphviz DOT (exhaustive mode, one
    /// scenario).
    #[arg(long, value_name = "FILE")]
    pub graph: Option<PathBuf>,
}

/// `kcheck check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Scenario files.
    #[arg(required = true, value_name = "SCENARIO")]
    pub scenarios: Vec<PathBuf>,
    /// Rewrite each scenario's `expect` with what the run found (refused
    /// when it has findings the `expect` block does not list).
    #[arg(long)]
    pub update: bool,
    /// Partial-order reduction (default: the scenario's); with another
    /// reduction than the scenario's, `expect.states` is neither compared
    /// nor rewritten.
    #[arg(long, value_enum, value_name = "R")]
    pub reduction: Option<ReductionArg>,
    /// Worker threads; 0 uses every core. Results do not depend on it.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub threads: usize,
}

/// A kind of hunt phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PhaseArg {
    /// Stale views planned from the reference run.
    Staleness,
    /// A crash after each write of each controller.
    Crash,
    /// Conflicts and server errors on each write of each controller.
    #[value(name = "api_fault", alias = "api-fault")]
    ApiFault,
    /// Dropped watch events on each write (not in a default hunt: a dropped
    /// event never arrives, so any controller without a resync stalls).
    #[value(name = "watch_drop", alias = "watch-drop")]
    WatchDrop,
}

/// `kcheck hunt`.
#[derive(Debug, clap::Args)]
pub struct HuntArgs {
    /// The scenario file.
    #[arg(value_name = "SCENARIO")]
    pub scenario: PathBuf,
    /// Where to write one folder per finding (REPORT.md and trace.jsonl).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Exploration settings of every phase (`--time-budget` and
    /// `--max-states` are the whole hunt's).
    #[command(flatten)]
    pub explore: ExploreArgs,
    /// Only these phase kinds (comma-separated); the baseline always runs.
    #[arg(long, value_enum, value_delimiter = ',')]
    pub only: Vec<PhaseArg>,
    /// Print one JSON result instead of a summary.
    #[arg(long)]
    pub json: bool,
}

/// `kcheck replay` and `kcheck show`.
#[derive(Debug, clap::Args)]
pub struct TraceArgs {
    /// The trace file (JSON Lines).
    #[arg(value_name = "TRACE.jsonl")]
    pub trace: PathBuf,
}

/// `kcheck list`.
#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Where to look for scenarios.
    #[arg(long, default_value = "scenarios", value_name = "DIR")]
    pub scenarios: PathBuf,
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes_take_binary_units() {
        assert_eq!(parse_size("4G"), Ok(4 << 30));
        assert_eq!(parse_size("512MiB"), Ok(512 << 20));
        assert_eq!(parse_size("1.5k"), Ok(1536));
        assert_eq!(parse_size("1000"), Ok(1000));
        assert!(parse_size("4X").is_err());
        assert!(parse_size("G").is_err());
        assert!(parse_size("0").is_err());
    }
}
