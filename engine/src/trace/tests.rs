//! Traces of the explorer's small test controllers.

use std::path::Path;

use serde_json::{Value, json};

use super::*;
use crate::Model;
use crate::explore::{Explorer, FindingKind, Mode};
use crate::hash::Digest;
use crate::test_util::{FailsHalfway, FirstWriter, Panicker, server_with};

fn racing() -> Model {
    Model::new(server_with(&[("target", json!({}))]))
        .controller(FirstWriter {
            name: "a",
            key: "winner",
            value: "a",
        })
        .controller(FirstWriter {
            name: "b",
            key: "winner",
            value: "b",
        })
}

fn meta(finding: Option<FindingInfo>) -> TraceMeta {
    TraceMeta {
        scenario: "racing".into(),
        scenario_hash: Digest::default(),
        mode: Mode::Exhaustive,
        seed: 0,
        trial: None,
        finding,
    }
}

fn scenario() -> Value {
    json!({"name": "racing", "controllers": ["a", "b"], "objects": []})
}

fn divergent_trace() -> Trace {
    let report = Explorer::new(racing()).threads(1).run();
    let finding = &report.findings[0];
    assert_eq!(finding.kind, FindingKind::Divergence);
    let info = FindingInfo {
        kind: finding.kind.name().into(),
        message: finding.message.clone(),
    };
    build_trace(&racing(), &scenario(), &meta(Some(info)), &finding.path).unwrap()
}

#[test]
fn a_trace_round_trips_through_jsonl_and_replays() {
    let trace = divergent_trace();
    assert_eq!(trace.end.outcome, "converged");
    assert_eq!(trace.steps.len(), trace.header.path.len());
    let text = trace.to_jsonl();
    assert_eq!(text.lines().count(), trace.steps.len() + 2);
    let read = Trace::parse(&text, Path::new("t.jsonl")).unwrap();
    assert_eq!(read, trace);
    let report = replay_model(&read, &racing()).unwrap();
    assert_eq!(report.state_hash, trace.end.state_hash);
    assert_eq!(report.steps, trace.steps.len());
}

#[test]
fn every_line_has_the_contract_keys() {
    let text = divergent_trace().to_jsonl();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let keys = |v: &Value, ks: &[&str]| {
        for k in ks {
            assert!(v.get(*k).is_some(), "missing {k} in {v}");
        }
    };
    keys(
        &lines[0],
        &[
            "type",
            "format",
            "scenario",
            "scenario_hash",
            "mode",
            "seed",
            "trial",
            "perturbations",
            "scenario_json",
            "path",
            "finding",
        ],
    );
    assert_eq!(lines[0]["type"], "header");
    let step = &lines[1];
    keys(
        step,
        &[
            "type",
            "depth",
            "actor",
            "request",
            "stale_reads",
            "writes",
            "outcome",
            "triggered",
            "state_hash",
        ],
    );
    let write = lines
        .iter()
        .filter(|l| l["type"] == "step")
        .flat_map(|l| l["writes"].as_array().unwrap().clone())
        .next()
        .expect("a step wrote");
    keys(&write, &["verb", "object", "rv", "noop", "error"]);
    let end = lines.last().unwrap();
    keys(end, &["type", "outcome", "state_hash", "objects"]);
}

#[test]
fn a_hand_edited_state_hash_fails_replay_naming_the_step() {
    let mut trace = divergent_trace();
    trace.steps[1].state_hash = Digest([7; 32]);
    let err = replay_model(&trace, &racing()).unwrap_err();
    assert!(
        matches!(err, ReplayError::StateHash { depth: 2, .. }),
        "{err}"
    );
    assert!(err.to_string().starts_with("step 2: state hash mismatch"));
}

#[test]
fn a_hand_edited_write_fails_replay_naming_the_field() {
    let mut trace = divergent_trace();
    let step = trace
        .steps
        .iter_mut()
        .find(|s| !s.writes.is_empty())
        .unwrap();
    let depth = step.depth;
    step.writes[0].rv = Some(999);
    let err = replay_model(&trace, &racing()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "step {depth}: /writes/0/rv differs: the trace says 999, the replay gives {}",
            divergent_trace().steps[depth as usize - 1].writes[0]
                .rv
                .unwrap()
        )
    );
}

#[test]
fn a_choice_the_state_does_not_offer_fails_replay() {
    let mut trace = divergent_trace();
    trace.header.path.push(trace.header.path[0].clone());
    let mut extra = trace.steps[0].clone();
    extra.depth = trace.steps.len() as u32 + 1;
    trace.steps.push(extra);
    let err = replay_model(&trace, &racing()).unwrap_err();
    assert!(matches!(err, ReplayError::Unavailable { .. }), "{err}");
}

#[test]
fn an_edited_end_hash_fails_replay() {
    let mut trace = divergent_trace();
    trace.end.state_hash = Digest([1; 32]);
    let err = replay_model(&trace, &racing()).unwrap_err();
    assert!(err.to_string().starts_with("end: /state_hash differs"));
}

#[test]
fn parse_errors_name_the_line_and_the_problem() {
    let text = divergent_trace().to_jsonl();
    let lines: Vec<&str> = text.lines().collect();
    let p = Path::new("x.jsonl");
    let err = |t: &str| Trace::parse(t, p).unwrap_err().to_string();

    assert_eq!(err(""), "x.jsonl:0: the trace is empty (no header line)");
    let no_end = lines[..lines.len() - 1].join("\n");
    assert!(err(&no_end).contains("no end line"));
    let bad_json = format!("{}\n{{oops\n", lines[0]);
    assert!(err(&bad_json).starts_with("x.jsonl:2: not valid JSON"));
    let step_first = lines[1..].join("\n");
    assert_eq!(
        err(&step_first),
        "x.jsonl:1: a step line before the header line"
    );
    let unknown = format!("{}\n{{\"type\": \"middle\"}}\n", lines[0]);
    assert!(err(&unknown).contains("unknown line type \"middle\""));
    let missing = lines[1].replace("\"state_hash\"", "\"hash\"");
    let text = format!("{}\n{missing}\n", lines[0]);
    let e = err(&text);
    assert!(
        e.starts_with("x.jsonl:2: bad step line:") && e.contains("state_hash"),
        "{e}"
    );
    let skipped = [lines[0], lines[2]].join("\n");
    assert!(err(&skipped).contains("step depth 2 where depth 1 was expected"));
}

#[test]
fn a_panic_trace_ends_in_panic_and_records_the_message() {
    let model =
        Model::new(server_with(&[("boom", json!({})), ("fine", json!({}))])).controller(Panicker);
    let report = Explorer::new(model.clone()).threads(1).run();
    let f = report
        .findings
        .iter()
        .find(|f| f.kind == FindingKind::Panic)
        .unwrap();
    let info = FindingInfo {
        kind: "panic".into(),
        message: f.message.clone(),
    };
    let trace = build_trace(&model, &scenario(), &meta(Some(info)), &f.path).unwrap();
    assert_eq!(trace.end.outcome, "panic");
    let last = trace.steps.last().unwrap();
    assert_eq!(last.outcome, "panic");
    assert_eq!(last.message.as_deref(), Some("cannot handle boom"));
    replay_model(&trace, &model).unwrap();
}

#[test]
fn an_error_step_keeps_its_writes_and_message() {
    let model = Model::new(server_with(&[("source", json!({}))])).controller(FailsHalfway);
    let report = Explorer::new(model.clone()).mode(Mode::Reference).run();
    let path = &report.converged[0].path;
    let trace = build_trace(&model, &scenario(), &meta(None), path).unwrap();
    let error_step = trace.steps.iter().find(|s| s.outcome == "error").unwrap();
    assert_eq!(error_step.writes.len(), 1);
    assert_eq!(error_step.writes[0].verb, "create");
    assert_eq!(error_step.writes[0].event.as_deref(), Some("added"));
    assert!(
        error_step
            .message
            .as_deref()
            .unwrap()
            .contains("not possible yet")
    );
    let shown = render(&trace);
    assert!(
        shown.contains("-> error: the second write is not possible yet"),
        "{shown}"
    );
    assert!(shown.contains("create ConfigMap default/first"), "{shown}");
}

#[test]
fn render_shows_each_step_with_diffs() {
    let trace = divergent_trace();
    let shown = render(&trace);
    assert!(shown.contains("scenario  racing"));
    assert!(shown.contains("finding   divergence:"));
    for step in &trace.steps {
        assert!(
            shown.contains(&format!(
                "step {}  {} reconciles ConfigMap default/target  -> done",
                step.depth, step.actor
            )),
            "{shown}"
        );
    }
    assert!(shown.contains("patch ConfigMap default/target"), "{shown}");
    assert!(shown.contains("+ /data/winner = "), "{shown}");
    assert!(!shown.contains("- /data (was {})"), "{shown}");
    assert!(shown.contains(&format!(
        "end  converged  state {}",
        trace.end.state_hash.short()
    )));
}

#[test]
fn write_trace_writes_the_file_atomically() {
    let dir = std::env::temp_dir().join(format!("kcheck-trace-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("t.jsonl");
    let trace = divergent_trace();
    let written = write_trace(
        &racing(),
        &scenario(),
        &meta(trace.header.finding.clone()),
        &trace.header.path,
        &out,
    )
    .unwrap();
    let read = read_trace(&out).unwrap();
    assert_eq!(read, written);
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "{leftovers:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}
