//! Server-side apply (SSA): field ownership and merging, after Kubernetes'
//! structured-merge-diff.
//!
//! The model in a few lines:
//! - A [`FieldSet`] is a set of paths into an object. A path is a list of steps: a map field
//!   (`f:replicas`), a list-map item picked by its key fields (`k:{"name":"web"}`) or a set
//!   item picked by its value (`v:"x"`). Scalars and atomic lists are owned as leaves, list
//!   items are owned as a whole as well (FieldsV1's `.` marker), maps themselves never are.
//! - [`ManagedFields`] says which manager owns which paths; it is stored in
//!   `metadata.managedFields` as Kubernetes stores it.
//! - [`apply`] merges an applied configuration into the live object, refuses to change fields
//!   other managers own (unless forced), and removes the fields the applier stopped applying
//!   that nobody else owns. [`record_update`] does the bookkeeping of create, update and patch.
//! - How lists merge comes from [`ListRules`].
//!
//! Where it knowingly differs from Kubernetes:
//! - managedFields entries carry no `time` (kcheck's time is logical), and `apiVersion` is
//!   recorded but never converted: a manager is identified by (manager, operation,
//!   subresource) only.
//! - List rules come from field names plus per-path overrides, not from OpenAPI schemas. Maps
//!   are always merged field by field (no `x-kubernetes-map-type: atomic`, so e.g.
//!   `spec.selector` merges per field).
//! - `null` values in an applied configuration are ignored: neither set nor owned.
//! - `metadata.generateName` is owned like any other field (as in Kubernetes); the identity
//!   and server fields listed at [`FieldSet::from_object`] never are.
//! - Lists that break their own rules in a stored object (a list-map item without its key,
//!   duplicate keys) are treated as atomic there; in an applied configuration they are
//!   [`ApplyError::Invalid`].
//! - New list-map and set items go after the existing ones, in the applied order.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::Bound;
use std::sync::Arc;

use serde_json::{Map, Value};

// ---------------------------------------------------------------------------------------------
// List rules
// ---------------------------------------------------------------------------------------------

/// How a list at some field path merges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListType {
    /// replaced whole; owned as one leaf
    Atomic,
    /// a set of scalars (e.g. metadata.finalizers); each element owned separately
    Set,
    /// a list of maps merged by these key fields (e.g. containers by name)
    Map(Vec<String>),
}

/// The list-merge rules of one kind: built-in Kubernetes defaults plus per-path overrides
/// (from a CRD's x-kubernetes-list-map-keys / x-kubernetes-list-type).
///
/// `ListRules::default()` has no built-in rules: every list not overridden is atomic.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListRules {
    defaults: Defaults,
    overrides: BTreeMap<String, ListType>,
}

/// Where the rules of lists without an override come from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Defaults {
    /// Every list is atomic.
    #[default]
    Atomic,
    /// Kubernetes' rules for the core kinds, by field name.
    Builtin,
    /// Only `metadata`'s rules: a custom resource's other lists merge as
    /// its CRD's schema says, and are atomic without a schema rule.
    ObjectMeta,
}

/// The list fields that hold containers.
const CONTAINER_LISTS: [&str; 3] = ["containers", "initContainers", "ephemeralContainers"];

impl ListRules {
    /// Kubernetes' rules for the core kinds, keyed by the list field's name:
    /// - `containers`, `initContainers`, `ephemeralContainers`, `env`, `volumes`,
    ///   `imagePullSecrets`: `Map(name)`;
    /// - `ports` inside a container: `Map(containerPort, protocol)`; Service `spec.ports`:
    ///   `Map(port, protocol)` (for both, a missing protocol counts as "TCP" in keys);
    /// - `volumeMounts`: `Map(mountPath)`; `volumeDevices`: `Map(devicePath)`;
    ///   `conditions`: `Map(type)`; `hostAliases`: `Map(ip)`;
    ///   `topologySpreadConstraints`: `Map(topologyKey, whenUnsatisfiable)`;
    /// - `metadata.finalizers`: `Set`; `metadata.ownerReferences`: `Map(uid)`;
    /// - everything else (e.g. `envFrom`, `args`): `Atomic`.
    pub fn builtin() -> Self {
        Self {
            defaults: Defaults::Builtin,
            overrides: BTreeMap::new(),
        }
    }

    /// The rules of a custom resource before its schema's overrides:
    /// `metadata.finalizers` is a `Set` and `metadata.ownerReferences` a
    /// `Map(uid)`, as `ObjectMeta` declares them; every other list is atomic
    /// unless the CRD's schema says otherwise (`x-kubernetes-list-type`),
    /// whatever its name.
    pub fn custom() -> Self {
        Self {
            defaults: Defaults::ObjectMeta,
            overrides: BTreeMap::new(),
        }
    }

    /// Overrides the list type at a dotted field path such as "spec.items" or
    /// "spec.template.spec.ports" (list elements do not appear in the path). Overrides win
    /// over the name-based defaults.
    #[must_use]
    pub fn with_path(mut self, path: &str, list_type: ListType) -> Self {
        self.overrides.insert(path.to_owned(), list_type);
        self
    }

    /// The list type of the list at this field path (field names only, e.g.
    /// `["spec", "template", "spec", "containers"]`).
    pub fn list_type(&self, path: &[&str]) -> ListType {
        if let Some(list_type) = self.overridden(path) {
            return list_type.clone();
        }
        match self.defaults {
            Defaults::Builtin => builtin_list_type(path),
            Defaults::ObjectMeta if path.first() == Some(&"metadata") => builtin_list_type(path),
            Defaults::ObjectMeta | Defaults::Atomic => ListType::Atomic,
        }
    }

    /// The override at this field path, if any.
    fn overridden(&self, path: &[&str]) -> Option<&ListType> {
        if self.overrides.is_empty() {
            return None;
        }
        self.overrides.get(&path.join("."))
    }

    /// The value a missing key field stands for when comparing keys: only the built-in port
    /// rules have one (protocol "TCP").
    fn key_default(&self, path: &[&str], field: &str) -> Option<Value> {
        let builtin_ports = self.defaults == Defaults::Builtin
            && path.last() == Some(&"ports")
            && self.overridden(path).is_none();
        (builtin_ports && field == "protocol").then(|| Value::from("TCP"))
    }
}

/// Kubernetes' list type for the core kinds, by the list field's name.
fn builtin_list_type(path: &[&str]) -> ListType {
    let map = |keys: &[&str]| ListType::Map(keys.iter().map(|key| (*key).to_owned()).collect());
    let Some((&name, parents)) = path.split_last() else {
        return ListType::Atomic;
    };
    match name {
        "containers" | "initContainers" | "ephemeralContainers" => map(&["name"]),
        "env" | "volumes" | "imagePullSecrets" => map(&["name"]),
        "ports" if parents.last().is_some_and(|p| CONTAINER_LISTS.contains(p)) => {
            map(&["containerPort", "protocol"])
        }
        "ports" if parents == ["spec"] => map(&["port", "protocol"]),
        "volumeMounts" => map(&["mountPath"]),
        "volumeDevices" => map(&["devicePath"]),
        "conditions" => map(&["type"]),
        "hostAliases" => map(&["ip"]),
        "topologySpreadConstraints" => map(&["topologyKey", "whenUnsatisfiable"]),
        "finalizers" if parents == ["metadata"] => ListType::Set,
        "ownerReferences" if parents == ["metadata"] => map(&["uid"]),
        _ => ListType::Atomic,
    }
}

// ---------------------------------------------------------------------------------------------
// Paths
// ---------------------------------------------------------------------------------------------

/// One step of a field path.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Step {
    /// A map field, by name.
    Field(String),
    /// A list-map item, by its key fields: (field name, value as compact JSON), sorted by name.
    Key(Vec<(String, String)>),
    /// A set item, by its value as compact JSON.
    SetItem(String),
}

/// A path from the root of an object.
type Path = Vec<Step>;

impl Step {
    /// The step as a FieldsV1 object key: `f:name`, `k:{"name":"web"}`, `v:"x"`.
    fn fields_v1_key(&self) -> String {
        match self {
            Step::Field(name) => format!("f:{name}"),
            Step::Key(fields) => {
                let body: Vec<String> = fields
                    .iter()
                    .map(|(name, value)| format!("{}:{value}", Value::from(name.as_str())))
                    .collect();
                format!("k:{{{}}}", body.join(","))
            }
            Step::SetItem(value) => format!("v:{value}"),
        }
    }

    /// Parses a FieldsV1 object key.
    fn parse(key: &str) -> Result<Self, ApplyError> {
        if let Some(name) = key.strip_prefix("f:") {
            return Ok(Step::Field(name.to_owned()));
        }
        if let Some(json) = key.strip_prefix("k:") {
            let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(json) else {
                return Err(invalid(format!("malformed FieldsV1 key {key:?}")));
            };
            let mut key_fields = Vec::new();
            for (name, value) in &fields {
                if !is_scalar(value) {
                    return Err(invalid(format!("malformed FieldsV1 key {key:?}")));
                }
                key_fields.push((name.clone(), value.to_string()));
            }
            key_fields.sort();
            return Ok(Step::Key(key_fields));
        }
        if let Some(json) = key.strip_prefix("v:") {
            return match serde_json::from_str::<Value>(json) {
                Ok(value) if is_scalar(&value) => Ok(Step::SetItem(value.to_string())),
                _ => Err(invalid(format!("malformed FieldsV1 value {key:?}"))),
            };
        }
        Err(invalid(format!(
            "unsupported FieldsV1 path element {key:?}"
        )))
    }
}

/// Human-readable form, as Kubernetes prints conflicts: `.image`, `[name="web"]`, `[="x"]`.
impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Field(name) => write!(f, ".{name}"),
            Step::Key(fields) => {
                let body: Vec<String> = fields
                    .iter()
                    .map(|(name, value)| format!("{name}={value}"))
                    .collect();
                write!(f, "[{}]", body.join(","))
            }
            Step::SetItem(value) => write!(f, "[={value}]"),
        }
    }
}

/// A path as Kubernetes prints it, e.g. `.spec.containers[name="web"].image`.
fn display_path(path: &[Step]) -> String {
    path.iter().map(Step::to_string).collect()
}

/// Strings, numbers and booleans: the values that can be keys and set items.
fn is_scalar(value: &Value) -> bool {
    matches!(value, Value::String(_) | Value::Number(_) | Value::Bool(_))
}

/// Identity and server fields, which nobody owns and apply never sets.
fn is_unowned_field(names: &[&str]) -> bool {
    const SERVER_METADATA: [&str; 10] = [
        "name",
        "namespace",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "managedFields",
        "selfLink",
    ];
    match names {
        [top] => *top == "apiVersion" || *top == "kind",
        ["metadata", field] => SERVER_METADATA.contains(field),
        _ => false,
    }
}

/// The key step of a list-map item, or why it has none.
fn item_key(
    item: &Value,
    keys: &[String],
    rules: &ListRules,
    names: &[&str],
) -> Result<Step, String> {
    let Value::Object(map) = item else {
        return Err("list items must be objects".to_owned());
    };
    let mut fields = Vec::with_capacity(keys.len());
    for key in keys {
        let value = match map.get(key).filter(|value| !value.is_null()) {
            Some(value) if is_scalar(value) => value.clone(),
            Some(_) => return Err(format!("key field {key:?} must be a scalar")),
            None => rules
                .key_default(names, key)
                .ok_or_else(|| format!("list item is missing key field {key:?}"))?,
        };
        fields.push((key.clone(), value.to_string()));
    }
    fields.sort();
    Ok(Step::Key(fields))
}

/// The steps of every item of a list-map, or why the list breaks its rule.
fn keyed_item_steps(
    items: &[Value],
    keys: &[String],
    rules: &ListRules,
    names: &[&str],
) -> Result<Vec<Step>, String> {
    let steps = items
        .iter()
        .map(|item| item_key(item, keys, rules, names))
        .collect::<Result<Vec<_>, _>>()?;
    unique(steps)
}

/// The steps of every item of a set, or why the list breaks its rule.
fn set_item_steps(items: &[Value]) -> Result<Vec<Step>, String> {
    let steps = items
        .iter()
        .map(|item| set_item_step(item).ok_or_else(|| "set items must be scalars".to_owned()))
        .collect::<Result<Vec<_>, _>>()?;
    unique(steps)
}

/// The step of a set item, if it is a scalar.
fn set_item_step(item: &Value) -> Option<Step> {
    is_scalar(item).then(|| Step::SetItem(item.to_string()))
}

/// The steps, if no two are equal.
fn unique(steps: Vec<Step>) -> Result<Vec<Step>, String> {
    let mut seen = BTreeSet::new();
    match steps.iter().find(|step| !seen.insert(*step)) {
        Some(duplicate) => Err(format!("duplicate entries for key {duplicate}")),
        None => Ok(steps),
    }
}

/// The index of the item a key or set step picks in a list (`names`: the list's field path).
fn find_item(items: &[Value], step: &Step, names: &[&str], rules: &ListRules) -> Option<usize> {
    match step {
        Step::Field(_) => None,
        Step::SetItem(_) => items
            .iter()
            .position(|item| set_item_step(item).as_ref() == Some(step)),
        Step::Key(_) => {
            let ListType::Map(keys) = rules.list_type(names) else {
                return None;
            };
            items
                .iter()
                .position(|item| item_key(item, &keys, rules, names).is_ok_and(|k| k == *step))
        }
    }
}

/// The value at `path` in `root`, if there is one.
fn lookup<'v>(root: &'v Value, path: &[Step], rules: &ListRules) -> Option<&'v Value> {
    let mut names: Vec<&str> = Vec::new();
    let mut current = root;
    for step in path {
        current = match step {
            Step::Field(name) => {
                names.push(name);
                current.as_object()?.get(name)?
            }
            _ => {
                let items = current.as_array()?;
                &items[find_item(items, step, &names, rules)?]
            }
        };
    }
    Some(current)
}

/// The value at `path` in `root`, mutably, if there is one.
fn lookup_mut<'v>(root: &'v mut Value, path: &[Step], rules: &ListRules) -> Option<&'v mut Value> {
    let mut names: Vec<&str> = Vec::new();
    let mut current = root;
    for step in path {
        current = match step {
            Step::Field(name) => {
                names.push(name);
                current.as_object_mut()?.get_mut(name)?
            }
            _ => {
                let items = current.as_array_mut()?;
                let index = find_item(items, step, &names, rules)?;
                &mut items[index]
            }
        };
    }
    Some(current)
}

/// The field names along a path (what [`ListRules::list_type`] takes).
fn field_names(path: &[Step]) -> Vec<&str> {
    path.iter()
        .filter_map(|step| match step {
            Step::Field(name) => Some(name.as_str()),
            _ => None,
        })
        .collect()
}

/// Removes the value at `path`; true when there was one.
fn remove_path(root: &mut Value, path: &[Step], rules: &ListRules) -> bool {
    let Some((last, parent_path)) = path.split_last() else {
        return false;
    };
    let names = field_names(parent_path);
    match (last, lookup_mut(root, parent_path, rules)) {
        (Step::Field(name), Some(Value::Object(map))) => map.remove(name).is_some(),
        (step, Some(Value::Array(items))) => match find_item(items, step, &names, rules) {
            Some(index) => {
                items.remove(index);
                true
            }
            None => false,
        },
        _ => false,
    }
}

// ---------------------------------------------------------------------------------------------
// Field sets
// ---------------------------------------------------------------------------------------------

/// A set of field paths, serialisable as Kubernetes' FieldsV1 JSON
/// (`{"f:spec":{"f:replicas":{}}}`, list-map items as `k:{"name":"web"}`, set items as
/// `v:"value"`, the `.` marker for an item or map that is itself owned).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSet {
    paths: BTreeSet<Path>,
}

impl FieldSet {
    /// The fields an object (or applied configuration) sets, under the given list rules:
    /// every scalar and atomic list (as a leaf), every list-map and set item (as a whole and,
    /// for list-map items, field by field); maps themselves are not owned, `null`s are
    /// skipped. Identity and server fields are never owned: apiVersion, kind, metadata.name,
    /// metadata.namespace, metadata.uid, metadata.resourceVersion, metadata.generation,
    /// metadata.creationTimestamp, metadata.deletionTimestamp,
    /// metadata.deletionGracePeriodSeconds, metadata.selfLink, metadata.managedFields.
    /// Everything else (generateName, labels, annotations, finalizers, ownerReferences,
    /// spec, status, data, ...) is. A list that breaks its rule is owned as an atomic leaf.
    pub fn from_object(object: &Value, rules: &ListRules) -> Self {
        let mut collector = Collector::new(rules, false);
        if let Value::Object(map) = object {
            collector.map(map, &mut Vec::new(), &mut Vec::new());
        }
        Self {
            paths: collector.paths,
        }
    }

    /// Like [`FieldSet::from_object`], but a list that breaks its rule is an error.
    fn from_config(config: &Value, rules: &ListRules) -> Result<Self, ApplyError> {
        let mut collector = Collector::new(rules, true);
        if let Value::Object(map) = config {
            collector.map(map, &mut Vec::new(), &mut Vec::new());
        }
        if collector.errors.is_empty() {
            Ok(Self {
                paths: collector.paths,
            })
        } else {
            Err(invalid(collector.errors.join("; ")))
        }
    }

    /// FieldsV1 JSON form.
    pub fn to_fields_v1(&self) -> Value {
        let mut root = FieldsNode::default();
        for path in &self.paths {
            root.insert(path);
        }
        root.to_json()
    }

    /// Parses the FieldsV1 JSON form.
    pub fn from_fields_v1(v: &Value) -> Result<Self, ApplyError> {
        let mut paths = BTreeSet::new();
        parse_fields_v1(v, &mut Vec::new(), &mut paths)?;
        Ok(Self { paths })
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }

    fn contains(&self, path: &[Step]) -> bool {
        self.paths.contains(path)
    }

    /// True when the set holds `path` or a path below it.
    fn covers(&self, path: &[Step]) -> bool {
        self.paths
            .range::<[Step], _>((Bound::Included(path), Bound::Unbounded))
            .next()
            .is_some_and(|first| first.starts_with(path))
    }

    fn union_with(&mut self, other: &FieldSet) {
        self.paths.extend(other.paths.iter().cloned());
    }

    fn remove_all(&mut self, other: &FieldSet) {
        self.paths.retain(|path| !other.paths.contains(path));
    }

    /// Drops the paths a manager loses in `diff`.
    fn forget(&mut self, diff: &Diff) {
        self.paths.retain(|path| !diff.drops(path));
    }

    fn retain_within(&mut self, other: &FieldSet) {
        self.paths.retain(|path| other.paths.contains(path));
    }

    fn difference(&self, other: &FieldSet) -> FieldSet {
        let paths = self.paths.difference(&other.paths).cloned().collect();
        FieldSet { paths }
    }
}

/// Walks an object and collects the paths it sets.
struct Collector<'r> {
    rules: &'r ListRules,
    /// Whether lists breaking their rule are errors (applied configurations) or atomic.
    strict: bool,
    paths: BTreeSet<Path>,
    errors: Vec<String>,
}

impl<'r> Collector<'r> {
    fn new(rules: &'r ListRules, strict: bool) -> Self {
        Self {
            rules,
            strict,
            paths: BTreeSet::new(),
            errors: Vec::new(),
        }
    }

    fn value<'v>(&mut self, value: &'v Value, path: &mut Path, names: &mut Vec<&'v str>) {
        match value {
            Value::Object(map) => self.map(map, path, names),
            Value::Array(items) => self.list(items, path, names),
            Value::Null => {}
            _ => {
                self.paths.insert(path.clone());
            }
        }
    }

    fn map<'v>(&mut self, map: &'v Map<String, Value>, path: &mut Path, names: &mut Vec<&'v str>) {
        for (name, child) in map {
            names.push(name);
            if !child.is_null() && !is_unowned_field(names) {
                path.push(Step::Field(name.clone()));
                self.value(child, path, names);
                path.pop();
            }
            names.pop();
        }
    }

    fn list<'v>(&mut self, items: &'v [Value], path: &mut Path, names: &mut Vec<&'v str>) {
        let steps = match self.rules.list_type(names) {
            ListType::Atomic => {
                self.paths.insert(path.clone());
                return;
            }
            ListType::Set => set_item_steps(items),
            ListType::Map(keys) => keyed_item_steps(items, &keys, self.rules, names),
        };
        match steps {
            Ok(steps) => {
                for (item, step) in items.iter().zip(steps) {
                    path.push(step);
                    self.paths.insert(path.clone());
                    if let Value::Object(fields) = item {
                        self.map(fields, path, names);
                    }
                    path.pop();
                }
            }
            Err(error) => {
                if self.strict {
                    self.errors.push(format!("{}: {error}", display_path(path)));
                }
                self.paths.insert(path.clone());
            }
        }
    }
}

/// A node of the FieldsV1 tree.
#[derive(Default)]
struct FieldsNode {
    owned: bool,
    children: BTreeMap<String, FieldsNode>,
}

impl FieldsNode {
    fn insert(&mut self, path: &[Step]) {
        match path.split_first() {
            None => self.owned = true,
            Some((step, rest)) => self
                .children
                .entry(step.fields_v1_key())
                .or_default()
                .insert(rest),
        }
    }

    fn to_json(&self) -> Value {
        let mut map = Map::new();
        if self.owned && !self.children.is_empty() {
            map.insert(".".to_owned(), Value::Object(Map::new()));
        }
        for (key, child) in &self.children {
            map.insert(key.clone(), child.to_json());
        }
        Value::Object(map)
    }
}

/// Collects the paths of a FieldsV1 node found at `path`.
fn parse_fields_v1(
    node: &Value,
    path: &mut Path,
    out: &mut BTreeSet<Path>,
) -> Result<(), ApplyError> {
    let Value::Object(map) = node else {
        return Err(invalid("FieldsV1 nodes must be JSON objects"));
    };
    if map.is_empty() && !path.is_empty() {
        out.insert(path.clone());
    }
    for (key, child) in map {
        if key == "." {
            if !path.is_empty() {
                out.insert(path.clone());
            }
            continue;
        }
        path.push(Step::parse(key)?);
        parse_fields_v1(child, path, out)?;
        path.pop();
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Managed fields
// ---------------------------------------------------------------------------------------------

/// Whether a manager's fields came from an apply or from another write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Operation {
    /// server-side apply
    Apply,
    /// create, update or patch
    Update,
}

impl Operation {
    fn as_str(self) -> &'static str {
        match self {
            Operation::Apply => "Apply",
            Operation::Update => "Update",
        }
    }
}

/// One entry of metadata.managedFields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagedEntry {
    /// The field manager's name.
    pub manager: String,
    /// Whether the fields were applied or written otherwise.
    pub operation: Operation,
    /// `Some("status")` for writes to the status subresource, None for the main resource.
    pub subresource: Option<String>,
    /// The apiVersion the manager last wrote with (recorded only, never converted).
    pub api_version: String,
    /// The fields the manager owns.
    pub fields: FieldSet,
}

impl ManagedEntry {
    fn is(&self, manager: &str, operation: Operation, subresource: Option<&str>) -> bool {
        self.manager == manager
            && self.operation == operation
            && self.subresource.as_deref() == subresource
    }

    /// Whether this entry's fields can conflict with an apply by `manager` to `subresource`:
    /// every other entry of that subresource, including `manager`'s own Update entry
    /// (Kubernetes tells managers apart by name, operation and subresource).
    fn competes_with_apply_by(&self, manager: &str, subresource: Option<&str>) -> bool {
        self.subresource.as_deref() == subresource
            && !self.is(manager, Operation::Apply, subresource)
    }

    fn sort_key(&self) -> (&str, Operation, Option<&str>) {
        (&self.manager, self.operation, self.subresource.as_deref())
    }

    fn to_json(&self) -> Value {
        let mut entry = Map::new();
        entry.insert("apiVersion".to_owned(), self.api_version.clone().into());
        entry.insert("fieldsType".to_owned(), "FieldsV1".into());
        entry.insert("fieldsV1".to_owned(), self.fields.to_fields_v1());
        entry.insert("manager".to_owned(), self.manager.clone().into());
        entry.insert("operation".to_owned(), self.operation.as_str().into());
        if let Some(subresource) = &self.subresource {
            entry.insert("subresource".to_owned(), subresource.clone().into());
        }
        Value::Object(entry)
    }

    fn from_json(entry: &Value) -> Result<Self, ApplyError> {
        let text = |key: &str| entry.get(key).and_then(Value::as_str);
        let manager =
            text("manager").ok_or_else(|| invalid("managedFields entry needs a manager"))?;
        let operation = match text("operation") {
            Some("Apply") => Operation::Apply,
            Some("Update") => Operation::Update,
            other => {
                return Err(invalid(format!(
                    "unknown managedFields operation {other:?}"
                )));
            }
        };
        if let Some(fields_type) = text("fieldsType")
            && fields_type != "FieldsV1"
        {
            return Err(invalid(format!("unsupported fieldsType {fields_type:?}")));
        }
        let fields = match entry.get("fieldsV1") {
            None | Some(Value::Null) => FieldSet::default(),
            Some(fields) => FieldSet::from_fields_v1(fields)?,
        };
        Ok(Self {
            manager: manager.to_owned(),
            operation,
            subresource: text("subresource").map(str::to_owned),
            api_version: text("apiVersion").unwrap_or_default().to_owned(),
            fields,
        })
    }
}

/// All managers of one object, in a stable order (sorted by (manager, operation,
/// subresource)), without empty entries.
///
/// The server keeps them beside the object rather than inside its JSON, and renders them as
/// `metadata.managedFields` only when an object is shown ([`ManagedFields::write_into`]).
/// Entries are shared: a write copies only the entries whose fields it changes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ManagedFields(Vec<Arc<ManagedEntry>>);

impl ManagedFields {
    /// Reads `metadata.managedFields` of an object (missing or null = empty). Entries look
    /// like Kubernetes': {"manager":..,"operation":"Apply"|"Update","apiVersion":..,
    /// "fieldsType":"FieldsV1","fieldsV1":{..},"subresource":"status"?}. No "time" field is
    /// written or required, and one is ignored if present: kcheck's time is logical. Entries
    /// come back sorted, without empty ones, and with duplicates merged.
    pub fn from_object(object: &Value) -> Result<Self, ApplyError> {
        let entries = match object.pointer("/metadata/managedFields") {
            None | Some(Value::Null) => return Ok(Self::default()),
            Some(Value::Array(entries)) => entries,
            Some(_) => return Err(invalid("metadata.managedFields must be a list")),
        };
        let entries = entries
            .iter()
            .map(|e| ManagedEntry::from_json(e).map(Arc::new));
        let mut managed = Self(entries.collect::<Result<_, _>>()?);
        managed.normalize();
        Ok(managed)
    }

    /// Writes them into `metadata.managedFields` (removing the key when empty).
    pub fn write_into(&self, object: &mut Value) {
        let Value::Object(root) = object else {
            return;
        };
        if self.0.is_empty() {
            if let Some(Value::Object(metadata)) = root.get_mut("metadata") {
                metadata.remove("managedFields");
            }
            return;
        }
        let entries = self.0.iter().map(|e| e.to_json()).collect();
        let metadata = root
            .entry("metadata")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(metadata) = metadata {
            metadata.insert("managedFields".to_owned(), Value::Array(entries));
        }
    }

    /// The entries, in order.
    pub fn entries(&self) -> impl Iterator<Item = &ManagedEntry> {
        self.0.iter().map(|e| &**e)
    }

    /// True when nobody owns anything.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The entry of (manager, operation, subresource), created empty if missing.
    fn entry_mut(
        &mut self,
        manager: &str,
        operation: Operation,
        subresource: Option<&str>,
    ) -> &mut ManagedEntry {
        let found = self
            .0
            .iter()
            .position(|entry| entry.is(manager, operation, subresource));
        let index = found.unwrap_or_else(|| {
            self.0.push(Arc::new(ManagedEntry {
                manager: manager.to_owned(),
                operation,
                subresource: subresource.map(str::to_owned),
                api_version: String::new(),
                fields: FieldSet::default(),
            }));
            self.0.len() - 1
        });
        Arc::make_mut(&mut self.0[index])
    }

    /// Every entry, for changing (entries shared with other versions are copied first).
    fn entries_mut(&mut self) -> impl Iterator<Item = &mut ManagedEntry> {
        self.0.iter_mut().map(Arc::make_mut)
    }

    /// Every field somebody owns.
    fn owned(&self) -> FieldSet {
        let mut owned = FieldSet::default();
        for entry in &self.0 {
            owned.union_with(&entry.fields);
        }
        owned
    }

    /// Drops empty entries, sorts, and merges entries of the same manager.
    fn normalize(&mut self) {
        self.0.retain(|entry| !entry.fields.is_empty());
        if self.0.is_sorted_by(|a, b| a.sort_key() < b.sort_key()) {
            return;
        }
        self.0.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        self.0.dedup_by(|later, kept| {
            let same = later.sort_key() == kept.sort_key();
            if same {
                Arc::make_mut(kept).fields.union_with(&later.fields);
            }
            same
        });
    }
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// A field another manager owns with a different value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The manager that owns the field.
    pub manager: String,
    /// dotted, human-readable path such as `.spec.replicas` or
    /// `.spec.template.spec.containers[name="web"].image`
    pub field: String,
}

/// Errors of server-side apply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ApplyError {
    /// fields owned by other managers; Kubernetes answers 409 Conflict listing them
    #[error("{}", conflicts_message(.0))]
    Conflicts(Vec<Conflict>),
    /// the applied configuration is malformed (e.g. a list-map item missing its key field,
    /// duplicate keys), or so is a stored metadata.managedFields; Kubernetes answers 422/400
    #[error("invalid: {0}")]
    Invalid(String),
}

fn conflicts_message(conflicts: &[Conflict]) -> String {
    let each: Vec<String> = conflicts
        .iter()
        .map(|c| format!("conflict with {:?}: {}", c.manager, c.field))
        .collect();
    format!(
        "Apply failed with {} conflict(s): {}",
        conflicts.len(),
        each.join("; ")
    )
}

fn invalid(message: impl Into<String>) -> ApplyError {
    ApplyError::Invalid(message.into())
}

// ---------------------------------------------------------------------------------------------
// Apply and update
// ---------------------------------------------------------------------------------------------

/// An object as stored: its JSON (without `metadata.managedFields`) and its managers.
pub type Live<'a> = (&'a Value, &'a ManagedFields);

/// Server-side apply of `config` by `manager` to the `live` object (None: the object does not
/// exist yet), to the main resource (`subresource` None) or a subresource (`Some("status")`).
/// Returns the new object and its managers. Both `live` and `config` are whole objects
/// (apiVersion, kind, metadata, ...). The caller (the store) handles resourceVersion,
/// generation, uid, the status subresource and no-op detection; this function only merges and
/// tracks ownership. Identity and server fields of `config` are not copied, except apiVersion,
/// kind, name and namespace when creating.
///
/// The manager's fields go to its Apply entry for that subresource, so a status apply leaves
/// what the same manager applied to the main resource alone. A changed field conflicts when
/// any other entry of the same subresource owns it: another manager, or `manager`'s own Update
/// entry (Kubernetes tells managers apart by name, operation and subresource). The caller
/// passes only the part of the configuration the subresource addresses.
pub fn apply(
    live: Option<Live<'_>>,
    config: &Value,
    manager: &str,
    subresource: Option<&str>,
    force: bool,
    rules: &ListRules,
) -> Result<(Value, ManagedFields), ApplyError> {
    if !config.is_object() {
        return Err(invalid("the applied configuration must be a JSON object"));
    }
    let applied = FieldSet::from_config(config, rules)?;
    let mut managers = live.map(|(_, m)| m.clone()).unwrap_or_default();
    let live = live.map(|(object, _)| object);

    let changed = changed_paths(live, config, &applied, rules);
    let conflicts = conflicts_with(&managers, manager, subresource, &changed);
    if !conflicts.is_empty() {
        if !force {
            return Err(ApplyError::Conflicts(conflicts));
        }
        for entry in managers.entries_mut() {
            if entry.competes_with_apply_by(manager, subresource) {
                entry.fields.remove_all(&changed);
            }
        }
    }

    let mut object = live.cloned().unwrap_or_else(|| skeleton(config));
    merge_value(&mut object, config, &mut Vec::new(), rules);

    let me = managers.entry_mut(manager, Operation::Apply, subresource);
    me.api_version = api_version(config);
    let previous = std::mem::replace(&mut me.fields, applied);
    let abandoned = previous.difference(&me.fields);
    let kept = Kept {
        owned: &managers.owned(),
        config,
        rules,
    };
    remove_abandoned(&mut object, &abandoned, &kept);

    let existing = FieldSet::from_object(&object, rules);
    for entry in managers.entries_mut() {
        entry.fields.retain_within(&existing);
    }
    managers.normalize();
    Ok((object, managers))
}

/// Ownership bookkeeping for a non-apply write (create, update, patch) by `manager` that
/// turns `old` (None for a create) into `new`: the manager (operation Update) becomes owner of
/// every field whose value it changed or added (on create: every field), those fields are
/// removed from other managers' sets (of any operation and subresource, including
/// `manager`'s own Apply entry), and fields that no longer exist in `new` are dropped from
/// every set. Returns the managers of `new`. `subresource` is Some("status") for status
/// writes.
///
/// Only what differs between `old` and `new` is looked at, so a write that changes one field
/// of a large object costs little; entries that own nothing that changed are shared with
/// `old`'s.
pub fn record_update(
    old: Option<Live<'_>>,
    new: &Value,
    manager: &str,
    subresource: Option<&str>,
    rules: &ListRules,
) -> ManagedFields {
    let (mut managers, diff) = match old {
        None => {
            let diff = Diff {
                changed: FieldSet::from_object(new, rules).paths,
                removed: BTreeSet::new(),
            };
            (ManagedFields::default(), diff)
        }
        Some((old, managers)) => {
            let diff = Diff::between(old, new, rules);
            if diff.is_empty() {
                return managers.clone();
            }
            (managers.clone(), diff)
        }
    };
    for slot in &mut managers.0 {
        if diff.touches(&slot.fields) {
            Arc::make_mut(slot).fields.forget(&diff);
        }
    }
    let me = managers.entry_mut(manager, Operation::Update, subresource);
    me.api_version = api_version(new);
    me.fields.paths.extend(diff.changed);
    managers.normalize();
    managers
}

/// What a write changed, as ownership sees it.
#[derive(Debug, Default)]
struct Diff {
    /// Paths whose value is new or different: leaves with another value, and new list
    /// items (an item whose fields changed is not itself changed).
    changed: BTreeSet<Path>,
    /// Roots of what is gone: every path at or below one no longer exists.
    removed: BTreeSet<Path>,
}

impl Diff {
    /// What changed from `old` to `new`.
    fn between(old: &Value, new: &Value, rules: &ListRules) -> Diff {
        let mut walk = DiffWalk {
            old,
            new,
            rules,
            diff: Diff::default(),
        };
        walk.value(Some(old), Some(new), &mut Vec::new(), &mut Vec::new());
        walk.diff
    }

    fn is_empty(&self) -> bool {
        self.changed.is_empty() && self.removed.is_empty()
    }

    /// Whether `fields` holds a path the diff changes or removes.
    fn touches(&self, fields: &FieldSet) -> bool {
        fields.paths.iter().any(|path| self.drops(path))
    }

    /// Whether a manager loses `path`: it changed, or it is gone.
    fn drops(&self, path: &[Step]) -> bool {
        self.changed.contains(path) || (0..=path.len()).any(|n| self.removed.contains(&path[..n]))
    }
}

/// Walks an old and a new object side by side, collecting a [`Diff`].
struct DiffWalk<'v, 'r> {
    old: &'v Value,
    new: &'v Value,
    rules: &'r ListRules,
    diff: Diff,
}

impl<'v> DiffWalk<'v, '_> {
    /// Compares the values at `path` (`None` or null: nothing there).
    fn value(
        &mut self,
        old: Option<&'v Value>,
        new: Option<&'v Value>,
        path: &mut Path,
        names: &mut Vec<&'v str>,
    ) {
        let old = old.filter(|v| !v.is_null());
        let new = new.filter(|v| !v.is_null());
        match (old, new) {
            (None, None) => {}
            (Some(o), Some(n)) if o == n => {}
            (None, Some(n)) => self.added(n, path, names),
            (Some(_), None) => {
                self.diff.removed.insert(path.clone());
            }
            (Some(Value::Object(o)), Some(Value::Object(n))) => self.maps(o, n, path, names),
            (Some(Value::Array(o)), Some(Value::Array(n))) => self.lists(o, n, path, names),
            (Some(o), Some(n)) if is_scalar(o) && is_scalar(n) => {
                self.diff.changed.insert(path.clone());
            }
            (Some(_), Some(n)) => {
                // A change of type: whatever was below is gone, all of the new value is new.
                self.diff.removed.insert(path.clone());
                self.added(n, path, names);
            }
        }
    }

    /// Everything `new` sets at `path` is new.
    fn added(&mut self, new: &'v Value, path: &mut Path, names: &mut Vec<&'v str>) {
        let mut collector = Collector::new(self.rules, false);
        collector.value(new, path, names);
        self.diff.changed.extend(collector.paths);
    }

    fn maps(
        &mut self,
        old: &'v Map<String, Value>,
        new: &'v Map<String, Value>,
        path: &mut Path,
        names: &mut Vec<&'v str>,
    ) {
        let keys = old
            .keys()
            .chain(new.keys().filter(|k| !old.contains_key(*k)));
        for name in keys {
            names.push(name);
            if !is_unowned_field(names) {
                path.push(Step::Field(name.clone()));
                self.value(old.get(name), new.get(name), path, names);
                path.pop();
            }
            names.pop();
        }
    }

    fn lists(
        &mut self,
        old: &'v [Value],
        new: &'v [Value],
        path: &mut Path,
        names: &mut Vec<&'v str>,
    ) {
        let rules = self.rules;
        let steps = |items: &[Value]| match rules.list_type(names) {
            ListType::Atomic => None,
            ListType::Set => set_item_steps(items).ok(),
            ListType::Map(keys) => keyed_item_steps(items, &keys, rules, names).ok(),
        };
        let (Some(old_steps), Some(new_steps)) = (steps(old), steps(new)) else {
            // Atomic, or a list that breaks its rule (owned as a leaf): the list is a value.
            self.broken_list(path, names);
            return;
        };
        for (item, step) in new.iter().zip(&new_steps) {
            path.push(step.clone());
            match old_steps.iter().position(|s| s == step) {
                Some(i) => {
                    if let (Value::Object(o), Value::Object(n)) = (&old[i], item) {
                        self.maps(o, n, path, names);
                    }
                }
                None => self.added_item(item, path, names),
            }
            path.pop();
        }
        for step in old_steps.iter().filter(|s| !new_steps.contains(s)) {
            path.push(step.clone());
            self.diff.removed.insert(path.clone());
            path.pop();
        }
    }

    /// A new list item: the item itself, and for a list-map item its fields.
    fn added_item(&mut self, item: &'v Value, path: &mut Path, names: &mut Vec<&'v str>) {
        self.diff.changed.insert(path.clone());
        if let Value::Object(fields) = item {
            let mut collector = Collector::new(self.rules, false);
            collector.map(fields, path, names);
            self.diff.changed.extend(collector.paths);
        }
    }

    /// A list compared as one value: what was below it is gone, and each path of the new
    /// list whose value differs in the old object is changed.
    fn broken_list(&mut self, path: &mut Path, names: &mut Vec<&'v str>) {
        self.diff.removed.insert(path.clone());
        let mut collector = Collector::new(self.rules, false);
        if let Some(list) = lookup(self.new, path, self.rules) {
            collector.value(list, path, names);
        }
        let (old, new, rules) = (self.old, self.new, self.rules);
        self.diff
            .changed
            .extend(collector.paths.into_iter().filter(|p| {
                let before = lookup(old, p, rules);
                match p.last() {
                    Some(Step::Key(_)) => before.is_none(),
                    _ => before != lookup(new, p, rules),
                }
            }));
    }
}

/// The paths of `candidates` whose value in `after` differs from `before`: leaves with
/// another value, and items that are new (an item whose fields changed is not itself
/// changed).
fn changed_paths(
    before: Option<&Value>,
    after: &Value,
    candidates: &FieldSet,
    rules: &ListRules,
) -> FieldSet {
    let changed = |path: &&Path| {
        let old = before.and_then(|before| lookup(before, path, rules));
        match path.last() {
            Some(Step::Key(_)) => old.is_none(),
            _ => old != lookup(after, path, rules),
        }
    };
    let paths = candidates.paths.iter().filter(changed).cloned().collect();
    FieldSet { paths }
}

/// The changed fields that competing managers own, sorted by manager and path.
fn conflicts_with(
    managers: &ManagedFields,
    manager: &str,
    subresource: Option<&str>,
    changed: &FieldSet,
) -> Vec<Conflict> {
    let found: BTreeSet<(&str, &Path)> = managers
        .0
        .iter()
        .filter(|entry| entry.competes_with_apply_by(manager, subresource))
        .flat_map(|entry| {
            let owned = entry.fields.paths.intersection(&changed.paths);
            owned.map(|path| (entry.manager.as_str(), path))
        })
        .collect();
    found
        .into_iter()
        .map(|(manager, path)| Conflict {
            manager: manager.to_owned(),
            field: display_path(path),
        })
        .collect()
}

fn api_version(object: &Value) -> String {
    let version = object.get("apiVersion").and_then(Value::as_str);
    version.unwrap_or_default().to_owned()
}

/// The object an apply creates before merging: config's apiVersion, kind, name, namespace.
fn skeleton(config: &Value) -> Value {
    let mut object = Map::new();
    for key in ["apiVersion", "kind"] {
        if let Some(value) = config.get(key) {
            object.insert(key.to_owned(), value.clone());
        }
    }
    let mut metadata = Map::new();
    for key in ["name", "namespace"] {
        if let Some(value) = config.get("metadata").and_then(|m| m.get(key)) {
            metadata.insert(key.to_owned(), value.clone());
        }
    }
    if !metadata.is_empty() {
        object.insert("metadata".to_owned(), Value::Object(metadata));
    }
    Value::Object(object)
}

// ---------------------------------------------------------------------------------------------
// Merging
// ---------------------------------------------------------------------------------------------

/// Sets every field of `config` in `slot`: maps merge field by field, lists by their rule.
/// `names` is the field path of `slot`.
fn merge_value<'c>(
    slot: &mut Value,
    config: &'c Value,
    names: &mut Vec<&'c str>,
    rules: &ListRules,
) {
    match config {
        Value::Object(fields) => {
            if !slot.is_object() {
                *slot = Value::Object(Map::new());
            }
            if let Value::Object(live) = slot {
                merge_map(live, fields, names, rules);
            }
        }
        Value::Array(items) => match rules.list_type(names) {
            ListType::Atomic => *slot = config.clone(),
            ListType::Set => merge_set(list_in(slot), items),
            ListType::Map(keys) => merge_keyed(list_in(slot), items, &keys, names, rules),
        },
        _ => *slot = config.clone(),
    }
}

fn merge_map<'c>(
    live: &mut Map<String, Value>,
    config: &'c Map<String, Value>,
    names: &mut Vec<&'c str>,
    rules: &ListRules,
) {
    for (name, value) in config {
        names.push(name);
        if !value.is_null() && !is_unowned_field(names) {
            let slot = live.entry(name.as_str()).or_insert(Value::Null);
            merge_value(slot, value, names, rules);
        }
        names.pop();
    }
}

/// The list in `slot`, which becomes an empty list if it holds something else.
fn list_in(slot: &mut Value) -> &mut Vec<Value> {
    if !slot.is_array() {
        *slot = Value::Array(Vec::new());
    }
    match slot {
        Value::Array(items) => items,
        _ => unreachable!("the slot was just made a list"),
    }
}

/// Set union: config's items missing from `live` are appended in config's order.
fn merge_set(live: &mut Vec<Value>, items: &[Value]) {
    for item in items {
        if !live.contains(item) {
            live.push(item.clone());
        }
    }
}

/// List-map merge: each config item merges into the live item with its key, or is appended.
fn merge_keyed<'c>(
    live: &mut Vec<Value>,
    items: &'c [Value],
    keys: &[String],
    names: &mut Vec<&'c str>,
    rules: &ListRules,
) {
    for item in items {
        // Applied configurations are validated first, so every item has a key.
        let Ok(key) = item_key(item, keys, rules, names) else {
            continue;
        };
        let index = find_item(live, &key, names, rules).unwrap_or_else(|| {
            live.push(Value::Null);
            live.len() - 1
        });
        merge_value(&mut live[index], item, names, rules);
    }
}

/// What removal must keep: owned fields, and whatever the applied configuration mentions.
struct Kept<'a> {
    /// Every field some manager owns after the apply.
    owned: &'a FieldSet,
    /// The applied configuration: its (empty) maps and lists stay.
    config: &'a Value,
    rules: &'a ListRules,
}

/// Removes the `abandoned` fields nobody owns (nor anything below them), and then the maps
/// and lists those removals left empty.
fn remove_abandoned(object: &mut Value, abandoned: &FieldSet, kept: &Kept<'_>) {
    // Deepest paths first, so an item's fields go before the item itself.
    for path in abandoned.paths.iter().rev() {
        if kept.owned.covers(path) || is_key_field(path) {
            continue;
        }
        if remove_path(object, path, kept.rules) {
            prune_empty_parents(object, path, kept);
        }
    }
}

/// A key field of a list-map item: it goes only with its item.
fn is_key_field(path: &[Step]) -> bool {
    match path {
        [.., Step::Key(fields), Step::Field(name)] => fields.iter().any(|(key, _)| key == name),
        _ => false,
    }
}

/// Removes the now-empty maps and lists above `path`, unless owned, in the applied
/// configuration (so that re-applying it changes nothing) or `metadata`.
fn prune_empty_parents(object: &mut Value, path: &[Step], kept: &Kept<'_>) {
    let rules = kept.rules;
    for end in (1..path.len()).rev() {
        let parent = &path[..end];
        if matches!(parent, [Step::Field(name)] if name == "metadata")
            || kept.owned.contains(parent)
            || lookup(kept.config, parent, rules).is_some()
        {
            return;
        }
        let empty = match lookup(object, parent, rules) {
            Some(Value::Object(map)) => map.is_empty(),
            Some(Value::Array(items)) => items.is_empty(),
            _ => false,
        };
        if !empty || !remove_path(object, parent, rules) {
            return;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    /// The managers an object carries in `metadata.managedFields`, and the object without
    /// them, as the server stores it.
    fn split_managers(object: Option<&Value>) -> Option<(Value, ManagedFields)> {
        object.map(|object| {
            let managers = ManagedFields::from_object(object).expect("managedFields parse");
            let mut bare = object.clone();
            if let Some(meta) = bare.get_mut("metadata").and_then(Value::as_object_mut) {
                meta.remove("managedFields");
            }
            (bare, managers)
        })
    }

    /// [`super::apply`] to the main resource, on objects that carry their managers in
    /// `metadata.managedFields` (as Kubernetes shows them).
    fn apply(
        live: Option<&Value>,
        config: &Value,
        manager: &str,
        force: bool,
        rules: &ListRules,
    ) -> Result<Value, ApplyError> {
        let live = split_managers(live);
        let live = live.as_ref().map(|(object, managers)| (object, managers));
        let (mut object, managers) = super::apply(live, config, manager, None, force, rules)?;
        managers.write_into(&mut object);
        Ok(object)
    }

    /// [`super::record_update`] on objects that carry their managers in
    /// `metadata.managedFields`.
    fn record_update(
        old: Option<&Value>,
        new: &Value,
        manager: &str,
        subresource: Option<&str>,
        rules: &ListRules,
    ) -> Value {
        let old = split_managers(old);
        let old = old.as_ref().map(|(object, managers)| (object, managers));
        let (mut new, _) = split_managers(Some(new)).expect("an object");
        let managers = super::record_update(old, &new, manager, subresource, rules);
        managers.write_into(&mut new);
        new
    }

    fn rules() -> ListRules {
        ListRules::builtin()
    }

    /// A Deployment applied configuration with the given spec.
    fn deploy(spec: Value) -> Value {
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": spec,
        })
    }

    /// A Deployment configuration whose pod template has these containers.
    fn deploy_containers(containers: Value) -> Value {
        deploy(json!({"template": {"spec": {"containers": containers}}}))
    }

    fn ok_apply(live: Option<&Value>, config: &Value, manager: &str) -> Value {
        apply(live, config, manager, false, &rules()).expect("apply succeeds")
    }

    /// The fields `manager`'s entry with `operation` owns, as FieldsV1 JSON.
    fn owned_by(object: &Value, manager: &str, operation: Operation) -> Value {
        let managers = ManagedFields::from_object(object).expect("managedFields parse");
        let entry = managers
            .entries()
            .find(|e| e.manager == manager && e.operation == operation);
        entry.map_or(json!(null), |e| e.fields.to_fields_v1())
    }

    fn conflicts(result: Result<Value, ApplyError>) -> Vec<(String, String)> {
        match result {
            Err(ApplyError::Conflicts(conflicts)) => conflicts
                .into_iter()
                .map(|c| (c.manager, c.field))
                .collect(),
            other => panic!("expected conflicts, got {other:?}"),
        }
    }

    fn container_names(object: &Value) -> Vec<&str> {
        object["spec"]["template"]["spec"]["containers"]
            .as_array()
            .expect("containers")
            .iter()
            .map(|c| c["name"].as_str().expect("name"))
            .collect()
    }

    #[test]
    fn apply_creates_object_and_records_manager() {
        let config = deploy(json!({"replicas": 3}));
        let object = ok_apply(None, &config, "ctrl");
        assert_eq!(
            object,
            json!({
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {
                    "name": "web",
                    "namespace": "default",
                    "managedFields": [{
                        "apiVersion": "apps/v1",
                        "fieldsType": "FieldsV1",
                        "fieldsV1": {"f:spec": {"f:replicas": {}}},
                        "manager": "ctrl",
                        "operation": "Apply",
                    }],
                },
                "spec": {"replicas": 3},
            })
        );
    }

    #[test]
    fn reapply_same_config_is_noop() {
        let config = deploy(json!({
            "replicas": 3,
            "template": {"spec": {"containers": [
                {"name": "web", "image": "nginx", "ports": [{"containerPort": 80}]},
            ]}},
        }));
        let live = ok_apply(None, &config, "ctrl");
        assert_eq!(ok_apply(Some(&live), &config, "ctrl"), live);
        let shared = ok_apply(Some(&live), &deploy(json!({"paused": true})), "other");
        assert_eq!(ok_apply(Some(&shared), &config, "ctrl"), shared);
    }

    #[test]
    fn apply_removes_field_manager_stopped_applying() {
        let live = ok_apply(
            None,
            &deploy(json!({"replicas": 3, "paused": true})),
            "ctrl",
        );
        let object = ok_apply(Some(&live), &deploy(json!({"replicas": 3})), "ctrl");
        assert_eq!(object["spec"], json!({"replicas": 3}));
        assert_eq!(
            owned_by(&object, "ctrl", Operation::Apply),
            json!({"f:spec": {"f:replicas": {}}})
        );
    }

    #[test]
    fn apply_prunes_maps_left_empty_by_removal() {
        let live = ok_apply(
            None,
            &deploy(json!({"strategy": {"rollingUpdate": {"maxSurge": 1}}})),
            "ctrl",
        );
        let mut no_spec = deploy(json!({}));
        no_spec.as_object_mut().expect("object").remove("spec");
        let object = ok_apply(Some(&live), &no_spec, "ctrl");
        assert_eq!(object.get("spec"), None);
        assert_eq!(object["metadata"].get("managedFields"), None);
        // A map the configuration still names stays, empty, so re-applying is a no-op.
        let empty_spec = deploy(json!({"strategy": {}}));
        let object = ok_apply(Some(&live), &empty_spec, "ctrl");
        assert_eq!(object["spec"], json!({"strategy": {}}));
        assert_eq!(ok_apply(Some(&object), &empty_spec, "ctrl"), object);
    }

    #[test]
    fn apply_keeps_field_another_manager_still_owns() {
        let live = ok_apply(
            None,
            &deploy(json!({"replicas": 3, "paused": true})),
            "ctrl",
        );
        let live = ok_apply(Some(&live), &deploy(json!({"paused": true})), "other");
        let object = ok_apply(Some(&live), &deploy(json!({"replicas": 3})), "ctrl");
        assert_eq!(object["spec"], json!({"replicas": 3, "paused": true}));
        assert_eq!(
            owned_by(&object, "other", Operation::Apply),
            json!({"f:spec": {"f:paused": {}}})
        );
    }

    #[test]
    fn apply_conflicts_on_field_owned_by_other_manager_with_different_value() {
        let live = ok_apply(None, &deploy(json!({"replicas": 3})), "ctrl");
        let result = apply(
            Some(&live),
            &deploy(json!({"replicas": 5})),
            "other",
            false,
            &rules(),
        );
        let error = result.clone().expect_err("conflict");
        assert!(
            error
                .to_string()
                .contains(r#"conflict with "ctrl": .spec.replicas"#)
        );
        assert_eq!(
            conflicts(result),
            [("ctrl".to_owned(), ".spec.replicas".to_owned())]
        );

        let live = ok_apply(
            None,
            &deploy_containers(json!([{"name": "web", "image": "v1"}])),
            "ctrl",
        );
        let result = apply(
            Some(&live),
            &deploy_containers(json!([{"name": "web", "image": "v2"}])),
            "other",
            false,
            &rules(),
        );
        assert_eq!(
            conflicts(result),
            [(
                "ctrl".to_owned(),
                r#".spec.template.spec.containers[name="web"].image"#.to_owned()
            )]
        );
    }

    #[test]
    fn apply_same_value_as_other_manager_shares_ownership() {
        let live = ok_apply(None, &deploy(json!({"replicas": 3})), "ctrl");
        let live = ok_apply(Some(&live), &deploy(json!({"replicas": 3})), "other");
        let replicas = json!({"f:spec": {"f:replicas": {}}});
        assert_eq!(owned_by(&live, "ctrl", Operation::Apply), replicas);
        assert_eq!(owned_by(&live, "other", Operation::Apply), replicas);
        // When one stops applying it, the other still holds it.
        let object = ok_apply(Some(&live), &deploy(json!({"paused": false})), "ctrl");
        assert_eq!(object["spec"], json!({"replicas": 3, "paused": false}));
    }

    #[test]
    fn force_apply_takes_ownership_from_other_manager() {
        let live = ok_apply(
            None,
            &deploy(json!({"replicas": 3, "paused": true})),
            "ctrl",
        );
        let config = deploy(json!({"replicas": 5}));
        let object = apply(Some(&live), &config, "other", true, &rules()).expect("forced");
        assert_eq!(object["spec"], json!({"replicas": 5, "paused": true}));
        assert_eq!(
            owned_by(&object, "ctrl", Operation::Apply),
            json!({"f:spec": {"f:paused": {}}})
        );
        assert_eq!(
            owned_by(&object, "other", Operation::Apply),
            json!({"f:spec": {"f:replicas": {}}})
        );
        // Now the former owner conflicts in turn.
        let result = apply(
            Some(&object),
            &deploy(json!({"replicas": 3, "paused": true})),
            "ctrl",
            false,
            &rules(),
        );
        assert_eq!(
            conflicts(result),
            [("other".to_owned(), ".spec.replicas".to_owned())]
        );
    }

    #[test]
    fn apply_merges_containers_by_name() {
        let web = json!([{"name": "web", "image": "web:1"}]);
        let sidecar = json!([{"name": "sidecar", "image": "proxy:1"}]);
        let live = ok_apply(None, &deploy_containers(web), "web-ctrl");
        let live = ok_apply(Some(&live), &deploy_containers(sidecar.clone()), "mesh");
        assert_eq!(container_names(&live), ["web", "sidecar"]);

        let web2 = json!([{"name": "web", "image": "web:2"}]);
        let object = ok_apply(Some(&live), &deploy_containers(web2), "web-ctrl");
        assert_eq!(
            object["spec"]["template"]["spec"]["containers"],
            json!([
                {"name": "web", "image": "web:2"},
                {"name": "sidecar", "image": "proxy:1"},
            ])
        );
        assert_eq!(
            ok_apply(Some(&object), &deploy_containers(sidecar), "mesh"),
            object
        );
    }

    #[test]
    fn apply_removes_list_map_item_manager_stopped_applying() {
        let both = json!([
            {"name": "web", "image": "web:1"},
            {"name": "sidecar", "image": "proxy:1"},
        ]);
        let live = ok_apply(None, &deploy_containers(both), "ctrl");
        let web = json!([{"name": "web", "image": "web:1"}]);
        let object = ok_apply(Some(&live), &deploy_containers(web.clone()), "ctrl");
        assert_eq!(object["spec"]["template"]["spec"]["containers"], web);
    }

    #[test]
    fn apply_keeps_list_map_item_whose_field_another_manager_owns() {
        let both = json!([
            {"name": "web", "image": "web:1"},
            {"name": "sidecar", "image": "proxy:1", "args": ["-v"]},
        ]);
        let live = ok_apply(None, &deploy_containers(both), "ctrl");
        // Someone edits the sidecar's image: they own that field only.
        let mut edited = live.clone();
        edited["spec"]["template"]["spec"]["containers"][1]["image"] = json!("proxy:2");
        let live = record_update(Some(&live), &edited, "kubectl-edit", None, &rules());

        let web = json!([{"name": "web", "image": "web:1"}]);
        let object = ok_apply(Some(&live), &deploy_containers(web), "ctrl");
        assert_eq!(
            object["spec"]["template"]["spec"]["containers"],
            json!([
                {"name": "web", "image": "web:1"},
                {"name": "sidecar", "image": "proxy:2"},
            ])
        );
    }

    #[test]
    fn apply_merges_ports_by_container_port_and_protocol() {
        let tcp = json!([{"name": "web", "ports": [{"containerPort": 80, "name": "http"}]}]);
        let udp = json!([{"name": "web", "ports": [
            {"containerPort": 80, "protocol": "UDP", "name": "dns"},
        ]}]);
        let live = ok_apply(None, &deploy_containers(tcp), "a");
        let live = ok_apply(Some(&live), &deploy_containers(udp), "b");
        let ports = &live["spec"]["template"]["spec"]["containers"][0]["ports"];
        assert_eq!(
            ports,
            &json!([
                {"containerPort": 80, "name": "http"},
                {"containerPort": 80, "protocol": "UDP", "name": "dns"},
            ])
        );
        // A missing protocol is TCP: naming it picks the same item, and changing its name
        // conflicts with its owner.
        let explicit = json!([{"name": "web", "ports": [
            {"containerPort": 80, "protocol": "TCP", "name": "web"},
        ]}]);
        let result = apply(
            Some(&live),
            &deploy_containers(explicit),
            "c",
            false,
            &rules(),
        );
        let field = r#".spec.template.spec.containers[name="web"].ports[containerPort=80,protocol="TCP"].name"#;
        assert_eq!(conflicts(result), [("a".to_owned(), field.to_owned())]);
        let a_fields = owned_by(&live, "a", Operation::Apply);
        let port = &a_fields["f:spec"]["f:template"]["f:spec"]["f:containers"][r#"k:{"name":"web"}"#]
            ["f:ports"][r#"k:{"containerPort":80,"protocol":"TCP"}"#];
        assert_eq!(port, &json!({".": {}, "f:containerPort": {}, "f:name": {}}));
    }

    #[test]
    fn apply_merges_service_ports_by_port_and_protocol() {
        let service = |ports: Value| {
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
                   "spec": {"ports": ports}})
        };
        let live = ok_apply(None, &service(json!([{"port": 80}])), "a");
        let live = ok_apply(Some(&live), &service(json!([{"port": 443}])), "b");
        assert_eq!(live["spec"]["ports"], json!([{"port": 80}, {"port": 443}]));
    }

    #[test]
    fn apply_merges_conditions_by_type() {
        let status = |conditions: Value| {
            json!({"apiVersion": "v1", "kind": "Thing", "metadata": {"name": "t"},
                   "status": {"conditions": conditions}})
        };
        let live = ok_apply(
            None,
            &status(json!([{"type": "Ready", "status": "False"}])),
            "a",
        );
        let live = ok_apply(
            Some(&live),
            &status(json!([{"type": "Synced", "status": "True"}])),
            "b",
        );
        let object = ok_apply(
            Some(&live),
            &status(json!([{"type": "Ready", "status": "True"}])),
            "a",
        );
        assert_eq!(
            object["status"]["conditions"],
            json!([
                {"type": "Ready", "status": "True"},
                {"type": "Synced", "status": "True"},
            ])
        );
    }

    #[test]
    fn finalizers_merge_as_set() {
        let finalizers = |list: Value| {
            json!({"apiVersion": "v1", "kind": "ConfigMap",
                   "metadata": {"name": "c", "finalizers": list}})
        };
        let live = ok_apply(None, &finalizers(json!(["a.io/x"])), "a");
        let live = ok_apply(Some(&live), &finalizers(json!(["b.io/y"])), "b");
        assert_eq!(live["metadata"]["finalizers"], json!(["a.io/x", "b.io/y"]));
        assert_eq!(
            owned_by(&live, "a", Operation::Apply),
            json!({"f:metadata": {"f:finalizers": {r#"v:"a.io/x""#: {}}}})
        );
        let object = ok_apply(Some(&live), &finalizers(json!([])), "a");
        assert_eq!(object["metadata"]["finalizers"], json!(["b.io/y"]));
    }

    #[test]
    fn atomic_list_replaced_whole() {
        let args = |list: Value| deploy_containers(json!([{"name": "web", "args": list}]));
        let live = ok_apply(None, &args(json!(["x", "y"])), "a");
        let object = ok_apply(Some(&live), &args(json!(["z"])), "a");
        assert_eq!(
            object["spec"]["template"]["spec"]["containers"][0]["args"],
            json!(["z"])
        );
        let result = apply(Some(&object), &args(json!(["q"])), "b", false, &rules());
        let field = r#".spec.template.spec.containers[name="web"].args"#;
        assert_eq!(conflicts(result), [("a".to_owned(), field.to_owned())]);
    }

    #[test]
    fn crd_path_override_merges_by_declared_keys() {
        let crd_rules =
            ListRules::builtin().with_path("spec.items", ListType::Map(vec!["id".into()]));
        let items = |list: Value| {
            json!({"apiVersion": "x.io/v1", "kind": "Thing", "metadata": {"name": "t"},
                   "spec": {"items": list}})
        };
        let first = items(json!([{"id": 1, "v": "a"}]));
        let second = items(json!([{"id": 2, "v": "b"}]));
        let live = apply(None, &first, "a", false, &crd_rules).expect("create");
        let object = apply(Some(&live), &second, "b", false, &crd_rules).expect("merge");
        assert_eq!(
            object["spec"]["items"],
            json!([{"id": 1, "v": "a"}, {"id": 2, "v": "b"}])
        );
        // Without the override the list is atomic, so "b" would conflict.
        let live = ok_apply(None, &first, "a");
        let result = apply(Some(&live), &second, "b", false, &rules());
        assert_eq!(
            conflicts(result),
            [("a".to_owned(), ".spec.items".to_owned())]
        );
        // An override also wins over a built-in rule.
        let atomic = rules().with_path("spec.template.spec.containers", ListType::Atomic);
        assert_eq!(
            atomic.list_type(&["spec", "template", "spec", "containers"]),
            ListType::Atomic
        );
    }

    #[test]
    fn update_takes_ownership_of_changed_fields_then_apply_conflicts() {
        let live = ok_apply(
            None,
            &deploy(json!({"replicas": 3, "paused": true})),
            "ctrl",
        );
        let mut edited = live.clone();
        edited["spec"]["replicas"] = json!(5);
        let live = record_update(Some(&live), &edited, "kubectl-edit", None, &rules());
        assert_eq!(
            owned_by(&live, "kubectl-edit", Operation::Update),
            json!({"f:spec": {"f:replicas": {}}})
        );
        assert_eq!(
            owned_by(&live, "ctrl", Operation::Apply),
            json!({"f:spec": {"f:paused": {}}})
        );
        let result = apply(
            Some(&live),
            &deploy(json!({"replicas": 3, "paused": true})),
            "ctrl",
            false,
            &rules(),
        );
        assert_eq!(
            conflicts(result),
            [("kubectl-edit".to_owned(), ".spec.replicas".to_owned())]
        );
    }

    #[test]
    fn update_on_create_owns_every_field_and_drops_removed_ones() {
        let object = deploy(json!({"replicas": 1, "paused": true}));
        let created = record_update(None, &object, "kubectl-create", None, &rules());
        assert_eq!(
            owned_by(&created, "kubectl-create", Operation::Update),
            json!({"f:spec": {"f:paused": {}, "f:replicas": {}}})
        );
        let mut edited = created.clone();
        edited["spec"]
            .as_object_mut()
            .expect("spec")
            .remove("paused");
        let updated = record_update(Some(&created), &edited, "other", None, &rules());
        assert_eq!(
            owned_by(&updated, "kubectl-create", Operation::Update),
            json!({"f:spec": {"f:replicas": {}}})
        );
        // "other" changed nothing that still exists, so it has no entry.
        assert_eq!(owned_by(&updated, "other", Operation::Update), json!(null));
    }

    #[test]
    fn main_resource_apply_does_not_conflict_with_status_manager() {
        let live = ok_apply(None, &deploy(json!({"replicas": 3})), "ctrl");
        let mut with_status = live.clone();
        with_status["status"] = json!({"readyReplicas": 1});
        let live = record_update(
            Some(&live),
            &with_status,
            "kubelet",
            Some("status"),
            &rules(),
        );
        let entry = &live["metadata"]["managedFields"][1];
        assert_eq!(entry["manager"], "kubelet");
        assert_eq!(entry["subresource"], "status");

        let config = deploy(json!({"replicas": 3}));
        let mut config_with_status = config.clone();
        config_with_status["status"] = json!({"readyReplicas": 2});
        let object = ok_apply(Some(&live), &config_with_status, "ctrl");
        assert_eq!(object["status"]["readyReplicas"], 2);
    }

    #[test]
    fn fields_v1_round_trip() {
        let object = json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "p", "labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": "nginx"}]},
        });
        let fields = FieldSet::from_object(&object, &rules());
        let expected = r#"{"f:metadata":{"f:labels":{"f:app":{}}},"f:spec":{"f:containers":{"k:{\"name\":\"web\"}":{".":{},"f:image":{},"f:name":{}}}}}"#;
        assert_eq!(
            serde_json::to_string(&fields.to_fields_v1()).expect("json"),
            expected
        );
        let parsed: Value = serde_json::from_str(expected).expect("json");
        assert_eq!(FieldSet::from_fields_v1(&parsed), Ok(fields));

        let richer = json!({
            "metadata": {"finalizers": ["a", "b"], "ownerReferences": [{"uid": "u1", "kind": "K"}]},
            "spec": {"containers": [{"name": "w", "ports": [{"containerPort": 80}]}], "x": [1, 2]},
        });
        let fields = FieldSet::from_object(&richer, &rules());
        assert_eq!(FieldSet::from_fields_v1(&fields.to_fields_v1()), Ok(fields));
    }

    #[test]
    fn identity_and_server_fields_are_not_owned() {
        let object = json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": "c", "namespace": "n", "uid": "u", "resourceVersion": "7",
                "generation": 2, "creationTimestamp": "t", "deletionTimestamp": "t",
                "deletionGracePeriodSeconds": 0, "managedFields": [], "generateName": "c-",
            },
            "data": {"k": "v"},
        });
        assert_eq!(
            FieldSet::from_object(&object, &rules()).to_fields_v1(),
            json!({"f:data": {"f:k": {}}, "f:metadata": {"f:generateName": {}}})
        );
    }

    #[test]
    fn missing_list_map_key_is_invalid() {
        let config = deploy_containers(json!([{"image": "nginx"}]));
        let result = apply(None, &config, "ctrl", false, &rules());
        let Err(ApplyError::Invalid(message)) = result else {
            panic!("expected invalid, got {result:?}");
        };
        assert!(
            message.contains(".spec.template.spec.containers"),
            "{message}"
        );
        assert!(message.contains("name"), "{message}");
    }

    #[test]
    fn duplicate_list_map_key_is_invalid() {
        let config = deploy_containers(json!([
            {"name": "web", "image": "a"},
            {"name": "web", "image": "b"},
        ]));
        let result = apply(None, &config, "ctrl", false, &rules());
        let Err(ApplyError::Invalid(message)) = result else {
            panic!("expected invalid, got {result:?}");
        };
        assert!(
            message.contains(r#"duplicate entries for key [name="web"]"#),
            "{message}"
        );
    }

    #[test]
    fn malformed_managed_fields_are_invalid() {
        let object =
            json!({"metadata": {"managedFields": [{"manager": "m", "operation": "Oops"}]}});
        assert!(matches!(
            ManagedFields::from_object(&object),
            Err(ApplyError::Invalid(_))
        ));
        assert!(FieldSet::from_fields_v1(&json!({"i:0": {}})).is_err());
    }

    // --- properties ---------------------------------------------------------------------

    /// A Pod configuration with these spec fields and containers (name -> image).
    fn pod(spec: &BTreeMap<String, Value>, containers: &BTreeMap<String, String>) -> Value {
        let mut spec_json: Map<String, Value> = spec.clone().into_iter().collect();
        let containers: Vec<Value> = containers
            .iter()
            .map(|(name, image)| json!({"name": name, "image": image}))
            .collect();
        spec_json.insert("containers".to_owned(), Value::Array(containers));
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec_json})
    }

    fn scalar() -> impl Strategy<Value = Value> {
        prop_oneof![
            any::<i64>().prop_map(Value::from),
            "[a-z]{0,3}".prop_map(Value::from)
        ]
    }

    fn field_name() -> impl Strategy<Value = String> {
        prop::sample::select(vec!["a", "b", "c", "d", "e"]).prop_map(str::to_owned)
    }

    fn container_name() -> impl Strategy<Value = String> {
        prop::sample::select(vec!["web", "sidecar", "init", "proxy"]).prop_map(str::to_owned)
    }

    /// Containers sorted by name, so objects compare regardless of application order.
    fn sorted_containers(mut object: Value) -> Value {
        if let Some(list) = object["spec"]["containers"].as_array_mut() {
            list.sort_by(|x, y| x["name"].as_str().cmp(&y["name"].as_str()));
        }
        object
    }

    /// Splits a map in two by the flag of each entry.
    fn split<T: Clone>(map: &BTreeMap<String, (T, bool)>) -> [BTreeMap<String, T>; 2] {
        let side = |want: bool| {
            map.iter()
                .filter(|(_, (_, flag))| *flag == want)
                .map(|(k, (v, _))| (k.clone(), v.clone()))
                .collect()
        };
        [side(true), side(false)]
    }

    /// The bookkeeping of a non-apply write the long way: every field of `new` is looked up in
    /// `old`, and every manager keeps only what still exists. [`super::record_update`] looks
    /// only at what differs; the two must agree.
    fn record_update_by_full_walk(
        old: Option<&Value>,
        new: &Value,
        manager: &str,
        rules: &ListRules,
    ) -> Value {
        let (mut new, _) = split_managers(Some(new)).expect("an object");
        let old = split_managers(old);
        let mut managers = old.as_ref().map(|(_, m)| m.clone()).unwrap_or_default();
        let written = FieldSet::from_object(&new, rules);
        let changed = changed_paths(old.as_ref().map(|(o, _)| o), &new, &written, rules);
        for entry in managers.entries_mut() {
            entry.fields.remove_all(&changed);
        }
        let me = managers.entry_mut(manager, Operation::Update, None);
        me.api_version = api_version(&new);
        me.fields.union_with(&changed);
        for entry in managers.entries_mut() {
            entry.fields.retain_within(&written);
        }
        managers.normalize();
        managers.write_into(&mut new);
        new
    }

    /// Values of every shape ownership distinguishes: scalars, maps, atomic lists, and lists
    /// that break a rule when they sit where a set or a list-map is expected.
    fn shaped_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![scalar(), Just(Value::Null)];
        leaf.prop_recursive(2, 12, 3, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
                prop::collection::btree_map(field_name(), inner, 0..3)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// An object with labels, finalizers (a set), containers (a list-map by name, sometimes
    /// with an item that breaks the rule) and a spec of random shapes.
    fn shaped_object() -> impl Strategy<Value = Value> {
        let finalizers = prop::collection::vec(
            prop_oneof![
                4 => prop::sample::select(vec!["a", "b", "c"]).prop_map(Value::from),
                1 => Just(json!({"not": "a scalar"})),
            ],
            0..3,
        );
        let container = (
            prop_oneof![
                4 => container_name().prop_map(Value::from),
                1 => Just(Value::Null),
            ],
            shaped_value(),
        )
            .prop_map(|(name, image)| json!({"name": name, "image": image}));
        (
            prop::collection::btree_map(field_name(), "[a-z]{1,2}", 0..3),
            finalizers,
            prop::collection::vec(container, 0..3),
            prop::collection::btree_map(field_name(), shaped_value(), 0..4),
        )
            .prop_map(|(labels, finalizers, containers, spec)| {
                let mut spec: Map<String, Value> = spec.into_iter().collect();
                spec.insert("containers".to_owned(), Value::Array(containers));
                json!({"apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": "p", "labels": labels, "finalizers": finalizers},
                    "spec": spec})
            })
    }

    proptest! {
        #[test]
        fn reapply_is_noop_for_random_configs(
            spec in prop::collection::btree_map(field_name(), scalar(), 0..5),
            containers in prop::collection::btree_map(container_name(), "[a-z]{1,3}", 0..4),
            other in prop::collection::btree_map(field_name(), scalar(), 0..3),
        ) {
            let config = pod(&spec, &containers);
            let live = apply(None, &config, "m", false, &rules()).expect("create");
            prop_assert_eq!(&apply(Some(&live), &config, "m", false, &rules()).expect("reapply"), &live);
            let fields = FieldSet::from_object(&config, &rules());
            prop_assert_eq!(FieldSet::from_fields_v1(&fields.to_fields_v1()), Ok(fields));
            // After someone else forces other values in, a re-apply of theirs is a no-op too.
            let theirs = pod(&other, &BTreeMap::new());
            let live = apply(Some(&live), &theirs, "n", true, &rules()).expect("force");
            prop_assert_eq!(&apply(Some(&live), &theirs, "n", false, &rules()).expect("reapply"), &live);
        }

        #[test]
        fn reapply_after_changing_config_is_noop(
            first in prop::collection::btree_map(field_name(), scalar(), 0..5),
            first_containers in prop::collection::btree_map(container_name(), "[a-z]{1,3}", 0..4),
            second in prop::collection::btree_map(field_name(), scalar(), 0..5),
            second_containers in prop::collection::btree_map(container_name(), "[a-z]{1,3}", 0..4),
        ) {
            let live = apply(None, &pod(&first, &first_containers), "m", false, &rules()).expect("create");
            let config = pod(&second, &second_containers);
            let live = apply(Some(&live), &config, "m", false, &rules()).expect("change");
            // What the manager no longer applies is gone: the object is exactly its config
            // (up to the order of containers: kept ones stay first).
            let mut expected = config.clone();
            ManagedFields::from_object(&live).expect("managers").write_into(&mut expected);
            prop_assert_eq!(sorted_containers(live.clone()), sorted_containers(expected));
            prop_assert_eq!(&apply(Some(&live), &config, "m", false, &rules()).expect("reapply"), &live);
        }

        #[test]
        fn bookkeeping_of_what_differs_agrees_with_the_full_walk(
            steps in prop::collection::vec((0..3usize, any::<bool>(), shaped_object()), 1..6),
        ) {
            let mut live: Option<Value> = None;
            for (who, is_apply, object) in steps {
                let manager = ["a", "b", "c"][who];
                let next = if is_apply {
                    match apply(live.as_ref(), &object, manager, true, &rules()) {
                        Ok(next) => next,
                        Err(ApplyError::Invalid(_)) => continue,
                        Err(other) => return Err(TestCaseError::fail(format!("{other}"))),
                    }
                } else {
                    let by_diff = record_update(live.as_ref(), &object, manager, None, &rules());
                    let by_walk = record_update_by_full_walk(live.as_ref(), &object, manager, &rules());
                    prop_assert_eq!(&by_diff, &by_walk);
                    by_diff
                };
                live = Some(next);
            }
        }

        #[test]
        fn random_histories_keep_ownership_consistent(
            steps in prop::collection::vec(
                (0..3usize, any::<bool>(), any::<bool>(),
                 prop::collection::btree_map(field_name(), scalar(), 0..4),
                 prop::collection::btree_map(container_name(), "[a-z]{1,2}", 0..3)),
                1..8),
        ) {
            let mut live: Option<Value> = None;
            for (who, is_apply, force, spec, containers) in steps {
                let manager = ["a", "b", "c"][who];
                let config = pod(&spec, &containers);
                let next = if is_apply {
                    match apply(live.as_ref(), &config, manager, force, &rules()) {
                        Ok(object) => {
                            let again = apply(Some(&object), &config, manager, false, &rules());
                            prop_assert_eq!(again.as_ref(), Ok(&object));
                            object
                        }
                        Err(ApplyError::Conflicts(found)) => {
                            prop_assert!(!force && !found.is_empty());
                            continue;
                        }
                        Err(other) => return Err(TestCaseError::fail(format!("{other}"))),
                    }
                } else {
                    record_update(live.as_ref(), &config, manager, None, &rules())
                };
                let managers = ManagedFields::from_object(&next).expect("managers");
                let existing = FieldSet::from_object(&next, &rules());
                for entry in managers.entries() {
                    prop_assert!(!entry.fields.is_empty());
                    prop_assert!(entry.fields.paths.is_subset(&existing.paths));
                }
                let mut written = next.clone();
                managers.write_into(&mut written);
                prop_assert_eq!(&written, &next);
                live = Some(next);
            }
        }

        #[test]
        fn disjoint_managers_commute(
            spec in prop::collection::btree_map(field_name(), (scalar(), any::<bool>()), 0..5),
            containers in prop::collection::btree_map(
                container_name(), ("[a-z]{1,3}", any::<bool>()), 0..4),
        ) {
            let [spec_a, spec_b] = split(&spec);
            let [containers_a, containers_b] = split(&containers);
            let config_a = pod(&spec_a, &containers_a);
            let config_b = pod(&spec_b, &containers_b);
            let both = |first: &Value, first_name: &str, second: &Value, second_name: &str| {
                let live = apply(None, first, first_name, false, &rules()).expect("first");
                apply(Some(&live), second, second_name, false, &rules()).expect("second")
            };
            let ab = both(&config_a, "a", &config_b, "b");
            let ba = both(&config_b, "b", &config_a, "a");
            prop_assert_eq!(sorted_containers(ab), sorted_containers(ba));
        }
    }
}
