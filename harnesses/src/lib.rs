//! kcheck harnesses.

pub(crate) mod common;
pub mod deployment;
pub(crate) mod dynamic;
pub(crate) mod expectations;
pub mod garbage_collector;
pub mod job;
pub mod kubelet;
pub mod namespace;
pub mod registry;
pub mod replicaset;
#[cfg(test)]
mod scenario_files;
#[cfg(test)]
pub(crate) mod testing;

pub use deployment::DeploymentController;
pub use garbage_collector::GarbageCollector;
pub use job::JobController;
pub use kubelet::Kubelet;
pub use namespace::NamespaceController;
pub use registry::{Entry, Registry, registry};
pub use replicaset::ReplicaSetController;
