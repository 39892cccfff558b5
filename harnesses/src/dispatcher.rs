//! `dispatcher`: the evaluation platform's dispatcher (from the seed
//! documents): it runs each EvaluationJob as a Job named `<name>-run`, but
//! never more than `max_active` unfinished Jobs at once.
//!
//! It decides by counting the Jobs in its cache, which is exactly the
//! classic stale-cache bug: when its view of Jobs lags, two reconciles both
//! see room for one more Job and together exceed the limit. A Kubernetes
//! controller guards against this with expectations or a live read; this
//! harness leaves the bug in so that stale-read search can find it.

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kcheck_engine::api::ObjectKey;
use kcheck_engine::client::{Api, ListParams, PostParams};
use kcheck_engine::runtime::{Action, Ctx, ReconcileError, Reconciler, Watches};
use serde_json::Value;

use crate::evaluation::{EvaluationJob, EvaluationJobStatus, executor_job_spec};

/// The label marking Jobs the dispatcher started.
pub const DISPATCHED_BY: &str = "kcheck.dev/dispatched-by";

/// The dispatcher.
#[derive(Clone, Debug)]
pub struct Dispatcher {
    /// The most unfinished Jobs allowed at once.
    pub max_active: usize,
}

impl Dispatcher {
    /// Builds it from `{"max_active": n}` (default 1).
    pub fn from_config(config: Option<&Value>) -> Result<Self, String> {
        let max_active =
            match config.and_then(|c| c.get("max_active")) {
                None => 1,
                Some(v) => v.as_u64().filter(|n| *n >= 1).ok_or_else(|| {
                    format!("config.max_active: expected a positive integer, got {v}")
                })? as usize,
            };
        Ok(Dispatcher { max_active })
    }
}

fn unfinished(job: &Job) -> bool {
    let s = job.status.clone().unwrap_or_default();
    s.succeeded.unwrap_or(0) == 0 && s.failed.unwrap_or(0) == 0
}

fn run_job(ej: &EvaluationJob, name: &str) -> Job {
    Job {
        metadata: ObjectMeta {
            name: Some(format!("{name}-run")),
            labels: Some([(DISPATCHED_BY.to_string(), "dispatcher".to_string())].into()),
            ..Default::default()
        },
        spec: Some(executor_job_spec(ej)),
        ..Default::default()
    }
}

impl Reconciler for Dispatcher {
    fn name(&self) -> &str {
        "dispatcher"
    }

    fn watches(&self) -> Watches {
        Watches::for_kind::<EvaluationJob>()
    }

    fn reconcile(&self, ctx: &Ctx<'_>, request: &ObjectKey) -> Result<Action, ReconcileError> {
        let ns = request.namespace.as_deref().unwrap_or("default");
        let evaluations: Api<EvaluationJob> = Api::namespaced(ctx.client(), ns);
        let jobs: Api<Job> = Api::namespaced(ctx.client(), ns);
        let Some(mut ej) = evaluations.get_opt(&request.name)? else {
            return Ok(Action::await_change());
        };
        let own = format!("{}-run", request.name);
        let dispatched =
            jobs.list(&ListParams::default().labels(&format!("{DISPATCHED_BY}=dispatcher")))?;
        let phase = if dispatched
            .iter()
            .any(|j| j.metadata.name.as_deref() == Some(own.as_str()))
        {
            "Dispatched"
        } else if dispatched.iter().filter(|j| unfinished(j)).count() < self.max_active {
            jobs.create(&PostParams::default(), &run_job(&ej, &request.name))?;
            "Dispatched"
        } else {
            "Queued"
        };
        let status = EvaluationJobStatus {
            job_name: (phase == "Dispatched").then_some(own),
            phase: Some(phase.into()),
        };
        if ej.status.as_ref() != Some(&status) {
            ej.status = Some(status);
            evaluations.replace_status(&request.name, &PostParams::default(), &ej)?;
        }
        Ok(Action::await_change())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kcheck_engine::Model;
    use kcheck_engine::api::{ApiServer, GroupKind, LabelSelector};
    use kcheck_engine::explore::{Explorer, FindingKind, Mode, Report};
    use kcheck_engine::invariants::{Bounds, Invariant, When};
    use kcheck_engine::runtime::group_kind_of;
    use kcheck_engine::staleness::{StaleReads, Staleness};
    use serde_json::json;

    fn model(stale_reads: Option<StaleReads>) -> Model {
        let mut s = ApiServer::new();
        s.seed(EvaluationJob::crd(), "test").unwrap();
        for name in ["eval-a", "eval-b"] {
            let ej = json!({"apiVersion": "kcheck.dev/v1", "kind": "EvaluationJob",
                "metadata": {"name": name, "namespace": "default"}, "spec": {"image": "python:3.12"}});
            s.seed(ej, "test").unwrap();
        }
        let at_most_one_job = Invariant::count(
            GroupKind::new("batch", "Job"),
            Some("default".into()),
            LabelSelector::everything(),
            Bounds {
                max: Some(1),
                ..Bounds::default()
            },
            When::Always,
        );
        Model::new(s)
            .controller(Dispatcher { max_active: 1 })
            .invariant(at_most_one_job)
            .staleness(Staleness {
                intervals: vec![],
                stale_reads,
            })
    }

    fn exhaustive(m: Model) -> Report {
        Explorer::new(m)
            .mode(Mode::Exhaustive)
            .max_depth(20)
            .threads(2)
            .run()
    }

    #[test]
    fn with_a_current_cache_the_limit_holds_in_every_ordering() {
        let report = exhaustive(model(None));
        let kinds: Vec<&FindingKind> = report.findings.iter().map(|f| &f.kind).collect();
        assert_eq!(kinds, [&FindingKind::Divergence], "no invariant breaks");
        assert_eq!(report.converged.len(), 2, "either evaluation may run first");
    }

    #[test]
    fn stale_view_of_jobs_exceeds_the_limit() {
        let stale = StaleReads {
            targets: vec![(0, group_kind_of::<Job>())],
            lookback: 1,
            max_restarts: 1,
        };
        let report = exhaustive(model(Some(stale)));
        let finding = report
            .findings
            .iter()
            .find(|f| f.kind == FindingKind::Invariant)
            .expect("stale-read search finds the second Job");
        assert!(
            finding
                .message
                .contains("2 Job.batch in default, expected at most 1"),
            "{}",
            finding.message
        );
        let stale_steps = finding
            .path
            .iter()
            .filter(|c| matches!(c, kcheck_engine::Choice::Reconcile { stale, .. } if !stale.is_empty()))
            .count();
        assert_eq!(stale_steps, 1);
    }
}
