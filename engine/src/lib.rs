//! kcheck-engine: the in-memory API server, controller runtime and explorer
//! of kcheck, a deterministic model checker for Kubernetes controllers.

pub mod api;
pub mod client;
pub mod faults;
pub mod hash;
pub mod invariants;
pub mod model;
pub mod runtime;
pub mod staleness;

pub use model::{Choice, Model, UserAction};
