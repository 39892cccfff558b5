//! What kcheck checks: controllers, an initial cluster, user actions,
//! perturbations and invariants. A [`Model`] says which choices a state
//! offers and what each choice leads to; explorers only walk it.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

mod fingerprint;
mod step;
mod triggers;
mod world;

pub use step::{Step, StepOutcome, StepRecord};
pub use world::World;

use crate::api::{ApiServer, ConvergedMask, Event, EventType, WriteRequest};
use crate::faults::Faults;
use crate::hash::Digest;
use crate::invariants::{Invariant, When};
use crate::runtime::{Pending, Reconciler, Watches};
use crate::staleness::{StaleView, Staleness};

/// A write a user makes during the run (`kubectl` in a scenario).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UserAction {
    /// When the action may happen. Actions keep their order whatever their
    /// timing: an action waits for the one before it.
    pub timing: ActionTiming,
    /// The write.
    pub request: WriteRequest,
    /// The field manager it is made as.
    pub field_manager: String,
}

/// When a user action may happen (the next action only: actions keep their
/// order).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionTiming {
    /// From this depth (the number of steps so far) on, or earlier once
    /// nothing is pending. Until a depth below the explored `max_depth` is
    /// reached, the depth is part of the search key: states that differ
    /// only in depth are explored apart.
    AtDepth(u32),
    /// Once nothing is pending, whatever the depth: after the cluster has
    /// settled. The depth stays out of the search key.
    Settled,
}

impl ActionTiming {
    /// The depth from which the action may happen while work is still
    /// pending; `None` when it waits for nothing to be pending.
    pub fn depth(self) -> Option<u32> {
        match self {
            ActionTiming::AtDepth(depth) => Some(depth),
            ActionTiming::Settled => None,
        }
    }
}

/// One choice out of a state: run a pending reconcile (possibly through
/// stale views), or the next user action.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "choice", rename_all = "snake_case")]
pub enum Choice {
    /// Run this pending request.
    Reconcile {
        /// The request.
        request: Pending,
        /// Kinds read through stale views (stale-read search only).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        stale: Vec<StaleView>,
    },
    /// Do user action number `index`.
    User {
        /// Index into the model's actions.
        index: usize,
    },
}

impl Choice {
    /// Running a request with current views.
    pub fn reconcile(request: Pending) -> Self {
        Choice::Reconcile {
            request,
            stale: Vec::new(),
        }
    }
}

/// The model checked: build it with the setters, then hand it to an
/// explorer.
#[derive(Clone)]
pub struct Model {
    pub(crate) controllers: Vec<Arc<dyn Reconciler>>,
    pub(crate) watches: Vec<Watches>,
    pub(crate) server: ApiServer,
    pub(crate) actions: Vec<UserAction>,
    pub(crate) staleness: Staleness,
    pub(crate) faults: Faults,
    pub(crate) invariants: Vec<Invariant>,
    pub(crate) require_convergence: bool,
    pub(crate) converged: ConvergedMask,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model")
            .field("controllers", &self.controller_names())
            .field("actions", &self.actions.len())
            .field("invariants", &self.invariants)
            .finish()
    }
}

impl Model {
    /// A model over an initial cluster, with no controllers yet.
    pub fn new(server: ApiServer) -> Self {
        Model {
            controllers: Vec::new(),
            watches: Vec::new(),
            server,
            actions: Vec::new(),
            staleness: Staleness::default(),
            faults: Faults::default(),
            invariants: Vec::new(),
            require_convergence: false,
            converged: ConvergedMask::default(),
        }
    }

    /// Adds a controller.
    #[must_use]
    pub fn controller(self, reconciler: impl Reconciler + 'static) -> Self {
        self.controller_arc(Arc::new(reconciler))
    }

    /// Adds a shared controller.
    #[must_use]
    pub fn controller_arc(mut self, reconciler: Arc<dyn Reconciler>) -> Self {
        self.watches.push(reconciler.watches());
        self.controllers.push(reconciler);
        self
    }

    /// Adds a user action.
    #[must_use]
    pub fn action(mut self, action: UserAction) -> Self {
        self.actions.push(action);
        self
    }

    /// Sets the stale views.
    #[must_use]
    pub fn staleness(mut self, staleness: Staleness) -> Self {
        self.staleness = staleness;
        self
    }

    /// Sets the injected faults.
    #[must_use]
    pub fn faults(mut self, faults: Faults) -> Self {
        self.faults = faults;
        self
    }

    /// Adds an invariant.
    #[must_use]
    pub fn invariant(mut self, invariant: Invariant) -> Self {
        self.invariants.push(invariant);
        self
    }

    /// Reports paths cut by the depth limit as findings (the `converged`
    /// invariant); without it they are only counted.
    #[must_use]
    pub fn require_convergence(mut self, yes: bool) -> Self {
        self.require_convergence = yes;
        self
    }

    /// The controllers' names, by index.
    pub fn controller_names(&self) -> Vec<&str> {
        self.controllers.iter().map(|c| c.name()).collect()
    }

    /// The index of a controller by name.
    pub fn controller_index(&self, name: &str) -> Option<usize> {
        self.controllers.iter().position(|c| c.name() == name)
    }

    /// The user actions.
    pub fn actions(&self) -> &[UserAction] {
        &self.actions
    }

    /// The invariants.
    pub fn invariants(&self) -> &[Invariant] {
        &self.invariants
    }

    /// Whether depth-limited paths are findings.
    pub fn requires_convergence(&self) -> bool {
        self.require_convergence
    }

    /// The stale views configured.
    pub fn staleness_config(&self) -> &Staleness {
        &self.staleness
    }

    /// The faults configured.
    pub fn faults_config(&self) -> &Faults {
        &self.faults
    }

    /// The initial state: every controller has listed its watched kinds, so
    /// each existing object has triggered what it would on an informer's
    /// first list. The write history is kept only when stale views need it.
    pub fn initial(&self) -> World {
        let mut server = self.server.clone();
        if !self.staleness.is_active() {
            server.forget_history();
        }
        let mut world = World::new(server);
        for (key, stored) in self.server.all_objects() {
            let event = Event {
                seq: 0,
                kind_seq: 0,
                rv: stored.rv,
                key,
                event_type: EventType::Added,
                object: stored.clone(),
                previous: None,
            };
            for p in self.triggers(&self.server, &event) {
                world.pending.insert(p);
            }
        }
        world
    }

    /// The choices a state offers, in a stable order: pending requests in
    /// set order, then the next user action if it is available.
    pub fn choices(&self, world: &World) -> Vec<Choice> {
        let mut out = Vec::new();
        for request in &world.pending {
            for stale in self.staleness.stale_read_views(
                request.controller,
                &world.server,
                &world.stale_used,
            ) {
                out.push(Choice::Reconcile {
                    request: request.clone(),
                    stale,
                });
            }
        }
        if let Some(action) = self.actions.get(world.next_action)
            && (world.pending.is_empty() || action.timing.depth().is_some_and(|d| world.depth >= d))
        {
            out.push(Choice::User {
                index: world.next_action,
            });
        }
        out
    }
}

impl Model {
    /// A short description of a choice: `replicaset default/web-abc` or
    /// `user action 0 (patch Deployment.apps default/web)`.
    pub fn describe(&self, choice: &Choice) -> String {
        match choice {
            Choice::Reconcile { request, stale } => {
                let mut text = format!(
                    "{} {}",
                    self.controllers[request.controller].name(),
                    request.object.namespaced_name()
                );
                for v in stale {
                    text.push_str(&format!(" ({} {} events stale)", v.kind, v.lag));
                }
                text
            }
            Choice::User { index } => {
                let request = &self.actions[*index].request;
                format!("user action {index} ({})", request.describe())
            }
        }
    }

    /// Who acts in a choice: the controller's name, or `user`.
    pub fn describe_actor(&self, choice: &Choice) -> String {
        match choice {
            Choice::Reconcile { request, .. } => {
                self.controllers[request.controller].name().to_string()
            }
            Choice::User { .. } => "user".to_string(),
        }
    }

    /// Replays choice indices from a state: the choices they name and the
    /// state reached.
    pub(crate) fn resolve_path(&self, from: World, indices: &[u32]) -> (Vec<Choice>, World) {
        let mut world = from;
        let mut path = Vec::with_capacity(indices.len());
        for &i in indices {
            let choice = self.choices(&world)[i as usize].clone();
            world = self.step(&world, &choice, false).world;
            path.push(choice);
        }
        (path, world)
    }
}

impl Model {
    /// The invariants a state breaks, with why. `When::Always` asks for
    /// every-state invariants; `When::Converged` for all of them (a
    /// converged state is a state too).
    pub fn violations(&self, server: &ApiServer, when: When) -> Vec<(String, String)> {
        self.invariants
            .iter()
            .filter(|i| i.when() == When::Always || when == When::Converged)
            .filter_map(|i| i.check(server).err().map(|why| (i.name().to_string(), why)))
            .collect()
    }
}

impl Model {
    /// Replays a path from the initial state, recording every step: the
    /// state reached and the records (for traces and planners).
    pub fn run_path(&self, path: &[Choice]) -> (World, Vec<StepRecord>) {
        let mut world = self.initial();
        let mut records = Vec::with_capacity(path.len());
        for choice in path {
            let step = self.step(&world, choice, true);
            records.extend(step.record);
            world = step.world;
        }
        (world, records)
    }
}

impl Model {
    /// Sets the fields left out of the converged-state identity, beyond
    /// the default ones.
    #[must_use]
    pub fn converged_mask(mut self, mask: ConvergedMask) -> Self {
        self.converged = mask;
        self
    }

    /// The fields left out of the converged-state identity.
    pub fn mask(&self) -> &ConvergedMask {
        &self.converged
    }

    /// The converged-state hash of a state (hash version 2, see
    /// `docs/hashing.md`): what `expect.converged_hashes` and traces carry.
    pub fn state_hash(&self, world: &World) -> Digest {
        self.converged.state_hash(&world.server)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::test_util::{FirstWriter, server_with};

    /// A writer of ConfigMap `target` and one user action creating a
    /// ConfigMap, with the given timing.
    fn with_action(timing: ActionTiming) -> Model {
        let object = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "late", "namespace": "default"}});
        Model::new(server_with(&[("target", json!({}))]))
            .controller(FirstWriter {
                name: "a",
                key: "a",
                value: "1",
            })
            .action(UserAction {
                timing,
                request: WriteRequest::Create { object },
                field_manager: "kubectl".into(),
            })
    }

    fn offers_action(model: &Model, world: &World) -> bool {
        model
            .choices(world)
            .iter()
            .any(|c| matches!(c, Choice::User { .. }))
    }

    #[test]
    fn a_settled_action_waits_for_nothing_pending_whatever_the_depth() {
        let model = with_action(ActionTiming::Settled);
        let mut world = model.initial();
        assert!(!world.pending.is_empty());
        world.depth = 1000;
        assert!(!offers_action(&model, &world), "work is pending");
        world.pending.clear();
        world.depth = 0;
        assert!(offers_action(&model, &world), "nothing is pending");

        let by_depth = with_action(ActionTiming::AtDepth(3));
        let mut world = by_depth.initial();
        assert!(!offers_action(&by_depth, &world));
        world.depth = 3;
        assert!(offers_action(&by_depth, &world), "depth 3 is reached");
    }

    #[test]
    fn only_a_depth_below_the_horizon_joins_the_search_key() {
        let key_at = |timing, depth| {
            let model = with_action(timing);
            let mut world = model.initial();
            world.depth = depth;
            model.fingerprint(&world, 20)
        };
        let settled = ActionTiming::Settled;
        assert_eq!(key_at(settled, 1), key_at(settled, 7));
        let early = ActionTiming::AtDepth(5);
        assert_ne!(key_at(early, 1), key_at(early, 2));
        assert_eq!(
            key_at(early, 5),
            key_at(early, 9),
            "past 5 it decides nothing"
        );
        let beyond = ActionTiming::AtDepth(20);
        assert_eq!(key_at(beyond, 1), key_at(beyond, 7));
    }
}
