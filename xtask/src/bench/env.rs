//! The world a benchmark runs in: the embedded API server (workload
//! simulation on), one test beads server — the bd daemon, or `bd serve` —
//! with a tenant per town (each town sees only its own beads, as with a
//! server per town in production), the CRDs, a namespace with the Secrets
//! the towns name, and the fleet's towns and beads.

use std::time::Duration;

use anyhow::{Context as _, bail};
use beads_testd::{
    AgentStyle, BeadStore, Personality, RequestLog, TestDaemon, TestDaemonConfig, TownShape,
    seed_town,
};
use embedded_apiserver::{Config as ServerConfig, EmbeddedApiServer};
use gastown_api::gastown::BeadsProtocol;
use gastown_api::{AgentPool, GasTown, Phase, Rig};
use k8s_openapi::ByteString;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{
    ConfigMap, Namespace, PersistentVolumeClaim, Pod, ResourceQuota, Secret, Service,
    ServiceAccount,
};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use k8s_openapi::api::scheduling::v1::PriorityClass;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ListParams, ObjectMeta, PostParams};
use kube::{Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde_json::json;

use super::plan::FleetShape;
use super::stats::{MinimumWrites, Requests};

/// Every town of a run lives here.
pub const NAMESPACE: &str = "bench";
/// The label every object the operator makes carries.
const MANAGED_BY: &str = "app.kubernetes.io/managed-by=gastown-operator";

pub struct Env {
    pub server: EmbeddedApiServer,
    pub testd: TestDaemon,
    pub client: Client,
}

/// Pods a simulated node takes (its `pods` allocatable).
const PODS_PER_NODE: usize = 1000;

/// Nodes for `pods` pods, each left at least half free: a fleet's pods never
/// wait for room, as a cluster sized for its fleet would have it.
pub fn nodes_for(pods: usize) -> usize {
    (pods * 2).div_ceil(PODS_PER_NODE).max(1)
}

/// The pods of a converged fleet of `shape`: per town dolt, the bd daemon,
/// the Mayor and the Deacon; per rig a witness, a refinery and its crew.
pub fn fleet_pods(shape: FleetShape) -> usize {
    shape.towns * (4 + shape.rigs * (2 + shape.crew))
}

/// The towns' `spec.daemon.protocol` for a test server `personality`.
pub fn protocol_of(personality: Personality) -> BeadsProtocol {
    match personality {
        Personality::Daemon => BeadsProtocol::Daemon,
        Personality::Serve => BeadsProtocol::Serve,
    }
}

impl Env {
    /// Server, beads server (the bd daemon or `bd serve`, as `personality`
    /// says), CRDs, the namespace and its Secrets; no towns yet. The cluster
    /// has nodes enough for `pods` (see [`nodes_for`]).
    pub async fn start(personality: Personality, pods: usize) -> anyhow::Result<Env> {
        let server = EmbeddedApiServer::start(ServerConfig {
            simulate_workloads: true,
            simulated_nodes: nodes_for(pods),
            ..ServerConfig::default()
        })
        .await?;
        let testd = TestDaemon::start(TestDaemonConfig {
            personality,
            ..TestDaemonConfig::default()
        })
        .await?;
        let client = server.client()?;
        let env = Env {
            server,
            testd,
            client,
        };
        env.install().await?;
        Ok(env)
    }

    /// The protocol the towns speak: the test server's personality.
    pub fn protocol(&self) -> BeadsProtocol {
        protocol_of(self.testd.personality())
    }

    pub async fn shutdown(self) {
        self.server.shutdown().await;
        self.testd.shutdown().await;
    }

    async fn install(&self) -> anyhow::Result<()> {
        let crds: Api<CustomResourceDefinition> = Api::all(self.client.clone());
        for crd in gastown_api::crds() {
            create(&crds, &crd).await?;
        }
        let towns: Api<GasTown> = Api::all(self.client.clone());
        let served = async {
            while towns.list(&ListParams::default()).await.is_err() {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(10), served)
            .await
            .context("the GasTown CRD was not served within 10 s")?;
        let namespace = Namespace {
            metadata: named(NAMESPACE, None),
            ..Namespace::default()
        };
        create(&Api::all(self.client.clone()), &namespace).await?;
        self.create_secret("anthropic-api-key", "api-key", "sk-bench-not-a-key")
            .await
    }

    async fn create_secret(&self, name: &str, key: &str, value: &str) -> anyhow::Result<()> {
        let secret = Secret {
            metadata: named(name, Some(NAMESPACE)),
            data: Some([(key.to_string(), ByteString(value.as_bytes().to_vec()))].into()),
            ..Secret::default()
        };
        create(&Api::namespaced(self.client.clone(), NAMESPACE), &secret).await
    }

    /// Gives every town of `fleet` its own daemon tenant and token Secret,
    /// and seeds the beads of its rigs there (witness, refinery, crew, merge
    /// requests; no polecats, so that convergence is deterministic), written
    /// as the server's era writes them: the daemon era's columns, or current
    /// Gas Town's (`AgentStyle::GasTownToday`) for `bd serve`.
    pub async fn seed(&self, fleet: FleetShape) -> anyhow::Result<()> {
        let personality = self.testd.personality();
        let shape = TownShape {
            polecats_per_rig: 0,
            crew_per_rig: fleet.crew,
            style: match personality {
                Personality::Daemon => AgentStyle::Columns,
                Personality::Serve => AgentStyle::GasTownToday,
            },
            ..TownShape::default()
        };
        for town in 0..fleet.towns {
            let tenant = self
                .testd
                .add_tenant(town_token(town))
                .with_context(|| format!("cannot add the daemon tenant of {}", town_name(town)))?;
            self.create_secret(&token_secret_name(town), TOKEN_KEY, tenant.token())
                .await?;
            let rigs: Vec<String> = (0..fleet.rigs).map(|r| rig_name(town, r)).collect();
            let rigs: Vec<&str> = rigs.iter().map(String::as_str).collect();
            seed_town(tenant.store(), &rigs, &shape);
            if personality == Personality::Serve {
                tenant.store().mark_agents_for_kubernetes();
            }
        }
        Ok(())
    }

    /// The beads of `town` (seeded by [`Env::seed`]).
    pub fn town_beads(&self, town: usize) -> anyhow::Result<BeadStore> {
        let tenant = self
            .testd
            .tenant(&town_token(town))
            .with_context(|| format!("{} has no daemon tenant", town_name(town)))?;
        Ok(tenant.store().clone())
    }

    /// The beads server requests of every town so far.
    pub fn bead_requests(&self) -> RequestLog {
        self.testd.tenants().iter().map(|t| t.requests()).sum()
    }

    /// Forgets the beads server requests of every town.
    pub fn reset_bead_requests(&self) {
        for tenant in self.testd.tenants() {
            tenant.reset_requests();
        }
    }

    /// Creates every town of `fleet`, speaking the test server's protocol;
    /// the benchmark's own writes, by request.
    pub async fn apply_towns(
        &self,
        fleet: FleetShape,
        spec: &TownSpec,
    ) -> anyhow::Result<Requests> {
        let api: Api<GasTown> = Api::namespaced(self.client.clone(), NAMESPACE);
        for town in 0..fleet.towns {
            create(&api, &town_manifest(town, fleet, spec, self.protocol())?).await?;
        }
        Ok([(("create".into(), "gastowns".into()), fleet.towns as u64)].into())
    }

    /// How many towns are Running.
    pub async fn towns_running(&self) -> anyhow::Result<usize> {
        let towns = Api::<GasTown>::namespaced(self.client.clone(), NAMESPACE)
            .list(&ListParams::default())
            .await?;
        Ok(towns
            .items
            .iter()
            .filter(|t| t.status.as_ref().and_then(|s| s.phase) == Some(Phase::Running))
            .count())
    }

    /// Waits until `expected` towns are Running; fails after `timeout`.
    pub async fn wait_running(&self, expected: usize, timeout: Duration) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let running = self.towns_running().await?;
            if running >= expected {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                bail!("{running} of {expected} towns were Running after {timeout:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The minimum writes of the fleet as it stands (see [`MinimumWrites`]).
    pub async fn minimum_writes(&self) -> anyhow::Result<MinimumWrites> {
        let c = &self.client;
        let made = count_managed::<ConfigMap>(c).await?
            + count_managed::<Service>(c).await?
            + count_managed::<StatefulSet>(c).await?
            + count_managed::<Deployment>(c).await?
            + count_managed::<Pod>(c).await?
            + count_managed::<PersistentVolumeClaim>(c).await?
            + count_managed::<ServiceAccount>(c).await?
            + count_managed::<Role>(c).await?
            + count_managed::<RoleBinding>(c).await?
            + count_managed::<NetworkPolicy>(c).await?
            + count_managed::<ResourceQuota>(c).await?;
        let classes = Api::<PriorityClass>::all(c.clone())
            .list(&ListParams::default().labels(MANAGED_BY))
            .await?
            .items
            .len() as u64;
        let towns = list::<GasTown>(c).await?;
        let rigs = list::<Rig>(c).await?;
        let pools = list::<AgentPool>(c).await?;
        let status_updates = (towns.iter().filter(|t| t.status.is_some()).count()
            + rigs.iter().filter(|r| r.status.is_some()).count()
            + pools.iter().filter(|p| p.status.is_some()).count())
            as u64;
        Ok(MinimumWrites {
            // Rigs and pools are the operator's too, made with their finalizer.
            objects_created: made + classes + (rigs.len() + pools.len()) as u64,
            status_updates,
            finalizers_added: towns.iter().filter(|t| !t.finalizers().is_empty()).count() as u64,
        })
    }
}

/// The key of the beads server token in each town's token Secret.
const TOKEN_KEY: &str = "token";

/// `t007-r3`: rig names are unique across towns, so that pods and beads of
/// different towns never share a name.
pub fn rig_name(town: usize, rig: usize) -> String {
    format!("t{town:03}-r{rig}")
}

pub fn town_name(town: usize) -> String {
    format!("t{town:03}")
}

/// The daemon token of `town`, which reaches its tenant of the test daemon.
fn town_token(town: usize) -> String {
    format!("bench-token-{}", town_name(town))
}

/// `bd-daemon-token-t007`: the Secret holding the daemon token of `town`.
fn token_secret_name(town: usize) -> String {
    format!("bd-daemon-token-{}", town_name(town))
}

/// What the benchmark's towns share.
#[derive(Clone, Copy, Debug)]
pub struct TownSpec {
    pub sync_interval: Duration,
    /// Every rig's `polecats.maxCount`.
    pub max_polecats: i32,
    /// Whether rigs name a git repository (then polecat and crew pods get
    /// the clone init container).
    pub git_url: bool,
}

/// The minimal example's town with `fleet.rigs` rigs of `fleet.crew` crew
/// each; agents request and are limited to a small share of a node, as the
/// rigs' polecat quota demands. A `serve` town names `protocol: serve` (its
/// token Secret, which bd serve in the cluster requires, every town has);
/// a `daemon` town leaves the protocol to its default.
fn town_manifest(
    town: usize,
    fleet: FleetShape,
    spec: &TownSpec,
    protocol: BeadsProtocol,
) -> anyhow::Result<GasTown> {
    let rigs: Vec<_> = (0..fleet.rigs)
        .map(|r| {
            let name = rig_name(town, r);
            let crew: Vec<_> = (0..fleet.crew)
                .map(|c| json!({"name": format!("c{c}")}))
                .collect();
            let mut rig = json!({
                "name": name,
                "crew": crew,
                "polecats": {"maxCount": spec.max_polecats},
            });
            if spec.git_url {
                rig["gitURL"] = format!("https://git.example.com/{name}.git").into();
            }
            rig
        })
        .collect();
    let mut manifest = json!({
        "apiVersion": "gastown.io/v1alpha1",
        "kind": "GasTown",
        "metadata": {"name": town_name(town), "namespace": NAMESPACE},
        "spec": {
            "dolt": {"image": "dolthub/dolt-sql-server:1.81.6"},
            "daemon": {
                "image": "ghcr.io/groblegark/beads:0.60.0",
                "tokenSecretRef": {"name": token_secret_name(town), "key": TOKEN_KEY},
            },
            "secrets": {"anthropicApiKeySecretRef": {"name": "anthropic-api-key", "key": "api-key"}},
            "defaults": {
                "image": "ghcr.io/groblegark/gastown/gastown-agent:latest",
                "resources": {
                    "requests": {"cpu": "100m", "memory": "256Mi"},
                    "limits": {"cpu": "1", "memory": "1Gi"},
                },
            },
            "syncInterval": format!("{}ms", spec.sync_interval.as_millis()),
            "rigs": rigs,
        },
    });
    if protocol != BeadsProtocol::Daemon {
        manifest["spec"]["daemon"]["protocol"] = protocol.as_str().into();
    }
    serde_json::from_value(manifest).context("the benchmark's town is not a GasTown")
}

fn named(name: &str, namespace: Option<&str>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.into()),
        namespace: namespace.map(str::to_owned),
        ..ObjectMeta::default()
    }
}

async fn create<K>(api: &Api<K>, object: &K) -> anyhow::Result<()>
where
    K: Resource<DynamicType = ()> + Clone + serde::Serialize + DeserializeOwned + std::fmt::Debug,
{
    api.create(&PostParams::default(), object)
        .await
        .with_context(|| format!("cannot create {} {}", K::kind(&()), object.name_any()))?;
    Ok(())
}

async fn list<K>(client: &Client) -> anyhow::Result<Vec<K>>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug,
{
    Ok(Api::<K>::namespaced(client.clone(), NAMESPACE)
        .list(&ListParams::default())
        .await
        .with_context(|| format!("cannot list {}", K::plural(&())))?
        .items)
}

/// Objects of kind `K` the operator made (its label, no workload controller as owner).
async fn count_managed<K>(client: &Client) -> anyhow::Result<u64>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug,
{
    let objects = Api::<K>::namespaced(client.clone(), NAMESPACE)
        .list(&ListParams::default().labels(MANAGED_BY))
        .await
        .with_context(|| format!("cannot list {}", K::plural(&())))?
        .items;
    let made_by_a_workload = |object: &K| {
        object
            .owner_references()
            .iter()
            .any(|o| matches!(o.kind.as_str(), "ReplicaSet" | "StatefulSet" | "Deployment"))
    };
    Ok(objects.iter().filter(|o| !made_by_a_workload(o)).count() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fleet_gets_nodes_enough_for_its_pods() {
        assert_eq!(fleet_pods(FleetShape::new(300, 5, 3)), 300 * 29);
        assert_eq!(nodes_for(0), 1);
        assert_eq!(nodes_for(500), 1);
        assert_eq!(nodes_for(501), 2);
        let pods = fleet_pods(FleetShape::new(300, 5, 3));
        assert!(nodes_for(pods) * PODS_PER_NODE >= 2 * pods);
    }

    #[test]
    fn a_benchmark_town_declares_its_rigs_and_crew() {
        let spec = TownSpec {
            sync_interval: Duration::from_secs(2),
            max_polecats: 20,
            git_url: true,
        };
        let town =
            town_manifest(7, FleetShape::new(1, 3, 2), &spec, BeadsProtocol::Daemon).unwrap();
        assert_eq!(town.name_any(), "t007");
        let rigs = town.spec.rigs();
        assert_eq!(rigs.len(), 3);
        assert_eq!(rigs[2].name, "t007-r2");
        assert_eq!(rigs[0].crew().len(), 2);
        assert_eq!(town.spec.sync_interval(), Duration::from_secs(2));
        assert!(rigs[0].git_url.is_some());
        let token = town.spec.daemon.token_secret_ref.as_ref().unwrap();
        assert_eq!(token.name, "bd-daemon-token-t007");
        assert_eq!(token.key, TOKEN_KEY);
        assert_ne!(town_token(7), town_token(8), "every town has its own token");
        assert_eq!(
            town.spec.daemon.protocol, None,
            "daemon towns keep the default"
        );
        let without = town_manifest(
            0,
            FleetShape::new(1, 1, 0),
            &TownSpec {
                git_url: false,
                ..spec
            },
            BeadsProtocol::Daemon,
        );
        assert!(without.unwrap().spec.rigs()[0].git_url.is_none());
    }

    #[test]
    fn a_serve_town_names_its_protocol_and_token() {
        let spec = TownSpec {
            sync_interval: Duration::from_secs(2),
            max_polecats: 4,
            git_url: true,
        };
        let town = town_manifest(3, FleetShape::new(4, 1, 0), &spec, BeadsProtocol::Serve).unwrap();
        let daemon = &town.spec.daemon;
        assert_eq!(daemon.protocol(), BeadsProtocol::Serve);
        // bd serve in the cluster needs a token (the CRD's CEL rule).
        assert!(daemon.external.is_none());
        assert_eq!(
            daemon.token_secret_ref.as_ref().map(|r| r.name.as_str()),
            Some("bd-daemon-token-t003")
        );
        assert_eq!(protocol_of(Personality::Serve), BeadsProtocol::Serve);
        assert_eq!(protocol_of(Personality::Daemon), BeadsProtocol::Daemon);
    }
}
