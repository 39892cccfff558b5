//! Strategic merge patch, as Kubernetes applies it
//! (`k8s.io/apimachinery/pkg/util/strategicpatch`, `StrategicMergeMapPatch`
//! with `MergeParallelList` and `IgnoreUnmatchedNulls`).
//!
//! Maps merge key by key and `null` removes a key, as in a merge patch.
//! Lists merge when their field has the merge patch strategy, which kcheck
//! reads from the kind's [`ListRules`]: a `ListType::Set` is a list of
//! primitives merged as a union, a `ListType::Map(keys)` a list of maps merged
//! item by item on its first key (the `patchMergeKey` of the built-in types:
//! `containerPort` for container ports, `port` for Service ports, ...). Every
//! other list is replaced whole.
//!
//! The directives:
//! - `$patch: replace` in a map replaces the map; as a list item it replaces
//!   the list with the other items;
//! - `$patch: delete` in a map makes it empty; as a list item it removes the
//!   item with that merge key;
//! - `$deleteFromPrimitiveList/<field>: [values]` removes values from the
//!   primitive list `<field>`;
//! - `$setElementOrder/<field>: [...]` orders the merged list `<field>`;
//! - `$retainKeys: [names]` drops the keys of the stored map not named.
//!
//! The errors are Kubernetes': a malformed `$retainKeys`,
//! `$deleteFromPrimitiveList` or `$setElementOrder` is 400 (the apiserver's
//! `interpretStrategicMergePatchError`), a list of lists is 422, and every
//! other failure of `mergeMap` (an unknown `$patch` value, a `$patch: merge`,
//! a list item without its merge key, mixed element types) reaches the
//! client as the plain error it is, which the apiserver answers with 500.
//!
//! Kubernetes decodes the merged map into the kind's Go type, which drops
//! any directive key a patch carried into a new value; kcheck stores JSON,
//! so it strips them itself: no directive is ever stored.

use serde_json::{Map, Value};

use crate::api::apply::{ListRules, ListType};
use crate::api::error::{ApiError, Reason};

/// The key of the `$patch` directive.
const DIRECTIVE: &str = "$patch";
/// The key of the `$retainKeys` directive.
const RETAIN_KEYS: &str = "$retainKeys";
/// The prefix of `$setElementOrder/<field>` keys.
const SET_ORDER: &str = "$setElementOrder";
/// The prefix of `$deleteFromPrimitiveList/<field>` keys.
const DELETE_PRIMITIVES: &str = "$deleteFromPrimitiveList";

/// Applies a strategic merge patch (a JSON map) to an object (a JSON map).
pub(super) fn apply(
    target: &Value,
    patch: &Map<String, Value>,
    rules: &ListRules,
) -> Result<Value, ApiError> {
    let original = target.as_object().cloned().unwrap_or_default();
    let merger = Merger { rules };
    let merged = merger.merge_map(original, patch.clone(), &mut Vec::new())?;
    Ok(Value::Object(merged))
}

/// The list rules of the patched kind, and the walk over both documents.
struct Merger<'a> {
    rules: &'a ListRules,
}

impl Merger<'_> {
    /// strategicpatch.mergeMap.
    fn merge_map(
        &self,
        mut original: Map<String, Value>,
        mut patch: Map<String, Value>,
        path: &mut Vec<String>,
    ) -> Result<Map<String, Value>, ApiError> {
        if let Some(directive) = patch.remove(DIRECTIVE) {
            return map_directive(&directive, patch);
        }
        retain_keys(&mut original, &mut patch)?;
        self.set_element_orders(&mut original, &mut patch, path)?;
        let (deletions, fields): (Vec<_>, Vec<_>) = patch
            .into_iter()
            .partition(|(k, _)| k.starts_with(DELETE_PRIMITIVES));
        for (key, value) in fields {
            self.merge_field(&mut original, key, value, false, path)?;
        }
        for (key, value) in deletions {
            let field = directive_field(&key, DELETE_PRIMITIVES)?;
            self.merge_field(&mut original, field, value, true, path)?;
        }
        Ok(original)
    }

    /// One key of `mergeMap`'s loop; `deletion` for a
    /// `$deleteFromPrimitiveList/<key>` list.
    fn merge_field(
        &self,
        original: &mut Map<String, Value>,
        key: String,
        value: Value,
        deletion: bool,
        path: &mut Vec<String>,
    ) -> Result<(), ApiError> {
        if value.is_null() {
            original.remove(&key);
            return Ok(());
        }
        let Some(current) = original.get_mut(&key) else {
            if !deletion {
                insert_new(original, key, value);
            }
            return Ok(());
        };
        path.push(key.clone());
        let result = match (current.take(), value) {
            (Value::Object(o), Value::Object(p)) => {
                self.merge_map(o, p, path).map(|m| Some(Value::Object(m)))
            }
            (Value::Array(o), Value::Array(p)) => self
                .merge_list(o, p, deletion, path)
                .map(|l| Some(Value::Array(l))),
            (o, p) if same_kind(&o, &p) || !deletion => Ok(new_value(p)),
            (o, _) => Ok(Some(o)),
        };
        path.pop();
        match result? {
            Some(v) => *original.entry(key).or_insert(Value::Null) = v,
            None => {
                original.remove(&key);
            }
        }
        Ok(())
    }

    /// The patch strategy of the list at `path`: `None` if it is replaced
    /// whole, else merged on its merge key (`None` for primitives).
    fn strategy(&self, path: &[String]) -> Option<Option<String>> {
        let segments: Vec<&str> = path.iter().map(String::as_str).collect();
        match self.rules.list_type(&segments) {
            ListType::Atomic => None,
            ListType::Set => Some(None),
            ListType::Map(keys) => Some(keys.into_iter().next()),
        }
    }

    /// strategicpatch.mergeSliceHandler: merge or replace.
    fn merge_list(
        &self,
        original: Vec<Value>,
        patch: Vec<Value>,
        deletion: bool,
        path: &mut Vec<String>,
    ) -> Result<Vec<Value>, ApiError> {
        let strategy = self.strategy(path);
        if strategy.is_none() && !deletion {
            return Ok(patch.into_iter().map(strip_directive_keys).collect());
        }
        self.merge_slice(
            original,
            patch,
            strategy.flatten().as_deref(),
            deletion,
            path,
        )
    }

    /// strategicpatch.mergeSlice: a list with patchStrategy=merge.
    fn merge_slice(
        &self,
        original: Vec<Value>,
        patch: Vec<Value>,
        key: Option<&str>,
        deletion: bool,
        path: &mut Vec<String>,
    ) -> Result<Vec<Value>, ApiError> {
        if original.is_empty() && patch.is_empty() {
            return Ok(original);
        }
        let is_map = element_kind(&original, &patch)? == Kind::Object;
        if !is_map {
            if deletion {
                return Ok(original
                    .into_iter()
                    .filter(|v| !patch.contains(v))
                    .collect());
            }
            let mut merged: Vec<Value> = Vec::new();
            for item in original.iter().chain(&patch) {
                if !merged.contains(item) {
                    merged.push(item.clone());
                }
            }
            let (in_patch, server_only) = partition(merged, &patch, None);
            return normalize_order(in_patch, server_only, &patch, &original, None, false);
        }
        let key = key.ok_or_else(|| {
            server_error(format!(
                "cannot merge lists without merge key for {}",
                path.join(".")
            ))
        })?;
        let (original, patch) = special_elements(original, patch, key)?;
        let merged = self.merge_items(original.clone(), &patch, key, path)?;
        require_key(&merged, key)?;
        let (in_patch, server_only) = partition(merged, &patch, Some(key));
        normalize_order(in_patch, server_only, &patch, &original, Some(key), true)
    }

    /// strategicpatch.mergeSliceWithoutSpecialElements: merges each patch
    /// item into the stored item with the same merge key, or appends it.
    fn merge_items(
        &self,
        mut original: Vec<Value>,
        patch: &[Value],
        key: &str,
        path: &mut Vec<String>,
    ) -> Result<Vec<Value>, ApiError> {
        for item in patch {
            let wanted = item.get(key).ok_or_else(|| no_merge_key(item, key))?;
            let found = original.iter().position(|o| o.get(key) == Some(wanted));
            let Some(index) = found else {
                original.push(strip_directive_keys(without_nulls(item.clone())));
                continue;
            };
            let stored = original[index].as_object().cloned().unwrap_or_default();
            let patch_item = item.as_object().cloned().unwrap_or_default();
            original[index] = Value::Object(self.merge_map(stored, patch_item, path)?);
        }
        Ok(original)
    }

    /// strategicpatch.mergePatchIntoOriginal: each `$setElementOrder/<field>`
    /// merges `<field>` now and orders it; the field leaves the patch.
    fn set_element_orders(
        &self,
        original: &mut Map<String, Value>,
        patch: &mut Map<String, Value>,
        path: &mut Vec<String>,
    ) -> Result<(), ApiError> {
        let keys: Vec<String> = patch
            .keys()
            .filter(|k| k.starts_with(SET_ORDER))
            .cloned()
            .collect();
        for directive in keys {
            let order = match patch.remove(&directive) {
                Some(Value::Array(order)) => order,
                other => return Err(bad_arg_type("[]interface {}", &other.unwrap_or_default())),
            };
            let field = directive_field(&directive, SET_ORDER)?;
            let stored = list_at(original, &field)?;
            let patched = list_at(patch, &field)?;
            path.push(field.clone());
            let result = self.ordered_list(stored, patched, &order, path);
            path.pop();
            if let Some(list) = result? {
                original.insert(field.clone(), Value::Array(list));
            }
            patch.remove(&field);
        }
        Ok(())
    }

    /// The list `<field>` of one `$setElementOrder/<field>`, merged and
    /// ordered; `None` if neither document has it.
    fn ordered_list(
        &self,
        stored: Option<Vec<Value>>,
        patched: Option<Vec<Value>>,
        order: &[Value],
        path: &mut Vec<String>,
    ) -> Result<Option<Vec<Value>>, ApiError> {
        let key = self.strategy(path).flatten();
        let key = key.as_deref();
        validate_order(patched.as_deref().unwrap_or_default(), order, key)?;
        let stored_items = stored.clone().unwrap_or_default();
        let patch_items = patched.clone().unwrap_or_default();
        let merged = match (stored, patched) {
            (None, None) => return Ok(None),
            (Some(stored), None) => stored,
            (None, Some(patched)) => patched,
            (Some(stored), Some(patched)) => self.merge_list(stored, patched, false, path)?,
        };
        let is_map = element_kind(&stored_items, &patch_items)? == Kind::Object;
        if let (true, Some(key)) = (is_map, key) {
            require_key(&merged, key)?;
        }
        let (in_order, server_only) = partition(merged, order, key);
        let list = normalize_order(in_order, server_only, order, &stored_items, key, is_map)?;
        Ok(Some(list.into_iter().map(strip_directive_keys).collect()))
    }
}

/// strategicpatch.handleDirectiveInMergeMap: `$patch` in a map.
fn map_directive(
    directive: &Value,
    patch: Map<String, Value>,
) -> Result<Map<String, Value>, ApiError> {
    match directive.as_str() {
        Some("replace") => match strip_directive_keys(Value::Object(patch)) {
            Value::Object(m) => Ok(m),
            _ => Ok(Map::new()),
        },
        Some("delete") => Ok(Map::new()),
        _ => Err(bad_patch_type(directive, &patch)),
    }
}

/// strategicpatch.applyRetainKeysDirective: drops the stored keys that
/// `$retainKeys` does not name; every key the patch sets must be named.
fn retain_keys(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
) -> Result<(), ApiError> {
    let Some(retain) = patch.remove(RETAIN_KEYS) else {
        return Ok(());
    };
    let bad = || ApiError::bad_request("invalid patch format of retainKeys");
    let names = retain.as_array().ok_or_else(bad)?;
    let named = |k: &str| names.iter().any(|n| n.as_str() == Some(k));
    let unnamed = patch.iter().any(|(k, v)| {
        !v.is_null() && !k.starts_with(DELETE_PRIMITIVES) && !k.starts_with(SET_ORDER) && !named(k)
    });
    if unnamed {
        return Err(bad());
    }
    original.retain(|k, _| named(k));
    Ok(())
}

/// strategicpatch.mergeSliceWithSpecialElements: applies the list items
/// carrying `$patch` and returns the stored list and the other items (or,
/// for `$patch: replace`, the other items as the stored list).
fn special_elements(
    mut original: Vec<Value>,
    patch: Vec<Value>,
    key: &str,
) -> Result<(Vec<Value>, Vec<Value>), ApiError> {
    let mut plain = Vec::new();
    let mut replace = false;
    for item in patch {
        let Some(directive) = item.get(DIRECTIVE) else {
            plain.push(item);
            continue;
        };
        match directive.as_str() {
            Some("delete") => {
                let value = item.get(key).ok_or_else(|| no_merge_key(&item, key))?;
                original.retain(|o| o.get(key) != Some(value));
            }
            Some("replace") => replace = true,
            Some("merge") => {
                return Err(server_error(
                    "merging lists cannot yet be specified in the patch",
                ));
            }
            _ => {
                return Err(bad_patch_type(
                    directive,
                    item.as_object().unwrap_or(&Map::new()),
                ));
            }
        }
    }
    if replace {
        let items = plain.into_iter().map(strip_directive_keys).collect();
        return Ok((items, Vec::new()));
    }
    Ok((original, plain))
}

/// strategicpatch.validatePatchWithSetOrderList: the patch's items (but
/// deletions) must come in the order `$setElementOrder` gives.
fn validate_order(patch: &[Value], order: &[Value], key: Option<&str>) -> Result<(), ApiError> {
    if patch.is_empty() || order.is_empty() {
        return Ok(());
    }
    let items: Vec<&Value> = patch
        .iter()
        .filter(|v| key.is_none() || v.get(DIRECTIVE).and_then(Value::as_str) != Some("delete"))
        .collect();
    let (mut i, mut j) = (0, 0);
    while i < items.len() && j < order.len() {
        if items[i].get(DIRECTIVE).is_some() {
            i += 1;
            continue;
        }
        if same_key(items[i], &order[j], key)? {
            i += 1;
        }
        j += 1;
    }
    if i < items.len() {
        return Err(server_error(format!(
            "The order in patch list:\n{}\n doesn't match {SET_ORDER} list:\n{}\n",
            Value::from(patch.to_vec()),
            Value::from(order.to_vec())
        )));
    }
    Ok(())
}

/// strategicpatch.mergeKeyValueEqual.
fn same_key(left: &Value, right: &Value, key: Option<&str>) -> Result<bool, ApiError> {
    let Some(key) = key else {
        return Ok(left == right);
    };
    let l = left.get(key).ok_or_else(|| no_merge_key(left, key))?;
    let r = right.get(key).ok_or_else(|| no_merge_key(right, key))?;
    Ok(l == r)
}

/// The value an item is ordered by: its merge key, or itself.
fn order_value<'v>(item: &'v Value, key: Option<&str>) -> Option<&'v Value> {
    match key {
        Some(key) => item.get(key),
        None => Some(item),
    }
}

/// strategicpatch.index: where an item is in `order`.
fn index_in(order: &[Value], item: &Value, key: Option<&str>) -> Option<usize> {
    let wanted = order_value(item, key);
    order.iter().position(|o| order_value(o, key) == wanted)
}

/// partitionPrimitivesByPresentInList / partitionMapsByPresentInList: the
/// items `by` names, and the others, each in their order.
fn partition(items: Vec<Value>, by: &[Value], key: Option<&str>) -> (Vec<Value>, Vec<Value>) {
    items
        .into_iter()
        .partition(|item| index_in(by, item, key).is_some())
}

/// strategicpatch.normalizeElementOrder: sorts the patch's items by
/// `patch_order` and the server-only ones by `server_order`, then merges
/// the two: a server-only item goes before a patch item only if both are
/// in `server_order` and it comes first there, so new items go before the
/// server-only items that follow them.
fn normalize_order(
    in_patch: Vec<Value>,
    server_only: Vec<Value>,
    patch_order: &[Value],
    server_order: &[Value],
    key: Option<&str>,
    is_map: bool,
) -> Result<Vec<Value>, ApiError> {
    let right = sort_by_order(in_patch, patch_order, key, is_map)?;
    let left = sort_by_order(server_only, server_order, key, is_map)?;
    let mut out = Vec::with_capacity(left.len() + right.len());
    let (mut left, mut right) = (left.into_iter().peekable(), right.into_iter().peekable());
    while let (Some(l), Some(r)) = (left.peek(), right.peek()) {
        let before = match (
            index_in(server_order, l, key),
            index_in(server_order, r, key),
        ) {
            (Some(li), Some(ri)) => li < ri,
            _ => false,
        };
        let next = if before { left.next() } else { right.next() };
        out.extend(next);
    }
    out.extend(left);
    out.extend(right);
    Ok(out)
}

/// strategicpatch.normalizeSliceOrder: a stable sort by position in
/// `order` (items it does not name go last), deletions at the end.
fn sort_by_order(
    items: Vec<Value>,
    order: &[Value],
    key: Option<&str>,
    is_map: bool,
) -> Result<Vec<Value>, ApiError> {
    let (mut kept, deleted): (Vec<Value>, Vec<Value>) = if is_map {
        let key = key.unwrap_or_default();
        require_key(&items, key)?;
        require_key(order, key)?;
        items
            .into_iter()
            .partition(|v| v.get(DIRECTIVE).and_then(Value::as_str) != Some("delete"))
    } else {
        (items, Vec::new())
    };
    kept.sort_by_key(|v| index_in(order, v, key).unwrap_or(usize::MAX));
    kept.extend(deleted);
    Ok(kept)
}

/// strategicpatch.validateMergeKeyInLists.
fn require_key(items: &[Value], key: &str) -> Result<(), ApiError> {
    match items.iter().find(|v| v.get(key).is_none()) {
        Some(item) => Err(no_merge_key(item, key)),
        None => Ok(()),
    }
}

/// The JSON type of a list element, as `sliceElementType` compares them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Null,
    Bool,
    Number,
    String,
    Object,
    Array,
}

/// The JSON type of a value.
fn kind_of(v: &Value) -> Kind {
    match v {
        Value::Null => Kind::Null,
        Value::Bool(_) => Kind::Bool,
        Value::Number(_) => Kind::Number,
        Value::String(_) => Kind::String,
        Value::Object(_) => Kind::Object,
        Value::Array(_) => Kind::Array,
    }
}

/// Whether two values have the same JSON type.
fn same_kind(a: &Value, b: &Value) -> bool {
    kind_of(a) == kind_of(b)
}

/// strategicpatch.sliceElementType: the one element type of the lists.
fn element_kind(original: &[Value], patch: &[Value]) -> Result<Kind, ApiError> {
    let mut kinds = original.iter().chain(patch).map(kind_of);
    let first = kinds
        .next()
        .ok_or_else(|| server_error("no elements in any of the given slices"))?;
    if first == Kind::Array {
        return Err(ApiError::invalid("lists of lists are not supported"));
    }
    if kinds.any(|k| k != first) {
        return Err(server_error(format!(
            "list element types are not identical: {}",
            Value::from(original.iter().chain(patch).cloned().collect::<Vec<_>>())
        )));
    }
    Ok(first)
}

/// A key of the stored map the patch sets for the first time (or to a value
/// of another type): its value without nulls (`discardNullValuesFromPatch`),
/// without maps carrying `$patch` (`removeDirectives`) and without the
/// other directive keys (the typed decode drops them).
fn insert_new(original: &mut Map<String, Value>, key: String, value: Value) {
    if let Some(v) = new_value(value) {
        original.insert(key, v);
    }
}

/// The value a new key takes, or `None` if the value is itself a directive.
fn new_value(value: Value) -> Option<Value> {
    remove_directives(without_nulls(value)).map(strip_directive_keys)
}

/// strategicpatch.discardNullValuesFromPatch.
fn without_nulls(value: Value) -> Value {
    match value {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, without_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(without_nulls).collect()),
        other => other,
    }
}

/// strategicpatch.removeDirectives: drops the maps that carry `$patch`.
fn remove_directives(value: Value) -> Option<Value> {
    match value {
        Value::Object(m) if m.contains_key(DIRECTIVE) => None,
        Value::Object(m) => Some(Value::Object(
            m.into_iter()
                .filter_map(|(k, v)| remove_directives(v).map(|v| (k, v)))
                .collect(),
        )),
        Value::Array(items) => Some(Value::Array(
            items.into_iter().filter_map(remove_directives).collect(),
        )),
        other => Some(other),
    }
}

/// Whether a map key is a strategic merge patch directive.
fn is_directive_key(key: &str) -> bool {
    key == DIRECTIVE
        || key == RETAIN_KEYS
        || key.starts_with(SET_ORDER)
        || key.starts_with(DELETE_PRIMITIVES)
}

/// The value without directive keys anywhere in it, as decoding it into
/// the kind's type would leave it.
fn strip_directive_keys(value: Value) -> Value {
    match value {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .filter(|(k, _)| !is_directive_key(k))
                .map(|(k, v)| (k, strip_directive_keys(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(strip_directive_keys).collect()),
        other => other,
    }
}

/// strategicpatch.extractKey: the field a `<prefix>/<field>` key names.
fn directive_field(key: &str, prefix: &str) -> Result<String, ApiError> {
    match key.split_once('/') {
        Some((head, field)) if head == prefix => Ok(field.to_string()),
        _ if prefix == SET_ORDER => Err(ApiError::bad_request(
            "invalid patch format of setElementOrder list",
        )),
        _ => Err(ApiError::bad_request(
            "invalid patch format of primitive list",
        )),
    }
}

/// The list at `field` of a map, if there is one; another value is an
/// error (`mergepatch.ErrBadArgType`).
fn list_at(map: &Map<String, Value>, field: &str) -> Result<Option<Vec<Value>>, ApiError> {
    match map.get(field) {
        None => Ok(None),
        Some(Value::Array(items)) => Ok(Some(items.clone())),
        Some(other) => Err(bad_arg_type("[]interface {}", other)),
    }
}

/// An error `mergeMap` returns as it is, which the apiserver answers with
/// 500.
fn server_error(message: impl Into<String>) -> ApiError {
    ApiError::new(Reason::InternalError, message)
}

/// mergepatch.ErrBadPatchType.
fn bad_patch_type(directive: &Value, map: &Map<String, Value>) -> ApiError {
    let name = directive
        .as_str()
        .map_or_else(|| directive.to_string(), str::to_string);
    server_error(format!(
        "unknown patch type: {name} in map: {}",
        Value::Object(map.clone())
    ))
}

/// mergepatch.ErrNoMergeKey.
fn no_merge_key(item: &Value, key: &str) -> ApiError {
    server_error(format!(
        "map: {item} does not contain declared merge key: {key}"
    ))
}

/// mergepatch.ErrBadArgType.
fn bad_arg_type(expected: &str, got: &Value) -> ApiError {
    let got = match kind_of(got) {
        Kind::Null => "<nil>",
        Kind::Bool => "bool",
        Kind::Number => "float64",
        Kind::String => "string",
        Kind::Object => "map[string]interface {}",
        Kind::Array => "[]interface {}",
    };
    server_error(format!("expected a {expected}, but received a {got}"))
}

#[cfg(test)]
mod tests;
