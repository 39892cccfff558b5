//! Invariants: named properties of a state, checked on converged states or
//! on every explored state. Built-ins cover what scenario files ask for;
//! harnesses can register their own with [`Invariant::new`].

use std::fmt;
use std::sync::Arc;

use serde_json::Value;

use crate::api::{ApiServer, GroupKind, LabelSelector, ListQuery, ObjectKey, meta};

/// When an invariant is checked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum When {
    /// On converged states only.
    #[default]
    Converged,
    /// On every explored state.
    Always,
}

type Check = Arc<dyn Fn(&ApiServer) -> Result<(), String> + Send + Sync>;

/// A named property of the cluster state.
#[derive(Clone)]
pub struct Invariant {
    name: String,
    when: When,
    check: Check,
}

impl fmt::Debug for Invariant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Invariant")
            .field("name", &self.name)
            .field("when", &self.when)
            .finish()
    }
}

/// Bounds of a `count` invariant.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Bounds {
    /// Exactly this many.
    pub equals: Option<u64>,
    /// At least this many.
    pub min: Option<u64>,
    /// At most this many.
    pub max: Option<u64>,
}

impl Invariant {
    /// An invariant from a check that explains a violation in its `Err`.
    pub fn new(
        name: impl Into<String>,
        when: When,
        check: impl Fn(&ApiServer) -> Result<(), String> + Send + Sync + 'static,
    ) -> Self {
        Invariant {
            name: name.into(),
            when,
            check: Arc::new(check),
        }
    }

    /// The name findings use.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// When it is checked.
    pub fn when(&self) -> When {
        self.when
    }

    /// Checks a state.
    pub fn check(&self, server: &ApiServer) -> Result<(), String> {
        (self.check)(server)
    }

    /// The object exists.
    pub fn exists(key: ObjectKey, when: When) -> Self {
        Invariant::new(format!("exists {key}"), when, move |s| match s.get(&key) {
            Ok(_) => Ok(()),
            Err(_) => Err(format!("{key} does not exist")),
        })
    }

    /// The object does not exist.
    pub fn absent(key: ObjectKey, when: When) -> Self {
        Invariant::new(format!("absent {key}"), when, move |s| match s.get(&key) {
            Ok(_) => Err(format!("{key} exists")),
            Err(_) => Ok(()),
        })
    }

    /// The number of objects of a kind (in a namespace, matching labels) is
    /// within bounds.
    pub fn count(
        kind: GroupKind,
        namespace: Option<String>,
        selector: LabelSelector,
        bounds: Bounds,
        when: When,
    ) -> Self {
        let scope = namespace
            .as_deref()
            .map(|n| format!(" in {n}"))
            .unwrap_or_default();
        let sel = if selector.is_everything() {
            String::new()
        } else {
            format!(" matching {selector}")
        };
        let name = format!("count {kind}{scope}{sel}");
        Invariant::new(name, when, move |s| {
            let n = s
                .list(&ListQuery {
                    labels: selector.clone(),
                    ..ListQuery::all(kind.clone(), namespace.as_deref())
                })
                .map_err(|e| e.to_string())?
                .len() as u64;
            let fail = |what: &str, bound: u64| {
                Err(format!("{n} {kind}{scope}{sel}, expected {what} {bound}"))
            };
            match bounds {
                Bounds {
                    equals: Some(e), ..
                } if n != e => fail("exactly", e),
                Bounds { min: Some(m), .. } if n < m => fail("at least", m),
                Bounds { max: Some(m), .. } if n > m => fail("at most", m),
                _ => Ok(()),
            }
        })
    }

    /// A field of an object (by JSON pointer) equals a value. Breaks when
    /// the object does not exist.
    pub fn field_equals(key: ObjectKey, pointer: String, value: Value, when: When) -> Self {
        let name = format!("field_equals {key} {pointer}");
        Invariant::new(name, when, move |s| {
            match existing(s, &key)?.pointer(&pointer) {
                Some(v) if *v == value => Ok(()),
                Some(v) => Err(format!("{key} {pointer} is {v}, expected {value}")),
                None => Err(format!("{key} has no {pointer}, expected {value}")),
            }
        })
    }

    /// An object has nothing at a JSON pointer (an explicit `null` is a
    /// value). Like [`Invariant::field_equals`], it breaks when the object
    /// does not exist.
    pub fn field_absent(key: ObjectKey, pointer: String, when: When) -> Self {
        let name = format!("field_absent {key} {pointer}");
        Invariant::new(name, when, move |s| {
            match existing(s, &key)?.pointer(&pointer) {
                None => Ok(()),
                Some(v) => Err(format!("{key} {pointer} is {v}, expected it absent")),
            }
        })
    }

    /// Every ownerReference resolves to an existing object with that uid.
    pub fn no_orphans(when: When) -> Self {
        Invariant::new("no_orphans", when, |s| {
            for (key, stored) in s.all_objects() {
                for owner in meta::owner_references(&stored.object) {
                    if !owner_exists(s, &key, &owner) {
                        return Err(format!(
                            "{key} is owned by {} {} (uid {}), which does not exist",
                            owner.kind, owner.name, owner.uid
                        ));
                    }
                }
            }
            Ok(())
        })
    }
}

/// The object's JSON, or why an invariant about its fields breaks.
fn existing<'a>(s: &'a ApiServer, key: &ObjectKey) -> Result<&'a Value, String> {
    s.get(key)
        .map(|stored| &stored.object)
        .map_err(|_| format!("{key} does not exist"))
}

fn owner_exists(s: &ApiServer, dependent: &ObjectKey, owner: &meta::OwnerRef) -> bool {
    let kind = GroupKind::from_api_version(&owner.api_version, &owner.kind);
    let Ok(info) = s.kind_info(&kind) else {
        return false;
    };
    let namespace = if info.namespaced {
        dependent.namespace.as_deref()
    } else {
        None
    };
    let key = ObjectKey::new(kind, namespace, owner.name.clone());
    s.get(&key)
        .is_ok_and(|o| meta::uid(&o.object) == Some(owner.uid.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{cm_key, configmap_kind, server_with};
    use serde_json::json;

    #[test]
    fn exists_and_absent() {
        let s = server_with(&[("a", json!({}))]);
        assert!(
            Invariant::exists(cm_key("a"), When::Converged)
                .check(&s)
                .is_ok()
        );
        assert!(
            Invariant::exists(cm_key("b"), When::Converged)
                .check(&s)
                .is_err()
        );
        assert!(
            Invariant::absent(cm_key("b"), When::Converged)
                .check(&s)
                .is_ok()
        );
        let err = Invariant::absent(cm_key("a"), When::Converged)
            .check(&s)
            .unwrap_err();
        assert_eq!(err, "ConfigMap default/a exists");
    }

    #[test]
    fn count_checks_equals_min_and_max_with_a_selector() {
        let s = server_with(&[("a", json!({})), ("b", json!({}))]);
        let count = |bounds, selector: &str| {
            Invariant::count(
                configmap_kind(),
                Some("default".into()),
                LabelSelector::parse(selector).unwrap(),
                bounds,
                When::Converged,
            )
            .check(&s)
        };
        let exactly = |n| Bounds {
            equals: Some(n),
            ..Bounds::default()
        };
        assert!(count(exactly(2), "").is_ok());
        assert_eq!(
            count(exactly(3), "").unwrap_err(),
            "2 ConfigMap in default, expected exactly 3"
        );
        assert!(
            count(
                Bounds {
                    min: Some(3),
                    ..Bounds::default()
                },
                ""
            )
            .is_err()
        );
        assert!(
            count(
                Bounds {
                    max: Some(2),
                    ..Bounds::default()
                },
                ""
            )
            .is_ok()
        );
        assert!(
            count(exactly(0), "app=web").is_ok(),
            "no ConfigMap has the label"
        );
    }

    #[test]
    fn field_equals_reads_a_json_pointer() {
        let s = server_with(&[("a", json!({"k": "v"}))]);
        let inv =
            |v: Value| Invariant::field_equals(cm_key("a"), "/data/k".into(), v, When::Always);
        assert!(inv(json!("v")).check(&s).is_ok());
        assert!(
            inv(json!("w"))
                .check(&s)
                .unwrap_err()
                .contains("is \"v\", expected \"w\"")
        );
    }

    #[test]
    fn field_absent_holds_for_an_existing_object_without_the_field() {
        let s = server_with(&[("a", json!({"k": "v"}))]);
        let inv = |name: &str, pointer: &str| {
            Invariant::field_absent(cm_key(name), pointer.into(), When::Always).check(&s)
        };
        assert!(inv("a", "/data/missing").is_ok());
        assert!(inv("a", "/status/x").is_ok(), "no status at all");
        assert_eq!(
            inv("a", "/data/k").unwrap_err(),
            "ConfigMap default/a /data/k is \"v\", expected it absent"
        );
        assert_eq!(
            inv("b", "/data/k").unwrap_err(),
            "ConfigMap default/b does not exist",
            "as for field_equals, the object must exist"
        );
    }

    #[test]
    fn field_absent_counts_an_explicit_null_as_a_value() {
        let mut s = server_with(&[]);
        s.seed(
            json!({"apiVersion": "v1", "kind": "ConfigMap",
                   "metadata": {"name": "a", "namespace": "default"}, "immutable": null}),
            "test",
        )
        .unwrap();
        let err = Invariant::field_absent(cm_key("a"), "/immutable".into(), When::Always)
            .check(&s)
            .unwrap_err();
        assert!(
            err.ends_with("/immutable is null, expected it absent"),
            "{err}"
        );
    }

    #[test]
    fn no_orphans_requires_owner_with_matching_uid() {
        let mut s = server_with(&[("owner", json!({}))]);
        let uid = s.get(&cm_key("owner")).unwrap().object["metadata"]["uid"].clone();
        let dependent = |name: &str, uid: Value| {
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name,
                "namespace": "default", "ownerReferences": [{"apiVersion": "v1",
                "kind": "ConfigMap", "name": "owner", "uid": uid}]}})
        };
        s.seed(dependent("good", uid), "test").unwrap();
        assert!(Invariant::no_orphans(When::Converged).check(&s).is_ok());
        s.seed(dependent("stale", json!("not-the-uid")), "test")
            .unwrap();
        let err = Invariant::no_orphans(When::Converged)
            .check(&s)
            .unwrap_err();
        assert!(
            err.contains("ConfigMap default/stale is owned by ConfigMap owner"),
            "{err}"
        );
    }
}
