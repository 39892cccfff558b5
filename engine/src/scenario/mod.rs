//! Scenario files (design section 7, a contract): parsing, checking every
//! field before any run, and building the [`Model`] they describe.
//!
//! ```
//! use std::sync::Arc;
//! use kcheck_engine::scenario::{ControllerRegistry, Scenario};
//! use kcheck_engine::runtime::Reconciler;
//!
//! /// A registry that knows no controllers.
//! struct Empty;
//! impl ControllerRegistry for Empty {
//!     fn build(&self, name: &str, _: Option<&serde_json::Value>) -> Result<Arc<dyn Reconciler>, String> {
//!         Err(format!("unknown controller {name:?}"))
//!     }
//!     fn names(&self) -> Vec<String> { Vec::new() }
//! }
//!
//! let scenario = Scenario::parse(r#"{
//!   "name": "one-configmap",
//!   "controllers": [],
//!   "objects": [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}}],
//!   "invariants": [{"type": "count", "kind": "ConfigMap", "namespace": "default", "equals": 1}]
//! }"#).unwrap();
//! let model = scenario.build(&Empty).unwrap();
//! assert_eq!(model.invariants().len(), 1);
//!
//! let err = Scenario::parse(r#"{"name": "x", "controllers": [], "objects": [], "colour": 1}"#).unwrap_err();
//! assert_eq!(err.path, "colour");
//! ```
//!
//! Parsing ([`Scenario::parse`], [`Scenario::load`]) checks everything that
//! does not depend on which controllers exist: field names and types,
//! manifests, kinds, namespaces, actions, perturbations, invariants and
//! `expect`. [`Scenario::build`] resolves the controllers through a
//! [`ControllerRegistry`]. Every rejection is a [`ScenarioError`] naming the
//! field path. [`Scenario::warnings`] then lists what a valid scenario says
//! but probably does not mean (a [`Warning`]). `docs/scenario-format.md`
//! documents every field.

mod expect_file;
pub mod format;
mod kinds;
mod lint;
mod objects;
mod shape;
mod validate;

#[cfg(test)]
mod doc_tests;
#[cfg(test)]
mod test_registry;
#[cfg(test)]
mod tests;

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use crate::explore::{Explorer, FindingKind, Mode, Reduction};
use crate::hash::{Digest, canonical_json};
use crate::model::Model;
use crate::runtime::Reconciler;

use format::ScenarioFile;
pub use lint::Warning;
use validate::Prepared;

/// Builds controllers by name (the harness crate implements it).
pub trait ControllerRegistry {
    /// Builds a controller; `Err` explains (unknown name listing known ones,
    /// or bad config naming the field).
    fn build(&self, name: &str, config: Option<&Value>) -> Result<Arc<dyn Reconciler>, String>;
    /// Known controller names, sorted.
    fn names(&self) -> Vec<String>;
}

/// A rejected scenario: the field path (e.g.
/// `perturbations.staleness[0].catch_up_at`, `objects[2].metadata.name`,
/// `controllers[1]`; empty for the file as a whole), the line and column
/// when the JSON itself is broken or the parser knows them, and the reason.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.render())]
pub struct ScenarioError {
    /// The scenario file, when it was loaded from one.
    pub file: Option<PathBuf>,
    /// The field path, `""` for the whole file.
    pub path: String,
    /// The object the error is about, e.g. `Deployment default/web`, when
    /// the path leads to a manifest the API server would refuse (boxed, to
    /// keep the error small).
    pub object: Option<Box<str>>,
    /// 1-based line in the file, when known.
    pub line: Option<usize>,
    /// 1-based column in the file, when known.
    pub column: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl ScenarioError {
    /// An error at a field path, without position.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        ScenarioError {
            file: None,
            path: path.into(),
            object: None,
            line: None,
            column: None,
            message: message.into(),
        }
    }

    /// The same error, said of a file.
    #[must_use]
    pub fn in_file(mut self, file: &Path) -> Self {
        self.file = Some(file.to_path_buf());
        self
    }

    /// The same error, said of an object (`Deployment default/web`).
    #[must_use]
    pub fn about(mut self, object: impl Into<String>) -> Self {
        self.object = Some(object.into().into_boxed_str());
        self
    }

    /// `<file>: at <path> (<object>, line N, column M): <message>`, leaving
    /// out the parts that are unknown.
    fn render(&self) -> String {
        let mut out = String::new();
        if let Some(file) = &self.file {
            out.push_str(&format!("{}: ", file.display()));
        }
        let line = match (self.line, self.column) {
            (Some(l), Some(c)) => Some(format!("line {l}, column {c}")),
            (Some(l), None) => Some(format!("line {l}")),
            _ => None,
        };
        let parts: Vec<&str> = self
            .object
            .as_deref()
            .into_iter()
            .chain(line.as_deref())
            .collect();
        let position = (!parts.is_empty()).then(|| parts.join(", "));
        match (self.path.is_empty(), position) {
            (false, Some(p)) => out.push_str(&format!("at {} ({p}): ", self.path)),
            (false, None) => out.push_str(&format!("at {}: ", self.path)),
            (true, Some(p)) => out.push_str(&format!("{p}: ")),
            (true, None) => {}
        }
        out.push_str(&self.message);
        out
    }
}

/// The `explore` settings, with defaults filled in and command-line
/// overrides applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExploreSpec {
    /// The strategy (default exhaustive).
    pub mode: Mode,
    /// Steps after which a path is cut (default 60).
    pub max_depth: u32,
    /// Monte Carlo trials (default 100).
    pub trials: u64,
    /// Monte Carlo seed (default 0).
    pub seed: u64,
    /// Partial-order reduction in exhaustive mode (default `por`).
    pub reduction: Reduction,
}

impl Default for ExploreSpec {
    fn default() -> Self {
        ExploreSpec {
            mode: Mode::Exhaustive,
            max_depth: 60,
            trials: 100,
            seed: 0,
            reduction: Reduction::Por,
        }
    }
}

impl ExploreSpec {
    /// An explorer of `model` with these settings (threads and the rest are
    /// left to the caller).
    pub fn explorer(&self, model: Model) -> Explorer {
        Explorer::new(model)
            .mode(self.mode)
            .max_depth(self.max_depth)
            .trials(self.trials)
            .seed(self.seed)
            .reduction(self.reduction)
    }
}

/// Command-line overrides of the `explore` block (`--mode`, `--max-depth`,
/// `--trials`, `--seed`, `--reduction`); `None` keeps the file's setting.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExploreOverrides {
    /// `--mode`.
    pub mode: Option<Mode>,
    /// `--max-depth`.
    pub max_depth: Option<u32>,
    /// `--trials`.
    pub trials: Option<u64>,
    /// `--seed`.
    pub seed: Option<u64>,
    /// `--reduction`.
    pub reduction: Option<Reduction>,
}

/// The `expect` block: what a regression check compares a run with.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Expect {
    /// How many distinct converged states.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub converged_states: Option<usize>,
    /// Their hashes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub converged_hashes: Option<Vec<Digest>>,
    /// How many states the search visits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub states: Option<u64>,
    /// The kinds of finding expected, sorted; empty: none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<FindingKind>,
}

/// A parsed and checked scenario file.
#[derive(Clone)]
pub struct Scenario {
    file: ScenarioFile,
    json: Value,
    source: Option<PathBuf>,
    explore: ExploreSpec,
    expect: Option<Expect>,
    prepared: Prepared,
}

impl fmt::Debug for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scenario")
            .field("name", &self.file.name)
            .field("source", &self.source)
            .field("explore", &self.explore)
            .field("expect", &self.expect)
            .finish_non_exhaustive()
    }
}

impl FromStr for Scenario {
    type Err = ScenarioError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Scenario::parse(text)
    }
}

impl Scenario {
    /// Parses and checks a scenario file's text.
    pub fn parse(text: &str) -> Result<Scenario, ScenarioError> {
        let mut de = serde_json::Deserializer::from_str(text);
        let parsed = serde_path_to_error::deserialize(&mut de);
        let json = serde_json::from_str::<Value>(text);
        if let Ok(json) = &json {
            shape::check(json)?;
        }
        let file: ScenarioFile = parsed.map_err(json_error)?;
        de.end().map_err(|e| json_error_at(String::new(), e))?;
        let json = json.map_err(|e| json_error_at(String::new(), e))?;
        Scenario::from_parts(file, json)
    }

    /// Parses and checks a scenario given as a JSON value (a trace's
    /// embedded scenario, or one built in code).
    pub fn from_value(json: Value) -> Result<Scenario, ScenarioError> {
        shape::check(&json)?;
        let file: ScenarioFile = serde_path_to_error::deserialize(&json).map_err(json_error)?;
        Scenario::from_parts(file, json)
    }

    /// Reads, parses and checks a scenario file; errors name the file.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ScenarioError::new("", format!("cannot read the file: {e}")).in_file(path)
        })?;
        let mut scenario = Scenario::parse(&text).map_err(|e| e.in_file(path))?;
        scenario.source = Some(path.to_path_buf());
        Ok(scenario)
    }

    fn from_parts(file: ScenarioFile, json: Value) -> Result<Scenario, ScenarioError> {
        let (prepared, explore, expect) = validate::prepare(&file)?;
        Ok(Scenario {
            file,
            json,
            source: None,
            explore,
            expect,
            prepared,
        })
    }

    /// The scenario's name.
    pub fn name(&self) -> &str {
        &self.file.name
    }

    /// The description, if any.
    pub fn description(&self) -> Option<&str> {
        self.file.description.as_deref()
    }

    /// The file it was loaded from, if any.
    pub fn source(&self) -> Option<&Path> {
        self.source.as_deref()
    }

    /// The parsed file, field for field.
    pub fn file(&self) -> &ScenarioFile {
        &self.file
    }

    /// The controllers' names, in the order the model has them.
    pub fn controller_names(&self) -> Vec<&str> {
        self.file.controllers.iter().map(|c| c.name()).collect()
    }

    /// The original JSON value (for embedding in traces so replay needs
    /// nothing else).
    pub fn to_json(&self) -> Value {
        self.json.clone()
    }

    /// blake3 of the canonical JSON of the scenario
    /// ([`crate::hash::canonical_json`]).
    pub fn hash(&self) -> Digest {
        Digest(*blake3::hash(&canonical_json(&self.json)).as_bytes())
    }

    /// The explore settings with command-line overrides applied.
    pub fn explore(&self) -> &ExploreSpec {
        &self.explore
    }

    /// Applies command-line overrides to the explore settings; rejects a
    /// depth or trial count of 0 as the file would.
    pub fn override_explore(&mut self, o: &ExploreOverrides) -> Result<(), ScenarioError> {
        if o.max_depth == Some(0) {
            return Err(ScenarioError::new("--max-depth", "must be at least 1"));
        }
        if o.trials == Some(0) {
            return Err(ScenarioError::new("--trials", "must be at least 1"));
        }
        let e = &mut self.explore;
        e.mode = o.mode.unwrap_or(e.mode);
        e.max_depth = o.max_depth.unwrap_or(e.max_depth);
        e.trials = o.trials.unwrap_or(e.trials);
        e.seed = o.seed.unwrap_or(e.seed);
        e.reduction = o.reduction.unwrap_or(e.reduction);
        Ok(())
    }

    /// The `expect` block, if any.
    pub fn expect(&self) -> Option<&Expect> {
        self.expect.as_ref()
    }

    /// Builds the [`Model`]: the seeded initial cluster, the controllers
    /// resolved through `registry` (in file order), the actions, the
    /// perturbations, the invariants, and `require_convergence` for a
    /// `converged` invariant.
    pub fn build(&self, registry: &dyn ControllerRegistry) -> Result<Model, ScenarioError> {
        self.build_inner(registry).map_err(|e| match &self.source {
            Some(path) => e.in_file(path),
            None => e,
        })
    }

    fn build_inner(&self, registry: &dyn ControllerRegistry) -> Result<Model, ScenarioError> {
        let known = registry.names();
        let mut model = Model::new(self.prepared.server.clone());
        for (i, entry) in self.file.controllers.iter().enumerate() {
            let name = entry.name();
            let at = format!("controllers[{i}]");
            if !known.iter().any(|k| k == name) {
                return Err(ScenarioError::new(
                    at,
                    format!(
                        "unknown controller {name:?}; known controllers: {}",
                        if known.is_empty() {
                            "none".to_string()
                        } else {
                            known.join(", ")
                        }
                    ),
                ));
            }
            let reconciler = registry.build(name, entry.config()).map_err(|message| {
                let at = if entry.config().is_some() {
                    format!("{at}.config")
                } else {
                    at.clone()
                };
                ScenarioError::new(at, message)
            })?;
            if reconciler.name() != name {
                return Err(ScenarioError::new(
                    at,
                    format!(
                        "the registry built a controller named {:?} for {name:?}; names must match (traces and perturbations use them)",
                        reconciler.name()
                    ),
                ));
            }
            model = model.controller_arc(reconciler);
        }
        let p = &self.prepared;
        for action in &p.actions {
            model = model.action(action.clone());
        }
        for invariant in &p.invariants {
            model = model.invariant(invariant.clone());
        }
        Ok(model
            .staleness(p.staleness.clone())
            .faults(p.faults.clone())
            .converged_mask(p.mask.clone())
            .require_convergence(p.require_convergence))
    }

    /// Rewrites the file's `expect` block, keeping the rest of the text as
    /// it is: the top-level `expect` member's value is replaced (or a member
    /// is added before the final `}`), pretty-printed at the file's
    /// indentation. The new file must still be a valid scenario; it is
    /// written atomically (a temporary file in the same folder, renamed).
    pub fn write_expect(path: &Path, expect: &Expect) -> Result<(), ScenarioError> {
        expect_file::write_expect(path, expect).map_err(|e| e.in_file(path))
    }
}

/// A serde error with its field path (and, from text, its position).
fn json_error(e: serde_path_to_error::Error<serde_json::Error>) -> ScenarioError {
    let path = crate::api::typed::field_path(e.path());
    json_error_at(path, e.into_inner())
}

fn json_error_at(mut path: String, e: serde_json::Error) -> ScenarioError {
    let (line, column) = (e.line(), e.column());
    let mut message = e.to_string();
    let suffix = format!(" at line {line} column {column}");
    if let Some(stripped) = message.strip_suffix(&suffix) {
        message = stripped.to_string();
    }
    if let Some(field) = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.strip_suffix('`'))
    {
        path = join(&path, field);
        message = "required field is missing".to_string();
    }
    if e.is_syntax() || e.is_eof() {
        message = format!("not valid JSON: {message}");
    }
    for (from, to) in [
        ("struct ScenarioFile", "a scenario (a JSON map)"),
        ("struct ActionSpec", "an action (a JSON map)"),
        (
            "struct TargetSpec",
            "a target {apiVersion, kind, namespace, name}",
        ),
        ("struct ExploreFile", "a JSON map"),
        ("struct Perturbations", "a JSON map"),
        ("struct StalenessSpec", "a JSON map"),
        ("struct StaleReadsSpec", "a JSON map"),
        ("struct StaleReadTarget", "a JSON map"),
        ("struct CrashFile", "a JSON map"),
        ("struct ApiFaultFile", "a JSON map"),
        ("struct InvariantSpec", "an invariant (a JSON map)"),
        ("struct ExpectFile", "a JSON map"),
        ("struct ControllerSpec", "a JSON map"),
    ] {
        message = message.replace(from, to);
    }
    ScenarioError {
        file: None,
        path,
        object: None,
        line: (line > 0).then_some(line),
        column: (line > 0).then_some(column),
        message,
    }
}

fn join(path: &str, field: &str) -> String {
    if path.is_empty() {
        field.to_string()
    } else {
        format!("{path}.{field}")
    }
}
