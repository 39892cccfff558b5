//! The initial cluster of a scenario: manifests as `kubectl apply` takes
//! them, checked and seeded into an [`ApiServer`].
//!
//! - a `List` is flattened (its `items`, recursively);
//! - `apiVersion`, `kind` and `metadata.name` are required, and
//!   `metadata.generateName` is refused (every name must be known before
//!   the run, so invariants and actions can name objects);
//! - the kind must be built in or defined by a CustomResourceDefinition in
//!   `objects`; CRDs are seeded first, then Namespaces, then everything else
//!   in file order;
//! - a namespaced object without `metadata.namespace` goes to `default`;
//!   its namespace must exist from the start or be created in `objects`;
//! - an ownerReference with a missing or empty `uid` (or with the uid the
//!   owner's manifest gives, which the server replaces) gets the owner's
//!   real uid: the owner is looked up by kind and name in the dependent's
//!   namespace, or cluster-wide for cluster-scoped owners.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use crate::api::server::{INITIAL_NAMESPACES, uid_for};
use crate::api::strategy;
use crate::api::typed::{self, Checks};
use crate::api::{
    ApiError, ApiServer, GroupKind, KindInfo, KindRegistry, ObjectKey, Subresource, WriteRequest,
    validation,
};

use super::ScenarioError;

/// The field manager objects are seeded as (what `kubectl create` uses).
pub(crate) const SEED_MANAGER: &str = "kubectl-create";

/// A manifest and where in the file it came from.
#[derive(Clone, Debug)]
pub(crate) struct Manifest {
    /// `objects[2]`, `objects[3].items[0]`.
    pub path: String,
    /// The manifest.
    pub object: Value,
}

/// What is known about the objects of a scenario: their keys with the uid
/// their manifest gave (which the server replaces), and the namespaces.
#[derive(Clone, Debug, Default)]
pub(crate) struct Known {
    /// Every object named so far, with the `metadata.uid` of its manifest.
    pub objects: BTreeMap<ObjectKey, Option<String>>,
    /// Namespaces that exist (initial ones and created ones).
    pub namespaces: BTreeSet<String>,
}

impl Known {
    fn new() -> Self {
        Known {
            objects: BTreeMap::new(),
            namespaces: INITIAL_NAMESPACES.iter().map(|s| s.to_string()).collect(),
        }
    }
}

/// The seeded initial cluster.
#[derive(Clone, Debug)]
pub(crate) struct Seeded {
    /// The server holding the objects.
    pub server: ApiServer,
    /// The objects and namespaces it holds.
    pub known: Known,
}

fn crd_kind() -> GroupKind {
    GroupKind::new("apiextensions.k8s.io", "CustomResourceDefinition")
}

fn namespace_kind() -> GroupKind {
    GroupKind::new("", "Namespace")
}

fn text<'a>(v: &'a Value, field: &str) -> Option<&'a str> {
    v.get(field).and_then(Value::as_str)
}

fn metadata(v: &Value) -> Option<&Map<String, Value>> {
    v.get("metadata").and_then(Value::as_object)
}

fn metadata_mut(v: &mut Value) -> &mut Map<String, Value> {
    v.get_mut("metadata")
        .and_then(Value::as_object_mut)
        .expect("check_identity made sure metadata is a map")
}

/// The group and kind a manifest names.
pub(crate) fn group_kind(object: &Value) -> GroupKind {
    GroupKind::from_api_version(
        text(object, "apiVersion").unwrap_or(""),
        text(object, "kind").unwrap_or(""),
    )
}

/// Flattens `List`s; every item must be a JSON map.
pub(crate) fn flatten(objects: &[Value]) -> Result<Vec<Manifest>, ScenarioError> {
    let mut out = Vec::new();
    for (i, object) in objects.iter().enumerate() {
        flatten_one(object, format!("objects[{i}]"), &mut out)?;
    }
    Ok(out)
}

fn flatten_one(object: &Value, path: String, out: &mut Vec<Manifest>) -> Result<(), ScenarioError> {
    if !object.is_object() {
        return Err(ScenarioError::new(
            path,
            format!(
                "an object must be a JSON map (a Kubernetes manifest), not {}",
                type_name(object)
            ),
        ));
    }
    if text(object, "kind") != Some("List") {
        out.push(Manifest {
            path,
            object: object.clone(),
        });
        return Ok(());
    }
    let Some(items) = object.get("items").and_then(Value::as_array) else {
        return Err(ScenarioError::new(
            format!("{path}.items"),
            "a List needs an items list",
        ));
    };
    for (j, item) in items.iter().enumerate() {
        flatten_one(item, format!("{path}.items[{j}]"), out)?;
    }
    Ok(())
}

/// The JSON type of a value, for messages.
pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

/// Checks that a manifest has `apiVersion`, `kind` and `metadata.name` (or,
/// where allowed, `metadata.generateName`).
pub(crate) fn check_identity(
    object: &Value,
    path: &str,
    allow_generate_name: bool,
) -> Result<(), ScenarioError> {
    if !object.is_object() {
        return Err(ScenarioError::new(
            path,
            format!("a manifest must be a JSON map, not {}", type_name(object)),
        ));
    }
    for (field, example) in [("apiVersion", "\"v1\" or \"apps/v1\""), ("kind", "\"Pod\"")] {
        match object.get(field) {
            Some(Value::String(s)) if !s.is_empty() => {}
            Some(Value::String(_)) | None => {
                return Err(ScenarioError::new(
                    format!("{path}.{field}"),
                    format!("required: a non-empty string such as {example}"),
                ));
            }
            Some(other) => {
                return Err(ScenarioError::new(
                    format!("{path}.{field}"),
                    format!("must be a string, not {}", type_name(other)),
                ));
            }
        }
    }
    let Some(meta) = object.get("metadata") else {
        return Err(ScenarioError::new(
            format!("{path}.metadata"),
            "required: a map with at least a name",
        ));
    };
    let Some(meta) = meta.as_object() else {
        return Err(ScenarioError::new(
            format!("{path}.metadata"),
            format!("must be a map, not {}", type_name(meta)),
        ));
    };
    for field in ["name", "namespace", "generateName", "uid"] {
        if let Some(v) = meta.get(field)
            && !v.is_string()
        {
            return Err(ScenarioError::new(
                format!("{path}.metadata.{field}"),
                format!("must be a string, not {}", type_name(v)),
            ));
        }
    }
    let name = meta.get("name").and_then(Value::as_str).unwrap_or("");
    let generate = meta
        .get("generateName")
        .and_then(Value::as_str)
        .unwrap_or("");
    if meta.contains_key("generateName") && !allow_generate_name {
        return Err(ScenarioError::new(
            format!("{path}.metadata.generateName"),
            "generateName is not allowed in scenario objects: give metadata.name, so that invariants and actions can name the object",
        ));
    }
    let generated = allow_generate_name && !generate.is_empty();
    if name.is_empty() && !generated {
        let what = if allow_generate_name {
            "required: a non-empty name (or generateName)"
        } else {
            "required: a non-empty name"
        };
        return Err(ScenarioError::new(format!("{path}.metadata.name"), what));
    }
    Ok(())
}

/// Puts a manifest in its namespace: `default` when a namespaced object
/// gives none; a cluster-scoped one must give none. Returns the namespace.
pub(crate) fn place(
    object: &mut Value,
    info: &KindInfo,
    path: &str,
) -> Result<Option<String>, ScenarioError> {
    let at = format!("{path}.metadata.namespace");
    let meta = metadata_mut(object);
    let given = meta
        .get("namespace")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    if !info.namespaced {
        if let Some(ns) = given {
            return Err(ScenarioError::new(
                at,
                format!(
                    "{} is cluster-scoped, so it cannot be in namespace {ns:?}",
                    info.group_kind
                ),
            ));
        }
        meta.remove("namespace");
        return Ok(None);
    }
    let ns = given.unwrap_or_else(|| "default".to_string());
    validation::dns_label(&ns)
        .map_err(|e| ScenarioError::new(at, format!("invalid namespace {ns:?}: {e}")))?;
    meta.insert("namespace".into(), Value::String(ns.clone()));
    Ok(Some(ns))
}

/// Checks an object name the way the API server does for its kind.
pub(crate) fn check_name(kind: &str, name: &str, at: &str) -> Result<(), ScenarioError> {
    validation::object_name(kind, name)
        .map_err(|e| ScenarioError::new(at, format!("invalid name {name:?}: {e}")))
}

/// Fills in ownerReferences' uids (see the module doc).
pub(crate) fn patch_owner_refs(
    object: &mut Value,
    path: &str,
    namespace: Option<&str>,
    kinds: &KindRegistry,
    known: &Known,
) -> Result<(), ScenarioError> {
    let at = format!("{path}.metadata.ownerReferences");
    let Some(refs) = metadata_mut(object).get_mut("ownerReferences") else {
        return Ok(());
    };
    let Some(refs) = refs.as_array_mut() else {
        return Err(ScenarioError::new(
            at,
            format!("must be a list, not {}", type_name(refs)),
        ));
    };
    for (k, r) in refs.iter_mut().enumerate() {
        let at = format!("{at}[{k}]");
        let Some(map) = r.as_object_mut() else {
            return Err(ScenarioError::new(
                at,
                format!("must be a map, not {}", type_name(r)),
            ));
        };
        let mut fields = Vec::new();
        for field in ["apiVersion", "kind", "name"] {
            match map.get(field).and_then(Value::as_str) {
                Some(s) if !s.is_empty() => fields.push(s.to_string()),
                _ => {
                    return Err(ScenarioError::new(
                        format!("{at}.{field}"),
                        "required: a non-empty string",
                    ));
                }
            }
        }
        let (api_version, kind, name) = (&fields[0], &fields[1], &fields[2]);
        let uid = match map.get("uid") {
            None => None,
            Some(Value::String(s)) => Some(s.as_str()),
            Some(other) => {
                return Err(ScenarioError::new(
                    format!("{at}.uid"),
                    format!("must be a string, not {}", type_name(other)),
                ));
            }
        };
        let Some(info) = kinds.lookup(api_version, kind) else {
            if uid.is_some_and(|u| !u.is_empty()) {
                continue;
            }
            return Err(ScenarioError::new(
                format!("{at}.kind"),
                format!("unknown owner kind {kind:?} in apiVersion {api_version:?}"),
            ));
        };
        let owner_ns = if info.namespaced {
            match namespace {
                Some(ns) => Some(ns),
                None => {
                    return Err(ScenarioError::new(
                        at,
                        format!(
                            "a cluster-scoped object cannot be owned by the namespaced {}",
                            info.group_kind
                        ),
                    ));
                }
            }
        } else {
            None
        };
        let key = ObjectKey::new(info.group_kind.clone(), owner_ns, name.clone());
        let manifest_uid = known.objects.get(&key);
        let fill = match uid {
            None | Some("") => true,
            Some(u) => manifest_uid.is_some_and(|m| m.as_deref() == Some(u)),
        };
        if !fill {
            continue;
        }
        if manifest_uid.is_none() {
            return Err(ScenarioError::new(
                format!("{at}.name"),
                format!(
                    "the owner {key} is not among the scenario's objects, so its uid cannot be filled in; give uid explicitly"
                ),
            ));
        }
        map.insert("uid".into(), Value::String(uid_for(&key, 0)));
    }
    Ok(())
}

/// A manifest as the API server validates it on create: after its kind's
/// registry strategy ([`strategy::prepare_for_create`], which generates a
/// Job's selector), with a placeholder uid where the server gives one later.
fn as_created(object: &Value) -> Value {
    let mut out = object.clone();
    let kind = GroupKind::from_api_version(
        text(object, "apiVersion").unwrap_or(""),
        text(object, "kind").unwrap_or(""),
    );
    metadata_mut(&mut out)
        .entry("uid")
        .or_insert_with(|| Value::String("uid-given-on-create".into()));
    strategy::prepare_for_create(&kind, &mut out);
    out
}

/// Checks a manifest of a built-in kind as the API server decodes and
/// validates it ([`typed::check`]); the error names the object,
/// `at objects[0] (Deployment default/web): spec.replicas: ...`.
pub(crate) fn check_typed(object: &Value, path: &str, checks: Checks) -> Result<(), ScenarioError> {
    let checked = match checks {
        Checks::Full => Cow::Owned(as_created(object)),
        Checks::Decode => Cow::Borrowed(object),
    };
    typed::check(&checked, None, checks).map_err(|e| {
        let meta = metadata(object);
        let field = |f: &str| {
            meta.and_then(|m| m.get(f))
                .and_then(Value::as_str)
                .unwrap_or("")
        };
        let name = match field("name") {
            "" => format!("{}*", field("generateName")),
            name => name.to_string(),
        };
        let subject = match field("namespace") {
            "" => format!("{} {name}", text(object, "kind").unwrap_or("")),
            ns => format!("{} {ns}/{name}", text(object, "kind").unwrap_or("")),
        };
        ScenarioError::new(path, e.to_string()).about(subject)
    })
}

/// Maps a server error on an object to the field it names, when it does.
pub(crate) fn server_error(path: &str, e: &ApiError) -> ScenarioError {
    let field = e
        .message
        .split_once(':')
        .map(|(f, _)| f)
        .filter(|f| f.starts_with("metadata.") && !f.contains(' '));
    let at = match field {
        Some(f) => format!("{path}.{f}"),
        None => path.to_string(),
    };
    ScenarioError::new(at, format!("rejected by the API server: {}", e.message))
}

/// Checks, places and seeds `objects`.
pub(crate) fn seed(objects: &[Value]) -> Result<Seeded, ScenarioError> {
    let manifests = flatten(objects)?;
    for m in &manifests {
        check_identity(&m.object, &m.path, false)?;
    }
    let mut kinds = KindRegistry::builtin();
    for m in manifests
        .iter()
        .filter(|m| group_kind(&m.object) == crd_kind())
    {
        let info = kinds
            .register_crd(&m.object)
            .map_err(|e| ScenarioError::new(format!("{}.{}", m.path, e.field), e.reason))?;
        let expected = format!("{}.{}", info.plural, info.group_kind.group);
        let name = metadata(&m.object)
            .and_then(|meta| meta.get("name"))
            .and_then(Value::as_str)
            .unwrap_or("");
        if name != expected {
            return Err(ScenarioError::new(
                format!("{}.metadata.name", m.path),
                format!(
                    "a CustomResourceDefinition must be named <plural>.<group>, here {expected:?}, not {name:?}"
                ),
            ));
        }
    }

    let mut known = Known::new();
    let mut placed: Vec<(Manifest, ObjectKey)> = Vec::new();
    let mut paths: BTreeMap<ObjectKey, String> = BTreeMap::new();
    for mut m in manifests {
        let api_version = text(&m.object, "apiVersion").unwrap_or("").to_string();
        let kind = text(&m.object, "kind").unwrap_or("").to_string();
        let Some(info) = kinds.lookup(&api_version, &kind).cloned() else {
            return Err(
                super::kinds::resolve(&kinds, Some(&api_version), &kind, &m.path)
                    .err()
                    .unwrap_or_else(|| {
                        ScenarioError::new(format!("{}.kind", m.path), "unknown kind")
                    }),
            );
        };
        let namespace = place(&mut m.object, &info, &m.path)?;
        let meta = metadata(&m.object).expect("checked");
        let name = meta
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        check_name(&kind, &name, &format!("{}.metadata.name", m.path))?;
        let key = ObjectKey::new(info.group_kind.clone(), namespace.as_deref(), name.clone());
        if let Some(first) = paths.get(&key) {
            return Err(ScenarioError::new(
                m.path,
                format!("duplicate object: {first} is also {key}"),
            ));
        }
        paths.insert(key.clone(), m.path.clone());
        let manifest_uid = meta.get("uid").and_then(Value::as_str).map(str::to_string);
        known.objects.insert(key.clone(), manifest_uid);
        if info.group_kind == namespace_kind() {
            known.namespaces.insert(name);
        }
        placed.push((m, key));
    }

    for (m, key) in &mut placed {
        if let Some(ns) = &key.namespace
            && !known.namespaces.contains(ns)
        {
            return Err(missing_namespace(&m.path, ns));
        }
        patch_owner_refs(
            &mut m.object,
            &m.path,
            key.namespace.as_deref(),
            &kinds,
            &known,
        )?;
        let meta = metadata_mut(&mut m.object);
        meta.remove("uid");
        meta.remove("resourceVersion");
        check_typed(&m.object, &m.path, Checks::Full)?;
    }

    let mut server = ApiServer::new();
    let rank = |key: &ObjectKey| {
        if key.kind == crd_kind() {
            0
        } else if key.kind == namespace_kind() {
            1
        } else {
            2
        }
    };
    placed.sort_by_key(|(_, key)| rank(key));
    for (m, key) in placed {
        let initial =
            key.kind == namespace_kind() && INITIAL_NAMESPACES.contains(&key.name.as_str());
        let result = if initial {
            let request = WriteRequest::Apply {
                object: m.object,
                subresource: Subresource::Main,
                force: true,
            };
            server.write(&request, "kubectl")
        } else {
            server.seed(m.object, SEED_MANAGER)
        };
        result.map_err(|e| server_error(&m.path, &e))?;
    }
    Ok(Seeded { server, known })
}

/// The error for an object in a namespace that does not exist.
pub(crate) fn missing_namespace(path: &str, ns: &str) -> ScenarioError {
    ScenarioError::new(
        format!("{path}.metadata.namespace"),
        format!(
            "namespace {ns:?} does not exist: it is not one of the initial namespaces ({}) and no Namespace in `objects` (or in an earlier create or apply action) creates it",
            INITIAL_NAMESPACES.join(", ")
        ),
    )
}
