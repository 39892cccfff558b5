//! The validation the API server does: names, namespaces, labels and owner
//! references of every object ([`object`]), and the kind-specific validation
//! of the built-in kinds kcheck ships controllers for or that are commonly
//! used (Deployment, ReplicaSet, Pod, Job, Service), after the typed decode
//! of [`super::typed`]. Each check names the Kubernetes function it follows.
//! Failures are 422 Invalid, naming the field.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use k8s_openapi::api::apps::v1::{DeploymentSpec, ReplicaSetSpec};
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

/// The selector of a Deployment or ReplicaSet, as `ValidateDeploymentSpec`
/// and `ValidateReplicaSetSpec` (pkg/apis/apps/validation) check it:
/// required, valid (`ValidateLabelSelector`) and not empty. `Ok(None)` for a
/// missing selector, which (as `LabelSelectorAsSelector` of nil) matches
/// nothing; `Err` for an invalid one, after which Kubernetes does not look at
/// the template's labels.
fn workload_selector(
    selector: Option<&Value>,
    errors: &mut Vec<FieldError>,
) -> Result<Option<LabelSelector>, ()> {
    let Some(raw) = selector.filter(|s| !s.is_null()) else {
        errors.push(FieldError::required("spec.selector"));
        return Ok(None);
    };
    match LabelSelector::from_json(raw) {
        Ok(selector) => {
            if selector.is_everything() {
                // Kubernetes says "deployment" for ReplicaSets too.
                errors.push(FieldError::invalid(
                    "spec.selector",
                    raw,
                    "empty selector is invalid for deployment",
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

/// `ValidatePodTemplateSpecForReplicaSet` (pkg/apis/apps/validation): the
/// selector must match the template's labels, the pod template must be
/// valid, its `restartPolicy` `Always` (left out, it defaults to that) and it
/// may not set `activeDeadlineSeconds`.
fn replica_set_template(
    template: &PodTemplateSpec,
    selector: Option<&LabelSelector>,
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
    if spec.is_some_and(|s| s.active_deadline_seconds.is_some()) {
        errors.push(FieldError::forbidden(
            "spec.template.spec.activeDeadlineSeconds",
            "activeDeadlineSeconds in ReplicaSet is not Supported",
        ));
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
    if let Ok(selector) = workload_selector(raw.and_then(|r| r.get("selector")), &mut errors) {
        replica_set_template(&spec.template, selector.as_ref(), &mut errors);
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
    if let Ok(selector) = workload_selector(raw.and_then(|r| r.get("selector")), &mut errors) {
        let default = PodTemplateSpec::default();
        let template = spec.template.as_ref().unwrap_or(&default);
        replica_set_template(template, selector.as_ref(), &mut errors);
    }
    errors
}

/// `ValidateJobSpec` (pkg/apis/batch/validation): non-negative
/// `parallelism`, `completions`, `activeDeadlineSeconds` and `backoffLimit`,
/// a valid pod template, and `restartPolicy` `OnFailure` or `Never` (left
/// out, it would default to `Always`, which a Job refuses).
pub fn job_spec(spec: &JobSpec) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (value, field) in [
        (spec.parallelism.map(i64::from), "parallelism"),
        (spec.completions.map(i64::from), "completions"),
        (spec.active_deadline_seconds, "activeDeadlineSeconds"),
        (spec.backoff_limit.map(i64::from), "backoffLimit"),
    ] {
        nonnegative(value, || format!("spec.{field}"), &mut errors);
    }
    pod_template(&spec.template, "spec.template", &mut errors);
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
    errors
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
            messages(job_spec(&typed(json!({"template": t, "backoffLimit": -1}))))
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
}
