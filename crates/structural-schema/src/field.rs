//! Field-level validation errors, rendered exactly like apimachinery's
//! `k8s.io/apimachinery/pkg/util/validation/field` package (Kubernetes 1.33).

use std::fmt;

use serde_json::{Value, json};

use crate::gofmt;

/// Why a field is invalid; mirrors `field.ErrorType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorType {
    Required,
    Invalid,
    NotSupported,
    Duplicate,
    TooLong,
    TooMany,
    Forbidden,
    TypeInvalid,
    Internal,
}

impl ErrorType {
    /// The machine-readable cause type (`StatusCause.reason`).
    pub fn reason(self) -> &'static str {
        match self {
            ErrorType::Required => "FieldValueRequired",
            ErrorType::Invalid => "FieldValueInvalid",
            ErrorType::NotSupported => "FieldValueNotSupported",
            ErrorType::Duplicate => "FieldValueDuplicate",
            ErrorType::TooLong => "FieldValueTooLong",
            ErrorType::TooMany => "FieldValueTooMany",
            ErrorType::Forbidden => "FieldValueForbidden",
            ErrorType::TypeInvalid => "FieldValueTypeInvalid",
            ErrorType::Internal => "InternalError",
        }
    }

    /// The human-readable prefix of the error body.
    pub fn label(self) -> &'static str {
        match self {
            ErrorType::Required => "Required value",
            ErrorType::Invalid | ErrorType::TypeInvalid => "Invalid value",
            ErrorType::NotSupported => "Unsupported value",
            ErrorType::Duplicate => "Duplicate value",
            ErrorType::TooLong => "Too long",
            ErrorType::TooMany => "Too many",
            ErrorType::Forbidden => "Forbidden",
            ErrorType::Internal => "Internal error",
        }
    }

    /// Types whose body never shows the bad value.
    fn omits_value(self) -> bool {
        matches!(
            self,
            ErrorType::Required | ErrorType::Forbidden | ErrorType::TooLong | ErrorType::Internal
        )
    }
}

/// One invalid field, as `field.Error`.
///
/// `bad_value: None` stands for Go's "omitted value"; `Some(Value::Null)` is
/// printed as the string `"null"` like Go prints a nil interface.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldError {
    pub field: String,
    pub error_type: ErrorType,
    pub bad_value: Option<Value>,
    pub detail: String,
}

impl FieldError {
    pub fn new(
        error_type: ErrorType,
        field: impl Into<String>,
        bad_value: Option<Value>,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            field: field.into(),
            error_type,
            bad_value,
            detail: detail.into(),
        }
    }

    pub fn required(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(ErrorType::Required, field, Some(json!("")), detail)
    }

    pub fn invalid(field: impl Into<String>, bad_value: Value, detail: impl Into<String>) -> Self {
        Self::new(ErrorType::Invalid, field, Some(bad_value), detail)
    }

    pub fn type_invalid(
        field: impl Into<String>,
        bad_value: Value,
        detail: impl Into<String>,
    ) -> Self {
        Self::new(ErrorType::TypeInvalid, field, Some(bad_value), detail)
    }

    pub fn forbidden(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(ErrorType::Forbidden, field, Some(json!("")), detail)
    }

    pub fn duplicate(field: impl Into<String>, bad_value: Value) -> Self {
        Self::new(ErrorType::Duplicate, field, Some(bad_value), "")
    }

    /// `field.NotSupported`: the detail lists the quoted supported values.
    pub fn not_supported(field: impl Into<String>, bad_value: Value, supported: &[String]) -> Self {
        let detail = if supported.is_empty() {
            String::new()
        } else {
            let quoted: Vec<String> = supported.iter().map(|s| gofmt::quote(s)).collect();
            format!("supported values: {}", quoted.join(", "))
        };
        Self::new(ErrorType::NotSupported, field, Some(bad_value), detail)
    }

    /// `field.TooLong` (1.33 says "bytes" even where runes were counted).
    pub fn too_long(field: impl Into<String>, max_length: i64) -> Self {
        let detail = if max_length >= 0 {
            format!("may not be more than {max_length} bytes")
        } else {
            "value is too long".to_string()
        };
        Self::new(
            ErrorType::TooLong,
            field,
            Some(json!("<value omitted>")),
            detail,
        )
    }

    /// `field.TooMany`.
    pub fn too_many(field: impl Into<String>, actual: i64, max: i64) -> Self {
        let detail = if max >= 0 {
            format!("must have at most {max} items")
        } else {
            "has too many items".to_string()
        };
        let bad_value = (actual >= 0).then(|| json!(actual));
        Self::new(ErrorType::TooMany, field, bad_value, detail)
    }

    pub fn internal(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(ErrorType::Internal, field, None, detail)
    }

    /// `ErrorBody()`: the message without the field name, as used in
    /// `StatusCause.message`.
    pub fn body(&self) -> String {
        let label = self.error_type.label();
        let mut body = match &self.bad_value {
            _ if self.error_type.omits_value() => label.to_string(),
            None => label.to_string(),
            Some(Value::String(s)) => format!("{label}: {}", gofmt::quote(s)),
            Some(Value::Null) => format!("{label}: \"null\""),
            Some(Value::Number(n)) => format!("{label}: {}", gofmt::number(n)),
            Some(Value::Bool(b)) => format!("{label}: {b}"),
            Some(v) => format!("{label}: {}", gofmt::go_syntax(v)),
        };
        if !self.detail.is_empty() {
            body.push_str(": ");
            body.push_str(&self.detail);
        }
        body
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.body())
    }
}

impl std::error::Error for FieldError {}

/// An ordered list of field errors (`field.ErrorList`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FieldErrors(Vec<FieldError>);

impl FieldErrors {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, error: FieldError) {
        self.0.push(error);
    }

    pub fn extend(&mut self, errors: impl IntoIterator<Item = FieldError>) {
        self.0.extend(errors);
    }

    pub fn iter(&self) -> std::slice::Iter<'_, FieldError> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn into_vec(self) -> Vec<FieldError> {
        self.0
    }

    pub fn as_slice(&self) -> &[FieldError] {
        &self.0
    }

    /// The messages of the distinct errors, in order (`ToAggregate` drops
    /// errors whose message was already seen).
    fn distinct_messages(&self) -> Vec<String> {
        let mut seen = std::collections::HashSet::new();
        self.0
            .iter()
            .map(ToString::to_string)
            .filter(|m| seen.insert(m.clone()))
            .collect()
    }

    /// kube-apiserver's `Status.message` for a 422 Invalid response, e.g.
    /// `GasTown.gastown.io "x" is invalid: spec.port: Invalid value: ...`.
    pub fn invalid_message(&self, qualified_kind: &str, name: &str) -> String {
        let head = format!("{qualified_kind} {} is invalid", gofmt::quote(name));
        if self.0.is_empty() {
            head
        } else {
            format!("{head}: {self}")
        }
    }

    /// `Status.details.causes` for a 422 Invalid response.
    pub fn status_causes(&self) -> Vec<Value> {
        self.0
            .iter()
            .map(|e| {
                let mut cause = serde_json::Map::new();
                cause.insert("reason".into(), json!(e.error_type.reason()));
                let body = e.body();
                if !body.is_empty() {
                    cause.insert("message".into(), json!(body));
                }
                if !e.field.is_empty() {
                    cause.insert("field".into(), json!(e.field));
                }
                Value::Object(cause)
            })
            .collect()
    }
}

/// The aggregate form: one error alone, several as `[e1, e2]`.
impl fmt::Display for FieldErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let messages = self.distinct_messages();
        match messages.as_slice() {
            [] => Ok(()),
            [one] => f.write_str(one),
            many => write!(f, "[{}]", many.join(", ")),
        }
    }
}

impl std::error::Error for FieldErrors {}

impl From<Vec<FieldError>> for FieldErrors {
    fn from(errors: Vec<FieldError>) -> Self {
        Self(errors)
    }
}

impl FromIterator<FieldError> for FieldErrors {
    fn from_iter<I: IntoIterator<Item = FieldError>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

impl IntoIterator for FieldErrors {
    type Item = FieldError;
    type IntoIter = std::vec::IntoIter<FieldError>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a FieldErrors {
    type Item = &'a FieldError;
    type IntoIter = std::slice::Iter<'a, FieldError>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl std::ops::Index<usize> for FieldErrors {
    type Output = FieldError;

    fn index(&self, index: usize) -> &FieldError {
        &self.0[index]
    }
}
