//! What a request path asks for, parsed like upstream's `RequestInfoFactory`.

use http::Method;

/// A request for a resource (as opposed to discovery or OpenAPI).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourcePath {
    pub group: String,
    pub version: String,
    pub namespace: Option<String>,
    pub resource: String,
    pub name: Option<String>,
    pub subresource: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    Version,
    Health,
    /// `/api`
    CoreVersions,
    /// `/apis`
    Groups,
    /// `/apis/<group>`
    Group(String),
    /// `/api/v1` or `/apis/<group>/<version>`
    GroupVersion(String, String),
    OpenApiV2,
    OpenApiV3Index,
    /// `/openapi/v3/api/v1` or `/openapi/v3/apis/<group>/<version>`
    OpenApiV3(String, String),
    Resource(ResourcePath),
    Unknown,
}

/// Parses a request path (without query).
pub fn route(path: &str) -> Route {
    let parts: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .filter(|p| !p.is_empty())
        .collect();
    match parts.as_slice() {
        ["version"] => Route::Version,
        ["healthz" | "readyz" | "livez", ..] => Route::Health,
        ["api"] => Route::CoreVersions,
        ["apis"] => Route::Groups,
        ["apis", group] => Route::Group((*group).to_owned()),
        ["api", version] => Route::GroupVersion(String::new(), (*version).to_owned()),
        ["apis", group, version] => Route::GroupVersion((*group).to_owned(), (*version).to_owned()),
        ["openapi", "v2"] | ["swagger.json"] => Route::OpenApiV2,
        ["openapi", "v3"] => Route::OpenApiV3Index,
        ["openapi", "v3", "api", version] => Route::OpenApiV3(String::new(), (*version).to_owned()),
        ["openapi", "v3", "apis", group, version] => {
            Route::OpenApiV3((*group).to_owned(), (*version).to_owned())
        }
        ["api", version, rest @ ..] => resource_route("", version, rest),
        ["apis", group, version, rest @ ..] => resource_route(group, version, rest),
        _ => Route::Unknown,
    }
}

fn resource_route(group: &str, version: &str, rest: &[&str]) -> Route {
    let (namespace, rest) = match rest {
        // `/namespaces/<ns>/<resource>...` — but `/namespaces/<name>[/<sub>]` is the namespace itself.
        ["namespaces", ns, resource, more @ ..]
            if !(group.is_empty() && matches!(*resource, "status" | "finalize")) =>
        {
            (Some((*ns).to_owned()), [&[*resource][..], more].concat())
        }
        _ => (None, rest.to_vec()),
    };
    let owned = |s: Option<&&str>| s.map(|s| (*s).to_owned());
    match rest.as_slice() {
        [resource] | [resource, _] | [resource, _, _] => Route::Resource(ResourcePath {
            group: group.to_owned(),
            version: version.to_owned(),
            namespace,
            resource: (*resource).to_owned(),
            name: owned(rest.get(1)),
            subresource: owned(rest.get(2)),
        }),
        _ => Route::Unknown,
    }
}

/// The Kubernetes verb for a method on a path.
pub fn verb(method: &Method, path: &ResourcePath, watch: bool) -> &'static str {
    match (method.as_str(), path.name.is_some()) {
        ("GET" | "HEAD", true) if watch => "watch",
        ("GET" | "HEAD", true) => "get",
        ("GET" | "HEAD", false) if watch => "watch",
        ("GET" | "HEAD", false) => "list",
        ("POST", _) => "create",
        ("PUT", _) => "update",
        ("PATCH", _) => "patch",
        ("DELETE", true) => "delete",
        ("DELETE", false) => "deletecollection",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resource(path: &str) -> ResourcePath {
        match route(path) {
            Route::Resource(r) => r,
            other => panic!("{path} routed to {other:?}"),
        }
    }

    #[test]
    fn discovery_paths() {
        assert_eq!(route("/api"), Route::CoreVersions);
        assert_eq!(
            route("/api/v1"),
            Route::GroupVersion(String::new(), "v1".into())
        );
        assert_eq!(
            route("/apis/apps/v1"),
            Route::GroupVersion("apps".into(), "v1".into())
        );
        assert_eq!(
            route("/openapi/v3/apis/apps/v1"),
            Route::OpenApiV3("apps".into(), "v1".into())
        );
        assert_eq!(route("/nonsense/x"), Route::Unknown);
    }

    #[test]
    fn namespaced_and_cluster_resources() {
        let pod = resource("/api/v1/namespaces/ns/pods/web/status");
        assert_eq!(
            (
                pod.namespace.as_deref(),
                pod.resource.as_str(),
                pod.name.as_deref(),
                pod.subresource.as_deref()
            ),
            (Some("ns"), "pods", Some("web"), Some("status"))
        );
        let ns = resource("/api/v1/namespaces/ns");
        assert_eq!(
            (ns.namespace, ns.resource.as_str(), ns.name.as_deref()),
            (None, "namespaces", Some("ns"))
        );
        let ns_status = resource("/api/v1/namespaces/ns/status");
        assert_eq!(
            (ns_status.name.as_deref(), ns_status.subresource.as_deref()),
            (Some("ns"), Some("status"))
        );
        let all = resource("/apis/apps/v1/deployments");
        assert_eq!(
            (all.group.as_str(), all.namespace, all.name),
            ("apps", None, None)
        );
        let crds = resource("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/a.b");
        assert_eq!(crds.name.as_deref(), Some("a.b"));
    }

    #[test]
    fn verbs_follow_method_and_name() {
        let named = resource("/api/v1/namespaces/ns/pods/p");
        let collection = resource("/api/v1/namespaces/ns/pods");
        assert_eq!(verb(&Method::GET, &collection, true), "watch");
        assert_eq!(verb(&Method::GET, &collection, false), "list");
        assert_eq!(verb(&Method::GET, &named, false), "get");
        assert_eq!(
            verb(&Method::DELETE, &collection, false),
            "deletecollection"
        );
        assert_eq!(verb(&Method::PATCH, &named, false), "patch");
    }
}
