//! Nodes and the pod subresources, through the real kubectl where kubectl
//! sends the request (`get nodes`, `cordon`, `logs`, `exec`, `get jobs`)
//! and kube's client elsewhere (evictions): the simulation registers a
//! Ready node, schedules pods onto it — or leaves them Pending with the
//! scheduler's reason — and its containers write logs; exec fails as it
//! does when no kubelet can be reached; evictions honour disruption budgets.

mod support;

use embedded_apiserver::{Config, EmbeddedApiServer, JobPods};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{Api, EvictParams, PostParams};
use serde_json::{Value, json};
use std::time::Duration;
use support::bounded;
use support::kubectl::{Kubectl, header, row};

const NAMESPACE: &str = "default";

async fn simulating(nodes: usize) -> EmbeddedApiServer {
    EmbeddedApiServer::start(Config {
        simulate_workloads: true,
        simulated_nodes: nodes,
        ..Config::default()
    })
    .await
    .expect("server starts")
}

/// Reads the pod until `done` holds, for up to twenty seconds.
async fn pod_until(
    pods: &Api<Pod>,
    name: &str,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(pod) = pods.get(name).await {
            let pod = serde_json::to_value(pod).unwrap();
            if done(&pod) {
                return pod;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {what}: {pod:#}"
            );
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn running(pod: &Value) -> bool {
    pod["status"]["phase"] == "Running"
}

fn ready(pod: &Value) -> bool {
    pod["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Ready" && c["status"] == "True")
}

fn pod_manifest(name: &str, extra_spec: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: default\n  labels: {{ app: {name} }}\nspec:\n  containers:\n  - {{ name: app, image: nginx:1.27 }}\n{extra_spec}"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_sees_ready_nodes_and_cordons_them() {
    bounded(async {
        let server = simulating(2).await;
        let Some(kubectl) = Kubectl::for_server(&server) else {
            return server.shutdown().await;
        };
        let nodes = kubectl.ok(&["get", "nodes"]).await;
        assert_eq!(
            header(&nodes),
            ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
        );
        assert_eq!(row(&nodes, "embedded-node")[1..3], ["Ready", "<none>"]);
        assert_eq!(row(&nodes, "embedded-node")[4], "v1.33.0");
        assert_eq!(row(&nodes, "embedded-node-2")[1], "Ready");

        let cordoned = kubectl.ok(&["cordon", "embedded-node"]).await;
        assert!(
            cordoned.contains("node/embedded-node cordoned"),
            "{cordoned}"
        );
        let nodes = kubectl.ok(&["get", "nodes"]).await;
        assert_eq!(row(&nodes, "embedded-node")[1], "Ready,SchedulingDisabled");
        let taints = wait_for_taint(&kubectl, true).await;
        assert!(
            taints.contains("node.kubernetes.io/unschedulable"),
            "{taints}"
        );

        // New pods go to the node still open.
        kubectl.apply_ok(&pod_manifest("web", "")).await;
        let pods: Api<Pod> = Api::namespaced(server.client().unwrap(), NAMESPACE);
        let web = pod_until(&pods, "web", "web to run", running).await;
        assert_eq!(web["spec"]["nodeName"], "embedded-node-2");
        assert_eq!(web["status"]["hostIP"], "10.0.0.11");
        let wide = kubectl.ok(&["get", "pod", "web", "-o", "wide"]).await;
        assert_eq!(row(&wide, "web")[6], "embedded-node-2");
        let described = kubectl.ok(&["describe", "node", "embedded-node-2"]).await;
        assert!(described.contains("Non-terminated Pods:"), "{described}");
        let listed = described
            .split("Non-terminated Pods:")
            .nth(1)
            .unwrap_or_default();
        assert!(listed.contains(" web "), "{described}");

        let uncordoned = kubectl.ok(&["uncordon", "embedded-node"]).await;
        assert!(
            uncordoned.contains("node/embedded-node uncordoned"),
            "{uncordoned}"
        );
        let taints = wait_for_taint(&kubectl, false).await;
        assert!(!taints.contains("unschedulable"), "{taints}");
        server.shutdown().await;
    })
    .await;
}

/// The first node's taints once the cordon taint is (or is no longer) there.
async fn wait_for_taint(kubectl: &Kubectl, present: bool) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let taints = kubectl
            .ok(&[
                "get",
                "node",
                "embedded-node",
                "-o",
                "jsonpath={.spec.taints}",
            ])
            .await;
        if taints.contains("node.kubernetes.io/unschedulable") == present {
            return taints;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "taints stayed {taints}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_no_node_takes_stays_pending_with_the_schedulers_reason() {
    bounded(async {
        let server = simulating(1).await;
        let Some(kubectl) = Kubectl::for_server(&server) else {
            return server.shutdown().await;
        };
        kubectl
            .apply_ok(&pod_manifest("gpu", "  nodeSelector: { accelerator: nvidia }\n"))
            .await;
        let pods: Api<Pod> = Api::namespaced(server.client().unwrap(), NAMESPACE);
        let pending = pod_until(&pods, "gpu", "the scheduler's verdict", |p| {
            p["status"]["conditions"]
                .as_array()
                .is_some_and(|c| c.iter().any(|c| c["type"] == "PodScheduled"))
        })
        .await;
        assert_eq!(pending["status"]["phase"], "Pending");
        let scheduled = &pending["status"]["conditions"][0];
        assert_eq!(scheduled["status"], "False");
        assert_eq!(scheduled["reason"], "Unschedulable");
        assert_eq!(
            scheduled["message"],
            "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling."
        );
        assert!(pending["spec"].get("nodeName").is_none());
        let table = kubectl.ok(&["get", "pod", "gpu"]).await;
        assert_eq!(row(&table, "gpu")[2], "Pending");

        // A node that matches comes along: the pod is scheduled.
        kubectl.ok(&["label", "node", "embedded-node", "accelerator=nvidia"]).await;
        let placed = pod_until(&pods, "gpu", "the pod to run", running).await;
        assert_eq!(placed["spec"]["nodeName"], "embedded-node");
        server.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_logs_shows_what_simulated_containers_wrote_and_exec_finds_no_kubelet() {
    bounded(async {
        let server = simulating(1).await;
        let Some(kubectl) = Kubectl::for_server(&server) else {
            return server.shutdown().await;
        };
        kubectl.apply_ok(&pod_manifest("web", "")).await;
        let pods: Api<Pod> = Api::namespaced(server.client().unwrap(), NAMESPACE);
        pod_until(&pods, "web", "web to be ready", ready).await;
        let logs = kubectl.ok(&["logs", "web"]).await;
        assert_eq!(
            logs,
            "[simulation] container app started (image nginx:1.27)\n[simulation] container app is ready\n"
        );
        let tail = kubectl.ok(&["logs", "web", "-c", "app", "--tail=1"]).await;
        assert_eq!(tail, "[simulation] container app is ready\n");
        let previous = kubectl.run(&["logs", "web", "--previous"], None).await;
        assert!(!previous.success);
        assert!(
            previous.stderr.contains("previous terminated container \"app\" in pod \"web\" not found"),
            "{previous:#?}"
        );

        let exec = kubectl.run(&["exec", "web", "--", "true"], None).await;
        assert!(!exec.success);
        assert!(
            exec.stderr.contains("error dialing backend: dial tcp 10.0.0.10:10250: connect: connection refused"),
            "{exec:#?}"
        );
        server.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_lists_jobs_and_cron_jobs_with_their_columns() {
    bounded(async {
        let server = simulating(1).await;
        let Some(kubectl) = Kubectl::for_server(&server) else {
            return server.shutdown().await;
        };
        server.set_job_pods(NAMESPACE, "hold", JobPods::KeepRunning);
        let manifest = r#"
apiVersion: batch/v1
kind: Job
metadata: { name: once, namespace: default }
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{ name: c, image: busybox:1.36 }]
---
apiVersion: batch/v1
kind: Job
metadata: { name: hold, namespace: default }
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{ name: c, image: busybox:1.36 }]
---
apiVersion: batch/v1
kind: CronJob
metadata: { name: nightly, namespace: default }
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers: [{ name: c, image: busybox:1.36 }]
"#;
        kubectl.apply_ok(manifest).await;
        kubectl
            .ok(&[
                "wait",
                "--for=condition=Complete",
                "job/once",
                "--timeout=30s",
            ])
            .await;
        let table = kubectl.ok(&["get", "jobs"]).await;
        assert_eq!(
            header(&table),
            ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"]
        );
        assert_eq!(row(&table, "once")[1..3], ["Complete", "1/1"]);
        assert_eq!(row(&table, "hold")[1..3], ["Running", "0/1"]);
        let described = kubectl.ok(&["describe", "job", "once"]).await;
        assert!(
            described.contains("0 Active (0 Ready) / 1 Succeeded / 0 Failed"),
            "{described}"
        );
        let explained = kubectl.ok(&["explain", "cronjob.spec.schedule"]).await;
        assert!(
            explained.contains("The schedule in Cron format"),
            "{explained}"
        );
        let described = kubectl.ok(&["describe", "cronjob", "nightly"]).await;
        assert!(described.contains("0 3 * * *"), "{described}");
        // Typed create commands send protobuf bodies.
        let created = kubectl
            .ok(&["create", "job", "manual", "--from=cronjob/nightly"])
            .await;
        assert!(created.contains("job.batch/manual created"), "{created}");
        kubectl
            .ok(&[
                "wait",
                "--for=condition=Complete",
                "job/manual",
                "--timeout=30s",
            ])
            .await;
        let created = kubectl
            .ok(&[
                "create",
                "cronjob",
                "hourly",
                "--image=busybox:1.36",
                "--schedule=0 * * * *",
            ])
            .await;
        assert!(
            created.contains("cronjob.batch/hourly created"),
            "{created}"
        );
        let cron = kubectl.ok(&["get", "cronjobs"]).await;
        assert_eq!(
            header(&cron),
            [
                "NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST", "SCHEDULE", "AGE"
            ]
        );
        assert_eq!(
            row(&cron, "nightly")[1..8],
            ["0", "3", "*", "*", "*", "<none>", "False"]
        );
        server.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evictions_honour_pod_disruption_budgets() {
    bounded(async {
        let server = simulating(1).await;
        // kube's client retries a 429 for a long while by default; a refused
        // eviction is to be seen at once here.
        let mut config = kube::Config::new(server.url().parse().unwrap());
        config.default_retry = false;
        let client = kube::Client::try_from(config).unwrap();
        let pods: Api<Pod> = Api::namespaced(client.clone(), NAMESPACE);
        for name in ["db-0", "db-1"] {
            let pod: Pod = serde_json::from_value(json!({
                "metadata": { "name": name, "labels": { "app": "db" } },
                "spec": { "containers": [{ "name": "db", "image": "postgres:17" }] },
            }))
            .unwrap();
            pods.create(&PostParams::default(), &pod).await.unwrap();
        }
        for name in ["db-0", "db-1"] {
            pod_until(&pods, name, "the pods to be ready", ready).await;
        }
        let budgets: Api<PodDisruptionBudget> = Api::namespaced(client, NAMESPACE);
        let budget: PodDisruptionBudget = serde_json::from_value(json!({
            "metadata": { "name": "db" },
            "spec": { "minAvailable": 1, "selector": { "matchLabels": { "app": "db" } } },
        }))
        .unwrap();
        budgets
            .create(&PostParams::default(), &budget)
            .await
            .unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while budgets
            .get("db")
            .await
            .unwrap()
            .status
            .unwrap()
            .disruptions_allowed
            != 1
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the budget never allowed a disruption"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }

        pods.evict("db-0", &EvictParams::default())
            .await
            .expect("one pod may go");
        assert!(
            pods.get_opt("db-0").await.unwrap().is_none(),
            "the evicted pod is gone"
        );

        let refused = pods
            .evict("db-1", &EvictParams::default())
            .await
            .unwrap_err();
        let kube::Error::Api(status) = refused else {
            panic!("expected a Status, got {refused:?}");
        };
        assert_eq!(status.code, 429);
        assert_eq!(status.reason, "TooManyRequests");
        assert_eq!(
            status.message,
            "Cannot evict pod as it would violate the pod's disruption budget."
        );
        assert!(
            pods.get_opt("db-1").await.unwrap().is_some(),
            "the last pod stays"
        );
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let budget = budgets.get("db").await.unwrap().status.unwrap();
            if budget.expected_pods == 1 {
                assert_eq!((budget.current_healthy, budget.desired_healthy), (1, 1));
                assert_eq!(budget.disruptions_allowed, 0);
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the budget never saw the eviction"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        server.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_drain_evicts_through_the_budget() {
    bounded(async {
        let server = simulating(1).await;
        let Some(kubectl) = Kubectl::for_server(&server) else {
            return server.shutdown().await;
        };
        let budget = "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: { name: db, namespace: default }\nspec:\n  minAvailable: 1\n  selector: { matchLabels: { app: db } }\n";
        kubectl.apply_ok(&pod_manifest("db", "")).await;
        kubectl.apply_ok(&pod_manifest("web", "")).await;
        kubectl.apply_ok(budget).await;
        let pods: Api<Pod> = Api::namespaced(server.client().unwrap(), NAMESPACE);
        for name in ["db", "web"] {
            pod_until(&pods, name, "the pods to be ready", ready).await;
        }
        let budgets: Api<PodDisruptionBudget> = Api::namespaced(server.client().unwrap(), NAMESPACE);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while budgets.get("db").await.unwrap().status.unwrap().current_healthy != 1 {
            assert!(tokio::time::Instant::now() < deadline, "the budget never counted its pod");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // The budget keeps `db`: kubectl retries until its timeout, then gives up.
        let drain = kubectl
            .run(&["drain", "embedded-node", "--force", "--timeout=2s"], None)
            .await;
        assert!(!drain.success, "{drain:#?}");
        assert!(drain.stdout.contains("node/embedded-node cordoned"), "{drain:#?}");
        assert!(drain.stdout.contains("evicting pod default/web"), "{drain:#?}");
        assert!(drain.stdout.contains("pod/web evicted"), "{drain:#?}");
        assert!(
            drain.stderr.contains("Cannot evict pod as it would violate the pod's disruption budget."),
            "{drain:#?}"
        );
        assert!(pods.get_opt("web").await.unwrap().is_none());
        assert!(pods.get_opt("db").await.unwrap().is_some());
        server.shutdown().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_debug_adds_an_ephemeral_container_that_the_kubelet_starts() {
    bounded(async {
        let server = simulating(1).await;
        let Some(kubectl) = Kubectl::for_server(&server) else {
            return server.shutdown().await;
        };
        kubectl.apply_ok(&pod_manifest("web", "")).await;
        let pods: Api<Pod> = Api::namespaced(server.client().unwrap(), NAMESPACE);
        pod_until(&pods, "web", "web to be ready", ready).await;
        kubectl
            .ok(&[
                "debug",
                "web",
                "--image=busybox:1.36",
                "--container=debugger",
            ])
            .await;
        let debugged = pod_until(&pods, "web", "the debug container to run", |p| {
            p["status"]["ephemeralContainerStatuses"][0]["state"]["running"].is_object()
        })
        .await;
        assert_eq!(
            debugged["spec"]["ephemeralContainers"][0]["name"],
            "debugger"
        );
        assert_eq!(
            debugged["spec"]["ephemeralContainers"][0]["image"],
            "busybox:1.36"
        );

        // Ephemeral containers can be added, never taken away.
        let removal = kubectl
            .run(
                &[
                    "patch",
                    "pod",
                    "web",
                    "--subresource=ephemeralcontainers",
                    "--type=json",
                    "-p",
                    r#"[{"op":"remove","path":"/spec/ephemeralContainers/0"}]"#,
                ],
                None,
            )
            .await;
        assert!(!removal.success, "{removal:#?}");
        assert!(
            removal.stderr.contains(
                "existing ephemeral containers \"debugger\" may not be removed or changed"
            ),
            "{removal:#?}"
        );
        let attach = kubectl
            .run(&["attach", "web", "-c", "debugger"], None)
            .await;
        assert!(!attach.success);
        assert!(
            attach.stderr.contains("error dialing backend"),
            "{attach:#?}"
        );
        server.shutdown().await;
    })
    .await;
}
