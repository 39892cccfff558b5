//! Partial-order reduction by independent groups of work.
//!
//! The pending requests of the initial state are split into groups, one
//! request each to begin with. Each group is explored alone, from the
//! initial state with only its own requests pending, recording the
//! footprint of every step (what it read, listed, changed, remembered and
//! queued). When two groups' footprints meet, they are merged and explored
//! together; when no two meet, no step of one group can see or undo a step
//! of another on any path, so every ordering of the whole is an
//! interleaving of the groups' orderings:
//!
//! - the converged states of the whole are the combinations of the groups'
//!   converged states (each combination is replayed, group after group, to
//!   get the real state and its hash, and checked as converged);
//! - findings of a group (panics, livelocks, depth limits) happen in the
//!   whole on the same path;
//! - interleavings of independent paths of lengths `a` and `b` number
//!   `C(a + b, a)`, so the orderings reaching a combination are counted
//!   exactly from the groups' paths by length.
//!
//! `docs/architecture.md` gives the argument and what switches reduction
//! off.

use serde::{Deserialize, Serialize};

use super::exhaustive::{self, End, Exhaustive, Searched, merge_equal_hashes};
use super::report::{Converged, Finding, FindingKind, Report};
use super::{Mode, Settings, Strategy};
use crate::invariants::When;
use crate::model::World;
use crate::model::{Choice, Model};
use crate::runtime::{Footprint, Pending};

/// Partial-order reduction in exhaustive mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Reduction {
    /// Independent groups of work are explored apart and combined (the
    /// default).
    Por,
    /// Every ordering of every request is explored.
    None,
}

impl Reduction {
    /// The name in scenario files, flags and results: `por` or `none`.
    pub fn name(self) -> &'static str {
        match self {
            Reduction::Por => "por",
            Reduction::None => "none",
        }
    }
}

/// What reduction did in a run; by default, nothing (`none`, no group), as
/// in the modes other than exhaustive.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReductionStats {
    /// The reduction used: `none` when it was off, asked for or not.
    pub used: Reduction,
    /// Independent groups of work explored apart (1 when nothing split).
    pub groups: usize,
    /// Times two groups were merged because their footprints met.
    pub merges: usize,
    /// Why reduction was off although asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub off_because: Option<String>,
}

impl Default for ReductionStats {
    fn default() -> Self {
        ReductionStats {
            used: Reduction::None,
            groups: 0,
            merges: 0,
            off_because: None,
        }
    }
}

/// A group formed by the probe.
struct Probed {
    requests: Vec<Pending>,
    footprint: Footprint,
    /// The probe's search, when it covered the whole group (no merge, no
    /// cut): it need not be explored again.
    done: Option<Searched>,
}

/// States a probe explores of each request alone before the groups are
/// formed: enough for most dependencies to show, small beside a search.
const PROBE_STATES: u64 = 256;

/// Exhaustive search with reduction where it applies.
pub(crate) struct Reduced;

impl Strategy for Reduced {
    fn explore(&self, model: &Model, settings: &Settings) -> Report {
        if settings.reduction == Reduction::None {
            return unreduced(model, settings, None);
        }
        if let Some(why) = unsupported(model, settings) {
            return unreduced(model, settings, Some(why));
        }
        let init = model.initial();
        let groups = (init.pending.len() > 1).then(|| Groups::explore(model, settings, &init));
        let groups = match groups {
            Some(g) if !g.groups.is_empty() || g.cut => g,
            // One group (found by the probe, or one request): the ordinary
            // search, untracked.
            one => {
                let mut report = Exhaustive.explore(model, settings);
                report.stats.reduction = ReductionStats {
                    used: Reduction::Por,
                    groups: 1,
                    merges: one.map_or(0, |g| g.merges),
                    off_because: None,
                };
                return report;
            }
        };
        match groups.combine(model, &init) {
            Ok(report) => report,
            Err(why) => unreduced(model, settings, Some(why)),
        }
    }
}

/// The unreduced search, saying why reduction was off if it was asked for.
fn unreduced(model: &Model, settings: &Settings, off_because: Option<String>) -> Report {
    let mut report = Exhaustive.explore(model, settings);
    report.stats.reduction = ReductionStats {
        used: Reduction::None,
        groups: 1,
        merges: 0,
        off_because,
    };
    report
}

/// Why reduction cannot be argued sound for this run, if it cannot.
fn unsupported(model: &Model, settings: &Settings) -> Option<String> {
    let why = if !model.actions.is_empty() {
        "the scenario has user actions"
    } else if model.staleness.is_active() {
        "the scenario reads through stale views"
    } else if model.faults.is_active() {
        "the scenario injects faults"
    } else if model.invariants.iter().any(|i| i.when() == When::Always) {
        "an invariant is checked in every state (`when: always`)"
    } else if settings.keep_graph {
        "the whole state graph is asked for"
    } else {
        return None;
    };
    Some(why.to_string())
}

/// The groups of work and their searches.
struct Groups {
    /// The initial requests of each group, and its search.
    groups: Vec<(Vec<Pending>, Searched)>,
    merges: usize,
    /// States explored by every search so far, merged groups' included:
    /// what the budgets count.
    explored: u64,
    /// The search was cut short by a budget.
    cut: bool,
}

impl Groups {
    /// Explores every group, merging groups whose footprints meet until no
    /// two meet, or a budget cuts the run short.
    fn explore(model: &Model, settings: &Settings, init: &World) -> Groups {
        let mut out = Groups {
            groups: Vec::new(),
            merges: 0,
            explored: 0,
            cut: false,
        };
        let mut todo = out.probe(model, settings, init);
        if todo.len() < 2 {
            // One group: nothing to explore apart.
            return out;
        }
        while let Some(Probed { requests, done, .. }) = todo.pop() {
            let searched = match done {
                Some(searched) => searched,
                None => {
                    let searched = out.search(model, settings, init, &requests);
                    out.explored += searched.report.stats.states;
                    searched
                }
            };
            out.cut |= !searched.report.cuts.is_empty();
            let met = searched.footprint.as_ref().and_then(|f| {
                out.groups.iter().position(|(_, other)| {
                    other
                        .footprint
                        .as_ref()
                        .is_some_and(|o| o.meets(f).is_some())
                })
            });
            match met {
                Some(i) if !out.cut => {
                    let (mut merged, _) = out.groups.remove(i);
                    merged.extend(requests);
                    merged.sort();
                    out.merges += 1;
                    todo.push(Probed {
                        requests: merged,
                        footprint: Footprint::default(),
                        done: None,
                    });
                }
                _ => out.groups.push((requests, searched)),
            }
            if out.cut {
                break;
            }
        }
        out.groups.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Groups found by a short search of each request alone (its first
    /// [`PROBE_STATES`] states or so), merged where those footprints already
    /// meet. Work that is not independent usually shows it at once: without
    /// the probe, a group explored in full would be explored again when a
    /// later group meets it.
    fn probe(&mut self, model: &Model, settings: &Settings, init: &World) -> Vec<Probed> {
        let mut probed: Vec<Probed> = Vec::new();
        for request in &init.pending {
            let mut short = settings.clone();
            let cap = settings.states_before + self.explored + PROBE_STATES;
            short.budget.max_states = Some(settings.budget.max_states.map_or(cap, |m| m.min(cap)));
            let searched = self.search(model, &short, init, std::slice::from_ref(request));
            self.explored += searched.report.stats.states;
            let mut group = Probed {
                requests: vec![request.clone()],
                footprint: searched.footprint.clone().unwrap_or_default(),
                done: searched.report.cuts.is_empty().then_some(searched),
            };
            while let Some(i) = probed
                .iter()
                .position(|p| p.footprint.meets(&group.footprint).is_some())
            {
                let other = probed.remove(i);
                group.requests.extend(other.requests);
                group.requests.sort();
                group.footprint.absorb(other.footprint);
                group.done = None;
                self.merges += 1;
            }
            probed.push(group);
        }
        probed
    }

    /// Explores one group alone, counting every state explored so far
    /// against the budgets.
    fn search(
        &self,
        model: &Model,
        settings: &Settings,
        init: &World,
        requests: &[Pending],
    ) -> Searched {
        let mut start = init.clone();
        start.pending = requests.iter().cloned().collect();
        let mut settings = settings.clone();
        settings.states_before += self.explored;
        exhaustive::search(model, &settings, start, true)
    }

    /// The states of the groups kept: the reduced state space.
    fn states(&self) -> u64 {
        self.groups.iter().map(|(_, s)| s.report.stats.states).sum()
    }

    /// The report of the whole: the groups' findings and statistics, and
    /// the combinations of their converged states. An error when a
    /// combination does not replay to a converged state, which would mean
    /// the groups were not independent after all.
    fn combine(self, model: &Model, init: &World) -> Result<Report, String> {
        let mut report = Report::new(Mode::Exhaustive);
        report.stats.states = self.states();
        report.stats.reduction = ReductionStats {
            used: Reduction::Por,
            groups: self.groups.len(),
            merges: self.merges,
            off_because: None,
        };
        let mut ends = Vec::new();
        for (_, searched) in self.groups {
            let r = searched.report;
            report.stats.transitions += r.stats.transitions;
            report.stats.depth_limited += r.stats.depth_limited;
            report.stats.max_depth_reached = report
                .stats
                .max_depth_reached
                .max(r.stats.max_depth_reached);
            report.findings.extend(r.findings);
            report.cuts.extend(r.cuts);
            if report.depth_example.is_none() {
                report.depth_example = r.depth_example;
            }
            ends.push(searched.ends);
        }
        if self.cut {
            return Ok(report);
        }
        for combination in Combinations::new(&ends) {
            let path: Vec<Choice> = combination
                .iter()
                .flat_map(|e| e.path.iter().cloned())
                .collect();
            let world = replay(model, init, &path);
            if !model.choices(&world).is_empty() {
                return Err(
                    "the groups' converged states did not combine into a converged state \
                     (a kcheck bug: please report it with the scenario)"
                        .to_string(),
                );
            }
            report.converged_after(path.len() as u32);
            for (name, why) in model.violations(&world.server, When::Converged) {
                report.findings.push(Finding {
                    kind: FindingKind::Invariant,
                    message: format!("invariant {name} failed on a converged state: {why}"),
                    path: path.clone(),
                    occurrences: 1,
                });
            }
            report.converged.push(Converged::new(
                model.state_hash(&world),
                interleavings(combination.iter().map(|e| e.lengths.as_slice())),
                path,
                world,
            ));
        }
        merge_equal_hashes(&mut report.converged, model.mask());
        merge_equal_findings(&mut report.findings);
        Ok(report)
    }
}

/// Takes a path's choices from a state.
fn replay(model: &Model, init: &World, path: &[Choice]) -> World {
    let mut world = init.clone();
    for choice in path {
        world = model.step(&world, choice, false).world;
    }
    world
}

/// Findings of the same kind and message (an invariant failing in several
/// combinations) count as one, with their occurrences added.
fn merge_equal_findings(findings: &mut Vec<Finding>) {
    let mut out: Vec<Finding> = Vec::new();
    for f in findings.drain(..) {
        match out
            .iter_mut()
            .find(|o| o.kind == f.kind && o.message == f.message)
        {
            Some(o) => o.occurrences += f.occurrences,
            None => out.push(f),
        }
    }
    *findings = out;
}

/// Every choice of one item from each list, the first list varying slowest.
struct Combinations<'a> {
    lists: &'a [Vec<End>],
    next: Option<Vec<usize>>,
}

impl<'a> Combinations<'a> {
    fn new(lists: &'a [Vec<End>]) -> Self {
        let next = lists
            .iter()
            .all(|l| !l.is_empty())
            .then(|| vec![0; lists.len()]);
        Combinations { lists, next }
    }
}

impl<'a> Iterator for Combinations<'a> {
    type Item = Vec<&'a End>;

    fn next(&mut self) -> Option<Self::Item> {
        let current = self.next.take()?;
        let item = current
            .iter()
            .zip(self.lists)
            .map(|(&i, list)| &list[i])
            .collect();
        let mut following = current;
        for i in (0..following.len()).rev() {
            following[i] += 1;
            if following[i] < self.lists[i].len() {
                self.next = Some(following);
                break;
            }
            following[i] = 0;
        }
        Some(item)
    }
}

/// The orderings of independent groups whose paths number `lengths[g][n]`
/// with `n` steps: interleaving paths of lengths `a` and `b` gives
/// `C(a + b, a)` orderings (saturating).
fn interleavings<'a>(lengths: impl Iterator<Item = &'a [u128]>) -> u128 {
    let mut total: Vec<u128> = vec![1];
    for group in lengths {
        let mut next = vec![0u128; total.len() + group.len().saturating_sub(1)];
        for (a, &x) in total.iter().enumerate() {
            for (b, &y) in group.iter().enumerate() {
                let ways = binomial(a + b, a).saturating_mul(x).saturating_mul(y);
                next[a + b] = next[a + b].saturating_add(ways);
            }
        }
        total = next;
    }
    total.into_iter().fold(0, u128::saturating_add)
}

/// `C(n, k)`, saturating.
fn binomial(n: usize, k: usize) -> u128 {
    let k = k.min(n - k);
    let mut out: u128 = 1;
    for i in 0..k {
        // out * (n - i) / (i + 1) stays exact: out is C(n, i) here.
        out = match out.checked_mul((n - i) as u128) {
            Some(v) => v / (i as u128 + 1),
            None => return u128::MAX,
        };
    }
    out
}

#[cfg(test)]
mod tests;
