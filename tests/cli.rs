//! Integration tests of the `kcheck` binary: run, check, replay, show, list,
//! exit codes, bad input, reproducibility, and the trace-format document.

mod honesty;
mod hunting;
mod manifests;
mod scenario_fields;
mod scenarios;
mod staleness;
mod util;

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use serde_json::{Value, json};

use util::Dir;

// ----- scenarios --------------------------------------------------------

/// A ReplicaSet of one Pod run by the kubelet: converges to one state.
fn clean_scenario() -> Value {
    json!({
        "name": "rs-one",
        "description": "A ReplicaSet creates one Pod and the kubelet runs it.",
        "controllers": ["replicaset", "kubelet"],
        "objects": [{
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}
                }
            }
        }],
        "explore": {"mode": "exhaustive", "max_depth": 40, "trials": 20, "seed": 1}
    })
}

fn crd(kind: &str, plural: &str) -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("{plural}.kcheck.dev")},
        "spec": {
            "group": "kcheck.dev",
            "scope": "Namespaced",
            "names": {"kind": kind, "plural": plural, "singular": kind.to_lowercase()},
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": {"type": "object",
                    "x-kubernetes-preserve-unknown-fields": true}}
            }]
        }
    })
}

/// `foo` and `bar` race: two converged states.
fn divergent_scenario() -> Value {
    json!({
        "name": "foo-bar",
        "description": "Which of foo and bar runs first decides Foo's final phase.",
        "controllers": ["foo", "bar"],
        "objects": [
            crd("Foo", "foos"),
            crd("Bar", "bars"),
            {"apiVersion": "kcheck.dev/v1", "kind": "Foo",
             "metadata": {"name": "foo", "namespace": "default"}, "spec": {"barName": "bar"}},
            {"apiVersion": "kcheck.dev/v1", "kind": "Bar",
             "metadata": {"name": "bar", "namespace": "default"}, "spec": {"fooName": "foo"}}
        ],
        "explore": {"mode": "exhaustive", "max_depth": 30, "trials": 40, "seed": 3}
    })
}

fn write_scenario(dir: &Dir, value: &Value) -> PathBuf {
    let name = value["name"].as_str().unwrap_or("scenario");
    dir.write_json(&format!("{name}.json"), value)
}

fn traces_in(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    out.sort();
    out
}

// ----- run --------------------------------------------------------------

#[test]
fn run_json_of_a_clean_scenario_has_every_field_and_exits_0() {
    let dir = Dir::new();
    let file = write_scenario(&dir, &clean_scenario());
    let run = dir
        .kcheck()
        .args(["run", "--json"])
        .arg(&file)
        .expect_code(0);
    let lines = run.json_lines();
    assert_eq!(lines.len(), 1, "{run}");
    let r = &lines[0];
    assert_eq!(r["scenario"], "rs-one");
    assert_eq!(r["mode"], "exhaustive");
    assert_eq!(r["divergent"], false);
    assert_eq!(r["complete"], true);
    assert_eq!(r["findings"], json!([]));
    let converged = r["converged_states"].as_array().unwrap();
    assert_eq!(converged.len(), 1);
    assert_eq!(converged[0]["hash"].as_str().unwrap().len(), 64);
    assert!(converged[0]["paths"].as_u64().unwrap() >= 1);
    for key in [
        "states",
        "transitions",
        "seconds",
        "states_per_sec",
        "threads",
    ] {
        assert!(r["stats"].get(key).is_some(), "stats.{key} missing: {r}");
    }
    assert!(r["stats"]["states"].as_u64().unwrap() > 1);
}

#[test]
fn run_of_a_divergent_scenario_reports_it_and_exits_1() {
    let dir = Dir::new();
    let file = write_scenario(&dir, &divergent_scenario());
    let run = dir
        .kcheck()
        .args(["run", "--json"])
        .arg(&file)
        .expect_code(1);
    let r = &run.json_lines()[0];
    assert_eq!(r["divergent"], true);
    assert_eq!(r["converged_states"].as_array().unwrap().len(), 2);
    assert_eq!(r["findings"][0]["kind"], "divergence");
    assert!(
        r["findings"][0]["message"]
            .as_str()
            .unwrap()
            .contains("2 distinct")
    );
    // The two states differ in Foo's final phase (and Bar's mode).
    let objects = r["differences"][0]["objects"].as_array().unwrap();
    let foo = objects
        .iter()
        .find(|d| d["key"]["kind"] == "Foo")
        .expect("Foo differs");
    assert_eq!(foo["fields"][0]["pointer"], "/status/phase");
}

/// The divergent scenario with the fields its states differ in ignored.
fn masked_scenario() -> Value {
    let mut s = divergent_scenario();
    s["name"] = json!("foo-bar-masked");
    s["converged_ignore"] = json!([
        {"kind": "Foo", "fields": ["/status/phase"]},
        {"apiVersion": "kcheck.dev/v1", "kind": "Bar", "fields": ["/status/mode"]}
    ]);
    s
}

#[test]
fn ignored_fields_merge_converged_states_and_run_shows_what_differed() {
    let dir = Dir::new();
    let file = write_scenario(&dir, &masked_scenario());
    let run = dir
        .kcheck()
        .args(["run", "--json"])
        .arg(&file)
        .expect_code(0);
    let r = &run.json_lines()[0];
    assert_eq!(r["divergent"], false);
    let converged = r["converged_states"].as_array().unwrap();
    assert_eq!(converged.len(), 1);
    assert_eq!(converged[0]["paths"], 12);
    let ignored = converged[0]["ignored_differences"].as_array().unwrap();
    let foo = ignored
        .iter()
        .find(|d| d["field"] == "/status/phase")
        .expect("Foo's phase differed");
    assert_eq!(foo["object"], "Foo.kcheck.dev default/foo");
    let mut values: Vec<String> = foo["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.to_string())
        .collect();
    values.sort();
    assert_eq!(values, ["\"A-Final\"", "\"B-Final\""]);
    assert!(ignored.iter().any(|d| d["field"] == "/status/mode"), "{r}");
    dir.kcheck()
        .arg("run")
        .arg(&file)
        .expect_code(0)
        .assert_stdout_has("ignored fields that differed among the merged states:")
        .assert_stdout_has("Foo.kcheck.dev default/foo /status/phase: ");
    for t in run_with_traces(&dir, &masked_scenario(), &[]) {
        dir.kcheck().arg("replay").arg(&t).expect_code(0);
    }
}

/// A file pinned before hash version 2 fails `check` with a hint that says
/// so, and `check --update` re-pins it.
#[test]
fn check_of_a_file_pinned_with_hash_version_1_says_how_to_re_pin() {
    let dir = Dir::new();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/foo-bar.json");
    let mut scenario: Value =
        serde_json::from_str(&std::fs::read_to_string(repo).unwrap()).unwrap();
    // The version 1 hashes of foo-bar's two converged states.
    scenario["expect"]["converged_hashes"] = json!([
        "0846825e861e858495361782beffa6e2f6ca053fae99308fa7a52b38aa8c9298",
        "2fb795d2cabe4ed091d1adb5f5da8718061d49b309bcaee83f254910fe9f7f64"
    ]);
    let file = write_scenario(&dir, &scenario);
    dir.kcheck()
        .arg("check")
        .arg(&file)
        .expect_code(1)
        .assert_stdout_has("was not reached: it is the version 1 hash of state ")
        .assert_stdout_has("`kcheck check --update` pins the version 2 hash");
    dir.kcheck()
        .args(["check", "--update"])
        .arg(&file)
        .expect_code(0);
    dir.kcheck().arg("check").arg(&file).expect_code(0);
}

#[test]
fn run_summary_names_states_findings_and_replay_commands() {
    let dir = Dir::new();
    let file = write_scenario(&dir, &divergent_scenario());
    let run = dir
        .kcheck()
        .args(["run", "--trace-dir", "traces"])
        .arg(&file)
        .expect_code(1);
    run.assert_stdout_has("scenario   foo-bar")
        .assert_stdout_has("mode       exhaustive")
        .assert_stdout_has("2 distinct states: DIVERGENT")
        .assert_stdout_has("~ Foo.kcheck.dev default/foo")
        .assert_stdout_has("/status/phase: \"A-Final\" -> \"B-Final\"")
        .assert_stdout_has("findings   1")
        .assert_stdout_has("divergence: 2 distinct converged states")
        .assert_stdout_has("replay  kcheck replay traces/foo-bar-divergence-1.jsonl")
        .assert_stdout_has("result     FINDINGS");
    let traces = traces_in(&dir.join("traces"));
    assert_eq!(
        traces.len(),
        3,
        "two converged states and one finding: {traces:?}"
    );
    for t in &traces {
        let name = t.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            run.stdout()
                .contains(&format!("kcheck replay traces/{name}")),
            "no replay command for {name}\n{run}"
        );
    }
}

#[test]
fn run_with_several_scenarios_prints_one_json_line_each() {
    let dir = Dir::new();
    let a = write_scenario(&dir, &clean_scenario());
    let b = write_scenario(&dir, &divergent_scenario());
    let run = dir
        .kcheck()
        .args(["run", "--json"])
        .args([&a, &b])
        .expect_code(1);
    let names: Vec<Value> = run
        .json_lines()
        .iter()
        .map(|r| r["scenario"].clone())
        .collect();
    assert_eq!(names, [json!("rs-one"), json!("foo-bar")]);
}

#[test]
fn run_writes_a_dot_graph() {
    let dir = Dir::new();
    let file = write_scenario(&dir, &divergent_scenario());
    dir.kcheck()
        .args(["run", "--graph", "g.dot"])
        .arg(&file)
        .expect_code(1);
    let dot = std::fs::read_to_string(dir.join("g.dot")).unwrap();
    assert!(dot.starts_with("digraph kcheck {"), "{dot}");
    assert!(
        dot.contains("palegreen"),
        "converged states are marked: {dot}"
    );
}

#[test]
fn graph_outside_exhaustive_mode_is_a_usage_error() {
    let dir = Dir::new();
    let file = write_scenario(&dir, &clean_scenario());
    dir.kcheck()
        .args(["run", "--mode", "reference", "--graph", "g.dot"])
        .arg(&file)
        .expect_code(2)
        .assert_stderr_has("--graph needs exhaustive mode");
}

#[test]
fn max_states_stops_early_and_says_incomplete() {
    let dir = Dir::new();
    let file = write_scenario(&dir, &clean_scenario());
    let run = dir
        .kcheck()
        .args(["run", "--json", "--max-states", "2"])
        .arg(&file)
        .output();
    let r = &run.json_lines()[0];
    assert_eq!(r["complete"], false, "{run}");
}

/// The repository's deployment scenario with more replicas: far too many
/// orderings to finish within a test.
fn big_scenario() -> Value {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/deployment-rollout.json");
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    v["name"] = json!("big-rollout");
    v["objects"][0]["spec"]["replicas"] = json!(8);
    v.as_object_mut().unwrap().remove("invariants");
    v.as_object_mut().unwrap().remove("expect");
    v["explore"]["max_depth"] = json!(200);
    v
}

fn interrupt(pid: u32) {
    let status = std::process::Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
}

#[test]
fn ctrl_c_stops_the_search_and_still_prints_an_incomplete_result() {
    let dir = Dir::new();
    let file = write_scenario(&dir, &big_scenario());
    let mut cmd = dir.kcheck();
    cmd.args(["run", "--json", "--threads", "2", "--trace-dir", "traces"])
        .arg(&file);
    let child = cmd.spawn();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    interrupt(child.id());
    let started = std::time::Instant::now();
    let output = child.wait_with_output().unwrap();
    let run = util::Run {
        command: cmd.shown(),
        output,
    };
    // The search looks at the stop flag between small batches of states:
    // it stops within about a second, not at the end of a level.
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "{run}"
    );
    assert_eq!(run.code(), 130, "interrupted, nothing found\n{run}");
    let r = &run.json_lines()[0];
    assert_eq!(r["complete"], false, "{run}");
    assert_eq!(r["interrupted"], true, "{run}");
    assert!(r["stats"]["states"].as_u64().unwrap() > 1, "{run}");
    run.assert_stderr_has("interrupted; finishing with what was found");
}

#[test]
fn a_second_ctrl_c_exits_at_once() {
    let dir = Dir::new();
    let file = write_scenario(&dir, &big_scenario());
    let mut cmd = dir.kcheck();
    cmd.args(["run", "--threads", "1"]).arg(&file);
    let child = cmd.spawn();
    std::thread::sleep(std::time::Duration::from_millis(800));
    interrupt(child.id());
    interrupt(child.id());
    let started = std::time::Instant::now();
    let output = child.wait_with_output().unwrap();
    let run = util::Run {
        command: cmd.shown(),
        output,
    };
    assert_eq!(run.code(), 130, "{run}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "{run}"
    );
}

// ----- Monte Carlo ------------------------------------------------------

fn montecarlo(dir: &Dir, file: &Path, threads: &str) -> Value {
    let run = dir
        .kcheck()
        .args([
            "run",
            "--json",
            "--mode",
            "montecarlo",
            "--trials",
            "30",
            "--seed",
            "11",
        ])
        .args(["--threads", threads])
        .arg(file)
        .output();
    assert!(run.code() == 0 || run.code() == 1, "{run}");
    let mut r = run.json_lines().remove(0);
    // Timings differ from run to run; everything else must not.
    r["stats"]["seconds"] = Value::Null;
    r["stats"]["states_per_sec"] = Value::Null;
    r["stats"]["threads"] = Value::Null;
    r
}

#[test]
fn monte_carlo_is_reproducible_from_its_seed_and_across_thread_counts() {
    let dir = Dir::new();
    let file = write_scenario(&dir, &divergent_scenario());
    let first = montecarlo(&dir, &file, "1");
    let again = montecarlo(&dir, &file, "1");
    let two = montecarlo(&dir, &file, "2");
    assert_eq!(first["mode"], "montecarlo");
    assert_eq!(first["trials"].as_array().unwrap().len(), 30);
    let total: u64 = first["converged_states"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["paths"].as_u64().unwrap())
        .sum();
    assert_eq!(total, 30, "every trial converges: {first}");
    assert_json_eq!(first, again);
    assert_json_eq!(first, two);
}

#[test]
fn one_monte_carlo_trial_reruns_alone_with_the_same_result() {
    let dir = Dir::new();
    let file = write_scenario(&dir, &divergent_scenario());
    let all = montecarlo(&dir, &file, "0");
    let run = dir
        .kcheck()
        .args([
            "run",
            "--json",
            "--mode",
            "montecarlo",
            "--seed",
            "11",
            "--trial",
            "7",
        ])
        .arg(&file)
        .output();
    let alone = &run.json_lines()[0];
    assert_eq!(alone["trials"][0], all["trials"][7], "{run}");
}

// ----- traces: replay and show -----------------------------------------

fn run_with_traces(dir: &Dir, scenario: &Value, extra: &[&str]) -> Vec<PathBuf> {
    let file = write_scenario(dir, scenario);
    let run = dir
        .kcheck()
        .args(["run", "--trace-dir", "traces"])
        .args(extra)
        .arg(&file)
        .output();
    assert!(run.code() == 0 || run.code() == 1, "{run}");
    traces_in(&dir.join("traces"))
}

#[test]
fn every_trace_a_run_writes_replays() {
    let dir = Dir::new();
    let mut traces = run_with_traces(&dir, &divergent_scenario(), &[]);
    traces.extend(run_with_traces(&dir, &clean_scenario(), &[]));
    traces.extend(run_with_traces(
        &dir,
        &divergent_scenario(),
        &["--mode", "montecarlo", "--trials", "10"],
    ));
    traces.sort();
    traces.dedup();
    assert!(traces.len() >= 4, "{traces:?}");
    for t in &traces {
        dir.kcheck()
            .arg("replay")
            .arg(t)
            .expect_code(0)
            .assert_stdout_has("every state hash matches");
    }
}

#[test]
fn trace_names_follow_the_scenario_kind_and_hash() {
    let dir = Dir::new();
    let traces = run_with_traces(&dir, &divergent_scenario(), &[]);
    let names: Vec<String> = traces
        .iter()
        .map(|t| t.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.contains(&"foo-bar-divergence-1.jsonl".to_string()),
        "{names:?}"
    );
    let converged: Vec<&String> = names
        .iter()
        .filter(|n| n.starts_with("foo-bar-converged-"))
        .collect();
    assert_eq!(converged.len(), 2, "{names:?}");
    assert_eq!(
        converged[0].len(),
        "foo-bar-converged-".len() + 12 + ".jsonl".len()
    );
}

/// Replaces the `state_hash` of the step at `depth` in a trace file.
fn corrupt_step_hash(trace: &Path, depth: u64) -> PathBuf {
    let text = std::fs::read_to_string(trace).unwrap();
    let mut lines: Vec<String> = Vec::new();
    for line in text.lines() {
        let mut v: Value = serde_json::from_str(line).unwrap();
        if v["type"] == "step" && v["depth"] == depth {
            v["state_hash"] = json!("0".repeat(64));
        }
        lines.push(serde_json::to_string(&v).unwrap());
    }
    let out = trace.with_file_name("edited.jsonl");
    std::fs::write(&out, lines.join("\n") + "\n").unwrap();
    out
}

#[test]
fn a_hand_edited_trace_fails_replay_naming_the_step() {
    let dir = Dir::new();
    let traces = run_with_traces(&dir, &divergent_scenario(), &[]);
    let edited = corrupt_step_hash(&traces[0], 2);
    let run = dir.kcheck().arg("replay").arg(&edited).expect_code(1);
    run.assert_stderr_has("step 2: state hash mismatch")
        .assert_stderr_has(&"0".repeat(64));
}

#[test]
fn a_trace_with_an_edited_scenario_fails_replay() {
    let dir = Dir::new();
    let traces = run_with_traces(&dir, &divergent_scenario(), &[]);
    let text = std::fs::read_to_string(&traces[0]).unwrap();
    let mut lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    lines[0]["scenario_json"]["description"] = json!("edited");
    let body: Vec<String> = lines.iter().map(|v| v.to_string()).collect();
    let edited = dir.write("traces/edited.jsonl", &(body.join("\n") + "\n"));
    let run = dir.kcheck().arg("replay").arg(&edited).output();
    assert!(run.code() == 1 || run.code() == 2, "{run}");
    run.assert_stderr_has("scenario");
}

#[test]
fn a_broken_trace_file_is_bad_input_naming_the_line() {
    let dir = Dir::new();
    let traces = run_with_traces(&dir, &divergent_scenario(), &[]);
    let text = std::fs::read_to_string(&traces[0]).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines[1] = "{\"type\": \"step\", \"depth\": 1";
    let broken = dir.write("broken.jsonl", &lines.join("\n"));
    dir.kcheck()
        .arg("replay")
        .arg(&broken)
        .expect_code(2)
        .assert_stderr_has("broken.jsonl:2: not valid JSON");
    dir.kcheck()
        .arg("show")
        .arg(&broken)
        .expect_code(2)
        .assert_stderr_has("broken.jsonl:2");
    dir.kcheck()
        .args(["replay", "missing.jsonl"])
        .expect_code(2)
        .assert_stderr_has("missing.jsonl");
}

#[test]
fn show_prints_every_step() {
    let dir = Dir::new();
    let traces = run_with_traces(&dir, &divergent_scenario(), &[]);
    let divergence = traces
        .iter()
        .find(|t| t.to_string_lossy().contains("divergence"))
        .unwrap();
    let steps = std::fs::read_to_string(divergence)
        .unwrap()
        .lines()
        .filter(|l| l.contains("\"type\":\"step\""))
        .count();
    assert!(steps >= 2);
    let run = dir.kcheck().arg("show").arg(divergence).expect_code(0);
    run.assert_stdout_has("scenario  foo-bar")
        .assert_stdout_has("finding   divergence:")
        .assert_stdout_has("end  converged");
    for depth in 1..=steps {
        run.assert_stdout_has(&format!("\nstep {depth}  "));
    }
    run.assert_stdout_has("/status/phase");
}

// ----- check ------------------------------------------------------------

/// Two ReplicaSets that share nothing: reduction explores them apart.
fn two_replica_sets() -> Value {
    let mut scenario = clean_scenario();
    let mut other = scenario["objects"][0].clone();
    other["metadata"]["name"] = "db".into();
    other["spec"]["selector"]["matchLabels"]["app"] = "db".into();
    other["spec"]["template"]["metadata"]["labels"]["app"] = "db".into();
    scenario["objects"].as_array_mut().unwrap().push(other);
    scenario["name"] = "rs-two".into();
    scenario
}

#[test]
fn another_reduction_neither_compares_nor_overwrites_the_pinned_states() {
    let dir = Dir::new();
    let file = write_scenario(&dir, &two_replica_sets());
    let read =
        || -> Value { serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap() };
    dir.kcheck()
        .args(["check", "--update"])
        .arg(&file)
        .expect_code(0);
    let pinned = read()["expect"]["states"].clone();
    let run = dir
        .kcheck()
        .args(["run", "--json", "--reduction", "none"])
        .arg(&file)
        .expect_code(0);
    let result = run.json_lines().remove(0);
    assert_ne!(
        result["stats"]["states"], pinned,
        "reduction changes the count"
    );
    assert_eq!(result["expect"]["holds"], true);
    assert_eq!(result["warnings"][0]["kind"], "states_not_compared");
    dir.kcheck()
        .args(["check", "--update", "--reduction", "none"])
        .arg(&file)
        .expect_code(0);
    assert_eq!(read()["expect"]["states"], pinned);
}

#[test]
fn check_passes_fails_after_a_changed_expectation_and_update_fixes_it() {
    let dir = Dir::new();
    let file = write_scenario(&dir, &clean_scenario());
    // No expect section yet: a failure that says how to record one.
    dir.kcheck()
        .arg("check")
        .arg(&file)
        .expect_code(1)
        .assert_stdout_has("no `expect` section");
    dir.kcheck()
        .args(["check", "--update"])
        .arg(&file)
        .expect_code(0)
        .assert_stdout_has("updated rs-one");
    let written: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(written["expect"]["converged_states"], 1);
    let hash = written["expect"]["converged_hashes"][0]
        .as_str()
        .unwrap()
        .to_string();
    dir.kcheck()
        .arg("check")
        .arg(&file)
        .expect_code(0)
        .assert_stdout_has("ok      rs-one");

    // Someone changes the expectation: the check fails with a diff.
    let set_expect = |expect: Value| {
        let mut edited = written.clone();
        edited["expect"] = expect;
        std::fs::write(&file, serde_json::to_string_pretty(&edited).unwrap()).unwrap();
    };
    let fake = "ab".repeat(32);
    set_expect(json!({"converged_states": 2, "converged_hashes": [hash, fake]}));
    dir.kcheck()
        .arg("check")
        .arg(&file)
        .expect_code(1)
        .assert_stdout_has("FAILED  rs-one")
        .assert_stdout_has("converged states: expected 2, got 1")
        .assert_stdout_has(&format!("expected state {fake} was not reached"));
    set_expect(json!({"converged_states": 1, "converged_hashes": [fake]}));
    dir.kcheck()
        .arg("check")
        .arg(&file)
        .expect_code(1)
        .assert_stdout_has(&format!("expected state {fake} was not reached"))
        .assert_stdout_has(&format!("state {hash} was not expected"));
    // `run` fails on the expectation too.
    dir.kcheck()
        .arg("run")
        .arg(&file)
        .expect_code(1)
        .assert_stdout_has("expect     FAILED");

    dir.kcheck()
        .args(["check", "--update"])
        .arg(&file)
        .expect_code(0);
    dir.kcheck().arg("check").arg(&file).expect_code(0);
}

// ----- hunt -------------------------------------------------------------

#[test]
fn hunt_writes_a_folder_per_finding_with_a_report_and_a_trace_that_replays() {
    let dir = Dir::new();
    let file = write_scenario(&dir, &divergent_scenario());
    let run = dir
        .kcheck()
        .args(["hunt", "--json", "--out", "evidence"])
        .arg(&file)
        .expect_code(1);
    let r = &run.json_lines()[0];
    assert_eq!(r["scenario"], "foo-bar");
    assert_eq!(r["complete"], true);
    assert_eq!(
        r["baseline"]["converged_states"].as_array().unwrap().len(),
        2
    );
    assert!(r["phases"]["planned"].as_u64().unwrap() > 0);
    let findings = r["findings"].as_array().unwrap();
    assert!(findings.iter().any(|f| f["kind"] == "divergence"), "{r}");
    assert!(findings.iter().any(|f| f["kind"] == "new_state"), "{r}");
    for f in findings {
        assert_eq!(f["replays"], true, "{f}");
        let folder = PathBuf::from(f["folder"].as_str().unwrap());
        let report = std::fs::read_to_string(dir.path().join(&folder).join("REPORT.md")).unwrap();
        assert!(report.contains("kcheck replay trace.jsonl"), "{report}");
        assert!(
            report.contains("\nstep 1  "),
            "the report shows the trace: {report}"
        );
        dir.kcheck()
            .arg("replay")
            .arg(f["trace"].as_str().unwrap())
            .expect_code(0);
    }
}

#[test]
fn hunt_summary_names_each_phase_and_report() {
    let dir = Dir::new();
    let file = write_scenario(&dir, &divergent_scenario());
    let run = dir
        .kcheck()
        .args(["hunt", "--only", "crash", "--out", "evidence"])
        .arg(&file)
        .expect_code(1);
    run.assert_stdout_has("hunt       foo-bar")
        .assert_stdout_has("baseline   exhaustive")
        .assert_stdout_has("crash")
        .assert_stdout_has("report  evidence/foo-bar-01-")
        .assert_stdout_has("replay  kcheck replay evidence/foo-bar-01-");
    dir.kcheck().args(["hunt"]).arg(&file).expect_code(2);
}

// ----- list -------------------------------------------------------------

#[test]
fn list_shows_controllers_and_scenarios() {
    let dir = Dir::new();
    write_scenario(&dir, &clean_scenario());
    std::fs::create_dir_all(dir.join("scenarios")).unwrap();
    dir.write_json("scenarios/rs-one.json", &clean_scenario());
    std::fs::create_dir_all(dir.join("scenarios/more")).unwrap();
    let mut nested = clean_scenario();
    nested["name"] = "rs-nested".into();
    dir.write_json("scenarios/more/rs-nested.json", &nested);
    let run = dir.kcheck().arg("list").expect_code(0);
    for name in [
        "deployment",
        "replicaset",
        "kubelet",
        "job",
        "garbage-collector",
        "namespace",
    ] {
        run.assert_stdout_has(&format!("\n  {name} "));
    }
    run.assert_stdout_has("rs-one")
        .assert_stdout_has("rs-nested")
        .assert_stdout_has("A ReplicaSet creates one Pod");
}

// ----- bad input --------------------------------------------------------

#[test]
fn usage_errors_exit_2() {
    let dir = Dir::new();
    dir.kcheck().expect_code(2);
    dir.kcheck().arg("run").expect_code(2);
    dir.kcheck().arg("frobnicate").expect_code(2);
    dir.kcheck()
        .args(["run", "--mode", "sideways", "x.json"])
        .expect_code(2);
    dir.kcheck()
        .args(["run", "--trials", "many", "x.json"])
        .expect_code(2);
    let file = write_scenario(&dir, &clean_scenario());
    dir.kcheck()
        .args(["run", "--trial", "3"])
        .arg(&file)
        .expect_code(2)
        .assert_stderr_has("--trial only applies to Monte Carlo");
    dir.kcheck()
        .args(["run", "--trials", "0"])
        .arg(&file)
        .expect_code(2);
    dir.kcheck().arg("--help").expect_code(0);
}

/// A mutation of the clean scenario, and a piece of text the error message
/// must contain (the field path, or what is wrong).
fn bad_scenarios() -> Vec<(&'static str, String, &'static str)> {
    let good = clean_scenario();
    let with = |f: &dyn Fn(&mut Value)| {
        let mut v = good.clone();
        f(&mut v);
        serde_json::to_string_pretty(&v).unwrap()
    };
    vec![
        (
            "syntax",
            "{\"name\": \"x\",\n  \"controllers\": [}".to_string(),
            "line 2",
        ),
        ("not-a-map", "[1, 2, 3]".to_string(), "must be a JSON map"),
        ("empty", String::new(), "not valid JSON"),
        (
            "no-name",
            with(&|v| {
                v.as_object_mut().unwrap().remove("name");
            }),
            "at name",
        ),
        (
            "no-controllers",
            with(&|v| {
                v.as_object_mut().unwrap().remove("controllers");
            }),
            "at controllers",
        ),
        (
            "unknown-field",
            with(&|v| v["controlers"] = json!([])),
            "at controlers",
        ),
        (
            "unknown-controller",
            with(&|v| v["controllers"] = json!(["replicaset", "kubelett"])),
            "at controllers[1]: unknown controller \"kubelett\"",
        ),
        (
            "object-without-kind",
            with(&|v| {
                v["objects"][0].as_object_mut().unwrap().remove("kind");
            }),
            "at objects[0].kind",
        ),
        (
            "bad-mode",
            with(&|v| v["explore"]["mode"] = json!("sideways")),
            "at explore.mode",
        ),
        (
            "bad-depth",
            with(&|v| v["explore"]["max_depth"] = json!("deep")),
            "at explore.max_depth",
        ),
        (
            "bad-verb",
            with(&|v| {
                v["actions"] = json!([{"verb": "frobnicate",
                "target": {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web"}}])
            }),
            "at actions[0].verb",
        ),
        (
            "bad-invariant",
            with(&|v| v["invariants"] = json!([{"type": "sometimes"}])),
            "at invariants[0].type",
        ),
        (
            "bad-expect-hash",
            with(&|v| v["expect"] = json!({"converged_hashes": ["xyz"]})),
            "at expect.converged_hashes[0]",
        ),
        (
            "bad-ignore-pointer",
            with(&|v| {
                v["converged_ignore"] =
                    json!([{"kind": "ReplicaSet", "fields": ["metadata/annotations"]}])
            }),
            "at converged_ignore[0].fields[0]: a JSON pointer must start with \"/\"",
        ),
        (
            "staleness-unknown-controller",
            with(&|v| {
                v["perturbations"] = json!({"staleness": [
            {"controller": "deployment", "kind": "Pod", "stale_at": 1, "catch_up_at": 4, "lag": "frozen"}]})
            }),
            "at perturbations.staleness[0].controller",
        ),
    ]
}

#[test]
fn bad_scenarios_exit_2_with_a_message_naming_the_file_and_field() {
    let dir = Dir::new();
    let cases = bad_scenarios();
    assert!(cases.len() >= 10);
    for (name, text, needle) in cases {
        let file = dir.write(&format!("bad-{name}.json"), &text);
        let run = dir.kcheck().arg("run").arg(&file).output();
        assert_eq!(run.code(), 2, "case {name}\n{run}");
        assert!(!run.stderr().contains("panicked"), "case {name}\n{run}");
        run.assert_stderr_has(&format!("bad-{name}.json"))
            .assert_stderr_has(needle);
        assert!(run.stdout().is_empty(), "case {name}: nothing runs\n{run}");
    }
    dir.kcheck()
        .args(["run", "does-not-exist.json"])
        .expect_code(2)
        .assert_stderr_has("does-not-exist.json");
}

#[test]
fn a_bad_scenario_among_good_ones_stops_before_any_run() {
    let dir = Dir::new();
    let good = write_scenario(&dir, &clean_scenario());
    let bad = dir.write("bad.json", "{}");
    let run = dir
        .kcheck()
        .args(["run", "--json"])
        .args([&good, &bad])
        .expect_code(2);
    assert!(run.stdout().is_empty(), "{run}");
}

// ----- docs/trace-format.md --------------------------------------------

#[test]
fn the_trace_format_document_examples_parse_as_their_line_types() {
    use kcheck_engine::trace::TraceLine;
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/trace-format.md"))
            .unwrap();
    let mut expected_type: Option<&str> = None;
    let mut seen = Vec::new();
    let mut lines = doc.lines();
    while let Some(line) = lines.next() {
        if let Some(heading) = line.strip_prefix("## ") {
            expected_type = ["header", "step", "end"]
                .into_iter()
                .find(|t| heading.starts_with(&format!("`{t}`")));
        }
        if line.trim() == "```json" {
            let block: Vec<&str> = lines.by_ref().take_while(|l| l.trim() != "```").collect();
            let text = block.join("\n");
            let parsed: TraceLine = serde_json::from_str(&text).unwrap_or_else(|e| {
                panic!("a ```json block does not parse as a trace line: {e}\n{text}")
            });
            let t = expected_type.expect("a ```json block under a line-type heading");
            assert_eq!(parsed.type_name(), t, "{text}");
            seen.push(t);
        }
    }
    for t in ["header", "step", "end"] {
        assert!(seen.contains(&t), "no example of a {t} line");
    }
}

// ----- never a panic ----------------------------------------------------

/// A JSON value of a few shapes, to graft into scenarios.
fn any_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        // Small numbers: a scenario asking for 10^18 Pods is valid and slow.
        (-3i64..100).prop_map(|n| json!(n)),
        "[a-zA-Z0-9/._-]{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,8}", inner, 0..3)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Every JSON pointer into a value.
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    out.push(at.clone());
    match v {
        Value::Object(m) => {
            for (k, c) in m {
                pointers(c, format!("{at}/{k}"), out);
            }
        }
        Value::Array(items) => {
            for (i, c) in items.iter().enumerate() {
                pointers(c, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

#[derive(Clone, Debug)]
enum Mutation {
    Replace(usize, Value),
    Remove(usize),
    Truncate(usize),
    Arbitrary(Value),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<usize>(), any_value()).prop_map(|(i, v)| Mutation::Replace(i, v)),
        2 => any::<usize>().prop_map(Mutation::Remove),
        1 => any::<usize>().prop_map(Mutation::Truncate),
        1 => any_value().prop_map(Mutation::Arbitrary),
    ]
}

fn mutate(base: &Value, m: &Mutation) -> String {
    let mut v = base.clone();
    let mut ps = Vec::new();
    pointers(&v, String::new(), &mut ps);
    match m {
        Mutation::Replace(i, new) => {
            let p = &ps[i % ps.len()];
            match v.pointer_mut(p) {
                Some(slot) => *slot = new.clone(),
                None => v = new.clone(),
            }
            serde_json::to_string(&v).unwrap()
        }
        Mutation::Remove(i) => {
            let p = &ps[i % ps.len()];
            if let Some((parent, key)) = p.rsplit_once('/') {
                match v.pointer_mut(parent) {
                    Some(Value::Object(m)) => {
                        m.remove(key);
                    }
                    Some(Value::Array(a)) => {
                        if let Ok(i) = key.parse::<usize>() {
                            a.remove(i);
                        }
                    }
                    _ => {}
                }
            }
            serde_json::to_string(&v).unwrap()
        }
        Mutation::Truncate(i) => {
            let text = serde_json::to_string(&v).unwrap();
            text[..i % text.len()].to_string()
        }
        Mutation::Arbitrary(new) => serde_json::to_string(new).unwrap(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn mutated_scenarios_never_panic_and_rejections_exit_2(
        base in prop_oneof![Just(clean_scenario()), Just(divergent_scenario())],
        m in mutation(),
    ) {
        let dir = Dir::new();
        let file = dir.write("s.json", &mutate(&base, &m));
        let run = dir
            .kcheck()
            .args(["run", "--json", "--mode", "reference", "--max-depth", "30"])
            .arg(&file)
            .output();
        prop_assert!([0, 1, 2].contains(&run.code()), "{}", run);
        prop_assert!(!run.stderr().contains("panicked"), "{}", run);
        if run.stderr().contains("error:") {
            prop_assert_eq!(run.code(), 2, "{}", run);
            prop_assert!(run.stdout().is_empty(), "{}", run);
        } else {
            prop_assert_eq!(run.json_lines().len(), 1, "{}", run);
        }
    }
}
