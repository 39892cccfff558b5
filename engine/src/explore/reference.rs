//! One deterministic run: requests are taken first-in first-out, in the
//! order the steps triggered them; a user action joins the queue when it
//! becomes available.

use std::collections::VecDeque;

use super::report::{Converged, Finding, FindingKind, Report};
use super::{Mode, Progress, Settings, Strategy, note_step};
use crate::invariants::When;
use crate::model::StepOutcome;
use crate::model::{Choice, Model};

pub(crate) struct Reference;

impl Strategy for Reference {
    fn explore(&self, model: &Model, settings: &Settings) -> Report {
        let mut report = Report::new(Mode::Reference);
        let mut world = model.initial();
        let mut queue: VecDeque<Choice> = model.choices(&world).into_iter().collect();
        let mut path = Vec::new();
        loop {
            report.stats.states += 1;
            if let Some(message) = failed(model, &world.server, When::Always) {
                report
                    .findings
                    .push(finding(FindingKind::Invariant, message, &path));
                break;
            }
            let choices = model.choices(&world);
            if choices.is_empty() {
                if let Some(message) = failed(model, &world.server, When::Converged) {
                    report
                        .findings
                        .push(finding(FindingKind::Invariant, message, &path));
                }
                report.converged_after(path.len() as u32);
                report.converged.push(Converged::new(
                    model.state_hash(&world),
                    1,
                    path.clone(),
                    world,
                ));
                break;
            }
            if let Some(cut) = settings.budget.spent(report.stats.states) {
                report.stop(cut);
                break;
            }
            if world.depth >= settings.max_depth {
                report.depth_limited(Some(path.clone()));
                if model.requires_convergence() {
                    let message = format!(
                        "the run did not converge within {} steps",
                        settings.max_depth
                    );
                    report
                        .findings
                        .push(finding(FindingKind::DepthLimit, message, &path));
                }
                break;
            }
            queue.retain(|c| choices.contains(c));
            for c in &choices {
                if !queue.contains(c) {
                    queue.push_back(c.clone());
                }
            }
            let choice = queue.pop_front().expect("choices are queued");
            let step = model.step(&world, &choice, true);
            let record = step.record.expect("asked for a record");
            path.push(choice.clone());
            report.stats.transitions += 1;
            note_step(&mut report, &choice, &step.outcome);
            if let StepOutcome::Panic(message) = &step.outcome {
                let text = format!("{} panicked: {message}", record.actor);
                report
                    .findings
                    .push(finding(FindingKind::Panic, text, &path));
                break;
            }
            for p in record.triggered {
                let c = Choice::reconcile(p);
                if !queue.contains(&c) {
                    queue.push_back(c);
                }
            }
            if matches!(
                step.outcome,
                StepOutcome::Requeue | StepOutcome::Error(_) | StepOutcome::Crash
            ) && let Choice::Reconcile { request, .. } = &choice
            {
                queue.push_back(Choice::reconcile(request.clone()));
            }
            world = step.world;
            report.stats.max_depth_reached = world.depth;
            settings.report_progress(Progress {
                states: report.stats.states,
                transitions: report.stats.transitions,
                depth: world.depth,
                trials_done: 0,
            });
        }
        report
    }
}

fn failed(model: &Model, server: &crate::api::ApiServer, when: When) -> Option<String> {
    let (name, why) = model.violations(server, when).into_iter().next()?;
    Some(format!("invariant {name} failed: {why}"))
}

fn finding(kind: FindingKind, message: String, path: &[Choice]) -> Finding {
    Finding {
        kind,
        message,
        path: path.to_vec(),
        occurrences: 1,
    }
}
