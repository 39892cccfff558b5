//! Traces: one explored path as JSON Lines (a `header` line, one `step`
//! line per step, an `end` line), self-contained with its scenario so that
//! `kcheck replay` needs nothing else. The format is a contract; see
//! `docs/trace-format.md`.
//!
//! ```
//! use kcheck_engine::api::ApiServer;
//! use kcheck_engine::explore::Mode;
//! use kcheck_engine::hash::Digest;
//! use kcheck_engine::trace::{Trace, TraceMeta, build_trace, replay_model};
//! use kcheck_engine::Model;
//! use std::path::Path;
//!
//! let model = Model::new(ApiServer::new());
//! let meta = TraceMeta {
//!     scenario: "empty".into(),
//!     scenario_hash: Digest::default(),
//!     mode: Mode::Reference,
//!     seed: 0,
//!     trial: None,
//!     finding: None,
//! };
//! let scenario = serde_json::json!({"name": "empty", "controllers": [], "objects": []});
//! let trace = build_trace(&model, &scenario, &meta, &[]).unwrap();
//! assert_eq!(trace.end.outcome, "converged");
//! let text = trace.to_jsonl();
//! let read = Trace::parse(&text, Path::new("empty.jsonl")).unwrap();
//! assert_eq!(read, trace);
//! assert_eq!(replay_model(&read, &model).unwrap().steps, 0);
//! ```

mod format;
mod record;
mod render;
mod replay;

pub use format::{
    EndLine, FORMAT_VERSION, FindingInfo, Header, KindView, Request, StepLine, Trace,
    TraceApiError, TraceError, TraceLine, TraceWrite, Triggered, read_trace, write_atomically,
};
pub use record::{TraceMeta, build_trace, write_trace};
pub use render::render;
pub use replay::{ReplayError, ReplayReport, replay, replay_model};

#[cfg(test)]
mod tests;
