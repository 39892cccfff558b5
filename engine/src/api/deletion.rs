//! What a DELETE does to an object before it is stored or removed: the
//! garbage-collection finalizers of the propagation policy and the grace
//! period of a graceful deletion, as the generic registry store of
//! kube-apiserver decides them (`deletionFinalizersForGarbageCollection`,
//! `rest.BeforeDelete` and the pod strategy's `CheckGracefulDelete`).

use serde_json::Value;

use super::key::GroupKind;
use super::meta;
use super::server::{DeleteOptions, FOREGROUND_FINALIZER, ORPHAN_FINALIZER, Propagation};

/// The grace period of a Pod that sets no `terminationGracePeriodSeconds`:
/// Kubernetes' default of that field.
pub const DEFAULT_POD_GRACE_SECONDS: i64 = 30;

/// What a delete with no propagation policy does to dependents, by kind
/// (`DefaultGarbageCollectionPolicy` of the kind's registry strategy):
/// `batch/v1` Jobs orphan their Pods, kept so for compatibility; every other
/// kind deletes them in the background.
pub fn default_propagation(kind: &GroupKind) -> Propagation {
    if kind.group == "batch" && kind.kind == "Job" {
        Propagation::Orphan
    } else {
        Propagation::Background
    }
}

/// The object's finalizers after a delete with these options
/// (`deletionFinalizersForGarbageCollection`): `orphan` and
/// `foregroundDeletion` are taken out, then put back as the request's policy
/// says; without a policy, a finalizer already there decides, then the
/// kind's default. Other finalizers keep their order.
pub fn gc_finalizers(kind: &GroupKind, current: &[String], options: &DeleteOptions) -> Vec<String> {
    let has = |f: &str| current.iter().any(|x| x == f);
    let policy = options.propagation.unwrap_or_else(|| {
        if has(ORPHAN_FINALIZER) {
            Propagation::Orphan
        } else if has(FOREGROUND_FINALIZER) {
            Propagation::Foreground
        } else {
            default_propagation(kind)
        }
    });
    let mut out: Vec<String> = current
        .iter()
        .filter(|f| *f != ORPHAN_FINALIZER && *f != FOREGROUND_FINALIZER)
        .cloned()
        .collect();
    out.extend(policy.finalizer().map(str::to_string));
    out
}

/// The grace period, in seconds, of the first delete of an object: `0`
/// deletes it (or marks it deleting, if finalizers hold it) at once.
///
/// Only Pods are deleted gracefully (the pod strategy's
/// `CheckGracefulDelete`): the request's `gracePeriodSeconds`, else the
/// Pod's `spec.terminationGracePeriodSeconds`, else 30; but `0` for a Pod no
/// node runs (no `spec.nodeName`) or one that already ended (`Succeeded` or
/// `Failed`), and `1` for a negative period.
pub fn grace_period(kind: &GroupKind, object: &Value, options: &DeleteOptions) -> i64 {
    if !(kind.group.is_empty() && kind.kind == "Pod") {
        return 0;
    }
    let unscheduled = object
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty);
    let ended = matches!(
        object.pointer("/status/phase").and_then(Value::as_str),
        Some("Succeeded" | "Failed")
    );
    if unscheduled || ended {
        return 0;
    }
    let period = options.grace_period_seconds.unwrap_or_else(|| {
        object
            .pointer("/spec/terminationGracePeriodSeconds")
            .and_then(Value::as_i64)
            .unwrap_or(DEFAULT_POD_GRACE_SECONDS)
    });
    if period < 0 { 1 } else { period }
}

/// The grace period of a graceful deletion under way, if there is one
/// (`metadata.deletionGracePeriodSeconds` above zero). While it runs, a
/// delete may only shorten it, and does not change finalizers
/// (`rest.BeforeDelete`).
pub fn pending_grace(object: &Value) -> Option<i64> {
    meta::metadata(object)?
        .get("deletionGracePeriodSeconds")?
        .as_i64()
        .filter(|g| *g > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn job() -> GroupKind {
        GroupKind::new("batch", "Job")
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    fn with(propagation: Option<Propagation>) -> DeleteOptions {
        DeleteOptions {
            propagation,
            ..DeleteOptions::default()
        }
    }

    // batch/v1 job strategy DefaultGarbageCollectionPolicy: OrphanDependents.
    #[test]
    fn a_job_deleted_without_a_policy_orphans_its_pods() {
        assert_eq!(
            gc_finalizers(&job(), &[], &with(None)),
            strings(&["orphan"])
        );
        let deployment = GroupKind::new("apps", "Deployment");
        assert!(gc_finalizers(&deployment, &[], &with(None)).is_empty());
    }

    // deletionFinalizersForGarbageCollection: the request's policy replaces
    // the finalizer of an earlier one; without a policy the finalizer stays.
    #[test]
    fn a_policy_replaces_the_finalizer_of_an_earlier_policy() {
        let kind = GroupKind::new("", "ConfigMap");
        let current = strings(&["mine", "orphan"]);
        let foreground = gc_finalizers(&kind, &current, &with(Some(Propagation::Foreground)));
        assert_eq!(foreground, strings(&["mine", "foregroundDeletion"]));
        let background = gc_finalizers(&kind, &current, &with(Some(Propagation::Background)));
        assert_eq!(background, strings(&["mine"]));
        assert_eq!(gc_finalizers(&kind, &current, &with(None)), current);
        let explicit_background = gc_finalizers(&job(), &[], &with(Some(Propagation::Background)));
        assert!(explicit_background.is_empty());
    }

    // pod strategy CheckGracefulDelete.
    #[test]
    fn only_a_bound_running_pod_is_deleted_gracefully() {
        let pod = GroupKind::new("", "Pod");
        let bound = json!({"spec": {"nodeName": "node-1"}, "status": {"phase": "Running"}});
        let none = DeleteOptions::default();
        assert_eq!(grace_period(&pod, &bound, &none), DEFAULT_POD_GRACE_SECONDS);
        let short = json!({"spec": {"nodeName": "n", "terminationGracePeriodSeconds": 5}});
        assert_eq!(grace_period(&pod, &short, &none), 5);
        let zero = DeleteOptions {
            grace_period_seconds: Some(0),
            ..DeleteOptions::default()
        };
        assert_eq!(grace_period(&pod, &bound, &zero), 0);
        let negative = json!({"spec": {"nodeName": "n", "terminationGracePeriodSeconds": -3}});
        assert_eq!(grace_period(&pod, &negative, &none), 1);
        let unscheduled = json!({"spec": {}, "status": {"phase": "Pending"}});
        assert_eq!(grace_period(&pod, &unscheduled, &none), 0);
        let done = json!({"spec": {"nodeName": "n"}, "status": {"phase": "Succeeded"}});
        assert_eq!(grace_period(&pod, &done, &none), 0);
        let config_map = GroupKind::new("", "ConfigMap");
        assert_eq!(grace_period(&config_map, &bound, &none), 0);
    }
}
