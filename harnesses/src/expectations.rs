//! Kubernetes' `ControllerExpectations`, kept in the controller's memory.
//!
//! After a ReplicaSet or Job controller creates or deletes pods, it does not
//! act on that owner again until its cache has seen those creations and
//! deletions: otherwise a cache that lags behind its own writes would make
//! it create (or delete) the same pods twice. Kubernetes lowers the
//! expectations from informer events and expires them after five minutes;
//! kcheck checks them against the cache at the next reconcile:
//!
//! - a pod it created is observed once the cache lists it, or once the
//!   live server no longer has it (created and deleted again: an informer
//!   would have seen both events; this stands in for the expiry);
//! - a pod it deleted is observed once the cache no longer lists it.
//!
//! The memory is `{"<namespace>/<owner>": {"add": [names], "del": [names]}}`,
//! and `null` when nothing is outstanding, so converged states carry none.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Pod;
use kcheck_engine::client::{Api, Client};
use kcheck_engine::runtime::{Ctx, ReconcileError};
use serde_json::{Value, json};

/// The outstanding creations and deletions of the owners one reconcile
/// looks at. Each owner is one entry of the controller's memory, read and
/// written alone, so reconciles of different owners share nothing.
/// Changes are kept until [`Expectations::store`].
pub(crate) struct Expectations {
    /// Entries changed so far: `None` removes one.
    changed: BTreeMap<String, Option<Value>>,
}

impl Expectations {
    /// Expectations of the controller reconciling in `ctx`.
    pub fn load(_ctx: &Ctx<'_>) -> Self {
        Expectations {
            changed: BTreeMap::new(),
        }
    }

    /// Writes the changes back to the controller's memory.
    pub fn store(self, ctx: &Ctx<'_>) {
        for (key, value) in self.changed {
            ctx.set_memory_entry(&key, value);
        }
    }

    /// Whether the cache has seen every outstanding write for `owner`;
    /// clears them when it has. `pods` reads the cache.
    pub fn satisfied(
        &mut self,
        ctx: &Ctx<'_>,
        client: Client<'_>,
        pods: &Api<'_, Pod>,
        namespace: &str,
        owner: &str,
    ) -> Result<bool, ReconcileError> {
        let key = format!("{namespace}/{owner}");
        let entry = match self.changed.get(&key) {
            Some(changed) => changed.clone(),
            None => ctx.memory_entry(&key),
        };
        let Some(entry) = entry else {
            return Ok(true);
        };
        let names = |field: &str| -> Vec<String> {
            entry
                .get(field)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        };
        let live: Api<Pod> = Api::namespaced(client, namespace).live();
        for name in names("add") {
            if pods.get_opt(&name)?.is_none() && live.get_opt(&name)?.is_some() {
                return Ok(false);
            }
        }
        for name in names("del") {
            if pods.get_opt(&name)?.is_some() {
                return Ok(false);
            }
        }
        self.changed.insert(key, None);
        Ok(true)
    }

    /// Records the pods just created and deleted for `owner`.
    pub fn expect(&mut self, namespace: &str, owner: &str, added: &[String], deleted: &[String]) {
        let entry = (!added.is_empty() || !deleted.is_empty())
            .then(|| json!({"add": added, "del": deleted}));
        self.changed.insert(format!("{namespace}/{owner}"), entry);
    }

    /// Forgets `owner` (it is gone).
    pub fn forget(&mut self, namespace: &str, owner: &str) {
        self.changed.insert(format!("{namespace}/{owner}"), None);
    }
}
