//! A controller of a user's own, checked with kcheck from outside kcheck's
//! repository: `greeter` writes a greeting into every ConfigMap labelled
//! `example.com/greet`.
//!
//! [`registry`] is kcheck's built-in controllers plus this one; the binary
//! (`src/main.rs`) is the kcheck CLI over it, and `tests/` checks the
//! scenario in `scenarios/` from `cargo test`.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::ConfigMap;
use kcheck::Registry;
use kcheck::engine::api::ObjectKey;
use kcheck::engine::client::{Api, PostParams};
use kcheck::engine::runtime::{Action, Ctx, ReconcileError, Reconciler, Watches};

/// The label that asks for a greeting.
const LABEL: &str = "example.com/greet";

/// Writes `data.greeting: "hello, <name>"` into every ConfigMap labelled
/// `example.com/greet`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Greeter;

impl Reconciler for Greeter {
    fn name(&self) -> &str {
        "greeter"
    }

    fn watches(&self) -> Watches {
        Watches::for_kind::<ConfigMap>()
    }

    fn reconcile(&self, ctx: &Ctx<'_>, request: &ObjectKey) -> Result<Action, ReconcileError> {
        let namespace = request.namespace.as_deref().unwrap_or("default");
        let api: Api<ConfigMap> = Api::namespaced(ctx.client(), namespace);
        let Some(mut config_map) = api.get_opt(&request.name)? else {
            return Ok(Action::await_change());
        };
        let labelled = config_map
            .metadata
            .labels
            .as_ref()
            .is_some_and(|labels| labels.contains_key(LABEL));
        let greeting = format!("hello, {}", request.name);
        let data = config_map.data.get_or_insert_with(BTreeMap::new);
        if !labelled || data.get("greeting") == Some(&greeting) {
            return Ok(Action::await_change());
        }
        data.insert("greeting".into(), greeting);
        // A stale read gets 409 Conflict here and a retry, as in a cluster.
        api.replace(&request.name, &PostParams::default(), &config_map)?;
        Ok(Action::await_change())
    }
}

/// kcheck's built-in controllers, and `greeter`.
pub fn registry() -> Registry {
    kcheck::harnesses::registry().with(
        "greeter",
        "Writes a greeting into ConfigMaps labelled example.com/greet",
        |_config| Ok(Arc::new(Greeter)),
    )
}
