//! Injected faults: a controller crashing after N writes of a reconcile,
//! and API faults on a controller's N-th write of a path.

use std::collections::BTreeMap;

use crate::runtime::session::{FaultPlan, WriteFault};

pub use crate::runtime::session::WriteFault as Fault;

/// Crash a controller's reconcile right after its N-th successful write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CrashSpec {
    /// Index of the controller in the model.
    pub controller: usize,
    /// Successful writes of one reconcile before the crash.
    pub after_writes: u32,
    /// Fire at most once per path.
    pub once: bool,
}

/// Inject a fault into a controller's N-th write of a path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiFaultSpec {
    /// Index of the controller in the model.
    pub controller: usize,
    /// Which write of the path, from 1.
    pub write: u32,
    /// The fault.
    pub fault: WriteFault,
}

/// The faults configured for a model.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Faults {
    /// Crashes.
    pub crashes: Vec<CrashSpec>,
    /// API faults.
    pub api_faults: Vec<ApiFaultSpec>,
}

impl Faults {
    /// Whether any fault is configured.
    pub fn is_active(&self) -> bool {
        !self.crashes.is_empty() || !self.api_faults.is_empty()
    }

    /// The plan for one reconcile of `controller`, given how many writes it
    /// attempted on this path so far and which once-only crashes fired.
    /// Returns the plan and the index of the crash spec it arms.
    pub fn plan(
        &self,
        controller: usize,
        writes_so_far: u32,
        fired: impl Fn(usize) -> bool,
    ) -> (FaultPlan, Option<usize>) {
        let faults: BTreeMap<u32, WriteFault> = self
            .api_faults
            .iter()
            .filter(|f| f.controller == controller)
            .map(|f| (f.write, f.fault.clone()))
            .collect();
        let crash = self
            .crashes
            .iter()
            .enumerate()
            .find(|(i, c)| c.controller == controller && !(c.once && fired(*i)));
        let plan = FaultPlan {
            first_write: writes_so_far + 1,
            faults,
            crash_after: crash.map(|(_, c)| c.after_writes),
        };
        (plan, crash.map(|(i, _)| i))
    }

    /// The number of a controller's writes past which counting no longer
    /// matters (its last faulted write), or 0 when none is faulted.
    pub fn write_horizon(&self, controller: usize) -> u32 {
        self.api_faults
            .iter()
            .filter(|f| f.controller == controller)
            .map(|f| f.write)
            .max()
            .unwrap_or(0)
    }
}

/// The crash planner: for each controller, a once-only crash after each
/// number of successful writes up to the most it made in one reconcile of
/// the reference run.
pub fn plan_crashes(
    model: &crate::Model,
    records: &[crate::runtime::StepRecord],
) -> Vec<CrashSpec> {
    let mut most = BTreeMap::new();
    for r in records {
        if let Some(c) = model.controller_index(&r.actor) {
            let ok = r.writes.iter().filter(|w| w.error.is_none()).count() as u32;
            let m = most.entry(c).or_insert(0);
            *m = (*m).max(ok);
        }
    }
    most.into_iter()
        .flat_map(|(controller, n)| {
            (1..=n).map(move |after_writes| CrashSpec {
                controller,
                after_writes,
                once: true,
            })
        })
        .collect()
}

/// The API-fault planner: for each controller and each of its writes in the
/// reference run, a conflict, a server error and a dropped watch event.
pub fn plan_api_faults(
    model: &crate::Model,
    records: &[crate::runtime::StepRecord],
) -> Vec<ApiFaultSpec> {
    let mut writes = BTreeMap::new();
    for r in records {
        if let Some(c) = model.controller_index(&r.actor) {
            *writes.entry(c).or_insert(0u32) += r.writes.len() as u32;
        }
    }
    let faults = [
        WriteFault::Conflict,
        WriteFault::ServerError,
        WriteFault::WatchDrop { watcher: None },
    ];
    let mut out = Vec::new();
    for (controller, n) in writes {
        for write in 1..=n {
            for fault in &faults {
                out.push(ApiFaultSpec {
                    controller,
                    write,
                    fault: fault.clone(),
                });
            }
        }
    }
    out
}
