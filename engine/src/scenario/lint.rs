//! Load-time warnings: what a valid scenario says but probably does not
//! mean. A warning never stops a run; the caller (the command line) shows
//! them.
//!
//! Two things are looked for:
//!
//! - objects (initial, or created by a `create` or `apply` action) of a kind
//!   no controller of the scenario watches — as primary, owned or mapped
//!   kind — so nothing ever reconciles them. Kinds the server itself serves
//!   (Namespaces, CustomResourceDefinitions) and kinds that hold data rather
//!   than ask for work (ConfigMaps, Secrets: controllers read them as
//!   configuration without watching them) are left out;
//! - an invariant that names a namespace that never exists: not one the
//!   server starts with, not a Namespace among the objects, not created by
//!   an action.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde_json::Value;

use crate::api::{GroupKind, ObjectKey, Subresource, WriteRequest};
use crate::model::Model;

use super::Scenario;
use super::format::InvariantSpec;

/// Something a scenario allows but probably does not mean.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Warning {
    /// No controller of the scenario watches a kind the scenario has
    /// objects of: nothing will reconcile them.
    UnwatchedKind {
        /// The kind.
        kind: GroupKind,
        /// Its `apiVersion`, as the objects give it (`apps/v1`).
        api_version: String,
        /// The objects, `namespace/name` (or `name` when cluster-scoped;
        /// `namespace/prefix*` for a `generateName`), sorted, each once.
        objects: Vec<String>,
    },
    /// An invariant names a namespace that never exists.
    MissingNamespace {
        /// The field naming it, e.g. `invariants[2].target.namespace`.
        path: String,
        /// The namespace.
        namespace: String,
    },
}

impl Warning {
    /// A stable name for the kind of warning (`unwatched_kind`,
    /// `missing_namespace`), for machine-readable output.
    pub fn code(&self) -> &'static str {
        match self {
            Warning::UnwatchedKind { .. } => "unwatched_kind",
            Warning::MissingNamespace { .. } => "missing_namespace",
        }
    }
}

/// How many object names an [`Warning::UnwatchedKind`] message lists.
const LISTED: usize = 3;

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::UnwatchedKind {
                kind,
                api_version,
                objects,
            } => {
                let mut names = objects[..objects.len().min(LISTED)].join(", ");
                if objects.len() > LISTED {
                    names.push_str(&format!(", and {} more", objects.len() - LISTED));
                }
                let (count, them) = match objects.len() {
                    1 => ("1 object".to_string(), "it"),
                    n => (format!("{n} objects"), "them"),
                };
                write!(
                    f,
                    "no controller watches {} ({api_version}): {count} ({names}) will never be reconciled; add a controller for it or remove {them}",
                    kind.kind
                )
            }
            Warning::MissingNamespace { path, namespace } => write!(
                f,
                "at {path}: namespace {namespace:?} never exists (no Namespace among the objects or created by an action), so no object can be in it; add the Namespace or fix the name"
            ),
        }
    }
}

/// Kinds that are never reported as unwatched.
fn served_or_data(kind: &GroupKind) -> bool {
    matches!(
        (kind.group.as_str(), kind.kind.as_str()),
        ("", "Namespace" | "ConfigMap" | "Secret")
            | ("apiextensions.k8s.io", "CustomResourceDefinition")
    )
}

impl Scenario {
    /// The scenario's warnings, given the model [`Scenario::build`] made of
    /// it (the controllers' watches come from the model): unwatched kinds
    /// first, sorted by group and kind, then missing namespaces in file
    /// order. Empty when nothing looks wrong.
    pub fn warnings(&self, model: &Model) -> Vec<Warning> {
        let mut out = unwatched_kinds(model);
        out.extend(missing_namespaces(&self.file.invariants, model));
        out
    }
}

/// Invariants naming a namespace that never exists.
fn missing_namespaces(invariants: &[InvariantSpec], model: &Model) -> Vec<Warning> {
    let namespace_kind = GroupKind::new("", "Namespace");
    let existing: BTreeSet<String> = created_objects(model)
        .filter(|(kind, ..)| *kind == namespace_kind)
        .map(|(_, _, object)| {
            object["metadata"]["name"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
        .collect();
    let mut out = Vec::new();
    for (i, spec) in invariants.iter().enumerate() {
        let named = [
            (
                "target.namespace",
                spec.target.as_ref().and_then(|t| t.namespace.as_ref()),
            ),
            ("namespace", spec.namespace.as_ref()),
        ];
        for (field, namespace) in named {
            if let Some(ns) = namespace.filter(|ns| !ns.is_empty() && !existing.contains(*ns)) {
                out.push(Warning::MissingNamespace {
                    path: format!("invariants[{i}].{field}"),
                    namespace: ns.clone(),
                });
            }
        }
    }
    out
}

/// Objects of kinds no controller watches, one warning per kind.
fn unwatched_kinds(model: &Model) -> Vec<Warning> {
    let watched: BTreeSet<&GroupKind> = model.watches.iter().flat_map(|w| w.kinds()).collect();
    let mut unwatched: BTreeMap<GroupKind, (String, BTreeSet<String>)> = BTreeMap::new();
    for (kind, api_version, object) in created_objects(model) {
        if watched.contains(&kind) || served_or_data(&kind) {
            continue;
        }
        let entry = unwatched
            .entry(kind)
            .or_insert_with(|| (api_version.to_string(), BTreeSet::new()));
        entry.1.insert(describe(object));
    }
    unwatched
        .into_iter()
        .map(|(kind, (api_version, objects))| Warning::UnwatchedKind {
            kind,
            api_version,
            objects: objects.into_iter().collect(),
        })
        .collect()
}

/// Every object that exists at some point: the initial cluster's, then
/// those `create` and `apply` actions make, as `(kind, apiVersion, object)`.
fn created_objects(model: &Model) -> impl Iterator<Item = (GroupKind, &str, &Value)> {
    let initial = model
        .server
        .all_objects()
        .map(|(ObjectKey { kind, .. }, stored)| (kind, &stored.object));
    let acted = model.actions.iter().filter_map(|a| match &a.request {
        WriteRequest::Create { object }
        | WriteRequest::Apply {
            object,
            subresource: Subresource::Main,
            ..
        } => {
            let kind = GroupKind::from_api_version(
                object["apiVersion"].as_str().unwrap_or(""),
                object["kind"].as_str().unwrap_or(""),
            );
            Some((kind, object))
        }
        _ => None,
    });
    initial
        .chain(acted)
        .map(|(kind, object)| (kind, object["apiVersion"].as_str().unwrap_or(""), object))
}

/// `namespace/name`, `name`, or `namespace/prefix*` for a `generateName`.
fn describe(object: &Value) -> String {
    let meta = &object["metadata"];
    let name = match meta["name"].as_str().filter(|n| !n.is_empty()) {
        Some(name) => name.to_string(),
        None => format!("{}*", meta["generateName"].as_str().unwrap_or("")),
    };
    match meta["namespace"].as_str() {
        Some(ns) => format!("{ns}/{name}"),
        None => name,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::runtime::{Action, Ctx, ReconcileError, Reconciler, Watches};
    use crate::scenario::test_registry::TestRegistry;

    fn warnings(scenario: Value) -> Vec<Warning> {
        let scenario = Scenario::from_value(scenario).unwrap();
        let model = scenario.build(&TestRegistry).unwrap();
        scenario.warnings(&model)
    }

    /// An object of a kind, with the least spec the server accepts.
    fn object(api_version: &str, kind: &str, name: &str) -> Value {
        let pod = json!({"containers": [{"name": "c", "image": "nginx:1.27"}]});
        let template = |restart: &str| {
            let mut spec = pod.clone();
            spec["restartPolicy"] = json!(restart);
            json!({"metadata": {"labels": {"app": name}}, "spec": spec})
        };
        let workload = json!({"selector": {"matchLabels": {"app": name}},
                              "template": template("Always")});
        let spec = match kind {
            "Pod" => pod.clone(),
            "Deployment" | "ReplicaSet" | "StatefulSet" => workload,
            "Job" => json!({"template": template("Never")}),
            "Service" => json!({"ports": [{"port": 80}]}),
            _ => Value::Null,
        };
        let mut out = json!({"apiVersion": api_version, "kind": kind, "metadata": {"name": name}});
        if !spec.is_null() {
            out["spec"] = spec;
        }
        out
    }

    fn widget_crd() -> Value {
        json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
               "metadata": {"name": "widgets.example.com"},
               "spec": {"group": "example.com", "scope": "Namespaced",
                        "names": {"kind": "Widget", "plural": "widgets"},
                        "versions": [{"name": "v1", "served": true, "storage": true}]}})
    }

    fn unwatched(kind: GroupKind, api_version: &str, objects: &[&str]) -> Warning {
        Warning::UnwatchedKind {
            kind,
            api_version: api_version.into(),
            objects: objects.iter().map(|o| o.to_string()).collect(),
        }
    }

    #[test]
    fn objects_no_controller_watches_are_counted_per_kind() {
        let mut generated = object("apps/v1", "StatefulSet", "cache");
        generated["metadata"] = json!({"generateName": "cache-", "namespace": "prod"});
        let found = warnings(json!({
            "name": "unwatched",
            "controllers": ["kubelet"],
            "objects": [
                object("apps/v1", "StatefulSet", "db"),
                object("v1", "Pod", "web"),
                object("apps/v1", "Deployment", "web"),
                object("v1", "Namespace", "prod"),
                object("v1", "ConfigMap", "settings"),
                object("v1", "Secret", "token"),
                widget_crd(),
                object("example.com/v1", "Widget", "w"),
            ],
            "actions": [
                {"verb": "create", "object": generated},
                {"verb": "apply", "object": object("apps/v1", "StatefulSet", "db")},
                {"verb": "create", "object": object("batch/v1", "Job", "migrate")},
                {"verb": "update", "object": object("v1", "Service", "web")},
                {"verb": "delete", "target": {"kind": "Deployment", "name": "web"}}
            ]
        }));
        assert_eq!(
            found,
            [
                unwatched(
                    GroupKind::new("apps", "Deployment"),
                    "apps/v1",
                    &["default/web"]
                ),
                unwatched(
                    GroupKind::new("apps", "StatefulSet"),
                    "apps/v1",
                    &["default/db", "prod/cache-*"]
                ),
                unwatched(
                    GroupKind::new("batch", "Job"),
                    "batch/v1",
                    &["default/migrate"]
                ),
                unwatched(
                    GroupKind::new("example.com", "Widget"),
                    "example.com/v1",
                    &["default/w"]
                ),
            ]
        );
        assert_eq!(
            found[0].to_string(),
            "no controller watches Deployment (apps/v1): 1 object (default/web) will never be reconciled; add a controller for it or remove it"
        );
        assert_eq!(found[0].code(), "unwatched_kind");
    }

    #[test]
    fn a_long_list_of_unwatched_objects_is_cut_short() {
        let warning = unwatched(
            GroupKind::new("apps", "StatefulSet"),
            "apps/v1",
            &[
                "default/a",
                "default/b",
                "default/c",
                "default/d",
                "default/e",
            ],
        );
        assert_eq!(
            warning.to_string(),
            "no controller watches StatefulSet (apps/v1): 5 objects (default/a, default/b, default/c, and 2 more) will never be reconciled; add a controller for it or remove them"
        );
    }

    /// A controller that does nothing, with the watches it is given.
    struct Watching(Watches);

    impl Reconciler for Watching {
        fn name(&self) -> &str {
            "watching"
        }

        fn watches(&self) -> Watches {
            self.0.clone()
        }

        fn reconcile(&self, _: &Ctx<'_>, _: &ObjectKey) -> Result<Action, ReconcileError> {
            Ok(Action::await_change())
        }
    }

    #[test]
    fn owned_and_mapped_kinds_are_watched() {
        let scenario = Scenario::from_value(json!({
            "name": "watched",
            "controllers": [],
            "objects": [
                object("apps/v1", "ReplicaSet", "web"),
                object("v1", "Pod", "web"),
                object("v1", "Service", "web"),
            ]
        }))
        .unwrap();
        let model = scenario.build(&TestRegistry).unwrap();
        assert_eq!(scenario.warnings(&model).len(), 3);
        let watches = Watches::for_group_kind(GroupKind::new("apps", "ReplicaSet"))
            .owns_group_kind(GroupKind::new("", "Pod"))
            .watches_group_kind(GroupKind::new("", "Service"), |_| Vec::new());
        let model = model.controller(Watching(watches));
        assert_eq!(scenario.warnings(&model), []);
    }

    #[test]
    fn invariants_naming_a_namespace_that_never_exists_are_reported() {
        let found = warnings(json!({
            "name": "namespaces",
            "controllers": ["kubelet"],
            "objects": [object("v1", "Namespace", "prod")],
            "actions": [{"verb": "create", "object": object("v1", "Namespace", "staging")}],
            "invariants": [
                {"type": "exists", "target": {"kind": "Pod", "namespace": "prod", "name": "a"}},
                {"type": "absent", "target": {"kind": "Pod", "namespace": "staging", "name": "a"}},
                {"type": "absent", "target": {"kind": "Pod", "namespace": "nowhere", "name": "a"}},
                {"type": "count", "kind": "Pod", "namespace": "kube-system", "equals": 0},
                {"type": "count", "kind": "Pod", "namespace": "kube-public", "equals": 0},
                {"type": "count", "kind": "Pod", "namespace": "default", "equals": 0},
                {"type": "count", "kind": "Pod", "namespace": "ghost", "equals": 0},
                {"type": "exists", "target": {"kind": "Namespace", "name": "elsewhere"}},
                {"type": "field_absent", "target": {"kind": "Pod", "name": "a"}, "pointer": "/status"}
            ]
        }));
        assert_eq!(
            found,
            [
                Warning::MissingNamespace {
                    path: "invariants[2].target.namespace".into(),
                    namespace: "nowhere".into()
                },
                Warning::MissingNamespace {
                    path: "invariants[6].namespace".into(),
                    namespace: "ghost".into()
                },
            ]
        );
        assert_eq!(
            found[1].to_string(),
            "at invariants[6].namespace: namespace \"ghost\" never exists (no Namespace among the objects or created by an action), so no object can be in it; add the Namespace or fix the name"
        );
        assert_eq!(found[1].code(), "missing_namespace");
    }
}
