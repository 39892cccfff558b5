//! Label and field selectors, evaluated as the Kubernetes API server evaluates them.
//!
//! [`LabelSelector`] models `k8s.io/apimachinery/pkg/labels`: the string form of `kubectl -l`
//! and the `labelSelector` list/watch parameter ([`LabelSelector::parse`]), and the
//! `metav1.LabelSelector` object of workload specs ([`LabelSelector::from_json`]). Label keys
//! and values are validated by the same rules as Kubernetes. [`FieldSelector`] models the
//! `fieldSelector` parameter, including its `\,` `\=` `\\` escapes.
//!
//! Where it knowingly differs from Kubernetes:
//! - Field selectors support only `metadata.name` and `metadata.namespace` (the fields every
//!   kind supports); kind-specific fields such as `spec.nodeName` or `status.phase` are
//!   rejected with [`SelectorError::UnsupportedField`].
//! - The `gt`/`lt` operators (`>`, `<`), which Kubernetes' string parser accepts but only node
//!   selectors use, are rejected as syntax errors.
//! - `from_json(null)` matches everything. Some Kubernetes APIs treat a nil selector as matching
//!   nothing; callers that need that meaning must check for `null` themselves.
//! - `from_json` rejects unknown fields, as strict field validation would.
//! - `=` and `==` are one requirement here, so [`Display`](fmt::Display) always writes `=`.
//! - When matching, label values that are not JSON strings are treated as absent (the real API
//!   server never stores such an object).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// Why a selector was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SelectorError {
    /// A label key is not a valid qualified name (`[prefix/]name`).
    #[error("invalid label key {key:?}: {reason}")]
    InvalidKey {
        /// The rejected key.
        key: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A label value is not valid (too long, or characters outside `[A-Za-z0-9-_.]`).
    #[error("invalid value {value:?} for label key {key:?}: {reason}")]
    InvalidValue {
        /// The key the value belongs to.
        key: String,
        /// The rejected value.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The string form could not be parsed.
    #[error("invalid selector {input:?}: at byte {position}, expected {expected}, found {found}")]
    Syntax {
        /// The whole selector string.
        input: String,
        /// Byte offset of the offending text in `input`.
        position: usize,
        /// What the parser expected there.
        expected: String,
        /// What it found instead.
        found: String,
    },
    /// A `matchExpressions` operator other than `In`, `NotIn`, `Exists` or `DoesNotExist`.
    #[error(
        "{0:?} is not a valid label selector operator (expected In, NotIn, Exists or DoesNotExist)"
    )]
    UnknownOperator(String),
    /// `In`/`NotIn` with an empty value set.
    #[error("label key {key:?}: values must be non-empty for operator {operator}")]
    MissingValues {
        /// The requirement's key.
        key: String,
        /// The operator (`In` or `NotIn`).
        operator: String,
    },
    /// `Exists`/`DoesNotExist` with values.
    #[error("label key {key:?}: values must be empty for operator {operator}, found {values:?}")]
    UnexpectedValues {
        /// The requirement's key.
        key: String,
        /// The operator (`Exists` or `DoesNotExist`).
        operator: String,
        /// The values that should not be there.
        values: Vec<String>,
    },
    /// A field selector named a field other than `metadata.name` or `metadata.namespace`.
    #[error("field label not supported: {0:?} (only metadata.name and metadata.namespace are)")]
    UnsupportedField(String),
    /// A `metav1.LabelSelector` JSON object has the wrong shape.
    #[error("malformed label selector object: {0}")]
    Malformed(String),
}

fn syntax_error(input: &str, position: usize, expected: &str, found: String) -> SelectorError {
    SelectorError::Syntax {
        input: input.to_owned(),
        position,
        expected: expected.to_owned(),
        found,
    }
}

// ---------------------------------------------------------------------------------------------
// Requirement
// ---------------------------------------------------------------------------------------------

/// One requirement of a label selector.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Requirement {
    /// `key=value` or `key==value`
    Equals(String, String),
    /// `key!=value` (also matches objects without the key, as in Kubernetes)
    NotEquals(String, String),
    /// `key in (a,b)`
    In(String, BTreeSet<String>),
    /// `key notin (a,b)` (matches objects without the key)
    NotIn(String, BTreeSet<String>),
    /// `key`
    Exists(String),
    /// `!key`
    DoesNotExist(String),
}

impl Requirement {
    /// The label key this requirement is about.
    pub fn key(&self) -> &str {
        match self {
            Self::Equals(key, _)
            | Self::NotEquals(key, _)
            | Self::In(key, _)
            | Self::NotIn(key, _)
            | Self::Exists(key)
            | Self::DoesNotExist(key) => key,
        }
    }

    /// Checks the key, the values, and that `In`/`NotIn` have at least one value, as Kubernetes'
    /// `NewRequirement` does. [`LabelSelector::parse`] and [`LabelSelector::from_json`] call it;
    /// [`LabelSelector::and`] does not.
    pub fn validate(&self) -> Result<(), SelectorError> {
        validate_key(self.key())?;
        match self {
            Self::Equals(key, value) | Self::NotEquals(key, value) => validate_value(key, value),
            Self::In(key, values) | Self::NotIn(key, values) => {
                if values.is_empty() {
                    let operator = if matches!(self, Self::In(..)) {
                        "In"
                    } else {
                        "NotIn"
                    };
                    return Err(SelectorError::MissingValues {
                        key: key.clone(),
                        operator: operator.to_owned(),
                    });
                }
                values
                    .iter()
                    .try_for_each(|value| validate_value(key, value))
            }
            Self::Exists(_) | Self::DoesNotExist(_) => Ok(()),
        }
    }

    /// Whether a label value (`None` = the object lacks the key) satisfies the requirement.
    fn matches_value(&self, value: Option<&str>) -> bool {
        match self {
            Self::Equals(_, wanted) => value == Some(wanted.as_str()),
            Self::NotEquals(_, unwanted) => value != Some(unwanted.as_str()),
            Self::In(_, set) => value.is_some_and(|v| set.contains(v)),
            Self::NotIn(_, set) => !value.is_some_and(|v| set.contains(v)),
            Self::Exists(_) => value.is_some(),
            Self::DoesNotExist(_) => value.is_none(),
        }
    }
}

/// Kubernetes' string form: `k=v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k`, `!k`.
impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Equals(key, value) => write!(f, "{key}={value}"),
            Self::NotEquals(key, value) => write!(f, "{key}!={value}"),
            Self::In(key, values) => write!(f, "{key} in ({})", join(values)),
            Self::NotIn(key, values) => write!(f, "{key} notin ({})", join(values)),
            Self::Exists(key) => write!(f, "{key}"),
            Self::DoesNotExist(key) => write!(f, "!{key}"),
        }
    }
}

fn join(values: &BTreeSet<String>) -> String {
    values
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(",")
}

// ---------------------------------------------------------------------------------------------
// LabelSelector
// ---------------------------------------------------------------------------------------------

/// A label selector: all requirements must hold. The empty selector matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct LabelSelector {
    /// Sorted by key (then by requirement) and deduplicated, so equal selectors compare equal.
    requirements: Vec<Requirement>,
}

impl LabelSelector {
    /// Matches every object.
    pub fn everything() -> Self {
        Self::default()
    }

    /// Parses the string form used by `kubectl -l` and the API's `labelSelector` parameter:
    /// comma-separated `k=v`, `k==v`, `k!=v`, `k in (a, b)`, `k notin (a,b)`, `k`, `!k`,
    /// whitespace tolerant. The empty string matches everything. As in Kubernetes, `k=` means
    /// "k has the empty value" and `k in ()` means `k in ("")`.
    pub fn parse(s: &str) -> Result<Self, SelectorError> {
        Parser::new(s).parse_selector().map(Self::from_requirements)
    }

    /// From a `metav1.LabelSelector` JSON object: a `matchLabels` map and a `matchExpressions`
    /// list of `{key, operator: In|NotIn|Exists|DoesNotExist, values}`, all ANDed.
    ///
    /// `null` and `{}` both give a selector that matches everything (Kubernetes'
    /// `LabelSelectorAsSelector` turns a nil selector into one that matches nothing; check for
    /// `null` first where that meaning applies). Unknown fields are rejected.
    pub fn from_json(v: &Value) -> Result<Self, SelectorError> {
        let object = match v {
            Value::Null => return Ok(Self::everything()),
            Value::Object(object) => object,
            other => {
                return Err(malformed(format!(
                    "expected an object or null, found {other}"
                )));
            }
        };
        reject_unknown_fields(object, &["matchLabels", "matchExpressions"], "selector")?;
        let mut requirements = match_labels(object.get("matchLabels"))?;
        requirements.extend(match_expressions(object.get("matchExpressions"))?);
        Ok(Self::from_requirements(requirements))
    }

    /// Equality-only selector from a label map (what `matchLabels` alone means). Keys and values
    /// are not validated.
    pub fn from_labels<'a>(labels: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let requirements = labels
            .into_iter()
            .map(|(key, value)| Requirement::Equals(key.to_owned(), value.to_owned()))
            .collect();
        Self::from_requirements(requirements)
    }

    /// Adds a requirement. It is not validated (see [`Requirement::validate`]); an `In`/`NotIn`
    /// with no values has no string form, so such a selector does not round-trip through
    /// [`Display`](fmt::Display).
    #[must_use]
    pub fn and(mut self, r: Requirement) -> Self {
        self.requirements.push(r);
        Self::from_requirements(self.requirements)
    }

    /// The requirements, sorted by key.
    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }

    /// True when the selector has no requirements.
    pub fn is_everything(&self) -> bool {
        self.requirements.is_empty()
    }

    /// Whether an object's labels satisfy it.
    pub fn matches_labels(&self, labels: &BTreeMap<String, String>) -> bool {
        self.matches_with(|key| labels.get(key).map(String::as_str))
    }

    /// Whether an object (a whole Kubernetes object as JSON; labels read from
    /// `metadata.labels`, missing = none) satisfies it. Never panics, whatever the JSON.
    pub fn matches(&self, object: &Value) -> bool {
        let labels = object
            .pointer("/metadata/labels")
            .and_then(Value::as_object);
        self.matches_with(|key| labels?.get(key)?.as_str())
    }

    fn matches_with<'v>(&self, label: impl Fn(&str) -> Option<&'v str>) -> bool {
        self.requirements
            .iter()
            .all(|requirement| requirement.matches_value(label(requirement.key())))
    }

    fn from_requirements(mut requirements: Vec<Requirement>) -> Self {
        requirements.sort_by(|a, b| (a.key(), a).cmp(&(b.key(), b)));
        requirements.dedup();
        Self { requirements }
    }
}

/// Canonical string form (requirements sorted by key, comma-separated, no spaces except around
/// `in`/`notin`); [`LabelSelector::parse`] reads it back to an equal selector.
impl fmt::Display for LabelSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, requirement) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{requirement}")?;
        }
        Ok(())
    }
}

impl FromStr for LabelSelector {
    type Err = SelectorError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

// ---------------------------------------------------------------------------------------------
// Key and value validation (k8s.io/apimachinery/pkg/util/validation)
// ---------------------------------------------------------------------------------------------

const MAX_NAME_LEN: usize = 63;
const MAX_PREFIX_LEN: usize = 253;
const TOKEN_RULE: &str = "must consist of alphanumeric characters, '-', '_' or '.', \
     and must start and end with an alphanumeric character";

/// A key is a qualified name: `[prefix/]name`, prefix a DNS subdomain.
fn validate_key(key: &str) -> Result<(), SelectorError> {
    let invalid = |reason: String| SelectorError::InvalidKey {
        key: key.to_owned(),
        reason,
    };
    let name = match key.split_once('/') {
        None => key,
        Some((_, name)) if name.contains('/') => {
            return Err(invalid("a key may contain at most one '/'".to_owned()));
        }
        Some((prefix, name)) => {
            check_prefix(prefix).map_err(|r| invalid(format!("prefix part {r}")))?;
            name
        }
    };
    check_name(name).map_err(|r| invalid(format!("name part {r}")))
}

fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        Err("must be non-empty".to_owned())
    } else if name.len() > MAX_NAME_LEN {
        Err(format!("must be no more than {MAX_NAME_LEN} characters"))
    } else if !is_label_token(name) {
        Err(TOKEN_RULE.to_owned())
    } else {
        Ok(())
    }
}

/// RFC 1123 subdomain: dot-separated lowercase labels, at most 253 characters in all.
fn check_prefix(prefix: &str) -> Result<(), String> {
    if prefix.is_empty() {
        Err("must be non-empty".to_owned())
    } else if prefix.len() > MAX_PREFIX_LEN {
        Err(format!("must be no more than {MAX_PREFIX_LEN} characters"))
    } else if !prefix.split('.').all(is_dns_label) {
        Err(
            "must be a lowercase RFC 1123 subdomain: lowercase alphanumeric characters, \
             '-' or '.', each dot-separated part starting and ending with an alphanumeric \
             character"
                .to_owned(),
        )
    } else {
        Ok(())
    }
}

fn validate_value(key: &str, value: &str) -> Result<(), SelectorError> {
    let reason = if value.len() > MAX_NAME_LEN {
        format!("must be no more than {MAX_NAME_LEN} characters")
    } else if !value.is_empty() && !is_label_token(value) {
        format!("{TOKEN_RULE} (or be empty)")
    } else {
        return Ok(());
    };
    Err(SelectorError::InvalidValue {
        key: key.to_owned(),
        value: value.to_owned(),
        reason,
    })
}

/// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`
fn is_label_token(s: &str) -> bool {
    let bytes = s.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => {
            first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && bytes
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        }
        _ => false,
    }
}

/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?`
fn is_dns_label(s: &str) -> bool {
    let lower_alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let bytes = s.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => {
            lower_alnum(first)
                && lower_alnum(last)
                && bytes.iter().all(|b| lower_alnum(b) || *b == b'-')
        }
        _ => false,
    }
}

// ---------------------------------------------------------------------------------------------
// String form: lexer
// ---------------------------------------------------------------------------------------------

/// A token of the label selector string form. As in Kubernetes, `in` and `notin` are plain
/// identifiers; the parser treats them as operators only where an operator is expected, so
/// they remain usable as keys and values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token<'a> {
    Ident(&'a str),
    Bang,
    Equals,
    DoubleEquals,
    NotEquals,
    Open,
    Close,
    Comma,
    /// `>` or `<`: Kubernetes' node-selector-only operators, not supported here.
    Unsupported(char),
    End,
}

impl Token<'_> {
    fn describe(&self) -> String {
        match self {
            Self::Ident(text) => format!("{text:?}"),
            Self::Bang => "'!'".to_owned(),
            Self::Equals => "'='".to_owned(),
            Self::DoubleEquals => "'=='".to_owned(),
            Self::NotEquals => "'!='".to_owned(),
            Self::Open => "'('".to_owned(),
            Self::Close => "')'".to_owned(),
            Self::Comma => "','".to_owned(),
            Self::Unsupported(c) => {
                format!("'{c}' (gt/lt are for node selectors only and are not supported)")
            }
            Self::End => "end of string".to_owned(),
        }
    }
}

/// Kubernetes' lexer: whitespace separates tokens; `!=(),<>` are symbols; any other run of
/// characters is an identifier (validated later as a key or value).
fn is_delimiter(b: u8) -> bool {
    matches!(
        b,
        b' ' | b'\t' | b'\r' | b'\n' | b'!' | b'=' | b'(' | b')' | b',' | b'<' | b'>'
    )
}

/// Splits `input` into tokens with their byte offsets. All delimiters are ASCII, so every
/// slice boundary falls on a character boundary.
fn tokenize(input: &str) -> Vec<(usize, Token<'_>)> {
    let bytes = input.as_bytes();
    let mut tokens = Vec::new();
    let mut pos = 0;
    while let Some(&byte) = bytes.get(pos) {
        let followed_by_equals = bytes.get(pos + 1) == Some(&b'=');
        let (token, len) = match byte {
            b' ' | b'\t' | b'\r' | b'\n' => {
                pos += 1;
                continue;
            }
            b'!' if followed_by_equals => (Token::NotEquals, 2),
            b'!' => (Token::Bang, 1),
            b'=' if followed_by_equals => (Token::DoubleEquals, 2),
            b'=' => (Token::Equals, 1),
            b'(' => (Token::Open, 1),
            b')' => (Token::Close, 1),
            b',' => (Token::Comma, 1),
            b'<' | b'>' => (Token::Unsupported(char::from(byte)), 1),
            _ => {
                let len = bytes[pos..]
                    .iter()
                    .position(|&b| is_delimiter(b))
                    .unwrap_or(bytes.len() - pos);
                (Token::Ident(&input[pos..pos + len]), len)
            }
        };
        tokens.push((pos, token));
        pos += len;
    }
    tokens
}

// ---------------------------------------------------------------------------------------------
// String form: parser
// ---------------------------------------------------------------------------------------------

/// Recursive-descent parser over the tokens:
///
/// ```text
/// selector    := "" | requirement ("," requirement)*
/// requirement := "!" key | key | key ("=" | "==" | "!=") value? | key ("in" | "notin") set
/// set         := "(" value? ("," value?)* ")"
/// ```
struct Parser<'a> {
    input: &'a str,
    tokens: Vec<(usize, Token<'a>)>,
    next: usize,
}

impl<'a> Parser<'a> {
    fn new(input: &'a str) -> Self {
        Self {
            input,
            tokens: tokenize(input),
            next: 0,
        }
    }

    /// The next token and its offset, without consuming it (`End` past the last token).
    fn peek(&self) -> (usize, Token<'a>) {
        self.tokens
            .get(self.next)
            .copied()
            .unwrap_or((self.input.len(), Token::End))
    }

    fn advance(&mut self) -> (usize, Token<'a>) {
        let token = self.peek();
        self.next += 1;
        token
    }

    fn error(&self, (position, found): (usize, Token<'_>), expected: &str) -> SelectorError {
        syntax_error(self.input, position, expected, found.describe())
    }

    fn parse_selector(mut self) -> Result<Vec<Requirement>, SelectorError> {
        let mut requirements = Vec::new();
        if self.peek().1 == Token::End {
            return Ok(requirements);
        }
        loop {
            requirements.push(self.parse_requirement()?);
            match self.advance() {
                (_, Token::End) => return Ok(requirements),
                (_, Token::Comma) => {}
                other => return Err(self.error(other, "',' or end of string")),
            }
        }
    }

    fn parse_requirement(&mut self) -> Result<Requirement, SelectorError> {
        let negated = self.peek().1 == Token::Bang;
        if negated {
            self.advance();
        }
        let key = self.expect_key(negated)?;
        let requirement = match self.peek().1 {
            _ if negated => Requirement::DoesNotExist(key),
            Token::End | Token::Comma => Requirement::Exists(key),
            _ => self.parse_operator_and_values(key)?,
        };
        requirement.validate()?;
        Ok(requirement)
    }

    fn expect_key(&mut self, after_bang: bool) -> Result<String, SelectorError> {
        match self.advance() {
            (_, Token::Ident(key)) => Ok(key.to_owned()),
            other if after_bang => Err(self.error(other, "a label key after '!'")),
            other => Err(self.error(other, "a label key or '!'")),
        }
    }

    fn parse_operator_and_values(&mut self, key: String) -> Result<Requirement, SelectorError> {
        match self.advance() {
            (_, Token::Equals | Token::DoubleEquals) => {
                Ok(Requirement::Equals(key, self.parse_exact_value()?))
            }
            (_, Token::NotEquals) => Ok(Requirement::NotEquals(key, self.parse_exact_value()?)),
            (_, Token::Ident("in")) => Ok(Requirement::In(key, self.parse_value_set()?)),
            (_, Token::Ident("notin")) => Ok(Requirement::NotIn(key, self.parse_value_set()?)),
            other => Err(self.error(other, "one of '=', '==', '!=', 'in', 'notin', ',' or end")),
        }
    }

    /// The value after `=`, `==` or `!=`; nothing before `,` or the end means the empty value.
    fn parse_exact_value(&mut self) -> Result<String, SelectorError> {
        match self.peek() {
            (_, Token::End | Token::Comma) => Ok(String::new()),
            (_, Token::Ident(value)) => {
                self.advance();
                Ok(value.to_owned())
            }
            other => Err(self.error(other, "a label value")),
        }
    }

    /// `(a, b)`. An omitted value is the empty value, so `()` is `("")`, as in Kubernetes.
    fn parse_value_set(&mut self) -> Result<BTreeSet<String>, SelectorError> {
        match self.advance() {
            (_, Token::Open) => {}
            other => return Err(self.error(other, "'('")),
        }
        let mut values = BTreeSet::new();
        loop {
            let value = match self.peek() {
                (_, Token::Ident(value)) => {
                    self.advance();
                    value
                }
                _ => "",
            };
            values.insert(value.to_owned());
            match self.advance() {
                (_, Token::Comma) => {}
                (_, Token::Close) => return Ok(values),
                other => return Err(self.error(other, "',' or ')'")),
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// metav1.LabelSelector JSON form
// ---------------------------------------------------------------------------------------------

fn malformed(reason: String) -> SelectorError {
    SelectorError::Malformed(reason)
}

fn reject_unknown_fields(
    object: &Map<String, Value>,
    allowed: &[&str],
    context: &str,
) -> Result<(), SelectorError> {
    match object.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(unknown) => Err(malformed(format!(
            "unknown field {unknown:?} in {context} (expected one of {allowed:?})"
        ))),
        None => Ok(()),
    }
}

/// A field that may be absent or `null` (Go's nil).
fn present(v: Option<&Value>) -> Option<&Value> {
    v.filter(|v| !v.is_null())
}

fn match_labels(v: Option<&Value>) -> Result<Vec<Requirement>, SelectorError> {
    let Some(v) = present(v) else {
        return Ok(Vec::new());
    };
    let map = v
        .as_object()
        .ok_or_else(|| malformed(format!("matchLabels must be an object, found {v}")))?;
    map.iter()
        .map(|(key, value)| {
            let value = value.as_str().ok_or_else(|| {
                malformed(format!(
                    "matchLabels[{key:?}] must be a string, found {value}"
                ))
            })?;
            let requirement = Requirement::Equals(key.clone(), value.to_owned());
            requirement.validate()?;
            Ok(requirement)
        })
        .collect()
}

fn match_expressions(v: Option<&Value>) -> Result<Vec<Requirement>, SelectorError> {
    let Some(v) = present(v) else {
        return Ok(Vec::new());
    };
    let list = v
        .as_array()
        .ok_or_else(|| malformed(format!("matchExpressions must be a list, found {v}")))?;
    list.iter().enumerate().map(match_expression).collect()
}

fn match_expression((index, v): (usize, &Value)) -> Result<Requirement, SelectorError> {
    let context = format!("matchExpressions[{index}]");
    let object = v
        .as_object()
        .ok_or_else(|| malformed(format!("{context} must be an object, found {v}")))?;
    reject_unknown_fields(object, &["key", "operator", "values"], &context)?;
    let key = required_string(object, "key", &context)?.to_owned();
    let operator = required_string(object, "operator", &context)?;
    let values = string_list(object.get("values"), &context)?;
    let requirement = match operator {
        "In" => Requirement::In(key, values),
        "NotIn" => Requirement::NotIn(key, values),
        "Exists" | "DoesNotExist" if !values.is_empty() => {
            return Err(SelectorError::UnexpectedValues {
                key,
                operator: operator.to_owned(),
                values: values.into_iter().collect(),
            });
        }
        "Exists" => Requirement::Exists(key),
        "DoesNotExist" => Requirement::DoesNotExist(key),
        other => return Err(SelectorError::UnknownOperator(other.to_owned())),
    };
    requirement.validate()?;
    Ok(requirement)
}

fn required_string<'v>(
    object: &'v Map<String, Value>,
    field: &str,
    context: &str,
) -> Result<&'v str, SelectorError> {
    match object.get(field) {
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(malformed(format!(
            "{context}.{field} must be a string, found {other}"
        ))),
        None => Err(malformed(format!("{context}.{field} is required"))),
    }
}

fn string_list(v: Option<&Value>, context: &str) -> Result<BTreeSet<String>, SelectorError> {
    let Some(v) = present(v) else {
        return Ok(BTreeSet::new());
    };
    let not_strings = || {
        malformed(format!(
            "{context}.values must be a list of strings, found {v}"
        ))
    };
    let list = v.as_array().ok_or_else(not_strings)?;
    list.iter()
        .map(|item| item.as_str().map(str::to_owned).ok_or_else(not_strings))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// FieldSelector
// ---------------------------------------------------------------------------------------------

/// A field a [`FieldSelector`] can test: the ones every kind supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Field {
    /// `metadata.name`
    Name,
    /// `metadata.namespace` (the empty string for cluster-scoped objects)
    Namespace,
}

impl Field {
    /// The field's name in selector strings, e.g. `metadata.name`.
    pub fn path(self) -> &'static str {
        match self {
            Self::Name => "metadata.name",
            Self::Namespace => "metadata.namespace",
        }
    }

    fn from_path(path: &str) -> Option<Self> {
        [Self::Name, Self::Namespace]
            .into_iter()
            .find(|field| field.path() == path)
    }

    /// The field's value in an object; missing or not a string reads as `""`, as Kubernetes
    /// reads an unset name or namespace.
    fn get(self, object: &Value) -> &str {
        let pointer = match self {
            Self::Name => "/metadata/name",
            Self::Namespace => "/metadata/namespace",
        };
        object
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or("")
    }
}

/// One requirement of a field selector.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FieldRequirement {
    /// `field=value` or `field==value`
    Equals(Field, String),
    /// `field!=value`
    NotEquals(Field, String),
}

impl FieldRequirement {
    fn matches(&self, object: &Value) -> bool {
        match self {
            Self::Equals(field, value) => field.get(object) == value,
            Self::NotEquals(field, value) => field.get(object) != value,
        }
    }
}

/// `field=value` or `field!=value`, the value escaped as Kubernetes escapes it.
impl fmt::Display for FieldRequirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Equals(field, value) => write!(f, "{}={}", field.path(), escape(value)),
            Self::NotEquals(field, value) => write!(f, "{}!={}", field.path(), escape(value)),
        }
    }
}

/// A field selector over `metadata.name` and `metadata.namespace` (the fields every kind
/// supports), with `=`, `==` and `!=`, comma-separated.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct FieldSelector {
    /// Sorted and deduplicated, so equal selectors compare equal.
    requirements: Vec<FieldRequirement>,
}

impl FieldSelector {
    /// Matches everything.
    pub fn everything() -> Self {
        Self::default()
    }

    /// Parses e.g. `metadata.name=web,metadata.namespace!=kube-system`. Any other field is an
    /// error naming the field (Kubernetes answers 400 "field label not supported").
    ///
    /// As in Kubernetes, empty terms are skipped, whitespace is not trimmed (so
    /// `metadata.name = web` names the field `"metadata.name "`), and values may escape `\`,
    /// `,` and `=` with a backslash; an unescaped `=` in a value is an error.
    pub fn parse(s: &str) -> Result<Self, SelectorError> {
        let requirements = split_terms(s)
            .into_iter()
            .filter(|(_, term)| !term.is_empty())
            .map(|(start, term)| parse_field_term(s, start, term))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self::from_requirements(requirements))
    }

    /// Whether the object matches.
    pub fn matches(&self, object: &Value) -> bool {
        self.requirements.iter().all(|r| r.matches(object))
    }

    /// True when it has no requirements.
    pub fn is_everything(&self) -> bool {
        self.requirements.is_empty()
    }

    /// The requirements, in canonical order.
    pub fn requirements(&self) -> &[FieldRequirement] {
        &self.requirements
    }

    fn from_requirements(mut requirements: Vec<FieldRequirement>) -> Self {
        requirements.sort();
        requirements.dedup();
        Self { requirements }
    }
}

/// Splits on commas not escaped by a backslash, keeping each term's byte offset.
fn split_terms(s: &str) -> Vec<(usize, &str)> {
    let mut terms = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            ',' => {
                terms.push((start, &s[start..i]));
                start = i + 1;
            }
            _ => {}
        }
    }
    terms.push((start, &s[start..]));
    terms
}

/// `field op value`, split at the first operator (`!=`, `==` or `=`) from the left.
fn split_field_term(term: &str) -> Option<(&str, &'static str, &str)> {
    term.char_indices().find_map(|(i, _)| {
        ["!=", "==", "="]
            .into_iter()
            .find(|op| term[i..].starts_with(op))
            .map(|op| (&term[..i], op, &term[i + op.len()..]))
    })
}

fn parse_field_term(
    input: &str,
    start: usize,
    term: &str,
) -> Result<FieldRequirement, SelectorError> {
    let Some((path, op, raw_value)) = split_field_term(term) else {
        let expected = "a term of the form field=value, field==value or field!=value";
        return Err(syntax_error(input, start, expected, format!("{term:?}")));
    };
    let field =
        Field::from_path(path).ok_or_else(|| SelectorError::UnsupportedField(path.to_owned()))?;
    let value_start = start + term.len() - raw_value.len();
    let value = unescape(raw_value)
        .map_err(|(offset, found)| syntax_error(input, value_start + offset, ESCAPE_RULE, found))?;
    Ok(match op {
        "!=" => FieldRequirement::NotEquals(field, value),
        _ => FieldRequirement::Equals(field, value),
    })
}

const ESCAPE_RULE: &str = "a value where '\\', ',' and '=' are escaped as '\\\\', '\\,' and '\\='";

fn escape(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, '\\' | ',' | '=') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// Undoes [`escape`]; on error, the offending byte offset within `raw` and what was found.
fn unescape(raw: &str) -> Result<String, (usize, String)> {
    let mut value = String::with_capacity(raw.len());
    let mut chars = raw.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some((_, escaped @ ('\\' | ',' | '='))) => value.push(escaped),
                Some((_, other)) => return Err((i, format!("invalid escape '\\{other}'"))),
                None => return Err((i, "'\\' at the end of the value".to_owned())),
            },
            '=' | ',' => return Err((i, format!("unescaped '{c}'"))),
            _ => value.push(c),
        }
    }
    Ok(value)
}

/// Canonical string form; [`FieldSelector::parse`] reads it back to an equal selector.
impl fmt::Display for FieldSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, requirement) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{requirement}")?;
        }
        Ok(())
    }
}

impl FromStr for FieldSelector {
    type Err = SelectorError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

// ---------------------------------------------------------------------------------------------
// Serde: both selectors are written as their string forms
// ---------------------------------------------------------------------------------------------

impl Serialize for LabelSelector {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Reads the string form; in self-describing formats such as JSON it also accepts a
/// `metav1.LabelSelector` object (see [`LabelSelector::from_json`]).
impl<'de> Deserialize<'de> for LabelSelector {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(LabelSelectorVisitor)
    }
}

struct LabelSelectorVisitor;

impl<'de> Visitor<'de> for LabelSelectorVisitor {
    type Value = LabelSelector;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a label selector string such as \"app=web,tier in (a,b)\" or an object with matchLabels/matchExpressions")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<LabelSelector, E> {
        LabelSelector::parse(v).map_err(E::custom)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<LabelSelector, A::Error> {
        let value = Value::deserialize(de::value::MapAccessDeserializer::new(map))?;
        LabelSelector::from_json(&value).map_err(de::Error::custom)
    }
}

impl Serialize for FieldSelector {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for FieldSelector {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Self::parse(&s).map_err(de::Error::custom)
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

    fn sel(s: &str) -> LabelSelector {
        LabelSelector::parse(s).unwrap_or_else(|e| panic!("{s:?} should parse: {e}"))
    }

    fn pod(labels: &[(&str, &str)]) -> Value {
        let labels: Map<String, Value> = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Value::from(*v)))
            .collect();
        json!({"kind": "Pod", "metadata": {"name": "p", "namespace": "default", "labels": labels}})
    }

    fn unlabelled() -> Value {
        json!({"kind": "Pod", "metadata": {"name": "p"}})
    }

    fn set(values: &[&str]) -> BTreeSet<String> {
        values.iter().map(|v| (*v).to_owned()).collect()
    }

    #[test]
    fn equality_selector_matches_exact_label() {
        let s = sel("app=web");
        assert_eq!(
            s.requirements(),
            [Requirement::Equals("app".into(), "web".into())]
        );
        assert!(s.matches(&pod(&[("app", "web"), ("tier", "fe")])));
        assert!(!s.matches(&pod(&[("app", "db")])));
        assert!(!s.matches(&unlabelled()));
        let labels = BTreeMap::from([("app".to_owned(), "web".to_owned())]);
        assert!(s.matches_labels(&labels));
    }

    #[test]
    fn double_equals_is_equality() {
        assert_eq!(sel("app==web"), sel("app=web"));
        assert_eq!(sel("app==web").to_string(), "app=web");
    }

    #[test]
    fn not_equals_matches_objects_without_the_key() {
        let s = sel("app!=web");
        assert!(s.matches(&unlabelled()));
        assert!(s.matches(&pod(&[("app", "db")])));
        assert!(!s.matches(&pod(&[("app", "web")])));
    }

    #[test]
    fn set_based_in_matches_any_listed_value() {
        let s = sel("tier in (frontend, backend)");
        assert_eq!(
            s.requirements(),
            [Requirement::In(
                "tier".into(),
                set(&["backend", "frontend"])
            )]
        );
        assert!(s.matches(&pod(&[("tier", "frontend")])));
        assert!(s.matches(&pod(&[("tier", "backend")])));
        assert!(!s.matches(&pod(&[("tier", "cache")])));
        assert!(!s.matches(&unlabelled()));
    }

    #[test]
    fn notin_excludes_listed_values_and_matches_missing_key() {
        let s = sel("env notin (prod,staging)");
        assert!(!s.matches(&pod(&[("env", "prod")])));
        assert!(!s.matches(&pod(&[("env", "staging")])));
        assert!(s.matches(&pod(&[("env", "dev")])));
        assert!(s.matches(&unlabelled()));
    }

    #[test]
    fn exists_requires_key_whatever_value() {
        let s = sel("app");
        assert!(s.matches(&pod(&[("app", "anything")])));
        assert!(s.matches(&pod(&[("app", "")])));
        assert!(!s.matches(&pod(&[("other", "x")])));
        assert!(!s.matches(&unlabelled()));
    }

    #[test]
    fn does_not_exist_bang_key_excludes_objects_with_key() {
        let s = sel("!canary");
        assert_eq!(
            s.requirements(),
            [Requirement::DoesNotExist("canary".into())]
        );
        assert!(!s.matches(&pod(&[("canary", "true")])));
        assert!(s.matches(&pod(&[("app", "web")])));
        assert!(s.matches(&unlabelled()));
    }

    #[test]
    fn empty_selector_matches_everything() {
        for s in [sel(""), sel("  "), LabelSelector::everything()] {
            assert!(s.is_everything());
            assert!(s.matches(&pod(&[("a", "b")])));
            assert!(s.matches(&unlabelled()));
            assert!(s.matches(&json!(null)));
            assert_eq!(s.to_string(), "");
        }
        assert_eq!(LabelSelector::from_json(&json!(null)), Ok(sel("")));
        assert_eq!(LabelSelector::from_json(&json!({})), Ok(sel("")));
        let empty_lists = json!({"matchLabels": {}, "matchExpressions": []});
        assert_eq!(LabelSelector::from_json(&empty_lists), Ok(sel("")));
    }

    #[test]
    fn match_expressions_json_in_notin_exists_doesnotexist() {
        let v = json!({"matchExpressions": [
            {"key": "tier", "operator": "In", "values": ["fe", "be"]},
            {"key": "env", "operator": "NotIn", "values": ["prod"]},
            {"key": "app", "operator": "Exists"},
            {"key": "canary", "operator": "DoesNotExist", "values": []},
        ]});
        let s = LabelSelector::from_json(&v).unwrap();
        assert_eq!(s, sel("tier in (fe,be),env notin (prod),app,!canary"));
        assert!(s.matches(&pod(&[("tier", "fe"), ("app", "x")])));
        assert!(!s.matches(&pod(&[("tier", "fe"), ("app", "x"), ("env", "prod")])));
        assert!(!s.matches(&pod(&[("tier", "fe"), ("app", "x"), ("canary", "1")])));
        assert!(!s.matches(&pod(&[("tier", "fe")])));
    }

    #[test]
    fn match_labels_and_expressions_are_anded() {
        let v = json!({
            "matchLabels": {"app": "web"},
            "matchExpressions": [{"key": "tier", "operator": "In", "values": ["fe"]}],
        });
        let s = LabelSelector::from_json(&v).unwrap();
        assert_eq!(s, sel("app=web,tier in (fe)"));
        assert!(s.matches(&pod(&[("app", "web"), ("tier", "fe")])));
        assert!(!s.matches(&pod(&[("app", "web")])));
        assert!(!s.matches(&pod(&[("tier", "fe")])));
        assert_eq!(
            LabelSelector::from_json(&json!({"matchLabels": {"app": "web", "tier": "fe"}})),
            Ok(LabelSelector::from_labels([("tier", "fe"), ("app", "web")]))
        );
    }

    #[test]
    fn in_with_empty_values_is_rejected() {
        for (operator, values) in [("In", json!([])), ("NotIn", json!(null))] {
            let v =
                json!({"matchExpressions": [{"key": "a", "operator": operator, "values": values}]});
            assert_eq!(
                LabelSelector::from_json(&v),
                Err(SelectorError::MissingValues {
                    key: "a".into(),
                    operator: operator.into()
                })
            );
        }
        let v = json!({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]});
        assert!(matches!(
            LabelSelector::from_json(&v),
            Err(SelectorError::UnexpectedValues { .. })
        ));
    }

    #[test]
    fn unknown_operator_is_rejected() {
        for operator in ["Gt", "in", "Equals"] {
            let v =
                json!({"matchExpressions": [{"key": "a", "operator": operator, "values": ["1"]}]});
            assert_eq!(
                LabelSelector::from_json(&v),
                Err(SelectorError::UnknownOperator(operator.into()))
            );
        }
    }

    #[test]
    fn gt_lt_operators_are_not_supported() {
        for input in ["a>1", "a < 1"] {
            let err = LabelSelector::parse(input).unwrap_err();
            assert!(
                matches!(
                    err,
                    SelectorError::Syntax {
                        position: 1 | 2,
                        ..
                    }
                ),
                "{err}"
            );
            assert!(err.to_string().contains("node selectors"), "{err}");
        }
    }

    #[test]
    fn invalid_label_key_is_rejected() {
        let long = "a".repeat(64);
        let long_prefix = format!("{}/a", "a".repeat(254));
        for key in [
            "-bad",
            "bad-",
            long.as_str(),
            "a/b/c",
            "/name",
            "Upper.Case/name",
            "prefix/",
            "pre_fix/name",
            "ünïcode",
            long_prefix.as_str(),
        ] {
            let err = LabelSelector::parse(&format!("{key}=v")).unwrap_err();
            assert!(
                matches!(&err, SelectorError::InvalidKey { key: k, .. } if k == key),
                "{key:?}: {err}"
            );
        }
        for key in [
            "a",
            "A.b_c-D",
            "example.com/app",
            "a-b.c/x",
            &"a".repeat(63),
        ] {
            sel(&format!("{key}=v"));
        }
        let v = json!({"matchLabels": {"-bad": "v"}});
        assert!(matches!(
            LabelSelector::from_json(&v),
            Err(SelectorError::InvalidKey { .. })
        ));
    }

    #[test]
    fn invalid_value_is_rejected() {
        let long = "v".repeat(64);
        for value in ["-bad", "bad.", "has/slash", long.as_str()] {
            let err = LabelSelector::parse(&format!("k={value}")).unwrap_err();
            assert!(
                matches!(&err, SelectorError::InvalidValue { value: v, .. } if v == value),
                "{value:?}: {err}"
            );
        }
        assert!(matches!(
            LabelSelector::parse("k in (ok, -bad)"),
            Err(SelectorError::InvalidValue { .. })
        ));
        let v = json!({"matchExpressions": [{"key": "k", "operator": "In", "values": ["a b"]}]});
        assert!(matches!(
            LabelSelector::from_json(&v),
            Err(SelectorError::InvalidValue { .. })
        ));
        // The empty value is valid, as in Kubernetes.
        assert_eq!(
            sel("k=").requirements(),
            [Requirement::Equals("k".into(), String::new())]
        );
    }

    #[test]
    fn syntax_error_reports_position_of_unclosed_set() {
        let err = LabelSelector::parse("app in (a,b").unwrap_err();
        assert_eq!(
            err,
            SelectorError::Syntax {
                input: "app in (a,b".into(),
                position: 11,
                expected: "',' or ')'".into(),
                found: "end of string".into(),
            }
        );
        assert!(err.to_string().contains("at byte 11"), "{err}");
    }

    #[test]
    fn syntax_errors_point_at_the_offending_token() {
        let position = |s: &str| match LabelSelector::parse(s) {
            Err(SelectorError::Syntax { position, .. }) => position,
            other => panic!("{s:?}: expected a syntax error, got {other:?}"),
        };
        assert_eq!(position("a=b,"), 4); // trailing comma
        assert_eq!(position(",a"), 0); // leading comma
        assert_eq!(position("a=b c"), 4); // missing comma
        assert_eq!(position("app in a"), 7); // missing '('
        assert_eq!(position("a in (x y)"), 8); // missing ',' in set
        assert_eq!(position("!a=b"), 2); // `!key` takes no operator
        assert_eq!(position("a===b"), 3);
        assert_eq!(position("a foo b"), 2); // unknown operator
    }

    #[test]
    fn whitespace_is_tolerated() {
        assert_eq!(
            sel("  app = web ,tier\tin( a ,b ) , ! canary,x  !=  y "),
            sel("app=web,tier in (a,b),!canary,x!=y")
        );
    }

    #[test]
    fn keywords_are_valid_keys_and_values() {
        let s = sel("in=notin,notin in (in),in");
        assert!(s.matches(&pod(&[("in", "notin"), ("notin", "in")])));
        assert_eq!(sel(&s.to_string()), s);
    }

    #[test]
    fn omitted_set_values_are_the_empty_value() {
        assert_eq!(
            sel("k in ()").requirements(),
            [Requirement::In("k".into(), set(&[""]))]
        );
        assert_eq!(
            sel("k in (,a,,)").requirements(),
            [Requirement::In("k".into(), set(&["", "a"]))]
        );
        assert!(sel("k in ()").matches(&pod(&[("k", "")])));
    }

    #[test]
    fn display_is_canonical_and_sorted_by_key() {
        let s = sel("z, b in (y, x), a!=1, !m, a=1, a=1");
        assert_eq!(s.to_string(), "a=1,a!=1,b in (x,y),!m,z");
        assert_eq!(sel(&s.to_string()), s);
        let built = LabelSelector::everything()
            .and(Requirement::Exists("z".into()))
            .and(Requirement::Equals("a".into(), "1".into()));
        assert_eq!(built.to_string(), "a=1,z");
    }

    #[test]
    fn from_json_rejects_malformed_objects() {
        for v in [
            json!("app=web"),
            json!({"matchLabel": {"a": "b"}}),
            json!({"matchLabels": {"a": 1}}),
            json!({"matchLabels": ["a"]}),
            json!({"matchExpressions": {"key": "a"}}),
            json!({"matchExpressions": [{"operator": "Exists"}]}),
            json!({"matchExpressions": [{"key": "a", "operator": "In", "values": [1]}]}),
            json!({"matchExpressions": [{"key": "a", "operator": "Exists", "extra": 1}]}),
        ] {
            assert!(
                matches!(
                    LabelSelector::from_json(&v),
                    Err(SelectorError::Malformed(_))
                ),
                "{v}"
            );
        }
    }

    #[test]
    fn non_string_label_values_are_treated_as_absent() {
        let object = json!({"metadata": {"labels": {"app": 1}}});
        assert!(!sel("app").matches(&object));
        assert!(sel("app!=1").matches(&object));
        assert!(sel("!app").matches(&json!({"metadata": {"labels": "oops"}})));
    }

    #[test]
    fn serde_uses_the_string_form() {
        let s = sel("app=web,tier in (a,b)");
        let json_form = serde_json::to_value(&s).unwrap();
        assert_eq!(json_form, json!("app=web,tier in (a,b)"));
        let back: LabelSelector = serde_json::from_value(json_form).unwrap();
        assert_eq!(back, s);
        let object_form = json!({"matchLabels": {"app": "web"}});
        let from_object: LabelSelector = serde_json::from_value(object_form).unwrap();
        assert_eq!(from_object, sel("app=web"));
        assert!(serde_json::from_value::<LabelSelector>(json!("-bad")).is_err());
        assert!(serde_json::from_value::<LabelSelector>(json!(3)).is_err());

        let f = FieldSelector::parse("metadata.name=web").unwrap();
        let json_form = serde_json::to_value(&f).unwrap();
        assert_eq!(json_form, json!("metadata.name=web"));
        assert_eq!(
            serde_json::from_value::<FieldSelector>(json_form).unwrap(),
            f
        );
        assert!(serde_json::from_value::<FieldSelector>(json!("spec.nodeName=a")).is_err());
    }

    fn object(name: &str, namespace: Option<&str>) -> Value {
        match namespace {
            Some(ns) => json!({"metadata": {"name": name, "namespace": ns}}),
            None => json!({"metadata": {"name": name}}),
        }
    }

    #[test]
    fn field_selector_name_and_namespace() {
        let f: FieldSelector = "metadata.name=web,metadata.namespace==default"
            .parse()
            .unwrap();
        assert!(f.matches(&object("web", Some("default"))));
        assert!(!f.matches(&object("web", Some("other"))));
        assert!(!f.matches(&object("db", Some("default"))));
        assert_eq!(
            f.to_string(),
            "metadata.name=web,metadata.namespace=default"
        );
        // Cluster-scoped objects have the empty namespace.
        let cluster_scoped = FieldSelector::parse("metadata.namespace=").unwrap();
        assert!(cluster_scoped.matches(&object("node-1", None)));
        assert!(!cluster_scoped.matches(&object("web", Some("default"))));
    }

    #[test]
    fn field_selector_not_equals() {
        let f = FieldSelector::parse("metadata.namespace!=kube-system").unwrap();
        assert_eq!(
            f.requirements(),
            [FieldRequirement::NotEquals(
                Field::Namespace,
                "kube-system".into()
            )]
        );
        assert!(f.matches(&object("a", Some("default"))));
        assert!(f.matches(&object("a", None)));
        assert!(!f.matches(&object("a", Some("kube-system"))));
    }

    #[test]
    fn field_selector_rejects_unsupported_field() {
        for (input, field) in [
            ("status.phase=Running", "status.phase"),
            ("metadata.name=a,spec.nodeName=n1", "spec.nodeName"),
            ("metadata.name =a", "metadata.name "),
            ("=a", ""),
        ] {
            let err = FieldSelector::parse(input).unwrap_err();
            assert_eq!(err, SelectorError::UnsupportedField(field.into()));
            assert!(err.to_string().contains("field label not supported"));
        }
    }

    #[test]
    fn field_selector_empty_and_syntax_errors() {
        for input in ["", ",", "metadata.name=a,,"] {
            let f = FieldSelector::parse(input).unwrap();
            assert_eq!(f.is_everything(), !input.contains('a'));
        }
        assert!(FieldSelector::everything().matches(&json!(42)));
        let position = |s: &str| match FieldSelector::parse(s) {
            Err(SelectorError::Syntax { position, .. }) => position,
            other => panic!("{s:?}: expected a syntax error, got {other:?}"),
        };
        assert_eq!(position("metadata.name"), 0);
        assert_eq!(position("metadata.name=a,metadata.namespace"), 16);
        assert_eq!(position("metadata.name=a=b"), 15); // unescaped '='
        assert_eq!(position("metadata.name=a\\x"), 15); // unknown escape
        assert_eq!(position("metadata.name=a\\"), 15); // dangling backslash
    }

    #[test]
    fn field_selector_escapes_round_trip() {
        let f = FieldSelector::parse(r"metadata.name=a\,b\=c\\d,metadata.namespace!=x").unwrap();
        assert_eq!(
            f.requirements(),
            [
                FieldRequirement::Equals(Field::Name, r"a,b=c\d".into()),
                FieldRequirement::NotEquals(Field::Namespace, "x".into()),
            ]
        );
        assert!(f.matches(&object(r"a,b=c\d", Some("y"))));
        assert_eq!(FieldSelector::parse(&f.to_string()), Ok(f));
    }

    // --- property tests ------------------------------------------------------------------

    fn label_token() -> impl Strategy<Value = String> {
        prop_oneof![
            8 => "[A-Za-z0-9]([A-Za-z0-9_.-]{0,10}[A-Za-z0-9])?",
            1 => Just("in".to_owned()),
            1 => Just("notin".to_owned()),
        ]
    }

    fn key() -> impl Strategy<Value = String> {
        let prefix = "[a-z0-9]([a-z0-9-]{0,6}[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]{0,4}[a-z0-9])?){0,2}";
        (proptest::option::of(prefix), label_token()).prop_map(|(prefix, name)| match prefix {
            Some(prefix) => format!("{prefix}/{name}"),
            None => name,
        })
    }

    fn value() -> impl Strategy<Value = String> {
        prop_oneof![1 => Just(String::new()), 6 => label_token()]
    }

    fn values() -> impl Strategy<Value = BTreeSet<String>> {
        proptest::collection::btree_set(value(), 1..4)
    }

    fn requirement() -> impl Strategy<Value = Requirement> {
        prop_oneof![
            (key(), value()).prop_map(|(k, v)| Requirement::Equals(k, v)),
            (key(), value()).prop_map(|(k, v)| Requirement::NotEquals(k, v)),
            (key(), values()).prop_map(|(k, v)| Requirement::In(k, v)),
            (key(), values()).prop_map(|(k, v)| Requirement::NotIn(k, v)),
            key().prop_map(Requirement::Exists),
            key().prop_map(Requirement::DoesNotExist),
        ]
    }

    fn selector() -> impl Strategy<Value = LabelSelector> {
        proptest::collection::vec(requirement(), 0..6).prop_map(|requirements| {
            requirements
                .into_iter()
                .fold(LabelSelector::everything(), LabelSelector::and)
        })
    }

    fn field_selector() -> impl Strategy<Value = FieldSelector> {
        let field = prop_oneof![Just(Field::Name), Just(Field::Namespace)];
        let requirement = (field, any::<bool>(), "[a-z0-9,=\\\\!. -]{0,8}").prop_map(
            |(field, negated, value)| {
                if negated {
                    FieldRequirement::NotEquals(field, value)
                } else {
                    FieldRequirement::Equals(field, value)
                }
            },
        );
        proptest::collection::vec(requirement, 0..4).prop_map(FieldSelector::from_requirements)
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            "[a-z]{0,3}".prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 32, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                proptest::collection::btree_map("[a-z]{1,3}|metadata|labels|name", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// Objects that are JSON at every level but often shaped like Kubernetes objects.
    fn arbitrary_object() -> impl Strategy<Value = Value> {
        prop_oneof![
            json_value(),
            json_value().prop_map(|m| json!({ "metadata": m })),
            json_value().prop_map(|l| json!({"metadata": {"labels": l, "name": l}})),
            proptest::collection::btree_map(key(), value(), 0..4)
                .prop_map(|labels| json!({"metadata": {"labels": labels}})),
        ]
    }

    proptest! {
        #[test]
        fn display_then_parse_round_trips(s in selector()) {
            let text = s.to_string();
            let parsed = LabelSelector::parse(&text);
            prop_assert_eq!(parsed.as_ref(), Ok(&s), "{}", text);
            prop_assert_eq!(parsed.unwrap().to_string(), text);
        }

        #[test]
        fn field_display_then_parse_round_trips(f in field_selector()) {
            let text = f.to_string();
            prop_assert_eq!(FieldSelector::parse(&text), Ok(f), "{}", text);
        }

        #[test]
        fn matches_never_panics_on_arbitrary_json(
            s in selector(),
            f in field_selector(),
            object in arbitrary_object(),
        ) {
            let by_object = s.matches(&object);
            let labels: BTreeMap<String, String> = object
                .pointer("/metadata/labels")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect();
            prop_assert_eq!(by_object, s.matches_labels(&labels));
            let _ = f.matches(&object);
        }

        #[test]
        fn parse_never_panics(input in "[a-z!=(), \t<>/.\\\\-]{0,24}|\\PC{0,16}") {
            let _ = LabelSelector::parse(&input);
            let _ = FieldSelector::parse(&input);
        }
    }
}
