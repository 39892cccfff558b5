//! `evaluation`: the EvaluationJob controller of the evaluation platform the
//! seed documents describe (an EvaluationJob runs user code as a batch Job).
//!
//! It is written as the seed's pseudo-code has it: if the Job named in
//! `status.jobName` does not exist, create a Job (with `generateName`) and
//! then record its name in the status. Those are two writes, and the first
//! is not idempotent: if the controller crashes between them, or the status
//! write fails (a conflict), the retry creates a second Job. kcheck's crash
//! and API-fault phases find this. With config `{"idempotent": true}` the
//! Job gets a deterministic name (`<evaluation>-job`) and an existing Job is
//! adopted, which is the fix.
//!
//! Status: `jobName` and `phase` (Pending, Running, Succeeded, Failed)
//! mirrored from the Job's status.

use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{Container, PodSpec, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kcheck_engine::api::ObjectKey;
use kcheck_engine::client::{Api, PostParams};
use kcheck_engine::runtime::{Action, Ctx, ReconcileError, Reconciler, Watches};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::common::controller_ref;
use crate::custom::custom_resource;

/// What to run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EvaluationJobSpec {
    /// The executor image.
    #[serde(default)]
    pub image: String,
}

/// Where the evaluation is.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EvaluationJobStatus {
    /// The Job running it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_name: Option<String>,
    /// Pending, Running, Succeeded or Failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
}

custom_resource!(
    /// An evaluation of user code, run as a Job.
    EvaluationJob,
    "kcheck.dev",
    "v1",
    "evaluationjobs",
    EvaluationJobSpec,
    EvaluationJobStatus
);

/// The EvaluationJob controller.
#[derive(Clone, Debug, Default)]
pub struct EvaluationController {
    /// Name Jobs deterministically and adopt existing ones (the fix).
    pub idempotent: bool,
}

impl EvaluationController {
    /// Builds it from `{"idempotent": bool}`.
    pub fn from_config(config: Option<&Value>) -> Result<Self, String> {
        let idempotent = match config.and_then(|c| c.get("idempotent")) {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(other) => {
                return Err(format!(
                    "config.idempotent: expected true or false, got {other}"
                ));
            }
        };
        Ok(EvaluationController { idempotent })
    }

    fn job_for(&self, ej: &EvaluationJob, name: &str) -> Result<Job, ReconcileError> {
        let mut meta = ObjectMeta {
            labels: Some([("kcheck.dev/evaluation".to_string(), name.to_string())].into()),
            owner_references: Some(vec![controller_ref(ej)?]),
            ..Default::default()
        };
        if self.idempotent {
            meta.name = Some(format!("{name}-job"));
        } else {
            meta.generate_name = Some(format!("{name}-"));
        }
        Ok(Job {
            metadata: meta,
            spec: Some(JobSpec {
                backoff_limit: Some(0),
                ..executor_job_spec(ej)
            }),
            ..Default::default()
        })
    }

    /// Creates the Job (adopting an existing one when idempotent) and
    /// returns its name.
    fn create_job(
        &self,
        jobs: &Api<'_, Job>,
        ej: &EvaluationJob,
        name: &str,
    ) -> Result<String, ReconcileError> {
        let job = self.job_for(ej, name)?;
        match jobs.create(&PostParams::default(), &job) {
            Ok(created) => Ok(created.metadata.name.unwrap_or_default()),
            Err(e) if self.idempotent && e.is_already_exists() => Ok(format!("{name}-job")),
            Err(e) => Err(e.into()),
        }
    }
}

/// A Job spec running the evaluation's executor image once.
pub(crate) fn executor_job_spec(ej: &EvaluationJob) -> JobSpec {
    let container = Container {
        name: "executor".into(),
        image: Some(ej.spec.image.clone()),
        ..Default::default()
    };
    JobSpec {
        template: PodTemplateSpec {
            spec: Some(PodSpec {
                containers: vec![container],
                restart_policy: Some("Never".into()),
                ..Default::default()
            }),
            ..Default::default()
        },
        ..Default::default()
    }
}

/// The phase an EvaluationJob reports for its Job.
fn phase_of(job: &Job) -> &'static str {
    let status = job.status.clone().unwrap_or_default();
    if status.succeeded.unwrap_or(0) > 0 {
        "Succeeded"
    } else if status.failed.unwrap_or(0) > 0 {
        "Failed"
    } else if status.active.unwrap_or(0) > 0 {
        "Running"
    } else {
        "Pending"
    }
}

impl Reconciler for EvaluationController {
    fn name(&self) -> &str {
        "evaluation"
    }

    fn watches(&self) -> Watches {
        Watches::for_kind::<EvaluationJob>().owns::<Job>()
    }

    fn reconcile(&self, ctx: &Ctx<'_>, request: &ObjectKey) -> Result<Action, ReconcileError> {
        let ns = request.namespace.as_deref().unwrap_or("default");
        let evaluations: Api<EvaluationJob> = Api::namespaced(ctx.client(), ns);
        let jobs: Api<Job> = Api::namespaced(ctx.client(), ns);
        let Some(mut ej) = evaluations.get_opt(&request.name)? else {
            return Ok(Action::await_change());
        };
        let mut status = ej.status.clone().unwrap_or_default();
        let job = match &status.job_name {
            Some(job_name) => jobs.get_opt(job_name)?,
            None => None,
        };
        match job {
            None => {
                status.job_name = Some(self.create_job(&jobs, &ej, &request.name)?);
                status.phase = Some("Pending".into());
            }
            Some(job) => status.phase = Some(phase_of(&job).into()),
        }
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
    use kcheck_engine::api::ApiServer;
    use kcheck_engine::explore::{Explorer, Mode, Report};
    use kcheck_engine::faults::{ApiFaultSpec, CrashSpec, Faults, WriteFault};
    use serde_json::json;

    fn model(idempotent: bool, faults: Faults) -> Model {
        let mut s = ApiServer::new();
        s.seed(EvaluationJob::crd(), "test").unwrap();
        let ej = json!({"apiVersion": "kcheck.dev/v1", "kind": "EvaluationJob",
            "metadata": {"name": "eval", "namespace": "default"}, "spec": {"image": "python:3.12"}});
        s.seed(ej, "test").unwrap();
        Model::new(s)
            .controller(EvaluationController { idempotent })
            .faults(faults)
    }

    fn run(m: Model) -> Report {
        Explorer::new(m)
            .mode(Mode::Exhaustive)
            .max_depth(20)
            .threads(2)
            .run()
    }

    fn crash_after_first_write() -> Faults {
        Faults {
            crashes: vec![CrashSpec {
                controller: 0,
                after_writes: 1,
                once: true,
            }],
            api_faults: vec![],
        }
    }

    fn conflict_on_second_write() -> Faults {
        Faults {
            crashes: vec![],
            api_faults: vec![ApiFaultSpec {
                controller: 0,
                write: 2,
                fault: WriteFault::Conflict,
            }],
        }
    }

    fn jobs(report: &Report) -> Vec<usize> {
        let kind = kcheck_engine::runtime::group_kind_of::<Job>();
        report
            .converged
            .iter()
            .map(|c| c.world.server.objects(&kind).len())
            .collect()
    }

    #[test]
    fn crash_between_create_and_status_leaves_a_second_job() {
        let baseline = run(model(false, Faults::default()));
        assert_eq!(jobs(&baseline), [1]);
        let crashed = run(model(false, crash_after_first_write()));
        assert_eq!(jobs(&crashed), [2]);
        assert!(!baseline.hashes().contains(&crashed.hashes()[0]));
    }

    #[test]
    fn conflict_on_the_status_write_also_duplicates_the_job() {
        let report = run(model(false, conflict_on_second_write()));
        assert_eq!(jobs(&report), [2]);
    }

    #[test]
    fn idempotent_controller_survives_the_crash_and_the_conflict() {
        let baseline = run(model(true, Faults::default()));
        for faults in [crash_after_first_write(), conflict_on_second_write()] {
            let report = run(model(true, faults));
            assert_eq!(report.hashes(), baseline.hashes());
        }
    }

    #[test]
    fn hunt_finds_the_duplicate_job_and_passes_the_fixed_controller() {
        use kcheck_engine::hunt::{Hunt, HuntFindingKind, PhaseKind};
        let hunt = |idempotent| {
            Hunt::new(model(idempotent, Faults::default()))
                .max_depth(20)
                .threads(2)
                .only(&[PhaseKind::Crash, PhaseKind::ApiFault])
                .run()
        };
        let buggy = hunt(false);
        let new_state = buggy
            .findings
            .iter()
            .find(|f| f.kind == HuntFindingKind::NewState)
            .expect("a crash or fault phase reaches a state with two Jobs");
        let kind = kcheck_engine::runtime::group_kind_of::<Job>();
        assert_eq!(
            new_state
                .state
                .as_ref()
                .unwrap()
                .world
                .server
                .objects(&kind)
                .len(),
            2
        );
        let fixed = hunt(true);
        assert!(
            fixed.findings.is_empty(),
            "{:?}",
            fixed
                .findings
                .iter()
                .map(|f| &f.message)
                .collect::<Vec<_>>()
        );
        assert!(fixed.complete());
        assert!(
            fixed.phases.len() >= 3,
            "crash and fault phases were planned"
        );
    }
}
