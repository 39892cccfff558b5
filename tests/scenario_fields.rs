//! Scenario fields end to end: actions `after: settled`, the `field_absent`
//! invariant, and the load-time warnings of the repository's scenarios.

use std::path::Path;

use kcheck_engine::scenario::Scenario;
use serde_json::{Value, json};

use crate::util::Dir;

/// A ReplicaSet of one Pod, scaled to two by a user action with `timing`
/// (`{"at_depth": n}` or `{"after": "settled"}`).
fn scale_up(timing: Value) -> Value {
    let mut action = json!({
        "verb": "patch",
        "target": {"kind": "ReplicaSet", "name": "web"},
        "patch": {"spec": {"replicas": 2}}
    });
    for (k, v) in timing.as_object().unwrap() {
        action[k] = v.clone();
    }
    let mut scenario = crate::clean_scenario();
    scenario["name"] = json!("rs-scale-up");
    scenario["actions"] = json!([action]);
    scenario["explore"] = json!({"mode": "exhaustive", "max_depth": 40});
    scenario["invariants"] =
        json!([{"type": "count", "kind": "Pod", "equals": 2}, {"type": "converged"}]);
    scenario
}

/// Runs a scenario with `--json`; returns the result.
fn run_json(dir: &Dir, name: &str, scenario: &Value, code: i32) -> Value {
    let file = dir.write_json(&format!("{name}.json"), scenario);
    dir.kcheck()
        .args(["run", "--json"])
        .arg(&file)
        .expect_code(code)
        .json_lines()
        .remove(0)
}

#[test]
fn an_action_after_settled_keeps_the_depth_out_of_the_search() {
    let dir = Dir::new();
    let settled = run_json(&dir, "settled", &scale_up(json!({"after": "settled"})), 0);
    let beyond = run_json(&dir, "beyond", &scale_up(json!({"at_depth": 40})), 0);
    let early = run_json(&dir, "early", &scale_up(json!({"at_depth": 30})), 0);
    assert_eq!(settled["stats"]["states"], beyond["stats"]["states"]);
    assert_eq!(settled["converged_states"], beyond["converged_states"]);
    assert_eq!(
        settled["converged_states"][0]["hash"],
        early["converged_states"][0]["hash"]
    );
    assert!(
        early["stats"]["states"].as_u64() > settled["stats"]["states"].as_u64(),
        "a depth below max_depth joins the search key: {} vs {}",
        early["stats"],
        settled["stats"]
    );
}

#[test]
fn a_trace_of_a_scenario_with_an_action_after_settled_replays() {
    let dir = Dir::new();
    let file = dir.write_json("settled.json", &scale_up(json!({"after": "settled"})));
    dir.kcheck()
        .args(["run", "--trace-dir", "traces"])
        .arg(&file)
        .expect_code(0);
    let traces = crate::traces_in(&dir.join("traces"));
    assert_eq!(traces.len(), 1, "{traces:?}");
    let text = std::fs::read_to_string(&traces[0]).unwrap();
    assert!(
        text.contains(r#""after":"settled""#),
        "the trace embeds the field"
    );
    dir.kcheck()
        .arg("replay")
        .arg(&traces[0])
        .expect_code(0)
        .assert_stdout_has("every state hash matches");
}

#[test]
fn at_depth_and_after_together_are_rejected_naming_the_field() {
    let dir = Dir::new();
    let file = dir.write_json(
        "both.json",
        &scale_up(json!({"at_depth": 3, "after": "settled"})),
    );
    dir.kcheck()
        .arg("run")
        .arg(&file)
        .expect_code(2)
        .assert_stderr_has("at actions[0].after: at_depth and after exclude each other");
}

#[test]
fn field_absent_is_checked_on_converged_states() {
    let dir = Dir::new();
    let mut scenario = scale_up(json!({"after": "settled"}));
    let web = json!({"kind": "ReplicaSet", "name": "web"});
    scenario["invariants"] = json!([
        {"type": "field_absent", "target": web, "pointer": "/metadata/deletionTimestamp"}
    ]);
    let clean = run_json(&dir, "absent-holds", &scenario, 0);
    assert_eq!(clean["findings"], json!([]));

    scenario["invariants"] = json!([
        {"type": "field_absent", "target": web, "pointer": "/spec/replicas"},
        {"type": "field_absent", "target": {"kind": "ReplicaSet", "name": "api"}, "pointer": "/status"}
    ]);
    let broken = run_json(&dir, "absent-breaks", &scenario, 1);
    let messages: Vec<&str> = broken["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["message"].as_str().unwrap())
        .collect();
    assert_eq!(
        messages,
        [
            "invariant field_absent ReplicaSet.apps default/web /spec/replicas failed on a converged state: ReplicaSet.apps default/web /spec/replicas is 2, expected it absent",
            "invariant field_absent ReplicaSet.apps default/api /status failed on a converged state: ReplicaSet.apps default/api does not exist",
        ]
    );
}

/// The JSON files in a folder and its subfolders, sorted.
fn json_files(folder: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(folder).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(json_files(&path));
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
    out.sort();
    out
}

#[test]
fn the_repository_scenarios_have_no_warnings() {
    let registry = kcheck_harnesses::registry();
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let files = json_files(&folder);
    assert!(
        files
            .iter()
            .any(|f| f.ends_with("scale/deployments-1.json"))
    );
    for file in files {
        let scenario = Scenario::load(&file).unwrap();
        let model = scenario.build(&registry).unwrap();
        let warnings: Vec<String> = scenario
            .warnings(&model)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(warnings, Vec::<String>::new(), "{}", file.display());
    }
}
