//! Object-level differences between two cluster states, ignoring the same
//! server churn the state hash ignores.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::api::{ApiServer, ObjectKey};

/// One field that differs, by JSON pointer.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FieldChange {
    /// Where, e.g. `/spec/replicas`.
    pub pointer: String,
    /// The value in the first state (None: absent).
    pub before: Option<Value>,
    /// The value in the second state (None: absent).
    pub after: Option<Value>,
}

/// How one object differs between two states.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "change", rename_all = "lowercase")]
pub enum ObjectDiff {
    /// Only in the second state.
    Added {
        /// The object.
        key: ObjectKey,
    },
    /// Only in the first state.
    Removed {
        /// The object.
        key: ObjectKey,
    },
    /// In both, with different content.
    Changed {
        /// The object.
        key: ObjectKey,
        /// The fields that differ.
        fields: Vec<FieldChange>,
    },
}

/// The objects that differ between `a` and `b`, in key order.
pub fn diff_states(a: &ApiServer, b: &ApiServer) -> Vec<ObjectDiff> {
    let left: BTreeMap<ObjectKey, _> = a.all_objects().collect();
    let right: BTreeMap<ObjectKey, _> = b.all_objects().collect();
    let mut keys: Vec<&ObjectKey> = left.keys().chain(right.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter_map(|key| match (left.get(key), right.get(key)) {
            (Some(_), None) => Some(ObjectDiff::Removed { key: key.clone() }),
            (None, Some(_)) => Some(ObjectDiff::Added { key: key.clone() }),
            (Some(x), Some(y)) if x.hash != y.hash => Some(ObjectDiff::Changed {
                key: key.clone(),
                fields: diff_values(&x.object, &y.object),
            }),
            _ => None,
        })
        .collect()
}

/// The leaf fields that differ between two objects, leaving out
/// `metadata.resourceVersion` and `metadata.managedFields`.
pub fn diff_values(a: &Value, b: &Value) -> Vec<FieldChange> {
    let (mut left, mut right) = (BTreeMap::new(), BTreeMap::new());
    flatten(a, String::new(), &mut left);
    flatten(b, String::new(), &mut right);
    let mut pointers: Vec<&String> = left.keys().chain(right.keys()).collect();
    pointers.sort();
    pointers.dedup();
    pointers
        .into_iter()
        .filter(|p| {
            !p.starts_with("/metadata/resourceVersion") && !p.starts_with("/metadata/managedFields")
        })
        .filter(|p| left.get(*p) != right.get(*p))
        .map(|p| FieldChange {
            pointer: p.clone(),
            before: left.get(p).cloned(),
            after: right.get(p).cloned(),
        })
        .collect()
}

fn flatten(v: &Value, prefix: String, out: &mut BTreeMap<String, Value>) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, v) in m {
                let k = k.replace('~', "~0").replace('/', "~1");
                flatten(v, format!("{prefix}/{k}"), out);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for (i, v) in items.iter().enumerate() {
                flatten(v, format!("{prefix}/{i}"), out);
            }
        }
        leaf => {
            out.insert(prefix, leaf.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn diff_values_lists_changed_added_and_removed_fields() {
        let a =
            json!({"metadata": {"resourceVersion": "1"}, "spec": {"replicas": 1, "paused": true}});
        let b =
            json!({"metadata": {"resourceVersion": "2"}, "spec": {"replicas": 3, "image": "x"}});
        let d = diff_values(&a, &b);
        let pointers: Vec<&str> = d.iter().map(|c| c.pointer.as_str()).collect();
        assert_eq!(pointers, ["/spec/image", "/spec/paused", "/spec/replicas"]);
        assert_eq!(d[2].before, Some(json!(1)));
        assert_eq!(d[2].after, Some(json!(3)));
    }
}
