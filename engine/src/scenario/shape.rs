//! serde lets a struct be written as a list of its fields in order
//! (`"explore": ["exhaustive", 60]`). A scenario file must spell out field
//! names, so every place that holds a struct is checked to hold a map (or,
//! for `controllers` items, a map or a string) before the typed parse.

use serde_json::Value;

use super::ScenarioError;

/// Where the file holds a struct: a path of map keys, with `*` for every
/// item of a list.
const STRUCTS: &[&[&str]] = &[
    &[],
    &["controllers", "*"],
    &["actions", "*"],
    &["actions", "*", "target"],
    &["explore"],
    &["perturbations"],
    &["perturbations", "staleness", "*"],
    &["perturbations", "stale_reads"],
    &["perturbations", "stale_reads", "targets", "*"],
    &["perturbations", "crashes", "*"],
    &["perturbations", "api_faults", "*"],
    &["invariants", "*"],
    &["invariants", "*", "target"],
    &["converged_ignore", "*"],
    &["expect"],
];

/// Rejects a list where the file must hold a map.
pub(crate) fn check(root: &Value) -> Result<(), ScenarioError> {
    for pattern in STRUCTS {
        walk(root, pattern, String::new())?;
    }
    Ok(())
}

fn walk(v: &Value, pattern: &[&str], path: String) -> Result<(), ScenarioError> {
    let Some((first, rest)) = pattern.split_first() else {
        if v.is_array() {
            let message = if path.is_empty() {
                "a scenario must be a JSON map, not a list".to_string()
            } else {
                "must be a JSON map with named fields, not a list".to_string()
            };
            return Err(ScenarioError::new(path, message));
        }
        return Ok(());
    };
    match (*first, v) {
        ("*", Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                walk(item, rest, format!("{path}[{i}]"))?;
            }
            Ok(())
        }
        (key, Value::Object(map)) if key != "*" => match map.get(key) {
            Some(child) => {
                let child_path = if path.is_empty() {
                    key.to_string()
                } else {
                    format!("{path}.{key}")
                };
                walk(child, rest, child_path)
            }
            None => Ok(()),
        },
        _ => Ok(()),
    }
}
