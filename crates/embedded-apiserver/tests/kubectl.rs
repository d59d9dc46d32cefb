//! The real `kubectl` against the embedded API server: apply (client- and
//! server-side), get with printer columns, describe, explain, wait and delete,
//! exactly as a user would drive them.
//!
//! Every test starts its own server and gives kubectl its own kubeconfig,
//! cache directory and HOME, so runs never share discovery or OpenAPI caches.
//! The tests are skipped, with a printed reason, only when no `kubectl` is on PATH.
//! `KUBECTL=/path/to/kubectl.1.27` runs them with another kubectl binary.

mod support;

use embedded_apiserver::{Config, EmbeddedApiServer};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use support::kubectl::{INVOCATION_TIMEOUT, Kubectl, header, row};
use tokio::io::{AsyncBufReadExt, BufReader};

const WIDGET_CRD: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.gastown.io
spec:
  group: example.gastown.io
  scope: Namespaced
  names:
    plural: widgets
    singular: widget
    kind: Widget
    listKind: WidgetList
    shortNames: [wd]
  versions:
  - name: v1alpha1
    served: true
    storage: true
    subresources:
      status: {}
    additionalPrinterColumns:
    - name: Size
      type: integer
      jsonPath: .spec.size
    - name: Color
      type: string
      jsonPath: .spec.color
    - name: Ready
      type: string
      jsonPath: .status.conditions[?(@.type=="Ready")].status
    - name: Age
      type: date
      jsonPath: .metadata.creationTimestamp
    schema:
      openAPIV3Schema:
        type: object
        description: A Widget is a small test resource.
        properties:
          spec:
            type: object
            description: The desired state of the widget.
            required: [size]
            properties:
              size:
                type: integer
                minimum: 1
                description: How many parts the widget has.
              color:
                type: string
                enum: [red, green, blue]
                description: The widget's paint.
              daemon:
                type: object
                description: Settings of the widget's daemon.
                properties:
                  port:
                    type: integer
                    description: The TCP port the daemon listens on.
          status:
            type: object
            properties:
              conditions:
                type: array
                items:
                  type: object
                  required: [type, status]
                  properties:
                    type: { type: string }
                    status: { type: string }
"#;

fn widget(name: &str, size: i64, color: &str) -> String {
    format!(
        "apiVersion: example.gastown.io/v1alpha1\nkind: Widget\nmetadata:\n  name: {name}\n  namespace: default\nspec:\n  size: {size}\n  color: {color}\n"
    )
}

/// Applies the Widget CRD and waits until it is Established.
async fn install_widget_crd(kubectl: &Kubectl) {
    kubectl.apply_ok(WIDGET_CRD).await;
    kubectl
        .ok(&[
            "wait",
            "--for=condition=Established",
            "crd/widgets.example.gastown.io",
            "--timeout=30s",
        ])
        .await;
}

/// Starts a server, runs `body` with kubectl pointed at it, shuts the server down.
async fn with_kubectl<F, Fut>(body: F)
where
    F: FnOnce(EmbeddedApiServer, Kubectl) -> Fut,
    Fut: Future<Output = EmbeddedApiServer>,
{
    with_kubectl_and(Config::default(), body).await;
}

/// [`with_kubectl`] with a server started from `config`.
async fn with_kubectl_and<F, Fut>(config: Config, body: F)
where
    F: FnOnce(EmbeddedApiServer, Kubectl) -> Fut,
    Fut: Future<Output = EmbeddedApiServer>,
{
    let server = EmbeddedApiServer::start(config)
        .await
        .expect("server starts");
    let Some(kubectl) = Kubectl::for_server(&server) else {
        server.shutdown().await;
        return;
    };
    let server = body(server, kubectl).await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_resources_round_trip_through_kubectl() {
    with_kubectl(|server, kubectl| async move {
        install_widget_crd(&kubectl).await;
        let applied = kubectl
            .apply_ok(&format!(
                "{}---\n{}",
                widget("w1", 3, "red"),
                widget("w2", 5, "blue")
            ))
            .await;
        assert!(
            applied.contains("widget.example.gastown.io/w1 created"),
            "{applied}"
        );
        assert!(
            applied.contains("widget.example.gastown.io/w2 created"),
            "{applied}"
        );

        let table = kubectl.ok(&["get", "widgets"]).await;
        assert_eq!(header(&table), ["NAME", "SIZE", "COLOR", "READY", "AGE"]);
        // kubectl leaves a null cell (no Ready condition yet) blank.
        let w1 = row(&table, "w1");
        assert_eq!(w1.len(), 4, "{table}");
        assert_eq!(&w1[..3], ["w1", "3", "red"], "{table}");
        assert_eq!(&row(&table, "w2")[..3], ["w2", "5", "blue"]);

        let short = kubectl.ok(&["get", "wd", "w2", "--no-headers"]).await;
        assert_eq!(&row(&short, "w2")[..3], ["w2", "5", "blue"]);

        let all_namespaces = kubectl.ok(&["get", "widgets", "-A"]).await;
        assert_eq!(header(&all_namespaces)[..2], ["NAMESPACE", "NAME"]);
        assert_eq!(&row(&all_namespaces, "default")[..2], ["default", "w1"]);

        let yaml = kubectl.ok(&["get", "widget", "w1", "-o", "yaml"]).await;
        assert!(yaml.contains("kind: Widget"), "{yaml}");
        assert!(yaml.contains("size: 3"), "{yaml}");
        assert!(
            yaml.contains("kubectl.kubernetes.io/last-applied-configuration"),
            "{yaml}"
        );

        let described = kubectl.ok(&["describe", "widget", "w1"]).await;
        assert!(
            described
                .lines()
                .any(|l| l.starts_with("Name:") && l.ends_with("w1")),
            "{described}"
        );
        assert!(
            described
                .lines()
                .any(|l| l.trim_start().starts_with("Size:") && l.trim_end().ends_with('3')),
            "{described}"
        );

        let explained = kubectl.ok(&["explain", "widgets.spec"]).await;
        assert!(explained.contains("KIND:       Widget"), "{explained}");
        assert!(
            explained.contains("The desired state of the widget."),
            "{explained}"
        );
        assert!(
            explained.contains("size\t<integer> -required-"),
            "{explained}"
        );
        let explained = kubectl.ok(&["explain", "widget.spec.daemon.port"]).await;
        assert!(
            explained.contains("The TCP port the daemon listens on."),
            "{explained}"
        );
        server
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reapplying_unchanged_objects_writes_nothing() {
    with_kubectl(|server, kubectl| async move {
        install_widget_crd(&kubectl).await;
        let manifest = format!("{}---\n{}", widget("w1", 3, "red"), widget("w2", 5, "blue"));
        kubectl.apply_ok(&manifest).await;

        server.reset_requests();
        let again = kubectl.apply_ok(&manifest).await;
        assert!(
            again.contains("widget.example.gastown.io/w1 unchanged"),
            "{again}"
        );
        assert!(
            again.contains("widget.example.gastown.io/w2 unchanged"),
            "{again}"
        );
        let requests = server.requests();
        assert_eq!(
            requests.writes(),
            0,
            "an unchanged apply wrote: {:?}",
            requests.iter().collect::<Vec<_>>()
        );
        assert!(
            requests.count("get", "widgets") >= 2,
            "apply reads each object: {:?}",
            requests.iter().collect::<Vec<_>>()
        );

        let changed = kubectl.apply_ok(&widget("w1", 4, "red")).await;
        assert!(
            changed.contains("widget.example.gastown.io/w1 configured"),
            "{changed}"
        );
        assert_eq!(server.requests().count("patch", "widgets"), 1);
        let size = kubectl
            .ok(&["get", "widget", "w1", "-o", "jsonpath={.spec.size}"])
            .await;
        assert_eq!(size, "4");
        server
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_objects_are_refused_with_the_schema_message() {
    with_kubectl(|server, kubectl| async move {
        install_widget_crd(&kubectl).await;

        let too_small = kubectl.apply_with(&widget("w1", 0, "red"), &[]).await;
        assert!(!too_small.success, "{too_small:#?}");
        assert!(too_small.stderr.contains("spec.size"), "{too_small:#?}");
        assert!(
            too_small
                .stderr
                .contains("should be greater than or equal to 1"),
            "{too_small:#?}"
        );

        let wrong_color = kubectl.apply_with(&widget("w1", 1, "purple"), &[]).await;
        assert!(!wrong_color.success, "{wrong_color:#?}");
        assert!(
            wrong_color.stderr.contains("spec.color"),
            "{wrong_color:#?}"
        );
        assert!(
            wrong_color
                .stderr
                .contains(r#"Unsupported value: "purple""#),
            "{wrong_color:#?}"
        );

        let unknown_field = kubectl
            .apply_with(&format!("{}  colour: red\n", widget("w1", 1, "red")), &[])
            .await;
        assert!(!unknown_field.success, "{unknown_field:#?}");
        assert!(
            unknown_field
                .stderr
                .contains(r#"unknown field "spec.colour""#),
            "{unknown_field:#?}"
        );

        let missing = kubectl.ok(&["get", "widgets", "--ignore-not-found"]).await;
        assert_eq!(missing.trim(), "", "nothing invalid was stored");
        server
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_side_apply_keeps_each_managers_fields() {
    with_kubectl(|server, kubectl| async move {
        install_widget_crd(&kubectl).await;
        let applied = kubectl.apply_ok_with(&widget("w1", 3, "red"), &["--server-side"]).await;
        assert!(applied.contains("widget.example.gastown.io/w1 serverside-applied"), "{applied}");
        let managers = kubectl.ok(&["get", "widget", "w1", "-o", "jsonpath={.metadata.managedFields[*].manager}"]).await;
        assert_eq!(managers, "kubectl");

        // Another manager sets a field kubectl's apply does not own …
        let painter = "apiVersion: example.gastown.io/v1alpha1\nkind: Widget\nmetadata:\n  name: w1\n  namespace: default\nspec:\n  size: 3\n  daemon:\n    port: 8080\n";
        kubectl.apply_ok_with(painter, &["--server-side", "--field-manager=painter"]).await;
        // … and changing kubectl's own field keeps it.
        kubectl.apply_ok_with(&widget("w1", 3, "green"), &["--server-side"]).await;
        let spec = kubectl.ok(&["get", "widget", "w1", "-o", "jsonpath={.spec.color} {.spec.daemon.port}"]).await;
        assert_eq!(spec, "green 8080");

        // A conflicting value from the other manager needs --force-conflicts.
        let conflicting = "apiVersion: example.gastown.io/v1alpha1\nkind: Widget\nmetadata:\n  name: w1\n  namespace: default\nspec:\n  size: 3\n  color: blue\n";
        let refused = kubectl.apply_with(conflicting, &["--server-side", "--field-manager=painter"]).await;
        assert!(!refused.success, "{refused:#?}");
        assert!(refused.stderr.contains("conflict"), "{refused:#?}");
        kubectl.apply_ok_with(conflicting, &["--server-side", "--field-manager=painter", "--force-conflicts"]).await;
        assert_eq!(kubectl.ok(&["get", "widget", "w1", "-o", "jsonpath={.spec.color}"]).await, "blue");
        server
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_for_condition_sees_a_status_update() {
    with_kubectl(|server, kubectl| async move {
        install_widget_crd(&kubectl).await;
        kubectl.apply_ok(&widget("w1", 3, "red")).await;

        let waiting = kubectl.run(
            &[
                "wait",
                "--for=condition=Ready",
                "widget/w1",
                "--timeout=30s",
            ],
            None,
        );
        let marking_ready = async {
            kubectl
                .ok(&[
                    "patch",
                    "widget",
                    "w1",
                    "--subresource=status",
                    "--type=merge",
                    "-p",
                    r#"{"status":{"conditions":[{"type":"Ready","status":"True"}]}}"#,
                ])
                .await
        };
        let (waited, _) = tokio::join!(waiting, marking_ready);
        assert!(waited.success, "{waited:#?}");
        assert!(
            waited
                .stdout
                .contains("widget.example.gastown.io/w1 condition met"),
            "{waited:#?}"
        );

        let table = kubectl.ok(&["get", "widgets"]).await;
        assert_eq!(&row(&table, "w1")[..4], ["w1", "3", "red", "True"]);
        server
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_honours_finalizers_and_foreground_cascade() {
    with_kubectl(|server, kubectl| async move {
        install_widget_crd(&kubectl).await;

        // Without finalizers the object is gone at once.
        kubectl.apply_ok(&widget("plain", 1, "red")).await;
        let deleted = kubectl.ok(&["delete", "widget", "plain"]).await;
        assert!(deleted.contains(r#"widget.example.gastown.io "plain" deleted"#), "{deleted}");
        assert_eq!(kubectl.ok(&["get", "widget", "plain", "--ignore-not-found"]).await.trim(), "");

        // A finalizer holds it, marked for deletion, until removed.
        let held = widget("held", 1, "red").replace("  namespace: default\n", "  namespace: default\n  finalizers: [example.gastown.io/hold]\n");
        kubectl.apply_ok(&held).await;
        kubectl.ok(&["delete", "widget", "held", "--wait=false"]).await;
        let marked = kubectl.ok(&["get", "widget", "held", "-o", "jsonpath={.metadata.deletionTimestamp}"]).await;
        assert!(!marked.is_empty(), "a finalized object stays with a deletionTimestamp");
        kubectl.ok(&["patch", "widget", "held", "--type=merge", "-p", r#"{"metadata":{"finalizers":null}}"#]).await;
        kubectl.ok(&["wait", "--for=delete", "widget/held", "--timeout=30s"]).await;

        // Foreground: the owner goes only after its dependents.
        kubectl.apply_ok(&widget("owner", 1, "red")).await;
        let owner_uid = kubectl.ok(&["get", "widget", "owner", "-o", "jsonpath={.metadata.uid}"]).await;
        let dependent = format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: owned\n  namespace: default\n  ownerReferences:\n  - apiVersion: example.gastown.io/v1alpha1\n    kind: Widget\n    name: owner\n    uid: {owner_uid}\n    blockOwnerDeletion: true\ndata:\n  a: b\n"
        );
        kubectl.apply_ok(&dependent).await;
        let deleted = kubectl.ok(&["delete", "widget", "owner", "--cascade=foreground", "--timeout=30s"]).await;
        assert!(deleted.contains(r#"widget.example.gastown.io "owner" deleted"#), "{deleted}");
        kubectl.ok(&["wait", "--for=delete", "widget/owner", "--timeout=30s"]).await;
        kubectl.ok(&["wait", "--for=delete", "configmap/owned", "--timeout=30s"]).await;
        server
    })
    .await;
}

const DEPLOYMENT: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: bd-daemon
  namespace: default
spec:
  replicas: 2
  selector:
    matchLabels: { app: bd }
  template:
    metadata:
      labels: { app: bd }
    spec:
      containers:
      - name: bd
        image: beads:1
        env:
        - { name: BD_DAEMON_PORT, value: "9876" }
        - { name: BEADS_AUTO_START_DAEMON, value: "false" }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn builtin_kinds_apply_with_strategic_merge_and_print_their_columns() {
    with_kubectl(|server, kubectl| async move {
        let created = kubectl.apply_ok(DEPLOYMENT).await;
        assert!(
            created.contains("deployment.apps/bd-daemon created"),
            "{created}"
        );

        // Changing one env entry is a strategic merge patch computed from the
        // published schema's patch directives; kubectl warns if it cannot.
        let changed = DEPLOYMENT.replace(r#""9876""#, r#""9999""#);
        let outcome = kubectl.apply_with(&changed, &[]).await;
        assert!(outcome.success, "{outcome:#?}");
        assert!(
            outcome
                .stdout
                .contains("deployment.apps/bd-daemon configured"),
            "{outcome:#?}"
        );
        assert!(!outcome.stderr.contains("warning"), "{outcome:#?}");
        let env = kubectl
            .ok(&[
                "get",
                "deployment",
                "bd-daemon",
                "-o",
                "jsonpath={range .spec.template.spec.containers[0].env[*]}{.name}={.value} {end}",
            ])
            .await;
        assert_eq!(
            env.trim(),
            "BD_DAEMON_PORT=9999 BEADS_AUTO_START_DAEMON=false"
        );

        server.reset_requests();
        let again = kubectl.apply_ok(&changed).await;
        assert!(
            again.contains("deployment.apps/bd-daemon unchanged"),
            "{again}"
        );
        assert_eq!(server.requests().writes(), 0);

        let table = kubectl.ok(&["get", "deployments"]).await;
        assert_eq!(
            header(&table),
            ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
        );
        assert_eq!(row(&table, "bd-daemon")[1], "0/2");
        let wide = kubectl.ok(&["get", "deployments", "-o", "wide"]).await;
        assert_eq!(&row(&wide, "bd-daemon")[5..], ["bd", "beads:1", "app=bd"]);

        let explained = kubectl.ok(&["explain", "deployment.spec.replicas"]).await;
        assert!(explained.contains("Number of desired pods"), "{explained}");

        let namespaces = kubectl.ok(&["get", "namespaces"]).await;
        assert_eq!(header(&namespaces), ["NAME", "STATUS", "AGE"]);
        assert_eq!(row(&namespaces, "default")[1], "Active");
        server
    })
    .await;
}

/// The project's own CRDs and examples, once they exist in the repository.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gastown_crds_and_examples_apply_cleanly() {
    let repository = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let yaml_files = |dir: &str| -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(repository.join(dir))
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        files
    };
    let crds = yaml_files("config/crd");
    let examples = yaml_files("examples");
    if crds.is_empty() {
        eprintln!("skipped: no CRDs in config/crd yet");
        return;
    }
    with_kubectl(|server, kubectl| async move {
        for crd in &crds {
            let path = crd.to_string_lossy();
            kubectl.ok(&["apply", "-f", &path]).await;
        }
        kubectl
            .ok(&[
                "wait",
                "--for=condition=Established",
                "crd",
                "--all",
                "--timeout=30s",
            ])
            .await;
        // The namespaces the examples live in, as a user would have them.
        let namespaces: BTreeSet<String> = examples
            .iter()
            .flat_map(|example| yaml_documents(example))
            .filter_map(|document| {
                document
                    .pointer("/metadata/namespace")?
                    .as_str()
                    .map(str::to_owned)
            })
            .collect();
        for namespace in &namespaces {
            kubectl
                .apply_ok(&format!(
                    "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {namespace}\n"
                ))
                .await;
        }
        for example in &examples {
            let path = example.to_string_lossy();
            let applied = kubectl.ok(&["apply", "-f", &path]).await;
            assert!(applied.contains("created"), "{path}: {applied}");
            // Defaults inside list items (e.g. each rig's) make kubectl's JSON
            // merge patch resend whole lists, so it may say "configured", as
            // against kube-apiserver; the stored objects must not change.
            let before = server.resource_version();
            kubectl.ok(&["apply", "-f", &path]).await;
            assert_eq!(
                server.resource_version(),
                before,
                "{path}: re-apply changed stored objects"
            );
        }
        for example in &examples {
            kubectl.ok(&["get", "-f", &example.to_string_lossy()]).await;
        }
        for file in &crds {
            for crd in yaml_documents(file) {
                let (Some(plural), Some(group)) = (
                    crd.pointer("/spec/names/plural"),
                    crd.pointer("/spec/group"),
                ) else {
                    continue;
                };
                let resource = format!(
                    "{}.{}.spec",
                    plural.as_str().unwrap_or_default(),
                    group.as_str().unwrap_or_default()
                );
                let explained = kubectl.ok(&["explain", &resource]).await;
                assert!(explained.contains("FIELDS:"), "{resource}: {explained}");
            }
        }
        server
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watching_prints_table_rows_as_objects_change() {
    with_kubectl(|server, kubectl| async move {
        install_widget_crd(&kubectl).await;
        kubectl.apply_ok(&widget("w1", 3, "red")).await;

        let mut watch = kubectl.spawn(&["get", "widgets", "--watch"]);
        let mut lines = BufReader::new(watch.stdout.take().expect("stdout is piped")).lines();
        let mut next_line = async || {
            let line = tokio::time::timeout(INVOCATION_TIMEOUT, lines.next_line()).await;
            line.expect("kubectl --watch printed in time")
                .expect("stdout readable")
                .expect("kubectl --watch still running")
        };
        assert_eq!(
            header(&next_line().await),
            ["NAME", "SIZE", "COLOR", "READY", "AGE"]
        );
        assert_eq!(&row(&next_line().await, "w1")[..3], ["w1", "3", "red"]);

        kubectl.apply_ok(&widget("w1", 7, "green")).await;
        assert_eq!(&row(&next_line().await, "w1")[..3], ["w1", "7", "green"]);
        watch.kill().await.expect("kubectl --watch stopped");
        server
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_create_commands_work() {
    // `kubectl create secret|configmap|…` use client-go's typed clients,
    // which send protobuf request bodies.
    with_kubectl(|server, kubectl| async move {
        let created = kubectl
            .ok(&[
                "create",
                "secret",
                "generic",
                "anthropic",
                "--from-literal=api-key=sk-test",
            ])
            .await;
        assert!(created.contains("secret/anthropic created"), "{created}");
        let key = kubectl
            .ok(&[
                "get",
                "secret",
                "anthropic",
                "-o",
                "jsonpath={.data.api-key}",
            ])
            .await;
        assert_eq!(key, "c2stdGVzdA==");
        let created = kubectl
            .ok(&[
                "create",
                "configmap",
                "rig",
                "--from-literal=repo=https://example.com/r.git",
            ])
            .await;
        assert!(created.contains("configmap/rig created"), "{created}");
        let table = kubectl.ok(&["get", "configmaps"]).await;
        assert_eq!(row(&table, "rig")[1], "1");
        server
    })
    .await;
}

const WORKLOADS: &str = r#"
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: refinery
  namespace: default
spec:
  replicas: 1
  serviceName: refinery
  selector:
    matchLabels: { app: refinery }
  template:
    metadata:
      labels: { app: refinery }
    spec:
      containers:
      - { name: agent, image: gastown/agent:1 }
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: crew-workspace
  namespace: default
spec:
  accessModes: [ReadWriteOnce]
  resources:
    requests: { storage: 1Gi }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulated_workloads_show_their_status_in_kubectl() {
    let config = Config {
        simulate_workloads: true,
        ..Config::default()
    };
    with_kubectl_and(config, |server, kubectl| async move {
        kubectl.apply_ok(DEPLOYMENT).await;
        kubectl.apply_ok(WORKLOADS).await;
        kubectl
            .ok(&["rollout", "status", "deployment/bd-daemon", "--timeout=30s"])
            .await;
        kubectl
            .ok(&[
                "wait",
                "--for=jsonpath={.status.readyReplicas}=1",
                "statefulset/refinery",
                "--timeout=30s",
            ])
            .await;
        kubectl
            .ok(&[
                "wait",
                "--for=jsonpath={.status.phase}=Bound",
                "pvc/crew-workspace",
                "--timeout=30s",
            ])
            .await;

        let deployments = kubectl.ok(&["get", "deployments"]).await;
        assert_eq!(&row(&deployments, "bd-daemon")[1..4], ["2/2", "2", "2"]);
        let stateful_sets = kubectl.ok(&["get", "statefulsets"]).await;
        assert_eq!(row(&stateful_sets, "refinery")[1], "1/1");
        let claims = kubectl.ok(&["get", "pvc", "crew-workspace"]).await;
        assert_eq!(
            header(&claims)[..5],
            ["NAME", "STATUS", "VOLUME", "CAPACITY", "ACCESS"]
        );
        let claim = row(&claims, "crew-workspace");
        assert_eq!(claim[1], "Bound");
        assert!(claim[2].starts_with("pvc-"), "{claims}");
        assert_eq!(&claim[3..5], ["1Gi", "RWO"], "{claims}");
        server
    })
    .await;
}

/// The documents of a multi-document YAML file, as JSON values.
fn yaml_documents(path: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_yaml::Deserializer::from_str(&text)
        .map(|document| {
            serde::Deserialize::deserialize(document)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        })
        .filter(|document: &serde_json::Value| !document.is_null())
        .collect()
}
