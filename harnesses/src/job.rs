//! The Job controller (`pkg/controller/job` in Kubernetes), for non-indexed
//! Jobs.
//!
//! Modelled: pods created from the template (`generateName` `<job>-`, the
//! labels `job-name`, `controller-uid` and their `batch.kubernetes.io/`
//! forms, a controller ownerReference with `blockOwnerDeletion`), up to
//! `parallelism` (default 1) active at once and no more than the
//! completions still needed; `completions` unset means a work queue (done
//! once any pod succeeded and none is active); `backoffLimit` (default 6):
//! once more pods failed than it allows the Job gets `Failed`
//! (`BackoffLimitExceeded`) and its active pods are deleted; once
//! `succeeded` reaches `completions` it gets `Complete`; a finished Job
//! creates no more pods. Status: `active`, `ready`, `succeeded`, `failed`,
//! `startTime`, `completionTime`, conditions. Expectations guard against
//! acting twice on a lagging cache, as for ReplicaSets.
//!
//! Pod tracking: counts come from the pods the Job controls, as Kubernetes
//! did before finalizer-based tracking (so a deleted finished pod no longer
//! counts). Left out: the `batch.kubernetes.io/job-tracking` finalizer and
//! `uncountedTerminatedPods`, indexed completion, `podFailurePolicy`,
//! `successPolicy`, `backoffLimitPerIndex`, `podReplacementPolicy`,
//! `suspend`, `activeDeadlineSeconds`, `ttlSecondsAfterFinished`, the
//! exponential delay before re-creating failed pods, the interim
//! `SuccessCriteriaMet`/`FailureTarget` conditions, adopting orphan pods,
//! and restarts under `restartPolicy: OnFailure`.

use k8s_openapi::api::batch::v1::{Job, JobCondition, JobStatus};
use k8s_openapi::api::core::v1::Pod;
use kcheck_engine::api::ObjectKey;
use kcheck_engine::client::{Api, ListParams, PostParams};
use kcheck_engine::runtime::{Action, Ctx, ReconcileError, Reconciler, Watches};

use crate::common::{
    controller_ref, count, deletion_order, is_active, is_controlled_by, is_deleting, is_ready,
    name_of, non_zero, now, phase, pod_from_template, uid_of,
};
use crate::expectations::Expectations;
use crate::replicaset::{create_pods, delete_pods};

/// The Job controller.
#[derive(Clone, Copy, Debug, Default)]
pub struct JobController;

/// Counts of the pods a Job controls.
struct Counts {
    active: usize,
    ready: usize,
    succeeded: i32,
    failed: i32,
}

impl Reconciler for JobController {
    fn name(&self) -> &str {
        "job"
    }

    fn watches(&self) -> Watches {
        Watches::for_kind::<Job>().owns::<Pod>()
    }

    fn reconcile(&self, ctx: &Ctx<'_>, request: &ObjectKey) -> Result<Action, ReconcileError> {
        let namespace = request.namespace.as_deref().unwrap_or("default");
        let client = ctx.client();
        let jobs: Api<Job> = Api::namespaced(client, namespace);
        let mut expectations = Expectations::load(ctx);
        let Some(job) = jobs.get_opt(&request.name)? else {
            expectations.forget(namespace, &request.name);
            expectations.store(ctx);
            return Ok(Action::await_change());
        };
        if is_deleting(&job.metadata) || finished(&job) {
            return Ok(Action::await_change());
        }
        let pods: Api<Pod> = Api::namespaced(client, namespace);
        let all = pods.list(&ListParams::default())?;
        let uid = uid_of(&job.metadata)?;
        let owned: Vec<Pod> = all
            .into_iter()
            .filter(|p| is_controlled_by(&p.metadata, uid))
            .collect();
        if !expectations.satisfied(ctx, client, &pods, namespace, &request.name)? {
            expectations.store(ctx);
            return Ok(Action::await_change());
        }
        let result = sync(ctx, &jobs, &pods, &job, &owned, &mut expectations);
        expectations.store(ctx);
        result?;
        Ok(Action::await_change())
    }
}

/// Whether the Job has a `Complete` or `Failed` condition that is `True`.
fn finished(job: &Job) -> bool {
    job.status
        .iter()
        .flat_map(|s| s.conditions.iter().flatten())
        .any(|c| (c.type_ == "Complete" || c.type_ == "Failed") && c.status == "True")
}

fn counts(owned: &[Pod]) -> Counts {
    let is = |p: &&Pod, want: &str| phase(p) == want;
    Counts {
        active: owned.iter().filter(|p| is_active(p)).count(),
        ready: owned.iter().filter(|p| is_active(p) && is_ready(p)).count(),
        succeeded: count(owned.iter().filter(|p| is(p, "Succeeded")).count()),
        failed: count(owned.iter().filter(|p| is(p, "Failed")).count()),
    }
}

/// `syncJob`: decide, create or delete pods, write the status.
fn sync(
    ctx: &Ctx<'_>,
    jobs: &Api<'_, Job>,
    pods: &Api<'_, Pod>,
    job: &Job,
    owned: &[Pod],
    expectations: &mut Expectations,
) -> Result<(), ReconcileError> {
    let spec = job
        .spec
        .as_ref()
        .ok_or_else(|| ReconcileError::msg("Job has no spec"))?;
    let name = name_of(&job.metadata)?;
    let namespace = job.metadata.namespace.as_deref().unwrap_or("default");
    let mut c = counts(owned);
    let backoff_limit = spec.backoff_limit.unwrap_or(6);
    let parallelism = usize::try_from(spec.parallelism.unwrap_or(1).max(0)).unwrap_or(0);
    let failed = c.failed > backoff_limit;
    let complete = !failed
        && match spec.completions {
            Some(n) => c.succeeded >= n,
            None => c.succeeded > 0 && c.active == 0,
        };
    let want = if failed || complete {
        0
    } else {
        match spec.completions {
            Some(n) => parallelism.min(usize::try_from(n - c.succeeded).unwrap_or(0)),
            None if c.succeeded > 0 => 0,
            None => parallelism,
        }
    };
    let mut added = Vec::new();
    let mut deleted = Vec::new();
    let result = if c.active < want {
        let mut template = spec.template.clone();
        let uid = uid_of(&job.metadata)?;
        let labels = [
            ("batch.kubernetes.io/controller-uid", uid),
            ("batch.kubernetes.io/job-name", name),
            ("controller-uid", uid),
            ("job-name", name),
        ];
        template.metadata.get_or_insert_with(Default::default);
        let pod = pod_from_template(&template, name, controller_ref(job)?, &labels);
        create_pods(pods, &pod, want - c.active, &mut added)
    } else if c.active > want {
        let mut victims: Vec<&Pod> = owned.iter().filter(|p| is_active(p)).collect();
        deletion_order(&mut victims);
        delete_pods(pods, &victims[..c.active - want], &mut deleted)
    } else {
        Ok(())
    };
    expectations.expect(namespace, name, &added, &deleted);
    result?;
    c.active = c.active + added.len() - deleted.len();
    write_status(ctx, jobs, job, &c, failed, complete)
}

/// Writes the status, unless unchanged.
fn write_status(
    ctx: &Ctx<'_>,
    jobs: &Api<'_, Job>,
    job: &Job,
    c: &Counts,
    failed: bool,
    complete: bool,
) -> Result<(), ReconcileError> {
    let old = job.status.clone().unwrap_or_default();
    let now = now(ctx)?;
    let mut status = JobStatus {
        active: non_zero(count(c.active)),
        ready: Some(count(c.ready)),
        succeeded: non_zero(c.succeeded),
        failed: non_zero(c.failed),
        start_time: old.start_time.clone().or_else(|| Some(now.clone())),
        completion_time: old.completion_time.clone(),
        conditions: old.conditions.clone(),
        ..Default::default()
    };
    let condition = |type_: &str, reason: Option<&str>, message: Option<&str>| JobCondition {
        type_: type_.into(),
        status: "True".into(),
        reason: reason.map(str::to_string),
        message: message.map(str::to_string),
        last_probe_time: Some(now.clone()),
        last_transition_time: Some(now.clone()),
    };
    if failed {
        let c = condition(
            "Failed",
            Some("BackoffLimitExceeded"),
            Some("Job has reached the specified backoff limit"),
        );
        status.conditions.get_or_insert_with(Vec::new).push(c);
    } else if complete {
        status
            .conditions
            .get_or_insert_with(Vec::new)
            .push(condition("Complete", None, None));
        status.completion_time = Some(now.clone());
    }
    if status == old {
        return Ok(());
    }
    let mut updated = job.clone();
    updated.status = Some(status);
    jobs.replace_status(name_of(&job.metadata)?, &PostParams::default(), &updated)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Kubelet;
    use crate::testing::{cluster, explore_all, get, pods, run_both_orders};
    use kcheck_engine::Model;
    use serde_json::{Value, json};

    fn job(completions: i32, parallelism: i32, backoff_limit: i32) -> Value {
        json!({"apiVersion": "batch/v1", "kind": "Job",
               "metadata": {"name": "pi", "namespace": "default"},
               "spec": {"completions": completions, "parallelism": parallelism, "backoffLimit": backoff_limit,
                        "template": {"spec": {"restartPolicy": "Never",
                                              "containers": [{"name": "pi", "image": "perl:5.34"}]}}}})
    }

    fn condition(job: &Value) -> (&str, &str) {
        let c = &job["status"]["conditions"][0];
        (
            c["type"].as_str().unwrap_or(""),
            c["reason"].as_str().unwrap_or(""),
        )
    }

    #[test]
    fn runs_to_complete_with_three_completions_two_at_a_time() {
        let model = Model::new(cluster(&[job(3, 2, 6)]))
            .controller(JobController)
            .controller(Kubelet::new());
        let report = explore_all(model, 60);
        let server = &report.converged[0].world.server;
        let job = get(server, "batch", "Job", Some("default"), "pi").unwrap();
        assert_eq!(condition(&job).0, "Complete");
        assert_eq!(job["status"]["succeeded"], 3);
        assert!(job["status"].get("active").is_none());
        assert!(job["status"]["completionTime"].is_string());
        let pods = pods(server);
        assert_eq!(pods.len(), 3);
        assert!(pods.iter().all(|p| p["status"]["phase"] == "Succeeded"));
        assert!(
            pods.iter()
                .all(|p| p["metadata"]["labels"]["job-name"] == "pi")
        );
        assert!(pods.iter().all(|p| p["metadata"]["generateName"] == "pi-"));
    }

    #[test]
    fn never_more_than_parallelism_active() {
        let model = Model::new(cluster(&[job(3, 2, 6)]))
            .controller(JobController)
            .controller(Kubelet::new());
        run_both_orders(&model);
        crate::testing::run(&model, crate::testing::Order::First, 200, |w| {
            let active = pods(&w.server)
                .iter()
                .filter(|p| p["status"]["phase"] == "Pending")
                .count();
            assert!(active <= 2, "{active} active pods");
        });
    }

    #[test]
    fn failing_pods_hit_the_backoff_limit_and_the_job_fails() {
        let kubelet = Kubelet::new().failing_jobs(["pi"]);
        let model = Model::new(cluster(&[job(1, 1, 1)]))
            .controller(JobController)
            .controller(kubelet);
        let report = explore_all(model, 60);
        let server = &report.converged[0].world.server;
        let job = get(server, "batch", "Job", Some("default"), "pi").unwrap();
        assert_eq!(condition(&job), ("Failed", "BackoffLimitExceeded"));
        assert_eq!(job["status"]["failed"], 2);
        assert!(job["status"].get("succeeded").is_none());
        assert_eq!(pods(server).len(), 2, "no pod is created after the limit");
    }
}
