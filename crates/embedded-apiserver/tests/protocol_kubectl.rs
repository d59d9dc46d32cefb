//! What the real `kubectl` sends itself: `create <kind>` (protobuf bodies of
//! built-in kinds), `scale` (the scale subresource), `create token`
//! (TokenRequest), `certificate approve` (a CSR's approval subresource),
//! `api-resources` (aggregated discovery) and the read-only
//! componentstatuses and apiservices.

mod support;

use base64::Engine as _;
use support::kubectl::Kubectl;
use support::with_server;

/// A certificate request's PEM, base64-encoded as `spec.request` wants it.
/// The server does not parse it (no signer runs here).
fn csr_manifest(name: &str) -> String {
    let pem = "-----BEGIN CERTIFICATE REQUEST-----\nMIIBAA==\n-----END CERTIFICATE REQUEST-----\n";
    let request = base64::engine::general_purpose::STANDARD.encode(pem);
    format!(
        "apiVersion: certificates.k8s.io/v1\nkind: CertificateSigningRequest\nmetadata:\n  name: {name}\nspec:\n  request: {request}\n  signerName: kubernetes.io/kube-apiserver-client\n  usages: [client auth]\n"
    )
}

#[tokio::test]
async fn kubectl_creates_built_in_kinds_it_sends_as_protobuf() {
    with_server(|server| async move {
        let Some(kubectl) = Kubectl::for_server(&server) else {
            return server;
        };
        kubectl.ok(&["create", "deployment", "web", "--image=nginx", "--replicas=2"]).await;
        let image = kubectl
            .ok(&["get", "deployment", "web", "-o", "jsonpath={.spec.template.spec.containers[0].image} {.spec.replicas} {.spec.selector.matchLabels.app}"])
            .await;
        assert_eq!(image, "nginx 2 web");
        for args in [
            &["create", "service", "clusterip", "web", "--tcp=80:8080"][..],
            &["create", "serviceaccount", "bot"],
            &["create", "secret", "generic", "creds", "--from-literal=user=admin"],
            &["create", "configmap", "settings", "--from-literal=mode=fast"],
            &["create", "role", "reader", "--verb=get,list", "--resource=pods"],
            &["create", "rolebinding", "bot-reads", "--role=reader", "--serviceaccount=default:bot"],
            &["create", "clusterrole", "gazer", "--verb=get", "--resource=pods"],
            &["create", "poddisruptionbudget", "web", "--selector=app=web", "--min-available=1"],
            &["create", "priorityclass", "high", "--value=1000"],
            &["create", "quota", "small", "--hard=pods=10"],
            &["create", "namespace", "extra"],
        ] {
            kubectl.ok(args).await;
        }
        let port = kubectl
            .ok(&["get", "service", "web", "-o", "jsonpath={.spec.ports[0].port}:{.spec.ports[0].targetPort}"])
            .await;
        assert_eq!(port, "80:8080");
        let subject = kubectl
            .ok(&["get", "rolebinding", "bot-reads", "-o", "jsonpath={.subjects[0].kind}/{.subjects[0].name}"])
            .await;
        assert_eq!(subject, "ServiceAccount/bot");
        let min = kubectl
            .ok(&["get", "pdb", "web", "-o", "jsonpath={.spec.minAvailable}"])
            .await;
        assert_eq!(min, "1");
        server
    })
    .await;
}

#[tokio::test]
async fn kubectl_scales_a_deployment_through_its_scale_subresource() {
    with_server(|server| async move {
        let Some(kubectl) = Kubectl::for_server(&server) else {
            return server;
        };
        kubectl
            .ok(&["create", "deployment", "web", "--image=nginx"])
            .await;
        kubectl
            .ok(&["scale", "deployment", "web", "--replicas=4"])
            .await;
        let replicas = kubectl
            .ok(&[
                "get",
                "deployment",
                "web",
                "-o",
                "jsonpath={.spec.replicas}",
            ])
            .await;
        assert_eq!(replicas, "4");
        server
    })
    .await;
}

#[tokio::test]
async fn kubectl_create_token_and_certificate_approve() {
    with_server(|server| async move {
        let Some(kubectl) = Kubectl::for_server(&server) else {
            return server;
        };
        kubectl.ok(&["create", "serviceaccount", "bot"]).await;
        let token = kubectl
            .ok(&["create", "token", "bot", "--duration=15m"])
            .await;
        let claims = token.trim().split('.').nth(1).expect("a JWT");
        let claims: serde_json::Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(claims)
                .unwrap(),
        )
        .unwrap();
        assert_eq!(claims["sub"], "system:serviceaccount:default:bot");
        assert_eq!(
            claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
            900
        );
        let short = kubectl
            .run(&["create", "token", "bot", "--duration=5m"], None)
            .await;
        assert!(!short.success);
        assert!(
            short
                .stderr
                .contains("may not specify a duration less than 10 minutes"),
            "{short:#?}"
        );

        let applied = kubectl
            .run(&["apply", "-f", "-"], Some(&csr_manifest("alice")))
            .await;
        assert!(applied.success, "{applied:#?}");
        kubectl.ok(&["certificate", "approve", "alice"]).await;
        let condition = kubectl
            .ok(&[
                "get",
                "csr",
                "alice",
                "-o",
                "jsonpath={.status.conditions[0].type}={.status.conditions[0].status}",
            ])
            .await;
        assert_eq!(condition, "Approved=True");
        server
    })
    .await;
}

#[tokio::test]
async fn kubectl_lists_api_resources_component_statuses_and_api_services() {
    with_server(|server| async move {
        let Some(kubectl) = Kubectl::for_server(&server) else {
            return server;
        };
        let resources = kubectl.ok(&["api-resources", "-o", "name"]).await;
        for name in [
            "deployments.apps",
            "certificatesigningrequests.certificates.k8s.io",
            "tokenreviews.authentication.k8s.io",
            "endpoints",
        ] {
            assert!(
                resources.lines().any(|l| l == name),
                "{name} missing from:\n{resources}"
            );
        }
        let statuses = kubectl.ok(&["get", "componentstatuses"]).await;
        assert!(
            statuses
                .lines()
                .any(|l| l.starts_with("etcd-0") && l.contains("Healthy")),
            "{statuses}"
        );
        let refused = kubectl
            .run(&["delete", "componentstatus", "etcd-0"], None)
            .await;
        assert!(!refused.success, "{refused:#?}");
        let services = kubectl
            .ok(&[
                "get",
                "apiservices",
                "v1.apps",
                "-o",
                "jsonpath={.spec.group} {.status.conditions[0].type}",
            ])
            .await;
        assert_eq!(services, "apps Available");
        let table = kubectl.ok(&["get", "apiservices", "v1.apps"]).await;
        assert!(
            table.lines().any(|l| l
                .split_whitespace()
                .take(3)
                .eq(["v1.apps", "Local", "True"])),
            "{table}"
        );
        server
    })
    .await;
}
