//! A trace for people: one block per step, each write with the fields it
//! changed.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::Value;

use super::format::{Trace, TraceWrite};
use crate::api::{ObjectKey, meta};
use crate::explore::{FieldChange, diff_values};

/// Changed fields shown per write before eliding the rest.
const MAX_FIELDS: usize = 40;

/// Renders a trace readably, as `kcheck show` prints it.
pub fn render(trace: &Trace) -> String {
    let h = &trace.header;
    let mut out = String::new();
    let _ = writeln!(out, "scenario  {}", h.scenario);
    let _ = writeln!(
        out,
        "mode      {}{}",
        h.mode.name(),
        match (h.mode, h.trial) {
            (crate::explore::Mode::MonteCarlo, Some(t)) => format!(" (seed {}, trial {t})", h.seed),
            (crate::explore::Mode::MonteCarlo, None) => format!(" (seed {})", h.seed),
            _ => String::new(),
        }
    );
    if let Some(f) = &h.finding {
        let _ = writeln!(out, "finding   {}: {}", f.kind, f.message);
    }
    if !h.perturbations.is_null() {
        let _ = writeln!(out, "perturbed {}", h.perturbations);
    }
    let _ = writeln!(out, "steps     {}", trace.steps.len());
    let _ = writeln!(out);

    // The latest version of every object, to diff writes against.
    let mut latest: BTreeMap<String, Value> = BTreeMap::new();
    let _ = writeln!(out, "initial state ({} objects)", h.initial_objects.len());
    for object in &h.initial_objects {
        let id = object_id(object);
        let _ = writeln!(out, "  {id}");
        latest.insert(id, object.clone());
    }

    for step in &trace.steps {
        let _ = writeln!(out);
        let what = match (step.request.action, &step.request.object) {
            (Some(_), _) => step.request.to_string(),
            (None, Some(object)) => format!("{} reconciles {object}", step.actor),
            (None, None) => step.actor.clone(),
        };
        let _ = writeln!(
            out,
            "step {}  {what}  -> {}{}",
            step.depth,
            step.outcome,
            step.message
                .as_ref()
                .map(|m| format!(": {m}"))
                .unwrap_or_default()
        );
        for view in &step.stale_views {
            let _ = writeln!(
                out,
                "  stale view: {} as of its event {}",
                view.kind, view.seq
            );
        }
        for read in &step.stale_reads {
            let _ = writeln!(
                out,
                "  stale read: {} (saw rv {}, server had rv {})",
                read.object,
                rv_text(read.observed_rv),
                rv_text(read.current_rv)
            );
        }
        if step.writes.is_empty() {
            let _ = writeln!(out, "  no writes");
        }
        for write in &step.writes {
            render_write(&mut out, write, &mut latest);
        }
        for t in &step.triggered {
            let _ = writeln!(out, "  triggered: {} {}", t.controller, t.object);
        }
        let _ = writeln!(out, "  state {}", step.state_hash.short());
    }

    let _ = writeln!(out);
    let e = &trace.end;
    let _ = writeln!(
        out,
        "end  {}{}  state {}",
        e.outcome,
        e.message
            .as_ref()
            .map(|m| format!(": {m}"))
            .unwrap_or_default(),
        e.state_hash.short()
    );
    let _ = writeln!(out, "  {} objects:", e.objects.len());
    for object in &e.objects {
        let _ = writeln!(out, "    {}", object_id(object));
    }
    if !e.pending.is_empty() {
        let _ = writeln!(out, "  still pending:");
        for p in &e.pending {
            let _ = writeln!(out, "    {} {}", p.controller, p.object);
        }
    }
    out
}

fn rv_text(rv: Option<u64>) -> String {
    rv.map_or_else(|| "none".to_string(), |rv| rv.to_string())
}

fn key_id(key: &ObjectKey) -> String {
    key.to_string()
}

/// `Kind.group namespace/name` of a stored object.
fn object_id(object: &Value) -> String {
    let api_version = object
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("");
    let kind = object.get("kind").and_then(Value::as_str).unwrap_or("?");
    let key = ObjectKey::new(
        crate::api::GroupKind::from_api_version(api_version, kind),
        meta::namespace(object),
        meta::name(object).unwrap_or("?"),
    );
    key_id(&key)
}

fn render_write(out: &mut String, w: &TraceWrite, latest: &mut BTreeMap<String, Value>) {
    let target = w.object.as_ref().map(key_id);
    let mut line = format!(
        "  {} {}",
        w.verb,
        target.clone().unwrap_or_else(|| "(unnamed object)".into())
    );
    if let Some(rv) = w.rv {
        let _ = write!(line, "  rv {rv}");
    }
    if w.noop {
        line.push_str("  no-op");
    }
    if let Some(fault) = &w.fault {
        let _ = write!(
            line,
            "  injected fault: {}",
            serde_json::to_string(fault).unwrap_or_default()
        );
    }
    if let Some(e) = &w.error {
        let _ = write!(line, "  failed: {:?} ({}): {}", e.reason, e.code, e.message);
    }
    if let Some(event) = &w.event {
        let _ = write!(line, "  [{event}]");
    }
    let _ = writeln!(out, "{line}");
    let (Some(target), Some(stored)) = (target, &w.stored) else {
        return;
    };
    if w.noop {
        return;
    }
    if w.event.as_deref() == Some("deleted") {
        latest.remove(&target);
        return;
    }
    let before = latest.get(&target).cloned().unwrap_or(Value::Null);
    let changes = diff_values(&before, stored);
    // An empty map or list that gained entries shows as its entries only.
    let filled = |c: &FieldChange| {
        let was_empty = matches!(&c.before, Some(Value::Object(m)) if m.is_empty())
            || matches!(&c.before, Some(Value::Array(a)) if a.is_empty());
        was_empty
            && c.after.is_none()
            && changes
                .iter()
                .any(|d| d.pointer.starts_with(&format!("{}/", c.pointer)))
    };
    let changes: Vec<&FieldChange> = changes
        .iter()
        .filter(|c| !c.pointer.is_empty() && !filled(c))
        .collect();
    for c in changes.iter().take(MAX_FIELDS) {
        let text = match (&c.before, &c.after) {
            (None, Some(a)) => format!("+ {} = {a}", c.pointer),
            (Some(b), None) => format!("- {} (was {b})", c.pointer),
            (Some(b), Some(a)) => format!("~ {}: {b} -> {a}", c.pointer),
            (None, None) => continue,
        };
        let _ = writeln!(out, "      {text}");
    }
    if changes.len() > MAX_FIELDS {
        let _ = writeln!(
            out,
            "      ... and {} more fields",
            changes.len() - MAX_FIELDS
        );
    }
    latest.insert(target, stored.clone());
}
