//! The scenario file, field for field (design section 7, a contract).
//!
//! These types only say what is well-formed JSON for each field: unknown
//! fields and wrong types are rejected here, with the field path, by
//! `serde_path_to_error`. Which combinations make sense (a `patch` action
//! needs a `target`, `stale_at < catch_up_at`, ...) is checked in
//! [`super::validate`] and [`super::objects`]. Every type serializes back to
//! the same JSON, so tools (the hunt planner, tests) can build scenarios as
//! values.

use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::api::Propagation;
use crate::explore::{FindingKind, Mode, Reduction};
use crate::invariants::When;
use crate::staleness::Lag;

/// A whole scenario file. Only `name`, `controllers` and `objects` are
/// required.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    /// The scenario's name (results and traces use it).
    pub name: String,
    /// What the scenario shows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The controllers that run, by registry name, in this order.
    pub controllers: Vec<ControllerEntry>,
    /// The initial cluster: manifests as `kubectl apply` takes them.
    pub objects: Vec<Value>,
    /// What a user does during the run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<ActionSpec>,
    /// How to explore.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub explore: Option<ExploreFile>,
    /// Stale views and injected faults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub perturbations: Option<Perturbations>,
    /// Properties every converged (or every) state must have.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub invariants: Vec<InvariantSpec>,
    /// Fields, per kind, that the converged-state identity leaves out
    /// beyond the default ones (`generation` and its mirrors).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub converged_ignore: Vec<IgnoreSpec>,
    /// The expected result, for regression checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<ExpectFile>,
}

/// One item of `converged_ignore`: fields of one kind that do not tell
/// converged states apart.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IgnoreSpec {
    /// `apps/v1`; optional when the kind name is unambiguous.
    #[serde(
        rename = "apiVersion",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub api_version: Option<String>,
    /// `ReplicaSet` (or `ReplicaSet.apps`).
    pub kind: String,
    /// JSON pointers (RFC 6901), `*` standing for every member or element:
    /// `/metadata/annotations/example.com~1build`.
    pub fields: Vec<String>,
}

/// One item of `controllers`: a registry name, or a name with a config.
#[derive(Clone, Debug, PartialEq)]
pub enum ControllerEntry {
    /// `"replicaset"`.
    Name(String),
    /// `{"name": "replicaset", "config": {...}}`.
    Configured(ControllerSpec),
}

impl ControllerEntry {
    /// The registry name.
    pub fn name(&self) -> &str {
        match self {
            ControllerEntry::Name(name) => name,
            ControllerEntry::Configured(spec) => &spec.name,
        }
    }

    /// The config, if one is given.
    pub fn config(&self) -> Option<&Value> {
        match self {
            ControllerEntry::Name(_) => None,
            ControllerEntry::Configured(spec) => spec.config.as_ref(),
        }
    }
}

/// A controller with a config.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControllerSpec {
    /// The registry name.
    pub name: String,
    /// Controller-specific settings, handed to the registry as they are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<Value>,
}

impl Serialize for ControllerEntry {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            ControllerEntry::Name(name) => s.serialize_str(name),
            ControllerEntry::Configured(spec) => spec.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for ControllerEntry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct EntryVisitor;
        impl<'de> Visitor<'de> for EntryVisitor {
            type Value = ControllerEntry;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a controller name or {\"name\": ..., \"config\": {...}}")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(ControllerEntry::Name(v.to_string()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                ControllerSpec::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(ControllerEntry::Configured)
            }
        }
        d.deserialize_any(EntryVisitor)
    }
}

/// A user action's verb.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verb {
    /// Create an object (`object`).
    Create,
    /// Replace an object (`object`).
    Update,
    /// Patch an object (`target`, `patch`, `patch_type`).
    Patch,
    /// Server-side apply (`object`, `field_manager`, `force`).
    Apply,
    /// Delete an object (`target`, `propagation_policy`).
    Delete,
}

impl Verb {
    /// The verb as the file spells it.
    pub fn name(self) -> &'static str {
        match self {
            Verb::Create => "create",
            Verb::Update => "update",
            Verb::Patch => "patch",
            Verb::Apply => "apply",
            Verb::Delete => "delete",
        }
    }
}

/// How a `patch` action's body is read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PatchType {
    /// JSON merge patch (RFC 7386), the default.
    #[default]
    Merge,
    /// JSON patch (RFC 6902): a list of operations.
    Json,
    /// Strategic merge patch (lists of maps merge by key).
    Strategic,
}

/// Which part of an object a write addresses (an extension of section 7).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SubresourceName {
    /// The main resource, the default.
    #[default]
    Main,
    /// `/status`.
    Status,
}

/// What an action with `after` waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum After {
    /// Nothing is pending: every controller has finished its work.
    Settled,
}

/// One item of `actions`. Which fields a verb takes is checked after
/// parsing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionSpec {
    /// The depth from which the action may happen (default 0). Excludes
    /// `after`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_depth: Option<u32>,
    /// `settled`: the action waits until nothing is pending, whatever the
    /// depth. Excludes `at_depth`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<After>,
    /// What the action does.
    pub verb: Verb,
    /// The manifest (create, update, apply).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<Value>,
    /// The object acted on (patch, delete).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<TargetSpec>,
    /// The patch body (patch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patch: Option<Value>,
    /// How `patch` is read (patch; default merge).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patch_type: Option<PatchType>,
    /// The field manager the write is made as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field_manager: Option<String>,
    /// Take over conflicting fields (apply).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force: Option<bool>,
    /// Propagation policy (delete).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub propagation_policy: Option<Propagation>,
    /// `status` to write the status subresource (update, patch, apply).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subresource: Option<SubresourceName>,
}

/// An object named by kind, namespace and name.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetSpec {
    /// `apps/v1`; optional when the kind name is unambiguous.
    #[serde(
        rename = "apiVersion",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub api_version: Option<String>,
    /// `Deployment` (or `Deployment.apps`).
    pub kind: String,
    /// The namespace; `default` for namespaced kinds when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The object's name.
    pub name: String,
}

/// The `explore` block.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExploreFile {
    /// `reference`, `exhaustive` (default) or `montecarlo`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<Mode>,
    /// Steps after which a path is cut (default 60).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_depth: Option<u32>,
    /// Monte Carlo trials (default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trials: Option<u64>,
    /// Monte Carlo seed (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Partial-order reduction in exhaustive mode: `por` (default) or
    /// `none`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reduction: Option<Reduction>,
}

/// The `perturbations` block.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Perturbations {
    /// Declarative stale views.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub staleness: Vec<StalenessSpec>,
    /// Stale-read search.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stale_reads: Option<StaleReadsSpec>,
    /// Crashes after N writes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub crashes: Vec<CrashFile>,
    /// Faults on a controller's N-th write.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub api_faults: Vec<ApiFaultFile>,
}

/// One stale view.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StalenessSpec {
    /// The controller whose view is stale.
    pub controller: String,
    /// The kind (`Pod`, `Deployment.apps`).
    pub kind: String,
    /// The kind's apiVersion, to disambiguate.
    #[serde(
        rename = "apiVersion",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub api_version: Option<String>,
    /// First kind sequence number of the window.
    pub stale_at: u64,
    /// First kind sequence number after the window.
    pub catch_up_at: u64,
    /// `"frozen"` (default) or a number of events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lag: Option<LagSpec>,
}

/// `lag`: `"frozen"` or a non-negative number of events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LagSpec(pub Lag);

impl Serialize for LagSpec {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> Deserialize<'de> for LagSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct LagVisitor;
        impl Visitor<'_> for LagVisitor {
            type Value = LagSpec;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("\"frozen\" or a non-negative number of events")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<LagSpec, E> {
                if v == "frozen" {
                    Ok(LagSpec(Lag::Frozen))
                } else {
                    Err(E::custom(format!(
                        "lag must be \"frozen\" or a non-negative number of events, not {v:?}"
                    )))
                }
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<LagSpec, E> {
                Ok(LagSpec(Lag::Events(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<LagSpec, E> {
                u64::try_from(v)
                    .map(|n| LagSpec(Lag::Events(n)))
                    .map_err(|_| {
                        E::custom(format!(
                            "lag must be \"frozen\" or a non-negative number of events, not {v}"
                        ))
                    })
            }
        }
        d.deserialize_any(LagVisitor)
    }
}

/// Stale-read search settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaleReadsSpec {
    /// The `(controller, kind)` pairs whose reads may be stale.
    pub targets: Vec<StaleReadTarget>,
    /// How many events back a view may be (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lookback: Option<u64>,
    /// How many stale reconciles one path may take per target (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_restarts: Option<u32>,
}

/// One stale-read target.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaleReadTarget {
    /// The controller.
    pub controller: String,
    /// The kind.
    pub kind: String,
    /// The kind's apiVersion, to disambiguate.
    #[serde(
        rename = "apiVersion",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub api_version: Option<String>,
}

/// A crash after N writes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrashFile {
    /// The controller.
    pub controller: String,
    /// Successful writes of one reconcile before the crash (at least 1).
    pub after_writes: u32,
    /// Fire at most once per path (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub once: Option<bool>,
}

/// The kind of an injected API fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// 409 Conflict; nothing is written.
    Conflict,
    /// 500; nothing is written.
    ServerError,
    /// The write happens; its watch event is lost.
    WatchDrop,
}

/// A fault on a controller's N-th write of a path.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiFaultFile {
    /// The controller whose write fails.
    pub controller: String,
    /// Which of its writes on a path, from 1.
    pub write: u32,
    /// The fault.
    pub fault: FaultKind,
    /// `watch_drop` only: the controller that misses the event (default:
    /// every controller).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watcher: Option<String>,
}

/// The type of an invariant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvariantType {
    /// `target` exists.
    Exists,
    /// `target` does not exist.
    Absent,
    /// The number of objects of `kind` is within bounds.
    Count,
    /// A field of `target` equals `value`.
    FieldEquals,
    /// `target` exists and has nothing at `pointer`.
    FieldAbsent,
    /// Every ownerReference resolves.
    NoOrphans,
    /// Every path converges within `max_depth`.
    Converged,
}

impl InvariantType {
    /// The type as the file spells it.
    pub fn name(self) -> &'static str {
        match self {
            InvariantType::Exists => "exists",
            InvariantType::Absent => "absent",
            InvariantType::Count => "count",
            InvariantType::FieldEquals => "field_equals",
            InvariantType::FieldAbsent => "field_absent",
            InvariantType::NoOrphans => "no_orphans",
            InvariantType::Converged => "converged",
        }
    }
}

/// One item of `invariants`. Which fields a type takes is checked after
/// parsing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InvariantSpec {
    /// The invariant's type.
    #[serde(rename = "type")]
    pub kind_of: InvariantType,
    /// `converged` (default) or `always`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<When>,
    /// The object (exists, absent, field_equals, field_absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<TargetSpec>,
    /// The kind counted (count).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The counted kind's apiVersion (count).
    #[serde(
        rename = "apiVersion",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub api_version: Option<String>,
    /// Count only in this namespace (count; default all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Count only objects with these labels: a label map, or a selector
    /// string such as `app=web,tier in (a,b)` (count).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<Value>,
    /// Exactly this many (count).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub equals: Option<u64>,
    /// At least this many (count).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<u64>,
    /// At most this many (count).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<u64>,
    /// A JSON pointer into the object (field_equals, field_absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pointer: Option<String>,
    /// The expected value, `null` included (field_equals).
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub value: Option<Value>,
}

/// A field that is there, even as `null`.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// The `expect` block as written; hashes are checked after parsing.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectFile {
    /// How many distinct converged states.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub converged_states: Option<usize>,
    /// Their hashes, 64 lowercase hex digits each.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub converged_hashes: Option<Vec<String>>,
    /// How many states the search visits (exhaustive: distinct states), to
    /// catch a change that keeps the hashes but explores differently.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub states: Option<u64>,
    /// The kinds of finding the run is expected to report (a scenario that
    /// demonstrates a bug pins it here); absent: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub findings: Option<Vec<FindingKind>>,
}
