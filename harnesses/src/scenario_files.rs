//! Explores every scenario in `scenarios/` that uses only built-in
//! controllers, with a small loader for the parts of the scenario format
//! they use (the CLI's loader is the real one): each must converge to one
//! state with no findings.

use std::path::Path;

use kcheck_engine::Model;
use kcheck_engine::api::{
    ApiServer, DeleteOptions, GroupKind, LabelSelector, ObjectKey, PatchBody, Propagation,
    Subresource, WriteRequest, key::group_of,
};
use kcheck_engine::explore::{Explorer, Mode};
use kcheck_engine::invariants::{Bounds, Invariant, When};
use kcheck_engine::model::UserAction;
use serde_json::Value;

fn key(server: &ApiServer, t: &Value) -> ObjectKey {
    let s = |f: &str| t[f].as_str().unwrap_or_default();
    let kind = GroupKind::new(group_of(s("apiVersion")), s("kind"));
    let namespaced = server.kind_info(&kind).expect("known kind").namespaced;
    let ns = namespaced.then(|| t["namespace"].as_str().unwrap_or("default"));
    ObjectKey::new(kind, ns, s("name"))
}

fn when(i: &Value) -> When {
    match i["when"].as_str() {
        Some("always") => When::Always,
        _ => When::Converged,
    }
}

fn invariant(server: &ApiServer, i: &Value) -> Invariant {
    match i["type"].as_str().unwrap() {
        "no_orphans" => Invariant::no_orphans(when(i)),
        "exists" => Invariant::exists(key(server, &i["target"]), when(i)),
        "absent" => Invariant::absent(key(server, &i["target"]), when(i)),
        "field_equals" => Invariant::field_equals(
            key(server, &i["target"]),
            i["pointer"].as_str().unwrap().into(),
            i["value"].clone(),
            when(i),
        ),
        "count" => Invariant::count(
            GroupKind::new(
                group_of(i["apiVersion"].as_str().unwrap_or("v1")),
                i["kind"].as_str().unwrap(),
            ),
            i["namespace"].as_str().map(str::to_string),
            LabelSelector::everything(),
            Bounds {
                equals: i["equals"].as_u64(),
                min: i["min"].as_u64(),
                max: i["max"].as_u64(),
            },
            when(i),
        ),
        other => panic!("invariant type {other} is not handled by this loader"),
    }
}

fn action(server: &ApiServer, a: &Value) -> UserAction {
    let target = key(server, &a["target"]);
    let request = match a["verb"].as_str().unwrap() {
        "patch" => WriteRequest::Patch {
            key: target,
            patch: PatchBody::Merge(a["patch"].clone()),
            subresource: Subresource::Main,
        },
        "delete" => WriteRequest::Delete {
            key: target,
            options: DeleteOptions {
                propagation: a["propagation_policy"].as_str().map(|p| match p {
                    "Foreground" => Propagation::Foreground,
                    "Orphan" => Propagation::Orphan,
                    _ => Propagation::Background,
                }),
                ..Default::default()
            },
        },
        other => panic!("verb {other} is not handled by this loader"),
    };
    UserAction {
        at_depth: a["at_depth"].as_u64().unwrap_or(0) as u32,
        request,
        field_manager: "kubectl".into(),
    }
}

fn load(scenario: &Value) -> (Model, u32) {
    let mut server = ApiServer::new();
    for object in scenario["objects"].as_array().unwrap() {
        server.seed(object.clone(), "kubectl").expect("seed");
    }
    let mut model = Model::new(server.clone());
    let registry = crate::registry();
    for c in scenario["controllers"].as_array().unwrap() {
        let (name, config) = match c {
            Value::String(name) => (name.as_str(), None),
            other => (other["name"].as_str().unwrap(), other.get("config")),
        };
        model = model.controller_arc(registry.build(name, config).unwrap());
    }
    for a in scenario["actions"].as_array().into_iter().flatten() {
        model = model.action(action(&server, a));
    }
    for i in scenario["invariants"].as_array().into_iter().flatten() {
        model = model.invariant(invariant(&server, i));
    }
    let depth = scenario["explore"]["max_depth"].as_u64().unwrap_or(60) as u32;
    (model, depth)
}

/// Takes minutes in a debug build (the largest scenarios have over
/// 100,000 states): run it with `cargo test -p kcheck-harnesses --release
/// -- --ignored`.
#[test]
#[ignore = "explores every built-in scenario exhaustively; minutes in a debug build"]
fn every_builtin_scenario_converges_to_one_state_without_findings() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let names = [
        "deployment-rollout",
        "deployment-scale-down",
        "deployment-rolling-update",
        "delete-background",
        "delete-foreground",
        "delete-orphan",
        "job-completion",
        "job-backoff-limit",
        "namespace-deletion",
    ];
    for name in names {
        let text = std::fs::read_to_string(dir.join(format!("{name}.json"))).unwrap();
        let scenario: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(scenario["name"], name);
        let (model, depth) = load(&scenario);
        let report = Explorer::new(model)
            .mode(Mode::Exhaustive)
            .max_depth(depth)
            .run();
        let findings: Vec<String> = report
            .findings
            .iter()
            .map(|f| format!("{}: {}", f.kind.name(), f.message))
            .collect();
        eprintln!(
            "{name}: {} states, {} converged, {:.1}s",
            report.stats.states,
            report.converged.len(),
            report.stats.seconds
        );
        assert!(findings.is_empty(), "{name}: {findings:#?}");
        assert_eq!(report.converged.len(), 1, "{name}");
    }
}
