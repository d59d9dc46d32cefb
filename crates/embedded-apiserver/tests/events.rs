//! `events.k8s.io/v1` and core Events share their storage, as upstream:
//! what kube-runtime's recorder writes is what `kubectl describe` reads.

mod support;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1 as core;
use k8s_openapi::api::events::v1 as events;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use serde_json::json;
use support::with_server;

#[tokio::test]
async fn recorded_events_are_listed_as_core_events_and_back() {
    with_server(|server| async move {
        let client = server.client().unwrap();
        let new_events: Api<events::Event> = Api::namespaced(client.clone(), "default");
        let core_events: Api<core::Event> = Api::namespaced(client.clone(), "default");
        let mut watch = new_events.watch(&WatchParams::default().timeout(20), "0").await.unwrap().boxed();

        let recorded: events::Event = serde_json::from_value(json!({
            "metadata": { "name": "town.1" },
            "eventTime": "2026-11-23T05:00:00.000000Z",
            "regarding": { "apiVersion": "gastown.io/v1alpha1", "kind": "GasTown", "name": "town", "namespace": "default", "uid": "u1" },
            "note": "Reconciled the town", "reason": "Synced", "type": "Normal", "action": "Reconcile",
            "reportingController": "gastown-operator", "reportingInstance": "operator-0"
        }))
        .unwrap();
        let created = new_events.create(&PostParams::default(), &recorded).await.unwrap();
        assert_eq!(created.note.as_deref(), Some("Reconciled the town"));

        let selected = ListParams::default().fields("involvedObject.name=town,involvedObject.kind=GasTown");
        let listed = core_events.list(&selected).await.unwrap();
        assert_eq!(listed.items.len(), 1);
        let core_event = &listed.items[0];
        assert_eq!(core_event.message.as_deref(), Some("Reconciled the town"));
        assert_eq!(core_event.source.as_ref().and_then(|s| s.component.as_deref()), Some("gastown-operator"));

        let patch = Patch::Merge(json!({ "note": "Reconciled again" }));
        new_events.patch("town.1", &PatchParams::default(), &patch).await.unwrap();
        assert_eq!(core_events.get("town.1").await.unwrap().message.as_deref(), Some("Reconciled again"));

        let mut notes = Vec::new();
        while notes.len() < 2 {
            match watch.try_next().await.unwrap().expect("watch open") {
                WatchEvent::Added(e) | WatchEvent::Modified(e) => notes.push(e.note.unwrap_or_default()),
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(notes, vec!["Reconciled the town", "Reconciled again"]);
        server
    })
    .await;
}
