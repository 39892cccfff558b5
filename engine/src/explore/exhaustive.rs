//! Every ordering: a level-by-level breadth-first search over states
//! deduplicated by fingerprint. Each level's states are expanded in
//! parallel; the successors are merged in a fixed order (frontier order,
//! then choice order), so node numbers, parents, and therefore every
//! result are the same for any number of threads.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use rayon::prelude::*;

use super::graph::{Components, NodeMark, StateGraph};
use super::report::{Converged, Finding, FindingKind, Report};
use super::{Mode, Progress, Settings, Strategy, note_step};
use crate::api::ConvergedMask;
use crate::hash::Digest;
use crate::invariants::When;
use crate::model::{Choice, Model};
use crate::model::{StepOutcome, World};
use crate::runtime::Footprint;

pub(crate) struct Exhaustive;

/// A search from one state, before its converged states are merged by
/// hash: what reduction combines.
pub(crate) struct Searched {
    /// The report; its `converged` holds the merged states as usual.
    pub(crate) report: Report,
    /// Every converged state reached, unmerged.
    pub(crate) ends: Vec<End>,
    /// What every step touched (a group's search).
    pub(crate) footprint: Option<Footprint>,
}

/// One converged state of a search.
pub(crate) struct End {
    /// A shortest path to it from the search's start.
    pub(crate) path: Vec<Choice>,
    /// Paths to it by length (each cycle counted once and adding no
    /// length); empty unless the search is a group's.
    pub(crate) lengths: Vec<u128>,
}

/// States expanded between two looks at the budgets: small enough that
/// Ctrl-C and the budgets act within about a second, large enough to keep
/// every thread busy. Fixed, so a state budget cuts the search at the same
/// place for any number of threads.
const BATCH: usize = 256;

/// Fingerprints are blake3 digests, already uniformly distributed: the
/// visited map uses their first eight bytes as the hash instead of hashing
/// them again.
#[derive(Default)]
struct DigestHasher(u64);

impl Hasher for DigestHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for (i, b) in bytes.iter().take(8).enumerate() {
            self.0 |= u64::from(*b) << (8 * i);
        }
    }

    /// The length prefix of the digest's bytes carries no information.
    fn write_usize(&mut self, _: usize) {}
}

type Visited = HashMap<Digest, u32, BuildHasherDefault<DigestHasher>>;

/// A state of the search.
struct Node {
    /// Discovering node and the index of the choice taken there
    /// (`u32::MAX` for the initial state).
    parent: u32,
    choice: u32,
    depth: u32,
    mark: NodeMark,
}

/// What expanding one state produced.
enum Expansion {
    Converged(Box<World>),
    DepthLimited,
    Children(Vec<Child>),
}

struct Child {
    choice: u32,
    taken: Choice,
    label: String,
    world: World,
    outcome: StepOutcome,
    fingerprint: Digest,
    footprint: Option<Footprint>,
}

/// The search's bookkeeping.
struct Search<'a> {
    model: &'a Model,
    settings: &'a Settings,
    /// Where the search starts.
    init: World,
    nodes: Vec<Node>,
    index: Visited,
    edges: Vec<(u32, u32)>,
    labels: Vec<String>,
    report: Report,
    converged: Vec<(u32, World)>,
    grouped: HashMap<(FindingKind, String), usize>,
    /// What the steps touched: kept in a group's search only.
    footprint: Option<Footprint>,
}

impl Strategy for Exhaustive {
    fn explore(&self, model: &Model, settings: &Settings) -> Report {
        search(model, settings, model.initial(), false).report
    }
}

/// Every ordering from `init`. A search of a `group` of a larger whole
/// (see reduction) also records the footprint of every step and counts
/// paths by length, and leaves invariants on converged states to the
/// whole.
pub(crate) fn search(model: &Model, settings: &Settings, init: World, group: bool) -> Searched {
    let mut search = Search {
        model,
        settings,
        init: init.clone(),
        nodes: Vec::new(),
        index: Visited::default(),
        edges: Vec::new(),
        labels: Vec::new(),
        report: Report::new(Mode::Exhaustive),
        converged: Vec::new(),
        grouped: HashMap::new(),
        footprint: group.then(Footprint::default),
    };
    let root = search.add_node(u32::MAX, 0, 0, model.fingerprint(&init, settings.max_depth));
    let mut frontier = Vec::new();
    if search.always_invariants_hold(root, &init) {
        frontier.push((root, init));
    }
    let mut depth = 0;
    'levels: while !frontier.is_empty() {
        let mut level = std::mem::take(&mut frontier).into_iter();
        loop {
            let batch: Vec<(u32, World)> = level.by_ref().take(BATCH).collect();
            if batch.is_empty() {
                break;
            }
            let states = settings.states_before + search.nodes.len() as u64;
            if let Some(cut) = settings.budget.spent(states) {
                search.report.stop(cut);
                break 'levels;
            }
            let expansions: Vec<(u32, Expansion)> = batch
                .into_par_iter()
                .map(|(id, world)| (id, expand(model, settings, &world, group)))
                .collect();
            for (id, expansion) in expansions {
                search.merge(id, expansion, &mut frontier);
            }
            settings.report_progress(Progress {
                states: settings.states_before + search.nodes.len() as u64,
                transitions: search.report.stats.transitions,
                depth: depth + 1,
                trials_done: 0,
            });
        }
        depth += 1;
        search.report.stats.max_depth_reached = depth.min(settings.max_depth);
    }
    search.finish()
}

fn expand(model: &Model, settings: &Settings, world: &World, track: bool) -> Expansion {
    let choices = model.choices(world);
    if choices.is_empty() {
        return Expansion::Converged(Box::new(world.clone()));
    }
    if world.depth >= settings.max_depth {
        return Expansion::DepthLimited;
    }
    let children = choices
        .par_iter()
        .enumerate()
        .map(|(i, choice)| {
            let step = model.step_tracked(world, choice, false, track);
            Child {
                choice: i as u32,
                taken: choice.clone(),
                label: if settings.keep_graph {
                    model.describe(choice)
                } else {
                    String::new()
                },
                fingerprint: model.fingerprint(&step.world, settings.max_depth),
                world: step.world,
                outcome: step.outcome,
                footprint: step.footprint,
            }
        })
        .collect();
    Expansion::Children(children)
}

impl Search<'_> {
    fn add_node(&mut self, parent: u32, choice: u32, depth: u32, fingerprint: Digest) -> u32 {
        let id = self.nodes.len() as u32;
        self.nodes.push(Node {
            parent,
            choice,
            depth,
            mark: NodeMark::Plain,
        });
        self.index.insert(fingerprint, id);
        id
    }

    fn merge(&mut self, id: u32, expansion: Expansion, frontier: &mut Vec<(u32, World)>) {
        match expansion {
            Expansion::Converged(world) => {
                self.nodes[id as usize].mark = NodeMark::Converged;
                if self.footprint.is_none() {
                    self.check_converged_invariants(id, &world);
                }
                self.converged.push((id, *world));
            }
            Expansion::DepthLimited => {
                self.nodes[id as usize].mark = NodeMark::DepthLimited;
                let example = self
                    .report
                    .depth_example
                    .is_none()
                    .then(|| self.path_to(id));
                self.report.depth_limited(example);
                if self.model.requires_convergence() {
                    let message = format!(
                        "a path did not converge within {} steps",
                        self.settings.max_depth
                    );
                    self.find(FindingKind::DepthLimit, "depth".into(), message, id, None);
                }
            }
            Expansion::Children(children) => {
                for child in children {
                    self.report.stats.transitions += 1;
                    self.merge_child(id, child, frontier);
                }
            }
        }
    }

    fn merge_child(&mut self, parent: u32, mut child: Child, frontier: &mut Vec<(u32, World)>) {
        note_step(&mut self.report, &child.taken, &child.outcome);
        if let (Some(all), Some(step)) = (&mut self.footprint, child.footprint.take()) {
            all.absorb(step);
        }
        if let StepOutcome::Panic(message) = &child.outcome {
            let text = format!(
                "{} panicked: {message}",
                self.model.describe_actor(&child.taken)
            );
            self.find(
                FindingKind::Panic,
                text.clone(),
                text,
                parent,
                Some(child.taken),
            );
            return;
        }
        if let Some(&existing) = self.index.get(&child.fingerprint) {
            self.edge(parent, existing, child.label);
            return;
        }
        let depth = self.nodes[parent as usize].depth + 1;
        let id = self.add_node(parent, child.choice, depth, child.fingerprint);
        self.edge(parent, id, child.label);
        if self.always_invariants_hold(id, &child.world) {
            frontier.push((id, child.world));
        }
    }

    fn edge(&mut self, from: u32, to: u32, label: String) {
        self.edges.push((from, to));
        if self.settings.keep_graph {
            self.labels.push(label);
        }
    }

    fn always_invariants_hold(&mut self, id: u32, world: &World) -> bool {
        let broken = self.model.violations(&world.server, When::Always);
        for (name, why) in &broken {
            let message = format!("invariant {name} failed: {why}");
            self.find(FindingKind::Invariant, name.clone(), message, id, None);
        }
        if !broken.is_empty() {
            self.nodes[id as usize].mark = NodeMark::Finding;
        }
        broken.is_empty()
    }

    fn check_converged_invariants(&mut self, id: u32, world: &World) {
        for (name, why) in self.model.violations(&world.server, When::Converged) {
            let message = format!("invariant {name} failed on a converged state: {why}");
            self.find(FindingKind::Invariant, name, message, id, None);
        }
    }

    /// Records a finding, grouped by kind and `group`: the first (shortest)
    /// occurrence keeps its path, later ones only count.
    fn find(
        &mut self,
        kind: FindingKind,
        group: String,
        message: String,
        node: u32,
        extra: Option<Choice>,
    ) {
        if let Some(&i) = self.grouped.get(&(kind.clone(), group.clone())) {
            self.report.findings[i].occurrences += 1;
            return;
        }
        let mut path = self.path_to(node);
        path.extend(extra);
        self.grouped
            .insert((kind.clone(), group), self.report.findings.len());
        self.report.findings.push(Finding {
            kind,
            message,
            path,
            occurrences: 1,
        });
    }

    /// The choice indices from the initial state to a node.
    fn indices_to(&self, mut node: u32) -> Vec<u32> {
        let mut out = Vec::new();
        while self.nodes[node as usize].parent != u32::MAX {
            out.push(self.nodes[node as usize].choice);
            node = self.nodes[node as usize].parent;
        }
        out.reverse();
        out
    }

    /// The choices from the initial state to a node (by replaying them).
    fn path_to(&self, node: u32) -> Vec<Choice> {
        self.model
            .resolve_path(self.init.clone(), &self.indices_to(node))
            .0
    }

    fn finish(mut self) -> Searched {
        let components = Components::new(self.nodes.len(), &self.edges);
        for trap in components.traps() {
            for &n in trap {
                self.nodes[n as usize].mark = NodeMark::Finding;
            }
            let message = format!(
                "livelock: a cycle of {} state(s) with work pending that no ordering can leave",
                trap.len()
            );
            self.find(
                FindingKind::Livelock,
                format!("trap {}", trap[0]),
                message,
                trap[0],
                None,
            );
        }
        let counts = components.path_counts(0);
        let lengths = match self.footprint {
            Some(_) => components.path_counts_by_length(0),
            None => Vec::new(),
        };
        let mut ends = Vec::new();
        for (id, world) in std::mem::take(&mut self.converged) {
            let component = components.of[id as usize];
            self.report.converged_after(self.nodes[id as usize].depth);
            let path = self.path_to(id);
            self.report.converged.push(Converged::new(
                self.model.state_hash(&world),
                counts[component],
                path.clone(),
                world,
            ));
            if self.footprint.is_some() {
                ends.push(End {
                    path,
                    lengths: lengths[component].clone(),
                });
            }
        }
        merge_equal_hashes(&mut self.report.converged, self.model.mask());
        self.report.stats.states = self.nodes.len() as u64;
        if self.settings.keep_graph {
            self.report.graph = Some(StateGraph {
                nodes: self
                    .nodes
                    .iter()
                    .map(|n| (format!("d{}", n.depth), n.mark))
                    .collect(),
                edges: self
                    .edges
                    .iter()
                    .zip(self.labels)
                    .map(|(&(a, b), l)| (a, b, l))
                    .collect(),
            });
        }
        if let Some(f) = &mut self.footprint {
            for request in &self.init.pending {
                f.request(request);
            }
        }
        Searched {
            report: self.report,
            ends,
            footprint: self.footprint,
        }
    }
}

/// States that differ only in what the search key adds (pending set is
/// empty in both, but e.g. controller memory differs) are one converged
/// cluster state: merge them, adding their path counts.
/// Merged states may differ in masked fields: the merged state records
/// which.
pub(crate) fn merge_equal_hashes(converged: &mut Vec<Converged>, mask: &ConvergedMask) {
    let mut out: Vec<Converged> = Vec::new();
    for c in converged.drain(..) {
        match out.iter_mut().find(|o| o.hash == c.hash) {
            Some(o) => o.absorb(&c.world, c.paths, mask),
            None => out.push(c),
        }
    }
    *converged = out;
}
