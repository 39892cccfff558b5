//! Patch bodies: JSON merge patch (RFC 7386), JSON patch (RFC 6902) and
//! strategic merge patch (in [`strategic`]).

mod strategic;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::apply::ListRules;
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
    /// lists with the merge strategy merge: lists of maps item by item on
    /// their merge key (containers by name, ...), lists of primitives
    /// (`metadata.finalizers`) as a union. The `$patch`, `$retainKeys`,
    /// `$deleteFromPrimitiveList` and `$setElementOrder` directives work as
    /// in Kubernetes and are never stored. Built-in kinds only: the server
    /// refuses it on a custom resource (415).
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
        match self {
            PatchBody::Merge(p) => {
                require_map(p)?;
                let mut out = target.clone();
                json_patch::merge(&mut out, p);
                Ok(out)
            }
            PatchBody::Json(p) => {
                let mut out = target.clone();
                json_patch::patch(&mut out, &p.0).map_err(|e| {
                    ApiError::invalid(format!("the JSON patch could not be applied: {e}"))
                })?;
                Ok(out)
            }
            PatchBody::Strategic(p) => strategic::apply(target, require_map(p)?, rules),
        }
    }
}

/// The patch as a JSON map: merge patches must be one.
fn require_map(p: &Value) -> Result<&Map<String, Value>, ApiError> {
    p.as_object()
        .ok_or_else(|| ApiError::bad_request("a merge patch must be a JSON map"))
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
