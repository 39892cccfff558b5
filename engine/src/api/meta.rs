//! Reading and writing `metadata` fields of JSON objects.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// The object's `metadata` map, if any.
pub fn metadata(object: &Value) -> Option<&Map<String, Value>> {
    object.get("metadata").and_then(Value::as_object)
}

/// The object's `metadata` map, created if missing. Panics if the object is
/// not a JSON object; callers check that first.
pub fn metadata_mut(object: &mut Value) -> &mut Map<String, Value> {
    let map = object.as_object_mut().expect("object is a JSON map");
    let meta = map
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    if !meta.is_object() {
        *meta = Value::Object(Map::new());
    }
    meta.as_object_mut().expect("metadata is a map")
}

/// A string field of `metadata`, if set and non-empty.
pub fn meta_str<'a>(object: &'a Value, field: &str) -> Option<&'a str> {
    metadata(object)
        .and_then(|m| m.get(field))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// `metadata.name`.
pub fn name(object: &Value) -> Option<&str> {
    meta_str(object, "name")
}

/// `metadata.namespace`.
pub fn namespace(object: &Value) -> Option<&str> {
    meta_str(object, "namespace")
}

/// `metadata.uid`.
pub fn uid(object: &Value) -> Option<&str> {
    meta_str(object, "uid")
}

/// `metadata.resourceVersion`.
pub fn resource_version(object: &Value) -> Option<&str> {
    meta_str(object, "resourceVersion")
}

/// Whether `metadata.deletionTimestamp` is set.
pub fn is_deleting(object: &Value) -> bool {
    meta_str(object, "deletionTimestamp").is_some()
}

/// `metadata.labels` as a sorted map (non-string values are skipped).
pub fn labels(object: &Value) -> BTreeMap<String, String> {
    string_map(object, "labels")
}

/// `metadata.annotations` as a sorted map.
pub fn annotations(object: &Value) -> BTreeMap<String, String> {
    string_map(object, "annotations")
}

fn string_map(object: &Value, field: &str) -> BTreeMap<String, String> {
    metadata(object)
        .and_then(|m| m.get(field))
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// `metadata.finalizers`.
pub fn finalizers(object: &Value) -> Vec<String> {
    metadata(object)
        .and_then(|m| m.get("finalizers"))
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Replaces `metadata.finalizers` (removing the field when empty).
pub fn set_finalizers(object: &mut Value, finalizers: &[String]) {
    let meta = metadata_mut(object);
    if finalizers.is_empty() {
        meta.remove("finalizers");
    } else {
        meta.insert(
            "finalizers".into(),
            Value::Array(finalizers.iter().cloned().map(Value::String).collect()),
        );
    }
}

/// One entry of `metadata.ownerReferences`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnerRef {
    /// The owner's apiVersion.
    pub api_version: String,
    /// The owner's kind.
    pub kind: String,
    /// The owner's name (same namespace as the dependent, or cluster-scoped).
    pub name: String,
    /// The owner's uid.
    pub uid: String,
    /// Whether this owner is the managing controller.
    pub controller: bool,
    /// Whether foreground deletion of the owner waits for this dependent.
    pub block_owner_deletion: bool,
}

/// `metadata.ownerReferences` (malformed entries are skipped).
pub fn owner_references(object: &Value) -> Vec<OwnerRef> {
    metadata(object)
        .and_then(|m| m.get("ownerReferences"))
        .and_then(Value::as_array)
        .map(|refs| refs.iter().filter_map(parse_owner_ref).collect())
        .unwrap_or_default()
}

fn parse_owner_ref(v: &Value) -> Option<OwnerRef> {
    let s = |f: &str| v.get(f).and_then(Value::as_str).map(str::to_string);
    let b = |f: &str| v.get(f).and_then(Value::as_bool).unwrap_or(false);
    Some(OwnerRef {
        api_version: s("apiVersion")?,
        kind: s("kind")?,
        name: s("name")?,
        uid: s("uid").unwrap_or_default(),
        controller: b("controller"),
        block_owner_deletion: b("blockOwnerDeletion"),
    })
}
