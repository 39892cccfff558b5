//! The example of `docs/harnesses.md`: a controller that mirrors a
//! ConfigMap, registered, then explored in every order.

use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kcheck_engine::Model;
use kcheck_engine::api::{ApiServer, GroupKind, ObjectKey};
use kcheck_engine::client::{Api, PostParams};
use kcheck_engine::explore::{Explorer, Mode};
use kcheck_engine::runtime::{Action, Ctx, ReconcileError, Reconciler, Watches};
use kcheck_harnesses::{GarbageCollector, registry};
use serde_json::json;

/// Keeps a copy `<name>-mirror` of every ConfigMap annotated
/// `example.com/mirror: "true"`, owned by the original.
#[derive(Clone, Copy, Debug, Default)]
pub struct Mirror;

const ANNOTATION: &str = "example.com/mirror";

impl Reconciler for Mirror {
    fn name(&self) -> &str {
        "mirror"
    }

    fn watches(&self) -> Watches {
        // Reconcile ConfigMaps; a change to a mirror (a ConfigMap this
        // controller owns) triggers its original.
        Watches::for_kind::<ConfigMap>().owns::<ConfigMap>()
    }

    fn reconcile(&self, ctx: &Ctx<'_>, request: &ObjectKey) -> Result<Action, ReconcileError> {
        let namespace = request.namespace.as_deref().unwrap_or("default");
        let api: Api<ConfigMap> = Api::namespaced(ctx.client(), namespace);
        let Some(source) = api.get_opt(&request.name)? else {
            return Ok(Action::await_change()); // gone: the garbage collector deletes the mirror
        };
        let wanted = source
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(ANNOTATION))
            .is_some_and(|v| v == "true");
        if !wanted || source.metadata.deletion_timestamp.is_some() {
            return Ok(Action::await_change());
        }
        let uid = source
            .metadata
            .uid
            .clone()
            .ok_or_else(|| ReconcileError::msg("ConfigMap without uid"))?;
        let mirror = ConfigMap {
            metadata: ObjectMeta {
                name: Some(format!("{}-mirror", request.name)),
                owner_references: Some(vec![OwnerReference {
                    api_version: "v1".into(),
                    kind: "ConfigMap".into(),
                    name: request.name.clone(),
                    uid,
                    controller: Some(true),
                    block_owner_deletion: Some(true),
                }]),
                ..Default::default()
            },
            data: source.data.clone(),
            ..Default::default()
        };
        let name = format!("{}-mirror", request.name);
        match api.get_opt(&name)? {
            None => {
                api.create(&PostParams::default(), &mirror)?;
            }
            Some(current) if current.data != mirror.data => {
                let mut updated = current;
                updated.data = mirror.data;
                api.replace(&name, &PostParams::default(), &updated)?; // 409 if stale: retried
            }
            Some(_) => {}
        }
        Ok(Action::await_change())
    }
}

#[test]
fn the_mirror_controller_converges_to_one_state_in_every_order() {
    let mut server = ApiServer::new();
    server
        .seed(
            json!({"apiVersion": "v1", "kind": "ConfigMap",
                   "metadata": {"name": "settings", "namespace": "default",
                                "annotations": {"example.com/mirror": "true"}},
                   "data": {"mode": "fast"}}),
            "kubectl",
        )
        .unwrap();
    let registry = registry().with("mirror", "Mirrors annotated ConfigMaps", |_| {
        Ok(std::sync::Arc::new(Mirror))
    });
    let model = Model::new(server)
        .controller_arc(registry.build("mirror", None).unwrap())
        .controller(GarbageCollector::new());
    let report = Explorer::new(model)
        .mode(Mode::Exhaustive)
        .max_depth(20)
        .run();
    assert!(report.findings.is_empty(), "{:?}", report.findings);
    assert_eq!(report.converged.len(), 1);
    let world = &report.converged[0].world;
    let key = ObjectKey::new(
        GroupKind::new("", "ConfigMap"),
        Some("default"),
        "settings-mirror",
    );
    let mirror = &world.server.get(&key).unwrap().object;
    assert_eq!(mirror["data"], json!({"mode": "fast"}));
}
