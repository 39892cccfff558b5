//! kcheck harnesses: controllers written against kcheck's client, and the
//! registry that names them for scenario files.
//!
//! The built-in Kubernetes controllers (`deployment`, `replicaset`,
//! `kubelet`, `job`, `garbage-collector`, `namespace`) each model a real
//! controller's behaviour and say in their module documentation what they
//! leave out. `docs/harnesses.md` is the guide to writing one.
//!
//! ```
//! use kcheck_engine::Model;
//! use kcheck_engine::api::ApiServer;
//! use kcheck_engine::explore::{Explorer, Mode};
//! use serde_json::json;
//!
//! let mut server = ApiServer::new();
//! server.seed(json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
//!     "metadata": {"name": "web", "namespace": "default"},
//!     "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
//!              "template": {"metadata": {"labels": {"app": "web"}},
//!                           "spec": {"containers": [{"name": "web", "image": "nginx"}]}}}}),
//!     "kubectl").unwrap();
//! let registry = kcheck_harnesses::registry();
//! let mut model = Model::new(server);
//! for name in ["replicaset", "kubelet"] {
//!     model = model.controller_arc(registry.build(name, None).unwrap());
//! }
//! let report = Explorer::new(model).mode(Mode::Exhaustive).run();
//! assert_eq!(report.converged.len(), 1); // every order ends the same
//! assert!(registry.build("kubelet", Some(&json!({"fail": "pi"}))).is_err());
//! ```

pub(crate) mod common;
pub mod custom;
pub mod deployment;
pub mod dispatcher;
pub(crate) mod dynamic;
pub mod evaluation;
pub(crate) mod expectations;
pub mod foobar;
pub mod garbage_collector;
pub mod job;
pub mod kubelet;
pub mod namespace;
pub mod registry;
pub mod replicaset;
pub mod stepper;
#[cfg(test)]
pub(crate) mod testing;

pub use deployment::DeploymentController;
pub use garbage_collector::GarbageCollector;
pub use job::JobController;
pub use kubelet::Kubelet;
pub use namespace::NamespaceController;
pub use registry::{Entry, Registry, registry};
pub use replicaset::ReplicaSetController;
