//! The explorer on small purpose-built controllers (see `test_util`).

use serde_json::json;

use super::{Explorer, FindingKind, Mode, Report};
use crate::Model;
use crate::api::{ConvergedMask, GroupKind};
use crate::hash::FieldMask;
use crate::test_util::{
    Counter, FailsHalfway, FirstWriter, Panicker, Spinner, cm_key, server_with,
};

fn writer(name: &'static str, key: &'static str, value: &'static str) -> FirstWriter {
    FirstWriter { name, key, value }
}

/// Two controllers racing to claim the same key of one ConfigMap.
fn racing() -> Model {
    Model::new(server_with(&[("target", json!({}))]))
        .controller(writer("a", "winner", "a"))
        .controller(writer("b", "winner", "b"))
}

/// Two controllers writing different keys: their steps commute.
fn commuting() -> Model {
    Model::new(server_with(&[("target", json!({}))]))
        .controller(writer("a", "a", "1"))
        .controller(writer("b", "b", "1"))
}

fn exhaustive(model: Model, threads: usize) -> Report {
    Explorer::new(model)
        .mode(Mode::Exhaustive)
        .threads(threads)
        .max_depth(20)
        .run()
}

fn winners(report: &Report) -> Vec<String> {
    let mut out: Vec<String> = report
        .converged
        .iter()
        .map(|c| {
            c.world.server.get(&cm_key("target")).unwrap().object["data"]["winner"].to_string()
        })
        .collect();
    out.sort();
    out
}

#[test]
fn order_dependent_controllers_diverge_into_two_states() {
    let report = exhaustive(racing(), 1);
    assert_eq!(report.converged.len(), 2);
    assert!(report.divergent());
    assert_eq!(winners(&report), ["\"a\"", "\"b\""]);
    // a first: a writes, then a and b both run (a's write triggers both):
    // paths a,a,b / a,b,a ... counted over the state graph.
    let paths: Vec<u128> = report.converged.iter().map(|c| c.paths).collect();
    assert_eq!(paths, [2, 2]);
    assert_eq!(report.findings[0].kind, FindingKind::Divergence);
}

#[test]
fn a_scenario_mask_merges_states_and_reports_what_differed() {
    let mut mask = ConvergedMask::default();
    mask.ignore(
        GroupKind::new("", "ConfigMap"),
        FieldMask::parse("/data/winner").unwrap(),
    );
    let report = exhaustive(racing().converged_mask(mask), 1);
    assert_eq!(report.converged.len(), 1);
    assert!(!report.divergent());
    let merged = &report.converged[0];
    assert_eq!(merged.paths, 4);
    assert_eq!(merged.masked.len(), 1);
    assert_eq!(merged.masked[0].object, cm_key("target"));
    assert_eq!(merged.masked[0].pointer, "/data/winner");
    let mut values = merged.masked[0].values.clone();
    values.sort_by_key(|v| v.as_ref().map(|v| v.to_string()));
    assert_eq!(values, [Some(json!("a")), Some(json!("b"))]);
    // The search itself is unchanged: the same states are explored.
    assert_eq!(report.stats.states, exhaustive(racing(), 1).stats.states);
}

#[test]
fn commuting_controllers_converge_to_one_state() {
    let report = exhaustive(commuting(), 1);
    assert_eq!(report.converged.len(), 1);
    assert!(!report.divergent());
    assert!(report.findings.is_empty(), "{:?}", report.findings);
}

#[test]
fn diamond_of_commuting_steps_visits_the_shared_state_once() {
    // (data, pending): S0 ({}, {a,b}); a writes and re-triggers both:
    // S1 ({a}, {a,b}); b likewise: S2 ({b}, {a,b}); from S1, a is a no-op:
    // S3 ({a}, {b}); b writes: S4 ({a,b}, {a,b}), also reached from S2 by a
    // and from S3 by b and from S5 ({b}, {a}) by a; then S6 ({a,b}, {b}),
    // S7 ({a,b}, {a}) and the converged S8 ({a,b}, {}). Nine states, and
    // S4 is visited once although four transitions reach it.
    let report = exhaustive(commuting(), 1);
    assert_eq!(report.stats.states, 9);
    assert_eq!(report.stats.transitions, 12);
    assert_eq!(
        report.converged[0].paths, 8,
        "4 ways into S4 times 2 out of it"
    );
}

#[test]
fn requeue_loop_is_a_livelock_not_a_hang() {
    let model = Model::new(server_with(&[("x", json!({}))])).controller(Spinner);
    let report = exhaustive(model, 1);
    assert!(report.converged.is_empty());
    assert_eq!(report.findings.len(), 1);
    assert_eq!(report.findings[0].kind, FindingKind::Livelock);
}

#[test]
fn endless_progress_hits_the_depth_limit() {
    let model = Model::new(server_with(&[("x", json!({}))]))
        .controller(Counter)
        .require_convergence(true);
    let report = exhaustive(model, 1);
    assert!(report.converged.is_empty());
    assert_eq!(report.stats.depth_limited, 1);
    assert_eq!(report.findings[0].kind, FindingKind::DepthLimit);
}

#[test]
fn error_mid_reconcile_keeps_earlier_writes_and_retries() {
    let model = Model::new(server_with(&[("source", json!({}))])).controller(FailsHalfway);
    let report = Explorer::new(model).mode(Mode::Reference).run();
    assert_eq!(report.converged.len(), 1);
    let server = &report.converged[0].world.server;
    assert!(server.get(&cm_key("first")).is_ok());
    assert!(server.get(&cm_key("second")).is_ok());
}

#[test]
fn panicking_controller_is_a_finding() {
    let model =
        Model::new(server_with(&[("boom", json!({})), ("fine", json!({}))])).controller(Panicker);
    let report = exhaustive(model, 2);
    let panics: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.kind == FindingKind::Panic)
        .collect();
    assert_eq!(panics.len(), 1);
    assert!(
        panics[0]
            .message
            .contains("panicker panicked: cannot handle boom")
    );
    assert_eq!(panics[0].path.len(), 1);
}

#[test]
fn exhaustive_results_are_identical_for_one_and_two_threads() {
    let one = exhaustive(racing(), 1);
    let two = exhaustive(racing(), 2);
    assert_eq!(one.hashes(), two.hashes());
    assert_eq!(one.stats.states, two.stats.states);
    assert_eq!(one.stats.transitions, two.stats.transitions);
    let paths = |r: &Report| {
        r.converged
            .iter()
            .map(|c| (c.paths, c.path.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(paths(&one), paths(&two));
    let again = exhaustive(racing(), 2);
    assert_eq!(paths(&one), paths(&again));
}

#[test]
fn monte_carlo_trials_are_reproducible_across_thread_counts() {
    let run = |threads| {
        Explorer::new(racing())
            .mode(Mode::MonteCarlo)
            .trials(40)
            .seed(7)
            .threads(threads)
            .run()
    };
    let (one, two) = (run(1), run(2));
    assert_eq!(one.trials, two.trials);
    assert_eq!(one.hashes(), two.hashes());
    assert_eq!(one.converged.len(), 2, "40 trials find both winners");
    let total: u128 = one.converged.iter().map(|c| c.paths).sum();
    assert_eq!(total, 40);
}

#[test]
fn a_monte_carlo_trial_replays_alone() {
    let all = Explorer::new(racing())
        .mode(Mode::MonteCarlo)
        .trials(10)
        .seed(3)
        .run();
    let alone = Explorer::new(racing())
        .mode(Mode::MonteCarlo)
        .first_trial(6)
        .trials(1)
        .seed(3)
        .run();
    assert_eq!(alone.trials[0], all.trials[6]);
}

fn with_late_action(at_depth: u32) -> Model {
    use crate::api::WriteRequest;
    let object = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "late", "namespace": "default"}});
    commuting().action(crate::UserAction {
        timing: crate::ActionTiming::AtDepth(at_depth),
        request: WriteRequest::Create { object },
        field_manager: "kubectl".into(),
    })
}

#[test]
fn an_action_beyond_the_depth_limit_waits_for_quiescence_without_splitting_states() {
    // at_depth >= max_depth: the action can only happen once nothing is
    // pending, so the depth is not part of the search key.
    let late = exhaustive(with_late_action(1000), 1);
    let at_limit = exhaustive(with_late_action(20), 1);
    assert_eq!(late.stats.states, at_limit.stats.states);
    assert_eq!(late.hashes(), at_limit.hashes());
    assert_eq!(late.converged.len(), 1);
    // Available from depth 2, the action interleaves with the writers and
    // the depth up to 2 tells states apart: more states, same outcome.
    let early = exhaustive(with_late_action(2), 1);
    assert!(early.stats.states > late.stats.states);
    assert_eq!(early.hashes(), late.hashes());
}

#[test]
fn a_state_budget_cuts_the_search_at_the_same_place_on_any_thread_count() {
    let cut = |threads| {
        Explorer::new(commuting())
            .threads(threads)
            .max_states(Some(2))
            .run()
    };
    let (one, two) = (cut(1), cut(2));
    assert!(!one.complete());
    assert_eq!(one.cuts, vec![super::Cut::MaxStates(2)]);
    assert_eq!(one.cuts, two.cuts);
    assert_eq!(one.stats.states, two.stats.states);
    assert_eq!(one.stats.transitions, two.stats.transitions);
}

#[test]
fn paths_cut_at_the_depth_limit_make_the_search_incomplete_unless_they_are_findings() {
    let shallow = Explorer::new(commuting()).max_depth(1).run();
    assert!(!shallow.complete());
    assert!(matches!(
        shallow.cuts.as_slice(),
        [super::Cut::DepthLimit { max_depth: 1, .. }]
    ));
    let required = Explorer::new(commuting().require_convergence(true))
        .max_depth(1)
        .run();
    assert!(
        required.complete(),
        "a finding instead: {:?}",
        required.cuts
    );
    assert_eq!(required.findings[0].kind, FindingKind::DepthLimit);
}
