//! The HTTP face of the server: routing, query parameters, content
//! negotiation (JSON, Table), and one handler per verb.

use crate::authz::{Decision, RequestAttributes};
use crate::cluster::{Subresource, WriteOptions};
use crate::discovery;
use crate::errors::{ApiError, ApiResult};
use crate::events;
use crate::metadata_only;
use crate::openapi;
use crate::ordered::Ordered;
use crate::patch::{self, PatchType};
use crate::protobuf;
use crate::rbac::{self, UserInfo};
use crate::registry::Served;
use crate::request::{self, ResourcePath, Route};
use crate::selector::{FieldSelector, LabelSelector};
use crate::server::AppState;
use crate::store::{ObjectKey, Since};
use crate::subresources::{self, SubresourceRequest};
use crate::table::{self, IncludeObject};
use crate::tokens;
use crate::watch::{self, WatchRequest};

pub(crate) mod pod_subresources;
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode, header};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

mod deletes;

/// Largest request body accepted (upstream's limit is 3 MiB per object; lists of them are bigger).
const MAX_BODY: usize = 64 * 1024 * 1024;
/// Watches without `timeoutSeconds` end after this long, like upstream's default.
const DEFAULT_WATCH_TIMEOUT: Duration = Duration::from_secs(1800);

pub(crate) fn router(app: Arc<AppState>) -> Router {
    Router::new().fallback(handle).with_state(app)
}

/// Query parameters, last value wins.
struct Query(HashMap<String, String>);

impl Query {
    fn parse(query: Option<&str>) -> Self {
        Query(
            form_urlencoded::parse(query.unwrap_or_default().as_bytes())
                .into_owned()
                .collect(),
        )
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    fn flag(&self, key: &str) -> bool {
        matches!(self.get(key), Some("true" | "1"))
    }

    fn write_options(
        &self,
        app: &AppState,
        headers: &HeaderMap,
        requester: Option<&Arc<UserInfo>>,
    ) -> WriteOptions {
        let user_agent = headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok());
        WriteOptions {
            dry_run: self.get("dryRun") == Some("All"),
            field_manager: self.get("fieldManager").map(str::to_owned),
            user_agent: user_agent.unwrap_or_default().to_owned(),
            strict: self.get("fieldValidation") == Some("Strict"),
            requester: requester.cloned(),
            owner_references: app
                .rbac
                .as_ref()
                .and_then(|rbac| rbac.owner_references_admission()),
        }
    }
}

pub(crate) fn json_response(code: StatusCode, body: &impl serde::Serialize) -> Response {
    let bytes = serde_json::to_vec(body).expect("responses serialize");
    (code, [(header::CONTENT_TYPE, "application/json")], bytes).into_response()
}

fn error_response(error: &ApiError) -> Response {
    let mut response = json_response(error.code(), &error.status());
    if let Some(seconds) = error.retry_after() {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, seconds.into());
    }
    response
}

fn reply(result: ApiResult<Response>) -> Response {
    result.unwrap_or_else(|error| error_response(&error))
}

async fn handle(State(app): State<Arc<AppState>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let query = Query::parse(parts.uri.query());
    let user = match rbac::authenticate(&app, &parts.headers) {
        Ok(user) => user,
        Err(error) => return error_response(&error),
    };
    match request::route(parts.uri.path()) {
        Route::Resource(path) => {
            let body = match axum::body::to_bytes(body, MAX_BODY).await {
                Ok(body) => body,
                Err(e) => {
                    return error_response(&ApiError::BadRequest(format!(
                        "reading request body: {e}"
                    )));
                }
            };
            let request = ResourceRequest {
                user: user.as_ref(),
                method: &parts.method,
                headers: &parts.headers,
                query: &query,
            };
            let result = resource_request(&app, request, path, body).await;
            if let Err(error @ ApiError::Forbidden { .. }) = &result {
                rbac::record_refusal(&app, error);
            }
            reply(result)
        }
        other => {
            let attributes = RequestAttributes {
                bearer_token: bearer_token(&parts.headers),
                verb: parts.method.as_str().to_lowercase(),
                api_group: String::new(),
                resource: String::new(),
                subresource: None,
                namespace: None,
                name: None,
                non_resource_path: Some(parts.uri.path().to_owned()),
            };
            if let Decision::Deny(reason) =
                rbac::authorize_request(&app, user.as_deref(), &attributes)
            {
                let error = ApiError::Other {
                    code: StatusCode::FORBIDDEN,
                    message: format!("forbidden: {reason}"),
                };
                rbac::record_refusal(&app, &error);
                return error_response(&error);
            }
            reply(non_resource(&app, other, &parts.headers))
        }
    }
}

fn non_resource(app: &AppState, route: Route, headers: &HeaderMap) -> ApiResult<Response> {
    let ok = |v: Value| Ok(json_response(StatusCode::OK, &v));
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if matches!(route, Route::CoreVersions | Route::Groups) && discovery::v2::requested(accept) {
        let list = discovery::v2::list(&app.cluster.lock().registry, route == Route::CoreVersions);
        let body = serde_json::to_vec(&list).expect("discovery serializes");
        let headers = [
            (header::CONTENT_TYPE, discovery::v2::CONTENT_TYPE),
            (header::VARY, "Accept"),
        ];
        return Ok((StatusCode::OK, headers, body).into_response());
    }
    match route {
        Route::Version => return ok(discovery::version()),
        Route::Health => return Ok((StatusCode::OK, "ok").into_response()),
        Route::CoreVersions => return ok(discovery::core_versions(&app.address)),
        _ => {}
    }
    // OpenAPI documents take a while to build: only a snapshot is taken under the lock.
    let infos = {
        let cluster = app.cluster.lock();
        let registry = &cluster.registry;
        match route {
            Route::Groups => return ok(discovery::group_list(registry)),
            Route::Group(group) => {
                return discovery::group(registry, &group).map_or(Err(ApiError::PathNotFound), ok);
            }
            Route::GroupVersion(group, version) => {
                return discovery::resource_list(registry, &group, &version)
                    .map_or(Err(ApiError::PathNotFound), ok);
            }
            _ => registry.infos(),
        }
    };
    match route {
        Route::OpenApiV2 => {
            if openapi::v2_protobuf_requested(accept) {
                let body = openapi::v2_protobuf(&infos);
                return Ok((
                    [(header::CONTENT_TYPE, openapi::V2_PROTOBUF_CONTENT_TYPE)],
                    body,
                )
                    .into_response());
            }
            ok(openapi::v2(&infos))
        }
        Route::OpenApiV3Index => ok(openapi::v3_index(&infos)),
        Route::OpenApiV3(group, version) => openapi::v3_group_version(&group, &version, &infos)
            .map_or(Err(ApiError::PathNotFound), ok),
        _ => Err(ApiError::PathNotFound),
    }
}

fn bearer_token(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    value.strip_prefix("Bearer ").map(|t| t.trim().to_owned())
}

/// What a resource request carries besides its path and body.
struct ResourceRequest<'a> {
    /// Who sends it, when RBAC is on.
    user: Option<&'a Arc<UserInfo>>,
    method: &'a Method,
    headers: &'a HeaderMap,
    query: &'a Query,
}

/// The name a list or watch is narrowed to by `fieldSelector=metadata.name=<name>`,
/// which upstream authorizes like a request for that name.
fn selected_name(query: &Query) -> Option<String> {
    query.get("fieldSelector")?.split(',').find_map(|term| {
        let (field, value) = term.split_once("==").or_else(|| term.split_once('='))?;
        (field.trim() == "metadata.name" && !value.trim().is_empty())
            .then(|| value.trim().to_owned())
    })
}

async fn resource_request(
    app: &Arc<AppState>,
    request: ResourceRequest<'_>,
    path: ResourcePath,
    body: Bytes,
) -> ApiResult<Response> {
    let ResourceRequest {
        user,
        method,
        headers,
        query,
    } = request;
    let verb = request::verb(method, &path, query.flag("watch"));
    let resource_label = match &path.subresource {
        Some(sub) => format!("{}/{sub}", path.resource),
        None => path.resource.clone(),
    };
    app.requests.record(verb, &resource_label);

    let served = app
        .cluster
        .lock()
        .registry
        .find(&path.group, &path.version, &path.resource);
    let served = served.ok_or(ApiError::PathNotFound)?;
    let storage = app.cluster.lock().registry.storage_of(&served);
    let name = path.name.clone().unwrap_or_default();

    let listed_name = matches!(verb, "list" | "watch")
        .then(|| selected_name(query))
        .flatten();
    let mut attributes = RequestAttributes {
        bearer_token: bearer_token(headers),
        verb: verb.to_owned(),
        api_group: path.group.clone(),
        resource: path.resource.clone(),
        subresource: path.subresource.clone(),
        namespace: path.namespace.clone(),
        name: path.name.clone().or(listed_name),
        non_resource_path: None,
    };
    let requester = user;
    let user = user.map(|u| &**u);
    let forbidden = |reason| ApiError::Forbidden {
        resource: served.qualified(),
        name: name.clone(),
        reason,
    };
    if let Decision::Deny(reason) = rbac::authorize_request(app, user, &attributes) {
        return Err(forbidden(reason));
    }
    // A server-side apply that creates the object needs `create` too (upstream's patch handler).
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let applies = verb == "patch"
        && content_type.and_then(|t| PatchType::from_content_type(t).ok())
            == Some(PatchType::Apply);
    let at = (path.namespace.clone().unwrap_or_default(), name.clone());
    if applies && app.cluster.lock().store.get(&storage.key(), &at).is_none() {
        attributes.verb = "create".into();
        if let Decision::Deny(reason) = rbac::authorize_request(app, user, &attributes) {
            return Err(forbidden(reason));
        }
    }

    let latency = app.faults.latency();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if let Some(injected) = app
        .faults
        .take(verb, &resource_label, &served.qualified(), &name)
    {
        return Err(injected);
    }

    if let Some(sub) = path.subresource.as_deref()
        && served.is("", "Pod")
        && pod_subresources::serves(sub)
    {
        let namespace = path.namespace.as_deref().unwrap_or_default();
        let request = pod_subresources::PodRequest { query, headers };
        return pod_subresources::handle(
            app, &served, &request, verb, namespace, &name, sub, &body,
        );
    }
    let subresource = match path.subresource.as_deref() {
        None => Subresource::Main,
        Some("status") if served.info.status_subresource => Subresource::Status,
        Some(other) if subresources::serves(&served, other) => Subresource::Main,
        Some(_) => return Err(ApiError::PathNotFound),
    };
    if path.namespace.is_some() && !served.info.namespaced {
        return Err(ApiError::PathNotFound);
    }
    if served.info.namespaced && path.namespace.is_none() && path.name.is_some() {
        return Err(ApiError::PathNotFound);
    }
    let namespace = path.namespace.as_deref();
    if let Some(other) = path.subresource.as_deref().filter(|s| *s != "status") {
        let request = SubresourceRequest {
            served: &served,
            namespace,
            name: &name,
            subresource: other,
            verb,
            content_type,
            body: &body,
            options: query.write_options(app, headers, requester),
        };
        return subresources::handle(app, request);
    }
    // Verbs a kind does not serve (componentstatuses are read-only, tokenreviews create-only).
    if !served.info.verbs.iter().any(|v| v == verb) {
        return Err(ApiError::MethodNotSupported);
    }
    let target = Target {
        served: &served,
        storage: &storage,
        namespace,
        name: &name,
        metadata_only: metadata_only::requested(headers),
    };

    match verb {
        "get" => get(app, &target, headers, query),
        "list" => list(app, &target, headers, query),
        "watch" => watch(app, &target, headers, query),
        "create" if served.is("authentication.k8s.io", "TokenReview") => {
            tokens::review(app, &decode_body(&body)?)
        }
        "create" if path.name.is_none() => {
            let body = events::store_form(&served, decode_body(&body)?);
            let options = query.write_options(app, headers, requester);
            let object = app
                .cluster
                .lock()
                .create(&storage, namespace, body, &options)?;
            Ok(target.respond(StatusCode::CREATED, &object))
        }
        "update" => {
            let body = events::store_form(&served, decode_body(&body)?);
            let options = query.write_options(app, headers, requester);
            let object = app.cluster.lock().update(
                &storage,
                namespace,
                &name,
                body,
                subresource,
                &options,
            )?;
            Ok(target.respond(StatusCode::OK, &object))
        }
        "patch" => patch(app, &target, headers, query, subresource, &body, requester),
        "delete" => deletes::delete(app, &target, query, &body),
        "deletecollection" => deletes::delete_collection(app, &target, query, &body),
        _ => Err(ApiError::MethodNotSupported),
    }
}

/// What a resource request is about.
struct Target<'a> {
    /// The resource as requested: what responses look like.
    served: &'a Arc<Served>,
    /// The resource whose storage and semantics it uses (differs only for
    /// `events.k8s.io` Events, stored as core Events).
    storage: &'a Arc<Served>,
    namespace: Option<&'a str>,
    name: &'a str,
    /// `as=PartialObjectMetadata` was asked for.
    metadata_only: bool,
}

impl Target<'_> {
    /// A stored object, as the requested resource presents it.
    fn respond(&self, code: StatusCode, stored: &Value) -> Response {
        if self.metadata_only {
            return json_response(code, &metadata_only::object(stored));
        }
        json_response(code, &Ordered(&events::present(self.served, stored)))
    }

    fn at(&self) -> ObjectKey {
        (
            self.namespace.unwrap_or_default().to_owned(),
            self.name.to_owned(),
        )
    }
}

/// Request bodies are JSON; YAML (a superset) is accepted too, and so is the
/// protobuf that client-go's typed clients send for the kinds Helm writes.
pub(crate) fn decode_body(body: &[u8]) -> ApiResult<Value> {
    if body.starts_with(protobuf::MAGIC) {
        return protobuf::decode(body).map_err(|e| {
            ApiError::BadRequest(format!("the object provided is unrecognized: {e}"))
        });
    }
    serde_json::from_slice(body)
        .or_else(|_| serde_yaml::from_slice(body))
        .map_err(|e| ApiError::BadRequest(format!("the object provided is unrecognized: {e}")))
}

/// Whether the client asked for a `meta.k8s.io` Table (`kubectl get`).
fn wants_table(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("as=Table"))
}

fn include_object(query: &Query) -> IncludeObject {
    match query.get("includeObject") {
        Some("None") => IncludeObject::None,
        Some("Object") => IncludeObject::Object,
        _ => IncludeObject::Metadata,
    }
}

fn get(
    app: &AppState,
    target: &Target<'_>,
    headers: &HeaderMap,
    query: &Query,
) -> ApiResult<Response> {
    let object = app
        .cluster
        .lock()
        .store
        .get(&target.storage.key(), &target.at());
    let object =
        object.ok_or_else(|| ApiError::not_found(target.served.qualified(), target.name))?;
    if wants_table(headers) {
        let metadata = json!({ "resourceVersion": object["metadata"]["resourceVersion"] });
        let presented = events::present(target.served, &object).into_owned();
        let table = table::render(
            &target.served.info,
            &[presented],
            metadata,
            include_object(query),
        );
        return Ok(json_response(StatusCode::OK, &table));
    }
    Ok(target.respond(StatusCode::OK, &object))
}

/// Where a paginated list resumes.
#[derive(serde::Serialize, serde::Deserialize)]
struct ContinueToken {
    v: String,
    rv: u64,
    start: (String, String),
}

fn encode_continue(rv: u64, last: &ObjectKey) -> String {
    let token = ContinueToken {
        v: "meta.k8s.io/v1".into(),
        rv,
        start: last.clone(),
    };
    base64::engine::general_purpose::URL_SAFE
        .encode(serde_json::to_vec(&token).expect("token serializes"))
}

fn decode_continue(token: &str) -> ApiResult<ContinueToken> {
    base64::engine::general_purpose::URL_SAFE
        .decode(token)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| ApiError::BadRequest(format!("continue key is not valid: {token}")))
}

fn selectors(served: &Served, query: &Query) -> ApiResult<(LabelSelector, FieldSelector)> {
    let labels = LabelSelector::parse(query.get("labelSelector").unwrap_or_default())
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let fields = FieldSelector::parse(query.get("fieldSelector").unwrap_or_default(), &|f| {
        served.supports_field(f)
    })
    .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    Ok((labels, fields))
}

fn list(
    app: &AppState,
    target: &Target<'_>,
    headers: &HeaderMap,
    query: &Query,
) -> ApiResult<Response> {
    let served = target.served;
    let (labels, fields) = selectors(served, query)?;
    let limit = query
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .filter(|l| *l > 0);
    let resume = query.get("continue").map(decode_continue).transpose()?;
    let key = target.storage.key();

    let (items, list_rv, next) = {
        let cluster = app.cluster.lock();
        let list_rv = resume.as_ref().map_or(cluster.store.current_rv(), |t| t.rv);
        let mut matching = cluster
            .store
            .range(&key, target.namespace, resume.as_ref().map(|t| &t.start))
            .filter(|(_, o)| labels.matches_object(o) && fields.matches_object(o));
        let mut items = Vec::new();
        let mut next = None;
        for (at, object) in matching.by_ref() {
            if limit.is_some_and(|l| items.len() == l) {
                next = Some(at.clone());
                break;
            }
            items.push((at.clone(), Arc::clone(object)));
        }
        let remaining = next.as_ref().map(|_| 1 + matching.count());
        let next = next.map(|_| {
            (
                items.last().map(|(at, _)| at.clone()).expect("a full page"),
                remaining.unwrap_or(0),
            )
        });
        (items, list_rv, next)
    };

    let mut metadata = json!({ "resourceVersion": list_rv.to_string() });
    if let Some((last, remaining)) = &next {
        metadata["continue"] = json!(encode_continue(list_rv, last));
        metadata["remainingItemCount"] = json!(remaining);
    }
    let presented: Vec<std::borrow::Cow<'_, Value>> = items
        .iter()
        .map(|(_, o)| events::present(served, o))
        .collect();
    if target.metadata_only {
        let list = metadata_only::list(metadata, presented.iter().map(AsRef::as_ref));
        return Ok(json_response(StatusCode::OK, &list));
    }
    if wants_table(headers) {
        let objects: Vec<Value> = presented
            .into_iter()
            .map(std::borrow::Cow::into_owned)
            .collect();
        return Ok(json_response(
            StatusCode::OK,
            &table::render(&served.info, &objects, metadata, include_object(query)),
        ));
    }
    #[derive(serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    struct List<'a> {
        api_version: String,
        kind: &'a str,
        metadata: Value,
        items: Vec<Ordered<'a>>,
    }
    let body = List {
        api_version: served.info.api_version(),
        kind: &served.info.list_kind,
        metadata,
        items: presented.iter().map(|o| Ordered(o.as_ref())).collect(),
    };
    Ok(json_response(StatusCode::OK, &body))
}

fn watch(
    app: &Arc<AppState>,
    target: &Target<'_>,
    headers: &HeaderMap,
    query: &Query,
) -> ApiResult<Response> {
    let (labels, fields) = selectors(target.served, query)?;
    let send_initial_events = query.flag("sendInitialEvents");
    let since = match query.get("resourceVersion") {
        _ if send_initial_events => Since::Now,
        None | Some("0") => Since::Now,
        Some(rv) => Since::After(
            rv.parse()
                .map_err(|_| ApiError::BadRequest(format!("invalid resource version: {rv}")))?,
        ),
    };
    let timeout = query
        .get("timeoutSeconds")
        .and_then(|t| t.parse().ok())
        .map_or(DEFAULT_WATCH_TIMEOUT, Duration::from_secs);
    let request = WatchRequest {
        served: Arc::clone(target.served),
        storage: target.storage.key(),
        namespace: target.namespace.map(str::to_owned),
        labels,
        fields,
        since,
        send_initial_events,
        bookmarks: query.flag("allowWatchBookmarks"),
        timeout,
        table: wants_table(headers).then(|| include_object(query)),
        metadata_only: target.metadata_only,
    };
    let chunks = watch::start(Arc::clone(app), request);
    let body = Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(chunks));
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::TRANSFER_ENCODING, "chunked")
        .body(body)
        .expect("valid response"))
}

fn patch(
    app: &AppState,
    target: &Target<'_>,
    headers: &HeaderMap,
    query: &Query,
    subresource: Subresource,
    body: &[u8],
    requester: Option<&Arc<UserInfo>>,
) -> ApiResult<Response> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let patch_type = PatchType::from_content_type(content_type)?;
    let patch_body = patch::parse_body(patch_type, body)?;
    let options = query.write_options(app, headers, requester);
    let mut cluster = app.cluster.lock();
    if patch_type == PatchType::Apply {
        let force = query.flag("force");
        let config = events::store_form(target.served, patch_body);
        let (object, created) = cluster.apply(
            target.storage,
            target.namespace,
            target.name,
            config,
            subresource,
            force,
            &options,
        )?;
        let code = if created {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        };
        return Ok(target.respond(code, &object));
    }
    let current = cluster.store.get(&target.storage.key(), &target.at());
    let current =
        current.ok_or_else(|| ApiError::not_found(target.served.qualified(), target.name))?;
    // Patches apply to the object as the client sees it.
    let presented = events::present(target.served, &current);
    let desired = patch::apply_patch(target.served, patch_type, &presented, patch_body)?;
    let desired = events::store_form(target.served, desired);
    let object = cluster.update(
        target.storage,
        target.namespace,
        target.name,
        desired,
        subresource,
        &options,
    )?;
    Ok(target.respond(StatusCode::OK, &object))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continue_tokens_round_trip_and_reject_garbage() {
        let token = encode_continue(42, &("ns".into(), "b".into()));
        let decoded = decode_continue(&token).unwrap();
        assert_eq!(
            (decoded.rv, decoded.start),
            (42, ("ns".to_owned(), "b".to_owned()))
        );
        assert!(matches!(
            decode_continue("not-a-token"),
            Err(ApiError::BadRequest(_))
        ));
    }
}
