//! The validation the API server does: names, namespaces, labels and owner
//! references of every object ([`object`]), and the kind-specific validation
//! of the built-in kinds kcheck ships controllers for or that are commonly
//! used (Deployment, ReplicaSet, StatefulSet, DaemonSet, Pod, Job,
//! Service), after the typed decode of [`super::typed`], and their update
//! validation against the stored object (immutable fields). Each check
//! names the Kubernetes function it follows. Failures are 422 Invalid,
//! naming the field.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use k8s_openapi::api::apps::v1::{DaemonSetSpec, DeploymentSpec, ReplicaSetSpec, StatefulSetSpec};
use k8s_openapi::api::batch::v1::JobSpec;
use k8s_openapi::api::core::v1::{Container, PodSpec, PodTemplateSpec, ServiceSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::Value;

use super::error::ApiError;
use super::meta;
use super::selector::LabelSelector;

/// Checks a DNS-1123 subdomain (most object names): at most 253 characters
/// of lower-case letters, digits, `-` and `.`, starting and ending with a
/// letter or digit.
pub fn dns_subdomain(s: &str) -> Result<(), String> {
    if s.is_empty() || s.len() > 253 {
        return Err("must be 1 to 253 characters".into());
    }
    if !s.split('.').all(|part| dns_label(part).is_ok()) {
        return Err(
            "must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"
                .into(),
        );
    }
    Ok(())
}

/// Checks a DNS-1123 label (namespace and Service names): at most 63
/// lower-case letters, digits and `-`, starting and ending with a letter or
/// digit.
pub fn dns_label(s: &str) -> Result<(), String> {
    let ok_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if s.is_empty() || s.len() > 63 {
        return Err("must be 1 to 63 characters".into());
    }
    if !s.chars().all(ok_char) || !edge(s.chars().next()) || !edge(s.chars().last()) {
        return Err(
            "must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character"
                .into(),
        );
    }
    Ok(())
}

/// Checks a DNS-1035 label (Service names): a DNS-1123 label that starts
/// with a letter (`IsDNS1035Label` in apimachinery's util/validation).
pub fn dns_1035_label(s: &str) -> Result<(), String> {
    if dns_label(s).is_err() || !s.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err(
            "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character"
                .into(),
        );
    }
    Ok(())
}

/// Checks a label or annotation key's name part, or a label value: at most
/// 63 characters of `[A-Za-z0-9-_.]`, starting and ending alphanumeric
/// (values may be empty).
fn qualified_part(s: &str, allow_empty: bool) -> Result<(), String> {
    if s.is_empty() {
        return if allow_empty {
            Ok(())
        } else {
            Err("must not be empty".into())
        };
    }
    let ok = s.len() <= 63
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && s.chars().last().is_some_and(|c| c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err("must be at most 63 characters of [A-Za-z0-9-_.], starting and ending with an alphanumeric character".into())
    }
}

/// Checks a label key: an optional DNS-subdomain prefix and `/`, then a name.
pub fn label_key(key: &str) -> Result<(), String> {
    match key.split_once('/') {
        Some((prefix, name)) => {
            dns_subdomain(prefix).map_err(|e| format!("prefix {e}"))?;
            qualified_part(name, false)
        }
        None => qualified_part(key, false),
    }
}

/// Checks a label value.
pub fn label_value(value: &str) -> Result<(), String> {
    qualified_part(value, true)
}

/// Checks an object's name as its kind requires: a DNS-1123 label for
/// Namespaces (`ValidateNamespaceName`), a DNS-1035 label for Services
/// (`ValidateServiceName`), a DNS-1123 subdomain for the rest
/// (`NameIsDNSSubdomain`).
pub fn object_name(kind: &str, name: &str) -> Result<(), String> {
    match kind {
        "Namespace" => dns_label(name),
        "Service" => dns_1035_label(name),
        _ => dns_subdomain(name),
    }
}

/// Validates the metadata of an object about to be stored.
pub fn object(object: &Value) -> Result<(), ApiError> {
    let invalid = |field: &str, value: &str, why: String| {
        ApiError::invalid(format!("{field}: Invalid value: {value:?}: {why}"))
    };
    if !object.is_object() {
        return Err(ApiError::bad_request("the object must be a JSON map"));
    }
    let kind = object.get("kind").and_then(Value::as_str).unwrap_or("");
    let name = meta::name(object).unwrap_or("");
    object_name(kind, name).map_err(|e| invalid("metadata.name", name, e))?;
    if let Some(ns) = meta::namespace(object) {
        dns_label(ns).map_err(|e| invalid("metadata.namespace", ns, e))?;
    }
    for (k, v) in meta::labels(object) {
        label_key(&k).map_err(|e| invalid("metadata.labels", &k, e))?;
        label_value(&v).map_err(|e| invalid(&format!("metadata.labels[{k}]"), &v, e))?;
    }
    for (k, _) in meta::annotations(object) {
        label_key(&k).map_err(|e| invalid("metadata.annotations", &k, e))?;
    }
    let refs = meta::metadata(object)
        .and_then(|m| m.get("ownerReferences"))
        .and_then(Value::as_array);
    for (i, r) in refs.into_iter().flatten().enumerate() {
        for field in ["apiVersion", "kind", "name", "uid"] {
            if r.get(field)
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
            {
                return Err(ApiError::invalid(format!(
                    "metadata.ownerReferences[{i}].{field}: Required value"
                )));
            }
        }
    }
    let controllers = meta::owner_references(object)
        .iter()
        .filter(|r| r.controller)
        .count();
    if controllers > 1 {
        return Err(ApiError::invalid(
            "metadata.ownerReferences: Invalid value: only one reference can have Controller set to true",
        ));
    }
    Ok(())
}

// ----- kind-specific validation -----------------------------------------

/// One validation error, as Kubernetes' `field.Error`: the field path and
/// what is wrong with it, `spec.replicas: Invalid value: -1: must be greater
/// than or equal to 0`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// The field path, e.g. `spec.template.spec.containers[0].image`.
    pub field: String,
    /// What is wrong, e.g. `Required value`.
    pub detail: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.detail)
    }
}

impl FieldError {
    fn new(field: impl Into<String>, detail: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            detail: detail.into(),
        }
    }

    /// `field.Required`.
    fn required(field: impl Into<String>) -> Self {
        Self::new(field, "Required value")
    }

    /// `field.Invalid`; `value` is already rendered as Go's `%v` would.
    fn invalid(field: impl Into<String>, value: impl fmt::Display, why: &str) -> Self {
        Self::new(field, format!("Invalid value: {value}: {why}"))
    }

    /// `field.NotSupported`.
    fn not_supported(field: impl Into<String>, value: &str, supported: &[&str]) -> Self {
        let supported: Vec<String> = supported.iter().map(|s| format!("{s:?}")).collect();
        Self::new(
            field,
            format!(
                "Unsupported value: {value:?}: supported values: {}",
                supported.join(", ")
            ),
        )
    }

    /// `field.Duplicate`.
    fn duplicate(field: impl Into<String>, value: impl fmt::Display) -> Self {
        Self::new(field, format!("Duplicate value: {value}"))
    }

    /// `field.Forbidden`.
    fn forbidden(field: impl Into<String>, why: &str) -> Self {
        Self::new(field, format!("Forbidden: {why}"))
    }
}

/// `ValidateNonnegativeField` (pkg/apis/core/validation).
fn nonnegative(value: Option<i64>, field: impl FnOnce() -> String, errors: &mut Vec<FieldError>) {
    if let Some(v) = value.filter(|v| *v < 0) {
        errors.push(FieldError::invalid(
            field(),
            v,
            "must be greater than or equal to 0",
        ));
    }
}

/// Go's `%#v` of a `map[string]string`, as Kubernetes prints template labels.
fn go_string_map(map: Option<&BTreeMap<String, String>>) -> String {
    match map {
        None => "map[string]string(nil)".to_string(),
        Some(map) => {
            let entries: Vec<String> = map.iter().map(|(k, v)| format!("{k:?}:{v:?}")).collect();
            format!("map[string]string{{{}}}", entries.join(", "))
        }
    }
}

/// `ValidateLabels` (apimachinery's meta/v1/validation).
fn labels(labels: Option<&BTreeMap<String, String>>, at: &str, errors: &mut Vec<FieldError>) {
    for (k, v) in labels.into_iter().flatten() {
        if let Err(e) = label_key(k) {
            errors.push(FieldError::invalid(at, format!("{k:?}"), &e));
        }
        if let Err(e) = label_value(v) {
            errors.push(FieldError::invalid(at, format!("{v:?}"), &e));
        }
    }
}

/// `IsValidPortNum` (apimachinery's util/validation).
fn port_number(port: i32, field: impl FnOnce() -> String, errors: &mut Vec<FieldError>) {
    if !(1..=65535).contains(&port) {
        errors.push(FieldError::invalid(
            field(),
            port,
            "must be between 1 and 65535, inclusive",
        ));
    }
}

/// `IsValidPortName` (apimachinery's util/validation): an IANA_SVC_NAME.
fn port_name(name: &str) -> Result<(), &'static str> {
    if name.len() > 15 {
        Err("must be no more than 15 characters")
    } else if !name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        Err("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    } else if !name.chars().any(|c| c.is_ascii_lowercase()) {
        Err("must contain at least one letter (a-z)")
    } else if name.contains("--") {
        Err("must not contain consecutive hyphens")
    } else if name.starts_with('-') || name.ends_with('-') {
        Err("must not begin or end with a hyphen")
    } else {
        Ok(())
    }
}

const PROTOCOLS: [&str; 3] = ["SCTP", "TCP", "UDP"];

/// `validateContainers` and `validateContainerCommon` (pkg/apis/core/validation):
/// a name that is a DNS label, unique among the pod's containers, an image,
/// and valid ports (`validateContainerPorts`).
fn containers(
    list: &[Container],
    at: &str,
    names: &mut BTreeSet<String>,
    errors: &mut Vec<FieldError>,
) {
    for (i, c) in list.iter().enumerate() {
        let at = format!("{at}[{i}]");
        if c.name.is_empty() {
            errors.push(FieldError::required(format!("{at}.name")));
        } else if let Err(e) = dns_label(&c.name) {
            errors.push(FieldError::invalid(
                format!("{at}.name"),
                format!("{:?}", c.name),
                &e,
            ));
        } else if !names.insert(c.name.clone()) {
            errors.push(FieldError::duplicate(
                format!("{at}.name"),
                format!("{:?}", c.name),
            ));
        }
        if c.image.as_deref().is_none_or(str::is_empty) {
            errors.push(FieldError::required(format!("{at}.image")));
        }
        let mut port_names = BTreeSet::new();
        for (j, p) in c.ports.iter().flatten().enumerate() {
            let at = format!("{at}.ports[{j}]");
            if let Some(name) = p.name.as_deref().filter(|n| !n.is_empty()) {
                if let Err(e) = port_name(name) {
                    errors.push(FieldError::invalid(
                        format!("{at}.name"),
                        format!("{name:?}"),
                        e,
                    ));
                } else if !port_names.insert(name) {
                    errors.push(FieldError::duplicate(
                        format!("{at}.name"),
                        format!("{name:?}"),
                    ));
                }
            }
            if p.container_port == 0 {
                errors.push(FieldError::required(format!("{at}.containerPort")));
            } else {
                port_number(p.container_port, || format!("{at}.containerPort"), errors);
            }
            if let Some(protocol) = p.protocol.as_deref()
                && !PROTOCOLS.contains(&protocol)
            {
                errors.push(FieldError::not_supported(
                    format!("{at}.protocol"),
                    protocol,
                    &PROTOCOLS,
                ));
            }
        }
    }
}

/// `ValidatePodSpec` (pkg/apis/core/validation): at least one container,
/// valid containers and init containers (names unique across both), and a
/// known `restartPolicy` (`validateRestartPolicy`). Like the rest of kcheck,
/// no defaulting: a field left out is not an error where Kubernetes would
/// default it.
pub fn pod_spec(spec: &PodSpec, at: &str, errors: &mut Vec<FieldError>) {
    let mut names = BTreeSet::new();
    if spec.containers.is_empty() {
        errors.push(FieldError::required(format!("{at}.containers")));
    }
    containers(
        &spec.containers,
        &format!("{at}.containers"),
        &mut names,
        errors,
    );
    if let Some(init) = &spec.init_containers {
        containers(init, &format!("{at}.initContainers"), &mut names, errors);
    }
    if let Some(policy) = spec.restart_policy.as_deref()
        && !matches!(policy, "Always" | "OnFailure" | "Never")
    {
        errors.push(FieldError::not_supported(
            format!("{at}.restartPolicy"),
            policy,
            &["Always", "OnFailure", "Never"],
        ));
    }
    nonnegative(
        spec.active_deadline_seconds,
        || format!("{at}.activeDeadlineSeconds"),
        errors,
    );
}

/// `ValidatePodTemplateSpec` (pkg/apis/core/validation): the template's
/// labels and its pod spec.
fn pod_template(template: &PodTemplateSpec, at: &str, errors: &mut Vec<FieldError>) {
    let template_labels = template.metadata.as_ref().and_then(|m| m.labels.as_ref());
    labels(template_labels, &format!("{at}.metadata.labels"), errors);
    let default = PodSpec::default();
    pod_spec(
        template.spec.as_ref().unwrap_or(&default),
        &format!("{at}.spec"),
        errors,
    );
}

/// The selector of a workload, as `ValidateDeploymentSpec`,
/// `ValidateReplicaSetSpec`, `ValidateStatefulSetSpec` and
/// A StatefulSet's or DaemonSet's `spec.updateStrategy.type`: `OnDelete`
/// or `RollingUpdate`.
fn update_strategy_type(kind: Option<&str>, errors: &mut Vec<FieldError>) {
    if let Some(kind) = kind
        && !matches!(kind, "OnDelete" | "RollingUpdate")
    {
        errors.push(FieldError::not_supported(
            "spec.updateStrategy.type",
            kind,
            &["OnDelete", "RollingUpdate"],
        ));
    }
}

/// `ValidateDaemonSetSpec` (pkg/apis/apps/validation) check it: required
/// (but for a DaemonSet), valid (`ValidateLabelSelector`) and not empty
/// ("empty selector is invalid for `kind`": Kubernetes says "deployment"
/// for ReplicaSets too). `Ok(None)` for a missing selector, which (as
/// `LabelSelectorAsSelector` of nil) matches nothing; `Err` for an invalid
/// one, after which Kubernetes does not look at the template's labels.
fn workload_selector(
    selector: Option<&Value>,
    kind: &str,
    errors: &mut Vec<FieldError>,
) -> Result<Option<LabelSelector>, ()> {
    let Some(raw) = selector.filter(|s| !s.is_null()) else {
        if kind != "daemonset" {
            errors.push(FieldError::required("spec.selector"));
        }
        return Ok(None);
    };
    match LabelSelector::from_json(raw) {
        Ok(selector) => {
            if selector.is_everything() {
                errors.push(FieldError::invalid(
                    "spec.selector",
                    raw,
                    &format!("empty selector is invalid for {kind}"),
                ));
            }
            Ok(Some(selector))
        }
        Err(e) => {
            errors.push(FieldError::invalid(
                "spec.selector",
                raw,
                &format!("invalid label selector: {e}"),
            ));
            Err(())
        }
    }
}

/// `ValidatePodTemplateSpecForReplicaSet` (pkg/apis/apps/validation), and
/// the same checks of `ValidatePodTemplateSpecForStatefulSet` and
/// `ValidateDaemonSetSpec`: the selector must match the template's labels,
/// the pod template must be valid, its `restartPolicy` `Always` (left out,
/// it defaults to that) and it may not set `activeDeadlineSeconds` (`kind`
/// names the workload in that message).
fn replica_set_template(
    template: &PodTemplateSpec,
    selector: Option<&LabelSelector>,
    kind: &str,
    errors: &mut Vec<FieldError>,
) {
    let template_labels = template.metadata.as_ref().and_then(|m| m.labels.as_ref());
    let matches = match selector {
        Some(s) => {
            s.is_everything() || s.matches_labels(template_labels.unwrap_or(&BTreeMap::new()))
        }
        None => false,
    };
    if !matches {
        errors.push(FieldError::invalid(
            "spec.template.metadata.labels",
            go_string_map(template_labels),
            "`selector` does not match template `labels`",
        ));
    }
    pod_template(template, "spec.template", errors);
    let spec = template.spec.as_ref();
    if let Some(policy) = spec
        .and_then(|s| s.restart_policy.as_deref())
        .filter(|p| *p != "Always")
    {
        errors.push(FieldError::not_supported(
            "spec.template.spec.restartPolicy",
            policy,
            &["Always"],
        ));
    }
    if let Some(deadline) = spec.and_then(|s| s.active_deadline_seconds) {
        let at = "spec.template.spec.activeDeadlineSeconds";
        let why = format!("activeDeadlineSeconds in {kind} is not Supported");
        errors.push(if kind == "DaemonSet" {
            FieldError::invalid(at, deadline, &why)
        } else {
            FieldError::forbidden(at, &why)
        });
    }
}

/// `ValidateDeploymentSpec` (pkg/apis/apps/validation), with
/// `ValidateDeploymentStrategy`: non-negative counts, the selector, the
/// template, a known strategy, and a progress deadline longer than
/// `minReadySeconds`. `raw` is the spec as JSON, to tell a missing selector
/// from an empty one.
pub fn deployment_spec(spec: &DeploymentSpec, raw: Option<&Value>) -> Vec<FieldError> {
    let mut errors = Vec::new();
    nonnegative(
        spec.replicas.map(i64::from),
        || "spec.replicas".into(),
        &mut errors,
    );
    let selector = raw.and_then(|r| r.get("selector"));
    if let Ok(selector) = workload_selector(selector, "deployment", &mut errors) {
        replica_set_template(&spec.template, selector.as_ref(), "ReplicaSet", &mut errors);
    }
    let strategy = spec.strategy.as_ref();
    match strategy.and_then(|s| s.type_.as_deref()) {
        None | Some("RollingUpdate") => {}
        Some("Recreate") => {
            if strategy.is_some_and(|s| s.rolling_update.is_some()) {
                errors.push(FieldError::forbidden(
                    "spec.strategy.rollingUpdate",
                    "may not be specified when strategy `type` is 'Recreate'",
                ));
            }
        }
        Some(other) => errors.push(FieldError::not_supported(
            "spec.strategy.type",
            other,
            &["Recreate", "RollingUpdate"],
        )),
    }
    let min_ready = spec.min_ready_seconds.unwrap_or(0);
    nonnegative(
        Some(i64::from(min_ready)),
        || "spec.minReadySeconds".into(),
        &mut errors,
    );
    nonnegative(
        spec.revision_history_limit.map(i64::from),
        || "spec.revisionHistoryLimit".into(),
        &mut errors,
    );
    if let Some(deadline) = spec.progress_deadline_seconds {
        nonnegative(
            Some(i64::from(deadline)),
            || "spec.progressDeadlineSeconds".into(),
            &mut errors,
        );
        if deadline <= min_ready {
            errors.push(FieldError::invalid(
                "spec.progressDeadlineSeconds",
                deadline,
                "must be greater than minReadySeconds",
            ));
        }
    }
    errors
}

/// `ValidateReplicaSetSpec` (pkg/apis/apps/validation): non-negative
/// counts, the selector and the template, as for a Deployment.
pub fn replica_set_spec(spec: &ReplicaSetSpec, raw: Option<&Value>) -> Vec<FieldError> {
    let mut errors = Vec::new();
    nonnegative(
        spec.replicas.map(i64::from),
        || "spec.replicas".into(),
        &mut errors,
    );
    nonnegative(
        spec.min_ready_seconds.map(i64::from),
        || "spec.minReadySeconds".into(),
        &mut errors,
    );
    let selector = raw.and_then(|r| r.get("selector"));
    if let Ok(selector) = workload_selector(selector, "deployment", &mut errors) {
        let default = PodTemplateSpec::default();
        let template = spec.template.as_ref().unwrap_or(&default);
        replica_set_template(template, selector.as_ref(), "ReplicaSet", &mut errors);
    }
    errors
}

/// `ValidateStatefulSetSpec` (pkg/apis/apps/validation): a known
/// `podManagementPolicy` and update strategy, non-negative counts, the
/// selector and the template, as for a ReplicaSet. Left out: the volume
/// claim templates, `ordinals` and the retention policy.
pub fn stateful_set_spec(spec: &StatefulSetSpec, raw: Option<&Value>) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if let Some(policy) = spec.pod_management_policy.as_deref()
        && !matches!(policy, "OrderedReady" | "Parallel")
    {
        errors.push(FieldError::not_supported(
            "spec.podManagementPolicy",
            policy,
            &["OrderedReady", "Parallel"],
        ));
    }
    update_strategy_type(
        spec.update_strategy
            .as_ref()
            .and_then(|s| s.type_.as_deref()),
        &mut errors,
    );
    for (value, field) in [
        (spec.replicas, "replicas"),
        (spec.min_ready_seconds, "minReadySeconds"),
    ] {
        nonnegative(
            value.map(i64::from),
            || format!("spec.{field}"),
            &mut errors,
        );
    }
    let selector = raw.and_then(|r| r.get("selector"));
    if let Ok(selector) = workload_selector(selector, "statefulset", &mut errors) {
        replica_set_template(
            &spec.template,
            selector.as_ref(),
            "StatefulSet",
            &mut errors,
        );
    }
    errors
}

/// `ValidateDaemonSetSpec` (pkg/apis/apps/validation): the selector (a
/// missing one is not reported by itself, only as not matching the
/// template's labels), the template as for a ReplicaSet, a known update
/// strategy and a non-negative `minReadySeconds`.
pub fn daemon_set_spec(spec: &DaemonSetSpec, raw: Option<&Value>) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let selector = raw.and_then(|r| r.get("selector"));
    if let Ok(selector) = workload_selector(selector, "daemonset", &mut errors) {
        replica_set_template(&spec.template, selector.as_ref(), "DaemonSet", &mut errors);
    }
    nonnegative(
        spec.min_ready_seconds.map(i64::from),
        || "spec.minReadySeconds".into(),
        &mut errors,
    );
    update_strategy_type(
        spec.update_strategy
            .as_ref()
            .and_then(|s| s.type_.as_deref()),
        &mut errors,
    );
    errors
}

/// `ValidateJob` (pkg/apis/batch/validation): `validateGeneratedSelector`
/// then `ValidateJobSpec`. `object` is the Job as JSON: its uid and name,
/// and its selector, to tell a missing one from an empty one.
pub fn job(spec: &JobSpec, object: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if spec.manual_selector != Some(true) {
        generated_selector(spec, object, &mut errors);
    }
    job_spec(spec, object.pointer("/spec/selector"), &mut errors);
    errors
}

/// Job labels of the generated selector (pkg/apis/batch/types.go).
pub const JOB_CONTROLLER_UID: &str = "batch.kubernetes.io/controller-uid";
/// The Job's name, as a pod template label.
pub const JOB_NAME: &str = "batch.kubernetes.io/job-name";
/// `controller-uid` without a prefix, kept for older clients.
pub const LEGACY_JOB_CONTROLLER_UID: &str = "controller-uid";
/// `job-name` without a prefix, kept for older clients.
pub const LEGACY_JOB_NAME: &str = "job-name";

/// `validateGeneratedSelector` (pkg/apis/batch/validation), with the
/// prefixed labels required as on create: the template carries the
/// `controller-uid` and `job-name` labels (both forms) of this Job, and the
/// selector matches them.
fn generated_selector(spec: &JobSpec, object: &Value, errors: &mut Vec<FieldError>) {
    let Some(raw) = object.pointer("/spec/selector").filter(|s| !s.is_null()) else {
        return;
    };
    let uid = meta::uid(object).unwrap_or("");
    if uid.is_empty() {
        errors.push(FieldError::required("metadata.uid"));
    }
    let name = meta::name(object).unwrap_or("");
    let labels = spec
        .template
        .metadata
        .as_ref()
        .and_then(|m| m.labels.as_ref());
    let expected = [
        (LEGACY_JOB_CONTROLLER_UID, uid),
        (LEGACY_JOB_NAME, name),
        (JOB_CONTROLLER_UID, uid),
        (JOB_NAME, name),
    ];
    for (key, value) in expected {
        has_label(labels, key, value, errors);
    }
    if let Ok(selector) = LabelSelector::from_json(raw) {
        let expected: BTreeMap<String, String> = expected
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        if !selector.matches_labels(&expected) {
            errors.push(FieldError::invalid(
                "spec.selector",
                go_label_selector(Some(raw)),
                "`selector` not auto-generated",
            ));
        }
    }
}

/// `ValidateHasLabel` (pkg/apis/core/validation) of a pod template's labels.
fn has_label(
    labels: Option<&BTreeMap<String, String>>,
    key: &str,
    value: &str,
    errors: &mut Vec<FieldError>,
) {
    let at = "spec.template.metadata.labels";
    let why = format!("must be '{value}'");
    match labels.and_then(|l| l.get(key)) {
        None => errors.push(FieldError::new(
            format!("{at}[{key}]"),
            format!("Required value: {why}"),
        )),
        Some(actual) if actual != value => {
            errors.push(FieldError::invalid(at, go_string_map(labels), &why));
        }
        Some(_) => {}
    }
}

/// `ValidateJobSpec` (pkg/apis/batch/validation): a selector (generated by
/// the server unless `manualSelector`) that matches the template's labels,
/// non-negative `parallelism`, `completions`, `activeDeadlineSeconds` and
/// `backoffLimit`, a valid pod template, and `restartPolicy` `OnFailure` or
/// `Never` (left out, it would default to `Always`, which a Job refuses).
fn job_spec(spec: &JobSpec, selector: Option<&Value>, errors: &mut Vec<FieldError>) {
    let labels = spec
        .template
        .metadata
        .as_ref()
        .and_then(|m| m.labels.as_ref());
    // A missing selector matches nothing (`LabelSelectorAsSelector` of nil).
    let matches = match selector.filter(|s| !s.is_null()) {
        None => {
            errors.push(FieldError::required("spec.selector"));
            Some(false)
        }
        Some(raw) => match LabelSelector::from_json(raw) {
            Ok(selector) => Some(selector.matches_labels(labels.unwrap_or(&BTreeMap::new()))),
            Err(e) => {
                errors.push(FieldError::invalid(
                    "spec.selector",
                    raw,
                    &format!("invalid label selector: {e}"),
                ));
                None
            }
        },
    };
    if matches == Some(false) {
        errors.push(FieldError::invalid(
            "spec.template.metadata.labels",
            go_string_map(labels),
            "`selector` does not match template `labels`",
        ));
    }
    for (value, field) in [
        (spec.parallelism.map(i64::from), "parallelism"),
        (spec.completions.map(i64::from), "completions"),
        (spec.active_deadline_seconds, "activeDeadlineSeconds"),
        (spec.backoff_limit.map(i64::from), "backoffLimit"),
    ] {
        nonnegative(value, || format!("spec.{field}"), errors);
    }
    pod_template(&spec.template, "spec.template", errors);
    let at = "spec.template.spec.restartPolicy";
    match spec
        .template
        .spec
        .as_ref()
        .and_then(|s| s.restart_policy.as_deref())
    {
        Some("OnFailure" | "Never") => {}
        None | Some("Always") => errors.push(FieldError::new(
            at,
            "Required value: valid values: \"OnFailure\", \"Never\"",
        )),
        Some(other) => errors.push(FieldError::not_supported(
            at,
            other,
            &["OnFailure", "Never"],
        )),
    }
}

/// `ValidateService` and `validateServicePort` (pkg/apis/core/validation):
/// a known `type`; ports required unless the Service is headless or
/// ExternalName; each port with a valid number, protocol and target port,
/// named (DNS labels, unique) when there are several, no (protocol, port)
/// twice; an ExternalName Service needs `externalName`; selector labels
/// valid.
pub fn service_spec(spec: &ServiceSpec) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let service_type = spec.type_.as_deref().unwrap_or("ClusterIP");
    let headless = spec.cluster_ip.as_deref() == Some("None");
    const TYPES: [&str; 4] = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"];
    if !TYPES.contains(&service_type) {
        errors.push(FieldError::not_supported("spec.type", service_type, &TYPES));
    }
    let ports = spec.ports.as_deref().unwrap_or_default();
    if ports.is_empty() && !headless && service_type != "ExternalName" {
        errors.push(FieldError::required("spec.ports"));
    }
    if service_type == "ExternalName" && spec.external_name.as_deref().is_none_or(str::is_empty) {
        errors.push(FieldError::required("spec.externalName"));
    }
    let mut names = BTreeSet::new();
    let mut seen = BTreeSet::new();
    for (i, p) in ports.iter().enumerate() {
        let at = format!("spec.ports[{i}]");
        match p.name.as_deref().filter(|n| !n.is_empty()) {
            None if ports.len() > 1 => errors.push(FieldError::required(format!("{at}.name"))),
            None => {}
            Some(name) => {
                if let Err(e) = dns_label(name) {
                    errors.push(FieldError::invalid(
                        format!("{at}.name"),
                        format!("{name:?}"),
                        &e,
                    ));
                } else if !names.insert(name) {
                    errors.push(FieldError::duplicate(
                        format!("{at}.name"),
                        format!("{name:?}"),
                    ));
                }
            }
        }
        port_number(p.port, || format!("{at}.port"), &mut errors);
        let protocol = p.protocol.as_deref().unwrap_or("TCP");
        if !PROTOCOLS.contains(&protocol) {
            errors.push(FieldError::not_supported(
                format!("{at}.protocol"),
                protocol,
                &PROTOCOLS,
            ));
        }
        match &p.target_port {
            Some(IntOrString::Int(0)) | None => {}
            Some(IntOrString::Int(n)) => {
                port_number(*n, || format!("{at}.targetPort"), &mut errors);
            }
            Some(IntOrString::String(name)) => {
                if let Err(e) = port_name(name) {
                    errors.push(FieldError::invalid(
                        format!("{at}.targetPort"),
                        format!("{name:?}"),
                        e,
                    ));
                }
            }
        }
        if !seen.insert((protocol, p.port)) {
            errors.push(FieldError::duplicate(
                at,
                format!("{{{protocol} {}}}", p.port),
            ));
        }
    }
    labels(spec.selector.as_ref(), "spec.selector", &mut errors);
    errors
}

// ----- update validation -----------------------------------------------

/// `FieldImmutableErrorMsg` (apimachinery's api/validation).
const IMMUTABLE: &str = "field is immutable";

/// Whether a value is absent as Go sees it: left out, `null`, or an empty
/// list or map.
fn is_unset(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::Array(a)) => a.is_empty(),
        Some(Value::Object(m)) => m.is_empty(),
        _ => false,
    }
}

/// Whether two JSON values are equal as `apiequality.Semantic.DeepEqual`
/// compares the Go values they decode into: a field left out, `null`, an
/// empty list and an empty map are all the same.
fn semantic_eq(a: Option<&Value>, b: Option<&Value>) -> bool {
    match (a, b) {
        _ if is_unset(a) && is_unset(b) => true,
        (Some(Value::Object(x)), Some(Value::Object(y))) => x
            .keys()
            .chain(y.keys())
            .all(|k| semantic_eq(x.get(k), y.get(k))),
        (Some(Value::Array(x)), Some(Value::Array(y))) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| semantic_eq(Some(p), Some(q)))
        }
        _ => a == b,
    }
}

/// A field's value as `field.Invalid` prints it: `"null"` for nil, numbers
/// and booleans as they are, strings quoted; a struct (`type_name`) is
/// abbreviated, where Kubernetes prints Go's `%#v` of all of it.
fn go_value(v: Option<&Value>, type_name: &str) -> String {
    match v {
        None | Some(Value::Null) => "\"null\"".to_string(),
        Some(Value::String(s)) => format!("{s:?}"),
        Some(v @ (Value::Number(_) | Value::Bool(_))) => v.to_string(),
        Some(_) => format!("{type_name}{{...}}"),
    }
}

/// Go's `%#v` of a `metav1.LabelSelector` given as JSON, as an immutable
/// selector is printed: `v1.LabelSelector{MatchLabels:map[string]string{"app":"web"},
/// MatchExpressions:[]v1.LabelSelectorRequirement(nil)}`.
fn go_label_selector(raw: Option<&Value>) -> String {
    let Some(raw) = raw.filter(|v| !v.is_null()) else {
        return "\"null\"".to_string();
    };
    let labels: Option<BTreeMap<String, String>> = raw
        .get("matchLabels")
        .and_then(|m| serde_json::from_value(m.clone()).ok());
    let expressions = match raw.get("matchExpressions").and_then(Value::as_array) {
        None => "[]v1.LabelSelectorRequirement(nil)".to_string(),
        Some(list) => {
            let all: Vec<String> = list.iter().map(go_requirement).collect();
            format!("[]v1.LabelSelectorRequirement{{{}}}", all.join(", "))
        }
    };
    format!(
        "v1.LabelSelector{{MatchLabels:{}, MatchExpressions:{expressions}}}",
        go_string_map(labels.as_ref())
    )
}

/// Go's `%#v` of a `metav1.LabelSelectorRequirement` given as JSON.
fn go_requirement(r: &Value) -> String {
    let text = |field: &str| {
        r.get(field)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let values = match r.get("values").and_then(Value::as_array) {
        None => "[]string(nil)".to_string(),
        Some(list) => {
            let all: Vec<String> = list
                .iter()
                .map(|v| format!("{:?}", v.as_str().unwrap_or("")))
                .collect();
            format!("[]string{{{}}}", all.join(", "))
        }
    };
    format!(
        "v1.LabelSelectorRequirement{{Key:{:?}, Operator:{:?}, Values:{values}}}",
        text("key"),
        text("operator")
    )
}

/// `ValidateImmutableField` (apimachinery's api/validation) of
/// `spec.<field>`; `render` prints the new value.
fn immutable(
    new: &Value,
    old: &Value,
    field: &str,
    render: impl FnOnce(Option<&Value>) -> String,
    errors: &mut Vec<FieldError>,
) {
    if !semantic_eq(new.get(field), old.get(field)) {
        errors.push(FieldError::invalid(
            format!("spec.{field}"),
            render(new.get(field)),
            IMMUTABLE,
        ));
    }
}

/// The selector immutability of the apps kinds' update validation
/// (`ValidateUpdate` of the Deployment, ReplicaSet and DaemonSet registry
/// strategies, beside `ValidateDeploymentUpdate`, `ValidateReplicaSetUpdate`
/// and `ValidateDaemonSetUpdate` of pkg/apis/apps/validation), given the new
/// and old specs as JSON.
pub fn selector_update(new: &Value, old: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    immutable(new, old, "selector", go_label_selector, &mut errors);
    errors
}

/// `ValidateStatefulSetUpdate` (pkg/apis/apps/validation), given the new
/// and old specs as JSON: only the fields it names may change.
pub fn stateful_set_spec_update(new: &Value, old: &Value) -> Vec<FieldError> {
    const MUTABLE: [&str; 7] = [
        "replicas",
        "ordinals",
        "template",
        "updateStrategy",
        "revisionHistoryLimit",
        "persistentVolumeClaimRetentionPolicy",
        "minReadySeconds",
    ];
    let mut munged = new.clone();
    copy_fields(&mut munged, old, &MUTABLE);
    if semantic_eq(Some(&munged), Some(old)) {
        return Vec::new();
    }
    vec![FieldError::forbidden(
        "spec",
        "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
    )]
}

/// Sets `fields` of the map `to` to their values in `from` (removing those
/// `from` lacks): how Kubernetes "munges" the fields an update may change
/// before comparing the rest.
fn copy_fields(to: &mut Value, from: &Value, fields: &[&str]) {
    let Some(map) = to.as_object_mut() else {
        return;
    };
    for field in fields {
        match from.get(*field) {
            Some(v) => map.insert((*field).to_string(), v.clone()),
            None => map.remove(*field),
        };
    }
}

/// `ValidateJobSpecUpdate` (pkg/apis/batch/validation), given the new and
/// old specs as JSON and whether the Job has started (`status.startTime`):
/// `completions` (`validateCompletions`), `selector`, the template
/// (`validatePodTemplateUpdate`), `completionMode`, `podFailurePolicy`,
/// `backoffLimitPerIndex`, `managedBy` and `successPolicy` are immutable.
pub fn job_spec_update(new: &Value, old: &Value, started: bool) -> Vec<FieldError> {
    let mut errors = Vec::new();
    completions_update(new, old, &mut errors);
    immutable(new, old, "selector", go_label_selector, &mut errors);
    job_template_update(new, old, started, &mut errors);
    for (field, type_name) in [
        ("completionMode", ""),
        ("podFailurePolicy", "batch.PodFailurePolicy"),
        ("backoffLimitPerIndex", ""),
        ("managedBy", ""),
        ("successPolicy", "batch.SuccessPolicy"),
    ] {
        immutable(new, old, field, |v| go_value(v, type_name), &mut errors);
    }
    errors
}

/// `validateCompletions` (pkg/apis/batch/validation), with the
/// ElasticIndexedJob feature on (the default since v1.27): `completions` is
/// immutable but for an Indexed Job, where it may change together with
/// `parallelism`, to the same value.
fn completions_update(new: &Value, old: &Value, errors: &mut Vec<FieldError>) {
    let indexed = new.get("completionMode").and_then(Value::as_str) == Some("Indexed");
    if !indexed {
        immutable(new, old, "completions", |v| go_value(v, ""), errors);
        return;
    }
    let completions = new.get("completions").filter(|v| !v.is_null());
    if semantic_eq(completions, old.get("completions")) {
        return;
    }
    // A missing `completions` is refused by `ValidateJobSpec` already.
    if let Some(n) = completions
        && Some(n) != new.get("parallelism")
    {
        errors.push(FieldError::invalid(
            "spec.completions",
            n,
            "can only be modified in tandem with spec.parallelism",
        ));
    }
}

/// `validatePodTemplateUpdate` (pkg/apis/batch/validation): a Job's pod
/// template is immutable, but for a suspended Job that never started
/// (`AllowMutableSchedulingDirectives`), whose template labels,
/// annotations, node selector, tolerations, node affinity and scheduling
/// gates may change.
fn job_template_update(new: &Value, old: &Value, started: bool, errors: &mut Vec<FieldError>) {
    let suspended = old.get("suspend").and_then(Value::as_bool) == Some(true);
    let mut old_template = old.get("template").cloned().unwrap_or(Value::Null);
    let new_template = new.get("template").cloned().unwrap_or(Value::Null);
    if suspended && !started {
        let object = |v: &mut Value| {
            if !v.is_object() {
                *v = Value::Object(Default::default());
            }
        };
        object(&mut old_template);
        let empty = Value::Null;
        for (part, fields) in [
            ("metadata", &["labels", "annotations"][..]),
            (
                "spec",
                &["nodeSelector", "tolerations", "schedulingGates"][..],
            ),
        ] {
            let from = new_template.get(part).unwrap_or(&empty);
            let to = old_template.as_object_mut().map(|m| {
                m.entry(part)
                    .or_insert_with(|| Value::Object(Default::default()))
            });
            if let Some(to) = to {
                object(to);
                copy_fields(to, from, fields);
            }
        }
        if let Some(affinity) = old_template.pointer_mut("/spec/affinity") {
            let node = new_template.pointer("/spec/affinity/nodeAffinity").cloned();
            copy_fields(
                affinity,
                &serde_json::json!({"nodeAffinity": node}),
                &["nodeAffinity"],
            );
        } else if let Some(node) = new_template.pointer("/spec/affinity/nodeAffinity")
            && let Some(spec) = old_template.get_mut("spec").and_then(Value::as_object_mut)
        {
            spec.insert("affinity".into(), serde_json::json!({"nodeAffinity": node}));
        }
    }
    if !semantic_eq(Some(&new_template), Some(&old_template)) {
        errors.push(FieldError::invalid(
            "spec.template",
            go_value(Some(&new_template), "core.PodTemplateSpec"),
            IMMUTABLE,
        ));
    }
}

/// The fields `ValidatePodUpdate` lets an update change, as v1.30 lists
/// them (`updatablePodSpecFields`).
const POD_UPDATABLE: &str = "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

/// The items of a list field of a JSON map (none if it is missing).
fn items<'a>(v: &'a Value, field: &str) -> &'a [Value] {
    v.get(field)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// `ValidatePodUpdate` (pkg/apis/core/validation), given the new and old
/// specs as JSON: no container added or removed
/// (`ValidateContainerUpdates`), `activeDeadlineSeconds` only set or
/// lowered, tolerations only added (`validateOnlyAddedTolerations`),
/// scheduling gates only removed (`validateOnlyDeletedSchedulingGates`),
/// and nothing else changed but container images and a negative
/// `terminationGracePeriodSeconds` set to 1. `spec.nodeName` is among what
/// may not change: Kubernetes sets it through the `/binding` subresource.
pub fn pod_spec_update(new: &Value, old: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for list in ["containers", "initContainers"] {
        if items(new, list).len() != items(old, list).len() {
            errors.push(FieldError::forbidden(
                format!("spec.{list}"),
                "pod updates may not add or remove containers",
            ));
            return errors;
        }
    }
    if !active_deadline_update(new, old, &mut errors) {
        return errors;
    }
    only_added_tolerations(new, old, &mut errors);
    only_deleted_scheduling_gates(new, old, &mut errors);
    if !semantic_eq(Some(&munged_pod_spec(new, old)), Some(old)) {
        errors.push(FieldError::forbidden("spec", POD_UPDATABLE));
    }
    errors
}

/// The `activeDeadlineSeconds` part of `ValidatePodUpdate`: set from nil,
/// or lowered, within `0..=MaxInt32`. False when Kubernetes stops there.
fn active_deadline_update(new: &Value, old: &Value, errors: &mut Vec<FieldError>) -> bool {
    let at = "spec.activeDeadlineSeconds";
    let old_deadline = old.get("activeDeadlineSeconds").and_then(Value::as_i64);
    match new.get("activeDeadlineSeconds").and_then(Value::as_i64) {
        Some(n) if !(0..=i64::from(i32::MAX)).contains(&n) => {
            errors.push(FieldError::invalid(
                at,
                n,
                "must be between 0 and 2147483647, inclusive",
            ));
            false
        }
        Some(n) if old_deadline.is_some_and(|o| o < n) => {
            errors.push(FieldError::invalid(
                at,
                n,
                "must be less than or equal to previous value",
            ));
            false
        }
        None if old_deadline.is_some() => {
            errors.push(FieldError::invalid(
                at,
                "\"null\"",
                "must not update from a positive integer to nil value",
            ));
            true
        }
        _ => true,
    }
}

/// `validateOnlyAddedTolerations` (pkg/apis/core/validation): every old
/// toleration is still there, but for its `tolerationSeconds`.
fn only_added_tolerations(new: &Value, old: &Value, errors: &mut Vec<FieldError>) {
    let without_seconds = |t: &Value| {
        let mut t = t.clone();
        copy_fields(&mut t, &Value::Null, &["tolerationSeconds"]);
        t
    };
    let kept = items(old, "tolerations").iter().all(|o| {
        let o = without_seconds(o);
        items(new, "tolerations")
            .iter()
            .any(|n| semantic_eq(Some(&o), Some(&without_seconds(n))))
    });
    if !kept {
        errors.push(FieldError::forbidden(
            "spec.tolerations",
            "existing toleration can not be modified except its tolerationSeconds",
        ));
    }
}

/// `validateOnlyDeletedSchedulingGates` (pkg/apis/core/validation): no
/// scheduling gate is added.
fn only_deleted_scheduling_gates(new: &Value, old: &Value, errors: &mut Vec<FieldError>) {
    let name = |g: &Value| {
        g.get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let before: BTreeSet<String> = items(old, "schedulingGates").iter().map(name).collect();
    for (i, gate) in items(new, "schedulingGates").iter().enumerate() {
        let gate = name(gate);
        if !before.contains(&gate) {
            errors.push(FieldError::forbidden(
                format!("spec.schedulingGates[{i}].name"),
                &format!("only deletion is allowed, but found new scheduling gate '{gate}'"),
            ));
        }
    }
}

/// The new pod spec with what `ValidatePodUpdate` lets change taken from
/// the old one (its "munged" spec), to compare with the old spec.
fn munged_pod_spec(new: &Value, old: &Value) -> Value {
    let mut munged = new.clone();
    for list in ["containers", "initContainers"] {
        let old_items = items(old, list);
        if let Some(Value::Array(containers)) = munged.get_mut(list) {
            for (c, o) in containers.iter_mut().zip(old_items) {
                copy_fields(c, o, &["image"]);
            }
        }
    }
    copy_fields(
        &mut munged,
        old,
        &["activeDeadlineSeconds", "schedulingGates", "tolerations"],
    );
    let grace = |v: &Value| {
        v.get("terminationGracePeriodSeconds")
            .and_then(Value::as_i64)
    };
    if grace(old).is_some_and(|g| g < 0) && grace(&munged) == Some(1) {
        copy_fields(&mut munged, old, &["terminationGracePeriodSeconds"]);
    }
    munged
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn object_names_follow_dns_rules() {
        assert!(dns_subdomain("web-1.example").is_ok());
        assert!(dns_subdomain("Web").is_err());
        assert!(dns_subdomain("-web").is_err());
        assert!(dns_label("a.b").is_err());
        assert!(dns_label(&"a".repeat(64)).is_err());
    }

    #[test]
    fn label_keys_may_have_a_prefix() {
        assert!(label_key("app.kubernetes.io/name").is_ok());
        assert!(label_key("app").is_ok());
        assert!(label_key("-app").is_err());
        assert!(label_key("Bad_Prefix/x").is_err());
        assert!(label_value("").is_ok());
        assert!(label_value("a b").is_err());
    }

    #[test]
    fn invalid_metadata_is_422_naming_the_field() {
        let e = object(&json!({"kind": "Pod", "metadata": {"name": "UPPER"}})).unwrap_err();
        assert!(e.is_invalid() && e.message.contains("metadata.name"), "{e}");
        let e = object(&json!({"kind": "Pod", "metadata": {"name": "p",
            "ownerReferences": [{"apiVersion": "v1", "kind": "X", "name": "x"}]}}))
        .unwrap_err();
        assert!(e.message.contains("ownerReferences[0].uid"), "{e}");
    }

    fn messages(errors: Vec<FieldError>) -> Vec<String> {
        errors.iter().map(ToString::to_string).collect()
    }

    fn typed<T: serde::de::DeserializeOwned>(v: Value) -> T {
        serde_json::from_value(v).expect("decodes")
    }

    fn template(labels: Value, containers: Value) -> Value {
        json!({"metadata": {"labels": labels}, "spec": {"containers": containers}})
    }

    fn web() -> Value {
        json!([{"name": "web", "image": "nginx"}])
    }

    fn deployment_errors(raw: Value) -> Vec<String> {
        messages(deployment_spec(&typed(raw.clone()), Some(&raw)))
    }

    #[test]
    fn service_names_are_dns_1035_labels() {
        assert!(object_name("Service", "web-1").is_ok());
        assert!(object_name("Service", "1web").is_err());
        assert!(object_name("Namespace", "1web").is_ok());
        assert!(object_name("ConfigMap", "a.b").is_ok());
        assert!(object_name("Service", "a.b").is_err());
    }

    #[test]
    fn deployment_selector_must_match_template_labels() {
        let errors = deployment_errors(json!({"selector": {"matchLabels": {"app": "web"}},
            "template": template(json!({"app": "api", "tier": "x"}), web())}));
        assert_eq!(
            errors,
            [
                "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"api\", \"tier\":\"x\"}: `selector` does not match template `labels`"
            ]
        );
        let errors = deployment_errors(json!({"selector": {"matchExpressions": [
                {"key": "app", "operator": "In", "values": ["web", "api"]}]},
            "template": template(json!({"app": "api"}), web())}));
        assert_eq!(errors, Vec::<String>::new());
    }

    #[test]
    fn deployment_selector_is_required_and_not_empty() {
        let errors = deployment_errors(json!({"template": template(json!({"app": "web"}), web())}));
        assert_eq!(errors[0], "spec.selector: Required value");
        assert!(errors[1].starts_with("spec.template.metadata.labels: "));
        let errors = deployment_errors(json!({"selector": {},
            "template": template(json!({"app": "web"}), web())}));
        assert_eq!(
            errors,
            ["spec.selector: Invalid value: {}: empty selector is invalid for deployment"]
        );
        let errors = deployment_errors(json!({"selector": {"matchExpressions": [
                {"key": "app", "operator": "Near", "values": ["web"]}]},
            "template": template(json!({"app": "web"}), web())}));
        assert_eq!(errors.len(), 1);
        assert!(errors[0].contains("invalid label selector"), "{errors:?}");
    }

    #[test]
    fn deployment_replicas_and_counts_are_non_negative() {
        let errors = deployment_errors(json!({"replicas": -1, "minReadySeconds": 5,
            "progressDeadlineSeconds": 5, "revisionHistoryLimit": -2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": template(json!({"app": "web"}), web())}));
        assert_eq!(
            errors,
            [
                "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
                "spec.revisionHistoryLimit: Invalid value: -2: must be greater than or equal to 0",
                "spec.progressDeadlineSeconds: Invalid value: 5: must be greater than minReadySeconds",
            ]
        );
    }

    #[test]
    fn deployment_template_needs_containers_and_restart_policy_always() {
        let mut t = template(json!({"app": "web"}), json!([]));
        t["spec"]["restartPolicy"] = json!("Never");
        let errors = deployment_errors(json!({"selector": {"matchLabels": {"app": "web"}},
            "template": t, "strategy": {"type": "BlueGreen"}}));
        assert_eq!(
            errors,
            [
                "spec.template.spec.containers: Required value",
                "spec.template.spec.restartPolicy: Unsupported value: \"Never\": supported values: \"Always\"",
                "spec.strategy.type: Unsupported value: \"BlueGreen\": supported values: \"Recreate\", \"RollingUpdate\"",
            ]
        );
    }

    #[test]
    fn replica_set_is_validated_like_a_deployment() {
        let raw = json!({"replicas": -3, "selector": {"matchLabels": {"app": "web"}},
            "template": template(json!({"app": "web"}), web())});
        assert_eq!(
            messages(replica_set_spec(&typed(raw.clone()), Some(&raw))),
            ["spec.replicas: Invalid value: -3: must be greater than or equal to 0"]
        );
        let raw = json!({"selector": {"matchLabels": {"app": "web"}}});
        let errors = messages(replica_set_spec(&typed(raw.clone()), Some(&raw)));
        assert!(
            errors
                .iter()
                .any(|e| e == "spec.template.spec.containers: Required value"),
            "{errors:?}"
        );
    }

    #[test]
    fn pod_containers_need_a_unique_dns_label_name_and_an_image() {
        let spec: PodSpec = typed(json!({"containers": [
            {"name": "web", "image": "nginx"},
            {"name": "web", "image": "nginx"},
            {"image": "nginx"},
            {"name": "Side_Car", "image": ""},
            {"name": "db", "image": "pg", "ports": [{"containerPort": 0}, {"containerPort": 70000, "protocol": "HTTP"}]}],
            "restartPolicy": "Sometimes"}));
        let mut errors = Vec::new();
        pod_spec(&spec, "spec", &mut errors);
        let errors = messages(errors);
        assert_eq!(
            errors[0],
            "spec.containers[1].name: Duplicate value: \"web\""
        );
        assert_eq!(errors[1], "spec.containers[2].name: Required value");
        assert!(errors[2].starts_with("spec.containers[3].name: Invalid value: \"Side_Car\": "));
        assert_eq!(errors[3], "spec.containers[3].image: Required value");
        assert_eq!(
            errors[4],
            "spec.containers[4].ports[0].containerPort: Required value"
        );
        assert_eq!(
            errors[5],
            "spec.containers[4].ports[1].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive"
        );
        assert_eq!(
            errors[6],
            "spec.containers[4].ports[1].protocol: Unsupported value: \"HTTP\": supported values: \"SCTP\", \"TCP\", \"UDP\""
        );
        assert_eq!(
            errors[7],
            "spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\""
        );
        assert_eq!(errors.len(), 8);
    }

    #[test]
    fn job_restart_policy_must_be_on_failure_or_never() {
        let job = |policy: Value| -> Vec<String> {
            let mut t = template(json!({}), web());
            t["spec"]["restartPolicy"] = policy;
            let object = json!({"metadata": {"name": "pi", "uid": "u"}, "spec": {"template": t,
                "backoffLimit": -1, "manualSelector": true, "selector": {}}});
            messages(job(&typed(object["spec"].clone()), &object))
        };
        assert_eq!(
            job(Value::Null),
            [
                "spec.backoffLimit: Invalid value: -1: must be greater than or equal to 0",
                "spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\""
            ]
        );
        assert_eq!(job(json!("Always")).len(), 2);
        assert_eq!(job(json!("Never")).len(), 1);
        assert!(job(json!("Later"))[1].contains("Unsupported value: \"Later\""));
    }

    #[test]
    fn service_ports_are_required_named_when_several_and_in_range() {
        let errors = |spec: Value| messages(service_spec(&typed(spec)));
        assert_eq!(
            errors(json!({"selector": {"app": "web"}})),
            ["spec.ports: Required value"]
        );
        assert!(errors(json!({"clusterIP": "None"})).is_empty());
        assert_eq!(
            errors(json!({"type": "ExternalName"})),
            ["spec.externalName: Required value"]
        );
        assert_eq!(
            errors(
                json!({"ports": [{"port": 80}, {"port": 0, "name": "b", "targetPort": "Http_1"}],
                "type": "Headless"})
            ),
            [
                "spec.type: Unsupported value: \"Headless\": supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\"",
                "spec.ports[0].name: Required value",
                "spec.ports[1].port: Invalid value: 0: must be between 1 and 65535, inclusive",
                "spec.ports[1].targetPort: Invalid value: \"Http_1\": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
            ]
        );
        assert_eq!(
            errors(json!({"ports": [{"port": 80, "name": "a"}, {"port": 80, "name": "b"}]})),
            ["spec.ports[1]: Duplicate value: {TCP 80}"]
        );
        assert!(errors(json!({"ports": [{"port": 80, "targetPort": 8080}]})).is_empty());
    }

    fn job_object(spec: Value) -> Value {
        json!({"metadata": {"name": "pi", "uid": "u-1"}, "spec": spec})
    }

    fn job_errors(object: &Value) -> Vec<String> {
        messages(job(&typed(object["spec"].clone()), object))
    }

    fn generated_labels() -> Value {
        json!({"batch.kubernetes.io/controller-uid": "u-1", "batch.kubernetes.io/job-name": "pi",
            "controller-uid": "u-1", "job-name": "pi"})
    }

    fn never(labels: Value) -> Value {
        let mut t = template(labels, web());
        t["spec"]["restartPolicy"] = json!("Never");
        t
    }

    // batch/validation ValidateJobSpec: a selector is required and must match the template labels.
    #[test]
    fn job_manual_selector_is_required_and_must_match_template_labels() {
        let object = job_object(json!({"manualSelector": true, "template": never(json!({}))}));
        assert_eq!(
            job_errors(&object),
            [
                "spec.selector: Required value",
                "spec.template.metadata.labels: Invalid value: map[string]string{}: `selector` does not match template `labels`"
            ]
        );
        let object = job_object(json!({"manualSelector": true,
            "selector": {"matchLabels": {"app": "pi"}}, "template": never(json!({"app": "pi"}))}));
        assert!(job_errors(&object).is_empty());
    }

    // batch/validation validateGeneratedSelector: the generated labels and selector.
    #[test]
    fn job_generated_selector_and_labels_must_be_the_jobs() {
        let selector = json!({"matchLabels": {"batch.kubernetes.io/controller-uid": "u-1"}});
        let object =
            job_object(json!({"selector": selector, "template": never(generated_labels())}));
        assert!(job_errors(&object).is_empty(), "{:?}", job_errors(&object));
        let mut labels = generated_labels();
        labels["job-name"] = json!("other");
        labels.as_object_mut().unwrap().remove("controller-uid");
        let object = job_object(json!({"selector": selector, "template": never(labels)}));
        assert_eq!(
            job_errors(&object),
            [
                "spec.template.metadata.labels[controller-uid]: Required value: must be 'u-1'",
                "spec.template.metadata.labels: Invalid value: map[string]string{\"batch.kubernetes.io/controller-uid\":\"u-1\", \"batch.kubernetes.io/job-name\":\"pi\", \"job-name\":\"other\"}: must be 'pi'",
            ]
        );
        let object = job_object(json!({"selector": {"matchLabels": {"app": "pi"}},
            "template": never(json!({"app": "pi"}))}));
        assert!(
            job_errors(&object).iter().any(|e| e == "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"pi\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: `selector` not auto-generated"),
            "{:?}",
            job_errors(&object)
        );
    }

    // apps/validation ValidateStatefulSetSpec: selector required, not empty, matching the template.
    #[test]
    fn stateful_set_needs_a_selector_matching_its_template() {
        let errors = |raw: Value| messages(stateful_set_spec(&typed(raw.clone()), Some(&raw)));
        assert_eq!(
            errors(json!({"template": template(json!({"app": "db"}), web())})),
            [
                "spec.selector: Required value",
                "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"db\"}: `selector` does not match template `labels`"
            ]
        );
        assert_eq!(
            errors(json!({"selector": {}, "template": template(json!({"app": "db"}), web())})),
            ["spec.selector: Invalid value: {}: empty selector is invalid for statefulset"]
        );
        let mut t = template(json!({"app": "db"}), json!([]));
        t["spec"]["activeDeadlineSeconds"] = json!(5);
        assert_eq!(
            errors(json!({"replicas": -1, "podManagementPolicy": "Random",
                "selector": {"matchLabels": {"app": "db"}}, "template": t})),
            [
                "spec.podManagementPolicy: Unsupported value: \"Random\": supported values: \"OrderedReady\", \"Parallel\"",
                "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
                "spec.template.spec.containers: Required value",
                "spec.template.spec.activeDeadlineSeconds: Forbidden: activeDeadlineSeconds in StatefulSet is not Supported",
            ]
        );
    }

    // apps/validation ValidateDaemonSetSpec: the selector must match the template; containers required.
    #[test]
    fn daemon_set_selector_must_match_its_template() {
        let errors = |raw: Value| messages(daemon_set_spec(&typed(raw.clone()), Some(&raw)));
        assert_eq!(
            errors(json!({"template": template(json!({"app": "agent"}), web())})),
            [
                "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"agent\"}: `selector` does not match template `labels`"
            ]
        );
        assert_eq!(
            errors(json!({"selector": {"matchLabels": {"app": "agent"}},
                "template": template(json!({"app": "agent"}), json!([]))})),
            ["spec.template.spec.containers: Required value"]
        );
        assert_eq!(
            errors(json!({"selector": {}, "template": template(json!({"app": "agent"}), web())})),
            ["spec.selector: Invalid value: {}: empty selector is invalid for daemonset"]
        );
    }

    // apps strategies' ValidateUpdate: spec.selector is immutable, printed as Go's %#v.
    #[test]
    fn workload_selector_is_immutable() {
        let old = json!({"selector": {"matchLabels": {"app": "web"}}});
        assert!(selector_update(&old, &old).is_empty());
        let new = json!({"selector": {"matchExpressions": [{"key": "app", "operator": "In", "values": ["web"]}]}});
        assert_eq!(
            messages(selector_update(&new, &old)),
            [
                "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement{v1.LabelSelectorRequirement{Key:\"app\", Operator:\"In\", Values:[]string{\"web\"}}}}: field is immutable"
            ]
        );
    }

    // apps/validation ValidateStatefulSetUpdate: only the listed fields may change.
    #[test]
    fn stateful_set_update_may_change_only_the_listed_fields() {
        let old =
            json!({"replicas": 1, "serviceName": "db", "selector": {"matchLabels": {"app": "db"}}});
        let mut new = old.clone();
        new["replicas"] = json!(3);
        new["minReadySeconds"] = json!(5);
        assert!(stateful_set_spec_update(&new, &old).is_empty());
        new["serviceName"] = json!("other");
        assert_eq!(
            messages(stateful_set_spec_update(&new, &old)),
            [
                "spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"
            ]
        );
    }

    // batch/validation validatePodTemplateUpdate: a suspended Job that never started may change scheduling directives.
    #[test]
    fn suspended_job_template_may_change_only_scheduling_directives() {
        let old = json!({"suspend": true, "template": {"spec": {"containers": [{"name": "c", "image": "a"}]}}});
        let mut new = old.clone();
        new["template"]["spec"]["nodeSelector"] = json!({"zone": "a"});
        new["template"]["metadata"] = json!({"labels": {"x": "y"}});
        assert!(job_spec_update(&new, &old, false).is_empty());
        assert_eq!(
            messages(job_spec_update(&new, &old, true)),
            ["spec.template: Invalid value: core.PodTemplateSpec{...}: field is immutable"]
        );
        new["template"]["spec"]["containers"][0]["image"] = json!("b");
        assert_eq!(job_spec_update(&new, &old, false).len(), 1);
    }

    // core/validation ValidatePodUpdate: what a pod update may change.
    #[test]
    fn pod_update_may_change_images_deadlines_tolerations_and_gates() {
        let old = json!({"containers": [{"name": "c", "image": "a"}], "terminationGracePeriodSeconds": -1,
            "schedulingGates": [{"name": "g"}]});
        let new = json!({"containers": [{"name": "c", "image": "b"}], "terminationGracePeriodSeconds": 1,
            "activeDeadlineSeconds": 10, "tolerations": [{"key": "k"}]});
        assert!(
            pod_spec_update(&new, &old).is_empty(),
            "{:?}",
            pod_spec_update(&new, &old)
        );
        let added =
            json!({"containers": [{"name": "c", "image": "a"}, {"name": "d", "image": "a"}]});
        assert_eq!(
            messages(pod_spec_update(&added, &old)),
            ["spec.containers: Forbidden: pod updates may not add or remove containers"]
        );
        let gated = json!({"containers": [{"name": "c", "image": "a"}], "terminationGracePeriodSeconds": -1,
            "schedulingGates": [{"name": "g"}, {"name": "h"}]});
        assert_eq!(
            messages(pod_spec_update(&gated, &old)),
            [
                "spec.schedulingGates[1].name: Forbidden: only deletion is allowed, but found new scheduling gate 'h'"
            ]
        );
        let with_deadline =
            json!({"containers": [{"name": "c", "image": "a"}], "activeDeadlineSeconds": 5});
        let without = json!({"containers": [{"name": "c", "image": "a"}]});
        assert_eq!(
            messages(pod_spec_update(&without, &with_deadline)),
            [
                "spec.activeDeadlineSeconds: Invalid value: \"null\": must not update from a positive integer to nil value"
            ]
        );
    }

    // apiequality.Semantic.DeepEqual: nil and empty lists and maps are equal.
    #[test]
    fn semantic_equality_treats_missing_and_empty_alike() {
        assert!(semantic_eq(
            Some(&json!({"a": [], "b": {}})),
            Some(&json!({"c": null}))
        ));
        assert!(!semantic_eq(Some(&json!({"a": [1]})), Some(&json!({}))));
        assert!(!semantic_eq(Some(&json!({"a": 0})), None));
    }
}
