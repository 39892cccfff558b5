//! The checks of a parsed scenario that need more than serde: which fields
//! a verb or invariant type takes, references between sections, bounds.
//! Each check turns its part of the file into what the [`Model`] takes.
//!
//! [`Model`]: crate::model::Model

use std::collections::BTreeMap;

use serde_json::Value;

use crate::api::typed::{self, Checks};
use crate::api::{
    ApiServer, ConvergedMask, DeleteOptions, GroupKind, KindRegistry, LabelSelector, ObjectKey,
    PatchBody, Subresource, WriteRequest, validation,
};
use crate::explore::FindingKind;
use crate::faults::{ApiFaultSpec, CrashSpec, Faults, WriteFault};
use crate::hash::{Digest, FieldMask};
use crate::invariants::{Bounds, Invariant};
use crate::model::{ActionTiming, UserAction};
use crate::staleness::{Lag, StaleReads, Staleness, StalenessInterval};

use super::format::{
    ActionSpec, After, ControllerEntry, ExpectFile, ExploreFile, FaultKind, IgnoreSpec,
    InvariantSpec, InvariantType, PatchType, Perturbations, ScenarioFile, SubresourceName,
    TargetSpec, Verb,
};
use super::kinds::resolve;
use super::objects::{self, Known, check_identity, check_name, place};
use super::{Expect, ExploreSpec, ScenarioError};

/// Everything the model needs, ready to hand over.
#[derive(Clone)]
pub(crate) struct Prepared {
    /// The initial cluster.
    pub server: ApiServer,
    /// User actions, in order.
    pub actions: Vec<UserAction>,
    /// Stale views.
    pub staleness: Staleness,
    /// Injected faults.
    pub faults: Faults,
    /// Invariants.
    pub invariants: Vec<Invariant>,
    /// A `converged` invariant was given.
    pub require_convergence: bool,
    /// What the converged-state identity leaves out.
    pub mask: ConvergedMask,
}

/// Checks a parsed file and prepares the model's parts.
pub(crate) fn prepare(
    file: &ScenarioFile,
) -> Result<(Prepared, ExploreSpec, Option<Expect>), ScenarioError> {
    check_scenario_name(&file.name)?;
    let controllers = check_controllers(&file.controllers)?;
    let seeded = objects::seed(&file.objects)?;
    let mut kinds = seeded.server.kinds().clone();
    let mut known = seeded.known;
    let mut actions = Vec::with_capacity(file.actions.len());
    for (i, a) in file.actions.iter().enumerate() {
        actions.push(action(a, &format!("actions[{i}]"), &mut kinds, &mut known)?);
    }
    let explore = explore(file.explore.as_ref())?;
    let (staleness, faults) = match &file.perturbations {
        Some(p) => perturbations(p, &controllers, &kinds)?,
        None => (Staleness::default(), Faults::default()),
    };
    let mut invariants = Vec::new();
    let mut require_convergence = false;
    for (i, spec) in file.invariants.iter().enumerate() {
        match invariant(spec, &format!("invariants[{i}]"), &kinds)? {
            Some(inv) => invariants.push(inv),
            None => require_convergence = true,
        }
    }
    let mask = converged_mask(&file.converged_ignore, &kinds)?;
    let expect = file.expect.as_ref().map(expect).transpose()?;
    let prepared = Prepared {
        server: seeded.server,
        actions,
        staleness,
        faults,
        invariants,
        require_convergence,
        mask,
    };
    Ok((prepared, explore, expect))
}

/// The `converged_ignore` items as a mask: kinds resolved, pointers parsed.
fn converged_mask(
    specs: &[IgnoreSpec],
    kinds: &KindRegistry,
) -> Result<ConvergedMask, ScenarioError> {
    let mut mask = ConvergedMask::default();
    for (i, spec) in specs.iter().enumerate() {
        let at = format!("converged_ignore[{i}]");
        let kind = resolve(kinds, spec.api_version.as_deref(), &spec.kind, &at)?;
        if spec.fields.is_empty() {
            return Err(ScenarioError::new(
                format!("{at}.fields"),
                "required: at least one JSON pointer",
            ));
        }
        for (j, text) in spec.fields.iter().enumerate() {
            let field = FieldMask::parse(text)
                .map_err(|e| ScenarioError::new(format!("{at}.fields[{j}]"), e.to_string()))?;
            mask.ignore(kind.clone(), field);
        }
    }
    Ok(mask)
}

fn check_scenario_name(name: &str) -> Result<(), ScenarioError> {
    if name.trim().is_empty() {
        return Err(ScenarioError::new("name", "must not be empty"));
    }
    if name
        .chars()
        .any(|c| c.is_control() || c == '/' || c == '\\')
    {
        return Err(ScenarioError::new(
            "name",
            format!(
                "{name:?} must not contain slashes or control characters (trace files are named after it)"
            ),
        ));
    }
    Ok(())
}

/// Checks controller names are non-empty and distinct; returns their
/// indices by name.
fn check_controllers(entries: &[ControllerEntry]) -> Result<Vec<String>, ScenarioError> {
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, entry) in entries.iter().enumerate() {
        let name = entry.name();
        if name.is_empty() {
            return Err(ScenarioError::new(
                format!("controllers[{i}]"),
                "a controller name must not be empty",
            ));
        }
        if let Some(first) = seen.insert(name, i) {
            return Err(ScenarioError::new(
                format!("controllers[{i}]"),
                format!("duplicate controller {name:?} (also controllers[{first}])"),
            ));
        }
    }
    Ok(entries.iter().map(|e| e.name().to_string()).collect())
}

/// Rejects fields a verb or invariant type does not take.
fn only(
    path: &str,
    what: &str,
    allowed: &[&str],
    present: &[(&str, bool)],
) -> Result<(), ScenarioError> {
    for (field, is_present) in present {
        if *is_present && !allowed.contains(field) {
            let takes = if allowed.is_empty() {
                "no other fields".to_string()
            } else {
                allowed.join(", ")
            };
            return Err(ScenarioError::new(
                format!("{path}.{field}"),
                format!("{what} does not take {field} (it takes {takes})"),
            ));
        }
    }
    Ok(())
}

fn required<'a, T>(
    value: Option<&'a T>,
    path: &str,
    field: &str,
    what: &str,
) -> Result<&'a T, ScenarioError> {
    value.ok_or_else(|| {
        ScenarioError::new(format!("{path}.{field}"), format!("required for {what}"))
    })
}

/// The key of a target: kind resolved, namespace defaulted to `default`
/// for namespaced kinds.
fn target(t: &TargetSpec, path: &str, kinds: &KindRegistry) -> Result<ObjectKey, ScenarioError> {
    let kind = resolve(kinds, t.api_version.as_deref(), &t.kind, path)?;
    let info = kinds.get(&kind).expect("resolved kinds are registered");
    let given = t.namespace.as_deref().filter(|s| !s.is_empty());
    let namespace = match (info.namespaced, given) {
        (true, ns) => {
            let ns = ns.unwrap_or("default");
            validation::dns_label(ns).map_err(|e| {
                ScenarioError::new(
                    format!("{path}.namespace"),
                    format!("invalid namespace {ns:?}: {e}"),
                )
            })?;
            Some(ns)
        }
        (false, None) => None,
        (false, Some(ns)) => {
            return Err(ScenarioError::new(
                format!("{path}.namespace"),
                format!("{kind} is cluster-scoped, so it cannot be in namespace {ns:?}"),
            ));
        }
    };
    if t.name.is_empty() {
        return Err(ScenarioError::new(
            format!("{path}.name"),
            "required: a non-empty name",
        ));
    }
    check_name(&kind.kind, &t.name, &format!("{path}.name"))?;
    Ok(ObjectKey::new(kind, namespace, t.name.clone()))
}

fn default_manager(verb: Verb) -> &'static str {
    match verb {
        Verb::Create => "kubectl-create",
        Verb::Update => "kubectl-replace",
        Verb::Patch => "kubectl-patch",
        Verb::Apply | Verb::Delete => "kubectl",
    }
}

fn action(
    a: &ActionSpec,
    path: &str,
    kinds: &mut KindRegistry,
    known: &mut Known,
) -> Result<UserAction, ScenarioError> {
    let timing = match (a.at_depth, a.after) {
        (Some(_), Some(_)) => {
            return Err(ScenarioError::new(
                format!("{path}.after"),
                "at_depth and after exclude each other: an action happens either from a depth or once nothing is pending",
            ));
        }
        (_, Some(After::Settled)) => ActionTiming::Settled,
        (depth, None) => ActionTiming::AtDepth(depth.unwrap_or(0)),
    };
    let verb = a.verb;
    let what = format!("verb {}", verb.name());
    let allowed: &[&str] = match verb {
        Verb::Create => &["object", "field_manager"],
        Verb::Update => &["object", "field_manager", "subresource"],
        Verb::Apply => &["object", "field_manager", "force", "subresource"],
        Verb::Patch => &[
            "target",
            "patch",
            "patch_type",
            "field_manager",
            "subresource",
        ],
        Verb::Delete => &["target", "propagation_policy"],
    };
    only(
        path,
        &what,
        allowed,
        &[
            ("object", a.object.is_some()),
            ("target", a.target.is_some()),
            ("patch", a.patch.is_some()),
            ("patch_type", a.patch_type.is_some()),
            ("field_manager", a.field_manager.is_some()),
            ("force", a.force.is_some()),
            ("propagation_policy", a.propagation_policy.is_some()),
            ("subresource", a.subresource.is_some()),
        ],
    )?;
    if a.field_manager.as_deref() == Some("") {
        return Err(ScenarioError::new(
            format!("{path}.field_manager"),
            "must not be empty",
        ));
    }
    let field_manager = a
        .field_manager
        .clone()
        .unwrap_or_else(|| default_manager(verb).to_string());
    let subresource = match a.subresource.unwrap_or_default() {
        SubresourceName::Main => Subresource::Main,
        SubresourceName::Status => Subresource::Status,
    };
    let check_subresource = |kind: &GroupKind, kinds: &KindRegistry| {
        let has = kinds.get(kind).is_some_and(|i| i.status_subresource);
        if subresource == Subresource::Status && !has {
            Err(ScenarioError::new(
                format!("{path}.subresource"),
                format!("{kind} has no status subresource"),
            ))
        } else {
            Ok(())
        }
    };
    let request = match verb {
        Verb::Create | Verb::Update | Verb::Apply => {
            let opath = format!("{path}.object");
            let mut object = required(a.object.as_ref(), path, "object", &what)?.clone();
            check_identity(&object, &opath, verb == Verb::Create)?;
            let api_version = object["apiVersion"].as_str().unwrap_or("").to_string();
            let kind = object["kind"].as_str().unwrap_or("").to_string();
            let info = match kinds.lookup(&api_version, &kind) {
                Some(info) => info.clone(),
                None => {
                    return Err(resolve(kinds, Some(&api_version), &kind, &opath)
                        .err()
                        .unwrap_or_else(|| {
                            ScenarioError::new(format!("{opath}.kind"), "unknown kind")
                        }));
                }
            };
            check_subresource(&info.group_kind, kinds)?;
            let namespace = place(&mut object, &info, &opath)?;
            let name = object["metadata"]["name"]
                .as_str()
                .unwrap_or("")
                .to_string();
            if !name.is_empty() {
                check_name(&kind, &name, &format!("{opath}.metadata.name"))?;
            }
            if let Some(ns) = &namespace
                && !known.namespaces.contains(ns)
            {
                return Err(objects::missing_namespace(&opath, ns));
            }
            objects::patch_owner_refs(&mut object, &opath, namespace.as_deref(), kinds, known)?;
            // An applied configuration holds only the fields it sets, and a
            // status write only changes status: they are decoded, and
            // validated by the server once merged with the stored object.
            let checks = if verb == Verb::Apply || subresource == Subresource::Status {
                Checks::Decode
            } else {
                Checks::Full
            };
            objects::check_typed(&object, &opath, checks)?;
            if matches!(verb, Verb::Create | Verb::Apply) && !name.is_empty() {
                let key =
                    ObjectKey::new(info.group_kind.clone(), namespace.as_deref(), name.clone());
                let uid = object["metadata"]["uid"].as_str().map(str::to_string);
                known.objects.entry(key).or_insert(uid);
                if info.group_kind == GroupKind::new("", "Namespace") {
                    known.namespaces.insert(name);
                }
                if info.group_kind
                    == GroupKind::new("apiextensions.k8s.io", "CustomResourceDefinition")
                {
                    kinds.register_crd(&object).map_err(|e| {
                        ScenarioError::new(format!("{opath}.{}", e.field), e.reason)
                    })?;
                }
            }
            match verb {
                Verb::Create => WriteRequest::Create { object },
                Verb::Update => WriteRequest::Update {
                    object,
                    subresource,
                },
                _ => WriteRequest::Apply {
                    object,
                    subresource,
                    force: a.force.unwrap_or(false),
                },
            }
        }
        Verb::Patch => {
            let t = required(a.target.as_ref(), path, "target", &what)?;
            let key = target(t, &format!("{path}.target"), kinds)?;
            check_subresource(&key.kind, kinds)?;
            let body = required(a.patch.as_ref(), path, "patch", &what)?;
            let at = format!("{path}.patch");
            let patch = match a.patch_type.unwrap_or_default() {
                PatchType::Merge | PatchType::Strategic if !body.is_object() => {
                    return Err(ScenarioError::new(
                        at,
                        format!(
                            "a merge patch must be a JSON map, not {} (use \"patch_type\": \"json\" for a list of operations)",
                            objects::type_name(body)
                        ),
                    ));
                }
                PatchType::Merge => PatchBody::Merge(body.clone()),
                PatchType::Strategic => PatchBody::Strategic(body.clone()),
                PatchType::Json => {
                    let ops: json_patch::Patch =
                        serde_path_to_error::deserialize(body).map_err(|e| {
                            let sub = typed::field_path(e.path());
                            let at = if sub.starts_with('[') || sub.is_empty() {
                                format!("{at}{sub}")
                            } else {
                                format!("{at}.{sub}")
                            };
                            ScenarioError::new(
                                at,
                                format!("not a JSON patch (RFC 6902): {}", e.into_inner()),
                            )
                        })?;
                    PatchBody::Json(ops)
                }
            };
            WriteRequest::Patch {
                key,
                patch,
                subresource,
            }
        }
        Verb::Delete => {
            let t = required(a.target.as_ref(), path, "target", &what)?;
            let key = target(t, &format!("{path}.target"), kinds)?;
            WriteRequest::Delete {
                key,
                options: DeleteOptions {
                    propagation: a.propagation_policy,
                    ..DeleteOptions::default()
                },
            }
        }
    };
    Ok(UserAction {
        timing,
        request,
        field_manager,
    })
}

fn explore(e: Option<&ExploreFile>) -> Result<ExploreSpec, ScenarioError> {
    let mut spec = ExploreSpec::default();
    let Some(e) = e else { return Ok(spec) };
    if e.max_depth == Some(0) {
        return Err(ScenarioError::new(
            "explore.max_depth",
            "must be at least 1",
        ));
    }
    if e.trials == Some(0) {
        return Err(ScenarioError::new("explore.trials", "must be at least 1"));
    }
    spec.mode = e.mode.unwrap_or(spec.mode);
    spec.max_depth = e.max_depth.unwrap_or(spec.max_depth);
    spec.trials = e.trials.unwrap_or(spec.trials);
    spec.seed = e.seed.unwrap_or(spec.seed);
    spec.reduction = e.reduction.unwrap_or(spec.reduction);
    Ok(spec)
}

fn controller_index(
    name: &str,
    at: String,
    controllers: &[String],
) -> Result<usize, ScenarioError> {
    controllers.iter().position(|c| c == name).ok_or_else(|| {
        ScenarioError::new(
            at,
            format!(
                "controller {name:?} is not in this scenario's controllers ({})",
                if controllers.is_empty() {
                    "none".to_string()
                } else {
                    controllers.join(", ")
                }
            ),
        )
    })
}

fn perturbations(
    p: &Perturbations,
    controllers: &[String],
    kinds: &KindRegistry,
) -> Result<(Staleness, Faults), ScenarioError> {
    let mut staleness = Staleness::default();
    for (i, s) in p.staleness.iter().enumerate() {
        let path = format!("perturbations.staleness[{i}]");
        let controller =
            controller_index(&s.controller, format!("{path}.controller"), controllers)?;
        let kind = resolve(kinds, s.api_version.as_deref(), &s.kind, &path)?;
        if s.stale_at >= s.catch_up_at {
            return Err(ScenarioError::new(
                format!("{path}.catch_up_at"),
                format!(
                    "must be greater than stale_at ({}), not {}: the window [stale_at, catch_up_at) would be empty",
                    s.stale_at, s.catch_up_at
                ),
            ));
        }
        staleness.intervals.push(StalenessInterval {
            controller,
            kind,
            stale_at: s.stale_at,
            catch_up_at: s.catch_up_at,
            lag: s.lag.map(|l| l.0).unwrap_or(Lag::Frozen),
        });
    }
    if let Some(r) = &p.stale_reads {
        let path = "perturbations.stale_reads";
        if r.targets.is_empty() {
            return Err(ScenarioError::new(
                format!("{path}.targets"),
                "needs at least one {controller, kind} target",
            ));
        }
        let mut targets = Vec::new();
        for (i, t) in r.targets.iter().enumerate() {
            let at = format!("{path}.targets[{i}]");
            let controller =
                controller_index(&t.controller, format!("{at}.controller"), controllers)?;
            let kind = resolve(kinds, t.api_version.as_deref(), &t.kind, &at)?;
            if targets.contains(&(controller, kind.clone())) {
                return Err(ScenarioError::new(at, "duplicate target"));
            }
            targets.push((controller, kind));
        }
        if r.lookback == Some(0) {
            return Err(ScenarioError::new(
                format!("{path}.lookback"),
                "must be at least 1",
            ));
        }
        staleness.stale_reads = Some(StaleReads {
            targets,
            lookback: r.lookback.unwrap_or(1),
            max_restarts: r.max_restarts.unwrap_or(1),
        });
    }
    let mut faults = Faults::default();
    for (i, c) in p.crashes.iter().enumerate() {
        let path = format!("perturbations.crashes[{i}]");
        let controller =
            controller_index(&c.controller, format!("{path}.controller"), controllers)?;
        if c.after_writes == 0 {
            return Err(ScenarioError::new(
                format!("{path}.after_writes"),
                "must be at least 1 (a crash before any write is a reconcile that did nothing)",
            ));
        }
        faults.crashes.push(CrashSpec {
            controller,
            after_writes: c.after_writes,
            once: c.once.unwrap_or(true),
        });
    }
    let mut seen: BTreeMap<(usize, u32), usize> = BTreeMap::new();
    for (i, f) in p.api_faults.iter().enumerate() {
        let path = format!("perturbations.api_faults[{i}]");
        let controller =
            controller_index(&f.controller, format!("{path}.controller"), controllers)?;
        if f.write == 0 {
            return Err(ScenarioError::new(
                format!("{path}.write"),
                "must be at least 1 (writes are counted from 1)",
            ));
        }
        if let Some(first) = seen.insert((controller, f.write), i) {
            return Err(ScenarioError::new(
                path,
                format!(
                    "duplicate: api_faults[{first}] already faults write {} of {:?}",
                    f.write, f.controller
                ),
            ));
        }
        let fault = match (f.fault, &f.watcher) {
            (FaultKind::Conflict, None) => WriteFault::Conflict,
            (FaultKind::ServerError, None) => WriteFault::ServerError,
            (FaultKind::WatchDrop, watcher) => {
                if let Some(w) = watcher {
                    controller_index(w, format!("{path}.watcher"), controllers)?;
                }
                WriteFault::WatchDrop {
                    watcher: watcher.clone(),
                }
            }
            (_, Some(_)) => {
                return Err(ScenarioError::new(
                    format!("{path}.watcher"),
                    "only a watch_drop fault takes a watcher",
                ));
            }
        };
        faults.api_faults.push(ApiFaultSpec {
            controller,
            write: f.write,
            fault,
        });
    }
    Ok((staleness, faults))
}

/// Checks one invariant; `None` stands for `converged`.
fn invariant(
    spec: &InvariantSpec,
    path: &str,
    kinds: &KindRegistry,
) -> Result<Option<Invariant>, ScenarioError> {
    let ty = spec.kind_of;
    let what = format!("invariant type {}", ty.name());
    let allowed: &[&str] = match ty {
        InvariantType::Exists | InvariantType::Absent => &["when", "target"],
        InvariantType::Count => &[
            "when",
            "kind",
            "apiVersion",
            "namespace",
            "selector",
            "equals",
            "min",
            "max",
        ],
        InvariantType::FieldEquals => &["when", "target", "pointer", "value"],
        InvariantType::FieldAbsent => &["when", "target", "pointer"],
        InvariantType::NoOrphans => &["when"],
        InvariantType::Converged => &[],
    };
    only(
        path,
        &what,
        allowed,
        &[
            ("when", spec.when.is_some()),
            ("target", spec.target.is_some()),
            ("kind", spec.kind.is_some()),
            ("apiVersion", spec.api_version.is_some()),
            ("namespace", spec.namespace.is_some()),
            ("selector", spec.selector.is_some()),
            ("equals", spec.equals.is_some()),
            ("min", spec.min.is_some()),
            ("max", spec.max.is_some()),
            ("pointer", spec.pointer.is_some()),
            ("value", spec.value.is_some()),
        ],
    )?;
    let when = spec.when.unwrap_or_default();
    let target_key = |kinds: &KindRegistry| -> Result<ObjectKey, ScenarioError> {
        let t = required(spec.target.as_ref(), path, "target", &what)?;
        target(t, &format!("{path}.target"), kinds)
    };
    let pointer = || -> Result<String, ScenarioError> {
        let pointer = required(spec.pointer.as_ref(), path, "pointer", &what)?;
        if !pointer.starts_with('/') {
            return Err(ScenarioError::new(
                format!("{path}.pointer"),
                format!(
                    "a JSON pointer must start with \"/\", like \"/spec/replicas\", not {pointer:?}"
                ),
            ));
        }
        Ok(pointer.clone())
    };
    Ok(Some(match ty {
        InvariantType::Exists => Invariant::exists(target_key(kinds)?, when),
        InvariantType::Absent => Invariant::absent(target_key(kinds)?, when),
        InvariantType::FieldEquals => {
            let key = target_key(kinds)?;
            let pointer = pointer()?;
            let value = required(spec.value.as_ref(), path, "value", &what)?;
            Invariant::field_equals(key, pointer, value.clone(), when)
        }
        InvariantType::FieldAbsent => Invariant::field_absent(target_key(kinds)?, pointer()?, when),
        InvariantType::NoOrphans => Invariant::no_orphans(when),
        InvariantType::Converged => return Ok(None),
        InvariantType::Count => {
            let kind_name = required(spec.kind.as_ref(), path, "kind", &what)?;
            let kind = resolve(kinds, spec.api_version.as_deref(), kind_name, path)?;
            let namespaced = kinds.get(&kind).is_some_and(|i| i.namespaced);
            let namespace = spec.namespace.clone().filter(|s| !s.is_empty());
            if let Some(ns) = &namespace {
                if !namespaced {
                    return Err(ScenarioError::new(
                        format!("{path}.namespace"),
                        format!(
                            "{kind} is cluster-scoped, so it cannot be counted in namespace {ns:?}"
                        ),
                    ));
                }
                validation::dns_label(ns).map_err(|e| {
                    ScenarioError::new(
                        format!("{path}.namespace"),
                        format!("invalid namespace {ns:?}: {e}"),
                    )
                })?;
            }
            let selector = match &spec.selector {
                None => LabelSelector::everything(),
                Some(v) => selector(v, &format!("{path}.selector"))?,
            };
            let bounds = Bounds {
                equals: spec.equals,
                min: spec.min,
                max: spec.max,
            };
            if bounds == Bounds::default() {
                return Err(ScenarioError::new(
                    path,
                    "a count invariant needs a bound: equals, min or max",
                ));
            }
            if bounds.equals.is_some() && (bounds.min.is_some() || bounds.max.is_some()) {
                return Err(ScenarioError::new(
                    format!("{path}.equals"),
                    "equals cannot be combined with min or max",
                ));
            }
            if let (Some(min), Some(max)) = (bounds.min, bounds.max)
                && min > max
            {
                return Err(ScenarioError::new(
                    format!("{path}.min"),
                    format!("min ({min}) is greater than max ({max})"),
                ));
            }
            Invariant::count(kind, namespace, selector, bounds, when)
        }
    }))
}

/// A label map, or a selector string such as `app=web,tier in (a,b)`.
fn selector(v: &Value, at: &str) -> Result<LabelSelector, ScenarioError> {
    match v {
        Value::String(s) => LabelSelector::parse(s)
            .map_err(|e| ScenarioError::new(at, format!("invalid label selector {s:?}: {e}"))),
        Value::Object(map) => {
            let mut labels = Vec::new();
            for (k, value) in map {
                let field = format!("{at}.{k}");
                let Some(value) = value.as_str() else {
                    return Err(ScenarioError::new(
                        field,
                        format!(
                            "a label value must be a string, not {}",
                            objects::type_name(value)
                        ),
                    ));
                };
                validation::label_key(k).map_err(|e| {
                    ScenarioError::new(field.clone(), format!("invalid label key {k:?}: {e}"))
                })?;
                validation::label_value(value).map_err(|e| {
                    ScenarioError::new(field.clone(), format!("invalid label value {value:?}: {e}"))
                })?;
                labels.push((k.as_str(), value));
            }
            Ok(LabelSelector::from_labels(labels))
        }
        other => Err(ScenarioError::new(
            at,
            format!(
                "a selector must be a label map or a selector string, not {}",
                objects::type_name(other)
            ),
        )),
    }
}

fn expect(e: &ExpectFile) -> Result<Expect, ScenarioError> {
    let hashes = match &e.converged_hashes {
        None => None,
        Some(list) => {
            let mut out: Vec<Digest> = Vec::with_capacity(list.len());
            for (i, h) in list.iter().enumerate() {
                let at = format!("expect.converged_hashes[{i}]");
                let lower_hex = h.len() == 64
                    && h.bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
                let digest = Digest::from_hex(h).filter(|_| lower_hex).ok_or_else(|| {
                    ScenarioError::new(
                        at.clone(),
                        format!("a hash must be 64 lowercase hex digits, not {h:?}"),
                    )
                })?;
                if let Some(first) = out.iter().position(|d| *d == digest) {
                    return Err(ScenarioError::new(
                        at,
                        format!("repeats converged_hashes[{first}]"),
                    ));
                }
                out.push(digest);
            }
            Some(out)
        }
    };
    if let (Some(n), Some(h)) = (e.converged_states, &hashes)
        && n != h.len()
    {
        return Err(ScenarioError::new(
            "expect.converged_states",
            format!("is {n} but converged_hashes lists {} hashes", h.len()),
        ));
    }
    let mut findings: Vec<FindingKind> = Vec::new();
    for (i, kind) in e.findings.iter().flatten().enumerate() {
        if let Some(first) = findings.iter().position(|k| k == kind) {
            return Err(ScenarioError::new(
                format!("expect.findings[{i}]"),
                format!("repeats findings[{first}]"),
            ));
        }
        findings.push(kind.clone());
    }
    findings.sort();
    Ok(Expect {
        converged_states: e.converged_states,
        converged_hashes: hashes,
        states: e.states,
        findings,
    })
}
