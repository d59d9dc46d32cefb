//! An in-process Kubernetes API server for tests and the local playground.
//!
//! It keeps objects in memory and serves the Kubernetes REST API over plain
//! HTTP on 127.0.0.1, closely enough that kube-runtime, the real `kubectl`
//! and Helm cannot tell it from kube-apiserver for what this project does.
//! It is test infrastructure, never a production control plane.
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use embedded_apiserver::{Config, EmbeddedApiServer};
//! let server = EmbeddedApiServer::start(Config::default()).await?;
//! let client = server.client()?; // a kube::Client, default namespace "default"
//! server.write_kubeconfig("/tmp/kubeconfig")?; // for kubectl and Helm
//! server.faults().fail("update", "pods/status", 409, 2); // the next two status updates conflict
//! server.reset_requests();
//! // ... drive the operator ...
//! assert_eq!(server.requests().writes(), 0, "a steady-state reconcile writes nothing");
//! server.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! Beyond CRUD it serves what clients negotiate for: aggregated discovery
//! v2 (`discovery::v2`), `PartialObjectMetadata` (`metadata_only`), `/scale`
//! (`scale`), ServiceAccount tokens and TokenReview (`tokens`), a CSR's
//! `approval` (`subresources`), and the objects kube-apiserver bootstraps
//! (`bootstrap`: the `default/kubernetes` Service, its Endpoints and
//! EndpointSlice, the user-facing ClusterRoles, componentstatuses and local
//! APIServices).
//!
//! Layers, from the wire inwards:
//! - `http` (routing like upstream's `RequestInfo`, query parameters, content
//!   negotiation including `as=Table`, the [`authz`] step, fault injection,
//!   request accounting) and `watch` (watch streams);
//! - `cluster` and `gc`: verb semantics — create, update, patch (`patch`,
//!   `managed` for strategic merge and server-side apply), delete with
//!   finalizers, propagation policies, garbage collection, namespace
//!   termination, quota admission — independent of HTTP;
//! - `registry` (built-in kinds from `builtin`, custom kinds from `crd`) and
//!   `store` (objects, the global resourceVersion, bounded per-resource
//!   history, broadcast channels for watch fan-out).
//!
//! With `Config::simulate_workloads`, `workloads` plays the kubelet, the
//! scheduler and the workload controllers ([`simulation`]): Nodes register,
//! pods are scheduled onto them (or stay Pending with the scheduler's
//! reason) and start, claims bind, Deployments and StatefulSets report
//! replicas, Jobs run their pods to completion (or failure, as a test says:
//! [`EmbeddedApiServer::set_job_pods`]), CronJobs make Jobs on schedule,
//! PodDisruptionBudgets count healthy pods, and containers write a few log
//! lines for `pods/log`. Containers of
//! the Dolt, beads and Gas Town agent images are held to those images'
//! contracts ([`simulation::contracts`]), so a pod built wrong crash-loops
//! or never becomes ready as it would on a real cluster.
//!
//! One lock guards `cluster`: every write is applied, versioned and broadcast
//! under it, so watchers see changes in resourceVersion order. Nothing on the
//! write path is O(number of objects) except quota usage, which is
//! O(pods in the namespace) and only where a ResourceQuota exists.
//!
//! Known differences from kube-apiserver: pods are deleted at once (no
//! kubelet grace period); garbage collection and namespace cleanup happen
//! within the deleting request rather than asynchronously; deleting a CRD
//! removes its objects without waiting for their finalizers;
//! `fieldValidation=Warn` is treated like `Ignore`; lists always read the
//! latest state (`resourceVersionMatch=Exact` of an older version is not kept);
//! of the built-in kinds' immutable fields only a StatefulSet's spec outside
//! its updatable fields and a PersistentVolumeClaim's spec outside its storage
//! request are enforced (`immutable`), not a Pod's spec, a Deployment's
//! selector or a RoleBinding's roleRef (a Job's selector, template and
//! completions are). There is no kubelet to reach: `pods/exec`, `attach` and
//! `portforward` fail with the dial error kube-apiserver gives when it cannot
//! reach one, and `pods/log` serves the simulation's lines (a `follow`
//! ends at once). An eviction deletes its pod at once. The simulated
//! controllers take shortcuts the `simulation` module lists: no back-off
//! between a Job's retries, no per-index back-off limits for Indexed Jobs, no
//! scoring, pod affinity, topology spread or preemption in the scheduler,
//! and a PodDisruptionBudget's expected pods are the pods it selects.
//! Simulated nodes are far larger than real ones (256 CPUs, 1 TiB, 1000
//! pods each), so that the project's own workloads always fit.
//!
//! Protocol differences, each out of scope because no client this project
//! uses depends on it: responses are JSON only (protobuf is accepted in
//! request bodies, for every GA built-in kind, decoded with the descriptors
//! of k8s.io/api v0.33.9; an empty string there reads as unset, as Go's
//! omitempty JSON would, so a pointer field set to `""` is lost); aggregated
//! discovery is served as `apidiscovery.k8s.io/v2` JSON only, without ETags;
//! only the top level and `metadata` of an object follow Go's field order,
//! deeper keys are sorted; an apply to `/scale` merges like a merge patch and
//! records no managed fields; ServiceAccount tokens carry upstream's claims
//! but a random signature (this server recognises the tokens it issued; there
//! is no JWKS or OIDC discovery, and bound object references are not
//! checked); no signer issues certificates for approved
//! CertificateSigningRequests and approval needs no `approve` on a signer;
//! `componentstatuses` are always healthy; APIServices exist for the
//! built-in groups only and nothing is aggregated; of the bootstrap policy
//! only the user-facing roles exist (`cluster-admin`, `admin`, `edit`,
//! `view` and their `system:aggregate-to-*` parts, `bootstrap`), with the
//! aggregation computed once at start: a ClusterRole labelled
//! `aggregate-to-*` later is not folded in. What needs a kubelet or a
//! container runtime (logs, exec, attach, port-forward) is simulated or
//! refused, never real.

mod annotations;
pub mod authz;
mod batch;
mod bootstrap;
mod builtin;
mod cluster;
mod crd;
mod custom;
mod defaults;
mod discovery;
pub mod errors;
mod events;
mod faults;
mod gc;
mod http;
mod immutable;
mod label_selector;
mod managed;
mod metadata_only;
mod names;
pub mod openapi;
mod ordered;
mod patch;
mod pod_controls;
mod protobuf;
mod protocol_kinds;
pub mod quota;
pub mod rbac;
mod registry;
mod request;
pub mod resource;
mod scale;
mod selector;
mod server;
mod shape;
pub mod simulation;
mod store;
mod subresources;
pub mod table;
mod tokens;
mod watch;
mod workloads;

pub use faults::{Faults, RequestCounts};
pub use pod_controls::PodNotFound;
pub use server::{ClientError, Config, EmbeddedApiServer, StartError};
pub use workloads::batch::JobPods;
