//! Every scenario in `scenarios/` through `kcheck run --json`: its `expect`
//! block holds, and it has exactly the findings it is meant to show (none
//! for the built-in controllers).

use std::path::Path;

use serde_json::Value;

use crate::util::Dir;

/// Runs a repository scenario (`name` relative to `scenarios/`, without
/// `.json`) with extra flags; returns the JSON result and the exit code.
fn run_with(name: &str, flags: &[&str]) -> (Value, i32) {
    let file = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(format!("{name}.json"));
    let dir = Dir::new();
    let run = dir
        .kcheck()
        .args(["run", "--json"])
        .args(flags)
        .arg(&file)
        .output();
    (run.json_lines().remove(0), run.code())
}

/// Runs a repository scenario; returns the JSON result. Its `expect` block
/// holds, it is complete, and it exits 1 exactly when it has findings.
/// When it used reduction, and unless the unreduced search is out of
/// reach (`reduced_only`), it is run again without reduction, which must
/// give the same converged states, path counts and finding kinds.
fn run_checked(name: &str, reduced_only: bool) -> Value {
    let (result, code) = run_with(name, &[]);
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
    assert_eq!(code, expected_code, "{name}: {result}");
    if result["stats"]["reduction"]["used"] == "por" && !reduced_only {
        let (unreduced, _) = run_with(name, &["--reduction", "none"]);
        assert_eq!(unreduced["stats"]["reduction"]["used"], "none", "{name}");
        assert_eq!(
            unreduced["expect"]["holds"], true,
            "{name}: expect holds without reduction (its `states` is not compared)"
        );
        assert_eq!(
            converged(&result),
            converged(&unreduced),
            "{name}: reduction changed the converged states"
        );
        assert_eq!(
            finding_kinds(&result),
            finding_kinds(&unreduced),
            "{name}: reduction changed the findings"
        );
    }
    result
}

fn run(name: &str) -> Value {
    run_checked(name, false)
}

/// The converged states' hashes and path counts, sorted.
fn converged(result: &Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = result["converged_states"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["hash"].to_string(), c["paths"].to_string()))
        .collect();
    out.sort();
    out
}

fn finding_kinds(result: &Value) -> Vec<String> {
    let mut kinds: Vec<String> = result["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap().to_string())
        .collect();
    kinds.sort();
    kinds
}

/// A scenario of the built-in controllers: one converged state, every
/// invariant holds.
fn clean(name: &str) {
    clean_result(name, &run(name));
}

fn clean_result(name: &str, result: &Value) {
    assert_eq!(
        finding_kinds(result),
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
    let result = run("deployment-scale-down");
    clean_result("deployment-scale-down", &result);
    let reduction = &result["stats"]["reduction"];
    assert_eq!(reduction["used"], "none", "user actions switch it off");
    assert_eq!(reduction["off_because"], "the scenario has user actions");
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

/// The scale family: N Deployments that share nothing split into N groups
/// of 139 states each, and give the one rolled-out state; without
/// reduction (compared for N = 1 and 2) the same state is reached by the
/// same number of orderings.
#[test]
fn independent_deployments_are_explored_apart() {
    for n in 1..=6 {
        let name = format!("scale/deployments-{n}");
        let result = run_checked(&name, n > 2);
        clean_result(&name, &result);
        let reduction = &result["stats"]["reduction"];
        assert_eq!(reduction["used"], "por", "{name}");
        assert_eq!(reduction["groups"], n, "{name}");
        assert_eq!(result["stats"]["states"], 139 * n, "{name}");
    }
}

/// The Kubernetes documentation's rolling update, with the image changed
/// during the first rollout: one converged state (its invariants say
/// revision 2, three new Pods, the old ReplicaSet at 0), though the old
/// ReplicaSet's generation counts a different number of scale-downs on
/// different paths, which the converged-state hash leaves out and the
/// result shows.
#[test]
fn nginx_rolling_update_converges_to_one_state_at_revision_2() {
    let result = run("nginx-rolling-update");
    clean_result("nginx-rolling-update", &result);
    let ignored = result["converged_states"][0]["ignored_differences"]
        .as_array()
        .unwrap();
    assert!(
        ignored.iter().any(|d| d["field"] == "/metadata/generation"
            && d["object"] == "ReplicaSet.apps default/nginx-deployment-754d477ff7"),
        "{ignored:?}"
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
        "nginx-rolling-update",
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
