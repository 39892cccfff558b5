//! Exploration benchmark: states per second, memory per state and thread
//! speedup, on a synthetic model that scales and on the scenario files.
//!
//! Run with `cargo bench --bench explore` (add `-- quick` for a short run).
//! Figures go to stdout; `docs/performance.md` records them.

use std::path::Path;
use std::time::Instant;

use k8s_openapi::api::core::v1::ConfigMap;
use kcheck_engine::Model;
use kcheck_engine::api::{ApiServer, ObjectKey};
use kcheck_engine::client::{Api, Patch, PatchParams};
use kcheck_engine::explore::{Explorer, Mode, Report};
use kcheck_engine::runtime::{Action, Ctx, ReconcileError, Reconciler, Watches};
use kcheck_engine::scenario::Scenario;
use serde_json::json;

/// Writes its own key into every ConfigMap it sees: N of them commute, so
/// the state space is every subset of written keys times pending sets.
struct KeyWriter(String);

impl Reconciler for KeyWriter {
    fn name(&self) -> &str {
        &self.0
    }

    fn watches(&self) -> Watches {
        Watches::for_kind::<ConfigMap>()
    }

    fn reconcile(&self, ctx: &Ctx<'_>, request: &ObjectKey) -> Result<Action, ReconcileError> {
        let cms: Api<ConfigMap> = Api::namespaced(ctx.client(), "default");
        let cm = cms.get(&request.name)?;
        if !cm.data.unwrap_or_default().contains_key(&self.0) {
            let patch = json!({"data": {&self.0: "done"}});
            cms.patch(
                &request.name,
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )?;
        }
        Ok(Action::await_change())
    }
}

fn fan_in(writers: usize) -> Model {
    let mut server = ApiServer::new();
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "shared", "namespace": "default"}});
    server.seed(cm, "bench").expect("valid ConfigMap");
    (0..writers).fold(Model::new(server), |m, i| {
        m.controller(KeyWriter(format!("w{i}")))
    })
}

/// Resident and peak resident memory of this process, in bytes.
fn memory() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn run(model: Model, threads: usize, depth: u32) -> (Report, f64) {
    let started = Instant::now();
    let report = Explorer::new(model)
        .mode(Mode::Exhaustive)
        .threads(threads)
        .max_depth(depth)
        .run();
    (report, started.elapsed().as_secs_f64())
}

fn measure(name: &str, make: &dyn Fn() -> Model, depth: u32) {
    let (rss_before, _) = memory();
    let (one, secs_one) = run(make(), 1, depth);
    let (_, peak) = memory();
    let (two, secs_two) = run(make(), 2, depth);
    assert_eq!(
        one.hashes(),
        two.hashes(),
        "results must not depend on threads"
    );
    assert_eq!(one.stats.states, two.stats.states);
    let states = one.stats.states;
    let per_state = peak.saturating_sub(rss_before) / states.max(1);
    println!(
        "{name:<32} states {states:>8}  transitions {:>9}  converged {:>3}  \
         1 thread {:>9.0} states/s  2 threads {:>9.0} states/s  speedup {:.2}x  ~{} B/state",
        one.stats.transitions,
        one.converged.len(),
        states as f64 / secs_one,
        states as f64 / secs_two,
        secs_one / secs_two,
        per_state,
    );
}

fn scenario(path: &str) -> Option<Model> {
    let scenario = Scenario::load(Path::new(path)).ok()?;
    scenario.build(&kcheck_harnesses::registry()).ok()
}

fn main() {
    let quick = std::env::args().any(|a| a == "quick");
    println!("kcheck exploration benchmark (exhaustive; threads 1 and 2)");
    let sizes: &[usize] = if quick { &[4, 5] } else { &[5, 6, 7] };
    for &n in sizes {
        measure(&format!("fan-in, {n} writers"), &|| fan_in(n), 200);
    }
    for path in [
        "scenarios/deployment-rollout.json",
        "scenarios/deployment-rolling-update.json",
        "scenarios/job-completion.json",
    ] {
        if let Some(model) = scenario(path) {
            let depth = Scenario::load(Path::new(path)).map_or(60, |s| s.explore().max_depth);
            measure(path, &|| model.clone(), depth);
        }
    }
}
