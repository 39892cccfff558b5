//! Tests of the API server, each named after the Kubernetes behaviour it
//! checks. `docs/api-server.md` lists them by behaviour.

use std::cell::RefCell;
use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube_core::params::Preconditions;
use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;
use crate::client::{
    Api, Client, DeleteParams, ListParams, Patch, PatchParams, PostParams, PropagationPolicy,
};
use crate::hash::{StateDigest, entry_hash, object_hash};

// ----- fixtures ------------------------------------------------------------

pub(super) fn cm_key(name: &str) -> ObjectKey {
    ObjectKey::new(GroupKind::new("", "ConfigMap"), Some("default"), name)
}

pub(super) fn deploy_key(name: &str) -> ObjectKey {
    ObjectKey::new(GroupKind::new("apps", "Deployment"), Some("default"), name)
}

pub(super) fn ns_key(name: &str) -> ObjectKey {
    ObjectKey::new(GroupKind::new("", "Namespace"), None, name)
}

pub(super) fn cm_json(name: &str, data: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "default"}, "data": data})
}

pub(super) fn deploy_json(name: &str, spec: Value) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": "default"}, "spec": spec})
}

pub(super) fn deploy_spec(replicas: i64, containers: Value) -> Value {
    json!({"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
        "template": {"metadata": {"labels": {"app": "web"}},
            "spec": {"containers": containers}}})
}

fn config_map(name: &str, data: &[(&str, &str)]) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..ObjectMeta::default()
        },
        data: Some(
            data.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ),
        ..ConfigMap::default()
    }
}

fn deployment(name: &str, replicas: i64) -> Deployment {
    serde_json::from_value(deploy_json(
        name,
        deploy_spec(replicas, json!([{"name": "web", "image": "nginx:1"}])),
    ))
    .expect("a valid Deployment")
}

pub(super) fn pod_json(name: &str, labels: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "labels": labels},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]}})
}

pub(super) fn create(server: &mut ApiServer, object: Value) -> WriteResult {
    server
        .write(&WriteRequest::Create { object }, "test")
        .expect("create succeeds")
}

fn apply_as(
    server: &mut ApiServer,
    manager: &str,
    object: Value,
    force: bool,
) -> Result<WriteResult, ApiError> {
    server.write(
        &WriteRequest::Apply {
            object,
            subresource: Subresource::Main,
            force,
        },
        manager,
    )
}

pub(super) fn patch(server: &mut ApiServer, key: &ObjectKey, patch: PatchBody) -> WriteResult {
    server
        .write(
            &WriteRequest::Patch {
                key: key.clone(),
                patch,
                subresource: Subresource::Main,
            },
            "test",
        )
        .expect("patch succeeds")
}

pub(super) fn delete(
    server: &mut ApiServer,
    key: &ObjectKey,
    propagation: Option<Propagation>,
) -> WriteResult {
    let options = DeleteOptions {
        propagation,
        ..DeleteOptions::default()
    };
    server
        .write(
            &WriteRequest::Delete {
                key: key.clone(),
                options,
            },
            "test",
        )
        .expect("delete succeeds")
}

/// An object as the server shows it (with `metadata.managedFields`).
pub(super) fn object(server: &ApiServer, key: &ObjectKey) -> Value {
    server.get(key).expect("object exists").to_json()
}

/// What a server's observable state is: RV, event count, state hash.
fn marks(server: &ApiServer) -> (u64, usize, Digest) {
    (
        server.resource_version(),
        server.history().len(),
        server.content_hash(),
    )
}

fn managers(object: &Value) -> Vec<(String, String, Option<String>)> {
    object["metadata"]["managedFields"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            (
                e["manager"].as_str().unwrap_or_default().to_string(),
                e["operation"].as_str().unwrap_or_default().to_string(),
                e["subresource"].as_str().map(str::to_string),
            )
        })
        .collect()
}

// ----- optimistic concurrency and creation -------------------------------

#[test]
fn update_with_stale_resource_version_conflicts() {
    let server = RefCell::new(ApiServer::new());
    let cms: Api<ConfigMap> = Api::namespaced(Client::new(&server, "test"), "default");
    let created = cms
        .create(&PostParams::default(), &config_map("a", &[("k", "1")]))
        .unwrap();
    let mut fresh = created.clone();
    fresh.data = Some([("k".to_string(), "2".to_string())].into());
    cms.replace("a", &PostParams::default(), &fresh).unwrap();

    let mut stale = created;
    stale.data = Some([("k".to_string(), "3".to_string())].into());
    let err = cms
        .replace("a", &PostParams::default(), &stale)
        .unwrap_err();
    assert!(err.is_conflict(), "{err}");
    assert_eq!(err.api().unwrap().code(), 409);
    assert_eq!(
        err.api().unwrap().message,
        "Operation cannot be fulfilled on configmaps \"a\": the object has been modified; \
         please apply your changes to the latest version and try again"
    );
    assert_eq!(cms.get("a").unwrap().data.unwrap()["k"], "2");
}

#[test]
fn update_without_resource_version_is_unconditional() {
    let server = RefCell::new(ApiServer::new());
    let cms: Api<ConfigMap> = Api::namespaced(Client::new(&server, "test"), "default");
    cms.create(&PostParams::default(), &config_map("a", &[("k", "1")]))
        .unwrap();
    cms.replace("a", &PostParams::default(), &config_map("a", &[("k", "2")]))
        .unwrap();
    // No resourceVersion: last write wins.
    let replaced = cms
        .replace("a", &PostParams::default(), &config_map("a", &[("k", "3")]))
        .unwrap();
    assert_eq!(replaced.data.unwrap()["k"], "3");
}

#[test]
fn create_existing_name_is_already_exists() {
    let server = RefCell::new(ApiServer::new());
    let cms: Api<ConfigMap> = Api::namespaced(Client::new(&server, "test"), "default");
    cms.create(&PostParams::default(), &config_map("a", &[]))
        .unwrap();
    let before = marks(&server.borrow());
    let err = cms
        .create(&PostParams::default(), &config_map("a", &[("k", "v")]))
        .unwrap_err();
    assert!(err.is_already_exists() && !err.is_conflict(), "{err}");
    assert_eq!(err.api().unwrap().code(), 409);
    assert_eq!(
        err.api().unwrap().message,
        "configmaps \"a\" already exists"
    );
    assert_eq!(marks(&server.borrow()), before);
}

// ----- no-op writes --------------------------------------------------------

#[test]
fn noop_update_leaves_rv_and_event_log_unchanged() {
    let server = RefCell::new(ApiServer::new());
    let cms: Api<ConfigMap> = Api::namespaced(Client::new(&server, "test"), "default");
    cms.create(&PostParams::default(), &config_map("a", &[("k", "v")]))
        .unwrap();
    let before = marks(&server.borrow());
    let current = cms.get("a").unwrap();
    let replaced = cms.replace("a", &PostParams::default(), &current).unwrap();
    assert_eq!(replaced, current);
    // Another manager writing the same content is a no-op too.
    let pp = PostParams {
        field_manager: Some("other".into()),
        ..PostParams::default()
    };
    cms.replace("a", &pp, &config_map("a", &[("k", "v")]))
        .unwrap();
    assert_eq!(marks(&server.borrow()), before);
}

#[test]
fn noop_merge_patch_leaves_rv_and_event_log_unchanged() {
    let mut server = ApiServer::new();
    create(&mut server, cm_json("a", json!({"k": "v"})));
    let before = marks(&server);
    let result = patch(
        &mut server,
        &cm_key("a"),
        PatchBody::Merge(json!({"data": {"k": "v"}, "metadata": {"labels": null}})),
    );
    assert!(result.noop && result.event.is_none());
    assert_eq!(marks(&server), before);
}

#[test]
fn noop_apply_leaves_rv_and_event_log_unchanged() {
    let server = RefCell::new(ApiServer::new());
    let deployments: Api<Deployment> = Api::namespaced(Client::new(&server, "test"), "default");
    let pp = PatchParams::apply("ctrl");
    let desired = deployment("web", 2);
    let first = deployments
        .patch("web", &pp, &Patch::Apply(&desired))
        .unwrap();
    let before = marks(&server.borrow());
    let second = deployments
        .patch("web", &pp, &Patch::Apply(&desired))
        .unwrap();
    assert_eq!(first, second);
    assert_eq!(marks(&server.borrow()), before);
}

// ----- generation and the status subresource -----------------------------

#[test]
fn generation_bumps_on_spec_change_not_on_metadata_or_status() {
    let server = RefCell::new(ApiServer::new());
    let deployments: Api<Deployment> = Api::namespaced(Client::new(&server, "test"), "default");
    let created = deployments
        .create(&PostParams::default(), &deployment("web", 1))
        .unwrap();
    assert_eq!(created.metadata.generation, Some(1));

    let labelled = deployments
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"tier": "front"}}})),
        )
        .unwrap();
    assert_eq!(labelled.metadata.generation, Some(1));

    let with_status = deployments
        .patch_status(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"observedGeneration": 1, "replicas": 1}})),
        )
        .unwrap();
    assert_eq!(with_status.metadata.generation, Some(1));
    assert_eq!(with_status.status.unwrap().replicas, Some(1));

    let scaled = deployments
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 3}})),
        )
        .unwrap();
    assert_eq!(scaled.metadata.generation, Some(2));
}

#[test]
fn status_update_ignores_spec_changes() {
    let server = RefCell::new(ApiServer::new());
    let deployments: Api<Deployment> = Api::namespaced(Client::new(&server, "test"), "default");
    let mut d = deployments
        .create(&PostParams::default(), &deployment("web", 1))
        .unwrap();
    d.spec.as_mut().unwrap().replicas = Some(5);
    d.metadata.labels = Some([("tier".to_string(), "front".to_string())].into());
    d.status = Some(serde_json::from_value(json!({"replicas": 1})).unwrap());
    let updated = deployments
        .replace_status("web", &PostParams::default(), &d)
        .unwrap();
    assert_eq!(updated.spec.unwrap().replicas, Some(1));
    assert_eq!(updated.metadata.labels, None);
    assert_eq!(updated.status.unwrap().replicas, Some(1));
    assert_eq!(updated.metadata.generation, Some(1));
}

#[test]
fn main_update_ignores_status_for_kinds_with_status_subresource() {
    let server = RefCell::new(ApiServer::new());
    let deployments: Api<Deployment> = Api::namespaced(Client::new(&server, "test"), "default");
    let mut d = deployment("web", 1);
    d.status = Some(serde_json::from_value(json!({"replicas": 7})).unwrap());
    // Create drops status too.
    let mut created = deployments.create(&PostParams::default(), &d).unwrap();
    assert_eq!(created.status, None);
    created.status = d.status.clone();
    created.spec.as_mut().unwrap().replicas = Some(2);
    let updated = deployments
        .replace("web", &PostParams::default(), &created)
        .unwrap();
    assert_eq!(updated.status, None);
    assert_eq!(updated.spec.unwrap().replicas, Some(2));
}

#[test]
fn status_write_on_kind_without_status_subresource_is_not_found() {
    let server = RefCell::new(ApiServer::new());
    let cms: Api<ConfigMap> = Api::namespaced(Client::new(&server, "test"), "default");
    let created = cms
        .create(&PostParams::default(), &config_map("a", &[]))
        .unwrap();
    let err = cms
        .replace_status("a", &PostParams::default(), &created)
        .unwrap_err();
    assert!(err.is_not_found(), "{err}");
    let err = cms
        .patch_status(
            "a",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {}})),
        )
        .unwrap_err();
    assert!(err.is_not_found(), "{err}");
}

#[test]
fn status_apply_keeps_fields_applied_to_the_main_resource() {
    let mut server = ApiServer::new();
    let spec = deploy_spec(2, json!([{"name": "web", "image": "nginx:1"}]));
    apply_as(&mut server, "ctrl", deploy_json("web", spec.clone()), false).unwrap();
    let status = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"}, "status": {"replicas": 2}});
    let result = server
        .write(
            &WriteRequest::Apply {
                object: status.clone(),
                subresource: Subresource::Status,
                force: false,
            },
            "ctrl",
        )
        .unwrap();
    let stored = &result.object.to_json();
    assert_eq!(stored["spec"], spec);
    assert_eq!(stored["status"], json!({"replicas": 2}));
    assert_eq!(stored["metadata"]["generation"], 1);
    assert_eq!(
        managers(stored),
        [
            ("ctrl".into(), "Apply".into(), None),
            ("ctrl".into(), "Apply".into(), Some("status".into())),
        ]
    );
    // Re-applying either is a no-op.
    let before = marks(&server);
    apply_as(&mut server, "ctrl", deploy_json("web", spec), false).unwrap();
    server
        .write(
            &WriteRequest::Apply {
                object: status,
                subresource: Subresource::Status,
                force: false,
            },
            "ctrl",
        )
        .unwrap();
    assert_eq!(marks(&server), before);
}

#[test]
fn status_apply_conflicts_with_another_status_manager() {
    let mut server = ApiServer::new();
    let spec = deploy_spec(2, json!([{"name": "web", "image": "nginx:1"}]));
    create(&mut server, deploy_json("web", spec));
    let status_apply = |replicas: i64, force: bool| WriteRequest::Apply {
        object: json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default"},
            "status": {"replicas": replicas}}),
        subresource: Subresource::Status,
        force,
    };
    server.write(&status_apply(1, false), "kubelet").unwrap();
    let err = server.write(&status_apply(2, false), "ctrl").unwrap_err();
    assert!(
        err.is_conflict() && err.message.contains("\"kubelet\""),
        "{err}"
    );
    server.write(&status_apply(2, true), "ctrl").unwrap();
    assert_eq!(object(&server, &deploy_key("web"))["status"]["replicas"], 2);
}

// ----- deletion ------------------------------------------------------------

fn held_config_map(server: &mut ApiServer, name: &str) {
    let mut cm = cm_json(name, json!({}));
    cm["metadata"]["finalizers"] = json!(["example.com/hold"]);
    create(server, cm);
}

#[test]
fn deletion_with_finalizer_sets_deletion_timestamp_and_keeps_object() {
    let mut server = ApiServer::new();
    held_config_map(&mut server, "a");
    server.tick();
    let rv = server.resource_version();
    let result = delete(&mut server, &cm_key("a"), None);
    assert!(!result.noop);
    assert_eq!(
        result.event.as_ref().unwrap().event_type,
        EventType::Modified
    );
    let stored = object(&server, &cm_key("a"));
    assert_eq!(stored["metadata"]["deletionTimestamp"], server.now());
    assert_eq!(stored["metadata"]["deletionGracePeriodSeconds"], 0);
    assert_eq!(
        stored["metadata"]["finalizers"],
        json!(["example.com/hold"])
    );
    assert_eq!(stored["metadata"]["resourceVersion"], (rv + 1).to_string());
    // Deleting again changes nothing.
    let before = marks(&server);
    assert!(delete(&mut server, &cm_key("a"), None).noop);
    assert_eq!(marks(&server), before);
}

#[test]
fn removing_last_finalizer_deletes_object() {
    let server = RefCell::new(ApiServer::new());
    held_config_map(&mut server.borrow_mut(), "a");
    let cms: Api<ConfigMap> = Api::namespaced(Client::new(&server, "test"), "default");
    let deleting = cms.delete("a", &DeleteParams::default()).unwrap();
    assert!(deleting.unwrap().metadata.deletion_timestamp.is_some());
    cms.patch(
        "a",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .unwrap();
    assert!(cms.get("a").unwrap_err().is_not_found());
    let server = server.borrow();
    let last = server.history().back().unwrap();
    assert_eq!(last.event_type, EventType::Deleted);
    assert_eq!(last.key, cm_key("a"));
}

#[test]
fn no_new_finalizers_while_deleting() {
    let mut server = ApiServer::new();
    held_config_map(&mut server, "a");
    delete(&mut server, &cm_key("a"), None);
    let before = marks(&server);
    let err = server
        .write(
            &WriteRequest::Patch {
                key: cm_key("a"),
                patch: PatchBody::Merge(
                    json!({"metadata": {"finalizers": ["example.com/hold", "example.com/new"]}}),
                ),
                subresource: Subresource::Main,
            },
            "test",
        )
        .unwrap_err();
    assert!(
        err.is_invalid() && err.message.contains("no new finalizers"),
        "{err}"
    );
    assert_eq!(marks(&server), before);
}

#[test]
fn foreground_delete_adds_foreground_finalizer() {
    let server = RefCell::new(ApiServer::new());
    let cms: Api<ConfigMap> = Api::namespaced(Client::new(&server, "test"), "default");
    cms.create(&PostParams::default(), &config_map("a", &[]))
        .unwrap();
    let kept = cms
        .delete("a", &DeleteParams::foreground())
        .unwrap()
        .unwrap();
    assert_eq!(
        kept.metadata.finalizers,
        Some(vec![FOREGROUND_FINALIZER.to_string()])
    );
    assert!(kept.metadata.deletion_timestamp.is_some());
    assert!(cms.get("a").is_ok());
}

#[test]
fn orphan_delete_adds_orphan_finalizer() {
    let server = RefCell::new(ApiServer::new());
    let cms: Api<ConfigMap> = Api::namespaced(Client::new(&server, "test"), "default");
    cms.create(&PostParams::default(), &config_map("a", &[]))
        .unwrap();
    let dp = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Orphan),
        ..DeleteParams::default()
    };
    let kept = cms.delete("a", &dp).unwrap().unwrap();
    assert_eq!(
        kept.metadata.finalizers,
        Some(vec![ORPHAN_FINALIZER.to_string()])
    );
    assert!(kept.metadata.deletion_timestamp.is_some());
}

#[test]
fn background_delete_without_finalizers_removes_at_once() {
    let server = RefCell::new(ApiServer::new());
    let cms: Api<ConfigMap> = Api::namespaced(Client::new(&server, "test"), "default");
    cms.create(&PostParams::default(), &config_map("a", &[]))
        .unwrap();
    assert_eq!(cms.delete("a", &DeleteParams::background()).unwrap(), None);
    assert!(cms.get("a").unwrap_err().is_not_found());
    let server = server.borrow();
    let last = server.history().back().unwrap();
    assert_eq!(last.event_type, EventType::Deleted);
    assert_eq!(last.rv, server.resource_version());
    assert!(
        last.object.object["metadata"]
            .get("deletionTimestamp")
            .is_none()
    );
}

#[test]
fn delete_precondition_uid_mismatch_conflicts() {
    let server = RefCell::new(ApiServer::new());
    let cms: Api<ConfigMap> = Api::namespaced(Client::new(&server, "test"), "default");
    let created = cms
        .create(&PostParams::default(), &config_map("a", &[]))
        .unwrap();
    let uid = created.metadata.uid.unwrap();
    let dp = DeleteParams::default().preconditions(Preconditions {
        uid: Some("other-uid".into()),
        resource_version: None,
    });
    let err = cms.delete("a", &dp).unwrap_err();
    assert!(err.is_conflict(), "{err}");
    assert_eq!(
        err.api().unwrap().message,
        format!(
            "Operation cannot be fulfilled on configmaps \"a\": Precondition failed: \
             UID in precondition: other-uid, UID in object meta: {uid}"
        )
    );
    let dp = DeleteParams::default().preconditions(Preconditions {
        uid: None,
        resource_version: Some("1".into()),
    });
    let err = cms.delete("a", &dp).unwrap_err();
    assert!(
        err.is_conflict()
            && err
                .to_string()
                .contains("ResourceVersion in precondition: 1")
    );
    let dp = DeleteParams::default().preconditions(Preconditions {
        uid: Some(uid),
        resource_version: created.metadata.resource_version,
    });
    assert_eq!(cms.delete("a", &dp).unwrap(), None);
}

// ----- server-side apply ---------------------------------------------------

#[test]
fn ssa_removes_field_manager_stopped_applying() {
    let mut server = ApiServer::new();
    apply_as(
        &mut server,
        "m",
        cm_json("a", json!({"x": "1", "y": "2"})),
        false,
    )
    .unwrap();
    apply_as(&mut server, "other", cm_json("a", json!({"z": "3"})), false).unwrap();
    apply_as(&mut server, "m", cm_json("a", json!({"x": "1"})), false).unwrap();
    assert_eq!(
        object(&server, &cm_key("a"))["data"],
        json!({"x": "1", "z": "3"})
    );
}

#[test]
fn ssa_conflicts_on_field_owned_by_another_manager() {
    let mut server = ApiServer::new();
    let containers = json!([{"name": "web", "image": "nginx:1"}]);
    apply_as(
        &mut server,
        "alice",
        deploy_json("web", deploy_spec(1, containers.clone())),
        false,
    )
    .unwrap();
    let before = marks(&server);
    let err = apply_as(
        &mut server,
        "bob",
        deploy_json("web", json!({"replicas": 2})),
        false,
    )
    .unwrap_err();
    assert!(err.is_conflict(), "{err}");
    assert_eq!(err.code(), 409);
    assert_eq!(
        err.message,
        "Apply failed with 1 conflict: conflict with \"alice\": .spec.replicas"
    );
    assert_eq!(marks(&server), before);
    // The same value is not a conflict: ownership is shared.
    apply_as(
        &mut server,
        "bob",
        deploy_json("web", json!({"replicas": 1})),
        false,
    )
    .unwrap();
}

#[test]
fn ssa_force_takes_ownership() {
    let mut server = ApiServer::new();
    let containers = json!([{"name": "web", "image": "nginx:1"}]);
    apply_as(
        &mut server,
        "alice",
        deploy_json("web", deploy_spec(1, containers.clone())),
        false,
    )
    .unwrap();
    apply_as(
        &mut server,
        "bob",
        deploy_json("web", json!({"replicas": 2})),
        true,
    )
    .unwrap();
    let stored = object(&server, &deploy_key("web"));
    assert_eq!(stored["spec"]["replicas"], 2);
    let fields = |manager: &str| {
        stored["metadata"]["managedFields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["manager"] == manager)
            .map(|e| e["fieldsV1"]["f:spec"].clone())
            .unwrap()
    };
    assert!(fields("bob").get("f:replicas").is_some());
    assert!(fields("alice").get("f:replicas").is_none());
    // Now Alice's old value conflicts with Bob; without it, Bob's value stays.
    let err = apply_as(
        &mut server,
        "alice",
        deploy_json("web", deploy_spec(1, containers)),
        false,
    )
    .unwrap_err();
    assert!(err.message.contains("\"bob\""), "{err}");
    let mut without = deploy_spec(1, json!([{"name": "web", "image": "nginx:1"}]));
    without.as_object_mut().unwrap().remove("replicas");
    apply_as(&mut server, "alice", deploy_json("web", without), false).unwrap();
    assert_eq!(object(&server, &deploy_key("web"))["spec"]["replicas"], 2);
}

#[test]
fn ssa_merges_containers_by_name() {
    let mut server = ApiServer::new();
    apply_as(
        &mut server,
        "app",
        deploy_json(
            "web",
            deploy_spec(1, json!([{"name": "web", "image": "nginx:1"}])),
        ),
        false,
    )
    .unwrap();
    apply_as(
        &mut server,
        "mesh",
        deploy_json(
            "web",
            json!({"template": {"spec": {"containers": [{"name": "proxy", "image": "envoy"}]}}}),
        ),
        false,
    )
    .unwrap();
    apply_as(
        &mut server,
        "app",
        deploy_json(
            "web",
            deploy_spec(1, json!([{"name": "web", "image": "nginx:2"}])),
        ),
        false,
    )
    .unwrap();
    let stored = object(&server, &deploy_key("web"));
    assert_eq!(
        stored["spec"]["template"]["spec"]["containers"],
        json!([{"name": "web", "image": "nginx:2"}, {"name": "proxy", "image": "envoy"}])
    );
    assert_eq!(stored["metadata"]["generation"], 3);
}

#[test]
fn apply_creates_missing_object() {
    let mut server = ApiServer::new();
    let result = apply_as(&mut server, "m", cm_json("a", json!({"k": "v"})), false).unwrap();
    assert_eq!(result.event.unwrap().event_type, EventType::Added);
    let stored = object(&server, &cm_key("a"));
    assert_eq!(stored["data"], json!({"k": "v"}));
    assert_eq!(stored["metadata"]["uid"], uid_for(&cm_key("a"), 0));
    assert_eq!(stored["metadata"]["generation"], 1);
    assert_eq!(stored["metadata"]["creationTimestamp"], server.now());
    assert_eq!(managers(&stored), [("m".into(), "Apply".into(), None)]);
    let err = apply_as(
        &mut server,
        "m",
        json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"generateName": "a-", "namespace": "default"}}),
        false,
    )
    .unwrap_err();
    assert!(err.is_invalid(), "{err}");
}

// ----- patches -------------------------------------------------------------

#[test]
fn json_merge_patch_removes_null_fields() {
    let mut server = ApiServer::new();
    create(&mut server, cm_json("a", json!({"x": "1", "y": "2"})));
    patch(
        &mut server,
        &cm_key("a"),
        PatchBody::Merge(json!({"data": {"x": null, "z": "3"}})),
    );
    assert_eq!(
        object(&server, &cm_key("a"))["data"],
        json!({"y": "2", "z": "3"})
    );
}

#[test]
fn json_patch_operations_apply() {
    let server = RefCell::new(ApiServer::new());
    let cms: Api<ConfigMap> = Api::namespaced(Client::new(&server, "test"), "default");
    cms.create(
        &PostParams::default(),
        &config_map("a", &[("x", "1"), ("y", "2")]),
    )
    .unwrap();
    let ops: json_patch::Patch = serde_json::from_value(json!([
        {"op": "test", "path": "/data/x", "value": "1"},
        {"op": "replace", "path": "/data/x", "value": "10"},
        {"op": "remove", "path": "/data/y"},
        {"op": "add", "path": "/data/z", "value": "3"},
        {"op": "copy", "from": "/data/z", "path": "/data/w"},
    ]))
    .unwrap();
    let patched = cms
        .patch("a", &PatchParams::default(), &Patch::<()>::Json(ops))
        .unwrap();
    let expected: BTreeMap<String, String> = [("w", "3"), ("x", "10"), ("z", "3")]
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .into();
    assert_eq!(patched.data, Some(expected));
    // A failing `test` writes nothing and is 422.
    let failing: json_patch::Patch =
        serde_json::from_value(json!([{"op": "test", "path": "/data/x", "value": "1"}])).unwrap();
    let err = cms
        .patch("a", &PatchParams::default(), &Patch::<()>::Json(failing))
        .unwrap_err();
    assert!(err.api().unwrap().is_invalid(), "{err}");
}

#[test]
fn strategic_merge_patch_merges_containers_by_name() {
    let mut server = ApiServer::new();
    create(
        &mut server,
        deploy_json(
            "web",
            deploy_spec(
                1,
                json!([{"name": "web", "image": "nginx:1"}, {"name": "proxy", "image": "envoy"}]),
            ),
        ),
    );
    patch(
        &mut server,
        &deploy_key("web"),
        PatchBody::Strategic(json!({"spec": {"template": {"spec": {"containers": [
            {"name": "web", "image": "nginx:2"}, {"name": "log", "image": "fluentd"}]}}}})),
    );
    // strategicpatch.normalizeElementOrder: the patch's items keep the
    // patch's order and a new one goes before the stored items after it.
    assert_eq!(
        object(&server, &deploy_key("web"))["spec"]["template"]["spec"]["containers"],
        json!([{"name": "web", "image": "nginx:2"}, {"name": "log", "image": "fluentd"},
            {"name": "proxy", "image": "envoy"}])
    );
}

// ----- reads ---------------------------------------------------------------

#[test]
fn label_selector_in_notin_exists_and_not_key() {
    let server = RefCell::new(ApiServer::new());
    for (name, labels) in [
        ("prod-web", json!({"env": "prod", "app": "web"})),
        ("dev-web", json!({"env": "dev", "app": "web"})),
        ("test-db", json!({"env": "test", "app": "db"})),
        ("bare", json!({})),
    ] {
        create(&mut server.borrow_mut(), pod_json(name, labels));
    }
    let pods: Api<Pod> = Api::namespaced(Client::new(&server, "test"), "default");
    let names = |selector: &str| -> Vec<String> {
        pods.list(&ListParams::default().labels(selector))
            .unwrap()
            .into_iter()
            .map(|p| p.metadata.name.unwrap())
            .collect()
    };
    assert_eq!(names("env in (prod,dev)"), ["dev-web", "prod-web"]);
    assert_eq!(names("env notin (prod,dev)"), ["bare", "test-db"]);
    assert_eq!(names("app"), ["dev-web", "prod-web", "test-db"]);
    assert_eq!(names("!app"), ["bare"]);
    assert_eq!(names("app=web,env!=dev"), ["prod-web"]);
    assert!(
        pods.list(&ListParams::default().labels("env in ("))
            .is_err()
    );
}

#[test]
fn field_selector_name_and_namespace() {
    let server = RefCell::new(ApiServer::new());
    for ns in ["default", "kube-system"] {
        for name in ["a", "b"] {
            let mut cm = cm_json(name, json!({}));
            cm["metadata"]["namespace"] = json!(ns);
            create(&mut server.borrow_mut(), cm);
        }
    }
    let all: Api<ConfigMap> = Api::all(Client::new(&server, "test"));
    let found = |fields: &str| -> Vec<String> {
        all.list(&ListParams::default().fields(fields))
            .unwrap()
            .into_iter()
            .map(|c| {
                format!(
                    "{}/{}",
                    c.metadata.namespace.unwrap(),
                    c.metadata.name.unwrap()
                )
            })
            .collect()
    };
    assert_eq!(found("metadata.name=a"), ["default/a", "kube-system/a"]);
    assert_eq!(
        found("metadata.namespace=kube-system"),
        ["kube-system/a", "kube-system/b"]
    );
    assert_eq!(
        found("metadata.name!=a,metadata.namespace=default"),
        ["default/b"]
    );
    assert!(all.list(&ListParams::default().fields("spec.x=1")).is_err());
}

// ----- identity ------------------------------------------------------------

fn generated_pod() -> Value {
    json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"generateName": "web-", "namespace": "default"},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]}})
}

#[test]
fn generate_name_is_independent_of_unrelated_creation_order() {
    let run = |interleave: &[bool]| -> Vec<(String, String)> {
        let mut server = ApiServer::new();
        let mut pods = Vec::new();
        for (i, cm_first) in interleave.iter().enumerate() {
            if *cm_first {
                create(&mut server, cm_json(&format!("cm-{i}"), json!({})));
            }
            let pod = create(&mut server, generated_pod()).object.object.clone();
            pods.push((
                pod["metadata"]["name"].as_str().unwrap().to_string(),
                pod["metadata"]["uid"].as_str().unwrap().to_string(),
            ));
        }
        pods
    };
    let a = run(&[false, false, false]);
    let b = run(&[true, false, true]);
    let c = run(&[true, true, true]);
    assert_eq!(a, b);
    assert_eq!(a, c);
    for (name, _) in &a {
        assert!(name.starts_with("web-") && name.len() == 9, "{name}");
    }
    let distinct: std::collections::BTreeSet<_> = a.iter().map(|(n, _)| n).collect();
    assert_eq!(distinct.len(), 3);
}

#[test]
fn uid_is_independent_of_unrelated_creation_order() {
    let mut one = ApiServer::new();
    create(&mut one, cm_json("a", json!({})));
    create(&mut one, cm_json("b", json!({})));
    let mut two = ApiServer::new();
    create(&mut two, cm_json("b", json!({})));
    create(&mut two, cm_json("x", json!({})));
    delete(&mut two, &cm_key("x"), None);
    create(&mut two, cm_json("a", json!({})));
    for name in ["a", "b"] {
        assert_eq!(
            object(&one, &cm_key(name))["metadata"]["uid"],
            object(&two, &cm_key(name))["metadata"]["uid"]
        );
    }
    assert_ne!(
        object(&one, &cm_key("a"))["metadata"]["uid"],
        object(&one, &cm_key("b"))["metadata"]["uid"]
    );
}

#[test]
fn recreated_object_gets_a_new_uid() {
    let mut server = ApiServer::new();
    let first = create(&mut server, cm_json("a", json!({})))
        .object
        .object
        .clone();
    delete(&mut server, &cm_key("a"), None);
    let second = create(&mut server, cm_json("a", json!({})))
        .object
        .object
        .clone();
    assert_ne!(first["metadata"]["uid"], second["metadata"]["uid"]);
    assert_eq!(second["metadata"]["uid"], uid_for(&cm_key("a"), 1));
}

#[test]
fn failed_create_with_generate_name_changes_nothing() {
    let mut server = ApiServer::new();
    let before = (marks(&server), server.counters_digest());
    let mut bad = generated_pod();
    bad["metadata"]["labels"] = json!({"bad key": "x"});
    let err = server
        .write(&WriteRequest::Create { object: bad }, "test")
        .unwrap_err();
    assert!(err.is_invalid(), "{err}");
    let mut elsewhere = generated_pod();
    elsewhere["metadata"]["namespace"] = json!("missing");
    let err = server
        .write(&WriteRequest::Create { object: elsewhere }, "test")
        .unwrap_err();
    assert!(err.is_not_found(), "{err}");
    assert_eq!((marks(&server), server.counters_digest()), before);
    // So the next name is the one a fresh server gives.
    let mut fresh = ApiServer::new();
    assert_eq!(
        create(&mut server, generated_pod()).key,
        create(&mut fresh, generated_pod()).key
    );
}

// ----- namespaces and scope -----------------------------------------------

#[test]
fn create_in_missing_namespace_is_not_found() {
    let mut server = ApiServer::new();
    let mut cm = cm_json("a", json!({}));
    cm["metadata"]["namespace"] = json!("prod");
    let err = server
        .write(&WriteRequest::Create { object: cm.clone() }, "test")
        .unwrap_err();
    assert!(err.is_not_found(), "{err}");
    assert_eq!(err.message, "namespaces \"prod\" not found");
    let err = apply_as(&mut server, "m", cm, false).unwrap_err();
    assert!(err.is_not_found(), "{err}");
}

#[test]
fn create_in_terminating_namespace_is_forbidden() {
    let server = RefCell::new(ApiServer::new());
    let namespaces: Api<Namespace> = Api::all(Client::new(&server, "test"));
    let mut prod = Namespace::default();
    prod.metadata.name = Some("prod".into());
    let created = namespaces.create(&PostParams::default(), &prod).unwrap();
    assert_eq!(
        created.spec.unwrap().finalizers,
        Some(vec!["kubernetes".to_string()])
    );
    assert_eq!(created.status.unwrap().phase.as_deref(), Some("Active"));

    let terminating = namespaces
        .delete("prod", &DeleteParams::default())
        .unwrap()
        .unwrap();
    assert!(terminating.metadata.deletion_timestamp.is_some());
    assert_eq!(
        terminating.status.as_ref().unwrap().phase.as_deref(),
        Some("Terminating")
    );

    let cms: Api<ConfigMap> = Api::namespaced(Client::new(&server, "test"), "prod");
    let err = cms
        .create(&PostParams::default(), &config_map("a", &[]))
        .unwrap_err();
    assert_eq!(err.api().unwrap().code(), 403);
    assert_eq!(
        err.api().unwrap().message,
        "configmaps is forbidden: unable to create new content in namespace prod \
         because it is being terminated"
    );

    // It stays until the namespace controller empties spec.finalizers
    // through /finalize.
    let mut finalized = namespaces.get("prod").unwrap();
    finalized.spec.as_mut().unwrap().finalizers = Some(vec![]);
    namespaces
        .replace_finalize("prod", &PostParams::default(), &finalized)
        .unwrap();
    assert!(namespaces.get("prod").unwrap_err().is_not_found());
}

#[test]
fn namespace_create_always_adds_kubernetes_finalizer() {
    let mut server = ApiServer::new();
    let ns = json!({"apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": "prod"}, "spec": {"finalizers": ["example.com/x"]}});
    let created = create(&mut server, ns).object.object.clone();
    assert_eq!(
        created["spec"]["finalizers"],
        json!(["example.com/x", "kubernetes"])
    );
}

#[test]
fn initial_namespaces_exist() {
    let server = ApiServer::new();
    for ns in ["default", "kube-system", "kube-public"] {
        let stored = object(&server, &ns_key(ns));
        assert_eq!(stored["status"]["phase"], "Active");
    }
    // Every namespace is one write of the server itself.
    assert_eq!(server.resource_version(), INITIAL_NAMESPACES.len() as u64);
}

#[test]
fn cluster_scoped_kind_clears_namespace() {
    // Kubernetes clears metadata.namespace of cluster-scoped objects
    // (EnsureObjectNamespaceMatchesRequestNamespace).
    let mut server = ApiServer::new();
    let role = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {"name": "reader", "namespace": "default"}, "rules": []});
    let key = server.key_of(&role).unwrap();
    assert_eq!(key.namespace, None);
    let created = create(&mut server, role.clone()).object.object.clone();
    assert!(created["metadata"].get("namespace").is_none());
    let before = marks(&server);
    server
        .write(
            &WriteRequest::Update {
                object: role.clone(),
                subresource: Subresource::Main,
            },
            "test",
        )
        .unwrap();
    apply_as(&mut server, "test", role, false).unwrap();
    let stored = object(&server, &key);
    assert!(stored["metadata"].get("namespace").is_none());
    assert_eq!(
        marks(&server).0,
        before.0 + 1,
        "only apply's ownership is new"
    );
    // Namespaced kinds still need one.
    let mut cm = cm_json("a", json!({}));
    cm["metadata"].as_object_mut().unwrap().remove("namespace");
    let err = server
        .write(&WriteRequest::Create { object: cm }, "test")
        .unwrap_err();
    assert!(err.is_invalid(), "{err}");
}

#[test]
fn writes_kubernetes_would_refuse_are_400_or_422_and_change_nothing() {
    let mut server = ApiServer::new();
    let web = deploy_json(
        "web",
        deploy_spec(2, json!([{"name": "web", "image": "nginx:1"}])),
    );
    create(&mut server, web.clone());
    let before = marks(&server);
    let key = deploy_key("web");
    let write =
        |server: &mut ApiServer, request: WriteRequest| server.write(&request, "test").unwrap_err();
    // 422: a merge patch to a negative replica count.
    let e = write(
        &mut server,
        WriteRequest::Patch {
            key: key.clone(),
            patch: PatchBody::Merge(json!({"spec": {"replicas": -1}})),
            subresource: Subresource::Main,
        },
    );
    assert_eq!(
        (e.code(), e.message.as_str()),
        (
            422,
            "spec.replicas: Invalid value: -1: must be greater than or equal to 0"
        )
    );
    // 422: template labels the selector no longer matches.
    let mut relabelled = web.clone();
    relabelled["spec"]["template"]["metadata"]["labels"] = json!({"app": "api"});
    let e = write(
        &mut server,
        WriteRequest::Update {
            object: relabelled,
            subresource: Subresource::Main,
        },
    );
    assert!(
        e.is_invalid() && e.message.contains("`selector` does not match"),
        "{e}"
    );
    // 400: an unknown field, and a wrong type, in an apply.
    let e = write(
        &mut server,
        WriteRequest::Apply {
            object: deploy_json("web", json!({"replicas": 3, "paused": "yes"})),
            subresource: Subresource::Main,
            force: true,
        },
    );
    assert_eq!(e.code(), 400, "{e}");
    let mut pod = pod_json("p", json!({}));
    pod["spec"]["containers"][0]["imagee"] = json!("x");
    let e = write(&mut server, WriteRequest::Create { object: pod });
    assert_eq!(
        e.message,
        r#"strict decoding error: unknown field "spec.containers[0].imagee""#
    );
    // A status write of the wrong type is refused too.
    let mut status = web.clone();
    status["status"] = json!({"replicas": "two"});
    let e = write(
        &mut server,
        WriteRequest::Update {
            object: status,
            subresource: Subresource::Status,
        },
    );
    assert_eq!(e.code(), 400, "{e}");
    assert_eq!(marks(&server), before, "nothing was written");
}

#[test]
fn invalid_name_is_422_invalid() {
    let mut server = ApiServer::new();
    let long = "a".repeat(254);
    for name in ["Upper", "under_score", "-dash", long.as_str()] {
        let err = server
            .write(
                &WriteRequest::Create {
                    object: cm_json(name, json!({})),
                },
                "test",
            )
            .unwrap_err();
        assert_eq!(err.code(), 422, "{name}: {err}");
        assert!(
            err.message.starts_with("metadata.name: Invalid value"),
            "{err}"
        );
    }
    // Namespaces must be DNS labels: no dots.
    let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a.b"}});
    let err = server
        .write(&WriteRequest::Create { object: ns }, "test")
        .unwrap_err();
    assert!(err.is_invalid(), "{err}");
    let err = patch_err(
        &mut server,
        &ns_key("default"),
        json!({"metadata": {"labels": {"a": "not valid"}}}),
    );
    assert!(
        err.is_invalid() && err.message.contains("metadata.labels"),
        "{err}"
    );
}

fn patch_err(server: &mut ApiServer, key: &ObjectKey, merge: Value) -> ApiError {
    server
        .write(
            &WriteRequest::Patch {
                key: key.clone(),
                patch: PatchBody::Merge(merge),
                subresource: Subresource::Main,
            },
            "test",
        )
        .unwrap_err()
}

// ----- custom resources ----------------------------------------------------

pub(super) fn crd(kind: &str, plural: &str, scope: &str, status: bool) -> Value {
    let mut version = json!({"name": "v1", "served": true, "storage": true,
        "schema": {"openAPIV3Schema": {"type": "object", "properties": {
            "spec": {"type": "object", "properties": {
                "ports": {"type": "array", "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["id"],
                    "items": {"type": "object"}}}}}}}});
    if status {
        version["subresources"] = json!({"status": {}});
    }
    json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("{plural}.example.com")},
        "spec": {"group": "example.com", "scope": scope,
            "names": {"kind": kind, "plural": plural}, "versions": [version]}})
}

#[test]
fn crd_defines_kind_scope_and_status_subresource() {
    let mut server = ApiServer::new();
    let widget = json!({"apiVersion": "example.com/v1", "kind": "Widget",
        "metadata": {"name": "w", "namespace": "default"}, "spec": {"size": 1}});
    let err = server
        .write(
            &WriteRequest::Create {
                object: widget.clone(),
            },
            "test",
        )
        .unwrap_err();
    assert!(err.is_not_found(), "unknown before its CRD: {err}");

    create(&mut server, crd("Widget", "widgets", "Namespaced", true));
    create(&mut server, crd("Gadget", "gadgets", "Cluster", false));
    let info = server
        .kind_info(&GroupKind::new("example.com", "Widget"))
        .unwrap();
    assert!(info.namespaced && info.status_subresource);
    assert_eq!(info.plural, "widgets");

    // Namespaced with a status subresource: status is dropped on create and
    // on main writes, and is written through /status.
    let mut with_status = widget.clone();
    with_status["status"] = json!({"ready": true});
    let created = create(&mut server, with_status).object.object.clone();
    assert!(created.get("status").is_none());
    let wkey = server.key_of(&widget).unwrap();
    let status = server
        .write(
            &WriteRequest::Patch {
                key: wkey.clone(),
                patch: PatchBody::Merge(json!({"status": {"ready": true}, "spec": {"size": 9}})),
                subresource: Subresource::Status,
            },
            "test",
        )
        .unwrap();
    assert_eq!(status.object.object["status"], json!({"ready": true}));
    assert_eq!(status.object.object["spec"], json!({"size": 1}));
    assert_eq!(status.object.object["metadata"]["generation"], 1);

    // Cluster-scoped without a status subresource: no namespace; status is
    // ordinary content and bumps generation like any change outside metadata.
    let gadget = json!({"apiVersion": "example.com/v1", "kind": "Gadget",
        "metadata": {"name": "g"}, "spec": {"ports": [{"id": 1, "port": 80}]},
        "status": {"ok": true}});
    let created = create(&mut server, gadget).object.object.clone();
    assert_eq!(created["status"], json!({"ok": true}));
    let gkey = ObjectKey::new(GroupKind::new("example.com", "Gadget"), None, "g");
    let err = server
        .write(
            &WriteRequest::Patch {
                key: gkey.clone(),
                patch: PatchBody::Merge(json!({"status": {"ok": false}})),
                subresource: Subresource::Status,
            },
            "test",
        )
        .unwrap_err();
    assert!(err.is_not_found(), "{err}");
    let bumped = patch(
        &mut server,
        &gkey,
        PatchBody::Merge(json!({"status": {"ok": false}})),
    );
    assert_eq!(bumped.object.object["metadata"]["generation"], 2);

    // x-kubernetes-list-map-keys: apply merges spec.ports by id.
    let port = |id: i64, port: i64| {
        json!({"apiVersion": "example.com/v1", "kind": "Gadget",
            "metadata": {"name": "g"}, "spec": {"ports": [{"id": id, "port": port}]}})
    };
    apply_as(&mut server, "a", port(2, 443), false).unwrap();
    apply_as(&mut server, "b", port(3, 8080), false).unwrap();
    assert_eq!(
        object(&server, &gkey)["spec"]["ports"],
        json!([{"id": 1, "port": 80}, {"id": 2, "port": 443}, {"id": 3, "port": 8080}])
    );
    let err = apply_as(&mut server, "b", port(2, 444), false).unwrap_err();
    assert!(err.is_conflict() && err.message.contains("\"a\""), "{err}");
}

#[test]
fn crd_name_must_be_plural_dot_group() {
    let mut server = ApiServer::new();
    let mut bad = crd("Widget", "widgets", "Namespaced", true);
    bad["metadata"]["name"] = json!("widget.example.com");
    let err = server
        .write(&WriteRequest::Create { object: bad }, "test")
        .unwrap_err();
    assert!(
        err.is_invalid() && err.message.contains("metadata.name"),
        "{err}"
    );
    assert!(
        server
            .kind_info(&GroupKind::new("example.com", "Widget"))
            .is_err()
    );
}

// ----- time and forks ------------------------------------------------------

#[test]
fn timestamps_come_from_the_logical_clock() {
    let mut server = ApiServer::new();
    assert_eq!(server.clock(), 0);
    assert_eq!(server.now(), "2024-01-01T00:00:00Z");
    let a = create(&mut server, cm_json("a", json!({})))
        .object
        .object
        .clone();
    assert_eq!(a["metadata"]["creationTimestamp"], "2024-01-01T00:00:00Z");
    server.tick();
    server.tick();
    assert_eq!(server.now(), "2024-01-01T00:00:02Z");
    let b = create(&mut server, cm_json("b", json!({})))
        .object
        .object
        .clone();
    assert_eq!(b["metadata"]["creationTimestamp"], server.now());
    held_config_map(&mut server, "c");
    server.tick();
    delete(&mut server, &cm_key("c"), None);
    assert_eq!(
        object(&server, &cm_key("c"))["metadata"]["deletionTimestamp"],
        "2024-01-01T00:00:03Z"
    );
    // Ticking is not a write.
    assert_eq!(server.history().len() as u64, server.resource_version());
}

#[test]
fn forked_state_shares_history() {
    let mut original = ApiServer::new();
    create(&mut original, cm_json("a", json!({"k": "1"})));
    let before = marks(&original);
    let mut fork = original.clone();
    patch(
        &mut fork,
        &cm_key("a"),
        PatchBody::Merge(json!({"data": {"k": "2"}})),
    );
    create(&mut fork, cm_json("b", json!({})));
    fork.tick();
    assert_eq!(marks(&original), before);
    assert_eq!(original.clock(), 0);
    assert_eq!(object(&original, &cm_key("a"))["data"]["k"], "1");
    assert!(original.get(&cm_key("b")).is_err());
    assert_eq!(fork.history().len(), original.history().len() + 2);
    for (a, b) in original.history().iter().zip(fork.history()) {
        assert!(Arc::ptr_eq(a, b), "the common prefix is shared");
    }
    // Both can still answer reads of the past.
    let kind = GroupKind::new("", "ConfigMap");
    assert_eq!(fork.objects_at(&kind, 1), original.objects(&kind));
}

// ----- properties over random write sequences -----------------------------

#[derive(Clone, Copy, Debug)]
enum Kind {
    ConfigMap,
    Deployment,
}

#[derive(Clone, Copy, Debug)]
enum Rv {
    Absent,
    Current,
    Stale,
}

#[derive(Clone, Debug)]
enum Op {
    Create(Kind, usize, u8, bool),
    CreateGenerated(u8),
    Update(Kind, usize, u8, bool, Rv),
    MergePatch(Kind, usize, u8),
    StatusPatch(usize, u8),
    Apply(Kind, usize, u8, usize, bool),
    Delete(Kind, usize, Option<Propagation>),
    Tick,
}

const NAMES: [&str; 2] = ["a", "b"];
const HOLD: &str = "example.com/hold";

fn arb_kind() -> impl Strategy<Value = Kind> {
    prop_oneof![Just(Kind::ConfigMap), Just(Kind::Deployment)]
}

fn arb_op() -> impl Strategy<Value = Op> {
    let name = 0..NAMES.len();
    let data = 0u8..2;
    prop_oneof![
        3 => (arb_kind(), name.clone(), data.clone(), any::<bool>())
            .prop_map(|(k, n, d, f)| Op::Create(k, n, d, f)),
        1 => data.clone().prop_map(Op::CreateGenerated),
        3 => (arb_kind(), name.clone(), data.clone(), any::<bool>(),
            prop_oneof![Just(Rv::Absent), Just(Rv::Current), Just(Rv::Stale)])
            .prop_map(|(k, n, d, f, rv)| Op::Update(k, n, d, f, rv)),
        2 => (arb_kind(), name.clone(), data.clone()).prop_map(|(k, n, d)| Op::MergePatch(k, n, d)),
        1 => (name.clone(), data.clone()).prop_map(|(n, d)| Op::StatusPatch(n, d)),
        3 => (arb_kind(), name.clone(), data.clone(), 0usize..2, any::<bool>())
            .prop_map(|(k, n, d, m, f)| Op::Apply(k, n, d, m, f)),
        2 => (arb_kind(), name, prop_oneof![
                Just(None),
                Just(Some(Propagation::Background)),
                Just(Some(Propagation::Foreground)),
                Just(Some(Propagation::Orphan)),
            ]).prop_map(|(k, n, p)| Op::Delete(k, n, p)),
        1 => Just(Op::Tick),
    ]
}

fn key_for(kind: Kind, name: usize) -> ObjectKey {
    match kind {
        Kind::ConfigMap => cm_key(NAMES[name]),
        Kind::Deployment => deploy_key(NAMES[name]),
    }
}

/// The body of `kind` named `name` carrying `data`.
fn body(kind: Kind, name: usize, data: u8) -> Value {
    match kind {
        Kind::ConfigMap => cm_json(NAMES[name], json!({"k": data.to_string()})),
        Kind::Deployment => deploy_json(
            NAMES[name],
            deploy_spec(
                i64::from(data),
                json!([{"name": "web", "image": format!("nginx:{data}")}]),
            ),
        ),
    }
}

fn set_hold(object: &mut Value, hold: bool) {
    let finalizers = if hold { vec![HOLD.to_string()] } else { vec![] };
    meta::set_finalizers(object, &finalizers);
}

/// The request an op makes against the server's current state.
fn request(server: &ApiServer, op: &Op) -> Option<(WriteRequest, &'static str)> {
    let manager = "test";
    Some(match *op {
        Op::Create(kind, name, data, hold) => {
            let mut object = body(kind, name, data);
            set_hold(&mut object, hold);
            (WriteRequest::Create { object }, manager)
        }
        Op::CreateGenerated(data) => {
            let mut object = cm_json("", json!({"k": data.to_string()}));
            object["metadata"] = json!({"generateName": "gen-", "namespace": "default"});
            (WriteRequest::Create { object }, manager)
        }
        Op::Update(kind, name, data, hold, rv) => {
            let key = key_for(kind, name);
            let mut object = match server.get(&key) {
                Ok(stored) => stored.object.clone(),
                Err(_) => body(kind, name, data),
            };
            let fresh = body(kind, name, data);
            for field in ["data", "spec"] {
                if let Some(v) = fresh.get(field) {
                    object[field] = v.clone();
                }
            }
            set_hold(&mut object, hold);
            let rv_field = match rv {
                Rv::Absent => None,
                Rv::Current => meta::resource_version(&object).map(str::to_string),
                Rv::Stale => Some("1".to_string()),
            };
            let m = meta::metadata_mut(&mut object);
            match rv_field {
                Some(rv) => m.insert("resourceVersion".into(), json!(rv)),
                None => m.remove("resourceVersion"),
            };
            let subresource = Subresource::Main;
            (
                WriteRequest::Update {
                    object,
                    subresource,
                },
                manager,
            )
        }
        Op::MergePatch(kind, name, data) => {
            let patch = match kind {
                Kind::ConfigMap => json!({"data": {"k": data.to_string(), "extra": null}}),
                Kind::Deployment => json!({"spec": {"replicas": data}}),
            };
            let request = WriteRequest::Patch {
                key: key_for(kind, name),
                patch: PatchBody::Merge(patch),
                subresource: Subresource::Main,
            };
            (request, manager)
        }
        Op::StatusPatch(name, data) => {
            let request = WriteRequest::Patch {
                key: key_for(Kind::Deployment, name),
                patch: PatchBody::Merge(json!({"status": {"replicas": data}})),
                subresource: Subresource::Status,
            };
            (request, manager)
        }
        Op::Apply(kind, name, data, manager, force) => {
            let mut object = body(kind, name, data);
            if let (Kind::ConfigMap, 1) = (kind, manager) {
                object["data"] = json!({"extra": data.to_string()});
            }
            let subresource = Subresource::Main;
            let request = WriteRequest::Apply {
                object,
                subresource,
                force,
            };
            (request, ["m0", "m1"][manager])
        }
        Op::Delete(kind, name, propagation) => {
            let options = DeleteOptions {
                propagation,
                ..DeleteOptions::default()
            };
            let key = key_for(kind, name);
            (WriteRequest::Delete { key, options }, manager)
        }
        Op::Tick => return None,
    })
}

/// Carries out an op; checks (a): real writes take the next RV and add one
/// event; no-ops and failures change nothing. Returns what happened.
fn step(server: &mut ApiServer, op: &Op) -> Result<Option<bool>, TestCaseError> {
    let Some((request, manager)) = request(server, op) else {
        server.tick();
        return Ok(None);
    };
    let before = (marks(server), server.rv_digest(), server.counters_digest());
    let result = server.write(&request, manager);
    match &result {
        Err(_) => {
            let after = (marks(server), server.rv_digest(), server.counters_digest());
            prop_assert_eq!(after, before);
        }
        Ok(r) if r.noop => {
            prop_assert_eq!(marks(server), before.0);
            prop_assert!(r.event.is_none());
            prop_assert_eq!(&**server.get(&r.key).unwrap(), &*r.object);
        }
        Ok(r) => {
            let rv = before.0.0 + 1;
            prop_assert_eq!(server.resource_version(), rv);
            prop_assert_eq!(server.history().len(), before.0.1 + 1);
            let event = r.event.as_ref().unwrap();
            prop_assert!(Arc::ptr_eq(event, server.history().back().unwrap()));
            prop_assert_eq!(event.rv, rv);
            prop_assert_eq!(r.object.rv, rv);
            prop_assert_eq!(
                meta::resource_version(&r.object.object).map(str::to_string),
                Some(rv.to_string())
            );
            if event.event_type == EventType::Modified {
                // A real write changed something besides the resourceVersion.
                let strip = |v: &Value| {
                    let mut v = v.clone();
                    meta::metadata_mut(&mut v).remove("resourceVersion");
                    v
                };
                let previous = event.previous.as_ref().unwrap();
                prop_assert_ne!(strip(&previous.to_json()), strip(&event.object.to_json()));
            }
        }
    }
    Ok(result.ok().map(|r| r.noop))
}

/// (b) replaying the event log rebuilds the objects; (c) the incremental
/// state hash equals one computed from scratch.
fn check_state(server: &ApiServer) -> Result<(), TestCaseError> {
    let mut replayed: BTreeMap<ObjectKey, Value> = BTreeMap::new();
    for (i, event) in server.history().iter().enumerate() {
        prop_assert_eq!(event.seq, i as u64 + 1);
        match event.event_type {
            EventType::Added | EventType::Modified => {
                replayed.insert(event.key.clone(), event.object.object.clone());
            }
            EventType::Deleted => {
                prop_assert!(replayed.remove(&event.key).is_some());
            }
        }
    }
    let current: BTreeMap<ObjectKey, Value> = server
        .all_objects()
        .map(|(k, s)| (k, s.object.clone()))
        .collect();
    prop_assert_eq!(&replayed, &current);

    let mut digest = StateDigest::default();
    for (key, stored) in server.all_objects() {
        let hash = object_hash(&stored.object);
        prop_assert_eq!(stored.hash, hash);
        prop_assert_eq!(
            meta::resource_version(&stored.object).map(str::to_string),
            Some(stored.rv.to_string())
        );
        digest.add(&entry_hash(key.parts(), &hash));
    }
    prop_assert_eq!(server.content_hash(), digest.finish());
    prop_assert_eq!(server.len(), current.len());
    Ok(())
}

/// Contents without resourceVersions.
fn contents(server: &ApiServer) -> BTreeMap<ObjectKey, Value> {
    server
        .all_objects()
        .map(|(k, s)| {
            let mut v = s.object.clone();
            meta::metadata_mut(&mut v).remove("resourceVersion");
            (k, v)
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn random_writes_keep_rv_history_and_hash_consistent(
        ops in prop::collection::vec(arb_op(), 1..40)
    ) {
        let mut server = ApiServer::new();
        // (d) a second server makes the same writes with an unrelated
        // create and delete before each, so its resourceVersions differ.
        let mut noisy = ApiServer::new();
        let secret = json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "noise", "namespace": "kube-system"}});
        let secret_key = ObjectKey::new(GroupKind::new("", "Secret"), Some("kube-system"), "noise");
        for op in &ops {
            let outcome = step(&mut server, op)?;
            create(&mut noisy, secret.clone());
            delete(&mut noisy, &secret_key, None);
            let noisy_outcome = step(&mut noisy, op)?;
            prop_assert_eq!(outcome, noisy_outcome);
            check_state(&server)?;
        }
        check_state(&noisy)?;
        prop_assert_eq!(contents(&server), contents(&noisy));
        prop_assert_eq!(server.content_hash(), noisy.content_hash());
        let rvs = |s: &ApiServer| s.all_objects().map(|(_, o)| o.rv).collect::<Vec<_>>();
        if rvs(&server) != rvs(&noisy) {
            prop_assert_ne!(server.rv_digest(), noisy.rv_digest());
        }
    }
}
