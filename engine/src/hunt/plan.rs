//! The hunt's planners: from a reference run's records, the perturbations
//! worth trying, one hunt phase each.

use std::collections::{BTreeMap, BTreeSet};

use crate::Model;
use crate::faults::{ApiFaultSpec, CrashSpec, WriteFault};
use crate::model::{StepRecord, World};
use crate::staleness::{Lag, StalenessInterval};

/// The staleness planner: from a reference run's records, every
/// `(controller, kind)` pair the controller read, and for each pair every
/// frozen window `[stale_at, catch_up_at)` over the kind's events during the
/// run (`first <= stale_at`, `stale_at + 2 <= catch_up_at <= last + 1`, so
/// that at least one event falls inside), where `first` is the kind's
/// sequence number at the start: caches are synced before controllers start,
/// as controller-runtime waits for them. Each interval is one hunt phase.
pub fn plan_intervals(
    model: &Model,
    records: &[StepRecord],
    start: &World,
    end: &World,
) -> Vec<StalenessInterval> {
    let mut pairs = BTreeSet::new();
    for r in records {
        if let Some(c) = model.controller_index(&r.actor) {
            for kind in &r.kinds_read {
                pairs.insert((c, kind.clone()));
            }
        }
    }
    let mut out = Vec::new();
    for (controller, kind) in pairs {
        let last = end.server.kind_seq(&kind);
        for stale_at in start.server.kind_seq(&kind)..last {
            for catch_up_at in stale_at + 2..=last + 1 {
                out.push(StalenessInterval {
                    controller,
                    kind: kind.clone(),
                    stale_at,
                    catch_up_at,
                    lag: Lag::Frozen,
                });
            }
        }
    }
    out
}

/// The crash planner: for each controller, a once-only crash after each
/// number of successful writes up to the most it made in one reconcile of
/// the reference run.
pub fn plan_crashes(model: &Model, records: &[StepRecord]) -> Vec<CrashSpec> {
    let mut most = BTreeMap::new();
    for r in records {
        if let Some(c) = model.controller_index(&r.actor) {
            let ok = r.writes.iter().filter(|w| w.error.is_none()).count() as u32;
            let m = most.entry(c).or_insert(0);
            *m = (*m).max(ok);
        }
    }
    most.into_iter()
        .flat_map(|(controller, n)| {
            (1..=n).map(move |after_writes| CrashSpec {
                controller,
                after_writes,
                once: true,
            })
        })
        .collect()
}

/// The API-fault planner: for each controller and each of its writes in the
/// reference run, a conflict, a server error and a dropped watch event.
pub fn plan_api_faults(model: &Model, records: &[StepRecord]) -> Vec<ApiFaultSpec> {
    let mut writes = BTreeMap::new();
    for r in records {
        if let Some(c) = model.controller_index(&r.actor) {
            *writes.entry(c).or_insert(0u32) += r.writes.len() as u32;
        }
    }
    let faults = [
        WriteFault::Conflict,
        WriteFault::ServerError,
        WriteFault::WatchDrop { watcher: None },
    ];
    let mut out = Vec::new();
    for (controller, n) in writes {
        for write in 1..=n {
            for fault in &faults {
                out.push(ApiFaultSpec {
                    controller,
                    write,
                    fault: fault.clone(),
                });
            }
        }
    }
    out
}
