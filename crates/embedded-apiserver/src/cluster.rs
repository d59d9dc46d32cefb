//! The API's semantics, independent of HTTP: what create, update, patch and
//! delete do to the store. One `Cluster` lives behind the server's state lock.

use crate::builtin;
use crate::crd;
use crate::errors::{ApiError, ApiResult, FieldError, QualifiedResource};
use crate::names;
use crate::quota;
use crate::registry::{Check, Registry, ResourceKey, Served};
use crate::store::{ObjectKey, Store};
use serde_json::{Map, Value, json};
use std::sync::Arc;

/// Namespaces that always exist and may not be deleted.
pub const SYSTEM_NAMESPACES: [&str; 3] = ["default", "kube-system", "kube-public"];

/// The `kubernetes` finalizer every namespace carries until it is emptied.
const NAMESPACE_FINALIZER: &str = "kubernetes";

/// Whether a write goes to the main resource or its `status` subresource.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subresource {
    Main,
    Status,
}

#[derive(Clone, Debug, Default)]
pub struct WriteOptions {
    /// `dryRun=All`: check everything, store nothing.
    pub dry_run: bool,
    /// The `fieldManager` query parameter.
    pub field_manager: Option<String>,
    /// The request's User-Agent, the manager's name when `fieldManager` is absent.
    pub user_agent: String,
    /// `fieldValidation=Strict`: unknown fields are an error instead of being dropped.
    pub strict: bool,
    /// Who writes, when RBAC is on: writes of Roles and bindings are checked for escalation.
    pub requester: Option<std::sync::Arc<crate::rbac::UserInfo>>,
    /// OwnerReferencesPermissionEnforcement, when the server runs it.
    pub(crate) owner_references: Option<crate::rbac::OwnerReferencesAdmission>,
}

/// What `check_kind` needs to know about the write.
struct KindCheck<'a> {
    old: Option<&'a Value>,
    subresource: Subresource,
    strict: bool,
    name: &'a str,
}

impl WriteOptions {
    /// The name a write's fields are recorded under.
    pub fn manager(&self) -> String {
        server_side_apply::manager_or_user_agent(self.field_manager.as_deref(), &self.user_agent)
    }
}

/// Who writes `metadata.managedFields` for a write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Recording {
    /// Record the write as an `Update` by its manager.
    Update,
    /// Server-side apply already produced them; keep them as they are.
    Done,
}

/// The current time as Kubernetes writes timestamps (RFC 3339, seconds).
pub fn now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

pub(crate) fn meta_str<'a>(object: &'a Value, field: &str) -> Option<&'a str> {
    object.get("metadata")?.get(field)?.as_str()
}

pub(crate) fn finalizers(object: &Value) -> Vec<String> {
    object
        .pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .map(|f| {
            f.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

pub(crate) fn set_finalizers(object: &mut Value, finalizers: &[String]) {
    let meta = object["metadata"]
        .as_object_mut()
        .expect("metadata is an object");
    if finalizers.is_empty() {
        meta.remove("finalizers");
    } else {
        meta.insert("finalizers".into(), json!(finalizers));
    }
}

/// Top-level fields other than metadata, status and type meta: what moves `generation`.
fn spec_fields(object: &Value) -> Vec<(&String, &Value)> {
    object
        .as_object()
        .map(|o| {
            o.iter()
                .filter(|(k, _)| {
                    !matches!(k.as_str(), "metadata" | "status" | "apiVersion" | "kind")
                })
                .collect()
        })
        .unwrap_or_default()
}

pub struct Cluster {
    pub store: Store,
    pub registry: Registry,
    /// Services given a cluster IP so far (the next address to hand out).
    allocated_service_ips: u32,
    /// Pods and quotas as quota admission and usage need them.
    quotas: quota::QuotaCache,
}

impl Cluster {
    /// A cluster with the system namespaces in place.
    pub fn new(history_limit: usize) -> Self {
        let mut cluster = Cluster {
            store: Store::new(history_limit),
            registry: Registry::new(),
            allocated_service_ips: 0,
            quotas: quota::QuotaCache::default(),
        };
        for served in cluster.registry.all() {
            cluster.store.ensure_collection(&served.key());
        }
        let namespaces = cluster
            .registry
            .find("", "v1", "namespaces")
            .expect("namespaces are built in");
        for name in SYSTEM_NAMESPACES {
            let ns =
                json!({ "apiVersion": "v1", "kind": "Namespace", "metadata": { "name": name } });
            cluster
                .create(&namespaces, None, ns, &WriteOptions::default())
                .expect("system namespaces are valid");
        }
        cluster
    }

    pub fn served(&self, key: &ResourceKey) -> Option<Arc<Served>> {
        self.registry.any_version(key)
    }

    /// Puts the body's type meta and namespace in line with the request, as upstream does.
    fn check_body(served: &Served, namespace: Option<&str>, body: Value) -> ApiResult<Value> {
        let Value::Object(mut object) = body else {
            return Err(ApiError::BadRequest(
                "the body of the request must be a JSON object".into(),
            ));
        };
        let expected_version = served.info.api_version();
        match object.get("apiVersion").and_then(Value::as_str) {
            None | Some("") => {}
            Some(v) if v == expected_version => {}
            Some(v) => {
                return Err(ApiError::BadRequest(format!(
                    "the API version in the data ({v}) does not match the expected API version ({expected_version})"
                )));
            }
        }
        match object.get("kind").and_then(Value::as_str) {
            None | Some("") => {}
            Some(k) if k == served.info.kind => {}
            Some(k) => {
                return Err(ApiError::BadRequest(format!(
                    "the kind in the data ({k}) does not match the expected kind ({})",
                    served.info.kind
                )));
            }
        }
        object.insert("apiVersion".into(), json!(expected_version));
        object.insert("kind".into(), json!(served.info.kind));
        let meta = object
            .entry("metadata")
            .or_insert_with(|| Value::Object(Map::new()));
        if !meta.is_object() {
            return Err(ApiError::BadRequest("metadata must be an object".into()));
        }
        let meta = meta.as_object_mut().expect("checked");
        if served.info.namespaced {
            let request_ns = namespace.unwrap_or_default();
            match meta.get("namespace").and_then(Value::as_str) {
                None | Some("") => {
                    meta.insert("namespace".into(), json!(request_ns));
                }
                Some(ns) if ns == request_ns => {}
                Some(_) => {
                    return Err(ApiError::BadRequest(
                        "the namespace of the provided object does not match the namespace sent on the request".into(),
                    ));
                }
            }
        } else {
            meta.remove("namespace");
        }
        Ok(Value::Object(object))
    }

    fn namespace_key(&self) -> ResourceKey {
        ResourceKey {
            group: String::new(),
            plural: "namespaces".into(),
        }
    }

    /// Refuses writes into a missing or terminating namespace.
    fn check_namespace_open(&self, served: &Served, namespace: &str, name: &str) -> ApiResult<()> {
        if !served.info.namespaced {
            return Ok(());
        }
        let Some(ns) = self.store.get(
            &self.namespace_key(),
            &(String::new(), namespace.to_owned()),
        ) else {
            return Err(ApiError::not_found(
                QualifiedResource::new("", "namespaces"),
                namespace,
            ));
        };
        if ns.pointer("/metadata/deletionTimestamp").is_some() {
            return Err(ApiError::Forbidden {
                resource: served.qualified(),
                name: name.to_owned(),
                reason: format!(
                    "unable to create new content in namespace {namespace} because it is being terminated"
                ),
            });
        }
        Ok(())
    }

    /// Kind-level checks: typed decoding and schema shape for built-ins, the
    /// structural schema (prune, default, validate) for custom kinds.
    fn check_kind(
        &self,
        served: &Served,
        object: &mut Value,
        check: KindCheck<'_>,
    ) -> ApiResult<()> {
        builtin::normalize(&served.info, object);
        if !served.info.custom {
            crate::defaults::apply(&served.info.group, &served.info.kind, object);
        }
        let name = check.name;
        let mut errors: Vec<FieldError> = meta_str(object, "name")
            .map(|n| names::problems(served.name_rule, n))
            .unwrap_or_default()
            .into_iter()
            .map(|problem| FieldError::invalid("metadata.name", name, problem))
            .collect();
        errors.extend(label_errors(object));
        errors.extend(crate::annotations::size_errors(object));
        let mut unknown = Vec::new();
        match &served.check {
            Check::Decode { decode, schema } => {
                if let Err(decode_errors) = decode(object) {
                    errors.extend(decode_errors);
                }
                let shape = crate::shape::check(schema.get(), object);
                errors.extend(shape.missing);
                unknown = shape.unknown;
            }
            Check::Schema(Some(validator)) if errors.is_empty() => {
                unknown = validator.admit(
                    object,
                    check.old,
                    check.subresource,
                    &served.info.group,
                    name,
                )?;
            }
            Check::Schema(_) => {}
        }
        if check.strict && !unknown.is_empty() {
            let fields: Vec<String> = unknown
                .iter()
                .map(|f| format!("unknown field {f:?}"))
                .collect();
            let kind = &served.info.kind;
            return Err(ApiError::BadRequest(format!(
                "{kind} in version {:?} cannot be handled as a {kind}: strict decoding error: {}",
                served.info.version,
                fields.join(", ")
            )));
        }
        if let (Some(old), Subresource::Main) = (check.old, check.subresource)
            && !served.info.custom
        {
            errors.extend(crate::immutable::update_errors(
                &served.info.group,
                &served.info.kind,
                old,
                object,
            ));
        }
        if served.info.group == "batch"
            && !served.info.custom
            && check.subresource == Subresource::Main
        {
            errors.extend(crate::batch::validate(&served.info.kind, object, check.old));
        }
        let no_containers = object
            .pointer("/spec/containers")
            .and_then(Value::as_array)
            .is_some_and(Vec::is_empty);
        if served.is("", "Pod") && no_containers {
            errors.push(FieldError::required("spec.containers", None));
        }
        if served.is("apiextensions.k8s.io", "CustomResourceDefinition") && errors.is_empty() {
            errors.extend(crd::validate(object));
            if errors.is_empty()
                && let Err(crd::ServeError::Schema(schema_error)) = crd::served_versions(object)
            {
                let (kind, group) = (&served.info.kind, &served.info.group);
                return Err(crate::custom::invalid(
                    kind,
                    group,
                    name,
                    schema_error.field_errors(),
                ));
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::invalid(
                &served.info.kind,
                &served.info.group,
                name,
                &errors,
            ))
        }
    }

    /// Status the server itself owns: CRD conditions and quota usage.
    fn system_status(&mut self, served: &Served, object: &mut Value, old: Option<&Value>) {
        if served.is("apiextensions.k8s.io", "CustomResourceDefinition") {
            object["status"] = crd::established_status(object, old, &now());
        } else if served.is("", "ResourceQuota") {
            let Some(rule) = quota::QuotaRule::decode(object) else {
                return;
            };
            let ns = meta_str(object, "namespace").unwrap_or_default().to_owned();
            let pods = self.pod_charges_in(&ns);
            let status = quota::status_of(object, &rule, pods.iter().map(|p| &**p), now_utc());
            object["status"] = status;
        }
    }

    /// What each pod of the namespace charges to quota.
    fn pod_charges_in(&mut self, namespace: &str) -> Vec<Arc<quota::PodCharge>> {
        let Cluster { store, quotas, .. } = self;
        store
            .range(&pods_key(), Some(namespace), None)
            .filter_map(|(at, pod)| quotas.charge(at, pod))
            .collect()
    }

    /// The namespace's quotas, stored and decoded, in name order.
    fn quotas_in(
        &mut self,
        namespace: &str,
    ) -> Vec<(ObjectKey, Arc<Value>, Arc<quota::QuotaRule>)> {
        let Cluster { store, quotas, .. } = self;
        store
            .range(&quotas_key(), Some(namespace), None)
            .filter_map(|(at, q)| Some((at.clone(), Arc::clone(q), quotas.rule(at, q)?)))
            .collect()
    }

    /// Upstream's Priority admission: a pod's `priorityClassName` must name an
    /// existing PriorityClass, whose value becomes `spec.priority`.
    fn admit_priority(&self, served: &Served, pod: &mut Value, name: &str) -> ApiResult<()> {
        let key = ResourceKey {
            group: "scheduling.k8s.io".into(),
            plural: "priorityclasses".into(),
        };
        let class = match pod
            .pointer("/spec/priorityClassName")
            .and_then(Value::as_str)
        {
            Some(class_name) => {
                let class = self
                    .store
                    .get(&key, &(String::new(), class_name.to_owned()));
                Some(class.ok_or_else(|| ApiError::Forbidden {
                    resource: served.qualified(),
                    name: name.to_owned(),
                    reason: format!("no PriorityClass with name {class_name} was found"),
                })?)
            }
            None => self
                .store
                .range(&key, None, None)
                .map(|(_, c)| c)
                .find(|c| c.get("globalDefault") == Some(&Value::Bool(true)))
                .cloned(),
        };
        if let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) {
            let value = class
                .as_ref()
                .and_then(|c| c.get("value").cloned())
                .unwrap_or(json!(0));
            spec.insert("priority".into(), value);
            if let Some(class) = &class {
                spec.entry("priorityClassName")
                    .or_insert_with(|| class["metadata"]["name"].clone());
                let policy = class
                    .get("preemptionPolicy")
                    .cloned()
                    .unwrap_or(json!("PreemptLowerPriority"));
                spec.insert("preemptionPolicy".into(), policy);
            }
        }
        Ok(())
    }

    fn admit_pod(&mut self, served: &Served, pod: &Value, name: &str) -> ApiResult<()> {
        let ns = meta_str(pod, "namespace").unwrap_or_default();
        let quotas = self.quotas_in(ns);
        if !quota::limits_any(pod, quotas.iter().map(|(_, _, rule)| &**rule)) {
            return Ok(());
        }
        let existing = self.pod_charges_in(ns);
        let rules = quotas.iter().map(|(_, _, rule)| &**rule);
        quota::admit(pod, rules, existing.iter().map(|p| &**p), now_utc()).map_err(|exceeded| {
            ApiError::Forbidden {
                resource: served.qualified(),
                name: name.to_owned(),
                reason: exceeded.to_string(),
            }
        })
    }

    /// `POST` to a collection.
    pub fn create(
        &mut self,
        served: &Served,
        namespace: Option<&str>,
        body: Value,
        options: &WriteOptions,
    ) -> ApiResult<Arc<Value>> {
        self.create_recorded(served, namespace, body, options, Recording::Update)
    }

    /// A create whose managedFields are recorded as `recording` says.
    pub(crate) fn create_recorded(
        &mut self,
        served: &Served,
        namespace: Option<&str>,
        body: Value,
        options: &WriteOptions,
        recording: Recording,
    ) -> ApiResult<Arc<Value>> {
        let mut object = Self::check_body(served, namespace, body)?;
        let ns = meta_str(&object, "namespace")
            .unwrap_or_default()
            .to_owned();
        let name = match meta_str(&object, "name").filter(|n| !n.is_empty()) {
            Some(name) => name.to_owned(),
            None => match meta_str(&object, "generateName").filter(|n| !n.is_empty()) {
                Some(prefix) => {
                    let prefix = prefix.to_owned();
                    let key = served.key();
                    let mut candidate = names::generate(&prefix);
                    while self
                        .store
                        .get(&key, &(ns.clone(), candidate.clone()))
                        .is_some()
                    {
                        candidate = names::generate(&prefix);
                    }
                    object["metadata"]["name"] = json!(candidate);
                    candidate
                }
                None => {
                    let error = FieldError::required(
                        "metadata.name",
                        Some("name or generateName is required"),
                    );
                    return Err(ApiError::invalid(
                        &served.info.kind,
                        &served.info.group,
                        "",
                        &[error],
                    ));
                }
            },
        };
        {
            let meta = object["metadata"].as_object_mut().expect("checked");
            meta.insert("uid".into(), json!(uuid::Uuid::new_v4().to_string()));
            meta.insert("creationTimestamp".into(), json!(now()));
            for system in [
                "resourceVersion",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "selfLink",
            ] {
                meta.remove(system);
            }
            if served.tracks_generation {
                meta.insert("generation".into(), json!(1));
            } else {
                meta.remove("generation");
            }
        }
        if served.info.status_subresource {
            match builtin::initial_status(&served.info, &object) {
                Some(status) => object["status"] = status,
                None => {
                    object.as_object_mut().expect("object").remove("status");
                }
            }
        }
        if served.is("", "Namespace") {
            object["spec"] = json!({ "finalizers": [NAMESPACE_FINALIZER] });
        }
        if served.is("", "Service") {
            crate::defaults::apply("", "Service", &mut object);
            crate::defaults::allocate_cluster_ip(&mut object, self.allocated_service_ips);
            self.allocated_service_ips += 1;
        }
        if served.is("", "Pod") {
            self.admit_priority(served, &mut object, &name)?;
        }
        if served.is("batch", "Job") {
            crate::batch::generate_selector(&mut object);
        }
        let check = KindCheck {
            old: None,
            subresource: Subresource::Main,
            strict: options.strict,
            name: &name,
        };
        self.check_kind(served, &mut object, check)?;
        self.check_namespace_open(served, &ns, &name)?;
        let key = served.key();
        let at: ObjectKey = (ns, name.clone());
        if self.store.get(&key, &at).is_some() {
            return Err(ApiError::AlreadyExists {
                resource: served.qualified(),
                name,
            });
        }
        if served.is("", "Pod") {
            self.admit_pod(served, &object, &name)?;
        }
        crate::rbac::admit_write(self, served, options, &object, None)?;
        crate::rbac::admit_owner_references(self, served, options, &object, None)?;
        self.system_status(served, &mut object, None);
        if recording == Recording::Update {
            crate::managed::record_update(served, None, &mut object, options, Subresource::Main);
        }
        if options.dry_run {
            return Ok(Arc::new(object));
        }
        let stored = self.store.put(&key, at, object);
        self.after_write(served, &stored);
        Ok(stored)
    }

    /// `PUT` of an object or its status. `body` is the whole desired object.
    pub fn update(
        &mut self,
        served: &Served,
        namespace: Option<&str>,
        name: &str,
        body: Value,
        subresource: Subresource,
        options: &WriteOptions,
    ) -> ApiResult<Arc<Value>> {
        self.update_recorded(
            served,
            namespace,
            name,
            body,
            subresource,
            options,
            Recording::Update,
        )
    }

    /// An update whose managedFields are recorded as `recording` says.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn update_recorded(
        &mut self,
        served: &Served,
        namespace: Option<&str>,
        name: &str,
        body: Value,
        subresource: Subresource,
        options: &WriteOptions,
        recording: Recording,
    ) -> ApiResult<Arc<Value>> {
        let body = Self::check_body(served, namespace, body)?;
        match meta_str(&body, "name") {
            Some(n) if n != name => {
                return Err(ApiError::BadRequest(format!(
                    "the name of the object ({n}) does not match the name on the URL ({name})"
                )));
            }
            _ => {}
        }
        let key = served.key();
        let at: ObjectKey = (namespace.unwrap_or_default().to_owned(), name.to_owned());
        let old = self
            .store
            .get(&key, &at)
            .ok_or_else(|| ApiError::not_found(served.qualified(), name))?;
        match meta_str(&body, "resourceVersion").filter(|rv| !rv.is_empty()) {
            Some(rv) if Some(rv) != meta_str(&old, "resourceVersion") => {
                return Err(ApiError::stale(served.qualified(), name));
            }
            None if served.info.custom => {
                let error = FieldError::invalid(
                    "metadata.resourceVersion",
                    "0x0",
                    "must be specified for an update",
                );
                return Err(ApiError::invalid(
                    &served.info.kind,
                    &served.info.group,
                    name,
                    &[error],
                ));
            }
            _ => {}
        }
        let mut object = self.merge_update(served, &old, body, subresource)?;
        if served.is("", "Service") {
            keep_cluster_ip(&old, &mut object);
        }
        let check = KindCheck {
            old: Some(&old),
            subresource,
            strict: options.strict,
            name,
        };
        self.check_kind(served, &mut object, check)?;
        crate::rbac::admit_write(self, served, options, &object, Some(&old))?;
        crate::rbac::admit_owner_references(self, served, options, &object, Some(&old))?;
        if served.tracks_generation && spec_fields(&object) != spec_fields(&old) {
            let generation = old
                .pointer("/metadata/generation")
                .and_then(Value::as_i64)
                .unwrap_or(0)
                + 1;
            object["metadata"]["generation"] = json!(generation);
        }
        self.system_status(served, &mut object, Some(&old));
        if recording == Recording::Update {
            crate::managed::record_update(served, Some(&old), &mut object, options, subresource);
        }
        if options.dry_run {
            return Ok(Arc::new(object));
        }
        self.store_update(served, at, &old, object)
    }

    /// The object an update leaves: the body for the part the (sub)resource
    /// owns, the stored object for the rest and for system metadata.
    fn merge_update(
        &self,
        served: &Served,
        old: &Value,
        body: Value,
        subresource: Subresource,
    ) -> ApiResult<Value> {
        let mut object = match subresource {
            Subresource::Main => {
                let mut object = body;
                if served.info.status_subresource {
                    match old.get("status") {
                        Some(status) => object["status"] = status.clone(),
                        None => {
                            object.as_object_mut().expect("object").remove("status");
                        }
                    }
                }
                object
            }
            Subresource::Status => {
                let mut object = old.clone();
                match body.get("status") {
                    Some(status) => object["status"] = status.clone(),
                    None => {
                        object.as_object_mut().expect("object").remove("status");
                    }
                }
                if let Some(managed) = body.pointer("/metadata/managedFields") {
                    object["metadata"]["managedFields"] = managed.clone();
                }
                object
            }
        };
        let old_meta = old["metadata"]
            .as_object()
            .expect("stored objects have metadata");
        let meta = object["metadata"].as_object_mut().expect("checked body");
        for kept in [
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
            "namespace",
        ] {
            match old_meta.get(kept) {
                Some(value) => meta.insert(kept.into(), value.clone()),
                None => meta.remove(kept),
            };
        }
        meta.insert("name".into(), old_meta["name"].clone());
        meta.remove("selfLink");
        if old_meta.contains_key("deletionTimestamp") {
            let before = finalizers(old);
            if let Some(added) = finalizers(&object)
                .into_iter()
                .find(|f| !before.contains(f))
            {
                let error = FieldError::forbidden(
                    "metadata.finalizers",
                    format!(
                        "no new finalizers can be added if the object is being deleted, found new finalizers []string{{{added:?}}}"
                    ),
                );
                let name = old_meta["name"].as_str().unwrap_or_default();
                return Err(ApiError::invalid(
                    &served.info.kind,
                    &served.info.group,
                    name,
                    &[error],
                ));
            }
        }
        Ok(object)
    }

    /// Stores an update unless nothing changed; completes a pending deletion
    /// when the last finalizer went away.
    pub(crate) fn store_update(
        &mut self,
        served: &Served,
        at: ObjectKey,
        old: &Arc<Value>,
        mut object: Value,
    ) -> ApiResult<Arc<Value>> {
        object["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"].clone();
        if unchanged_ignoring_managed_times(&object, old) {
            return Ok(Arc::clone(old));
        }
        let key = served.key();
        if object.pointer("/metadata/deletionTimestamp").is_some() && finalizers(&object).is_empty()
        {
            self.store.put(&key, at.clone(), object);
            let removed = self.store.remove(&key, &at).expect("just stored");
            self.after_removal(&key, &removed);
            return Ok(removed);
        }
        let stored = self.store.put(&key, at, object);
        self.after_write(served, &stored);
        Ok(stored)
    }

    /// Reactions to a stored write: serving CRDs, quota usage, dangling owners.
    fn after_write(&mut self, served: &Served, object: &Arc<Value>) {
        if served.is("apiextensions.k8s.io", "CustomResourceDefinition") {
            let name = meta_str(object, "name").unwrap_or_default().to_owned();
            if let Ok(versions) = crd::served_versions(object) {
                if let Some(first) = versions.first() {
                    self.store.ensure_collection(&first.key());
                }
                self.registry.serve_crd(&name, versions);
            }
        } else if served.is("", "Pod") {
            let ns = meta_str(object, "namespace").unwrap_or_default();
            let name = meta_str(object, "name").unwrap_or_default();
            self.refresh_quotas(&(ns.to_owned(), name.to_owned()));
        }
        self.collect_if_orphaned(&served.key(), object);
    }

    /// After the pod at `pod` changed (or went away): writes the `status` of
    /// each quota of its namespace that covers the pod before or after the
    /// change. Other quotas' usage cannot have changed, except for a pod
    /// passing the end of its deletion grace period, which a quota accounts
    /// for at its next refresh.
    pub(crate) fn refresh_quotas(&mut self, pod: &ObjectKey) {
        let before = self.quotas.take_charge(pod);
        let stored = self.store.get(&pods_key(), pod);
        let after = stored.and_then(|p| self.quotas.charge(pod, &p));
        // Most pod writes (status steps) charge nothing new: no quota to look at.
        if before == after {
            return;
        }
        let quotas = self.quotas_in(&pod.0);
        if quotas.is_empty() {
            return;
        }
        let charges = [&before, &after];
        let affected: Vec<_> = quotas
            .into_iter()
            .filter(|(_, _, rule)| charges.iter().copied().flatten().any(|c| rule.covers(c)))
            .collect();
        if affected.is_empty() {
            return;
        }
        let pods = self.pod_charges_in(&pod.0);
        let now = now_utc();
        for (at, old, rule) in affected {
            let status = quota::status_of(&old, &rule, pods.iter().map(|p| &**p), now);
            if old.get("status") != Some(&status) {
                let mut updated = (*old).clone();
                updated["status"] = status;
                self.store.put(&quotas_key(), at, updated);
            }
        }
    }

    /// Drops what was cached of a removed quota.
    pub(crate) fn forget_quota(&mut self, at: &ObjectKey) {
        self.quotas.forget_quota(at);
    }

    /// Writes `status` as the system; see [`write_as_system`](Self::write_as_system).
    pub fn write_status_as_system(
        &mut self,
        key: &ResourceKey,
        at: &ObjectKey,
        expected_rv: &str,
        status: Value,
    ) -> Option<Arc<Value>> {
        self.write_as_system(key, at, expected_rv, |object| object["status"] = status)
    }

    /// Changes an object as the system (workload simulation: kubelets,
    /// controllers): no checks beyond the object still being at
    /// `expected_rv`; nothing is written when `change` changes nothing.
    /// Runs the usual reactions (quota usage, ...).
    pub fn write_as_system(
        &mut self,
        key: &ResourceKey,
        at: &ObjectKey,
        expected_rv: &str,
        change: impl FnOnce(&mut Value),
    ) -> Option<Arc<Value>> {
        let served = self.served(key)?;
        let old = self.store.get(key, at)?;
        if meta_str(&old, "resourceVersion") != Some(expected_rv) {
            return None;
        }
        let mut updated = (*old).clone();
        change(&mut updated);
        if updated == *old {
            return None;
        }
        let stored = self.store.put(key, at.clone(), updated);
        self.after_write(&served, &stored);
        Some(stored)
    }
}

fn pods_key() -> ResourceKey {
    ResourceKey {
        group: String::new(),
        plural: "pods".into(),
    }
}

fn quotas_key() -> ResourceKey {
    ResourceKey {
        group: String::new(),
        plural: "resourcequotas".into(),
    }
}

/// The time quota admission and usage are computed at.
fn now_utc() -> jiff::Timestamp {
    jiff::Timestamp::now()
}

/// A Service's cluster IP cannot be unset by an update that leaves it out.
/// Upstream's `ValidateLabels` on `metadata.labels`, keys in sorted order.
fn label_errors(object: &Value) -> Vec<FieldError> {
    let Some(labels) = object
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
    else {
        return Vec::new();
    };
    let mut keys: Vec<&String> = labels.keys().collect();
    keys.sort();
    let mut errors = Vec::new();
    for key in keys {
        for problem in names::qualified_name_problems(key) {
            errors.push(FieldError::invalid(
                "metadata.labels",
                key.as_str(),
                problem,
            ));
        }
        let value = labels[key].as_str().unwrap_or_default();
        for problem in names::label_value_problems(value) {
            errors.push(FieldError::invalid("metadata.labels", value, problem));
        }
    }
    errors
}

fn keep_cluster_ip(old: &Value, new: &mut Value) {
    let Some(spec) = new.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    for field in ["clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"] {
        if let Some(value) = old.pointer(&format!("/spec/{field}"))
            && spec.get(field).is_none_or(Value::is_null)
        {
            spec.insert(field.to_owned(), value.clone());
        }
    }
}

fn unchanged_ignoring_managed_times(new: &Value, old: &Value) -> bool {
    let (Some(new_obj), Some(old_obj)) = (new.as_object(), old.as_object()) else {
        return false;
    };
    if new_obj.len() != old_obj.len() {
        return false;
    }
    new_obj.iter().all(|(k, v)| {
        if k != "metadata" {
            return old_obj.get(k) == Some(v);
        }
        // A manager re-writing the same fields only moves its entry's time: not a change.
        let strip = |m: &Value| {
            let mut m = m.as_object().cloned().unwrap_or_default();
            if let Some(Value::Array(entries)) = m.get_mut("managedFields") {
                for entry in entries.iter_mut().filter_map(Value::as_object_mut) {
                    entry.remove("time");
                }
            }
            m
        };
        old_obj
            .get(k)
            .is_some_and(|old_meta| strip(old_meta) == strip(v))
    })
}
