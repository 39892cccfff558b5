//! Field masks: JSON pointers, with `*` for every member, naming the fields
//! the converged-state hash (version 2) leaves out of an object. Which masks
//! apply to which kind is `crate::api::converged`'s business; this module
//! knows only JSON.

use std::collections::BTreeMap;

use serde_json::Value;

/// A field left out of converged-state comparison: a JSON pointer
/// (RFC 6901, `~0` for `~` and `~1` for `/`) in which a segment `*` stands
/// for every member of a map or element of a list.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FieldMask {
    text: String,
    segments: Vec<Segment>,
}

/// One step of a field mask.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Segment {
    /// A map key or a list index.
    Key(String),
    /// `*`: every member or element.
    Any,
}

/// Why a field mask is not a usable JSON pointer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MaskError {
    /// It does not start with `/`.
    #[error(
        "a JSON pointer must start with \"/\", like \"/metadata/annotations/example.com~1build\", not {0:?}"
    )]
    NoLeadingSlash(String),
    /// A segment is empty (`/metadata/`, `//x`).
    #[error("{0:?} has an empty segment: name a field at every level")]
    EmptySegment(String),
    /// A `~` is not followed by `0` or `1`.
    #[error("{0:?}: \"~\" must be followed by 0 or 1 (\"~0\" stands for \"~\", \"~1\" for \"/\")")]
    BadEscape(String),
}

impl FieldMask {
    /// Parses a JSON pointer such as `/metadata/annotations/x` or
    /// `/status/conditions/*/observedGeneration`.
    pub fn parse(text: &str) -> Result<FieldMask, MaskError> {
        let Some(rest) = text.strip_prefix('/') else {
            return Err(MaskError::NoLeadingSlash(text.to_string()));
        };
        let mut segments = Vec::new();
        for raw in rest.split('/') {
            if raw.is_empty() {
                return Err(MaskError::EmptySegment(text.to_string()));
            }
            segments.push(match raw {
                "*" => Segment::Any,
                _ => Segment::Key(unescape(raw).ok_or_else(|| MaskError::BadEscape(text.into()))?),
            });
        }
        Ok(FieldMask {
            text: text.to_string(),
            segments,
        })
    }

    /// The pointer as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Removes every field the mask matches from `value`.
    /// A map the removal leaves empty is removed with it; a list keeps its
    /// length, a masked element becoming `null`.
    pub fn remove(&self, value: &mut Value) {
        remove_at(value, &self.segments);
    }

    /// Every field the mask matches in `value`, by its concrete pointer.
    pub fn matches(&self, value: &Value) -> BTreeMap<String, Value> {
        let mut out = BTreeMap::new();
        collect_at(value, &self.segments, String::new(), &mut out);
        out
    }
}

/// Undoes `~1` and `~0`; `None` for any other `~`.
fn unescape(raw: &str) -> Option<String> {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        match c {
            '~' => match chars.next() {
                Some('0') => out.push('~'),
                Some('1') => out.push('/'),
                _ => return None,
            },
            other => out.push(other),
        }
    }
    Some(out)
}

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// The children of a map or list a segment names, as (pointer part, value).
fn children<'a>(value: &'a Value, segment: &Segment) -> Vec<(String, &'a Value)> {
    match (value, segment) {
        (Value::Object(map), Segment::Key(k)) => {
            map.get(k).map(|v| (escape(k), v)).into_iter().collect()
        }
        (Value::Object(map), Segment::Any) => map.iter().map(|(k, v)| (escape(k), v)).collect(),
        (Value::Array(items), Segment::Key(k)) => k
            .parse::<usize>()
            .ok()
            .and_then(|i| items.get(i).map(|v| (i.to_string(), v)))
            .into_iter()
            .collect(),
        (Value::Array(items), Segment::Any) => items
            .iter()
            .enumerate()
            .map(|(i, v)| (i.to_string(), v))
            .collect(),
        _ => Vec::new(),
    }
}

fn collect_at(value: &Value, segments: &[Segment], at: String, out: &mut BTreeMap<String, Value>) {
    let Some((first, rest)) = segments.split_first() else {
        out.insert(at, value.clone());
        return;
    };
    for (part, child) in children(value, first) {
        collect_at(child, rest, format!("{at}/{part}"), out);
    }
}

/// Removes what `segments` match below `value`; true if anything went.
/// A map the removal leaves empty goes too, so `status: {mode: B}` masked
/// at `/status/mode` hashes as an object with no `status`, the same as one
/// that never had a mode. A list keeps its length: a masked element
/// hashes as `null`.
fn remove_at(value: &mut Value, segments: &[Segment]) -> bool {
    let Some((first, rest)) = segments.split_first() else {
        return false;
    };
    match (value, first) {
        (Value::Object(map), Segment::Key(k)) if rest.is_empty() => map.remove(k).is_some(),
        (Value::Object(map), Segment::Any) if rest.is_empty() => {
            let removed = !map.is_empty();
            map.clear();
            removed
        }
        (Value::Object(map), Segment::Key(k)) => {
            let removed = map.get_mut(k).is_some_and(|child| remove_at(child, rest));
            if removed && map.get(k).is_some_and(is_empty_map) {
                map.remove(k);
            }
            removed
        }
        (Value::Object(map), Segment::Any) => {
            let mut removed = false;
            map.retain(|_, child| {
                let here = remove_at(child, rest);
                removed |= here;
                !(here && is_empty_map(child))
            });
            removed
        }
        (Value::Array(items), Segment::Key(k)) => {
            let Some(child) = k.parse::<usize>().ok().and_then(|i| items.get_mut(i)) else {
                return false;
            };
            mask_element(child, rest)
        }
        (Value::Array(items), Segment::Any) => items
            .iter_mut()
            .fold(false, |removed, child| mask_element(child, rest) | removed),
        _ => false,
    }
}

/// Masks below a list element, or the element itself (it becomes `null`).
fn mask_element(child: &mut Value, rest: &[Segment]) -> bool {
    if rest.is_empty() {
        let removed = !child.is_null();
        *child = Value::Null;
        removed
    } else {
        remove_at(child, rest)
    }
}

fn is_empty_map(value: &Value) -> bool {
    value.as_object().is_some_and(|m| m.is_empty())
}

#[cfg(test)]
mod tests;
