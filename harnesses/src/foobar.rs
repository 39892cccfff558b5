//! `foo` and `bar`: two controllers whose outcome depends on what each last
//! saw of the other, the smallest model of a staleness bug.
//!
//! `foo` moves a Foo through `A-1` to a final phase: `B-Final` if the Bar it
//! names has `status.mode: B` by then, else `A-Final`. `bar` sets its Bar's
//! mode to `B` once it sees its Foo at `A-1`. Which runs first after `A-1`
//! decides the outcome, so exhaustive search finds two converged states;
//! freezing `bar`'s view of Foo before `A-1` leaves only `A-Final`.

use kcheck_engine::api::{GroupKind, ObjectKey};
use kcheck_engine::client::{Api, PostParams};
use kcheck_engine::runtime::{Action, Ctx, ReconcileError, Reconciler, Watches, group_kind_of};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::custom::custom_resource;

/// A Foo names its Bar.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FooSpec {
    /// The Bar `foo` consults.
    #[serde(default)]
    pub bar_name: String,
}

/// A Foo's phase.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FooStatus {
    /// `A-1`, `A-Final` or `B-Final`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
}

/// A Bar names its Foo.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BarSpec {
    /// The Foo `bar` watches.
    #[serde(default)]
    pub foo_name: String,
}

/// A Bar's mode.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BarStatus {
    /// `B` once set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
}

custom_resource!(
    /// The object `foo` drives.
    Foo,
    "kcheck.dev",
    "v1",
    "foos",
    FooSpec,
    FooStatus
);

custom_resource!(
    /// The object `bar` drives.
    Bar,
    "kcheck.dev",
    "v1",
    "bars",
    BarSpec,
    BarStatus
);

/// Drives Foos through their phases.
#[derive(Clone, Debug, Default)]
pub struct FooController;

impl Reconciler for FooController {
    fn name(&self) -> &str {
        "foo"
    }

    fn watches(&self) -> Watches {
        Watches::for_kind::<Foo>()
    }

    fn reconcile(&self, ctx: &Ctx<'_>, request: &ObjectKey) -> Result<Action, ReconcileError> {
        let ns = request.namespace.as_deref().unwrap_or("default");
        let foos: Api<Foo> = Api::namespaced(ctx.client(), ns);
        let bars: Api<Bar> = Api::namespaced(ctx.client(), ns);
        let Some(mut this) = foos.get_opt(&request.name)? else {
            return Ok(Action::await_change());
        };
        let phase = this.status.clone().unwrap_or_default().phase;
        let next = match phase.as_deref() {
            None => "A-1",
            Some("A-1") => {
                let partner = bars.get_opt(&this.spec.bar_name)?;
                let mode = partner.and_then(|b| b.status).and_then(|s| s.mode);
                if mode.as_deref() == Some("B") {
                    "B-Final"
                } else {
                    "A-Final"
                }
            }
            Some(_) => return Ok(Action::await_change()),
        };
        this.status = Some(FooStatus {
            phase: Some(next.into()),
        });
        foos.replace_status(&request.name, &PostParams::default(), &this)?;
        Ok(Action::await_change())
    }
}

/// Sets a Bar's mode once its Foo reaches `A-1`.
#[derive(Clone, Debug, Default)]
pub struct BarController;

/// Maps a Foo to the Bars named like it (`bar` finds its Bar by the Foo's
/// `spec.barName`).
fn bar_of_foo(object: &Value) -> Vec<ObjectKey> {
    let bar_name = object.pointer("/spec/barName").and_then(Value::as_str);
    let ns = object
        .pointer("/metadata/namespace")
        .and_then(Value::as_str);
    bar_name
        .map(|b| ObjectKey::new(group_kind_of::<Bar>(), ns, b))
        .into_iter()
        .collect()
}

impl Reconciler for BarController {
    fn name(&self) -> &str {
        "bar"
    }

    fn watches(&self) -> Watches {
        Watches::for_kind::<Bar>().watches::<Foo>(bar_of_foo)
    }

    fn reconcile(&self, ctx: &Ctx<'_>, request: &ObjectKey) -> Result<Action, ReconcileError> {
        let ns = request.namespace.as_deref().unwrap_or("default");
        let foos: Api<Foo> = Api::namespaced(ctx.client(), ns);
        let bars: Api<Bar> = Api::namespaced(ctx.client(), ns);
        let Some(mut this) = bars.get_opt(&request.name)? else {
            return Ok(Action::await_change());
        };
        let partner = foos.get_opt(&this.spec.foo_name)?;
        let foo_phase = partner.and_then(|f| f.status).and_then(|s| s.phase);
        let has_mode = this.status.as_ref().and_then(|s| s.mode.as_ref()).is_some();
        if foo_phase.as_deref() == Some("A-1") && !has_mode {
            this.status = Some(BarStatus {
                mode: Some("B".into()),
            });
            bars.replace_status(&request.name, &PostParams::default(), &this)?;
        }
        Ok(Action::await_change())
    }
}

/// The kind Foo, for staleness settings in tests.
pub fn foo_kind() -> GroupKind {
    group_kind_of::<Foo>()
}

#[cfg(test)]
mod tests {
    use super::*;
    use kcheck_engine::Model;
    use kcheck_engine::api::ApiServer;
    use kcheck_engine::explore::{Explorer, Mode, Report};
    use kcheck_engine::staleness::{Lag, Staleness, StalenessInterval};
    use serde_json::json;

    fn server() -> ApiServer {
        let mut s = ApiServer::new();
        for crd in [Foo::crd(), Bar::crd()] {
            s.seed(crd, "test").unwrap();
        }
        let foo = json!({"apiVersion": "kcheck.dev/v1", "kind": "Foo",
            "metadata": {"name": "foo", "namespace": "default"}, "spec": {"barName": "bar"}});
        let bar = json!({"apiVersion": "kcheck.dev/v1", "kind": "Bar",
            "metadata": {"name": "bar", "namespace": "default"}, "spec": {"fooName": "foo"}});
        s.seed(foo, "test").unwrap();
        s.seed(bar, "test").unwrap();
        s
    }

    fn model(intervals: Vec<StalenessInterval>) -> Model {
        Model::new(server())
            .controller(FooController)
            .controller(BarController)
            .staleness(Staleness {
                intervals,
                stale_reads: None,
            })
    }

    fn bar_frozen_on_foo(stale_at: u64, catch_up_at: u64) -> StalenessInterval {
        StalenessInterval {
            controller: 1,
            kind: foo_kind(),
            stale_at,
            catch_up_at,
            lag: Lag::Frozen,
        }
    }

    fn phases(report: &Report) -> Vec<String> {
        let key = ObjectKey::new(foo_kind(), Some("default"), "foo");
        let mut out: Vec<String> = report
            .converged
            .iter()
            .map(|c| c.world.server.get(&key).unwrap().object["status"]["phase"].to_string())
            .collect();
        out.sort();
        out
    }

    fn exhaustive(m: Model) -> Report {
        Explorer::new(m)
            .mode(Mode::Exhaustive)
            .max_depth(30)
            .threads(2)
            .run()
    }

    #[test]
    fn without_staleness_the_race_has_two_outcomes() {
        let report = exhaustive(model(vec![]));
        assert_eq!(phases(&report), ["\"A-Final\"", "\"B-Final\""]);
    }

    #[test]
    fn freezing_bars_view_of_foo_removes_the_b_outcome() {
        let report = exhaustive(model(vec![bar_frozen_on_foo(1, 10)]));
        assert_eq!(phases(&report), ["\"A-Final\""]);
    }

    #[test]
    fn interval_outside_the_runs_sequence_range_is_the_baseline() {
        let baseline = exhaustive(model(vec![]));
        let late = exhaustive(model(vec![bar_frozen_on_foo(50, 100)]));
        assert_eq!(baseline.hashes(), late.hashes());
    }

    #[test]
    fn stale_reads_carry_the_lag_and_versions() {
        let m = model(vec![bar_frozen_on_foo(1, 10)]);
        let key = ObjectKey::new(foo_kind(), Some("default"), "foo");
        // foo writes A-1, then bar reconciles through its frozen view.
        let mut world = m.initial();
        let mut stale = Vec::new();
        for _ in 0..4 {
            let choices = m.choices(&world);
            let Some(choice) = choices.first() else { break };
            let step = m.step(&world, choice, true);
            stale.extend(step.record.unwrap().stale_reads);
            world = step.world;
        }
        let read = stale
            .iter()
            .find(|r| r.object == key)
            .expect("bar read foo stale");
        let current = world.server.get(&key).unwrap().rv;
        assert!(read.observed_rv.unwrap() < read.current_rv.unwrap());
        assert!(read.current_rv.unwrap() <= current);
    }

    #[test]
    fn trigger_filtering_makes_the_frozen_controller_run_less() {
        // bar first, so that its initial request is spent before foo writes:
        // then every later bar reconcile comes from a Foo event.
        let bar_first = |intervals: Vec<StalenessInterval>| {
            let intervals = intervals
                .into_iter()
                .map(|i| StalenessInterval { controller: 0, ..i })
                .collect();
            Model::new(server())
                .controller(BarController)
                .controller(FooController)
                .staleness(Staleness {
                    intervals,
                    stale_reads: None,
                })
        };
        let bar_steps = |m: Model| {
            let report = Explorer::new(m).mode(Mode::Reference).run();
            report.converged[0]
                .path
                .iter()
                .filter(|c| matches!(c, kcheck_engine::Choice::Reconcile { request, .. } if request.controller == 0))
                .count()
        };
        let baseline = bar_steps(bar_first(vec![]));
        // Frozen: foo's two Foo events reach bar only as one catch-up once
        // everything else is done.
        let frozen = bar_steps(bar_first(vec![bar_frozen_on_foo(1, 10)]));
        assert_eq!((baseline, frozen), (3, 2));
    }

    #[test]
    fn a_view_still_stale_when_the_run_goes_quiet_catches_up() {
        // The window never closes within the run, yet bar hears of Foo's
        // last state: an informer always delivers in the end.
        let m = model(vec![bar_frozen_on_foo(1, 1000)]);
        let report = Explorer::new(m).mode(Mode::Reference).run();
        let last = report.converged[0].path.last().unwrap();
        assert!(
            matches!(last, kcheck_engine::Choice::Reconcile { request, .. } if request.controller == 1)
        );
    }
}
