//! Injected faults: a controller crashing after N writes of a reconcile,
//! and API faults on a controller's N-th write of a path.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A fault injected into one write.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WriteFault {
    /// The server answers 409 Conflict; nothing is written.
    Conflict,
    /// The server answers 500; nothing is written.
    ServerError,
    /// The write happens but its watch event is never delivered to
    /// `watcher` (every controller when `None`).
    WatchDrop {
        /// The controller that misses the event.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        watcher: Option<String>,
    },
}

/// The faults planned for one reconcile.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FaultPlan {
    /// The path-wide number (from 1) this controller's next write will have.
    pub first_write: u32,
    /// Faults by path-wide write number.
    pub faults: BTreeMap<u32, WriteFault>,
    /// Stop the reconcile right after this many successful writes.
    pub crash_after: Option<u32>,
}

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
