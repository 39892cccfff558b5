//! One step: run a pending reconcile (or a user action) against the state,
//! turn its writes into new pending requests, and record what happened.

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Once};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Choice, Model, World};
use crate::api::GroupKind;
use crate::hash::Digest;
use crate::runtime::session::{CrashSignal, Session};
use crate::runtime::{Ctx, Footprint, Pending, StaleRead, WriteRecord};
use crate::staleness::StaleView;

/// How a step ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", content = "message", rename_all = "snake_case")]
pub enum StepOutcome {
    /// The reconcile returned `await_change`, or the user action was
    /// accepted.
    Done,
    /// The reconcile asked to run again.
    Requeue,
    /// The reconcile returned an error (it is requeued), or the server
    /// rejected the user action (it is not retried).
    Error(String),
    /// An injected crash stopped the reconcile.
    Crash,
    /// The controller panicked.
    Panic(String),
}

impl StepOutcome {
    /// The outcome's name in traces: `done`, `requeue`, `error`, `crash`,
    /// `panic`.
    pub fn name(&self) -> &'static str {
        match self {
            StepOutcome::Done => "done",
            StepOutcome::Requeue => "requeue",
            StepOutcome::Error(_) => "error",
            StepOutcome::Crash => "crash",
            StepOutcome::Panic(_) => "panic",
        }
    }
}

/// Everything one step did, for traces.
#[derive(Clone, Debug)]
pub struct StepRecord {
    /// The depth after the step.
    pub depth: u32,
    /// The controller's name, or `user`.
    pub actor: String,
    /// The choice taken.
    pub choice: Choice,
    /// Kinds the reconcile read through its cache.
    pub kinds_read: BTreeSet<GroupKind>,
    /// The stale views it read through (kind, sequence number shown).
    pub views: BTreeMap<GroupKind, u64>,
    /// Reads that saw old versions.
    pub stale_reads: Vec<StaleRead>,
    /// Writes, in order.
    pub writes: Vec<WriteRecord>,
    /// How it ended.
    pub outcome: StepOutcome,
    /// Requests it added to the pending set.
    pub triggered: Vec<Pending>,
    /// The state hash after the step.
    pub state_hash: Digest,
}

/// The result of a step.
#[derive(Clone, Debug)]
pub struct Step {
    /// The next state.
    pub world: World,
    /// How the step ended.
    pub outcome: StepOutcome,
    /// The record, when asked for.
    pub record: Option<StepRecord>,
    /// What the step touched, when asked for (reconciles only).
    pub footprint: Option<Footprint>,
}

thread_local! {
    static IN_RECONCILE: Cell<bool> = const { Cell::new(false) };
}

/// Keeps controller panics (findings, reported with their message) and
/// injected crashes off stderr; other panics print as usual.
fn quiet_reconcile_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !IN_RECONCILE.with(Cell::get) {
                previous(info);
            }
        }));
    });
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a non-string payload".to_string()
    }
}

impl Model {
    /// Takes one choice from a state. `record` asks for a [`StepRecord`].
    pub fn step(&self, world: &World, choice: &Choice, record: bool) -> Step {
        self.step_tracked(world, choice, record, false)
    }

    /// [`Model::step`], also recording what a reconcile touched when
    /// `footprint` is set.
    pub(crate) fn step_tracked(
        &self,
        world: &World,
        choice: &Choice,
        record: bool,
        footprint: bool,
    ) -> Step {
        match choice {
            Choice::Reconcile { request, stale } => {
                self.reconcile_step(world, request, stale, choice, record, footprint)
            }
            Choice::User { index } => self.user_step(world, *index, choice, record),
        }
    }

    fn reconcile_step(
        &self,
        world: &World,
        pending: &Pending,
        stale: &[StaleView],
        choice: &Choice,
        record: bool,
        track: bool,
    ) -> Step {
        let controller = pending.controller;
        let reconciler = &self.controllers[controller];
        let mut next = world.clone();
        next.pending.remove(pending);
        next.depth += 1;
        let mut start = world.server.clone();
        start.tick();
        let mut views = self.staleness.views(controller, &start, &world.caught_up);
        for v in stale {
            views.insert(
                v.kind.clone(),
                start.kind_seq(&v.kind).saturating_sub(v.lag),
            );
            *next
                .stale_used
                .entry((controller, v.kind.clone()))
                .or_insert(0) += 1;
        }
        let writes_so_far = world.writes.get(&controller).copied().unwrap_or(0);
        let (plan, crash_index) = self.faults.plan(controller, writes_so_far, |i| {
            world.crashes_fired.contains(&i)
        });
        let memory = world
            .memory
            .get(&controller)
            .map(|m| (**m).clone())
            .unwrap_or(Value::Null);
        let mut session = Session::new(reconciler.name(), &start, &views, plan, memory);
        if track {
            session = session.tracking(controller);
        }

        quiet_reconcile_panics();
        IN_RECONCILE.with(|f| f.set(true));
        let result = catch_unwind(AssertUnwindSafe(|| {
            reconciler.reconcile(&Ctx::new(&session), &pending.object)
        }));
        IN_RECONCILE.with(|f| f.set(false));
        let outcome = match result {
            Ok(Ok(action)) if action.is_requeue() => StepOutcome::Requeue,
            Ok(Ok(_)) => StepOutcome::Done,
            Ok(Err(e)) => StepOutcome::Error(e.to_string()),
            Err(payload) if payload.is::<CrashSignal>() => StepOutcome::Crash,
            Err(payload) => StepOutcome::Panic(panic_message(payload.as_ref())),
        };

        let (server, log, memory, mut footprint) = session.finish();
        if let Some(f) = &mut footprint {
            f.request(pending);
            for event in log.writes.iter().filter_map(|w| w.event.as_ref()) {
                f.changed(event);
            }
        }
        next.server = server;
        self.count_writes(&mut next, controller, writes_so_far, log.writes.len());
        let mut triggered = self.deliver(world, &mut next, &log.writes);
        // Before this reconcile's own retry is queued: a controller retrying
        // against a stale view does not keep its informer from delivering.
        triggered.extend(self.settle(&mut next));
        match &outcome {
            StepOutcome::Crash => {
                if let Some(i) = crash_index.filter(|i| self.faults.crashes[*i].once) {
                    next.crashes_fired.insert(i);
                }
                next.memory.remove(&controller);
                self.restart(&mut next, controller, pending);
            }
            other => {
                if memory.is_null() {
                    next.memory.remove(&controller);
                } else {
                    next.memory.insert(controller, Arc::new(memory));
                }
                if matches!(other, StepOutcome::Requeue | StepOutcome::Error(_)) {
                    next.pending.insert(pending.clone());
                }
            }
        }
        let record = record.then(|| StepRecord {
            depth: next.depth,
            actor: reconciler.name().to_string(),
            choice: choice.clone(),
            kinds_read: log.kinds_read,
            views,
            stale_reads: log.stale_reads,
            writes: log.writes,
            outcome: outcome.clone(),
            triggered,
            state_hash: self.state_hash(&next),
        });
        if let Some(f) = &mut footprint {
            for p in next.pending.iter().filter(|p| !world.pending.contains(*p)) {
                f.request(p);
            }
        }
        Step {
            world: next,
            outcome,
            record,
            footprint,
        }
    }

    fn user_step(&self, world: &World, index: usize, choice: &Choice, record: bool) -> Step {
        let action = &self.actions[index];
        let mut next = world.clone();
        next.depth += 1;
        next.next_action = index + 1;
        next.server.tick();
        let result = next.server.write(&action.request, &action.field_manager);
        let outcome = match &result {
            Ok(_) => StepOutcome::Done,
            Err(e) => StepOutcome::Error(e.to_string()),
        };
        let write = WriteRecord::new(action.request.clone(), &result, None);
        let writes = vec![write];
        let mut triggered = self.deliver(world, &mut next, &writes);
        triggered.extend(self.settle(&mut next));
        let record = record.then(|| StepRecord {
            depth: next.depth,
            actor: "user".to_string(),
            choice: choice.clone(),
            kinds_read: BTreeSet::new(),
            views: BTreeMap::new(),
            stale_reads: Vec::new(),
            writes,
            outcome: outcome.clone(),
            triggered,
            state_hash: self.state_hash(&next),
        });
        Step {
            world: next,
            outcome,
            record,
            footprint: None,
        }
    }

    /// Counts a controller's write attempts, for API faults on its N-th
    /// write; capped where counting stops mattering.
    fn count_writes(&self, next: &mut World, controller: usize, before: u32, attempts: usize) {
        let horizon = self.faults.write_horizon(controller);
        if horizon > 0 {
            let n = (before + attempts as u32).min(horizon);
            next.writes.insert(controller, n);
        }
    }
}
