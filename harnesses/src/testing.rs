//! Test helpers: building clusters and running models to convergence.

use kcheck_engine::Model;
use kcheck_engine::api::{ApiServer, GroupKind, ListQuery, ObjectKey};
use kcheck_engine::explore::{Explorer, Mode, Report};
use kcheck_engine::model::Choice;
use kcheck_engine::model::World;
use serde_json::Value;

/// A cluster seeded with `objects` (manifests as a scenario gives them).
pub(crate) fn cluster(objects: &[Value]) -> ApiServer {
    let mut server = ApiServer::new();
    for object in objects {
        server.seed(object.clone(), "kubectl").expect("seed object");
    }
    server
}

/// Which pending choice a run takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Order {
    /// The first choice (first in, first out by key order).
    First,
    /// The last choice.
    Last,
}

/// Runs a model, taking choices in `order`, until nothing is left or
/// `max_steps` steps; `check` sees every state (the initial one too) and
/// panics to fail the test. Returns the final state; panics if the run did
/// not converge.
pub(crate) fn run(
    model: &Model,
    order: Order,
    max_steps: u32,
    mut check: impl FnMut(&World),
) -> World {
    let mut world = model.initial();
    check(&world);
    for _ in 0..max_steps {
        let choices = model.choices(&world);
        let choice: &Choice = match order {
            Order::First => choices.first(),
            Order::Last => choices.last(),
        }
        .map(|c| c as _)
        .unwrap_or_else(|| unreachable!());
        let step = model.step(&world, choice, false);
        if let kcheck_engine::model::StepOutcome::Panic(m) = &step.outcome {
            panic!("controller panicked: {m}");
        }
        world = step.world;
        check(&world);
        if model.choices(&world).is_empty() {
            return world;
        }
    }
    panic!("no convergence within {max_steps} steps");
}

/// Runs FIFO (the first choice each time) to convergence.
pub(crate) fn run_fifo(model: &Model) -> World {
    run(model, Order::First, 500, |_| {})
}

/// Runs the model first-choice-first and last-choice-first and asserts both
/// converge to the same state; returns the FIFO one.
pub(crate) fn run_both_orders(model: &Model) -> World {
    let fifo = run(model, Order::First, 500, |_| {});
    let lifo = run(model, Order::Last, 500, |_| {});
    assert_eq!(
        fifo.server.content_hash(),
        lifo.server.content_hash(),
        "reversed order converged elsewhere:\n{}",
        describe_diff(&fifo.server, &lifo.server)
    );
    fifo
}

/// Every ordering: asserts exactly one converged state and no findings.
pub(crate) fn explore_all(model: Model, max_depth: u32) -> Report {
    let report = Explorer::new(model)
        .mode(Mode::Exhaustive)
        .max_depth(max_depth)
        .threads(2)
        .run();
    assert!(
        report.findings.is_empty(),
        "findings: {:#?}",
        report
            .findings
            .iter()
            .map(|f| format!("{}: {}", f.kind.name(), f.message))
            .collect::<Vec<_>>()
    );
    assert!(
        report.complete(),
        "exploration incomplete: {:?}",
        report.cuts
    );
    assert_eq!(
        report.converged.len(),
        1,
        "converged states: {}\n{}",
        report.converged.len(),
        report
            .converged
            .get(1)
            .map(|c| describe_diff(&report.converged[0].world.server, &c.world.server))
            .unwrap_or_default()
    );
    report
}

fn describe_diff(a: &ApiServer, b: &ApiServer) -> String {
    kcheck_engine::explore::diff_states(a, b)
        .iter()
        .map(|d| format!("{d:?}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The objects of a kind in a namespace.
pub(crate) fn objects(server: &ApiServer, group: &str, kind: &str, ns: &str) -> Vec<Value> {
    server
        .list(&ListQuery::all(GroupKind::new(group, kind), Some(ns)))
        .expect("known kind")
        .into_iter()
        .map(|s| s.object.clone())
        .collect()
}

/// Pods in `default`.
pub(crate) fn pods(server: &ApiServer) -> Vec<Value> {
    objects(server, "", "Pod", "default")
}

/// One object, if it exists.
pub(crate) fn get(
    server: &ApiServer,
    group: &str,
    kind: &str,
    ns: Option<&str>,
    name: &str,
) -> Option<Value> {
    server
        .get(&ObjectKey::new(GroupKind::new(group, kind), ns, name))
        .ok()
        .map(|s| s.object.clone())
}
