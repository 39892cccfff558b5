//! The garbage collector (`pkg/controller/garbagecollector` in Kubernetes):
//! deletes objects whose owners are gone, and carries out foreground and
//! orphan deletion.
//!
//! Design: a kcheck reconciler has one primary kind, but the collector
//! works on every kind. It watches each kind of its list with a mapper that
//! turns an object's event into requests naming the object itself (whatever
//! its kind) and each owner it references with `blockOwnerDeletion` (so an
//! owner waiting in foreground deletion hears of its dependents going). A
//! request names any object; the reconcile looks it up:
//!
//! - **gone**: the objects naming it as an owner are checked as below
//!   (background deletion: the owner went first, its dependents follow);
//! - **being deleted with the `orphan` finalizer**: its uid is removed from
//!   every dependent's ownerReferences, then the finalizer;
//! - **being deleted with the `foregroundDeletion` finalizer**: while a
//!   dependent with `blockOwnerDeletion` remains, its dependents are checked
//!   as below (and so deleted); once none remains, the finalizer is removed
//!   and the server removes the owner;
//! - **otherwise** it is checked as a dependent, as Kubernetes'
//!   `attemptToDeleteItem`: each owner is resolved by a live read
//!   (Kubernetes' collector reads owners from the server, not its cache):
//!   absent or with another uid is *dangling*, being deleted in the
//!   foreground is *waiting*, anything else is *solid*. With a solid owner,
//!   references to dangling and waiting owners are removed; without one,
//!   the object is deleted (in the foreground if an owner is waiting and it
//!   has dependents of its own, else as its own finalizers ask, else in the
//!   background), with a uid precondition.
//!
//! Scope follows Kubernetes: a namespaced owner is looked up in the
//! dependent's namespace; a cluster-scoped owner may own namespaced and
//! cluster-scoped dependents; a cluster-scoped dependent naming a namespaced
//! kind, or a kind the server does not serve, has an unresolvable owner and
//! is never collected for it.
//!
//! Kinds: Pod, ReplicaSet, Deployment, Job, ConfigMap, Secret and Service by
//! default; config `{"kinds": ["Widget.example.com", ...]}` adds more (custom
//! resources cannot be known before the scenario's CRDs are read; a request
//! may name any kind the server serves, but only listed kinds are watched
//! and searched for dependents). Owner kinds are resolved through the
//! built-in table and the cluster's CustomResourceDefinitions.
//!
//! Left out: the collector's dependency graph and its event-driven queues
//! (kcheck re-derives what it needs from the cache each reconcile),
//! `OwnerRefInvalidNamespace` events, unblocking references to break
//! foreground deletion cycles, and retry back-off.

use std::sync::Arc;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kcheck_engine::api::server::{FOREGROUND_FINALIZER, ORPHAN_FINALIZER};
use kcheck_engine::api::{GroupKind, KindInfo, KindRegistry, ObjectKey, meta};
use kcheck_engine::client::{
    Api, DeleteParams, DynamicObject, Patch, PatchParams, PropagationPolicy,
};
use kcheck_engine::runtime::{Action, Ctx, ReconcileError, Reconciler, Watches};
use kube_core::params::Preconditions;
use serde_json::{Value, json};

use crate::common::{config_map, config_strings, is_deleting, patch_owner_refs};
use crate::dynamic::{Kinds, all, key_of, parse_kind, scoped};

/// The kinds watched by default.
pub const DEFAULT_KINDS: &[&str] = &[
    "Pod",
    "ReplicaSet.apps",
    "Deployment.apps",
    "Job.batch",
    "ConfigMap",
    "Secret",
    "Service",
];

/// The garbage collector.
#[derive(Clone, Debug)]
pub struct GarbageCollector {
    kinds: Vec<GroupKind>,
    builtin: Arc<KindRegistry>,
}

impl Default for GarbageCollector {
    fn default() -> Self {
        GarbageCollector {
            kinds: DEFAULT_KINDS.iter().filter_map(|k| parse_kind(k)).collect(),
            builtin: Arc::new(KindRegistry::builtin()),
        }
    }
}

impl GarbageCollector {
    /// A collector watching the default kinds.
    pub fn new() -> Self {
        Self::default()
    }

    /// Also watches `kind`.
    #[must_use]
    pub fn watching(mut self, kind: GroupKind) -> Self {
        if !self.kinds.contains(&kind) {
            self.kinds.push(kind);
        }
        self
    }

    /// From a registry config: `{"kinds": ["Kind.group", ...]}` adds kinds.
    pub fn from_config(config: Option<&Value>) -> Result<Self, String> {
        let map = config_map("garbage-collector", config, &["kinds"])?;
        let mut gc = GarbageCollector::new();
        for (i, kind) in config_strings("garbage-collector", &map, "kinds")?
            .iter()
            .enumerate()
        {
            let parsed = parse_kind(kind).ok_or_else(|| {
                format!(
                    "controller \"garbage-collector\": config.kinds[{i}]: {kind:?} is not Kind or Kind.group"
                )
            })?;
            gc = gc.watching(parsed);
        }
        Ok(gc)
    }
}

impl Reconciler for GarbageCollector {
    fn name(&self) -> &str {
        "garbage-collector"
    }

    fn watches(&self) -> Watches {
        let primary = self
            .kinds
            .first()
            .cloned()
            .unwrap_or(GroupKind::new("", "Pod"));
        let mut watches = Watches::for_group_kind(primary);
        for kind in &self.kinds {
            let builtin = self.builtin.clone();
            watches = watches.watches_group_kind(kind.clone(), move |o| requests(&builtin, o));
        }
        watches
    }

    fn reconcile(&self, ctx: &Ctx<'_>, request: &ObjectKey) -> Result<Action, ReconcileError> {
        let gc = Collector {
            ctx,
            kinds: Kinds::read(ctx.client(), &self.builtin)?,
            watched: &self.kinds,
        };
        let Some(info) = gc.kinds.get(&request.kind) else {
            return Ok(Action::await_change());
        };
        let namespace = request.namespace.as_deref().filter(|_| info.namespaced);
        if info.namespaced && namespace.is_none() {
            return Ok(Action::await_change());
        }
        let key = ObjectKey::new(info.group_kind.clone(), namespace, request.name.clone());
        match scoped(ctx.client(), info, namespace).get_opt(&key.name)? {
            None => gc.owner_gone(&key)?,
            Some(o) if is_deleting(&o.metadata) => gc.owner_deleting(info, &o)?,
            Some(o) => gc.attempt_to_delete(info, &o)?,
        }
        Ok(Action::await_change())
    }
}

/// The requests an object's event makes: the object, and the owners it
/// blocks.
fn requests(builtin: &KindRegistry, object: &Value) -> Vec<ObjectKey> {
    let kind = |api_version: &str, kind: &str| GroupKind::from_api_version(api_version, kind);
    let (Some(api_version), Some(k), Some(name)) = (
        object.get("apiVersion").and_then(Value::as_str),
        object.get("kind").and_then(Value::as_str),
        meta::name(object),
    ) else {
        return Vec::new();
    };
    let namespace = meta::namespace(object);
    let mut out = vec![ObjectKey::new(kind(api_version, k), namespace, name)];
    for owner in meta::owner_references(object) {
        if !owner.block_owner_deletion {
            continue;
        }
        let owner_kind = kind(&owner.api_version, &owner.kind);
        // Unknown kinds (custom resources) are assumed namespaced here; the
        // reconcile drops the namespace of a cluster-scoped kind.
        let namespaced = builtin.get(&owner_kind).is_none_or(|i| i.namespaced);
        let ns = namespace.filter(|_| namespaced);
        out.push(ObjectKey::new(owner_kind, ns, owner.name));
    }
    out
}

/// An object of some kind.
struct Object<'k> {
    info: &'k KindInfo,
    object: DynamicObject,
}

/// What an owner reference resolves to.
enum Owner {
    /// Exists and is not waiting for its dependents.
    Solid,
    /// Gone, or replaced by an object with another uid.
    Dangling,
    /// Being deleted in the foreground.
    Waiting,
}

/// One reconcile of the collector.
struct Collector<'a, 'c> {
    ctx: &'a Ctx<'c>,
    kinds: Kinds,
    watched: &'a [GroupKind],
}

fn has_finalizer(meta: &ObjectMeta, finalizer: &str) -> bool {
    meta.finalizers.iter().flatten().any(|f| f == finalizer)
}

impl Collector<'_, '_> {
    /// Objects of the watched kinds (cache) with an ownerReference that
    /// `matches`, in scope of an owner in `namespace` (`None`:
    /// cluster-scoped owner, every namespace).
    fn dependents(
        &self,
        namespace: Option<&str>,
        matches: impl Fn(&OwnerReference) -> bool,
    ) -> Result<Vec<Object<'_>>, ReconcileError> {
        let mut out = Vec::new();
        for kind in self.watched {
            let Some(info) = self.kinds.get(kind) else {
                continue;
            };
            for object in all(self.ctx.client(), info).list(&Default::default())? {
                let in_scope =
                    namespace.is_none() || object.metadata.namespace.as_deref() == namespace;
                let refs = object.metadata.owner_references.iter().flatten();
                if in_scope && refs.clone().any(&matches) {
                    out.push(Object { info, object });
                }
            }
        }
        Ok(out)
    }

    /// The owner named by `key` is gone: its dependents may be garbage.
    fn owner_gone(&self, key: &ObjectKey) -> Result<(), ReconcileError> {
        let names_it = |r: &OwnerReference| {
            r.name == key.name && GroupKind::from_api_version(&r.api_version, &r.kind) == key.kind
        };
        for dep in self.dependents(key.namespace.as_deref(), names_it)? {
            self.attempt_to_delete(dep.info, &dep.object)?;
        }
        Ok(())
    }

    /// An owner being deleted: orphan or foreground deletion.
    fn owner_deleting(&self, info: &KindInfo, owner: &DynamicObject) -> Result<(), ReconcileError> {
        let meta = &owner.metadata;
        let uid = meta.uid.clone().unwrap_or_default();
        let namespace = meta.namespace.as_deref().filter(|_| info.namespaced);
        let deps = self.dependents(namespace, |r| r.uid == uid)?;
        if has_finalizer(meta, ORPHAN_FINALIZER) {
            for dep in &deps {
                self.remove_owner_refs(dep, &[uid.as_str()])?;
            }
            return self.remove_finalizer(info, owner, ORPHAN_FINALIZER);
        }
        if !has_finalizer(meta, FOREGROUND_FINALIZER) {
            return Ok(());
        }
        let blocking = deps.iter().any(|d| {
            let refs = d.object.metadata.owner_references.iter().flatten();
            refs.clone()
                .any(|r| r.uid == uid && r.block_owner_deletion == Some(true))
        });
        if !blocking {
            return self.remove_finalizer(info, owner, FOREGROUND_FINALIZER);
        }
        for dep in deps {
            self.attempt_to_delete(dep.info, &dep.object)?;
        }
        Ok(())
    }

    /// Resolves an owner reference of a dependent in `namespace` by a live
    /// read; `None` when it cannot be resolved (unknown kind, or a
    /// namespaced owner of a cluster-scoped dependent).
    fn resolve(
        &self,
        namespace: Option<&str>,
        r: &OwnerReference,
    ) -> Result<Option<Owner>, ReconcileError> {
        let kind = GroupKind::from_api_version(&r.api_version, &r.kind);
        let Some(info) = self.kinds.get(&kind) else {
            return Ok(None);
        };
        let ns = match (info.namespaced, namespace) {
            (true, None) => return Ok(None),
            (true, Some(ns)) => Some(ns),
            (false, _) => None,
        };
        let owner = scoped(self.ctx.client(), info, ns)
            .live()
            .get_opt(&r.name)?;
        Ok(Some(match owner {
            Some(o) if o.metadata.uid.as_deref() == Some(r.uid.as_str()) || r.uid.is_empty() => {
                if is_deleting(&o.metadata) && has_finalizer(&o.metadata, FOREGROUND_FINALIZER) {
                    Owner::Waiting
                } else {
                    Owner::Solid
                }
            }
            _ => Owner::Dangling,
        }))
    }

    /// Kubernetes' `attemptToDeleteItem` for one object.
    fn attempt_to_delete(
        &self,
        info: &KindInfo,
        object: &DynamicObject,
    ) -> Result<(), ReconcileError> {
        let meta = &object.metadata;
        let refs = meta.owner_references.clone().unwrap_or_default();
        if is_deleting(meta) || refs.is_empty() {
            return Ok(());
        }
        let namespace = meta.namespace.as_deref().filter(|_| info.namespaced);
        let (mut solid, mut stale, mut waiting) = (false, Vec::new(), false);
        for r in &refs {
            match self.resolve(namespace, r)? {
                None | Some(Owner::Solid) => solid = true,
                Some(Owner::Dangling) => stale.push(r.uid.as_str()),
                Some(Owner::Waiting) => {
                    waiting = true;
                    stale.push(r.uid.as_str());
                }
            }
        }
        if solid {
            if !stale.is_empty() {
                let dep = Object {
                    info,
                    object: object.clone(),
                };
                self.remove_owner_refs(&dep, &stale)?;
            }
            return Ok(());
        }
        let policy = if waiting && self.has_dependents(info, object)? {
            PropagationPolicy::Foreground
        } else if has_finalizer(meta, ORPHAN_FINALIZER) {
            PropagationPolicy::Orphan
        } else if has_finalizer(meta, FOREGROUND_FINALIZER) {
            PropagationPolicy::Foreground
        } else {
            PropagationPolicy::Background
        };
        let params = DeleteParams {
            propagation_policy: Some(policy),
            preconditions: Some(Preconditions {
                uid: meta.uid.clone(),
                resource_version: None,
            }),
            ..Default::default()
        };
        let name = meta.name.as_deref().unwrap_or_default();
        match scoped(self.ctx.client(), info, namespace).delete(name, &params) {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() || e.is_conflict() => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    fn has_dependents(
        &self,
        info: &KindInfo,
        object: &DynamicObject,
    ) -> Result<bool, ReconcileError> {
        let uid = object.metadata.uid.clone().unwrap_or_default();
        let namespace = object
            .metadata
            .namespace
            .as_deref()
            .filter(|_| info.namespaced);
        Ok(!self.dependents(namespace, |r| r.uid == uid)?.is_empty())
    }

    /// Removes the references with these uids from a dependent.
    fn remove_owner_refs(&self, dep: &Object<'_>, uids: &[&str]) -> Result<(), ReconcileError> {
        let meta = &dep.object.metadata;
        let mut refs = meta.owner_references.clone().unwrap_or_default();
        refs.retain(|r| !uids.contains(&r.uid.as_str()));
        let key = key_of(dep.info, &dep.object);
        let api: Api<DynamicObject> = scoped(self.ctx.client(), dep.info, key.namespace.as_deref());
        match patch_owner_refs(&api, meta, refs) {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Removes one finalizer, with the resourceVersion read as a
    /// precondition.
    fn remove_finalizer(
        &self,
        info: &KindInfo,
        object: &DynamicObject,
        finalizer: &str,
    ) -> Result<(), ReconcileError> {
        let meta = &object.metadata;
        let rest: Vec<&String> = meta
            .finalizers
            .iter()
            .flatten()
            .filter(|f| *f != finalizer)
            .collect();
        let finalizers = if rest.is_empty() {
            Value::Null
        } else {
            json!(rest)
        };
        let patch = json!({"metadata": {"finalizers": finalizers, "resourceVersion": meta.resource_version}});
        let key = key_of(info, object);
        let api = scoped(self.ctx.client(), info, key.namespace.as_deref());
        match api.patch(&key.name, &PatchParams::default(), &Patch::Merge(patch)) {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{cluster, explore_all, get, objects, pods, run_fifo};
    use crate::{DeploymentController, Kubelet, ReplicaSetController};
    use kcheck_engine::api::{ApiServer, DeleteOptions, Propagation, WriteRequest};
    use kcheck_engine::invariants::{Invariant, When};
    use kcheck_engine::{ActionTiming, Model, UserAction};

    fn deployment() -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": "web", "namespace": "default"},
               "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                        "template": {"metadata": {"labels": {"app": "web"}},
                                     "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}}})
    }

    fn controllers(server: ApiServer) -> Model {
        Model::new(server)
            .controller(DeploymentController)
            .controller(ReplicaSetController)
            .controller(Kubelet::new())
            .controller(GarbageCollector::new())
    }

    /// A Deployment rolled out to two ready pods.
    fn rolled_out() -> ApiServer {
        let server = run_fifo(&controllers(cluster(&[deployment()]))).server;
        assert_eq!(pods(&server).len(), 2);
        server
    }

    fn delete(propagation: Propagation) -> UserAction {
        UserAction {
            timing: ActionTiming::AtDepth(0),
            request: WriteRequest::Delete {
                key: ObjectKey::new(GroupKind::new("apps", "Deployment"), Some("default"), "web"),
                options: DeleteOptions {
                    propagation: Some(propagation),
                    ..Default::default()
                },
            },
            field_manager: "kubectl".into(),
        }
    }

    fn replica_sets(server: &ApiServer) -> Vec<Value> {
        objects(server, "apps", "ReplicaSet", "default")
    }

    fn deployment_exists(server: &ApiServer) -> bool {
        get(server, "apps", "Deployment", Some("default"), "web").is_some()
    }

    #[test]
    fn foreground_deletion_removes_dependents_before_the_owner() {
        let owner_last = Invariant::new("owner goes last", When::Always, |s| {
            let left = replica_sets(s).len() + pods(s).len();
            if !deployment_exists(s) && left > 0 {
                return Err(format!(
                    "the Deployment is gone but {left} dependents remain"
                ));
            }
            if replica_sets(s).is_empty() && !pods(s).is_empty() {
                return Err("the ReplicaSet is gone before its pods".into());
            }
            Ok(())
        });
        let model = controllers(rolled_out())
            .action(delete(Propagation::Foreground))
            .invariant(owner_last);
        let report = explore_all(model, 60);
        let server = &report.converged[0].world.server;
        assert!(!deployment_exists(server));
        assert!(replica_sets(server).is_empty() && pods(server).is_empty());
    }

    #[test]
    fn orphan_deletion_strips_owner_references_and_keeps_dependents() {
        let model = controllers(rolled_out()).action(delete(Propagation::Orphan));
        let report = explore_all(model, 60);
        let server = &report.converged[0].world.server;
        assert!(!deployment_exists(server));
        let rss = replica_sets(server);
        assert_eq!(rss.len(), 1);
        assert!(
            rss[0]["metadata"].get("ownerReferences").is_none(),
            "{}",
            rss[0]
        );
        let pods = pods(server);
        assert_eq!(pods.len(), 2);
        assert!(
            pods.iter()
                .all(|p| p["metadata"]["ownerReferences"][0]["kind"] == "ReplicaSet")
        );
    }

    #[test]
    fn background_deletion_deletes_dependents_after_the_owner_is_gone() {
        let model = controllers(rolled_out()).action(delete(Propagation::Background));
        let report = explore_all(model, 60);
        let server = &report.converged[0].world.server;
        assert!(!deployment_exists(server));
        assert!(replica_sets(server).is_empty() && pods(server).is_empty());
    }

    #[test]
    fn a_dependent_with_another_solid_owner_only_loses_the_dangling_reference() {
        let mut server = cluster(&[json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "keeper", "namespace": "default"}})]);
        let keeper_uid =
            get(&server, "", "ConfigMap", Some("default"), "keeper").unwrap()["metadata"]["uid"]
                .clone();
        server
            .seed(json!({"apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": "shared", "namespace": "default", "ownerReferences": [
                    {"apiVersion": "v1", "kind": "ConfigMap", "name": "keeper", "uid": keeper_uid},
                    {"apiVersion": "v1", "kind": "ConfigMap", "name": "gone", "uid": "no-such-uid"}]}}), "kubectl")
            .unwrap();
        server
            .seed(json!({"apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": "orphaned", "namespace": "default", "ownerReferences": [
                    {"apiVersion": "v1", "kind": "ConfigMap", "name": "gone", "uid": "no-such-uid"}]}}), "kubectl")
            .unwrap();
        let server = run_fifo(&Model::new(server).controller(GarbageCollector::new())).server;
        let shared = get(&server, "", "Secret", Some("default"), "shared").unwrap();
        assert_eq!(
            shared["metadata"]["ownerReferences"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
        assert_eq!(shared["metadata"]["ownerReferences"][0]["name"], "keeper");
        assert!(get(&server, "", "Secret", Some("default"), "orphaned").is_none());
    }

    #[test]
    fn config_adds_kinds_and_rejects_bad_ones() {
        let gc =
            GarbageCollector::from_config(Some(&json!({"kinds": ["Widget.example.com"]}))).unwrap();
        assert!(gc.kinds.contains(&GroupKind::new("example.com", "Widget")));
        let err = GarbageCollector::from_config(Some(&json!({"kinds": ["no good"]}))).unwrap_err();
        assert!(err.contains("config.kinds[0]"), "{err}");
    }
}
