//! The `paths` of a group-version document: one path item per URL a resource
//! is served at, with the operations its verbs allow.
//!
//! kubectl reads two things here. Its field-validation verifier looks for the
//! PATCH operation whose `x-kubernetes-group-version-kind` names the kind and
//! checks that the operation takes the `fieldValidation` query parameter; if it
//! does, kubectl leaves validation to the server (`?fieldValidation=Strict`).
//! Client-side apply computes a strategic merge patch from the component
//! schemas only when the PATCH request body accepts
//! `application/strategic-merge-patch+json`, which custom resources do not.
//! `kubectl explain` finds a resource's kind through the GVK of its operations.

use super::{SCHEMA_REF_PREFIX, builtin};
use crate::resource::ResourceInfo;
use serde_json::{Map, Value, json};

const JSON: &str = "application/json";
const YAML: &str = "application/yaml";
const JSON_PATCH: &str = "application/json-patch+json";
const MERGE_PATCH: &str = "application/merge-patch+json";
const STRATEGIC_MERGE_PATCH: &str = "application/strategic-merge-patch+json";
const APPLY_PATCH: &str = "application/apply-patch+yaml";

/// A served resource together with the component schemas of its kind and list.
pub(super) struct Endpoint<'a> {
    pub(super) resource: &'a ResourceInfo,
    pub(super) kind_schema: &'a str,
    pub(super) list_schema: &'a str,
}

/// Which of the standard operations a path item carries.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Action {
    List,
    Create,
    DeleteCollection,
    Read,
    Replace,
    Patch,
    Delete,
}

impl Action {
    /// The discovery verb that enables the action.
    fn verb(self) -> &'static str {
        match self {
            Action::List => "list",
            Action::Create => "create",
            Action::DeleteCollection => "deletecollection",
            Action::Read => "get",
            Action::Replace => "update",
            Action::Patch => "patch",
            Action::Delete => "delete",
        }
    }

    fn method(self) -> &'static str {
        match self {
            Action::List | Action::Read => "get",
            Action::Create => "post",
            Action::DeleteCollection | Action::Delete => "delete",
            Action::Replace => "put",
            Action::Patch => "patch",
        }
    }

    /// The value of `x-kubernetes-action`.
    fn kubernetes_action(self) -> &'static str {
        match self {
            Action::List => "list",
            Action::Create => "post",
            Action::DeleteCollection => "deletecollection",
            Action::Read => "get",
            Action::Replace => "put",
            Action::Patch => "patch",
            Action::Delete => "delete",
        }
    }

    /// The verb in `operationId`, e.g. `patch` in `patchAppsV1NamespacedDeployment`.
    fn operation_verb(self) -> &'static str {
        match self {
            Action::List => "list",
            Action::Create => "create",
            Action::DeleteCollection => "deleteCollection",
            Action::Read => "read",
            Action::Replace => "replace",
            Action::Patch => "patch",
            Action::Delete => "delete",
        }
    }
}

/// The URL prefix of a group-version, `/api/v1` or `/apis/<group>/<version>`.
pub(super) fn url_prefix(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("/api/{version}")
    } else {
        format!("/apis/{group}/{version}")
    }
}

/// All path items of one resource, keyed by path template.
pub(super) fn resource_paths(endpoint: &Endpoint) -> Vec<(String, Value)> {
    let resource = endpoint.resource;
    let prefix = url_prefix(&resource.group, &resource.version);
    let collection = if resource.namespaced {
        format!("{prefix}/namespaces/{{namespace}}/{}", resource.plural)
    } else {
        format!("{prefix}/{}", resource.plural)
    };
    let item = format!("{collection}/{{name}}");
    let scope_parameters = |with_name: bool| {
        let mut parameters = Vec::new();
        if with_name {
            parameters.push(path_parameter(
                "name",
                &format!("name of the {}", resource.kind),
            ));
        }
        if resource.namespaced {
            parameters.push(path_parameter(
                "namespace",
                "object name and auth scope, such as for teams and projects",
            ));
        }
        parameters.push(PRETTY.parameter());
        Value::Array(parameters)
    };

    let mut paths = Vec::new();
    let mut push = |path: String,
                    actions: &[Action],
                    subresource: Option<&str>,
                    parameters: Value,
                    all_namespaces: bool| {
        let mut path_item = Map::new();
        for &action in actions {
            if resource.verbs.iter().any(|verb| verb == action.verb()) {
                path_item.insert(
                    action.method().into(),
                    operation(endpoint, action, subresource, all_namespaces),
                );
            }
        }
        if !path_item.is_empty() {
            path_item.insert("parameters".into(), parameters);
            paths.push((path, Value::Object(path_item)));
        }
    };

    push(
        collection,
        &[Action::List, Action::Create, Action::DeleteCollection],
        None,
        scope_parameters(false),
        false,
    );
    push(
        item.clone(),
        &[Action::Read, Action::Replace, Action::Patch, Action::Delete],
        None,
        scope_parameters(true),
        false,
    );
    if resource.status_subresource {
        push(
            format!("{item}/status"),
            &[Action::Read, Action::Replace, Action::Patch],
            Some("Status"),
            scope_parameters(true),
            false,
        );
    }
    if resource.namespaced {
        push(
            format!("{prefix}/{}", resource.plural),
            &[Action::List],
            None,
            json!([PRETTY.parameter()]),
            true,
        );
    }
    paths
}

fn operation(
    endpoint: &Endpoint,
    action: Action,
    subresource: Option<&str>,
    all_namespaces: bool,
) -> Value {
    let resource = endpoint.resource;
    let kind = &resource.kind;
    let scope = if resource.namespaced && !all_namespaces {
        "Namespaced"
    } else {
        ""
    };
    let suffix = match (subresource, all_namespaces) {
        (Some(subresource), _) => subresource.to_owned(),
        (None, true) => "ForAllNamespaces".to_owned(),
        (None, false) => String::new(),
    };
    let operation_id = format!(
        "{}{}{scope}{kind}{suffix}",
        action.operation_verb(),
        operation_group_version(&resource.group, &resource.version)
    );
    let object = schema_ref(endpoint.kind_schema);
    let target = match subresource {
        Some(subresource) => format!("{} of the specified {kind}", subresource.to_lowercase()),
        None => format!("the specified {kind}"),
    };
    let (description, parameters, body, responses) = match action {
        Action::List => (
            format!("list or watch objects of kind {kind}"),
            LIST_PARAMETERS,
            None,
            responses(&[("200", "OK", schema_ref(endpoint.list_schema))]),
        ),
        Action::Create => (
            format!("create a {kind}"),
            WRITE_PARAMETERS,
            Some(request_body(&[JSON, YAML], &object)),
            responses(&[
                ("200", "OK", object.clone()),
                ("201", "Created", object.clone()),
                ("202", "Accepted", object.clone()),
            ]),
        ),
        Action::DeleteCollection => (
            format!("delete collection of {kind}"),
            DELETE_COLLECTION_PARAMETERS,
            Some(request_body(
                &[JSON, YAML],
                &schema_ref(builtin::DELETE_OPTIONS),
            )),
            responses(&[("200", "OK", schema_ref(builtin::STATUS))]),
        ),
        Action::Read => (
            format!("read {target}"),
            &[][..],
            None,
            responses(&[("200", "OK", object.clone())]),
        ),
        Action::Replace => (
            format!("replace {target}"),
            WRITE_PARAMETERS,
            Some(request_body(&[JSON, YAML], &object)),
            responses(&[
                ("200", "OK", object.clone()),
                ("201", "Created", object.clone()),
            ]),
        ),
        Action::Patch => {
            let content_types: &[&str] = if resource.custom {
                &[JSON_PATCH, MERGE_PATCH, APPLY_PATCH]
            } else {
                &[JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH, APPLY_PATCH]
            };
            (
                format!("partially update {target}"),
                PATCH_PARAMETERS,
                Some(request_body(content_types, &schema_ref(builtin::PATCH))),
                responses(&[
                    ("200", "OK", object.clone()),
                    ("201", "Created", object.clone()),
                ]),
            )
        }
        Action::Delete => (
            format!("delete a {kind}"),
            DELETE_PARAMETERS,
            Some(request_body(
                &[JSON, YAML],
                &schema_ref(builtin::DELETE_OPTIONS),
            )),
            responses(&[
                ("200", "OK", schema_ref(builtin::STATUS)),
                ("202", "Accepted", schema_ref(builtin::STATUS)),
            ]),
        ),
    };
    let mut operation = json!({
        "tags": [tag(&resource.group, &resource.version)],
        "description": description,
        "operationId": operation_id,
        "responses": responses,
        "x-kubernetes-action": action.kubernetes_action(),
        "x-kubernetes-group-version-kind": super::gvk_extension_entry(&resource.group, &resource.version, kind),
    });
    if !parameters.is_empty() {
        operation["parameters"] = parameters.iter().map(QueryParameter::parameter).collect();
    }
    if let Some(body) = body {
        operation["requestBody"] = body;
    }
    operation
}

fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("{SCHEMA_REF_PREFIX}{name}") })
}

fn request_body(content_types: &[&str], schema: &Value) -> Value {
    let content: Map<String, Value> = content_types
        .iter()
        .map(|&t| (t.to_owned(), json!({ "schema": schema })))
        .collect();
    json!({ "content": content, "required": true })
}

fn responses(entries: &[(&str, &str, Value)]) -> Value {
    let mut responses: Map<String, Value> = entries
        .iter()
        .map(|(code, description, schema)| {
            let content: Map<String, Value> = [JSON, YAML]
                .iter()
                .map(|&t| (t.to_owned(), json!({ "schema": schema })))
                .collect();
            (
                (*code).to_owned(),
                json!({ "description": description, "content": content }),
            )
        })
        .collect();
    responses.insert("401".into(), json!({ "description": "Unauthorized" }));
    Value::Object(responses)
}

fn path_parameter(name: &str, description: &str) -> Value {
    json!({ "name": name, "in": "path", "description": description, "required": true, "schema": { "type": "string", "uniqueItems": true } })
}

/// A query parameter an operation accepts.
struct QueryParameter {
    name: &'static str,
    description: &'static str,
    type_: &'static str,
}

impl QueryParameter {
    fn parameter(&self) -> Value {
        json!({ "name": self.name, "in": "query", "description": self.description, "schema": { "type": self.type_, "uniqueItems": true } })
    }
}

const fn query(
    name: &'static str,
    type_: &'static str,
    description: &'static str,
) -> QueryParameter {
    QueryParameter {
        name,
        description,
        type_,
    }
}

const PRETTY: QueryParameter = query(
    "pretty",
    "string",
    "If 'true', then the output is pretty printed.",
);
const DRY_RUN: QueryParameter = query(
    "dryRun",
    "string",
    "When present, indicates that modifications should not be persisted. Valid values are: - All: all dry run stages will be processed",
);
const FIELD_MANAGER: QueryParameter = query(
    "fieldManager",
    "string",
    "fieldManager is a name associated with the actor or entity that is making these changes.",
);
const FIELD_VALIDATION: QueryParameter = query(
    "fieldValidation",
    "string",
    "fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: - Ignore: unknown fields are dropped silently. - Warn: unknown fields are dropped and reported as warnings. - Strict: the request fails with a BadRequest error naming every unknown or duplicate field.",
);
const FORCE: QueryParameter = query(
    "force",
    "boolean",
    "Force is going to \"force\" Apply requests. It means user will re-acquire conflicting fields owned by other people. Force flag must be unset for non-apply patch requests.",
);
const GRACE_PERIOD_SECONDS: QueryParameter = query(
    "gracePeriodSeconds",
    "integer",
    "The duration in seconds before the object should be deleted.",
);
const PROPAGATION_POLICY: QueryParameter = query(
    "propagationPolicy",
    "string",
    "Whether and how garbage collection will be performed: 'Orphan', 'Background' or 'Foreground'.",
);
const ORPHAN_DEPENDENTS: QueryParameter = query(
    "orphanDependents",
    "boolean",
    "Deprecated: please use the PropagationPolicy.",
);
const ALLOW_WATCH_BOOKMARKS: QueryParameter = query(
    "allowWatchBookmarks",
    "boolean",
    "allowWatchBookmarks requests watch events with type \"BOOKMARK\".",
);
const CONTINUE: QueryParameter = query(
    "continue",
    "string",
    "The continue option should be set when retrieving more results from the server.",
);
const FIELD_SELECTOR: QueryParameter = query(
    "fieldSelector",
    "string",
    "A selector to restrict the list of returned objects by their fields. Defaults to everything.",
);
const LABEL_SELECTOR: QueryParameter = query(
    "labelSelector",
    "string",
    "A selector to restrict the list of returned objects by their labels. Defaults to everything.",
);
const LIMIT: QueryParameter = query(
    "limit",
    "integer",
    "limit is a maximum number of responses to return for a list call.",
);
const RESOURCE_VERSION: QueryParameter = query(
    "resourceVersion",
    "string",
    "resourceVersion sets a constraint on what resource versions a request may be served from.",
);
const RESOURCE_VERSION_MATCH: QueryParameter = query(
    "resourceVersionMatch",
    "string",
    "resourceVersionMatch determines how resourceVersion is applied to list calls.",
);
const SEND_INITIAL_EVENTS: QueryParameter = query(
    "sendInitialEvents",
    "boolean",
    "`sendInitialEvents=true` may be set together with `watch=true`.",
);
const TIMEOUT_SECONDS: QueryParameter = query(
    "timeoutSeconds",
    "integer",
    "Timeout for the list/watch call.",
);
const WATCH: QueryParameter = query(
    "watch",
    "boolean",
    "Watch for changes to the described resources and return them as a stream of add, update, and remove notifications.",
);

const LIST_PARAMETERS: &[QueryParameter] = &[
    ALLOW_WATCH_BOOKMARKS,
    CONTINUE,
    FIELD_SELECTOR,
    LABEL_SELECTOR,
    LIMIT,
    RESOURCE_VERSION,
    RESOURCE_VERSION_MATCH,
    SEND_INITIAL_EVENTS,
    TIMEOUT_SECONDS,
    WATCH,
];
const WRITE_PARAMETERS: &[QueryParameter] = &[DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION];
const PATCH_PARAMETERS: &[QueryParameter] = &[DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION, FORCE];
const DELETE_PARAMETERS: &[QueryParameter] = &[
    DRY_RUN,
    GRACE_PERIOD_SECONDS,
    ORPHAN_DEPENDENTS,
    PROPAGATION_POLICY,
];
const DELETE_COLLECTION_PARAMETERS: &[QueryParameter] = &[
    CONTINUE,
    DRY_RUN,
    FIELD_SELECTOR,
    GRACE_PERIOD_SECONDS,
    LABEL_SELECTOR,
    LIMIT,
    ORPHAN_DEPENDENTS,
    PROPAGATION_POLICY,
    RESOURCE_VERSION,
    RESOURCE_VERSION_MATCH,
    SEND_INITIAL_EVENTS,
    TIMEOUT_SECONDS,
];

/// The tag of a group-version's operations, e.g. `apps_v1`, `core_v1`.
fn tag(group: &str, version: &str) -> String {
    let group = if group.is_empty() {
        "core"
    } else {
        group.trim_end_matches(".k8s.io")
    };
    format!("{}_{version}", group.replace(['.', '-'], "_"))
}

/// The group-version part of an `operationId`, e.g. `AppsV1`,
/// `RbacAuthorizationV1`, `CoreV1`.
fn operation_group_version(group: &str, version: &str) -> String {
    let group = if group.is_empty() {
        "core"
    } else {
        group.trim_end_matches(".k8s.io")
    };
    group
        .split(['.', '-'])
        .chain([version])
        .map(capitalize)
        .collect()
}

fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_ids_follow_kube_apiserver_naming() {
        assert_eq!(operation_group_version("", "v1"), "CoreV1");
        assert_eq!(
            operation_group_version("rbac.authorization.k8s.io", "v1"),
            "RbacAuthorizationV1"
        );
        assert_eq!(
            operation_group_version("gastown.io", "v1alpha1"),
            "GastownIoV1alpha1"
        );
        assert_eq!(tag("apps", "v1"), "apps_v1");
    }
}
