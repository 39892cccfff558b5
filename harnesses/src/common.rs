//! Helpers the built-in controllers share: owner references, selectors,
//! pod state and ranking, timestamps and config parsing. The Kubernetes
//! equivalents live in `k8s.io/kubernetes/pkg/controller` (`controller_utils.go`,
//! `controller_ref_manager.go`).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    LabelSelector as K8sSelector, ObjectMeta, OwnerReference, Time,
};
use kcheck_engine::api::LabelSelector;
use kcheck_engine::client::{self, Api, Patch, PatchParams};
use kcheck_engine::runtime::{Ctx, ReconcileError};
use kube_core::Resource;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

/// The logical time now, as a `metav1.Time`.
pub(crate) fn now(ctx: &Ctx<'_>) -> Result<Time, ReconcileError> {
    ctx.now()
        .parse()
        .map(Time)
        .map_err(|e| ReconcileError::msg(format!("logical clock: {e}")))
}

/// The name of an object read from the server (always set there).
pub(crate) fn name_of(meta: &ObjectMeta) -> Result<&str, ReconcileError> {
    meta.name
        .as_deref()
        .ok_or_else(|| ReconcileError::msg("object read from the server has no metadata.name"))
}

/// The uid of an object read from the server (always set there).
pub(crate) fn uid_of(meta: &ObjectMeta) -> Result<&str, ReconcileError> {
    meta.uid
        .as_deref()
        .ok_or_else(|| ReconcileError::msg("object read from the server has no metadata.uid"))
}

/// Whether `metadata.deletionTimestamp` is set.
pub(crate) fn is_deleting(meta: &ObjectMeta) -> bool {
    meta.deletion_timestamp.is_some()
}

/// The labels as a sorted map.
pub(crate) fn labels(meta: &ObjectMeta) -> BTreeMap<String, String> {
    meta.labels.clone().unwrap_or_default()
}

/// A controller ownerReference to `owner`, with `blockOwnerDeletion`, as
/// Kubernetes' `metav1.NewControllerRef` makes it.
pub(crate) fn controller_ref<K>(owner: &K) -> Result<OwnerReference, ReconcileError>
where
    K: Resource<DynamicType = ()>,
{
    Ok(OwnerReference {
        api_version: K::api_version(&()).into_owned(),
        kind: K::kind(&()).into_owned(),
        name: name_of(owner.meta())?.to_string(),
        uid: uid_of(owner.meta())?.to_string(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    })
}

/// The controller ownerReference of an object, if any.
pub(crate) fn controller_of(meta: &ObjectMeta) -> Option<&OwnerReference> {
    meta.owner_references
        .iter()
        .flatten()
        .find(|r| r.controller == Some(true))
}

/// Whether the object's controller is the object with this uid.
pub(crate) fn is_controlled_by(meta: &ObjectMeta, uid: &str) -> bool {
    controller_of(meta).is_some_and(|r| r.uid == uid)
}

/// A `metav1.LabelSelector` as the engine's selector. Kubernetes turns an
/// empty selector into "everything"; a controller must never claim every
/// object, so callers treat [`LabelSelector::is_everything`] as "nothing".
pub(crate) fn selector(selector: &K8sSelector) -> Result<LabelSelector, ReconcileError> {
    let json = serde_json::to_value(selector)?;
    LabelSelector::from_json(&json).map_err(|e| ReconcileError::msg(format!("spec.selector: {e}")))
}

/// Whether a non-empty selector matches the labels.
pub(crate) fn selects(selector: &LabelSelector, meta: &ObjectMeta) -> bool {
    !selector.is_everything() && selector.matches_labels(&labels(meta))
}

/// `Some(n)` unless `n` is zero: status counts are `omitempty` in the API.
pub(crate) fn non_zero(n: i32) -> Option<i32> {
    (n != 0).then_some(n)
}

/// A count as the API's `int32`.
pub(crate) fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// True for 403 Forbidden, which a create in a terminating namespace gets.
pub(crate) fn is_forbidden(e: &client::Error) -> bool {
    e.api().is_some_and(|a| a.is_forbidden())
}

// ----- pods -----------------------------------------------------------

/// The pod's phase, `Pending` when unset.
pub(crate) fn phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("Pending")
}

/// Kubernetes' `IsPodActive`: not Succeeded, not Failed, not being deleted.
pub(crate) fn is_active(pod: &Pod) -> bool {
    !matches!(phase(pod), "Succeeded" | "Failed") && !is_deleting(&pod.metadata)
}

/// Whether the pod's `Ready` condition is `True`.
pub(crate) fn is_ready(pod: &Pod) -> bool {
    pod.status
        .iter()
        .flat_map(|s| s.conditions.iter().flatten())
        .any(|c| c.type_ == "Ready" && c.status == "True")
}

/// The pods to delete first, as Kubernetes' `ActivePods` ordering: not
/// scheduled before scheduled, Pending before Unknown before Running, not
/// ready before ready. Kubernetes then prefers pods ready for less time
/// and more restarts; kcheck's timestamps are logical (and left out of
/// state hashes), so the last tie-break is the name, greatest first: a
/// pure function of the state.
pub(crate) fn deletion_order(pods: &mut [&Pod]) {
    fn rank(pod: &Pod) -> (bool, u8, bool) {
        let scheduled = pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.as_ref())
            .is_some();
        let phase = match phase(pod) {
            "Pending" => 0,
            "Unknown" => 1,
            "Running" => 2,
            _ => 3,
        };
        (scheduled, phase, is_ready(pod))
    }
    pods.sort_by(|a, b| {
        rank(a)
            .cmp(&rank(b))
            .then_with(|| b.metadata.name.cmp(&a.metadata.name))
    });
}

/// A pod from a template, as Kubernetes' `GetPodFromTemplate`: the
/// template's labels (plus `extra_labels`), annotations, finalizers and
/// spec, `generateName` `<controller>-` and a controller ownerReference.
pub(crate) fn pod_from_template(
    template: &PodTemplateSpec,
    controller_name: &str,
    owner: OwnerReference,
    extra_labels: &[(&str, &str)],
) -> Pod {
    let meta = template.metadata.clone().unwrap_or_default();
    let mut labels = meta.labels.unwrap_or_default();
    for (k, v) in extra_labels {
        labels.insert((*k).to_string(), (*v).to_string());
    }
    Pod {
        metadata: ObjectMeta {
            generate_name: Some(format!("{controller_name}-")),
            labels: (!labels.is_empty()).then_some(labels),
            annotations: meta.annotations,
            finalizers: meta.finalizers,
            owner_references: Some(vec![owner]),
            ..Default::default()
        },
        spec: template.spec.clone(),
        ..Default::default()
    }
}

// ----- adoption and release ------------------------------------------------

/// Sets an object's ownerReferences with a merge patch that carries the
/// resourceVersion and uid read, so a concurrent change is a conflict
/// rather than lost (Kubernetes uses a strategic merge patch with a uid
/// precondition to the same effect).
pub(crate) fn patch_owner_refs<K>(
    api: &Api<'_, K>,
    meta: &ObjectMeta,
    refs: Vec<OwnerReference>,
) -> Result<K, client::Error>
where
    K: Resource + Clone + Serialize + DeserializeOwned + Send + Sync + 'static,
{
    let refs = if refs.is_empty() {
        Value::Null
    } else {
        serde_json::to_value(refs).unwrap_or(Value::Null)
    };
    let patch = json!({"metadata": {
        "ownerReferences": refs,
        "resourceVersion": meta.resource_version,
        "uid": meta.uid,
    }});
    api.patch(
        meta.name.as_deref().unwrap_or_default(),
        &PatchParams::default(),
        &Patch::Merge(patch),
    )
}

/// The claim of a controller over candidate objects, as Kubernetes'
/// `ControllerRefManager.ClaimObject`: keeps what it controls and still
/// selects, releases what it controls but no longer selects, adopts
/// orphans it selects. Returns the objects it controls afterwards.
pub(crate) struct Claim<'a, 'c, K: Resource> {
    /// The API the candidates are patched through.
    pub api: &'a Api<'c, K>,
    /// The controller's ownerReference.
    pub owner: OwnerReference,
    /// Whether the controller is being deleted (then it neither adopts nor
    /// releases).
    pub owner_deleting: bool,
    /// The controller's selector.
    pub selector: LabelSelector,
}

impl<K> Claim<'_, '_, K>
where
    K: Resource + Clone + Serialize + DeserializeOwned + Send + Sync + 'static,
{
    /// The objects the claim looks at, read from the cache: those the
    /// controller controls and the orphans it selects (see
    /// [`Api::list_claimable`]).
    pub fn candidates(&self) -> Result<Vec<K>, ReconcileError> {
        let claimant = client::Claimant {
            uid: self.owner.uid.clone(),
            selector: self.selector.clone(),
        };
        Ok(self
            .api
            .list_claimable(&client::ListParams::default(), claimant)?)
    }

    /// Claims the candidates. `can_adopt` is asked once, before the first
    /// adoption: Kubernetes re-reads the controller live to make sure it is
    /// still there and not being deleted.
    pub fn run(
        &self,
        candidates: Vec<K>,
        can_adopt: impl FnOnce() -> Result<bool, ReconcileError>,
    ) -> Result<Vec<K>, ReconcileError> {
        let mut can_adopt = Some(can_adopt);
        let mut adoptable = false;
        let mut owned = Vec::new();
        for object in candidates {
            let meta = object.meta();
            let matches = selects(&self.selector, meta);
            match controller_of(meta) {
                Some(r) if r.uid == self.owner.uid => {
                    if matches || self.owner_deleting {
                        owned.push(object);
                    } else {
                        self.release(meta)?;
                    }
                }
                Some(_) => {}
                None if matches && !self.owner_deleting && !is_deleting(meta) => {
                    if let Some(check) = can_adopt.take() {
                        adoptable = check()?;
                    }
                    if adoptable && let Some(adopted) = self.adopt(meta)? {
                        owned.push(adopted);
                    }
                }
                None => {}
            }
        }
        Ok(owned)
    }

    fn adopt(&self, meta: &ObjectMeta) -> Result<Option<K>, ReconcileError> {
        let mut refs = meta.owner_references.clone().unwrap_or_default();
        refs.retain(|r| r.uid != self.owner.uid);
        refs.push(self.owner.clone());
        match patch_owner_refs(self.api, meta, refs) {
            Ok(adopted) => Ok(Some(adopted)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    fn release(&self, meta: &ObjectMeta) -> Result<(), ReconcileError> {
        let mut refs = meta.owner_references.clone().unwrap_or_default();
        refs.retain(|r| r.uid != self.owner.uid);
        match patch_owner_refs(self.api, meta, refs) {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

// ----- config -----------------------------------------------------------

/// A controller's JSON config as a map with only the allowed fields;
/// `null` and a missing config are the empty map.
pub(crate) fn config_map(
    controller: &str,
    config: Option<&Value>,
    allowed: &[&str],
) -> Result<Map<String, Value>, String> {
    let map = match config {
        None | Some(Value::Null) => return Ok(Map::new()),
        Some(Value::Object(map)) => map.clone(),
        Some(other) => {
            return Err(format!(
                "controller {controller:?}: config must be a JSON object, not {other}"
            ));
        }
    };
    if let Some(unknown) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
        let known = if allowed.is_empty() {
            "it takes no config fields".to_string()
        } else {
            format!("known fields: {}", allowed.join(", "))
        };
        return Err(format!(
            "controller {controller:?}: config.{unknown}: unknown field ({known})"
        ));
    }
    Ok(map)
}

/// A config field that is a list of strings (missing: empty).
pub(crate) fn config_strings(
    controller: &str,
    map: &Map<String, Value>,
    field: &str,
) -> Result<Vec<String>, String> {
    let Some(value) = map.get(field) else {
        return Ok(Vec::new());
    };
    let bad = || {
        format!(
            "controller {controller:?}: config.{field}: expected a list of strings, got {value}"
        )
    };
    value
        .as_array()
        .ok_or_else(bad)?
        .iter()
        .map(|v| v.as_str().map(str::to_string).ok_or_else(bad))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str, phase: &str, ready: bool) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": name},
            "status": {"phase": phase, "conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"}}]}
        }))
        .unwrap()
    }

    #[test]
    fn deletion_order_prefers_pending_then_not_ready_then_greatest_name() {
        let a = pod("a", "Running", true);
        let b = pod("b", "Running", false);
        let c = pod("c", "Pending", false);
        let d = pod("d", "Running", true);
        let mut pods = vec![&a, &b, &c, &d];
        deletion_order(&mut pods);
        let names: Vec<_> = pods
            .iter()
            .map(|p| p.metadata.name.as_deref().unwrap())
            .collect();
        assert_eq!(names, ["c", "b", "d", "a"]);
    }

    #[test]
    fn config_rejects_unknown_fields_naming_them() {
        let err = config_map("kubelet", Some(&json!({"fial": []})), &["fail"]).unwrap_err();
        assert!(err.contains("config.fial"), "{err}");
        let err = config_strings(
            "kubelet",
            &json!({"fail": [1]}).as_object().unwrap().clone(),
            "fail",
        )
        .unwrap_err();
        assert!(err.contains("config.fail"), "{err}");
    }
}
