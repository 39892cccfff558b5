//! A node agent standing in for the kubelet (and the scheduler): it runs
//! every pod at once, on one node.
//!
//! Modelled: a `Pending` pod that is not being deleted is
//! - bound to the node [`NODE`] if no node runs it yet (a `v1` Binding, as
//!   the scheduler writes it: `spec.nodeName` and `PodScheduled`), then
//! - given, in one status write,
//!   - if a Job controls it: phase `Succeeded` (containers terminated with
//!     exit code 0, reason `Completed`), or `Failed` (exit code 1, reason
//!     `Error`) when its Job is named in the config's `fail` list;
//!   - otherwise: phase `Running`, conditions `PodScheduled`,
//!     `Initialized`, `ContainersReady` and `Ready` all `True`, and a
//!     running, ready, started status for each container.
//!
//! A bound pod that is deleted stays `Terminating` (the API server's
//! graceful deletion) until the kubelet has stopped it: it then deletes it
//! with a grace period of zero and a uid precondition, as the kubelet's
//! status manager does. Until that step, old and new pods coexist.
//!
//! Config: `{"fail": ["<job name>", ...]}`: every pod of those Jobs fails.
//! A pod's fate is a function of the pod alone. A count such as "fail the
//! first two pods" is deliberately not offered: which pods come first
//! depends on the order of reconciles, so it would make the converged
//! states differ by which pod names failed, a divergence that says nothing
//! about the controllers.
//!
//! Left out: scheduling decisions (one node, no resources or affinity), pod
//! IPs, image pulls, probes, restarts (`restartPolicy: OnFailure` fails
//! like `Never`), the terminal status a stopped pod gets before its final
//! delete, and a pod going from `Running` to a terminal phase later.

use k8s_openapi::api::core::v1::{
    Binding, ContainerState, ContainerStateRunning, ContainerStateTerminated, ContainerStatus,
    ObjectReference, Pod, PodCondition, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kcheck_engine::api::ObjectKey;
use kcheck_engine::client::{Api, DeleteParams, PostParams, Preconditions};
use kcheck_engine::runtime::{Action, Ctx, ReconcileError, Reconciler, Watches};
use serde_json::Value;

use crate::common::{config_map, config_strings, controller_of, is_deleting, now, phase};

/// The kubelet stand-in.
#[derive(Clone, Debug, Default)]
pub struct Kubelet {
    fail: Vec<String>,
}

impl Kubelet {
    /// A kubelet under which every Job pod succeeds.
    pub fn new() -> Self {
        Self::default()
    }

    /// Pods of these Jobs fail.
    #[must_use]
    pub fn failing_jobs(mut self, jobs: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.fail = jobs.into_iter().map(Into::into).collect();
        self
    }

    /// From a registry config: `{"fail": [job names]}`.
    pub fn from_config(config: Option<&Value>) -> Result<Self, String> {
        let map = config_map("kubelet", config, &["fail"])?;
        Ok(Kubelet::new().failing_jobs(config_strings("kubelet", &map, "fail")?))
    }
}

impl Reconciler for Kubelet {
    fn name(&self) -> &str {
        "kubelet"
    }

    fn watches(&self) -> Watches {
        Watches::for_kind::<Pod>()
    }

    fn reconcile(&self, ctx: &Ctx<'_>, request: &ObjectKey) -> Result<Action, ReconcileError> {
        let namespace = request.namespace.as_deref().unwrap_or("default");
        let pods: Api<Pod> = Api::namespaced(ctx.client(), namespace);
        let Some(mut pod) = pods.get_opt(&request.name)? else {
            return Ok(Action::await_change());
        };
        if is_deleting(&pod.metadata) {
            stop(&pods, &pod)?;
            return Ok(Action::await_change());
        }
        if phase(&pod) != "Pending" {
            return Ok(Action::await_change());
        }
        if node_name(&pod).is_none() {
            bind(ctx, &pod, namespace)?;
            // The status write follows the binding's: unconditional, as the
            // status manager's patch is.
            pod.metadata.resource_version = None;
        }
        let job = controller_of(&pod.metadata)
            .filter(|r| r.kind == "Job" && r.api_version.starts_with("batch/"))
            .map(|r| r.name.clone());
        let status = match job {
            Some(job) => finished(ctx, &pod, self.fail.contains(&job))?,
            None => running(ctx, &pod)?,
        };
        pod.status = Some(status);
        pods.replace_status(&request.name, &PostParams::default(), &pod)?;
        Ok(Action::await_change())
    }
}

/// The node this stand-in runs every pod on.
pub const NODE: &str = "node-1";

fn node_name(pod: &Pod) -> Option<&str> {
    pod.spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .filter(|n| !n.is_empty())
}

/// Binds the pod to [`NODE`], as the scheduler does.
fn bind(ctx: &Ctx<'_>, pod: &Pod, namespace: &str) -> Result<(), ReconcileError> {
    let bindings: Api<Binding> = Api::namespaced(ctx.client(), namespace);
    let binding = Binding {
        metadata: ObjectMeta {
            name: pod.metadata.name.clone(),
            namespace: Some(namespace.to_string()),
            ..ObjectMeta::default()
        },
        target: ObjectReference {
            kind: Some("Node".into()),
            name: Some(NODE.into()),
            ..ObjectReference::default()
        },
    };
    bindings.create(&PostParams::default(), &binding)?;
    Ok(())
}

/// Ends the graceful deletion of a pod this node runs: deletes it with no
/// grace period, only if it is still the same pod.
fn stop(pods: &Api<'_, Pod>, pod: &Pod) -> Result<(), ReconcileError> {
    let graceful = pod.metadata.deletion_grace_period_seconds.unwrap_or(0) > 0;
    if !graceful || node_name(pod).is_none() {
        return Ok(());
    }
    let name = pod.metadata.name.clone().unwrap_or_default();
    let params = DeleteParams {
        grace_period_seconds: Some(0),
        preconditions: Some(Preconditions {
            uid: pod.metadata.uid.clone(),
            resource_version: None,
        }),
        ..DeleteParams::default()
    };
    match pods.delete(&name, &params) {
        Ok(_) => Ok(()),
        Err(e) if e.is_not_found() || e.is_conflict() => Ok(()),
        Err(e) => Err(e.into()),
    }
}

fn condition(type_: &str, status: &str, reason: Option<&str>, time: &Time) -> PodCondition {
    PodCondition {
        type_: type_.to_string(),
        status: status.to_string(),
        reason: reason.map(str::to_string),
        last_transition_time: Some(time.clone()),
        ..Default::default()
    }
}

fn containers(pod: &Pod) -> Vec<(String, String)> {
    pod.spec
        .iter()
        .flat_map(|s| &s.containers)
        .map(|c| (c.name.clone(), c.image.clone().unwrap_or_default()))
        .collect()
}

/// A running pod whose containers are all ready.
fn running(ctx: &Ctx<'_>, pod: &Pod) -> Result<PodStatus, ReconcileError> {
    let now = now(ctx)?;
    let statuses = containers(pod)
        .into_iter()
        .map(|(name, image)| ContainerStatus {
            name,
            image,
            image_id: String::new(),
            ready: true,
            started: Some(true),
            restart_count: 0,
            state: Some(ContainerState {
                running: Some(ContainerStateRunning {
                    started_at: Some(now.clone()),
                }),
                ..Default::default()
            }),
            ..Default::default()
        })
        .collect();
    Ok(PodStatus {
        phase: Some("Running".into()),
        conditions: Some(
            ["PodScheduled", "Initialized", "ContainersReady", "Ready"]
                .into_iter()
                .map(|t| condition(t, "True", None, &now))
                .collect(),
        ),
        container_statuses: Some(statuses),
        start_time: Some(now),
        ..Default::default()
    })
}

/// A pod whose containers ran to completion (or failed).
fn finished(ctx: &Ctx<'_>, pod: &Pod, fail: bool) -> Result<PodStatus, ReconcileError> {
    let now = now(ctx)?;
    let (phase, exit_code, reason) = if fail {
        ("Failed", 1, "Error")
    } else {
        ("Succeeded", 0, "Completed")
    };
    let statuses = containers(pod)
        .into_iter()
        .map(|(name, image)| ContainerStatus {
            name,
            image,
            image_id: String::new(),
            ready: false,
            started: Some(false),
            restart_count: 0,
            state: Some(ContainerState {
                terminated: Some(ContainerStateTerminated {
                    exit_code,
                    reason: Some(reason.into()),
                    started_at: Some(now.clone()),
                    finished_at: Some(now.clone()),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        })
        .collect();
    Ok(PodStatus {
        phase: Some(phase.into()),
        conditions: Some(vec![
            condition("PodScheduled", "True", None, &now),
            condition("Initialized", "True", None, &now),
            condition("ContainersReady", "False", Some("PodCompleted"), &now),
            condition("Ready", "False", Some("PodCompleted"), &now),
        ]),
        container_statuses: Some(statuses),
        start_time: Some(now),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{cluster, pods, run_fifo};
    use kcheck_engine::Model;
    use serde_json::json;

    fn pod(name: &str, job: Option<&str>) -> Value {
        let mut pod = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"containers": [{"name": "main", "image": "busybox"}]}});
        if let Some(job) = job {
            pod["metadata"]["ownerReferences"] = json!([{"apiVersion": "batch/v1", "kind": "Job",
                "name": job, "uid": format!("uid-{job}"), "controller": true}]);
        }
        pod
    }

    #[test]
    fn runs_pods_and_finishes_job_pods_failing_the_configured_jobs() {
        let kubelet = Kubelet::from_config(Some(&json!({"fail": ["bad"]}))).unwrap();
        let model = Model::new(cluster(&[
            pod("web", None),
            pod("good-1", Some("good")),
            pod("bad-1", Some("bad")),
        ]))
        .controller(kubelet);
        let server = run_fifo(&model).server;
        let phase = |name: &str| {
            pods(&server)
                .into_iter()
                .find(|p| p["metadata"]["name"] == name)
                .map(|p| p["status"]["phase"].clone())
                .unwrap()
        };
        assert_eq!(phase("web"), "Running");
        assert_eq!(phase("good-1"), "Succeeded");
        assert_eq!(phase("bad-1"), "Failed");
        let web = pods(&server)
            .into_iter()
            .find(|p| p["metadata"]["name"] == "web")
            .unwrap();
        assert_eq!(web["status"]["containerStatuses"][0]["ready"], true);
        assert_eq!(web["status"]["conditions"][3]["type"], "Ready");
        assert_eq!(web["status"]["conditions"][3]["status"], "True");
    }
}
