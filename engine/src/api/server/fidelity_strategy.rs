//! Server-level tests of what the registry strategies fill in
//! (`super::super::strategy`) and of update validation (immutable fields),
//! each named after the Kubernetes behaviour it checks.

use serde_json::{Value, json};

use super::tests::{create, deploy_json, deploy_key, deploy_spec, ns_key, object, patch};
use super::*;

fn job_key(name: &str) -> ObjectKey {
    ObjectKey::new(GroupKind::new("batch", "Job"), Some("default"), name)
}

fn pod_key(name: &str) -> ObjectKey {
    ObjectKey::new(GroupKind::new("", "Pod"), Some("default"), name)
}

fn job_json(name: &str, spec: Value) -> Value {
    json!({"apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": name, "namespace": "default"}, "spec": spec})
}

fn pi_spec() -> Value {
    json!({"completions": 2, "template": {"spec": {"restartPolicy": "Never",
        "containers": [{"name": "pi", "image": "perl:5.34"}]}}})
}

fn try_patch(
    server: &mut ApiServer,
    key: &ObjectKey,
    body: Value,
) -> Result<WriteResult, ApiError> {
    server.write(
        &WriteRequest::Patch {
            key: key.clone(),
            patch: PatchBody::Merge(body),
            subresource: Subresource::Main,
        },
        "test",
    )
}

fn refused(server: &mut ApiServer, key: &ObjectKey, body: Value) -> ApiError {
    let e = try_patch(server, key, body).expect_err("the update should be refused");
    assert!(e.is_invalid(), "{e}");
    e
}

// batch/job strategy PrepareForCreate + generateSelector: the selector and
// the template labels come from the Job's uid and name.
#[test]
fn job_create_generates_selector_and_template_labels_from_its_uid() {
    let mut server = ApiServer::new();
    create(&mut server, job_json("pi", pi_spec()));
    let job = object(&server, &job_key("pi"));
    let uid = job["metadata"]["uid"].as_str().expect("a uid").to_string();
    assert_eq!(
        job["spec"]["selector"],
        json!({"matchLabels": {"batch.kubernetes.io/controller-uid": uid}})
    );
    assert_eq!(
        job["spec"]["template"]["metadata"]["labels"],
        json!({"batch.kubernetes.io/controller-uid": uid, "batch.kubernetes.io/job-name": "pi",
            "controller-uid": uid, "job-name": "pi"})
    );
}

// batch/validation validateGeneratedSelector: without manualSelector, a
// hand-written selector is refused.
#[test]
fn job_with_a_selector_but_no_manual_selector_is_refused() {
    let mut server = ApiServer::new();
    let mut spec = pi_spec();
    spec["selector"] = json!({"matchLabels": {"app": "pi"}});
    spec["template"]["metadata"] = json!({"labels": {"app": "pi"}});
    let e = server
        .write(
            &WriteRequest::Create {
                object: job_json("pi", spec.clone()),
            },
            "test",
        )
        .expect_err("refused");
    assert!(e.is_invalid(), "{e}");
    assert!(e.message.contains("spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"pi\", \"batch.kubernetes.io/controller-uid\":"), "{e}");
    assert!(e.message.contains("`selector` not auto-generated"), "{e}");
    // With manualSelector the selector is the user's, and required.
    spec["manualSelector"] = json!(true);
    create(&mut server, job_json("pi", spec));
    let job = object(&server, &job_key("pi"));
    assert_eq!(
        job["spec"]["selector"],
        json!({"matchLabels": {"app": "pi"}})
    );
    let mut spec = pi_spec();
    spec["manualSelector"] = json!(true);
    let e = server
        .write(
            &WriteRequest::Create {
                object: job_json("other", spec),
            },
            "test",
        )
        .expect_err("refused");
    assert!(
        e.message.starts_with("[spec.selector: Required value, "),
        "{e}"
    );
}

// batch/validation ValidateJobSpecUpdate: selector, template and
// completions are immutable.
#[test]
fn job_selector_template_and_completions_are_immutable() {
    let mut server = ApiServer::new();
    create(&mut server, job_json("pi", pi_spec()));
    let key = job_key("pi");
    let e = refused(&mut server, &key, json!({"spec": {"completions": 3}}));
    assert_eq!(
        e.message,
        "spec.completions: Invalid value: 3: field is immutable"
    );
    let e = refused(
        &mut server,
        &key,
        json!({"spec": {"template": {"spec": {"containers": [{"name": "pi", "image": "perl:5.36"}]}}}}),
    );
    assert_eq!(
        e.message,
        "spec.template: Invalid value: core.PodTemplateSpec{...}: field is immutable"
    );
    let e = refused(
        &mut server,
        &key,
        json!({"spec": {"selector": {"matchLabels": {"job-name": "pi"}}}}),
    );
    assert!(
        e.message.contains(
            "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"batch.kubernetes.io/controller-uid\":"
        ) && e.message.contains("field is immutable"),
        "{e}"
    );
    // What is not immutable still changes.
    patch(
        &mut server,
        &key,
        PatchBody::Merge(json!({"spec": {"parallelism": 2}})),
    );
}

// batch/validation validateCompletions: an Indexed Job's completions may
// change together with parallelism, to the same value.
#[test]
fn indexed_job_completions_change_only_in_tandem_with_parallelism() {
    let mut server = ApiServer::new();
    let mut spec = pi_spec();
    spec["completionMode"] = json!("Indexed");
    spec["parallelism"] = json!(2);
    create(&mut server, job_json("pi", spec));
    let key = job_key("pi");
    let e = refused(&mut server, &key, json!({"spec": {"completions": 3}}));
    assert_eq!(
        e.message,
        "spec.completions: Invalid value: 3: can only be modified in tandem with spec.parallelism"
    );
    patch(
        &mut server,
        &key,
        PatchBody::Merge(json!({"spec": {"completions": 3, "parallelism": 3}})),
    );
}

// namespace strategy (defaulting and Canonicalize): the label
// kubernetes.io/metadata.name is the name, on create and on update.
#[test]
fn namespace_carries_its_name_label_which_cannot_be_changed() {
    let mut server = ApiServer::new();
    assert_eq!(
        object(&server, &ns_key("default"))["metadata"]["labels"],
        json!({"kubernetes.io/metadata.name": "default"})
    );
    create(
        &mut server,
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prod"}}),
    );
    let key = ns_key("prod");
    let before = server.resource_version();
    let result = patch(
        &mut server,
        &key,
        PatchBody::Merge(json!({"metadata": {"labels": {"kubernetes.io/metadata.name": "other"}}})),
    );
    assert!(result.noop, "the label is put back, so nothing changes");
    assert_eq!(server.resource_version(), before);
    patch(
        &mut server,
        &key,
        PatchBody::Merge(json!({"metadata": {"labels": null}})),
    );
    assert_eq!(
        object(&server, &key)["metadata"]["labels"],
        json!({"kubernetes.io/metadata.name": "prod"})
    );
}

// deployment strategy PrepareForUpdate: annotation changes bump
// metadata.generation (annotations are copied to ReplicaSets); label
// changes do not.
#[test]
fn deployment_annotation_change_bumps_generation() {
    let mut server = ApiServer::new();
    create_web_deployment(&mut server);
    let key = deploy_key("web");
    let generation = |server: &ApiServer| object(server, &key)["metadata"]["generation"].clone();
    patch(
        &mut server,
        &key,
        PatchBody::Merge(json!({"metadata": {"labels": {"tier": "front"}}})),
    );
    assert_eq!(generation(&server), json!(1));
    patch(
        &mut server,
        &key,
        PatchBody::Merge(json!({"metadata": {"annotations": {"note": "x"}}})),
    );
    assert_eq!(generation(&server), json!(2));
    // The status strategy leaves the generation alone, annotations or not
    // (the Deployment controller records its revision so).
    let mut with_status = object(&server, &key);
    with_status["metadata"]["annotations"] = json!({"deployment.kubernetes.io/revision": "1"});
    with_status["status"] = json!({"observedGeneration": 2});
    server
        .write(
            &WriteRequest::Update {
                object: with_status,
                subresource: Subresource::Status,
            },
            "deployment",
        )
        .unwrap();
    let stored = object(&server, &key);
    assert_eq!(
        stored["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
        "1"
    );
    assert_eq!(generation(&server), json!(2));
}

// deployment strategy ValidateUpdate (beside apps/validation
// ValidateDeploymentUpdate): spec.selector is immutable.
#[test]
fn deployment_selector_change_is_refused_as_immutable() {
    let mut server = ApiServer::new();
    create_web_deployment(&mut server);
    let e = refused(
        &mut server,
        &deploy_key("web"),
        json!({"spec": {"selector": {"matchLabels": {"app": "web", "tier": "front"}},
            "template": {"metadata": {"labels": {"tier": "front"}}}}}),
    );
    assert_eq!(
        e.message,
        "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"web\", \"tier\":\"front\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable"
    );
}

// core/validation ValidatePodUpdate: only images, activeDeadlineSeconds,
// tolerations (additions) and terminationGracePeriodSeconds may change;
// nodeName is set through /binding, not by an update.
#[test]
fn pod_update_of_other_fields_than_images_is_forbidden() {
    let mut server = ApiServer::new();
    create(
        &mut server,
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"},
            "spec": {"containers": [{"name": "c", "image": "busybox:1"}]}}),
    );
    let key = pod_key("p");
    let e = refused(&mut server, &key, json!({"spec": {"nodeName": "node-1"}}));
    assert_eq!(
        e.message,
        "spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"
    );
    patch(
        &mut server,
        &key,
        PatchBody::Merge(
            json!({"spec": {"containers": [{"name": "c", "image": "busybox:2"}],
            "activeDeadlineSeconds": 30, "tolerations": [{"key": "k", "operator": "Exists"}]}}),
        ),
    );
    let e = refused(
        &mut server,
        &key,
        json!({"spec": {"activeDeadlineSeconds": 60}}),
    );
    assert_eq!(
        e.message,
        "spec.activeDeadlineSeconds: Invalid value: 60: must be less than or equal to previous value"
    );
    let e = refused(&mut server, &key, json!({"spec": {"tolerations": []}}));
    assert_eq!(
        e.message,
        "spec.tolerations: Forbidden: existing toleration can not be modified except its tolerationSeconds"
    );
}

fn create_web_deployment(server: &mut ApiServer) {
    create(
        server,
        deploy_json(
            "web",
            deploy_spec(1, json!([{"name": "web", "image": "nginx:1"}])),
        ),
    );
}
