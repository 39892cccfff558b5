//! The kinds the server knows: a built-in table of Kubernetes kinds plus
//! kinds defined by CustomResourceDefinition objects.

use std::collections::BTreeMap;

use serde_json::Value;

use super::apply::{ListRules, ListType};
use super::key::{GroupKind, group_of};

/// What the server knows about one kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KindInfo {
    /// Group and kind.
    pub group_kind: GroupKind,
    /// The version objects are served at, e.g. `v1`.
    pub version: String,
    /// Lower-case plural resource name, e.g. `deployments`.
    pub plural: String,
    /// Namespaced (true) or cluster-scoped (false).
    pub namespaced: bool,
    /// Whether `status` is a subresource: main writes ignore `status` and
    /// `/status` writes ignore everything else.
    pub status_subresource: bool,
    /// How lists merge under server-side apply.
    pub list_rules: ListRules,
    /// Defined by a CustomResourceDefinition (not a built-in kind): no
    /// strategic merge patch, no unconditional update.
    pub custom: bool,
}

impl KindInfo {
    /// The `apiVersion` objects of this kind are served at.
    pub fn api_version(&self) -> String {
        if self.group_kind.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group_kind.group, self.version)
        }
    }
}

/// `(apiVersion, kind, plural, namespaced, status subresource)` of the
/// built-in kinds.
const BUILTIN: &[(&str, &str, &str, bool, bool)] = &[
    ("v1", "Namespace", "namespaces", false, true),
    ("v1", "Node", "nodes", false, true),
    ("v1", "Pod", "pods", true, true),
    ("v1", "Service", "services", true, true),
    ("v1", "ConfigMap", "configmaps", true, false),
    ("v1", "Secret", "secrets", true, false),
    ("v1", "ServiceAccount", "serviceaccounts", true, false),
    ("v1", "Endpoints", "endpoints", true, false),
    ("v1", "Event", "events", true, false),
    (
        "v1",
        "PersistentVolumeClaim",
        "persistentvolumeclaims",
        true,
        true,
    ),
    ("v1", "PersistentVolume", "persistentvolumes", false, true),
    ("v1", "ResourceQuota", "resourcequotas", true, true),
    ("v1", "LimitRange", "limitranges", true, false),
    ("apps/v1", "Deployment", "deployments", true, true),
    ("apps/v1", "ReplicaSet", "replicasets", true, true),
    ("apps/v1", "StatefulSet", "statefulsets", true, true),
    ("apps/v1", "DaemonSet", "daemonsets", true, true),
    (
        "apps/v1",
        "ControllerRevision",
        "controllerrevisions",
        true,
        false,
    ),
    ("batch/v1", "Job", "jobs", true, true),
    ("batch/v1", "CronJob", "cronjobs", true, true),
    (
        "autoscaling/v2",
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
        true,
        true,
    ),
    (
        "policy/v1",
        "PodDisruptionBudget",
        "poddisruptionbudgets",
        true,
        true,
    ),
    ("networking.k8s.io/v1", "Ingress", "ingresses", true, true),
    (
        "networking.k8s.io/v1",
        "NetworkPolicy",
        "networkpolicies",
        true,
        false,
    ),
    (
        "discovery.k8s.io/v1",
        "EndpointSlice",
        "endpointslices",
        true,
        false,
    ),
    ("coordination.k8s.io/v1", "Lease", "leases", true, false),
    ("rbac.authorization.k8s.io/v1", "Role", "roles", true, false),
    (
        "rbac.authorization.k8s.io/v1",
        "RoleBinding",
        "rolebindings",
        true,
        false,
    ),
    (
        "rbac.authorization.k8s.io/v1",
        "ClusterRole",
        "clusterroles",
        false,
        false,
    ),
    (
        "rbac.authorization.k8s.io/v1",
        "ClusterRoleBinding",
        "clusterrolebindings",
        false,
        false,
    ),
    (
        "storage.k8s.io/v1",
        "StorageClass",
        "storageclasses",
        false,
        false,
    ),
    (
        "scheduling.k8s.io/v1",
        "PriorityClass",
        "priorityclasses",
        false,
        false,
    ),
    (
        "apiextensions.k8s.io/v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        false,
        true,
    ),
];

/// Why a CustomResourceDefinition could not be registered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("CustomResourceDefinition field {field}: {reason}")]
pub struct CrdError {
    /// The offending field, e.g. `spec.names.kind`.
    pub field: String,
    /// What is wrong with it.
    pub reason: String,
}

/// The table of known kinds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KindRegistry {
    kinds: BTreeMap<GroupKind, KindInfo>,
}

impl Default for KindRegistry {
    fn default() -> Self {
        Self::builtin()
    }
}

impl KindRegistry {
    /// The built-in Kubernetes kinds.
    pub fn builtin() -> Self {
        let kinds = BUILTIN
            .iter()
            .map(|&(api_version, kind, plural, namespaced, status)| {
                let info = KindInfo {
                    group_kind: GroupKind::from_api_version(api_version, kind),
                    version: api_version
                        .rsplit('/')
                        .next()
                        .unwrap_or(api_version)
                        .to_string(),
                    plural: plural.to_string(),
                    namespaced,
                    status_subresource: status,
                    list_rules: ListRules::builtin(),
                    custom: false,
                };
                (info.group_kind.clone(), info)
            })
            .collect();
        KindRegistry { kinds }
    }

    /// Looks a kind up.
    pub fn get(&self, kind: &GroupKind) -> Option<&KindInfo> {
        self.kinds.get(kind)
    }

    /// Looks a kind up by `apiVersion` and kind. The version is not checked:
    /// like the API server's storage, kcheck keeps one version per kind.
    pub fn lookup(&self, api_version: &str, kind: &str) -> Option<&KindInfo> {
        self.kinds.get(&GroupKind::new(group_of(api_version), kind))
    }

    /// Every known kind, in a stable order.
    pub fn iter(&self) -> impl Iterator<Item = &KindInfo> {
        self.kinds.values()
    }

    /// Registers the kind a CustomResourceDefinition object defines: its
    /// group, kind, plural, scope, status subresource (of the storage
    /// version) and the list types its schema declares. Like Kubernetes, the
    /// CRD's name must be `<plural>.<group>`.
    pub fn register_crd(&mut self, crd: &Value) -> Result<&KindInfo, CrdError> {
        let info = kind_from_crd(crd)?;
        let key = info.group_kind.clone();
        self.kinds.insert(key.clone(), info);
        Ok(&self.kinds[&key])
    }
}

fn field_str<'a>(v: &'a Value, pointer: &str, field: &str) -> Result<&'a str, CrdError> {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| CrdError {
            field: field.to_string(),
            reason: "required string is missing".to_string(),
        })
}

fn kind_from_crd(crd: &Value) -> Result<KindInfo, CrdError> {
    let group = field_str(crd, "/spec/group", "spec.group")?;
    let kind = field_str(crd, "/spec/names/kind", "spec.names.kind")?;
    let plural = field_str(crd, "/spec/names/plural", "spec.names.plural")?;
    let name = crd.pointer("/metadata/name").and_then(Value::as_str);
    if name != Some(format!("{plural}.{group}").as_str()) {
        return Err(CrdError {
            field: "metadata.name".to_string(),
            reason: format!(
                "Invalid value: {:?}: must be spec.names.plural+\".\"+spec.group",
                name.unwrap_or_default()
            ),
        });
    }
    let namespaced = match field_str(crd, "/spec/scope", "spec.scope")? {
        "Namespaced" => true,
        "Cluster" => false,
        other => {
            return Err(CrdError {
                field: "spec.scope".to_string(),
                reason: format!("must be Namespaced or Cluster, not {other:?}"),
            });
        }
    };
    let versions = crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| CrdError {
            field: "spec.versions".to_string(),
            reason: "at least one version is required".to_string(),
        })?;
    let storage = versions
        .iter()
        .find(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
        .unwrap_or(&versions[0]);
    let version = field_str(storage, "/name", "spec.versions[].name")?;
    let status_subresource = storage.pointer("/subresources/status").is_some();
    let mut list_rules = ListRules::custom();
    if let Some(schema) = storage.pointer("/schema/openAPIV3Schema") {
        for (path, list_type) in schema_list_types(schema) {
            list_rules = list_rules.with_path(&path, list_type);
        }
    }
    Ok(KindInfo {
        group_kind: GroupKind::new(group, kind),
        version: version.to_string(),
        plural: plural.to_string(),
        namespaced,
        status_subresource,
        list_rules,
        custom: true,
    })
}

/// The `x-kubernetes-list-type` declarations of an OpenAPI v3 schema, by
/// dotted field path.
fn schema_list_types(schema: &Value) -> Vec<(String, ListType)> {
    let mut out = Vec::new();
    walk_schema(schema, &mut Vec::new(), &mut out);
    out
}

fn walk_schema(schema: &Value, path: &mut Vec<String>, out: &mut Vec<(String, ListType)>) {
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        for (name, sub) in props {
            path.push(name.clone());
            walk_schema(sub, path, out);
            path.pop();
        }
    }
    if schema.get("type").and_then(Value::as_str) == Some("array") {
        let declared = match schema.get("x-kubernetes-list-type").and_then(Value::as_str) {
            Some("map") => {
                let keys = schema
                    .get("x-kubernetes-list-map-keys")
                    .and_then(Value::as_array)
                    .map(|keys| {
                        keys.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default();
                Some(ListType::Map(keys))
            }
            Some("set") => Some(ListType::Set),
            Some("atomic") => Some(ListType::Atomic),
            _ => None,
        };
        if let Some(list_type) = declared {
            out.push((path.join("."), list_type));
        }
        if let Some(items) = schema.get("items") {
            walk_schema(items, path, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn builtin_table_knows_scope_and_status_subresource() {
        let kinds = KindRegistry::builtin();
        let pod = kinds.lookup("v1", "Pod").unwrap();
        assert!(pod.namespaced && pod.status_subresource);
        let ns = kinds.lookup("v1", "Namespace").unwrap();
        assert!(!ns.namespaced);
        let cm = kinds.lookup("v1", "ConfigMap").unwrap();
        assert!(!cm.status_subresource);
        assert_eq!(
            kinds.lookup("apps/v1", "Deployment").unwrap().api_version(),
            "apps/v1"
        );
        assert!(kinds.lookup("v1", "Widget").is_none());
    }

    fn widget_crd() -> Value {
        json!({
            "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.example.com"},
            "spec": {"group": "example.com", "scope": "Cluster",
                "names": {"kind": "Widget", "plural": "widgets"},
                "versions": [{"name": "v1", "served": true, "storage": true,
                    "subresources": {"status": {}},
                    "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                        "spec": {"type": "object", "properties": {
                            "items": {"type": "array", "x-kubernetes-list-type": "map",
                                "x-kubernetes-list-map-keys": ["id"],
                                "items": {"type": "object"}}}}}}}}]}
        })
    }

    #[test]
    fn crd_defines_scope_status_subresource_and_list_map_keys() {
        let mut kinds = KindRegistry::builtin();
        let info = kinds.register_crd(&widget_crd()).unwrap().clone();
        assert_eq!(info.group_kind, GroupKind::new("example.com", "Widget"));
        assert!(!info.namespaced);
        assert!(info.status_subresource);
        assert_eq!(
            info.list_rules.list_type(&["spec", "items"]),
            ListType::Map(vec!["id".into()])
        );
        assert!(kinds.lookup("example.com/v1", "Widget").is_some());
    }

    #[test]
    fn crd_name_must_be_plural_dot_group() {
        let mut crd = widget_crd();
        crd["metadata"]["name"] = json!("widget.example.com");
        let err = KindRegistry::builtin().register_crd(&crd).unwrap_err();
        assert_eq!(err.field, "metadata.name");
    }

    #[test]
    fn crd_with_bad_scope_names_the_field() {
        let mut crd = widget_crd();
        crd["spec"]["scope"] = json!("Galaxy");
        let err = KindRegistry::builtin().register_crd(&crd).unwrap_err();
        assert_eq!(err.field, "spec.scope");
    }
}
