//! The in-memory Kubernetes API server.
//!
//! [`ApiServer`] stores objects as JSON and answers writes the way the real
//! API server does; see `docs/api-server.md` for each modelled behaviour and
//! each known difference.

pub mod apply;
pub mod converged;
pub mod deletion;
pub mod error;
pub mod history;
pub mod key;
pub mod kinds;
pub mod meta;
pub mod patch;
pub mod query;
pub mod selector;
pub mod server;
pub mod strategy;
pub mod typed;
pub mod validation;

pub use apply::{ListRules, ListType};
pub use converged::{ConvergedMask, MaskedDifference};
pub use error::{ApiError, Reason};
pub use history::{Event, EventType, KindObjects, Stored};
pub use key::{GroupKind, ObjectKey};
pub use kinds::{KindInfo, KindRegistry};
pub use patch::PatchBody;
pub use query::{Claimant, ListQuery};
pub use selector::{FieldSelector, LabelSelector};
pub use server::{ApiServer, DeleteOptions, Propagation, Subresource, WriteRequest, WriteResult};
