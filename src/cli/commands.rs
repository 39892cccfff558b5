//! The subcommands. Each returns the exit code, or an `Err` for bad input
//! (exit code 2).

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use kcheck_engine::scenario::Scenario;
use kcheck_engine::trace::{
    ReplayError, read_trace, render, replay as replay_trace, write_atomically,
};
use kcheck_harnesses::Registry;

use super::args::{CheckArgs, ExploreArgs, ListArgs, RunArgs, TraceArgs};
use super::explore::{self, Expectation, Loaded, Settings, expect_from};
use super::{output, progress};

/// Exit code 1: a finding, a failed expectation, a trace that does not
/// replay.
const FOUND: u8 = 1;
/// Exit code 130: interrupted before anything was found.
const INTERRUPTED: u8 = 130;

/// Prints to stdout, ignoring a closed pipe (`kcheck run ... | head`).
fn say(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

fn load_all(paths: &[std::path::PathBuf], registry: &Registry) -> Result<Vec<Loaded>> {
    paths.iter().map(|p| explore::load(p, registry)).collect()
}

/// 1 for a finding or a failed expectation, then 130 for Ctrl-C, then 1
/// for a search cut short that the user did not accept, else 0.
fn exit_code(failed: bool, interrupted: bool, cut_short: bool) -> ExitCode {
    if failed {
        ExitCode::from(FOUND)
    } else if interrupted {
        ExitCode::from(INTERRUPTED)
    } else if cut_short {
        ExitCode::from(FOUND)
    } else {
        ExitCode::SUCCESS
    }
}

/// `kcheck run`.
pub fn run(args: RunArgs, registry: &Registry) -> Result<ExitCode> {
    if args.graph.is_some() && args.scenarios.len() > 1 {
        bail!("--graph writes the state graph of one scenario; give a single scenario file");
    }
    let loaded = load_all(&args.scenarios, registry)?;
    let settings = loaded
        .iter()
        .map(|l| Settings::resolve(l, &args.explore, args.graph.is_some()))
        .collect::<Result<Vec<_>>>()?;
    let stop = progress::stop_flag();
    let (mut failed, mut interrupted, mut cut_short) = (false, false, false);
    for (i, (l, s)) in loaded.iter().zip(&settings).enumerate() {
        if progress::interrupted() {
            eprintln!("kcheck: not run (interrupted): {}", l.file.display());
            interrupted = true;
            continue;
        }
        let o = explore::run(l, s, args.trace_dir.as_deref(), stop.clone())?;
        if let (Some(file), Some(graph)) = (&args.graph, &o.report.graph) {
            write_atomically(file, graph.to_dot().as_bytes())
                .with_context(|| format!("cannot write the graph {}", file.display()))?;
        }
        if args.json {
            say(&format!("{}\n", output::json(&o)));
        } else {
            if i > 0 {
                say("\n");
            }
            say(&output::human(&o));
            if let Some(file) = &args.graph {
                say(&format!(
                    "graph      {} (Graphviz: dot -Tsvg {} > graph.svg)\n",
                    file.display(),
                    file.display()
                ));
            }
        }
        failed |= o.failed();
        interrupted |= o.interrupted;
        cut_short |= o.cut_short();
    }
    Ok(exit_code(failed, interrupted, cut_short))
}

/// `kcheck check`.
pub fn check(args: CheckArgs, registry: &Registry) -> Result<ExitCode> {
    let loaded = load_all(&args.scenarios, registry)?;
    let overrides = ExploreArgs {
        threads: args.threads,
        reduction: args.reduction,
        ..ExploreArgs::default()
    };
    let settings = loaded
        .iter()
        .map(|l| Settings::resolve(l, &overrides, false))
        .collect::<Result<Vec<_>>>()?;
    let stop = progress::stop_flag();
    let (mut failed, mut interrupted) = (false, false);
    for (l, s) in loaded.iter().zip(&settings) {
        if progress::interrupted() {
            eprintln!("kcheck: not checked (interrupted): {}", l.file.display());
            interrupted = true;
            continue;
        }
        let o = explore::run(l, s, None, stop.clone())?;
        interrupted |= o.interrupted;
        let verdict = if args.update {
            update_expect(l, &o)?
        } else {
            check_expect(l, &o)
        };
        failed |= verdict.is_err();
        say(&match verdict {
            Ok(text) | Err(text) => text,
        });
    }
    Ok(exit_code(failed, interrupted, false))
}

/// What a check found: `Ok` lines for a pass, `Err` lines for a failure.
type Verdict = std::result::Result<String, String>;

/// `3 converged states in 0.12 s`.
fn check_summary(o: &explore::Outcome) -> String {
    let r = &o.report;
    format!(
        "{} converged {} in {:.2} s",
        r.converged.len(),
        if r.converged.len() == 1 {
            "state"
        } else {
            "states"
        },
        r.stats.seconds
    )
}

/// Why a search cut short cannot be checked, with what to do about it.
fn incomplete_text(o: &explore::Outcome) -> String {
    let cuts: Vec<String> = o
        .report
        .cuts
        .iter()
        .map(|c| output::cut_text(c, o))
        .collect();
    cuts.join("; ")
}

/// `kcheck check` of one scenario: the result against its `expect` block.
pub(crate) fn check_expect(l: &Loaded, o: &explore::Outcome) -> Verdict {
    let file = l.file.display();
    let name = &o.name;
    let summary = check_summary(o);
    if !o.report.complete() {
        return Err(format!(
            "FAILED  {name}: the search was cut short ({}); a check never passes an incomplete search\n",
            incomplete_text(o)
        ));
    }
    match &o.expectation {
        Expectation::Compared(problems) if problems.is_empty() => {
            Ok(format!("ok      {name}: {summary}, as expected\n"))
        }
        Expectation::Compared(problems) => {
            let mut out = format!("FAILED  {name}: {summary}, not as expected:\n");
            for p in problems {
                out.push_str(&format!("          {p}\n"));
            }
            out.push_str(&format!(
                "        `kcheck run {file} --trace-dir traces` writes traces of each state and finding; `kcheck check --update {file}` accepts the new result\n"
            ));
            Err(out)
        }
        Expectation::Absent | Expectation::Skipped(_) => Err(format!(
            "FAILED  {name}: the scenario has no `expect` section; `kcheck check --update {file}` records the current result\n"
        )),
    }
}

/// `kcheck check --update` of one scenario: records the result as its
/// `expect` block, unless the search was cut short or found what the block
/// does not already expect.
fn update_expect(l: &Loaded, o: &explore::Outcome) -> Result<Verdict> {
    let file = l.file.display();
    let name = &o.name;
    let r = &o.report;
    if !r.complete() {
        return Ok(Err(format!(
            "FAILED  {name}: not updated: the search was cut short ({})\n",
            incomplete_text(o)
        )));
    }
    let expected = l
        .scenario
        .expect()
        .map(|e| e.findings.as_slice())
        .unwrap_or_default();
    let unexpected: Vec<String> = r
        .findings
        .iter()
        .filter(|f| !expected.contains(&f.kind))
        .map(|f| format!("          {}: {}\n", f.kind.name(), f.message))
        .collect();
    if !unexpected.is_empty() {
        let mut kinds: Vec<&str> = r.findings.iter().map(|f| f.kind.name()).collect();
        kinds.dedup();
        return Ok(Err(format!(
            "FAILED  {name}: not updated: the run has findings that `expect` does not list:\n{}        fix them, or, if the scenario demonstrates them, pin them in {file} with \"expect\": {{\"findings\": {kinds:?}, ...}} and update again\n",
            unexpected.concat(),
        )));
    }
    let mut expect = expect_from(r);
    if explore::reduction_overridden(l, &o.settings) {
        // The states another reduction explores say nothing of the
        // scenario's own: keep what it pinned.
        expect.states = l.scenario.expect().and_then(|e| e.states);
    }
    Scenario::write_expect(&l.file, &expect).map_err(|e| anyhow::anyhow!("{e}"))?;
    let hashes: Vec<String> = r.converged.iter().map(|c| c.hash.short()).collect();
    Ok(Ok(format!(
        "updated {name}: expect {} ({}) written to {file}\n",
        check_summary(o),
        hashes.join(", ")
    )))
}

/// `kcheck replay`.
pub fn replay(args: TraceArgs, registry: &Registry) -> Result<ExitCode> {
    let trace = read_trace(&args.trace)?;
    match replay_trace(&trace, registry) {
        Ok(r) => {
            say(&format!(
                "replayed {}: {} steps of scenario {}, every state hash matches; the path ends {} in state {}\n",
                args.trace.display(),
                r.steps,
                r.scenario,
                r.outcome,
                r.state_hash.short()
            ));
            Ok(ExitCode::SUCCESS)
        }
        Err(e @ ReplayError::Scenario(_)) => {
            bail!("{}: {e}", args.trace.display())
        }
        Err(e) => {
            eprintln!("kcheck: replay of {} FAILED: {e}", args.trace.display());
            Ok(ExitCode::from(FOUND))
        }
    }
}

/// `kcheck show`.
pub fn show(args: TraceArgs) -> Result<ExitCode> {
    let trace = read_trace(&args.trace)?;
    say(&render(&trace));
    Ok(ExitCode::SUCCESS)
}

/// The JSON files in a folder and its subfolders (`scenarios/scale/`),
/// sorted; none if it cannot be read.
fn scenario_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files = Vec::new();
    for path in entries.filter_map(|e| e.ok().map(|e| e.path())) {
        if path.is_dir() {
            files.extend(scenario_files(&path));
        } else if path.extension().is_some_and(|x| x == "json") {
            files.push(path);
        }
    }
    files.sort();
    files
}

/// `kcheck list`.
pub fn list(args: ListArgs, registry: &Registry) -> Result<ExitCode> {
    let mut out = String::from("controllers\n");
    let width = registry
        .entries()
        .iter()
        .map(|e| e.name.len())
        .max()
        .unwrap_or(0);
    for e in registry.entries() {
        out.push_str(&format!("  {:width$}  {}\n", e.name, e.description));
    }
    let dir = &args.scenarios;
    out.push_str(&format!("\nscenarios in {}\n", dir.display()));
    let files = scenario_files(dir);
    if files.is_empty() {
        out.push_str("  none\n");
    }
    for file in files {
        match Scenario::load(&file) {
            Ok(s) => {
                out.push_str(&format!("  {}  ({})\n", s.name(), file.display()));
                if let Some(d) = s.description() {
                    out.push_str(&format!("      {d}\n"));
                }
            }
            Err(e) => out.push_str(&format!("  {}: invalid: {e}\n", file.display())),
        }
    }
    say(&out);
    Ok(ExitCode::SUCCESS)
}
