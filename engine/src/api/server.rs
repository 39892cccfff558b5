//! The in-memory API server: a store of JSON objects with Kubernetes'
//! write semantics (resourceVersion, conflicts, generation, status
//! subresource, finalizers, namespaces, server-side apply, no-op writes)
//! and a write history that forked states share.

use std::borrow::Cow;
use std::sync::Arc;

use imbl::{OrdMap, Vector};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::apply::{self, ApplyError};
use super::deletion;
use super::error::ApiError;
use super::history::{Event, EventType, KindLog, KindObjects, Stored};
use super::key::{GroupKind, ObjectKey};
use super::kinds::{KindInfo, KindRegistry};
use super::meta;
use super::patch::PatchBody;
use super::query::ListQuery;
use super::strategy;
use super::typed::{self, Checks};
use super::validation;
use crate::hash::{Digest, StateDigest, entry_hash};

/// The namespaces that exist from the start, as in a new cluster.
pub const INITIAL_NAMESPACES: [&str; 4] =
    ["default", "kube-node-lease", "kube-public", "kube-system"];

/// Seconds since the Unix epoch of logical time zero (2024-01-01T00:00:00Z).
const EPOCH_SECONDS: i64 = 1_704_067_200;

/// Which part of an object a write addresses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Subresource {
    /// The main resource: for kinds with a status subresource, `status` is
    /// ignored.
    #[default]
    Main,
    /// `/status`: everything but `status` is ignored.
    Status,
    /// A Namespace's `/finalize`: the only write that changes its
    /// `spec.finalizers`; `status` is ignored.
    Finalize,
}

/// How a delete treats the object's dependents.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Propagation {
    /// Delete the object now; the garbage collector deletes dependents later.
    Background,
    /// Keep the object (finalizer `foregroundDeletion`) until the garbage
    /// collector has deleted the dependents that block it.
    Foreground,
    /// Keep the object (finalizer `orphan`) until the garbage collector has
    /// removed it from its dependents' ownerReferences.
    Orphan,
}

impl Propagation {
    /// The finalizer the garbage collector honours for this policy.
    pub fn finalizer(self) -> Option<&'static str> {
        match self {
            Propagation::Background => None,
            Propagation::Foreground => Some(FOREGROUND_FINALIZER),
            Propagation::Orphan => Some(ORPHAN_FINALIZER),
        }
    }
}

/// Finalizer of foreground deletion.
pub const FOREGROUND_FINALIZER: &str = "foregroundDeletion";
/// Finalizer of orphaning deletion.
pub const ORPHAN_FINALIZER: &str = "orphan";

/// Options of a delete.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteOptions {
    /// Propagation policy; `None` is the kind's default (Orphan for a
    /// `batch/v1` Job, Background otherwise), unless an earlier delete's
    /// `orphan` or `foregroundDeletion` finalizer is there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub propagation: Option<Propagation>,
    /// Seconds a Pod may take to terminate; `None` is the Pod's
    /// `terminationGracePeriodSeconds` (30 if unset), `Some(0)` deletes at
    /// once. Only Pods a node runs are deleted gracefully.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace_period_seconds: Option<i64>,
    /// Only delete if the object still has this uid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    /// Only delete if the object still has this resourceVersion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_version: Option<String>,
}

/// One write request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "verb", rename_all = "lowercase")]
pub enum WriteRequest {
    /// POST: create a new object (`metadata.generateName` allowed).
    Create {
        /// The object.
        object: Value,
    },
    /// PUT: replace an object; a non-empty `metadata.resourceVersion` must
    /// match the stored one.
    Update {
        /// The object.
        object: Value,
        /// Main resource or `/status`.
        #[serde(default)]
        subresource: Subresource,
    },
    /// PATCH with a merge, JSON or strategic patch.
    Patch {
        /// Which object.
        key: ObjectKey,
        /// The patch.
        patch: PatchBody,
        /// Main resource or `/status`.
        #[serde(default)]
        subresource: Subresource,
    },
    /// PATCH with server-side apply; creates the object if missing.
    Apply {
        /// The applied configuration.
        object: Value,
        /// Main resource or `/status`.
        #[serde(default)]
        subresource: Subresource,
        /// Take ownership of conflicting fields.
        #[serde(default)]
        force: bool,
    },
    /// DELETE.
    Delete {
        /// Which object.
        key: ObjectKey,
        /// Propagation and preconditions.
        #[serde(default)]
        options: DeleteOptions,
    },
}

impl WriteRequest {
    /// The verb: `create`, `update`, `patch`, `apply` or `delete`.
    pub fn verb(&self) -> &'static str {
        match self {
            WriteRequest::Create { .. } => "create",
            WriteRequest::Update { .. } => "update",
            WriteRequest::Patch { .. } => "patch",
            WriteRequest::Apply { .. } => "apply",
            WriteRequest::Delete { .. } => "delete",
        }
    }

    /// The object the request is about. A create by `generateName` names
    /// `<prefix>*`, which stands for the names the prefix generates (no
    /// real name contains `*`).
    pub fn target(&self) -> ObjectKey {
        match self {
            WriteRequest::Patch { key, .. } | WriteRequest::Delete { key, .. } => key.clone(),
            // A Binding writes the Pod of its name.
            WriteRequest::Create { object } if is_binding(object) => ObjectKey::new(
                GroupKind::new("", "Pod"),
                meta::namespace(object),
                meta::name(object).unwrap_or(""),
            ),
            WriteRequest::Create { object, .. }
            | WriteRequest::Update { object, .. }
            | WriteRequest::Apply { object, .. } => {
                let kind = GroupKind::from_api_version(
                    object["apiVersion"].as_str().unwrap_or(""),
                    object["kind"].as_str().unwrap_or(""),
                );
                let name = match (meta::name(object), meta::meta_str(object, "generateName")) {
                    (Some(name), _) if !name.is_empty() => name.to_string(),
                    (_, Some(prefix)) => format!("{prefix}*"),
                    _ => String::new(),
                };
                ObjectKey::new(kind, meta::namespace(object), name)
            }
        }
    }

    /// The verb and the object, for people: `patch Deployment.apps
    /// default/web`.
    pub fn describe(&self) -> String {
        format!("{} {}", self.verb(), self.target())
    }
}

/// What a successful write did.
#[derive(Clone, Debug)]
pub struct WriteResult {
    /// The object written.
    pub key: ObjectKey,
    /// The object after the write; for a delete that removed it, its last
    /// state; for a no-op, the unchanged stored object.
    pub object: Arc<Stored>,
    /// The write changed nothing: no new resourceVersion, no event.
    pub noop: bool,
    /// The event the write produced (None for a no-op).
    pub event: Option<Arc<Event>>,
}

/// The generateName counters' key: kind, namespace and prefix.
type GeneratedKey = (GroupKind, Option<String>, String);

/// A generateName counter and its next value.
type GeneratedCounter = (GeneratedKey, u32);

/// The in-memory API server. Cloning is cheap: every table is a persistent
/// structure shared with the clone until one of them writes.
#[derive(Clone, Debug)]
pub struct ApiServer {
    kinds: Arc<KindRegistry>,
    tables: OrdMap<GroupKind, KindLog>,
    history: Vector<Arc<Event>>,
    /// Whether the tables before each event and the events themselves are
    /// kept (stale views read them); otherwise only `events` counts them.
    keep_history: bool,
    events: u64,
    rv: u64,
    clock: u64,
    incarnations: OrdMap<ObjectKey, u32>,
    generated: OrdMap<GeneratedKey, u32>,
    digest: StateDigest,
    rv_digest: StateDigest,
}

impl Default for ApiServer {
    fn default() -> Self {
        Self::new()
    }
}

impl ApiServer {
    /// A new cluster: built-in kinds and the initial namespaces.
    pub fn new() -> Self {
        Self::with_kinds(KindRegistry::builtin())
    }

    /// A new cluster with the given kinds and the initial namespaces.
    pub fn with_kinds(kinds: KindRegistry) -> Self {
        let mut server = ApiServer {
            kinds: Arc::new(kinds),
            tables: OrdMap::new(),
            history: Vector::new(),
            keep_history: true,
            events: 0,
            rv: 0,
            clock: 0,
            incarnations: OrdMap::new(),
            generated: OrdMap::new(),
            digest: StateDigest::default(),
            rv_digest: StateDigest::default(),
        };
        for ns in INITIAL_NAMESPACES {
            let object = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
            server
                .write(&WriteRequest::Create { object }, "kube-apiserver")
                .expect("initial namespaces are valid");
        }
        server
    }

    // ----- reads -------------------------------------------------------

    /// The kinds this server knows.
    pub fn kinds(&self) -> &KindRegistry {
        &self.kinds
    }

    /// The last resourceVersion issued.
    pub fn resource_version(&self) -> u64 {
        self.rv
    }

    /// The logical clock (seconds since logical time zero).
    pub fn clock(&self) -> u64 {
        self.clock
    }

    /// Advances the logical clock by one second.
    pub fn tick(&mut self) {
        self.clock += 1;
    }

    /// The current logical time as an RFC 3339 timestamp.
    pub fn now(&self) -> String {
        self.at(0)
    }

    /// The logical time `seconds` from now, as an RFC 3339 timestamp.
    fn at(&self, seconds: i64) -> String {
        let seconds = EPOCH_SECONDS + self.clock as i64 + seconds;
        jiff::Timestamp::from_second(seconds)
            .expect("logical time is in range")
            .to_string()
    }

    /// Every event so far, oldest first, while the history is kept (see
    /// [`ApiServer::forget_history`]).
    pub fn history(&self) -> &Vector<Arc<Event>> {
        &self.history
    }

    /// The number of events so far.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// Stops keeping the write history: from now on only the current
    /// objects are kept, and [`ApiServer::history`] and
    /// [`ApiServer::objects_at`] see nothing older. Only stale views read the
    /// past; without them, keeping it costs every step time and memory.
    pub fn forget_history(&mut self) {
        self.keep_history = false;
        self.history = Vector::new();
        let kinds: Vec<GroupKind> = self.tables.keys().cloned().collect();
        for kind in kinds {
            if let Some(log) = self.tables.get_mut(&kind) {
                log.forget();
            }
        }
    }

    /// The number of events of a kind so far (its sequence number).
    pub fn kind_seq(&self, kind: &GroupKind) -> u64 {
        self.tables.get(kind).map_or(0, KindLog::seq)
    }

    /// The objects of a kind as of its `seq`-th event (clamped to now, and to
    /// the history kept).
    pub fn objects_at(&self, kind: &GroupKind, seq: u64) -> KindObjects {
        self.tables
            .get(kind)
            .map(|log| log.at(seq).clone())
            .unwrap_or_default()
    }

    /// The objects of a kind now.
    pub fn objects(&self, kind: &GroupKind) -> KindObjects {
        self.tables
            .get(kind)
            .map(|log| log.current().clone())
            .unwrap_or_default()
    }

    /// Every object, in key order.
    pub fn all_objects(&self) -> impl Iterator<Item = (ObjectKey, &Arc<Stored>)> {
        self.tables.iter().flat_map(|(kind, log)| {
            log.current().iter().map(move |((ns, name), stored)| {
                (
                    ObjectKey::new(kind.clone(), ns.as_deref(), name.clone()),
                    stored,
                )
            })
        })
    }

    /// The number of stored objects.
    pub fn len(&self) -> usize {
        self.digest.count() as usize
    }

    /// True when no object is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// GET one object.
    pub fn get(&self, key: &ObjectKey) -> Result<&Arc<Stored>, ApiError> {
        let info = self.kind_info(&key.kind)?;
        self.tables
            .get(&key.kind)
            .and_then(|log| {
                log.current()
                    .get(&(key.namespace.clone(), key.name.clone()))
            })
            .ok_or_else(|| not_found(info, &key.name))
    }

    /// LIST objects of a kind, in one namespace or all, matching selectors.
    pub fn list(&self, query: &ListQuery) -> Result<Vec<Arc<Stored>>, ApiError> {
        self.kind_info(&query.kind)?;
        Ok(query.answer(&self.objects(&query.kind)))
    }

    /// The content hash of the stored objects, every field counted (see
    /// [`crate::hash`]): what the search key is built from. The
    /// converged-state hash is [`crate::api::ConvergedMask::state_hash`].
    pub fn content_hash(&self) -> Digest {
        self.digest.finish()
    }

    /// A digest of every object's resourceVersion, for search keys that
    /// must tell apart states whose objects differ only in versions.
    pub fn rv_digest(&self) -> Digest {
        self.rv_digest.finish()
    }

    /// A digest of the server's hidden counters (uid incarnations and
    /// generateName counters): they decide future uids and names.
    pub fn counters_digest(&self) -> Digest {
        let mut hasher = blake3::Hasher::new();
        hasher.update(b"kcheck/counters/v1\0");
        for (key, n) in &self.incarnations {
            hasher.update(key.to_string().as_bytes());
            hasher.update(&n.to_le_bytes());
        }
        for ((kind, ns, prefix), n) in &self.generated {
            for part in [
                kind.to_string().as_str(),
                ns.as_deref().unwrap_or(""),
                prefix,
            ] {
                hasher.update(part.as_bytes());
                hasher.update(&[0]);
            }
            hasher.update(&n.to_le_bytes());
        }
        Digest(*hasher.finalize().as_bytes())
    }

    /// What the server knows about a kind (404 for unknown kinds).
    pub fn kind_info(&self, kind: &GroupKind) -> Result<&KindInfo, ApiError> {
        self.kinds.get(kind).ok_or_else(|| {
            ApiError::not_found(format!(
                "the server could not find the requested resource (kind {kind})"
            ))
        })
    }

    /// The key of an object given as JSON (kind from apiVersion/kind,
    /// namespace required for namespaced kinds, ignored for cluster ones).
    pub fn key_of(&self, object: &Value) -> Result<ObjectKey, ApiError> {
        let info = self.info_of(object)?;
        let name = meta::name(object)
            .ok_or_else(|| ApiError::invalid("metadata.name: Required value: name is required"))?;
        Ok(ObjectKey::new(
            info.group_kind.clone(),
            self.scoped_namespace(info, object)?,
            name,
        ))
    }

    fn info_of(&self, object: &Value) -> Result<&KindInfo, ApiError> {
        let api_version = object.get("apiVersion").and_then(Value::as_str);
        let kind = object.get("kind").and_then(Value::as_str);
        let (Some(api_version), Some(kind)) = (api_version, kind) else {
            return Err(ApiError::bad_request(
                "the object must have apiVersion and kind",
            ));
        };
        self.kinds.lookup(api_version, kind).ok_or_else(|| {
            ApiError::not_found(format!(
                "no matches for kind {kind:?} in version {api_version:?}"
            ))
        })
    }

    fn scoped_namespace<'a>(
        &self,
        info: &KindInfo,
        object: &'a Value,
    ) -> Result<Option<&'a str>, ApiError> {
        match (info.namespaced, meta::namespace(object)) {
            (true, Some(ns)) => Ok(Some(ns)),
            (true, None) => Err(ApiError::invalid(
                "metadata.namespace: Required value: namespace is required for namespaced kinds",
            )),
            (false, _) => Ok(None),
        }
    }

    // ----- writes ------------------------------------------------------

    /// Carries out one write on behalf of field manager `manager`.
    pub fn write(
        &mut self,
        request: &WriteRequest,
        manager: &str,
    ) -> Result<WriteResult, ApiError> {
        match request {
            WriteRequest::Create { object } => self.create(object.clone(), manager, false),
            WriteRequest::Update {
                object,
                subresource,
            } => self.update(object, *subresource, manager),
            WriteRequest::Patch {
                key,
                patch,
                subresource,
            } => self.patch(key, patch, *subresource, manager),
            WriteRequest::Apply {
                object,
                subresource,
                force,
            } => self.apply(object, *subresource, manager, *force),
            WriteRequest::Delete { key, options } => self.delete(key, options),
        }
    }

    /// Stores an object of a scenario's initial state: like a create by
    /// `manager`, but keeping the `status` it was given.
    pub fn seed(&mut self, object: Value, manager: &str) -> Result<WriteResult, ApiError> {
        self.create(object, manager, true)
    }

    fn create(
        &mut self,
        mut object: Value,
        manager: &str,
        keep_status: bool,
    ) -> Result<WriteResult, ApiError> {
        if !object.is_object() {
            return Err(ApiError::bad_request("the object must be a JSON map"));
        }
        if is_binding(&object) {
            return self.bind(&object);
        }
        let info = self.info_of(&object)?.clone();
        // A scenario's initial objects may come from `kubectl get`; a
        // client's create may not carry a resourceVersion.
        if !keep_status && meta::resource_version(&object).is_some_and(|rv| !rv.is_empty()) {
            return Err(ApiError::bad_request(
                "resourceVersion should not be set on objects to be created",
            ));
        }
        if !info.namespaced {
            meta::metadata_mut(&mut object).remove("namespace");
        }
        // Ownership is the server's own record, kept beside the object.
        meta::metadata_mut(&mut object).remove("managedFields");
        let namespace = self.scoped_namespace(&info, &object)?.map(str::to_string);
        let mut counter = None;
        if meta::name(&object).is_none() {
            let (name, next) = self.generate_name(&info, namespace.as_deref(), &object)?;
            meta::metadata_mut(&mut object).insert("name".into(), Value::String(name));
            counter = Some(next);
        }
        let key = self.key_of(&object)?;
        self.admit_namespace(&info, namespace.as_deref())?;
        if self.get(&key).is_ok() {
            return Err(ApiError::already_exists(format!(
                "{} {:?} already exists",
                resource_name(&info),
                key.name
            )));
        }
        self.prepare_for_create(&info, &key, &mut object, keep_status);
        let managed = apply::record_update(None, &object, manager, None, &info.list_rules);
        validation::object(&object)?;
        typed::check(&object, None, Checks::Full)?;
        if info.group_kind == crd_kind() {
            Arc::make_mut(&mut self.kinds)
                .register_crd(&object)
                .map_err(|e| ApiError::invalid(e.to_string()))?;
        }
        // Only a create that succeeds uses up a generated name.
        if let Some((counter_key, next)) = counter {
            self.generated.insert(counter_key, next);
        }
        Ok(self.commit(key, object, managed, EventType::Added))
    }

    /// A `v1` Binding: assigns the Pod it names to a node, as the scheduler
    /// does (the pod REST's `BindingREST.Create` and `setPodNodeAndMetadata`):
    /// sets `spec.nodeName` and the `PodScheduled` condition. Conflict if the
    /// Pod already has a node or is being deleted. A Binding is not stored.
    fn bind(&mut self, binding: &Value) -> Result<WriteResult, ApiError> {
        let key = binding_pod(binding)?;
        let node = binding
            .pointer("/target/name")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .ok_or_else(|| ApiError::invalid("target.name: Required value"))?;
        let stored = self.get(&key)?.clone();
        let conflict = |why: String| {
            ApiError::conflict(format!(
                "Operation cannot be fulfilled on pods/binding {:?}: {why}",
                key.name
            ))
        };
        if meta::is_deleting(&stored.object) {
            return Err(conflict(format!(
                "pod {} is being deleted, cannot be assigned to a host",
                key.name
            )));
        }
        if let Some(bound) = stored
            .object
            .pointer("/spec/nodeName")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
        {
            return Err(conflict(format!(
                "pod {} is already assigned to node {bound:?}",
                key.name
            )));
        }
        let mut pod = stored.object.clone();
        pod["spec"]["nodeName"] = Value::String(node.to_string());
        let status = pod
            .as_object_mut()
            .expect("stored objects are maps")
            .entry("status")
            .or_insert_with(|| json!({}));
        set_pod_scheduled(status, &self.now());
        Ok(self.commit(key, pod, stored.managed.clone(), EventType::Modified))
    }

    /// Creates from a server-side apply of a missing object.
    fn create_by_apply(
        &mut self,
        info: &KindInfo,
        key: ObjectKey,
        config: &Value,
        manager: &str,
        force: bool,
    ) -> Result<WriteResult, ApiError> {
        self.admit_namespace(info, key.namespace.as_deref())?;
        let (mut object, managed) =
            apply::apply(None, config, manager, None, force, &info.list_rules)
                .map_err(apply_error)?;
        self.prepare_for_create(info, &key, &mut object, false);
        validation::object(&object)?;
        typed::check(&object, None, Checks::Full)?;
        if info.group_kind == crd_kind() {
            Arc::make_mut(&mut self.kinds)
                .register_crd(&object)
                .map_err(|e| ApiError::invalid(e.to_string()))?;
        }
        Ok(self.commit(key, object, managed, EventType::Added))
    }

    fn update(
        &mut self,
        object: &Value,
        sub: Subresource,
        manager: &str,
    ) -> Result<WriteResult, ApiError> {
        let info = self.info_of(object)?.clone();
        let object = &*without_cluster_namespace(&info, object);
        let key = self.key_of(object)?;
        let stored = self.get(&key)?.clone();
        check_subresource(&info, sub)?;
        check_preconditions(&info, &stored, object)?;
        check_update_metadata(&info, &stored, object)?;
        let candidate = merge_for_update(&info, &stored.object, object, sub);
        let managed = apply::record_update(
            Some((&stored.object, &stored.managed)),
            &candidate,
            manager,
            sub_name(sub),
            &info.list_rules,
        );
        self.finish_update(&info, key, &stored, candidate, sub, managed)
    }

    fn patch(
        &mut self,
        key: &ObjectKey,
        patch: &PatchBody,
        sub: Subresource,
        manager: &str,
    ) -> Result<WriteResult, ApiError> {
        let info = self.kind_info(&key.kind)?.clone();
        if info.custom && matches!(patch, PatchBody::Strategic(_)) {
            return Err(ApiError::unsupported_media_type(
                "the body of the request was in an unknown format - accepted media types include: \
                 application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
            ));
        }
        let stored = self.get(key)?.clone();
        check_subresource(&info, sub)?;
        let patched = patch.apply_to(&stored.object, &info.list_rules)?;
        if self.key_of(&patched).ok().as_ref() != Some(key) {
            return Err(ApiError::bad_request(
                "a patch must not change apiVersion, kind, name or namespace",
            ));
        }
        self.update(&patched, sub, manager)
    }

    fn apply(
        &mut self,
        config: &Value,
        sub: Subresource,
        manager: &str,
        force: bool,
    ) -> Result<WriteResult, ApiError> {
        if meta::metadata(config).is_some_and(|m| m.contains_key("generateName"))
            && meta::name(config).is_none()
        {
            return Err(ApiError::invalid(
                "metadata.generateName: apply does not support generateName",
            ));
        }
        let info = self.info_of(config)?.clone();
        let config = &*without_cluster_namespace(&info, config);
        let key = self.key_of(config)?;
        check_subresource(&info, sub)?;
        let config = config_for_subresource(&info, config, sub);
        let Ok(stored) = self.get(&key).cloned() else {
            if sub == Subresource::Status {
                return Err(not_found(&info, &key.name));
            }
            return self.create_by_apply(&info, key, &config, manager, force);
        };
        check_preconditions(&info, &stored, &config)?;
        let (mut candidate, managed) = apply::apply(
            Some((&stored.object, &stored.managed)),
            &config,
            manager,
            sub_name(sub),
            force,
            &info.list_rules,
        )
        .map_err(apply_error)?;
        keep_server_metadata(&stored.object, &mut candidate);
        self.finish_update(&info, key, &stored, candidate, sub, managed)
    }

    fn delete(
        &mut self,
        key: &ObjectKey,
        options: &DeleteOptions,
    ) -> Result<WriteResult, ApiError> {
        let info = self.kind_info(&key.kind)?.clone();
        let stored = self.get(key)?.clone();
        let current_uid = meta::uid(&stored.object).unwrap_or("");
        if let Some(uid) = options.uid.as_deref().filter(|uid| *uid != current_uid) {
            return Err(precondition_failed(&info, key, "UID", uid, current_uid));
        }
        let current_rv = stored.rv.to_string();
        if let Some(rv) = options
            .resource_version
            .as_deref()
            .filter(|rv| *rv != current_rv)
        {
            return Err(precondition_failed(
                &info,
                key,
                "ResourceVersion",
                rv,
                &current_rv,
            ));
        }
        let deleting = meta::is_deleting(&stored.object);
        let pending = deletion::pending_grace(&stored.object);
        let mut object = stored.object.clone();
        let grace = match pending {
            // A graceful deletion under way may only be shortened, and
            // meanwhile finalizers are left alone (`rest.BeforeDelete`).
            Some(pending) => match options.grace_period_seconds {
                Some(shorter) if shorter < pending => {
                    let at = self.deletion_timestamp(&stored.object, shorter - pending);
                    set_deletion(&mut object, at, shorter);
                    shorter
                }
                _ => return Ok(noop(key.clone(), stored)),
            },
            None if deleting => 0,
            None => deletion::grace_period(&info.group_kind, &object, options),
        };
        let before = meta::finalizers(&object);
        let finalizers = deletion::gc_finalizers(&info.group_kind, &before, options);
        if pending.is_none() {
            meta::set_finalizers(&mut object, &finalizers);
        }
        let is_namespace = info.group_kind == namespace_kind();
        if grace == 0 && meta::finalizers(&object).is_empty() && !is_namespace {
            // The last state a watcher sees is the one the delete made.
            let last = Arc::new(Stored::new(object, stored.managed.clone(), stored.rv));
            return Ok(self.remove(key.clone(), last));
        }
        if deleting && object == stored.object {
            return Ok(noop(key.clone(), stored));
        }
        if !deleting {
            set_deletion(&mut object, self.at(grace), grace);
            bump_generation(&mut object);
        }
        if is_namespace {
            object["status"] = json!({"phase": "Terminating"});
        }
        Ok(self.commit(
            key.clone(),
            object,
            stored.managed.clone(),
            EventType::Modified,
        ))
    }

    /// The stored deletion timestamp moved by `seconds`.
    fn deletion_timestamp(&self, object: &Value, seconds: i64) -> String {
        meta::meta_str(object, "deletionTimestamp")
            .and_then(|t| t.parse::<jiff::Timestamp>().ok())
            .and_then(|t| t.checked_add(jiff::SignedDuration::from_secs(seconds)).ok())
            .map_or_else(|| self.now(), |t| t.to_string())
    }

    /// Validates and stores an updated object and its managers, or
    /// recognises a no-op, or removes an object whose last finalizer is gone.
    fn finish_update(
        &mut self,
        info: &KindInfo,
        key: ObjectKey,
        stored: &Arc<Stored>,
        mut candidate: Value,
        sub: Subresource,
        managed: apply::ManagedFields,
    ) -> Result<WriteResult, ApiError> {
        strategy::prepare_for_update(&info.group_kind, sub, &stored.object, &mut candidate);
        validation::object(&candidate)?;
        if meta::is_deleting(&stored.object) {
            let before = meta::finalizers(&stored.object);
            if meta::finalizers(&candidate)
                .iter()
                .any(|f| !before.contains(f))
            {
                return Err(ApiError::invalid(
                    "metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted",
                ));
            }
        }
        // The strategy's own rule is the main resource's `PrepareForUpdate`
        // (a `/status` write never bumps the generation).
        let strategy_bumps = sub == Subresource::Main
            && strategy::bumps_generation(&info.group_kind, &stored.object, &candidate);
        if spec_changed(info, &stored.object, &candidate) || strategy_bumps {
            bump_generation(&mut candidate);
        }
        meta::metadata_mut(&mut candidate).insert(
            "resourceVersion".into(),
            Value::String(stored.rv.to_string()),
        );
        if candidate == stored.object && managed == stored.managed {
            return Ok(noop(key, stored.clone()));
        }
        // After the no-op test: an unchanged object was checked when stored.
        typed::check(&candidate, Some(&stored.object), Checks::Full)?;
        if meta::is_deleting(&candidate) && deletion_complete(info, &candidate) {
            let last = Arc::new(Stored::new(candidate, managed, stored.rv));
            return Ok(self.remove(key, last));
        }
        if info.group_kind == crd_kind() {
            Arc::make_mut(&mut self.kinds)
                .register_crd(&candidate)
                .map_err(|e| ApiError::invalid(e.to_string()))?;
        }
        Ok(self.commit(key, candidate, managed, EventType::Modified))
    }

    fn remove(&mut self, key: ObjectKey, last: Arc<Stored>) -> WriteResult {
        *self.incarnations.entry(key.clone()).or_insert(0) += 1;
        self.commit(
            key,
            last.object.clone(),
            last.managed.clone(),
            EventType::Deleted,
        )
    }

    /// Stamps a new resourceVersion, updates the table, the digests and the
    /// history.
    fn commit(
        &mut self,
        key: ObjectKey,
        mut object: Value,
        managed: apply::ManagedFields,
        event_type: EventType,
    ) -> WriteResult {
        self.rv += 1;
        let rv = self.rv;
        meta::metadata_mut(&mut object)
            .insert("resourceVersion".into(), Value::String(rv.to_string()));
        let stored = Arc::new(Stored::new(object, managed, rv));
        let log = self.tables.entry(key.kind.clone()).or_default();
        let mut objects = log.current().clone();
        let slot = (key.namespace.clone(), key.name.clone());
        let previous = if event_type == EventType::Deleted {
            objects.remove(&slot)
        } else {
            objects.insert(slot, stored.clone())
        };
        log.push(objects, self.keep_history);
        let kind_seq = log.seq();
        if let Some(old) = &previous {
            self.digest.remove(&entry_hash(key.parts(), &old.hash));
            self.rv_digest.remove(&rv_entry(&key, old.rv));
        }
        if event_type != EventType::Deleted {
            self.digest.add(&entry_hash(key.parts(), &stored.hash));
            self.rv_digest.add(&rv_entry(&key, rv));
        }
        self.events += 1;
        let event = Arc::new(Event {
            seq: self.events,
            kind_seq,
            rv,
            key: key.clone(),
            event_type,
            object: stored.clone(),
            previous,
        });
        if self.keep_history {
            self.history.push_back(event.clone());
        }
        WriteResult {
            key,
            object: stored,
            noop: false,
            event: Some(event),
        }
    }

    // ----- helpers -----------------------------------------------------

    fn admit_namespace(&self, info: &KindInfo, namespace: Option<&str>) -> Result<(), ApiError> {
        let Some(ns) = namespace else { return Ok(()) };
        let key = ObjectKey::new(namespace_kind(), None, ns);
        let Ok(stored) = self.get(&key) else {
            return Err(ApiError::not_found(format!("namespaces {ns:?} not found")));
        };
        if meta::is_deleting(&stored.object) {
            return Err(ApiError::forbidden(format!(
                "{} is forbidden: unable to create new content in namespace {ns} because it is being terminated",
                resource_name(info)
            )));
        }
        Ok(())
    }

    /// A free name for `metadata.generateName`, and the counter value to
    /// store once the create succeeds.
    fn generate_name(
        &self,
        info: &KindInfo,
        namespace: Option<&str>,
        object: &Value,
    ) -> Result<(String, GeneratedCounter), ApiError> {
        let prefix = meta::meta_str(object, "generateName").ok_or_else(|| {
            ApiError::invalid("metadata.name: Required value: name or generateName is required")
        })?;
        let counter_key = (
            info.group_kind.clone(),
            namespace.map(str::to_string),
            prefix.to_string(),
        );
        let mut n = self.generated.get(&counter_key).copied().unwrap_or(0);
        loop {
            let name = format!("{prefix}{}", name_suffix(&counter_key, n));
            n += 1;
            let key = ObjectKey::new(info.group_kind.clone(), namespace, name.clone());
            if self.get(&key).is_err() {
                return Ok((name, (counter_key, n)));
            }
        }
    }

    fn prepare_for_create(
        &self,
        info: &KindInfo,
        key: &ObjectKey,
        object: &mut Value,
        keep_status: bool,
    ) {
        let incarnation = self.incarnations.get(key).copied().unwrap_or(0);
        let now = self.now();
        let meta = meta::metadata_mut(object);
        for field in [
            "resourceVersion",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
        ] {
            meta.remove(field);
        }
        meta.insert("uid".into(), Value::String(uid_for(key, incarnation)));
        meta.insert("creationTimestamp".into(), Value::String(now));
        meta.insert("generation".into(), json!(1));
        strategy::prepare_for_create(&info.group_kind, object);
        if info.group_kind == namespace_kind() {
            // Like the namespace strategy: the `kubernetes` finalizer
            // always, so that the namespace controller empties it first.
            let spec = object
                .as_object_mut()
                .expect("checked map")
                .entry("spec")
                .or_insert_with(|| json!({}));
            let finalizers = spec
                .as_object_mut()
                .map(|spec| spec.entry("finalizers").or_insert_with(|| json!([])));
            if let Some(Value::Array(list)) = finalizers
                && !list.iter().any(|f| f == "kubernetes")
            {
                list.push(json!("kubernetes"));
            }
        }
        if keep_status || !info.status_subresource {
            return;
        }
        let status = match info.group_kind.kind.as_str() {
            "Pod" if info.group_kind.group.is_empty() => Some(json!({"phase": "Pending"})),
            "Namespace" if info.group_kind.group.is_empty() => Some(json!({"phase": "Active"})),
            _ => None,
        };
        let map = object.as_object_mut().expect("checked map");
        match status {
            Some(s) => {
                map.insert("status".into(), s);
            }
            None => {
                map.remove("status");
            }
        }
    }
}

/// Whether a created object is a `v1` Binding (not stored: it binds a Pod).
pub fn is_binding(object: &Value) -> bool {
    object.get("apiVersion") == Some(&json!("v1")) && object.get("kind") == Some(&json!("Binding"))
}

/// The Pod a Binding binds: same name and namespace.
fn binding_pod(binding: &Value) -> Result<ObjectKey, ApiError> {
    let name = meta::name(binding)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ApiError::invalid("metadata.name: Required value"))?;
    Ok(ObjectKey::new(
        GroupKind::new("", "Pod"),
        Some(meta::namespace(binding).unwrap_or("default")),
        name,
    ))
}

/// Sets the `PodScheduled` condition `True` (`podutil.UpdatePodCondition`:
/// the transition time changes only with the status).
fn set_pod_scheduled(status: &mut Value, now: &str) {
    let Some(status) = status.as_object_mut() else {
        return;
    };
    let conditions = status.entry("conditions").or_insert_with(|| json!([]));
    let Some(list) = conditions.as_array_mut() else {
        return;
    };
    let scheduled = json!({"type": "PodScheduled", "status": "True", "lastTransitionTime": now});
    match list.iter_mut().find(|c| c["type"] == "PodScheduled") {
        Some(c) if c["status"] == "True" => {}
        Some(c) => *c = scheduled,
        None => list.push(scheduled),
    }
}

fn crd_kind() -> GroupKind {
    GroupKind::new("apiextensions.k8s.io", "CustomResourceDefinition")
}

fn namespace_kind() -> GroupKind {
    GroupKind::new("", "Namespace")
}

/// `deployments.apps`, `pods`: how Kubernetes names a resource in messages.
fn resource_name(info: &KindInfo) -> String {
    if info.group_kind.group.is_empty() {
        info.plural.clone()
    } else {
        format!("{}.{}", info.plural, info.group_kind.group)
    }
}

fn not_found(info: &KindInfo, name: &str) -> ApiError {
    ApiError::not_found(format!("{} {name:?} not found", resource_name(info)))
}

/// A delete precondition that does not hold, in Kubernetes' words.
fn precondition_failed(
    info: &KindInfo,
    key: &ObjectKey,
    field: &str,
    wanted: &str,
    actual: &str,
) -> ApiError {
    ApiError::conflict(format!(
        "Operation cannot be fulfilled on {} {:?}: Precondition failed: {field} in precondition: {wanted}, {field} in object meta: {actual}",
        resource_name(info),
        key.name
    ))
}

fn noop(key: ObjectKey, stored: Arc<Stored>) -> WriteResult {
    WriteResult {
        key,
        object: stored,
        noop: true,
        event: None,
    }
}

fn sub_name(sub: Subresource) -> Option<&'static str> {
    match sub {
        Subresource::Main => None,
        Subresource::Status => Some("status"),
        Subresource::Finalize => Some("finalize"),
    }
}

fn check_subresource(info: &KindInfo, sub: Subresource) -> Result<(), ApiError> {
    if sub == Subresource::Finalize && info.group_kind != namespace_kind() {
        return Err(ApiError::not_found(format!(
            "the server could not find the requested resource: {} has no finalize subresource",
            resource_name(info)
        )));
    }
    if sub == Subresource::Status && !info.status_subresource {
        return Err(ApiError::not_found(format!(
            "the server could not find the requested resource: {} has no status subresource",
            resource_name(info)
        )));
    }
    Ok(())
}

/// What an update may not do to metadata: leave out the resourceVersion of
/// a custom resource (its strategy refuses unconditional updates, unlike
/// most built-in kinds'), or set a `deletionTimestamp` only a delete sets
/// (`ValidateObjectMetaUpdate`: the field is immutable).
fn check_update_metadata(info: &KindInfo, stored: &Stored, object: &Value) -> Result<(), ApiError> {
    let invalid = |field: &str, value: &str, why: &str| {
        ApiError::invalid(format!("metadata.{field}: Invalid value: {value}: {why}"))
    };
    if info.custom && meta::resource_version(object).is_none_or(str::is_empty) {
        return Err(invalid(
            "resourceVersion",
            "0x0",
            "must be specified for an update",
        ));
    }
    let deletion = |o: &Value| meta::meta_str(o, "deletionTimestamp").map(str::to_string);
    if let Some(at) = deletion(object)
        && Some(&at) != deletion(&stored.object).as_ref()
    {
        return Err(invalid(
            "deletionTimestamp",
            &format!("{at:?}"),
            "field is immutable; may only be changed via deletion",
        ));
    }
    Ok(())
}

/// Optimistic concurrency: a non-empty resourceVersion (and uid) in the
/// request must match the stored object.
fn check_preconditions(info: &KindInfo, stored: &Stored, object: &Value) -> Result<(), ApiError> {
    if let Some(uid) = meta::uid(object)
        && Some(uid) != meta::uid(&stored.object)
    {
        return Err(ApiError::conflict(format!(
            "Operation cannot be fulfilled on {} {:?}: Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
            resource_name(info),
            meta::name(object).unwrap_or_default(),
            meta::uid(&stored.object).unwrap_or_default()
        )));
    }
    match meta::resource_version(object) {
        Some(rv) if rv != stored.rv.to_string() => Err(ApiError::conflict(format!(
            "Operation cannot be fulfilled on {} {:?}: the object has been modified; please apply your changes to the latest version and try again",
            resource_name(info),
            meta::name(object).unwrap_or_default()
        ))),
        _ => Ok(()),
    }
}

/// The object an update would store, before ownership and generation: the
/// request body for the part the subresource addresses, the stored object
/// for the rest and for server-owned metadata.
fn merge_for_update(info: &KindInfo, stored: &Value, body: &Value, sub: Subresource) -> Value {
    let mut out = match sub {
        Subresource::Status => {
            let mut out = stored.clone();
            let map = out.as_object_mut().expect("stored objects are maps");
            match body.get("status") {
                Some(status) => map.insert("status".into(), status.clone()),
                None => map.remove("status"),
            };
            if status_writes_annotations(info) {
                let annotations = meta::metadata(body).and_then(|m| m.get("annotations"));
                let meta = meta::metadata_mut(&mut out);
                match annotations {
                    Some(a) => meta.insert("annotations".into(), a.clone()),
                    None => meta.remove("annotations"),
                };
            }
            out
        }
        Subresource::Main | Subresource::Finalize => {
            let mut out = body.clone();
            if info.status_subresource {
                let map = out.as_object_mut().expect("checked map");
                match stored.get("status") {
                    Some(status) => map.insert("status".into(), status.clone()),
                    None => map.remove("status"),
                };
            }
            out
        }
    };
    keep_server_metadata(stored, &mut out);
    // Ownership is the server's own record (the stored managers), whatever
    // the request carries.
    meta::metadata_mut(&mut out).remove("managedFields");
    out
}

/// The applied configuration a subresource looks at: without `status` for
/// the main resource of a kind with a status subresource; only identity and
/// `status` for `/status`.
fn config_for_subresource(info: &KindInfo, config: &Value, sub: Subresource) -> Value {
    let mut out = config.clone();
    let map = out.as_object_mut().expect("checked map");
    match sub {
        Subresource::Main | Subresource::Finalize if info.status_subresource => {
            map.remove("status");
        }
        Subresource::Main | Subresource::Finalize => {}
        Subresource::Status => {
            map.retain(|k, _| matches!(k.as_str(), "apiVersion" | "kind" | "metadata" | "status"));
            if let Some(meta) = map.get_mut("metadata").and_then(Value::as_object_mut) {
                meta.retain(|k, _| {
                    matches!(k.as_str(), "name" | "namespace" | "resourceVersion" | "uid")
                });
            }
        }
    }
    out
}

/// Whether a `/status` write also sets the object's annotations: a
/// Deployment's does (`deploymentStatusStrategy.PrepareForUpdate` resets
/// only its spec and labels), which is how the Deployment controller
/// records its revision. Other kinds keep their stored metadata.
fn status_writes_annotations(info: &KindInfo) -> bool {
    info.group_kind == GroupKind::new("apps", "Deployment")
}

/// Server-owned metadata cannot be changed by a write (managedFields are
/// handled by [`apply`]).
fn keep_server_metadata(stored: &Value, out: &mut Value) {
    const SERVER_FIELDS: [&str; 6] = [
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generation",
        "generateName",
    ];
    let from = meta::metadata(stored).cloned().unwrap_or_default();
    let to = meta::metadata_mut(out);
    for field in SERVER_FIELDS {
        match from.get(field) {
            Some(v) => to.insert(field.into(), v.clone()),
            None => to.remove(field),
        };
    }
}

/// Whether anything outside `metadata` changed, not counting `status` for
/// kinds with a status subresource (as custom resources count it).
fn spec_changed(info: &KindInfo, old: &Value, new: &Value) -> bool {
    let counted = |k: &str| k != "metadata" && !(info.status_subresource && k == "status");
    let (Some(old), Some(new)) = (old.as_object(), new.as_object()) else {
        return old != new;
    };
    !old.iter()
        .filter(|(k, _)| counted(k))
        .eq(new.iter().filter(|(k, _)| counted(k)))
}

/// Kubernetes clears `metadata.namespace` of cluster-scoped objects
/// (`EnsureObjectNamespaceMatchesRequestNamespace`).
fn without_cluster_namespace<'a>(info: &KindInfo, object: &'a Value) -> Cow<'a, Value> {
    let has_namespace = meta::metadata(object).is_some_and(|m| m.contains_key("namespace"));
    if info.namespaced || !has_namespace {
        return Cow::Borrowed(object);
    }
    let mut owned = object.clone();
    meta::metadata_mut(&mut owned).remove("namespace");
    Cow::Owned(owned)
}

/// Marks an object deleting: `deletionTimestamp` (when a graceful deletion
/// ends) and `deletionGracePeriodSeconds`.
fn set_deletion(object: &mut Value, at: String, grace: i64) {
    let meta = meta::metadata_mut(object);
    meta.insert("deletionTimestamp".into(), Value::String(at));
    meta.insert("deletionGracePeriodSeconds".into(), json!(grace));
}

fn bump_generation(object: &mut Value) {
    let meta = meta::metadata_mut(object);
    let generation = meta.get("generation").and_then(Value::as_i64).unwrap_or(0);
    meta.insert("generation".into(), json!(generation + 1));
}

/// A deleting object goes once no finalizer holds it (for a namespace,
/// neither `metadata.finalizers` nor `spec.finalizers`).
fn deletion_complete(info: &KindInfo, object: &Value) -> bool {
    let spec_finalizers = object
        .pointer("/spec/finalizers")
        .and_then(Value::as_array)
        .is_some_and(|f| !f.is_empty());
    meta::finalizers(object).is_empty() && !(info.group_kind == namespace_kind() && spec_finalizers)
}

fn apply_error(e: ApplyError) -> ApiError {
    match e {
        ApplyError::Conflicts(conflicts) => {
            let list: Vec<String> = conflicts
                .iter()
                .map(|c| format!("conflict with {:?}: {}", c.manager, c.field))
                .collect();
            ApiError::conflict(format!(
                "Apply failed with {} conflict{}: {}",
                conflicts.len(),
                if conflicts.len() == 1 { "" } else { "s" },
                list.join("; ")
            ))
        }
        other => ApiError::invalid(other.to_string()),
    }
}

fn rv_entry(key: &ObjectKey, rv: u64) -> Digest {
    entry_hash(
        key.parts(),
        &Digest(*blake3::hash(&rv.to_le_bytes()).as_bytes()),
    )
}

/// A deterministic uid: a function of the object's identity and how many
/// times an object of that identity was deleted before.
pub fn uid_for(key: &ObjectKey, incarnation: u32) -> String {
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"kcheck/uid/v1\0");
    hasher.update(key.to_string().as_bytes());
    hasher.update(&incarnation.to_le_bytes());
    let h = hasher.finalize().to_hex();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Five characters from Kubernetes' generateName alphabet (no vowels, no
/// look-alike digits), chosen by a hash of the counter key and value.
fn name_suffix(counter_key: &GeneratedKey, n: u32) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"kcheck/generate-name/v1\0");
    hasher.update(counter_key.0.to_string().as_bytes());
    hasher.update(&[0]);
    hasher.update(counter_key.1.as_deref().unwrap_or("").as_bytes());
    hasher.update(&[0]);
    hasher.update(counter_key.2.as_bytes());
    hasher.update(&n.to_le_bytes());
    hasher.finalize().as_bytes()[..5]
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect()
}

#[cfg(test)]
mod fidelity_delete;
#[cfg(test)]
mod fidelity_patch;
#[cfg(test)]
mod fidelity_strategy;
#[cfg(test)]
mod tests;
