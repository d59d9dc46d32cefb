//! API errors and the `Status` objects kube-apiserver answers them with.
//!
//! Messages, reasons and `details` follow upstream's `k8s.io/apimachinery`
//! error constructors, because clients (kube-rs, kubectl, Helm) match on them.

use http::StatusCode;
use serde_json::{Value, json};
use std::fmt;
use std::time::Duration;

/// A resource name qualified by its group, as upstream prints it:
/// `pods`, `deployments.apps`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QualifiedResource {
    pub group: String,
    pub resource: String,
}

impl QualifiedResource {
    pub fn new(group: &str, resource: &str) -> Self {
        Self {
            group: group.to_owned(),
            resource: resource.to_owned(),
        }
    }
}

impl fmt::Display for QualifiedResource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.group.is_empty() {
            f.write_str(&self.resource)
        } else {
            write!(f, "{}.{}", self.resource, self.group)
        }
    }
}

/// One field-level validation failure, rendered like upstream's `field.Error`.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldError {
    /// Dotted path, e.g. `metadata.name` or `spec.containers[0].name`.
    pub field: String,
    pub kind: FieldErrorKind,
}

#[derive(Clone, Debug, PartialEq)]
pub enum FieldErrorKind {
    Required(Option<String>),
    Invalid {
        value: Value,
        detail: String,
    },
    Forbidden(String),
    /// `field.TooLong`: longer than the limit, in bytes.
    TooLong(usize),
    /// Upstream's `field.NotSupported`: the value is not one of `supported`.
    NotSupported {
        value: Value,
        supported: Vec<String>,
    },
}

impl FieldError {
    pub fn required(field: impl Into<String>, detail: Option<&str>) -> Self {
        Self {
            field: field.into(),
            kind: FieldErrorKind::Required(detail.map(str::to_owned)),
        }
    }

    pub fn invalid(
        field: impl Into<String>,
        value: impl Into<Value>,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            field: field.into(),
            kind: FieldErrorKind::Invalid {
                value: value.into(),
                detail: detail.into(),
            },
        }
    }

    pub fn not_supported(
        field: impl Into<String>,
        value: impl Into<Value>,
        supported: &[&str],
    ) -> Self {
        Self {
            field: field.into(),
            kind: FieldErrorKind::NotSupported {
                value: value.into(),
                supported: supported.iter().map(|s| (*s).to_owned()).collect(),
            },
        }
    }

    pub fn forbidden(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            kind: FieldErrorKind::Forbidden(detail.into()),
        }
    }

    /// The message without the field, e.g. `Invalid value: "x": detail`.
    pub fn body(&self) -> String {
        match &self.kind {
            FieldErrorKind::Required(None) => "Required value".to_owned(),
            FieldErrorKind::Required(Some(detail)) => format!("Required value: {detail}"),
            FieldErrorKind::Invalid { value, detail } => {
                let shown = match value {
                    Value::String(s) => format!("{s:?}"),
                    other => other.to_string(),
                };
                if detail.is_empty() {
                    format!("Invalid value: {shown}")
                } else {
                    format!("Invalid value: {shown}: {detail}")
                }
            }
            FieldErrorKind::Forbidden(detail) => format!("Forbidden: {detail}"),
            FieldErrorKind::TooLong(limit) => {
                format!("Too long: may not be more than {limit} bytes")
            }
            FieldErrorKind::NotSupported { value, supported } => {
                let supported: Vec<String> = supported.iter().map(|s| format!("{s:?}")).collect();
                format!(
                    "Unsupported value: {value}: supported values: {}",
                    supported.join(", ")
                )
            }
        }
    }

    fn reason(&self) -> &'static str {
        match self.kind {
            FieldErrorKind::Required(_) => "FieldValueRequired",
            FieldErrorKind::Invalid { .. } => "FieldValueInvalid",
            FieldErrorKind::Forbidden(_) => "FieldValueForbidden",
            FieldErrorKind::TooLong(_) => "FieldValueTooLong",
            FieldErrorKind::NotSupported { .. } => "FieldValueNotSupported",
        }
    }

    /// The `StatusCause` upstream puts in `details.causes`.
    pub fn cause(&self) -> Value {
        json!({ "reason": self.reason(), "message": self.body(), "field": self.field })
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.body())
    }
}

/// Upstream's `NewInvalid` message: `Kind "name" is invalid: <one error>` or
/// `... is invalid: [<e1>, <e2>]`.
pub fn invalid_message(kind: &str, group: &str, name: &str, errors: &[FieldError]) -> String {
    let qualified = if group.is_empty() {
        kind.to_owned()
    } else {
        format!("{kind}.{group}")
    };
    let head = format!("{qualified} {name:?} is invalid");
    match errors {
        [] => head,
        [one] => format!("{head}: {one}"),
        many => {
            let joined: Vec<String> = many.iter().map(ToString::to_string).collect();
            format!("{head}: [{}]", joined.join(", "))
        }
    }
}

/// Everything a request can fail with, each rendered as a `Status`.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    #[error("{resource} {name:?} not found")]
    NotFound {
        resource: QualifiedResource,
        name: String,
    },
    #[error("{resource} {name:?} already exists")]
    AlreadyExists {
        resource: QualifiedResource,
        name: String,
    },
    #[error("Operation cannot be fulfilled on {resource} {name:?}: {reason}")]
    Conflict {
        resource: QualifiedResource,
        name: String,
        reason: String,
    },
    /// 422, with the message already shaped (see [`invalid_message`]).
    #[error("{message}")]
    Invalid {
        kind: String,
        group: String,
        name: String,
        message: String,
        causes: Vec<Value>,
    },
    #[error("{0}")]
    BadRequest(String),
    #[error("{}", forbidden_message(resource, name, reason))]
    Forbidden {
        resource: QualifiedResource,
        name: String,
        reason: String,
    },
    #[error("too old resource version: {requested} ({oldest})")]
    Gone { requested: u64, oldest: u64 },
    #[error("{message}")]
    TooManyRequests {
        message: String,
        retry_after: Duration,
    },
    #[error("Internal error occurred: {0}")]
    Internal(String),
    #[error("the server does not allow this method on the requested resource")]
    MethodNotSupported,
    #[error("the body of the request was in an unknown format - accepted media types include: {0}")]
    UnsupportedMediaType(String),
    #[error("the server could not find the requested resource")]
    PathNotFound,
    /// A server-side apply that would take fields other managers own (409).
    #[error("{message}")]
    ApplyConflict {
        resource: QualifiedResource,
        name: String,
        message: String,
        causes: Vec<Value>,
    },
    /// Any other status code with its message (patch failures, injected faults).
    #[error("{message}")]
    Other { code: StatusCode, message: String },
}

fn forbidden_message(resource: &QualifiedResource, name: &str, reason: &str) -> String {
    if name.is_empty() {
        format!("{resource} is forbidden: {reason}")
    } else {
        format!("{resource} {name:?} is forbidden: {reason}")
    }
}

impl ApiError {
    pub fn not_found(resource: QualifiedResource, name: &str) -> Self {
        Self::NotFound {
            resource,
            name: name.to_owned(),
        }
    }

    /// The 409 a stale `resourceVersion` gets.
    pub fn stale(resource: QualifiedResource, name: &str) -> Self {
        Self::Conflict {
            resource,
            name: name.to_owned(),
            reason: "the object has been modified; please apply your changes to the latest version and try again"
                .to_owned(),
        }
    }

    pub fn invalid(kind: &str, group: &str, name: &str, errors: &[FieldError]) -> Self {
        Self::Invalid {
            kind: kind.to_owned(),
            group: group.to_owned(),
            name: name.to_owned(),
            message: invalid_message(kind, group, name, errors),
            causes: errors.iter().map(FieldError::cause).collect(),
        }
    }

    pub fn code(&self) -> StatusCode {
        match self {
            Self::NotFound { .. } | Self::PathNotFound => StatusCode::NOT_FOUND,
            Self::AlreadyExists { .. } | Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Forbidden { .. } => StatusCode::FORBIDDEN,
            Self::Gone { .. } => StatusCode::GONE,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::MethodNotSupported => StatusCode::METHOD_NOT_ALLOWED,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::ApplyConflict { .. } => StatusCode::CONFLICT,
            Self::Other { code, .. } => *code,
        }
    }

    fn reason(&self) -> &'static str {
        match self {
            Self::NotFound { .. } | Self::PathNotFound => "NotFound",
            Self::AlreadyExists { .. } => "AlreadyExists",
            Self::Conflict { .. } => "Conflict",
            Self::Invalid { .. } => "Invalid",
            Self::BadRequest(_) => "BadRequest",
            Self::Forbidden { .. } => "Forbidden",
            Self::Gone { .. } => "Expired",
            Self::TooManyRequests { .. } => "TooManyRequests",
            Self::Internal(_) => "InternalError",
            Self::MethodNotSupported => "MethodNotAllowed",
            Self::UnsupportedMediaType(_) => "UnsupportedMediaType",
            Self::ApplyConflict { .. } => "Conflict",
            Self::Other { code, .. } => reason_for_code(*code),
        }
    }

    fn details(&self) -> Option<Value> {
        let named = |resource: &QualifiedResource, name: &str| {
            let mut details = json!({ "name": name, "kind": resource.resource });
            if !resource.group.is_empty() {
                details["group"] = json!(resource.group);
            }
            details
        };
        match self {
            Self::NotFound { resource, name }
            | Self::AlreadyExists { resource, name }
            | Self::Conflict { resource, name, .. }
            | Self::Forbidden { resource, name, .. } => Some(named(resource, name)),
            Self::Invalid {
                kind,
                group,
                name,
                causes,
                ..
            } => {
                let mut details = json!({ "name": name, "kind": kind, "causes": causes });
                if !group.is_empty() {
                    details["group"] = json!(group);
                }
                Some(details)
            }
            Self::TooManyRequests { retry_after, .. } => {
                Some(json!({ "retryAfterSeconds": retry_after.as_secs().max(1) }))
            }
            Self::Internal(message) => Some(json!({ "causes": [{ "message": message }] })),
            _ => None,
        }
    }

    /// The `Status` object sent as the response body (or in a watch ERROR event).
    pub fn status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.to_string(),
            "reason": self.reason(),
            "code": self.code().as_u16(),
        });
        if let Some(details) = self.details() {
            status["details"] = details;
        }
        status
    }

    /// Seconds for the `Retry-After` header, if any.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Self::TooManyRequests { retry_after, .. } => Some(retry_after.as_secs().max(1)),
            _ => None,
        }
    }
}

/// Upstream's reason for a bare status code.
pub fn reason_for_code(code: StatusCode) -> &'static str {
    match code.as_u16() {
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        405 => "MethodNotAllowed",
        409 => "Conflict",
        410 => "Expired",
        413 => "RequestEntityTooLarge",
        415 => "UnsupportedMediaType",
        422 => "Invalid",
        429 => "TooManyRequests",
        500 => "InternalError",
        503 => "ServiceUnavailable",
        504 => "Timeout",
        _ => "",
    }
}

/// A successful `Status`, as returned by deletes that removed the object.
pub fn success_status(resource: &QualifiedResource, name: &str, uid: &str) -> Value {
    let mut details = json!({ "name": name, "kind": resource.resource, "uid": uid });
    if !resource.group.is_empty() {
        details["group"] = json!(resource.group);
    }
    json!({ "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details })
}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_names_the_qualified_resource() {
        let err = ApiError::not_found(QualifiedResource::new("apps", "deployments"), "web");
        let status = err.status();
        assert_eq!(status["message"], "deployments.apps \"web\" not found");
        assert_eq!(
            status["details"],
            json!({ "name": "web", "kind": "deployments", "group": "apps" })
        );
        assert_eq!(status["code"], 404);
    }

    #[test]
    fn stale_update_conflict_has_upstream_message() {
        let err = ApiError::stale(QualifiedResource::new("", "configmaps"), "cm");
        assert_eq!(
            err.to_string(),
            "Operation cannot be fulfilled on configmaps \"cm\": the object has been modified; please apply your changes to the latest version and try again"
        );
        assert_eq!(err.status()["reason"], "Conflict");
    }

    #[test]
    fn invalid_lists_several_causes_in_brackets() {
        let errors = [
            FieldError::required("spec.containers", None),
            FieldError::invalid("metadata.name", "A", "bad name"),
        ];
        let status = ApiError::invalid("Pod", "", "A", &errors).status();
        assert_eq!(
            status["message"],
            "Pod \"A\" is invalid: [spec.containers: Required value, metadata.name: Invalid value: \"A\": bad name]"
        );
        assert_eq!(
            status["details"]["causes"][1]["reason"],
            "FieldValueInvalid"
        );
        assert_eq!(status["details"]["kind"], "Pod");
        assert_eq!(status["code"], 422);
    }

    #[test]
    fn too_many_requests_carries_retry_after() {
        let err = ApiError::TooManyRequests {
            message: "slow down".into(),
            retry_after: Duration::from_secs(2),
        };
        assert_eq!(err.retry_after(), Some(2));
        assert_eq!(err.status()["details"]["retryAfterSeconds"], 2);
    }
}
