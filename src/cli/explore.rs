//! Running one scenario: resolve its settings, explore, write its traces and
//! check its expectations. Everything model-related is the engine's; this
//! only wires it to the command line.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use kcheck_engine::explore::{
    self, Cut, Explorer, Finding, FindingKind, Mode, PathError, Reduction, Report, reconcile_errors,
};
use kcheck_engine::hash::Digest;
use kcheck_engine::scenario::{Expect, ExploreOverrides, Scenario};
use kcheck_engine::trace::{FindingInfo, TraceMeta, write_trace};
use kcheck_engine::{Choice, Model};
use kcheck_harnesses::Registry;

use super::args::ExploreArgs;
use super::progress::Progress;

/// A scenario file, parsed and built.
pub struct Loaded {
    /// Where it was read from.
    pub file: PathBuf,
    /// The scenario.
    pub scenario: Scenario,
    /// The model it builds.
    pub model: Model,
}

/// Reads and builds a scenario; the error is the scenario's own message,
/// which names the file and the field.
pub fn load(file: &Path, registry: &Registry) -> Result<Loaded> {
    let scenario = Scenario::load(file).map_err(|e| anyhow::anyhow!("{e}"))?;
    let model = scenario
        .build(registry)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(Loaded {
        file: file.to_path_buf(),
        scenario,
        model,
    })
}

/// The exploration settings of one scenario: its `explore` section with the
/// command line's overrides.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The strategy.
    pub mode: Mode,
    /// The depth limit.
    pub max_depth: u32,
    /// Monte Carlo trials.
    pub trials: u64,
    /// Monte Carlo seed.
    pub seed: u64,
    /// Partial-order reduction in exhaustive mode.
    pub reduction: Reduction,
    /// Monte Carlo: run only this trial.
    pub trial: Option<u64>,
    /// State budget.
    pub max_states: Option<u64>,
    /// Time budget.
    pub time_budget: Option<Duration>,
    /// Memory budget in bytes (by default three quarters of the machine's).
    pub max_memory: Option<u64>,
    /// A search cut short does not fail the run.
    pub allow_incomplete: bool,
    /// Worker threads (0: every core).
    pub threads: usize,
    /// Keep the state graph.
    pub keep_graph: bool,
}

impl Settings {
    /// Validates the overrides against the scenario (stage two of argument
    /// handling).
    pub fn resolve(loaded: &Loaded, args: &ExploreArgs, keep_graph: bool) -> Result<Settings> {
        let mut scenario = loaded.scenario.clone();
        scenario
            .override_explore(&ExploreOverrides {
                mode: args.mode.map(Mode::from),
                max_depth: args.max_depth,
                trials: args.trials,
                seed: args.seed,
                reduction: args.reduction.map(Reduction::from),
            })
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let spec = scenario.explore();
        let name = scenario.name();
        if args.trial.is_some() && spec.mode != Mode::MonteCarlo {
            bail!(
                "--trial only applies to Monte Carlo runs, and scenario {name} runs in {} mode; add --mode montecarlo",
                spec.mode.name()
            );
        }
        if let Some(t) = args.trial
            && t >= spec.trials
        {
            bail!(
                "--trial {t} is beyond scenario {name}'s {} trials (numbered 0 to {}); raise --trials or pick a trial below {}",
                spec.trials,
                spec.trials.saturating_sub(1),
                spec.trials
            );
        }
        if keep_graph && spec.mode != Mode::Exhaustive {
            bail!(
                "--graph needs exhaustive mode, and scenario {name} runs in {} mode; add --mode exhaustive",
                spec.mode.name()
            );
        }
        Ok(Settings {
            mode: spec.mode,
            max_depth: spec.max_depth,
            trials: spec.trials,
            seed: spec.seed,
            reduction: spec.reduction,
            trial: args.trial,
            max_states: args.max_states,
            time_budget: args.time_budget.map(Duration::from_secs),
            max_memory: args
                .max_memory
                .or_else(|| explore::machine_bytes().map(|b| b / 4 * 3)),
            allow_incomplete: args.allow_incomplete,
            threads: args.threads,
            keep_graph,
        })
    }
}

/// What running one scenario gave.
pub struct Outcome {
    /// The scenario's name.
    pub name: String,
    /// Its description.
    pub description: Option<String>,
    /// Its file.
    pub file: PathBuf,
    /// The settings used.
    pub settings: Settings,
    /// What the explorer found.
    pub report: Report,
    /// The trace written for each converged state, when traces are written.
    pub converged_traces: Vec<Option<PathBuf>>,
    /// The trace written for each finding, when traces are written.
    pub finding_traces: Vec<Option<PathBuf>>,
    /// How the result compares with the scenario's `expect`.
    pub expectation: Expectation,
    /// What the user should know that is not a finding.
    pub warnings: Vec<Warning>,
    /// The reconcile errors on each finding's path (livelocks and depth
    /// limits: what kept it from converging).
    pub finding_errors: Vec<Vec<PathError>>,
    /// The reconcile errors on a path cut at the depth limit.
    pub cut_errors: Vec<PathError>,
    /// The run was interrupted (Ctrl-C).
    pub interrupted: bool,
}

/// How a result compares with the scenario's `expect` block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expectation {
    /// The scenario has no `expect` block.
    Absent,
    /// Not compared, and why: one Monte Carlo trial alone says nothing of
    /// the whole run's states.
    Skipped(&'static str),
    /// Compared: the differences, as sentences; empty when it holds.
    Compared(Vec<String>),
}

impl Expectation {
    /// Compared, and it does not hold.
    pub fn failed(&self) -> bool {
        matches!(self, Expectation::Compared(p) if !p.is_empty())
    }
}

/// Something a user should know that is not a finding: a likely mistake in
/// the scenario (the scenario's own warnings), or a user action the server
/// refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    /// `unwatched_kind`, `missing_namespace`, `refused_action`, ...
    pub kind: &'static str,
    /// What happened and what to do, for people.
    pub message: String,
}

impl Outcome {
    /// Findings, or an expectation that does not hold.
    pub fn failed(&self) -> bool {
        !self.report.findings.is_empty() || self.expectation.failed()
    }

    /// The search was cut short and the user did not accept that.
    pub fn cut_short(&self) -> bool {
        !self.report.complete() && !self.settings.allow_incomplete
    }
}

/// Explores one scenario and writes its traces into `trace_dir`.
pub fn run(
    loaded: &Loaded,
    settings: &Settings,
    trace_dir: Option<&Path>,
    stop: Arc<AtomicBool>,
) -> Result<Outcome> {
    let progress = Progress::new(loaded.scenario.name(), settings);
    let mut explorer = Explorer::new(loaded.model.clone())
        .mode(settings.mode)
        .threads(settings.threads)
        .max_depth(settings.max_depth)
        .trials(settings.trials)
        .seed(settings.seed)
        .reduction(settings.reduction)
        .max_states(settings.max_states)
        .time_budget(settings.time_budget)
        .max_memory(settings.max_memory)
        .keep_graph(settings.keep_graph)
        .stop_flag(stop.clone());
    if let Some(i) = settings.trial {
        explorer = explorer.first_trial(i).trials(1);
    }
    if let Some(f) = progress.callback() {
        explorer = explorer.progress(f);
    }
    let report = explorer.run();
    progress.finish();
    let interrupted = super::progress::interrupted();

    let (converged_traces, finding_traces) = match trace_dir {
        Some(dir) => write_traces(dir, loaded, settings, &report)?,
        None => (
            vec![None; report.converged.len()],
            vec![None; report.findings.len()],
        ),
    };
    let expectation = match loaded.scenario.expect() {
        None => Expectation::Absent,
        Some(_) if settings.trial.is_some() => {
            Expectation::Skipped("one trial alone is not the whole run that `expect` describes")
        }
        Some(e) if e.states.is_some() && reduction_overridden(loaded, settings) => {
            let without_states = Expect {
                states: None,
                ..e.clone()
            };
            Expectation::Compared(compare_with_expect(&without_states, &report))
        }
        Some(e) => Expectation::Compared(compare_with_expect(e, &report)),
    };
    let mut warnings: Vec<Warning> = loaded
        .scenario
        .warnings(&loaded.model)
        .iter()
        .map(|w| Warning {
            kind: w.code(),
            message: w.to_string(),
        })
        .collect();
    warnings.extend(refusal_warnings(&loaded.model, &report));
    if reduction_overridden(loaded, settings)
        && loaded.scenario.expect().is_some_and(|e| e.states.is_some())
    {
        warnings.push(Warning {
            kind: "states_not_compared",
            message: format!(
                "expect.states was not compared: it counts the states explored with the scenario's reduction ({}), and this run used --reduction {}",
                loaded.scenario.explore().reduction.name(),
                settings.reduction.name()
            ),
        });
    }
    let finding_errors = report
        .findings
        .iter()
        .map(|f| match f.kind {
            FindingKind::Livelock | FindingKind::DepthLimit => {
                reconcile_errors(&loaded.model, &f.path)
            }
            _ => Vec::new(),
        })
        .collect();
    let cut_errors = report
        .cuts
        .iter()
        .find_map(|c| match c {
            Cut::DepthLimit { example, .. } => Some(reconcile_errors(&loaded.model, example)),
            _ => None,
        })
        .unwrap_or_default();
    Ok(Outcome {
        name: loaded.scenario.name().to_string(),
        description: loaded.scenario.description().map(str::to_string),
        file: loaded.file.clone(),
        settings: settings.clone(),
        report,
        converged_traces,
        finding_traces,
        expectation,
        warnings,
        finding_errors,
        cut_errors,
        interrupted,
    })
}

/// A warning per user action the server refused.
fn refusal_warnings(model: &Model, report: &Report) -> Vec<Warning> {
    report
        .refused
        .iter()
        .map(|r| Warning {
            kind: "refused_action",
            message: format!(
                "{} was refused by the server: {} (it is not retried; check its target and body)",
                model.describe(&Choice::User { index: r.index }),
                r.message
            ),
        })
        .collect()
}

/// Why an expected converged state is missing, with a hint when the file
/// pinned it with hash version 1 (every field counted, `generation`
/// included), which version 2 replaced.
fn not_reached(h: &Digest, report: &Report) -> String {
    let v1 = report
        .converged
        .iter()
        .find(|c| c.world.server.content_hash() == *h);
    match v1 {
        Some(c) => format!(
            "expected state {h} was not reached: it is the version 1 hash of state {}, pinned before converged-state hash version 2 (which leaves generation counters out, see docs/hashing.md); `kcheck check --update` pins the version 2 hash",
            c.hash.short()
        ),
        None => format!("expected state {h} was not reached"),
    }
}

/// Whether `--reduction` asked for another reduction than the scenario's:
/// the number of states explored then differs by design.
pub fn reduction_overridden(loaded: &Loaded, settings: &Settings) -> bool {
    settings.mode == Mode::Exhaustive && settings.reduction != loaded.scenario.explore().reduction
}

/// The differences between a result and an `expect` section, as sentences;
/// empty when it holds.
pub fn compare_with_expect(expect: &Expect, report: &Report) -> Vec<String> {
    let mut problems = Vec::new();
    if let Some(n) = expect.converged_states
        && n != report.converged.len()
    {
        problems.push(format!(
            "converged states: expected {n}, got {}",
            report.converged.len()
        ));
    }
    if let Some(hashes) = &expect.converged_hashes {
        for h in hashes {
            if !report.converged.iter().any(|c| c.hash == *h) {
                problems.push(not_reached(h, report));
            }
        }
        for c in &report.converged {
            if !hashes.contains(&c.hash) {
                problems.push(format!(
                    "state {} was not expected (reached by {} {})",
                    c.hash,
                    c.paths,
                    paths_word(report.mode)
                ));
            }
        }
    }
    if let Some(n) = expect.states
        && n != report.stats.states
        && report.complete()
    {
        problems.push(format!(
            "states explored: expected {n}, got {} (the converged states may agree; the search does not)",
            report.stats.states
        ));
    }
    for f in &report.findings {
        if !expect.findings.contains(&f.kind) {
            problems.push(format!(
                "finding not expected: {}: {}",
                f.kind.name(),
                f.message
            ));
        }
    }
    for kind in &expect.findings {
        if !report.findings.iter().any(|f| f.kind == *kind) {
            problems.push(format!(
                "expected a {} finding, and there was none",
                kind.name()
            ));
        }
    }
    if !problems.is_empty() && !report.complete() {
        problems.push("(the search was incomplete, which may explain the difference)".into());
    }
    problems
}

/// `paths` or `trials`, for counts of converged states.
pub fn paths_word(mode: Mode) -> &'static str {
    match mode {
        Mode::MonteCarlo => "trials",
        _ => "paths",
    }
}

/// The `expect` section that a result would satisfy.
pub fn expect_from(report: &Report) -> Expect {
    let mut hashes: Vec<Digest> = report.hashes();
    hashes.sort();
    let mut findings: Vec<FindingKind> = report.findings.iter().map(|f| f.kind.clone()).collect();
    findings.sort();
    findings.dedup();
    Expect {
        converged_states: Some(report.converged.len()),
        converged_hashes: Some(hashes),
        states: Some(report.stats.states),
        findings,
    }
}

/// A file-name-safe version of a scenario name.
pub fn file_stem(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .collect();
    if s.is_empty() || s.starts_with('.') {
        format!("scenario{s}")
    } else {
        s
    }
}

/// The Monte Carlo trial that produced a finding, when it can be told.
fn trial_of_finding(report: &Report, finding: &Finding) -> Option<u64> {
    if report.mode != Mode::MonteCarlo {
        return None;
    }
    report
        .trials
        .iter()
        .find(|t| t.outcome == finding.kind.name() && t.steps as usize == finding.path.len())
        .map(|t| t.trial)
}

type Traces = (Vec<Option<PathBuf>>, Vec<Option<PathBuf>>);

/// Writes one trace per converged state and one per finding.
fn write_traces(
    dir: &Path,
    loaded: &Loaded,
    settings: &Settings,
    report: &Report,
) -> Result<Traces> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the trace directory {}", dir.display()))?;
    let scenario = &loaded.scenario;
    let stem = file_stem(scenario.name());
    let json = scenario.to_json();
    let meta = |trial: Option<u64>, finding: Option<FindingInfo>| TraceMeta {
        scenario: scenario.name().to_string(),
        scenario_hash: scenario.hash(),
        mode: report.mode,
        seed: settings.seed,
        trial,
        finding,
    };
    let write = |file: PathBuf, meta: TraceMeta, path| -> Result<Option<PathBuf>> {
        write_trace(&loaded.model, &json, &meta, path, &file)
            .with_context(|| format!("cannot write trace {}", file.display()))?;
        Ok(Some(file))
    };
    let mut converged = Vec::new();
    for c in &report.converged {
        let trial = report
            .trials
            .iter()
            .find(|t| t.hash == Some(c.hash))
            .map(|t| t.trial);
        let file = dir.join(format!("{stem}-converged-{}.jsonl", c.hash.short()));
        converged.push(write(file, meta(trial, None), &c.path)?);
    }
    let mut findings = Vec::new();
    let mut counts = std::collections::BTreeMap::<&str, usize>::new();
    for f in &report.findings {
        let n = counts.entry(f.kind.name()).or_default();
        *n += 1;
        let trial = if f.kind.name() == "divergence" {
            report
                .converged
                .get(1)
                .and_then(|c| report.trials.iter().find(|t| t.hash == Some(c.hash)))
                .map(|t| t.trial)
        } else {
            trial_of_finding(report, f)
        };
        let info = FindingInfo {
            kind: f.kind.name().to_string(),
            message: f.message.clone(),
        };
        let file = dir.join(format!("{stem}-{}-{n}.jsonl", f.kind.name()));
        findings.push(write(file, meta(trial, Some(info)), &f.path)?);
    }
    Ok((converged, findings))
}
