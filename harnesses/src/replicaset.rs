//! The ReplicaSet controller (`pkg/controller/replicaset` in Kubernetes).
//!
//! Modelled: claiming pods (adopting orphans whose labels match the
//! selector, after a live re-read of the ReplicaSet; releasing owned pods
//! whose labels no longer match), creating pods from the template
//! (`generateName` `<rs>-`, controller ownerReference with
//! `blockOwnerDeletion`), deleting surplus pods in Kubernetes' `ActivePods`
//! order (see [`crate::common`] for the tie-break), ignoring pods that are
//! terminal or being deleted, expectations (see [`crate::expectations`]),
//! stopping quietly when the namespace is terminating, and the status:
//! `replicas`, `fullyLabeledReplicas`, `readyReplicas`, `availableReplicas`,
//! `observedGeneration`, computed from the pods listed before this
//! reconcile's writes, as Kubernetes does.
//!
//! Left out: `minReadySeconds` (a ready pod is available at once), the
//! `ReplicaFailure` condition, slow-start batching of creations (all
//! missing pods are created in one reconcile; the first failure stops it),
//! the burst limit, and ranking pods by co-location.

use k8s_openapi::api::apps::v1::{ReplicaSet, ReplicaSetStatus};
use k8s_openapi::api::core::v1::Pod;
use kcheck_engine::api::ObjectKey;
use kcheck_engine::client::{Api, Client, DeleteParams, PostParams};
use kcheck_engine::runtime::{Action, Ctx, ReconcileError, Reconciler, Watches};

use crate::common::{
    Claim, controller_ref, count, deletion_order, is_active, is_deleting, is_forbidden, is_ready,
    labels, name_of, non_zero, pod_from_template, selector, uid_of,
};
use crate::expectations::Expectations;

/// The ReplicaSet controller: keeps `spec.replicas` pods.
#[derive(Clone, Copy, Debug, Default)]
pub struct ReplicaSetController;

impl Reconciler for ReplicaSetController {
    fn name(&self) -> &str {
        "replicaset"
    }

    fn watches(&self) -> Watches {
        Watches::for_kind::<ReplicaSet>().owns::<Pod>()
    }

    fn reconcile(&self, ctx: &Ctx<'_>, request: &ObjectKey) -> Result<Action, ReconcileError> {
        let namespace = request.namespace.as_deref().unwrap_or("default");
        let client = ctx.client();
        let sets: Api<ReplicaSet> = Api::namespaced(client, namespace);
        let mut expectations = Expectations::load(ctx);
        let Some(rs) = sets.get_opt(&request.name)? else {
            expectations.forget(namespace, &request.name);
            expectations.store(ctx);
            return Ok(Action::await_change());
        };
        let pods: Api<Pod> = Api::namespaced(client, namespace);
        let satisfied = expectations.satisfied(ctx, client, &pods, namespace, &request.name)?;
        let owned = claim_pods(client, &pods, &rs)?;
        let result = if satisfied && !is_deleting(&rs.metadata) {
            manage_replicas(&pods, &rs, &owned, &mut expectations, namespace)
        } else {
            Ok(())
        };
        expectations.store(ctx);
        result?;
        update_status(&sets, &rs, &owned)?;
        Ok(Action::await_change())
    }
}

/// The active pods the ReplicaSet controls after adoption and release.
fn claim_pods(
    client: Client<'_>,
    pods: &Api<'_, Pod>,
    rs: &ReplicaSet,
) -> Result<Vec<Pod>, ReconcileError> {
    let spec = rs
        .spec
        .as_ref()
        .ok_or_else(|| ReconcileError::msg("ReplicaSet has no spec"))?;
    let claim = Claim {
        api: pods,
        owner: controller_ref(rs)?,
        owner_deleting: is_deleting(&rs.metadata),
        selector: selector(&spec.selector)?,
    };
    let candidates = claim.candidates()?.into_iter().filter(is_active).collect();
    let name = name_of(&rs.metadata)?;
    let uid = uid_of(&rs.metadata)?;
    claim.run(candidates, || {
        let namespace = rs.metadata.namespace.as_deref().unwrap_or("default");
        let live: Api<ReplicaSet> = Api::namespaced(client, namespace).live();
        let fresh = live.get_opt(name)?;
        Ok(fresh
            .is_some_and(|f| f.metadata.uid.as_deref() == Some(uid) && !is_deleting(&f.metadata)))
    })
}

/// Creates missing pods or deletes surplus ones, recording expectations.
fn manage_replicas(
    pods: &Api<'_, Pod>,
    rs: &ReplicaSet,
    owned: &[Pod],
    expectations: &mut Expectations,
    namespace: &str,
) -> Result<(), ReconcileError> {
    let name = name_of(&rs.metadata)?;
    let spec = rs
        .spec
        .as_ref()
        .ok_or_else(|| ReconcileError::msg("ReplicaSet has no spec"))?;
    let want = usize::try_from(spec.replicas.unwrap_or(1).max(0)).unwrap_or(0);
    let mut added = Vec::new();
    let mut deleted = Vec::new();
    let result = if owned.len() < want {
        let template = spec
            .template
            .as_ref()
            .ok_or_else(|| ReconcileError::msg("ReplicaSet has no spec.template"))?;
        let pod = pod_from_template(template, name, controller_ref(rs)?, &[]);
        create_pods(pods, &pod, want - owned.len(), &mut added)
    } else {
        let mut victims: Vec<&Pod> = owned.iter().collect();
        deletion_order(&mut victims);
        delete_pods(pods, &victims[..owned.len() - want], &mut deleted)
    };
    expectations.expect(namespace, name, &added, &deleted);
    result
}

/// Creates `n` copies of `pod`, stopping at the first failure. A
/// terminating namespace forbids creation: that is not an error worth
/// retrying (Kubernetes ignores it too).
pub(crate) fn create_pods(
    pods: &Api<'_, Pod>,
    pod: &Pod,
    n: usize,
    added: &mut Vec<String>,
) -> Result<(), ReconcileError> {
    for _ in 0..n {
        match pods.create(&PostParams::default(), pod) {
            Ok(created) => added.extend(created.metadata.name),
            Err(e) if is_forbidden(&e) => return Ok(()),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Deletes the pods (already gone is fine).
pub(crate) fn delete_pods(
    pods: &Api<'_, Pod>,
    victims: &[&Pod],
    deleted: &mut Vec<String>,
) -> Result<(), ReconcileError> {
    for pod in victims {
        let name = name_of(&pod.metadata)?;
        match pods.delete(name, &DeleteParams::default()) {
            Ok(_) => deleted.push(name.to_string()),
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Writes the status computed from `owned`, unless it is unchanged.
fn update_status(
    sets: &Api<'_, ReplicaSet>,
    rs: &ReplicaSet,
    owned: &[Pod],
) -> Result<(), ReconcileError> {
    let template_labels = rs
        .spec
        .as_ref()
        .and_then(|s| s.template.as_ref())
        .and_then(|t| t.metadata.as_ref())
        .map(labels)
        .unwrap_or_default();
    let fully_labeled = owned
        .iter()
        .filter(|p| {
            let have = labels(&p.metadata);
            template_labels.iter().all(|(k, v)| have.get(k) == Some(v))
        })
        .count();
    let ready = owned.iter().filter(|p| is_ready(p)).count();
    let old = rs.status.clone().unwrap_or_default();
    let status = ReplicaSetStatus {
        replicas: count(owned.len()),
        fully_labeled_replicas: non_zero(count(fully_labeled)),
        ready_replicas: non_zero(count(ready)),
        available_replicas: non_zero(count(ready)),
        observed_generation: rs.metadata.generation.filter(|g| *g != 0),
        conditions: old.conditions.clone(),
        ..Default::default()
    };
    if status == old {
        return Ok(());
    }
    let mut updated = rs.clone();
    updated.status = Some(status);
    sets.replace_status(name_of(&rs.metadata)?, &PostParams::default(), &updated)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Kubelet;
    use crate::testing::{cluster, explore_all, pods, run_both_orders};
    use kcheck_engine::Model;
    use serde_json::{Value, json};

    fn replica_set(replicas: i32) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
               "metadata": {"name": "web", "namespace": "default"},
               "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                        "template": {"metadata": {"labels": {"app": "web"}},
                                     "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}}})
    }

    fn pod(name: &str, labels: Value, owner_uid: Option<&str>) -> Value {
        let mut pod = json!({"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": name, "namespace": "default", "labels": labels},
               "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}});
        if let Some(uid) = owner_uid {
            pod["metadata"]["ownerReferences"] = json!([{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                "name": "web", "uid": uid, "controller": true, "blockOwnerDeletion": true}]);
        }
        pod
    }

    fn owner_uids(pod: &Value) -> Vec<&str> {
        pod["metadata"]["ownerReferences"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r["uid"].as_str())
            .collect()
    }

    #[test]
    fn creates_three_pods_that_the_kubelet_makes_ready_in_every_order() {
        let model = Model::new(cluster(&[replica_set(3)]))
            .controller(ReplicaSetController)
            .controller(Kubelet::new());
        let report = explore_all(model, 40);
        let server = &report.converged[0].world.server;
        let pods = pods(server);
        assert_eq!(pods.len(), 3);
        assert!(pods.iter().all(|p| p["status"]["phase"] == "Running"));
        assert!(pods.iter().all(|p| p["metadata"]["generateName"] == "web-"));
        let rs = crate::testing::get(server, "apps", "ReplicaSet", Some("default"), "web").unwrap();
        assert_eq!(
            rs["status"],
            json!({"replicas": 3, "fullyLabeledReplicas": 3, "readyReplicas": 3,
                   "availableReplicas": 3, "observedGeneration": 1})
        );
    }

    #[test]
    fn adopts_a_matching_orphan_pod() {
        let model = Model::new(cluster(&[
            replica_set(2),
            pod("stray", json!({"app": "web"}), None),
            pod("other", json!({"app": "db"}), None),
        ]))
        .controller(ReplicaSetController);
        let server = run_both_orders(&model).server;
        let rs_uid = crate::testing::get(&server, "apps", "ReplicaSet", Some("default"), "web")
            .unwrap()["metadata"]["uid"]
            .as_str()
            .unwrap()
            .to_string();
        let pods = pods(&server);
        assert_eq!(
            pods.len(),
            3,
            "the orphan counts: one pod is created, not two"
        );
        let stray = pods
            .iter()
            .find(|p| p["metadata"]["name"] == "stray")
            .unwrap();
        assert_eq!(owner_uids(stray), [rs_uid.as_str()]);
        let other = pods
            .iter()
            .find(|p| p["metadata"]["name"] == "other")
            .unwrap();
        assert!(owner_uids(other).is_empty());
    }

    #[test]
    fn releases_a_pod_whose_labels_no_longer_match() {
        let mut server = cluster(&[replica_set(1)]);
        let uid = crate::testing::get(&server, "apps", "ReplicaSet", Some("default"), "web")
            .unwrap()["metadata"]["uid"]
            .as_str()
            .unwrap()
            .to_string();
        server
            .seed(
                pod("relabelled", json!({"app": "debug"}), Some(&uid)),
                "kubectl",
            )
            .unwrap();
        let model = Model::new(server).controller(ReplicaSetController);
        let server = run_both_orders(&model).server;
        let pods = pods(&server);
        assert_eq!(pods.len(), 2, "a replacement is created");
        let released = pods
            .iter()
            .find(|p| p["metadata"]["name"] == "relabelled")
            .unwrap();
        assert!(
            released["metadata"].get("ownerReferences").is_none(),
            "{released}"
        );
        let replacement = pods
            .iter()
            .find(|p| p["metadata"]["name"] != "relabelled")
            .unwrap();
        assert_eq!(owner_uids(replacement), [uid.as_str()]);
    }
}
