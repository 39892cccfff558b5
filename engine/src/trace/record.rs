//! Recording a trace: re-executing a path with step records turned on.

use std::path::Path;

use serde_json::Value;

use super::format::{
    EndLine, FORMAT_VERSION, FindingInfo, Header, KindView, Request, StepLine, Trace,
    TraceApiError, TraceError, TraceWrite, Triggered, write_atomically,
};
use crate::api::{ApiServer, EventType, WriteRequest};
use crate::explore::Mode;
use crate::hash::Digest;
use crate::model::{Choice, Model};
use crate::model::{StepOutcome, StepRecord, World};
use crate::runtime::{Pending, WriteRecord};

/// What a trace's header says besides the scenario and the path.
#[derive(Clone, Debug, PartialEq)]
pub struct TraceMeta {
    /// The scenario's name.
    pub scenario: String,
    /// The scenario's hash.
    pub scenario_hash: Digest,
    /// The exploration mode that found the path.
    pub mode: Mode,
    /// The Monte Carlo seed.
    pub seed: u64,
    /// The Monte Carlo trial, when known.
    pub trial: Option<u64>,
    /// The finding the path shows, if any.
    pub finding: Option<FindingInfo>,
}

/// Re-executes `path` from the model's initial state and records every step.
/// `scenario_json` is embedded so that the trace replays on its own.
pub fn build_trace(
    model: &Model,
    scenario_json: &Value,
    meta: &TraceMeta,
    path: &[Choice],
) -> Result<Trace, TraceError> {
    let finding_kind = meta.finding.as_ref().map(|f| f.kind.as_str());
    let finding_message = meta.finding.as_ref().map(|f| f.message.clone());
    let (steps, end) = execute(model, path, finding_kind, finding_message)
        .map_err(|(depth, message)| TraceError::Path { depth, message })?;
    let initial = model.initial();
    let header = Header {
        format: FORMAT_VERSION,
        scenario: meta.scenario.clone(),
        scenario_hash: meta.scenario_hash,
        mode: meta.mode,
        seed: meta.seed,
        trial: meta.trial,
        perturbations: scenario_json
            .get("perturbations")
            .cloned()
            .unwrap_or(Value::Null),
        scenario_json: scenario_json.clone(),
        path: path.to_vec(),
        finding: meta.finding.clone(),
        initial_objects: objects_of(&initial.server),
        generator: Some(format!("kcheck {}", env!("CARGO_PKG_VERSION"))),
    };
    Ok(Trace { header, steps, end })
}

/// Records the trace of `path` and writes it to `out` atomically.
pub fn write_trace(
    model: &Model,
    scenario_json: &Value,
    meta: &TraceMeta,
    path: &[Choice],
    out: &Path,
) -> Result<Trace, TraceError> {
    let trace = build_trace(model, scenario_json, meta, path)?;
    write_atomically(out, trace.to_jsonl().as_bytes()).map_err(|source| TraceError::Io {
        path: out.to_path_buf(),
        source,
    })?;
    Ok(trace)
}

/// Takes every choice of `path` with records on. Errors name the depth of
/// the step that cannot be taken.
pub(crate) fn execute(
    model: &Model,
    path: &[Choice],
    finding_kind: Option<&str>,
    finding_message: Option<String>,
) -> Result<(Vec<StepLine>, EndLine), (u32, String)> {
    let mut world = model.initial();
    let mut steps = Vec::with_capacity(path.len());
    let mut last_panicked = false;
    for (i, choice) in path.iter().enumerate() {
        let depth = i as u32 + 1;
        if !model.choices(&world).contains(choice) {
            return Err((
                depth,
                format!(
                    "the choice {} is not available in this state",
                    describe_choice(model, choice)
                ),
            ));
        }
        let step = model.step(&world, choice, true);
        let record = step.record.expect("a record was asked for");
        last_panicked = matches!(record.outcome, StepOutcome::Panic(_));
        steps.push(step_line(model, &world, record));
        world = step.world;
    }
    let outcome = end_outcome(model, &world, last_panicked, finding_kind);
    let end = EndLine {
        outcome: outcome.to_string(),
        message: finding_message.filter(|_| outcome != "converged"),
        state_hash: model.state_hash(&world),
        objects: objects_of(&world.server),
        pending: world.pending.iter().map(|p| triggered(model, p)).collect(),
    };
    Ok((steps, end))
}

/// A choice described without indexing out of range on a foreign trace.
fn describe_choice(model: &Model, choice: &Choice) -> String {
    match choice {
        Choice::Reconcile { request: p, .. } => match model.controller_names().get(p.controller) {
            Some(name) => format!("{name} {}", p.object),
            None => format!("controller #{} {}", p.controller, p.object),
        },
        Choice::User { index } => format!("user action {index}"),
    }
}

fn end_outcome(
    model: &Model,
    world: &World,
    last_panicked: bool,
    finding_kind: Option<&str>,
) -> &'static str {
    if last_panicked {
        return "panic";
    }
    match finding_kind {
        Some("invariant") => "invariant",
        Some("livelock") => "livelock",
        Some("depth_limit") => "depth_limit",
        Some("panic") => "panic",
        _ if model.choices(world).is_empty() => "converged",
        _ => "depth_limit",
    }
}

/// Every stored object, in key order.
pub(crate) fn objects_of(server: &ApiServer) -> Vec<Value> {
    let mut all: Vec<_> = server.all_objects().collect();
    all.sort_by(|a, b| a.0.cmp(&b.0));
    all.into_iter().map(|(_, s)| s.to_json()).collect()
}

fn triggered(model: &Model, p: &Pending) -> Triggered {
    Triggered {
        controller: model
            .controller_names()
            .get(p.controller)
            .map(|s| s.to_string())
            .unwrap_or_else(|| format!("#{}", p.controller)),
        object: p.object.clone(),
    }
}

fn step_line(model: &Model, before: &World, record: StepRecord) -> StepLine {
    let request = match &record.choice {
        Choice::Reconcile { request: p, .. } => Request {
            object: Some(p.object.clone()),
            action: None,
            verb: None,
        },
        Choice::User { index } => Request {
            object: record
                .writes
                .first()
                .and_then(|w| write_key(&before.server, w)),
            action: Some(*index),
            verb: model.actions().get(*index).map(|a| a.request.verb().into()),
        },
    };
    let (outcome, message) = match &record.outcome {
        StepOutcome::Error(m) | StepOutcome::Panic(m) => {
            (record.outcome.name().to_string(), Some(m.clone()))
        }
        other => (other.name().to_string(), None),
    };
    StepLine {
        depth: record.depth,
        actor: record.actor,
        request,
        choice: record.choice.clone(),
        stale_views: record
            .views
            .iter()
            .map(|(kind, &seq)| KindView {
                kind: kind.clone(),
                seq,
            })
            .collect(),
        stale_reads: record.stale_reads,
        writes: record
            .writes
            .iter()
            .map(|w| trace_write(&before.server, w))
            .collect(),
        outcome,
        message,
        triggered: record
            .triggered
            .iter()
            .map(|p| triggered(model, p))
            .collect(),
        state_hash: record.state_hash,
    }
}

/// The key a write names: the server's answer, else the request's.
fn write_key(server: &ApiServer, w: &WriteRecord) -> Option<crate::api::ObjectKey> {
    if let Some(key) = &w.key {
        return Some(key.clone());
    }
    match &w.request {
        WriteRequest::Patch { key, .. } | WriteRequest::Delete { key, .. } => Some(key.clone()),
        WriteRequest::Create { object }
        | WriteRequest::Update { object, .. }
        | WriteRequest::Apply { object, .. } => server.key_of(object).ok(),
    }
}

fn trace_write(server: &ApiServer, w: &WriteRecord) -> TraceWrite {
    TraceWrite {
        verb: w.request.verb().to_string(),
        object: write_key(server, w),
        stored: w.object.as_ref().map(|s| s.to_json()),
        rv: w.rv,
        noop: w.noop,
        error: w.error.as_ref().map(|e| TraceApiError {
            reason: e.reason,
            code: e.code(),
            message: e.message.clone(),
        }),
        fault: w.fault.clone(),
        event: w.event.as_ref().map(|e| {
            match e.event_type {
                EventType::Added => "added",
                EventType::Modified => "modified",
                EventType::Deleted => "deleted",
            }
            .to_string()
        }),
    }
}
