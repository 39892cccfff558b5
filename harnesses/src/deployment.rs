//! The Deployment controller (`pkg/controller/deployment` in Kubernetes).
//!
//! Modelled:
//! - ReplicaSets named `<deployment>-<pod-template-hash>`, the hash a
//!   deterministic function of the pod template (see [`pod_template_hash`]),
//!   labelled, selected and templated with `pod-template-hash`, annotated
//!   with `deployment.kubernetes.io/revision`, controlled by the Deployment
//!   (ownerReference with `blockOwnerDeletion`); a name collision with a
//!   ReplicaSet of another template bumps `status.collisionCount`;
//! - claiming ReplicaSets (adopting orphans the selector matches, releasing
//!   owned ones it no longer matches);
//! - `RollingUpdate` as `rolloutRolling`: scale the new ReplicaSet up within
//!   `replicas + maxSurge`, then scale old ones down keeping
//!   `replicas - maxUnavailable` available (unhealthy old replicas first),
//!   with `maxSurge`/`maxUnavailable` as integers or percentages (surge
//!   rounded up, unavailability down, both defaulting to 25%, and never both
//!   zero);
//! - `Recreate`: scale every old ReplicaSet to zero, wait until their
//!   status has observed that and counts no replicas, and until none of
//!   their pods is left but ended ones (Terminating pods are waited for),
//!   then create or scale the new one; a pod of the Deployment being
//!   deleted, or gone, triggers the Deployment;
//! - a rollback to an older template reuses its ReplicaSet and gives it the
//!   next revision;
//! - revisions: the `deployment.kubernetes.io/revision` annotation on each
//!   ReplicaSet and, written with the status, on the Deployment (its new
//!   ReplicaSet's); the Deployment's other annotations are copied to its new
//!   ReplicaSet, but for the ones Kubernetes skips;
//! - a Deployment being deleted only gets its status updated;
//! - status: `observedGeneration`, `replicas`, `updatedReplicas`,
//!   `readyReplicas`, `availableReplicas`, `unavailableReplicas`,
//!   `collisionCount`, and the conditions `Available`
//!   (`MinimumReplicasAvailable` / `MinimumReplicasUnavailable`) and
//!   `Progressing` (`NewReplicaSetCreated`, `ReplicaSetUpdated`,
//!   `NewReplicaSetAvailable`), changed only when their status or reason
//!   changes, as `SetDeploymentCondition` does.
//!
//! Left out: `paused`, proportional scaling of several active ReplicaSets
//! when `replicas` changes mid-rollout (the rolling logic alone brings the
//! counts back), `minReadySeconds`, `progressDeadlineSeconds` timing out
//! (`ProgressDeadlineExceeded` needs wall-clock time), cleanup of old
//! ReplicaSets beyond `revisionHistoryLimit`, the `desired-replicas` and
//! `max-replicas` annotations and the `revision-history` annotation.
//! Kubernetes writes
//! the `NewReplicaSetCreated` condition in its own status update right
//! after creating the ReplicaSet; kcheck folds it into the reconcile's one
//! status write.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentCondition, DeploymentStatus, ReplicaSet, ReplicaSetSpec,
};
use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, Time};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kcheck_engine::api::{GroupKind, ObjectKey};
use kcheck_engine::client::{Api, Client, ListParams, PostParams};
use kcheck_engine::runtime::{Action, Ctx, ReconcileError, Reconciler, Watches};
use serde_json::Value;

use crate::common::{
    Claim, controller_of, controller_ref, is_deleting, is_forbidden, name_of, non_zero, now, phase,
    selector, selects, uid_of,
};

/// The label (and selector term) that tells a Deployment's ReplicaSets apart.
pub const POD_TEMPLATE_HASH: &str = "pod-template-hash";
/// The annotation holding a ReplicaSet's revision.
pub const REVISION: &str = "deployment.kubernetes.io/revision";

/// The Deployment controller: rolls pod templates out through ReplicaSets.
#[derive(Clone, Copy, Debug, Default)]
pub struct DeploymentController;

impl Reconciler for DeploymentController {
    fn name(&self) -> &str {
        "deployment"
    }

    fn watches(&self) -> Watches {
        Watches::for_kind::<Deployment>()
            .owns::<ReplicaSet>()
            .watches::<Pod>(deployment_of_deleted_pod)
    }

    fn reconcile(&self, ctx: &Ctx<'_>, request: &ObjectKey) -> Result<Action, ReconcileError> {
        let namespace = request.namespace.as_deref().unwrap_or("default");
        let client = ctx.client();
        let deployments: Api<Deployment> = Api::namespaced(client, namespace);
        let Some(d) = deployments.get_opt(&request.name)? else {
            return Ok(Action::await_change());
        };
        let sets: Api<ReplicaSet> = Api::namespaced(client, namespace);
        let mut sync = Sync {
            ctx,
            sets: &sets,
            status: d.status.clone().unwrap_or_default(),
            rss: claim_replica_sets(client, &sets, &d)?,
            d: &d,
            spec: Spec::of(&d)?,
        };
        if !is_deleting(&d.metadata) {
            if sync.spec.recreate {
                sync.recreate()?;
            } else {
                sync.rolling()?;
            }
        }
        sync.write_status(&deployments)?;
        Ok(Action::await_change())
    }
}

/// The Deployment to sync when a pod of one of its ReplicaSets is gone, so
/// that Recreate hears that the old pods went (the controller's `deletePod`
/// handler). A pod's last state is deleting with no grace period left; so
/// is a pod held only by finalizers, which triggers it too. The Deployment
/// is named from the pod's ReplicaSet, `<deployment>-<pod-template-hash>`;
/// Kubernetes looks the ReplicaSet up instead, and syncs only a Recreate
/// Deployment, which a mapper of one pod cannot tell.
fn deployment_of_deleted_pod(pod: &Value) -> Vec<ObjectKey> {
    let Ok(pod) = serde_json::from_value::<Pod>(pod.clone()) else {
        return Vec::new();
    };
    let hash = pod
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(POD_TEMPLATE_HASH));
    let owner = controller_of(&pod.metadata).filter(|o| o.kind == "ReplicaSet");
    let gone = is_deleting(&pod.metadata) && pod.metadata.deletion_grace_period_seconds == Some(0);
    let (Some(hash), Some(owner), true) = (hash, owner, gone) else {
        return Vec::new();
    };
    owner
        .name
        .strip_suffix(hash.as_str())
        .and_then(|name| name.strip_suffix('-'))
        .map(|name| {
            let namespace = pod.metadata.namespace.as_deref();
            vec![ObjectKey::new(
                GroupKind::new("apps", "Deployment"),
                namespace,
                name,
            )]
        })
        .unwrap_or_default()
}

/// The ReplicaSets the Deployment controls after adoption and release.
fn claim_replica_sets(
    client: Client<'_>,
    sets: &Api<'_, ReplicaSet>,
    d: &Deployment,
) -> Result<Vec<ReplicaSet>, ReconcileError> {
    let spec = d
        .spec
        .as_ref()
        .ok_or_else(|| ReconcileError::msg("Deployment has no spec"))?;
    let claim = Claim {
        api: sets,
        owner: controller_ref(d)?,
        owner_deleting: is_deleting(&d.metadata),
        selector: selector(&spec.selector)?,
    };
    let name = name_of(&d.metadata)?;
    let uid = uid_of(&d.metadata)?;
    let namespace = d.metadata.namespace.as_deref().unwrap_or("default");
    claim.run(claim.candidates()?, || {
        let live: Api<Deployment> = Api::namespaced(client, namespace).live();
        let fresh = live.get_opt(name)?;
        Ok(fresh
            .is_some_and(|f| f.metadata.uid.as_deref() == Some(uid) && !is_deleting(&f.metadata)))
    })
}

/// The parts of a Deployment's spec the sync uses, defaulted as the API
/// server would.
struct Spec {
    replicas: i32,
    recreate: bool,
    max_surge: i32,
    max_unavailable: i32,
    template: PodTemplateSpec,
    selector: LabelSelector,
}

impl Spec {
    fn of(d: &Deployment) -> Result<Self, ReconcileError> {
        let spec = d
            .spec
            .as_ref()
            .ok_or_else(|| ReconcileError::msg("Deployment has no spec"))?;
        let replicas = spec.replicas.unwrap_or(1).max(0);
        let strategy = spec.strategy.clone().unwrap_or_default();
        let recreate = strategy.type_.as_deref() == Some("Recreate");
        let rolling = strategy.rolling_update.unwrap_or_default();
        let quarter = IntOrString::String("25%".into());
        let (max_surge, max_unavailable) = if recreate {
            (0, 0)
        } else {
            resolve_fenceposts(
                rolling.max_surge.as_ref().unwrap_or(&quarter),
                rolling.max_unavailable.as_ref().unwrap_or(&quarter),
                replicas,
            )?
        };
        Ok(Spec {
            replicas,
            recreate,
            max_surge,
            max_unavailable: max_unavailable.min(replicas),
            template: spec.template.clone(),
            selector: spec.selector.clone(),
        })
    }
}

/// `maxSurge` and `maxUnavailable` as pod counts, as Kubernetes'
/// `ResolveFenceposts`: surge rounds up, unavailability down, and if both
/// come out zero one pod may be unavailable.
pub fn resolve_fenceposts(
    max_surge: &IntOrString,
    max_unavailable: &IntOrString,
    replicas: i32,
) -> Result<(i32, i32), ReconcileError> {
    let surge = scaled_value(max_surge, replicas, true)?;
    let unavailable = scaled_value(max_unavailable, replicas, false)?;
    if surge == 0 && unavailable == 0 {
        return Ok((0, 1));
    }
    Ok((surge, unavailable))
}

/// An integer, or a percentage of `total` rounded up or down, as
/// `intstr.GetScaledValueFromIntOrPercent`.
fn scaled_value(value: &IntOrString, total: i32, round_up: bool) -> Result<i32, ReconcileError> {
    match value {
        IntOrString::Int(n) => Ok(*n),
        IntOrString::String(s) => {
            let percent: i64 = s
                .strip_suffix('%')
                .and_then(|p| p.parse().ok())
                .ok_or_else(|| {
                    ReconcileError::msg(format!("invalid value for IntOrString: {s:?}"))
                })?;
            let scaled = i64::from(total) * percent;
            let value = if round_up {
                (scaled + 99).div_euclid(100)
            } else {
                scaled.div_euclid(100)
            };
            Ok(i32::try_from(value).unwrap_or(i32::MAX))
        }
    }
}

/// The pod-template-hash of a template: the first four bytes of the blake3
/// hash of its canonical JSON (without the `pod-template-hash` label, and
/// with the collision count when there is one), printed in decimal and
/// mapped through Kubernetes' `SafeEncodeString` alphabet, as Kubernetes
/// does with its FNV-32a hash. Deterministic across runs and platforms.
pub fn pod_template_hash(template: &PodTemplateSpec, collision_count: Option<i32>) -> String {
    const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let template = without_hash(template);
    let json = serde_json::to_value(&template).unwrap_or_default();
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"kcheck/pod-template-hash/v1\0");
    hasher.update(&kcheck_engine::hash::canonical_json(&json));
    if let Some(n) = collision_count {
        hasher.update(&n.to_le_bytes());
    }
    let bytes = hasher.finalize();
    let n = u32::from_le_bytes([
        bytes.as_bytes()[0],
        bytes.as_bytes()[1],
        bytes.as_bytes()[2],
        bytes.as_bytes()[3],
    ]);
    n.to_string()
        .bytes()
        .map(|b| ALPHANUMS[usize::from(b) % ALPHANUMS.len()] as char)
        .collect()
}

/// The template without the `pod-template-hash` label (and without an empty
/// label map), for comparing templates as `EqualIgnoreHash` does.
fn without_hash(template: &PodTemplateSpec) -> PodTemplateSpec {
    let mut t = template.clone();
    if let Some(meta) = t.metadata.as_mut() {
        if let Some(labels) = meta.labels.as_mut() {
            labels.remove(POD_TEMPLATE_HASH);
            if labels.is_empty() {
                meta.labels = None;
            }
        }
        if *meta == ObjectMeta::default() {
            t.metadata = None;
        }
    }
    t
}

fn annotation<'d>(d: &'d Deployment, key: &str) -> Option<&'d str> {
    d.metadata
        .annotations
        .as_ref()?
        .get(key)
        .map(String::as_str)
}

fn revision(rs: &ReplicaSet) -> i64 {
    rs.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(REVISION))
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

/// Annotations of a Deployment its ReplicaSets do not get
/// (`skipCopyAnnotation`).
const NOT_COPIED: [&str; 6] = [
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION,
    "deployment.kubernetes.io/revision-history",
    "deployment.kubernetes.io/desired-replicas",
    "deployment.kubernetes.io/max-replicas",
    "deprecated.deployment.rollback.to",
];

/// Copies the Deployment's annotations onto a ReplicaSet's, as
/// `copyDeploymentAnnotationsToReplicaSet` does (the ReplicaSet keeps
/// annotations of its own); true if any changed.
fn copy_annotations(d: &Deployment, annotations: &mut BTreeMap<String, String>) -> bool {
    let mut changed = false;
    for (k, v) in d.metadata.annotations.iter().flatten() {
        if NOT_COPIED.contains(&k.as_str()) || annotations.get(k) == Some(v) {
            continue;
        }
        annotations.insert(k.clone(), v.clone());
        changed = true;
    }
    changed
}

fn spec_replicas(rs: &ReplicaSet) -> i32 {
    rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

/// Whether an old ReplicaSet may still have pods: its status has not yet
/// caught up with its latest spec, or counts pods. (Kubernetes also lists
/// the pods; kcheck's Deployment does not watch Pods, and the ReplicaSet
/// controller writes a status with the new `observedGeneration` and then,
/// once its pods are gone, with zero replicas.)
fn old_pods_running(rs: &ReplicaSet) -> bool {
    let observed = rs
        .status
        .as_ref()
        .and_then(|s| s.observed_generation)
        .unwrap_or(0);
    observed < rs.metadata.generation.unwrap_or(0) || status_of(rs).0 > 0
}

fn status_of(rs: &ReplicaSet) -> (i32, i32, i32) {
    let s = rs.status.clone().unwrap_or_default();
    (
        s.replicas,
        s.ready_replicas.unwrap_or(0),
        s.available_replicas.unwrap_or(0),
    )
}

/// One reconcile of one Deployment.
struct Sync<'a, 'c> {
    ctx: &'a Ctx<'c>,
    sets: &'a Api<'a, ReplicaSet>,
    d: &'a Deployment,
    spec: Spec,
    /// The ReplicaSets it controls, as scaled so far in this reconcile.
    rss: Vec<ReplicaSet>,
    /// The status being built (conditions carried over).
    status: DeploymentStatus,
}

impl Sync<'_, '_> {
    /// The index of the ReplicaSet whose template is the Deployment's (the
    /// lowest revision if several), and the others sorted oldest first.
    fn split(&self) -> (Option<usize>, Vec<usize>) {
        let want = without_hash(&self.spec.template);
        let mut order: Vec<usize> = (0..self.rss.len()).collect();
        order.sort_by_key(|&i| (revision(&self.rss[i]), self.rss[i].metadata.name.clone()));
        let new = order.iter().copied().find(|&i| {
            self.rss[i]
                .spec
                .as_ref()
                .and_then(|s| s.template.as_ref())
                .is_some_and(|t| without_hash(t) == want)
        });
        let old = order.into_iter().filter(|&i| Some(i) != new).collect();
        (new, old)
    }

    fn total_replicas(&self) -> i32 {
        self.rss.iter().map(spec_replicas).sum()
    }

    /// `rolloutRolling`.
    fn rolling(&mut self) -> Result<(), ReconcileError> {
        let new = match self.split().0 {
            Some(i) => Some(self.sync_new(i)?),
            None => self.create_new(self.rolling_new_replicas(0))?,
        };
        let Some(new) = new else { return Ok(()) };
        if self.reconcile_new(new)? {
            return Ok(());
        }
        self.reconcile_old(new)?;
        Ok(())
    }

    /// `NewRSNewReplicas` for a rolling update: as many as the surge allows.
    fn rolling_new_replicas(&self, current: i32) -> i32 {
        let max_total = self.spec.replicas + self.spec.max_surge;
        let total = self.total_replicas();
        if total >= max_total {
            return current;
        }
        let up = (max_total - total).min(self.spec.replicas - current);
        current + up.max(0)
    }

    /// `reconcileNewReplicaSet`: true if it scaled.
    fn reconcile_new(&mut self, new: usize) -> Result<bool, ReconcileError> {
        let current = spec_replicas(&self.rss[new]);
        let target = if current > self.spec.replicas {
            self.spec.replicas
        } else {
            self.rolling_new_replicas(current)
        };
        self.scale(new, target)
    }

    /// `reconcileOldReplicaSets`: true if it scaled.
    fn reconcile_old(&mut self, new: usize) -> Result<bool, ReconcileError> {
        let old = self.split().1;
        let old_total: i32 = old.iter().map(|&i| spec_replicas(&self.rss[i])).sum();
        if old_total == 0 {
            return Ok(false);
        }
        let min_available = self.spec.replicas - self.spec.max_unavailable;
        let (_, _, new_available) = status_of(&self.rss[new]);
        let new_unavailable = spec_replicas(&self.rss[new]) - new_available;
        let max_scaled_down = self.total_replicas() - min_available - new_unavailable;
        if max_scaled_down <= 0 {
            return Ok(false);
        }
        let cleaned = self.cleanup_unhealthy(&old, max_scaled_down)?;
        let scaled = self.scale_down_old(&old, min_available)?;
        Ok(cleaned || scaled)
    }

    /// `cleanupUnhealthyReplicas`: scales old ReplicaSets down by their
    /// unavailable replicas, at most `max` in all.
    fn cleanup_unhealthy(&mut self, old: &[usize], max: i32) -> Result<bool, ReconcileError> {
        let mut total = 0;
        let mut scaled = false;
        for &i in old {
            if total >= max {
                break;
            }
            let replicas = spec_replicas(&self.rss[i]);
            let (_, _, available) = status_of(&self.rss[i]);
            if replicas == 0 || replicas <= available {
                continue;
            }
            let down = (max - total).min(replicas - available);
            total += down;
            scaled |= self.scale(i, replicas - down)?;
        }
        Ok(scaled)
    }

    /// `scaleDownOldReplicaSetsForRollingUpdate`: scales old ReplicaSets
    /// down, oldest first, while more than `min_available` are available.
    fn scale_down_old(
        &mut self,
        old: &[usize],
        min_available: i32,
    ) -> Result<bool, ReconcileError> {
        let available: i32 = self.rss.iter().map(|rs| status_of(rs).2).sum();
        if available <= min_available {
            return Ok(false);
        }
        let mut budget = available - min_available;
        let mut scaled = false;
        for &i in old {
            if budget <= 0 {
                break;
            }
            let replicas = spec_replicas(&self.rss[i]);
            if replicas == 0 {
                continue;
            }
            let down = replicas.min(budget);
            budget -= down;
            scaled |= self.scale(i, replicas - down)?;
        }
        Ok(scaled)
    }

    /// `rolloutRecreate`.
    fn recreate(&mut self) -> Result<(), ReconcileError> {
        let (new, old) = self.split();
        let mut scaled = false;
        for &i in &old {
            scaled |= self.scale(i, 0)?;
        }
        if scaled
            || old.iter().any(|&i| old_pods_running(&self.rss[i]))
            || self.old_pods_left(&old)?
        {
            return Ok(());
        }
        let new = match new {
            Some(i) => Some(self.sync_new(i)?),
            None => self.create_new(self.spec.replicas)?,
        };
        if let Some(i) = new {
            self.scale(i, self.spec.replicas)?;
        }
        Ok(())
    }

    /// Whether a pod of an old ReplicaSet has not ended, Terminating ones
    /// included (`oldPodsRunning` over the Deployment's pods).
    fn old_pods_left(&self, old: &[usize]) -> Result<bool, ReconcileError> {
        let uids: Vec<&str> = old
            .iter()
            .filter_map(|&i| self.rss[i].metadata.uid.as_deref())
            .collect();
        let pods: Api<Pod> = Api::namespaced(self.ctx.client(), self.namespace());
        let selector = selector(&self.spec.selector)?;
        Ok(pods.list(&ListParams::default())?.iter().any(|pod| {
            selects(&selector, &pod.metadata)
                && controller_of(&pod.metadata)
                    .is_some_and(|owner| uids.contains(&owner.uid.as_str()))
                && !matches!(phase(pod), "Succeeded" | "Failed")
        }))
    }

    /// Scales ReplicaSet `i` to `replicas`; true if it wrote.
    fn scale(&mut self, i: usize, replicas: i32) -> Result<bool, ReconcileError> {
        if spec_replicas(&self.rss[i]) == replicas {
            return Ok(false);
        }
        let mut rs = self.rss[i].clone();
        if let Some(spec) = rs.spec.as_mut() {
            spec.replicas = Some(replicas);
        }
        self.rss[i] = self
            .sets
            .replace(name_of(&rs.metadata)?, &PostParams::default(), &rs)?;
        Ok(true)
    }

    fn max_old_revision(&self, except: Option<usize>) -> i64 {
        (0..self.rss.len())
            .filter(|&i| Some(i) != except)
            .map(|i| revision(&self.rss[i]))
            .max()
            .unwrap_or(0)
    }

    /// The existing new ReplicaSet, as `getNewReplicaSet` keeps it: the
    /// Deployment's annotations copied to it, and the next revision if it is
    /// older than an old one (a rollback); one update if either changed.
    fn sync_new(&mut self, i: usize) -> Result<usize, ReconcileError> {
        let next = self.max_old_revision(Some(i)) + 1;
        let mut rs = self.rss[i].clone();
        let annotations = rs.metadata.annotations.get_or_insert_with(BTreeMap::new);
        let mut changed = copy_annotations(self.d, annotations);
        if revision(&self.rss[i]) < next {
            annotations.insert(REVISION.into(), next.to_string());
            changed = true;
        }
        if !changed {
            return Ok(i);
        }
        self.rss[i] = self
            .sets
            .replace(name_of(&rs.metadata)?, &PostParams::default(), &rs)?;
        Ok(i)
    }

    /// Creates the ReplicaSet for the current template with `replicas`.
    /// `None` when it cannot be made now (terminating namespace, or a name
    /// collision that bumped `collisionCount`).
    fn create_new(&mut self, replicas: i32) -> Result<Option<usize>, ReconcileError> {
        let hash = pod_template_hash(&self.spec.template, self.status.collision_count);
        let rs = self.new_replica_set(&hash, replicas)?;
        match self.sets.create(&PostParams::default(), &rs) {
            Ok(created) => {
                let message = format!("Created new replica set {:?}", name_of(&created.metadata)?);
                self.set_condition("Progressing", "True", "NewReplicaSetCreated", message)?;
                self.rss.push(created);
                Ok(Some(self.rss.len() - 1))
            }
            Err(e) if is_forbidden(&e) => Ok(None),
            Err(e) if e.is_already_exists() => self.on_collision(name_of(&rs.metadata)?),
            Err(e) => Err(e.into()),
        }
    }

    /// The name is taken. If by our own ReplicaSet of this template (the
    /// cache had not seen it), use it; otherwise bump `collisionCount` so
    /// the next hash differs, as Kubernetes does.
    fn on_collision(&mut self, name: &str) -> Result<Option<usize>, ReconcileError> {
        let live: Api<ReplicaSet> = Api::namespaced(self.ctx.client(), self.namespace()).live();
        let existing = live.get_opt(name)?;
        let uid = uid_of(&self.d.metadata)?;
        if let Some(rs) = existing
            && crate::common::is_controlled_by(&rs.metadata, uid)
            && rs
                .spec
                .as_ref()
                .and_then(|s| s.template.as_ref())
                .map(without_hash)
                == Some(without_hash(&self.spec.template))
        {
            self.rss.push(rs);
            return Ok(Some(self.rss.len() - 1));
        }
        self.status.collision_count = Some(self.status.collision_count.unwrap_or(0) + 1);
        Ok(None)
    }

    fn namespace(&self) -> &str {
        self.d.metadata.namespace.as_deref().unwrap_or("default")
    }

    fn new_replica_set(&self, hash: &str, replicas: i32) -> Result<ReplicaSet, ReconcileError> {
        let d_name = name_of(&self.d.metadata)?;
        let mut template = self.spec.template.clone();
        let template_meta = template.metadata.get_or_insert_with(ObjectMeta::default);
        template_meta
            .labels
            .get_or_insert_with(BTreeMap::new)
            .insert(POD_TEMPLATE_HASH.into(), hash.into());
        let labels = template_meta.labels.clone();
        let mut selector = self.spec.selector.clone();
        selector
            .match_labels
            .get_or_insert_with(BTreeMap::new)
            .insert(POD_TEMPLATE_HASH.into(), hash.into());
        let revision = self.max_old_revision(None) + 1;
        let mut annotations = BTreeMap::new();
        copy_annotations(self.d, &mut annotations);
        annotations.insert(REVISION.to_string(), revision.to_string());
        Ok(ReplicaSet {
            metadata: ObjectMeta {
                name: Some(format!("{d_name}-{hash}")),
                labels,
                annotations: Some(annotations),
                owner_references: Some(vec![controller_ref(self.d)?]),
                ..Default::default()
            },
            spec: Some(ReplicaSetSpec {
                replicas: Some(replicas),
                selector,
                template: Some(template),
                min_ready_seconds: self.d.spec.as_ref().and_then(|s| s.min_ready_seconds),
            }),
            ..Default::default()
        })
    }

    /// `SetDeploymentCondition`: unchanged if the status and reason are;
    /// the transition time kept if the status is.
    fn set_condition(
        &mut self,
        type_: &str,
        status: &str,
        reason: &str,
        message: String,
    ) -> Result<(), ReconcileError> {
        let conditions = self.status.conditions.get_or_insert_with(Vec::new);
        let existing = conditions.iter().position(|c| c.type_ == type_);
        if let Some(i) = existing
            && conditions[i].status == status
            && conditions[i].reason.as_deref() == Some(reason)
        {
            return Ok(());
        }
        let now: Time = now(self.ctx)?;
        let transition = existing
            .filter(|&i| conditions[i].status == status)
            .and_then(|i| conditions[i].last_transition_time.clone())
            .unwrap_or_else(|| now.clone());
        let condition = DeploymentCondition {
            type_: type_.into(),
            status: status.into(),
            reason: Some(reason.into()),
            message: Some(message),
            last_update_time: Some(now),
            last_transition_time: Some(transition),
        };
        match existing {
            Some(i) => conditions[i] = condition,
            None => conditions.push(condition),
        }
        Ok(())
    }

    /// `calculateStatus` and `syncRolloutStatus`, then one status write.
    fn write_status(&mut self, deployments: &Api<'_, Deployment>) -> Result<(), ReconcileError> {
        let old = self.d.status.clone().unwrap_or_default();
        let new = self.split().0;
        let sum = |f: fn(&ReplicaSet) -> i32| self.rss.iter().map(f).sum::<i32>();
        let replicas = sum(|rs| status_of(rs).0);
        let ready = sum(|rs| status_of(rs).1);
        let available = sum(|rs| status_of(rs).2);
        let updated = new.map(|i| status_of(&self.rss[i]).0).unwrap_or(0);
        let generation = self.d.metadata.generation.unwrap_or(0);
        self.status.observed_generation = Some(generation).filter(|g| *g != 0);
        self.status.replicas = non_zero(replicas);
        self.status.updated_replicas = non_zero(updated);
        self.status.ready_replicas = non_zero(ready);
        self.status.available_replicas = non_zero(available);
        self.status.unavailable_replicas = non_zero((replicas - available).max(0));
        let want = self.spec.replicas;
        if available >= want - self.spec.max_unavailable {
            let message = "Deployment has minimum availability.".to_string();
            self.set_condition("Available", "True", "MinimumReplicasAvailable", message)?;
        } else {
            let message = "Deployment does not have minimum availability.".to_string();
            self.set_condition("Available", "False", "MinimumReplicasUnavailable", message)?;
        }
        self.progressing(&old, new, (replicas, updated, ready, available))?;
        let mut d = self.d.clone();
        // `SetDeploymentRevision`: the Deployment carries its new
        // ReplicaSet's revision, written with the status.
        let revised = new
            .map(|i| revision(&self.rss[i]).to_string())
            .filter(|r| annotation(self.d, REVISION) != Some(r.as_str()));
        if let Some(r) = &revised {
            d.metadata
                .annotations
                .get_or_insert_with(BTreeMap::new)
                .insert(REVISION.into(), r.clone());
        }
        let same_status = self.d.status.as_ref() == Some(&self.status)
            || (self.d.status.is_none() && self.status == DeploymentStatus::default());
        if same_status && revised.is_none() {
            return Ok(());
        }
        d.status = Some(self.status.clone());
        deployments.replace_status(name_of(&d.metadata)?, &PostParams::default(), &d)?;
        Ok(())
    }

    /// The `Progressing` condition, as `syncRolloutStatus` sets it.
    fn progressing(
        &mut self,
        old: &DeploymentStatus,
        new: Option<usize>,
        (replicas, updated, ready, available): (i32, i32, i32, i32),
    ) -> Result<(), ReconcileError> {
        let current = old
            .conditions
            .iter()
            .flatten()
            .find(|c| c.type_ == "Progressing");
        let complete_before = replicas == updated
            && current.is_some_and(|c| c.reason.as_deref() == Some("NewReplicaSetAvailable"));
        if complete_before {
            return Ok(());
        }
        let rs_name = new
            .and_then(|i| self.rss[i].metadata.name.clone())
            .unwrap_or_default();
        let want = self.spec.replicas;
        let generation = self.d.metadata.generation.unwrap_or(0);
        let complete = updated == want
            && replicas == want
            && available == want
            && self.status.observed_generation.unwrap_or(0) >= generation;
        let n = |x: Option<i32>| x.unwrap_or(0);
        let progressing = updated > n(old.updated_replicas)
            || replicas - updated < n(old.replicas) - n(old.updated_replicas)
            || ready > n(old.ready_replicas)
            || available > n(old.available_replicas);
        if complete {
            let message = format!("ReplicaSet {rs_name:?} has successfully progressed.");
            self.set_condition("Progressing", "True", "NewReplicaSetAvailable", message)?;
        } else if progressing {
            let message = format!("ReplicaSet {rs_name:?} is progressing.");
            self.update_progressing(message)?;
        }
        Ok(())
    }

    /// `ReplicaSetUpdated` replaces the Progressing condition even when its
    /// reason is unchanged (Kubernetes refreshes `lastUpdateTime` on
    /// progress), keeping the transition time.
    fn update_progressing(&mut self, message: String) -> Result<(), ReconcileError> {
        let now = now(self.ctx)?;
        let conditions = self.status.conditions.get_or_insert_with(Vec::new);
        let existing = conditions.iter().position(|c| c.type_ == "Progressing");
        let transition = existing
            .filter(|&i| conditions[i].status == "True")
            .and_then(|i| conditions[i].last_transition_time.clone())
            .unwrap_or_else(|| now.clone());
        let condition = DeploymentCondition {
            type_: "Progressing".into(),
            status: "True".into(),
            reason: Some("ReplicaSetUpdated".into()),
            message: Some(message),
            last_update_time: Some(now),
            last_transition_time: Some(transition),
        };
        match existing {
            Some(i) => conditions[i] = condition,
            None => conditions.push(condition),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{Order, cluster, explore_all, get, objects, pods, run, run_both_orders};
    use crate::{Kubelet, ReplicaSetController};
    use kcheck_engine::api::{GroupKind, LabelSelector, PatchBody, Subresource, WriteRequest};
    use kcheck_engine::explore::{Explorer, Mode};
    use kcheck_engine::invariants::{Bounds, Invariant, When};
    use kcheck_engine::{ActionTiming, Model, UserAction};
    use serde_json::{Value, json};

    fn deployment(replicas: i32, strategy: Value) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": "web", "namespace": "default"},
               "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                        "strategy": strategy,
                        "template": {"metadata": {"labels": {"app": "web"}},
                                     "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}}})
    }

    /// The action happens once the cluster has converged.
    const AFTER: ActionTiming = ActionTiming::Settled;

    fn patch(timing: ActionTiming, patch: Value) -> UserAction {
        UserAction {
            timing,
            request: WriteRequest::Patch {
                key: ObjectKey::new(GroupKind::new("apps", "Deployment"), Some("default"), "web"),
                patch: PatchBody::Merge(patch),
                subresource: Subresource::Main,
            },
            field_manager: "kubectl".into(),
        }
    }

    fn model(objects: &[Value]) -> Model {
        Model::new(cluster(objects))
            .controller(DeploymentController)
            .controller(ReplicaSetController)
            .controller(Kubelet::new())
    }

    fn replica_sets(server: &kcheck_engine::api::ApiServer) -> Vec<Value> {
        objects(server, "apps", "ReplicaSet", "default")
    }

    fn condition<'a>(d: &'a Value, type_: &str) -> &'a Value {
        d["status"]["conditions"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["type"] == type_))
            .unwrap_or(&Value::Null)
    }

    #[test]
    fn pod_template_hash_is_stable_and_ignores_its_own_label() {
        let d: Deployment = serde_json::from_value(deployment(3, json!({}))).unwrap();
        let template = d.spec.unwrap().template;
        let hash = pod_template_hash(&template, None);
        assert_eq!(hash, "6d85b79cc6");
        assert!(
            hash.bytes()
                .all(|b| b"bcdfghjklmnpqrstvwxz2456789".contains(&b))
        );
        let mut labelled = template.clone();
        labelled
            .metadata
            .as_mut()
            .unwrap()
            .labels
            .as_mut()
            .unwrap()
            .insert(POD_TEMPLATE_HASH.into(), hash.clone());
        assert_eq!(pod_template_hash(&labelled, None), hash);
        assert_ne!(pod_template_hash(&template, Some(1)), hash);
    }

    #[test]
    fn fenceposts_round_surge_up_and_unavailability_down() {
        let pct = |s: &str| IntOrString::String(s.into());
        assert_eq!(
            resolve_fenceposts(&pct("25%"), &pct("25%"), 3).unwrap(),
            (1, 0)
        );
        assert_eq!(
            resolve_fenceposts(&pct("25%"), &pct("25%"), 4).unwrap(),
            (1, 1)
        );
        assert_eq!(
            resolve_fenceposts(&IntOrString::Int(0), &pct("10%"), 3).unwrap(),
            (0, 1)
        );
        assert_eq!(
            resolve_fenceposts(&IntOrString::Int(2), &IntOrString::Int(0), 3).unwrap(),
            (2, 0)
        );
        assert!(resolve_fenceposts(&pct("lots"), &pct("1%"), 3).is_err());
    }

    #[test]
    fn rollout_makes_three_available_pods_in_every_order() {
        let report = explore_all(model(&[deployment(3, json!({}))]), 60);
        let server = &report.converged[0].world.server;
        let rss = replica_sets(server);
        assert_eq!(rss.len(), 1);
        let rs = &rss[0];
        let hash = rs["metadata"]["labels"][POD_TEMPLATE_HASH]
            .as_str()
            .unwrap();
        assert_eq!(rs["metadata"]["name"], format!("web-{hash}"));
        assert_eq!(
            rs["spec"]["selector"]["matchLabels"][POD_TEMPLATE_HASH],
            hash
        );
        assert_eq!(rs["metadata"]["annotations"][REVISION], "1");
        assert_eq!(
            rs["metadata"]["ownerReferences"][0]["blockOwnerDeletion"],
            true
        );
        let pods = pods(server);
        assert_eq!(pods.len(), 3);
        assert!(
            pods.iter()
                .all(|p| p["metadata"]["labels"][POD_TEMPLATE_HASH] == hash)
        );
        let d = get(server, "apps", "Deployment", Some("default"), "web").unwrap();
        let status = &d["status"];
        assert_eq!(status["observedGeneration"], 1);
        for field in [
            "replicas",
            "updatedReplicas",
            "readyReplicas",
            "availableReplicas",
        ] {
            assert_eq!(status[field], 3, "{field}: {status}");
        }
        assert_eq!(condition(&d, "Available")["status"], "True");
        assert_eq!(
            condition(&d, "Progressing")["reason"],
            "NewReplicaSetAvailable"
        );
    }

    #[test]
    fn scale_down_deletes_pods() {
        let model = model(&[deployment(3, json!({}))])
            .action(patch(AFTER, json!({"spec": {"replicas": 1}})));
        let server = run_both_orders(&model).server;
        assert_eq!(pods(&server).len(), 1);
        let d = get(&server, "apps", "Deployment", Some("default"), "web").unwrap();
        assert_eq!(d["status"]["availableReplicas"], 1);
        assert_eq!(d["status"]["observedGeneration"], 2);
    }

    /// Pods of the Deployment, in any state, never exceed `max`.
    fn pod_bound(max: u64) -> Invariant {
        Invariant::count(
            GroupKind::new("", "Pod"),
            Some("default".into()),
            LabelSelector::from_labels([("app", "web")]),
            Bounds {
                max: Some(max),
                ..Default::default()
            },
            When::Always,
        )
    }

    /// The ReplicaSets of the Deployment never ask for more than `max` pods
    /// in all: what Kubernetes' surge arithmetic guarantees.
    fn surge_bound(max: i64) -> Invariant {
        Invariant::new(
            "replica sets within replicas + maxSurge",
            When::Always,
            move |s| {
                let total: i64 = replica_sets(s)
                    .iter()
                    .map(|rs| rs["spec"]["replicas"].as_i64().unwrap_or(1))
                    .sum();
                if total > max {
                    Err(format!("ReplicaSets ask for {total} pods, more than {max}"))
                } else {
                    Ok(())
                }
            },
        )
    }

    fn image_change(timing: ActionTiming) -> UserAction {
        patch(
            timing,
            json!({"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:1.28"}]}}}}),
        )
    }

    fn assert_rolled_out(server: &kcheck_engine::api::ApiServer, replicas: usize) {
        let rss = replica_sets(server);
        assert_eq!(rss.len(), 2, "old and new ReplicaSets");
        let new = rss
            .iter()
            .find(|rs| rs["metadata"]["annotations"][REVISION] == "2")
            .unwrap();
        let old = rss
            .iter()
            .find(|rs| rs["metadata"]["annotations"][REVISION] == "1")
            .unwrap();
        assert_eq!(new["spec"]["replicas"], replicas);
        assert_eq!(old["spec"]["replicas"], 0);
        let pods = pods(server);
        assert_eq!(pods.len(), replicas);
        assert!(
            pods.iter()
                .all(|p| p["spec"]["containers"][0]["image"] == "nginx:1.28")
        );
        let d = get(server, "apps", "Deployment", Some("default"), "web").unwrap();
        assert_eq!(d["status"]["updatedReplicas"], replicas);
        assert_eq!(
            condition(&d, "Progressing")["reason"],
            "NewReplicaSetAvailable"
        );
    }

    #[test]
    fn image_change_rolls_out_within_max_surge_in_both_orders() {
        let model = model(&[deployment(3, json!({}))]).action(image_change(AFTER));
        for order in [Order::First, Order::Last] {
            let world = run(&model, order, 500, |w| {
                let asked: i64 = replica_sets(&w.server)
                    .iter()
                    .map(|rs| rs["spec"]["replicas"].as_i64().unwrap())
                    .sum();
                assert!(
                    asked <= 4,
                    "ReplicaSets ask for {asked} pods, more than replicas + maxSurge"
                );
                let n = pods(&w.server).len();
                assert!(n <= 6, "{n} pods at depth {}", w.depth);
            });
            assert_rolled_out(&world.server, 3);
        }
    }

    #[test]
    fn image_change_rolls_out_within_max_surge_in_every_order() {
        let strategy =
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}});
        let model = model(&[deployment(2, strategy)])
            .action(image_change(AFTER))
            .invariant(surge_bound(3))
            .invariant(pod_bound(4));
        let report = explore_all(model, 80);
        assert_rolled_out(&report.converged[0].world.server, 2);
    }

    /// Kubernetes bounds the surge on the ReplicaSets' `spec.replicas`, not
    /// on pods: when the old ReplicaSet's controller lags behind a scale
    /// down, the Deployment scales the new one up and the pods briefly
    /// exceed `replicas + maxSurge`. kcheck finds that ordering.
    #[test]
    fn pods_exceed_max_surge_while_the_old_replica_set_lags() {
        let strategy =
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}});
        let model = model(&[deployment(2, strategy)])
            .action(image_change(AFTER))
            .invariant(pod_bound(3));
        let report = Explorer::new(model)
            .mode(Mode::Exhaustive)
            .max_depth(80)
            .threads(2)
            .run();
        assert!(
            report
                .findings
                .iter()
                .any(|f| f.message.contains("4 Pod in default")),
            "{:?}",
            report.findings
        );
    }

    #[test]
    /// Recreate starts the new pods only once the old ones are gone: a
    /// Terminating pod still counts in the bound, so a Recreate that
    /// trusted the old ReplicaSet's status (which no longer counts pods
    /// being deleted) would break it.
    fn recreate_waits_until_the_old_pods_are_gone_terminating_ones_included() {
        let model = model(&[deployment(2, json!({"type": "Recreate"}))])
            .action(image_change(AFTER))
            .invariant(pod_bound(2));
        let report = explore_all(model, 80);
        assert_rolled_out(&report.converged[0].world.server, 2);
    }

    #[test]
    fn rollback_reuses_the_old_replica_set_with_the_next_revision() {
        let back = patch(
            AFTER,
            json!({"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}}}),
        );
        let model = model(&[deployment(1, json!({}))])
            .action(image_change(AFTER))
            .action(back);
        let server = run_both_orders(&model).server;
        let rss = replica_sets(&server);
        assert_eq!(rss.len(), 2);
        let current = rss.iter().find(|rs| rs["spec"]["replicas"] == 1).unwrap();
        assert_eq!(
            current["spec"]["template"]["spec"]["containers"][0]["image"],
            "nginx:1.27"
        );
        assert_eq!(current["metadata"]["annotations"][REVISION], "3");
    }
}
