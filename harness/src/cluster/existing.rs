//! Two clusters that already exist (EKS, GKE, kind…), named by kube context. `up` only checks
//! them and reads their addresses; `down` removes only what the harness created in them.

use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::{Endpoints, Namespace, Node};
use kube::{
    Api,
    api::{ApiResource, DeleteParams, DynamicObject, ListParams},
    config::Kubeconfig,
};

use super::{Cluster, Role, Substrate};
use crate::{Error, Result, config::Config, step, vault::in_cluster, wait};

pub struct Existing {
    kubeconfig: PathBuf,
    contexts: Vec<(Role, String)>,
    cfg: Config,
}

impl Existing {
    /// Fails with one line when the kubeconfig or a context is missing.
    pub fn new(cfg: &Config) -> Result<Existing> {
        let kubeconfig = match &cfg.clusters.kubeconfig {
            Some(path) => path.clone(),
            None => crate::paths::kubeconfig(),
        };
        let parsed = Kubeconfig::read_from(&kubeconfig)
            .map_err(|e| Error::State(format!("cannot read kubeconfig {}: {e}", kubeconfig.display())))?;
        let contexts = vec![
            (Role::Vault, cfg.clusters.vault.clone()),
            (Role::App, cfg.clusters.app.clone()),
        ];
        for (role, context) in &contexts {
            if !parsed.contexts.iter().any(|c| &c.name == context) {
                return Err(Error::State(format!(
                    "kube context `{context}` (clusters.{role}) is not in {}",
                    kubeconfig.display()
                )));
            }
        }
        Ok(Existing {
            kubeconfig,
            contexts,
            cfg: cfg.clone(),
        })
    }

    async fn cluster(&self, role: Role, context: &str) -> Result<Cluster> {
        let mut cluster = Cluster {
            role,
            name: context.to_string(),
            kubeconfig: self.kubeconfig.clone(),
            context: context.to_string(),
            internal_api: String::new(),
            node_address: String::new(),
            images: super::kind::ImageSource::Offline,
        };
        let client = cluster.client().await?;
        let version = wait::within(
            &format!("the API server of context {context}"),
            CONNECT_TIMEOUT,
            async {
                client
                    .apiserver_version()
                    .await
                    .map_err(|e| Error::State(format!("cannot reach context {context}: {e}")))
            },
        )
        .await?;
        step!("context {context} ({role} cluster): Kubernetes {}", version.git_version);
        cluster.internal_api = internal_api(&client, &server_url(&self.kubeconfig, context)?).await?;
        cluster.node_address = node_address(&client, context).await?;
        Ok(cluster)
    }
}

const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

impl Substrate for Existing {
    async fn up(&self, roles: &[Role]) -> Result<Vec<Cluster>> {
        let wanted = self.contexts.iter().filter(|(role, _)| roles.contains(role));
        futures::future::try_join_all(wanted.map(|(role, context)| self.cluster(*role, context))).await
    }

    /// Removes the Vault namespace, the reviewer objects, every namespace the harness labelled as
    /// its own and the cluster-wide objects it labelled (of the kinds the delivery methods
    /// declare: RBAC, webhooks); the clusters and everything else in them stay. ESO's CRDs stay too:
    /// they may be the cluster's own ESO's, and deleting a CRD deletes every object of its kind.
    async fn down(&self) -> Result<()> {
        let clusters = self.up(&[Role::Vault, Role::App]).await?;
        let by_role = |role| clusters.iter().find(|c| c.role == role).expect("both roles");
        in_cluster::remove(by_role(Role::Vault), by_role(Role::App), &self.cfg).await?;
        for cluster in &clusters {
            let client = cluster.client().await?;
            let namespaces: Api<Namespace> = Api::all(client.clone());
            let list = namespaces
                .list(&ours())
                .await
                .map_err(|e| Error::State(format!("listing namespaces: {e}")))?;
            for namespace in list.items.into_iter().filter_map(|n| n.metadata.name) {
                step!("in context {}: delete namespace {namespace}", cluster.context);
                let _ = namespaces.delete(&namespace, &DeleteParams::background()).await;
            }
            for (kind, name) in labelled_cluster_wide(&client).await? {
                step!("in context {}: delete {} {name}", cluster.context, kind.kind);
                match Api::<DynamicObject>::all_with(client.clone(), &kind)
                    .delete(&name, &DeleteParams::background())
                    .await
                {
                    Err(kube::Error::Api(e)) if e.code == 404 => {}
                    outcome => outcome
                        .map(drop)
                        .map_err(|e| Error::State(format!("cannot delete {} {name}: {e}", kind.kind)))?,
                }
            }
        }
        Ok(())
    }
}

/// What the harness labels as its own.
fn ours() -> ListParams {
    ListParams::default().labels("app.kubernetes.io/managed-by=vault-k8s-harness")
}

/// The cluster-wide objects the harness labelled as its own, of every kind a delivery method
/// creates, webhooks first (nothing is admitted through a webhook whose server is gone), as
/// (kind, name).
pub async fn labelled_cluster_wide(client: &kube::Client) -> Result<Vec<(ApiResource, String)>> {
    let mut kinds: Vec<ApiResource> = Vec::new();
    for kind in crate::delivery::Method::all()
        .iter()
        .flat_map(|m| m.cluster_scoped_kinds())
    {
        if !kinds.iter().any(|k| k.group == kind.group && k.kind == kind.kind) {
            kinds.push(kind);
        }
    }
    kinds.sort_by_key(|k| !k.kind.ends_with("WebhookConfiguration"));
    let mut found = Vec::new();
    for kind in kinds {
        let list = Api::<DynamicObject>::all_with(client.clone(), &kind)
            .list_metadata(&ours())
            .await
            .map_err(|e| Error::State(format!("listing {}s: {e}", kind.kind)))?;
        for name in list.items.into_iter().filter_map(|o| o.metadata.name) {
            found.push((kind.clone(), name));
        }
    }
    Ok(found)
}

fn server_url(kubeconfig: &Path, context: &str) -> Result<String> {
    super::kubeconfig_cluster(kubeconfig, context)?
        .server
        .ok_or_else(|| Error::State(format!("context {context} names no server")))
}

/// How the other cluster reaches this API server: the kubeconfig's URL, unless that is a
/// loopback address (kind's host-side kubeconfig); then the address the API server advertises.
async fn internal_api(client: &kube::Client, server: &str) -> Result<String> {
    let loopback = ["://127.", "://localhost", "://[::1]"]
        .iter()
        .any(|l| server.contains(l));
    if !loopback {
        return Ok(server.to_string());
    }
    let endpoints: Api<Endpoints> = Api::namespaced(client.clone(), "default");
    let advertised = endpoints
        .get("kubernetes")
        .await
        .map_err(|e| Error::State(format!("reading the API endpoints: {e}")))?;
    let subset = advertised.subsets.and_then(|s| s.into_iter().next());
    let ip = subset
        .as_ref()
        .and_then(|s| s.addresses.as_ref())
        .and_then(|a| a.first())
        .map(|a| a.ip.clone());
    let port = subset
        .as_ref()
        .and_then(|s| s.ports.as_ref())
        .and_then(|p| p.first())
        .map(|p| p.port);
    match (ip, port) {
        (Some(ip), Some(port)) => Ok(format!("https://{ip}:{port}")),
        _ => Err(Error::State("the API server advertises no address".into())),
    }
}

async fn node_address(client: &kube::Client, context: &str) -> Result<String> {
    let nodes: Api<Node> = Api::all(client.clone());
    let list = nodes
        .list(&ListParams::default())
        .await
        .map_err(|e| Error::State(format!("listing nodes of {context}: {e}")))?;
    list.items
        .into_iter()
        .filter_map(|n| n.status?.addresses)
        .flatten()
        .find(|a| a.type_ == "InternalIP")
        .map(|a| a.address)
        .ok_or_else(|| Error::State(format!("no node of context {context} has an InternalIP")))
}
