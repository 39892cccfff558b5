//! The controller interface: a [`Reconciler`] names what it watches and
//! reconciles one request at a time, like a kube-rs or controller-runtime
//! reconciler.

use std::fmt;
use std::sync::Arc;

use kube_core::Resource;
use serde_json::Value;

use super::session::Ctx;
use crate::api::{GroupKind, ObjectKey};

/// A controller under test.
///
/// A reconciler must be a pure function of what it reads through `ctx`:
/// kcheck replays it on many branches, on many threads. Anything it must
/// remember between reconciles goes in [`Ctx::memory`], which kcheck keeps
/// per path and clears when the controller restarts.
pub trait Reconciler: Send + Sync {
    /// The controller's name, as scenario files and traces use it.
    fn name(&self) -> &str;
    /// What triggers a reconcile.
    fn watches(&self) -> Watches;
    /// Brings the world closer to what `request` wants. An `Err` is retried
    /// (the request is requeued) and the writes already made stay.
    fn reconcile(&self, ctx: &Ctx<'_>, request: &ObjectKey) -> Result<Action, ReconcileError>;
}

/// Maps an object of a watched kind to the requests it should trigger.
pub type Mapper = Arc<dyn Fn(&Value) -> Vec<ObjectKey> + Send + Sync>;

/// What a reconciler watches: its primary kind, kinds it owns (an event on
/// an owned object triggers its controlling owner), and kinds mapped to
/// requests by a function. Built like kube-rs' `Controller`:
/// `Watches::for_kind::<Deployment>().owns::<ReplicaSet>()`.
#[derive(Clone)]
pub struct Watches {
    /// The kind reconcile requests name.
    pub primary: GroupKind,
    /// Kinds whose events trigger their controlling owner of the primary kind.
    pub owns: Vec<GroupKind>,
    /// Kinds whose events trigger whatever the mapper returns.
    pub maps: Vec<(GroupKind, Mapper)>,
}

impl fmt::Debug for Watches {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Watches")
            .field("primary", &self.primary)
            .field("owns", &self.owns)
            .field(
                "maps",
                &self.maps.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// The group and kind of a typed resource.
pub fn group_kind_of<K: Resource>() -> GroupKind
where
    K::DynamicType: Default,
{
    let dt = K::DynamicType::default();
    GroupKind::new(K::group(&dt), K::kind(&dt))
}

impl Watches {
    /// Reconciles objects of kind `K`.
    pub fn for_kind<K: Resource>() -> Self
    where
        K::DynamicType: Default,
    {
        Self::for_group_kind(group_kind_of::<K>())
    }

    /// Reconciles objects of a dynamic kind.
    pub fn for_group_kind(primary: GroupKind) -> Self {
        Watches {
            primary,
            owns: Vec::new(),
            maps: Vec::new(),
        }
    }

    /// Also triggered by objects of kind `K` that the primary controls.
    #[must_use]
    pub fn owns<K: Resource>(self) -> Self
    where
        K::DynamicType: Default,
    {
        self.owns_group_kind(group_kind_of::<K>())
    }

    /// Also triggered by objects of a dynamic kind that the primary controls.
    #[must_use]
    pub fn owns_group_kind(mut self, kind: GroupKind) -> Self {
        self.owns.push(kind);
        self
    }

    /// Also triggered by objects of kind `K`, mapped to requests by `f`.
    #[must_use]
    pub fn watches<K: Resource>(
        self,
        f: impl Fn(&Value) -> Vec<ObjectKey> + Send + Sync + 'static,
    ) -> Self
    where
        K::DynamicType: Default,
    {
        self.watches_group_kind(group_kind_of::<K>(), f)
    }

    /// Also triggered by objects of a dynamic kind, mapped by `f`.
    #[must_use]
    pub fn watches_group_kind(
        mut self,
        kind: GroupKind,
        f: impl Fn(&Value) -> Vec<ObjectKey> + Send + Sync + 'static,
    ) -> Self {
        self.maps.push((kind, Arc::new(f)));
        self
    }

    /// Every kind these watches read events of.
    pub fn kinds(&self) -> Vec<&GroupKind> {
        let mut kinds = vec![&self.primary];
        kinds.extend(&self.owns);
        kinds.extend(self.maps.iter().map(|(k, _)| k));
        kinds
    }
}

/// What a reconcile asks for next, like kube-rs' `Action`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Action {
    requeue: bool,
}

impl Action {
    /// Done: wait until a watched object changes.
    pub fn await_change() -> Self {
        Action { requeue: false }
    }

    /// Run again (kcheck's time is logical: "later" is another step).
    pub fn requeue() -> Self {
        Action { requeue: true }
    }

    /// Whether the request goes back into the pending set.
    pub fn is_requeue(&self) -> bool {
        self.requeue
    }
}

/// A failed reconcile: its message. Any error converts into it with `?`.
#[derive(Clone, PartialEq, Eq)]
pub struct ReconcileError {
    message: String,
}

impl ReconcileError {
    /// An error with a message.
    pub fn msg(message: impl Into<String>) -> Self {
        ReconcileError {
            message: message.into(),
        }
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl<E: std::error::Error> From<E> for ReconcileError {
    fn from(e: E) -> Self {
        ReconcileError::msg(e.to_string())
    }
}

impl fmt::Display for ReconcileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Debug for ReconcileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ReconcileError({:?})", self.message)
    }
}
