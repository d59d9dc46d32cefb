//! Upstream's defaulting of built-in kinds (`SetDefaults_*`): fields a real
//! server fills in on every write, so that a client comparing what it sent
//! with what it reads back sees what it would see on a real cluster.

use serde_json::{Map, Value, json};

/// Sets `key` to `value` unless present (and not null).
fn default(object: &mut Map<String, Value>, key: &str, value: Value) {
    if object.get(key).is_none_or(Value::is_null) {
        object.insert(key.to_owned(), value);
    }
}

fn object_at<'a>(value: &'a mut Value, path: &[&str]) -> Option<&'a mut Map<String, Value>> {
    let mut current = value;
    for key in path {
        current = current.as_object_mut()?.get_mut(*key)?;
    }
    current.as_object_mut()
}

fn each<'a>(
    value: &'a mut Value,
    path: &[&str],
) -> impl Iterator<Item = &'a mut Map<String, Value>> {
    let mut current = Some(value);
    for key in path {
        current = current.and_then(|v| v.as_object_mut()?.get_mut(*key));
    }
    current
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object_mut)
}

/// Applies the defaults of `group`/`kind` to `object` in place.
pub fn apply(group: &str, kind: &str, object: &mut Value) {
    match (group, kind) {
        ("", "Pod") => {
            if let Some(spec) = object.get_mut("spec") {
                pod_spec(spec);
            }
        }
        ("", "Service") => service(object),
        ("", "Secret") => {
            if let Some(secret) = object.as_object_mut() {
                default(secret, "type", json!("Opaque"));
            }
        }
        ("", "PersistentVolumeClaim") => {
            if let Some(spec) = object_at(object, &["spec"]) {
                default(spec, "volumeMode", json!("Filesystem"));
            }
        }
        ("apps", "Deployment") => deployment(object),
        ("apps", "StatefulSet") => stateful_set(object),
        ("batch", "Job") => {
            crate::batch::default_job(object);
            pod_template(object);
        }
        ("batch", "CronJob") => {
            crate::batch::default_cron_job(object);
            if let Some(spec) = object.pointer_mut("/spec/jobTemplate/spec/template/spec") {
                pod_spec(spec);
            }
        }
        ("scheduling.k8s.io", "PriorityClass") => {
            if let Some(class) = object.as_object_mut() {
                default(class, "preemptionPolicy", json!("PreemptLowerPriority"));
            }
        }
        _ => {}
    }
}

/// `SetDefaults_PodSpec` and `SetDefaults_Container`.
fn pod_spec(spec: &mut Value) {
    let Some(fields) = spec.as_object_mut() else {
        return;
    };
    default(fields, "restartPolicy", json!("Always"));
    default(fields, "dnsPolicy", json!("ClusterFirst"));
    default(fields, "terminationGracePeriodSeconds", json!(30));
    default(fields, "securityContext", json!({}));
    default(fields, "schedulerName", json!("default-scheduler"));
    default(fields, "enableServiceLinks", json!(true));
    for list in ["containers", "initContainers"] {
        for container in each(spec, &[list]) {
            let image_pull_policy = match container.get("image").and_then(Value::as_str) {
                Some(image) if has_fixed_tag(image) => "IfNotPresent",
                _ => "Always",
            };
            default(container, "imagePullPolicy", json!(image_pull_policy));
            default(
                container,
                "terminationMessagePath",
                json!("/dev/termination-log"),
            );
            default(container, "terminationMessagePolicy", json!("File"));
            default(container, "resources", json!({}));
            if let Some(ports) = container.get_mut("ports").and_then(Value::as_array_mut) {
                for port in ports.iter_mut().filter_map(Value::as_object_mut) {
                    default(port, "protocol", json!("TCP"));
                }
            }
        }
    }
}

/// Images pinned by digest or by a tag other than `latest` are pulled if not present.
fn has_fixed_tag(image: &str) -> bool {
    if image.contains('@') {
        return true;
    }
    let name = image.rsplit('/').next().unwrap_or(image);
    name.split_once(':').is_some_and(|(_, tag)| tag != "latest")
}

fn pod_template(object: &mut Value) {
    if let Some(spec) = object.pointer_mut("/spec/template/spec") {
        pod_spec(spec);
    }
}

fn deployment(object: &mut Value) {
    if let Some(spec) = object_at(object, &["spec"]) {
        default(spec, "replicas", json!(1));
        default(spec, "revisionHistoryLimit", json!(10));
        default(spec, "progressDeadlineSeconds", json!(600));
        default(spec, "strategy", json!({ "type": "RollingUpdate" }));
        if let Some(strategy) = spec.get_mut("strategy").and_then(Value::as_object_mut)
            && strategy.get("type").and_then(Value::as_str) == Some("RollingUpdate")
        {
            default(strategy, "rollingUpdate", json!({}));
            if let Some(rolling) = strategy
                .get_mut("rollingUpdate")
                .and_then(Value::as_object_mut)
            {
                default(rolling, "maxUnavailable", json!("25%"));
                default(rolling, "maxSurge", json!("25%"));
            }
        }
    }
    pod_template(object);
}

fn stateful_set(object: &mut Value) {
    if let Some(spec) = object_at(object, &["spec"]) {
        default(spec, "replicas", json!(1));
        default(spec, "revisionHistoryLimit", json!(10));
        default(spec, "podManagementPolicy", json!("OrderedReady"));
        default(spec, "updateStrategy", json!({ "type": "RollingUpdate" }));
        if let Some(strategy) = spec
            .get_mut("updateStrategy")
            .and_then(Value::as_object_mut)
            && strategy.get("type").and_then(Value::as_str) == Some("RollingUpdate")
        {
            default(strategy, "rollingUpdate", json!({ "partition": 0 }));
        }
        default(
            spec,
            "persistentVolumeClaimRetentionPolicy",
            json!({ "whenDeleted": "Retain", "whenScaled": "Retain" }),
        );
    }
    for claim in each(object, &["spec", "volumeClaimTemplates"]) {
        if let Some(spec) = claim.get_mut("spec").and_then(Value::as_object_mut) {
            default(spec, "volumeMode", json!("Filesystem"));
        }
    }
    pod_template(object);
}

/// Service defaults other than the cluster IP, which is allocated on create.
fn service(object: &mut Value) {
    let Some(spec) = object_at(object, &["spec"]) else {
        return;
    };
    default(spec, "type", json!("ClusterIP"));
    default(spec, "sessionAffinity", json!("None"));
    default(spec, "internalTrafficPolicy", json!("Cluster"));
    if let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
        for port in ports.iter_mut().filter_map(Value::as_object_mut) {
            default(port, "protocol", json!("TCP"));
            if let Some(number) = port.get("port").cloned() {
                default(port, "targetPort", number);
            }
        }
    }
}

/// Gives a new ClusterIP Service its address (`10.96.x.y`, from `sequence`),
/// unless it is headless or brings its own.
pub fn allocate_cluster_ip(object: &mut Value, sequence: u32) {
    let Some(spec) = object_at(object, &["spec"]) else {
        return;
    };
    if spec.get("type").and_then(Value::as_str) == Some("ExternalName") {
        return;
    }
    let address = format!("10.96.{}.{}", (sequence / 254) % 256, sequence % 254 + 1);
    default(spec, "clusterIP", json!(address));
    let ip = spec["clusterIP"].clone();
    default(spec, "clusterIPs", json!([ip]));
    default(spec, "ipFamilies", json!(["IPv4"]));
    default(spec, "ipFamilyPolicy", json!("SingleStack"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pods_get_upstream_spec_and_container_defaults() {
        let mut pod = json!({ "spec": { "containers": [
            { "name": "a", "image": "busybox", "ports": [{ "containerPort": 80 }] },
            { "name": "b", "image": "registry:5000/x:1.2", "imagePullPolicy": "Never" }
        ] } });
        apply("", "Pod", &mut pod);
        let spec = &pod["spec"];
        assert_eq!(spec["restartPolicy"], "Always");
        assert_eq!(spec["terminationGracePeriodSeconds"], 30);
        assert_eq!(spec["containers"][0]["imagePullPolicy"], "Always");
        assert_eq!(spec["containers"][0]["ports"][0]["protocol"], "TCP");
        assert_eq!(
            spec["containers"][1]["imagePullPolicy"], "Never",
            "set values are kept"
        );
        assert_eq!(spec["containers"][1]["terminationMessagePolicy"], "File");
    }

    #[test]
    fn image_pull_policy_follows_the_tag() {
        assert!(has_fixed_tag("nginx:1.27"));
        assert!(has_fixed_tag("repo/app@sha256:abc"));
        assert!(!has_fixed_tag("nginx"));
        assert!(!has_fixed_tag("nginx:latest"));
        assert!(!has_fixed_tag("registry:5000/app"));
    }

    #[test]
    fn workloads_and_services() {
        let mut deployment = json!({ "spec": { "template": { "spec": { "containers": [] } } } });
        apply("apps", "Deployment", &mut deployment);
        assert_eq!(deployment["spec"]["replicas"], 1);
        assert_eq!(
            deployment["spec"]["strategy"]["rollingUpdate"]["maxSurge"],
            "25%"
        );
        assert_eq!(
            deployment["spec"]["template"]["spec"]["dnsPolicy"],
            "ClusterFirst"
        );

        let mut sts = json!({ "spec": { "updateStrategy": { "type": "OnDelete" }, "volumeClaimTemplates": [{ "spec": {} }] } });
        apply("apps", "StatefulSet", &mut sts);
        assert_eq!(sts["spec"]["updateStrategy"], json!({ "type": "OnDelete" }));
        assert_eq!(
            sts["spec"]["volumeClaimTemplates"][0]["spec"]["volumeMode"],
            "Filesystem"
        );

        let mut service = json!({ "spec": { "ports": [{ "port": 9999 }] } });
        apply("", "Service", &mut service);
        allocate_cluster_ip(&mut service, 0);
        assert_eq!(service["spec"]["ports"][0]["targetPort"], 9999);
        assert_eq!(service["spec"]["clusterIP"], "10.96.0.1");
        let mut headless = json!({ "spec": { "clusterIP": "None" } });
        allocate_cluster_ip(&mut headless, 5);
        assert_eq!(headless["spec"]["clusterIPs"], json!(["None"]));
    }
}
