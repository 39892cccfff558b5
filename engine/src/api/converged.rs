//! The converged-state identity, hash version 2: the content hash with the
//! masked fields left out of every object.
//!
//! Some fields only count how many writes a path took: two orderings that
//! reach the same cluster can leave a ReplicaSet at `generation` 3 or 4.
//! They are masked by default ([`ConvergedMask::DEFAULT_FIELDS`]); a scenario
//! masks further fields per kind. Masked fields stay in the search key
//! (controllers read `generation`), and what they held is not lost: states
//! merged into one converged state report the masked fields that differed
//! ([`ConvergedMask::differences`]).

use std::collections::BTreeMap;
use std::sync::LazyLock;

use serde_json::Value;

use super::{ApiServer, GroupKind, ObjectKey};
use crate::hash::{Digest, FieldMask, HashVersion, StateDigest, entry_hash_in, object_hash_in};

/// The fields masked for every kind.
static DEFAULT_MASKS: LazyLock<Vec<FieldMask>> = LazyLock::new(|| {
    ConvergedMask::DEFAULT_FIELDS
        .iter()
        .map(|p| FieldMask::parse(p).expect("the default masks are valid pointers"))
        .collect()
});

/// What the converged-state identity leaves out: the default fields for
/// every kind, and the fields a scenario names per kind.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConvergedMask {
    by_kind: BTreeMap<GroupKind, Vec<FieldMask>>,
}

/// A masked field whose value differs between two states with the same
/// converged-state hash.
#[derive(Clone, Debug, PartialEq)]
pub struct MaskedDifference {
    /// The object.
    pub object: ObjectKey,
    /// The field, as a concrete JSON pointer (`*` resolved).
    pub pointer: String,
    /// Its value in the first and in the second state; `None`: absent.
    pub values: [Option<Value>; 2],
}

impl ConvergedMask {
    /// The fields masked for every kind: `generation` and the
    /// `observedGeneration` fields that mirror it.
    pub const DEFAULT_FIELDS: [&'static str; 3] = [
        "/metadata/generation",
        "/status/observedGeneration",
        "/status/conditions/*/observedGeneration",
    ];

    /// Also masks `field` for objects of `kind` (a repeat is ignored).
    pub fn ignore(&mut self, kind: GroupKind, field: FieldMask) {
        let fields = self.by_kind.entry(kind).or_default();
        if !fields.contains(&field) {
            fields.push(field);
        }
    }

    /// The fields masked for a kind: the defaults, then the scenario's.
    pub fn fields<'a>(&'a self, kind: &GroupKind) -> impl Iterator<Item = &'a FieldMask> {
        DEFAULT_MASKS
            .iter()
            .chain(self.by_kind.get(kind).into_iter().flatten())
    }

    /// The converged-state hash of one object (version 2): the content
    /// hash of the object without its masked fields, in domain
    /// `kcheck/object/v2`.
    pub fn object_hash(&self, kind: &GroupKind, object: &Value) -> Digest {
        let mut masked = object.clone();
        for field in self.fields(kind) {
            field.remove(&mut masked);
        }
        object_hash_in(HashVersion::Converged, &masked)
    }

    /// The converged-state hash of every stored object (version 2).
    pub fn state_hash(&self, server: &ApiServer) -> Digest {
        let mut digest = StateDigest::default();
        for (key, stored) in server.all_objects() {
            let hash = self.object_hash(&key.kind, &stored.object);
            digest.add(&entry_hash_in(HashVersion::Converged, key.parts(), &hash));
        }
        digest.finish_in(HashVersion::Converged)
    }

    /// The masked fields whose values differ between two states, object by
    /// object in key order (objects in only one state are not compared:
    /// states with equal converged-state hashes have the same objects).
    pub fn differences(&self, a: &ApiServer, b: &ApiServer) -> Vec<MaskedDifference> {
        let mut out = Vec::new();
        for (key, left) in a.all_objects() {
            let Ok(right) = b.get(&key) else { continue };
            if left.hash == right.hash {
                continue;
            }
            for field in self.fields(&key.kind) {
                let (mut x, mut y) = (field.matches(&left.object), field.matches(&right.object));
                let pointers: Vec<String> = x.keys().chain(y.keys()).cloned().collect();
                for pointer in pointers {
                    let values = [x.remove(&pointer), y.remove(&pointer)];
                    if values[0] != values[1] {
                        out.push(MaskedDifference {
                            object: key.clone(),
                            pointer,
                            values,
                        });
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests;
