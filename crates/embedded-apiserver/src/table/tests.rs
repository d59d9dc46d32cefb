use super::*;

fn now() -> Timestamp {
    "2026-03-01T12:00:00Z".parse().unwrap()
}

fn resource(
    group: &str,
    kind: &str,
    custom: bool,
    printer_columns: Vec<PrinterColumn>,
) -> ResourceInfo {
    ResourceInfo {
        group: group.into(),
        version: "v1".into(),
        kind: kind.into(),
        list_kind: format!("{kind}List"),
        plural: format!("{}s", kind.to_lowercase()),
        singular: kind.to_lowercase(),
        namespaced: true,
        short_names: vec![],
        categories: vec![],
        verbs: vec![],
        status_subresource: true,
        printer_columns,
        schema: None,
        custom,
    }
}

fn column(name: &str, type_: &str, json_path: &str, priority: i32) -> PrinterColumn {
    PrinterColumn {
        name: name.into(),
        type_: type_.into(),
        format: None,
        description: None,
        priority,
        json_path: json_path.into(),
    }
}

fn widgets() -> ResourceInfo {
    resource(
        "example.gastown.io",
        "Widget",
        true,
        vec![
            column("Phase", "string", ".status.phase", 0),
            column("Replicas", "integer", ".spec.replicas", 0),
            column(
                "Ready",
                "string",
                ".status.conditions[?(@.type==\"Ready\")].status",
                0,
            ),
            column("Paused", "boolean", ".spec.paused", 1),
            column("Age", "date", ".metadata.creationTimestamp", 0),
        ],
    )
}

fn widget(name: &str, spec: Value, status: Value) -> Value {
    json!({
        "apiVersion": "example.gastown.io/v1",
        "kind": "Widget",
        "metadata": { "name": name, "namespace": "town", "creationTimestamp": "2026-03-01T11:55:00Z", "labels": { "a": "b" } },
        "spec": spec,
        "status": status,
    })
}

fn cells(table: &Value, row: usize) -> Vec<Value> {
    table["rows"][row]["cells"]
        .as_array()
        .expect("cells")
        .clone()
}

fn column_names(table: &Value) -> Vec<String> {
    table["columnDefinitions"]
        .as_array()
        .expect("columns")
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn custom_columns_follow_the_crd() {
    let objects = [
        widget(
            "w1",
            json!({ "replicas": 3, "paused": true }),
            json!({ "phase": "Running", "conditions": [{ "type": "Ready", "status": "True" }] }),
        ),
        widget("w2", json!({}), json!({})),
    ];
    let table = render_at(
        &widgets(),
        &objects,
        json!({ "resourceVersion": "42" }),
        IncludeObject::Metadata,
        now(),
    );
    assert_eq!(table["kind"], "Table");
    assert_eq!(table["apiVersion"], "meta.k8s.io/v1");
    assert_eq!(table["metadata"], json!({ "resourceVersion": "42" }));
    assert_eq!(
        column_names(&table),
        ["Name", "Phase", "Replicas", "Ready", "Paused", "Age"]
    );
    assert_eq!(table["columnDefinitions"][0]["format"], "name");
    assert_eq!(table["columnDefinitions"][4]["priority"], 1);
    assert_eq!(
        table["columnDefinitions"][1]["description"],
        "Custom resource definition column (in JSONPath format): .status.phase"
    );
    assert_eq!(
        cells(&table, 0),
        [
            json!("w1"),
            json!("Running"),
            json!(3),
            json!("True"),
            json!(true),
            json!("5m")
        ]
    );
    assert_eq!(
        cells(&table, 1),
        [
            json!("w2"),
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null,
            json!("5m")
        ]
    );
}

#[test]
fn custom_cells_convert_to_the_column_type() {
    assert_eq!(cell("string", &json!(3), now()), json!("3"));
    assert_eq!(
        cell("string", &json!({ "a": 1 }), now()),
        json!("{\"a\":1}")
    );
    assert_eq!(cell("integer", &json!(2.7), now()), json!(2));
    assert_eq!(cell("number", &json!(2), now()), json!(2.0));
    assert_eq!(cell("integer", &json!("2"), now()), Value::Null);
    assert_eq!(cell("boolean", &json!("yes"), now()), Value::Null);
    assert_eq!(
        cell("date", &json!("not a time"), now()),
        json!("<invalid>")
    );
    assert_eq!(
        cell("date", &json!("2026-02-27T12:00:00Z"), now()),
        json!("2d")
    );
}

#[test]
fn custom_resource_without_columns_shows_name_and_age() {
    let table = render_at(
        &resource("example.gastown.io", "Gadget", true, vec![]),
        &[widget("g", json!({}), json!({}))],
        json!({}),
        IncludeObject::None,
        now(),
    );
    assert_eq!(column_names(&table), ["Name", "Age"]);
    assert_eq!(table["columnDefinitions"][1]["type"], "date");
    assert_eq!(cells(&table, 0), [json!("g"), json!("5m")]);
}

#[test]
fn include_object_decides_what_each_row_carries() {
    let object = widget("w1", json!({}), json!({}));
    let render = |include| {
        render_at(
            &widgets(),
            std::slice::from_ref(&object),
            json!({}),
            include,
            now(),
        )
    };
    let metadata = &render(IncludeObject::Metadata)["rows"][0]["object"];
    assert_eq!(metadata["kind"], "PartialObjectMetadata");
    assert_eq!(metadata["apiVersion"], "meta.k8s.io/v1");
    assert_eq!(metadata["metadata"], object["metadata"]);
    assert_eq!(render(IncludeObject::Object)["rows"][0]["object"], object);
    assert!(
        render(IncludeObject::None)["rows"][0]
            .get("object")
            .is_none()
    );
    assert_eq!(
        IncludeObject::from_query("Object"),
        Some(IncludeObject::Object)
    );
    assert_eq!(IncludeObject::from_query("object"), None);
}

fn pod(spec: Value, status: Value) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": { "name": "gt-rig-polecat-a", "namespace": "town", "creationTimestamp": "2026-03-01T10:00:00Z" },
        "spec": spec,
        "status": status,
    })
}

fn render_pod(pod: Value) -> Value {
    render_at(
        &resource("", "Pod", false, vec![]),
        &[pod],
        json!({}),
        IncludeObject::Metadata,
        now(),
    )
}

#[test]
fn running_pod_is_ready_running_without_restarts() {
    let table = render_pod(pod(
        json!({ "containers": [{ "name": "agent", "image": "gt" }], "nodeName": "node-1" }),
        json!({
            "phase": "Running",
            "podIP": "10.0.0.7",
            "containerStatuses": [{ "name": "agent", "image": "gt", "imageID": "", "ready": true, "restartCount": 0, "state": { "running": { "startedAt": "2026-03-01T10:00:05Z" } } }],
        }),
    ));
    assert_eq!(
        column_names(&table),
        [
            "Name",
            "Ready",
            "Status",
            "Restarts",
            "Age",
            "IP",
            "Node",
            "Nominated Node",
            "Readiness Gates"
        ]
    );
    assert_eq!(
        cells(&table, 0),
        [
            json!("gt-rig-polecat-a"),
            json!("1/1"),
            json!("Running"),
            json!("0"),
            json!("120m"),
            json!("10.0.0.7"),
            json!("node-1"),
            json!("<none>"),
            json!("<none>")
        ]
    );
    assert!(table["rows"][0].get("conditions").is_none());
}

#[test]
fn crashing_container_shows_its_waiting_reason_and_last_restart() {
    let table = render_pod(pod(
        json!({ "containers": [{ "name": "agent" }, { "name": "sidecar" }] }),
        json!({
            "phase": "Running",
            "containerStatuses": [
                { "name": "agent", "image": "gt", "imageID": "", "ready": false, "restartCount": 3,
                  "state": { "waiting": { "reason": "CrashLoopBackOff" } },
                  "lastState": { "terminated": { "exitCode": 1, "finishedAt": "2026-03-01T11:55:00Z" } } },
                { "name": "sidecar", "image": "s", "imageID": "", "ready": true, "restartCount": 0, "state": { "running": {} } },
            ],
        }),
    ));
    let row = cells(&table, 0);
    assert_eq!(row[1], "1/2");
    assert_eq!(row[2], "CrashLoopBackOff");
    assert_eq!(row[3], "3 (5m ago)");
}

#[test]
fn pod_waiting_for_init_containers_shows_init_progress() {
    let table = render_pod(pod(
        json!({ "initContainers": [{ "name": "clone" }], "containers": [{ "name": "agent" }] }),
        json!({
            "phase": "Pending",
            "initContainerStatuses": [{ "name": "clone", "image": "git", "imageID": "", "ready": false, "restartCount": 0, "state": { "running": {} } }],
            "containerStatuses": [{ "name": "agent", "image": "gt", "imageID": "", "ready": false, "restartCount": 0, "state": { "waiting": { "reason": "PodInitializing" } } }],
        }),
    ));
    assert_eq!(cells(&table, 0)[2], "Init:0/1");
}

#[test]
fn finished_and_deleted_pods() {
    let succeeded = render_pod(pod(
        json!({ "containers": [{ "name": "agent" }] }),
        json!({ "phase": "Succeeded" }),
    ));
    assert_eq!(cells(&succeeded, 0)[2], "Succeeded");
    assert_eq!(succeeded["rows"][0]["conditions"][0]["type"], "Completed");
    assert_eq!(succeeded["rows"][0]["conditions"][0]["reason"], "Succeeded");

    let mut deleting = pod(
        json!({ "containers": [{ "name": "agent" }] }),
        json!({ "phase": "Running" }),
    );
    deleting["metadata"]["deletionTimestamp"] = json!("2026-03-01T11:59:00Z");
    assert_eq!(cells(&render_pod(deleting), 0)[2], "Terminating");

    let evicted = render_pod(pod(
        json!({ "containers": [{ "name": "agent" }] }),
        json!({ "phase": "Failed", "reason": "Evicted" }),
    ));
    assert_eq!(cells(&evicted, 0)[2], "Evicted");
    assert_eq!(evicted["rows"][0]["conditions"][0]["reason"], "Failed");
}

#[test]
fn deployment_shows_replica_counts_and_wide_details() {
    let deployment = json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": { "name": "bd-daemon", "creationTimestamp": "2026-03-01T11:59:30Z" },
        "spec": {
            "replicas": 3,
            "selector": { "matchLabels": { "app": "bd" }, "matchExpressions": [{ "key": "tier", "operator": "In", "values": ["web", "api"] }] },
            "template": { "spec": { "containers": [{ "name": "bd", "image": "beads:1" }, { "name": "log", "image": "busybox" }] } },
        },
        "status": { "readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2 },
    });
    let table = render_at(
        &resource("apps", "Deployment", false, vec![]),
        &[deployment],
        json!({}),
        IncludeObject::None,
        now(),
    );
    assert_eq!(
        column_names(&table),
        [
            "Name",
            "Ready",
            "Up-to-date",
            "Available",
            "Age",
            "Containers",
            "Images",
            "Selector"
        ]
    );
    assert_eq!(
        cells(&table, 0),
        [
            json!("bd-daemon"),
            json!("2/3"),
            json!(3),
            json!(2),
            json!("30s"),
            json!("bd,log"),
            json!("beads:1,busybox"),
            json!("app=bd,tier in (api,web)")
        ]
    );
    let wide: Vec<i64> = table["columnDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["priority"].as_i64().unwrap())
        .collect();
    assert_eq!(wide, [0, 0, 0, 0, 0, 1, 1, 1]);
}

#[test]
fn statefulset_and_namespace_and_claim() {
    let stateful_set = json!({
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": { "name": "refinery", "creationTimestamp": "2026-03-01T11:00:00Z" },
        "spec": { "replicas": 1, "selector": {}, "serviceName": "r", "template": { "spec": { "containers": [{ "name": "agent", "image": "gt" }] } } },
        "status": { "replicas": 1, "readyReplicas": 1 },
    });
    let table = render_at(
        &resource("apps", "StatefulSet", false, vec![]),
        &[stateful_set],
        json!({}),
        IncludeObject::None,
        now(),
    );
    assert_eq!(
        cells(&table, 0),
        [
            json!("refinery"),
            json!("1/1"),
            json!("60m"),
            json!("agent"),
            json!("gt")
        ]
    );

    let namespace = json!({ "apiVersion": "v1", "kind": "Namespace", "metadata": { "name": "town" }, "status": { "phase": "Active" } });
    let table = render_at(
        &resource("", "Namespace", false, vec![]),
        &[namespace],
        json!({}),
        IncludeObject::None,
        now(),
    );
    assert_eq!(
        cells(&table, 0),
        [json!("town"), json!("Active"), json!("<unknown>")]
    );

    let claim = json!({
        "apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": { "name": "crew-ws", "creationTimestamp": "2026-03-01T11:58:00Z" },
        "spec": { "volumeName": "pv-1", "storageClassName": "standard", "accessModes": ["ReadWriteOnce"] },
        "status": { "phase": "Bound", "capacity": { "storage": "1Gi" }, "accessModes": ["ReadWriteOnce", "ReadOnlyMany"] },
    });
    let table = render_at(
        &resource("", "PersistentVolumeClaim", false, vec![]),
        &[claim],
        json!({}),
        IncludeObject::None,
        now(),
    );
    assert_eq!(
        cells(&table, 0),
        [
            json!("crew-ws"),
            json!("Bound"),
            json!("pv-1"),
            json!("1Gi"),
            json!("RWO,ROX"),
            json!("standard"),
            json!("<unset>"),
            json!("2m"),
            json!("<unset>")
        ]
    );
}

#[test]
fn resource_quota_splits_requests_and_limits() {
    let quota = json!({
        "apiVersion": "v1", "kind": "ResourceQuota",
        "metadata": { "name": "polecats", "creationTimestamp": "2026-03-01T11:59:00Z" },
        "status": {
            "hard": { "pods": "4", "requests.cpu": "2", "limits.memory": "4Gi" },
            "used": { "pods": "1", "requests.cpu": "500m" },
        },
    });
    let table = render_at(
        &resource("", "ResourceQuota", false, vec![]),
        &[quota],
        json!({}),
        IncludeObject::None,
        now(),
    );
    assert_eq!(
        cells(&table, 0),
        [
            json!("polecats"),
            json!("60s"),
            json!("pods: 1/4, requests.cpu: 500m/2"),
            json!("limits.memory: 0/4Gi")
        ]
    );
}

#[test]
fn other_builtins_show_name_and_age() {
    let limits = json!({ "apiVersion": "v1", "kind": "LimitRange", "metadata": { "name": "reader", "creationTimestamp": "2026-03-01T11:59:50Z" } });
    let table = render_at(
        &resource("", "LimitRange", false, vec![]),
        &[limits],
        json!({}),
        IncludeObject::None,
        now(),
    );
    assert_eq!(column_names(&table), ["Name", "Age"]);
    assert_eq!(cells(&table, 0), [json!("reader"), json!("10s")]);
}

#[test]
fn builtin_that_does_not_decode_still_shows_name_and_age() {
    let broken = pod(json!({ "containers": "not a list" }), json!({}));
    let table = render_pod(broken);
    let row = cells(&table, 0);
    assert_eq!(row.len(), 9);
    assert_eq!(row[0], "gt-rig-polecat-a");
    assert_eq!(row[1], Value::Null);
    assert_eq!(row[4], "120m");
    assert_eq!(row[8], Value::Null);
}

#[test]
fn events_show_when_what_and_why_with_the_name_last() {
    let event = json!({
        "apiVersion": "v1", "kind": "Event",
        "metadata": { "name": "town.1", "namespace": "town", "creationTimestamp": "2026-03-01T11:50:00Z" },
        "involvedObject": { "kind": "Gastown", "name": "town", "namespace": "town" },
        "reason": "Reconciled", "message": "  all rigs ready \n", "type": "Normal",
        "firstTimestamp": "2026-03-01T11:50:00Z", "lastTimestamp": "2026-03-01T11:58:00Z", "count": 3,
        "source": { "component": "gastown-operator" },
    });
    let table = render_at(
        &resource("", "Event", false, vec![]),
        &[event],
        json!({}),
        IncludeObject::None,
        now(),
    );
    assert_eq!(
        column_names(&table),
        [
            "Last Seen",
            "Type",
            "Reason",
            "Object",
            "Subobject",
            "Source",
            "Message",
            "First Seen",
            "Count",
            "Name"
        ]
    );
    assert_eq!(
        cells(&table, 0),
        [
            json!("2m"),
            json!("Normal"),
            json!("Reconciled"),
            json!("gastown/town"),
            json!(""),
            json!("gastown-operator"),
            json!("all rigs ready"),
            json!("10m"),
            json!(3),
            json!("town.1")
        ]
    );
    assert_eq!(table["columnDefinitions"][9]["format"], "name");
    assert_eq!(table["columnDefinitions"][9]["priority"], 1);
}

fn render_builtin(group: &str, kind: &str, object: Value) -> Vec<Value> {
    cells(
        &render_at(
            &resource(group, kind, false, vec![]),
            &[object],
            json!({}),
            IncludeObject::None,
            now(),
        ),
        0,
    )
}

#[test]
fn services_show_type_addresses_and_ports() {
    let metadata = json!({ "name": "bd", "creationTimestamp": "2026-03-01T11:00:00Z" });
    let cluster_ip = json!({
        "apiVersion": "v1", "kind": "Service", "metadata": metadata,
        "spec": { "clusterIP": "10.96.0.10", "selector": { "app": "bd" }, "ports": [{ "port": 9876 }, { "port": 9080, "protocol": "UDP" }] },
    });
    assert_eq!(
        render_builtin("", "Service", cluster_ip),
        [
            json!("bd"),
            json!("ClusterIP"),
            json!("10.96.0.10"),
            json!("<none>"),
            json!("9876/TCP,9080/UDP"),
            json!("60m"),
            json!("app=bd")
        ]
    );
    let load_balancer = json!({
        "apiVersion": "v1", "kind": "Service", "metadata": metadata,
        "spec": { "type": "LoadBalancer", "clusterIP": "10.96.0.11", "ports": [{ "port": 80, "nodePort": 30080 }] },
    });
    let row = render_builtin("", "Service", load_balancer);
    assert_eq!(
        &row[1..5],
        [
            json!("LoadBalancer"),
            json!("10.96.0.11"),
            json!("<pending>"),
            json!("80:30080/TCP")
        ]
    );
}

#[test]
fn config_data_secrets_leases_priority_classes_and_crds() {
    let metadata = json!({ "name": "x", "creationTimestamp": "2026-03-01T11:59:00Z" });
    let config_map = json!({ "apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": { "a": "1", "b": "2" }, "binaryData": { "c": "AA==" } });
    assert_eq!(
        render_builtin("", "ConfigMap", config_map),
        [json!("x"), json!(3), json!("60s")]
    );
    let secret = json!({ "apiVersion": "v1", "kind": "Secret", "metadata": metadata, "type": "kubernetes.io/tls", "data": { "tls.crt": "AA==", "tls.key": "AA==" } });
    assert_eq!(
        render_builtin("", "Secret", secret),
        [
            json!("x"),
            json!("kubernetes.io/tls"),
            json!(2),
            json!("60s")
        ]
    );
    let lease = json!({ "apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": metadata, "spec": { "holderIdentity": "operator-0" } });
    assert_eq!(
        render_builtin("coordination.k8s.io", "Lease", lease),
        [json!("x"), json!("operator-0"), json!("60s")]
    );
    let class = json!({ "apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": metadata, "value": 1000 });
    assert_eq!(
        render_builtin("scheduling.k8s.io", "PriorityClass", class),
        [
            json!("x"),
            json!(1000),
            json!(false),
            json!("60s"),
            json!("PreemptLowerPriority")
        ]
    );
    let crd = json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": metadata,
        "spec": { "group": "g", "names": { "kind": "K", "plural": "ks" }, "scope": "Namespaced", "versions": [] },
    });
    assert_eq!(
        render_builtin("apiextensions.k8s.io", "CustomResourceDefinition", crd),
        [json!("x"), json!("2026-03-01T11:59:00Z")]
    );
}

#[test]
fn workload_controllers_read_counts_even_from_partial_status() {
    let metadata = json!({ "name": "x", "creationTimestamp": "2026-03-01T11:59:00Z" });
    let template = json!({ "spec": { "containers": [{ "name": "agent", "image": "gt" }] } });
    // `status.replicas` is required by the schema but absent here.
    let stateful_set = json!({
        "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": metadata,
        "spec": { "replicas": 3, "selector": {}, "serviceName": "x", "template": template }, "status": { "readyReplicas": 2 },
    });
    assert_eq!(
        render_builtin("apps", "StatefulSet", stateful_set),
        [
            json!("x"),
            json!("2/3"),
            json!("60s"),
            json!("agent"),
            json!("gt")
        ]
    );
    let replica_set = json!({
        "apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": metadata,
        "spec": { "replicas": 2, "selector": { "matchLabels": { "app": "x" } }, "template": template }, "status": { "replicas": 2, "readyReplicas": 1 },
    });
    assert_eq!(
        render_builtin("apps", "ReplicaSet", replica_set),
        [
            json!("x"),
            json!(2),
            json!(2),
            json!(1),
            json!("60s"),
            json!("agent"),
            json!("gt"),
            json!("app=x")
        ]
    );
}

#[test]
fn access_control_and_policy_kinds() {
    let metadata =
        json!({ "name": "x", "namespace": "town", "creationTimestamp": "2026-03-01T11:59:00Z" });
    let binding = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": metadata,
        "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "polecat" },
        "subjects": [
            { "kind": "ServiceAccount", "name": "gt-polecat", "namespace": "town" },
            { "kind": "User", "name": "mayor" },
            { "kind": "ServiceAccount", "name": "gt-witness", "namespace": "town" },
        ],
    });
    assert_eq!(
        render_builtin("rbac.authorization.k8s.io", "RoleBinding", binding),
        [
            json!("x"),
            json!("Role/polecat"),
            json!("60s"),
            json!("mayor"),
            json!(""),
            json!("town/gt-polecat, town/gt-witness")
        ]
    );
    let role = json!({ "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": metadata, "rules": [] });
    assert_eq!(
        render_builtin("rbac.authorization.k8s.io", "Role", role),
        [json!("x"), json!("2026-03-01T11:59:00Z")]
    );
    let account = json!({ "apiVersion": "v1", "kind": "ServiceAccount", "metadata": metadata });
    assert_eq!(
        render_builtin("", "ServiceAccount", account),
        [json!("x"), json!(0), json!("60s")]
    );
    let policy = json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": metadata,
        "spec": { "podSelector": { "matchLabels": { "gastown.io/rig": "gastown" } } },
    });
    assert_eq!(
        render_builtin("networking.k8s.io", "NetworkPolicy", policy),
        [json!("x"), json!("gastown.io/rig=gastown"), json!("60s")]
    );
    let everything = json!({ "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": metadata, "spec": { "podSelector": {} } });
    assert_eq!(
        render_builtin("networking.k8s.io", "NetworkPolicy", everything)[1],
        "<none>"
    );
    let budget = json!({
        "apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": metadata,
        "spec": { "minAvailable": 1 }, "status": { "disruptionsAllowed": 0 },
    });
    assert_eq!(
        render_builtin("policy", "PodDisruptionBudget", budget),
        [json!("x"), json!("1"), json!("N/A"), json!(0), json!("60s")]
    );
}
