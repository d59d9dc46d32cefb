//! A kube-runtime `Controller` with `.owns()` against the server: creates,
//! updates and deletes reach it, and it recovers after every watch is closed
//! and after history is compacted (410 Gone).

mod support;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, DeleteParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use kube::{Resource as _, ResourceExt};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use support::{eventually, with_server};
use tokio::sync::mpsc;

#[derive(Debug, thiserror::Error)]
#[error(transparent)]
struct ReconcileError(#[from] kube::Error);

struct Context {
    secrets: Api<Secret>,
    parents: Api<ConfigMap>,
    /// Every reconcile, with whether the parent was being deleted.
    seen: mpsc::UnboundedSender<(String, bool)>,
}

/// Keeps a Secret `<parent>-child` whose data mirrors the parent's, writing only on change.
async fn reconcile(parent: Arc<ConfigMap>, ctx: Arc<Context>) -> Result<Action, ReconcileError> {
    let name = parent.name_any();
    let deleting = parent.metadata.deletion_timestamp.is_some();
    let _ = ctx.seen.send((name.clone(), deleting));
    if deleting {
        // Deletions reach a controller through its finalizer.
        let release = Patch::Merge(json!({ "metadata": { "finalizers": null } }));
        ctx.parents
            .patch(&name, &PatchParams::default(), &release)
            .await?;
        return Ok(Action::await_change());
    }
    let child_name = format!("{name}-child");
    let desired: BTreeMap<String, String> = parent.data.clone().unwrap_or_default();
    let current = ctx.secrets.get_opt(&child_name).await?;
    let current_data = current.as_ref().and_then(|s| {
        s.string_data.clone().or_else(|| {
            s.data.as_ref().map(|d| {
                d.iter()
                    .map(|(k, v)| (k.clone(), String::from_utf8_lossy(&v.0).into_owned()))
                    .collect()
            })
        })
    });
    if current.is_some() && current_data.unwrap_or_default() == desired {
        return Ok(Action::await_change());
    }
    let owner = parent.controller_owner_ref(&()).expect("parents have uids");
    let secret = Secret {
        metadata: ObjectMeta {
            name: Some(child_name.clone()),
            owner_references: Some(vec![owner]),
            ..Default::default()
        },
        string_data: Some(desired),
        ..Default::default()
    };
    let apply = PatchParams::apply("mirror").force();
    ctx.secrets
        .patch(&child_name, &apply, &Patch::Apply(&secret))
        .await?;
    Ok(Action::await_change())
}

fn error_policy(_: Arc<ConfigMap>, _: &ReconcileError, _: Arc<Context>) -> Action {
    Action::requeue(Duration::from_millis(100))
}

const FINALIZER: &str = "example.com/mirror";

fn parent(name: &str, value: &str) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some([("role".to_owned(), "parent".to_owned())].into()),
            finalizers: Some(vec![FINALIZER.to_owned()]),
            ..Default::default()
        },
        data: Some([("value".to_owned(), value.to_owned())].into()),
        ..Default::default()
    }
}

async fn child_value(secrets: &Api<Secret>, name: &str) -> Option<String> {
    let secret = secrets.get_opt(name).await.ok()??;
    secret
        .data?
        .get("value")
        .map(|v| String::from_utf8_lossy(&v.0).into_owned())
}

async fn set_value(parents: &Api<ConfigMap>, name: &str, value: &str) {
    let patch = Patch::Merge(json!({ "data": { "value": value } }));
    parents
        .patch(name, &PatchParams::default(), &patch)
        .await
        .unwrap();
}

async fn wait_for_child(secrets: &Api<Secret>, name: &str, value: &str) {
    eventually(&format!("{name} = {value}"), || async {
        (child_value(secrets, name).await.as_deref() == Some(value)).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn controller_follows_changes_and_recovers_from_closed_watches_and_410() {
    with_server(|server| async move {
        let client = server.client().unwrap();
        let parents: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
        let secrets: Api<Secret> = Api::namespaced(client.clone(), "default");
        let (seen, mut reconciles) = mpsc::unbounded_channel();
        let ctx = Arc::new(Context {
            secrets: secrets.clone(),
            parents: parents.clone(),
            seen,
        });
        let controller = Controller::new(
            parents.clone(),
            watcher::Config::default().labels("role=parent"),
        )
        .owns(secrets.clone(), watcher::Config::default())
        .run(reconcile, error_policy, ctx)
        .for_each(|_| async {});
        let controller = tokio::spawn(controller);

        parents
            .create(&PostParams::default(), &parent("p", "one"))
            .await
            .unwrap();
        wait_for_child(&secrets, "p-child", "one").await;

        set_value(&parents, "p", "two").await;
        wait_for_child(&secrets, "p-child", "two").await;

        // An owned object going away brings its owner back to the controller.
        secrets
            .delete("p-child", &DeleteParams::default())
            .await
            .unwrap();
        wait_for_child(&secrets, "p-child", "two").await;

        server.faults().close_watches();
        set_value(&parents, "p", "three").await;
        wait_for_child(&secrets, "p-child", "three").await;

        // Compacted history: the watcher's resume gets 410 and it must re-list.
        server.faults().compact_history();
        server.faults().close_watches();
        set_value(&parents, "p", "four").await;
        wait_for_child(&secrets, "p-child", "four").await;

        // Steady state: reconciling an unchanged parent writes nothing.
        tokio::time::sleep(Duration::from_millis(200)).await;
        server.reset_requests();
        let relabel = Patch::Merge(json!({ "metadata": { "annotations": { "touched": "yes" } } }));
        parents
            .patch("p", &PatchParams::default(), &relabel)
            .await
            .unwrap();
        eventually("a reconcile after the annotation", || async {
            (server.requests().count("get", "secrets") > 0).then_some(())
        })
        .await;
        assert_eq!(
            server.requests().count("patch", "secrets"),
            0,
            "{:?}",
            server.requests()
        );

        while reconciles.try_recv().is_ok() {}
        parents.delete("p", &DeleteParams::default()).await.unwrap();
        let deleted_seen = tokio::time::timeout(Duration::from_secs(10), async {
            while let Some((name, deleting)) = reconciles.recv().await {
                if name == "p" && deleting {
                    return;
                }
            }
        });
        deleted_seen
            .await
            .expect("a reconcile of the deleted parent");
        eventually("the parent released", || async {
            parents.get_opt("p").await.unwrap().is_none().then_some(())
        })
        .await;
        eventually("the child collected", || async {
            secrets
                .get_opt("p-child")
                .await
                .unwrap()
                .is_none()
                .then_some(())
        })
        .await;

        controller.abort();
        server
    })
    .await;
}
