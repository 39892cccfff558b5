//! A registry of no-op controllers for the scenario tests, named like the
//! harness controllers the design's examples use.

use std::sync::Arc;

use serde_json::Value;

use crate::api::{GroupKind, ObjectKey};
use crate::runtime::{Action, Ctx, ReconcileError, Reconciler, Watches};

use super::ControllerRegistry;

/// A controller that watches one kind and does nothing.
pub(crate) struct Noop {
    name: String,
    primary: GroupKind,
}

impl Reconciler for Noop {
    fn name(&self) -> &str {
        &self.name
    }

    fn watches(&self) -> Watches {
        Watches::for_group_kind(self.primary.clone())
    }

    fn reconcile(&self, _ctx: &Ctx<'_>, _request: &ObjectKey) -> Result<Action, ReconcileError> {
        Ok(Action::await_change())
    }
}

/// `deployment`, `garbage-collector`, `kubelet`, `replicaset`; each takes
/// an optional config `{"verbose": bool}`.
pub(crate) struct TestRegistry;

const CONTROLLERS: [(&str, &str, &str); 4] = [
    ("deployment", "apps", "Deployment"),
    ("garbage-collector", "", "ConfigMap"),
    ("kubelet", "", "Pod"),
    ("replicaset", "apps", "ReplicaSet"),
];

impl ControllerRegistry for TestRegistry {
    fn build(&self, name: &str, config: Option<&Value>) -> Result<Arc<dyn Reconciler>, String> {
        let Some(&(_, group, kind)) = CONTROLLERS.iter().find(|(n, _, _)| *n == name) else {
            return Err(format!(
                "unknown controller {name:?}; known: {}",
                self.names().join(", ")
            ));
        };
        if let Some(config) = config {
            let Some(map) = config.as_object() else {
                return Err("config must be a map".into());
            };
            for (k, v) in map {
                match k.as_str() {
                    "verbose" if v.is_boolean() => {}
                    "verbose" => return Err("config.verbose: expected a boolean".into()),
                    other => return Err(format!("config.{other}: unknown field")),
                }
            }
        }
        Ok(Arc::new(Noop {
            name: name.to_string(),
            primary: GroupKind::new(group, kind),
        }))
    }

    fn names(&self) -> Vec<String> {
        CONTROLLERS.iter().map(|(n, _, _)| n.to_string()).collect()
    }
}
