//! Patches through the server, each test named after the Kubernetes
//! behaviour it checks.

use serde_json::{Value, json};

use super::tests::{crd, create, object, patch};
use super::*;
use crate::api::error::Reason;

fn widget() -> Value {
    json!({"apiVersion": "example.com/v1", "kind": "Widget",
        "metadata": {"name": "w", "namespace": "default"}, "spec": {"size": 1}})
}

fn patch_request(key: &ObjectKey, body: PatchBody) -> WriteRequest {
    WriteRequest::Patch {
        key: key.clone(),
        patch: body,
        subresource: Subresource::Main,
    }
}

#[test]
fn strategic_merge_patch_on_a_custom_resource_is_415_and_merge_patch_works() {
    // apiserver handlers.PatchResource: a CRD's resource accepts only JSON
    // patch, merge patch and apply (negotiation.NewUnsupportedMediaTypeError).
    let mut server = ApiServer::new();
    create(&mut server, crd("Widget", "widgets", "Namespaced", false));
    create(&mut server, widget());
    let key = server.key_of(&widget()).expect("a key");
    let before = object(&server, &key);

    let smp = PatchBody::Strategic(json!({"spec": {"size": 2}}));
    let err = server.write(&patch_request(&key, smp), "test").unwrap_err();
    assert_eq!(err.code(), 415, "{err}");
    assert_eq!(err.reason, Reason::UnsupportedMediaType);
    assert!(
        err.message
            .starts_with("the body of the request was in an unknown format"),
        "{err}"
    );
    assert_eq!(
        object(&server, &key),
        before,
        "a refused patch changes nothing"
    );

    let merged = patch(
        &mut server,
        &key,
        PatchBody::Merge(json!({"spec": {"size": 2}})),
    );
    assert_eq!(merged.object.object["spec"]["size"], 2);
}

#[test]
fn strategic_merge_patch_with_patch_delete_and_uid_releases_an_owned_object() {
    // The garbage collector's release: {"metadata":{"ownerReferences":
    // [{"$patch":"delete","uid":..}],"uid":<object uid>}} (strategicpatch
    // mergeSliceWithSpecialElements), the uid a precondition.
    let mut server = ApiServer::new();
    let owner = |uid: &str| {
        json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
        "name": uid, "uid": uid})
    };
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "c", "namespace": "default",
            "ownerReferences": [owner("u1"), owner("u2")]}});
    let created = create(&mut server, cm.clone());
    let uid = created.object.object["metadata"]["uid"].clone();
    let key = server.key_of(&cm).expect("a key");

    let release = |uid: &Value| {
        PatchBody::Strategic(json!({"metadata": {
            "ownerReferences": [{"$patch": "delete", "uid": "u1"}], "uid": uid}}))
    };
    let err = server
        .write(
            &patch_request(&key, release(&json!("someone-else"))),
            "test",
        )
        .unwrap_err();
    assert!(err.is_conflict(), "a uid precondition that fails: {err}");

    let out = patch(&mut server, &key, release(&uid));
    assert_eq!(
        out.object.object["metadata"]["ownerReferences"],
        json!([owner("u2")])
    );
}

#[test]
fn strategic_merge_patch_adding_a_finalizer_keeps_the_others() {
    // strategicpatch.mergeSlice: metadata.finalizers has patchStrategy=merge.
    let mut server = ApiServer::new();
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "c", "namespace": "default", "finalizers": ["example.com/a"]}});
    create(&mut server, cm.clone());
    let key = server.key_of(&cm).expect("a key");
    let out = patch(
        &mut server,
        &key,
        PatchBody::Strategic(json!({"metadata": {"finalizers": ["example.com/b"]}})),
    );
    assert_eq!(
        out.object.object["metadata"]["finalizers"],
        json!(["example.com/b", "example.com/a"])
    );
}
