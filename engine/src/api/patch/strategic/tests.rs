//! Strategic merge patch, each test named after the Kubernetes behaviour it
//! checks and citing the `strategicpatch` function that has it.

use serde_json::{Value, json};

use super::*;

fn smp(object: Value, patch: Value) -> Result<Value, ApiError> {
    let patch = patch.as_object().cloned().expect("test patches are maps");
    apply(&object, &patch, &ListRules::builtin())
}

fn ok(object: Value, patch: Value) -> Value {
    smp(object, patch).expect("the patch applies")
}

fn finalizers(list: Value) -> Value {
    json!({"metadata": {"name": "o", "finalizers": list}})
}

fn owner(uid: &str) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": uid, "uid": uid})
}

fn containers(names: &[&str]) -> Value {
    let list: Vec<Value> = names
        .iter()
        .map(|n| json!({"name": n, "image": format!("{n}:1")}))
        .collect();
    json!({"spec": {"containers": list}})
}

fn container_names(object: &Value) -> Vec<&str> {
    object["spec"]["containers"]
        .as_array()
        .expect("a container list")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect()
}

/// Every key starting with `$` anywhere in a value.
fn dollar_keys(value: &Value) -> Vec<String> {
    match value {
        Value::Object(m) => m
            .iter()
            .flat_map(|(k, v)| {
                let own = k.starts_with('$').then(|| k.clone());
                own.into_iter().chain(dollar_keys(v))
            })
            .collect(),
        Value::Array(items) => items.iter().flat_map(dollar_keys).collect(),
        _ => Vec::new(),
    }
}

#[test]
fn primitive_list_with_merge_strategy_is_a_union_new_items_first() {
    // strategicpatch.mergeSlice: patchStrategy=merge on a primitive list
    // (deduplicateScalars), ordered by normalizeElementOrder/mergeSortedSlice:
    // an item the stored list does not have goes before the server-only items.
    let out = ok(
        finalizers(json!(["a"])),
        json!({"metadata": {"finalizers": ["b"]}}),
    );
    assert_eq!(out["metadata"]["finalizers"], json!(["b", "a"]));
    // An item the stored list has keeps its place, and nothing is doubled.
    let out = ok(
        finalizers(json!(["a", "b"])),
        json!({"metadata": {"finalizers": ["b", "c"]}}),
    );
    assert_eq!(out["metadata"]["finalizers"], json!(["a", "b", "c"]));
}

#[test]
fn primitive_list_item_left_out_of_the_patch_is_kept() {
    // strategicpatch.mergeSlice: a merge never removes a stored scalar.
    let out = ok(
        finalizers(json!(["a", "b"])),
        json!({"metadata": {"finalizers": ["b"]}}),
    );
    assert_eq!(out["metadata"]["finalizers"], json!(["a", "b"]));
    let out = ok(
        finalizers(json!(["a"])),
        json!({"metadata": {"finalizers": []}}),
    );
    assert_eq!(out["metadata"]["finalizers"], json!(["a"]));
}

#[test]
fn delete_from_primitive_list_removes_the_values() {
    // strategicpatch.preprocessDeletionListForMerging + deleteFromSlice.
    let out = ok(
        finalizers(json!(["a", "b", "c"])),
        json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a", "c"]}}),
    );
    assert_eq!(out["metadata"]["finalizers"], json!(["b"]));
    assert!(dollar_keys(&out).is_empty(), "{out}");
}

#[test]
fn delete_from_primitive_list_on_a_missing_list_adds_nothing() {
    // strategicpatch.mergeMap: a deletion list for a key the object lacks is
    // skipped (kubernetes#105146, where it used to set the list).
    let out = ok(
        json!({"metadata": {"name": "o"}}),
        json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}}),
    );
    assert_eq!(out, json!({"metadata": {"name": "o"}}));
}

#[test]
fn null_removes_a_primitive_list() {
    // strategicpatch.mergeMap: a null value deletes the key.
    let out = ok(
        finalizers(json!(["a"])),
        json!({"metadata": {"finalizers": null}}),
    );
    assert_eq!(out, json!({"metadata": {"name": "o"}}));
}

#[test]
fn patch_delete_in_a_list_map_item_releases_the_owner() {
    // strategicpatch.mergeSliceWithSpecialElements: `$patch: delete` removes
    // the item with that merge key; the garbage collector releases an object
    // with {"metadata":{"ownerReferences":[{"$patch":"delete","uid":..}],"uid":..}}.
    let object = json!({"metadata": {"name": "o", "uid": "me",
        "ownerReferences": [owner("u1"), owner("u2")]}});
    let out = ok(
        object,
        json!({"metadata": {"ownerReferences": [{"$patch": "delete", "uid": "u1"}], "uid": "me"}}),
    );
    assert_eq!(out["metadata"]["ownerReferences"], json!([owner("u2")]));
    assert_eq!(out["metadata"]["uid"], "me");
}

#[test]
fn patch_delete_in_a_map_empties_it() {
    // strategicpatch.handleDirectiveInMergeMap: "$patch: delete" gives an
    // empty map; removeDirectives drops it where the object had no such key.
    let out = ok(
        json!({"spec": {"a": 1}}),
        json!({"spec": {"$patch": "delete"}, "status": {"$patch": "delete"}}),
    );
    assert_eq!(out, json!({"spec": {}}));
}

#[test]
fn patch_replace_in_a_map_replaces_it() {
    // strategicpatch.handleDirectiveInMergeMap: "$patch: replace".
    let out = ok(
        json!({"spec": {"a": 1, "b": {"c": 2}}}),
        json!({"spec": {"$patch": "replace", "b": {"d": 3}}}),
    );
    assert_eq!(out, json!({"spec": {"b": {"d": 3}}}));
}

#[test]
fn patch_replace_as_a_list_item_replaces_the_list() {
    // strategicpatch.mergeSliceWithSpecialElements: a {"$patch": "replace"}
    // item makes the other items the whole list.
    let out = ok(
        containers(&["a", "b"]),
        json!({"spec": {"containers": [{"$patch": "replace"}, {"name": "c", "image": "c:2"}]}}),
    );
    assert_eq!(
        out["spec"]["containers"],
        json!([{"name": "c", "image": "c:2"}])
    );
}

#[test]
fn set_element_order_orders_a_list_map() {
    // strategicpatch.mergePatchIntoOriginal: the list is merged, then ordered
    // as $setElementOrder says.
    let out = ok(
        containers(&["a", "b", "c"]),
        json!({"spec": {
            "$setElementOrder/containers": [{"name": "c"}, {"name": "a"}, {"name": "b"}],
            "containers": [{"name": "a", "image": "a:2"}]}}),
    );
    assert_eq!(container_names(&out), ["c", "a", "b"]);
    assert_eq!(out["spec"]["containers"][1]["image"], "a:2");
    assert!(dollar_keys(&out).is_empty(), "{out}");
}

#[test]
fn set_element_order_interleaves_unnamed_items_by_their_stored_place() {
    // strategicpatch.normalizeElementOrder: the named items take the given
    // order; an unnamed item goes before a named one only if it came before
    // it in the stored list (mergeSortedSlice).
    let out = ok(
        finalizers(json!(["a", "b", "c"])),
        json!({"metadata": {"$setElementOrder/finalizers": ["c", "b"]}}),
    );
    assert_eq!(out["metadata"]["finalizers"], json!(["a", "c", "b"]));
    let out = ok(
        finalizers(json!(["a", "b", "c"])),
        json!({"metadata": {"$setElementOrder/finalizers": ["b", "a"]}}),
    );
    assert_eq!(out["metadata"]["finalizers"], json!(["b", "a", "c"]));
}

#[test]
fn set_element_order_contradicting_the_patch_list_is_an_error() {
    // strategicpatch.validatePatchWithSetOrderList: a plain error, so 500.
    let err = smp(
        containers(&["a", "b"]),
        json!({"spec": {
            "$setElementOrder/containers": [{"name": "b"}, {"name": "a"}],
            "containers": [{"name": "a", "image": "a:2"}, {"name": "b", "image": "b:2"}]}}),
    )
    .unwrap_err();
    assert_eq!(err.code(), 500, "{err}");
}

#[test]
fn retain_keys_drops_the_stored_keys_not_named() {
    // strategicpatch.applyRetainKeysDirective.
    let object = json!({"spec": {"strategy": {"type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 1}}}});
    let out = ok(
        object.clone(),
        json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}),
    );
    assert_eq!(out, json!({"spec": {"strategy": {"type": "Recreate"}}}));
    // A key the patch sets but $retainKeys does not name is a 400.
    let err = smp(
        object,
        json!({"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": {}}}}),
    )
    .unwrap_err();
    assert_eq!(err.code(), 400, "{err}");
    assert_eq!(err.message, "invalid patch format of retainKeys");
}

#[test]
fn unknown_patch_directive_is_refused_as_mergemap_does() {
    // strategicpatch.handleDirectiveInMergeMap and
    // mergeSliceWithSpecialElements return mergepatch.ErrBadPatchType, which
    // interpretStrategicMergePatchError passes through: the apiserver
    // answers 500. "$patch: merge" is no exception in a map, and in a list
    // it is "merging lists cannot yet be specified in the patch".
    let cases = [
        json!({"spec": {"$patch": "frobnicate", "a": 1}}),
        json!({"spec": {"$patch": "merge", "a": 1}}),
        json!({"spec": {"containers": [{"name": "a", "$patch": "frobnicate"}]}}),
        json!({"spec": {"containers": [{"name": "a", "$patch": "merge"}]}}),
    ];
    for patch in cases {
        let err = smp(containers(&["a"]), patch.clone()).unwrap_err();
        assert_eq!(err.reason, Reason::InternalError, "{patch}: {err}");
    }
    let err = smp(
        containers(&["a"]),
        json!({"spec": {"$patch": "frobnicate"}}),
    )
    .unwrap_err();
    assert!(
        err.message.starts_with("unknown patch type: frobnicate"),
        "{err}"
    );
}

#[test]
fn malformed_directives_are_400_and_lists_of_lists_422() {
    // apiserver interpretStrategicMergePatchError: ErrBadPatchFormatFor* are
    // 400, ErrNoListOfLists is 422; ErrNoMergeKey is a plain error (500).
    let bad = [
        json!({"metadata": {"$deleteFromPrimitiveListfinalizers": ["a"]}}),
        json!({"metadata": {"$setElementOrderfinalizers": ["a"]}}),
        json!({"metadata": {"$retainKeys": "name"}}),
    ];
    for patch in bad {
        let err = smp(finalizers(json!(["a"])), patch.clone()).unwrap_err();
        assert_eq!(err.code(), 400, "{patch}: {err}");
    }
    let err = smp(
        finalizers(json!([["a"]])),
        json!({"metadata": {"finalizers": [["b"]]}}),
    )
    .unwrap_err();
    assert_eq!(err.code(), 422, "{err}");
    let err = smp(
        containers(&["a"]),
        json!({"spec": {"containers": [{"image": "x"}]}}),
    )
    .unwrap_err();
    assert_eq!(err.code(), 500, "{err}");
}

#[test]
fn no_directive_is_ever_stored() {
    // Kubernetes decodes the merged map into the kind's type, which drops
    // directive keys; strategicpatch.removeDirectives drops the maps with
    // `$patch` in values new to the object.
    let object = json!({"metadata": {"name": "o", "finalizers": ["a", "b"],
            "ownerReferences": [owner("u1")]},
        "spec": {"containers": [{"name": "a", "image": "a:1"}],
            "strategy": {"type": "Recreate"}, "keep": {"x": 1}}});
    let patches = [
        json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}}),
        json!({"metadata": {"$setElementOrder/finalizers": ["b", "a"]}}),
        json!({"metadata": {"ownerReferences": [{"$patch": "delete", "uid": "u1"}]}}),
        json!({"metadata": {"ownerReferences": [{"$patch": "replace"}, owner("u2")]}}),
        json!({"spec": {"keep": {"$patch": "replace", "y": {"$patch": "delete"}}}}),
        json!({"spec": {"keep": {"$patch": "delete"}}}),
        json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "RollingUpdate"}}}),
        json!({"spec": {"$setElementOrder/containers": [{"name": "b"}, {"name": "a"}],
            "containers": [{"name": "b", "image": "b:1",
                "$setElementOrder/ports": [{"containerPort": 80}],
                "ports": [{"containerPort": 80}]}]}}),
        json!({"spec": {"new": {"$retainKeys": ["a"], "a": 1, "gone": {"$patch": "delete"}}}}),
        json!({"spec": {"atomic": [{"$patch": "delete", "x": 1}]}}),
        json!({"status": {"conditions": [{"type": "Ready", "$patch": "delete"}]}}),
    ];
    for patch in patches {
        let out = ok(object.clone(), patch.clone());
        assert!(dollar_keys(&out).is_empty(), "{patch} stored {out}");
    }
}

#[test]
fn list_map_merges_on_the_first_merge_key_only() {
    // Container ports have patchMergeKey containerPort (apply merges them
    // on containerPort and protocol): a UDP port patched onto the TCP one
    // with the same number merges into it, as in Kubernetes.
    let object = json!({"spec": {"containers": [{"name": "a",
        "ports": [{"containerPort": 53, "protocol": "TCP"}]}]}});
    let out = ok(
        object,
        json!({"spec": {"containers": [{"name": "a",
            "ports": [{"containerPort": 53, "protocol": "UDP"}]}]}}),
    );
    assert_eq!(
        out["spec"]["containers"][0]["ports"],
        json!([{"containerPort": 53, "protocol": "UDP"}])
    );
}
