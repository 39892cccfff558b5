//! Scenario files: the design's example builds, every kind of bad input is
//! rejected with its field path, and nothing panics.

use proptest::prelude::*;
use serde_json::{Value, json};

use super::test_registry::TestRegistry;
use super::{Expect, ExploreOverrides, Scenario, ScenarioError};
use crate::api::{GroupKind, ObjectKey, meta};
use crate::explore::Mode;
use crate::hash::Digest;
use crate::invariants::Invariant;
use crate::model::ActionTiming;
use crate::staleness::Lag;

const HASH: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// The example of design section 7, with a real hash.
fn design_example() -> Value {
    json!({
      "name": "deployment-rollout",
      "description": "A Deployment scales a ReplicaSet to three ready Pods.",
      "controllers": ["deployment", "replicaset", "kubelet", "garbage-collector"],
      "objects": [ { "apiVersion": "apps/v1", "kind": "Deployment",
                     "metadata": { "name": "web", "namespace": "default" },
                     "spec": { "replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                               "template": { "metadata": {"labels": {"app": "web"}},
                                             "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]} } } } ],
      "actions": [ { "at_depth": 3, "verb": "patch", "target": {"apiVersion": "apps/v1", "kind": "Deployment", "namespace": "default", "name": "web"},
                     "patch": { "spec": { "replicas": 1 } } } ],
      "explore": { "mode": "exhaustive", "max_depth": 60, "trials": 200, "seed": 1 },
      "perturbations": {
        "staleness": [ { "controller": "replicaset", "kind": "Pod", "stale_at": 1, "catch_up_at": 4, "lag": "frozen" } ],
        "stale_reads": { "targets": [ { "controller": "replicaset", "kind": "Pod" } ], "lookback": 2, "max_restarts": 1 },
        "crashes": [ { "controller": "replicaset", "after_writes": 1, "once": true } ],
        "api_faults": [ { "controller": "deployment", "write": 1, "fault": "conflict" } ]
      },
      "invariants": [ { "type": "count", "kind": "Pod", "namespace": "default", "equals": 1 },
                      { "type": "no_orphans" } ],
      "expect": { "converged_states": 1, "converged_hashes": [HASH] }
    })
}

/// The smallest valid scenario.
fn minimal() -> Value {
    json!({"name": "minimal", "controllers": ["kubelet"], "objects": []})
}

fn configmap(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}})
}

fn parse(v: &Value) -> Result<Scenario, ScenarioError> {
    Scenario::parse(&serde_json::to_string_pretty(v).unwrap())
}

/// The path a rejected scenario names, through both parse and from_value.
#[track_caller]
fn rejected_at(v: &Value) -> String {
    let from_text = parse(v).expect_err("the scenario should be rejected");
    let from_value = Scenario::from_value(v.clone()).expect_err("from_value should reject too");
    assert_eq!(
        from_text.path, from_value.path,
        "{from_text} / {from_value}"
    );
    from_text.path
}

#[test]
fn design_section_7_example_builds() {
    let scenario = parse(&design_example()).unwrap();
    assert_eq!(scenario.name(), "deployment-rollout");
    assert_eq!(
        scenario.description(),
        Some("A Deployment scales a ReplicaSet to three ready Pods.")
    );
    let e = scenario.explore();
    assert_eq!(
        (e.mode, e.max_depth, e.trials, e.seed),
        (Mode::Exhaustive, 60, 200, 1)
    );
    let expect = scenario.expect().unwrap();
    assert_eq!(expect.converged_states, Some(1));
    assert_eq!(
        expect.converged_hashes,
        Some(vec![Digest::from_hex(HASH).unwrap()])
    );

    let model = scenario.build(&TestRegistry).unwrap();
    assert_eq!(
        model.controller_names(),
        ["deployment", "replicaset", "kubelet", "garbage-collector"]
    );
    assert_eq!(model.actions().len(), 1);
    assert_eq!(model.actions()[0].timing, ActionTiming::AtDepth(3));
    assert_eq!(model.actions()[0].field_manager, "kubectl-patch");
    let staleness = model.staleness_config();
    assert_eq!(staleness.intervals.len(), 1);
    let interval = &staleness.intervals[0];
    assert_eq!(
        (
            interval.controller,
            &interval.kind,
            interval.stale_at,
            interval.catch_up_at,
            interval.lag
        ),
        (1, &GroupKind::new("", "Pod"), 1, 4, Lag::Frozen)
    );
    let reads = staleness.stale_reads.as_ref().unwrap();
    assert_eq!(reads.targets, [(1, GroupKind::new("", "Pod"))]);
    assert_eq!((reads.lookback, reads.max_restarts), (2, 1));
    let faults = model.faults_config();
    assert_eq!(faults.crashes.len(), 1);
    assert_eq!(faults.api_faults[0].controller, 0);
    let names: Vec<&str> = model.invariants().iter().map(Invariant::name).collect();
    assert_eq!(names, ["count Pod in default", "no_orphans"]);
    assert!(!model.requires_convergence());
    let web = ObjectKey::new(GroupKind::new("apps", "Deployment"), Some("default"), "web");
    assert!(model.server.get(&web).is_ok());
}

#[test]
fn minimal_scenario_takes_the_defaults() {
    let scenario = parse(&minimal()).unwrap();
    let e = scenario.explore();
    assert_eq!(
        (e.mode, e.max_depth, e.trials, e.seed),
        (Mode::Exhaustive, 60, 100, 0)
    );
    assert!(scenario.expect().is_none());
    let model = scenario.build(&TestRegistry).unwrap();
    assert!(model.actions().is_empty() && model.invariants().is_empty());
}

#[test]
fn converged_invariant_requires_convergence() {
    let mut v = minimal();
    v["invariants"] = json!([{"type": "converged"}]);
    let model = parse(&v).unwrap().build(&TestRegistry).unwrap();
    assert!(model.requires_convergence());
    assert!(model.invariants().is_empty());
}

#[test]
fn hash_is_blake3_of_canonical_json_and_ignores_formatting() {
    let compact = Scenario::parse(&design_example().to_string()).unwrap();
    let pretty = parse(&design_example()).unwrap();
    assert_eq!(compact.hash(), pretty.hash());
    let expected = blake3::hash(&crate::hash::canonical_json(&design_example()));
    assert_eq!(compact.hash().0, *expected.as_bytes());
    assert_eq!(compact.to_json(), design_example());
    let mut other = design_example();
    other["explore"]["seed"] = json!(2);
    assert_ne!(parse(&other).unwrap().hash(), compact.hash());
}

#[test]
fn command_line_overrides_replace_explore_settings() {
    let mut scenario = parse(&design_example()).unwrap();
    scenario
        .override_explore(&ExploreOverrides {
            mode: Some(Mode::MonteCarlo),
            trials: Some(7),
            ..Default::default()
        })
        .unwrap();
    let e = scenario.explore();
    assert_eq!(
        (e.mode, e.max_depth, e.trials, e.seed),
        (Mode::MonteCarlo, 60, 7, 1)
    );
    let err = scenario
        .override_explore(&ExploreOverrides {
            max_depth: Some(0),
            ..Default::default()
        })
        .unwrap_err();
    assert_eq!(err.path, "--max-depth");
}

// ----- rejections, each with its exact path --------------------------------

#[test]
fn unknown_top_level_field_is_rejected() {
    let mut v = minimal();
    v["colour"] = json!("blue");
    assert_eq!(rejected_at(&v), "colour");
    let err = parse(&v).unwrap_err();
    assert!(err.message.contains("unknown field `colour`"), "{err}");
}

#[test]
fn converged_ignore_masks_fields_of_its_kind() {
    let mut v = minimal();
    v["converged_ignore"] = json!([{"kind": "ConfigMap", "fields": ["/data/x", "/data/y"]}]);
    let scenario = parse(&v).unwrap();
    let model = scenario.build(&TestRegistry).unwrap();
    let fields: Vec<&str> = model
        .mask()
        .fields(&GroupKind::new("", "ConfigMap"))
        .map(|f| f.as_str())
        .collect();
    assert_eq!(fields[fields.len() - 2..], ["/data/x", "/data/y"]);
}

#[test]
fn a_bad_converged_ignore_pointer_is_rejected_naming_it() {
    let mut v = minimal();
    v["converged_ignore"] = json!([{"kind": "ConfigMap", "fields": ["/data/x", "data/y"]}]);
    assert_eq!(rejected_at(&v), "converged_ignore[0].fields[1]");
    let err = parse(&v).unwrap_err();
    assert!(err.message.contains("must start with \"/\""), "{err}");
    v["converged_ignore"] = json!([{"kind": "ConfigMap", "fields": ["/a~2"]}]);
    assert_eq!(rejected_at(&v), "converged_ignore[0].fields[0]");
    v["converged_ignore"] = json!([{"kind": "ConfigMap", "fields": []}]);
    assert_eq!(rejected_at(&v), "converged_ignore[0].fields");
    v["converged_ignore"] = json!([{"kind": "Gadget", "fields": ["/x"]}]);
    assert!(rejected_at(&v).starts_with("converged_ignore[0]"));
}

#[test]
fn unknown_field_in_an_action_is_rejected() {
    let mut v = design_example();
    v["actions"][0]["propagation"] = json!("Orphan");
    assert_eq!(rejected_at(&v), "actions[0].propagation");
}

#[test]
fn wrong_type_is_rejected_with_its_line() {
    let text = "{\n  \"name\": \"x\",\n  \"controllers\": [],\n  \"objects\": [],\n  \"explore\": {\"max_depth\": \"ten\"}\n}";
    let err = Scenario::parse(text).unwrap_err();
    assert_eq!(err.path, "explore.max_depth");
    assert_eq!(err.line, Some(5));
    assert!(err.message.contains("expected u32"), "{err}");
    assert_eq!(
        err.to_string(),
        format!(
            "at explore.max_depth (line 5, column {}): {}",
            err.column.unwrap(),
            err.message
        )
    );
}

#[test]
fn unknown_controller_is_rejected_listing_known_ones() {
    let mut v = design_example();
    v["controllers"] = json!(["deployment", "statefulset"]);
    v["perturbations"] = json!({});
    let err = parse(&v).unwrap().build(&TestRegistry).unwrap_err();
    assert_eq!(err.path, "controllers[1]");
    assert!(
        err.message
            .contains("known controllers: deployment, garbage-collector, kubelet, replicaset"),
        "{err}"
    );
}

#[test]
fn bad_controller_config_names_the_config() {
    let mut v = minimal();
    v["controllers"] = json!(["replicaset", {"name": "kubelet", "config": {"verbose": 3}}]);
    let err = parse(&v).unwrap().build(&TestRegistry).unwrap_err();
    assert_eq!(err.path, "controllers[1].config");
    assert!(err.message.contains("config.verbose"), "{err}");
    v["controllers"][1]["config"]["verbose"] = json!(true);
    parse(&v).unwrap().build(&TestRegistry).unwrap();
}

#[test]
fn duplicate_controller_is_rejected() {
    let mut v = minimal();
    v["controllers"] = json!(["kubelet", {"name": "kubelet"}]);
    assert_eq!(rejected_at(&v), "controllers[1]");
}

#[test]
fn missing_scenario_name_is_rejected() {
    let mut v = minimal();
    v.as_object_mut().unwrap().remove("name");
    assert_eq!(rejected_at(&v), "name");
    v["name"] = json!("");
    assert_eq!(rejected_at(&v), "name");
}

#[test]
fn missing_object_name_is_rejected() {
    let mut v = minimal();
    v["objects"] =
        json!([configmap("a"), {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}}]);
    assert_eq!(rejected_at(&v), "objects[1].metadata.name");
    v["objects"][1]["metadata"] = json!({"generateName": "cm-"});
    assert_eq!(rejected_at(&v), "objects[1].metadata.generateName");
    v["objects"][1] = json!({"kind": "ConfigMap", "metadata": {"name": "b"}});
    assert_eq!(rejected_at(&v), "objects[1].apiVersion");
    v["objects"][1] = json!({"apiVersion": "v1", "metadata": {"name": "b"}});
    assert_eq!(rejected_at(&v), "objects[1].kind");
    v["objects"][1] = json!("ConfigMap b");
    assert_eq!(rejected_at(&v), "objects[1]");
}

#[test]
fn invalid_and_duplicate_object_names_are_rejected() {
    let mut v = minimal();
    v["objects"] = json!([configmap("Not_Valid")]);
    assert_eq!(rejected_at(&v), "objects[0].metadata.name");
    v["objects"] = json!([configmap("a"), configmap("a")]);
    let err = parse(&v).unwrap_err();
    assert_eq!(err.path, "objects[1]");
    assert!(err.message.contains("objects[0]"), "{err}");
}

#[test]
fn bad_json_is_rejected_with_its_line() {
    let text = "{\n  \"name\": \"x\",\n  \"controllers\": []\n  \"objects\": []\n}";
    let err = Scenario::parse(text).unwrap_err();
    assert_eq!(err.line, Some(4));
    assert!(err.message.starts_with("not valid JSON"), "{err}");
    let err = Scenario::parse("{\"name\": \"x\", ").unwrap_err();
    assert_eq!(err.line, Some(1));
    let err = Scenario::parse("{\"name\": \"x\", \"controllers\": [], \"objects\": []} trailing")
        .unwrap_err();
    assert!(err.message.contains("trailing"), "{err}");
}

#[test]
fn empty_staleness_window_is_rejected() {
    let mut v = design_example();
    v["perturbations"]["staleness"][0]["catch_up_at"] = json!(1);
    assert_eq!(rejected_at(&v), "perturbations.staleness[0].catch_up_at");
}

#[test]
fn negative_depth_is_rejected() {
    let mut v = design_example();
    v["actions"][0]["at_depth"] = json!(-1);
    assert_eq!(rejected_at(&v), "actions[0].at_depth");
    v["actions"][0]["at_depth"] = json!(1.5);
    assert_eq!(rejected_at(&v), "actions[0].at_depth");
}

#[test]
fn after_settled_excludes_at_depth_and_takes_only_settled() {
    let mut v = design_example();
    v["actions"][0]["after"] = json!("settled");
    let err = parse(&v).unwrap_err();
    assert_eq!(err.path, "actions[0].after");
    assert!(
        err.message
            .contains("at_depth and after exclude each other"),
        "{err}"
    );
    v["actions"][0].as_object_mut().unwrap().remove("at_depth");
    let model = parse(&v).unwrap().build(&TestRegistry).unwrap();
    assert_eq!(model.actions()[0].timing, ActionTiming::Settled);
    v["actions"][0]["after"] = json!("converged");
    let err = parse(&v).unwrap_err();
    assert_eq!(err.path, "actions[0].after");
    assert!(err.message.contains("expected `settled`"), "{err}");
}

#[test]
fn unknown_invariant_type_is_rejected() {
    let mut v = design_example();
    v["invariants"][1] = json!({"type": "eventually_consistent"});
    assert_eq!(rejected_at(&v), "invariants[1].type");
}

#[test]
fn count_without_a_bound_is_rejected() {
    let mut v = design_example();
    v["invariants"][0] = json!({"type": "count", "kind": "Pod"});
    assert_eq!(rejected_at(&v), "invariants[0]");
    v["invariants"][0] = json!({"type": "count", "kind": "Pod", "min": 3, "max": 1});
    assert_eq!(rejected_at(&v), "invariants[0].min");
    v["invariants"][0] = json!({"type": "count", "kind": "Pod", "equals": 1, "max": 1});
    assert_eq!(rejected_at(&v), "invariants[0].equals");
    v["invariants"][0] = json!({"type": "count", "min": 1});
    assert_eq!(rejected_at(&v), "invariants[0].kind");
}

#[test]
fn bad_hash_in_expect_is_rejected() {
    let mut v = design_example();
    v["expect"]["converged_hashes"] = json!([HASH.to_uppercase()]);
    assert_eq!(rejected_at(&v), "expect.converged_hashes[0]");
    v["expect"]["converged_hashes"] = json!([HASH, "abc"]);
    assert_eq!(rejected_at(&v), "expect.converged_hashes[1]");
    v["expect"]["converged_hashes"] = json!([HASH, HASH]);
    assert_eq!(rejected_at(&v), "expect.converged_hashes[1]");
    v["expect"]["converged_hashes"] = json!([]);
    assert_eq!(rejected_at(&v), "expect.converged_states");
}

#[test]
fn unknown_kind_is_rejected() {
    let mut v = minimal();
    v["objects"] =
        json!([{"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}]);
    assert_eq!(rejected_at(&v), "objects[0].kind");
    let mut v = design_example();
    v["perturbations"]["staleness"][0]["kind"] = json!("pod");
    let err = parse(&v).unwrap_err();
    assert_eq!(err.path, "perturbations.staleness[0].kind");
    assert!(err.message.contains("did you mean Pod"), "{err}");
    let mut v = design_example();
    v["perturbations"]["stale_reads"]["targets"][0]["apiVersion"] = json!("apps/v1");
    assert_eq!(rejected_at(&v), "perturbations.stale_reads.targets[0].kind");
}

#[test]
fn missing_namespace_is_rejected() {
    let mut v = minimal();
    let mut cm = configmap("settings");
    cm["metadata"]["namespace"] = json!("prod");
    v["objects"] = json!([cm]);
    let err = parse(&v).unwrap_err();
    assert_eq!(err.path, "objects[0].metadata.namespace");
    assert!(err.message.contains("\"prod\" does not exist"), "{err}");
    // A Namespace anywhere in `objects` creates it.
    v["objects"]
        .as_array_mut()
        .unwrap()
        .push(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prod"}}));
    let scenario = parse(&v).unwrap();
    let key = ObjectKey::new(GroupKind::new("", "ConfigMap"), Some("prod"), "settings");
    assert!(scenario.prepared.server.get(&key).is_ok());
}

#[test]
fn patch_action_without_target_is_rejected() {
    let mut v = design_example();
    v["actions"][0].as_object_mut().unwrap().remove("target");
    assert_eq!(rejected_at(&v), "actions[0].target");
    let mut v = design_example();
    v["actions"][0].as_object_mut().unwrap().remove("patch");
    assert_eq!(rejected_at(&v), "actions[0].patch");
    let mut v = design_example();
    v["actions"][0]["object"] = configmap("x");
    assert_eq!(rejected_at(&v), "actions[0].object");
}

#[test]
fn bad_lag_is_rejected() {
    let mut v = design_example();
    v["perturbations"]["staleness"][0]["lag"] = json!(-1);
    assert_eq!(rejected_at(&v), "perturbations.staleness[0].lag");
    v["perturbations"]["staleness"][0]["lag"] = json!("slow");
    let err = parse(&v).unwrap_err();
    assert_eq!(err.path, "perturbations.staleness[0].lag");
    assert!(err.message.contains("\"frozen\""), "{err}");
    v["perturbations"]["staleness"][0]["lag"] = json!(2);
    let model = parse(&v).unwrap().build(&TestRegistry).unwrap();
    assert_eq!(model.staleness_config().intervals[0].lag, Lag::Events(2));
}

#[test]
fn action_fields_are_checked_per_verb() {
    let cases = [
        (json!({"verb": "create"}), "actions[0].object"),
        (json!({"verb": "delete"}), "actions[0].target"),
        (
            json!({"verb": "frobnicate", "target": {"kind": "Pod", "name": "p"}}),
            "actions[0].verb",
        ),
        (
            json!({"verb": "patch", "target": {"kind": "Deployment", "name": "web"}, "patch": {}, "patch_type": "yaml"}),
            "actions[0].patch_type",
        ),
        (
            json!({"verb": "patch", "target": {"kind": "Deployment", "name": "web"}, "patch": [1]}),
            "actions[0].patch",
        ),
        (
            json!({"verb": "patch", "target": {"kind": "Deployment", "name": "web"}, "patch_type": "json",
                   "patch": [{"op": "frobnicate", "path": "/spec"}]}),
            "actions[0].patch[0].op",
        ),
        (
            json!({"verb": "delete", "target": {"kind": "Deployment", "name": "web"}, "force": true}),
            "actions[0].force",
        ),
        (
            json!({"verb": "delete", "target": {"kind": "Deployment", "name": "web"}, "propagation_policy": "Later"}),
            "actions[0].propagation_policy",
        ),
        (
            json!({"verb": "apply", "object": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}, "subresource": "status"}),
            "actions[0].subresource",
        ),
        (
            json!({"verb": "create", "object": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "nowhere"}}}),
            "actions[0].object.metadata.namespace",
        ),
        (
            json!({"verb": "delete", "target": {"kind": "Namespace", "namespace": "default", "name": "prod"}}),
            "actions[0].target.namespace",
        ),
        (
            json!({"verb": "apply", "object": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}, "field_manager": ""}),
            "actions[0].field_manager",
        ),
    ];
    for (action, path) in cases {
        let mut v = design_example();
        v["actions"] = json!([action]);
        assert_eq!(rejected_at(&v), path, "{action}");
    }
}

#[test]
fn actions_become_write_requests() {
    let mut v = design_example();
    v["actions"] = json!([
        {"verb": "create", "object": {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prod"}}},
        {"verb": "create", "object": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"generateName": "cm-", "namespace": "prod"}}},
        {"verb": "apply", "object": configmap("c"), "force": true, "field_manager": "me"},
        {"at_depth": 2, "verb": "patch", "target": {"kind": "Deployment.apps", "name": "web"},
         "patch_type": "json", "patch": [{"op": "replace", "path": "/spec/replicas", "value": 2}]},
        {"after": "settled", "verb": "delete", "target": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
         "propagation_policy": "Foreground"}
    ]);
    let model = parse(&v).unwrap().build(&TestRegistry).unwrap();
    let verbs: Vec<(&str, &str, ActionTiming)> = model
        .actions()
        .iter()
        .map(|a| (a.request.verb(), a.field_manager.as_str(), a.timing))
        .collect();
    assert_eq!(
        verbs,
        [
            ("create", "kubectl-create", ActionTiming::AtDepth(0)),
            ("create", "kubectl-create", ActionTiming::AtDepth(0)),
            ("apply", "me", ActionTiming::AtDepth(0)),
            ("patch", "kubectl-patch", ActionTiming::AtDepth(2)),
            ("delete", "kubectl", ActionTiming::Settled)
        ]
    );
    match &model.actions()[2].request {
        crate::api::WriteRequest::Apply { object, force, .. } => {
            assert!(force);
            assert_eq!(object["metadata"]["namespace"], "default");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn explore_bounds_are_checked() {
    for (field, value, path) in [
        ("mode", json!("random"), "explore.mode"),
        ("max_depth", json!(0), "explore.max_depth"),
        ("trials", json!(0), "explore.trials"),
        ("seed", json!(-3), "explore.seed"),
    ] {
        let mut v = design_example();
        v["explore"][field] = value;
        assert_eq!(rejected_at(&v), path);
    }
}

#[test]
fn perturbation_references_are_checked() {
    let cases: [(&str, Value, &str); 9] = [
        (
            "/perturbations/staleness/0/controller",
            json!("scheduler"),
            "perturbations.staleness[0].controller",
        ),
        (
            "/perturbations/stale_reads/lookback",
            json!(0),
            "perturbations.stale_reads.lookback",
        ),
        (
            "/perturbations/stale_reads/targets",
            json!([]),
            "perturbations.stale_reads.targets",
        ),
        (
            "/perturbations/crashes/0/after_writes",
            json!(0),
            "perturbations.crashes[0].after_writes",
        ),
        (
            "/perturbations/crashes/0/controller",
            json!("nobody"),
            "perturbations.crashes[0].controller",
        ),
        (
            "/perturbations/api_faults/0/write",
            json!(0),
            "perturbations.api_faults[0].write",
        ),
        (
            "/perturbations/api_faults/0/fault",
            json!("timeout"),
            "perturbations.api_faults[0].fault",
        ),
        (
            "/perturbations/api_faults/0/watcher",
            json!("kubelet"),
            "perturbations.api_faults[0].watcher",
        ),
        (
            "/perturbations/api_faults/1",
            json!({"controller": "deployment", "write": 1, "fault": "server_error"}),
            "perturbations.api_faults[1]",
        ),
    ];
    for (pointer, value, path) in cases {
        let mut v = design_example();
        let (parent, last) = pointer.rsplit_once('/').unwrap();
        match v.pointer_mut(parent).unwrap() {
            Value::Array(items) => {
                let i: usize = last.parse().unwrap();
                if i < items.len() {
                    items[i] = value;
                } else {
                    items.push(value);
                }
            }
            Value::Object(map) => {
                map.insert(last.to_string(), value);
            }
            _ => unreachable!(),
        }
        assert_eq!(rejected_at(&v), path, "{pointer}");
    }
}

#[test]
fn watch_drop_may_name_a_watcher() {
    let mut v = design_example();
    v["perturbations"]["api_faults"] = json!([{"controller": "deployment", "write": 2, "fault": "watch_drop", "watcher": "replicaset"}]);
    let model = parse(&v).unwrap().build(&TestRegistry).unwrap();
    assert_eq!(
        model.faults_config().api_faults[0].fault,
        crate::faults::WriteFault::WatchDrop {
            watcher: Some("replicaset".into())
        }
    );
    v["perturbations"]["api_faults"][0]["watcher"] = json!("scheduler");
    assert_eq!(rejected_at(&v), "perturbations.api_faults[0].watcher");
}

#[test]
fn invariant_fields_are_checked_per_type() {
    let target = json!({"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"});
    let cases = [
        (json!({"type": "exists"}), "invariants[0].target"),
        (
            json!({"type": "absent", "target": target, "kind": "Pod"}),
            "invariants[0].kind",
        ),
        (
            json!({"type": "field_equals", "target": target, "pointer": "spec/replicas", "value": 1}),
            "invariants[0].pointer",
        ),
        (
            json!({"type": "field_equals", "target": target, "pointer": "/spec/replicas"}),
            "invariants[0].value",
        ),
        (
            json!({"type": "field_absent", "target": target, "pointer": "status"}),
            "invariants[0].pointer",
        ),
        (
            json!({"type": "field_absent", "target": target}),
            "invariants[0].pointer",
        ),
        (
            json!({"type": "field_absent", "target": target, "pointer": "/status", "value": null}),
            "invariants[0].value",
        ),
        (
            json!({"type": "no_orphans", "when": "sometimes"}),
            "invariants[0].when",
        ),
        (
            json!({"type": "converged", "when": "always"}),
            "invariants[0].when",
        ),
        (
            json!({"type": "count", "kind": "Pod", "equals": 1, "selector": {"app": 1}}),
            "invariants[0].selector.app",
        ),
        (
            json!({"type": "count", "kind": "Pod", "equals": 1, "selector": "app in ("}),
            "invariants[0].selector",
        ),
        (
            json!({"type": "count", "kind": "Namespace", "namespace": "default", "equals": 1}),
            "invariants[0].namespace",
        ),
        (
            json!({"type": "exists", "target": {"kind": "Deployment", "name": "web", "colour": 1}}),
            "invariants[0].target.colour",
        ),
    ];
    for (invariant, path) in cases {
        let mut v = design_example();
        v["invariants"] = json!([invariant]);
        assert_eq!(rejected_at(&v), path, "{invariant}");
    }
}

#[test]
fn invariants_check_the_state() {
    let mut v = design_example();
    v["invariants"] = json!([
        {"type": "exists", "target": {"kind": "Deployment", "name": "web"}},
        {"type": "absent", "target": {"kind": "Deployment", "name": "api"}, "when": "always"},
        {"type": "field_equals", "target": {"kind": "Deployment", "name": "web"}, "pointer": "/spec/replicas", "value": 3},
        {"type": "field_equals", "target": {"kind": "Deployment", "name": "web"}, "pointer": "/spec/paused", "value": null},
        {"type": "count", "kind": "Deployment", "selector": "app notin (db)", "min": 1, "max": 1},
        {"type": "count", "kind": "Namespace", "min": 4},
        {"type": "no_orphans", "when": "always"},
        {"type": "field_absent", "target": {"kind": "Deployment", "name": "web"}, "pointer": "/spec/paused"},
        {"type": "field_absent", "target": {"kind": "Deployment", "name": "web"}, "pointer": "/spec/replicas", "when": "always"},
        {"type": "field_absent", "target": {"kind": "Deployment", "name": "api"}, "pointer": "/spec/paused"}
    ]);
    let model = parse(&v).unwrap().build(&TestRegistry).unwrap();
    let results: Vec<bool> = model
        .invariants()
        .iter()
        .map(|i| i.check(&model.server).is_ok())
        .collect();
    assert_eq!(
        results,
        [
            true, true, true, false, true, true, true, true, false, false
        ]
    );
    assert_eq!(
        model.invariants()[8].when(),
        crate::invariants::When::Always
    );
}

#[test]
fn ambiguous_kind_names_list_the_candidates() {
    let mut v = design_example();
    let crd = json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "deployments.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced",
                 "names": {"kind": "Deployment", "plural": "deployments"},
                 "versions": [{"name": "v1", "served": true, "storage": true}]}});
    v["objects"].as_array_mut().unwrap().push(crd);
    v["invariants"] = json!([{"type": "count", "kind": "Deployment", "equals": 1}]);
    let err = parse(&v).unwrap_err();
    assert_eq!(err.path, "invariants[0].kind");
    assert!(
        err.message.contains("Deployment.apps (apps/v1)")
            && err
                .message
                .contains("Deployment.example.com (example.com/v1)"),
        "{err}"
    );
    v["invariants"] = json!([{"type": "count", "kind": "Deployment.example.com", "equals": 0}]);
    parse(&v).unwrap();
    v["invariants"] =
        json!([{"type": "count", "kind": "Deployment", "apiVersion": "apps/v1", "equals": 1}]);
    parse(&v).unwrap();
}

// ----- objects ---------------------------------------------------------------

fn widget_crd() -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced",
                 "names": {"kind": "Widget", "plural": "widgets"},
                 "versions": [{"name": "v1", "served": true, "storage": true,
                               "subresources": {"status": {}}}]}})
}

#[test]
fn crds_in_objects_are_registered_before_the_objects_that_use_them() {
    let mut v = minimal();
    v["objects"] = json!([
        {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": 1}},
        widget_crd()
    ]);
    v["invariants"] = json!([{"type": "count", "kind": "Widget", "equals": 1}]);
    let scenario = parse(&v).unwrap();
    let key = ObjectKey::new(
        GroupKind::new("example.com", "Widget"),
        Some("default"),
        "w",
    );
    let model = scenario.build(&TestRegistry).unwrap();
    assert!(model.server.get(&key).is_ok());
    assert!(model.invariants()[0].check(&model.server).is_ok());

    let mut crd = widget_crd();
    crd["metadata"]["name"] = json!("widgets");
    v["objects"][1] = crd;
    assert_eq!(rejected_at(&v), "objects[1].metadata.name");
    let mut crd = widget_crd();
    crd["spec"]["scope"] = json!("Galaxy");
    v["objects"][1] = crd;
    assert_eq!(rejected_at(&v), "objects[1].spec.scope");
}

#[test]
fn owner_reference_uids_are_filled_in() {
    let mut v = minimal();
    let spec = json!({"selector": {"matchLabels": {"app": "web"}},
        "template": {"metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": "nginx"}]}}});
    v["objects"] = json!([
        {"apiVersion": "apps/v1", "kind": "ReplicaSet",
         "metadata": {"name": "web-1", "ownerReferences": [
             {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "controller": true}]},
         "spec": spec},
        {"apiVersion": "v1", "kind": "ConfigMap",
         "metadata": {"name": "owned", "ownerReferences": [
             {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": ""},
             {"apiVersion": "v1", "kind": "Namespace", "name": "default", "uid": "keep-me"}]}},
        {"apiVersion": "v1", "kind": "ConfigMap",
         "metadata": {"name": "by-manifest-uid", "ownerReferences": [
             {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": "u-web"}]}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "uid": "u-web"},
         "spec": spec}
    ]);
    let scenario = parse(&v).unwrap();
    let server = &scenario.prepared.server;
    let get = |kind: GroupKind, name: &str| {
        server
            .get(&ObjectKey::new(kind, Some("default"), name))
            .unwrap()
            .object
            .clone()
    };
    let web = get(GroupKind::new("apps", "Deployment"), "web");
    let web_uid = meta::uid(&web).unwrap().to_string();
    assert_ne!(web_uid, "u-web", "the server assigns uids");
    let rs = get(GroupKind::new("apps", "ReplicaSet"), "web-1");
    assert_eq!(meta::owner_references(&rs)[0].uid, web_uid);
    let cm = get(GroupKind::new("", "ConfigMap"), "owned");
    let refs = meta::owner_references(&cm);
    assert_eq!(refs[0].uid, web_uid);
    assert_eq!(refs[1].uid, "keep-me", "explicit uids are kept");
    let cm = get(GroupKind::new("", "ConfigMap"), "by-manifest-uid");
    assert_eq!(meta::owner_references(&cm)[0].uid, web_uid);

    let mut v = minimal();
    v["objects"] = json!([{"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "c", "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "gone"}]}}]);
    assert_eq!(
        rejected_at(&v),
        "objects[0].metadata.ownerReferences[0].name"
    );
    v["objects"][0]["metadata"]["ownerReferences"][0] =
        json!({"kind": "Deployment", "name": "gone"});
    assert_eq!(
        rejected_at(&v),
        "objects[0].metadata.ownerReferences[0].apiVersion"
    );
}

#[test]
fn lists_are_flattened() {
    let mut v = minimal();
    v["objects"] = json!([
        {"apiVersion": "v1", "kind": "List", "items": [
            configmap("a"),
            {"apiVersion": "v1", "kind": "List", "items": [configmap("b")]}
        ]},
        configmap("c")
    ]);
    let scenario = parse(&v).unwrap();
    for name in ["a", "b", "c"] {
        let key = ObjectKey::new(GroupKind::new("", "ConfigMap"), Some("default"), name);
        assert!(scenario.prepared.server.get(&key).is_ok(), "{name}");
    }
    v["objects"][0]["items"][1]["items"][0]["metadata"] = json!({});
    assert_eq!(
        rejected_at(&v),
        "objects[0].items[1].items[0].metadata.name"
    );
    v["objects"][0] = json!({"apiVersion": "v1", "kind": "List"});
    assert_eq!(rejected_at(&v), "objects[0].items");
}

#[test]
fn namespaced_objects_default_to_the_default_namespace() {
    let mut v = minimal();
    v["objects"] = json!([configmap("settings"), {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-1"}}]);
    let scenario = parse(&v).unwrap();
    let server = &scenario.prepared.server;
    let cm = server
        .get(&ObjectKey::new(
            GroupKind::new("", "ConfigMap"),
            Some("default"),
            "settings",
        ))
        .unwrap();
    assert_eq!(cm.object["metadata"]["namespace"], "default");
    let node = server
        .get(&ObjectKey::new(GroupKind::new("", "Node"), None, "node-1"))
        .unwrap();
    assert!(node.object["metadata"].get("namespace").is_none());

    v["objects"][1]["metadata"]["namespace"] = json!("default");
    assert_eq!(rejected_at(&v), "objects[1].metadata.namespace");
}

#[test]
fn initial_namespaces_may_be_given_with_labels() {
    let mut v = minimal();
    v["objects"] = json!([{"apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": "default", "labels": {"team": "web"}}}]);
    let scenario = parse(&v).unwrap();
    let ns = scenario
        .prepared
        .server
        .get(&ObjectKey::new(
            GroupKind::new("", "Namespace"),
            None,
            "default",
        ))
        .unwrap();
    assert_eq!(ns.object["metadata"]["labels"]["team"], "web");
}

#[test]
fn server_validation_errors_name_the_field() {
    let mut v = minimal();
    let mut cm = configmap("c");
    cm["metadata"]["labels"] = json!({"bad key!": "x"});
    v["objects"] = json!([cm]);
    let err = parse(&v).unwrap_err();
    assert_eq!(err.path, "objects[0].metadata.labels");
}

#[test]
fn load_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.json");
    std::fs::write(&path, "{\n  \"name\": 1\n}").unwrap();
    let err = Scenario::load(&path).unwrap_err();
    assert_eq!(err.file.as_deref(), Some(path.as_path()));
    assert_eq!(err.path, "name");
    assert!(
        err.to_string()
            .starts_with(&format!("{}: at name (line 2", path.display())),
        "{err}"
    );
    let err = Scenario::load(&dir.path().join("missing.json")).unwrap_err();
    assert!(err.message.contains("cannot read"), "{err}");
}

// ----- write_expect ----------------------------------------------------------

const FILE: &str = r#"{
  "name": "rewrite-me",
  "controllers": ["kubelet"],
  "objects": [
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "z"}}
  ],
  "expect": {"converged_states": 3},
  "invariants": [ {"type": "no_orphans"} ]
}
"#;

fn expect_of(n: usize) -> Expect {
    let hashes: Vec<Digest> = (0..n as u8).map(|i| Digest([i; 32])).collect();
    Expect {
        converged_states: Some(n),
        converged_hashes: Some(hashes),
        states: None,
        findings: Vec::new(),
    }
}

#[test]
fn write_expect_replaces_only_the_expect_block() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.json");
    std::fs::write(&path, FILE).unwrap();
    Scenario::write_expect(&path, &expect_of(2)).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let (before, after) = FILE.split_once("{\"converged_states\": 3}").unwrap();
    assert!(text.starts_with(before) && text.ends_with(after), "{text}");
    assert!(
        text.contains(
            "\"expect\": {\n    \"converged_states\": 2,\n    \"converged_hashes\": [\n      \"0000"
        ),
        "{text}"
    );
    assert_eq!(Scenario::load(&path).unwrap().expect(), Some(&expect_of(2)));
    let leftovers = std::fs::read_dir(dir.path()).unwrap().count();
    assert_eq!(leftovers, 1, "no temporary file is left behind");
}

#[test]
fn write_expect_adds_a_missing_block_after_the_last_member() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.json");
    let without = FILE.replace("  \"expect\": {\"converged_states\": 3},\n", "");
    std::fs::write(&path, &without).unwrap();
    Scenario::write_expect(&path, &expect_of(1)).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.starts_with(without.trim_end().strip_suffix('}').unwrap().trim_end()),
        "{text}"
    );
    assert!(
        text.contains("],\n  \"expect\": {\n    \"converged_states\": 1,"),
        "{text}"
    );
    assert_eq!(Scenario::load(&path).unwrap().expect(), Some(&expect_of(1)));

    let one_line = r#"{"name": "x", "controllers": [], "objects": []}"#;
    std::fs::write(&path, one_line).unwrap();
    Scenario::write_expect(&path, &expect_of(1)).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.starts_with(r#"{"name": "x", "controllers": [], "objects": [], "expect": {"#),
        "{text}"
    );
    assert_eq!(Scenario::load(&path).unwrap().expect(), Some(&expect_of(1)));
}

#[test]
fn write_expect_leaves_the_file_alone_when_the_result_is_invalid() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.json");
    std::fs::write(&path, FILE).unwrap();
    let bad = Expect {
        converged_states: Some(5),
        converged_hashes: Some(vec![Digest([1; 32])]),
        states: None,
        findings: Vec::new(),
    };
    let err = Scenario::write_expect(&path, &bad).unwrap_err();
    assert_eq!(err.path, "expect.converged_states");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), FILE);
}

// ----- nothing panics ----------------------------------------------------------

/// Replaces, deletes or adds to the node `path` leads to.
fn mutate(v: &mut Value, path: &[usize], op: u8, replacement: &Value) {
    match (path.split_first(), v) {
        (Some((&c, rest)), Value::Object(map)) if !map.is_empty() => {
            let key = map.keys().nth(c % map.len()).cloned().unwrap();
            if rest.is_empty() && op == 0 {
                map.remove(&key);
            } else {
                mutate(map.get_mut(&key).unwrap(), rest, op, replacement);
            }
        }
        (Some((&c, rest)), Value::Array(items)) if !items.is_empty() => {
            let i = c % items.len();
            if rest.is_empty() && op == 0 {
                items.remove(i);
            } else {
                mutate(&mut items[i], rest, op, replacement);
            }
        }
        (_, node) => match (op, node) {
            (2, Value::Object(map)) => {
                map.insert("garbage".into(), replacement.clone());
            }
            (_, node) => *node = replacement.clone(),
        },
    }
}

fn replacement() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-1e6f64..1e6).prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
        Just(json!([])),
        Just(json!({})),
        Just(json!("frozen")),
        Just(json!(0)),
        Just(json!(-1)),
        Just(json!({"apiVersion": "v1", "kind": "List", "items": [1]})),
        Just(json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}})),
        Just(json!({"kind": "Pod", "name": "p"})),
    ]
}

proptest! {
    #[test]
    fn arbitrary_text_never_panics(text in ".{0,200}") {
        let _ = Scenario::parse(&text);
    }

    #[test]
    fn mutated_scenarios_never_panic(
        path in proptest::collection::vec(0usize..64, 0..6),
        op in 0u8..3,
        replacement in replacement(),
    ) {
        let mut v = design_example();
        mutate(&mut v, &path, op, &replacement);
        if let Ok(s) = Scenario::from_value(v.clone()) {
            let _ = s.build(&TestRegistry);
        }
        if let Ok(s) = Scenario::parse(&v.to_string()) {
            let _ = s.build(&TestRegistry);
        }
    }

    #[test]
    fn mangled_text_never_panics(at in 0usize..2000, cut in 0usize..8, insert in ".{0,4}") {
        let text = serde_json::to_string_pretty(&design_example()).unwrap();
        let mut at = at % text.len();
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        let mut end = (at + cut).min(text.len());
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let mangled = format!("{}{insert}{}", &text[..at], &text[end..]);
        if let Ok(s) = Scenario::parse(&mangled) {
            let _ = s.build(&TestRegistry);
        }
    }
}

#[test]
fn structs_written_as_lists_are_rejected() {
    let err = Scenario::parse("[]").unwrap_err();
    assert_eq!(
        (err.path.as_str(), err.message.as_str()),
        ("", "a scenario must be a JSON map, not a list")
    );
    let mut v = design_example();
    v["explore"] = json!(["exhaustive", 60, 100, 0]);
    assert_eq!(rejected_at(&v), "explore");
    let mut v = design_example();
    v["actions"][0]["target"] = json!(["apps/v1", "Deployment", "default", "web"]);
    assert_eq!(rejected_at(&v), "actions[0].target");
    let mut v = design_example();
    v["controllers"][1] = json!(["replicaset"]);
    assert_eq!(rejected_at(&v), "controllers[1]");
}

#[test]
fn built_model_runs_its_actions() {
    let scenario = parse(&design_example()).unwrap();
    let model = scenario.build(&TestRegistry).unwrap();
    let mut spec = *scenario.explore();
    spec.mode = Mode::Reference;
    let report = spec.explorer(model).threads(1).run();
    assert_eq!(report.converged.len(), 1);
    let web = ObjectKey::new(GroupKind::new("apps", "Deployment"), Some("default"), "web");
    let server = &report.converged[0].world.server;
    assert_eq!(server.get(&web).unwrap().object["spec"]["replicas"], 1);
}

#[test]
fn scenarios_can_be_shared_between_threads() {
    fn send_sync<T: Send + Sync + Clone>() {}
    send_sync::<Scenario>();
    send_sync::<ScenarioError>();
}

// ----- manifests checked as the API server checks them -------------------

fn with_deployment(edit: impl FnOnce(&mut Value)) -> Value {
    let mut v = design_example();
    v.as_object_mut().unwrap().remove("expect");
    edit(&mut v["objects"][0]);
    v
}

#[track_caller]
fn refusal(v: &Value) -> ScenarioError {
    let e = parse(v).expect_err("the scenario should be rejected");
    assert_eq!(
        Scenario::from_value(v.clone()).unwrap_err(),
        e,
        "from_value agrees"
    );
    e
}

#[test]
fn object_of_the_wrong_type_is_rejected_naming_object_and_field() {
    let e = refusal(&with_deployment(|d| d["spec"]["replicas"] = json!("2")));
    assert_eq!(e.path, "objects[0]");
    assert_eq!(e.object.as_deref(), Some("Deployment default/web"));
    assert_eq!(
        e.to_string(),
        r#"at objects[0] (Deployment default/web): spec.replicas: invalid type: string "2", expected i32"#
    );
}

#[test]
fn object_with_an_unknown_field_is_rejected_as_strict_decoding_does() {
    let e = refusal(&with_deployment(|d| {
        d["spec"]["template"]["spec"]["containers"][0]["imagee"] = json!("nginx:1.27");
    }));
    assert_eq!(
        e.to_string(),
        r#"at objects[0] (Deployment default/web): spec.template.spec.containers[0].imagee: unknown field "imagee""#
    );
}

#[test]
fn object_at_a_version_its_kind_is_not_served_at_is_rejected() {
    let e = refusal(&with_deployment(|d| {
        d["apiVersion"] = json!("apps/v1beta1")
    }));
    assert_eq!(
        e.to_string(),
        r#"at objects[0] (Deployment default/web): apiVersion: no matches for kind "Deployment" in version "apps/v1beta1" (it is served as "apps/v1")"#
    );
}

#[test]
fn deployment_whose_selector_does_not_match_its_template_is_rejected() {
    let e = refusal(&with_deployment(|d| {
        d["spec"]["selector"]["matchLabels"] = json!({"app": "api"});
    }));
    assert_eq!(
        e.to_string(),
        r#"at objects[0] (Deployment default/web): spec.template.metadata.labels: Invalid value: map[string]string{"app":"web"}: `selector` does not match template `labels`"#
    );
}

#[test]
fn objects_inside_a_list_and_cluster_scoped_objects_are_named() {
    let mut v = minimal();
    v["objects"] = json!([{"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prod"}, "spec": {"finalizer": []}}]}]);
    assert_eq!(
        refusal(&v).to_string(),
        r#"at objects[0].items[0] (Namespace prod): spec.finalizer: unknown field "finalizer""#
    );
}

#[test]
fn action_manifests_are_checked_statically() {
    let mut v = minimal();
    v["actions"] = json!([{"verb": "create", "object": {"apiVersion": "v1", "kind": "Pod",
        "metadata": {"generateName": "job-"}, "spec": {"containers": [{"name": "c"}]}}}]);
    let e = refusal(&v);
    assert_eq!(
        e.to_string(),
        "at actions[0].object (Pod default/job-*): spec.containers[0].image: Required value"
    );
    // An applied configuration is partial: decoded, not validated.
    v["objects"] = json!([{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {"metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": "nginx"}]}}}}]);
    v["actions"] = json!([{"verb": "apply", "object": {"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web"}, "spec": {"replicas": 4}}}]);
    parse(&v).unwrap();
    v["actions"][0]["object"]["spec"] = json!({"replicas": "4"});
    assert_eq!(
        refusal(&v).to_string(),
        r#"at actions[0].object (Deployment default/web): spec.replicas: invalid type: string "4", expected i32"#
    );
    // So is the body of a status write, whose spec the server ignores.
    v["actions"] = json!([{"verb": "update", "subresource": "status", "object": {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "status": {"replicas": 1}}}]);
    parse(&v).unwrap();
}
