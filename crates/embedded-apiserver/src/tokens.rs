//! ServiceAccount tokens: `POST .../serviceaccounts/{name}/token`
//! (authentication.k8s.io/v1 TokenRequest) and TokenReview.
//!
//! Tokens are JWTs with upstream's claims (pkg/serviceaccount/claims.go:
//! `sub` `system:serviceaccount:<ns>:<name>`, `kubernetes.io.serviceaccount`)
//! whose signature is random: this server validates a token by looking it up
//! among those it issued, and only while its ServiceAccount still exists with
//! the same uid. Tokens are never logged.

use crate::errors::{ApiError, ApiResult, FieldError};
use crate::rbac::UserInfo;
use crate::server::AppState;
use crate::subresources::SubresourceRequest;
use axum::response::Response;
use base64::Engine as _;
use http::StatusCode;
use parking_lot::Mutex;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;

/// The issuer and default audience (kube-apiserver's `--service-account-issuer`
/// in kubeadm clusters).
pub const ISSUER: &str = "https://kubernetes.default.svc.cluster.local";
/// `spec.expirationSeconds` default and minimum (authentication/v1 defaults
/// and `ValidateTokenRequest`: "may not specify a duration less than 10 minutes").
const DEFAULT_EXPIRATION: i64 = 3600;
const MIN_EXPIRATION: i64 = 600;
const MAX_EXPIRATION: i64 = 1 << 32;

/// What a token was issued for.
#[derive(Clone, Debug)]
struct Issued {
    namespace: String,
    name: String,
    uid: String,
    audiences: Vec<String>,
    expires: jiff::Timestamp,
    jti: String,
}

/// Tokens this server issued.
#[derive(Default)]
pub struct IssuedTokens(Mutex<HashMap<String, Issued>>);

fn groups(namespace: &str) -> Vec<String> {
    vec![
        "system:serviceaccounts".into(),
        format!("system:serviceaccounts:{namespace}"),
        "system:authenticated".into(),
    ]
}

fn username(namespace: &str, name: &str) -> String {
    format!("system:serviceaccount:{namespace}:{name}")
}

impl IssuedTokens {
    /// The issue record of a live token whose ServiceAccount still exists.
    fn valid(&self, app: &AppState, token: &str) -> Option<Issued> {
        let issued = self.0.lock().get(token).cloned()?;
        if issued.expires <= jiff::Timestamp::now() {
            return None;
        }
        let registry_key = crate::registry::ResourceKey {
            group: String::new(),
            plural: "serviceaccounts".into(),
        };
        let account = app.cluster.lock().store.get(
            &registry_key,
            &(issued.namespace.clone(), issued.name.clone()),
        )?;
        (account.pointer("/metadata/uid").and_then(Value::as_str) == Some(issued.uid.as_str()))
            .then_some(issued)
    }

    /// The user a bearer token authenticates as, if it is a ServiceAccount token of ours.
    pub(crate) fn user(&self, app: &AppState, token: &str) -> Option<UserInfo> {
        let issued = self.valid(app, token)?;
        Some(UserInfo::service_account(&issued.namespace, &issued.name))
    }
}

fn base64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn invalid(kind: &str, group: &str, name: &str, error: FieldError) -> ApiError {
    ApiError::invalid(kind, group, name, &[error])
}

/// `POST /api/v1/namespaces/{ns}/serviceaccounts/{name}/token`.
pub(crate) fn request_token(
    app: &Arc<AppState>,
    request: &SubresourceRequest<'_>,
) -> ApiResult<Response> {
    let body = crate::http::decode_body(request.body)?;
    let namespace = request.namespace.unwrap_or_default();
    let name = request.name;
    let expiration = match body.pointer("/spec/expirationSeconds") {
        None | Some(Value::Null) => DEFAULT_EXPIRATION,
        Some(value) => value.as_i64().ok_or_else(|| {
            invalid(
                "TokenRequest",
                "authentication.k8s.io",
                name,
                FieldError::invalid(
                    "spec.expirationSeconds",
                    value.clone(),
                    "must be an integer",
                ),
            )
        })?,
    };
    if expiration < MIN_EXPIRATION {
        return Err(invalid(
            "TokenRequest",
            "authentication.k8s.io",
            name,
            FieldError::invalid(
                "spec.expirationSeconds",
                expiration,
                "may not specify a duration less than 10 minutes",
            ),
        ));
    }
    if expiration > MAX_EXPIRATION {
        return Err(invalid(
            "TokenRequest",
            "authentication.k8s.io",
            name,
            FieldError::invalid(
                "spec.expirationSeconds",
                expiration,
                "may not specify a duration larger than 2^32 seconds",
            ),
        ));
    }
    let audiences: Vec<String> = body
        .pointer("/spec/audiences")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .filter(|a: &Vec<String>| !a.is_empty())
        .unwrap_or_else(|| vec![ISSUER.to_owned()]);
    let account = app
        .cluster
        .lock()
        .store
        .get(
            &request.served.key(),
            &(namespace.to_owned(), name.to_owned()),
        )
        .ok_or_else(|| ApiError::not_found(request.served.qualified(), name))?;
    let uid = account
        .pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let now = jiff::Timestamp::now();
    let expires = now + jiff::SignedDuration::from_secs(expiration);
    let jti = uuid::Uuid::new_v4().to_string();
    let claims = json!({
        "aud": audiences,
        "exp": expires.as_second(),
        "iat": now.as_second(),
        "iss": ISSUER,
        "jti": jti,
        "kubernetes.io": { "namespace": namespace, "serviceaccount": { "name": name, "uid": uid } },
        "nbf": now.as_second(),
        "sub": username(namespace, name),
    });
    let header = json!({ "alg": "RS256", "kid": "embedded-apiserver" });
    let signature: Vec<u8> = (0..2)
        .flat_map(|_| uuid::Uuid::new_v4().into_bytes())
        .collect();
    let token = format!(
        "{}.{}.{}",
        base64url(header.to_string().as_bytes()),
        base64url(claims.to_string().as_bytes()),
        base64url(&signature)
    );
    let issued = Issued {
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        uid,
        audiences: audiences.clone(),
        expires,
        jti,
    };
    if !request.options.dry_run {
        app.service_account_tokens
            .0
            .lock()
            .insert(token.clone(), issued);
    }
    let mut spec = body.get("spec").cloned().unwrap_or_else(|| json!({}));
    spec["audiences"] = json!(audiences);
    spec["expirationSeconds"] = json!(expiration);
    let response = json!({
        "kind": "TokenRequest",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": { "name": name, "namespace": namespace, "creationTimestamp": now.strftime("%Y-%m-%dT%H:%M:%SZ").to_string() },
        "spec": spec,
        "status": { "token": token, "expirationTimestamp": expires.strftime("%Y-%m-%dT%H:%M:%SZ").to_string() },
    });
    Ok(crate::http::json_response(StatusCode::CREATED, &response))
}

/// `POST /apis/authentication.k8s.io/v1/tokenreviews`.
pub(crate) fn review(app: &Arc<AppState>, body: &Value) -> ApiResult<Response> {
    let token = body
        .pointer("/spec/token")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let wanted: Vec<&str> = body
        .pointer("/spec/audiences")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let issued = app.service_account_tokens.valid(app, token);
    // An audience the token was not issued for does not authenticate
    // (upstream's audience intersection); no audiences asked means the server's.
    let status = match issued {
        Some(issued)
            if wanted.is_empty()
                || wanted
                    .iter()
                    .any(|a| issued.audiences.iter().any(|i| i == a)) =>
        {
            let audiences: Vec<&String> = if wanted.is_empty() {
                issued.audiences.iter().collect()
            } else {
                issued
                    .audiences
                    .iter()
                    .filter(|a| wanted.contains(&a.as_str()))
                    .collect()
            };
            json!({
                "authenticated": true,
                "user": {
                    "username": username(&issued.namespace, &issued.name),
                    "uid": issued.uid,
                    "groups": groups(&issued.namespace),
                    "extra": { "authentication.kubernetes.io/credential-id": [format!("JTI={}", issued.jti)] },
                },
                "audiences": audiences,
            })
        }
        Some(_) => {
            json!({ "user": {}, "error": "token audiences is invalid for the target audiences" })
        }
        // Tokens the RBAC mode minted (tests' ServiceAccounts, the admin).
        None if let Some(user) = app.rbac.as_ref().and_then(|r| r.user_of(token)) => json!({
            "authenticated": true,
            "user": { "username": user.name, "groups": user.groups },
            "audiences": [ISSUER],
        }),
        None => json!({ "user": {}, "error": "invalid bearer token" }),
    };
    let response = json!({
        "kind": "TokenReview",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": { "creationTimestamp": null },
        "spec": body.get("spec").cloned().unwrap_or_else(|| json!({})),
        "status": status,
    });
    Ok(crate::http::json_response(StatusCode::CREATED, &response))
}
