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

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::Pod;
use kcheck_engine::client::{Api, Client};
use kcheck_engine::runtime::{Ctx, ReconcileError};
use serde_json::{Map, Value, json};

/// The outstanding creations and deletions of every owner of one controller.
pub(crate) struct Expectations {
    memory: Map<String, Value>,
}

impl Expectations {
    /// Reads them from the controller's memory.
    pub fn load(ctx: &Ctx<'_>) -> Self {
        let memory = match ctx.memory() {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        Expectations { memory }
    }

    /// Writes them back (`null` when empty).
    pub fn store(self, ctx: &Ctx<'_>) {
        let memory = if self.memory.is_empty() {
            Value::Null
        } else {
            Value::Object(self.memory)
        };
        if memory != ctx.memory() {
            ctx.set_memory(memory);
        }
    }

    /// Whether the cache (`cached` pod names) has seen every outstanding
    /// write for `owner`; clears them when it has.
    pub fn satisfied(
        &mut self,
        client: Client<'_>,
        namespace: &str,
        owner: &str,
        cached: &BTreeSet<String>,
    ) -> Result<bool, ReconcileError> {
        let key = format!("{namespace}/{owner}");
        let Some(entry) = self.memory.get(&key) else {
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
            if !cached.contains(&name) && live.get_opt(&name)?.is_some() {
                return Ok(false);
            }
        }
        if names("del").iter().any(|name| cached.contains(name)) {
            return Ok(false);
        }
        self.memory.remove(&key);
        Ok(true)
    }

    /// Records the pods just created and deleted for `owner`.
    pub fn expect(&mut self, namespace: &str, owner: &str, added: &[String], deleted: &[String]) {
        let key = format!("{namespace}/{owner}");
        if added.is_empty() && deleted.is_empty() {
            self.memory.remove(&key);
        } else {
            self.memory
                .insert(key, json!({"add": added, "del": deleted}));
        }
    }

    /// Forgets `owner` (it is gone).
    pub fn forget(&mut self, namespace: &str, owner: &str) {
        self.memory.remove(&format!("{namespace}/{owner}"));
    }
}
