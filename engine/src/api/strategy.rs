//! What the registry strategy of a built-in kind does to an object before
//! it is validated and stored (Kubernetes' `PrepareForCreate`,
//! `PrepareForUpdate` and `Canonicalize` of pkg/registry/<group>/<kind>/
//! strategy.go): the fields the server fills in, and which updates bump
//! `metadata.generation` besides a spec change.
//!
//! Only what kcheck's controllers can observe is done: a Job's generated
//! selector and pod template labels, a Namespace's name label, and a
//! Deployment's generation on annotation changes. The status a main-resource
//! write keeps, the `kubernetes` finalizer of a Namespace and the initial
//! status of Pods and Namespaces are the server's own (`super::server`).

use serde_json::{Map, Value, json};

use super::key::GroupKind;
use super::meta;
use super::server::Subresource;
use super::validation::{JOB_CONTROLLER_UID, JOB_NAME, LEGACY_JOB_CONTROLLER_UID, LEGACY_JOB_NAME};

/// The label every Namespace carries, set to its name
/// (`v1.LabelMetadataName`).
pub const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

/// What the strategy of `kind` fills in on create, once the server has set
/// the object's name and uid.
pub fn prepare_for_create(kind: &GroupKind, object: &mut Value) {
    match (kind.group.as_str(), kind.kind.as_str()) {
        ("batch", "Job") => generate_job_selector(object),
        ("", "Namespace") => label_namespace(object),
        _ => {}
    }
}

/// What the strategy of `kind` does on an update of `old` into `new`
/// through `sub`.
pub fn prepare_for_update(kind: &GroupKind, sub: Subresource, old: &Value, new: &mut Value) {
    if (kind.group.as_str(), kind.kind.as_str()) == ("", "Namespace") {
        label_namespace(new);
        if sub == Subresource::Main {
            keep_spec_finalizers(old, new);
        }
    }
}

/// Whether the strategy of `kind` bumps `metadata.generation` on this
/// update even if the spec did not change: a Deployment's annotations are
/// copied to its ReplicaSets, so changing them bumps it (deployment
/// strategy `PrepareForUpdate`).
pub fn bumps_generation(kind: &GroupKind, old: &Value, new: &Value) -> bool {
    (kind.group.as_str(), kind.kind.as_str()) == ("apps", "Deployment")
        && meta::annotations(old) != meta::annotations(new)
}

/// A Namespace's `spec.finalizers` changes only through `/finalize` (the
/// namespace strategy's `PrepareForUpdate` keeps the stored ones).
fn keep_spec_finalizers(stored: &Value, out: &mut Value) {
    let Some(out) = out.as_object_mut() else {
        return;
    };
    let stored = stored.pointer("/spec/finalizers").cloned();
    let spec = out.entry("spec").or_insert_with(|| json!({}));
    if let Some(spec) = spec.as_object_mut() {
        match stored {
            Some(finalizers) => spec.insert("finalizers".into(), finalizers),
            None => spec.remove("finalizers"),
        };
    }
}

/// Namespace defaulting and strategy `Canonicalize`: the label
/// `kubernetes.io/metadata.name` is the namespace's name, whatever the
/// request says.
fn label_namespace(object: &mut Value) {
    let name = meta::name(object).unwrap_or_default().to_string();
    let labels = object_field(meta::metadata_mut(object), "labels");
    labels.insert(NAMESPACE_NAME_LABEL.into(), Value::String(name));
}

/// Job strategy `PrepareForCreate` and `generateSelector`: unless
/// `spec.manualSelector` is true, the pod template gets the labels
/// `batch.kubernetes.io/controller-uid`, `batch.kubernetes.io/job-name`,
/// `controller-uid` and `job-name` (those it does not set already: a
/// conflicting value is refused by validation), and the selector
/// `matchLabels` gets `batch.kubernetes.io/controller-uid`.
fn generate_job_selector(object: &mut Value) {
    if object.pointer("/spec/manualSelector") == Some(&Value::Bool(true)) {
        return;
    }
    let uid = meta::uid(object).unwrap_or_default().to_string();
    let name = meta::name(object).unwrap_or_default().to_string();
    let Some(spec) = object.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    let template = object_field(spec, "template");
    let labels = object_field(object_field(template, "metadata"), "labels");
    for (key, value) in [
        (LEGACY_JOB_NAME, &name),
        (JOB_NAME, &name),
        (LEGACY_JOB_CONTROLLER_UID, &uid),
        (JOB_CONTROLLER_UID, &uid),
    ] {
        labels
            .entry(key)
            .or_insert_with(|| Value::String(value.clone()));
    }
    let match_labels = object_field(object_field(spec, "selector"), "matchLabels");
    match_labels
        .entry(JOB_CONTROLLER_UID)
        .or_insert(Value::String(uid));
}

/// The map at `field` of `map`, made a map if it is missing or not one.
fn object_field<'a>(map: &'a mut Map<String, Value>, field: &str) -> &'a mut Map<String, Value> {
    let value = map
        .entry(field)
        .or_insert_with(|| Value::Object(Map::new()));
    if !value.is_object() {
        *value = Value::Object(Map::new());
    }
    value.as_object_mut().expect("made a map")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn job_kind() -> GroupKind {
        GroupKind::new("batch", "Job")
    }

    fn job(spec: Value) -> Value {
        json!({"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": "pi", "namespace": "default", "uid": "u-1"}, "spec": spec})
    }

    // batch/job strategy generateSelector: selector and labels from the uid and name.
    #[test]
    fn job_strategy_generates_the_selector_and_template_labels() {
        let mut object = job(json!({"template": {"spec": {}}}));
        prepare_for_create(&job_kind(), &mut object);
        assert_eq!(
            object["spec"]["selector"],
            json!({"matchLabels": {"batch.kubernetes.io/controller-uid": "u-1"}})
        );
        assert_eq!(
            object["spec"]["template"]["metadata"]["labels"],
            json!({"batch.kubernetes.io/controller-uid": "u-1", "batch.kubernetes.io/job-name": "pi",
                "controller-uid": "u-1", "job-name": "pi"})
        );
    }

    // batch/job strategy generateSelector: labels the user set are kept (validation refuses a conflict).
    #[test]
    fn job_strategy_keeps_labels_the_user_set() {
        let mut object = job(json!({"template": {"metadata": {"labels": {"job-name": "other"}}}}));
        prepare_for_create(&job_kind(), &mut object);
        assert_eq!(
            object["spec"]["template"]["metadata"]["labels"]["job-name"],
            "other"
        );
    }

    // batch/job strategy PrepareForCreate: a manual selector is left alone.
    #[test]
    fn job_strategy_leaves_a_manual_selector_alone() {
        let spec = json!({"manualSelector": true, "selector": {"matchLabels": {"app": "pi"}},
            "template": {"metadata": {"labels": {"app": "pi"}}}});
        let mut object = job(spec.clone());
        prepare_for_create(&job_kind(), &mut object);
        assert_eq!(object["spec"], spec);
    }

    // namespace strategy Canonicalize: the name label is always the name.
    #[test]
    fn namespace_strategy_labels_the_namespace_with_its_name() {
        let kind = GroupKind::new("", "Namespace");
        let mut object = json!({"metadata": {"name": "prod",
            "labels": {"kubernetes.io/metadata.name": "other"}}});
        prepare_for_update(&kind, Subresource::Main, &json!({}), &mut object);
        assert_eq!(
            object["metadata"]["labels"],
            json!({"kubernetes.io/metadata.name": "prod"})
        );
    }

    // deployment strategy PrepareForUpdate: annotation changes bump the generation.
    #[test]
    fn deployment_strategy_bumps_generation_on_annotation_changes() {
        let kind = GroupKind::new("apps", "Deployment");
        let old = json!({"metadata": {"annotations": {"a": "1"}}});
        let new = json!({"metadata": {"annotations": {"a": "2"}}});
        assert!(bumps_generation(&kind, &old, &new));
        assert!(!bumps_generation(&kind, &old, &old));
        assert!(!bumps_generation(
            &GroupKind::new("apps", "ReplicaSet"),
            &old,
            &new
        ));
    }
}
