//! The namespace controller (`pkg/controller/namespace` in Kubernetes).
//!
//! Modelled: a Namespace with a `deletionTimestamp` has every object in it
//! deleted (background propagation), for every namespaced kind the server
//! serves: the built-in table and the cluster's CustomResourceDefinitions.
//! Objects held by finalizers stay until their finalizers go; once nothing
//! remains in the namespace, `kubernetes` is removed from the Namespace's
//! `spec.finalizers` through the `/finalize` subresource, which lets the
//! server remove it. The API server already
//! forbids new objects in a terminating namespace.
//!
//! Triggers: the Namespace itself, and objects of the watched kinds that
//! are being deleted (their namespace is requested when they change or
//! go), so that a namespace waiting on finalizers hears of it. Watched
//! kinds: every namespaced built-in kind; config `{"kinds": ["Kind.group",
//! ...]}` adds custom resource kinds whose objects may carry finalizers.
//!
//! Left out: the Namespace status conditions (`NamespaceDeletionDiscoveryFailure`,
//! `NamespaceContentRemaining`, `NamespaceFinalizersRemaining`, ...), the
//! estimate of remaining graceful-termination time, and `DeleteCollection`
//! (objects are deleted one by one).

use std::sync::Arc;

use k8s_openapi::api::core::v1::Namespace;
use kcheck_engine::api::{GroupKind, KindRegistry, ObjectKey, meta};
use kcheck_engine::client::{Api, DeleteParams, ListParams, PostParams, PropagationPolicy};
use kcheck_engine::runtime::{Action, Ctx, ReconcileError, Reconciler, Watches};
use serde_json::Value;

use crate::common::{config_map, config_strings, is_deleting};
use crate::dynamic::{Kinds, parse_kind, scoped};

/// The finalizer the namespace controller owns in `spec.finalizers`.
pub const KUBERNETES_FINALIZER: &str = "kubernetes";

/// The namespace controller.
#[derive(Clone, Debug)]
pub struct NamespaceController {
    watched: Vec<GroupKind>,
    builtin: Arc<KindRegistry>,
}

impl Default for NamespaceController {
    fn default() -> Self {
        let builtin = KindRegistry::builtin();
        let watched = builtin
            .iter()
            .filter(|i| i.namespaced)
            .map(|i| i.group_kind.clone())
            .collect();
        NamespaceController {
            watched,
            builtin: Arc::new(builtin),
        }
    }
}

impl NamespaceController {
    /// A controller watching the built-in namespaced kinds.
    pub fn new() -> Self {
        Self::default()
    }

    /// From a registry config: `{"kinds": ["Kind.group", ...]}` adds
    /// watched kinds.
    pub fn from_config(config: Option<&Value>) -> Result<Self, String> {
        let map = config_map("namespace", config, &["kinds"])?;
        let mut controller = NamespaceController::new();
        for (i, kind) in config_strings("namespace", &map, "kinds")?
            .iter()
            .enumerate()
        {
            let parsed = parse_kind(kind).ok_or_else(|| {
                format!("controller \"namespace\": config.kinds[{i}]: {kind:?} is not Kind or Kind.group")
            })?;
            if !controller.watched.contains(&parsed) {
                controller.watched.push(parsed);
            }
        }
        Ok(controller)
    }
}

/// A deleting object's namespace, as a request.
fn namespace_of_deleting(object: &Value) -> Vec<ObjectKey> {
    match meta::namespace(object) {
        Some(ns) if meta::is_deleting(object) => {
            vec![ObjectKey::new(GroupKind::new("", "Namespace"), None, ns)]
        }
        _ => Vec::new(),
    }
}

impl Reconciler for NamespaceController {
    fn name(&self) -> &str {
        "namespace"
    }

    fn watches(&self) -> Watches {
        let mut watches = Watches::for_kind::<Namespace>();
        for kind in &self.watched {
            watches = watches.watches_group_kind(kind.clone(), namespace_of_deleting);
        }
        watches
    }

    fn reconcile(&self, ctx: &Ctx<'_>, request: &ObjectKey) -> Result<Action, ReconcileError> {
        let client = ctx.client();
        let namespaces: Api<Namespace> = Api::all(client);
        let Some(ns) = namespaces.get_opt(&request.name)? else {
            return Ok(Action::await_change());
        };
        if !is_deleting(&ns.metadata) {
            return Ok(Action::await_change());
        }
        let kinds = Kinds::read(client, &self.builtin)?;
        let mut remaining = 0;
        for info in kinds.iter().filter(|i| i.namespaced) {
            remaining += delete_all(ctx, info, &request.name)?;
        }
        if remaining == 0 {
            finalize(&namespaces, ns)?;
        }
        Ok(Action::await_change())
    }
}

/// Deletes every object of a kind in the namespace; returns how many are
/// still there (held by finalizers).
fn delete_all(
    ctx: &Ctx<'_>,
    info: &kcheck_engine::api::KindInfo,
    namespace: &str,
) -> Result<usize, ReconcileError> {
    let api = scoped(ctx.client(), info, Some(namespace));
    let params = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Background),
        ..Default::default()
    };
    let mut remaining = 0;
    for object in api.list(&ListParams::default())? {
        if is_deleting(&object.metadata) {
            remaining += 1;
            continue;
        }
        let name = object.metadata.name.as_deref().unwrap_or_default();
        match api.delete(name, &params) {
            Ok(Some(_)) => remaining += 1,
            Ok(None) => {}
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(remaining)
}

/// Removes `kubernetes` from `spec.finalizers`.
fn finalize(namespaces: &Api<'_, Namespace>, mut ns: Namespace) -> Result<(), ReconcileError> {
    let Some(spec) = ns.spec.as_mut() else {
        return Ok(());
    };
    let before = spec.finalizers.clone().unwrap_or_default();
    let after: Vec<String> = before
        .iter()
        .filter(|f| *f != KUBERNETES_FINALIZER)
        .cloned()
        .collect();
    if after.len() == before.len() {
        return Ok(());
    }
    spec.finalizers = (!after.is_empty()).then_some(after);
    let name = ns.metadata.name.clone().unwrap_or_default();
    match namespaces.replace_finalize(&name, &PostParams::default(), &ns) {
        Ok(_) => Ok(()),
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{cluster, explore_all, get, objects, run_fifo};
    use crate::{DeploymentController, GarbageCollector, Kubelet, ReplicaSetController};
    use kcheck_engine::api::{DeleteOptions, WriteRequest};
    use kcheck_engine::{ActionTiming, Model, UserAction};
    use serde_json::json;

    fn model(server: kcheck_engine::api::ApiServer) -> Model {
        Model::new(server)
            .controller(DeploymentController)
            .controller(ReplicaSetController)
            .controller(Kubelet::new())
            .controller(GarbageCollector::new())
            .controller(NamespaceController::new())
    }

    #[test]
    fn deleting_a_namespace_deletes_its_contents_then_the_namespace() {
        let objects_in = |ns: &str| {
            vec![
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
                json!({"apiVersion": "apps/v1", "kind": "Deployment",
                       "metadata": {"name": "web", "namespace": ns},
                       "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                                "template": {"metadata": {"labels": {"app": "web"}},
                                             "spec": {"containers": [{"name": "web", "image": "nginx"}]}}}}),
                json!({"apiVersion": "v1", "kind": "ConfigMap",
                       "metadata": {"name": "held", "namespace": ns, "finalizers": ["example.com/hold"]}}),
            ]
        };
        let server = run_fifo(&model(cluster(&objects_in("shop")))).server;
        assert_eq!(objects(&server, "", "Pod", "shop").len(), 1);
        let ns_key = ObjectKey::new(GroupKind::new("", "Namespace"), None, "shop");
        let cm_key = ObjectKey::new(GroupKind::new("", "ConfigMap"), Some("shop"), "held");
        let delete = UserAction {
            timing: ActionTiming::AtDepth(0),
            request: WriteRequest::Delete {
                key: ns_key,
                options: DeleteOptions::default(),
            },
            field_manager: "kubectl".into(),
        };
        let release = UserAction {
            timing: ActionTiming::Settled,
            request: WriteRequest::Patch {
                key: cm_key,
                patch: kcheck_engine::api::PatchBody::Merge(
                    json!({"metadata": {"finalizers": null}}),
                ),
                subresource: kcheck_engine::api::Subresource::Main,
            },
            field_manager: "kubectl".into(),
        };
        let report = explore_all(model(server).action(delete).action(release), 80);
        let end = &report.converged[0].world.server;
        assert!(get(end, "", "Namespace", None, "shop").is_none());
        assert!(objects(end, "", "Pod", "shop").is_empty());
        assert!(objects(end, "apps", "Deployment", "shop").is_empty());
        assert!(get(end, "", "Namespace", None, "default").is_some());
    }

    #[test]
    fn a_namespace_waits_for_objects_held_by_finalizers() {
        let server = cluster(&[
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}),
            json!({"apiVersion": "v1", "kind": "ConfigMap",
                   "metadata": {"name": "held", "namespace": "shop", "finalizers": ["example.com/hold"]}}),
        ]);
        let delete = UserAction {
            timing: ActionTiming::AtDepth(0),
            request: WriteRequest::Delete {
                key: ObjectKey::new(GroupKind::new("", "Namespace"), None, "shop"),
                options: DeleteOptions::default(),
            },
            field_manager: "kubectl".into(),
        };
        let end = run_fifo(
            &Model::new(server)
                .controller(NamespaceController::new())
                .action(delete),
        )
        .server;
        let ns = get(&end, "", "Namespace", None, "shop").expect("still terminating");
        assert_eq!(ns["spec"]["finalizers"], json!(["kubernetes"]));
        let cm = get(&end, "", "ConfigMap", Some("shop"), "held").unwrap();
        assert!(cm["metadata"]["deletionTimestamp"].is_string());
    }
}
