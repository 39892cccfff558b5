//! Stale views: a controller's cache of a kind lagging behind the server.
//!
//! A [`StalenessInterval`] makes a controller see a kind as of an earlier
//! point of that kind's event sequence while the sequence number is inside
//! `[stale_at, catch_up_at)`: frozen at `stale_at`, or trailing by a fixed
//! number of events. While stale, the kind's events do not trigger the
//! controller; when the window closes it is triggered for what changed.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use imbl::{OrdMap, OrdSet};

use crate::api::{ApiServer, GroupKind};
use crate::hash::Digest;

/// How far a stale view trails.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Lag {
    /// The view stays at `stale_at` for the whole window.
    #[default]
    Frozen,
    /// The view trails the kind's sequence by this many events.
    Events(u64),
}

impl Serialize for Lag {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Lag::Frozen => s.serialize_str("frozen"),
            Lag::Events(n) => s.serialize_u64(*n),
        }
    }
}

impl<'de> Deserialize<'de> for Lag {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Word(String),
            Number(u64),
        }
        match Raw::deserialize(d)? {
            Raw::Word(w) if w == "frozen" => Ok(Lag::Frozen),
            Raw::Word(w) => Err(serde::de::Error::custom(format!(
                "lag must be \"frozen\" or a number of events, not {w:?}"
            ))),
            Raw::Number(n) => Ok(Lag::Events(n)),
        }
    }
}

/// One controller's view of one kind, stale over a window of the kind's
/// event sequence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StalenessInterval {
    /// Index of the controller in the model.
    pub controller: usize,
    /// The kind whose view is stale.
    pub kind: GroupKind,
    /// First kind sequence number of the window.
    pub stale_at: u64,
    /// First kind sequence number after the window.
    pub catch_up_at: u64,
    /// Frozen or trailing.
    pub lag: Lag,
}

impl StalenessInterval {
    /// The kind sequence number the view shows when the kind is at `seq`,
    /// or `None` when the view is current.
    pub fn view_at(&self, seq: u64) -> Option<u64> {
        if seq < self.stale_at || seq >= self.catch_up_at {
            return None;
        }
        let view = match self.lag {
            Lag::Frozen => self.stale_at,
            Lag::Events(n) => seq.saturating_sub(n),
        };
        (view < seq).then_some(view)
    }
}

/// Stale-read search: each reconcile of a target controller branches over
/// A stale view a reconcile reads one kind through, under stale-read
/// search: the kind as it was `lag` events ago.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct StaleView {
    /// The kind read stale.
    pub kind: GroupKind,
    /// How many of the kind's events the view is behind.
    pub lag: u64,
}

/// views of the target kind up to `lookback` events old.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StaleReads {
    /// `(controller index, kind)` pairs whose reads may be stale.
    pub targets: Vec<(usize, GroupKind)>,
    /// How many events back a view may be.
    pub lookback: u64,
    /// How many stale reconciles one path may take per target.
    pub max_restarts: u32,
}

/// The staleness configured for a model.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Staleness {
    /// Declarative intervals.
    pub intervals: Vec<StalenessInterval>,
    /// Stale-read search, if asked for.
    pub stale_reads: Option<StaleReads>,
}

impl Staleness {
    /// Whether any staleness is configured.
    pub fn is_active(&self) -> bool {
        !self.intervals.is_empty() || self.stale_reads.is_some()
    }

    /// The intervals still in force: those not caught up at quiescence.
    fn active<'a>(
        &'a self,
        caught_up: &'a OrdSet<usize>,
    ) -> impl Iterator<Item = &'a StalenessInterval> {
        self.intervals
            .iter()
            .enumerate()
            .filter(|(i, _)| !caught_up.contains(i))
            .map(|(_, interval)| interval)
    }

    /// The stale kinds of `controller` and the sequence number each shows.
    pub fn views(
        &self,
        controller: usize,
        server: &ApiServer,
        caught_up: &OrdSet<usize>,
    ) -> BTreeMap<GroupKind, u64> {
        let mut views = BTreeMap::new();
        for interval in self
            .active(caught_up)
            .filter(|i| i.controller == controller)
        {
            if views.contains_key(&interval.kind) {
                continue;
            }
            if let Some(seq) = interval.view_at(server.kind_seq(&interval.kind)) {
                views.insert(interval.kind.clone(), seq);
            }
        }
        views
    }

    /// The stale-view combinations a reconcile of `controller` branches
    /// over: the current view (an empty list) first, then, for each target
    /// kind of the controller with restarts left and enough history, each
    /// lag from 1 to `lookback` (one stale kind at a time).
    pub fn stale_read_views(
        &self,
        controller: usize,
        server: &ApiServer,
        used: &OrdMap<(usize, GroupKind), u32>,
    ) -> Vec<Vec<StaleView>> {
        let mut out = vec![Vec::new()];
        let Some(sr) = &self.stale_reads else {
            return out;
        };
        for (c, kind) in sr.targets.iter().filter(|(c, _)| *c == controller) {
            let used = used.get(&(*c, kind.clone())).copied().unwrap_or(0);
            if used >= sr.max_restarts {
                continue;
            }
            let seq = server.kind_seq(kind);
            for lag in 1..=sr.lookback.min(seq) {
                out.push(vec![StaleView {
                    kind: kind.clone(),
                    lag,
                }]);
            }
        }
        out
    }

    /// The view of one kind when the kind is at `seq` (first matching
    /// interval), `None` when current.
    pub fn view_of(
        &self,
        controller: usize,
        kind: &GroupKind,
        seq: u64,
        caught_up: &OrdSet<usize>,
    ) -> Option<u64> {
        self.active(caught_up)
            .filter(|i| i.controller == controller && &i.kind == kind)
            .find_map(|i| i.view_at(seq))
    }

    /// The kinds whose sequence numbers the search key must include, with
    /// the number past which they no longer matter.
    pub fn tracked_kinds(&self) -> BTreeMap<GroupKind, u64> {
        let mut out: BTreeMap<GroupKind, u64> = BTreeMap::new();
        for i in &self.intervals {
            let end = out.entry(i.kind.clone()).or_insert(0);
            *end = (*end).max(i.catch_up_at);
        }
        out
    }
}

/// A digest of a kind's last `lookback` events (object, type, new and
/// previous content): with the current state, it decides every view up to
/// `lookback` events old, so stale-read search keys states by it.
pub fn recent_events_digest(server: &ApiServer, kind: &GroupKind, lookback: u64) -> Digest {
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"kcheck/recent-events/v1\0");
    let recent = server
        .history()
        .iter()
        .rev()
        .filter(|e| &e.key.kind == kind)
        .take(lookback as usize);
    for e in recent {
        hasher.update(e.key.to_string().as_bytes());
        hasher.update(&[e.event_type as u8]);
        hasher.update(&e.object.hash.0);
        if let Some(prev) = &e.previous {
            hasher.update(&prev.hash.0);
        }
    }
    Digest(*hasher.finalize().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn interval(lag: Lag) -> StalenessInterval {
        StalenessInterval {
            controller: 0,
            kind: GroupKind::new("", "Pod"),
            stale_at: 2,
            catch_up_at: 5,
            lag,
        }
    }

    #[test]
    fn frozen_view_stays_at_stale_at_inside_the_window() {
        let i = interval(Lag::Frozen);
        assert_eq!(i.view_at(1), None);
        assert_eq!(
            i.view_at(2),
            None,
            "at stale_at the frozen view is still current"
        );
        assert_eq!(i.view_at(3), Some(2));
        assert_eq!(i.view_at(4), Some(2));
        assert_eq!(i.view_at(5), None);
    }

    #[test]
    fn trailing_view_lags_by_n_events() {
        let i = interval(Lag::Events(1));
        assert_eq!(i.view_at(2), Some(1));
        assert_eq!(i.view_at(4), Some(3));
        assert_eq!(i.view_at(5), None);
    }

    #[test]
    fn lag_parses_frozen_or_a_number() {
        assert_eq!(
            serde_json::from_str::<Lag>("\"frozen\"").unwrap(),
            Lag::Frozen
        );
        assert_eq!(serde_json::from_str::<Lag>("3").unwrap(), Lag::Events(3));
        assert!(serde_json::from_str::<Lag>("\"slow\"").is_err());
    }
}
