//! Every example town runs: applied together (with the Secrets they name),
//! every Pod, StatefulSet and Deployment the operator makes becomes Ready in
//! the workload simulation — which holds each known image to its real
//! contract, so a builder that breaks one fails here as a cluster would.

mod common;

use std::collections::BTreeMap;

use common::{CONVERGE, Harness, NAMESPACE, create, eventually, examples_dir, secret};
use gastown_api::{AgentPool, GasTown, Rig};
use gastown_operator::cache::managed_selector;
use gastown_operator::naming;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{Pod, Secret};
use k8s_openapi::api::events::v1::Event;
use kube::ResourceExt;
use kube::api::{Api, ApiResource, DynamicObject, ListParams, Patch, PatchParams};
use kube::discovery::Discovery;

/// Each object of every example file, applied as a user would.
async fn apply_examples(harness: &Harness) -> usize {
    let discovery = Discovery::new(harness.client.clone())
        .run()
        .await
        .expect("discovery");
    let mut applied = 0;
    let mut files: Vec<_> = std::fs::read_dir(examples_dir())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        for document in serde_yaml::Deserializer::from_str(&text) {
            let object: DynamicObject =
                serde::Deserialize::deserialize(document).expect("an object");
            let types = object.types.clone().expect("apiVersion and kind");
            let (group, version) = types.api_version.split_once('/').expect("a grouped kind");
            let (resource, _) = discovery
                .resolve_gvk(&kube::api::GroupVersionKind::gvk(
                    group,
                    version,
                    &types.kind,
                ))
                .expect("a served kind");
            let api: Api<DynamicObject> = Api::namespaced_with(
                harness.client.clone(),
                object.namespace().as_deref().unwrap_or(NAMESPACE),
                &resource,
            );
            api.patch(
                &object.name_any(),
                &PatchParams::apply("examples-test"),
                &Patch::Apply(&object),
            )
            .await
            .unwrap_or_else(|e| panic!("{} is applied: {e}", path.display()));
            applied += 1;
        }
    }
    applied
}

/// What is not Ready yet, by name (empty when everything is).
async fn not_ready(harness: &Harness) -> BTreeMap<String, String> {
    let managed = ListParams::default().labels(&managed_selector());
    let mut waiting = BTreeMap::new();
    let pods: Api<Pod> = harness.api();
    for pod in pods.list(&managed).await.unwrap() {
        let status = pod.status.clone().unwrap_or_default();
        let phase = status.phase.clone().unwrap_or_default();
        let ready = status
            .conditions
            .iter()
            .flatten()
            .any(|c| c.type_ == "Ready" && c.status == "True");
        // Ended polecats are fine; a running pod must be Ready.
        if !(ready || phase == "Succeeded") {
            let said: Vec<String> = status
                .container_statuses
                .iter()
                .flatten()
                .filter_map(|c| {
                    let waiting = c.state.as_ref()?.waiting.as_ref()?;
                    Some(format!(
                        "{}: {} {}",
                        c.name,
                        waiting.reason.clone().unwrap_or_default(),
                        c.last_state
                            .as_ref()
                            .and_then(|s| s.terminated.as_ref())
                            .and_then(|t| t.message.clone())
                            .unwrap_or_default()
                    ))
                })
                .collect();
            waiting.insert(
                format!("Pod {}", pod.name_any()),
                format!("{phase} {said:?}"),
            );
        }
    }
    let sets: Api<StatefulSet> = harness.api();
    for set in sets.list(&managed).await.unwrap() {
        if set
            .status
            .as_ref()
            .and_then(|s| s.ready_replicas)
            .unwrap_or(0)
            < 1
        {
            waiting.insert(format!("StatefulSet {}", set.name_any()), "0 ready".into());
        }
    }
    let deployments: Api<Deployment> = harness.api();
    for deployment in deployments.list(&managed).await.unwrap() {
        if deployment
            .status
            .as_ref()
            .and_then(|s| s.ready_replicas)
            .unwrap_or(0)
            < 1
        {
            waiting.insert(
                format!("Deployment {}", deployment.name_any()),
                "0 ready".into(),
            );
        }
    }
    waiting
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_example_runs_with_every_workload_ready() {
    let mut harness = Harness::start().await;
    let secrets: Api<Secret> = harness.api();
    // The Secrets the examples name beyond the harness's own.
    for (name, key, value) in [
        ("dolt-root", "password", "not-a-password"),
        ("claude-credentials", "credentials.json", "{}"),
        ("git-credentials", "password", "not-a-token"),
        ("github-token", "token", "not-a-token"),
        ("dolt-backup-aws", "AWS_ACCESS_KEY_ID", "not-a-key"),
    ] {
        create(&secrets, secret(name, key, value)).await;
    }
    harness.start_operator();
    let applied = apply_examples(&harness).await;
    assert!(applied >= 4, "every example applied ({applied})");

    let pods: Api<Pod> = harness.api();
    eventually("the examples' agents run", CONVERGE, || async {
        let running = pods
            .list(&ListParams::default().labels("gastown.io/role"))
            .await
            .ok()?
            .items
            .len();
        // production: mayor, deacon, 2 witnesses, a refinery, 3 crew (+ the
        // standalone rig's witness, refinery and crew); minimal: mayor, deacon.
        (running >= 12).then_some(())
    })
    .await;
    let mut last = BTreeMap::new();
    let settled = tokio::time::timeout(CONVERGE, async {
        loop {
            last = not_ready(&harness).await;
            if last.is_empty() {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
    })
    .await;
    assert!(settled.is_ok(), "not Ready: {last:#?}");
    // Both towns' infrastructure was among what was checked.
    let managed = ListParams::default().labels(&managed_selector());
    let sets: Api<StatefulSet> = harness.api();
    let deployments: Api<Deployment> = harness.api();
    assert_eq!(
        sets.list(&managed).await.unwrap().items.len(),
        2,
        "two dolts"
    );
    assert_eq!(
        deployments.list(&managed).await.unwrap().items.len(),
        2,
        "two bd daemons"
    );
    every_object_ready_told_by_few_events(&harness).await;
    harness.shutdown().await;
}

/// Events a clean convergence may write per GasTown, Rig or AgentPool: its
/// first Ready, and room for one more.
const EVENT_BUDGET_PER_OBJECT: usize = 2;

/// Once every town, rig and pool is Ready, the operator has told each at most
/// [`EVENT_BUDGET_PER_OBJECT`] Events, and no Warning but the one thing a
/// person must act on: a clean start is progress, not trouble.
async fn every_object_ready_told_by_few_events(harness: &Harness) {
    // Every object, and the Ready condition of those that are not yet.
    let survey = async || {
        let mut objects = Vec::new();
        let mut waiting = Vec::new();
        for resource in [
            ApiResource::erase::<GasTown>(&()),
            ApiResource::erase::<Rig>(&()),
            ApiResource::erase::<AgentPool>(&()),
        ] {
            let api: Api<DynamicObject> =
                Api::namespaced_with(harness.client.clone(), NAMESPACE, &resource);
            for object in api.list(&ListParams::default()).await.unwrap() {
                let name = format!("{}/{}", resource.kind, object.name_any());
                let ready = object.data["status"]["conditions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|c| c["type"] == "Ready");
                // The production example renders ExternalSecrets, a kind this
                // cluster does not serve: the one thing left for a person.
                let waits_for_eso = |c: &serde_json::Value| {
                    c["message"] == "not ready: ExternalSecretsReady"
                        && object.name_any() == "production"
                };
                if ready.is_none_or(|c| c["status"] != "True" && !waits_for_eso(c)) {
                    waiting.push(format!("{name}: {ready:?}"));
                }
                objects.push(name);
            }
        }
        (objects, waiting)
    };
    let mut last = Vec::new();
    let mut objects = Vec::new();
    let ready = tokio::time::timeout(CONVERGE, async {
        loop {
            (objects, last) = survey().await;
            if last.is_empty() {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
    })
    .await;
    assert!(ready.is_ok(), "not Ready: {last:#?}");
    let events: Api<Event> = harness.api();
    let told_so_far = async || {
        let told: Vec<Event> = events
            .list(&ListParams::default())
            .await
            .expect("events are listed")
            .items
            .into_iter()
            .filter(|e| e.reporting_controller.as_deref() == Some(naming::FIELD_MANAGER))
            .collect();
        let summary: Vec<String> = told
            .iter()
            .map(|e| {
                let regarding = e.regarding.clone().unwrap_or_default();
                format!(
                    "{} {}/{} {}: {}",
                    e.type_.as_deref().unwrap_or_default(),
                    regarding.kind.unwrap_or_default(),
                    regarding.name.unwrap_or_default(),
                    e.reason.as_deref().unwrap_or_default(),
                    e.note.as_deref().unwrap_or_default()
                )
            })
            .collect();
        (told, summary)
    };
    // Each town and rig that became Ready is told so (the Event follows the
    // status write that shows it). A pool's readiness follows its polecats
    // coming and going, which is not news.
    let ready_told = |summary: &[String]| {
        objects
            .iter()
            .filter(|o| *o != "GasTown/production" && !o.starts_with("AgentPool/"))
            .filter(|object| {
                !summary
                    .iter()
                    .any(|said| said.starts_with(&format!("Normal {object} AllReady")))
            })
            .cloned()
            .collect::<Vec<_>>()
    };
    let mut untold = Vec::new();
    let mut told = Vec::new();
    let mut summary = Vec::new();
    let all_told = tokio::time::timeout(CONVERGE, async {
        loop {
            (told, summary) = told_so_far().await;
            untold = ready_told(&summary);
            if untold.is_empty() {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
    })
    .await;
    assert!(
        all_told.is_ok(),
        "becoming Ready is told of {untold:?}: {summary:#?}"
    );
    let warnings: Vec<&String> = told
        .iter()
        .zip(&summary)
        .filter(|(e, _)| e.type_.as_deref() != Some("Normal"))
        .map(|(_, said)| said)
        .collect();
    assert!(
        warnings.len() == 1 && warnings[0].starts_with("Warning GasTown/production KindNotServed"),
        "a clean start warns only of what a person must do (install the external-secrets \
         operator), once: {summary:#?}"
    );
    let mut per_object: BTreeMap<String, usize> = BTreeMap::new();
    for event in &told {
        let regarding = event.regarding.clone().unwrap_or_default();
        let key = format!(
            "{}/{}",
            regarding.kind.unwrap_or_default(),
            regarding.name.unwrap_or_default()
        );
        *per_object.entry(key).or_default() += 1;
    }
    assert!(
        per_object.values().all(|&n| n <= EVENT_BUDGET_PER_OBJECT),
        "at most {EVENT_BUDGET_PER_OBJECT} Events per object: {summary:#?}"
    );
}
