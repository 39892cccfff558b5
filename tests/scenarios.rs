//! Every scenario in `scenarios/` through `kcheck run --json`: its `expect`
//! block holds, and it has exactly the findings it is meant to show (none
//! for the built-in controllers).

use std::path::Path;

use serde_json::Value;

use crate::util::Dir;

/// Runs a repository scenario; returns the JSON result.
fn run(name: &str) -> Value {
    let file = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(format!("{name}.json"));
    let dir = Dir::new();
    let run = dir.kcheck().args(["run", "--json"]).arg(&file).output();
    let result = run.json_lines().remove(0);
    assert_eq!(
        result["expect"]["holds"], true,
        "{name}: {}",
        result["expect"]
    );
    assert_eq!(result["complete"], true, "{name}");
    let expected_code = if result["findings"].as_array().unwrap().is_empty() {
        0
    } else {
        1
    };
    assert_eq!(run.code(), expected_code, "{run}");
    result
}

fn finding_kinds(result: &Value) -> Vec<String> {
    result["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap().to_string())
        .collect()
}

/// A scenario of the built-in controllers: one converged state, every
/// invariant holds.
fn clean(name: &str) {
    let result = run(name);
    assert_eq!(
        finding_kinds(&result),
        Vec::<String>::new(),
        "{name}: {}",
        result["findings"]
    );
    assert_eq!(
        result["converged_states"].as_array().unwrap().len(),
        1,
        "{name}"
    );
}

#[test]
fn deployment_rollout() {
    clean("deployment-rollout");
}

#[test]
fn deployment_scale_down() {
    clean("deployment-scale-down");
}

#[test]
fn deployment_rolling_update() {
    clean("deployment-rolling-update");
}

#[test]
fn delete_background() {
    clean("delete-background");
}

#[test]
fn delete_foreground() {
    clean("delete-foreground");
}

#[test]
fn delete_orphan() {
    clean("delete-orphan");
}

#[test]
fn job_completion() {
    clean("job-completion");
}

#[test]
fn job_backoff_limit() {
    clean("job-backoff-limit");
}

#[test]
fn namespace_deletion() {
    clean("namespace-deletion");
}

#[test]
fn evaluation_job_orderings_alone_are_clean() {
    clean("evaluation-job");
    clean("evaluation-job-idempotent");
}

#[test]
fn foo_bar_diverges() {
    assert_eq!(finding_kinds(&run("foo-bar")), ["divergence"]);
    assert_eq!(finding_kinds(&run("foo-bar-frozen")), Vec::<String>::new());
}

#[test]
fn dispatcher_breaks_its_limit_under_stale_reads() {
    assert_eq!(
        finding_kinds(&run("dispatcher-stale-jobs")),
        ["divergence", "invariant"]
    );
}

#[test]
fn every_scenario_file_is_covered_here() {
    let covered = [
        "deployment-rollout",
        "deployment-scale-down",
        "deployment-rolling-update",
        "delete-background",
        "delete-foreground",
        "delete-orphan",
        "job-completion",
        "job-backoff-limit",
        "namespace-deletion",
        "evaluation-job",
        "evaluation-job-idempotent",
        "foo-bar",
        "foo-bar-frozen",
        "dispatcher-stale-jobs",
    ];
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    files.sort();
    let mut covered: Vec<String> = covered.iter().map(|s| s.to_string()).collect();
    covered.sort();
    assert_eq!(files, covered, "add a test for each new scenario file");
}
