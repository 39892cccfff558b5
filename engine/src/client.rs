//! A typed client in the idiom of kube-rs: `Api<K>` over `k8s-openapi` types
//! and `kube-core` dynamic objects, taking `kube-core`'s request parameters.
//!
//! ```
//! use k8s_openapi::api::core::v1::ConfigMap;
//! use kcheck_engine::api::ApiServer;
//! use kcheck_engine::client::{Api, Client, PostParams};
//! use std::cell::RefCell;
//!
//! let server = RefCell::new(ApiServer::new());
//! let client = Client::new(&server, "example");
//! let cms: Api<ConfigMap> = Api::namespaced(client, "default");
//! let mut cm = ConfigMap::default();
//! cm.metadata.name = Some("settings".into());
//! let created = cms.create(&PostParams::default(), &cm).unwrap();
//! assert_eq!(created.metadata.resource_version.as_deref(), Some("5"));
//! assert!(cms.get("missing").unwrap_err().is_not_found());
//! ```

use std::cell::RefCell;
use std::fmt;
use std::sync::Arc;

use kube_core::Resource;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

pub use kube_core::params::{
    DeleteParams, ListParams, Patch, PatchParams, PostParams, Preconditions, PropagationPolicy,
};
pub use kube_core::{ApiResource, DynamicObject};

pub use crate::api::Claimant;
use crate::api::{
    ApiError, ApiServer, DeleteOptions, FieldSelector, GroupKind, LabelSelector, ListQuery,
    ObjectKey, PatchBody, Propagation, Stored, Subresource, WriteRequest,
};

/// Whether a read goes to the controller's cache or to the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadMode {
    /// The controller's informer cache (possibly stale).
    Cached,
    /// The API server itself, bypassing the cache.
    Live,
}

/// What a client talks to: the API server directly, or a reconcile's
/// session that serves reads from a cache and records every call.
pub trait Backend {
    /// GET one object (shared, not copied).
    fn get(&self, key: &ObjectKey, mode: ReadMode) -> Result<Arc<Stored>, ApiError>;
    /// LIST the objects a query selects.
    fn list(&self, query: &ListQuery, mode: ReadMode) -> Result<Vec<Arc<Stored>>, ApiError>;
    /// Carries out a write as `manager`; returns the object as stored.
    fn write(&self, request: WriteRequest, manager: &str) -> Result<Arc<Stored>, ApiError>;
    /// The current logical time, RFC 3339.
    fn now(&self) -> String;
}

impl Backend for RefCell<ApiServer> {
    fn get(&self, key: &ObjectKey, _mode: ReadMode) -> Result<Arc<Stored>, ApiError> {
        self.borrow().get(key).cloned()
    }

    fn list(&self, query: &ListQuery, _mode: ReadMode) -> Result<Vec<Arc<Stored>>, ApiError> {
        self.borrow().list(query)
    }

    fn write(&self, request: WriteRequest, manager: &str) -> Result<Arc<Stored>, ApiError> {
        Ok(self.borrow_mut().write(&request, manager)?.object)
    }

    fn now(&self) -> String {
        self.borrow().now()
    }
}

/// A failed client call.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The API server answered with an error status.
    #[error("{0}")]
    Api(#[from] ApiError),
    /// An object could not be converted to or from its typed form.
    #[error("serialization of {kind}: {message}")]
    Serde {
        /// The kind being converted.
        kind: String,
        /// What serde said.
        message: String,
    },
    /// A request parameter is not valid (e.g. a malformed label selector).
    #[error("bad request parameter: {0}")]
    BadParam(String),
}

impl Error {
    /// The API error, if the server answered with one.
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            Error::Api(e) => Some(e),
            _ => None,
        }
    }

    /// True for 404 NotFound.
    pub fn is_not_found(&self) -> bool {
        self.api().is_some_and(ApiError::is_not_found)
    }

    /// True for 409 Conflict.
    pub fn is_conflict(&self) -> bool {
        self.api().is_some_and(ApiError::is_conflict)
    }

    /// True for 409 AlreadyExists.
    pub fn is_already_exists(&self) -> bool {
        self.api().is_some_and(ApiError::is_already_exists)
    }
}

/// A handle to a backend with a default field manager. Cheap to copy.
#[derive(Clone, Copy)]
pub struct Client<'a> {
    backend: &'a dyn Backend,
    field_manager: &'a str,
}

impl fmt::Debug for Client<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("field_manager", &self.field_manager)
            .finish()
    }
}

impl<'a> Client<'a> {
    /// A client over a backend; writes are made as `field_manager` unless
    /// the request's params name another.
    pub fn new(backend: &'a dyn Backend, field_manager: &'a str) -> Self {
        Client {
            backend,
            field_manager,
        }
    }

    /// The current logical time, RFC 3339, for timestamps in status.
    pub fn now(&self) -> String {
        self.backend.now()
    }
}

/// A typed API for one kind, namespaced or across all namespaces, like
/// kube-rs' `Api<K>`.
pub struct Api<'a, K: Resource> {
    client: Client<'a>,
    namespace: Option<String>,
    resource: ApiResource,
    mode: ReadMode,
    _kind: std::marker::PhantomData<fn() -> K>,
}

impl<'a, K> Api<'a, K>
where
    K: Resource + Clone + Serialize + DeserializeOwned + Send + Sync + 'static,
    K::DynamicType: Default,
{
    /// Objects of `K` in one namespace.
    pub fn namespaced(client: Client<'a>, namespace: &str) -> Self {
        Self::namespaced_with(client, namespace, &K::DynamicType::default())
    }

    /// Objects of `K` in every namespace, or of a cluster-scoped kind.
    pub fn all(client: Client<'a>) -> Self {
        Self::all_with(client, &K::DynamicType::default())
    }
}

impl<'a, K> Api<'a, K>
where
    K: Resource + Clone + Serialize + DeserializeOwned + Send + Sync + 'static,
{
    /// Objects of a dynamic kind in one namespace.
    pub fn namespaced_with(client: Client<'a>, namespace: &str, dt: &K::DynamicType) -> Self {
        Api {
            client,
            namespace: Some(namespace.to_string()),
            resource: ApiResource::erase::<K>(dt),
            mode: ReadMode::Cached,
            _kind: std::marker::PhantomData,
        }
    }

    /// Objects of a dynamic kind in every namespace.
    pub fn all_with(client: Client<'a>, dt: &K::DynamicType) -> Self {
        Api {
            client,
            namespace: None,
            resource: ApiResource::erase::<K>(dt),
            mode: ReadMode::Cached,
            _kind: std::marker::PhantomData,
        }
    }

    /// The same API reading from the server instead of the cache.
    #[must_use]
    pub fn live(mut self) -> Self {
        self.mode = ReadMode::Live;
        self
    }

    fn kind(&self) -> GroupKind {
        GroupKind::new(self.resource.group.clone(), self.resource.kind.clone())
    }

    fn key(&self, name: &str) -> ObjectKey {
        ObjectKey::new(self.kind(), self.namespace.as_deref(), name)
    }

    /// GET an object; 404 if it does not exist.
    pub fn get(&self, name: &str) -> Result<K, Error> {
        let stored = self.client.backend.get(&self.key(name), self.mode)?;
        self.decode(&stored)
    }

    /// GET an object, `None` if it does not exist.
    pub fn get_opt(&self, name: &str) -> Result<Option<K>, Error> {
        match self.get(name) {
            Ok(k) => Ok(Some(k)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// LIST objects matching the label and field selectors of `lp`.
    pub fn list(&self, lp: &ListParams) -> Result<Vec<K>, Error> {
        self.list_query(self.query(lp)?)
    }

    /// LIST the objects `owner` may claim, as Kubernetes'
    /// `ControllerRefManager` sees them: those it controls, whatever their
    /// labels, and orphans its selector matches; never another owner's.
    /// Prefer it to a plain `list` when a controller adopts and releases:
    /// the reconcile then reads nothing of its neighbours, so reduction
    /// (`docs/architecture.md`) can explore it apart from them.
    pub fn list_claimable(&self, lp: &ListParams, owner: Claimant) -> Result<Vec<K>, Error> {
        let mut query = self.query(lp)?;
        query.claimant = Some(owner);
        self.list_query(query)
    }

    fn query(&self, lp: &ListParams) -> Result<ListQuery, Error> {
        let labels = match &lp.label_selector {
            Some(s) => LabelSelector::parse(s).map_err(|e| Error::BadParam(e.to_string()))?,
            None => LabelSelector::everything(),
        };
        let fields = match &lp.field_selector {
            Some(s) => FieldSelector::parse(s).map_err(|e| Error::BadParam(e.to_string()))?,
            None => FieldSelector::everything(),
        };
        Ok(ListQuery {
            labels,
            fields,
            ..ListQuery::all(self.kind(), self.namespace.as_deref())
        })
    }

    fn list_query(&self, query: ListQuery) -> Result<Vec<K>, Error> {
        let found = self.client.backend.list(&query, self.mode)?;
        found.iter().map(|s| self.decode(s)).collect()
    }

    /// POST a new object (its namespace is this API's).
    pub fn create(&self, pp: &PostParams, object: &K) -> Result<K, Error> {
        let body = self.encode(object)?;
        if crate::api::server::is_binding(&body) {
            // A Binding is not stored: the server binds the Pod it names.
            let manager = pp
                .field_manager
                .as_deref()
                .unwrap_or(self.client.field_manager);
            self.client
                .backend
                .write(WriteRequest::Create { object: body }, manager)?;
            return Ok(object.clone());
        }
        self.send(
            WriteRequest::Create { object: body },
            pp.field_manager.as_deref(),
        )
    }

    /// PUT an object; a set `metadata.resourceVersion` must be current.
    pub fn replace(&self, name: &str, pp: &PostParams, object: &K) -> Result<K, Error> {
        self.replace_sub(name, pp, object, Subresource::Main)
    }

    /// PUT an object's `/status`.
    pub fn replace_status(&self, name: &str, pp: &PostParams, object: &K) -> Result<K, Error> {
        self.replace_sub(name, pp, object, Subresource::Status)
    }

    /// PUT a Namespace's `/finalize`: the only write that changes its
    /// `spec.finalizers` (an ordinary replace keeps them), as the namespace
    /// controller uses it.
    pub fn replace_finalize(&self, name: &str, pp: &PostParams, object: &K) -> Result<K, Error> {
        self.replace_sub(name, pp, object, Subresource::Finalize)
    }

    fn replace_sub(
        &self,
        name: &str,
        pp: &PostParams,
        object: &K,
        sub: Subresource,
    ) -> Result<K, Error> {
        let object = self.encode(object)?;
        if crate::api::meta::name(&object) != Some(name) {
            return Err(Error::Api(ApiError::bad_request(format!(
                "the name of the object does not match the name in the request ({name})"
            ))));
        }
        self.send(
            WriteRequest::Update {
                object,
                subresource: sub,
            },
            pp.field_manager.as_deref(),
        )
    }

    /// PATCH an object (apply, merge, JSON or strategic).
    pub fn patch<P: Serialize>(
        &self,
        name: &str,
        pp: &PatchParams,
        patch: &Patch<P>,
    ) -> Result<K, Error> {
        self.patch_sub(name, pp, patch, Subresource::Main)
    }

    /// PATCH an object's `/status`.
    pub fn patch_status<P: Serialize>(
        &self,
        name: &str,
        pp: &PatchParams,
        patch: &Patch<P>,
    ) -> Result<K, Error> {
        self.patch_sub(name, pp, patch, Subresource::Status)
    }

    fn patch_sub<P: Serialize>(
        &self,
        name: &str,
        pp: &PatchParams,
        patch: &Patch<P>,
        sub: Subresource,
    ) -> Result<K, Error> {
        let to_value = |p: &P| serde_json::to_value(p).map_err(|e| self.serde_error(e));
        let request = match patch {
            Patch::Apply(p) => {
                let mut object = to_value(p)?;
                self.fill_identity(&mut object, name);
                WriteRequest::Apply {
                    object,
                    subresource: sub,
                    force: pp.force,
                }
            }
            Patch::Merge(p) => self.patch_request(name, PatchBody::Merge(to_value(p)?), sub),
            Patch::Strategic(p) => {
                self.patch_request(name, PatchBody::Strategic(to_value(p)?), sub)
            }
            Patch::Json(p) => self.patch_request(name, PatchBody::Json(p.clone()), sub),
            _ => return Err(Error::BadParam("unsupported patch type".into())),
        };
        self.send(request, pp.field_manager.as_deref())
    }

    fn patch_request(
        &self,
        name: &str,
        patch: PatchBody,
        subresource: Subresource,
    ) -> WriteRequest {
        WriteRequest::Patch {
            key: self.key(name),
            patch,
            subresource,
        }
    }

    /// DELETE an object. `Some` when it still exists afterwards (finalizers
    /// hold it, now with a deletionTimestamp), `None` when it is gone.
    pub fn delete(&self, name: &str, dp: &DeleteParams) -> Result<Option<K>, Error> {
        let options = DeleteOptions {
            propagation: dp.propagation_policy.as_ref().map(|p| match p {
                PropagationPolicy::Background => Propagation::Background,
                PropagationPolicy::Foreground => Propagation::Foreground,
                PropagationPolicy::Orphan => Propagation::Orphan,
            }),
            uid: dp.preconditions.as_ref().and_then(|p| p.uid.clone()),
            resource_version: dp
                .preconditions
                .as_ref()
                .and_then(|p| p.resource_version.clone()),
            grace_period_seconds: dp.grace_period_seconds.map(i64::from),
        };
        let request = WriteRequest::Delete {
            key: self.key(name),
            options,
        };
        let last = self
            .client
            .backend
            .write(request, self.client.field_manager)?;
        let still_there = crate::api::meta::is_deleting(&last.object)
            && self
                .client
                .backend
                .get(&self.key(name), ReadMode::Live)
                .is_ok();
        if still_there {
            self.decode(&last).map(Some)
        } else {
            Ok(None)
        }
    }

    fn send(&self, request: WriteRequest, manager: Option<&str>) -> Result<K, Error> {
        let manager = manager.unwrap_or(self.client.field_manager);
        let stored = self.client.backend.write(request, manager)?;
        self.decode(&stored)
    }

    /// Serialises an object, filling in apiVersion, kind and this API's
    /// namespace.
    fn encode(&self, object: &K) -> Result<Value, Error> {
        let mut v = serde_json::to_value(object).map_err(|e| self.serde_error(e))?;
        let name = crate::api::meta::name(&v).unwrap_or_default().to_string();
        self.fill_identity(&mut v, &name);
        Ok(v)
    }

    fn fill_identity(&self, v: &mut Value, name: &str) {
        let Some(map) = v.as_object_mut() else { return };
        map.insert(
            "apiVersion".into(),
            Value::String(self.resource.api_version.clone()),
        );
        map.insert("kind".into(), Value::String(self.resource.kind.clone()));
        let meta = crate::api::meta::metadata_mut(v);
        if !name.is_empty() {
            meta.insert("name".into(), Value::String(name.to_string()));
        }
        if let Some(ns) = &self.namespace {
            meta.insert("namespace".into(), Value::String(ns.clone()));
        }
    }

    /// The typed form of a stored object (decoded once per stored version,
    /// whoever reads it).
    fn decode(&self, stored: &Stored) -> Result<K, Error> {
        match stored.decoded::<K>() {
            Ok(typed) => Ok((*typed).clone()),
            Err(e) => Err(self.serde_error(e)),
        }
    }

    fn serde_error(&self, e: serde_json::Error) -> Error {
        Error::Serde {
            kind: self.resource.kind.clone(),
            message: e.to_string(),
        }
    }
}
