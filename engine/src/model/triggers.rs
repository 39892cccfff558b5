//! Which reconcile requests a step adds: the watch events its writes make,
//! as each controller's watches map them (primary kind, owned kinds through
//! controller owner references, mapped kinds), minus dropped events and
//! events a stale view hides; the catch-up of views that become current; and
//! a crashed controller's relist.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::{Model, World};
use crate::api::{ApiServer, Event, GroupKind, ObjectKey, meta};
use crate::faults::WriteFault;
use crate::runtime::{Pending, WriteRecord};

impl Model {
    /// The requests an event triggers, for every controller watching its
    /// kind.
    pub(crate) fn triggers(&self, server: &ApiServer, event: &Event) -> BTreeSet<Pending> {
        let mut out = BTreeSet::new();
        for controller in 0..self.watches.len() {
            self.triggers_for(server, controller, event, &mut out);
        }
        out
    }

    /// The requests an event triggers for one controller.
    pub(crate) fn triggers_for(
        &self,
        server: &ApiServer,
        controller: usize,
        event: &Event,
        out: &mut BTreeSet<Pending>,
    ) {
        let watches = &self.watches[controller];
        let kind = &event.key.kind;
        let versions = std::iter::once(&event.object).chain(event.previous.as_ref());
        if *kind == watches.primary {
            out.insert(Pending {
                controller,
                object: event.key.clone(),
            });
        }
        if watches.owns.contains(kind) {
            let primary_namespaced = server
                .kind_info(&watches.primary)
                .map(|i| i.namespaced)
                .unwrap_or(true);
            for stored in versions.clone() {
                for owner in meta::owner_references(&stored.object) {
                    let owner_kind = GroupKind::from_api_version(&owner.api_version, &owner.kind);
                    if owner.controller && owner_kind == watches.primary {
                        let ns = event
                            .key
                            .namespace
                            .as_deref()
                            .filter(|_| primary_namespaced);
                        out.insert(Pending {
                            controller,
                            object: ObjectKey::new(owner_kind, ns, owner.name),
                        });
                    }
                }
            }
        }
        for (mapped, mapper) in &watches.maps {
            if mapped == kind {
                for stored in versions.clone() {
                    for object in mapper(&stored.object) {
                        out.insert(Pending { controller, object });
                    }
                }
            }
        }
    }

    /// Delivers the step's watch events: adds the requests they trigger to
    /// the pending set, except for controllers whose view of the kind is
    /// stale or whose event was dropped; adds catch-up requests for views
    /// that became current. Returns the requests added.
    pub(super) fn deliver(
        &self,
        before: &World,
        next: &mut World,
        writes: &[WriteRecord],
    ) -> Vec<Pending> {
        let mut added = BTreeSet::new();
        for write in writes {
            let Some(event) = &write.event else { continue };
            for controller in 0..self.controllers.len() {
                if self.dropped(write, controller)
                    || self
                        .staleness
                        .view_of(controller, &event.key.kind, event.kind_seq, &next.caught_up)
                        .is_some()
                {
                    continue;
                }
                self.triggers_for(&next.server, controller, event, &mut added);
            }
        }
        self.catch_up(&before.server, next, &mut added);
        let mut triggered = Vec::new();
        for p in added {
            if next.pending.insert(p.clone()).is_none() {
                triggered.push(p);
            }
        }
        triggered
    }

    fn dropped(&self, write: &WriteRecord, controller: usize) -> bool {
        match &write.fault {
            Some(WriteFault::WatchDrop { watcher: None }) => true,
            Some(WriteFault::WatchDrop {
                watcher: Some(name),
            }) => self.controllers[controller].name() == name,
            _ => false,
        }
    }

    /// When a stale view becomes current, the controller hears of every
    /// event it missed while stale.
    fn catch_up(&self, before: &ApiServer, next: &World, out: &mut BTreeSet<Pending>) {
        let (after, caught_up) = (&next.server, &next.caught_up);
        for interval in &self.staleness.intervals {
            let (c, kind) = (interval.controller, &interval.kind);
            let (from, to) = (before.kind_seq(kind), after.kind_seq(kind));
            if from == to {
                continue;
            }
            let Some(seen) = self.staleness.view_of(c, kind, from, caught_up) else {
                continue;
            };
            if self.staleness.view_of(c, kind, to, caught_up).is_some() {
                continue;
            }
            for event in missed_events(after, kind, seen) {
                self.triggers_for(after, c, &event, out);
            }
        }
    }

    /// An informer always delivers in the end: when nothing is pending and
    /// no user action is left, every view still stale catches up, and its
    /// controller hears of the events it missed. Without this a window whose
    /// end the run never reaches would leave a controller blind for good.
    /// Returns the requests it added. A reconcile's own retry does not count
    /// as pending work here: it is queued after this.
    pub(super) fn settle(&self, next: &mut World) -> Vec<Pending> {
        let mut out = BTreeSet::new();
        if !next.pending.is_empty() || next.next_action < self.actions.len() {
            return Vec::new();
        }
        for (i, interval) in self.staleness.intervals.iter().enumerate() {
            if next.caught_up.contains(&i) {
                continue;
            }
            let seq = next.server.kind_seq(&interval.kind);
            if let Some(seen) = interval.view_at(seq) {
                for event in missed_events(&next.server, &interval.kind, seen) {
                    self.triggers_for(&next.server, interval.controller, &event, &mut out);
                }
                next.caught_up.insert(i);
            }
        }
        for p in &out {
            next.pending.insert(p.clone());
        }
        out.into_iter().collect()
    }

    /// A restarted controller lists its primary kind again and reconciles
    /// every object of it, and the request it crashed on.
    pub(super) fn restart(&self, next: &mut World, controller: usize, pending: &Pending) {
        next.pending.insert(pending.clone());
        let primary = &self.watches[controller].primary;
        for ((ns, name), _) in next.server.objects(primary).iter() {
            next.pending.insert(Pending {
                controller,
                object: crate::api::ObjectKey::new(primary.clone(), ns.as_deref(), name.clone()),
            });
        }
    }
}

/// The events of a kind after its `seq`-th one, oldest first.
fn missed_events(server: &ApiServer, kind: &GroupKind, seq: u64) -> Vec<Arc<Event>> {
    let mut out: Vec<Arc<Event>> = server
        .history()
        .iter()
        .rev()
        .filter(|e| &e.key.kind == kind)
        .take_while(|e| e.kind_seq > seq)
        .cloned()
        .collect();
    out.reverse();
    out
}
