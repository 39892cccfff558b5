//! Random orderings: `trials` independent runs; trial `i` draws its choices
//! from ChaCha8 seeded with `seed` on stream `i`, so any trial can be
//! replayed alone and results do not depend on the number of threads.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use super::budget::Cut;
use super::report::{Converged, Finding, FindingKind, Report, TrialSummary};
use super::{Mode, Progress, Settings, Strategy};
use crate::hash::Digest;
use crate::invariants::When;
use crate::model::{Choice, Model};
use crate::model::{StepOutcome, World};

pub(crate) struct MonteCarlo;

/// How one trial ended.
enum End {
    Converged(Box<World>),
    DepthLimit { cycled: bool },
    Panic(String),
    Invariant { name: String, message: String },
    Stopped(Cut),
}

struct Trial {
    end: End,
    path: Vec<u32>,
    /// User actions the server refused on this trial: (index, message).
    refused: Vec<(usize, String)>,
}

/// The random number generator of trial `trial`.
pub fn trial_rng(seed: u64, trial: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(trial);
    rng
}

impl Strategy for MonteCarlo {
    fn explore(&self, model: &Model, settings: &Settings) -> Report {
        let first = settings.first_trial;
        let done = AtomicU64::new(0);
        let visited = AtomicU64::new(0);
        let trials: Vec<(u64, Trial)> = (first..first + settings.trials)
            .into_par_iter()
            .map(|i| {
                let t = match settings.budget.spent(visited.load(Ordering::Relaxed)) {
                    Some(cut) => Trial {
                        end: End::Stopped(cut),
                        path: Vec::new(),
                        refused: Vec::new(),
                    },
                    None => run_trial(model, settings, i),
                };
                visited.fetch_add(t.path.len() as u64 + 1, Ordering::Relaxed);
                let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                settings.report_progress(Progress {
                    trials_done: n,
                    ..Progress::default()
                });
                (i, t)
            })
            .collect();
        aggregate(model, settings, trials)
    }
}

fn run_trial(model: &Model, settings: &Settings, trial: u64) -> Trial {
    let mut rng = trial_rng(settings.seed, trial);
    let mut world = model.initial();
    let mut path = Vec::new();
    let mut seen = HashSet::new();
    let mut cycled = false;
    let mut refused = Vec::new();
    let end = loop {
        if settings.stopped() {
            break End::Stopped(Cut::Stopped);
        }
        if let Some(end) = broken_invariant(model, &world, When::Always) {
            break end;
        }
        let choices = model.choices(&world);
        if choices.is_empty() {
            break broken_invariant(model, &world, When::Converged)
                .unwrap_or(End::Converged(Box::new(world)));
        }
        if world.depth >= settings.max_depth {
            break End::DepthLimit { cycled };
        }
        cycled |= !seen.insert(model.fingerprint(&world, settings.max_depth));
        let i = rng.random_range(0..choices.len());
        path.push(i as u32);
        let step = model.step(&world, &choices[i], false);
        match (step.outcome, &choices[i]) {
            (StepOutcome::Panic(message), _) => {
                let who = model.describe_actor(&choices[i]);
                break End::Panic(format!("{who} panicked: {message}"));
            }
            (StepOutcome::Error(message), Choice::User { index }) => {
                refused.push((*index, message));
            }
            _ => {}
        }
        world = step.world;
    };
    Trial { end, path, refused }
}

fn broken_invariant(model: &Model, world: &World, when: When) -> Option<End> {
    let (name, why) = model.violations(&world.server, when).into_iter().next()?;
    let message = format!("invariant {name} failed: {why}");
    Some(End::Invariant { name, message })
}

fn aggregate(model: &Model, settings: &Settings, trials: Vec<(u64, Trial)>) -> Report {
    let mut report = Report::new(Mode::MonteCarlo);
    let mut by_hash: BTreeMap<Digest, usize> = BTreeMap::new();
    let mut grouped: BTreeMap<(FindingKind, String), usize> = BTreeMap::new();
    for (i, trial) in trials {
        for (index, message) in &trial.refused {
            report.refused(*index, message);
        }
        report.stats.trials += 1;
        report.stats.transitions += trial.path.len() as u64;
        report.stats.states += trial.path.len() as u64 + 1;
        report.stats.max_depth_reached =
            report.stats.max_depth_reached.max(trial.path.len() as u32);
        let (outcome, hash, finding) = match trial.end {
            End::Converged(world) => {
                report.converged_after(trial.path.len() as u32);
                let hash = model.state_hash(&world);
                match by_hash.get(&hash) {
                    Some(&k) => report.converged[k].absorb(&world, 1, model.mask()),
                    None => {
                        by_hash.insert(hash, report.converged.len());
                        report.converged.push(Converged::new(
                            hash,
                            1,
                            model.resolve_path(model.initial(), &trial.path).0,
                            *world,
                        ));
                    }
                }
                ("converged", Some(hash), None)
            }
            End::DepthLimit { cycled: true } => (
                "livelock",
                None,
                Some((
                    FindingKind::Livelock,
                    "livelock".to_string(),
                    format!(
                        "livelock: no convergence within {} steps, and the path revisits a state",
                        settings.max_depth
                    ),
                )),
            ),
            End::DepthLimit { cycled: false } => {
                let example = report
                    .depth_example
                    .is_none()
                    .then(|| model.resolve_path(model.initial(), &trial.path).0);
                report.depth_limited(example);
                let finding = model.requires_convergence().then(|| {
                    (
                        FindingKind::DepthLimit,
                        "depth".to_string(),
                        format!(
                            "a path did not converge within {} steps",
                            settings.max_depth
                        ),
                    )
                });
                ("depth_limit", None, finding)
            }
            End::Panic(message) => (
                "panic",
                None,
                Some((FindingKind::Panic, message.clone(), message)),
            ),
            End::Invariant { name, message } => (
                "invariant",
                None,
                Some((FindingKind::Invariant, name, message)),
            ),
            End::Stopped(cut) => {
                report.stop(cut);
                ("stopped", None, None)
            }
        };
        if let Some((kind, group, message)) = finding {
            match grouped.get(&(kind.clone(), group.clone())) {
                Some(&k) => report.findings[k].occurrences += 1,
                None => {
                    grouped.insert((kind.clone(), group), report.findings.len());
                    report.findings.push(Finding {
                        kind,
                        message,
                        path: model.resolve_path(model.initial(), &trial.path).0,
                        occurrences: 1,
                    });
                }
            }
        }
        report.trials.push(TrialSummary {
            trial: i,
            outcome: outcome.to_string(),
            hash,
            steps: trial.path.len() as u32,
        });
    }
    report
}
