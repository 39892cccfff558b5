//! Replaying a trace: re-execute its path and check that every step does
//! what the trace says, down to the state hashes.

use serde::Serialize;
use serde_json::Value;

use super::format::{StepLine, Trace};
use super::record::execute;
use crate::explore::diff_values;
use crate::hash::Digest;
use crate::model::Model;
use crate::scenario::{ControllerRegistry, Scenario};

/// A trace that replayed exactly.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplayReport {
    /// The scenario's name.
    pub scenario: String,
    /// Steps replayed.
    pub steps: usize,
    /// How the path ended.
    pub outcome: String,
    /// The final state hash, as the trace says and the replay gave.
    pub state_hash: Digest,
}

/// Why a trace did not replay.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayError {
    /// The embedded scenario is not valid (or names controllers this build
    /// does not have).
    #[error("the trace's embedded scenario cannot be built: {0}")]
    Scenario(String),
    /// The embedded scenario is not the one the trace was recorded from.
    #[error(
        "the embedded scenario hashes to {actual}, but the header says scenario_hash {expected}: the scenario was edited"
    )]
    ScenarioHash {
        /// The hash in the header.
        expected: Digest,
        /// The hash of the embedded scenario.
        actual: Digest,
    },
    /// A step of the path cannot be taken.
    #[error("step {depth}: {message}")]
    Unavailable {
        /// The step's depth.
        depth: u32,
        /// What is wrong.
        message: String,
    },
    /// A step led to another state than the trace says.
    #[error(
        "step {depth}: state hash mismatch: the trace says {expected}, the replay gives {actual}"
    )]
    StateHash {
        /// The step's depth.
        depth: u32,
        /// The trace's hash.
        expected: Digest,
        /// The replay's hash.
        actual: Digest,
    },
    /// A step did something else than the trace says.
    #[error("step {depth}: {field} differs: the trace says {expected}, the replay gives {actual}")]
    Step {
        /// The step's depth.
        depth: u32,
        /// The field, as a JSON pointer into the step line.
        field: String,
        /// The trace's value.
        expected: String,
        /// The replay's value.
        actual: String,
    },
    /// The path ended differently.
    #[error("end: {field} differs: the trace says {expected}, the replay gives {actual}")]
    End {
        /// The field, as a JSON pointer into the end line.
        field: String,
        /// The trace's value.
        expected: String,
        /// The replay's value.
        actual: String,
    },
}

/// Replays a trace: rebuilds the model from the scenario the trace embeds
/// (checking it is the one the trace was recorded from), with controllers
/// from `registry`, and re-executes the path.
pub fn replay(
    trace: &Trace,
    registry: &dyn ControllerRegistry,
) -> Result<ReplayReport, ReplayError> {
    let scenario = Scenario::from_value(trace.header.scenario_json.clone())
        .map_err(|e| ReplayError::Scenario(e.to_string()))?;
    let actual = scenario.hash();
    if actual != trace.header.scenario_hash {
        return Err(ReplayError::ScenarioHash {
            expected: trace.header.scenario_hash,
            actual,
        });
    }
    let model = scenario
        .build(registry)
        .map_err(|e| ReplayError::Scenario(e.to_string()))?;
    replay_model(trace, &model)
}

/// Replays a trace against a model built from its embedded scenario.
pub fn replay_model(trace: &Trace, model: &Model) -> Result<ReplayReport, ReplayError> {
    let header = &trace.header;
    if header.path.len() != trace.steps.len() {
        return Err(ReplayError::Unavailable {
            depth: trace.steps.len().min(header.path.len()) as u32 + 1,
            message: format!(
                "the header's path has {} choices but the trace has {} steps",
                header.path.len(),
                trace.steps.len()
            ),
        });
    }
    for (i, (choice, step)) in header.path.iter().zip(&trace.steps).enumerate() {
        if *choice != step.choice {
            return Err(ReplayError::Step {
                depth: i as u32 + 1,
                field: "/choice".into(),
                expected: json_text(&step.choice),
                actual: format!("{} (from the header's path)", json_text(choice)),
            });
        }
    }
    let finding = header.finding.as_ref();
    let (steps, end) = execute(
        model,
        &header.path,
        finding.map(|f| f.kind.as_str()),
        finding.map(|f| f.message.clone()),
    )
    .map_err(|(depth, message)| ReplayError::Unavailable { depth, message })?;
    for (given, got) in trace.steps.iter().zip(&steps) {
        compare_step(given, got)?;
    }
    if trace.end.state_hash != end.state_hash {
        return Err(ReplayError::End {
            field: "/state_hash".into(),
            expected: trace.end.state_hash.to_hex(),
            actual: end.state_hash.to_hex(),
        });
    }
    if let Some((field, expected, actual)) = first_difference(&trace.end, &end) {
        return Err(ReplayError::End {
            field,
            expected,
            actual,
        });
    }
    Ok(ReplayReport {
        scenario: header.scenario.clone(),
        steps: steps.len(),
        outcome: end.outcome,
        state_hash: end.state_hash,
    })
}

fn compare_step(given: &StepLine, got: &StepLine) -> Result<(), ReplayError> {
    let depth = given.depth;
    if given.state_hash != got.state_hash {
        // Name the first other difference too when there is one: it is
        // usually the cause.
        return Err(ReplayError::StateHash {
            depth,
            expected: given.state_hash,
            actual: got.state_hash,
        });
    }
    match first_difference(given, got) {
        Some((field, expected, actual)) => Err(ReplayError::Step {
            depth,
            field,
            expected,
            actual,
        }),
        None => Ok(()),
    }
}

/// The first field (by JSON pointer) where two lines differ.
fn first_difference<T: Serialize>(given: &T, got: &T) -> Option<(String, String, String)> {
    let a = serde_json::to_value(given).expect("trace lines serialize");
    let b = serde_json::to_value(got).expect("trace lines serialize");
    if a == b {
        return None;
    }
    let changes = diff_values(&a, &b);
    match changes.first() {
        Some(c) => Some((
            c.pointer.clone(),
            option_text(&c.before),
            option_text(&c.after),
        )),
        // Only ignored fields (resourceVersions) differ.
        None => Some(("the line".into(), a.to_string(), b.to_string())),
    }
}

fn option_text(v: &Option<Value>) -> String {
    match v {
        Some(v) => v.to_string(),
        None => "nothing".into(),
    }
}

fn json_text<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("values serialize")
}
