//! ResourceQuota admission for pods and the quota's `status`.
//!
//! Follows upstream's quota admission plugin
//! (`k8s.io/apiserver/pkg/admission/plugin/resourcequota`) and pod evaluator
//! (`pkg/quota/v1/evaluator/core/pods.go`): which quotas cover a pod (a hard
//! limit on a pod resource and every scope matched), the "must specify"
//! refusal when cpu or memory is quota'd and a container gives no amount, and
//! the "exceeded quota" refusal with its `requested`/`used`/`limited` lists.
//! Usage is computed from the pods in the namespace rather than read from the
//! quota's `status.used`, which makes this the quota controller as well.

mod cache;
pub(crate) use cache::QuotaCache;
pub mod quantity;
#[cfg(test)]
mod tests;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::core::v1::{
    Container, Pod, PodAffinityTerm, ResourceQuota, ScopedResourceSelectorRequirement,
    WeightedPodAffinityTerm,
};
use quantity::Quantity;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// Amounts by resource name, sorted like upstream prints them.
pub type ResourceList = BTreeMap<String, Quantity>;

/// Resource names a quota can limit for pods (besides hugepages and
/// extended resources, see [`is_pod_resource`]).
const POD_RESOURCES: [&str; 11] = [
    "count/pods",
    "cpu",
    "memory",
    "ephemeral-storage",
    "requests.cpu",
    "requests.memory",
    "requests.ephemeral-storage",
    "limits.cpu",
    "limits.memory",
    "limits.ephemeral-storage",
    "pods",
];

/// When a covering quota limits one of these, every container must give an
/// amount for it (upstream keeps this for backward compatibility).
const MUST_BE_SPECIFIED: [&str; 6] = [
    "cpu",
    "memory",
    "requests.cpu",
    "requests.memory",
    "limits.cpu",
    "limits.memory",
];

/// Compute resources with `requests.`/`limits.` quota names of their own.
const NATIVE_COMPUTE: [&str; 3] = ["cpu", "memory", "ephemeral-storage"];

/// Why quota admission refused a pod. `Display` gives the real server's
/// message, which the API answers as `pods "<name>" is forbidden: <message>`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum QuotaExceeded {
    /// Admitting the pod would take the quota past its hard limits. Each list
    /// holds only the exceeded resources.
    #[error(
        "exceeded quota: {quota}, requested: {}, used: {}, limited: {}",
        PrettyList(.requested),
        PrettyList(.used),
        PrettyList(.limited)
    )]
    Exceeded {
        quota: String,
        requested: ResourceList,
        used: ResourceList,
        limited: ResourceList,
    },
    /// The quota limits cpu or memory and some containers give no amount for it.
    #[error("failed quota: {quota}: must specify {}", PrettyMissing(.missing))]
    MissingAmounts {
        quota: String,
        /// Quota resource name → names of the containers that lack it.
        missing: BTreeMap<String, BTreeSet<String>>,
    },
}

/// `requests.cpu=500m,pods=1`, keys sorted (upstream's `prettyPrint`).
struct PrettyList<'a>(&'a ResourceList);

impl fmt::Display for PrettyList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (name, amount)) in self.0.iter().enumerate() {
            let separator = if i == 0 { "" } else { "," };
            write!(f, "{separator}{name}={amount}")?;
        }
        Ok(())
    }
}

/// `limits.cpu for: a,b; requests.cpu for: a`.
struct PrettyMissing<'a>(&'a BTreeMap<String, BTreeSet<String>>);

impl fmt::Display for PrettyMissing<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (resource, containers)) in self.0.iter().enumerate() {
            let separator = if i == 0 { "" } else { "; " };
            let containers: Vec<&str> = containers.iter().map(String::as_str).collect();
            write!(f, "{separator}{resource} for: {}", containers.join(","))?;
        }
        Ok(())
    }
}

/// Checks a pod being created against the namespace's quotas, given the pods
/// already stored in the namespace (not including the new one).
pub fn admit_pod(
    pod: &Value,
    quotas: &[Value],
    existing_pods: &[Value],
) -> Result<(), QuotaExceeded> {
    admit_pod_at(pod, quotas, existing_pods, Timestamp::now())
}

/// [`admit_pod`] at a given time, which decides whether pods stuck past their
/// deletion grace period still count.
pub fn admit_pod_at(
    pod: &Value,
    quotas: &[Value],
    existing_pods: &[Value],
    now: Timestamp,
) -> Result<(), QuotaExceeded> {
    let rules: Vec<QuotaRule> = quotas.iter().filter_map(QuotaRule::decode).collect();
    let charges: Vec<PodCharge> = existing_pods.iter().filter_map(PodCharge::decode).collect();
    admit(pod, rules.iter(), charges.iter(), now)
}

/// Whether any of `quotas` limits what `pod` uses: only then does
/// [`admit`] need the charges of the namespace's other pods (finding those
/// for every pod created made creating pods cost the square of them).
pub fn limits_any<'a>(pod: &Value, quotas: impl IntoIterator<Item = &'a QuotaRule>) -> bool {
    let Some(pod) = decode::<Pod>(pod, "pod") else {
        return false;
    };
    let charge = PodCharge::of(&pod);
    quotas
        .into_iter()
        .any(|quota| quota.hard.keys().any(|r| is_pod_resource(r)) && quota.covers(&charge))
}

/// [`admit_pod_at`] on decoded quotas and the charges of the pods already
/// in the namespace: what the server runs, with both decoded once per
/// version of each object rather than on every pod created.
pub fn admit<'a>(
    pod: &Value,
    quotas: impl IntoIterator<Item = &'a QuotaRule>,
    existing: impl IntoIterator<Item = &'a PodCharge> + Clone,
    now: Timestamp,
) -> Result<(), QuotaExceeded> {
    let Some(pod) = decode::<Pod>(pod, "pod") else {
        return Ok(());
    };
    let pod = &pod;
    let charge = PodCharge::of(pod);
    let mut quotas: Vec<&QuotaRule> = quotas.into_iter().collect();
    quotas.sort_by(|a, b| a.name.cmp(&b.name));

    let mut covering = Vec::new();
    for quota in quotas {
        let limited: BTreeSet<&str> = quota
            .hard
            .keys()
            .map(String::as_str)
            .filter(|r| is_pod_resource(r))
            .collect();
        if limited.is_empty() || !quota.covers(&charge) {
            continue;
        }
        check_amounts_specified(pod, &quota.name, &limited)?;
        covering.push(quota);
    }
    if covering.is_empty() {
        return Ok(());
    }

    let mut requested_by_pod = charge.usage(now).clone();
    requested_by_pod.retain(|_, amount| !amount.is_zero());
    for quota in covering {
        let hard = &quota.hard;
        let requested = mask(&requested_by_pod, hard.keys());
        if requested.is_empty() {
            continue;
        }
        let used = quota.usage(existing.clone(), now);
        let exceeded: Vec<&String> = requested
            .iter()
            .filter(|(name, amount)| {
                used.get(*name).copied().unwrap_or_default() + **amount > hard[*name]
            })
            .map(|(name, _)| name)
            .collect();
        if !exceeded.is_empty() {
            return Err(QuotaExceeded::Exceeded {
                quota: quota.name.clone(),
                requested: mask(&requested, exceeded.iter().copied()),
                used: mask(&used, exceeded.iter().copied()),
                limited: mask(hard, exceeded.iter().copied()),
            });
        }
    }
    Ok(())
}

/// The quota's `status` (`hard` and `used`) for the pods in its namespace.
pub fn status(quota: &Value, pods: &[Value]) -> Value {
    status_at(quota, pods, Timestamp::now())
}

/// [`status`] at a given time. Resources that pods do not consume (such as
/// `services`) keep the `used` value they had, or `0`.
pub fn status_at(quota: &Value, pods: &[Value], now: Timestamp) -> Value {
    let Some(rule) = QuotaRule::decode(quota) else {
        return quota.get("status").cloned().unwrap_or(Value::Null);
    };
    let charges: Vec<PodCharge> = pods.iter().filter_map(PodCharge::decode).collect();
    status_of(quota, &rule, charges.iter(), now)
}

/// [`status_at`] for a quota already decoded into `rule`, given the charges
/// of the pods in its namespace.
pub fn status_of<'a>(
    quota: &Value,
    rule: &QuotaRule,
    pods: impl IntoIterator<Item = &'a PodCharge>,
    now: Timestamp,
) -> Value {
    let hard = &rule.hard;
    let used = rule.usage(pods, now);
    let previous_used = quota.pointer("/status/used").and_then(Value::as_object);

    let mut status = Map::new();
    if !hard.is_empty() {
        let hard_json = hard
            .iter()
            .map(|(name, amount)| (name.clone(), Value::String(amount.to_string())));
        status.insert("hard".into(), Value::Object(hard_json.collect()));
        let used_json = used.iter().map(|(name, amount)| {
            let carried = previous_used
                .filter(|_| !is_pod_resource(name))
                .and_then(|u| u.get(name));
            (
                name.clone(),
                carried
                    .cloned()
                    .unwrap_or_else(|| Value::String(amount.to_string())),
            )
        });
        status.insert("used".into(), Value::Object(used_json.collect()));
    }
    Value::Object(status)
}

/// What quota needs of a ResourceQuota: its name, hard limits and scopes.
#[derive(Clone, Debug, PartialEq)]
pub struct QuotaRule {
    pub name: String,
    /// `spec.hard`, amounts that do not parse left out.
    pub hard: ResourceList,
    /// `spec.scopes` and `spec.scopeSelector`; a pod is covered when it matches all.
    selectors: Vec<ScopedResourceSelectorRequirement>,
}

impl QuotaRule {
    /// `None` (with a warning) when the value is not a ResourceQuota.
    pub fn decode(quota: &Value) -> Option<QuotaRule> {
        decode::<ResourceQuota>(quota, "resourcequota").map(|q| QuotaRule::of(&q))
    }

    pub fn of(quota: &ResourceQuota) -> QuotaRule {
        QuotaRule {
            name: quota_name(quota).to_owned(),
            hard: hard_limits(quota),
            selectors: scope_selectors(quota),
        }
    }

    /// Whether the quota's scopes select this pod.
    pub fn covers(&self, pod: &PodCharge) -> bool {
        self.selectors.iter().all(|s| pod.matches_scope(s))
    }

    /// What the covered pods use of each hard resource.
    fn usage<'a>(
        &self,
        pods: impl IntoIterator<Item = &'a PodCharge>,
        now: Timestamp,
    ) -> ResourceList {
        let mut used: ResourceList = self
            .hard
            .keys()
            .map(|name| (name.clone(), Quantity::ZERO))
            .collect();
        for pod in pods.into_iter().filter(|pod| self.covers(pod)) {
            add_all(&mut used, mask(pod.usage(now), self.hard.keys()));
        }
        used
    }
}

/// Everything quota needs to know of a pod, worked out once: which scopes
/// it falls in and what it charges (upstream's `PodUsageFunc`).
#[derive(Clone, Debug, PartialEq)]
pub struct PodCharge {
    /// `spec.priorityClassName`, unless empty.
    priority_class: Option<String>,
    /// `spec.activeDeadlineSeconds` is set (the `Terminating` scope).
    terminating: bool,
    qos_class: &'static str,
    cross_namespace_affinity: bool,
    charged: Charged,
    /// `count/pods` only: what every stored pod charges.
    counted: ResourceList,
    /// `count/pods` and the compute resources: what a pod charges while it is charged.
    running: ResourceList,
}

/// While a pod's compute resources count.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Charged {
    /// Finished (`Succeeded` or `Failed`).
    Never,
    Always,
    /// Being deleted: until its grace period is over.
    Until(Timestamp),
}

impl PodCharge {
    /// `None` (with a warning) when the value is not a Pod.
    pub fn decode(pod: &Value) -> Option<PodCharge> {
        decode::<Pod>(pod, "pod").map(|p| PodCharge::of(&p))
    }

    pub fn of(pod: &Pod) -> PodCharge {
        let spec = pod.spec.as_ref();
        let counted = ResourceList::from([("count/pods".to_owned(), Quantity::from_units(1))]);
        let mut running = counted.clone();
        // Overhead adds to every request, and to the limits that are set.
        let overhead = spec.and_then(|s| s.overhead.as_ref());
        let overhead = parse_list(overhead.into_iter().flatten(), "spec.overhead");
        let mut requests = pod_resources(pod, container_requests);
        let mut limits = pod_resources(pod, container_limits);
        for (name, extra) in &overhead {
            if let Some(limit) = limits.get_mut(name).filter(|l| !l.is_zero()) {
                *limit += *extra;
            }
        }
        add_all(&mut requests, overhead);
        add_all(&mut running, compute_usage(&requests, &limits));
        PodCharge {
            priority_class: spec
                .and_then(|s| s.priority_class_name.clone())
                .filter(|c| !c.is_empty()),
            terminating: is_terminating(pod),
            qos_class: qos_class_of(pod),
            cross_namespace_affinity: uses_cross_namespace_pod_affinity(pod),
            charged: charged(pod),
            counted,
            running,
        }
    }

    /// What the pod charges at `now`: `count/pods` always; compute resources
    /// and `pods` while it has not finished and is not stuck past its
    /// deletion grace period.
    fn usage(&self, now: Timestamp) -> &ResourceList {
        let charged = match self.charged {
            Charged::Never => false,
            Charged::Always => true,
            Charged::Until(deadline) => now <= deadline,
        };
        if charged {
            &self.running
        } else {
            &self.counted
        }
    }

    fn matches_scope(&self, selector: &ScopedResourceSelectorRequirement) -> bool {
        match selector.scope_name.as_str() {
            "Terminating" => self.terminating,
            "NotTerminating" => !self.terminating,
            "BestEffort" => self.qos_class == "BestEffort",
            "NotBestEffort" => self.qos_class != "BestEffort",
            "PriorityClass" => {
                // A label selector over the one label `PriorityClass=<class>`,
                // absent when the pod names no class.
                let class = self.priority_class.as_deref();
                let listed = |class: &str| selector.values.iter().flatten().any(|v| v == class);
                match selector.operator.as_str() {
                    "Exists" => class.is_some(),
                    "DoesNotExist" => class.is_none(),
                    "In" => class.is_some_and(listed),
                    "NotIn" => !class.is_some_and(listed),
                    _ => false,
                }
            }
            "CrossNamespacePodAffinity" => self.cross_namespace_affinity,
            _ => false,
        }
    }
}

/// The pod's QoS class (`Guaranteed`, `Burstable` or `BestEffort`), which
/// the real server sets in `status.qosClass` on create; `None` when the
/// value is not a pod.
pub fn qos_class(pod: &Value) -> Option<&'static str> {
    decode::<Pod>(pod, "pod").map(|pod| qos_class_of(&pod))
}

fn decode<T: DeserializeOwned>(value: &Value, what: &str) -> Option<T> {
    T::deserialize(value)
        .map_err(|error| tracing::warn!(%error, "quota: skipping a {what} that does not decode"))
        .ok()
}

fn quota_name(quota: &ResourceQuota) -> &str {
    quota.metadata.name.as_deref().unwrap_or_default()
}

/// `spec.hard`, skipping amounts that do not parse (validation refuses them).
fn hard_limits(quota: &ResourceQuota) -> ResourceList {
    let hard = quota.spec.as_ref().and_then(|s| s.hard.as_ref());
    parse_list(hard.into_iter().flatten(), "spec.hard")
}

fn parse_list<'a>(
    entries: impl IntoIterator<
        Item = (
            &'a String,
            &'a k8s_openapi::apimachinery::pkg::api::resource::Quantity,
        ),
    >,
    field: &str,
) -> ResourceList {
    entries
        .into_iter()
        .filter_map(|(name, amount)| match amount.0.parse::<Quantity>() {
            Ok(parsed) => Some((name.clone(), parsed)),
            Err(error) => {
                tracing::warn!(%error, "quota: ignoring {field}[{name}]");
                None
            }
        })
        .collect()
}

/// Whether quota for this resource name is charged by pods.
pub fn is_pod_resource(name: &str) -> bool {
    POD_RESOURCES.contains(&name)
        || name.starts_with("hugepages-")
        || name.starts_with("requests.hugepages-")
        || name
            .strip_prefix("requests.")
            .is_some_and(|rest| !is_native_resource(rest))
}

fn is_native_resource(name: &str) -> bool {
    !name.contains('/') || name.contains("kubernetes.io/")
}

fn is_extended_resource(name: &str) -> bool {
    !is_native_resource(name) && !name.starts_with("requests.")
}

/// `spec.scopes` (each meaning `Exists`) followed by `spec.scopeSelector`.
fn scope_selectors(quota: &ResourceQuota) -> Vec<ScopedResourceSelectorRequirement> {
    let Some(spec) = &quota.spec else {
        return Vec::new();
    };
    let scopes = spec
        .scopes
        .iter()
        .flatten()
        .map(|scope| ScopedResourceSelectorRequirement {
            scope_name: scope.clone(),
            operator: "Exists".into(),
            values: None,
        });
    let expressions = spec
        .scope_selector
        .iter()
        .flat_map(|s| s.match_expressions.iter().flatten().cloned());
    scopes.chain(expressions).collect()
}

fn is_terminating(pod: &Pod) -> bool {
    pod.spec
        .as_ref()
        .and_then(|s| s.active_deadline_seconds)
        .is_some_and(|seconds| seconds >= 0)
}

fn uses_cross_namespace_pod_affinity(pod: &Pod) -> bool {
    let crosses = |term: &PodAffinityTerm| {
        term.namespaces.as_ref().is_some_and(|n| !n.is_empty()) || term.namespace_selector.is_some()
    };
    let any_term = |required: &Option<Vec<PodAffinityTerm>>,
                    preferred: &Option<Vec<WeightedPodAffinityTerm>>| {
        required.iter().flatten().any(crosses)
            || preferred
                .iter()
                .flatten()
                .any(|w| crosses(&w.pod_affinity_term))
    };
    let Some(affinity) = pod.spec.as_ref().and_then(|s| s.affinity.as_ref()) else {
        return false;
    };
    affinity.pod_affinity.as_ref().is_some_and(|a| {
        any_term(
            &a.required_during_scheduling_ignored_during_execution,
            &a.preferred_during_scheduling_ignored_during_execution,
        )
    }) || affinity.pod_anti_affinity.as_ref().is_some_and(|a| {
        any_term(
            &a.required_during_scheduling_ignored_during_execution,
            &a.preferred_during_scheduling_ignored_during_execution,
        )
    })
}

/// Refuses the pod when a limited cpu/memory resource has no amount in some
/// container (init containers included).
fn check_amounts_specified(
    pod: &Pod,
    quota: &str,
    limited: &BTreeSet<&str>,
) -> Result<(), QuotaExceeded> {
    let required: Vec<&str> = MUST_BE_SPECIFIED
        .into_iter()
        .filter(|r| limited.contains(r))
        .collect();
    let mut missing: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for container in all_containers(pod) {
        let given = compute_usage(&container_requests(container), &container_limits(container));
        for resource in required.iter().filter(|r| !given.contains_key(**r)) {
            missing
                .entry((*resource).to_owned())
                .or_default()
                .insert(container.name.clone());
        }
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(QuotaExceeded::MissingAmounts {
            quota: quota.to_owned(),
            missing,
        })
    }
}

fn all_containers(pod: &Pod) -> impl Iterator<Item = &Container> {
    let spec = pod.spec.as_ref();
    let containers = spec.into_iter().flat_map(|s| s.containers.iter());
    let init = spec
        .into_iter()
        .flat_map(|s| s.init_containers.iter().flatten());
    containers.chain(init)
}

fn container_limits(container: &Container) -> ResourceList {
    let limits = container.resources.as_ref().and_then(|r| r.limits.as_ref());
    parse_list(limits.into_iter().flatten(), "resources.limits")
}

/// Requests after the API server's defaulting: a resource with a limit and
/// no request is requested at its limit.
fn container_requests(container: &Container) -> ResourceList {
    let requests = container
        .resources
        .as_ref()
        .and_then(|r| r.requests.as_ref());
    let mut effective = parse_list(requests.into_iter().flatten(), "resources.requests");
    for (name, limit) in container_limits(container) {
        effective.entry(name).or_insert(limit);
    }
    effective
}

/// While the pod's compute resources count: not once it has finished, nor
/// once it is stuck past its deletion grace period.
fn charged(pod: &Pod) -> Charged {
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    if matches!(phase, Some("Succeeded" | "Failed")) {
        return Charged::Never;
    }
    let meta = &pod.metadata;
    match (&meta.deletion_timestamp, meta.deletion_grace_period_seconds) {
        (Some(deleted), Some(grace)) => deleted
            .0
            .checked_add(SignedDuration::from_secs(grace))
            .map_or(Charged::Always, Charged::Until),
        _ => Charged::Always,
    }
}

/// The pod's total of `per_container`: regular containers and sidecars run
/// together; each ordinary init container runs alone beside the sidecars
/// started before it; the pod needs the larger of the two phases.
fn pod_resources(pod: &Pod, per_container: fn(&Container) -> ResourceList) -> ResourceList {
    let Some(spec) = &pod.spec else {
        return ResourceList::new();
    };
    let mut total = ResourceList::new();
    for container in &spec.containers {
        add_all(&mut total, per_container(container));
    }
    let mut sidecars = ResourceList::new();
    let mut init_peak = ResourceList::new();
    for container in spec.init_containers.iter().flatten() {
        let own = per_container(container);
        let while_running = if container.restart_policy.as_deref() == Some("Always") {
            add_all(&mut total, own.clone());
            add_all(&mut sidecars, own);
            sidecars.clone()
        } else {
            let mut alongside = own;
            add_all(&mut alongside, sidecars.clone());
            alongside
        };
        max_all(&mut init_peak, while_running);
    }
    max_all(&mut total, init_peak);
    total
}

/// Quota resource names charged for these requests and limits (upstream's
/// `podComputeUsageHelper`).
fn compute_usage(requests: &ResourceList, limits: &ResourceList) -> ResourceList {
    let mut usage = ResourceList::from([("pods".to_owned(), Quantity::from_units(1))]);
    for resource in NATIVE_COMPUTE {
        if let Some(amount) = requests.get(resource) {
            usage.insert(resource.to_owned(), *amount);
            usage.insert(format!("requests.{resource}"), *amount);
        }
        if let Some(amount) = limits.get(resource) {
            usage.insert(format!("limits.{resource}"), *amount);
        }
    }
    for (name, amount) in requests {
        if name.starts_with("hugepages-") {
            usage.insert(name.clone(), *amount);
        }
        if name.starts_with("hugepages-") || is_extended_resource(name) {
            usage.insert(format!("requests.{name}"), *amount);
        }
    }
    usage
}

fn qos_class_of(pod: &Pod) -> &'static str {
    let mut requests = ResourceList::new();
    let mut limits = ResourceList::new();
    let mut guaranteed = true;
    let positive_qos = |list: ResourceList| -> ResourceList {
        list.into_iter()
            .filter(|(name, amount)| {
                matches!(name.as_str(), "cpu" | "memory") && *amount > Quantity::ZERO
            })
            .collect()
    };
    for container in all_containers(pod) {
        add_all(&mut requests, positive_qos(container_requests(container)));
        let container_limits = positive_qos(container_limits(container));
        guaranteed &=
            container_limits.contains_key("cpu") && container_limits.contains_key("memory");
        add_all(&mut limits, container_limits);
    }
    if requests.is_empty() && limits.is_empty() {
        "BestEffort"
    } else if guaranteed && requests == limits {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

fn mask<'a>(list: &ResourceList, names: impl IntoIterator<Item = &'a String>) -> ResourceList {
    names
        .into_iter()
        .filter_map(|name| list.get(name).map(|amount| (name.clone(), *amount)))
        .collect()
}

fn add_all(list: &mut ResourceList, other: ResourceList) {
    for (name, amount) in other {
        *list.entry(name).or_insert(Quantity::ZERO) += amount;
    }
}

fn max_all(list: &mut ResourceList, other: ResourceList) {
    for (name, amount) in other {
        let current = list.entry(name).or_insert(amount);
        if amount > *current {
            *current = amount;
        }
    }
}
