//! The environment `harness up` left for the cluster scenarios: the config it read, its state dir
//! (the e2e setup script hands it over as `$HARNESS_STATE_DIR` through `$NEXTEST_ENV`; without
//! it, `.harness` in the checkout), the two clusters, the cluster Vault and its root token.
//!
//! Each loader panics with what is missing: no cluster scenario can do anything without
//! `harness up` having run.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use harness::{
    cluster::{self, Cluster, Role},
    config::Config,
    delivery::session::Session,
    paths,
    secret::SecretString,
    vault::{
        Vault,
        in_cluster::{self, ClusterVault},
    },
};
use k8s_openapi::api::{
    authentication::v1::{TokenRequest, TokenRequestSpec},
    core::v1::ServiceAccount,
};
use kube::api::{Api, PostParams};
use serde_json::json;

/// The state dir of the clusters under test ([`harness::paths::state_dir`]).
pub fn state_dir() -> PathBuf {
    paths::state_dir()
}

/// The config `harness up` used: `$HARNESS_CONFIG`, else `harness.toml` in the checkout, else
/// the defaults ([`harness::paths::config_file`]).
pub fn config() -> Config {
    Config::load(paths::config_file().as_deref()).expect("the config harness up used")
}

/// Both clusters `harness up` recorded: a vault and an app cluster.
pub fn clusters() -> Vec<Cluster> {
    let clusters = cluster::load(&state_dir()).expect("harness up has run");
    assert_eq!(clusters.len(), 2, "a vault and an app cluster");
    clusters
}

/// The cluster with `role`.
pub fn cluster(role: Role) -> Cluster {
    clusters()
        .into_iter()
        .find(|c| c.role == role)
        .unwrap_or_else(|| panic!("no {role} cluster in {}", state_dir().display()))
}

/// What `harness up` recorded about the Vault in the vault cluster (no secrets).
pub fn cluster_vault() -> ClusterVault {
    in_cluster::load(&state_dir()).expect("Vault is up in the vault cluster")
}

/// The cluster Vault with the root token `harness up` stored, for scenarios that configure it.
pub fn root_vault() -> Vault {
    in_cluster::root(&state_dir()).expect("the root token harness up stored")
}

/// Everything a delivery or fault run needs, loaded from the config and the state dir.
pub async fn session() -> Session {
    Session::load(&state_dir(), &config())
        .await
        .expect("harness up has run")
}

/// A client for `context` of `kubeconfig`: for clusters no state dir knows yet (created by the
/// scenario itself).
pub async fn client_for_context(kubeconfig: &Path, context: &str) -> kube::Client {
    use kube::config::{KubeConfigOptions, Kubeconfig};
    let parsed = Kubeconfig::read_from(kubeconfig).unwrap_or_else(|e| panic!("{}: {e}", kubeconfig.display()));
    let options = KubeConfigOptions {
        context: Some(context.to_string()),
        ..Default::default()
    };
    let config = kube::Config::from_custom_kubeconfig(parsed, &options)
        .await
        .unwrap_or_else(|e| panic!("context {context} of {}: {e}", kubeconfig.display()));
    kube::Client::try_from(config).unwrap_or_else(|e| panic!("a client for context {context}: {e}"))
}

/// A token for `account` in `namespace` from the cluster's TokenRequest API, as kubelet mints
/// them; `account` is created first unless it is `default`.
pub async fn token_request(client: &kube::Client, namespace: &str, account: &str) -> SecretString {
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), namespace);
    if account != "default" {
        let sa: ServiceAccount = serde_json::from_value(json!({ "metadata": { "name": account } })).unwrap();
        accounts.create(&PostParams::default(), &sa).await.unwrap();
    }
    let request = TokenRequest {
        spec: TokenRequestSpec {
            expiration_seconds: Some(600),
            ..Default::default()
        },
        ..Default::default()
    };
    // The namespace's `default` account appears a moment after the namespace.
    let what = format!("a token for {namespace}/{account}");
    let minted = harness::wait::until(&what, Duration::from_secs(10), Duration::from_millis(200), || async {
        let created = accounts
            .create_token_request(account, &PostParams::default(), &request)
            .await;
        Ok(created.ok().and_then(|r| r.status).map(|s| s.token))
    })
    .await
    .unwrap();
    minted.into()
}
