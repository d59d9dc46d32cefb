//! The cluster the plugin talks to, as kubectl would pick it, and what it
//! reads there. Read failures become one line that says what is missing.

use anyhow::Context as _;
use gastown_api::{AgentPool, GasTown, Rig, labels};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

use super::args::ClusterArgs;
use gastown_operator::town_view::{TownView, assemble};

/// A client and the namespace to look in.
pub struct Cluster {
    pub client: Client,
    pub namespace: String,
}

/// The kubeconfig `--kubeconfig` names (a `:`-separated list, as KUBECONFIG).
fn read_kubeconfig(paths: &str) -> anyhow::Result<Kubeconfig> {
    let mut merged: Option<Kubeconfig> = None;
    for path in paths.split(':').filter(|p| !p.is_empty()) {
        let next = Kubeconfig::read_from(path)
            .with_context(|| format!("cannot read kubeconfig {path}"))?;
        merged = Some(match merged {
            Some(merged) => merged.merge(next)?,
            None => next,
        });
    }
    merged.ok_or_else(|| anyhow::anyhow!("--kubeconfig names no file"))
}

/// Connects as kubectl would: `--kubeconfig`, else KUBECONFIG or
/// ~/.kube/config (else the in-cluster account); `--context`, else the
/// current one; `--namespace`, else the context's.
pub async fn connect(args: &ClusterArgs) -> anyhow::Result<Cluster> {
    let options = KubeConfigOptions {
        context: args.context.clone(),
        ..KubeConfigOptions::default()
    };
    let config = match (&args.kubeconfig, &args.context) {
        (Some(paths), _) => Config::from_custom_kubeconfig(read_kubeconfig(paths)?, &options)
            .await
            .context("cannot use the kubeconfig")?,
        (None, Some(context)) => Config::from_kubeconfig(&options)
            .await
            .with_context(|| format!("cannot use the kubeconfig context {context}"))?,
        (None, None) => Config::infer()
            .await
            .context("no kubeconfig (KUBECONFIG, ~/.kube/config) and not in a cluster")?,
    };
    let namespace = args
        .namespace
        .clone()
        .unwrap_or_else(|| config.default_namespace.clone());
    let client = Client::try_from(config).context("cannot build a Kubernetes client")?;
    Ok(Cluster { client, namespace })
}

fn not_found(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == 404)
}

/// The one line a user reads when the cluster does not serve Gas Town.
pub const CRDS_MISSING: &str = "the Gas Town CRDs are not installed in this cluster (it serves no gastown.io/v1alpha1 GasTown): install the operator first (docs/install.md)";

impl Cluster {
    pub fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
    {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    /// Every GasTown of the namespace.
    pub async fn towns(&self) -> anyhow::Result<Vec<GasTown>> {
        match self.api::<GasTown>().list(&ListParams::default()).await {
            Ok(list) => Ok(list.items),
            Err(error) if not_found(&error) => Err(anyhow::anyhow!(CRDS_MISSING)),
            Err(error) => Err(error).context(format!(
                "cannot list GasTowns in namespace {}",
                self.namespace
            )),
        }
    }

    /// The GasTown `name`; a missing one is named with the towns there are.
    pub async fn town(&self, name: &str) -> anyhow::Result<GasTown> {
        match self.api::<GasTown>().get(name).await {
            Ok(town) => Ok(town),
            Err(error) if not_found(&error) => {
                // Either the town or the whole API is missing: listing tells.
                let towns = self.towns().await?;
                let names: Vec<String> = towns
                    .iter()
                    .filter_map(|t| t.metadata.name.clone())
                    .collect();
                let there = if names.is_empty() {
                    "it has none".to_string()
                } else {
                    format!("it has {}", names.join(", "))
                };
                Err(anyhow::anyhow!(
                    "GasTown {name:?} not found in namespace {} ({there})",
                    self.namespace
                ))
            }
            Err(error) => Err(error).context(format!("cannot read GasTown {name}")),
        }
    }

    /// The towns asked for (one, or all of the namespace), each with its
    /// rigs and agents.
    pub async fn views(&self, town: Option<&str>) -> anyhow::Result<Vec<TownView>> {
        let towns = match town {
            Some(name) => vec![self.town(name).await?],
            None => self.towns().await?,
        };
        if towns.is_empty() {
            return Ok(Vec::new());
        }
        let selector = match town {
            Some(name) => format!("{}={name}", labels::TOWN),
            None => labels::TOWN.to_string(),
        };
        let rigs = self
            .api::<Rig>()
            .list(&ListParams::default())
            .await
            .context("cannot list Rigs")?
            .items;
        let pools = self
            .api::<AgentPool>()
            .list(&ListParams::default())
            .await
            .context("cannot list AgentPools")?
            .items;
        let pods = self
            .api::<Pod>()
            .list(&ListParams::default().labels(&selector))
            .await
            .context("cannot list the agents' pods")?
            .items;
        let mut views: Vec<TownView> = towns
            .iter()
            .map(|town| assemble(town, &rigs, &pools, &pods))
            .collect();
        views.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(views)
    }

    /// Polecat pods of `town` still running or starting.
    pub async fn running_polecats(&self, town: &str) -> anyhow::Result<usize> {
        let selector = format!("{}={town},{}=polecat", labels::TOWN, labels::ROLE);
        let pods = self
            .api::<Pod>()
            .list(&ListParams::default().labels(&selector))
            .await
            .context("cannot list the town's polecats")?;
        Ok(pods
            .items
            .iter()
            .filter(|pod| pod.metadata.deletion_timestamp.is_none())
            .filter(|pod| {
                matches!(
                    pod.status.as_ref().and_then(|s| s.phase.as_deref()),
                    Some("Running" | "Pending")
                )
            })
            .count())
    }
}
