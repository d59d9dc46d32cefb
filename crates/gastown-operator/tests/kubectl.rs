//! The operator driven by the real kubectl, as a user would: `apply -f` the
//! minimal example, `get gastown` shows real values in its columns, `delete`
//! drains the town; and re-applying every example unchanged changes nothing.
//! Skipped, with a printed reason, when no kubectl is on PATH
//! (`KUBECTL=/path/to/kubectl` picks another binary).

mod common;

use common::kubectl::Kubectl;
use common::{CONVERGE, Harness, NAMESPACE, TOWN, eventually, examples_dir};
use gastown_api::GasTown;
use gastown_operator::naming;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_applies_the_example_shows_beads_values_and_delete_drains() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let Some(kubectl) = Kubectl::find(dir.path()) else {
        return;
    };
    let mut harness = Harness::start().await;
    harness
        .server
        .write_kubeconfig(&kubectl.kubeconfig)
        .expect("the kubeconfig is written");
    harness.start_operator();

    let example = examples_dir().join("gastown-minimal.yaml");
    let applied = kubectl
        .run(&["apply", "-f", example.to_str().expect("a UTF-8 path")])
        .await;
    assert!(applied.contains("gastown.gastown.io/minimal"), "{applied}");

    let towns: Api<GasTown> = harness.api();
    // Running is written at once; progress figures (updatedAgents) at most
    // every few seconds, so the table is read once both are there.
    let town = eventually("the town is Running and up to date", CONVERGE, || async {
        let town = towns.get(TOWN).await.ok()?;
        let status = town.status.as_ref()?;
        (status.phase == Some(gastown_api::Phase::Running) && status.updated_agents == Some(2))
            .then_some(town)
    })
    .await;
    let status = town.status.expect("status");
    // The example declares no rig; the mayor and the deacon run.
    assert_eq!(status.rig_count, Some(0));
    assert_eq!(status.agent_count, Some(2));

    let table = kubectl.run(&["get", "gastown", "-n", NAMESPACE]).await;
    let mut lines = table.lines();
    let header: Vec<&str> = lines.next().expect("a header").split_whitespace().collect();
    assert_eq!(
        header,
        [
            "NAME", "PHASE", "RIGS", "AGENTS", "DOLT", "DAEMON", "UPDATED", "AGE"
        ],
        "{table}"
    );
    let row: Vec<&str> = lines.next().expect("a row").split_whitespace().collect();
    assert_eq!(
        &row[..7],
        [TOWN, "Running", "0", "2", "True", "True", "2"],
        "{table}"
    );

    // Delete waits for the finalizer: by the time kubectl returns, the town
    // has drained — its agents and its bd daemon are gone too.
    kubectl
        .run(&[
            "delete",
            "gastown",
            TOWN,
            "-n",
            NAMESPACE,
            "--wait=true",
            "--timeout=60s",
        ])
        .await;
    let pods: Api<Pod> = harness.api();
    for agent in ["mayor", "deacon"] {
        let pod = pods
            .get_opt(&format!("gt-{TOWN}-{agent}"))
            .await
            .expect("a pod read");
        assert!(
            pod.is_none_or(|p| p.metadata.deletion_timestamp.is_some()),
            "the {agent} pod outlived its town"
        );
    }
    let deployments: Api<Deployment> = harness.api();
    let daemon = deployments
        .get_opt(&naming::bd_daemon(TOWN))
        .await
        .expect("a deployment read");
    assert!(
        daemon.is_none_or(|d| d.metadata.deletion_timestamp.is_some()),
        "the bd daemon outlived its town"
    );

    harness.shutdown().await;
}

/// GitOps without drift: a second client-side `kubectl apply -f examples/`
/// with nothing changed reports every object `unchanged`, and `kubectl diff`
/// finds nothing. CRDs take JSON merge patches, which replace lists whole, so
/// a schema default inside a list item (the server fills it into the live
/// list, the file's list lacks it) makes kubectl send the list again and
/// report `configured`, forever. No operator runs: only the schemas and the
/// API server decide this.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_reapplying_the_examples_changes_nothing() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let Some(kubectl) = Kubectl::find(dir.path()) else {
        return;
    };
    let harness = Harness::start().await;
    harness
        .server
        .write_kubeconfig(&kubectl.kubeconfig)
        .expect("the kubeconfig is written");
    let examples = examples_dir();
    let examples = examples.to_str().expect("a UTF-8 path");

    let objects = |applied: &str| -> Vec<(String, String)> {
        applied
            .lines()
            .filter(|line| !line.trim().is_empty())
            .map(|line| {
                let (object, verb) = line.rsplit_once(' ').unwrap_or((line, ""));
                (object.to_string(), verb.to_string())
            })
            .collect()
    };
    let first = objects(&kubectl.run(&["apply", "-f", examples]).await);
    assert!(first.iter().all(|(_, verb)| verb == "created"), "{first:?}");
    // The full town is among them: its rigs and external secrets are the
    // list items that used to carry schema defaults.
    assert!(
        first
            .iter()
            .any(|(object, _)| object == "gastown.gastown.io/production"),
        "{first:?}"
    );

    // kubectl diff: exit status 0 means no differences, 1 differences, more an
    // error. It was empty even with the defaults in list items (its dry run
    // sends the list, which the server defaults again, as kube-apiserver
    // does); it guards against drift the second apply would not name.
    let diff = kubectl.output(&["diff", "-f", examples]).await;
    let second = objects(&kubectl.run(&["apply", "-f", examples]).await);
    let unchanged: Vec<(String, String)> = first
        .iter()
        .map(|(object, _)| (object.clone(), "unchanged".to_string()))
        .collect();
    // Both checks are reported together, so that a failure shows the drift too.
    assert!(
        second == unchanged && diff.status.code() == Some(0),
        "the second apply: {second:?}\nkubectl diff exited with {:?}:\n{}{}",
        diff.status.code(),
        String::from_utf8_lossy(&diff.stdout),
        String::from_utf8_lossy(&diff.stderr)
    );

    harness.shutdown().await;
}
