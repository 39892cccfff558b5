//! Small controllers for the engine's own tests: each shows one behaviour
//! of the explorer in as few states as possible.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use serde_json::{Value, json};

use crate::api::{ApiServer, GroupKind, ObjectKey};
use crate::client::{Api, Patch, PatchParams, PostParams};
use crate::runtime::{Action, Ctx, ReconcileError, Reconciler, Watches};

/// The ConfigMap kind.
pub fn configmap_kind() -> GroupKind {
    GroupKind::new("", "ConfigMap")
}

/// The key of ConfigMap `name` in `default`.
pub fn cm_key(name: &str) -> ObjectKey {
    ObjectKey::new(configmap_kind(), Some("default"), name)
}

/// A server holding ConfigMaps (name → data) in `default`.
pub fn server_with(configmaps: &[(&str, Value)]) -> ApiServer {
    let mut server = ApiServer::new();
    for (name, data) in configmaps {
        let object = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": "default"}, "data": data});
        server.seed(object, "test").expect("valid ConfigMap");
    }
    server
}

fn data(cm: &ConfigMap) -> BTreeMap<String, String> {
    cm.data.clone().unwrap_or_default()
}

/// Sets `data[key] = value` on ConfigMap `target` with a merge patch,
/// only if `key` is not set yet: the first writer wins.
pub struct FirstWriter {
    /// Controller name.
    pub name: &'static str,
    /// The key it claims.
    pub key: &'static str,
    /// The value it writes.
    pub value: &'static str,
}

impl Reconciler for FirstWriter {
    fn name(&self) -> &str {
        self.name
    }

    fn watches(&self) -> Watches {
        Watches::for_kind::<ConfigMap>()
    }

    fn reconcile(&self, ctx: &Ctx<'_>, request: &ObjectKey) -> Result<Action, ReconcileError> {
        let cms: Api<ConfigMap> = Api::namespaced(ctx.client(), "default");
        let Some(cm) = cms.get_opt(&request.name)? else {
            return Ok(Action::await_change());
        };
        if !data(&cm).contains_key(self.key) {
            let patch = json!({"data": {self.key: self.value}});
            cms.patch(
                &request.name,
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )?;
        }
        Ok(Action::await_change())
    }
}

/// Always asks to run again and writes nothing.
pub struct Spinner;

impl Reconciler for Spinner {
    fn name(&self) -> &str {
        "spinner"
    }

    fn watches(&self) -> Watches {
        Watches::for_kind::<ConfigMap>()
    }

    fn reconcile(&self, _ctx: &Ctx<'_>, _request: &ObjectKey) -> Result<Action, ReconcileError> {
        Ok(Action::requeue())
    }
}

/// Increments `data.n` on every reconcile: never converges, never repeats.
pub struct Counter;

impl Reconciler for Counter {
    fn name(&self) -> &str {
        "counter"
    }

    fn watches(&self) -> Watches {
        Watches::for_kind::<ConfigMap>()
    }

    fn reconcile(&self, ctx: &Ctx<'_>, request: &ObjectKey) -> Result<Action, ReconcileError> {
        let cms: Api<ConfigMap> = Api::namespaced(ctx.client(), "default");
        let cm = cms.get(&request.name)?;
        let n: u64 = data(&cm).get("n").and_then(|s| s.parse().ok()).unwrap_or(0);
        let patch = json!({"data": {"n": (n + 1).to_string()}});
        cms.patch(
            &request.name,
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )?;
        Ok(Action::await_change())
    }
}

/// Creates ConfigMap `<name>-a`, then fails unless `<name>-b` exists yet;
/// on a later run creates `<name>-b`... only after the first failure.
/// Shows that writes before an error stay and the request is retried.
pub struct FailsHalfway;

impl Reconciler for FailsHalfway {
    fn name(&self) -> &str {
        "fails-halfway"
    }

    fn watches(&self) -> Watches {
        Watches::for_kind::<ConfigMap>()
    }

    fn reconcile(&self, ctx: &Ctx<'_>, request: &ObjectKey) -> Result<Action, ReconcileError> {
        if request.name != "source" {
            return Ok(Action::await_change());
        }
        let cms: Api<ConfigMap> = Api::namespaced(ctx.client(), "default").live();
        if cms.get_opt("first")?.is_none() {
            let mut cm = ConfigMap::default();
            cm.metadata.name = Some("first".into());
            cms.create(&PostParams::default(), &cm)?;
            return Err(ReconcileError::msg("the second write is not possible yet"));
        }
        if cms.get_opt("second")?.is_none() {
            let mut cm = ConfigMap::default();
            cm.metadata.name = Some("second".into());
            cms.create(&PostParams::default(), &cm)?;
        }
        Ok(Action::await_change())
    }
}

/// Panics when it sees ConfigMap `boom`.
pub struct Panicker;

impl Reconciler for Panicker {
    fn name(&self) -> &str {
        "panicker"
    }

    fn watches(&self) -> Watches {
        Watches::for_kind::<ConfigMap>()
    }

    fn reconcile(&self, _ctx: &Ctx<'_>, request: &ObjectKey) -> Result<Action, ReconcileError> {
        if request.name == "boom" {
            panic!("cannot handle {}", request.name);
        }
        Ok(Action::await_change())
    }
}
