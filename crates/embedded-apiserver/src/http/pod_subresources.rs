//! Pod subresources other than `status`:
//! - `log`: what the simulated containers wrote ([`simulation::logs`]);
//! - `exec`, `attach`, `portforward`: there is no kubelet to stream from, so
//!   they fail as kube-apiserver does when it cannot dial one: a 500 whose
//!   message is the dial error (`proxy.ErrorResponder` turns the plain error
//!   into a `Status` with no reason, `responsewriters.ErrorNegotiated`);
//! - `eviction`: `pkg/registry/core/pod/storage/eviction.go`, honouring the
//!   pod's PodDisruptionBudget;
//! - `ephemeralcontainers`: the pod, of which only
//!   `spec.ephemeralContainers` may change, and only by adding.

use super::{Query, json_response};
use crate::cluster::{Cluster, Subresource, WriteOptions, now};
use crate::errors::{ApiError, ApiResult, FieldError, QualifiedResource};
use crate::gc::{DeleteOptions, Propagation};
use crate::patch::{self, PatchType};
use crate::registry::{ResourceKey, Served};
use crate::server::AppState;
use crate::simulation::logs::{self, LogOptions};
use axum::response::{IntoResponse, Response};
use http::HeaderMap;
use http::{StatusCode, header};
use serde_json::{Value, json};
use std::sync::Arc;

/// Their discovery entries, as kube-apiserver lists them in `/api/v1`
/// (and in aggregated discovery). kubectl drain evicts only when
/// `pods/eviction` is listed (`drain.CheckEvictionSupport`).
pub(crate) fn discovered() -> Vec<crate::discovery::Subresource> {
    let entry =
        |name: &'static str, kind: &str, verbs: &[&'static str]| crate::discovery::Subresource {
            name,
            group: String::new(),
            version: "v1".into(),
            kind: kind.into(),
            verbs: verbs.to_vec(),
        };
    let mut eviction = entry("eviction", "Eviction", &["create"]);
    eviction.group = "policy".into();
    vec![
        entry("attach", "PodAttachOptions", &["create", "get"]),
        entry("ephemeralcontainers", "Pod", &["get", "patch", "update"]),
        eviction,
        entry("exec", "PodExecOptions", &["create", "get"]),
        entry("log", "Pod", &["get"]),
        entry("portforward", "PodPortForwardOptions", &["create", "get"]),
    ]
}

/// The pod subresources served here.
pub(super) fn serves(subresource: &str) -> bool {
    matches!(
        subresource,
        "log" | "exec" | "attach" | "portforward" | "eviction" | "ephemeralcontainers"
    )
}

fn pods() -> QualifiedResource {
    QualifiedResource::new("", "pods")
}

fn pod_key() -> ResourceKey {
    ResourceKey {
        group: String::new(),
        plural: "pods".into(),
    }
}

fn get_pod(app: &AppState, namespace: &str, name: &str) -> ApiResult<Arc<Value>> {
    app.cluster
        .lock()
        .store
        .get(&pod_key(), &(namespace.to_owned(), name.to_owned()))
        .ok_or_else(|| ApiError::not_found(pods(), name))
}

/// A `Status` failure with exactly these fields.
fn status(code: StatusCode, reason: &str, message: &str, details: Option<Value>) -> Response {
    let mut body = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {},
        "status": "Failure", "message": message, "reason": reason, "code": code.as_u16(),
    });
    if let Some(details) = details {
        body["details"] = details;
    }
    json_response(code, &body)
}

/// What a pod subresource request is.
pub(super) struct PodRequest<'a> {
    pub query: &'a Query,
    pub headers: &'a HeaderMap,
}

#[allow(clippy::too_many_arguments)]
pub(super) fn handle(
    app: &AppState,
    served: &Arc<Served>,
    request: &PodRequest<'_>,
    verb: &str,
    namespace: &str,
    name: &str,
    subresource: &str,
    body: &[u8],
) -> ApiResult<Response> {
    match (subresource, verb) {
        ("log", "get") => log(app, request.query, namespace, name),
        ("exec" | "attach" | "portforward", _) => no_kubelet(app, request.query, namespace, name),
        ("eviction", "create") => evict(app, served, namespace, name, body),
        ("ephemeralcontainers", "get") => {
            let pod = get_pod(app, namespace, name)?;
            Ok(json_response(StatusCode::OK, &*pod))
        }
        ("ephemeralcontainers", "update" | "patch") => {
            ephemeral_containers(app, served, request, verb, namespace, name, body)
        }
        _ => Err(ApiError::MethodNotSupported),
    }
}

/// The container a request names, or the pod's only one; upstream's 400 otherwise.
fn container_of(pod: &Value, query: &Query) -> ApiResult<String> {
    if let Some(container) = query.get("container") {
        return Ok(container.to_owned());
    }
    let names: Vec<&str> = pod
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| c["name"].as_str())
        .collect();
    match names.as_slice() {
        [only] => Ok((*only).to_owned()),
        _ => Err(ApiError::BadRequest(format!(
            "a container name must be specified for pod {}, choose one of: [{}]",
            pod.pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or_default(),
            names.join(" ")
        ))),
    }
}

fn log(app: &AppState, query: &Query, namespace: &str, name: &str) -> ApiResult<Response> {
    let pod = get_pod(app, namespace, name)?;
    let container = container_of(&pod, query)?;
    let lines = logs::container_log(&pod, &container, query.flag("previous"))
        .map_err(ApiError::BadRequest)?;
    let number = |key: &str| query.get(key).and_then(|v| v.parse::<i64>().ok());
    let options = LogOptions {
        timestamps: query.flag("timestamps"),
        tail_lines: number("tailLines"),
        since_seconds: number("sinceSeconds"),
        since_time: query.get("sinceTime").map(str::to_owned),
        limit_bytes: number("limitBytes"),
    };
    // `follow` ends with what is there: nothing is written later.
    let text = logs::render(&lines, &options, jiff::Timestamp::now());
    Ok((StatusCode::OK, [(header::CONTENT_TYPE, "text/plain")], text).into_response())
}

/// `exec`/`attach`/`portforward`: the checks the API server makes before it
/// dials the kubelet, then the dial's failure.
fn no_kubelet(app: &AppState, query: &Query, namespace: &str, name: &str) -> ApiResult<Response> {
    let pod = get_pod(app, namespace, name)?;
    let node = pod
        .pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if node.is_empty() {
        return Err(ApiError::BadRequest(format!(
            "pod {name} does not have a host assigned"
        )));
    }
    if let Some(container) = query.get("container") {
        let known = ["containers", "initContainers", "ephemeralContainers"]
            .iter()
            .any(|field| {
                pod.pointer(&format!("/spec/{field}"))
                    .and_then(Value::as_array)
                    .is_some_and(|all| all.iter().any(|c| c["name"] == container))
            });
        if !known {
            return Err(ApiError::BadRequest(format!(
                "container {container} is not valid for pod {name}"
            )));
        }
    }
    let host = crate::simulation::host_ip(node);
    let message =
        format!("error dialing backend: dial tcp {host}:10250: connect: connection refused");
    Ok(status(
        StatusCode::INTERNAL_SERVER_ERROR,
        "",
        &message,
        None,
    ))
}

fn pod_ready(pod: &Value) -> bool {
    pod.pointer("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Ready" && c["status"] == "True")
}

const VIOLATES_BUDGET: &str = "Cannot evict pod as it would violate the pod's disruption budget.";

fn too_many_requests(cause: String, retry_after: u64) -> Response {
    let mut details = json!({ "causes": [{ "reason": "DisruptionBudget", "message": cause }] });
    if retry_after > 0 {
        details["retryAfterSeconds"] = json!(retry_after);
    }
    let mut response = status(
        StatusCode::TOO_MANY_REQUESTS,
        "TooManyRequests",
        VIOLATES_BUDGET,
        Some(details),
    );
    if retry_after > 0 {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, retry_after.into());
    }
    response
}

/// `POST pods/<name>/eviction`.
fn evict(
    app: &AppState,
    served: &Served,
    namespace: &str,
    name: &str,
    body: &[u8],
) -> ApiResult<Response> {
    // kubectl drain's typed client may send protobuf; only the delete
    // options matter here, and the defaults serve when they cannot be read.
    let eviction = match super::decode_body(body) {
        Ok(eviction) => eviction,
        Err(_) if body.starts_with(crate::protobuf::MAGIC) => json!({}),
        Err(error) => return Err(error),
    };
    let dry_run = eviction
        .pointer("/deleteOptions/dryRun")
        .and_then(Value::as_array)
        .is_some_and(|d| d.iter().any(|v| v == "All"));
    let mut cluster = app.cluster.lock();
    let pod = cluster
        .store
        .get(&pod_key(), &(namespace.to_owned(), name.to_owned()))
        .ok_or_else(|| ApiError::not_found(pods(), name))?;
    let phase = pod
        .pointer("/status/phase")
        .and_then(Value::as_str)
        .unwrap_or("Pending");
    // `canIgnorePDB`: finished, pending and terminating pods go at once.
    let ignores_budget = matches!(phase, "Succeeded" | "Failed" | "Pending")
        || pod.pointer("/metadata/deletionTimestamp").is_some();
    if !ignores_budget {
        let budgets = budgets_of(&cluster, &pod);
        match budgets.as_slice() {
            [] => {}
            [_, _, ..] => {
                return Ok(status(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "InternalError",
                    "Internal error occurred: This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.",
                    None,
                ));
            }
            [budget] => {
                if let Some(refusal) = check_budget(&mut cluster, budget, &pod, name, dry_run) {
                    return Ok(refusal);
                }
            }
        }
    }
    if !dry_run {
        mark_disruption_target(&mut cluster, &pod);
    }
    let options = DeleteOptions {
        propagation: Some(Propagation::Background),
        dry_run,
        precondition_uid: eviction
            .pointer("/deleteOptions/preconditions/uid")
            .and_then(Value::as_str)
            .map(str::to_owned),
        ..DeleteOptions::default()
    };
    cluster.delete(served, Some(namespace), name, &options)?;
    Ok(json_response(
        StatusCode::CREATED,
        &json!({ "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success" }),
    ))
}

/// The `DisruptionTarget` condition the eviction puts on a pod before
/// deleting it (`addConditionAndDeletePod`; PodDisruptionConditions, GA in 1.31).
fn mark_disruption_target(cluster: &mut Cluster, pod: &Value) {
    let at = (
        pod.pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        pod.pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
    );
    let rv = pod
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let now = now();
    cluster.write_as_system(&pod_key(), &at, &rv, |pod| {
        let status = pod
            .as_object_mut()
            .expect("a pod is an object")
            .entry("status")
            .or_insert_with(|| json!({}));
        if !status["conditions"].is_array() {
            status["conditions"] = json!([]);
        }
        let conditions = status["conditions"]
            .as_array_mut()
            .expect("just made an array");
        conditions.retain(|c| c["type"] != "DisruptionTarget");
        conditions.push(json!({
            "type": "DisruptionTarget", "status": "True", "reason": "EvictionByEvictionAPI",
            "message": "Eviction API: evicting", "lastProbeTime": null, "lastTransitionTime": now,
        }));
    });
}

/// The namespace's PodDisruptionBudgets whose selector takes `pod`.
fn budgets_of(cluster: &Cluster, pod: &Value) -> Vec<Arc<Value>> {
    let namespace = pod.pointer("/metadata/namespace").and_then(Value::as_str);
    let key = ResourceKey {
        group: "policy".into(),
        plural: "poddisruptionbudgets".into(),
    };
    cluster
        .store
        .range(&key, namespace, None)
        .filter(|(_, pdb)| {
            crate::label_selector::matches(
                pdb.pointer("/spec/selector"),
                crate::label_selector::labels_of(pod),
            )
        })
        .map(|(_, pdb)| Arc::clone(pdb))
        .collect()
}

/// The budget's verdict on evicting `pod`: `None` allows it (and, unless a
/// dry run, records the disruption); `Some` is the refusal to send.
fn check_budget(
    cluster: &mut Cluster,
    budget: &Value,
    pod: &Value,
    name: &str,
    dry_run: bool,
) -> Option<Response> {
    let int = |pointer: &str| budget.pointer(pointer).and_then(Value::as_i64).unwrap_or(0);
    let budget_name = budget
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !pod_ready(pod) {
        let always =
            budget.pointer("/spec/unhealthyPodEvictionPolicy") == Some(&json!("AlwaysAllow"));
        let healthy_enough = int("/status/currentHealthy") >= int("/status/desiredHealthy")
            && int("/status/desiredHealthy") > 0;
        if always || healthy_enough {
            return None;
        }
    }
    if int("/status/observedGeneration") < int("/metadata/generation") {
        return Some(too_many_requests(
            format!("The disruption budget {budget_name} is still being processed by the server."),
            10,
        ));
    }
    let allowed = int("/status/disruptionsAllowed");
    if allowed <= 0 {
        return Some(too_many_requests(
            format!(
                "The disruption budget {budget_name} needs {} healthy pods and has {} currently",
                int("/status/desiredHealthy"),
                int("/status/currentHealthy")
            ),
            0,
        ));
    }
    if dry_run {
        return None;
    }
    let key = ResourceKey {
        group: "policy".into(),
        plural: "poddisruptionbudgets".into(),
    };
    let namespace = pod
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let rv = budget
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let now = now();
    cluster.write_as_system(&key, &(namespace.to_owned(), budget_name.to_owned()), rv, |pdb| {
        let status = &mut pdb["status"];
        status["disruptionsAllowed"] = json!(allowed - 1);
        status["disruptedPods"][name] = json!(now);
        if allowed == 1
            && let Some(conditions) = status["conditions"].as_array_mut()
        {
            for condition in conditions.iter_mut().filter(|c| c["type"] == "DisruptionAllowed") {
                *condition = json!({
                    "type": "DisruptionAllowed", "status": "False", "reason": "InsufficientPods",
                    "message": "", "observedGeneration": condition["observedGeneration"],
                    "lastTransitionTime": now,
                });
            }
        }
    });
    None
}

/// `PUT`/`PATCH pods/<name>/ephemeralcontainers`.
#[allow(clippy::too_many_arguments)]
fn ephemeral_containers(
    app: &AppState,
    served: &Served,
    request: &PodRequest<'_>,
    verb: &str,
    namespace: &str,
    name: &str,
    body: &[u8],
) -> ApiResult<Response> {
    let current = get_pod(app, namespace, name)?;
    let desired = if verb == "patch" {
        let content_type = request
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let patch_type = PatchType::from_content_type(content_type)?;
        let patch_body = patch::parse_body(patch_type, body)?;
        patch::apply_patch(served, patch_type, &current, patch_body)?
    } else {
        super::decode_body(body)?
    };
    let before: Vec<Value> = current
        .pointer("/spec/ephemeralContainers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let after: Vec<Value> = desired
        .pointer("/spec/ephemeralContainers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    // pkg/apis/core/validation, `validateEphemeralContainers` on update.
    for old in &before {
        let same = after.iter().find(|c| c["name"] == old["name"]);
        if same != Some(old) {
            let error = FieldError::forbidden(
                "spec.ephemeralContainers",
                format!(
                    "existing ephemeral containers {:?} may not be removed or changed",
                    old["name"].as_str().unwrap_or_default()
                ),
            );
            return Err(ApiError::invalid("Pod", "", name, &[error]));
        }
    }
    let mut updated = (*current).clone();
    updated["spec"]["ephemeralContainers"] = json!(after);
    let options = WriteOptions {
        field_manager: request.query.get("fieldManager").map(str::to_owned),
        ..WriteOptions::default()
    };
    let stored = app.cluster.lock().update(
        served,
        Some(namespace),
        name,
        updated,
        Subresource::Main,
        &options,
    )?;
    Ok(json_response(StatusCode::OK, &*stored))
}
