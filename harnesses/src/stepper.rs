//! `stepper`: advances a ConfigMap's `data.stage` from 0 to 3, one stage per
//! reconcile. In `edge` mode it relies on the watch event of its own write
//! to run again; in `level` mode it asks to be requeued until done. A
//! dropped watch event stalls the first and is harmless to the second.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use kcheck_engine::api::ObjectKey;
use kcheck_engine::client::{Api, Patch, PatchParams};
use kcheck_engine::runtime::{Action, Ctx, ReconcileError, Reconciler, Watches};
use serde_json::{Value, json};

/// The last stage.
pub const FINAL_STAGE: u32 = 3;

/// How the stepper learns that it should run again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// From the watch event of its own write.
    Edge,
    /// By requeueing itself until done.
    Level,
}

/// The stepper.
#[derive(Clone, Debug)]
pub struct Stepper {
    /// Edge- or level-triggered.
    pub trigger: Trigger,
}

impl Stepper {
    /// Builds it from `{"mode": "edge" | "level"}` (default level).
    pub fn from_config(config: Option<&Value>) -> Result<Self, String> {
        let trigger = match config.and_then(|c| c.get("mode")).map(|m| m.as_str()) {
            None | Some(Some("level")) => Trigger::Level,
            Some(Some("edge")) => Trigger::Edge,
            Some(other) => {
                return Err(format!(
                    "config.mode: expected \"edge\" or \"level\", got {other:?}"
                ));
            }
        };
        Ok(Stepper { trigger })
    }
}

impl Reconciler for Stepper {
    fn name(&self) -> &str {
        "stepper"
    }

    fn watches(&self) -> Watches {
        Watches::for_kind::<ConfigMap>()
    }

    fn reconcile(&self, ctx: &Ctx<'_>, request: &ObjectKey) -> Result<Action, ReconcileError> {
        let ns = request.namespace.as_deref().unwrap_or("default");
        let cms: Api<ConfigMap> = Api::namespaced(ctx.client(), ns);
        let Some(cm) = cms.get_opt(&request.name)? else {
            return Ok(Action::await_change());
        };
        let data: BTreeMap<String, String> = cm.data.unwrap_or_default();
        let stage: u32 = data.get("stage").and_then(|s| s.parse().ok()).unwrap_or(0);
        if stage >= FINAL_STAGE {
            return Ok(Action::await_change());
        }
        let patch = json!({"data": {"stage": (stage + 1).to_string()}});
        cms.patch(
            &request.name,
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )?;
        match self.trigger {
            Trigger::Level if stage + 1 < FINAL_STAGE => Ok(Action::requeue()),
            _ => Ok(Action::await_change()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kcheck_engine::Model;
    use kcheck_engine::api::ApiServer;
    use kcheck_engine::explore::{Explorer, Mode, Report};
    use kcheck_engine::faults::{ApiFaultSpec, Faults, WriteFault};

    fn run(trigger: Trigger, drop_first_event: bool) -> Report {
        let mut s = ApiServer::new();
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "steps", "namespace": "default"}});
        s.seed(cm, "test").unwrap();
        let api_faults = if drop_first_event {
            vec![ApiFaultSpec {
                controller: 0,
                write: 1,
                fault: WriteFault::WatchDrop { watcher: None },
            }]
        } else {
            vec![]
        };
        let model = Model::new(s)
            .controller(Stepper { trigger })
            .faults(Faults {
                crashes: vec![],
                api_faults,
            });
        Explorer::new(model)
            .mode(Mode::Exhaustive)
            .max_depth(20)
            .run()
    }

    fn stage(report: &Report) -> String {
        let key = ObjectKey::new(
            kcheck_engine::api::GroupKind::new("", "ConfigMap"),
            Some("default"),
            "steps",
        );
        report.converged[0].world.server.get(&key).unwrap().object["data"]["stage"].to_string()
    }

    #[test]
    fn dropped_event_stalls_an_edge_triggered_controller() {
        assert_eq!(stage(&run(Trigger::Edge, false)), "\"3\"");
        assert_eq!(stage(&run(Trigger::Edge, true)), "\"1\"");
    }

    #[test]
    fn dropped_event_is_harmless_to_a_level_triggered_controller() {
        let baseline = run(Trigger::Level, false);
        let dropped = run(Trigger::Level, true);
        assert_eq!(stage(&dropped), "\"3\"");
        assert_eq!(baseline.hashes(), dropped.hashes());
    }
}
