//! Manifests checked as the API server checks them: a wrong type, an
//! unserved apiVersion, a Deployment whose selector does not match its
//! template, and an unknown field are refused at load time by `run`, `check`
//! and `hunt` (exit code 2, naming the file, the object, the field and the
//! reason); a user action the server refuses during the run is recorded in
//! the trace.

use serde_json::{Value, json};

use crate::util::Dir;

/// A Deployment of two replicas run by the deployment and replicaset
/// controllers.
fn deployment_scenario() -> Value {
    json!({
        "name": "web",
        "controllers": ["deployment", "replicaset"],
        "objects": [{
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web"},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}
                }
            }
        }]
    })
}

/// Writes the scenario with the Deployment edited, and checks that each
/// command refuses it with exit code 2 and `message` after the file name.
fn assert_refused(name: &str, edit: impl FnOnce(&mut Value), message: &str) {
    let dir = Dir::new();
    let mut scenario = deployment_scenario();
    edit(&mut scenario["objects"][0]);
    let file = dir.write_json(&format!("{name}.json"), &scenario);
    let expected = format!(
        "{}: at objects[0] (Deployment default/web): {message}",
        file.display()
    );
    for command in [&["run"][..], &["check"], &["hunt", "--out", "evidence"]] {
        let run = dir.kcheck().args(command).arg(&file).expect_code(2);
        run.assert_stderr_has(&expected);
        assert!(run.stdout().is_empty(), "nothing runs\n{run}");
    }
}

#[test]
fn replicas_given_as_a_string_is_refused_with_its_type() {
    assert_refused(
        "replicas-string",
        |d| d["spec"]["replicas"] = json!("2"),
        r#"spec.replicas: invalid type: string "2", expected i32"#,
    );
}

#[test]
fn a_version_the_kind_is_not_served_at_has_no_matches() {
    assert_refused(
        "v1beta1",
        |d| d["apiVersion"] = json!("apps/v1beta1"),
        r#"apiVersion: no matches for kind "Deployment" in version "apps/v1beta1" (it is served as "apps/v1")"#,
    );
}

#[test]
fn a_selector_that_does_not_match_the_template_labels_is_invalid() {
    assert_refused(
        "selector",
        |d| d["spec"]["selector"]["matchLabels"] = json!({"app": "api"}),
        r#"spec.template.metadata.labels: Invalid value: map[string]string{"app":"web"}: `selector` does not match template `labels`"#,
    );
}

#[test]
fn an_unknown_field_is_refused_as_strict_field_validation_does() {
    assert_refused(
        "imagee",
        |d| d["spec"]["template"]["spec"]["containers"][0]["imagee"] = json!("nginx:1.27"),
        r#"spec.template.spec.containers[0].imagee: unknown field "imagee""#,
    );
}

#[test]
fn an_action_the_server_refuses_with_422_is_recorded_in_the_trace() {
    let dir = Dir::new();
    let mut scenario = deployment_scenario();
    scenario["actions"] = json!([{"verb": "patch",
        "target": {"kind": "Deployment", "name": "web"},
        "patch": {"spec": {"replicas": -1}}}]);
    let file = dir.write_json("negative.json", &scenario);
    dir.kcheck()
        .args(["run", "--mode", "reference", "--trace-dir", "traces"])
        .arg(&file)
        .expect_code(0);
    let traces = crate::traces_in(&dir.join("traces"));
    assert!(!traces.is_empty());
    let text = std::fs::read_to_string(&traces[0]).unwrap();
    let step = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|l| l["type"] == "step" && l["actor"] == "user")
        .expect("the user action is a step of the trace");
    assert_eq!(step["outcome"], "error", "{step}");
    let error = &step["writes"][0]["error"];
    assert_eq!(error["reason"], "Invalid", "{step}");
    assert_eq!(error["code"], 422, "{step}");
    assert_eq!(
        error["message"],
        "spec.replicas: Invalid value: -1: must be greater than or equal to 0"
    );
    dir.kcheck().arg("replay").arg(&traces[0]).expect_code(0);
}
