//! Objects of any kind: the kinds the server serves (the built-in table and
//! the CustomResourceDefinitions in the cluster) and `DynamicObject` APIs
//! over them, for the controllers that work across kinds (garbage
//! collector, namespace).

use std::sync::Arc;

use kcheck_engine::api::{GroupKind, KindInfo, KindRegistry, ObjectKey};
use kcheck_engine::client::{Api, ApiResource, Client, DynamicObject, ListParams};
use kcheck_engine::runtime::ReconcileError;

/// The kinds the server serves, as a controller reads them: the built-in
/// table plus every CustomResourceDefinition in its cache.
pub(crate) struct Kinds {
    registry: KindRegistry,
}

/// The group and kind of CustomResourceDefinition.
fn crd_kind() -> GroupKind {
    GroupKind::new("apiextensions.k8s.io", "CustomResourceDefinition")
}

impl Kinds {
    /// Reads the CustomResourceDefinitions through `client` on top of the
    /// built-in table.
    pub fn read(client: Client<'_>, builtin: &Arc<KindRegistry>) -> Result<Self, ReconcileError> {
        let mut registry = (**builtin).clone();
        let crds = match builtin.get(&crd_kind()) {
            Some(info) => all(client, info).list(&ListParams::default())?,
            None => Vec::new(),
        };
        for crd in crds {
            // A CRD the server accepted registers; a bad one is skipped.
            let _ = registry.register_crd(&serde_json::to_value(&crd)?);
        }
        Ok(Kinds { registry })
    }

    /// What the server knows about a kind.
    pub fn get(&self, kind: &GroupKind) -> Option<&KindInfo> {
        self.registry.get(kind)
    }

    /// Every known kind.
    pub fn iter(&self) -> impl Iterator<Item = &KindInfo> {
        self.registry.iter()
    }
}

/// The `ApiResource` of a kind.
pub(crate) fn resource(info: &KindInfo) -> ApiResource {
    ApiResource {
        group: info.group_kind.group.clone(),
        version: info.version.clone(),
        api_version: info.api_version(),
        kind: info.group_kind.kind.clone(),
        plural: info.plural.clone(),
    }
}

/// An API over every object of a kind (all namespaces).
pub(crate) fn all<'c>(client: Client<'c>, info: &KindInfo) -> Api<'c, DynamicObject> {
    Api::all_with(client, &resource(info))
}

/// An API over the objects of a kind in one namespace, or of a
/// cluster-scoped kind when `namespace` is `None`.
pub(crate) fn scoped<'c>(
    client: Client<'c>,
    info: &KindInfo,
    namespace: Option<&str>,
) -> Api<'c, DynamicObject> {
    match namespace {
        Some(ns) if info.namespaced => Api::namespaced_with(client, ns, &resource(info)),
        _ => Api::all_with(client, &resource(info)),
    }
}

/// The key of a dynamic object of a kind.
pub(crate) fn key_of(info: &KindInfo, object: &DynamicObject) -> ObjectKey {
    let namespace = object
        .metadata
        .namespace
        .as_deref()
        .filter(|_| info.namespaced);
    ObjectKey::new(
        info.group_kind.clone(),
        namespace,
        object.metadata.name.clone().unwrap_or_default(),
    )
}

/// Parses `Kind.group` (or `Kind` for the core group), as kcheck prints
/// kinds.
pub(crate) fn parse_kind(s: &str) -> Option<GroupKind> {
    let (kind, group) = s.split_once('.').unwrap_or((s, ""));
    let ok = !kind.is_empty() && kind.chars().all(|c| c.is_ascii_alphanumeric());
    ok.then(|| GroupKind::new(group, kind))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_parse_as_kcheck_prints_them() {
        assert_eq!(parse_kind("Pod"), Some(GroupKind::new("", "Pod")));
        assert_eq!(
            parse_kind("Widget.example.com"),
            Some(GroupKind::new("example.com", "Widget"))
        );
        assert_eq!(parse_kind(""), None);
        assert_eq!(parse_kind("a b"), None);
    }
}
