//! What an exploration found: the distinct converged states, findings and
//! statistics.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Mode;
use super::budget::Cut;
use super::graph::StateGraph;
use crate::api::ConvergedMask;
use crate::api::ObjectKey;
use crate::hash::Digest;
use crate::model::Choice;
use crate::model::World;

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
    /// Fields the converged-state hash leaves out whose values differed
    /// among the states merged into this one, in order of discovery.
    pub masked: Vec<MaskedField>,
}

/// A field left out of the converged-state identity (a masked field) that
/// held different values in states merged into one converged state.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MaskedField {
    /// The object.
    pub object: ObjectKey,
    /// The field, as a JSON pointer (`/metadata/generation`).
    pub pointer: String,
    /// The distinct values seen, in order of discovery; `None`: absent.
    pub values: Vec<Option<Value>>,
}

impl Converged {
    /// A converged state reached by `paths` paths, nothing merged into it
    /// yet.
    pub(crate) fn new(hash: Digest, paths: u128, path: Vec<Choice>, world: World) -> Self {
        Converged {
            hash,
            paths,
            path,
            world,
            masked: Vec::new(),
        }
    }

    /// Merges in another state with the same hash, reached by `paths`
    /// paths: adds them, and notes the masked fields whose values differ.
    pub(crate) fn absorb(&mut self, other: &World, paths: u128, mask: &ConvergedMask) {
        self.paths = self.paths.saturating_add(paths);
        for d in mask.differences(&self.world.server, &other.server) {
            let [ours, theirs] = d.values;
            match self
                .masked
                .iter_mut()
                .find(|m| m.object == d.object && m.pointer == d.pointer)
            {
                Some(m) => {
                    if !m.values.contains(&theirs) {
                        m.values.push(theirs);
                    }
                }
                None => self.masked.push(MaskedField {
                    object: d.object,
                    pointer: d.pointer,
                    values: vec![ours, theirs],
                }),
            }
        }
    }
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
    /// The most steps to a converged state: in exhaustive mode its shortest
    /// path (the depth limit bounds shortest paths, since a state reached
    /// again is not explored again), otherwise the path taken.
    pub deepest_converged: Option<u32>,
    /// The partial-order reduction used (exhaustive mode).
    pub reduction: super::ReductionStats,
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
    /// What cut the search short, if anything: a budget that stopped it,
    /// and paths cut at the depth limit. Empty when it covered everything.
    pub cuts: Vec<Cut>,
    /// User actions the server refused, each once, in action order.
    pub refused: Vec<RefusedAction>,
    /// The explored state graph, when kept.
    pub graph: Option<StateGraph>,
    /// Monte Carlo: how each trial ended, in trial order.
    pub trials: Vec<TrialSummary>,
    /// A path cut at the depth limit, when there is one.
    pub(crate) depth_example: Option<Vec<Choice>>,
}

/// A user action the server refused (it is recorded, not retried).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefusedAction {
    /// The action's index in the scenario's `actions`.
    pub index: usize,
    /// The server's answer, e.g. `NotFound (404): deployments.apps "wbe" not found`.
    pub message: String,
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
            cuts: Vec::new(),
            refused: Vec::new(),
            graph: None,
            trials: Vec::new(),
            depth_example: None,
        }
    }

    /// Whether the search covered everything: no budget stopped it and no
    /// path was cut at the depth limit.
    pub fn complete(&self) -> bool {
        self.cuts.is_empty()
    }

    /// Records a budget that stopped the search (the first one counts).
    pub(crate) fn stop(&mut self, cut: Cut) {
        if !self.cuts.iter().any(Cut::stops_search) {
            self.cuts.push(cut);
        }
    }

    /// Counts a path cut at the depth limit; the first example given is
    /// kept (pass one while `depth_example` is `None`).
    pub(crate) fn depth_limited(&mut self, example: Option<Vec<Choice>>) {
        self.stats.depth_limited += 1;
        if self.depth_example.is_none() {
            self.depth_example = example;
        }
    }

    /// Records a user action the server refused, once per action.
    pub(crate) fn refused(&mut self, index: usize, message: &str) {
        if !self.refused.iter().any(|r| r.index == index) {
            let at = self.refused.partition_point(|r| r.index < index);
            self.refused.insert(
                at,
                RefusedAction {
                    index,
                    message: message.to_string(),
                },
            );
        }
    }

    /// Notes the length of a path to a converged state.
    pub(crate) fn converged_after(&mut self, steps: u32) {
        let longest = self.stats.deepest_converged.get_or_insert(0);
        *longest = (*longest).max(steps);
    }

    /// More than one converged state.
    pub fn divergent(&self) -> bool {
        self.converged.len() > 1
    }

    /// The converged-state hashes, in order of discovery.
    pub fn hashes(&self) -> Vec<Digest> {
        self.converged.iter().map(|c| c.hash).collect()
    }

    /// Adds the divergence finding and the depth-limit cut, and puts
    /// findings in a stable order.
    pub(crate) fn finish(&mut self, max_depth: u32, depth_is_finding: bool) {
        if let Some(example) = self.depth_example.take()
            && !depth_is_finding
        {
            self.cuts.push(Cut::DepthLimit {
                max_depth,
                paths: self.stats.depth_limited,
                example,
            });
        }
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
