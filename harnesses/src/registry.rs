//! The controllers kcheck knows by name, as scenario files name them.

use std::fmt;
use std::sync::Arc;

use kcheck_engine::runtime::Reconciler;
use serde_json::Value;

use crate::common::config_map;
use crate::dispatcher::Dispatcher;
use crate::evaluation::EvaluationController;
use crate::foobar::{BarController, FooController};
use crate::stepper::Stepper;
use crate::{
    DeploymentController, GarbageCollector, JobController, Kubelet, NamespaceController,
    ReplicaSetController,
};

/// Builds a controller from its optional JSON config; the error names the
/// offending config field.
pub type Build = fn(Option<&Value>) -> Result<Arc<dyn Reconciler>, String>;

/// One named controller.
#[derive(Clone, Copy)]
pub struct Entry {
    /// The name scenario files use.
    pub name: &'static str,
    /// What it does, in one line.
    pub description: &'static str,
    /// Builds it.
    pub build: Build,
}

impl fmt::Debug for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Entry")
            .field("name", &self.name)
            .field("description", &self.description)
            .finish()
    }
}

/// The named controllers. [`registry`] gives the built-in ones; harnesses
/// add theirs with [`Registry::with`].
#[derive(Clone, Debug, Default)]
pub struct Registry {
    entries: Vec<Entry>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a controller.
    #[must_use]
    pub fn with(mut self, name: &'static str, description: &'static str, build: Build) -> Self {
        self.entries.retain(|e| e.name != name);
        self.entries.push(Entry {
            name,
            description,
            build,
        });
        self
    }

    /// Every controller, in registration order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The names, in registration order.
    pub fn names(&self) -> Vec<&'static str> {
        self.entries.iter().map(|e| e.name).collect()
    }

    /// One controller's entry.
    pub fn get(&self, name: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.name == name)
    }

    /// Builds the controller `name` with an optional config. The error
    /// lists the known names for an unknown one, or names the config field
    /// that is wrong.
    pub fn build(&self, name: &str, config: Option<&Value>) -> Result<Arc<dyn Reconciler>, String> {
        match self.get(name) {
            Some(entry) => (entry.build)(config),
            None => Err(format!(
                "unknown controller {name:?}; known controllers: {}",
                self.names().join(", ")
            )),
        }
    }
}

/// Builds a controller that takes no config (`null` or `{}` only).
fn no_config<R: Reconciler + Default + 'static>(
    name: &str,
    config: Option<&Value>,
) -> Result<Arc<dyn Reconciler>, String> {
    config_map(name, config, &[])?;
    Ok(Arc::new(R::default()))
}

/// The built-in Kubernetes controllers.
pub fn registry() -> Registry {
    Registry::new()
        .with(
            "deployment",
            "Deployments: ReplicaSets per pod template, rolling update and Recreate, status",
            |c| no_config::<DeploymentController>("deployment", c),
        )
        .with(
            "replicaset",
            "ReplicaSets: create and delete Pods to match replicas, adopt and release, status",
            |c| no_config::<ReplicaSetController>("replicaset", c),
        )
        .with(
            "kubelet",
            "Node agent: runs Pending Pods (Job pods to Succeeded, or Failed per config.fail)",
            |c| Ok(Arc::new(Kubelet::from_config(c)?)),
        )
        .with(
            "job",
            "Jobs: Pods up to parallelism until completions, backoffLimit, Complete/Failed",
            |c| no_config::<JobController>("job", c),
        )
        .with(
            "garbage-collector",
            "Owner references: background, foreground and orphan deletion of dependents",
            |c| Ok(Arc::new(GarbageCollector::from_config(c)?)),
        )
        .with(
            "namespace",
            "Terminating Namespaces: delete their contents, then finalize",
            |c| Ok(Arc::new(NamespaceController::from_config(c)?)),
        )
        .with(
            "evaluation",
            "EvaluationJobs (seed): create a Job, then record it in status; config.idempotent fixes the duplicate-Job bug",
            |c| Ok(Arc::new(EvaluationController::from_config(c)?)),
        )
        .with(
            "dispatcher",
            "EvaluationJobs (seed): run each as a Job, at most config.max_active at once, counted from the cache",
            |c| Ok(Arc::new(Dispatcher::from_config(c)?)),
        )
        .with(
            "foo",
            "Foos: A-1, then A-Final or B-Final depending on what it sees of its Bar",
            |c| no_config::<FooController>("foo", c),
        )
        .with(
            "bar",
            "Bars: set mode B once the Foo is seen at A-1",
            |c| no_config::<BarController>("bar", c),
        )
        .with(
            "stepper",
            "Advances a ConfigMap's data.stage to 3, one stage per reconcile (config.mode edge or level)",
            |c| Ok(Arc::new(Stepper::from_config(c)?)),
        )
}

impl kcheck_engine::scenario::ControllerRegistry for Registry {
    fn build(&self, name: &str, config: Option<&Value>) -> Result<Arc<dyn Reconciler>, String> {
        Registry::build(self, name, config)
    }

    fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = Registry::names(self)
            .into_iter()
            .map(str::to_string)
            .collect();
        names.sort();
        names
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_builtin_builds_with_its_registered_name() {
        let registry = registry();
        for entry in registry.entries() {
            let controller = registry.build(entry.name, None).unwrap();
            assert_eq!(controller.name(), entry.name);
            assert!(!entry.description.is_empty());
        }
    }

    #[test]
    fn unknown_name_lists_the_known_ones() {
        let err = registry().build("deploymnet", None).err().unwrap();
        assert!(err.contains("\"deploymnet\""), "{err}");
        assert!(err.contains("deployment, replicaset, kubelet"), "{err}");
    }

    #[test]
    fn bad_config_names_the_field() {
        let err = registry()
            .build("kubelet", Some(&json!({"fail": "web"})))
            .err()
            .unwrap();
        assert!(err.contains("config.fail"), "{err}");
        let err = registry()
            .build("deployment", Some(&json!({"x": 1})))
            .err()
            .unwrap();
        assert!(err.contains("config.x"), "{err}");
        assert!(registry().build("deployment", Some(&json!({}))).is_ok());
    }
}
