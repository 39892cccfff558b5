//! Results for people (a summary) and for machines (one JSON object per
//! scenario per line).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use kcheck_engine::explore::{
    Cut, MaskedField, Mode, ObjectDiff, PathError, Reduction, ReductionStats, diff_states,
};
use kcheck_engine::hash::Digest;
use serde_json::{Value, json};

use super::explore::{Expectation, Outcome, paths_word};

/// A number of paths for JSON: an integer when it fits in 64 bits, else a
/// floating-point number (exhaustive path counts grow exponentially).
fn count(n: u128) -> Value {
    match u64::try_from(n) {
        Ok(n) => json!(n),
        Err(_) => json!(n as f64),
    }
}

/// A number of paths for people: exact up to a trillion, then `2.14e26`;
/// counts saturate at the largest 128-bit number.
fn count_text(n: u128) -> String {
    if n == u128::MAX {
        format!("more than {:.2e}", n as f64)
    } else if n < 1_000_000_000_000 {
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
        "complete": r.complete(),
        "cuts": r.cuts.iter().map(|c| {
            let mut cut = json!({"kind": c.name(), "message": cut_text(c, o)});
            if matches!(c, Cut::DepthLimit { .. }) {
                cut["reconcile_errors"] = errors_json(&o.cut_errors);
            }
            cut
        }).collect::<Vec<_>>(),
        "interrupted": o.interrupted,
        "converged_states": r.converged.iter().zip(&o.converged_traces).map(|(c, t)| json!({
            "hash": c.hash.to_hex(),
            "paths": count(c.paths),
            "path_length": c.path.len(),
            "trace": path_text(t),
            "ignored_differences": c.masked.iter().map(|m| json!({
                "object": m.object.to_string(),
                "field": m.pointer,
                "values": m.values,
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "divergent": r.divergent(),
        "findings": r.findings.iter().zip(&o.finding_traces).zip(&o.finding_errors).map(|((f, t), e)| json!({
            "kind": f.kind.name(),
            "message": f.message,
            "occurrences": f.occurrences,
            "path_length": f.path.len(),
            "trace": path_text(t),
            "reconcile_errors": errors_json(e),
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
            "deepest_converged": s.deepest_converged,
            "reduction": s.reduction,
        },
        "differences": differences(o).iter().map(|(a, b, d)| json!({
            "from": a.to_hex(),
            "to": b.to_hex(),
            "objects": d,
        })).collect::<Vec<_>>(),
        "expect": match &o.expectation {
            Expectation::Absent => Value::Null,
            Expectation::Skipped(why) => json!({"skipped": why}),
            Expectation::Compared(problems) => json!({"holds": problems.is_empty(), "problems": problems}),
        },
        "warnings": o.warnings.iter().map(|w| json!({
            "kind": w.kind,
            "message": w.message,
        })).collect::<Vec<_>>(),
        "ok": !o.failed() && !o.cut_short() && !o.interrupted,
    });
    if r.mode == Mode::MonteCarlo {
        out["seed"] = json!(o.settings.seed);
        out["stats"]["trials"] = json!(s.trials);
        out["trials"] = serde_json::to_value(&r.trials).expect("trial summaries serialize");
        out["trial_outcomes"] = json!(outcome_counts(o));
    }
    out
}

/// What reduction did, for people: the states above are those explored,
/// and path counts still count every ordering.
fn reduction_text(r: &ReductionStats) -> String {
    match (r.used, &r.off_because) {
        (Reduction::None, Some(why)) => format!("none: off because {why}"),
        (Reduction::None, None) => "none (every ordering explored)".to_string(),
        (Reduction::Por, _) if r.groups > 1 => format!(
            "por: {} independent groups of work explored apart and combined{}; \
             path counts still count every ordering",
            r.groups,
            match r.merges {
                0 => String::new(),
                n => format!(
                    " ({} merged as they met)",
                    plural(n as u64, "group", "groups")
                ),
            }
        ),
        (Reduction::Por, _) => {
            "por: the work forms one group (nothing to explore apart)".to_string()
        }
    }
}

fn errors_json(errors: &[PathError]) -> Value {
    errors
        .iter()
        .map(|e| {
            json!({
                "controller": e.controller,
                "object": e.object,
                "message": e.message,
                "times": e.times,
            })
        })
        .collect()
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
    if r.mode == Mode::Exhaustive {
        let _ = writeln!(out, "reduction  {}", reduction_text(&s.reduction));
    }
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
    for cut in &r.cuts {
        let _ = writeln!(out, "status     INCOMPLETE: {}", cut_text(cut, o));
        if matches!(cut, Cut::DepthLimit { .. }) {
            path_errors(&mut out, &o.cut_errors);
        }
    }
    if !r.complete() {
        let _ = writeln!(
            out,
            "           the results below cover only what was explored{}",
            if o.settings.allow_incomplete {
                " (accepted: --allow-incomplete)"
            } else {
                ""
            }
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
        ignored_lines(&mut out, &c.masked);
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
        for ((f, t), errors) in r
            .findings
            .iter()
            .zip(&o.finding_traces)
            .zip(&o.finding_errors)
        {
            let times = if f.occurrences > 1 {
                format!(" (seen {} times)", f.occurrences)
            } else {
                String::new()
            };
            let _ = writeln!(out, "  {}: {}{times}", f.kind.name(), f.message);
            path_errors(&mut out, errors);
            trace_lines(&mut out, t, "      ");
        }
    }
    failing_trials(&mut out, o);
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
    if !o.warnings.is_empty() {
        let _ = writeln!(out, "warnings   {}", o.warnings.len());
        for w in &o.warnings {
            let _ = writeln!(out, "  {}: {}", w.kind, w.message);
        }
    }
    match &o.expectation {
        Expectation::Absent => {}
        Expectation::Skipped(why) => {
            let _ = writeln!(out, "expect     not compared: {why}");
        }
        Expectation::Compared(problems) if problems.is_empty() => {
            let _ = writeln!(out, "expect     holds");
        }
        Expectation::Compared(problems) => {
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
    } else if o.expectation.failed() {
        "EXPECTATION FAILED".to_string()
    } else if o.cut_short() {
        "INCOMPLETE (nothing found in what was explored; --allow-incomplete accepts a search cut short)"
            .to_string()
    } else if !r.complete() {
        "ok, incomplete (nothing found in what was explored)".to_string()
    } else {
        "ok".to_string()
    };
    let _ = writeln!(out, "result     {result}");
    out
}

/// A cut for people, with the flag that changes it.
pub fn cut_text(cut: &Cut, o: &Outcome) -> String {
    let s = &o.report.stats;
    match cut {
        Cut::Stopped if o.interrupted => "interrupted by Ctrl-C".to_string(),
        Cut::MaxStates(_) => format!("{cut} (--max-states)"),
        Cut::Time(_) => format!("{cut} (--time-budget)"),
        Cut::Memory { .. } => {
            format!("{cut} (--max-memory; by default three quarters of the machine's memory)")
        }
        Cut::DepthLimit { max_depth, .. } => {
            let longest = match s.deepest_converged {
                Some(n) => format!("the deepest converged state took {n} steps"),
                None => "no path converged".to_string(),
            };
            format!(
                "{cut}; {longest}; try --max-depth {} (or the `converged` invariant to make such paths findings)",
                max_depth.saturating_mul(2).max(1)
            )
        }
        _ => cut.to_string(),
    }
}

/// The reconcile errors on a path that did not converge: the likely reason
/// it did not.
fn path_errors(out: &mut String, errors: &[PathError]) {
    const SHOWN: usize = 3;
    for e in errors.iter().take(SHOWN) {
        let _ = writeln!(
            out,
            "      error   {} on {} failed {}: {}",
            e.controller,
            e.object,
            plural(e.times, "time", "times"),
            e.message
        );
    }
    if errors.len() > SHOWN {
        let _ = writeln!(
            out,
            "      ... and {} more reconcile errors",
            errors.len() - SHOWN
        );
    }
}

/// Monte Carlo: the trials that did not converge, each with the command
/// that reruns it alone.
fn failing_trials(out: &mut String, o: &Outcome) {
    const SHOWN: usize = 10;
    let failing: Vec<_> = o
        .report
        .trials
        .iter()
        .filter(|t| t.outcome != "converged" && t.outcome != "stopped")
        .collect();
    if failing.is_empty() || o.settings.trial.is_some() {
        return;
    }
    let listed: Vec<String> = failing
        .iter()
        .take(SHOWN)
        .map(|t| format!("{} ({})", t.trial, t.outcome))
        .collect();
    let more = if failing.len() > SHOWN {
        format!(
            ", and {} more (all in --json `trials`)",
            failing.len() - SHOWN
        )
    } else {
        String::new()
    };
    let _ = writeln!(out, "failing    trials {}{more}", listed.join(", "));
    let _ = writeln!(
        out,
        "           rerun one alone: kcheck run {} --trial {} --trace-dir traces",
        shell_word(&o.file),
        failing[0].trial
    );
}

/// The ignored fields that held different values in the states merged
/// into one converged state, one line each (`absent` for a missing field).
fn ignored_lines(out: &mut String, masked: &[MaskedField]) {
    if masked.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "      ignored fields that differed among the merged states:"
    );
    for m in masked {
        let values: Vec<String> = m
            .values
            .iter()
            .map(|v| {
                v.as_ref()
                    .map_or_else(|| "absent".to_string(), |v| v.to_string())
            })
            .collect();
        let _ = writeln!(
            out,
            "        {} {}: {}",
            m.object,
            m.pointer,
            values.join(", ")
        );
    }
}
