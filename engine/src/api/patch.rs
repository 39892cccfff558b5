//! Patch bodies: JSON merge patch (RFC 7386), JSON patch (RFC 6902) and a
//! strategic merge patch for the common list-map keys.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::apply::{ListRules, ListType};
use super::error::ApiError;

/// A patch, as the `Content-Type` of a Kubernetes PATCH names it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "patch", rename_all = "lowercase")]
pub enum PatchBody {
    /// `application/merge-patch+json`: maps merge, `null` removes a key,
    /// lists are replaced whole.
    Merge(Value),
    /// `application/json-patch+json`: a list of operations.
    Json(json_patch::Patch),
    /// `application/strategic-merge-patch+json`: like a merge patch, but
    /// lists with merge keys (containers by name, ...) merge item by item.
    /// The `$patch`, `$retainKeys` and `$setElementOrder` directives are not
    /// supported.
    Strategic(Value),
}

impl PatchBody {
    /// The patch type as kubectl names it (`merge`, `json`, `strategic`).
    pub fn type_name(&self) -> &'static str {
        match self {
            PatchBody::Merge(_) => "merge",
            PatchBody::Json(_) => "json",
            PatchBody::Strategic(_) => "strategic",
        }
    }

    /// Applies the patch to a copy of `target`.
    pub fn apply_to(&self, target: &Value, rules: &ListRules) -> Result<Value, ApiError> {
        let mut out = target.clone();
        match self {
            PatchBody::Merge(p) => {
                require_map(p)?;
                json_patch::merge(&mut out, p);
            }
            PatchBody::Json(p) => json_patch::patch(&mut out, &p.0).map_err(|e| {
                ApiError::invalid(format!("the JSON patch could not be applied: {e}"))
            })?,
            PatchBody::Strategic(p) => {
                require_map(p)?;
                strategic_merge(&mut out, p, rules, &mut Vec::new());
            }
        }
        Ok(out)
    }
}

fn require_map(p: &Value) -> Result<(), ApiError> {
    if p.is_object() {
        Ok(())
    } else {
        Err(ApiError::bad_request("a merge patch must be a JSON map"))
    }
}

fn strategic_merge(target: &mut Value, patch: &Value, rules: &ListRules, path: &mut Vec<String>) {
    let Some(patch_map) = patch.as_object() else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Default::default());
    }
    let target_map = target.as_object_mut().expect("made a map above");
    for (k, v) in patch_map {
        if v.is_null() {
            target_map.remove(k);
            continue;
        }
        path.push(k.clone());
        let slot = target_map.entry(k.clone()).or_insert(Value::Null);
        match v {
            Value::Object(_) => strategic_merge(slot, v, rules, path),
            Value::Array(items) => merge_list(slot, items, rules, path),
            _ => *slot = v.clone(),
        }
        path.pop();
    }
}

fn merge_list(slot: &mut Value, items: &[Value], rules: &ListRules, path: &mut Vec<String>) {
    let segments: Vec<&str> = path.iter().map(String::as_str).collect();
    let ListType::Map(keys) = rules.list_type(&segments) else {
        *slot = Value::Array(items.to_vec());
        return;
    };
    let mut existing = match slot.take() {
        Value::Array(v) => v,
        _ => Vec::new(),
    };
    let key_of = |v: &Value| -> Vec<Value> {
        keys.iter()
            .map(|k| v.get(k).cloned().unwrap_or(Value::Null))
            .collect()
    };
    for item in items {
        let key = key_of(item);
        match existing.iter_mut().find(|e| key_of(e) == key) {
            Some(current) => strategic_merge(current, item, rules, path),
            None => existing.push(item.clone()),
        }
    }
    *slot = Value::Array(existing);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_patch_null_removes_and_lists_replace() {
        let obj = json!({"spec": {"a": 1, "b": 2, "l": [1, 2]}});
        let out = PatchBody::Merge(json!({"spec": {"a": null, "l": [3]}}))
            .apply_to(&obj, &ListRules::builtin())
            .unwrap();
        assert_eq!(out, json!({"spec": {"b": 2, "l": [3]}}));
    }

    #[test]
    fn json_patch_test_failure_is_invalid() {
        let p: json_patch::Patch =
            serde_json::from_value(json!([{"op": "test", "path": "/a", "value": 2}])).unwrap();
        let err = PatchBody::Json(p)
            .apply_to(&json!({"a": 1}), &ListRules::builtin())
            .unwrap_err();
        assert!(err.is_invalid());
    }

    #[test]
    fn strategic_merge_patch_merges_containers_by_name() {
        let obj = json!({"spec": {"containers": [
            {"name": "a", "image": "a:1"}, {"name": "b", "image": "b:1"}]}});
        let out =
            PatchBody::Strategic(json!({"spec": {"containers": [{"name": "b", "image": "b:2"}]}}))
                .apply_to(&obj, &ListRules::builtin())
                .unwrap();
        assert_eq!(
            out["spec"]["containers"],
            json!([
            {"name": "a", "image": "a:1"}, {"name": "b", "image": "b:2"}])
        );
    }
}
