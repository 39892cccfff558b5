//! One reconcile's session with the API server: reads from the controller's
//! cache (the state at the step's start, possibly stale per kind), writes to
//! the live server at once, injected faults, and a record of all of it.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::footprint::{Footprint, MemorySlot};
use crate::api::{
    ApiError, ApiServer, Event, GroupKind, KindObjects, ListQuery, ObjectKey, Reason, Stored,
    WriteRequest, WriteResult,
};
use crate::client::{Backend, Client, ReadMode};
use crate::faults::{FaultPlan, WriteFault};

/// A read that saw an older version than the server had.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaleRead {
    /// The object read.
    pub object: ObjectKey,
    /// The resourceVersion the controller saw (None: it saw no object).
    pub observed_rv: Option<u64>,
    /// The resourceVersion the server had (None: the object was gone).
    pub current_rv: Option<u64>,
}

/// One write a reconcile (or a user action) made.
#[derive(Clone, Debug)]
pub struct WriteRecord {
    /// The request as sent.
    pub request: WriteRequest,
    /// The object written.
    pub key: Option<ObjectKey>,
    /// The stored object after the write (None when it failed).
    pub object: Option<Arc<Stored>>,
    /// The resourceVersion given (None for failures and no-ops).
    pub rv: Option<u64>,
    /// The write changed nothing.
    pub noop: bool,
    /// The error the server answered with.
    pub error: Option<ApiError>,
    /// The fault kcheck injected, if any.
    pub fault: Option<WriteFault>,
    /// The event produced.
    pub event: Option<Arc<Event>>,
}

impl WriteRecord {
    /// The record of a request and the server's answer.
    pub fn new(
        request: WriteRequest,
        result: &Result<WriteResult, ApiError>,
        fault: Option<WriteFault>,
    ) -> Self {
        let ok = result.as_ref().ok();
        WriteRecord {
            key: ok.map(|r| r.key.clone()),
            object: ok.map(|r| r.object.clone()),
            rv: ok.filter(|r| !r.noop).map(|r| r.object.rv),
            noop: ok.is_some_and(|r| r.noop),
            error: result.as_ref().err().cloned(),
            event: ok.and_then(|r| r.event.clone()),
            fault,
            request,
        }
    }
}

/// Everything a session observed.
#[derive(Clone, Debug, Default)]
pub struct SessionLog {
    /// Kinds read through the cache.
    pub kinds_read: BTreeSet<GroupKind>,
    /// Reads that saw old versions.
    pub stale_reads: Vec<StaleRead>,
    /// Writes, in order.
    pub writes: Vec<WriteRecord>,
}

/// The panic payload that stops a reconcile at an injected crash.
pub(crate) struct CrashSignal;

/// A reconcile's view of the world and its record.
pub struct Session<'a> {
    controller: &'a str,
    start: &'a ApiServer,
    stale: &'a BTreeMap<GroupKind, u64>,
    live: RefCell<ApiServer>,
    log: RefCell<SessionLog>,
    plan: RefCell<FaultPlan>,
    successes: RefCell<u32>,
    memory: RefCell<Value>,
    /// What the reconcile touched, when asked for (controller index and
    /// footprint).
    footprint: Option<(usize, RefCell<Footprint>)>,
}

impl<'a> Session<'a> {
    /// A session for `controller`, reading the cache as of `start` (kinds in
    /// `stale` as of that kind sequence number), writing to a copy of it.
    pub fn new(
        controller: &'a str,
        start: &'a ApiServer,
        stale: &'a BTreeMap<GroupKind, u64>,
        plan: FaultPlan,
        memory: Value,
    ) -> Self {
        Session {
            controller,
            start,
            stale,
            live: RefCell::new(start.clone()),
            log: RefCell::new(SessionLog::default()),
            plan: RefCell::new(plan),
            successes: RefCell::new(0),
            memory: RefCell::new(memory),
            footprint: None,
        }
    }

    /// Records what the reconcile touches, as controller number
    /// `controller` (see [`Footprint`]).
    #[must_use]
    pub(crate) fn tracking(mut self, controller: usize) -> Self {
        self.footprint = Some((controller, RefCell::new(Footprint::default())));
        self
    }

    fn touch(&self, f: impl FnOnce(&mut Footprint, usize)) {
        if let Some((controller, footprint)) = &self.footprint {
            f(&mut footprint.borrow_mut(), *controller);
        }
    }

    /// The controller's name.
    pub fn controller(&self) -> &str {
        self.controller
    }

    /// Ends the session: the live server, the log, the controller's memory
    /// and, when tracking, what it touched.
    pub fn finish(self) -> (ApiServer, SessionLog, Value, Option<Footprint>) {
        (
            self.live.into_inner(),
            self.log.into_inner(),
            self.memory.into_inner(),
            self.footprint.map(|(_, f)| f.into_inner()),
        )
    }

    fn cache(&self, kind: &GroupKind) -> (KindObjects, bool) {
        match self.stale.get(kind) {
            Some(&seq) => (self.start.objects_at(kind, seq), true),
            None => (self.start.objects(kind), false),
        }
    }

    fn note_stale(&self, key: &ObjectKey, observed: Option<u64>) {
        let current = self.live.borrow().get(key).ok().map(|s| s.rv);
        if observed != current {
            self.log.borrow_mut().stale_reads.push(StaleRead {
                object: key.clone(),
                observed_rv: observed,
                current_rv: current,
            });
        }
    }
}

impl Backend for Session<'_> {
    fn get(&self, key: &ObjectKey, mode: ReadMode) -> Result<Arc<Stored>, ApiError> {
        self.touch(|f, _| f.read(key));
        if mode == ReadMode::Live {
            return self.live.borrow().get(key).cloned();
        }
        let info = self.start.kind_info(&key.kind)?;
        self.log.borrow_mut().kinds_read.insert(key.kind.clone());
        let (objects, stale) = self.cache(&key.kind);
        let found = objects.get(&(key.namespace.clone(), key.name.clone()));
        if stale {
            self.note_stale(key, found.map(|s| s.rv));
        }
        found
            .cloned()
            .ok_or_else(|| ApiError::not_found(format!("{} {:?} not found", info.plural, key.name)))
    }

    fn list(&self, query: &ListQuery, mode: ReadMode) -> Result<Vec<Arc<Stored>>, ApiError> {
        self.touch(|f, _| f.list(query));
        if mode == ReadMode::Live {
            return self.live.borrow().list(query);
        }
        let kind = &query.kind;
        self.start.kind_info(kind)?;
        self.log.borrow_mut().kinds_read.insert(kind.clone());
        let (objects, stale) = self.cache(kind);
        let seen = query.answer(&objects);
        if stale {
            let now = query.answer(&self.live.borrow().objects(kind));
            let mut keys: BTreeMap<ObjectKey, Option<u64>> = BTreeMap::new();
            for s in &now {
                keys.insert(key_of_stored(kind, &s.object), None);
            }
            for s in &seen {
                keys.insert(key_of_stored(kind, &s.object), Some(s.rv));
            }
            for (key, observed) in keys {
                self.note_stale(&key, observed);
            }
        }
        Ok(seen)
    }

    fn write(&self, request: WriteRequest, manager: &str) -> Result<Arc<Stored>, ApiError> {
        self.touch(|f, _| f.attempt(&request.target()));
        let fault = {
            let mut plan = self.plan.borrow_mut();
            let number = plan.first_write;
            plan.first_write += 1;
            plan.faults.get(&number).cloned()
        };
        let result = match &fault {
            Some(WriteFault::Conflict) => Err(ApiError::conflict(
                "injected fault: the object has been modified; please apply your changes to the latest version and try again",
            )),
            Some(WriteFault::ServerError) => Err(ApiError::new(
                Reason::InternalError,
                "injected fault: the server had an internal error",
            )),
            _ => self.live.borrow_mut().write(&request, manager),
        };
        let record = WriteRecord::new(request, &result, fault);
        self.log.borrow_mut().writes.push(record);
        let result = result.map(|r| r.object);
        if result.is_ok() {
            let successes = {
                let mut s = self.successes.borrow_mut();
                *s += 1;
                *s
            };
            if self.plan.borrow().crash_after == Some(successes) {
                std::panic::resume_unwind(Box::new(CrashSignal));
            }
        }
        result
    }

    fn now(&self) -> String {
        self.live.borrow().now()
    }
}

fn key_of_stored(kind: &GroupKind, object: &Value) -> ObjectKey {
    ObjectKey::new(
        kind.clone(),
        crate::api::meta::namespace(object),
        crate::api::meta::name(object).unwrap_or_default(),
    )
}

/// What a reconciler gets: a client bound to its session, the logical
/// clock and its memory.
pub struct Ctx<'a> {
    session: &'a Session<'a>,
}

impl<'a> Ctx<'a> {
    /// A context over a session.
    pub fn new(session: &'a Session<'a>) -> Self {
        Ctx { session }
    }

    /// A client whose writes are made as this controller's field manager.
    pub fn client(&self) -> Client<'_> {
        Client::new(self.session, self.session.controller)
    }

    /// The controller's name.
    pub fn controller(&self) -> &str {
        self.session.controller
    }

    /// The current logical time, RFC 3339.
    pub fn now(&self) -> String {
        self.session.now()
    }

    /// What the controller remembered (`null` after a restart).
    pub fn memory(&self) -> Value {
        self.session
            .touch(|f, c| f.read_memory(MemorySlot::Whole(c)));
        self.session.memory.borrow().clone()
    }

    /// Replaces what the controller remembers; kept per path and part of the
    /// state, so two paths that differ only in memory are different states.
    pub fn set_memory(&self, memory: Value) {
        self.session
            .touch(|f, c| f.write_memory(MemorySlot::Whole(c)));
        *self.session.memory.borrow_mut() = memory;
    }

    /// One entry of the memory, when the memory is an object of entries
    /// (for example one per object the controller manages). Reading and
    /// writing entries rather than the whole memory lets reduction tell
    /// that reconciles of different objects do not share what they
    /// remember.
    pub fn memory_entry(&self, name: &str) -> Option<Value> {
        self.session
            .touch(|f, c| f.read_memory(MemorySlot::Entry(c, name.to_string())));
        self.session.memory.borrow().get(name).cloned()
    }

    /// Sets (`Some`) or removes (`None`) one entry of the memory. The memory
    /// becomes an object on the first entry and `null` again when its last
    /// entry goes.
    pub fn set_memory_entry(&self, name: &str, value: Option<Value>) {
        self.session
            .touch(|f, c| f.write_memory(MemorySlot::Entry(c, name.to_string())));
        let mut memory = self.session.memory.borrow_mut();
        let mut entries = match std::mem::take(&mut *memory) {
            Value::Object(map) => map,
            _ => serde_json::Map::new(),
        };
        match value {
            Some(v) => {
                entries.insert(name.to_string(), v);
            }
            None => {
                entries.remove(name);
            }
        }
        if !entries.is_empty() {
            *memory = Value::Object(entries);
        }
    }
}
