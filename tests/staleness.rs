//! Staleness through scenario files and the CLI: intervals, stale-read
//! information in traces, trigger filtering, stale-read search.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::util::Dir;

fn repo_scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(format!("{name}.json"))
}

fn load(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(repo_scenario(name)).unwrap()).unwrap()
}

/// `kcheck run --json` of a scenario value written into `dir`.
fn run_json(dir: &Dir, scenario: &Value, extra: &[&str]) -> Value {
    let file = dir.write_json("scenario.json", scenario);
    let run = dir
        .kcheck()
        .args(["run", "--json"])
        .args(extra)
        .arg(&file)
        .output();
    assert!(run.code() == 0 || run.code() == 1, "{run}");
    run.json_lines().remove(0)
}

fn hashes(result: &Value) -> Vec<String> {
    result["converged_states"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["hash"].as_str().unwrap().to_string())
        .collect()
}

fn with_interval(stale_at: u64, catch_up_at: u64) -> Value {
    let mut s = load("foo-bar");
    s["perturbations"] = json!({"staleness": [{"controller": "bar", "kind": "Foo",
        "stale_at": stale_at, "catch_up_at": catch_up_at, "lag": "frozen"}]});
    s
}

#[test]
fn foo_bar_has_two_converged_states_without_staleness() {
    let dir = Dir::new();
    let result = run_json(&dir, &load("foo-bar"), &[]);
    assert_eq!(hashes(&result).len(), 2);
    assert_eq!(result["divergent"], true);
}

#[test]
fn freezing_bars_view_of_foo_removes_one_converged_state() {
    let dir = Dir::new();
    let baseline = hashes(&run_json(&dir, &load("foo-bar"), &[]));
    let frozen = run_json(&dir, &load("foo-bar-frozen"), &[]);
    let frozen = hashes(&frozen);
    assert_eq!(frozen.len(), 1);
    assert!(
        baseline.contains(&frozen[0]),
        "the A-Final state is one of the baseline's"
    );
}

#[test]
fn an_interval_outside_the_runs_sequence_range_gives_the_baseline() {
    let dir = Dir::new();
    let baseline = hashes(&run_json(&dir, &load("foo-bar"), &[]));
    let late = hashes(&run_json(&dir, &with_interval(50, 100), &[]));
    assert_eq!(baseline, late);
}

/// The step lines of the traces a reference run writes.
fn reference_steps(dir: &Dir, scenario: &Value) -> Vec<Value> {
    let file = dir.write_json("reference.json", scenario);
    dir.kcheck()
        .args(["run", "--mode", "reference", "--trace-dir", "traces"])
        .arg(&file)
        .output();
    let trace = std::fs::read_dir(dir.join("traces"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().contains("converged"))
        .expect("a converged trace");
    std::fs::read_to_string(trace)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|l| l["type"] == "step")
        .collect()
}

#[test]
fn stale_read_info_in_the_trace_carries_the_versions() {
    let dir = Dir::new();
    let steps = reference_steps(&dir, &load("foo-bar-frozen"));
    let bar = steps
        .iter()
        .find(|s| s["actor"] == "bar")
        .expect("bar reconciles");
    let read = &bar["stale_reads"][0];
    assert_eq!(read["object"]["kind"], "Foo");
    assert_eq!(read["object"]["name"], "foo");
    let (observed, current) = (
        read["observed_rv"].as_u64().unwrap(),
        read["current_rv"].as_u64().unwrap(),
    );
    assert!(observed < current, "{read}");
    // The view is Foo's first event (the seeded object); foo's A-1 write is
    // the one bar missed.
    let a1 = &steps[0]["writes"][0];
    assert_eq!(a1["rv"].as_u64(), Some(current));
}

#[test]
fn trigger_filtering_makes_the_frozen_controller_reconcile_less() {
    let dir = Dir::new();
    // bar listed first: its initial request runs before foo writes, so
    // every later bar reconcile comes from a Foo event.
    let bar_first = |name: &str| {
        let mut s = load(name);
        s["controllers"] = json!(["bar", "foo"]);
        s
    };
    let count = |steps: &[Value]| steps.iter().filter(|s| s["actor"] == "bar").count();
    let baseline = count(&reference_steps(&Dir::new(), &bar_first("foo-bar")));
    let frozen = count(&reference_steps(&dir, &bar_first("foo-bar-frozen")));
    // Frozen, bar hears of Foo's two events once, when the run goes quiet.
    assert_eq!((baseline, frozen), (3, 2));
}

#[test]
fn stale_read_search_finds_the_dispatchers_stale_cache_bug() {
    let dir = Dir::new();
    let result = run_json(&dir, &load("dispatcher-stale-jobs"), &[]);
    let invariant = result["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == "invariant")
        .expect("the Job limit breaks under stale reads");
    assert!(
        invariant["message"]
            .as_str()
            .unwrap()
            .contains("expected at most 1")
    );
    let mut without = load("dispatcher-stale-jobs");
    without.as_object_mut().unwrap().remove("perturbations");
    let clean = run_json(&dir, &without, &[]);
    assert!(
        clean["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["kind"] != "invariant")
    );
}

#[test]
fn staleness_runs_are_the_same_on_one_and_two_threads() {
    let dir = Dir::new();
    for name in ["foo-bar-frozen", "dispatcher-stale-jobs"] {
        let one = run_json(&dir, &load(name), &["--threads", "1"]);
        let two = run_json(&dir, &load(name), &["--threads", "2"]);
        assert_eq!(one["converged_states"], two["converged_states"], "{name}");
        assert_eq!(one["stats"]["states"], two["stats"]["states"], "{name}");
        assert_eq!(one["findings"], two["findings"], "{name}");
    }
}
