//! Bug hunts: a reference run, then the scenario's ordering exploration as
//! the baseline, then one phase per planned perturbation (stale views,
//! crashes, API faults), in parallel. A phase that reaches a converged state
//! the baseline never reaches, breaks an invariant, livelocks or panics is
//! a finding; findings are deduplicated across phases.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

pub mod plan;

use crate::explore::{Converged, Cut, Explorer, FindingKind, Mode, Reduction, Report};
use crate::faults::{ApiFaultSpec, CrashSpec, Faults, WriteFault};
use crate::hash::Digest;
use crate::model::{Choice, Model};
use crate::staleness::{Lag, Staleness, StalenessInterval};

/// What a phase perturbs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhaseKind {
    /// The scenario's own exploration, unperturbed: the baseline.
    Ordering,
    /// One staleness interval from the planner.
    Staleness,
    /// One crash after N writes.
    Crash,
    /// One conflict or server error on a controller's N-th write.
    ApiFault,
    /// One dropped watch event on a controller's N-th write. A dropped event
    /// never arrives, so a controller that relies on it without a resync
    /// stalls: hunts run these phases only when asked.
    WatchDrop,
}

impl PhaseKind {
    /// The kinds a hunt runs unless told otherwise, in order.
    pub const DEFAULT: [PhaseKind; 4] = [
        PhaseKind::Ordering,
        PhaseKind::Staleness,
        PhaseKind::Crash,
        PhaseKind::ApiFault,
    ];

    /// The kind's name: `ordering`, `staleness`, `crash`, `api_fault`.
    pub fn name(self) -> &'static str {
        match self {
            PhaseKind::Ordering => "ordering",
            PhaseKind::Staleness => "staleness",
            PhaseKind::Crash => "crash",
            PhaseKind::ApiFault => "api_fault",
            PhaseKind::WatchDrop => "watch_drop",
        }
    }
}

/// One phase: the perturbation it adds to the scenario.
#[derive(Clone, Debug, PartialEq)]
pub enum Phase {
    /// No perturbation.
    Ordering,
    /// A stale view.
    Staleness(StalenessInterval),
    /// A crash.
    Crash(CrashSpec),
    /// An API fault.
    ApiFault(ApiFaultSpec),
}

impl Phase {
    /// The phase's kind.
    pub fn kind(&self) -> PhaseKind {
        match self {
            Phase::Ordering => PhaseKind::Ordering,
            Phase::Staleness(_) => PhaseKind::Staleness,
            Phase::Crash(_) => PhaseKind::Crash,
            Phase::ApiFault(f) if matches!(f.fault, WriteFault::WatchDrop { .. }) => {
                PhaseKind::WatchDrop
            }
            Phase::ApiFault(_) => PhaseKind::ApiFault,
        }
    }

    /// The model with this phase's perturbation (replacing any the scenario
    /// had).
    pub fn apply(&self, model: &Model) -> Model {
        let model = model.clone();
        match self {
            Phase::Ordering => model,
            Phase::Staleness(i) => model.faults(Faults::default()).staleness(Staleness {
                intervals: vec![i.clone()],
                stale_reads: None,
            }),
            Phase::Crash(c) => model.staleness(Staleness::default()).faults(Faults {
                crashes: vec![c.clone()],
                api_faults: vec![],
            }),
            Phase::ApiFault(f) => model.staleness(Staleness::default()).faults(Faults {
                crashes: vec![],
                api_faults: vec![f.clone()],
            }),
        }
    }

    /// The phase as a scenario file's `perturbations` block, so that a
    /// finding can be pasted into a scenario and run again.
    pub fn perturbations(&self, model: &Model) -> Value {
        let name = |c: usize| model.controller_names()[c].to_string();
        match self {
            Phase::Ordering => json!({}),
            Phase::Staleness(i) => json!({"staleness": [{
                "controller": name(i.controller),
                "kind": i.kind.to_string(),
                "stale_at": i.stale_at,
                "catch_up_at": i.catch_up_at,
                "lag": i.lag,
            }]}),
            Phase::Crash(c) => json!({"crashes": [{
                "controller": name(c.controller),
                "after_writes": c.after_writes,
                "once": c.once,
            }]}),
            Phase::ApiFault(f) => {
                let mut fault = json!({
                    "controller": name(f.controller),
                    "write": f.write,
                });
                match &f.fault {
                    WriteFault::Conflict => fault["fault"] = json!("conflict"),
                    WriteFault::ServerError => fault["fault"] = json!("server_error"),
                    WriteFault::WatchDrop { watcher } => {
                        fault["fault"] = json!("watch_drop");
                        if let Some(w) = watcher {
                            fault["watcher"] = json!(w);
                        }
                    }
                }
                json!({"api_faults": [fault]})
            }
        }
    }

    /// A one-line description, e.g. `crash: replicaset after 1 write`.
    pub fn describe(&self, model: &Model) -> String {
        let name = |c: usize| model.controller_names()[c].to_string();
        match self {
            Phase::Ordering => "ordering: the scenario without perturbations".to_string(),
            Phase::Staleness(i) => {
                let lag = match i.lag {
                    Lag::Frozen => "frozen".to_string(),
                    Lag::Events(n) => format!("{n} events behind"),
                };
                format!(
                    "staleness: {} sees {} {lag} over [{}, {})",
                    name(i.controller),
                    i.kind,
                    i.stale_at,
                    i.catch_up_at
                )
            }
            Phase::Crash(c) => format!(
                "crash: {} after {} write(s){}",
                name(c.controller),
                c.after_writes,
                if c.once { ", once" } else { "" }
            ),
            Phase::ApiFault(f) => {
                let fault = match &f.fault {
                    WriteFault::Conflict => "conflict".to_string(),
                    WriteFault::ServerError => "server error".to_string(),
                    WriteFault::WatchDrop { .. } => "dropped watch event".to_string(),
                };
                format!(
                    "api fault: {fault} on {}'s write {}",
                    name(f.controller),
                    f.write
                )
            }
        }
    }
}

/// How serious a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// A controller panicked or an invariant failed.
    High,
    /// A livelock, or a converged state the baseline never reaches.
    Medium,
    /// A path cut by the depth limit, or a divergence of ordering alone.
    Low,
}

/// What a hunt finding is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HuntFindingKind {
    /// A finding of the phase's exploration (invariant, livelock, panic,
    /// depth limit, or a divergence of the ordering phase).
    Explore(FindingKind),
    /// The perturbation leads to a converged state outside the baseline.
    NewState,
}

impl HuntFindingKind {
    /// Its name: `new_state`, or the exploration finding's.
    pub fn name(&self) -> &'static str {
        match self {
            HuntFindingKind::Explore(k) => k.name(),
            HuntFindingKind::NewState => "new_state",
        }
    }

    fn severity(&self) -> Severity {
        match self {
            HuntFindingKind::Explore(FindingKind::Panic | FindingKind::Invariant) => Severity::High,
            HuntFindingKind::Explore(FindingKind::Livelock) | HuntFindingKind::NewState => {
                Severity::Medium
            }
            HuntFindingKind::Explore(FindingKind::DepthLimit | FindingKind::Divergence) => {
                Severity::Low
            }
        }
    }
}

/// One finding of a hunt.
#[derive(Clone, Debug)]
pub struct HuntFinding {
    /// How serious.
    pub severity: Severity,
    /// What kind.
    pub kind: HuntFindingKind,
    /// The first phase (in phase order) that showed it.
    pub phase: Phase,
    /// What happened.
    pub message: String,
    /// For a new state: the state, with its path and path count.
    pub state: Option<Converged>,
    /// The choices that show it under the phase's perturbation.
    pub path: Vec<Choice>,
    /// How many phases showed it.
    pub phases: u64,
}

/// What one phase covered.
#[derive(Clone, Debug)]
pub struct PhaseResult {
    /// The phase.
    pub phase: Phase,
    /// States explored.
    pub states: u64,
    /// Distinct converged states.
    pub converged: usize,
    /// What cut it short, or kept it from running: empty when it ran to
    /// the end.
    pub cuts: Vec<Cut>,
    /// Whether it ran at all (a budget can skip it).
    pub ran: bool,
}

impl PhaseResult {
    /// Whether it ran to the end.
    pub fn complete(&self) -> bool {
        self.ran && self.cuts.is_empty()
    }
}

/// The result of a hunt.
#[derive(Clone, Debug)]
pub struct HuntReport {
    /// The reference run.
    pub reference: Report,
    /// The unperturbed exploration whose converged states are the baseline.
    pub baseline: Report,
    /// Every planned phase, in order, with what it covered.
    pub phases: Vec<PhaseResult>,
    /// Findings, most severe first.
    pub findings: Vec<HuntFinding>,
    /// States explored in all phases.
    pub states: u64,
    /// Wall-clock seconds.
    pub seconds: f64,
}

impl HuntReport {
    /// Whether the baseline and every phase ran to the end.
    pub fn complete(&self) -> bool {
        self.baseline.complete() && self.phases.iter().all(PhaseResult::complete)
    }
}

/// Progress of a hunt, for progress bars.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HuntProgress {
    /// Phases finished.
    pub phases_done: usize,
    /// Phases planned.
    pub phases: usize,
    /// States explored so far.
    pub states: u64,
}

/// A hunt progress callback.
pub type HuntProgressFn = Arc<dyn Fn(HuntProgress) + Send + Sync>;

/// Builds and runs a hunt: `Hunt::new(model).mode(Mode::Exhaustive).run()`.
#[must_use]
pub struct Hunt {
    model: Model,
    mode: Mode,
    max_depth: u32,
    trials: u64,
    seed: u64,
    reduction: Reduction,
    threads: usize,
    max_states: Option<u64>,
    phase_states: Option<u64>,
    time: Option<Duration>,
    max_memory: Option<u64>,
    kinds: BTreeSet<PhaseKind>,
    stop: Arc<AtomicBool>,
    progress: Option<HuntProgressFn>,
}

impl Hunt {
    /// A hunt over a model: exhaustive phases, depth 60, the default phase
    /// kinds.
    pub fn new(model: Model) -> Self {
        Hunt {
            model,
            mode: Mode::Exhaustive,
            max_depth: 60,
            trials: 100,
            seed: 0,
            reduction: Reduction::Por,
            threads: 0,
            max_states: None,
            phase_states: None,
            time: None,
            max_memory: None,
            kinds: PhaseKind::DEFAULT.into_iter().collect(),
            stop: Arc::new(AtomicBool::new(false)),
            progress: None,
        }
    }

    /// How each phase explores (reference mode is not a search: it is
    /// treated as exhaustive).
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = if mode == Mode::Reference {
            Mode::Exhaustive
        } else {
            mode
        };
        self
    }

    /// Depth limit of every phase.
    pub fn max_depth(mut self, depth: u32) -> Self {
        self.max_depth = depth;
        self
    }

    /// Monte Carlo trials per phase.
    pub fn trials(mut self, trials: u64) -> Self {
        self.trials = trials;
        self
    }

    /// Monte Carlo seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Partial-order reduction in exhaustive phases (on by default; phases
    /// with perturbations run without it).
    pub fn reduction(mut self, reduction: Reduction) -> Self {
        self.reduction = reduction;
        self
    }

    /// Worker threads (0: every core).
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = threads;
        self
    }

    /// Stop starting phases once this many states were explored.
    pub fn max_states(mut self, max: Option<u64>) -> Self {
        self.max_states = max;
        self
    }

    /// Cut each phase after about this many states (default: fifty times
    /// the baseline's states, at least 50,000); a cut phase is reported as
    /// incomplete, and so is the hunt.
    pub fn phase_states(mut self, max: Option<u64>) -> Self {
        self.phase_states = max;
        self
    }

    /// Stop after this much wall-clock time.
    pub fn time_budget(mut self, time: Option<Duration>) -> Self {
        self.time = time;
        self
    }

    /// Stop each phase once the process's resident memory reaches this many
    /// bytes.
    pub fn max_memory(mut self, bytes: Option<u64>) -> Self {
        self.max_memory = bytes;
        self
    }

    /// Only these phase kinds (the baseline always runs).
    pub fn only(mut self, kinds: &[PhaseKind]) -> Self {
        self.kinds = kinds.iter().copied().chain([PhaseKind::Ordering]).collect();
        self
    }

    /// A flag that stops the hunt when set.
    pub fn stop_flag(mut self, stop: Arc<AtomicBool>) -> Self {
        self.stop = stop;
        self
    }

    /// Called as phases finish.
    pub fn progress(mut self, f: HuntProgressFn) -> Self {
        self.progress = Some(f);
        self
    }

    fn explorer(&self, model: Model, threads: usize) -> Explorer {
        Explorer::new(model)
            .mode(self.mode)
            .max_depth(self.max_depth)
            .trials(self.trials)
            .seed(self.seed)
            .reduction(self.reduction)
            .threads(threads)
            .max_memory(self.max_memory)
            .stop_flag(self.stop.clone())
    }

    /// The hunt's own budget that is spent, if any: Ctrl-C, its total
    /// states, its time.
    fn spent(&self, explored: u64, deadline: Option<Instant>) -> Option<Cut> {
        if self.stop.load(Ordering::Relaxed) {
            Some(Cut::Stopped)
        } else if let Some(m) = self.max_states.filter(|&m| explored >= m) {
            Some(Cut::MaxStates(m))
        } else {
            let time = self.time?;
            deadline
                .is_some_and(|d| Instant::now() >= d)
                .then_some(Cut::Time(time))
        }
    }

    /// The phases the hunt plans from a reference run.
    pub fn plan(&self, reference: &Report) -> Vec<Phase> {
        let path = reference
            .converged
            .first()
            .map(|c| c.path.clone())
            .or_else(|| reference.findings.first().map(|f| f.path.clone()))
            .unwrap_or_default();
        let (end, records) = self.model.run_path(&path);
        let mut phases = Vec::new();
        if self.kinds.contains(&PhaseKind::Staleness) {
            let start = self.model.initial();
            let intervals = plan::plan_intervals(&self.model, &records, &start, &end);
            phases.extend(intervals.into_iter().map(Phase::Staleness));
        }
        if self.kinds.contains(&PhaseKind::Crash) {
            phases.extend(
                plan::plan_crashes(&self.model, &records)
                    .into_iter()
                    .map(Phase::Crash),
            );
        }
        let planned = plan::plan_api_faults(&self.model, &records);
        for fault in planned {
            let phase = Phase::ApiFault(fault);
            if self.kinds.contains(&phase.kind()) {
                phases.push(phase);
            }
        }
        phases
    }

    /// Runs the hunt.
    pub fn run(self) -> HuntReport {
        let started = Instant::now();
        let reference = self
            .explorer(self.model.clone(), 1)
            .mode(Mode::Reference)
            .run();
        let remaining = |deadline: Option<Instant>| {
            deadline.map(|d| d.saturating_duration_since(Instant::now()))
        };
        let deadline = self.time.map(|t| started + t);
        let baseline = self
            .explorer(self.model.clone(), self.threads)
            .time_budget(remaining(deadline))
            .run();
        let phases = self.plan(&reference);
        let explored = AtomicU64::new(baseline.stats.states);
        let phase_cap = self
            .phase_states
            .unwrap_or_else(|| (baseline.stats.states * 50).max(50_000));
        let done = AtomicU64::new(0);
        let total = phases.len();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(self.threads)
            .build()
            .expect("a thread pool can be built");
        let results: Vec<(PhaseResult, Option<Report>)> = pool.install(|| {
            phases
                .into_par_iter()
                .map(|phase| {
                    let result =
                        if let Some(cut) = self.spent(explored.load(Ordering::Relaxed), deadline) {
                            skipped(phase, cut)
                        } else {
                            let report = self
                                .explorer(phase.apply(&self.model), 1)
                                .max_states(Some(phase_cap))
                                .time_budget(remaining(deadline))
                                .run();
                            explored.fetch_add(report.stats.states, Ordering::Relaxed);
                            ran(phase, report)
                        };
                    let n = done.fetch_add(1, Ordering::Relaxed) as usize + 1;
                    if let Some(f) = &self.progress {
                        f(HuntProgress {
                            phases_done: n,
                            phases: total,
                            states: explored.load(Ordering::Relaxed),
                        });
                    }
                    result
                })
                .collect()
        });
        let findings = collect_findings(&baseline, &results);
        HuntReport {
            reference,
            baseline,
            phases: results.into_iter().map(|(r, _)| r).collect(),
            findings,
            states: explored.load(Ordering::Relaxed),
            seconds: started.elapsed().as_secs_f64(),
        }
    }
}

fn skipped(phase: Phase, cut: Cut) -> (PhaseResult, Option<Report>) {
    let result = PhaseResult {
        phase,
        states: 0,
        converged: 0,
        cuts: vec![cut],
        ran: false,
    };
    (result, None)
}

fn ran(phase: Phase, report: Report) -> (PhaseResult, Option<Report>) {
    let result = PhaseResult {
        phase,
        states: report.stats.states,
        converged: report.converged.len(),
        cuts: report.cuts.clone(),
        ran: true,
    };
    (result, Some(report))
}

/// Turns the baseline's and the phases' results into deduplicated
/// findings: new states by hash, others by kind and message.
fn collect_findings(
    baseline: &Report,
    results: &[(PhaseResult, Option<Report>)],
) -> Vec<HuntFinding> {
    let known: BTreeSet<Digest> = baseline.hashes().into_iter().collect();
    let mut out: Vec<HuntFinding> = Vec::new();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut add = |key: String, finding: HuntFinding| match seen.get(&key) {
        Some(&i) => out[i].phases += 1,
        None => {
            seen.insert(key, out.len());
            out.push(finding);
        }
    };
    let ordering = std::iter::once((&Phase::Ordering, Some(baseline)));
    let phases = results.iter().map(|(r, rep)| (&r.phase, rep.as_ref()));
    for (phase, report) in ordering.chain(phases) {
        let Some(report) = report else { continue };
        for f in &report.findings {
            if f.kind == FindingKind::Divergence && *phase != Phase::Ordering {
                continue;
            }
            let kind = HuntFindingKind::Explore(f.kind.clone());
            add(
                format!("{}:{}", kind.name(), f.message),
                HuntFinding {
                    severity: kind.severity(),
                    kind,
                    phase: phase.clone(),
                    message: f.message.clone(),
                    state: None,
                    path: f.path.clone(),
                    phases: 1,
                },
            );
        }
        for c in report.converged.iter().filter(|c| !known.contains(&c.hash)) {
            add(
                format!("state:{}", c.hash),
                HuntFinding {
                    severity: Severity::Medium,
                    kind: HuntFindingKind::NewState,
                    phase: phase.clone(),
                    message: format!(
                        "converged state {} is not among the {} baseline state(s)",
                        c.hash.short(),
                        known.len()
                    ),
                    state: Some(c.clone()),
                    path: c.path.clone(),
                    phases: 1,
                },
            );
        }
    }
    out.sort_by_key(|f| f.severity);
    out
}
