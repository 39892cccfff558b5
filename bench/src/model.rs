//! An abstract stateright model of N independent Deployments rolled out by
//! the deployment, replicaset and kubelet controllers.
//!
//! It keeps only what the rollout needs: per Deployment its desired and ready
//! replica counts, whether it has seen its ReplicaSet, the ReplicaSet's
//! replica and ready counts, and its Pods' phases. The cluster-wide workqueue
//! is a set of `(controller, object)` requests; one step takes any one of
//! them and runs that controller once. A write that changes an object
//! enqueues the object's own controller and, for an owned object, its owner's
//! controller, as a watch would.
//!
//! One Deployment of two replicas has 122 distinct states; N Deployments are
//! independent, so N of them have 122^N.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use stateright::{Checker, Model, Property};

/// A controller that requests name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Controller {
    /// Creates a Deployment's ReplicaSet and copies its ready count back.
    Deployment,
    /// Creates a ReplicaSet's missing Pods and counts the running ones.
    ReplicaSet,
    /// Starts a Pod: Pending becomes Running.
    Kubelet,
}

/// An object that a request names; `i` is the Deployment's index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Object {
    /// Deployment `i`.
    Deployment(u8),
    /// The ReplicaSet of Deployment `i`.
    ReplicaSet(u8),
    /// Pod `j` of the ReplicaSet of Deployment `i`.
    Pod(u8, u8),
}

impl Object {
    /// The controller that watches this kind of object.
    fn controller(self) -> Controller {
        match self {
            Object::Deployment(_) => Controller::Deployment,
            Object::ReplicaSet(_) => Controller::ReplicaSet,
            Object::Pod(..) => Controller::Kubelet,
        }
    }

    /// The object's owner, if it has one.
    fn owner(self) -> Option<Object> {
        match self {
            Object::Deployment(_) => None,
            Object::ReplicaSet(i) => Some(Object::Deployment(i)),
            Object::Pod(i, _) => Some(Object::ReplicaSet(i)),
        }
    }
}

/// One workqueue entry: run the controller on the object. It is also the
/// model's action.
pub type Request = (Controller, Object);

/// A Pod's phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Created, not started.
    Pending,
    /// Started by the kubelet.
    Running,
}

/// A Deployment's ReplicaSet.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ReplicaSet {
    /// Desired Pods (copied from the Deployment at creation).
    pub replicas: u8,
    /// Running Pods as last counted by the replicaset controller.
    pub status_ready: u8,
}

/// One Deployment and everything it owns.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Deployment {
    /// Desired Pods.
    pub spec_replicas: u8,
    /// Ready Pods as last copied from the ReplicaSet.
    pub status_ready: u8,
    /// Whether the deployment controller has seen the ReplicaSet.
    pub observed_rs: bool,
    /// The ReplicaSet, once created.
    pub replica_set: Option<ReplicaSet>,
    /// The ReplicaSet's Pods, by index.
    pub pods: Vec<Phase>,
}

/// The whole cluster: the Deployments and the pending requests.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct State {
    /// Deployment `i` is `deployments[i]`.
    pub deployments: Vec<Deployment>,
    /// The workqueue: a set, so a request already pending is not added twice.
    pub pending: BTreeSet<Request>,
}

impl State {
    /// Records that `object` changed: enqueue its controller and its owner's.
    fn wrote(&mut self, object: Object) {
        self.pending.insert((object.controller(), object));
        if let Some(owner) = object.owner() {
            self.pending.insert((owner.controller(), owner));
        }
    }
}

/// The model: `count` Deployments of `replicas` replicas each.
#[derive(Debug)]
pub struct Deployments {
    /// How many Deployments.
    pub count: u8,
    /// Replicas per Deployment.
    pub replicas: u8,
    /// Converged states (empty workqueue) met so far; see [`pods_within_replicas`].
    converged: AtomicUsize,
}

impl Deployments {
    /// `count` Deployments of `replicas` replicas each.
    pub fn new(count: u8, replicas: u8) -> Self {
        Deployments {
            count,
            replicas,
            converged: AtomicUsize::new(0),
        }
    }

    /// Converged states the checker has visited so far.
    pub fn converged(&self) -> usize {
        self.converged.load(Ordering::Relaxed)
    }
}

impl Model for Deployments {
    type State = State;
    type Action = Request;

    fn init_states(&self) -> Vec<State> {
        let deployment = Deployment {
            spec_replicas: self.replicas,
            status_ready: 0,
            observed_rs: false,
            replica_set: None,
            pods: Vec::new(),
        };
        vec![State {
            deployments: vec![deployment; self.count as usize],
            pending: (0..self.count)
                .map(|i| (Controller::Deployment, Object::Deployment(i)))
                .collect(),
        }]
    }

    fn actions(&self, state: &State, actions: &mut Vec<Request>) {
        actions.extend(state.pending.iter().copied());
    }

    fn next_state(&self, last: &State, request: Request) -> Option<State> {
        let mut next = last.clone();
        next.pending.remove(&request);
        match request {
            (Controller::Deployment, Object::Deployment(i)) => {
                let d = &mut next.deployments[i as usize];
                match &d.replica_set {
                    None => {
                        d.replica_set = Some(ReplicaSet {
                            replicas: d.spec_replicas,
                            status_ready: 0,
                        });
                        next.wrote(Object::ReplicaSet(i));
                    }
                    Some(rs) => {
                        let ready = rs.status_ready;
                        if d.status_ready != ready || !d.observed_rs {
                            d.status_ready = ready;
                            d.observed_rs = true;
                            next.wrote(Object::Deployment(i));
                        }
                    }
                }
            }
            (Controller::ReplicaSet, Object::ReplicaSet(i)) => {
                let d = &mut next.deployments[i as usize];
                let Some(rs) = &mut d.replica_set else {
                    return Some(next);
                };
                let created = d.pods.len() as u8..rs.replicas;
                d.pods
                    .resize(rs.replicas.max(d.pods.len() as u8) as usize, Phase::Pending);
                let ready = d.pods.iter().filter(|p| **p == Phase::Running).count() as u8;
                let status_changed = rs.status_ready != ready;
                rs.status_ready = ready;
                for j in created {
                    next.wrote(Object::Pod(i, j));
                }
                if status_changed {
                    next.wrote(Object::ReplicaSet(i));
                }
            }
            (Controller::Kubelet, Object::Pod(i, j)) => {
                let pod = &mut next.deployments[i as usize].pods[j as usize];
                if *pod == Phase::Pending {
                    *pod = Phase::Running;
                    next.wrote(Object::Pod(i, j));
                }
            }
            // A controller never receives another controller's objects.
            _ => {}
        }
        Some(next)
    }

    fn properties(&self) -> Vec<Property<Self>> {
        vec![Property::always(
            "pods never exceed replicas",
            pods_within_replicas,
        )]
    }
}

/// The one property: no Deployment has more Pods than its ReplicaSet wants.
/// It always holds, so the checker never stops early and explores the whole
/// state space.
///
/// Stateright evaluates properties exactly once per distinct state it
/// visits, so this is also where converged states (empty workqueue) are
/// counted: one relaxed atomic add per converged state, nothing otherwise.
fn pods_within_replicas(model: &Deployments, state: &State) -> bool {
    if state.pending.is_empty() {
        model.converged.fetch_add(1, Ordering::Relaxed);
    }
    state
        .deployments
        .iter()
        .all(|d| d.pods.len() <= d.replica_set.as_ref().map_or(0, |rs| rs.replicas as usize))
}

/// What one stateright check found.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    /// Distinct states (`unique_state_count`).
    pub states: usize,
    /// Transitions: states generated including repeats (`state_count`) less
    /// the initial states.
    pub transitions: usize,
    /// Wall-clock seconds from spawning the checker to its end (or the timeout).
    pub seconds: f64,
    /// Converged states visited.
    pub converged: usize,
    /// Whether the search ended before the timeout.
    pub complete: bool,
}

/// Breadth-first search of `count` Deployments of two replicas on `threads`
/// threads, stopped after `timeout`.
///
/// `CheckerBuilder::timeout` alone does not stop a one-thread search: the
/// lone worker keeps its whole queue locally and only looks at the closed
/// job market when that queue is empty. So the checker's threads are joined
/// on a helper thread and this waits for them at most `timeout`; past it the
/// counts so far are returned and the threads are left running (the caller,
/// a child process, exits right after).
pub fn check(count: u8, threads: usize, timeout: Duration) -> Outcome {
    let model = Deployments::new(count, 2);
    let initial = model.init_states().len();
    let start = Instant::now();
    let mut checker = model
        .checker()
        .threads(threads)
        .timeout(timeout)
        .spawn_bfs();
    let handles = checker.handles();
    let (done_tx, done_rx) = mpsc::channel();
    std::thread::spawn(move || {
        for handle in handles {
            let _ = handle.join();
        }
        let _ = done_tx.send(());
    });
    let joined = done_rx.recv_timeout(timeout).is_ok();
    let elapsed = start.elapsed();
    Outcome {
        states: checker.unique_state_count(),
        transitions: checker.state_count() - initial,
        seconds: elapsed.as_secs_f64(),
        converged: checker.model().converged(),
        // The checker's own timeout also ends its threads: only an end
        // before the deadline is a complete search.
        complete: joined && elapsed < timeout,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_deployment_has_122_states_and_one_converged_state() {
        for threads in [1, 2] {
            let outcome = check(1, threads, Duration::from_secs(60));
            assert!(outcome.complete);
            assert_eq!(outcome.states, 122);
            assert_eq!(outcome.transitions, 319);
            assert_eq!(outcome.converged, 1);
        }
    }

    #[test]
    fn deployments_are_independent() {
        let outcome = check(2, 2, Duration::from_secs(60));
        assert_eq!(outcome.states, 122 * 122);
        assert_eq!(outcome.converged, 1);
    }

    #[test]
    fn the_converged_state_is_rolled_out() {
        let model = Deployments::new(1, 2);
        let mut state = model.init_states().remove(0);
        // Run the first pending request until none is left.
        while let Some(request) = state.pending.iter().next().copied() {
            state = model.next_state(&state, request).unwrap();
        }
        let d = &state.deployments[0];
        assert_eq!(d.pods, vec![Phase::Running; 2]);
        assert_eq!(d.status_ready, 2);
        assert!(d.observed_rs);
        assert_eq!(
            d.replica_set,
            Some(ReplicaSet {
                replicas: 2,
                status_ready: 2
            })
        );
    }
}
