//! What steps touched: the objects and lists they read, the objects they
//! changed (with every version), the controller memory they used and the
//! requests they took or queued. Partial-order reduction explores two
//! groups of work apart only if their footprints never meet.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::api::{Event, GroupKind, ListQuery, ObjectKey, Stored};
use crate::hash::Digest;

use super::Pending;

/// A part of a controller's memory.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum MemorySlot {
    /// All of controller `0`'s memory.
    Whole(usize),
    /// One top-level entry of a controller's memory object.
    Entry(usize, String),
}

impl MemorySlot {
    fn controller(&self) -> usize {
        match self {
            MemorySlot::Whole(c) | MemorySlot::Entry(c, _) => *c,
        }
    }

    /// Whether the two slots can hold the same data.
    fn overlaps(&self, other: &MemorySlot) -> bool {
        match (self, other) {
            (MemorySlot::Entry(a, x), MemorySlot::Entry(b, y)) => a == b && x == y,
            _ => self.controller() == other.controller(),
        }
    }
}

/// The union of what some steps touched.
#[derive(Clone, Debug, Default)]
pub struct Footprint {
    /// Objects read by GET, cached or live, and the targets of writes (a
    /// write's answer depends on what is stored).
    reads: HashSet<ObjectKey>,
    /// LISTs made.
    lists: HashSet<ListQuery>,
    /// Objects changed, with every version written or replaced, by content
    /// hash; and generateName counters advanced (`<prefix>*`, no version).
    writes: HashMap<ObjectKey, HashMap<Digest, Arc<Stored>>>,
    /// Controller memory read.
    memory_reads: HashSet<MemorySlot>,
    /// Controller memory changed.
    memory_writes: HashSet<MemorySlot>,
    /// Requests taken or queued.
    requests: HashSet<Pending>,
    /// A change that every step may see: a Namespace or a
    /// CustomResourceDefinition (they decide what the server accepts).
    global: Option<ObjectKey>,
}

impl Footprint {
    /// A GET.
    pub(crate) fn read(&mut self, key: &ObjectKey) {
        if !self.reads.contains(key) {
            self.reads.insert(key.clone());
        }
    }

    /// A write attempted on `target`: its answer depends on what is stored
    /// there. A create by `generateName` (`<prefix>*`) also advances the
    /// prefix's name counter, which decides the names of later creates.
    pub(crate) fn attempt(&mut self, target: &ObjectKey) {
        if target.name.ends_with('*') {
            self.writes.entry(target.clone()).or_default();
        } else {
            self.read(target);
        }
    }

    /// A LIST.
    pub(crate) fn list(&mut self, query: &ListQuery) {
        if !self.lists.contains(query) {
            self.lists.insert(query.clone());
        }
    }

    /// A change the server made, from its watch event.
    pub(crate) fn changed(&mut self, event: &Event) {
        let kind = &event.key.kind;
        if self.global.is_none() && changes_everything(kind) {
            self.global = Some(event.key.clone());
        }
        let versions = self.writes.entry(event.key.clone()).or_default();
        for stored in std::iter::once(&event.object).chain(event.previous.as_ref()) {
            versions
                .entry(stored.hash)
                .or_insert_with(|| stored.clone());
        }
    }

    /// Memory read.
    pub(crate) fn read_memory(&mut self, slot: MemorySlot) {
        self.memory_reads.insert(slot);
    }

    /// Memory changed.
    pub(crate) fn write_memory(&mut self, slot: MemorySlot) {
        self.memory_writes.insert(slot);
    }

    /// A request taken or queued.
    pub(crate) fn request(&mut self, request: &Pending) {
        if !self.requests.contains(request) {
            self.requests.insert(request.clone());
        }
    }

    /// Adds what another footprint touched.
    pub(crate) fn absorb(&mut self, other: Footprint) {
        self.reads.extend(other.reads);
        self.lists.extend(other.lists);
        for (key, versions) in other.writes {
            self.writes.entry(key).or_default().extend(versions);
        }
        self.memory_reads.extend(other.memory_reads);
        self.memory_writes.extend(other.memory_writes);
        self.requests.extend(other.requests);
        if self.global.is_none() {
            self.global = other.global;
        }
    }

    /// Why the two footprints meet, if they do: what one changed, the other
    /// read or changed; or both took or queued the same request.
    pub fn meets(&self, other: &Footprint) -> Option<String> {
        self.changes_what_is_used_by(other)
            .or_else(|| other.changes_what_is_used_by(self))
            .or_else(|| {
                self.requests
                    .iter()
                    .find(|r| other.requests.contains(r))
                    .map(|r| format!("both queue the request for {}", r.object))
            })
    }

    fn changes_what_is_used_by(&self, other: &Footprint) -> Option<String> {
        if let Some(key) = &self.global {
            return Some(format!("{key} changed, which every step may see"));
        }
        for (key, versions) in &self.writes {
            if other.reads.contains(key) || other.writes.contains_key(key) {
                return Some(format!("both use {key}"));
            }
            let listed = other.lists.iter().find(|q| {
                q.kind == key.kind
                    && versions
                        .values()
                        .any(|s| q.selects(key.namespace.as_deref(), &s.object))
            });
            if let Some(query) = listed {
                return Some(format!(
                    "{key} changed, and a list of {} sees it",
                    query.kind
                ));
            }
        }
        self.memory_writes.iter().find_map(|w| {
            let used = other.memory_reads.iter().chain(&other.memory_writes);
            used.clone()
                .any(|u| u.overlaps(w))
                .then(|| format!("both use the memory of controller {}", w.controller()))
        })
    }
}

/// Kinds whose changes decide what the server accepts for other objects.
fn changes_everything(kind: &GroupKind) -> bool {
    (kind.group.is_empty() && kind.kind == "Namespace")
        || (kind.group == "apiextensions.k8s.io" && kind.kind == "CustomResourceDefinition")
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::api::{EventType, LabelSelector};

    fn pods() -> GroupKind {
        GroupKind::new("", "Pod")
    }

    fn event(name: &str, object: Value) -> Event {
        let stored = Arc::new(Stored::new(object, Default::default(), 1));
        Event {
            seq: 1,
            kind_seq: 1,
            rv: 1,
            key: ObjectKey::new(pods(), Some("default"), name),
            event_type: EventType::Added,
            object: stored,
            previous: None,
        }
    }

    fn writer(name: &str, app: &str) -> Footprint {
        let mut f = Footprint::default();
        f.changed(&event(name, json!({"metadata": {"labels": {"app": app}}})));
        f
    }

    #[test]
    fn a_change_meets_a_read_of_the_same_object() {
        let mut reader = Footprint::default();
        reader.read(&ObjectKey::new(pods(), Some("default"), "a"));
        assert!(writer("a", "web").meets(&reader).is_some());
        assert!(reader.meets(&writer("a", "web")).is_some(), "symmetric");
        assert!(writer("b", "web").meets(&reader).is_none());
    }

    #[test]
    fn a_change_meets_a_list_only_if_the_list_selects_a_version_of_it() {
        let mut lister = Footprint::default();
        lister.list(&ListQuery {
            labels: LabelSelector::parse("app=web").unwrap(),
            ..ListQuery::all(pods(), Some("default"))
        });
        assert!(writer("a", "web").meets(&lister).is_some());
        assert!(writer("a", "db").meets(&lister).is_none());
        let mut elsewhere = ListQuery::all(pods(), Some("other"));
        elsewhere.labels = LabelSelector::everything();
        let mut other_ns = Footprint::default();
        other_ns.list(&elsewhere);
        assert!(writer("a", "web").meets(&other_ns).is_none());
    }

    #[test]
    fn memory_entries_meet_only_their_own_entry_or_the_whole() {
        let entry = |name: &str| {
            let mut f = Footprint::default();
            f.write_memory(MemorySlot::Entry(0, name.into()));
            f
        };
        assert!(entry("a").meets(&entry("b")).is_none());
        assert!(entry("a").meets(&entry("a")).is_some());
        let mut whole = Footprint::default();
        whole.read_memory(MemorySlot::Whole(0));
        assert!(entry("a").meets(&whole).is_some());
        let mut other = Footprint::default();
        other.read_memory(MemorySlot::Whole(1));
        assert!(entry("a").meets(&other).is_none());
    }

    #[test]
    fn creates_under_one_generated_name_prefix_meet() {
        let create = |prefix: &str| {
            let mut f = Footprint::default();
            f.attempt(&ObjectKey::new(
                pods(),
                Some("default"),
                format!("{prefix}*"),
            ));
            f
        };
        assert!(create("web-").meets(&create("web-")).is_some());
        assert!(create("web-").meets(&create("db-")).is_none());
    }

    #[test]
    fn the_same_request_in_both_meets() {
        let request = Pending {
            controller: 0,
            object: ObjectKey::new(pods(), Some("default"), "a"),
        };
        let (mut a, mut b) = (Footprint::default(), Footprint::default());
        a.request(&request);
        assert!(a.meets(&b).is_none());
        b.request(&request);
        assert!(a.meets(&b).is_some());
    }
}
