//! Content hashing of objects and states (a stable contract).
//!
//! Two hashes of a state, both documented in `docs/hashing.md`:
//!
//! - The **converged-state hash** (version 2, `crate::api::ConvergedMask::state_hash`):
//!   the identity of a converged state, which `expect.converged_hashes`
//!   pins and traces carry. Changing it changes every user's expectations.
//!   It is the content hash below with the masked fields left out of every
//!   object: `metadata.generation`, `status.observedGeneration`,
//!   `status.conditions[*].observedGeneration` (counters of how many writes
//!   a path took), and the fields a scenario names per kind; domains
//!   `kcheck/object/v2`, `kcheck/entry/v2`, `kcheck/state/v2`.
//! - The **content hash** (the version 1 definition, [`object_hash`],
//!   [`StateDigest::finish`]): every field counts. The API server keeps it
//!   up to date on each write, and the search key is built from it, because
//!   controllers read `generation`.
//!
//! Version 1:
//!
//! - **Canonical JSON**: object keys sorted by their UTF-8 bytes, no
//!   whitespace, strings escaped as `serde_json` escapes them, numbers as
//!   `serde_json` prints them.
//! - **Normalisation**: `metadata.resourceVersion` and `metadata.managedFields`
//!   are left out; any string value under a key ending in `Time` or
//!   `Timestamp`, or named `startedAt` / `finishedAt`, hashes as the string
//!   `"<time>"`: whether a timestamp is set matters, its logical value does not.
//! - **Object hash**: `blake3("kcheck/object/v1\0" ‖ canonical(normalised object))`.
//! - **State hash**: every stored object contributes
//!   `e = blake3("kcheck/entry/v1\0" ‖ group ‖ 0 ‖ kind ‖ 0 ‖ namespace ‖ 0 ‖ name ‖ 0 ‖ object hash)`
//!   read as a little-endian 256-bit integer; the entries are summed modulo
//!   2^256 (so a write updates the sum in constant time, whatever the order),
//!   and the state hash is `blake3("kcheck/state/v1\0" ‖ sum ‖ count as u64 LE)`.

mod mask;

pub use mask::{FieldMask, MaskError};

use std::fmt;
use std::io::Write;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// A 256-bit blake3 digest, printed as 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Digest(pub [u8; 32]);

impl Digest {
    /// The digest as lowercase hex.
    pub fn to_hex(&self) -> String {
        let mut s = String::with_capacity(64);
        for b in self.0 {
            s.push_str(&format!("{b:02x}"));
        }
        s
    }

    /// Parses 64 hex digits.
    pub fn from_hex(s: &str) -> Option<Self> {
        if s.len() != 64 || !s.is_ascii() {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(Digest(out))
    }

    /// The first 12 hex digits, for compact human output.
    pub fn short(&self) -> String {
        self.to_hex()[..12].to_string()
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({})", self.short())
    }
}

impl Serialize for Digest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Digest::from_hex(&s).ok_or_else(|| {
            serde::de::Error::custom(format!("expected 64 lowercase hex digits, got {s:?}"))
        })
    }
}

const OBJECT_DOMAIN: &[u8] = b"kcheck/object/v1\0";
const ENTRY_DOMAIN: &[u8] = b"kcheck/entry/v1\0";
const STATE_DOMAIN: &[u8] = b"kcheck/state/v1\0";
const OBJECT_DOMAIN_V2: &[u8] = b"kcheck/object/v2\0";
const ENTRY_DOMAIN_V2: &[u8] = b"kcheck/entry/v2\0";
const STATE_DOMAIN_V2: &[u8] = b"kcheck/state/v2\0";

/// Which definition a hash follows.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum HashVersion {
    /// The content hash: every field counts (the search key's part).
    Content,
    /// The converged-state hash, version 2 (masked fields removed first).
    Converged,
}

/// The content hash of an object: canonical JSON without server churn.
pub fn object_hash(object: &Value) -> Digest {
    object_hash_in(HashVersion::Content, object)
}

/// The hash of an object in the domain of `version`; for
/// [`HashVersion::Converged`] the caller has removed the masked fields.
pub fn object_hash_in(version: HashVersion, object: &Value) -> Digest {
    let mut hasher = blake3::Hasher::new();
    hasher.update(match version {
        HashVersion::Content => OBJECT_DOMAIN,
        HashVersion::Converged => OBJECT_DOMAIN_V2,
    });
    write_canonical(&mut hasher, object, Context::Root);
    Digest(*hasher.finalize().as_bytes())
}

/// The canonical JSON bytes of a value, without any normalisation.
pub fn canonical_json(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    write_canonical(&mut out, value, Context::Plain);
    out
}

/// Where in an object the writer is, to know which fields to normalise.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Context {
    /// The top of an object: its `metadata` gets server fields dropped.
    Root,
    /// The object's `metadata`.
    Metadata,
    /// Anywhere else in an object.
    Body,
    /// No normalisation at all.
    Plain,
}

fn is_time_key(key: &str) -> bool {
    key.ends_with("Time") || key.ends_with("Timestamp") || key == "startedAt" || key == "finishedAt"
}

fn write_canonical<W: Write>(w: &mut W, value: &Value, ctx: Context) {
    match value {
        Value::Object(map) => {
            // serde_json's map is a BTreeMap (no `preserve_order`), so
            // iteration is already in sorted key order.
            w.write_all(b"{").expect("in-memory write");
            let mut first = true;
            for (k, v) in map {
                if ctx == Context::Metadata && (k == "resourceVersion" || k == "managedFields") {
                    continue;
                }
                if !first {
                    w.write_all(b",").expect("in-memory write");
                }
                first = false;
                write_string(w, k);
                w.write_all(b":").expect("in-memory write");
                let child = match ctx {
                    Context::Plain => Context::Plain,
                    Context::Root if k == "metadata" => Context::Metadata,
                    _ => Context::Body,
                };
                if child != Context::Plain && is_time_key(k) && v.is_string() {
                    write_string(w, "<time>");
                } else {
                    write_canonical(w, v, child);
                }
            }
            w.write_all(b"}").expect("in-memory write");
        }
        Value::Array(items) => {
            w.write_all(b"[").expect("in-memory write");
            let child = if ctx == Context::Plain {
                Context::Plain
            } else {
                Context::Body
            };
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    w.write_all(b",").expect("in-memory write");
                }
                write_canonical(w, v, child);
            }
            w.write_all(b"]").expect("in-memory write");
        }
        other => serde_json::to_writer(&mut *w, other).expect("in-memory write"),
    }
}

fn write_string<W: Write>(w: &mut W, s: &str) {
    serde_json::to_writer(&mut *w, s).expect("in-memory write");
}

/// The entry one object contributes to a state's content hash, from its
/// key's parts (group, kind, namespace or `""`, name) and its content hash.
pub fn entry_hash(key: [&str; 4], content: &Digest) -> Digest {
    entry_hash_in(HashVersion::Content, key, content)
}

/// The entry one object contributes to a state hash of `version`.
pub fn entry_hash_in(version: HashVersion, key: [&str; 4], content: &Digest) -> Digest {
    let mut hasher = blake3::Hasher::new();
    hasher.update(match version {
        HashVersion::Content => ENTRY_DOMAIN,
        HashVersion::Converged => ENTRY_DOMAIN_V2,
    });
    for part in key {
        hasher.update(part.as_bytes());
        hasher.update(&[0]);
    }
    hasher.update(&content.0);
    Digest(*hasher.finalize().as_bytes())
}

/// An order-independent sum of entries, updated in constant time per write.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, Debug)]
pub struct StateDigest {
    sum: [u64; 4],
    count: u64,
}

impl StateDigest {
    /// Adds an entry (an object that now exists).
    pub fn add(&mut self, entry: &Digest) {
        let limbs = limbs(entry);
        let mut carry = false;
        for (acc, limb) in self.sum.iter_mut().zip(limbs) {
            let (s1, c1) = acc.overflowing_add(limb);
            let (s2, c2) = s1.overflowing_add(u64::from(carry));
            *acc = s2;
            carry = c1 || c2;
        }
        self.count += 1;
    }

    /// Removes an entry added before (an object that no longer exists, or
    /// its old content).
    pub fn remove(&mut self, entry: &Digest) {
        let limbs = limbs(entry);
        let mut borrow = false;
        for (acc, limb) in self.sum.iter_mut().zip(limbs) {
            let (s1, b1) = acc.overflowing_sub(limb);
            let (s2, b2) = s1.overflowing_sub(u64::from(borrow));
            *acc = s2;
            borrow = b1 || b2;
        }
        self.count -= 1;
    }

    /// The number of entries.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The state's content hash (the version 1 definition).
    pub fn finish(&self) -> Digest {
        self.finish_in(HashVersion::Content)
    }

    /// The state hash in the domain of `version`.
    pub fn finish_in(&self, version: HashVersion) -> Digest {
        let mut hasher = blake3::Hasher::new();
        hasher.update(match version {
            HashVersion::Content => STATE_DOMAIN,
            HashVersion::Converged => STATE_DOMAIN_V2,
        });
        for limb in self.sum {
            hasher.update(&limb.to_le_bytes());
        }
        hasher.update(&self.count.to_le_bytes());
        Digest(*hasher.finalize().as_bytes())
    }
}

fn limbs(d: &Digest) -> [u64; 4] {
    let mut out = [0u64; 4];
    for (i, limb) in out.iter_mut().enumerate() {
        let mut b = [0u8; 8];
        b.copy_from_slice(&d.0[8 * i..8 * i + 8]);
        *limb = u64::from_le_bytes(b);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn key(name: &str) -> [&str; 4] {
        ["", "ConfigMap", "default", name]
    }

    #[test]
    fn object_hash_ignores_resource_version_and_managed_fields() {
        let a = json!({"kind": "ConfigMap", "metadata": {"name": "a", "resourceVersion": "4",
            "managedFields": [{"manager": "x"}]}, "data": {"k": "v"}});
        let b = json!({"kind": "ConfigMap", "metadata": {"name": "a", "resourceVersion": "9"},
            "data": {"k": "v"}});
        assert_eq!(object_hash(&a), object_hash(&b));
    }

    #[test]
    fn object_hash_keeps_timestamp_presence_not_value() {
        let a = json!({"metadata": {"name": "a", "deletionTimestamp": "2000-01-01T00:00:01Z"}});
        let b = json!({"metadata": {"name": "a", "deletionTimestamp": "2000-01-01T00:00:09Z"}});
        let c = json!({"metadata": {"name": "a"}});
        assert_eq!(object_hash(&a), object_hash(&b));
        assert_ne!(object_hash(&a), object_hash(&c));
        let s1 = json!({"status": {"conditions": [{"type": "Ready", "lastTransitionTime": "x"}]}});
        let s2 = json!({"status": {"conditions": [{"type": "Ready", "lastTransitionTime": "y"}]}});
        assert_eq!(object_hash(&s1), object_hash(&s2));
    }

    #[test]
    fn resource_version_outside_metadata_is_content() {
        let a = json!({"metadata": {"name": "a"}, "spec": {"resourceVersion": "1"}});
        let b = json!({"metadata": {"name": "a"}, "spec": {"resourceVersion": "2"}});
        assert_ne!(object_hash(&a), object_hash(&b));
    }

    #[test]
    fn object_hash_of_a_known_object_is_pinned() {
        // Pins hash version 1: if this changes, every user's expectations do.
        let obj = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "a", "namespace": "default"}, "data": {"k": "v"}});
        assert_eq!(
            object_hash(&obj).to_hex(),
            object_hash_reference(&obj).to_hex()
        );
        assert_eq!(
            object_hash(&obj).to_hex(),
            "ef368e55d6e633f29646f759a2819c4621afb47cc0736e6b3b28cb2237ee3256"
        );
        // And the state of that one object.
        let mut state = StateDigest::default();
        state.add(&entry_hash(key("a"), &object_hash(&obj)));
        assert_eq!(
            state.finish().to_hex(),
            "c9bd475eb61a35e1c29af318b8250e625558fb27fdb996a11eba2bb52f49055e"
        );
        assert_eq!(
            canonical_json(&obj),
            br#"{"apiVersion":"v1","data":{"k":"v"},"kind":"ConfigMap","metadata":{"name":"a","namespace":"default"}}"#
        );
    }

    /// The definition written out the slow way, to pin the streaming writer.
    fn object_hash_reference(obj: &Value) -> Digest {
        let mut hasher = blake3::Hasher::new();
        hasher.update(OBJECT_DOMAIN);
        hasher.update(&serde_json::to_vec(obj).unwrap());
        Digest(*hasher.finalize().as_bytes())
    }

    #[test]
    fn state_digest_is_order_independent_and_reversible() {
        let e1 = entry_hash(key("a"), &object_hash(&json!({"a": 1})));
        let e2 = entry_hash(key("b"), &object_hash(&json!({"b": 2})));
        let mut x = StateDigest::default();
        x.add(&e1);
        x.add(&e2);
        let mut y = StateDigest::default();
        y.add(&e2);
        y.add(&e1);
        assert_eq!(x.finish(), y.finish());
        y.remove(&e2);
        let mut z = StateDigest::default();
        z.add(&e1);
        assert_eq!(y, z);
        assert_ne!(x.finish(), z.finish());
    }

    #[test]
    fn digest_hex_round_trips() {
        let d = object_hash(&json!({"x": 1}));
        assert_eq!(Digest::from_hex(&d.to_hex()), Some(d));
        assert_eq!(Digest::from_hex("zz"), None);
    }

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            "[a-z]{0,4}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::vec(("[a-zA-Z]{1,6}", inner), 0..4)
                    .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn hash_is_independent_of_key_insertion_order(pairs in prop::collection::vec(("[a-z]{1,5}", arb_json()), 0..6)) {
            let forward: serde_json::Map<String, Value> = pairs.iter().cloned().collect();
            let mut backward = serde_json::Map::new();
            // Insert in reverse; later duplicates must win as in `forward`.
            let mut seen = std::collections::BTreeSet::new();
            for (k, v) in pairs.iter().rev() {
                if seen.insert(k.clone()) {
                    backward.insert(k.clone(), v.clone());
                }
            }
            let text_forward = serde_json::to_string(&Value::Object(forward.clone())).unwrap();
            let reparsed: Value = serde_json::from_str(&text_forward).unwrap();
            prop_assert_eq!(object_hash(&Value::Object(forward.clone())), object_hash(&Value::Object(backward)));
            prop_assert_eq!(object_hash(&Value::Object(forward)), object_hash(&reparsed));
        }

        #[test]
        fn hash_ignores_server_churn(body in arb_json(), rv in "[0-9]{1,6}", t in "[0-9TZ:-]{1,20}") {
            let plain = json!({"metadata": {"name": "x"}, "spec": body.clone()});
            let churned = json!({"metadata": {"name": "x", "resourceVersion": rv,
                "managedFields": [{"manager": "m", "time": t}]}, "spec": body});
            prop_assert_eq!(object_hash(&plain), object_hash(&churned));
        }
    }
}
