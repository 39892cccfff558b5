//! Results for people (a summary) and for machines (one JSON object per
//! scenario per line).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use kcheck_engine::explore::{Mode, ObjectDiff, diff_states};
use kcheck_engine::hash::Digest;
use serde_json::{Value, json};

use crate::explore::{Outcome, paths_word};

/// A number of paths for JSON: an integer when it fits in 64 bits, else a
/// floating-point number (exhaustive path counts grow exponentially).
fn count(n: u128) -> Value {
    match u64::try_from(n) {
        Ok(n) => json!(n),
        Err(_) => json!(n as f64),
    }
}

/// A number of paths for people: exact up to a trillion, then `2.14e26`.
fn count_text(n: u128) -> String {
    if n < 1_000_000_000_000 {
        n.to_string()
    } else {
        format!("{:.2e}", n as f64)
    }
}

fn path_text(p: &Option<std::path::PathBuf>) -> Value {
    match p {
        Some(p) => Value::String(p.display().to_string()),
        None => Value::Null,
    }
}

/// The `--json` result of one scenario.
pub fn json(o: &Outcome) -> Value {
    let r = &o.report;
    let s = &r.stats;
    let mut out = json!({
        "scenario": o.name,
        "file": o.file.display().to_string(),
        "mode": r.mode.name(),
        "complete": r.complete,
        "interrupted": o.interrupted,
        "converged_states": r.converged.iter().zip(&o.converged_traces).map(|(c, t)| json!({
            "hash": c.hash.to_hex(),
            "paths": count(c.paths),
            "path_length": c.path.len(),
            "trace": path_text(t),
        })).collect::<Vec<_>>(),
        "divergent": r.divergent(),
        "findings": r.findings.iter().zip(&o.finding_traces).map(|(f, t)| json!({
            "kind": f.kind.name(),
            "message": f.message,
            "occurrences": f.occurrences,
            "path_length": f.path.len(),
            "trace": path_text(t),
        })).collect::<Vec<_>>(),
        "stats": {
            "states": s.states,
            "transitions": s.transitions,
            "seconds": s.seconds,
            "states_per_sec": s.states_per_sec,
            "threads": s.threads,
            "max_depth": o.settings.max_depth,
            "max_depth_reached": s.max_depth_reached,
            "depth_limited": s.depth_limited,
        },
        "differences": differences(o).iter().map(|(a, b, d)| json!({
            "from": a.to_hex(),
            "to": b.to_hex(),
            "objects": d,
        })).collect::<Vec<_>>(),
        "expect": match &o.expectation {
            None => Value::Null,
            Some(problems) => json!({"holds": problems.is_empty(), "problems": problems}),
        },
        "ok": !o.failed(),
    });
    if r.mode == Mode::MonteCarlo {
        out["seed"] = json!(o.settings.seed);
        out["stats"]["trials"] = json!(s.trials);
        out["trials"] = serde_json::to_value(&r.trials).expect("trial summaries serialize");
        out["trial_outcomes"] = json!(outcome_counts(o));
    }
    out
}

/// For a divergent result: how each other converged state differs from
/// the first, object by object.
fn differences(o: &Outcome) -> Vec<(Digest, Digest, Vec<ObjectDiff>)> {
    let Some((first, rest)) = o.report.converged.split_first() else {
        return Vec::new();
    };
    rest.iter()
        .map(|c| {
            (
                first.hash,
                c.hash,
                diff_states(&first.world.server, &c.world.server),
            )
        })
        .collect()
}

/// Changed fields shown per object in the human summary.
const MAX_FIELDS: usize = 8;

fn render_differences(out: &mut String, o: &Outcome) {
    for (a, b, objects) in differences(o) {
        let _ = writeln!(out, "  {} -> {}:", a.short(), b.short());
        for d in objects {
            match d {
                ObjectDiff::Added { key } => {
                    let _ = writeln!(out, "      + {key} (only in {})", b.short());
                }
                ObjectDiff::Removed { key } => {
                    let _ = writeln!(out, "      - {key} (only in {})", a.short());
                }
                ObjectDiff::Changed { key, fields } => {
                    let _ = writeln!(out, "      ~ {key}");
                    for f in fields.iter().take(MAX_FIELDS) {
                        let v = |x: &Option<Value>| {
                            x.as_ref().map_or("(absent)".to_string(), Value::to_string)
                        };
                        let _ = writeln!(
                            out,
                            "          {}: {} -> {}",
                            f.pointer,
                            v(&f.before),
                            v(&f.after)
                        );
                    }
                    if fields.len() > MAX_FIELDS {
                        let _ = writeln!(
                            out,
                            "          ... and {} more fields",
                            fields.len() - MAX_FIELDS
                        );
                    }
                }
            }
        }
    }
}

fn outcome_counts(o: &Outcome) -> BTreeMap<&str, u64> {
    let mut counts = BTreeMap::new();
    for t in &o.report.trials {
        *counts.entry(t.outcome.as_str()).or_insert(0) += 1;
    }
    counts
}

fn plural(n: impl Into<u128>, one: &str, many: &str) -> String {
    let n = n.into();
    format!("{} {}", count_text(n), if n == 1 { one } else { many })
}

fn trace_lines(out: &mut String, trace: &Option<std::path::PathBuf>, indent: &str) {
    if let Some(t) = trace {
        let shown = shell_word(t);
        let _ = writeln!(out, "{indent}trace   {shown}");
        let _ = writeln!(out, "{indent}replay  kcheck replay {shown}");
    }
}

/// A path as one shell word (quoted when it needs to be).
fn shell_word(p: &Path) -> String {
    let s = p.display().to_string();
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_./+:=@".contains(c))
    {
        s
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// The human summary of one scenario.
pub fn human(o: &Outcome) -> String {
    let r = &o.report;
    let s = &r.stats;
    let mut out = String::new();
    let _ = writeln!(out, "scenario   {}", o.name);
    if let Some(d) = &o.description {
        let _ = writeln!(out, "           {d}");
    }
    let _ = writeln!(out, "file       {}", o.file.display());
    let mode = match r.mode {
        Mode::Reference => format!(
            "reference (one run, requests first-in first-out; max depth {})",
            o.settings.max_depth
        ),
        Mode::Exhaustive => format!(
            "exhaustive (every ordering of pending requests; max depth {})",
            o.settings.max_depth
        ),
        Mode::MonteCarlo => match o.settings.trial {
            Some(t) => format!(
                "montecarlo (trial {t} alone, seed {}; max depth {})",
                o.settings.seed, o.settings.max_depth
            ),
            None => format!(
                "montecarlo ({} random orderings from seed {}; max depth {})",
                o.settings.trials, o.settings.seed, o.settings.max_depth
            ),
        },
    };
    let _ = writeln!(out, "mode       {mode}");
    let what = if r.mode == Mode::Exhaustive {
        "distinct states"
    } else {
        "states visited"
    };
    let _ = writeln!(
        out,
        "explored   {} {what}, {} in {:.2} s ({:.0} states/s, {})",
        s.states,
        plural(s.transitions, "transition", "transitions"),
        s.seconds,
        s.states_per_sec,
        plural(s.threads as u64, "thread", "threads"),
    );
    if r.mode == Mode::MonteCarlo {
        let counts: Vec<String> = outcome_counts(o)
            .into_iter()
            .map(|(k, n)| format!("{n} {k}"))
            .collect();
        let _ = writeln!(
            out,
            "trials     {}: {}",
            s.trials,
            if counts.is_empty() {
                "none".to_string()
            } else {
                counts.join(", ")
            }
        );
    }
    if !r.complete {
        let why = if o.interrupted {
            "interrupted by Ctrl-C".to_string()
        } else {
            match o.settings.max_states {
                Some(m) => format!("stopped at the --max-states budget of {m}"),
                None => "stopped early".to_string(),
            }
        };
        let _ = writeln!(
            out,
            "status     INCOMPLETE: {why}; the results below cover only what was explored"
        );
    }
    if s.depth_limited > 0 {
        let _ = writeln!(
            out,
            "cut        {} at the depth limit {} (counted, not findings; the `converged` invariant makes them findings)",
            plural(s.depth_limited, "path", "paths"),
            o.settings.max_depth
        );
    }

    let word = paths_word(r.mode);
    match r.converged.len() {
        0 => {
            let _ = writeln!(out, "converged  no state (no path converged)");
        }
        1 => {
            let _ = writeln!(out, "converged  1 state (one answer, whatever the order)");
        }
        n => {
            let _ = writeln!(
                out,
                "converged  {n} distinct states: DIVERGENT (the result depends on the order)"
            );
        }
    }
    for (c, t) in r.converged.iter().zip(&o.converged_traces) {
        let _ = writeln!(
            out,
            "  {}  reached by {} (shortest: {} steps)",
            c.hash.short(),
            plural(c.paths, &word[..word.len() - 1], word),
            c.path.len()
        );
        trace_lines(&mut out, t, "      ");
    }

    if r.divergent() {
        let _ = writeln!(out, "differs    (object by object, from the first state)");
        render_differences(&mut out, o);
    }
    if r.findings.is_empty() {
        let _ = writeln!(out, "findings   none");
    } else {
        let _ = writeln!(out, "findings   {}", r.findings.len());
        for (f, t) in r.findings.iter().zip(&o.finding_traces) {
            let times = if f.occurrences > 1 {
                format!(" (seen {} times)", f.occurrences)
            } else {
                String::new()
            };
            let _ = writeln!(out, "  {}: {}{times}", f.kind.name(), f.message);
            trace_lines(&mut out, t, "      ");
        }
    }
    let traces_written = o
        .converged_traces
        .iter()
        .chain(&o.finding_traces)
        .any(Option::is_some);
    let anything = !r.converged.is_empty() || !r.findings.is_empty();
    if anything && !traces_written {
        let _ = writeln!(
            out,
            "           (add --trace-dir DIR to write a replayable trace of each)"
        );
    }
    match &o.expectation {
        None => {}
        Some(problems) if problems.is_empty() => {
            let _ = writeln!(out, "expect     holds");
        }
        Some(problems) => {
            let _ = writeln!(out, "expect     FAILED");
            for p in problems {
                let _ = writeln!(out, "  {p}");
            }
        }
    }
    let result = if !r.findings.is_empty() {
        format!(
            "FINDINGS ({})",
            plural(r.findings.len() as u64, "finding", "findings")
        )
    } else if o.expectation_failed() {
        "EXPECTATION FAILED".to_string()
    } else if !r.complete {
        "nothing found so far (incomplete)".to_string()
    } else {
        "ok".to_string()
    };
    let _ = writeln!(out, "result     {result}");
    out
}
