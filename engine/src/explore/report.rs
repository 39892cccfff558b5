//! What an exploration found: the distinct converged states, findings and
//! statistics.

use serde::{Deserialize, Serialize};

use super::Mode;
use super::graph::StateGraph;
use crate::hash::Digest;
use crate::model::Choice;
use crate::runtime::World;

/// One distinct converged state.
#[derive(Clone, Debug)]
pub struct Converged {
    /// Its state hash.
    pub hash: Digest,
    /// How many distinct paths (exhaustive) or trials (Monte Carlo) reached
    /// it; saturates at `u128::MAX`.
    pub paths: u128,
    /// A shortest path reaching it (the first trial's, in Monte Carlo).
    pub path: Vec<Choice>,
    /// The state.
    pub world: World,
}

/// What kind of problem a finding is.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// The scenario can converge to more than one state.
    Divergence,
    /// An invariant failed.
    Invariant,
    /// A cycle of states with work pending that cannot be left.
    Livelock,
    /// A path did not converge within the depth limit.
    DepthLimit,
    /// A controller panicked.
    Panic,
}

impl FindingKind {
    /// The name in results: `divergence`, `invariant`, ...
    pub fn name(&self) -> &'static str {
        match self {
            FindingKind::Divergence => "divergence",
            FindingKind::Invariant => "invariant",
            FindingKind::Livelock => "livelock",
            FindingKind::DepthLimit => "depth_limit",
            FindingKind::Panic => "panic",
        }
    }
}

/// A problem, with a path that shows it.
#[derive(Clone, Debug)]
pub struct Finding {
    /// What kind of problem.
    pub kind: FindingKind,
    /// What happened, for people.
    pub message: String,
    /// The choices from the initial state that reach it.
    pub path: Vec<Choice>,
    /// How many paths or trials showed it (at least 1).
    pub occurrences: u64,
}

/// Counts and timings.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Stats {
    /// Distinct states (exhaustive) or states visited (other modes).
    pub states: u64,
    /// Transitions (steps) taken.
    pub transitions: u64,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// States per second.
    pub states_per_sec: f64,
    /// Worker threads.
    pub threads: usize,
    /// The deepest level reached.
    pub max_depth_reached: u32,
    /// Paths (exhaustive: states) cut by the depth limit.
    pub depth_limited: u64,
    /// Monte Carlo trials run.
    pub trials: u64,
}

/// The result of an exploration.
#[derive(Clone, Debug)]
pub struct Report {
    /// The strategy used.
    pub mode: Mode,
    /// Every distinct converged state, in order of discovery.
    pub converged: Vec<Converged>,
    /// Problems found.
    pub findings: Vec<Finding>,
    /// Counts and timings.
    pub stats: Stats,
    /// False when the search stopped early (interrupted or out of budget).
    pub complete: bool,
    /// The explored state graph, when kept.
    pub graph: Option<StateGraph>,
    /// Monte Carlo: how each trial ended, in trial order.
    pub trials: Vec<TrialSummary>,
}

/// How one Monte Carlo trial ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrialSummary {
    /// The trial number.
    pub trial: u64,
    /// `converged`, `livelock`, `depth_limit`, `panic`, `invariant` or
    /// `stopped`.
    pub outcome: String,
    /// The converged state's hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash: Option<Digest>,
    /// Steps taken.
    pub steps: u32,
}

impl Report {
    pub(crate) fn new(mode: Mode) -> Self {
        Report {
            mode,
            converged: Vec::new(),
            findings: Vec::new(),
            stats: Stats::default(),
            complete: true,
            graph: None,
            trials: Vec::new(),
        }
    }

    /// More than one converged state.
    pub fn divergent(&self) -> bool {
        self.converged.len() > 1
    }

    /// The converged-state hashes, in order of discovery.
    pub fn hashes(&self) -> Vec<Digest> {
        self.converged.iter().map(|c| c.hash).collect()
    }

    /// Adds the divergence finding and puts findings in a stable order.
    pub(crate) fn finish(&mut self) {
        if self.divergent()
            && !self
                .findings
                .iter()
                .any(|f| f.kind == FindingKind::Divergence)
        {
            let states: Vec<String> = self
                .converged
                .iter()
                .map(|c| format!("{} ({} paths)", c.hash.short(), c.paths))
                .collect();
            self.findings.insert(
                0,
                Finding {
                    kind: FindingKind::Divergence,
                    message: format!(
                        "{} distinct converged states: {}",
                        self.converged.len(),
                        states.join(", ")
                    ),
                    path: self.converged[1].path.clone(),
                    occurrences: 1,
                },
            );
        }
        self.findings
            .sort_by(|a, b| (&a.kind, a.path.len()).cmp(&(&b.kind, b.path.len())));
    }
}
