//! The explored state graph: strongly connected components for livelock
//! detection, path counts over the component DAG, and Graphviz export.

use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;

/// How a state of the graph ended up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeMark {
    /// Expanded; nothing special.
    Plain,
    /// Converged (no pending work, no actions left).
    Converged,
    /// Cut by the depth limit.
    DepthLimited,
    /// A finding was reported here (invariant, panic, livelock).
    Finding,
}

/// The explored states (by discovery index) and transitions.
#[derive(Clone, Debug, Default)]
pub struct StateGraph {
    /// Short hash and mark of each state.
    pub nodes: Vec<(String, NodeMark)>,
    /// Transitions with their labels (actor and request).
    pub edges: Vec<(u32, u32, String)>,
}

impl StateGraph {
    /// Graphviz DOT: converged states green, findings red, depth-limited
    /// states grey.
    pub fn to_dot(&self) -> String {
        let mut out = String::from("digraph kcheck {\n  node [shape=box, fontname=monospace];\n");
        for (i, (label, mark)) in self.nodes.iter().enumerate() {
            let style = match mark {
                NodeMark::Plain => "",
                NodeMark::Converged => ", style=filled, fillcolor=palegreen",
                NodeMark::DepthLimited => ", style=filled, fillcolor=lightgrey",
                NodeMark::Finding => ", style=filled, fillcolor=salmon",
            };
            out.push_str(&format!("  s{i} [label={:?}{style}];\n", label));
        }
        for (from, to, label) in &self.edges {
            out.push_str(&format!("  s{from} -> s{to} [label={:?}];\n", label));
        }
        out.push_str("}\n");
        out
    }
}

/// Components of the explored graph.
pub(crate) struct Components {
    /// Component of each node.
    pub(crate) of: Vec<usize>,
    /// Nodes of each component, in reverse topological order of components.
    pub(crate) members: Vec<Vec<u32>>,
    graph: DiGraph<(), ()>,
}

impl Components {
    /// Computes the strongly connected components of `n` nodes.
    pub(crate) fn new(n: usize, edges: &[(u32, u32)]) -> Self {
        let mut graph = DiGraph::<(), ()>::with_capacity(n, edges.len());
        for _ in 0..n {
            graph.add_node(());
        }
        for &(a, b) in edges {
            graph.add_edge(NodeIndex::new(a as usize), NodeIndex::new(b as usize), ());
        }
        let sccs = tarjan_scc(&graph);
        let mut of = vec![0; n];
        let members: Vec<Vec<u32>> = sccs
            .iter()
            .map(|c| {
                let mut m: Vec<u32> = c.iter().map(|i| i.index() as u32).collect();
                m.sort_unstable();
                m
            })
            .collect();
        for (ci, m) in members.iter().enumerate() {
            for &node in m {
                of[node as usize] = ci;
            }
        }
        Components { of, members, graph }
    }

    /// Cycles nobody can leave: components with a cycle (more than one
    /// node, or a self-loop) and no edge out. Each is given by its members.
    pub(crate) fn traps(&self) -> Vec<&[u32]> {
        let mut out: Vec<&[u32]> = Vec::new();
        for (ci, m) in self.members.iter().enumerate() {
            let mut cyclic = m.len() > 1;
            let mut exits = false;
            for &node in m {
                for e in self.graph.edges(NodeIndex::new(node as usize)) {
                    let target = e.target().index();
                    cyclic |= target == node as usize;
                    exits |= self.of[target] != ci;
                }
            }
            if cyclic && !exits {
                out.push(m);
            }
        }
        out.sort_by_key(|m| m[0]);
        out
    }

    /// The number of paths from `root` into each component, counting
    /// parallel transitions separately and each cycle once (saturating).
    pub(crate) fn path_counts(&self, root: u32) -> Vec<u128> {
        let mut counts = vec![0u128; self.members.len()];
        counts[self.of[root as usize]] = 1;
        // tarjan_scc yields components in reverse topological order.
        for ci in (0..self.members.len()).rev() {
            let here = counts[ci];
            if here == 0 {
                continue;
            }
            for &node in &self.members[ci] {
                for e in self.graph.edges(NodeIndex::new(node as usize)) {
                    let target = self.of[e.target().index()];
                    if target != ci {
                        counts[target] = counts[target].saturating_add(here);
                    }
                }
            }
        }
        counts
    }
}

impl Components {
    /// The number of paths from `root` into each component by length
    /// (index: number of transitions), counting each cycle once and
    /// letting it add no length (saturating). For an acyclic graph these
    /// are exact path counts by length.
    pub(crate) fn path_counts_by_length(&self, root: u32) -> Vec<Vec<u128>> {
        let mut counts = vec![Vec::<u128>::new(); self.members.len()];
        counts[self.of[root as usize]] = vec![1];
        for ci in (0..self.members.len()).rev() {
            if counts[ci].is_empty() {
                continue;
            }
            let here = std::mem::take(&mut counts[ci]);
            for &node in &self.members[ci] {
                for e in self.graph.edges(NodeIndex::new(node as usize)) {
                    let target = self.of[e.target().index()];
                    if target == ci {
                        continue;
                    }
                    let there = &mut counts[target];
                    if there.len() < here.len() + 1 {
                        there.resize(here.len() + 1, 0);
                    }
                    for (len, n) in here.iter().enumerate() {
                        there[len + 1] = there[len + 1].saturating_add(*n);
                    }
                }
            }
            counts[ci] = here;
        }
        counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_by_length_count_each_length_apart() {
        // 0 -> 1 -> 3, 0 -> 2 -> 3, 0 -> 3: one path of length 1, two of 2.
        let c = Components::new(4, &[(0, 1), (1, 3), (0, 2), (2, 3), (0, 3)]);
        assert_eq!(c.path_counts_by_length(0)[c.of[3]], vec![0, 1, 2]);
    }

    #[test]
    fn diamond_has_two_paths_to_its_sink() {
        let c = Components::new(4, &[(0, 1), (0, 2), (1, 3), (2, 3)]);
        let counts = c.path_counts(0);
        assert_eq!(counts[c.of[3]], 2);
        assert!(c.traps().is_empty());
    }

    #[test]
    fn cycle_without_exit_is_a_trap_and_with_exit_is_not() {
        let trap = Components::new(3, &[(0, 1), (1, 2), (2, 1)]);
        assert_eq!(trap.traps(), vec![&[1u32, 2][..]]);
        let escapable = Components::new(4, &[(0, 1), (1, 2), (2, 1), (2, 3)]);
        assert!(escapable.traps().is_empty());
        let self_loop = Components::new(2, &[(0, 1), (1, 1)]);
        assert_eq!(self_loop.traps(), vec![&[1u32][..]]);
    }
}
