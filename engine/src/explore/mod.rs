//! Exploring a model: one deterministic run, every ordering, or random
//! orderings, in parallel, with results identical for any thread count.
//!
//! ```
//! use kcheck_engine::api::ApiServer;
//! use kcheck_engine::explore::{Explorer, Mode};
//! use kcheck_engine::Model;
//!
//! let report = Explorer::new(Model::new(ApiServer::new()))
//!     .mode(Mode::Exhaustive)
//!     .threads(2)
//!     .run();
//! assert_eq!(report.converged.len(), 1); // nothing to do: one state
//! assert!(!report.divergent());
//! ```

mod budget;
mod diff;
mod exhaustive;
mod graph;
mod montecarlo;
mod reduction;
mod reference;
mod report;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use budget::Budget;
pub use budget::{Cut, format_bytes, machine_bytes, resident_bytes};
pub use diff::{FieldChange, ObjectDiff, diff_states, diff_values};
pub use graph::StateGraph;
pub use montecarlo::trial_rng;
pub use reduction::{Reduction, ReductionStats};
pub use report::{
    Converged, Finding, FindingKind, MaskedField, RefusedAction, Report, Stats, TrialSummary,
};

use crate::model::StepOutcome;
use crate::model::{Choice, Model};

/// How to explore.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// One deterministic run, requests taken first-in first-out.
    Reference,
    /// Every ordering of pending requests, deduplicating states.
    Exhaustive,
    /// Random orderings: `trials` runs, trial `i` seeded from `(seed, i)`.
    #[serde(rename = "montecarlo")]
    MonteCarlo,
}

impl Mode {
    /// The mode's name in scenario files and results.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Reference => "reference",
            Mode::Exhaustive => "exhaustive",
            Mode::MonteCarlo => "montecarlo",
        }
    }
}

/// Progress of a running exploration, for progress bars.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    /// Distinct states (exhaustive) or steps (other modes) so far.
    pub states: u64,
    /// Transitions taken so far.
    pub transitions: u64,
    /// Deepest level reached.
    pub depth: u32,
    /// Monte Carlo trials finished.
    pub trials_done: u64,
}

/// A progress callback.
pub type ProgressFn = Arc<dyn Fn(Progress) + Send + Sync>;

/// Settings shared by every strategy.
#[derive(Clone)]
pub(crate) struct Settings {
    pub(crate) max_depth: u32,
    pub(crate) trials: u64,
    pub(crate) first_trial: u64,
    pub(crate) seed: u64,
    pub(crate) keep_graph: bool,
    pub(crate) budget: Budget,
    pub(crate) progress: Option<ProgressFn>,
    /// Partial-order reduction in exhaustive mode.
    pub(crate) reduction: Reduction,
    /// States explored before this search, by earlier searches of the same
    /// run (reduction explores groups one after another): budgets and
    /// progress count them too.
    pub(crate) states_before: u64,
}

impl Settings {
    /// Whether the stop flag is set (cheap enough for every step).
    pub(crate) fn stopped(&self) -> bool {
        self.budget.stopped()
    }

    pub(crate) fn report_progress(&self, p: Progress) {
        if let Some(f) = &self.progress {
            f(p);
        }
    }
}

/// One exploration strategy.
pub(crate) trait Strategy {
    /// Explores the model; the report's `stats.seconds` and `threads` are
    /// filled in by the caller.
    fn explore(&self, model: &Model, settings: &Settings) -> Report;
}

/// Builds and runs an exploration, like stateright's `CheckerBuilder`:
/// `Explorer::new(model).mode(Mode::Exhaustive).threads(2).run()`.
#[must_use]
pub struct Explorer {
    model: Model,
    mode: Mode,
    threads: usize,
    settings: Settings,
}

impl Explorer {
    /// An explorer of a model: exhaustive, depth 60, all cores.
    pub fn new(model: Model) -> Self {
        Explorer {
            model,
            mode: Mode::Exhaustive,
            threads: 0,
            settings: Settings {
                max_depth: 60,
                trials: 100,
                first_trial: 0,
                seed: 0,
                keep_graph: false,
                budget: Budget::new(),
                progress: None,
                reduction: Reduction::Por,
                states_before: 0,
            },
        }
    }

    /// The strategy.
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// Worker threads; 0 uses every core. Results do not depend on it.
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = threads;
        self
    }

    /// Steps after which a path is cut.
    pub fn max_depth(mut self, depth: u32) -> Self {
        self.settings.max_depth = depth;
        self
    }

    /// Monte Carlo trials.
    pub fn trials(mut self, trials: u64) -> Self {
        self.settings.trials = trials;
        self
    }

    /// Monte Carlo: the number of the first trial (to replay trial `i`
    /// alone: `.first_trial(i).trials(1)`).
    pub fn first_trial(mut self, first: u64) -> Self {
        self.settings.first_trial = first;
        self
    }

    /// Monte Carlo seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.settings.seed = seed;
        self
    }

    /// Stop cleanly after about this many states (the report says it is
    /// incomplete, and why).
    pub fn max_states(mut self, max: Option<u64>) -> Self {
        self.settings.budget.max_states = max;
        self
    }

    /// Stop cleanly after about this much time, counted from `run`.
    pub fn time_budget(mut self, time: Option<Duration>) -> Self {
        self.settings.budget.time = time;
        self
    }

    /// Stop cleanly once the process's resident memory reaches this many
    /// bytes (checked where the platform tells it: Linux).
    pub fn max_memory(mut self, bytes: Option<u64>) -> Self {
        self.settings.budget.max_memory = bytes;
        self
    }

    /// Partial-order reduction in exhaustive mode (on by default).
    pub fn reduction(mut self, reduction: Reduction) -> Self {
        self.settings.reduction = reduction;
        self
    }

    /// Keep the explored state graph (exhaustive mode) for export.
    pub fn keep_graph(mut self, keep: bool) -> Self {
        self.settings.keep_graph = keep;
        self
    }

    /// A flag that stops the search when set (e.g. on Ctrl-C); what was
    /// found so far is still reported.
    pub fn stop_flag(mut self, stop: Arc<AtomicBool>) -> Self {
        self.settings.budget.stop = stop;
        self
    }

    /// Called with progress now and then.
    pub fn progress(mut self, f: ProgressFn) -> Self {
        self.settings.progress = Some(f);
        self
    }

    /// Runs the exploration.
    pub fn run(mut self) -> Report {
        let started = Instant::now();
        self.settings.budget.started = started;
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(self.threads)
            .build()
            .expect("a thread pool can be built");
        let threads = pool.current_num_threads();
        let strategy: Box<dyn Strategy + Send + Sync> = match self.mode {
            Mode::Reference => Box::new(reference::Reference),
            Mode::Exhaustive => Box::new(reduction::Reduced),
            Mode::MonteCarlo => Box::new(montecarlo::MonteCarlo),
        };
        let mut report = pool.install(|| strategy.explore(&self.model, &self.settings));
        report.mode = self.mode;
        report.stats.threads = threads;
        report.stats.seconds = started.elapsed().as_secs_f64();
        report.stats.states_per_sec = if report.stats.seconds > 0.0 {
            report.stats.states as f64 / report.stats.seconds
        } else {
            0.0
        };
        report.finish(self.settings.max_depth, self.model.requires_convergence());
        report
    }
}

/// Notes what a step says about the run as a whole: a user action the
/// server refused.
pub(crate) fn note_step(report: &mut Report, choice: &Choice, outcome: &StepOutcome) {
    if let (Choice::User { index }, StepOutcome::Error(message)) = (choice, outcome) {
        report.refused(*index, message);
    }
}

/// A reconcile error seen on a path: who failed, on what, and how often.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathError {
    /// The controller.
    pub controller: String,
    /// The request's object, `namespace/name`.
    pub object: String,
    /// The error, as the controller returned it.
    pub message: String,
    /// How many reconciles on the path failed this way.
    pub times: u32,
}

/// The reconcile errors on a path, most frequent first: what keeps a path
/// that does not converge from converging, more often than not.
pub fn reconcile_errors(model: &Model, path: &[Choice]) -> Vec<PathError> {
    let (_, records) = model.run_path(path);
    let mut out: Vec<PathError> = Vec::new();
    for r in records {
        let (StepOutcome::Error(message), Choice::Reconcile { request, .. }) =
            (&r.outcome, &r.choice)
        else {
            continue;
        };
        let object = request.object.namespaced_name();
        match out
            .iter_mut()
            .find(|e| e.controller == r.actor && e.object == object && e.message == *message)
        {
            Some(e) => e.times += 1,
            None => out.push(PathError {
                controller: r.actor.clone(),
                object,
                message: message.clone(),
                times: 1,
            }),
        }
    }
    out.sort_by_key(|e| std::cmp::Reverse(e.times));
    out
}

#[cfg(test)]
mod tests;
