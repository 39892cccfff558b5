//! A reconcile request waiting to run.

use serde::{Deserialize, Serialize};

use crate::api::ObjectKey;

/// A pending reconcile request: which controller, which object. Pending
/// requests form a set, like a controller-runtime workqueue.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Pending {
    /// Index of the controller in the model.
    pub controller: usize,
    /// The object to reconcile.
    pub object: ObjectKey,
}
