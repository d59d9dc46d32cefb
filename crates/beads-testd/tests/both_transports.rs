//! Both transports carry the same operations with the same `args` and `data` shapes.

mod common;

use beads_testd::{Issue, TownShape, Transport, seed_town};
use common::{Tcp, daemon, json, rpc};
use serde_json::{Value, json};

/// Read-only operations: the HTTP body equals the TCP envelope's `data`.
#[tokio::test]
async fn read_operations_answer_identically() {
    let daemon = daemon().await;
    seed_town(daemon.store(), &["gastown", "beads"], &TownShape::default());
    daemon
        .store()
        .update("beads-mr-1", |i| i.status = "blocked".into());
    rpc(
        &daemon,
        "AgentPodRegister",
        json!({"agent_id": "gt-mayor", "pod_name": "mayor-0"}),
    )
    .await;
    let mut tcp = Tcp::connect(&daemon).await;

    let cases = [
        (
            "List",
            "list",
            json!({"labels": ["gt:agent"], "labels_any": ["role:crew", "role:mayor"]}),
        ),
        (
            "List",
            "list",
            json!({"issue_type": "merge-request", "exclude_status": ["closed"], "limit": 3}),
        ),
        ("Show", "show", json!({"id": "gt-gastown-polecat-slit"})),
        (
            "Count",
            "count",
            json!({"labels": ["rig:gastown"], "group_by": "status"}),
        ),
        ("Stats", "stats", json!({})),
        ("Ping", "ping", json!({})),
        ("Ready", "ready", json!({"labels": ["gt:merge-request"]})),
        ("Blocked", "blocked", json!({})),
        ("AgentPodList", "agent_pod_list", json!({})),
        ("GetMutations", "get_mutations", json!({"since": 0})),
    ];
    for (method, operation, args) in cases {
        let (code, body) = rpc(&daemon, method, args.clone()).await;
        assert_eq!(code, 200, "{method} {args}: {body}");
        let answer = tcp.call(operation, args.clone()).await;
        assert_eq!(answer["success"], true, "{operation} {args}: {answer}");
        assert_eq!(
            json(&body),
            answer["data"],
            "{method} and {operation} differ for {args}"
        );
    }
    let log = daemon.requests();
    assert_eq!(log.count_on(Transport::Http, "list"), 2);
    assert_eq!(log.count_on(Transport::Tcp, "list"), 2);
    daemon.shutdown().await;
}

/// Writing operations do the same thing on either transport.
#[tokio::test]
async fn write_operations_behave_identically() {
    let daemon = daemon().await;
    let mut tcp = Tcp::connect(&daemon).await;
    for transport in [Transport::Http, Transport::Tcp] {
        let rig = format!("rig-{transport}");
        let agent = Issue::agent(Some(&rig), "polecat", "nux", "spawning");
        let agent_id = agent.id.clone();
        daemon.store().insert(agent);

        let steps = [
            (
                "Create",
                "create",
                json!({"id": format!("{rig}-task"), "title": "task", "labels": [format!("rig:{rig}")]}),
            ),
            (
                "Update",
                "update",
                json!({"id": format!("{rig}-task"), "status": "in_progress", "assignee": agent_id}),
            ),
            ("Close", "close", json!({"id": format!("{rig}-task")})),
            (
                "AgentPodRegister",
                "agent_pod_register",
                json!({"agent_id": agent_id, "pod_name": "p", "pod_node": "n1"}),
            ),
            (
                "AgentPodStatus",
                "agent_pod_status",
                json!({"agent_id": agent_id, "pod_status": "terminating"}),
            ),
            (
                "AgentPodDeregister",
                "agent_pod_deregister",
                json!({"agent_id": agent_id}),
            ),
        ];
        let mut answers: Vec<Value> = Vec::new();
        for (method, operation, args) in steps {
            let data = match transport {
                Transport::Http => {
                    let (code, body) = rpc(&daemon, method, args.clone()).await;
                    assert_eq!(code, 200, "{method}: {body}");
                    json(&body)
                }
                Transport::Tcp => {
                    let answer = tcp.call(operation, args.clone()).await;
                    assert_eq!(answer["success"], true, "{operation}: {answer}");
                    answer["data"].clone()
                }
            };
            answers.push(data);
        }
        assert_eq!(answers[1]["assignee"], agent_id, "{transport}");
        assert_eq!(answers[2]["status"], "closed", "{transport}");
        assert_eq!(
            answers[3],
            json!({"agent_id": agent_id, "pod_name": "p", "pod_status": "running"})
        );
        assert_eq!(
            answers[4],
            json!({"agent_id": agent_id, "pod_status": "terminating"})
        );
        assert_eq!(answers[5], json!({ "agent_id": agent_id }));

        let task = daemon.store().get(&format!("{rig}-task")).unwrap();
        assert!(task.closed_at.is_some());
        let agent = daemon.store().get(&agent_id).unwrap();
        assert!(agent.pod_name.is_none() && agent.pod_node.is_none());
        let kinds: Vec<String> = daemon
            .store()
            .mutations_since(0)
            .into_iter()
            .filter(|e| e.issue_id == agent_id || e.issue_id == task.id)
            .map(|e| e.kind)
            .collect();
        assert_eq!(
            kinds,
            [
                "create", "create", "status", "status", "update", "update", "update"
            ],
            "{transport}"
        );
    }
    daemon.shutdown().await;
}

#[tokio::test]
async fn metrics_count_both_transports() {
    let daemon = daemon().await;
    let mut tcp = Tcp::connect(&daemon).await;
    tcp.call("ping", json!({})).await;
    rpc(&daemon, "Ping", json!({})).await;
    let answer = tcp.call("metrics", json!({})).await;
    let ping = answer["data"]["operations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["operation"] == "ping")
        .cloned()
        .unwrap();
    assert_eq!(ping["total_count"], 2);
    assert_eq!(ping["error_count"], 0);
    assert!(answer["data"]["total_connections"].as_u64().unwrap() >= 2);
    daemon.shutdown().await;
}
