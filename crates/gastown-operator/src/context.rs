//! What every reconcile shares: the API client, the watch cache, the event
//! recorder, metrics, settings and the connections to each town's bd daemon.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use beads_client::{Beads, ClientConfig, Protocol, Token};
use gastown_api::GasTown;
use gastown_api::gastown::BeadsProtocol;
use k8s_openapi::api::core::v1::Secret;
use kube::api::ApiResource;
use kube::runtime::events::Recorder;
use kube::runtime::reflector::ObjectRef;
use kube::{Api, Client, ResourceExt};

use crate::beads_view::BeadsViews;
use crate::cache::Cache;
use crate::controllers::retry::FailureCounts;
use crate::error::{Error, Result};
use crate::metrics::Metrics;
use crate::naming;
use crate::runtime::beads_events::BeadsFeeds;
use crate::status_ledger::StatusLedger;

/// Operator-wide settings (flags and environment).
#[derive(Clone, Debug)]
pub struct Settings {
    /// Connect to this bd daemon URL (`http://…` or `tcp://…`) for every town
    /// instead of the town's own endpoint — for an operator running outside
    /// the cluster (seed config `BD_DAEMON_HOST`/`BD_DAEMON_PORT`).
    pub daemon_override: Option<String>,
    /// An agent whose `last_activity` is older than this is not alive.
    pub agent_staleness: Duration,
    /// Timeouts and retries of bd daemon requests.
    pub beads_client: ClientConfig,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            daemon_override: None,
            agent_staleness: Duration::from_secs(10 * 60),
            beads_client: ClientConfig::default(),
        }
    }
}

pub struct Context {
    pub client: Client,
    pub cache: Cache,
    pub recorder: Recorder,
    pub metrics: Arc<Metrics>,
    pub settings: Settings,
    pub beads: BeadsConnections,
    pub beads_views: BeadsViews,
    /// How each town's changes reach the operator (stream or relisting).
    pub beads_feeds: BeadsFeeds,
    /// The status last written to each resource, ahead of the cache.
    pub statuses: StatusLedger,
    /// Consecutive failed reconciles per object, for the retry delay.
    pub failures: FailureCounts,
    external_secrets: ExternalSecretsDiscovery,
}

impl Context {
    pub fn new(client: Client, cache: Cache, metrics: Arc<Metrics>, settings: Settings) -> Self {
        let recorder = Recorder::new(client.clone(), naming::FIELD_MANAGER.into());
        Self {
            client,
            cache,
            recorder,
            metrics,
            settings,
            beads: BeadsConnections::default(),
            beads_views: BeadsViews::default(),
            beads_feeds: BeadsFeeds::default(),
            statuses: StatusLedger::default(),
            failures: FailureCounts::default(),
            external_secrets: ExternalSecretsDiscovery::default(),
        }
    }

    pub fn api<K>(&self, namespace: &str) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
    {
        Api::namespaced(self.client.clone(), namespace)
    }

    /// Whether the Secret `name` exists in `namespace`, from the metadata cache.
    pub fn secret_exists(&self, namespace: &str, name: &str) -> bool {
        self.cache
            .secrets
            .get(&ObjectRef::new(name).within(namespace))
            .is_some()
    }

    /// The served ExternalSecret resource, if the external-secrets operator is
    /// installed. Discovery is asked at most every few minutes.
    pub async fn external_secrets_resource(&self) -> Result<Option<ApiResource>> {
        self.external_secrets.resource(&self.client).await
    }

    /// The beads server client of `town`, speaking the town's protocol.
    pub async fn beads_for(&self, town: &GasTown) -> Result<Beads> {
        let namespace = town.namespace().unwrap_or_default();
        let daemon = &town.spec.daemon;
        // bd serve answers only Host names on its allowlist; the builder
        // lists this spelling of the Service (builders::town::allowed_hosts).
        let endpoint = match &self.settings.daemon_override {
            Some(url) => url.clone(),
            None => {
                let service = format!("{}.{namespace}.svc", naming::bd_daemon(&town.name_any()));
                daemon.endpoint(&service).url()
            }
        };
        let key = (namespace, town.name_any());
        self.connect(town, key, beads_protocol(daemon.protocol()), &endpoint)
            .await
    }

    /// The `bd serve` of one of `town`'s rigs (`spec.daemon.rigServers`),
    /// asked with the town's token.
    pub async fn rig_server_for(&self, town: &GasTown, rig: &str, url: &str) -> Result<Beads> {
        let key = (
            town.namespace().unwrap_or_default(),
            format!("{}/rig/{rig}", town.name_any()),
        );
        self.connect(town, key, Protocol::Serve, url).await
    }

    /// A client of `endpoint` with the town's token, cached under `key`
    /// until the endpoint or the token Secret changes.
    async fn connect(
        &self,
        town: &GasTown,
        key: (String, String),
        protocol: Protocol,
        endpoint: &str,
    ) -> Result<Beads> {
        let namespace = key.0.clone();
        let secret = town
            .spec
            .daemon
            .token_secret_ref
            .as_ref()
            .map(|r| (r.name.clone(), r.key.clone()));
        // The Secret's resourceVersion (from the metadata cache) tells whether
        // the token may have changed; only then is the Secret read again.
        let secret_version = secret.as_ref().and_then(|(name, _)| {
            self.cache
                .secrets
                .get(&ObjectRef::new(name).within(&namespace))
                .and_then(|s| s.metadata.resource_version.clone())
        });
        let identity = format!("{protocol}|{endpoint}");
        if let Some(cached) = self.beads.get(&key, &identity, &secret_version) {
            return Ok(cached);
        }
        let token = match &secret {
            None => None,
            Some((name, key)) => Some(read_token(&self.client, &namespace, name, key).await?),
        };
        let client = Beads::connect(
            protocol,
            endpoint,
            token,
            self.settings.beads_client.clone(),
        )?;
        self.beads
            .put(key, identity, secret_version, client.clone());
        Ok(client)
    }
}

/// The client's name for the spec's protocol.
pub fn beads_protocol(protocol: BeadsProtocol) -> Protocol {
    match protocol {
        BeadsProtocol::Daemon => Protocol::Daemon,
        BeadsProtocol::Serve => Protocol::Serve,
    }
}

/// Reads the daemon token from its Secret. Errors name the Secret and key,
/// never the value.
async fn read_token(client: &Client, namespace: &str, name: &str, key: &str) -> Result<Token> {
    let secret = Api::<Secret>::namespaced(client.clone(), namespace)
        .get(name)
        .await
        .map_err(|e| Error::kube(format!("read Secret {namespace}/{name}"), e))?;
    let bytes = secret
        .data
        .as_ref()
        .and_then(|data| data.get(key))
        .map(|b| b.0.clone());
    let text = bytes.and_then(|b| String::from_utf8(b).ok());
    text.and_then(Token::new).ok_or_else(|| Error::Build {
        what: format!("bd daemon token from Secret {namespace}/{name}"),
        reason: format!("key {key:?} is missing or empty"),
    })
}

/// One client per town, rebuilt when its endpoint or token Secret changes.
#[derive(Default)]
pub struct BeadsConnections {
    clients: Mutex<HashMap<(String, String), CachedClient>>,
}

struct CachedClient {
    endpoint: String,
    secret_version: Option<String>,
    client: Beads,
}

impl BeadsConnections {
    fn get(
        &self,
        key: &(String, String),
        endpoint: &str,
        secret_version: &Option<String>,
    ) -> Option<Beads> {
        let clients = self
            .clients
            .lock()
            .expect("the lock is never held across a panic");
        clients
            .get(key)
            .filter(|c| c.endpoint == endpoint && &c.secret_version == secret_version)
            .map(|c| c.client.clone())
    }

    fn put(
        &self,
        key: (String, String),
        endpoint: String,
        secret_version: Option<String>,
        client: Beads,
    ) {
        let mut clients = self
            .clients
            .lock()
            .expect("the lock is never held across a panic");
        clients.insert(
            key,
            CachedClient {
                endpoint,
                secret_version,
                client,
            },
        );
    }

    /// Forgets a deleted town's client.
    pub fn forget(&self, namespace: &str, town: &str) {
        let mut clients = self
            .clients
            .lock()
            .expect("the lock is never held across a panic");
        // The town's own, and its rigs' servers (`<town>/rig/<rig>`).
        let rigs = format!("{town}/rig/");
        clients
            .retain(|(ns, name), _| ns != namespace || (name != town && !name.starts_with(&rigs)));
    }
}

/// Whether (and in which version) the cluster serves ExternalSecrets, cached
/// for [`ExternalSecretsDiscovery::TTL`] so that reconciles do not ask
/// discovery each time.
#[derive(Default)]
struct ExternalSecretsDiscovery {
    cached: Mutex<Option<(std::time::Instant, Option<ApiResource>)>>,
}

impl ExternalSecretsDiscovery {
    const TTL: Duration = Duration::from_secs(300);

    async fn resource(&self, client: &Client) -> Result<Option<ApiResource>> {
        {
            let cached = self
                .cached
                .lock()
                .expect("the lock is never held across a panic");
            if let Some((at, resource)) = cached.as_ref()
                && at.elapsed() < Self::TTL
            {
                return Ok(resource.clone());
            }
        }
        let group = crate::builders::external_secret::GROUP;
        let discovery = kube::Discovery::new(client.clone())
            .filter(&[group])
            .run()
            .await
            .map_err(|e| Error::kube(format!("discover API group {group}"), e))?;
        let resource = discovery.get(group).and_then(|group| {
            group
                .recommended_resources()
                .into_iter()
                .find(|(resource, _)| resource.kind == crate::builders::external_secret::KIND)
                .map(|(resource, _)| resource)
        });
        let mut cached = self
            .cached
            .lock()
            .expect("the lock is never held across a panic");
        *cached = Some((std::time::Instant::now(), resource.clone()));
        Ok(resource)
    }
}
