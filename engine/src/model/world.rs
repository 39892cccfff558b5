//! The state the explorer branches over: the API server, the pending
//! reconcile requests, the user actions done, the controllers' memories and
//! the fault bookkeeping. Cloning is cheap (persistent structures).

use std::sync::Arc;

use imbl::{OrdMap, OrdSet};
use serde_json::Value;

use crate::api::{ApiServer, GroupKind};
use crate::runtime::Pending;

/// One explored state.
#[derive(Clone, Debug)]
pub struct World {
    /// The cluster.
    pub server: ApiServer,
    /// Requests waiting to run.
    pub pending: OrdSet<Pending>,
    /// How many user actions are done.
    pub next_action: usize,
    /// Steps taken from the initial state.
    pub depth: u32,
    /// What controllers remember, by controller index (absent: `null`).
    pub memory: OrdMap<usize, Arc<Value>>,
    /// Write attempts per controller on this path (only for controllers
    /// with API faults, capped at the last faulted write).
    pub writes: OrdMap<usize, u32>,
    /// Once-only crashes that fired on this path, by crash index.
    pub crashes_fired: OrdSet<usize>,
    /// Stale reconciles taken per (controller, kind) under stale-read
    /// search.
    pub stale_used: OrdMap<(usize, GroupKind), u32>,
    /// Staleness intervals whose views caught up when the system went
    /// quiet (an informer always delivers in the end), by index.
    pub caught_up: OrdSet<usize>,
}

impl World {
    /// The initial state over a server, with nothing pending.
    pub fn new(server: ApiServer) -> Self {
        World {
            server,
            pending: OrdSet::new(),
            next_action: 0,
            depth: 0,
            memory: OrdMap::new(),
            writes: OrdMap::new(),
            crashes_fired: OrdSet::new(),
            stale_used: OrdMap::new(),
            caught_up: OrdSet::new(),
        }
    }
}
