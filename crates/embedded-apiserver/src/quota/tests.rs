use super::*;
use serde_json::json;

fn now() -> Timestamp {
    "2026-01-01T12:00:00Z".parse().unwrap()
}

/// A pod with one container `main` requesting `requests` (e.g. `{"cpu": "500m"}`).
fn pod(name: &str, requests: Value) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": { "name": name, "namespace": "town" },
        "spec": { "containers": [{ "name": "main", "image": "agent", "resources": { "requests": requests } }] }
    })
}

fn with(mut object: Value, pointer: &str, value: Value) -> Value {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    let mut target = &mut object;
    for part in parent.split('/').skip(1) {
        target = match target {
            Value::Array(items) => &mut items[part.parse::<usize>().unwrap()],
            other => other
                .as_object_mut()
                .unwrap()
                .entry(part)
                .or_insert_with(|| json!({})),
        };
    }
    target[key] = value;
    object
}

fn quota(name: &str, hard: Value) -> Value {
    json!({
        "apiVersion": "v1", "kind": "ResourceQuota",
        "metadata": { "name": name, "namespace": "town" },
        "spec": { "hard": hard }
    })
}

fn priority_scoped(q: Value, operator: &str, values: &[&str]) -> Value {
    let mut expression = json!({ "scopeName": "PriorityClass", "operator": operator });
    if !values.is_empty() {
        expression["values"] = json!(values);
    }
    with(
        q,
        "/spec/scopeSelector",
        json!({ "matchExpressions": [expression] }),
    )
}

fn refusal(pod: &Value, quotas: &[Value], existing: &[Value]) -> String {
    admit_pod_at(pod, quotas, existing, now())
        .expect_err("pod should be refused")
        .to_string()
}

fn admitted(pod: &Value, quotas: &[Value], existing: &[Value]) -> bool {
    admit_pod_at(pod, quotas, existing, now()).is_ok()
}

fn cpu(amount: &str) -> Value {
    json!({ "cpu": amount, "memory": "64Mi" })
}

#[test]
fn refuses_with_the_real_servers_message() {
    let quotas = [quota(
        "compute",
        json!({ "pods": "5", "requests.cpu": "2500m" }),
    )];
    let existing: Vec<Value> = (0..5).map(|i| pod(&format!("p{i}"), cpu("500m"))).collect();
    assert_eq!(
        refusal(&pod("p5", cpu("500m")), &quotas, &existing),
        "exceeded quota: compute, requested: pods=1,requests.cpu=500m, used: pods=5,requests.cpu=2500m, \
         limited: pods=5,requests.cpu=2500m"
    );
}

#[test]
fn lists_only_the_exceeded_resources_in_canonical_form() {
    let quotas = [quota(
        "mem",
        json!({ "pods": "10", "requests.memory": "1024Mi", "requests.cpu": "4" }),
    )];
    let existing = [pod("a", json!({ "cpu": "1", "memory": "0.5Gi" }))];
    assert_eq!(
        refusal(
            &pod("b", json!({ "cpu": "1", "memory": "768Mi" })),
            &quotas,
            &existing
        ),
        "exceeded quota: mem, requested: requests.memory=768Mi, used: requests.memory=512Mi, limited: requests.memory=1Gi"
    );
}

#[test]
fn admits_up_to_the_limit_exactly() {
    let quotas = [quota(
        "compute",
        json!({ "pods": "2", "requests.cpu": "1", "requests.memory": "1Gi" }),
    )];
    let existing = [pod("a", json!({ "cpu": "0.5", "memory": "512Mi" }))];
    assert!(admitted(
        &pod("b", json!({ "cpu": "500m", "memory": "536870912" })),
        &quotas,
        &existing
    ));
    assert!(!admitted(
        &pod("b", json!({ "cpu": "501m", "memory": "512Mi" })),
        &quotas,
        &existing
    ));
}

#[test]
fn cpu_and_memory_aliases_count_requests() {
    let quotas = [quota("alias", json!({ "cpu": "1", "memory": "1Gi" }))];
    let existing = [pod("a", json!({ "cpu": "800m", "memory": "100Mi" }))];
    assert_eq!(
        refusal(
            &pod("b", json!({ "cpu": "300m", "memory": "100Mi" })),
            &quotas,
            &existing
        ),
        "exceeded quota: alias, requested: cpu=300m, used: cpu=800m, limited: cpu=1"
    );
}

#[test]
fn limits_are_charged_to_limit_quotas() {
    let quotas = [quota(
        "limits",
        json!({ "limits.cpu": "2", "limits.memory": "1Gi" }),
    )];
    let limited = |name: &str, cpu: &str| {
        with(
            pod(name, json!({ "cpu": "100m", "memory": "64Mi" })),
            "/spec/containers/0/resources/limits",
            json!({ "cpu": cpu, "memory": "128Mi" }),
        )
    };
    assert!(admitted(&limited("b", "1"), &quotas, &[limited("a", "1")]));
    assert_eq!(
        refusal(&limited("b", "1500m"), &quotas, &[limited("a", "1")]),
        "exceeded quota: limits, requested: limits.cpu=1500m, used: limits.cpu=1, limited: limits.cpu=2"
    );
}

#[test]
fn count_pods_counts_finished_pods_but_pods_does_not() {
    let finished =
        |name: &str, phase: &str| with(pod(name, cpu("1")), "/status/phase", json!(phase));
    let existing = [
        finished("done", "Succeeded"),
        finished("crashed", "Failed"),
        pod("live", cpu("1")),
    ];
    let pods_quota = [quota("pods", json!({ "pods": "2", "requests.cpu": "2" }))];
    assert!(admitted(&pod("new", cpu("1")), &pods_quota, &existing));
    let count_quota = [quota("count", json!({ "count/pods": "3" }))];
    assert_eq!(
        refusal(&pod("new", cpu("1")), &count_quota, &existing),
        "exceeded quota: count, requested: count/pods=1, used: count/pods=3, limited: count/pods=3"
    );
}

#[test]
fn pods_stuck_past_their_deletion_grace_period_do_not_count() {
    let deleting = |seconds_ago: i64| {
        let deleted = now()
            .checked_sub(SignedDuration::from_secs(seconds_ago))
            .unwrap();
        let p = with(
            pod("old", cpu("1")),
            "/metadata/deletionTimestamp",
            json!(deleted.to_string()),
        );
        with(p, "/metadata/deletionGracePeriodSeconds", json!(30))
    };
    let quotas = [quota("pods", json!({ "pods": "1" }))];
    assert!(admitted(&pod("new", cpu("1")), &quotas, &[deleting(60)]));
    assert!(!admitted(&pod("new", cpu("1")), &quotas, &[deleting(10)]));
}

#[test]
fn priority_class_scope_caps_only_its_class() {
    let polecat = |name: &str| {
        with(
            pod(name, cpu("1")),
            "/spec/priorityClassName",
            json!("gastown-town-rig-polecat"),
        )
    };
    let quotas = [priority_scoped(
        quota("polecats", json!({ "pods": "2" })),
        "In",
        &["gastown-town-rig-polecat"],
    )];
    let existing = [polecat("a"), polecat("b"), pod("witness", cpu("1"))];
    assert_eq!(
        refusal(&polecat("c"), &quotas, &existing),
        "exceeded quota: polecats, requested: pods=1, used: pods=2, limited: pods=2"
    );
    assert!(
        admitted(&pod("crew", cpu("1")), &quotas, &existing),
        "a pod of no class is outside the scope"
    );
    let other = with(
        pod("d", cpu("1")),
        "/spec/priorityClassName",
        json!("other"),
    );
    assert!(
        admitted(&other, &quotas, &existing),
        "a pod of another class is outside the scope"
    );
}

#[test]
fn priority_class_operators_follow_label_selector_semantics() {
    let classed = |class: Option<&str>| match class {
        Some(class) => with(pod("p", cpu("1")), "/spec/priorityClassName", json!(class)),
        None => pod("p", cpu("1")),
    };
    let cases: [(&str, &[&str], Option<&str>, bool); 10] = [
        ("In", &["high"], Some("high"), true),
        ("In", &["high"], Some("low"), false),
        ("In", &["high"], None, false),
        ("NotIn", &["high"], Some("low"), true),
        ("NotIn", &["high"], Some("high"), false),
        ("NotIn", &["high"], None, true),
        ("Exists", &[], Some("low"), true),
        ("Exists", &[], None, false),
        ("DoesNotExist", &[], None, true),
        ("DoesNotExist", &[], Some("low"), false),
    ];
    for (operator, values, class, covered) in cases {
        // A quota of zero pods refuses exactly the pods it covers.
        let quotas = [priority_scoped(
            quota("q", json!({ "pods": "0" })),
            operator,
            values,
        )];
        assert_eq!(
            !admitted(&classed(class), &quotas, &[]),
            covered,
            "{operator} {values:?} for class {class:?}"
        );
    }
}

#[test]
fn quality_of_service_and_deadline_scopes() {
    let best_effort = json!({
        "metadata": { "name": "be" },
        "spec": { "containers": [{ "name": "main", "image": "agent" }] }
    });
    let burstable = pod("burstable", cpu("1"));
    let terminating = with(
        pod("job", cpu("1")),
        "/spec/activeDeadlineSeconds",
        json!(600),
    );
    let scoped = |scope: &str| {
        [with(
            quota("q", json!({ "pods": "0" })),
            "/spec/scopes",
            json!([scope]),
        )]
    };
    let covers = |scope: &str, p: &Value| !admitted(p, &scoped(scope), &[]);
    assert!(covers("BestEffort", &best_effort));
    assert!(!covers("BestEffort", &burstable));
    assert!(covers("NotBestEffort", &burstable));
    assert!(!covers("NotBestEffort", &best_effort));
    assert!(covers("Terminating", &terminating));
    assert!(!covers("Terminating", &burstable));
    assert!(covers("NotTerminating", &burstable));
    assert!(!covers("NotTerminating", &terminating));
}

#[test]
fn refuses_containers_that_do_not_say_what_they_need() {
    let quotas = [quota(
        "compute",
        json!({ "requests.cpu": "4", "requests.memory": "4Gi", "pods": "10" }),
    )];
    let p = json!({
        "metadata": { "name": "p" },
        "spec": {
            "initContainers": [{ "name": "clone", "image": "git", "resources": { "requests": { "memory": "64Mi" } } }],
            "containers": [
                { "name": "main", "image": "agent" },
                { "name": "sidecar", "image": "agent", "resources": { "requests": { "cpu": "100m" } } }
            ]
        }
    });
    assert_eq!(
        refusal(&p, &quotas, &[]),
        "failed quota: compute: must specify requests.cpu for: clone,main; requests.memory for: main,sidecar"
    );
}

#[test]
fn a_limit_stands_in_for_a_missing_request() {
    let quotas = [quota("compute", json!({ "requests.cpu": "1" }))];
    let p = json!({
        "metadata": { "name": "p" },
        "spec": { "containers": [{ "name": "main", "image": "agent", "resources": { "limits": { "cpu": "2" } } }] }
    });
    assert_eq!(
        refusal(&p, &quotas, &[]),
        "exceeded quota: compute, requested: requests.cpu=2, used: requests.cpu=0, limited: requests.cpu=1"
    );
}

#[test]
fn quotas_on_other_resources_do_not_ask_for_requests() {
    let quotas = [quota(
        "objects",
        json!({ "services": "1", "count/configmaps": "3" }),
    )];
    let bare =
        json!({ "metadata": { "name": "p" }, "spec": { "containers": [{ "name": "main" }] } });
    assert!(admitted(&bare, &quotas, &[]));
}

#[test]
fn init_containers_and_sidecars_follow_upstreams_pod_requests() {
    let container = |name: &str, cpu: &str| json!({ "name": name, "image": "x", "resources": { "requests": { "cpu": cpu } } });
    let sidecar = |name: &str, cpu: &str| {
        let mut c = container(name, cpu);
        c["restartPolicy"] = json!("Always");
        c
    };
    let pod_with = |init: Vec<Value>, containers: Vec<Value>| json!({ "metadata": { "name": "p" }, "spec": { "initContainers": init, "containers": containers } });
    let requested = |p: &Value| match admit_pod_at(
        p,
        &[quota("probe", json!({ "requests.cpu": "0" }))],
        &[],
        now(),
    ) {
        Err(QuotaExceeded::Exceeded { requested, .. }) => requested["requests.cpu"].to_string(),
        other => panic!("expected a refusal, got {other:?}"),
    };
    // An ordinary init container runs alone: the larger phase wins.
    assert_eq!(
        requested(&pod_with(
            vec![container("init", "3")],
            vec![container("a", "1"), container("b", "1")]
        )),
        "3"
    );
    assert_eq!(
        requested(&pod_with(
            vec![container("init", "1")],
            vec![container("a", "1"), container("b", "1")]
        )),
        "2"
    );
    // A sidecar runs beside later init containers and beside the main containers.
    assert_eq!(
        requested(&pod_with(
            vec![sidecar("proxy", "500m"), container("init", "3")],
            vec![container("a", "1")]
        )),
        "3500m"
    );
    assert_eq!(
        requested(&pod_with(
            vec![sidecar("proxy", "500m")],
            vec![container("a", "1")]
        )),
        "1500m"
    );
}

#[test]
fn pod_overhead_is_charged() {
    let quotas = [quota("cpu", json!({ "requests.cpu": "1" }))];
    let p = with(
        pod("p", cpu("900m")),
        "/spec/overhead",
        json!({ "cpu": "250m" }),
    );
    assert_eq!(
        refusal(&p, &quotas, &[]),
        "exceeded quota: cpu, requested: requests.cpu=1150m, used: requests.cpu=0, limited: requests.cpu=1"
    );
}

#[test]
fn the_first_exceeded_quota_by_name_is_reported() {
    let quotas = [
        quota("zeta", json!({ "pods": "0" })),
        quota("alpha", json!({ "pods": "0" })),
    ];
    assert!(refusal(&pod("p", cpu("1")), &quotas, &[]).starts_with("exceeded quota: alpha,"));
}

#[test]
fn every_covering_quota_must_fit() {
    let quotas = [
        quota("roomy", json!({ "pods": "100" })),
        quota("tight", json!({ "requests.cpu": "1" })),
    ];
    let existing = [pod("a", cpu("1"))];
    assert!(refusal(&pod("b", cpu("1")), &quotas, &existing).starts_with("exceeded quota: tight,"));
    assert!(admitted(&pod("b", cpu("1")), &quotas[..1], &existing));
}

#[test]
fn status_reports_hard_and_used_in_canonical_form() {
    let q = priority_scoped(
        quota(
            "polecats",
            json!({ "pods": "4", "requests.cpu": "2.5", "requests.memory": "2048Mi", "services": "3" }),
        ),
        "In",
        &["polecat"],
    );
    let q = with(
        q,
        "/status",
        json!({ "used": { "services": "2", "pods": "99" } }),
    );
    let polecat = |name: &str, cpu: &str| {
        with(
            pod(name, json!({ "cpu": cpu, "memory": "512Mi" })),
            "/spec/priorityClassName",
            json!("polecat"),
        )
    };
    let finished = with(polecat("done", "1"), "/status/phase", json!("Succeeded"));
    let pods = [
        polecat("a", "500m"),
        polecat("b", "1"),
        finished,
        pod("crew", cpu("3")),
    ];
    assert_eq!(
        status_at(&q, &pods, now()),
        json!({
            "hard": { "pods": "4", "requests.cpu": "2500m", "requests.memory": "2Gi", "services": "3" },
            "used": { "pods": "2", "requests.cpu": "1500m", "requests.memory": "1Gi", "services": "2" }
        })
    );
}

#[test]
fn status_of_an_unused_quota_is_zero() {
    let q = quota("q", json!({ "pods": "4", "requests.memory": "1Gi" }));
    assert_eq!(
        status(&q, &[]),
        json!({ "hard": { "pods": "4", "requests.memory": "1Gi" }, "used": { "pods": "0", "requests.memory": "0" } })
    );
    assert_eq!(status(&quota("empty", json!({})), &[]), json!({}));
}

#[test]
fn qos_classes() {
    let guaranteed = with(
        pod("g", json!({ "cpu": "1", "memory": "1Gi" })),
        "/spec/containers/0/resources/limits",
        json!({ "cpu": "1000m", "memory": "1Gi" }),
    );
    let limits_only = json!({
        "metadata": { "name": "l" },
        "spec": { "containers": [{ "name": "main", "resources": { "limits": { "cpu": "1", "memory": "1Gi" } } }] }
    });
    let best_effort =
        json!({ "metadata": { "name": "b" }, "spec": { "containers": [{ "name": "main" }] } });
    let zero_requests = pod("z", json!({ "cpu": "0" }));
    assert_eq!(qos_class(&guaranteed), Some("Guaranteed"));
    assert_eq!(qos_class(&limits_only), Some("Guaranteed"));
    assert_eq!(qos_class(&pod("b", cpu("1"))), Some("Burstable"));
    assert_eq!(qos_class(&best_effort), Some("BestEffort"));
    assert_eq!(qos_class(&zero_requests), Some("BestEffort"));
    assert_eq!(qos_class(&json!("not a pod")), None);
}

#[test]
fn a_pods_charge_ignores_what_quota_does_not_count() {
    let pending = pod("p", cpu("1"));
    let running = with(pending.clone(), "/status/phase", json!("Running"));
    let finished = with(pending.clone(), "/status/phase", json!("Succeeded"));
    assert_eq!(PodCharge::decode(&pending), PodCharge::decode(&running));
    assert_ne!(PodCharge::decode(&pending), PodCharge::decode(&finished));
    assert_eq!(PodCharge::decode(&json!("not a pod")), None);
}

#[test]
fn a_rule_covers_only_the_pods_its_scopes_select() {
    let scoped = priority_scoped(quota("q", json!({ "pods": "1" })), "In", &["polecat"]);
    let rule = QuotaRule::decode(&scoped).unwrap();
    let polecat = with(
        pod("a", cpu("1")),
        "/spec/priorityClassName",
        json!("polecat"),
    );
    assert!(rule.covers(&PodCharge::decode(&polecat).unwrap()));
    assert!(!rule.covers(&PodCharge::decode(&pod("crew", cpu("1"))).unwrap()));
}

#[test]
fn only_a_quota_that_covers_a_pod_and_limits_pod_resources_limits_it() {
    let scoped = priority_scoped(
        quota("polecats", json!({ "pods": "2" })),
        "In",
        &["polecat"],
    );
    let services_only = quota("objects", json!({ "services": "3" }));
    let rules: Vec<QuotaRule> = [&scoped, &services_only]
        .into_iter()
        .filter_map(QuotaRule::decode)
        .collect();
    let plain = pod("crew", cpu("100m"));
    let polecat = with(
        pod("polecat", cpu("100m")),
        "/spec/priorityClassName",
        json!("polecat"),
    );
    assert!(!limits_any(&plain, &rules), "not in the quota's scope");
    assert!(limits_any(&polecat, &rules));
    // What admission decides agrees: a pod no quota limits is admitted
    // whatever the namespace holds.
    assert!(admitted(
        &plain,
        &[scoped.clone(), services_only],
        &[polecat.clone(), polecat]
    ));
}
