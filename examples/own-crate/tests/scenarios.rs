//! The scenario's `expect` block, checked from `cargo test`, and the same
//! scenario through this crate's own kcheck binary.

use std::process::Command;

#[test]
fn greetings_converge_as_expected() {
    kcheck::testing::check_scenario("scenarios/greetings.json", &own_crate::registry());
}

#[test]
fn the_crates_own_binary_runs_and_checks_the_scenario() {
    let binary = env!("CARGO_BIN_EXE_own-crate");
    let run = Command::new(binary)
        .args(["run", "scenarios/greetings.json"])
        .output()
        .expect("run the binary");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "kcheck run failed:\n{stdout}");
    assert!(stdout.contains("converged  1 state"), "{stdout}");
    let list = Command::new(binary)
        .arg("list")
        .output()
        .expect("run the binary");
    let listed = String::from_utf8_lossy(&list.stdout);
    assert!(listed.contains("greeter"), "{listed}");
    assert!(listed.contains("deployment"), "{listed}");
}
