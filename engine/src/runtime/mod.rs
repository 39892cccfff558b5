//! The controller-facing runtime: the [`Reconciler`] trait and its watches,
//! the context a reconcile gets, the session behind it, pending requests and
//! the footprint a reconcile leaves. The explored state and the step live in
//! [`crate::model`].

pub mod footprint;
pub mod pending;
pub mod reconciler;
pub mod session;

pub use footprint::{Footprint, MemorySlot};
pub use pending::Pending;
pub use reconciler::{Action, Mapper, ReconcileError, Reconciler, Watches, group_kind_of};
pub use session::{Ctx, StaleRead, WriteRecord};
