//! A faithful test beads server: an in-memory bead store served with one of two personalities
//! ([`Personality`], chosen by [`TestDaemonConfig::personality`]).
//!
//! **Daemon** (the default, the bd daemon):
//! - HTTP (the Kubernetes-era daemon): `GET /healthz` (`/health`), `GET /readyz`, `GET /metrics`,
//!   `POST /bd.v1.BeadsService/<Method>` with a bearer token, and the SSE stream `GET /events`.
//! - TCP, newline-delimited JSON (the legacy listener): `{"operation","args","token",…}` per line,
//!   `{"success","data","error"}` back.
//!
//! **Serve** (`bd serve`, beads HTTP API v0, see `bd-serve-v0.md`): the HTTP listener serves
//! `GET /healthz`, `GET /v0/beads/ready`, `GET /v0/beads/context`, `GET /v0/beads/issues`,
//! `GET /v0/beads/issues:count`, `GET|PATCH /v0/beads/issues/{id}`,
//! `POST /v0/beads/issues/{id}:casMetadata`, `GET /v0/beads/events` and
//! `GET /v0/beads/events:watch`, with the Host allowlist, `application/problem+json` errors,
//! `Cache-Control: no-store`, unknown-parameter refusals and bearer auth of the real server. The
//! TCP listener stays up with the daemon protocol (a real serve has none; nothing needs to use it).
//! Other v0 routes (create, claim, dependencies, …) are not served: 404, although `capabilities`
//! lists their tokens as bd does. Requests are counted in the [`RequestLog`] under the
//! [`serve_op`] names (`"GET /v0/beads/issues"`, …).
//!
//! Tests seed and change beads through [`BeadStore`]. Every change is a mutation event on both
//! `get_mutations` and `/events`, reminted [`Issue::revision`], and an [`EventRecord`] in the
//! store's events journal (gapless `seq` from 1; store writes have no actor, API writes carry the
//! body's `actor`). Faults are switched through [`Faults`] (the serve ones: `journal_disabled`,
//! `prune_journal_through`, `busy`, `watch_saturated`, `capabilities_without`; the one-shot
//! `fail_next`/`drop_next`/`malform_next` and `set_latency` work on both personalities), and
//! requests are counted through [`RequestLog`].
//!
//! Agent beads come in two shapes ([`AgentStyle`] in [`TownShape::style`]): the daemon era's
//! columns, and current Gas Town's (`task` beads labelled `gt:agent` with `key: value` description
//! lines, work hooked by `status=hooked` + `assignee=<identity path>`, merge requests as wisps).
//! [`BeadStore::set_agent_state`] and [`BeadStore::set_hook`] write whichever shape a bead has;
//! [`BeadStore::hook_work`]/[`BeadStore::unhook_work`] hook work the current way.
//!
//! One server can stand in for several: [`TestDaemon::add_tenant`] adds a [`Tenant`] reached with
//! its own token (HTTP bearer, `/events`, TCP `token`), with its own store, journal, faults, request
//! log and mutation stream — with bd serve, one tenant is one `bd serve` of one database. Requests
//! without a tenant's token go to the default tenant (`config.token`; empty = no auth, never
//! 401), which `store()`, `faults()` and `requests()` address.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! use beads_testd::{Issue, Scope, TestDaemon, TestDaemonConfig, TownShape, seed_town};
//!
//! let daemon = TestDaemon::start(TestDaemonConfig::default()).await?;
//! seed_town(daemon.store(), &["gastown"], &TownShape::default());
//! daemon.store().insert(Issue::merge_request("gastown", "gastown-mr-9", "open"));
//! daemon.faults().fail_next(Scope::operation("list"), 1, "database is locked");
//! // ... point a client at daemon.http_url() or daemon.tcp_url() with daemon.token() ...
//! assert_eq!(daemon.requests().count("list"), 0);
//! daemon.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! A bd serve example:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! use beads_testd::{AgentStyle, Personality, TestDaemon, TestDaemonConfig, TownShape, seed_town};
//!
//! let serve = TestDaemon::start(TestDaemonConfig {
//!     personality: Personality::Serve,
//!     ..TestDaemonConfig::default()
//! })
//! .await?;
//! let shape = TownShape { style: AgentStyle::GasTownToday, ..TownShape::default() };
//! seed_town(serve.store(), &["gastown"], &shape);
//! serve.store().set_agent_state("gt-gastown-polecat-nux", "stuck");
//! serve.faults().journal_disabled(true);
//! // ... GET {serve.http_url()}/v0/beads/issues?label=gt:agent&include_infra=true ...
//! assert_eq!(serve.store().journal_head() as usize, serve.store().len() + 1);
//! serve.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! Deliberate quirks copied from the daemon: empty `get_mutations` answers are `null`; an empty
//! `agent_pod_list` is `{"agents": null}`; `agent_pod_list`'s `rig` filter reads only the `rig` field.
//! One deliberate difference: event ids (unix ms) are unique and increasing, so resuming from an id
//! never skips an event that happened in the same millisecond.

mod agent;
mod auth;
mod faults;
mod fixtures;
mod http;
mod issue;
mod journal;
mod mutation;
mod ops;
mod query;
mod requests;
mod serve;
mod sse;
mod store;
mod tcp;
mod tenant;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use agent::{AgentStyle, description_field};
pub use faults::{Faults, HealthFault, Scope, endpoint};
pub use fixtures::{TownShape, seed_town, seed_town_today};
pub use issue::{Dependency, Issue, PARENT_CHILD, gastown, status};
pub use journal::{EventRecord, JOURNAL_RETAIN_ROWS, journal_op};
pub use mutation::{EventFilter, MutationEvent, kind};
pub use query::MAX_IDS;
pub use requests::{RequestLog, Tally, Transport};
pub use serve::{CAPABILITIES, MAX_WATCH_STREAMS, Personality, SCHEMA_VERSION, op as serve_op};
pub use store::{BeadStore, DEFAULT_HISTORY_CAPACITY};
pub use tcp::MAX_LINE_BYTES;
pub use tenant::{Tenant, TenantError};

use ops::{Backend, Connections};
use requests::RequestRecorder;
use tenant::Tenants;

/// How a [`TestDaemon`] starts.
#[derive(Debug, Clone)]
pub struct TestDaemonConfig {
    /// The daemon's `BD_DAEMON_TOKEN`; empty disables authentication, as on a real daemon.
    pub token: String,
    /// Reported by `health`, `ping`, `status` and `/healthz`.
    pub version: String,
    /// How often an idle SSE stream sends `: keepalive` (the daemon: 15 s; tests want less).
    pub keepalive_interval: Duration,
    /// How many mutation events are kept for `get_mutations` and `since` replays.
    pub history_capacity: usize,
    /// Which server the HTTP listener plays (default: the bd daemon).
    pub personality: Personality,
    /// The IP both listeners bind (port 0). A wildcard (`0.0.0.0`, `::`) makes bd serve accept any
    /// IP-literal `Host`; [`TestDaemon::http_url`] then names loopback.
    pub bind_ip: IpAddr,
    /// bd serve: acts as started with `--allow-non-loopback` (as pods binding `0.0.0.0` are), so
    /// `limit=0` on list reads is a 400. Default true.
    pub allow_non_loopback: bool,
    /// bd serve: extra `Host` names allowed (`--allowed-host`), bare hosts.
    pub allowed_hosts: Vec<String>,
    /// bd serve: how long an idle `events:watch` stream waits before `: heartbeat` (bd: ~20 s).
    pub heartbeat_interval: Duration,
    /// bd serve: `database` in `/v0/beads/context` (every tenant reports the same).
    pub database: String,
    /// bd serve: `project_id` in `/v0/beads/context`, checked against `Bd-Project-Id`.
    pub project_id: String,
}

impl Default for TestDaemonConfig {
    fn default() -> Self {
        TestDaemonConfig {
            token: "testd-token".to_owned(),
            version: "0.60.0".to_owned(),
            keepalive_interval: Duration::from_secs(15),
            history_capacity: DEFAULT_HISTORY_CAPACITY,
            personality: Personality::Daemon,
            bind_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            allow_non_loopback: true,
            allowed_hosts: Vec::new(),
            heartbeat_interval: Duration::from_secs(20),
            database: "beads".to_owned(),
            project_id: "testd-project".to_owned(),
        }
    }
}

/// A running test daemon with an HTTP and a TCP listener on loopback. Dropping it stops the listeners;
/// [`TestDaemon::shutdown`] also waits for every connection task to end.
pub struct TestDaemon {
    personality: Personality,
    tenants: Arc<Tenants>,
    http_addr: SocketAddr,
    tcp_addr: SocketAddr,
    shutdown: CancellationToken,
    tracker: TaskTracker,
}

impl std::fmt::Debug for TestDaemon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestDaemon")
            .field("http", &self.http_addr)
            .field("tcp", &self.tcp_addr)
            .finish_non_exhaustive()
    }
}

impl TestDaemon {
    /// Binds both listeners on `config.bind_ip` (default `127.0.0.1`), port 0, and starts serving
    /// an empty store.
    pub async fn start(config: TestDaemonConfig) -> std::io::Result<TestDaemon> {
        let bind = SocketAddr::from((config.bind_ip, 0));
        let http_listener = TcpListener::bind(bind).await?;
        let tcp_listener = TcpListener::bind(bind).await?;
        let http_bound = http_listener.local_addr()?;
        let reachable = |addr: SocketAddr| {
            if addr.ip().is_unspecified() {
                SocketAddr::from((Ipv4Addr::LOCALHOST, addr.port()))
            } else {
                addr
            }
        };
        let http_addr = reachable(http_bound);
        let tcp_addr = reachable(tcp_listener.local_addr()?);
        let serve_settings = serve::ServeSettings {
            version: config.version.clone(),
            bind: http_bound,
            allowed_hosts: config.allowed_hosts.clone(),
            allow_non_loopback: config.allow_non_loopback,
            heartbeat: config.heartbeat_interval,
            database: config.database.clone(),
            project_id: config.project_id.clone(),
        };

        let store = BeadStore::new(config.history_capacity);
        let backend = Backend {
            faults: Faults::new(store.clone()),
            store,
            requests: RequestRecorder::default(),
            connections: Arc::new(Connections::default()),
            version: config.version,
            token: config.token,
            http_addr: http_addr.to_string(),
            started: Instant::now(),
        };
        let tenants = Arc::new(Tenants::new(backend, config.history_capacity));
        let shutdown = CancellationToken::new();
        let tracker = TaskTracker::new();
        match config.personality {
            Personality::Daemon => {
                tracker.spawn(http::serve(
                    http_listener,
                    Arc::clone(&tenants),
                    config.keepalive_interval,
                    shutdown.clone(),
                    tracker.clone(),
                ));
            }
            Personality::Serve => {
                tracker.spawn(serve::serve(
                    http_listener,
                    Arc::clone(&tenants),
                    serve_settings,
                    shutdown.clone(),
                    tracker.clone(),
                ));
            }
        }
        tracker.spawn(tcp::serve(
            tcp_listener,
            Arc::clone(&tenants),
            shutdown.clone(),
            tracker.clone(),
        ));
        Ok(TestDaemon {
            personality: config.personality,
            tenants,
            http_addr,
            tcp_addr,
            shutdown,
            tracker,
        })
    }

    /// Which server the HTTP listener plays.
    pub fn personality(&self) -> Personality {
        self.personality
    }

    /// `http://127.0.0.1:PORT`: the daemon's base URL, or bd serve's (routes under `/v0/beads/`).
    pub fn http_url(&self) -> String {
        format!("http://{}", self.http_addr)
    }

    /// `tcp://127.0.0.1:PORT`
    pub fn tcp_url(&self) -> String {
        format!("tcp://{}", self.tcp_addr)
    }

    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    pub fn tcp_addr(&self) -> SocketAddr {
        self.tcp_addr
    }

    /// The default tenant's token (`config.token`).
    pub fn token(&self) -> &str {
        &self.backend().token
    }

    /// The default tenant's beads.
    pub fn store(&self) -> &BeadStore {
        &self.backend().store
    }

    /// The default tenant's faults.
    pub fn faults(&self) -> &Faults {
        &self.backend().faults
    }

    /// A snapshot of the requests the default tenant received so far (including every request
    /// with no or an unknown token).
    pub fn requests(&self) -> RequestLog {
        self.backend().requests.snapshot()
    }

    /// Forgets the requests the default tenant received so far.
    pub fn reset_requests(&self) {
        self.backend().requests.reset();
    }

    /// Adds a tenant reached with `token`: from then on, requests carrying it see only the new
    /// tenant's (empty) store, faults, request log and mutation stream, as if they went to a
    /// daemon of their own.
    pub fn add_tenant(&self, token: impl Into<String>) -> Result<Tenant, TenantError> {
        self.tenants.add(token.into())
    }

    /// The tenant `token` reaches, the default one included; `None` for an unknown token.
    pub fn tenant(&self, token: &str) -> Option<Tenant> {
        self.tenants.get(token)
    }

    /// The default tenant.
    pub fn default_tenant(&self) -> Tenant {
        Tenant::new(Arc::clone(self.backend()))
    }

    /// Every tenant: the default one first, then the added ones in no particular order.
    pub fn tenants(&self) -> Vec<Tenant> {
        self.tenants.all()
    }

    fn backend(&self) -> &Arc<Backend> {
        self.tenants.default_backend()
    }

    /// Stops both listeners, ends every connection and event stream, and waits for them.
    pub async fn shutdown(self) {
        self.shutdown.cancel();
        self.tracker.close();
        self.tracker.wait().await;
    }
}

impl Drop for TestDaemon {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}
