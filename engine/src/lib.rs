//! kcheck-engine: the in-memory API server, controller runtime and explorer
//! of kcheck, a deterministic model checker for Kubernetes controllers.

pub mod api;
pub mod hash;
