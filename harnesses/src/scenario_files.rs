//! Explores every built-in scenario in `scenarios/` through the scenario
//! module: each must converge to one state with no findings. The CLI's
//! `kcheck check` runs the same files against their `expect` blocks.

use std::path::Path;

use kcheck_engine::scenario::Scenario;

use crate::registry;

/// The scenarios of the built-in Kubernetes controllers.
const BUILTIN: [&str; 9] = [
    "deployment-rollout",
    "deployment-scale-down",
    "deployment-rolling-update",
    "delete-background",
    "delete-foreground",
    "delete-orphan",
    "job-completion",
    "job-backoff-limit",
    "namespace-deletion",
];

#[test]
fn every_builtin_scenario_converges_to_one_state_without_findings() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    for name in BUILTIN {
        let scenario = Scenario::load(&dir.join(format!("{name}.json"))).unwrap();
        assert_eq!(scenario.name(), name);
        let model = scenario.build(&registry()).unwrap();
        let report = scenario.explore().explorer(model).run();
        let findings: Vec<String> = report
            .findings
            .iter()
            .map(|f| format!("{}: {}", f.kind.name(), f.message))
            .collect();
        eprintln!(
            "{name}: {} states, {} converged, {:.1}s",
            report.stats.states,
            report.converged.len(),
            report.stats.seconds
        );
        assert!(findings.is_empty(), "{name}: {findings:#?}");
        assert_eq!(report.converged.len(), 1, "{name}");
    }
}
