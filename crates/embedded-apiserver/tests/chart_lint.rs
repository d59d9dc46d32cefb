//! The operator's Helm chart (`charts/gastown-operator`) through Helm's own Go
//! library: `helm lint` is clean, and the manifests Helm renders say what the
//! chart promises (hardened pod, probes, leader election whenever there is more
//! than one replica, a PodDisruptionBudget only then, RBAC per watched
//! namespace, a values schema that refuses unknown keys).
//!
//! helm-sdkpy has no client-only `helm template`, so rendering is an install
//! without `--wait` into a fresh embedded API server; the manifests are the
//! release's, exactly as Helm rendered them. The driver is
//! `charts/gastown-operator/ci/helm_check.py`, run with the python named by
//! `HELM_SDK_PYTHON` (see tests/helm.rs for setting up that virtualenv); the
//! tests are skipped, loudly, without it.

use embedded_apiserver::{Config, EmbeddedApiServer};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::api::rbac::v1::Role;
use kube::api::{Api, PostParams};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

const RELEASE: &str = "op";
const RELEASE_NAMESPACE: &str = "gastown-system";
/// `<release>-<chart>`, the chart's full name for [`RELEASE`].
const FULLNAME: &str = "op-gastown-operator";
/// Bounds each Helm process (it does not wait for readiness).
const HELM_TIMEOUT: Duration = Duration::from_secs(120);

fn chart() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../charts/gastown-operator")
}

/// `HELM_SDK_PYTHON`, or `None` (and a loud message) when it is not set.
fn helm_python() -> Option<PathBuf> {
    match std::env::var_os("HELM_SDK_PYTHON") {
        Some(python) if !python.is_empty() => Some(PathBuf::from(python)),
        _ => {
            eprintln!(
                "\n*** SKIPPED: the chart tests need HELM_SDK_PYTHON, the python of a virtualenv \
                 with helm-sdkpy (see tests/helm.rs). `cargo xtask ci` sets it. ***\n"
            );
            None
        }
    }
}

/// Runs `helm_check.py` with `args`; its JSON on success, Helm's message on failure.
async fn helm_check(python: &Path, scratch: &Path, args: &[&str]) -> Result<Value, String> {
    let mut command = tokio::process::Command::new(python);
    command
        .arg(chart().join("ci/helm_check.py"))
        .args(args)
        // Keep Helm's caches and config out of the user's home.
        .env("HELM_CACHE_HOME", scratch.join("helm-cache"))
        .env("HELM_CONFIG_HOME", scratch.join("helm-config"))
        .env("HELM_DATA_HOME", scratch.join("helm-data"))
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let output = tokio::time::timeout(HELM_TIMEOUT, command.output())
        .await
        .unwrap_or_else(|_| panic!("helm {args:?} did not finish within {HELM_TIMEOUT:?}"))
        .unwrap_or_else(|error| panic!("cannot run {}: {error}", python.display()));
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).into_owned());
    }
    Ok(serde_json::from_str(stdout.trim())
        .unwrap_or_else(|error| panic!("helm {args:?} printed no JSON ({error}): {stdout}")))
}

/// A fresh embedded API server, its kubeconfig, and namespaces created up
/// front (Helm creates the release namespace only).
struct Cluster {
    server: EmbeddedApiServer,
    scratch: tempfile::TempDir,
    kubeconfig: PathBuf,
}

impl Cluster {
    async fn start(namespaces: &[&str]) -> Cluster {
        let server = EmbeddedApiServer::start(Config::default())
            .await
            .expect("server starts");
        let scratch = tempfile::tempdir().unwrap();
        let kubeconfig = scratch.path().join("kubeconfig");
        server.write_kubeconfig(&kubeconfig).unwrap();
        let api: Api<Namespace> = Api::all(server.client().unwrap());
        for name in namespaces {
            let namespace =
                serde_json::from_value(json!({ "metadata": { "name": name } })).unwrap();
            api.create(&PostParams::default(), &namespace)
                .await
                .unwrap();
        }
        Cluster {
            server,
            scratch,
            kubeconfig,
        }
    }

    /// `helm install` of the chart with `values`: the rendered release, or Helm's refusal.
    async fn try_render(&self, python: &Path, values: Value) -> Result<Rendered, String> {
        let result = helm_check(
            python,
            self.scratch.path(),
            &[
                "render",
                "--kubeconfig",
                &self.kubeconfig.to_string_lossy(),
                "--namespace",
                RELEASE_NAMESPACE,
                RELEASE,
                &chart().to_string_lossy(),
                "--values",
                &values.to_string(),
            ],
        )
        .await?;
        Ok(Rendered::parse(&result))
    }

    async fn render(&self, python: &Path, values: Value) -> Rendered {
        self.try_render(python, values.clone())
            .await
            .unwrap_or_else(|error| panic!("helm install with {values} failed:\n{error}"))
    }

    async fn shutdown(self) {
        self.server.shutdown().await;
    }
}

/// The objects of a release, as Helm rendered them, and its NOTES.txt.
struct Rendered {
    objects: Vec<Value>,
    notes: String,
}

impl Rendered {
    fn parse(result: &Value) -> Rendered {
        let manifest = result["manifest"].as_str().expect("a manifest");
        let objects = serde_yaml::Deserializer::from_str(manifest)
            .map(|document| serde::Deserialize::deserialize(document).expect("rendered YAML"))
            .filter(|object: &Value| !object.is_null())
            .collect();
        Rendered {
            objects,
            notes: result["notes"].as_str().unwrap_or_default().to_owned(),
        }
    }

    fn of_kind(&self, kind: &str) -> Vec<&Value> {
        self.objects.iter().filter(|o| o["kind"] == kind).collect()
    }

    /// The one object of `kind` named `name` in `namespace` (`None` for cluster-scoped ones).
    fn get(&self, kind: &str, namespace: Option<&str>, name: &str) -> Option<&Value> {
        self.of_kind(kind).into_iter().find(|o| {
            o["metadata"]["name"] == name && o["metadata"]["namespace"].as_str() == namespace
        })
    }

    fn expect(&self, kind: &str, namespace: Option<&str>, name: &str) -> &Value {
        self.get(kind, namespace, name).unwrap_or_else(|| {
            let present: Vec<String> = self
                .objects
                .iter()
                .map(|o| format!("{} {}", o["kind"], o["metadata"]["name"]))
                .collect();
            panic!("no {kind} {namespace:?}/{name} among {present:?}")
        })
    }

    fn deployment(&self) -> &Value {
        self.expect("Deployment", Some(RELEASE_NAMESPACE), FULLNAME)
    }

    fn operator_container(&self) -> &Value {
        let containers = self.deployment()["spec"]["template"]["spec"]["containers"]
            .as_array()
            .expect("containers");
        assert_eq!(containers.len(), 1, "{containers:#?}");
        &containers[0]
    }

    fn args(&self) -> Vec<String> {
        self.operator_container()["args"]
            .as_array()
            .expect("args")
            .iter()
            .map(|arg| arg.as_str().expect("string args").to_owned())
            .collect()
    }
}

/// Whether `rules` grant `verb` on `resource` (`pods`, `gastowns/status`) in `group`.
fn grants(rules: &Value, group: &str, resource: &str, verb: &str) -> bool {
    let has = |list: &Value, wanted: &str| {
        list.as_array()
            .is_some_and(|items| items.iter().any(|item| item == wanted))
    };
    rules.as_array().expect("rules").iter().any(|rule| {
        has(&rule["apiGroups"], group)
            && has(&rule["resources"], resource)
            && has(&rule["verbs"], verb)
    })
}

/// What the operator needs in every namespace it manages (a sample of each kind of rule).
fn assert_namespaced_rules(rules: &Value) {
    for (group, resource, verb) in [
        ("gastown.io", "gastowns", "watch"),
        ("gastown.io", "gastowns/status", "patch"),
        ("gastown.io", "rigs", "create"),
        ("", "pods", "create"),
        ("", "pods", "delete"),
        ("", "pods/log", "get"),
        ("", "secrets", "get"),
        ("apps", "statefulsets", "patch"),
        ("rbac.authorization.k8s.io", "rolebindings", "create"),
        ("events.k8s.io", "events", "create"),
    ] {
        assert!(
            grants(rules, group, resource, verb),
            "{verb} {group}/{resource} missing: {rules:#}"
        );
    }
    // Users own GasTowns: the operator never creates or deletes them, and never writes Secrets.
    assert!(!grants(rules, "gastown.io", "gastowns", "create"));
    assert!(!grants(rules, "gastown.io", "gastowns", "delete"));
    assert!(!grants(rules, "", "secrets", "patch"));
    // Its owner references never block deletion: no finalizers subresource (rbac_minimal.rs).
    assert!(!grants(
        rules,
        "gastown.io",
        "gastowns/finalizers",
        "update"
    ));
}

#[tokio::test]
async fn helm_lint_is_clean() {
    let Some(python) = helm_python() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let result = helm_check(
        &python,
        scratch.path(),
        &["lint", &chart().to_string_lossy()],
    )
    .await
    .unwrap_or_else(|error| panic!("helm lint failed to run:\n{error}"));
    let messages = result["messages"].as_array().expect("messages");
    // INFO is advice (Helm recommends an icon); warnings and errors are findings.
    let findings: Vec<&Value> = messages
        .iter()
        .filter(|m| m["severity"] != "INFO")
        .collect();
    assert!(findings.is_empty(), "helm lint: {findings:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_values_render_a_hardened_single_operator_with_cluster_wide_rbac() {
    let Some(python) = helm_python() else { return };
    let cluster = Cluster::start(&[]).await;
    let release = cluster.render(&python, json!({})).await;

    let deployment = release.deployment();
    assert_eq!(deployment["spec"]["replicas"], 1);
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], FULLNAME);
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(pod["securityContext"]["runAsUser"], 65532);
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );

    let container = release.operator_container();
    assert_eq!(
        container["image"], "ghcr.io/gastown/gastown-operator:0.1.0",
        "appVersion tag"
    );
    let security = &container["securityContext"];
    assert_eq!(security["readOnlyRootFilesystem"], true);
    assert_eq!(security["allowPrivilegeEscalation"], false);
    assert_eq!(security["runAsNonRoot"], true);
    assert_eq!(security["capabilities"]["drop"], json!(["ALL"]));
    assert_eq!(security["seccompProfile"]["type"], "RuntimeDefault");
    assert!(container["resources"]["requests"]["cpu"].is_string());
    assert!(container["resources"]["limits"]["memory"].is_string());
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(container["livenessProbe"]["httpGet"]["port"], "metrics");
    assert_eq!(
        container["ports"][0],
        json!({"name": "metrics", "containerPort": 8080, "protocol": "TCP"})
    );

    let args = release.args();
    assert_eq!(args[0], "run", "{args:?}");
    assert!(
        args.contains(&"--metrics-addr=0.0.0.0:8080".to_owned()),
        "{args:?}"
    );
    assert!(
        args.contains(&"--leader-election=true".to_owned()),
        "on by default: {args:?}"
    );
    assert!(
        args.contains(&format!("--lease-name={FULLNAME}")),
        "{args:?}"
    );
    assert!(
        !args.iter().any(|arg| arg.starts_with("--namespaces")),
        "every namespace: {args:?}"
    );

    // Every namespace: one ClusterRole holds it all; the only Role is the Lease's.
    let cluster_role = release.expect("ClusterRole", None, FULLNAME);
    assert_namespaced_rules(&cluster_role["rules"]);
    assert!(grants(
        &cluster_role["rules"],
        "scheduling.k8s.io",
        "priorityclasses",
        "create"
    ));
    let binding = release.expect("ClusterRoleBinding", None, FULLNAME);
    assert_eq!(
        binding["subjects"],
        json!([{"kind": "ServiceAccount", "name": FULLNAME, "namespace": RELEASE_NAMESPACE}])
    );
    let roles = release.of_kind("Role");
    assert_eq!(roles.len(), 1, "{roles:#?}");
    let lease_role = release.expect(
        "Role",
        Some(RELEASE_NAMESPACE),
        &format!("{FULLNAME}-leader-election"),
    );
    let lease_rules = &lease_role["rules"];
    assert!(grants(
        lease_rules,
        "coordination.k8s.io",
        "leases",
        "create"
    ));
    let named = lease_rules
        .as_array()
        .unwrap()
        .iter()
        .find(|rule| {
            rule["verbs"]
                .as_array()
                .unwrap()
                .iter()
                .any(|v| v == "patch")
        })
        .expect("a rule to renew the Lease");
    assert_eq!(
        named["resourceNames"],
        json!([FULLNAME]),
        "only the operator's own Lease"
    );

    let service = release.expect(
        "Service",
        Some(RELEASE_NAMESPACE),
        &format!("{FULLNAME}-metrics"),
    );
    assert_eq!(service["spec"]["ports"][0]["targetPort"], "metrics");
    assert!(
        release
            .get("ServiceAccount", Some(RELEASE_NAMESPACE), FULLNAME)
            .is_some()
    );
    for absent in ["PodDisruptionBudget", "NetworkPolicy", "ServiceMonitor"] {
        assert!(
            release.of_kind(absent).is_empty(),
            "{absent} is off by default"
        );
    }
    assert!(
        release.notes.contains(&format!(
            "kubectl -n {RELEASE_NAMESPACE} rollout status deployment/{FULLNAME}"
        )),
        "{}",
        release.notes
    );
    assert!(release.notes.contains(
        "kubectl apply --server-side --force-conflicts -f charts/gastown-operator/crds/"
    ));
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_watching_a_namespace_list_get_leader_election_a_pdb_and_roles_per_namespace()
{
    let Some(python) = helm_python() else { return };
    let cluster = Cluster::start(&["team-a", "team-b"]).await;
    let values = json!({
        "replicaCount": 2,
        "watchNamespaces": ["team-b", "team-a"],
        // Forced back on: two replicas must never both run the controllers.
        "leaderElection": { "enabled": false },
    });
    let release = cluster.render(&python, values).await;

    assert_eq!(release.deployment()["spec"]["replicas"], 2);
    let args = release.args();
    assert!(
        args.contains(&"--leader-election=true".to_owned()),
        "{args:?}"
    );
    assert!(
        args.contains(&"--namespaces=team-a,team-b".to_owned()),
        "sorted: {args:?}"
    );

    let budget = release.expect("PodDisruptionBudget", Some(RELEASE_NAMESPACE), FULLNAME);
    assert_eq!(budget["spec"]["maxUnavailable"], 1, "never blocks a drain");
    assert!(budget["spec"]["minAvailable"].is_null());
    assert_eq!(
        budget["spec"]["selector"]["matchLabels"],
        release.deployment()["spec"]["selector"]["matchLabels"]
    );

    // Cluster-wide: PriorityClasses only.
    let cluster_role = release.expect("ClusterRole", None, FULLNAME);
    let cluster_rules = cluster_role["rules"].as_array().unwrap();
    assert_eq!(cluster_rules.len(), 1, "{cluster_rules:#?}");
    assert_eq!(cluster_rules[0]["resources"], json!(["priorityclasses"]));

    for namespace in ["team-a", "team-b"] {
        let role = release.expect("Role", Some(namespace), FULLNAME);
        assert_namespaced_rules(&role["rules"]);
        let binding = release.expect("RoleBinding", Some(namespace), FULLNAME);
        assert_eq!(binding["roleRef"]["kind"], "Role");
        assert_eq!(binding["subjects"][0]["namespace"], RELEASE_NAMESPACE);
    }
    assert!(
        release
            .get("Role", Some(RELEASE_NAMESPACE), FULLNAME)
            .is_none()
    );
    assert!(
        release.notes.contains("team-a, team-b"),
        "{}",
        release.notes
    );

    // The Roles reached the server in their namespaces.
    let roles: Api<Role> = Api::namespaced(cluster.server.client().unwrap(), "team-b");
    assert!(roles.get_opt(FULLNAME).await.unwrap().is_some());
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_replica_without_leader_election_needs_no_lease_and_no_pdb() {
    let Some(python) = helm_python() else { return };
    let cluster = Cluster::start(&[]).await;
    let release = cluster
        .render(&python, json!({ "leaderElection": { "enabled": false } }))
        .await;
    let args = release.args();
    assert!(
        args.contains(&"--leader-election=false".to_owned()),
        "{args:?}"
    );
    assert!(
        !args.iter().any(|arg| arg.starts_with("--lease-name")),
        "{args:?}"
    );
    assert!(release.of_kind("Role").is_empty());
    assert!(release.of_kind("PodDisruptionBudget").is_empty());
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn optional_network_policy_and_service_monitor_select_the_operator() {
    let Some(python) = helm_python() else { return };
    let cluster = Cluster::start(&[]).await;
    // Clusters that run the Prometheus Operator serve this CRD; its schema does not matter here.
    let crds: Api<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition> =
        Api::all(cluster.server.client().unwrap());
    let service_monitors = serde_json::from_value(json!({
        "metadata": { "name": "servicemonitors.monitoring.coreos.com" },
        "spec": {
            "group": "monitoring.coreos.com",
            "names": { "kind": "ServiceMonitor", "plural": "servicemonitors", "singular": "servicemonitor", "listKind": "ServiceMonitorList" },
            "scope": "Namespaced",
            "versions": [{ "name": "v1", "served": true, "storage": true,
                "schema": { "openAPIV3Schema": { "type": "object", "x-kubernetes-preserve-unknown-fields": true } } }]
        }
    }))
    .unwrap();
    crds.create(&PostParams::default(), &service_monitors)
        .await
        .unwrap();

    let values = json!({
        "networkPolicy": { "enabled": true, "metricsFrom": [{ "namespaceSelector": { "matchLabels": { "name": "monitoring" } } }] },
        "metrics": { "serviceMonitor": { "enabled": true, "labels": { "release": "prometheus" } } },
    });
    let release = cluster.render(&python, values).await;
    let selector = &release.deployment()["spec"]["selector"]["matchLabels"];

    let policy = release.expect("NetworkPolicy", Some(RELEASE_NAMESPACE), FULLNAME);
    assert_eq!(&policy["spec"]["podSelector"]["matchLabels"], selector);
    assert_eq!(policy["spec"]["policyTypes"], json!(["Ingress", "Egress"]));
    let ingress = policy["spec"]["ingress"].as_array().unwrap();
    assert_eq!(ingress.len(), 1);
    assert_eq!(
        ingress[0]["ports"],
        json!([{"port": "metrics", "protocol": "TCP"}])
    );
    assert_eq!(
        ingress[0]["from"][0]["namespaceSelector"]["matchLabels"]["name"],
        "monitoring"
    );
    let egress = policy["spec"]["egress"].as_array().unwrap();
    assert!(
        egress.iter().any(
            |rule| rule["to"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/component"]
                == "bd-daemon"
        ),
        "the towns' bd daemons are reachable: {egress:#?}"
    );

    let monitor = release.expect("ServiceMonitor", Some(RELEASE_NAMESPACE), FULLNAME);
    assert_eq!(monitor["metadata"]["labels"]["release"], "prometheus");
    assert_eq!(&monitor["spec"]["selector"]["matchLabels"], selector);
    assert_eq!(monitor["spec"]["endpoints"][0]["port"], "metrics");
    assert_eq!(monitor["spec"]["endpoints"][0]["path"], "/metrics");
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_optional_prometheus_rule_alerts_on_an_old_backup() {
    let Some(python) = helm_python() else { return };
    let cluster = Cluster::start(&[]).await;
    let crds: Api<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition> =
        Api::all(cluster.server.client().unwrap());
    let rules = serde_json::from_value(json!({
        "metadata": { "name": "prometheusrules.monitoring.coreos.com" },
        "spec": {
            "group": "monitoring.coreos.com",
            "names": { "kind": "PrometheusRule", "plural": "prometheusrules", "singular": "prometheusrule", "listKind": "PrometheusRuleList" },
            "scope": "Namespaced",
            "versions": [{ "name": "v1", "served": true, "storage": true,
                "schema": { "openAPIV3Schema": { "type": "object", "x-kubernetes-preserve-unknown-fields": true } } }]
        }
    }))
    .unwrap();
    crds.create(&PostParams::default(), &rules).await.unwrap();

    let values = json!({ "metrics": { "prometheusRule": { "enabled": true, "labels": { "release": "prometheus" } } } });
    let release = cluster.render(&python, values).await;
    let rule = release.expect("PrometheusRule", Some(RELEASE_NAMESPACE), FULLNAME);
    assert_eq!(rule["metadata"]["labels"]["release"], "prometheus");
    let alert = &rule["spec"]["groups"][0]["rules"][0];
    assert_eq!(alert["alert"], "GasTownBackupTooOld");
    let expr = alert["expr"].as_str().unwrap();
    assert!(
        expr.contains("gastown_backup_last_success_timestamp_seconds")
            && expr.contains("26 * 3600"),
        "{expr}"
    );
    assert!(
        alert["annotations"]["summary"]
            .as_str()
            .unwrap()
            .contains("{{ $labels.town }}")
    );
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_values_schema_refuses_unknown_keys_and_impossible_values() {
    let Some(python) = helm_python() else { return };
    let cluster = Cluster::start(&[]).await;
    for (values, mentions) in [
        (json!({ "replicas": 2 }), "replicas"),
        (json!({ "replicaCount": 0 }), "replicaCount"),
        (
            json!({ "watchNamespaces": ["Not_A_Namespace"] }),
            "watchNamespaces",
        ),
        (json!({ "logFormat": "yaml" }), "logFormat"),
        (
            json!({ "image": { "repository": "x", "tagg": "1" } }),
            "tagg",
        ),
    ] {
        let refusal = match cluster.try_render(&python, values.clone()).await {
            Ok(_) => panic!("helm installed the chart with {values}"),
            Err(error) => error,
        };
        assert!(refusal.contains("schema"), "{values}: {refusal}");
        assert!(refusal.contains(mentions), "{values}: {refusal}");
    }
    cluster.shutdown().await;
}
