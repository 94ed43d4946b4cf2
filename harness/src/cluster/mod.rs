//! Kubernetes clusters by role: `vault` runs Vault, `app` runs the workloads that consume it.
//!
//! A [`Substrate`] provides them: [`kind::Kind`] creates them from the node image the harness
//! built (or upstream's when online); [`existing::Existing`] uses two clusters named by kube context.

pub mod coredns;
pub mod existing;
pub mod kind;

use std::{fmt, path::PathBuf};

use kube::config::{KubeConfigOptions, Kubeconfig};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Runs Vault.
    Vault,
    /// Runs the applications that receive secrets.
    App,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Vault => "vault",
            Role::App => "app",
        })
    }
}

/// One cluster, with both the addresses the host uses and those the other cluster uses.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cluster {
    pub role: Role,
    pub name: String,
    /// Host-side kubeconfig (API server at 127.0.0.1:<port>), kept in the state dir.
    pub kubeconfig: PathBuf,
    pub context: String,
    /// The API server as pods of the other cluster reach it: the node's address on the shared
    /// network (names are not resolvable there: CoreDNS has no upstream).
    pub internal_api: String,
    /// The control-plane node's address on the shared network (for NodePorts).
    pub node_address: String,
    /// Where its images come from: what `harness up --images` chose (offline unless recorded).
    #[serde(default)]
    pub images: kind::ImageSource,
}

impl Cluster {
    /// A client for this cluster's API, from the host.
    pub async fn client(&self) -> Result<kube::Client> {
        let config = self.config().await?;
        kube::Client::try_from(config).map_err(|e| Error::State(format!("client for cluster {}: {e}", self.name)))
    }

    /// The client configuration [`Cluster::client`] uses: for clients of another identity.
    pub async fn config(&self) -> Result<kube::Config> {
        let kubeconfig = Kubeconfig::read_from(&self.kubeconfig)
            .map_err(|e| Error::State(format!("cannot read {}: {e}", self.kubeconfig.display())))?;
        let options = KubeConfigOptions {
            context: Some(self.context.clone()),
            ..Default::default()
        };
        kube::Config::from_custom_kubeconfig(kubeconfig, &options)
            .await
            .map_err(|e| Error::State(format!("kubeconfig for cluster {}: {e}", self.name)))
    }
}

/// The cluster entry (server, CA) a kubeconfig's context points at.
pub fn kubeconfig_cluster(kubeconfig: &std::path::Path, context: &str) -> Result<kube::config::Cluster> {
    let parsed = Kubeconfig::read_from(kubeconfig)
        .map_err(|e| Error::State(format!("cannot read kubeconfig {}: {e}", kubeconfig.display())))?;
    let cluster_name = parsed
        .contexts
        .iter()
        .find(|c| c.name == context)
        .and_then(|c| c.context.as_ref())
        .map(|c| c.cluster.clone())
        .ok_or_else(|| Error::State(format!("kube context `{context}` is not in {}", kubeconfig.display())))?;
    parsed
        .clusters
        .into_iter()
        .find(|c| c.name == cluster_name)
        .and_then(|c| c.cluster)
        .ok_or_else(|| Error::State(format!("kube context `{context}` names no cluster entry")))
}

/// Where `harness up` keeps kubeconfigs, logs and `clusters.json`.
pub fn dir(state_dir: &std::path::Path) -> PathBuf {
    state_dir.join("clusters")
}

/// The clusters `harness up` wrote, for scenarios and later commands.
pub fn load(state_dir: &std::path::Path) -> Result<Vec<Cluster>> {
    let file = dir(state_dir).join("clusters.json");
    let text = std::fs::read_to_string(&file).map_err(|_| {
        Error::State(format!(
            "no clusters are up ({} missing); run `harness up`",
            file.display()
        ))
    })?;
    serde_json::from_str(&text).map_err(|e| Error::State(format!("{} is damaged: {e}", file.display())))
}

/// Where clusters come from.
pub trait Substrate {
    /// Creates (or reuses) one cluster per role, in parallel, and returns them ready.
    fn up(&self, roles: &[Role]) -> impl Future<Output = Result<Vec<Cluster>>>;
    /// Removes what `up` created; idempotent.
    fn down(&self) -> impl Future<Output = Result<()>>;
}
