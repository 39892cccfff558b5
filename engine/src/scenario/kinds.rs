//! Naming kinds in a scenario: `"kind": "Pod"`, `"kind": "Deployment.apps"`,
//! or a kind with an `apiVersion`.

use crate::api::{GroupKind, KindInfo, KindRegistry};

use super::ScenarioError;

/// `Deployment.apps (apps/v1)`, for lists of candidates.
fn describe(info: &KindInfo) -> String {
    format!("{} ({})", info.group_kind, info.api_version())
}

/// Resolves a kind named in a perturbation, invariant or target. Errors
/// name `<path>.kind` (or `<path>.apiVersion`).
pub(crate) fn resolve(
    kinds: &KindRegistry,
    api_version: Option<&str>,
    kind: &str,
    path: &str,
) -> Result<GroupKind, ScenarioError> {
    let at_kind = format!("{path}.kind");
    if kind.is_empty() {
        return Err(ScenarioError::new(at_kind, "kind must not be empty"));
    }
    let same_name = |name: &str| -> Vec<&KindInfo> {
        kinds
            .iter()
            .filter(|i| i.group_kind.kind.eq_ignore_ascii_case(name))
            .collect()
    };
    let unknown = |name: &str, extra: &str| {
        let hints: Vec<String> = same_name(name).into_iter().map(describe).collect();
        let hint = if hints.is_empty() {
            String::new()
        } else {
            format!("; did you mean {}?", hints.join(" or "))
        };
        ScenarioError::new(
            at_kind.clone(),
            format!(
                "unknown kind {kind:?}{extra}: not a built-in kind and no CustomResourceDefinition in the scenario defines it{hint}"
            ),
        )
    };
    if let Some(api_version) = api_version {
        if api_version.is_empty() {
            return Err(ScenarioError::new(
                format!("{path}.apiVersion"),
                "apiVersion must not be empty",
            ));
        }
        return kinds
            .lookup(api_version, kind)
            .map(|i| i.group_kind.clone())
            .ok_or_else(|| unknown(kind, &format!(" in apiVersion {api_version:?}")));
    }
    if let Some((name, group)) = kind.split_once('.') {
        return kinds
            .get(&GroupKind::new(group, name))
            .map(|i| i.group_kind.clone())
            .ok_or_else(|| unknown(name, ""));
    }
    let exact: Vec<&KindInfo> = kinds.iter().filter(|i| i.group_kind.kind == kind).collect();
    match exact.as_slice() {
        [one] => Ok(one.group_kind.clone()),
        [] => Err(unknown(kind, "")),
        many => Err(ScenarioError::new(
            at_kind,
            format!(
                "kind {kind:?} is ambiguous: it could be {}; give apiVersion or write Kind.group",
                many.iter()
                    .map(|i| describe(i))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
    }
}
