//! Watch semantics: resourceVersion starts, 410 Gone, bookmarks, streaming
//! lists, selectors, timeouts, and many concurrent writers and watchers.

mod support;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{
    Api, ListParams, ObjectMeta, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;
use support::with_server;

fn cm(name: &str, labels: &[(&str, &str)]) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some(
                labels
                    .iter()
                    .map(|(k, v)| ((*k).into(), (*v).into()))
                    .collect(),
            ),
            ..Default::default()
        },
        ..Default::default()
    }
}

type Events = futures::stream::BoxStream<'static, kube::Result<WatchEvent<ConfigMap>>>;

/// The next non-bookmark event, as (type, name).
async fn next(events: &mut Events) -> (String, String) {
    loop {
        let event = events.try_next().await.unwrap().expect("watch still open");
        let (kind, object) = match event {
            WatchEvent::Added(o) => ("ADDED", o),
            WatchEvent::Modified(o) => ("MODIFIED", o),
            WatchEvent::Deleted(o) => ("DELETED", o),
            WatchEvent::Bookmark(_) => continue,
            WatchEvent::Error(e) => return ("ERROR".into(), format!("{} {}", e.code, e.message)),
        };
        return (kind.into(), object.metadata.name.unwrap());
    }
}

#[tokio::test]
async fn watch_from_zero_starts_with_the_current_state() {
    with_server(|server| async move {
        let cms: Api<ConfigMap> = Api::namespaced(server.client().unwrap(), "default");
        cms.create(&PostParams::default(), &cm("existing", &[]))
            .await
            .unwrap();
        let mut events: Events = cms
            .watch(&WatchParams::default().timeout(20), "0")
            .await
            .unwrap()
            .boxed();
        assert_eq!(next(&mut events).await, ("ADDED".into(), "existing".into()));
        cms.create(&PostParams::default(), &cm("new", &[]))
            .await
            .unwrap();
        assert_eq!(next(&mut events).await, ("ADDED".into(), "new".into()));
        server
    })
    .await;
}

#[tokio::test]
async fn compacted_history_answers_410_gone() {
    with_server(|server| async move {
        let cms: Api<ConfigMap> = Api::namespaced(server.client().unwrap(), "default");
        let old = cms
            .create(&PostParams::default(), &cm("a", &[]))
            .await
            .unwrap()
            .metadata
            .resource_version
            .unwrap();
        cms.create(&PostParams::default(), &cm("b", &[]))
            .await
            .unwrap();
        server.faults().compact_history();
        let mut events: Events = cms
            .watch(&WatchParams::default().timeout(20), &old)
            .await
            .unwrap()
            .boxed();
        let (kind, detail) = next(&mut events).await;
        assert_eq!(kind, "ERROR");
        assert!(
            detail.starts_with("410 too old resource version"),
            "{detail}"
        );
        server
    })
    .await;
}

#[tokio::test]
async fn selectors_turn_label_changes_into_added_and_deleted() {
    with_server(|server| async move {
        let cms: Api<ConfigMap> = Api::namespaced(server.client().unwrap(), "default");
        let rv = cms
            .list(&ListParams::default())
            .await
            .unwrap()
            .metadata
            .resource_version
            .unwrap();
        let params = WatchParams::default().labels("app=web").timeout(20);
        let mut events: Events = cms.watch(&params, &rv).await.unwrap().boxed();
        cms.create(&PostParams::default(), &cm("other", &[("app", "db")]))
            .await
            .unwrap();
        let label = |app: &str| Patch::Merge(json!({ "metadata": { "labels": { "app": app } } }));
        cms.patch("other", &PatchParams::default(), &label("web"))
            .await
            .unwrap();
        cms.patch("other", &PatchParams::default(), &label("web2"))
            .await
            .unwrap();
        assert_eq!(next(&mut events).await, ("ADDED".into(), "other".into()));
        assert_eq!(next(&mut events).await, ("DELETED".into(), "other".into()));
        server
    })
    .await;
}

#[tokio::test]
async fn bookmarks_and_streaming_lists() {
    with_server(|server| async move {
        let cms: Api<ConfigMap> = Api::namespaced(server.client().unwrap(), "default");
        cms.create(&PostParams::default(), &cm("one", &[]))
            .await
            .unwrap();
        let params = WatchParams::streaming_lists().timeout(20);
        let mut events = cms.watch(&params, "").await.unwrap().boxed();
        let mut added = Vec::new();
        let end = loop {
            match events.try_next().await.unwrap().unwrap() {
                WatchEvent::Added(o) => added.push(o.metadata.name.unwrap()),
                WatchEvent::Bookmark(b) => break b,
                other => panic!("unexpected {other:?}"),
            }
        };
        assert_eq!(added, vec!["one"]);
        assert_eq!(
            end.metadata
                .annotations
                .get("k8s.io/initial-events-end")
                .map(String::as_str),
            Some("true")
        );

        // A plain watch with bookmarks gets them as the store moves on elsewhere.
        let rv = end.metadata.resource_version;
        let mut events = cms
            .watch(
                &WatchParams {
                    bookmarks: true,
                    ..WatchParams::default()
                }
                .timeout(20),
                &rv,
            )
            .await
            .unwrap()
            .boxed();
        let kube_system: Api<ConfigMap> = Api::namespaced(server.client().unwrap(), "kube-system");
        kube_system
            .create(&PostParams::default(), &cm("elsewhere", &[]))
            .await
            .unwrap();
        let elsewhere_rv: u64 = kube_system
            .get("elsewhere")
            .await
            .unwrap()
            .metadata
            .resource_version
            .unwrap()
            .parse()
            .unwrap();
        loop {
            if let WatchEvent::Bookmark(b) = events.try_next().await.unwrap().unwrap() {
                let bookmark_rv: u64 = b.metadata.resource_version.parse().unwrap();
                if bookmark_rv >= elsewhere_rv {
                    break;
                }
            }
        }
        server
    })
    .await;
}

#[tokio::test]
async fn watches_end_at_their_timeout_and_when_closed() {
    with_server(|server| async move {
        let cms: Api<ConfigMap> = Api::namespaced(server.client().unwrap(), "default");
        let mut short = cms
            .watch(&WatchParams::default().timeout(1), "0")
            .await
            .unwrap()
            .boxed();
        assert!(
            tokio::time::timeout(Duration::from_secs(10), short.try_next())
                .await
                .unwrap()
                .unwrap()
                .is_none()
        );

        let mut long = cms
            .watch(&WatchParams::default().timeout(290), "0")
            .await
            .unwrap()
            .boxed();
        server.faults().close_watches();
        assert!(
            tokio::time::timeout(Duration::from_secs(10), long.try_next())
                .await
                .unwrap()
                .unwrap()
                .is_none()
        );
        server
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_watchers_see_every_change_in_resource_version_order() {
    const WRITERS: usize = 4;
    const WRITES_EACH: usize = 50;
    const WATCHERS: usize = 6;
    with_server(|server| async move {
        let client = server.client().unwrap();
        let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
        let start = cms
            .list(&ListParams::default())
            .await
            .unwrap()
            .metadata
            .resource_version
            .unwrap();
        let expected = WRITERS * WRITES_EACH;

        let watchers: Vec<_> = (0..WATCHERS)
            .map(|_| {
                let cms = cms.clone();
                let start = start.clone();
                tokio::spawn(async move {
                    let mut events = cms
                        .watch(&WatchParams::default().timeout(60), &start)
                        .await
                        .unwrap()
                        .boxed();
                    let mut seen: Vec<(u64, String)> = Vec::new();
                    while seen.len() < expected {
                        match events.try_next().await.unwrap().expect("watch open") {
                            WatchEvent::Added(o) | WatchEvent::Modified(o) => seen.push((
                                o.metadata.resource_version.unwrap().parse().unwrap(),
                                o.metadata.name.unwrap(),
                            )),
                            other => panic!("unexpected {other:?}"),
                        }
                    }
                    seen
                })
            })
            .collect();

        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let cms = cms.clone();
                tokio::spawn(async move {
                    let name = format!("writer-{w}");
                    cms.create(&PostParams::default(), &cm(&name, &[]))
                        .await
                        .unwrap();
                    for i in 1..WRITES_EACH {
                        let patch = Patch::Merge(json!({ "data": { "i": i.to_string() } }));
                        cms.patch(&name, &PatchParams::default(), &patch)
                            .await
                            .unwrap();
                    }
                })
            })
            .collect();
        for writer in writers {
            writer.await.unwrap();
        }
        let mut first: Option<Vec<(u64, String)>> = None;
        for watcher in watchers {
            let seen = watcher.await.unwrap();
            assert!(
                seen.windows(2).all(|w| w[0].0 < w[1].0),
                "resourceVersions strictly increase"
            );
            let mut per_writer: BTreeMap<&str, usize> = BTreeMap::new();
            for (_, name) in &seen {
                *per_writer.entry(name).or_default() += 1;
            }
            assert!(
                per_writer.values().all(|n| *n == WRITES_EACH),
                "{per_writer:?}"
            );
            match &first {
                None => first = Some(seen),
                Some(first) => assert_eq!(first, &seen, "every watcher sees the same sequence"),
            }
        }
        server
    })
    .await;
}
