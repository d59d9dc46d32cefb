//! The operator's chart, end to end, as a user meets it: `helm install`
//! through Helm's own library, a town applied with the real kubectl, the
//! operator running under the chart's RBAC until the town converges, the CRD
//! upgrade step the chart's notes give, `helm upgrade` with changed values,
//! the town drained, `helm uninstall`.
//!
//! There is no kubelet here, so the test plays it for the operator's own
//! Deployment: it reads the pod template Helm applied and runs this build's
//! `gastown-operator` binary (standing in for the image) with the
//! template's arguments and environment, a kubeconfig holding a token of the
//! chart's ServiceAccount (standing in for the mounted token), and
//! `BD_DAEMON_HOST` pointing at the test daemon (standing in for the town's
//! daemon Service, which has no DNS name here). It probes the template's
//! readiness endpoint and, when the template changes, replaces the process.
//!
//! Needs `HELM_SDK_PYTHON` (a python with PyPI `helm-sdkpy`) and kubectl;
//! skipped loudly without them.

mod common;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use common::helm::{self, Release};
use common::kubectl::Kubectl;
use common::{CONVERGE, NAMESPACE, RIG, TOWN, eventually, examples_dir};
use embedded_apiserver::EmbeddedApiServer;
use embedded_apiserver::rbac::{self, UserInfo};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Container, Pod};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::{Api, DynamicObject, ListParams};
use kube::core::GroupVersionKind;
use kube::discovery::{self, Scope};
use kube::{Client, ResourceExt};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const RELEASE: &str = "op";
const RELEASE_NAMESPACE: &str = "gastown-system";
/// The chart's full name for [`RELEASE`]: its Deployment, ServiceAccount, roles and Lease.
const FULLNAME: &str = "op-gastown-operator";

/// An object Helm rendered, as `kind namespace/name`, and its API version.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Rendered {
    api_version: String,
    kind: String,
    namespace: Option<String>,
    name: String,
}

impl std::fmt::Display for Rendered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.namespace {
            Some(namespace) => write!(f, "{} {namespace}/{}", self.kind, self.name),
            None => write!(f, "{} {}", self.kind, self.name),
        }
    }
}

/// Every object of a release's manifest.
fn rendered(result: &Value) -> BTreeSet<Rendered> {
    let manifest = result["manifest"].as_str().expect("a manifest");
    serde_yaml::Deserializer::from_str(manifest)
        .map(|document| Value::deserialize(document).expect("a YAML document"))
        .filter(|object| !object.is_null())
        .map(|object| {
            let field = |path: &str| object.pointer(path).and_then(Value::as_str);
            Rendered {
                api_version: field("/apiVersion").expect("apiVersion").into(),
                kind: field("/kind").expect("kind").into(),
                namespace: field("/metadata/namespace").map(String::from),
                name: field("/metadata/name").expect("a name").into(),
            }
        })
        .collect()
}

/// Whether `object` exists (and is not being deleted), found through discovery.
async fn exists(client: &Client, object: &Rendered) -> bool {
    let (group, version) = match object.api_version.split_once('/') {
        Some((group, version)) => (group, version),
        None => ("", object.api_version.as_str()),
    };
    let gvk = GroupVersionKind::gvk(group, version, &object.kind);
    let (resource, capabilities) = discovery::pinned_kind(client, &gvk)
        .await
        .unwrap_or_else(|e| panic!("{} is served: {e}", object.kind));
    let api: Api<DynamicObject> = match (capabilities.scope, &object.namespace) {
        (Scope::Namespaced, Some(namespace)) => {
            Api::namespaced_with(client.clone(), namespace, &resource)
        }
        (Scope::Namespaced, None) => {
            Api::namespaced_with(client.clone(), RELEASE_NAMESPACE, &resource)
        }
        (Scope::Cluster, _) => Api::all_with(client.clone(), &resource),
    };
    api.get_opt(&object.name)
        .await
        .expect("a read")
        .is_some_and(|o| o.metadata.deletion_timestamp.is_none())
}

/// Plays the kubelet for the operator's Deployment: one process per pod.
struct Kubelet {
    /// A kubeconfig with a token of the chart's ServiceAccount.
    kubeconfig: PathBuf,
    daemon: String,
    logs: PathBuf,
    pod: Option<OperatorPod>,
}

struct OperatorPod {
    process: tokio::process::Child,
    readiness: SocketAddr,
    readiness_path: String,
}

impl Kubelet {
    /// Starts the Deployment's pod as `pod_name`; returns once its readiness probe passes.
    async fn start(&mut self, deployment: &Deployment, pod_name: &str) {
        assert!(self.pod.is_none(), "one replica at a time on this one host");
        let template = deployment
            .spec
            .as_ref()
            .and_then(|s| s.template.spec.as_ref())
            .expect("a pod template");
        assert_eq!(
            template.service_account_name.as_deref(),
            Some(FULLNAME),
            "the pod runs as the chart's ServiceAccount"
        );
        let container = &template.containers[0];
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_gastown-operator"));
        command.args(container.args.iter().flatten());
        for var in container.env.iter().flatten() {
            command.env(&var.name, resolve(var, deployment, pod_name));
        }
        let logs = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.logs)
            .expect("the log file opens");
        let process = command
            .env("KUBECONFIG", &self.kubeconfig)
            .env("BD_DAEMON_HOST", &self.daemon)
            .stdin(Stdio::null())
            .stdout(logs.try_clone().expect("a log handle"))
            .stderr(logs)
            .kill_on_drop(true)
            .spawn()
            .expect("the operator binary starts");
        let (readiness, readiness_path) = readiness_probe(container);
        let pod = OperatorPod {
            process,
            readiness,
            readiness_path,
        };
        eventually("the operator pod is ready", CONVERGE, || async {
            (http_status(pod.readiness, &pod.readiness_path).await == Some(200)).then_some(())
        })
        .await;
        self.pod = Some(pod);
    }

    /// SIGTERM, as the kubelet sends when the pod is deleted; the exit must be clean.
    async fn stop(&mut self) {
        let mut pod = self.pod.take().expect("a running pod");
        // The Deployment's terminationGracePeriodSeconds.
        common::terminate(&mut pod.process, Duration::from_secs(30)).await;
    }

    fn logs(&self) -> String {
        std::fs::read_to_string(&self.logs).unwrap_or_default()
    }
}

/// The value of an environment variable of the template, as the kubelet fills it.
fn resolve(
    var: &k8s_openapi::api::core::v1::EnvVar,
    deployment: &Deployment,
    pod_name: &str,
) -> String {
    if let Some(value) = &var.value {
        return value.clone();
    }
    let field = var
        .value_from
        .as_ref()
        .and_then(|from| from.field_ref.as_ref())
        .unwrap_or_else(|| panic!("{} is a value or a fieldRef", var.name));
    match field.field_path.as_str() {
        "metadata.namespace" => deployment.namespace().expect("a namespace"),
        "metadata.name" => pod_name.to_owned(),
        other => panic!("the test's kubelet does not fill {other} ({})", var.name),
    }
}

/// Where the readiness probe of `container` asks: its port, named or numbered, on loopback.
fn readiness_probe(container: &Container) -> (SocketAddr, String) {
    let get = container
        .readiness_probe
        .as_ref()
        .and_then(|p| p.http_get.as_ref())
        .expect("an HTTP readiness probe");
    let port = match &get.port {
        IntOrString::Int(port) => *port,
        IntOrString::String(name) => {
            container
                .ports
                .iter()
                .flatten()
                .find(|p| p.name.as_deref() == Some(name.as_str()))
                .unwrap_or_else(|| panic!("the probe's port {name} is declared"))
                .container_port
        }
    };
    let port = u16::try_from(port).expect("a port number");
    let path = get.path.clone().unwrap_or_else(|| "/".into());
    (SocketAddr::from(([127, 0, 0, 1], port)), path)
}

async fn http_status(address: SocketAddr, path: &str) -> Option<u16> {
    let mut stream = TcpStream::connect(address).await.ok()?;
    let request = format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n");
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await.ok()?;
    response.split_whitespace().nth(1)?.parse().ok()
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("an address").port()
}

/// What RBAC refused the chart's ServiceAccount, from the `from`th decision on.
fn refusals(server: &EmbeddedApiServer, from: usize) -> Vec<String> {
    let operator = UserInfo::service_account(RELEASE_NAMESPACE, FULLNAME);
    server
        .rbac_checks()
        .into_iter()
        .skip(from)
        .filter(|c| !c.allowed && c.user == operator)
        .map(|c| rbac::forbidden_reason(&c.user, &c.request))
        .collect()
}

fn args(deployment: &Deployment) -> Vec<String> {
    deployment
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .and_then(|s| s.containers[0].args.clone())
        .unwrap_or_default()
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 path")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helm_install_kubectl_apply_converge_upgrade_and_uninstall() {
    let Some(python) = helm::python() else { return };
    let scratch = tempfile::tempdir().expect("a temporary directory");
    let Some(kubectl) = Kubectl::find(scratch.path()) else {
        return;
    };
    let server = common::rbac_server().await;
    let testd = common::seeded_daemon().await;
    // kubectl and Helm act as the cluster's admin.
    server.write_kubeconfig(&kubectl.kubeconfig).unwrap();
    let admin = server.client().unwrap();
    let release = Release {
        python,
        kubeconfig: kubectl.kubeconfig.clone(),
        scratch: scratch.path().to_owned(),
        name: RELEASE.into(),
        namespace: RELEASE_NAMESPACE.into(),
    };

    // helm install, default values but the metrics port (all pods share this host).
    let port = free_port();
    let installed = release
        .install(&json!({ "metrics": { "port": port } }))
        .await;
    assert_eq!(installed["version"], 1);
    let notes = installed["notes"].as_str().expect("notes");
    assert!(
        notes.contains("kubectl -n gastown apply -f examples/gastown-minimal.yaml"),
        "{notes}"
    );
    assert!(
        notes.contains("kubectl gastown -n gastown status minimal"),
        "{notes}"
    );
    let first = rendered(&installed);
    for object in &first {
        assert!(exists(&admin, object).await, "{object} was installed");
    }

    // The pod Helm's Deployment asks for, under the chart's ServiceAccount.
    let token = server.service_account_token(RELEASE_NAMESPACE, FULLNAME);
    let operator_kubeconfig = scratch.path().join("operator-kubeconfig");
    std::fs::write(
        &operator_kubeconfig,
        server.kubeconfig_yaml_for_token(&token),
    )
    .unwrap();
    let mut kubelet = Kubelet {
        kubeconfig: operator_kubeconfig,
        daemon: testd.http_url(),
        logs: scratch.path().join("operator.log"),
        pod: None,
    };
    let deployments: Api<Deployment> = Api::namespaced(admin.clone(), RELEASE_NAMESPACE);
    let deployment = deployments.get(FULLNAME).await.expect("the Deployment");
    let first_args = args(&deployment);
    assert!(
        first_args.contains(&"--leader-election=true".to_owned())
            && !first_args.iter().any(|a| a.starts_with("--namespaces")),
        "{first_args:?}"
    );
    kubelet.start(&deployment, &format!("{FULLNAME}-1")).await;

    // The user's part, as the notes tell it: the town's Secrets and the example.
    kubectl.run(&["create", "namespace", NAMESPACE]).await;
    for (secret, literal) in [
        ("bd-daemon-token", format!("token={}", testd.token())),
        ("anthropic-api-key", "api-key=sk-test-not-a-key".to_owned()),
    ] {
        let literal = format!("--from-literal={literal}");
        kubectl
            .run(&[
                "-n", NAMESPACE, "create", "secret", "generic", secret, &literal,
            ])
            .await;
    }
    let example = examples_dir().join("gastown-minimal.yaml");
    kubectl
        .run(&["-n", NAMESPACE, "apply", "-f", path_str(&example)])
        .await;
    let town = format!("gastown/{TOWN}");
    let running = "--for=jsonpath={.status.phase}=Running";
    kubectl
        .run(&["-n", NAMESPACE, "wait", &town, running, "--timeout=60s"])
        .await;
    let table = kubectl.run(&["-n", NAMESPACE, "get", "gastown"]).await;
    let row: Vec<&str> = table
        .lines()
        .nth(1)
        .expect("a row")
        .split_whitespace()
        .collect();
    assert_eq!(&row[..4], [TOWN, "Running", "0", "2"], "{table}");
    let refused = refusals(&server, 0);
    assert!(
        refused.is_empty(),
        "refused under the chart's RBAC:\n{refused:#?}"
    );

    // Upgrading: the CRDs first (Helm never upgrades crds/), as the notes say.
    let crds = helm::chart().join("crds");
    let applied = kubectl
        .run(&[
            "apply",
            "--server-side",
            "--force-conflicts",
            "-f",
            path_str(&crds),
        ])
        .await;
    assert_eq!(
        applied.matches("serverside-applied").count(),
        3,
        "{applied}"
    );

    // helm upgrade: only the town's namespace now, another log level and concurrency.
    let upgraded = release
        .upgrade(&json!({
            "metrics": { "port": port },
            "watchNamespaces": [NAMESPACE],
            "logLevel": "debug",
            "reconcileConcurrency": 2,
        }))
        .await;
    assert_eq!(upgraded["version"], 2);
    let second = rendered(&upgraded);
    for object in &second {
        assert!(exists(&admin, object).await, "{object} is in revision 2");
    }
    for object in first.difference(&second) {
        assert!(
            !exists(&admin, object).await,
            "{object} left with revision 1"
        );
    }
    let namespaced_role = Rendered {
        api_version: "rbac.authorization.k8s.io/v1".into(),
        kind: "Role".into(),
        namespace: Some(NAMESPACE.into()),
        name: FULLNAME.into(),
    };
    assert!(second.contains(&namespaced_role), "{second:#?}");
    let deployment = deployments.get(FULLNAME).await.expect("the Deployment");
    let second_args = args(&deployment);
    for arg in [
        format!("--namespaces={NAMESPACE}"),
        "--log-level=debug".into(),
        "--concurrency=2".into(),
    ] {
        assert!(second_args.contains(&arg), "{arg} in {second_args:?}");
    }

    // The rollout: the old pod goes, the new one comes with the new template.
    kubelet.stop().await;
    let decided = server.rbac_checks().len();
    kubelet.start(&deployment, &format!("{FULLNAME}-2")).await;

    // The upgraded operator, with only a Role in the town's namespace, takes a
    // new rig: its agents, and beads' working polecat nux, get pods. (A short
    // grace period: the drain below need not wait the default for polecats
    // beads still calls busy.)
    let rigs = json!({ "spec": {
        "rigs": [{ "name": RIG, "gitURL": format!("https://git.example.com/{RIG}.git") }],
        "terminationGracePeriod": "3s",
    }})
    .to_string();
    kubectl
        .run(&["-n", NAMESPACE, "patch", &town, "--type=merge", "-p", &rigs])
        .await;
    let pods: Api<Pod> = Api::namespaced(admin.clone(), NAMESPACE);
    let wanted: BTreeSet<String> = [
        format!("gt-{TOWN}-mayor"),
        format!("gt-{RIG}-witness"),
        format!("gt-{RIG}-refinery"),
        format!("gt-{RIG}-polecat-nux"),
    ]
    .into();
    eventually("the rig's agents and polecat run", CONVERGE, || async {
        let listed = pods.list(&ListParams::default()).await.ok()?;
        let names: BTreeSet<String> = listed.items.iter().map(|p| p.name_any()).collect();
        names.is_superset(&wanted).then_some(())
    })
    .await;
    let rig_counted = "--for=jsonpath={.status.rigCount}=1";
    kubectl
        .run(&["-n", NAMESPACE, "wait", &town, rig_counted, "--timeout=60s"])
        .await;
    // Beads says nux is done: its pod goes.
    let nux = format!("gt-{RIG}-polecat-nux");
    testd
        .store()
        .update(&nux, |bead| bead.agent_state = Some("done".into()));
    eventually("the finished polecat's pod is gone", CONVERGE, || async {
        pods.get_opt(&nux).await.ok()?.is_none().then_some(())
    })
    .await;

    // Draining the town before uninstalling: kubectl returns once the finalizer ran.
    kubectl
        .run(&[
            "-n",
            NAMESPACE,
            "delete",
            &town,
            "--wait=true",
            "--timeout=60s",
        ])
        .await;
    let left = pods.list(&ListParams::default()).await.unwrap();
    assert!(
        left.items.is_empty(),
        "pods outlived their town: {:?}",
        left.items.iter().map(|p| p.name_any()).collect::<Vec<_>>()
    );
    let refused = refusals(&server, decided);
    assert!(
        refused.is_empty(),
        "refused under the upgraded chart's RBAC:\n{refused:#?}"
    );

    // helm uninstall: the chart's objects go, and the kubelet stops the pod.
    release.uninstall().await;
    for object in first.union(&second) {
        assert!(
            !exists(&admin, object).await,
            "{object} outlived the release"
        );
    }
    kubelet.stop().await;
    // Helm keeps what crds/ installed: the towns' definitions stay.
    let kept = kubectl
        .run(&[
            "get",
            "crd",
            "gastowns.gastown.io",
            "rigs.gastown.io",
            "agentpools.gastown.io",
        ])
        .await;
    assert_eq!(kept.lines().count(), 4, "{kept}");

    // Debug logging said plenty, and never a secret.
    let logs = kubelet.logs();
    assert!(
        logs.contains("DEBUG") || logs.contains("\"debug\""),
        "debug logs were written"
    );
    for secret in [testd.token(), "sk-test-not-a-key"] {
        assert!(!logs.contains(secret), "a secret in the operator's logs");
    }

    server.shutdown().await;
    testd.shutdown().await;
}
