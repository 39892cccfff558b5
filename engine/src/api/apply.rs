//! TEMP STUB
#![allow(missing_docs, unused)]
use serde_json::Value;
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListType { Atomic, Set, Map(Vec<String>) }
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListRules;
impl ListRules {
    pub fn builtin() -> Self { ListRules }
    pub fn with_path(self, path: &str, list_type: ListType) -> Self { self }
    pub fn list_type(&self, path: &[&str]) -> ListType { if path.last()==Some(&"containers") {ListType::Map(vec!["name".into()])} else {ListType::Atomic} }
}
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict { pub manager: String, pub field: String }
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError { #[error("c")] Conflicts(Vec<Conflict>), #[error("i {0}")] Invalid(String) }
pub fn apply(live: Option<&Value>, config: &Value, manager: &str, force: bool, rules: &ListRules) -> Result<Value, ApplyError> { let mut v = live.cloned().unwrap_or(Value::Object(Default::default())); json_patch::merge(&mut v, config); Ok(v) }
pub fn record_update(old: Option<&Value>, new: &Value, manager: &str, subresource: Option<&str>, rules: &ListRules) -> Value { new.clone() }
