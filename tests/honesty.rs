//! Exit codes a CI pipeline can trust: a finding, a failed expectation or a
//! search cut short is never green unless the user asked for exactly that;
//! and what is not a finding but likely a mistake is said, not hidden.

use serde_json::{Value, json};

use crate::util::Dir;
use crate::{clean_scenario, divergent_scenario, write_scenario};

/// The clean scenario with an invariant that fails on its converged state
/// (the ReplicaSet makes one Pod; the invariant wants two).
fn invariant_scenario() -> Value {
    let mut s = clean_scenario();
    s["name"] = json!("rs-invariant");
    s["invariants"] =
        json!([{"type": "count", "kind": "Pod", "namespace": "default", "equals": 2}]);
    s
}

fn expect_block(file: &std::path::Path) -> Value {
    let text = std::fs::read_to_string(file).unwrap();
    serde_json::from_str::<Value>(&text).unwrap()["expect"].clone()
}

#[test]
fn check_fails_on_an_invariant_finding_that_expect_does_not_list() {
    let dir = Dir::new();
    let file = write_scenario(&dir, &invariant_scenario());
    // --update refuses to record a result with a finding it does not list.
    let update = dir
        .kcheck()
        .args(["check", "--update"])
        .arg(&file)
        .expect_code(1);
    update.assert_stdout_has("not updated: the run has findings that `expect` does not list");
    update.assert_stdout_has("invariant: invariant count Pod in default failed");
    update.assert_stdout_has(r#""findings": ["invariant"]"#);
    assert_eq!(expect_block(&file), Value::Null, "nothing was written");

    // An expect block with the right hash but no findings still fails.
    let mut s = invariant_scenario();
    let run = dir
        .kcheck()
        .args(["run", "--json"])
        .arg(&file)
        .expect_code(1);
    let hash = run.json_lines()[0]["converged_states"][0]["hash"].clone();
    s["expect"] = json!({"converged_states": 1, "converged_hashes": [hash]});
    let file = write_scenario(&dir, &s);
    let check = dir.kcheck().arg("check").arg(&file).expect_code(1);
    check.assert_stdout_has("FAILED  rs-invariant");
    check.assert_stdout_has("finding not expected: invariant");

    // Pinned as expected, it passes, and --update keeps it pinned.
    s["expect"]["findings"] = json!(["invariant"]);
    let file = write_scenario(&dir, &s);
    dir.kcheck()
        .arg("check")
        .arg(&file)
        .expect_code(0)
        .assert_stdout_has("ok      rs-invariant");
    dir.kcheck()
        .args(["check", "--update"])
        .arg(&file)
        .expect_code(0);
    assert_eq!(expect_block(&file)["findings"], json!(["invariant"]));
    // `run` still reports the finding with exit code 1: it is there.
    dir.kcheck().arg("run").arg(&file).expect_code(1);
}

#[test]
fn an_expected_finding_that_does_not_happen_fails_the_check() {
    let dir = Dir::new();
    let mut s = clean_scenario();
    s["expect"] = json!({"findings": ["divergence"]});
    let file = write_scenario(&dir, &s);
    dir.kcheck()
        .arg("check")
        .arg(&file)
        .expect_code(1)
        .assert_stdout_has("expected a divergence finding, and there was none");
}

#[test]
fn a_run_cut_by_the_state_budget_exits_1_and_says_so_unless_allowed() {
    let dir = Dir::new();
    let file = write_scenario(&dir, &clean_scenario());
    let run = dir
        .kcheck()
        .args(["run", "--max-states", "3"])
        .arg(&file)
        .expect_code(1);
    run.assert_stdout_has(
        "status     INCOMPLETE: the state budget of 3 states ran out (--max-states)",
    );
    run.assert_stdout_has("result     INCOMPLETE");
    let json = dir
        .kcheck()
        .args(["run", "--json", "--max-states", "3"])
        .arg(&file)
        .expect_code(1);
    let r = &json.json_lines()[0];
    assert_eq!(r["complete"], false);
    assert_eq!(r["ok"], false);
    assert_eq!(r["cuts"][0]["kind"], "max_states");

    let allowed = dir
        .kcheck()
        .args(["run", "--max-states", "3", "--allow-incomplete"])
        .arg(&file)
        .expect_code(0);
    allowed.assert_stdout_has("accepted: --allow-incomplete");
    // check never passes an incomplete search.
    let mut s = clean_scenario();
    s["explore"]["max_depth"] = json!(2);
    let file = write_scenario(&dir, &s);
    dir.kcheck()
        .arg("check")
        .arg(&file)
        .expect_code(1)
        .assert_stdout_has("a check never passes an incomplete search");
}

#[test]
fn paths_cut_at_the_depth_limit_say_how_deep_states_converged_and_a_depth_to_try() {
    let dir = Dir::new();
    let file = write_scenario(&dir, &clean_scenario());
    let full = dir
        .kcheck()
        .args(["run", "--json"])
        .arg(&file)
        .expect_code(0);
    let deepest = full.json_lines()[0]["stats"]["deepest_converged"]
        .as_u64()
        .unwrap();
    assert!(deepest >= 3, "{full}");
    let depth = (deepest - 1).to_string();
    let run = dir
        .kcheck()
        .args(["run", "--max-depth", &depth])
        .arg(&file)
        .expect_code(1);
    run.assert_stdout_has(&format!("the depth limit of {depth} steps cut"));
    // The one converged state lies beyond the limit.
    run.assert_stdout_has(&format!(
        "no path converged; try --max-depth {}",
        2 * (deepest - 1)
    ));
    let mut s = clean_scenario();
    s["explore"]["mode"] = json!("montecarlo");
    let file = write_scenario(&dir, &s);
    let run = dir
        .kcheck()
        .args(["run", "--max-depth", &deepest.to_string()])
        .arg(&file)
        .expect_code(1);
    run.assert_stdout_has(&format!("the depth limit of {deepest} steps cut"));
    run.assert_stdout_has(&format!("the deepest converged state took {deepest} steps"));
    dir.kcheck()
        .args(["run", "--allow-incomplete", "--max-depth", &depth])
        .arg(&file)
        .expect_code(0);
}

#[test]
fn a_reconcile_error_that_keeps_a_path_from_converging_is_named() {
    let dir = Dir::new();
    let mut s = clean_scenario();
    s["perturbations"] =
        json!({"api_faults": [{"controller": "replicaset", "write": 1, "fault": "server_error"}]});
    let file = write_scenario(&dir, &s);
    let run = dir
        .kcheck()
        .args(["run", "--max-depth", "2"])
        .arg(&file)
        .expect_code(1);
    run.assert_stdout_has("error   replicaset on default/web failed 1 time: InternalError (500)");
    let json = dir
        .kcheck()
        .args(["run", "--json", "--max-depth", "2"])
        .arg(&file)
        .expect_code(1);
    let errors = &json.json_lines()[0]["cuts"][0]["reconcile_errors"];
    assert_eq!(errors[0]["controller"], "replicaset", "{json}");
    assert_eq!(errors[0]["object"], "default/web");
}

#[test]
fn one_trial_alone_is_not_compared_with_the_whole_runs_expect() {
    let dir = Dir::new();
    let mut s = divergent_scenario();
    s["explore"] = json!({"mode": "montecarlo", "trials": 40, "seed": 3, "max_depth": 30});
    let file = write_scenario(&dir, &s);
    let run = dir
        .kcheck()
        .args(["run", "--json"])
        .arg(&file)
        .expect_code(1);
    let hashes: Vec<Value> = run.json_lines()[0]["converged_states"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["hash"].clone())
        .collect();
    assert_eq!(hashes.len(), 2, "{run}");
    s["expect"] =
        json!({"converged_states": 2, "converged_hashes": hashes, "findings": ["divergence"]});
    let file = write_scenario(&dir, &s);
    dir.kcheck().arg("check").arg(&file).expect_code(0);
    let one = dir
        .kcheck()
        .args(["run", "--trial", "5"])
        .arg(&file)
        .expect_code(0);
    one.assert_stdout_has("expect     not compared: one trial alone");
    dir.kcheck()
        .args(["run", "--trial", "40"])
        .arg(&file)
        .expect_code(2)
        .assert_stderr_has("--trial 40 is beyond scenario foo-bar's 40 trials (numbered 0 to 39)");
}

#[test]
fn failing_monte_carlo_trials_are_listed_with_the_command_that_reruns_one() {
    let dir = Dir::new();
    let mut s = clean_scenario();
    s["explore"] = json!({"mode": "montecarlo", "trials": 6, "seed": 1, "max_depth": 3});
    let file = write_scenario(&dir, &s);
    let run = dir.kcheck().arg("run").arg(&file).expect_code(1);
    run.assert_stdout_has("failing    trials 0 (depth_limit), 1 (depth_limit)");
    run.assert_stdout_has("rerun one alone: kcheck run");
    run.assert_stdout_has("--trial 0 --trace-dir traces");
}

#[test]
fn a_user_action_the_server_refused_is_a_warning() {
    let dir = Dir::new();
    let mut s = clean_scenario();
    s["actions"] = json!([{
        "verb": "patch",
        "target": {"apiVersion": "apps/v1", "kind": "ReplicaSet", "namespace": "default", "name": "wbe"},
        "patch": {"spec": {"replicas": 2}}
    }]);
    let file = write_scenario(&dir, &s);
    let run = dir.kcheck().arg("run").arg(&file).expect_code(0);
    run.assert_stdout_has("warnings   1");
    run.assert_stdout_has(
        "refused_action: user action 0 (patch ReplicaSet.apps default/wbe) was refused by the server: NotFound (404)",
    );
    let json = dir
        .kcheck()
        .args(["run", "--json"])
        .arg(&file)
        .expect_code(0);
    let w = &json.json_lines()[0]["warnings"];
    assert_eq!(w[0]["kind"], "refused_action", "{json}");
}

#[test]
fn a_run_without_a_terminal_prints_a_heartbeat_on_stderr() {
    let dir = Dir::new();
    let mut s = clean_scenario();
    s["objects"][0]["spec"]["replicas"] = json!(3);
    let file = write_scenario(&dir, &s);
    // Stderr is a pipe here, as in CI.
    let run = dir
        .kcheck()
        .env("KCHECK_HEARTBEAT_SECS", "0.001")
        .args(["run", "--threads", "1"])
        .arg(&file)
        .expect_code(0);
    run.assert_stderr_has("kcheck: rs-one: ");
    run.assert_stderr_has(" states/s, depth ");
}

#[test]
fn the_memory_budget_stops_the_search_cleanly_with_what_was_found() {
    let dir = Dir::new();
    let file = write_scenario(&dir, &divergent_scenario());
    let run = dir
        .kcheck()
        .args(["run", "--json", "--max-memory", "1K"])
        .arg(&file)
        .expect_code(1);
    let r = &run.json_lines()[0];
    assert_eq!(r["complete"], false);
    assert_eq!(r["cuts"][0]["kind"], "memory", "{run}");
    dir.kcheck()
        .args(["run", "--max-memory", "lots"])
        .arg(&file)
        .expect_code(2)
        .assert_stderr_has("not a size");
}

#[test]
fn objects_nothing_watches_and_invariants_on_missing_namespaces_are_warnings() {
    let dir = Dir::new();
    let mut s = clean_scenario();
    s["objects"].as_array_mut().unwrap().push(json!({
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": "db", "namespace": "default"},
        "spec": {
            "serviceName": "db",
            "selector": {"matchLabels": {"app": "db"}},
            "template": {
                "metadata": {"labels": {"app": "db"}},
                "spec": {"containers": [{"name": "db", "image": "postgres:16"}]}
            }
        }
    }));
    s["invariants"] = json!([{"type": "count", "kind": "Pod", "namespace": "prod", "max": 5}]);
    let file = write_scenario(&dir, &s);
    let run = dir.kcheck().arg("run").arg(&file).expect_code(0);
    run.assert_stdout_has("warnings   2");
    run.assert_stdout_has("unwatched_kind: ");
    run.assert_stdout_has("default/db");
    run.assert_stdout_has("missing_namespace: ");
    let json = dir
        .kcheck()
        .args(["run", "--json"])
        .arg(&file)
        .expect_code(0);
    let kinds: Vec<Value> = json.json_lines()[0]["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["kind"].clone())
        .collect();
    assert_eq!(
        kinds,
        [json!("unwatched_kind"), json!("missing_namespace")],
        "{json}"
    );
}

#[test]
fn a_pinned_state_count_that_differs_fails_the_check() {
    let dir = Dir::new();
    let file = write_scenario(&dir, &clean_scenario());
    dir.kcheck()
        .args(["check", "--update"])
        .arg(&file)
        .expect_code(0);
    let states = expect_block(&file)["states"].as_u64().unwrap();
    assert!(states > 1);
    let mut s: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    s["expect"]["states"] = json!(states + 1);
    let file = write_scenario(&dir, &s);
    dir.kcheck()
        .arg("check")
        .arg(&file)
        .expect_code(1)
        .assert_stdout_has(&format!(
            "states explored: expected {}, got {states}",
            states + 1
        ));
}
