//! The lines of a trace file and how they are read and written.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::api::{GroupKind, ObjectKey, Reason};
use crate::explore::Mode;
use crate::faults::WriteFault;
use crate::hash::Digest;
use crate::model::Choice;
use crate::runtime::StaleRead;

/// The version of the trace format this crate writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// A whole trace: its header, one line per step, and the end.
#[derive(Clone, Debug, PartialEq)]
pub struct Trace {
    /// What was run and why the trace was written.
    pub header: Header,
    /// One record per step, in order.
    pub steps: Vec<StepLine>,
    /// How the path ended.
    pub end: EndLine,
}

/// One line of a trace file, tagged by its `type` field.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum TraceLine {
    /// The first line.
    Header(Header),
    /// One step.
    Step(StepLine),
    /// The last line.
    End(EndLine),
}

impl TraceLine {
    /// The line's `type`: `header`, `step` or `end`.
    pub fn type_name(&self) -> &'static str {
        match self {
            TraceLine::Header(_) => "header",
            TraceLine::Step(_) => "step",
            TraceLine::End(_) => "end",
        }
    }
}

/// The first line: what was run, with the scenario itself so that a trace
/// replays on its own.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Header {
    /// The trace format version ([`FORMAT_VERSION`]).
    pub format: u32,
    /// The scenario's name.
    pub scenario: String,
    /// The scenario's hash, to tell whether the embedded scenario changed.
    pub scenario_hash: Digest,
    /// The exploration mode that found the path.
    pub mode: Mode,
    /// The Monte Carlo seed.
    pub seed: u64,
    /// The Monte Carlo trial that took the path, when known.
    #[serde(default)]
    pub trial: Option<u64>,
    /// The perturbations in force (the scenario's `perturbations`).
    #[serde(default)]
    pub perturbations: Value,
    /// The whole scenario file.
    pub scenario_json: Value,
    /// The choices from the initial state, in order.
    pub path: Vec<Choice>,
    /// The problem this trace shows, if any.
    #[serde(default)]
    pub finding: Option<FindingInfo>,
    /// The objects of the initial state, in key order.
    #[serde(default)]
    pub initial_objects: Vec<Value>,
    /// The kcheck version that wrote the trace.
    #[serde(default)]
    pub generator: Option<String>,
}

/// The finding a trace shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingInfo {
    /// Its kind: `divergence`, `invariant`, `livelock`, `depth_limit`,
    /// `panic`, or a fault-specific kind.
    pub kind: String,
    /// What happened.
    pub message: String,
}

/// One step of the path.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepLine {
    /// The depth after the step (the first step has depth 1).
    pub depth: u32,
    /// The controller's name, or `user`.
    pub actor: String,
    /// What was reconciled, or which user action ran.
    pub request: Request,
    /// The choice taken, as the explorer names it.
    pub choice: Choice,
    /// The kinds the controller saw through a stale view, and as of which
    /// event of the kind.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stale_views: Vec<KindView>,
    /// Reads that saw an older version than the server had.
    #[serde(default)]
    pub stale_reads: Vec<StaleRead>,
    /// The writes made, in order.
    #[serde(default)]
    pub writes: Vec<TraceWrite>,
    /// `done`, `requeue`, `error`, `crash` or `panic`.
    pub outcome: String,
    /// The error or panic message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Requests the step added to the pending set.
    #[serde(default)]
    pub triggered: Vec<Triggered>,
    /// The state hash after the step.
    pub state_hash: Digest,
}

/// What a step worked on: for a reconcile the object; for a user action its
/// index and verb (and the object, when known).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// The object reconciled or written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<ObjectKey>,
    /// The user action's index in the scenario's `actions`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<usize>,
    /// The user action's verb.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verb: Option<String>,
}

/// A kind a controller saw through a stale view.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KindView {
    /// The kind.
    pub kind: GroupKind,
    /// The kind's event sequence number the view showed.
    pub seq: u64,
}

/// One write of a step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TraceWrite {
    /// `create`, `update`, `patch`, `apply` or `delete`.
    pub verb: String,
    /// The object written (null when it cannot be named, e.g. a create
    /// without a name that failed).
    pub object: Option<ObjectKey>,
    /// The stored object after the write; for a delete, its last state;
    /// null when the write failed.
    #[serde(default)]
    pub stored: Option<Value>,
    /// The resourceVersion given (null for failures and no-ops).
    pub rv: Option<u64>,
    /// The write changed nothing.
    pub noop: bool,
    /// The server's error, if the write failed.
    pub error: Option<TraceApiError>,
    /// The fault kcheck injected, if any.
    #[serde(default)]
    pub fault: Option<WriteFault>,
    /// The watch event produced: `added`, `modified`, `deleted`, or null.
    #[serde(default)]
    pub event: Option<String>,
}

/// An API error as written to a trace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceApiError {
    /// The `Status` reason, e.g. `Conflict`.
    pub reason: Reason,
    /// The HTTP status code.
    pub code: u16,
    /// The message.
    pub message: String,
}

/// A request added to the pending set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Triggered {
    /// The controller's name.
    pub controller: String,
    /// The object it will reconcile.
    pub object: ObjectKey,
}

/// The last line: how the path ended and the final state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EndLine {
    /// `converged`, `depth_limit`, `livelock`, `invariant` or `panic`.
    pub outcome: String,
    /// The finding's message, if the path shows one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The state hash of the final state.
    pub state_hash: Digest,
    /// The final objects, in key order.
    pub objects: Vec<Value>,
    /// Requests still pending at the end.
    #[serde(default)]
    pub pending: Vec<Triggered>,
}

/// A trace that could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TraceError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// The file is not a valid trace.
    #[error("{path}:{line}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The line (from 1) where the problem is; 0 for the whole file.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The path cannot be taken in the model (recording a trace).
    #[error("step {depth}: {message}")]
    Path {
        /// The depth of the step that cannot be taken.
        depth: u32,
        /// What is wrong.
        message: String,
    },
}

impl Trace {
    /// The trace as JSON Lines: header, steps, end, one object per line.
    pub fn to_jsonl(&self) -> String {
        let mut out = String::new();
        let mut push = |line: TraceLine| {
            out.push_str(&serde_json::to_string(&line).expect("trace lines serialize"));
            out.push('\n');
        };
        push(TraceLine::Header(self.header.clone()));
        for step in &self.steps {
            push(TraceLine::Step(step.clone()));
        }
        push(TraceLine::End(self.end.clone()));
        out
    }

    /// Parses a trace from JSON Lines text; `path` only names the source in
    /// errors.
    pub fn parse(text: &str, path: &Path) -> Result<Trace, TraceError> {
        let invalid = |line: usize, message: String| TraceError::Invalid {
            path: path.to_path_buf(),
            line,
            message,
        };
        let mut header = None;
        let mut steps: Vec<StepLine> = Vec::new();
        let mut end = None;
        for (i, raw) in text.lines().enumerate() {
            let n = i + 1;
            if raw.trim().is_empty() {
                continue;
            }
            let value: Value = serde_json::from_str(raw)
                .map_err(|e| invalid(n, format!("not valid JSON: {e}")))?;
            let Some(kind) = value
                .get("type")
                .and_then(Value::as_str)
                .map(str::to_string)
            else {
                return Err(invalid(
                    n,
                    "a trace line must be a JSON object with a string field \"type\"".into(),
                ));
            };
            if !matches!(kind.as_str(), "header" | "step" | "end") {
                return Err(invalid(
                    n,
                    format!("unknown line type {kind:?} (expected header, step or end)"),
                ));
            }
            let line: TraceLine = serde_json::from_value(value)
                .map_err(|e| invalid(n, format!("bad {kind} line: {e}")))?;
            if end.is_some() {
                return Err(invalid(n, format!("a {kind} line after the end line")));
            }
            match line {
                TraceLine::Header(h) => {
                    if header.is_some() {
                        return Err(invalid(n, "a second header line".into()));
                    }
                    if h.format != FORMAT_VERSION {
                        return Err(invalid(
                            n,
                            format!(
                                "trace format {} is not supported (this kcheck reads format {FORMAT_VERSION})",
                                h.format
                            ),
                        ));
                    }
                    header = Some(h);
                }
                TraceLine::Step(s) => {
                    if header.is_none() {
                        return Err(invalid(n, "a step line before the header line".into()));
                    }
                    let expected = steps.len() as u32 + 1;
                    if s.depth != expected {
                        return Err(invalid(
                            n,
                            format!("step depth {} where depth {expected} was expected", s.depth),
                        ));
                    }
                    steps.push(s);
                }
                TraceLine::End(e) => {
                    if header.is_none() {
                        return Err(invalid(n, "an end line before the header line".into()));
                    }
                    end = Some(e);
                }
            }
        }
        let Some(header) = header else {
            return Err(invalid(0, "the trace is empty (no header line)".into()));
        };
        let Some(end) = end else {
            return Err(invalid(
                0,
                "the trace has no end line (was it cut short?)".into(),
            ));
        };
        if header.path.len() != steps.len() {
            return Err(invalid(
                1,
                format!(
                    "the header's path has {} choices but the trace has {} step lines",
                    header.path.len(),
                    steps.len()
                ),
            ));
        }
        Ok(Trace { header, steps, end })
    }
}

/// Reads a trace file.
pub fn read_trace(path: impl AsRef<Path>) -> Result<Trace, TraceError> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|source| TraceError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Trace::parse(&text, path)
}

/// Writes `contents` to `path` atomically: a temporary file in the same
/// directory, then a rename, so readers never see half a file.
pub fn write_atomically(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "kcheck".into());
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(contents)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

impl fmt::Display for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.action, &self.verb, &self.object) {
            (Some(i), verb, object) => {
                write!(f, "user action {i}")?;
                if let Some(v) = verb {
                    write!(f, ": {v}")?;
                    if let Some(o) = object {
                        write!(f, " {o}")?;
                    }
                }
                Ok(())
            }
            (None, _, Some(o)) => write!(f, "{o}"),
            (None, _, None) => f.write_str("?"),
        }
    }
}
