//! `kcheck hunt` on the seed-derived EvaluationJob controller: the
//! non-idempotent create is found with a trace that replays; the fixed
//! controller survives every crash, fault and stale view.

use std::path::{Path, PathBuf};

use crate::util::Dir;

fn repo_scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(format!("{name}.json"))
}

#[test]
fn hunt_finds_the_duplicate_job_of_a_crash_between_two_writes() {
    let dir = Dir::new();
    let run = dir
        .kcheck()
        .args(["hunt", "--only", "crash", "--json", "--out", "evidence"])
        .arg(repo_scenario("evaluation-job"))
        .expect_code(1);
    let result = &run.json_lines()[0];
    let finding = result["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == "invariant")
        .expect("the Job count invariant breaks");
    assert!(
        finding["message"]
            .as_str()
            .unwrap()
            .contains("2 Job.batch in default, expected exactly 1"),
        "{finding}"
    );
    assert_eq!(finding["replays"], true);
    dir.kcheck()
        .arg("replay")
        .arg(finding["trace"].as_str().unwrap())
        .expect_code(0)
        .assert_stdout_has("every state hash matches");
    let summary = std::fs::read_to_string(dir.join("evidence/SUMMARY.md")).unwrap();
    assert!(summary.contains("[High] invariant"), "{summary}");
    let folder = dir.path().join(finding["folder"].as_str().unwrap());
    let report = std::fs::read_to_string(folder.join("REPORT.md")).unwrap();
    assert!(
        report.contains("\"after_writes\": 1"),
        "the report gives the perturbation: {report}"
    );
}

#[test]
fn hunt_of_the_fixed_controller_finds_nothing_and_says_what_it_covered() {
    let dir = Dir::new();
    let run = dir
        .kcheck()
        .args(["hunt", "--out", "evidence"])
        .arg(repo_scenario("evaluation-job-idempotent"))
        .expect_code(0);
    run.assert_stdout_has("findings   none")
        .assert_stdout_has("staleness")
        .assert_stdout_has("crash")
        .assert_stdout_has("api_fault")
        .assert_stdout_has("states in");
    assert!(dir.join("evidence/SUMMARY.md").exists());
}

#[test]
fn dropped_watch_events_are_hunted_only_when_asked() {
    let dir = Dir::new();
    let default = dir
        .kcheck()
        .args(["hunt", "--only", "api_fault", "--json", "--out", "a"])
        .arg(repo_scenario("evaluation-job-idempotent"))
        .expect_code(0);
    assert_eq!(
        default.json_lines()[0]["findings"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    // The evaluation controller creates its Job and moves on: if the Job's
    // Added event is lost, the job controller never hears of it.
    let drops = dir
        .kcheck()
        .args(["hunt", "--only", "watch_drop", "--json", "--out", "b"])
        .arg(repo_scenario("evaluation-job-idempotent"))
        .expect_code(1);
    let findings = drops.json_lines()[0]["findings"].as_array().unwrap().len();
    assert!(findings > 0);
}

#[test]
fn a_hunt_cut_short_names_the_budget_of_each_part_and_exits_1_unless_allowed() {
    let dir = Dir::new();
    let run = dir
        .kcheck()
        .args(["hunt", "--out", "evidence", "--time-budget", "0"])
        .arg(repo_scenario("evaluation-job-idempotent"))
        .expect_code(1);
    run.assert_stdout_has("status     INCOMPLETE")
        .assert_stdout_has("  baseline: cut short: the time budget of 0 s ran out (--time-budget)")
        .assert_stdout_has(" phases: not run: the time budget of 0 s ran out (--time-budget)")
        .assert_stdout_has("result     INCOMPLETE");
    let json = dir
        .kcheck()
        .args(["hunt", "--json", "--out", "evidence", "--time-budget", "0"])
        .arg(repo_scenario("evaluation-job-idempotent"))
        .expect_code(1);
    let r = &json.json_lines()[0];
    assert_eq!(r["complete"], false);
    assert_eq!(r["incomplete"][0]["phase"], "baseline", "{json}");
    dir.kcheck()
        .args([
            "hunt",
            "--out",
            "evidence",
            "--time-budget",
            "0",
            "--allow-incomplete",
        ])
        .arg(repo_scenario("evaluation-job-idempotent"))
        .expect_code(0)
        .assert_stdout_has("accepted: --allow-incomplete");
}
