//! The write history: every real write is an event with a global sequence
//! number, a per-kind sequence number and the object as written. Histories
//! are persistent vectors, so forked states share them.

use std::any::{Any, TypeId};
use std::sync::{Arc, Mutex};

use imbl::{OrdMap, Vector};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::apply::ManagedFields;
use super::key::ObjectKey;
use crate::hash::{Digest, object_hash};

/// An object as stored: its JSON, its field managers, content hash and
/// resourceVersion. A stored version never changes, so what is derived from
/// it (its typed form) is worked out once and shared.
#[derive(Debug)]
pub struct Stored {
    /// The object, with `metadata.resourceVersion` set to `rv` and without
    /// `metadata.managedFields` (see [`Stored::managed`]).
    pub object: Value,
    /// Who owns which fields (server-side apply), kept beside the object;
    /// [`Stored::to_json`] shows them as `metadata.managedFields`.
    pub managed: ManagedFields,
    /// Its content hash (see [`crate::hash::object_hash`]).
    pub hash: Digest,
    /// Its resourceVersion.
    pub rv: u64,
    /// Typed forms decoded so far, by type.
    decoded: Mutex<Vec<(TypeId, Arc<dyn Any + Send + Sync>)>>,
}

impl Stored {
    /// A stored version of `object` (which carries no `managedFields`).
    pub fn new(object: Value, managed: ManagedFields, rv: u64) -> Self {
        Stored {
            hash: object_hash(&object),
            object,
            managed,
            rv,
            decoded: Mutex::new(Vec::new()),
        }
    }

    /// The object as the API server shows it: with `metadata.managedFields`.
    pub fn to_json(&self) -> Value {
        let mut object = self.object.clone();
        self.managed.write_into(&mut object);
        object
    }

    /// The object decoded into `K`, decoded once per stored version and
    /// type, then shared.
    pub fn decoded<K>(&self) -> Result<Arc<K>, serde_json::Error>
    where
        K: DeserializeOwned + Send + Sync + 'static,
    {
        let id = TypeId::of::<K>();
        let cached = |decoded: &[(TypeId, Arc<dyn Any + Send + Sync>)]| {
            decoded
                .iter()
                .find(|(t, _)| *t == id)
                .and_then(|(_, typed)| typed.clone().downcast::<K>().ok())
        };
        if let Some(typed) = cached(&self.lock_decoded()) {
            return Ok(typed);
        }
        let typed = Arc::new(K::deserialize(&self.object)?);
        let mut decoded = self.lock_decoded();
        match cached(&decoded) {
            Some(raced) => Ok(raced),
            None => {
                decoded.push((id, typed.clone()));
                Ok(typed)
            }
        }
    }

    fn lock_decoded(&self) -> std::sync::MutexGuard<'_, Vec<(TypeId, Arc<dyn Any + Send + Sync>)>> {
        // A panic while holding the lock leaves the cache as it was: usable.
        self.decoded.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Clone for Stored {
    fn clone(&self) -> Self {
        Stored {
            object: self.object.clone(),
            managed: self.managed.clone(),
            hash: self.hash,
            rv: self.rv,
            decoded: Mutex::new(Vec::new()),
        }
    }
}

impl PartialEq for Stored {
    /// Stored versions are equal when their objects, managers and versions
    /// are; what was decoded from them does not count.
    fn eq(&self, other: &Self) -> bool {
        self.rv == other.rv && self.object == other.object && self.managed == other.managed
    }
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
/// `snapshots[0]` is the table after the kind's `first`-th event (the empty
/// table at first); each later snapshot is the table after the next event,
/// sharing structure with its neighbours. A log that keeps no history has
/// only its current snapshot.
#[derive(Clone, Debug)]
pub struct KindLog {
    snapshots: Vector<KindObjects>,
    first: u64,
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
            first: 0,
        }
    }

    /// The number of events of this kind so far.
    pub fn seq(&self) -> u64 {
        self.first + self.snapshots.len() as u64 - 1
    }

    /// The objects now.
    pub fn current(&self) -> &KindObjects {
        self.snapshots
            .back()
            .expect("a log always has its current snapshot")
    }

    /// The objects as of the kind's `seq`-th event (clamped to the history
    /// kept and to the present).
    pub fn at(&self, seq: u64) -> &KindObjects {
        let i = seq.clamp(self.first, self.seq()) - self.first;
        &self.snapshots[i as usize]
    }

    /// Records the table after a new event; `keep` keeps the tables before
    /// it as well.
    pub fn push(&mut self, objects: KindObjects, keep: bool) {
        if keep {
            self.snapshots.push_back(objects);
        } else {
            self.first = self.seq() + 1;
            self.snapshots = Vector::unit(objects);
        }
    }

    /// Forgets every table but the current one.
    pub fn forget(&mut self) {
        let current = self.current().clone();
        self.first = self.seq();
        self.snapshots = Vector::unit(current);
    }
}
