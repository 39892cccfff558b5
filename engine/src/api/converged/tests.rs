use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;
use crate::api::{PatchBody, Subresource, WriteRequest};

fn rs_kind() -> GroupKind {
    GroupKind::new("apps", "ReplicaSet")
}

fn replica_set(generation: u64, observed: u64, replicas: u64) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": "web-1", "namespace": "default", "generation": generation},
        "spec": {"replicas": replicas},
        "status": {"replicas": replicas, "observedGeneration": observed,
            "conditions": [{"type": "Ready", "status": "True", "observedGeneration": observed}]}
    })
}

#[test]
fn generation_and_observed_generation_are_masked_by_default() {
    let mask = ConvergedMask::default();
    let a = mask.object_hash(&rs_kind(), &replica_set(3, 3, 0));
    let b = mask.object_hash(&rs_kind(), &replica_set(4, 4, 0));
    assert_eq!(a, b);
    assert_ne!(a, mask.object_hash(&rs_kind(), &replica_set(3, 3, 1)));
    // The content hash, which the search key is built from, tells them apart.
    assert_ne!(
        crate::hash::object_hash(&replica_set(3, 3, 0)),
        crate::hash::object_hash(&replica_set(4, 4, 0))
    );
}

#[test]
fn a_scenario_mask_applies_to_its_kind_only() {
    let mut mask = ConvergedMask::default();
    mask.ignore(
        rs_kind(),
        FieldMask::parse("/metadata/annotations/x").unwrap(),
    );
    let with = |kind: &str, v: &str| json!({"kind": kind, "metadata": {"name": "a", "annotations": {"x": v, "y": "1"}}});
    let rs = rs_kind();
    let pod = GroupKind::new("", "Pod");
    assert_eq!(
        mask.object_hash(&rs, &with("ReplicaSet", "1")),
        mask.object_hash(&rs, &with("ReplicaSet", "2"))
    );
    assert_ne!(
        mask.object_hash(&pod, &with("Pod", "1")),
        mask.object_hash(&pod, &with("Pod", "2"))
    );
}

#[test]
fn converged_object_hash_of_a_known_object_is_pinned() {
    // Pins hash version 2: if this changes, every user's expectations do.
    let obj = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "a", "namespace": "default", "generation": 7}, "data": {"k": "v"}});
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"kcheck/object/v2\0");
    hasher.update(br#"{"apiVersion":"v1","data":{"k":"v"},"kind":"ConfigMap","metadata":{"name":"a","namespace":"default"}}"#);
    let kind = GroupKind::new("", "ConfigMap");
    assert_eq!(
        ConvergedMask::default().object_hash(&kind, &obj),
        Digest(*hasher.finalize().as_bytes())
    );
}

/// A server holding one ReplicaSet at 0 replicas whose spec took
/// `generation - 1` changes to get there, with a status that observed it.
fn rolled(generation: u64) -> ApiServer {
    let mut server = ApiServer::new();
    let mut rs = replica_set(1, 1, 0);
    rs["spec"]["selector"] = json!({"matchLabels": {"app": "web"}});
    rs["spec"]["template"] = json!({"metadata": {"labels": {"app": "web"}},
        "spec": {"containers": [{"name": "web", "image": "nginx"}]}});
    server
        .write(&WriteRequest::Create { object: rs }, "test")
        .unwrap();
    let key = ObjectKey::new(rs_kind(), Some("default"), "web-1");
    let replicas =
        (1..generation.saturating_sub(1)).chain([0].into_iter().filter(|_| generation > 1));
    for n in replicas {
        patch(
            &mut server,
            &key,
            Subresource::Main,
            json!({"spec": {"replicas": n}}),
        );
    }
    // A ReplicaSet's conditions have no observedGeneration (custom
    // resources' `metav1.Condition`s do); the status mirrors generation.
    let status = json!({"replicas": 0, "observedGeneration": generation});
    patch(
        &mut server,
        &key,
        Subresource::Status,
        json!({"status": status}),
    );
    server
}

fn patch(server: &mut ApiServer, key: &ObjectKey, subresource: Subresource, body: Value) {
    let request = WriteRequest::Patch {
        key: key.clone(),
        patch: PatchBody::Merge(body),
        subresource,
    };
    server.write(&request, "test").unwrap();
}

#[test]
fn differences_name_the_masked_fields_that_differ() {
    let mask = ConvergedMask::default();
    let a = rolled(3);
    let b = rolled(4);
    assert_eq!(mask.state_hash(&a), mask.state_hash(&b));
    assert_ne!(a.content_hash(), b.content_hash());
    let pointers: Vec<(String, [Option<Value>; 2])> = mask
        .differences(&a, &b)
        .into_iter()
        .map(|d| (d.pointer, d.values))
        .collect();
    assert_eq!(
        pointers,
        vec![
            (
                "/metadata/generation".into(),
                [Some(json!(3)), Some(json!(4))]
            ),
            (
                "/status/observedGeneration".into(),
                [Some(json!(3)), Some(json!(4))]
            ),
        ]
    );
    assert!(mask.differences(&a, &a).is_empty());
}

/// A ReplicaSet-like object with arbitrary content, and the same object
/// with other generation and observedGeneration values.
fn arb_object() -> impl Strategy<Value = (Value, u64, u64)> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        "[a-z]{0,4}".prop_map(Value::String),
    ];
    let body = leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            prop::collection::btree_map("[a-z]{1,4}", inner, 0..3)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    });
    (body, 0..10u64, 0..10u64)
}

fn with_generation(spec: &Value, generation: u64, observed: u64) -> Value {
    json!({
        "metadata": {"name": "x", "generation": generation},
        "spec": spec,
        "status": {"observedGeneration": observed,
            "conditions": [{"type": "A", "observedGeneration": observed}]}
    })
}

proptest! {
    #[test]
    fn only_generation_fields_may_differ_for_equal_hashes(
        (spec, g1, o1) in arb_object(),
        (g2, o2) in (0..10u64, 0..10u64),
        (other, _, _) in arb_object(),
    ) {
        let mask = ConvergedMask::default();
        let kind = rs_kind();
        let a = with_generation(&spec, g1, o1);
        let b = with_generation(&spec, g2, o2);
        prop_assert_eq!(mask.object_hash(&kind, &a), mask.object_hash(&kind, &b));
        // Any other difference (here: the spec) hashes differently.
        let c = with_generation(&other, g1, o1);
        prop_assert_eq!(
            mask.object_hash(&kind, &a) == mask.object_hash(&kind, &c),
            spec == other
        );
    }
}
