//! The controller runtime: the [`Reconciler`] trait, the context a
//! reconcile gets, the explored [`World`] state and the step that moves it.

pub mod footprint;
pub mod reconciler;
pub mod session;
pub mod step;
pub mod world;

pub use footprint::{Footprint, MemorySlot};
pub use reconciler::{Action, Mapper, ReconcileError, Reconciler, Watches, group_kind_of};
pub use session::{Ctx, FaultPlan, StaleRead, WriteFault, WriteRecord};
pub use step::{Step, StepOutcome, StepRecord};
pub use world::{Pending, World};
