//! The write history: every real write is an event with a global sequence
//! number, a per-kind sequence number and the object as written. Histories
//! are persistent vectors, so forked states share them.

use std::sync::Arc;

use imbl::{OrdMap, Vector};
use serde::Serialize;
use serde_json::Value;

use super::key::ObjectKey;
use crate::hash::Digest;

/// An object as stored: its JSON, content hash and resourceVersion.
#[derive(Clone, Debug, PartialEq)]
pub struct Stored {
    /// The object, with `metadata.resourceVersion` set to `rv`.
    pub object: Value,
    /// Its content hash (see [`crate::hash::object_hash`]).
    pub hash: Digest,
    /// Its resourceVersion.
    pub rv: u64,
}

/// What a watch event reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum EventType {
    /// The object was created.
    Added,
    /// The object changed.
    Modified,
    /// The object is gone; the event carries its last state.
    Deleted,
}

/// One real write.
#[derive(Clone, Debug)]
pub struct Event {
    /// Global sequence number, from 1.
    pub seq: u64,
    /// Sequence number within the object's kind, from 1.
    pub kind_seq: u64,
    /// The resourceVersion the write was given.
    pub rv: u64,
    /// Which object.
    pub key: ObjectKey,
    /// What happened.
    pub event_type: EventType,
    /// The object after the write (for `Deleted`, its last state).
    pub object: Arc<Stored>,
    /// The object before the write (None for `Added`).
    pub previous: Option<Arc<Stored>>,
}

/// The objects of one kind, keyed by (namespace, name).
pub type KindObjects = OrdMap<(Option<String>, String), Arc<Stored>>;

/// One kind's history: the kind's objects after each of its events.
/// `snapshots[0]` is the empty table; `snapshots[n]` is the table after the
/// kind's n-th event, sharing structure with its neighbours.
#[derive(Clone, Debug)]
pub struct KindLog {
    snapshots: Vector<KindObjects>,
}

impl Default for KindLog {
    fn default() -> Self {
        Self::new()
    }
}

impl KindLog {
    /// An empty log.
    pub fn new() -> Self {
        KindLog {
            snapshots: Vector::unit(KindObjects::new()),
        }
    }

    /// The number of events of this kind so far.
    pub fn seq(&self) -> u64 {
        self.snapshots.len() as u64 - 1
    }

    /// The objects now.
    pub fn current(&self) -> &KindObjects {
        self.snapshots
            .back()
            .expect("a log always has its initial snapshot")
    }

    /// The objects as of the kind's `seq`-th event (clamped to the present).
    pub fn at(&self, seq: u64) -> &KindObjects {
        let i = seq.min(self.seq()) as usize;
        &self.snapshots[i]
    }

    /// Records the table after a new event.
    pub fn push(&mut self, objects: KindObjects) {
        self.snapshots.push_back(objects);
    }
}
