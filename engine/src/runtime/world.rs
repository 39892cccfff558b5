//! The state the explorer branches over: the API server, the pending
//! reconcile requests, the user actions done, the controllers' memories and
//! the fault bookkeeping. Cloning is cheap (persistent structures).

use std::sync::Arc;

use imbl::{OrdMap, OrdSet};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::api::{ApiServer, GroupKind, ObjectKey};
use crate::hash::Digest;

/// A pending reconcile request: which controller, which object. Pending
/// requests form a set, like a controller-runtime workqueue.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Pending {
    /// Index of the controller in the model.
    pub controller: usize,
    /// The object to reconcile.
    pub object: ObjectKey,
}

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

    /// The state hash of the cluster (the converged-state hash contract).
    pub fn state_hash(&self) -> Digest {
        self.server.state_hash()
    }
}

/// Builds a state's search key: everything that decides its future.
pub(crate) struct Fingerprint {
    hasher: blake3::Hasher,
}

impl Fingerprint {
    pub(crate) fn new(world: &World) -> Self {
        let mut hasher = blake3::Hasher::new();
        hasher.update(b"kcheck/world/v1\0");
        hasher.update(&world.server.state_hash().0);
        hasher.update(&world.server.counters_digest().0);
        hasher.update(&(world.pending.len() as u64).to_le_bytes());
        for p in &world.pending {
            hasher.update(&(p.controller as u64).to_le_bytes());
            // The key's parts, each ended by a zero byte: no string is
            // formatted on this hot path.
            let key = &p.object;
            for part in [
                key.kind.group.as_str(),
                key.kind.kind.as_str(),
                key.namespace.as_deref().unwrap_or(""),
                key.name.as_str(),
            ] {
                hasher.update(part.as_bytes());
                hasher.update(&[0]);
            }
        }
        hasher.update(&(world.next_action as u64).to_le_bytes());
        for (c, m) in &world.memory {
            hasher.update(&(*c as u64).to_le_bytes());
            hasher.update(&crate::hash::canonical_json(m));
        }
        hasher.update(b"\0writes");
        for (c, n) in &world.writes {
            hasher.update(&(*c as u64).to_le_bytes());
            hasher.update(&n.to_le_bytes());
        }
        hasher.update(b"\0crashes");
        for c in &world.crashes_fired {
            hasher.update(&(*c as u64).to_le_bytes());
        }
        Fingerprint { hasher }
    }

    pub(crate) fn add(&mut self, label: &[u8], value: &[u8]) {
        self.hasher.update(label);
        self.hasher.update(&[0]);
        self.hasher.update(value);
    }

    pub(crate) fn finish(self) -> Digest {
        Digest(*self.hasher.finalize().as_bytes())
    }
}
