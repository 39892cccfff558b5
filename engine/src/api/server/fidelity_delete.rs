//! Deletion, binding, namespaces' `/finalize` and custom resources' update
//! rules, each test named after the Kubernetes behaviour it checks.

use serde_json::{Value, json};

use super::tests::{cm_json, cm_key, crd, create, delete, ns_key, object, pod_json};
use super::*;

fn pod_key(name: &str) -> ObjectKey {
    ObjectKey::new(GroupKind::new("", "Pod"), Some("default"), name)
}

fn write(server: &mut ApiServer, request: WriteRequest) -> Result<WriteResult, ApiError> {
    server.write(&request, "test")
}

fn delete_with(
    server: &mut ApiServer,
    key: &ObjectKey,
    options: DeleteOptions,
) -> Result<WriteResult, ApiError> {
    write(
        server,
        WriteRequest::Delete {
            key: key.clone(),
            options,
        },
    )
}

fn binding(pod: &str, node: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Binding",
        "metadata": {"name": pod, "namespace": "default"},
        "target": {"kind": "Node", "name": node}})
}

fn bind(server: &mut ApiServer, pod: &str, node: &str) -> Result<WriteResult, ApiError> {
    write(
        server,
        WriteRequest::Create {
            object: binding(pod, node),
        },
    )
}

fn update(
    server: &mut ApiServer,
    object: Value,
    sub: Subresource,
) -> Result<WriteResult, ApiError> {
    write(
        server,
        WriteRequest::Update {
            object,
            subresource: sub,
        },
    )
}

fn finalizers(server: &ApiServer, key: &ObjectKey) -> Vec<String> {
    meta::finalizers(&object(server, key))
}

// ----- propagation policies ------------------------------------------------

// batch/v1 job strategy DefaultGarbageCollectionPolicy: OrphanDependents
// (kept for compatibility), so a Job deleted with no policy keeps an
// `orphan` finalizer until the garbage collector has released its Pods.
#[test]
fn a_job_deleted_with_no_policy_orphans_its_pods() {
    let mut server = ApiServer::new();
    let job = json!({"apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": "pi", "namespace": "default"},
        "spec": {"manualSelector": true, "selector": {"matchLabels": {"app": "pi"}},
            "template": {"metadata": {"labels": {"app": "pi"}},
                "spec": {"restartPolicy": "Never",
                    "containers": [{"name": "pi", "image": "perl"}]}}}});
    create(&mut server, job);
    let key = ObjectKey::new(GroupKind::new("batch", "Job"), Some("default"), "pi");
    delete(&mut server, &key, None);
    assert_eq!(finalizers(&server, &key), ["orphan"]);
    assert!(meta::is_deleting(&object(&server, &key)));
}

// registry store deletionFinalizersForGarbageCollection: a delete of an
// object already being deleted replaces the finalizer of the earlier
// policy with its own.
#[test]
fn a_second_delete_with_another_policy_rewrites_the_gc_finalizers() {
    let mut server = ApiServer::new();
    let mut held = cm_json("cm", json!({}));
    held["metadata"]["finalizers"] = json!(["example.com/hold"]);
    create(&mut server, held);
    let key = cm_key("cm");
    delete(&mut server, &key, Some(Propagation::Orphan));
    assert_eq!(finalizers(&server, &key), ["example.com/hold", "orphan"]);
    delete(&mut server, &key, Some(Propagation::Foreground));
    assert_eq!(
        finalizers(&server, &key),
        ["example.com/hold", "foregroundDeletion"]
    );
    let again = delete(&mut server, &key, None);
    assert!(again.noop, "no policy keeps the finalizer already there");
    delete(&mut server, &key, Some(Propagation::Background));
    assert_eq!(finalizers(&server, &key), ["example.com/hold"]);
}

// ----- graceful deletion of Pods -------------------------------------------

// pod REST BindingREST.Create / setPodNodeAndMetadata: a Binding sets
// spec.nodeName and PodScheduled once; binding a bound Pod is a conflict.
#[test]
fn a_binding_assigns_a_pod_to_a_node_once() {
    let mut server = ApiServer::new();
    create(&mut server, pod_json("p", json!({})));
    let bound = bind(&mut server, "p", "node-1").unwrap();
    assert_eq!(bound.key, pod_key("p"));
    let pod = object(&server, &pod_key("p"));
    assert_eq!(pod["spec"]["nodeName"], "node-1");
    assert_eq!(pod["status"]["conditions"][0]["type"], "PodScheduled");
    assert_eq!(pod["status"]["conditions"][0]["status"], "True");
    let again = bind(&mut server, "p", "node-2").unwrap_err();
    assert!(again.is_conflict(), "{again}");
    assert!(
        again.message.contains("already assigned to node"),
        "{again}"
    );
    let missing = bind(&mut server, "nope", "node-1").unwrap_err();
    assert!(missing.is_not_found(), "{missing}");
    let request = WriteRequest::Create {
        object: binding("p", "node-1"),
    };
    assert_eq!(request.target(), pod_key("p"), "a Binding writes its Pod");
}

// pod strategy CheckGracefulDelete and rest.BeforeDelete: a bound Pod stays
// Terminating for its grace period (30 s by default); another delete may
// only shorten it, and a delete with grace 0 removes it.
#[test]
fn a_bound_pod_is_deleted_gracefully() {
    let mut server = ApiServer::new();
    create(&mut server, pod_json("p", json!({})));
    bind(&mut server, "p", "node-1").unwrap();
    let key = pod_key("p");
    let now = server.now();
    let marked = delete(&mut server, &key, None);
    assert!(!marked.noop);
    let pod = object(&server, &key);
    assert_eq!(pod["metadata"]["deletionGracePeriodSeconds"], 30);
    let at: jiff::Timestamp = pod["metadata"]["deletionTimestamp"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let start: jiff::Timestamp = now.parse().unwrap();
    assert_eq!(
        at.duration_since(start),
        jiff::SignedDuration::from_secs(30)
    );
    assert!(
        delete(&mut server, &key, None).noop,
        "a pending deletion is kept"
    );
    let shorter = DeleteOptions {
        grace_period_seconds: Some(10),
        ..DeleteOptions::default()
    };
    delete_with(&mut server, &key, shorter).unwrap();
    assert_eq!(
        object(&server, &key)["metadata"]["deletionGracePeriodSeconds"],
        10
    );
    let now_please = DeleteOptions {
        grace_period_seconds: Some(0),
        ..DeleteOptions::default()
    };
    delete_with(&mut server, &key, now_please).unwrap();
    assert!(server.get(&key).is_err(), "a zero grace period removes it");
}

// pod strategy CheckGracefulDelete: a Pod no node runs is deleted at once.
#[test]
fn an_unscheduled_pod_is_deleted_at_once() {
    let mut server = ApiServer::new();
    create(&mut server, pod_json("p", json!({})));
    delete(&mut server, &pod_key("p"), None);
    assert!(server.get(&pod_key("p")).is_err());
}

// ----- namespaces ------------------------------------------------------------

// namespace strategy PrepareForUpdate keeps spec.finalizers; only the
// /finalize subresource (namespaceFinalizeStrategy) changes them.
#[test]
fn a_namespace_spec_finalizers_change_only_through_finalize() {
    let mut server = ApiServer::new();
    create(
        &mut server,
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}}),
    );
    let key = ns_key("team");
    let mut cleared = object(&server, &key);
    cleared["spec"]["finalizers"] = json!([]);
    update(&mut server, cleared.clone(), Subresource::Main).unwrap();
    assert_eq!(
        object(&server, &key)["spec"]["finalizers"],
        json!(["kubernetes"])
    );
    delete(&mut server, &key, None);
    let mut cleared = object(&server, &key);
    cleared["spec"]["finalizers"] = json!([]);
    update(&mut server, cleared, Subresource::Finalize).unwrap();
    assert!(server.get(&key).is_err(), "finalized, the namespace goes");
    let not_a_namespace = update(&mut server, cm_json("cm", json!({})), Subresource::Finalize);
    assert!(not_a_namespace.unwrap_err().is_not_found());
}

// ----- writes Kubernetes refuses -------------------------------------------

// The storage layer refuses a create that carries a resourceVersion
// (storage.ErrResourceVersionSetOnCreate).
#[test]
fn a_create_with_a_resource_version_is_refused() {
    let mut server = ApiServer::new();
    let mut cm = cm_json("cm", json!({}));
    cm["metadata"]["resourceVersion"] = json!("7");
    let err = write(&mut server, WriteRequest::Create { object: cm }).unwrap_err();
    assert_eq!(err.code(), 400, "{err}");
    assert!(err.message.contains("resourceVersion should not be set"));
}

// ValidateObjectMetaUpdate: deletionTimestamp is immutable; only a delete
// sets it.
#[test]
fn an_update_may_not_set_the_deletion_timestamp() {
    let mut server = ApiServer::new();
    create(&mut server, cm_json("cm", json!({})));
    let mut cm = object(&server, &cm_key("cm"));
    cm["metadata"]["deletionTimestamp"] = json!("2024-01-01T00:00:00Z");
    let err = update(&mut server, cm, Subresource::Main).unwrap_err();
    assert!(err.is_invalid(), "{err}");
    assert!(
        err.message.starts_with("metadata.deletionTimestamp"),
        "{err}"
    );
}

// customresource strategy AllowUnconditionalUpdate is false: a PUT of a
// custom resource must carry metadata.resourceVersion.
#[test]
fn a_custom_resource_update_needs_a_resource_version() {
    let mut server = ApiServer::new();
    create(&mut server, crd("Widget", "widgets", "Namespaced", false));
    let widget = json!({"apiVersion": "example.com/v1", "kind": "Widget",
        "metadata": {"name": "w", "namespace": "default"}, "spec": {"size": 1}});
    create(&mut server, widget.clone());
    let err = update(&mut server, widget, Subresource::Main).unwrap_err();
    assert!(err.is_invalid(), "{err}");
    assert_eq!(
        err.message,
        "metadata.resourceVersion: Invalid value: 0x0: must be specified for an update"
    );
    let mut cm = cm_json("cm", json!({"a": "1"}));
    create(&mut server, cm.clone());
    cm["data"] = json!({"a": "2"});
    update(&mut server, cm, Subresource::Main).expect("a ConfigMap may be updated unconditionally");
}

fn schemaless_crd() -> Value {
    json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "gadgets.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced",
            "names": {"kind": "Gadget", "plural": "gadgets"},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object",
                    "x-kubernetes-preserve-unknown-fields": true}}}]}})
}

fn apply(server: &mut ApiServer, manager: &str, spec: Value) -> Result<WriteResult, ApiError> {
    server.write(
        &WriteRequest::Apply {
            object: json!({"apiVersion": "example.com/v1", "kind": "Gadget",
                "metadata": {"name": "g", "namespace": "default"}, "spec": spec}),
            subresource: Subresource::Main,
            force: false,
        },
        manager,
    )
}

// Server-side apply takes a custom resource's list types from its schema
// (x-kubernetes-list-type), and a list without one is atomic: the core
// kinds' rules for `ports` or `conditions` do not apply by name.
#[test]
fn a_custom_resource_list_merges_only_as_its_schema_says() {
    let mut server = ApiServer::new();
    create(&mut server, schemaless_crd());
    let ports = json!({"ports": [{"name": "http", "number": 80}]});
    apply(&mut server, "a", ports).expect("no key field is required of an atomic list");
    let first = json!({"conditions": [{"type": "A", "status": "True"}]});
    apply(&mut server, "a", first).unwrap();
    let second = json!({"conditions": [{"type": "B", "status": "True"}]});
    let err = apply(&mut server, "b", second).unwrap_err();
    assert!(err.is_conflict(), "an atomic list has one owner: {err}");
}
