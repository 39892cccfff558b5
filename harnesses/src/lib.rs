//! kcheck harnesses.

pub(crate) mod common;
pub mod deployment;
pub(crate) mod expectations;
pub mod kubelet;
pub mod replicaset;
#[cfg(test)]
pub(crate) mod testing;

pub use deployment::DeploymentController;
pub use kubelet::Kubelet;
pub use replicaset::ReplicaSetController;
