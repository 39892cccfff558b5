//! Every JSON example in `docs/scenario-format.md` parses, and every whole
//! scenario among them builds with the test registry. A block preceded by
//! `<!-- fragment -->` is a part of a scenario: when it is a map of
//! top-level fields it must parse inside a minimal scenario, otherwise it
//! only has to be JSON.

use serde_json::{Value, json};

use super::Scenario;
use super::test_registry::TestRegistry;

/// The scenario's top-level fields.
const TOP_LEVEL: [&str; 9] = [
    "name",
    "description",
    "controllers",
    "objects",
    "actions",
    "explore",
    "perturbations",
    "invariants",
    "expect",
];

const DOC: &str = include_str!("../../../docs/scenario-format.md");

/// `(line, is_fragment, text)` of each ```json block.
fn json_blocks(doc: &str) -> Vec<(usize, bool, String)> {
    let mut out = Vec::new();
    let mut lines = doc.lines().enumerate().peekable();
    let mut previous_nonblank = "";
    while let Some((n, line)) = lines.next() {
        if line.trim() == "```json" {
            let fragment = previous_nonblank.trim() == "<!-- fragment -->";
            let mut text = String::new();
            for (_, body) in lines.by_ref() {
                if body.trim() == "```" {
                    break;
                }
                text.push_str(body);
                text.push('\n');
            }
            out.push((n + 1, fragment, text));
            previous_nonblank = "";
        } else if !line.trim().is_empty() {
            previous_nonblank = line;
        }
    }
    out
}

#[test]
fn every_example_in_the_scenario_reference_parses_and_builds() {
    let blocks = json_blocks(DOC);
    assert!(blocks.len() >= 10, "found only {} examples", blocks.len());
    let mut whole = 0;
    for (line, fragment, text) in blocks {
        if fragment {
            let value: Value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("fragment at line {line} is not JSON: {e}"));
            if let Some(fields) = value.as_object()
                && fields.keys().all(|k| TOP_LEVEL.contains(&k.as_str()))
            {
                let mut scenario = json!({"name": "fragment", "controllers": [], "objects": []});
                for (k, v) in fields {
                    scenario[k] = v.clone();
                }
                Scenario::from_value(scenario)
                    .unwrap_or_else(|e| panic!("fragment at line {line} does not parse: {e}"));
            }
            continue;
        }
        let scenario = Scenario::parse(&text)
            .unwrap_or_else(|e| panic!("example at line {line} does not parse: {e}"));
        scenario
            .build(&TestRegistry)
            .unwrap_or_else(|e| panic!("example at line {line} does not build: {e}"));
        whole += 1;
    }
    assert!(whole >= 5, "only {whole} whole scenarios");
}

#[test]
fn fragments_are_marked() {
    let doc = "text\n\n<!-- fragment -->\n```json\n[1]\n```\n\n```json\n{}\n```\n";
    let blocks = json_blocks(doc);
    assert_eq!(blocks.len(), 2);
    assert!(blocks[0].1 && !blocks[1].1);
}
