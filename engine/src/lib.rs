//! kcheck-engine: the in-memory API server, controller runtime and explorer
//! of kcheck, a deterministic model checker for Kubernetes controllers.

pub mod api;
pub mod client;
pub mod explore;
pub mod faults;
pub mod hash;
pub mod hunt;
pub mod invariants;
pub mod model;
pub mod runtime;
pub mod scenario;
pub mod staleness;
#[cfg(test)]
pub(crate) mod test_util;
pub mod trace;

pub use model::{ActionTiming, Choice, Model, UserAction};
