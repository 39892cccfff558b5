//! Reduction against the unreduced search on random small models: a few
//! controllers over a few ConfigMaps, each reading, listing and writing
//! at random, every write triggering every controller on the object
//! written.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use proptest::prelude::*;
use serde_json::json;

use super::{Reduction, binomial, interleavings};
use crate::Model;
use crate::api::ObjectKey;
use crate::client::{Api, ListParams, Patch, PatchParams, PostParams};
use crate::explore::{Explorer, Mode, Report};
use crate::runtime::{Action, Ctx, ReconcileError, Reconciler, Watches};
use crate::test_util::server_with;

/// The ConfigMaps a script may touch; `a`, `b` and `c` exist at first.
const NAMES: [&str; 4] = ["a", "b", "c", "d"];

/// Counters stay below this, so every model is finite.
const CAP: u64 = 2;

/// What a controller does on a request for one ConfigMap.
#[derive(Clone, Debug)]
struct Script {
    /// ConfigMaps it reads (by GET).
    reads: Vec<usize>,
    /// Whether it also counts every ConfigMap (a LIST).
    lists: bool,
    /// ConfigMaps it sets to `min(CAP, 1 + sum of what it read)`,
    /// creating them if missing.
    writes: Vec<usize>,
}

/// A controller running a script per request.
#[derive(Debug)]
struct Scripted {
    name: String,
    scripts: BTreeMap<String, Script>,
}

fn counter(cm: &ConfigMap) -> u64 {
    cm.data
        .as_ref()
        .and_then(|d| d.get("n"))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

impl Reconciler for Scripted {
    fn name(&self) -> &str {
        &self.name
    }

    fn watches(&self) -> Watches {
        Watches::for_kind::<ConfigMap>()
    }

    fn reconcile(&self, ctx: &Ctx<'_>, request: &ObjectKey) -> Result<Action, ReconcileError> {
        let Some(script) = self.scripts.get(&request.name) else {
            return Ok(Action::await_change());
        };
        let cms: Api<ConfigMap> = Api::namespaced(ctx.client(), "default");
        let mut sum = 0;
        for &i in &script.reads {
            sum += cms.get_opt(NAMES[i])?.as_ref().map_or(0, counter);
        }
        if script.lists {
            sum += cms.list(&ListParams::default())?.len() as u64;
        }
        let value = (sum + 1).min(CAP).to_string();
        for &i in &script.writes {
            let name = NAMES[i];
            match cms.get_opt(name)? {
                None => {
                    let mut cm = ConfigMap::default();
                    cm.metadata.name = Some(name.into());
                    cm.data = Some([("n".to_string(), value.clone())].into());
                    cms.create(&PostParams::default(), &cm)?;
                }
                Some(cm) if counter(&cm).to_string() != value => {
                    let patch = json!({"data": {"n": value}});
                    cms.patch(name, &PatchParams::default(), &Patch::Merge(&patch))?;
                }
                Some(_) => {}
            }
        }
        Ok(Action::await_change())
    }
}

fn script() -> impl Strategy<Value = Script> {
    let names = || proptest::collection::vec(0..NAMES.len(), 0..=2);
    (names(), any::<bool>(), names()).prop_map(|(reads, lists, writes)| Script {
        lists: lists && reads.is_empty(),
        reads,
        writes,
    })
}

/// One to three controllers, each with a script for some of `a`..`c`.
fn controllers() -> impl Strategy<Value = Vec<BTreeMap<String, Script>>> {
    let scripts = proptest::collection::btree_map(
        (0..3usize).prop_map(|i| NAMES[i].to_string()),
        script(),
        0..=3,
    );
    proptest::collection::vec(scripts, 1..=3)
}

fn model(controllers: &[BTreeMap<String, Script>]) -> Model {
    let zero = json!({"n": "0"});
    let mut model = Model::new(server_with(&[
        ("a", zero.clone()),
        ("b", zero.clone()),
        ("c", zero),
    ]));
    for (i, scripts) in controllers.iter().enumerate() {
        model = model.controller(Scripted {
            name: format!("c{i}"),
            scripts: scripts.clone(),
        });
    }
    model
}

fn explore(model: Model, reduction: Reduction, threads: usize) -> Report {
    explore_within(model, reduction, threads, None)
}

/// [`explore`], stopping after about `max_states` states.
fn explore_within(
    model: Model,
    reduction: Reduction,
    threads: usize,
    max_states: Option<u64>,
) -> Report {
    Explorer::new(model)
        .mode(Mode::Exhaustive)
        .reduction(reduction)
        .threads(threads)
        .max_depth(40)
        .max_states(max_states)
        .run()
}

/// The unreduced search of a random model is cut here: a few models are
/// far larger than the rest, and they would make the test's time depend
/// on the draw. Cut models are skipped.
const FULL_SEARCH_STATES: u64 = 3_000;

/// What reduction must keep: the converged hashes with their path
/// counts, and the kinds of findings.
fn outcome(report: &Report) -> (Vec<(String, u128)>, Vec<&'static str>) {
    let mut converged: Vec<(String, u128)> = report
        .converged
        .iter()
        .map(|c| (c.hash.to_hex(), c.paths))
        .collect();
    converged.sort();
    let mut kinds: Vec<&'static str> = report.findings.iter().map(|f| f.kind.name()).collect();
    kinds.sort();
    kinds.dedup();
    (converged, kinds)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn reduction_keeps_every_converged_state_and_finding(controllers in controllers()) {
        let full = explore_within(model(&controllers), Reduction::None, 1, Some(FULL_SEARCH_STATES));
        prop_assume!(full.complete());
        let reduced = explore(model(&controllers), Reduction::Por, 1);
        prop_assert!(reduced.complete());
        prop_assert_eq!(outcome(&reduced), outcome(&full));
        prop_assert!(reduced.stats.states <= full.stats.states);
    }
}

/// Two controllers on two ConfigMaps each, sharing nothing: four groups
/// whatever the thread count, with the unreduced search's results.
#[test]
fn independent_scripts_split_into_groups_on_any_thread_count() {
    let own = |read: usize, write: usize| Script {
        reads: vec![read],
        lists: false,
        writes: vec![write],
    };
    let controllers = vec![
        BTreeMap::from([("a".to_string(), own(0, 0)), ("b".to_string(), own(1, 1))]),
        BTreeMap::from([("c".to_string(), own(2, 3))]),
    ];
    let full = explore(model(&controllers), Reduction::None, 1);
    let one = explore(model(&controllers), Reduction::Por, 1);
    let two = explore(model(&controllers), Reduction::Por, 2);
    assert_eq!(outcome(&one), outcome(&full));
    assert_eq!(outcome(&one), outcome(&two));
    assert_eq!(
        (one.stats.states, one.stats.transitions),
        (two.stats.states, two.stats.transitions)
    );
    assert!(one.stats.states < full.stats.states);
    let reduction = &one.stats.reduction;
    assert_eq!(reduction.used, Reduction::Por);
    assert!(reduction.groups >= 3, "{reduction:?}");
    assert_eq!(full.stats.reduction.used, Reduction::None);
}

#[test]
fn interleavings_of_independent_paths_are_binomials() {
    // One path of 2 steps and one of 3: C(5, 2) = 10 orderings.
    let a = [0, 0, 1];
    let b = [0, 0, 0, 1];
    assert_eq!(interleavings([&a[..], &b[..]].into_iter()), 10);
    // Paths of 1 and of 2 steps in one group, one of 1 step in the other:
    // C(2, 1) + C(3, 1) = 5.
    let c = [0, 1, 1];
    let d = [0, 1];
    assert_eq!(interleavings([&c[..], &d[..]].into_iter()), 5);
    assert_eq!(interleavings(std::iter::empty()), 1);
}

#[test]
fn binomials_are_exact_and_saturate() {
    assert_eq!(binomial(5, 2), 10);
    assert_eq!(binomial(60, 30), 118_264_581_564_861_424);
    assert_eq!(binomial(400, 200), u128::MAX);
}
