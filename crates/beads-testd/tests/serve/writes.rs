//! Write routes: PATCH and casMetadata (bd-serve-v0.md §3.5, §3.7, §3.8).

use super::*;

// §6: `revision` is a string; it changes on every write; expected_version guards a patch.
#[tokio::test]
async fn revision_is_a_string_and_guards_patches() {
    let daemon = serve().await;
    daemon.store().insert(Issue::new("gt-1", "one"));
    let first = get(&daemon, "/v0/beads/issues/gt-1").await;
    let revision = first.body["revision"]
        .as_str()
        .expect("a string")
        .to_owned();
    revision.parse::<i64>().expect("a signed 64-bit decimal");
    assert!(ids(&get(&daemon, "/v0/beads/issues").await).contains(&"gt-1".to_owned()));
    assert!(
        get(&daemon, "/v0/beads/issues").await.body["items"][0]
            .get("revision")
            .is_none()
    );

    let answer = patch(
        &daemon,
        "gt-1",
        json!({"actor": "op", "patch": {"description": "line"}, "expected_version": revision}),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["changed"], true);
    assert_eq!(answer.body["issue"]["description"], "line");
    let second = answer.body["revision"].as_str().unwrap().to_owned();
    assert_ne!(second, revision);
    assert_eq!(
        get(&daemon, "/v0/beads/issues/gt-1").await.body["revision"],
        second
    );

    let stale = patch(
        &daemon,
        "gt-1",
        json!({"actor": "op", "patch": {"description": "lost"}, "expected_version": revision}),
    )
    .await;
    assert_problem(&stale, 409, "precondition_failed");
    assert_eq!(stale.body["param"], "expected_version");
    assert_eq!(daemon.store().get("gt-1").unwrap().description, "line");
    // A store write reminted it too.
    daemon.store().update("gt-1", |i| i.priority = 1);
    assert_ne!(
        get(&daemon, "/v0/beads/issues/gt-1").await.body["revision"],
        second
    );
    // No change, no write.
    let same = patch(
        &daemon,
        "gt-1",
        json!({"actor": "op", "patch": {"priority": 1}}),
    )
    .await;
    assert_eq!(same.body["changed"], false);
    assert_problem(
        &patch(
            &daemon,
            "gt-404",
            json!({"actor": "op", "patch": {"priority": 1}}),
        )
        .await,
        404,
        "not_found",
    );
}

// §3.7: the patch members the operator uses.
#[tokio::test]
async fn patch_members_and_metadata_operations() {
    let daemon = serve().await;
    daemon.store().insert(
        Issue::new("gt-1", "one")
            .with_labels(["a", "b"])
            .with_metadata(json!({"keep": 1, "drop": 2})),
    );
    let answer = patch(
        &daemon,
        "gt-1",
        json!({"actor": "gastown-operator", "patch": {
            "status": "in_progress", "assignee": "gastown/crew/joe", "add_labels": ["c"],
            "remove_labels": ["a"], "priority": 0,
            "metadata": {"merge": {"m": true}, "set": {"k8s_pod": {"name": "gt-x", "ip": "10.0.0.7"}}, "unset": ["drop"]}
        }}),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let issue = &answer.body["issue"];
    assert_eq!(issue["status"], "in_progress");
    assert_eq!(issue["assignee"], "gastown/crew/joe");
    assert_eq!(issue["labels"], json!(["b", "c"]));
    assert_eq!(
        issue["metadata"],
        json!({"keep": 1, "m": true, "k8s_pod": {"name": "gt-x", "ip": "10.0.0.7"}})
    );
    let answer = patch(
        &daemon,
        "gt-1",
        json!({"actor": "o", "patch": {"metadata": {"replace": [1, "x"]}}}),
    )
    .await;
    assert_eq!(answer.body["issue"]["metadata"], json!([1, "x"]));
    let answer = patch(
        &daemon,
        "gt-1",
        json!({"actor": "o", "patch": {"assignee": "", "labels": []}}),
    )
    .await;
    assert!(answer.body["issue"].get("assignee").is_none());
    assert_problem(
        &patch(
            &daemon,
            "gt-1",
            json!({"actor": "o", "patch": {"priority": 9}}),
        )
        .await,
        400,
        "invalid_argument",
    );
    assert_problem(
        &patch(&daemon, "gt-1", json!({"actor": "o", "patch": {}})).await,
        400,
        "invalid_argument",
    );
    assert_problem(
        &patch(
            &daemon,
            "gt-1",
            json!({"actor": " ", "patch": {"title": "t"}}),
        )
        .await,
        400,
        "invalid_argument",
    );
}

// §6: lost CAS = 200.
#[tokio::test]
async fn cas_metadata_swaps_or_reports_the_current_value() {
    let daemon = serve().await;
    daemon.store().insert(Issue::new("gt-1", "one"));
    let pod = json!({"name": "gt-x", "phase": "Pending"});
    // Omitted `expected` = the key must be absent.
    let won = cas(
        &daemon,
        "gt-1",
        json!({"actor": "op", "key": "k8s_pod", "value": pod}),
    )
    .await;
    assert_eq!(won.status, 200);
    assert_eq!(won.body["swapped"], true);
    let lost = cas(
        &daemon,
        "gt-1",
        json!({"actor": "op", "key": "k8s_pod", "value": {"name": "other"}}),
    )
    .await;
    assert_eq!(lost.status, 200, "a lost race is a 200");
    assert_eq!(lost.body["swapped"], false);
    assert_eq!(lost.body["current"], pod);
    // Build `expected` from the last `current`; explicit null is a real value.
    let swapped = cas(
        &daemon,
        "gt-1",
        json!({"actor": "op", "key": "k8s_pod", "expected": pod, "value": null}),
    )
    .await;
    assert_eq!(swapped.body["swapped"], true);
    assert_eq!(
        daemon.store().get("gt-1").unwrap().metadata,
        json!({"k8s_pod": null})
    );
    // Numbers compare as written.
    daemon
        .store()
        .update("gt-1", |i| i.metadata = json!({"n": 1}));
    let as_written = cas(
        &daemon,
        "gt-1",
        json!({"actor": "op", "key": "n", "expected": 1.0, "value": 2}),
    )
    .await;
    assert_eq!(as_written.body["swapped"], false);
    // Omitted `value` deletes the key; then `current` is absent.
    let deleted = cas(
        &daemon,
        "gt-1",
        json!({"actor": "op", "key": "n", "expected": 1}),
    )
    .await;
    assert_eq!(deleted.body, json!({"swapped": true}));
    let absent = cas(
        &daemon,
        "gt-1",
        json!({"actor": "op", "key": "n", "expected": 1}),
    )
    .await;
    assert_eq!(absent.body, json!({"swapped": false}));
    assert_problem(
        &cas(&daemon, "gt-1", json!({"actor": "op", "key": "1bad"})).await,
        400,
        "invalid_argument",
    );
    assert_problem(
        &cas(&daemon, "gt-404", json!({"actor": "op", "key": "k"})).await,
        404,
        "not_found",
    );
    daemon
        .store()
        .update("gt-1", |i| i.metadata = json!("not an object"));
    assert_problem(
        &cas(&daemon, "gt-1", json!({"actor": "op", "key": "k"})).await,
        500,
        "internal",
    );
}
