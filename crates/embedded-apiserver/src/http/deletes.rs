//! DELETE of one object or a collection, with `DeleteOptions` from the
//! body (JSON or protobuf) or the query.

use super::{Query, Target, decode_body, json_response, selectors};
use crate::errors::{ApiResult, success_status};
use crate::events;
use crate::gc::{DeleteOptions, Deletion, Propagation};
use crate::server::AppState;
use crate::store::ObjectKey;
use axum::response::Response;
use http::StatusCode;
use serde_json::{Value, json};

pub(super) fn delete_options(query: &Query, body: &[u8]) -> ApiResult<DeleteOptions> {
    let from_body: Value = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        decode_body(body)?
    };
    let text = |v: &Value| v.as_str().map(str::to_owned);
    let propagation = match from_body
        .get("propagationPolicy")
        .and_then(Value::as_str)
        .or(query.get("propagationPolicy"))
    {
        Some(policy) => Some(Propagation::parse(policy)?),
        None => {
            let orphan = from_body
                .get("orphanDependents")
                .and_then(Value::as_bool)
                .or(query.get("orphanDependents").map(|v| v == "true"));
            orphan.map(|o| {
                if o {
                    Propagation::Orphan
                } else {
                    Propagation::Background
                }
            })
        }
    };
    let dry_run = query.get("dryRun") == Some("All")
        || from_body
            .get("dryRun")
            .and_then(Value::as_array)
            .is_some_and(|d| d.iter().any(|v| v == "All"));
    Ok(DeleteOptions {
        propagation,
        precondition_uid: from_body.pointer("/preconditions/uid").and_then(text),
        precondition_resource_version: from_body
            .pointer("/preconditions/resourceVersion")
            .and_then(text),
        dry_run,
    })
}

pub(super) fn delete(
    app: &AppState,
    target: &Target<'_>,
    query: &Query,
    body: &[u8],
) -> ApiResult<Response> {
    let options = delete_options(query, body)?;
    let outcome =
        app.cluster
            .lock()
            .delete(target.storage, target.namespace, target.name, &options)?;
    Ok(match outcome {
        // Pods answer with the object, like upstream (graceful deletion); others with a Status.
        Deletion::Removed(object) if target.served.is("", "Pod") => {
            target.respond(StatusCode::OK, &object)
        }
        Deletion::Removed(object) => {
            let uid = object
                .pointer("/metadata/uid")
                .and_then(Value::as_str)
                .unwrap_or_default();
            json_response(
                StatusCode::OK,
                &success_status(&target.served.qualified(), target.name, uid),
            )
        }
        Deletion::Pending(object) => {
            let code = if options.propagation == Some(Propagation::Foreground) {
                StatusCode::ACCEPTED
            } else {
                StatusCode::OK
            };
            target.respond(code, &object)
        }
    })
}

pub(super) fn delete_collection(
    app: &AppState,
    target: &Target<'_>,
    query: &Query,
    body: &[u8],
) -> ApiResult<Response> {
    let served = target.served;
    let (labels, fields) = selectors(served, query)?;
    let options = delete_options(query, body)?;
    let deleted = {
        let mut cluster = app.cluster.lock();
        let targets: Vec<ObjectKey> = cluster
            .store
            .range(&target.storage.key(), target.namespace, None)
            .filter(|(_, o)| labels.matches_object(o) && fields.matches_object(o))
            .map(|(at, _)| at.clone())
            .collect();
        cluster.delete_collection(target.storage, targets, &options)?
    };
    let items: Vec<std::borrow::Cow<'_, Value>> =
        deleted.iter().map(|o| events::present(served, o)).collect();
    let body = json!({ "apiVersion": served.info.api_version(), "kind": served.info.list_kind, "metadata": {}, "items": items });
    Ok(json_response(StatusCode::OK, &body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delete_options_come_from_body_or_query() {
        let query = Query::parse(Some("propagationPolicy=Orphan"));
        assert_eq!(
            delete_options(&query, b"").unwrap().propagation,
            Some(Propagation::Orphan)
        );
        let body = br#"{"propagationPolicy":"Foreground","preconditions":{"uid":"u"}}"#;
        let options = delete_options(&Query::parse(None), body).unwrap();
        assert_eq!(options.propagation, Some(Propagation::Foreground));
        assert_eq!(options.precondition_uid.as_deref(), Some("u"));
        assert!(delete_options(&Query::parse(Some("propagationPolicy=Sideways")), b"").is_err());
    }
}
