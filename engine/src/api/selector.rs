//! TEMP STUB
#![allow(missing_docs, unused)]
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct LabelSelector;
impl LabelSelector { pub fn everything() -> Self { LabelSelector } pub fn matches(&self, o: &serde_json::Value) -> bool { true } pub fn parse(s: &str) -> Result<Self, String> { Ok(LabelSelector) } }
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct FieldSelector;
impl FieldSelector { pub fn everything() -> Self { FieldSelector } pub fn matches(&self, o: &serde_json::Value) -> bool { true } pub fn parse(s: &str) -> Result<Self, String> { Ok(FieldSelector) } }
