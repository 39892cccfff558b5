//! What a LIST asks for: a kind, a namespace, selectors, and optionally only
//! the objects a controller may claim. The same query answers the LIST and
//! tells, for partial-order reduction, which writes could change its answer.

use serde_json::Value;

use super::history::{KindObjects, Stored};
use super::key::GroupKind;
use super::meta;
use super::selector::{FieldSelector, LabelSelector};
use std::sync::Arc;

/// A LIST of one kind.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ListQuery {
    /// The kind listed.
    pub kind: GroupKind,
    /// The namespace listed; `None` lists every namespace.
    pub namespace: Option<String>,
    /// The label selector (`labelSelector`).
    pub labels: LabelSelector,
    /// The field selector (`fieldSelector`).
    pub fields: FieldSelector,
    /// Only the candidates this owner may claim (see [`Claimant`]).
    pub claimant: Option<Claimant>,
}

/// A controller claiming objects as Kubernetes' `ControllerRefManager`
/// does: it looks at the objects it controls (whatever their labels) and at
/// orphans its selector matches, and never at objects another owner
/// controls. Listing through a claimant returns just those, so a reconcile
/// reads nothing that belongs to its neighbours.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Claimant {
    /// The owner's uid.
    pub uid: String,
    /// The owner's selector. An empty selector adopts nothing, as in
    /// Kubernetes.
    pub selector: LabelSelector,
}

impl ListQuery {
    /// Every object of `kind` in `namespace` (every namespace when `None`).
    pub fn all(kind: GroupKind, namespace: Option<&str>) -> Self {
        ListQuery {
            kind,
            namespace: namespace.map(str::to_string),
            labels: LabelSelector::everything(),
            fields: FieldSelector::everything(),
            claimant: None,
        }
    }

    /// Whether an object of the listed kind, in `namespace`, is in the
    /// answer.
    pub fn selects(&self, namespace: Option<&str>, object: &Value) -> bool {
        if self.namespace.is_some() && self.namespace.as_deref() != namespace {
            return false;
        }
        if !self.labels.matches(object) || !self.fields.matches(object) {
            return false;
        }
        match &self.claimant {
            None => true,
            Some(claimant) => claimant.considers(object),
        }
    }

    /// The answer from a kind's objects, in name order.
    pub fn answer(&self, objects: &KindObjects) -> Vec<Arc<Stored>> {
        objects
            .iter()
            .filter(|((ns, _), s)| self.selects(ns.as_deref(), &s.object))
            .map(|(_, s)| s.clone())
            .collect()
    }
}

impl Claimant {
    /// Whether the claimant looks at this object: it controls it, or the
    /// object is an orphan its (non-empty) selector matches.
    pub fn considers(&self, object: &Value) -> bool {
        let refs = meta::owner_references(object);
        match refs.iter().find(|r| r.controller) {
            Some(controller) => controller.uid == self.uid,
            None => !self.selector.is_everything() && self.selector.matches(object),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn claimant() -> Claimant {
        Claimant {
            uid: "rs-1".into(),
            selector: LabelSelector::parse("app=web").unwrap(),
        }
    }

    fn pod(labels: Value, owner: Option<&str>) -> Value {
        let mut pod = json!({"metadata": {"name": "p", "labels": labels}});
        if let Some(uid) = owner {
            pod["metadata"]["ownerReferences"] = json!([{"apiVersion": "apps/v1",
                "kind": "ReplicaSet", "name": "x", "uid": uid, "controller": true}]);
        }
        pod
    }

    #[test]
    fn a_claimant_considers_what_it_controls_and_matching_orphans_only() {
        let c = claimant();
        assert!(
            c.considers(&pod(json!({"app": "web"}), None)),
            "orphan, matches"
        );
        assert!(
            !c.considers(&pod(json!({"app": "db"}), None)),
            "orphan, no match"
        );
        assert!(
            c.considers(&pod(json!({"app": "db"}), Some("rs-1"))),
            "controlled"
        );
        assert!(
            !c.considers(&pod(json!({"app": "web"}), Some("rs-2"))),
            "another's"
        );
        let everything = Claimant {
            uid: "rs-1".into(),
            selector: LabelSelector::everything(),
        };
        assert!(
            !everything.considers(&pod(json!({}), None)),
            "adopts nothing"
        );
    }

    #[test]
    fn a_query_selects_by_namespace_labels_and_claimant() {
        let kind = GroupKind::new("", "Pod");
        let mut q = ListQuery::all(kind, Some("default"));
        let web = pod(json!({"app": "web"}), Some("rs-2"));
        assert!(q.selects(Some("default"), &web));
        assert!(!q.selects(Some("other"), &web));
        q.claimant = Some(claimant());
        assert!(!q.selects(Some("default"), &web), "another owner's pod");
    }
}
