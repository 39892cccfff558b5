//! `kcheck hunt`: run the engine's hunt and write one folder per finding,
//! each with a REPORT.md and a replayable trace.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result, bail};
use kcheck_engine::Model;
use kcheck_engine::explore::{Cut, Mode, ObjectDiff, diff_states};
use kcheck_engine::hash::Digest;
use kcheck_engine::hunt::{Hunt, HuntFinding, HuntProgress, HuntReport, Phase, PhaseKind};
use kcheck_engine::scenario::Scenario;
use kcheck_engine::trace::{
    FindingInfo, TraceMeta, render, replay_model, write_atomically, write_trace,
};
use serde_json::{Value, json};

use super::args::{HuntArgs, PhaseArg};
use super::explore::{self, Loaded, Settings, file_stem};
use super::progress;
use kcheck_harnesses::Registry;

/// One finding as written to disk.
struct Written {
    folder: PathBuf,
    trace: PathBuf,
    /// None: the trace replays; Some: why it does not.
    replay_problem: Option<String>,
}

/// `kcheck hunt`.
pub fn hunt(args: HuntArgs, registry: &Registry) -> Result<ExitCode> {
    let loaded = explore::load(&args.scenario, registry)?;
    if args.explore.trial.is_some() {
        bail!("--trial does not apply to hunts");
    }
    let settings = Settings::resolve(&loaded, &args.explore, false)?;
    let kinds: Vec<PhaseKind> = args
        .only
        .iter()
        .map(|k| match k {
            PhaseArg::Staleness => PhaseKind::Staleness,
            PhaseArg::Crash => PhaseKind::Crash,
            PhaseArg::ApiFault => PhaseKind::ApiFault,
            PhaseArg::WatchDrop => PhaseKind::WatchDrop,
        })
        .collect();
    let stop = progress::stop_flag();
    let mut hunt = Hunt::new(loaded.model.clone())
        .mode(settings.mode)
        .max_depth(settings.max_depth)
        .trials(settings.trials)
        .seed(settings.seed)
        .reduction(settings.reduction)
        .threads(settings.threads)
        .max_states(settings.max_states)
        .time_budget(settings.time_budget)
        .max_memory(settings.max_memory)
        .stop_flag(stop);
    if !kinds.is_empty() {
        hunt = hunt.only(&kinds);
    }
    let bar = progress::hunt_bar(loaded.scenario.name());
    let mut heartbeat = None;
    if let Some(bar) = bar.clone() {
        hunt = hunt.progress(Arc::new(move |p: HuntProgress| {
            bar.set_length(p.phases as u64);
            bar.set_position(p.phases_done as u64);
            bar.set_message(format!("{} states", p.states));
        }));
    } else {
        let latest = Arc::new(Mutex::new(None::<HuntProgress>));
        let seen = latest.clone();
        heartbeat = Some(progress::Heartbeat::start(
            format!("hunt {}", loaded.scenario.name()),
            move |_| match *seen.lock().expect("progress lock") {
                Some(p) => format!("{}/{} phases, {} states", p.phases_done, p.phases, p.states),
                None => "reference run and baseline".to_string(),
            },
        ));
        hunt = hunt.progress(Arc::new(move |p: HuntProgress| {
            *latest.lock().expect("progress lock") = Some(p);
        }));
    }
    let report = hunt.run();
    drop(heartbeat);
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let interrupted = progress::interrupted();

    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let mut written = Vec::new();
    for (i, f) in report.findings.iter().enumerate() {
        written.push(write_finding(
            &args.out, &loaded, registry, &settings, &report, i, f,
        )?);
    }
    let summary = human(&loaded, &settings, &report, &written, interrupted);
    write_summary(&args.out, loaded.scenario.name(), &summary)?;
    if args.json {
        let line = json_result(&loaded, &settings, &report, &written, interrupted);
        println!("{line}");
    } else {
        print!("{summary}");
    }
    Ok(if !report.findings.is_empty() {
        ExitCode::from(1)
    } else if interrupted {
        ExitCode::from(130)
    } else if !report.complete() && !settings.allow_incomplete {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Writes `DIR/SUMMARY.md`: what the hunt covered and its findings, most
/// severe first, each with its report and replay command.
fn write_summary(out: &Path, scenario: &str, summary: &str) -> Result<()> {
    let text = format!(
        "# Hunt of {scenario}\n\nFindings are listed most severe first; each folder holds a REPORT.md and a trace.jsonl that `kcheck replay` verifies.\n\n```text\n{summary}```\n"
    );
    let file = out.join("SUMMARY.md");
    write_atomically(&file, text.as_bytes())
        .with_context(|| format!("cannot write {}", file.display()))
}

/// The scenario of one phase: the file with the phase's perturbations in
/// place of its own (the ordering phase keeps the file as it is), so that
/// the trace's embedded scenario rebuilds the model the phase explored.
fn phase_scenario(
    loaded: &Loaded,
    registry: &Registry,
    phase: &Phase,
) -> (Value, Result<(Scenario, Model), String>) {
    let mut json = loaded.scenario.to_json();
    if *phase != Phase::Ordering
        && let Some(map) = json.as_object_mut()
    {
        map.insert("perturbations".into(), phase.perturbations(&loaded.model));
    }
    let built = Scenario::from_value(json.clone())
        .map_err(|e| e.to_string())
        .and_then(|s| s.build(registry).map(|m| (s, m)).map_err(|e| e.to_string()));
    (json, built)
}

fn write_finding(
    out: &Path,
    loaded: &Loaded,
    registry: &Registry,
    settings: &Settings,
    report: &HuntReport,
    index: usize,
    f: &HuntFinding,
) -> Result<Written> {
    let stem = file_stem(loaded.scenario.name());
    let folder = out.join(format!("{stem}-{:02}-{}", index + 1, f.kind.name()));
    std::fs::create_dir_all(&folder)
        .with_context(|| format!("cannot create {}", folder.display()))?;
    let trace_file = folder.join("trace.jsonl");
    let (json, built) = phase_scenario(loaded, registry, &f.phase);
    let phase_model = f.phase.apply(&loaded.model);
    let (model, hash, mut problem) = match built {
        Ok((s, m)) => (m, s.hash(), None),
        Err(e) => (
            phase_model,
            loaded.scenario.hash(),
            Some(format!("the phase's scenario cannot be rebuilt: {e}")),
        ),
    };
    let meta = TraceMeta {
        scenario: loaded.scenario.name().to_string(),
        scenario_hash: hash,
        mode: settings.mode,
        seed: settings.seed,
        trial: None,
        finding: Some(FindingInfo {
            kind: f.kind.name().to_string(),
            message: f.message.clone(),
        }),
    };
    let trace = write_trace(&model, &json, &meta, &f.path, &trace_file)
        .with_context(|| format!("cannot write {}", trace_file.display()))?;
    if problem.is_none() {
        problem = replay_model(&trace, &model).err().map(|e| e.to_string());
    }
    let text = report_md(loaded, report, f, &trace, problem.as_deref());
    let report_file = folder.join("REPORT.md");
    write_atomically(&report_file, text.as_bytes())
        .with_context(|| format!("cannot write {}", report_file.display()))?;
    Ok(Written {
        folder,
        trace: trace_file,
        replay_problem: problem,
    })
}

fn differences_from_baseline(
    report: &HuntReport,
    f: &HuntFinding,
) -> Option<(Digest, Vec<ObjectDiff>)> {
    let state = f.state.as_ref()?;
    let base = report.baseline.converged.first()?;
    Some((
        base.hash,
        diff_states(&base.world.server, &state.world.server),
    ))
}

fn report_md(
    loaded: &Loaded,
    report: &HuntReport,
    f: &HuntFinding,
    trace: &kcheck_engine::trace::Trace,
    problem: Option<&str>,
) -> String {
    let mut md = String::new();
    let name = loaded.scenario.name();
    let _ = writeln!(md, "# {} in {name}\n", f.kind.name());
    let _ = writeln!(md, "{}\n", f.message);
    let _ = writeln!(md, "- severity: {:?}", f.severity);
    let _ = writeln!(md, "- scenario: `{}` ({name})", loaded.file.display());
    let _ = writeln!(md, "- phase: {}", f.phase.describe(&loaded.model));
    let _ = writeln!(md, "- seen in {} phase(s)", f.phases);
    let _ = writeln!(md, "- path: {} steps", f.path.len());
    let _ = writeln!(
        md,
        "- baseline: {} converged state(s): {}",
        report.baseline.converged.len(),
        report
            .baseline
            .converged
            .iter()
            .map(|c| format!("`{}`", c.hash.short()))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if let Some(s) = &f.state {
        let _ = writeln!(md, "- new state: `{}`", s.hash);
    }
    let _ = writeln!(md, "\n## Reproduce\n");
    let _ = writeln!(
        md,
        "```sh\nkcheck replay trace.jsonl\nkcheck show trace.jsonl\n```\n"
    );
    match problem {
        None => {
            let _ = writeln!(md, "The trace replays: every state hash matches.\n");
        }
        Some(p) => {
            let _ = writeln!(md, "**The trace does not replay:** {p}\n");
        }
    }
    if f.phase != Phase::Ordering {
        let _ = writeln!(
            md,
            "To explore the scenario under this perturbation, give it this `perturbations` block:\n"
        );
        let block =
            serde_json::to_string_pretty(&f.phase.perturbations(&loaded.model)).unwrap_or_default();
        let _ = writeln!(md, "```json\n{block}\n```\n");
    }
    if let Some((base, diffs)) = differences_from_baseline(report, f) {
        let _ = writeln!(
            md,
            "## How the new state differs from baseline state `{}`\n",
            base.short()
        );
        let _ = writeln!(md, "```");
        for d in diffs {
            match d {
                ObjectDiff::Added { key } => {
                    let _ = writeln!(md, "+ {key}");
                }
                ObjectDiff::Removed { key } => {
                    let _ = writeln!(md, "- {key}");
                }
                ObjectDiff::Changed { key, fields } => {
                    let _ = writeln!(md, "~ {key}");
                    for c in fields {
                        let v = |x: &Option<Value>| {
                            x.as_ref().map_or("(absent)".to_string(), Value::to_string)
                        };
                        let _ =
                            writeln!(md, "    {}: {} -> {}", c.pointer, v(&c.before), v(&c.after));
                    }
                }
            }
        }
        let _ = writeln!(md, "```\n");
    }
    let _ = writeln!(md, "## The trace\n");
    let _ = writeln!(md, "```\n{}```", render(trace));
    md
}

fn phase_counts(report: &HuntReport) -> (usize, usize, Vec<String>) {
    let planned = report.phases.len();
    let ran = report.phases.iter().filter(|p| p.ran).count();
    let mut kinds = std::collections::BTreeMap::<&str, usize>::new();
    for p in &report.phases {
        *kinds.entry(p.phase.kind().name()).or_default() += 1;
    }
    let kinds = kinds.into_iter().map(|(k, n)| format!("{n} {k}")).collect();
    (planned, ran, kinds)
}

fn human(
    loaded: &Loaded,
    settings: &Settings,
    report: &HuntReport,
    written: &[Written],
    interrupted: bool,
) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "hunt       {}", loaded.scenario.name());
    let _ = writeln!(out, "file       {}", loaded.file.display());
    match report.reference.converged.first() {
        Some(c) => {
            let _ = writeln!(
                out,
                "reference  converged in {} steps to {}",
                c.path.len(),
                c.hash.short()
            );
        }
        None => {
            let _ = writeln!(out, "reference  did not converge");
        }
    }
    let base: Vec<String> = report
        .baseline
        .converged
        .iter()
        .map(|c| c.hash.short())
        .collect();
    let _ = writeln!(
        out,
        "baseline   {} ({} states): {} converged state(s) {}",
        match settings.mode {
            Mode::MonteCarlo => "montecarlo",
            _ => "exhaustive",
        },
        report.baseline.stats.states,
        base.len(),
        base.join(", ")
    );
    let (planned, ran, kinds) = phase_counts(report);
    let _ = writeln!(
        out,
        "phases     {planned} planned ({}), {ran} run; {} states in {:.2} s",
        if kinds.is_empty() {
            "none".to_string()
        } else {
            kinds.join(", ")
        },
        report.states,
        report.seconds
    );
    if !report.complete() {
        incomplete_lines(&mut out, loaded, report, interrupted);
    }
    if report.findings.is_empty() {
        let _ = writeln!(out, "findings   none");
    } else {
        let _ = writeln!(out, "findings   {}", report.findings.len());
    }
    for (f, w) in report.findings.iter().zip(written) {
        let _ = writeln!(out, "  [{:?}] {}: {}", f.severity, f.kind.name(), f.message);
        let _ = writeln!(
            out,
            "      phase   {} (seen in {} phase(s))",
            f.phase.describe(&loaded.model),
            f.phases
        );
        let _ = writeln!(
            out,
            "      report  {}",
            w.folder.join("REPORT.md").display()
        );
        let _ = writeln!(out, "      replay  kcheck replay {}", w.trace.display());
        if let Some(p) = &w.replay_problem {
            let _ = writeln!(out, "      WARNING the trace does not replay: {p}");
        }
    }
    let result = if !report.findings.is_empty() {
        "FINDINGS"
    } else if report.complete() {
        "ok"
    } else if settings.allow_incomplete {
        "ok, incomplete (nothing found in what was explored; accepted: --allow-incomplete)"
    } else {
        "INCOMPLETE (nothing found in what was explored; --allow-incomplete accepts a hunt cut short)"
    };
    let _ = writeln!(out, "result     {result}");
    out
}

/// What a cut means in a hunt, with the flag that changes it.
fn hunt_cut_text(cut: &Cut, interrupted: bool) -> String {
    match cut {
        Cut::Stopped if interrupted => "interrupted by Ctrl-C".to_string(),
        Cut::MaxStates(_) => format!(
            "{cut} (a phase stops at 50 times the baseline's states, at least 50,000; the whole hunt at --max-states)"
        ),
        Cut::Time(_) => format!("{cut} (--time-budget)"),
        Cut::Memory { .. } => format!("{cut} (--max-memory)"),
        Cut::DepthLimit { max_depth, .. } => format!(
            "{cut}; try --max-depth {}",
            max_depth.saturating_mul(2).max(1)
        ),
        _ => cut.to_string(),
    }
}

/// The baseline and the phases that did not run to the end, each with
/// what cut it.
fn incomplete_parts(
    loaded: &Loaded,
    report: &HuntReport,
    interrupted: bool,
) -> Vec<(String, Vec<String>)> {
    let text = |ran: bool, cuts: &[Cut]| -> Vec<String> {
        let how = if ran { "cut short" } else { "not run" };
        cuts.iter()
            .map(|c| format!("{how}: {}", hunt_cut_text(c, interrupted)))
            .collect()
    };
    let mut out = Vec::new();
    if !report.baseline.complete() {
        out.push(("baseline".to_string(), text(true, &report.baseline.cuts)));
    }
    for p in report.phases.iter().filter(|p| !p.complete()) {
        out.push((p.phase.describe(&loaded.model), text(p.ran, &p.cuts)));
    }
    out
}

/// `status INCOMPLETE` and a line per part that was cut, grouped by why.
fn incomplete_lines(out: &mut String, loaded: &Loaded, report: &HuntReport, interrupted: bool) {
    const SHOWN: usize = 3;
    let mut by_cut: Vec<(String, Vec<String>)> = Vec::new();
    for (part, cuts) in incomplete_parts(loaded, report, interrupted) {
        let why = cuts.join("; ");
        match by_cut.iter_mut().find(|(w, _)| *w == why) {
            Some((_, parts)) => parts.push(part),
            None => by_cut.push((why, vec![part])),
        }
    }
    let _ = writeln!(out, "status     INCOMPLETE");
    for (why, parts) in by_cut {
        let who = match parts.as_slice() {
            [one] => one.clone(),
            _ if parts.iter().any(|p| p == "baseline") => format!("{} parts", parts.len()),
            _ => format!("{} phases", parts.len()),
        };
        let _ = writeln!(out, "  {who}: {why}");
        if parts.len() > 1 {
            for p in parts.iter().take(SHOWN) {
                let _ = writeln!(out, "      {p}");
            }
            if parts.len() > SHOWN {
                let _ = writeln!(out, "      ... and {} more", parts.len() - SHOWN);
            }
        }
    }
}

fn json_result(
    loaded: &Loaded,
    settings: &Settings,
    report: &HuntReport,
    written: &[Written],
    interrupted: bool,
) -> Value {
    let (planned, ran, _) = phase_counts(report);
    json!({
        "scenario": loaded.scenario.name(),
        "file": loaded.file.display().to_string(),
        "mode": settings.mode.name(),
        "complete": report.complete(),
        "incomplete": incomplete_parts(loaded, report, interrupted)
            .into_iter()
            .map(|(part, cuts)| json!({"phase": part, "cuts": cuts}))
            .collect::<Vec<_>>(),
        "interrupted": interrupted,
        "reference": report.reference.converged.first().map(|c| json!({
            "hash": c.hash.to_hex(),
            "steps": c.path.len(),
        })),
        "baseline": {
            "states": report.baseline.stats.states,
            "converged_states": report.baseline.converged.iter().map(|c| json!({
                "hash": c.hash.to_hex(),
                "paths": u64::try_from(c.paths).map_or_else(|_| json!(c.paths as f64), |n| json!(n)),
            })).collect::<Vec<_>>(),
        },
        "phases": {"planned": planned, "ran": ran},
        "findings": report.findings.iter().zip(written).map(|(f, w)| json!({
            "severity": f.severity,
            "kind": f.kind.name(),
            "message": f.message,
            "phase": f.phase.describe(&loaded.model),
            "phases": f.phases,
            "new_state": f.state.as_ref().map(|s| s.hash.to_hex()),
            "folder": w.folder.display().to_string(),
            "trace": w.trace.display().to_string(),
            "replays": w.replay_problem.is_none(),
        })).collect::<Vec<_>>(),
        "stats": {"states": report.states, "seconds": report.seconds},
    })
}
