//! Identities of kinds and objects.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A kind within its API group, independent of version (how the API server
/// stores objects). The core group is `""`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
pub struct GroupKind {
    /// API group, `""` for the core group.
    pub group: String,
    /// Kind, e.g. `Deployment`.
    pub kind: String,
}

impl GroupKind {
    /// A group and kind.
    pub fn new(group: impl Into<String>, kind: impl Into<String>) -> Self {
        GroupKind {
            group: group.into(),
            kind: kind.into(),
        }
    }

    /// The group and kind of an `apiVersion` (`apps/v1`, `v1`) and kind.
    pub fn from_api_version(api_version: &str, kind: &str) -> Self {
        GroupKind::new(group_of(api_version), kind)
    }
}

impl fmt::Display for GroupKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.group.is_empty() {
            f.write_str(&self.kind)
        } else {
            write!(f, "{}.{}", self.kind, self.group)
        }
    }
}

/// The group part of an `apiVersion`: `apps` for `apps/v1`, `""` for `v1`.
pub fn group_of(api_version: &str) -> &str {
    api_version
        .rsplit_once('/')
        .map(|(group, _)| group)
        .unwrap_or("")
}

/// The key of one object: kind, namespace (None for cluster-scoped kinds) and
/// name. Also what a reconcile request names, like kube-rs' `ObjectRef`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
pub struct ObjectKey {
    /// The object's kind.
    #[serde(flatten)]
    pub kind: GroupKind,
    /// The namespace; `None` for cluster-scoped objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The name.
    pub name: String,
}

impl ObjectKey {
    /// The key's parts as hashed: group, kind, namespace (`""` when
    /// cluster-scoped) and name.
    pub fn parts(&self) -> [&str; 4] {
        [
            self.kind.group.as_str(),
            self.kind.kind.as_str(),
            self.namespace.as_deref().unwrap_or(""),
            self.name.as_str(),
        ]
    }

    /// A key from its parts.
    pub fn new(kind: GroupKind, namespace: Option<&str>, name: impl Into<String>) -> Self {
        ObjectKey {
            kind,
            namespace: namespace.map(str::to_string),
            name: name.into(),
        }
    }

    /// `namespace/name`, or `name` for cluster-scoped objects.
    pub fn namespaced_name(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{ns}/{}", self.name),
            None => self.name.clone(),
        }
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind, self.namespaced_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_of_core_and_named_groups() {
        assert_eq!(group_of("v1"), "");
        assert_eq!(group_of("apps/v1"), "apps");
        assert_eq!(group_of("apiextensions.k8s.io/v1"), "apiextensions.k8s.io");
    }

    #[test]
    fn keys_display_like_kubectl() {
        let k = ObjectKey::new(GroupKind::new("apps", "Deployment"), Some("default"), "web");
        assert_eq!(k.to_string(), "Deployment.apps default/web");
        let n = ObjectKey::new(GroupKind::new("", "Namespace"), None, "prod");
        assert_eq!(n.to_string(), "Namespace prod");
    }
}
