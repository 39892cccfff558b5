//! The typed check of built-in objects, as the API server decodes a request
//! body: the object must decode into its `k8s-openapi` type with no field
//! the type lacks (kubectl's default `--validate=strict`, which makes the
//! server answer 400 `strict decoding error: unknown field "..."`), with
//! values of the right types, at the `apiVersion` the kind is served at,
//! and pass its kind's validation ([`super::validation`]).
//!
//! Custom kinds are not checked: kcheck does not use their OpenAPI schemas.
//!
//! The server checks every object it is about to store, on the hot path of
//! exploration, so the check borrows the JSON and skips what was checked
//! before: an update only decodes the top-level fields that changed (a
//! status write decodes `status`, a label change `metadata`) and only
//! validates the spec when it changed, and `metadata.managedFields`, the
//! server's own record, is never decoded.

use k8s_openapi::Resource;
use k8s_openapi::api::apps::v1::{
    ControllerRevision, DaemonSet, DaemonSetSpec, Deployment, DeploymentSpec, ReplicaSet,
    ReplicaSetSpec, StatefulSet, StatefulSetSpec,
};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::batch::v1::{CronJob, Job, JobSpec};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{
    ConfigMap, Endpoints, Event, LimitRange, Namespace, Node, PersistentVolume,
    PersistentVolumeClaim, Pod, PodSpec, ResourceQuota, Secret, Service, ServiceAccount,
    ServiceSpec,
};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use k8s_openapi::api::scheduling::v1::PriorityClass;
use k8s_openapi::api::storage::v1::StorageClass;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde::de::value::BorrowedStrDeserializer;
use serde::de::{DeserializeOwned, DeserializeSeed, Deserializer, MapAccess, Visitor};
use serde::forward_to_deserialize_any;
use serde_json::{Map, Value};

use super::error::ApiError;
use super::key::group_of;
use super::validation::{self, FieldError};

/// Why an object of a built-in kind was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ObjectError {
    /// The kind is not served at this `apiVersion`.
    #[error(
        "apiVersion: no matches for kind {kind:?} in version {api_version:?} (it is served as {served:?})"
    )]
    UnservedVersion {
        /// The kind.
        kind: String,
        /// The `apiVersion` the object gave.
        api_version: String,
        /// The `apiVersion` the kind is served at.
        served: &'static str,
    },
    /// Fields the kind's type does not have, by field path
    /// (`spec.template.spec.containers[0].imagee`).
    #[error("{}", unknown_fields(.0))]
    UnknownFields(Vec<String>),
    /// A value that does not decode into its field's type.
    #[error("{field}: {reason}")]
    WrongType {
        /// The kind.
        kind: String,
        /// The version of the kind's `apiVersion`.
        version: String,
        /// The field path, e.g. `spec.replicas`.
        field: String,
        /// The decoder's reason, e.g. `invalid type: string "2", expected i32`.
        reason: String,
    },
    /// The kind's validation failed (one error or more, as Kubernetes'
    /// `field.ErrorList`).
    #[error("{}", aggregate(.0))]
    Invalid(Vec<FieldError>),
}

fn unknown_fields(fields: &[String]) -> String {
    fields
        .iter()
        .map(|f| {
            let name = f.rsplit(['.', ']']).next().unwrap_or(f);
            format!("{f}: unknown field {name:?}")
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Kubernetes' rendering of an error list: the error alone, or `[a, b]`.
fn aggregate(errors: &[FieldError]) -> String {
    match errors {
        [one] => one.to_string(),
        many => {
            let all: Vec<String> = many.iter().map(ToString::to_string).collect();
            format!("[{}]", all.join(", "))
        }
    }
}

impl From<ObjectError> for ApiError {
    /// The API server's answer: 404 for a version that is not served (what
    /// kubectl reports as `no matches for kind`), 400 BadRequest for unknown
    /// fields and wrong types, 422 Invalid for failed validation.
    fn from(e: ObjectError) -> Self {
        match e {
            ObjectError::UnservedVersion {
                kind, api_version, ..
            } => ApiError::not_found(format!(
                "no matches for kind {kind:?} in version {api_version:?}"
            )),
            ObjectError::UnknownFields(fields) => {
                let all: Vec<String> = fields
                    .iter()
                    .map(|f| format!("unknown field {f:?}"))
                    .collect();
                ApiError::bad_request(format!("strict decoding error: {}", all.join(", ")))
            }
            ObjectError::WrongType {
                kind,
                version,
                field,
                reason,
            } => ApiError::bad_request(format!(
                "{kind} in version {version:?} cannot be handled as a {kind}: {field}: {reason}"
            )),
            ObjectError::Invalid(errors) => ApiError::invalid(aggregate(&errors)),
        }
    }
}

/// How much of an object to check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Checks {
    /// Decode and validate: an object about to be stored.
    Full,
    /// Decode only: a server-side apply configuration, which holds only the
    /// fields its manager sets, so it cannot be validated on its own.
    Decode,
}

/// Checks an object of a built-in kind, as the API server decodes and
/// validates a request body; objects of other kinds pass. With `previous`
/// (the stored object an update replaces), only the top-level fields that
/// differ from it are decoded, and the spec is validated only if it changed.
pub fn check(object: &Value, previous: Option<&Value>, checks: Checks) -> Result<(), ObjectError> {
    let text = |field: &str| object.get(field).and_then(Value::as_str).unwrap_or("");
    let (api_version, kind) = (text("apiVersion"), text("kind"));
    let group = group_of(api_version);
    let Some(&(served, _, check)) = BUILTIN
        .iter()
        .find(|(served, k, _)| *k == kind && group_of(served) == group)
    else {
        return Ok(());
    };
    if api_version != served {
        return Err(ObjectError::UnservedVersion {
            kind: kind.to_string(),
            api_version: api_version.to_string(),
            served,
        });
    }
    check(object, previous, checks)
}

type CheckFn = fn(&Value, Option<&Value>, Checks) -> Result<(), ObjectError>;

/// A built-in kind's type, and its validation.
trait Typed: Resource + DeserializeOwned {
    /// The kind's validation of `spec` (Kubernetes' `Validate<Kind>Spec`),
    /// with the object as JSON for what the type cannot tell (a required
    /// field left out decodes as its default). None by default.
    fn validate_spec(&self, _object: &Value) -> Vec<FieldError> {
        Vec::new()
    }

    /// The kind's validation of a spec update (Kubernetes'
    /// `Validate<Kind>Update`: immutable fields), given the new and the
    /// stored object as JSON. None by default.
    fn validate_update(&self, _object: &Value, _previous: &Value) -> Vec<FieldError> {
        Vec::new()
    }
}

/// The `spec` of an object given as JSON (`null` if it has none).
fn spec_of(object: &Value) -> &Value {
    object.get("spec").unwrap_or(&Value::Null)
}

macro_rules! builtin {
    (plain: [$($plain:ty),* $(,)?], validated: [$($validated:ty),* $(,)?] $(,)?) => {
        $(impl Typed for $plain {})*

        /// Every built-in kind: `(apiVersion, kind, check)`.
        const BUILTIN: &[(&str, &str, CheckFn)] = &[
            $((<$plain as Resource>::API_VERSION, <$plain as Resource>::KIND, check_as::<$plain>),)*
            $((<$validated as Resource>::API_VERSION, <$validated as Resource>::KIND, check_as::<$validated>),)*
        ];
    };
}

builtin!(
    plain: [
        Namespace,
        Node,
        ConfigMap,
        Secret,
        ServiceAccount,
        Endpoints,
        Event,
        PersistentVolumeClaim,
        PersistentVolume,
        ResourceQuota,
        LimitRange,
        ControllerRevision,
        CronJob,
        HorizontalPodAutoscaler,
        PodDisruptionBudget,
        Ingress,
        NetworkPolicy,
        EndpointSlice,
        Lease,
        Role,
        RoleBinding,
        ClusterRole,
        ClusterRoleBinding,
        StorageClass,
        PriorityClass,
        CustomResourceDefinition,
    ],
    validated: [Deployment, ReplicaSet, StatefulSet, DaemonSet, Pod, Job, Service],
);

impl Typed for Deployment {
    fn validate_spec(&self, object: &Value) -> Vec<FieldError> {
        let default = DeploymentSpec::default();
        let spec = self.spec.as_ref().unwrap_or(&default);
        validation::deployment_spec(spec, object.get("spec"))
    }

    fn validate_update(&self, object: &Value, previous: &Value) -> Vec<FieldError> {
        validation::selector_update(spec_of(object), spec_of(previous))
    }
}

impl Typed for ReplicaSet {
    fn validate_spec(&self, object: &Value) -> Vec<FieldError> {
        let default = ReplicaSetSpec::default();
        let spec = self.spec.as_ref().unwrap_or(&default);
        validation::replica_set_spec(spec, object.get("spec"))
    }

    fn validate_update(&self, object: &Value, previous: &Value) -> Vec<FieldError> {
        validation::selector_update(spec_of(object), spec_of(previous))
    }
}

impl Typed for StatefulSet {
    fn validate_spec(&self, object: &Value) -> Vec<FieldError> {
        let default = StatefulSetSpec::default();
        let spec = self.spec.as_ref().unwrap_or(&default);
        validation::stateful_set_spec(spec, object.get("spec"))
    }

    fn validate_update(&self, object: &Value, previous: &Value) -> Vec<FieldError> {
        validation::stateful_set_spec_update(spec_of(object), spec_of(previous))
    }
}

impl Typed for DaemonSet {
    fn validate_spec(&self, object: &Value) -> Vec<FieldError> {
        let default = DaemonSetSpec::default();
        let spec = self.spec.as_ref().unwrap_or(&default);
        validation::daemon_set_spec(spec, object.get("spec"))
    }

    fn validate_update(&self, object: &Value, previous: &Value) -> Vec<FieldError> {
        validation::selector_update(spec_of(object), spec_of(previous))
    }
}

impl Typed for Pod {
    fn validate_spec(&self, _object: &Value) -> Vec<FieldError> {
        let default = PodSpec::default();
        let mut errors = Vec::new();
        validation::pod_spec(self.spec.as_ref().unwrap_or(&default), "spec", &mut errors);
        errors
    }

    fn validate_update(&self, object: &Value, previous: &Value) -> Vec<FieldError> {
        validation::pod_spec_update(spec_of(object), spec_of(previous))
    }
}

impl Typed for Job {
    fn validate_spec(&self, object: &Value) -> Vec<FieldError> {
        let default = JobSpec::default();
        validation::job(self.spec.as_ref().unwrap_or(&default), object)
    }

    fn validate_update(&self, object: &Value, previous: &Value) -> Vec<FieldError> {
        let started = previous
            .pointer("/status/startTime")
            .is_some_and(|t| !t.is_null());
        validation::job_spec_update(spec_of(object), spec_of(previous), started)
    }
}

impl Typed for Service {
    fn validate_spec(&self, _object: &Value) -> Vec<FieldError> {
        let default = ServiceSpec::default();
        validation::service_spec(self.spec.as_ref().unwrap_or(&default))
    }
}

/// Decodes the object (the top-level fields that differ from `previous`)
/// into `K`, refusing unknown fields, then validates its spec if it
/// changed.
fn check_as<K: Typed>(
    object: &Value,
    previous: Option<&Value>,
    checks: Checks,
) -> Result<(), ObjectError> {
    let Some(map) = object.as_object() else {
        return Ok(());
    };
    let changed = |field: &str| {
        let (new, old) = (object.get(field), previous.map(|p| p.get(field)));
        match (field, old) {
            (_, None) => true,
            ("metadata", Some(old)) => !same_metadata(new, old),
            (_, Some(old)) => new != old,
        }
    };
    let view = || View {
        map,
        changed: &changed,
    };
    let mut unknown = Vec::new();
    let decoded: Result<K, serde_json::Error> =
        serde_ignored::deserialize(view(), |path| unknown.push(ignored_path(&path)));
    let Ok(typed) = decoded else {
        // Decode again, tracking the path, only to say where it failed.
        let mut track = serde_path_to_error::Track::new();
        let de = serde_path_to_error::Deserializer::new(view(), &mut track);
        let reason = match K::deserialize(de) {
            Err(e) => e.to_string(),
            Ok(_) => "does not decode".to_string(),
        };
        return Err(ObjectError::WrongType {
            kind: K::KIND.to_string(),
            version: K::VERSION.to_string(),
            field: field_path(&track.path()),
            reason,
        });
    };
    if !unknown.is_empty() {
        return Err(ObjectError::UnknownFields(unknown));
    }
    if checks == Checks::Full && changed("spec") {
        let mut errors = typed.validate_spec(object);
        if let Some(previous) = previous {
            errors.extend(typed.validate_update(object, previous));
        }
        if !errors.is_empty() {
            return Err(ObjectError::Invalid(errors));
        }
    }
    Ok(())
}

/// `metadata.managedFields` is the server's own record (`super::apply`),
/// rewritten on every write: it is neither compared nor decoded.
const MANAGED_FIELDS: &str = "managedFields";

/// Whether two `metadata` values are equal but for `managedFields`.
fn same_metadata(a: Option<&Value>, b: Option<&Value>) -> bool {
    match (a.and_then(Value::as_object), b.and_then(Value::as_object)) {
        (Some(a), Some(b)) => {
            let count =
                |m: &Map<String, Value>| m.len() - usize::from(m.contains_key(MANAGED_FIELDS));
            count(a) == count(b)
                && a.iter()
                    .all(|(k, v)| k == MANAGED_FIELDS || b.get(k) == Some(v))
        }
        _ => a == b,
    }
}

/// A deserializer over an object's top-level fields for which `changed`
/// holds, with `metadata` read without `managedFields`; every other value
/// is read as it is. It borrows the JSON, copying nothing.
struct View<'a, F> {
    map: &'a Map<String, Value>,
    changed: &'a F,
}

impl<'de, F: Fn(&str) -> bool> Deserializer<'de> for View<'de, F> {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        let changed = self.changed;
        visitor.visit_map(Fields {
            iter: self.map.iter().filter(move |(k, _)| changed(k)),
            top: true,
            value: None,
        })
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

/// `metadata` without `managedFields`.
struct Metadata<'a>(&'a Map<String, Value>);

impl<'de> Deserializer<'de> for Metadata<'de> {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_map(Fields {
            iter: self.0.iter().filter(|(k, _)| *k != MANAGED_FIELDS),
            top: false,
            value: None,
        })
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_some(self)
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

/// The entries of a map; at the top, `metadata` is read as [`Metadata`].
struct Fields<'a, I> {
    iter: I,
    top: bool,
    value: Option<(&'a str, &'a Value)>,
}

impl<'de, I: Iterator<Item = (&'de String, &'de Value)>> MapAccess<'de> for Fields<'de, I> {
    type Error = serde_json::Error;

    fn next_key_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, Self::Error> {
        let Some((key, value)) = self.iter.next() else {
            return Ok(None);
        };
        self.value = Some((key, value));
        seed.deserialize(BorrowedStrDeserializer::new(key))
            .map(Some)
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<S::Value, Self::Error> {
        match self.value.take() {
            Some(("metadata", Value::Object(meta))) if self.top => seed.deserialize(Metadata(meta)),
            Some((_, value)) => seed.deserialize(value),
            None => Err(serde::de::Error::custom("a map value without its key")),
        }
    }
}

/// `spec.template.spec.containers[0].image`: map keys joined by `.`, list
/// indices in `[]`.
pub fn field_path(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Segment::Unknown => {}
        }
    }
    out
}

/// The same rendering of a `serde_ignored` path.
fn ignored_path(path: &serde_ignored::Path) -> String {
    use serde_ignored::Path;
    match path {
        Path::Root => String::new(),
        Path::Seq { parent, index } => format!("{}[{index}]", ignored_path(parent)),
        Path::Map { parent, key } => {
            let parent = ignored_path(parent);
            if parent.is_empty() {
                key.clone()
            } else {
                format!("{parent}.{key}")
            }
        }
        Path::Some { parent }
        | Path::NewtypeStruct { parent }
        | Path::NewtypeVariant { parent } => ignored_path(parent),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::api::KindRegistry;
    use crate::api::error::Reason;

    fn deployment(spec: Value) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default"}, "spec": spec})
    }

    fn web_spec() -> Value {
        json!({"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}})
    }

    fn refusal(object: &Value) -> ObjectError {
        check(object, None, Checks::Full).expect_err("the object should be refused")
    }

    #[test]
    fn every_builtin_kind_decodes_into_its_k8s_openapi_type_at_its_served_version() {
        for info in KindRegistry::builtin().iter() {
            let kind = &info.group_kind.kind;
            let found = BUILTIN
                .iter()
                .find(|(_, k, _)| k == kind)
                .unwrap_or_else(|| panic!("no type for {kind}"));
            assert_eq!(found.0, info.api_version(), "{kind}");
        }
        assert_eq!(BUILTIN.len(), KindRegistry::builtin().iter().count());
    }

    #[test]
    fn a_valid_deployment_passes() {
        check(&deployment(web_spec()), None, Checks::Full).unwrap();
    }

    #[test]
    fn strict_decoding_refuses_an_unknown_field_with_its_path_as_400() {
        let mut spec = web_spec();
        spec["template"]["spec"]["containers"][0]["imagee"] = json!("nginx");
        let e = refusal(&deployment(spec));
        assert_eq!(
            e.to_string(),
            r#"spec.template.spec.containers[0].imagee: unknown field "imagee""#
        );
        let api = ApiError::from(e);
        assert_eq!(api.reason, Reason::BadRequest);
        assert_eq!(
            api.message,
            r#"strict decoding error: unknown field "spec.template.spec.containers[0].imagee""#
        );
    }

    #[test]
    fn unknown_fields_are_all_listed_at_any_depth() {
        let mut object = deployment(web_spec());
        object["spec"]["replica"] = json!(1);
        object["metadata"]["lables"] = json!({});
        let ObjectError::UnknownFields(fields) = refusal(&object) else {
            panic!("unknown fields expected");
        };
        assert_eq!(fields, ["metadata.lables", "spec.replica"]);
    }

    #[test]
    fn a_value_of_the_wrong_type_is_400_naming_the_field() {
        let mut spec = web_spec();
        spec["replicas"] = json!("2");
        let e = refusal(&deployment(spec));
        assert_eq!(
            e.to_string(),
            r#"spec.replicas: invalid type: string "2", expected i32"#
        );
        let api = ApiError::from(e);
        assert_eq!(api.reason, Reason::BadRequest);
        assert!(
            api.message.starts_with(
                r#"Deployment in version "v1" cannot be handled as a Deployment: spec.replicas"#
            ),
            "{api}"
        );
    }

    #[test]
    fn a_version_the_kind_is_not_served_at_has_no_matches() {
        let mut object = deployment(web_spec());
        object["apiVersion"] = json!("apps/v1beta1");
        let e = refusal(&object);
        assert!(
            e.to_string().starts_with(
                r#"apiVersion: no matches for kind "Deployment" in version "apps/v1beta1""#
            ),
            "{e}"
        );
        let api = ApiError::from(e);
        assert!(api.is_not_found());
        assert_eq!(
            api.message,
            r#"no matches for kind "Deployment" in version "apps/v1beta1""#
        );
    }

    #[test]
    fn validation_errors_are_422_in_kubernetes_aggregate_form() {
        let mut spec = web_spec();
        spec["selector"] = json!({"matchLabels": {"app": "other"}});
        let api = ApiError::from(refusal(&deployment(spec)));
        assert!(api.is_invalid());
        assert_eq!(
            api.message,
            r#"spec.template.metadata.labels: Invalid value: map[string]string{"app":"web"}: `selector` does not match template `labels`"#
        );
        let api = ApiError::from(refusal(&deployment(json!({}))));
        assert!(
            api.message
                .starts_with("[spec.selector: Required value, spec.template.metadata.labels: "),
            "{api}"
        );
    }

    #[test]
    fn an_apply_configuration_is_decoded_but_not_validated() {
        let partial = deployment(json!({"replicas": 4}));
        check(&partial, None, Checks::Decode).unwrap();
        assert!(check(&partial, None, Checks::Full).is_err());
        let typo = deployment(json!({"replicass": 4}));
        assert!(check(&typo, None, Checks::Decode).is_err());
    }

    #[test]
    fn an_update_checks_only_the_fields_that_changed() {
        // A stored object that would no longer pass (as if written before a
        // check existed) still takes a status write...
        let mut stored = deployment(json!({"replicas": 1}));
        let mut status_write = stored.clone();
        status_write["status"] = json!({"replicas": 1});
        check(&status_write, Some(&stored), Checks::Full).unwrap();
        // ... but not a spec change, nor a bad status.
        stored["spec"] = web_spec();
        let mut bad = stored.clone();
        bad["spec"]["replicas"] = json!(-1);
        assert_eq!(
            ApiError::from(check(&bad, Some(&stored), Checks::Full).unwrap_err()).message,
            "spec.replicas: Invalid value: -1: must be greater than or equal to 0"
        );
        let mut bad = stored.clone();
        bad["status"] = json!({"replicas": "one"});
        assert!(check(&bad, Some(&stored), Checks::Full).is_err());
    }

    #[test]
    fn custom_kinds_are_not_checked() {
        let widget = json!({"apiVersion": "example.com/v1", "kind": "Widget",
            "metadata": {"name": "w"}, "spec": {"anything": [1, "two"]}});
        check(&widget, None, Checks::Full).unwrap();
    }

    #[test]
    fn objects_as_kcheck_stores_them_decode() {
        // Server-set metadata: uid, resourceVersion, generation,
        // creationTimestamp, managedFields with fieldsV1.
        let pod = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "namespace": "default", "uid": "u", "resourceVersion": "3",
                "generation": 1, "creationTimestamp": "2024-01-01T00:00:00Z",
                "deletionTimestamp": "2024-01-01T00:00:05Z", "deletionGracePeriodSeconds": 0,
                "finalizers": ["f"],
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs",
                    "uid": "x", "controller": true, "blockOwnerDeletion": true}],
                "managedFields": [{"manager": "m", "operation": "Update", "apiVersion": "v1",
                    "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {}}}]},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]},
            "status": {"phase": "Running"}});
        check(&pod, None, Checks::Full).unwrap();
    }
}
