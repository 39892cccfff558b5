//! The validation the API server does on every object: names, namespaces,
//! labels and owner references. Failures are 422 Invalid, naming the field.

use serde_json::Value;

use super::error::ApiError;
use super::meta;

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

/// Whether a kind's names must be DNS labels rather than subdomains.
pub fn name_is_label(kind: &str) -> bool {
    matches!(kind, "Namespace" | "Service")
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
    let check_name = if name_is_label(kind) {
        dns_label(name)
    } else {
        dns_subdomain(name)
    };
    check_name.map_err(|e| invalid("metadata.name", name, e))?;
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
}
