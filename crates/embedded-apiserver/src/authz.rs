//! The authorization step every request passes: the configured
//! [`Authorizer`], after RBAC when that is on (see [`crate::rbac`]).

use std::fmt;

/// Who asks for what, as an authorizer sees it.
#[derive(Clone)]
pub struct RequestAttributes {
    /// The bearer token from the `Authorization` header, if any. Never logged.
    pub bearer_token: Option<String>,
    pub verb: String,
    pub api_group: String,
    pub resource: String,
    pub subresource: Option<String>,
    pub namespace: Option<String>,
    pub name: Option<String>,
    /// The path of a request outside the resource API (discovery, OpenAPI,
    /// `/version`); the resource fields are then empty and the verb is the
    /// lower-case HTTP method.
    pub non_resource_path: Option<String>,
}

impl fmt::Debug for RequestAttributes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestAttributes")
            .field(
                "bearer_token",
                &self.bearer_token.as_ref().map(|_| "<redacted>"),
            )
            .field("verb", &self.verb)
            .field("api_group", &self.api_group)
            .field("resource", &self.resource)
            .field("subresource", &self.subresource)
            .field("namespace", &self.namespace)
            .field("name", &self.name)
            .field("non_resource_path", &self.non_resource_path)
            .finish()
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// Refused; the reason completes upstream's message
    /// `<resource> "<name>" is forbidden: <reason>`, e.g.
    /// `User "x" cannot get resource "pods" in API group "" in the namespace "ns"`.
    Deny(String),
}

pub trait Authorizer: Send + Sync + 'static {
    fn authorize(&self, request: &RequestAttributes) -> Decision;
}

/// The default: everything is allowed.
pub struct AllowAll;

impl Authorizer for AllowAll {
    fn authorize(&self, _request: &RequestAttributes) -> Decision {
        Decision::Allow
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_redacts_the_token() {
        let attrs = RequestAttributes {
            bearer_token: Some("s3cret".into()),
            verb: "get".into(),
            api_group: String::new(),
            resource: "pods".into(),
            subresource: None,
            namespace: Some("ns".into()),
            name: None,
            non_resource_path: None,
        };
        let shown = format!("{attrs:?}");
        assert!(!shown.contains("s3cret") && shown.contains("<redacted>"));
    }
}
