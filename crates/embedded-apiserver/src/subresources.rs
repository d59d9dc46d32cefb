//! Subresources other than `status`: `scale` (autoscaling/v1 Scale),
//! `serviceaccounts/token` (TokenRequest) and a CertificateSigningRequest's
//! `approval`. Each is a view of, or a narrow write to, its parent object.

use crate::cluster::{Subresource as Part, WriteOptions};
use crate::discovery::Subresource;
use crate::errors::{ApiError, ApiResult};
use crate::patch::{self, PatchType};
use crate::registry::Served;
use crate::scale;
use crate::server::AppState;
use crate::tokens;
use axum::response::Response;
use http::StatusCode;
use serde_json::Value;
use std::sync::Arc;

/// One request for a subresource this module serves.
pub(crate) struct SubresourceRequest<'a> {
    pub served: &'a Arc<Served>,
    pub namespace: Option<&'a str>,
    pub name: &'a str,
    pub subresource: &'a str,
    pub verb: &'a str,
    pub content_type: Option<&'a str>,
    pub body: &'a [u8],
    pub options: WriteOptions,
}

fn is_service_accounts(served: &Served) -> bool {
    served.is("", "ServiceAccount")
}

fn is_csr(served: &Served) -> bool {
    served.is("certificates.k8s.io", "CertificateSigningRequest")
}

/// Whether `served` has `subresource` here.
pub(crate) fn serves(served: &Served, subresource: &str) -> bool {
    match subresource {
        "scale" => served.scale.is_some(),
        "token" => is_service_accounts(served),
        "approval" => is_csr(served),
        _ => false,
    }
}

/// Discovery entries for the subresources of `served` besides status and scale.
pub(crate) fn discovered(served: &Served) -> Vec<Subresource> {
    let info = &served.info;
    if is_service_accounts(served) {
        return vec![Subresource {
            name: "token",
            group: "authentication.k8s.io".into(),
            version: "v1".into(),
            kind: "TokenRequest".into(),
            verbs: vec!["create"],
        }];
    }
    if served.is("", "Pod") {
        return crate::http::pod_subresources::discovered();
    }
    if is_csr(served) {
        return vec![Subresource {
            name: "approval",
            group: info.group.clone(),
            version: info.version.clone(),
            kind: info.kind.clone(),
            verbs: vec!["get", "patch", "update"],
        }];
    }
    Vec::new()
}

pub(crate) fn handle(app: &Arc<AppState>, request: SubresourceRequest<'_>) -> ApiResult<Response> {
    match (request.subresource, request.verb) {
        ("token", "create") => tokens::request_token(app, &request),
        ("token", _) => Err(ApiError::MethodNotSupported),
        ("scale" | "approval", "get" | "update" | "patch") => read_modify_write(app, &request),
        _ => Err(ApiError::MethodNotSupported),
    }
}

/// The view a subresource shows of its parent object.
fn view(request: &SubresourceRequest<'_>, object: &Value) -> Value {
    match &request.served.scale {
        Some(paths) if request.subresource == "scale" => scale::view(paths, object),
        _ => object.clone(),
    }
}

/// GET, PUT and PATCH of `scale` and `approval`: the new view becomes a write
/// of the parent, under the cluster lock so it cannot interleave.
fn read_modify_write(app: &Arc<AppState>, request: &SubresourceRequest<'_>) -> ApiResult<Response> {
    let served = request.served;
    let at = (
        request.namespace.unwrap_or_default().to_owned(),
        request.name.to_owned(),
    );
    let mut cluster = app.cluster.lock();
    let current = cluster
        .store
        .get(&served.key(), &at)
        .ok_or_else(|| ApiError::not_found(served.qualified(), request.name))?;
    let shown = view(request, &current);
    let desired_view = match request.verb {
        "get" => return Ok(crate::http::json_response(StatusCode::OK, &shown)),
        "update" => crate::http::decode_body(request.body)?,
        _ => {
            let patch_type =
                PatchType::from_content_type(request.content_type.unwrap_or_default())?;
            let body = patch::parse_body(patch_type, request.body)?;
            match patch_type {
                PatchType::Json => patch::apply_patch(served, patch_type, &shown, body)?,
                // A Scale has no lists, so a strategic merge or an apply
                // configuration merges like a merge patch.
                _ => {
                    let mut patched = shown.clone();
                    json_patch::merge(&mut patched, &body);
                    patched
                }
            }
        }
    };
    let (desired, part) = match &served.scale {
        Some(paths) if request.subresource == "scale" => {
            (scale::apply_to(paths, &current, &desired_view)?, Part::Main)
        }
        // approval: only status.conditions change (upstream's
        // csrApprovalStrategy keeps the rest of the status).
        _ => {
            let mut desired = (*current).clone();
            desired["status"]["conditions"] = desired_view
                .pointer("/status/conditions")
                .cloned()
                .unwrap_or(Value::Null);
            if let Some(rv) = desired_view.pointer("/metadata/resourceVersion") {
                desired["metadata"]["resourceVersion"] = rv.clone();
            }
            (desired, Part::Status)
        }
    };
    let updated = cluster.update(
        served,
        request.namespace,
        request.name,
        desired,
        part,
        &request.options,
    )?;
    Ok(crate::http::json_response(
        StatusCode::OK,
        &view(request, &updated),
    ))
}
