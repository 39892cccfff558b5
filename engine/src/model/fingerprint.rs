//! The search key of a state: everything that decides its future, and
//! nothing else, so that states reached by different paths are explored once.

use super::{Model, World};
use crate::hash::Digest;

/// Builds a state's search key: everything that decides its future.
struct Fingerprint {
    hasher: blake3::Hasher,
}

impl Fingerprint {
    fn new(world: &World) -> Self {
        let mut hasher = blake3::Hasher::new();
        hasher.update(b"kcheck/world/v1\0");
        hasher.update(&world.server.content_hash().0);
        hasher.update(&world.server.counters_digest().0);
        hasher.update(&(world.pending.len() as u64).to_le_bytes());
        for p in &world.pending {
            hasher.update(&(p.controller as u64).to_le_bytes());
            // The key's parts, each ended by a zero byte: no string is
            // formatted on this hot path.
            for part in p.object.parts() {
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

    fn add(&mut self, label: &[u8], value: &[u8]) {
        self.hasher.update(label);
        self.hasher.update(&[0]);
        self.hasher.update(value);
    }

    fn finish(self) -> Digest {
        Digest(*self.hasher.finalize().as_bytes())
    }
}

impl Model {
    /// The search key of a state explored up to `max_depth`: two states
    /// with equal keys have the same futures. See `docs/architecture.md` for
    /// why each part is there.
    pub fn fingerprint(&self, world: &World, max_depth: u32) -> Digest {
        let mut fp = Fingerprint::new(world);
        // The depth matters only while a remaining action can still become
        // available by depth within the horizon; actions keep their order,
        // so the largest such depth bounds what the depth decides. Actions
        // that wait for a settled cluster never depend on it.
        let threshold = self.actions[world.next_action.min(self.actions.len())..]
            .iter()
            .filter_map(|a| a.timing.depth())
            .filter(|&d| d < max_depth)
            .max();
        if let Some(threshold) = threshold {
            fp.add(b"depth", &world.depth.min(threshold).to_le_bytes());
        }
        if self.staleness.is_active() {
            fp.add(b"rvs", &world.server.rv_digest().0);
            for i in &world.caught_up {
                fp.add(b"caught-up", &(*i as u64).to_le_bytes());
            }
            for ((c, kind), n) in &world.stale_used {
                let used = [(*c as u64).to_le_bytes(), u64::from(*n).to_le_bytes()].concat();
                fp.add(kind.to_string().as_bytes(), &used);
            }
            if let Some(sr) = &self.staleness.stale_reads {
                for (_, kind) in &sr.targets {
                    let recent =
                        crate::staleness::recent_events_digest(&world.server, kind, sr.lookback);
                    fp.add(kind.to_string().as_bytes(), &recent.0);
                }
            }
            for (kind, end) in self.staleness.tracked_kinds() {
                let seq = world.server.kind_seq(&kind).min(end);
                fp.add(kind.to_string().as_bytes(), &seq.to_le_bytes());
            }
        }
        fp.finish()
    }
}
