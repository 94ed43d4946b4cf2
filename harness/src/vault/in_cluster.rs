//! Vault in the vault cluster, as the article runs it: a StatefulSet in namespace `vault`
//! (server mode, TLS with a CA the harness generates), initialised and unsealed by the harness,
//! reachable from the host and the app cluster through a NodePort on the vault node; then the
//! article's KV secret, read policy and kubernetes auth for the app cluster.

use std::{
    os::unix::fs::DirBuilderExt,
    path::{Path, PathBuf},
    time::Duration,
};

use base64::Engine;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{
    Endpoint, Vault,
    server::{Listener, server_hcl},
    tls,
};
use crate::{
    Error, Result, apply,
    cluster::Cluster,
    config::{Config, Flavor},
    fixtures,
    secret::{ExposeSecret, InitKeys, SecretString, write_private_file},
    step,
    tier::vault::Runbook,
    wait,
};

const SERVER_MANIFEST: &str = include_str!("../../../fixtures/vault/server.yaml");
const VAULT_AUTH_MANIFEST: &str = include_str!("../../../fixtures/app/vault-auth.yaml");
/// Scheduling, starting the container and opening the listener; seconds when the image is loaded.
const SERVER_START_TIMEOUT: Duration = Duration::from_secs(180);
/// The token controller fills a service-account-token Secret within seconds.
const TOKEN_TIMEOUT: Duration = Duration::from_secs(60);

/// What `harness up` records about the cluster's Vault (no secrets: they are in `secrets.json`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ClusterVault {
    pub flavor: Flavor,
    /// From the host and from pods of both clusters (the vault node's kind-network address).
    pub endpoint: Endpoint,
    pub kubernetes_auth_mount: String,
}

/// `<state-dir>/vault-cluster`: state.json, secrets.json and token (0600), tls/.
pub fn dir(state_dir: &Path) -> PathBuf {
    state_dir.join("vault-cluster")
}

pub fn load(state_dir: &Path) -> Result<ClusterVault> {
    let file = dir(state_dir).join("state.json");
    let text = std::fs::read_to_string(&file).map_err(|_| {
        Error::State(format!(
            "no Vault in a cluster ({} missing); run `harness up`",
            file.display()
        ))
    })?;
    serde_json::from_str(&text).map_err(|e| Error::State(format!("{} is damaged: {e}", file.display())))
}

/// A root-token connection to the cluster's Vault, for scenarios that change its configuration.
pub fn root(state_dir: &Path) -> Result<Vault> {
    let state = load(state_dir)?;
    let keys = read_keys(&dir(state_dir))?;
    Vault::connect(&state.endpoint, Some(&keys.root_token))
}

/// Deploys (or finds) Vault in `vault_cluster`, initialises and unseals it once, applies the
/// article's setup, and configures kubernetes auth for `app`.
/// Where the server keeps its data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataVolume {
    /// The node's disk: survives a killed pod (clusters the harness owns).
    NodeDisk,
    /// The pod's own volume: nothing stays on a node (clusters someone else owns).
    PodScratch,
}

impl DataVolume {
    fn yaml(self) -> &'static str {
        match self {
            DataVolume::NodeDisk => {
                "          hostPath:\n            path: /var/lib/harness-vault\n            type: DirectoryOrCreate"
            }
            DataVolume::PodScratch => "          emptyDir: {}",
        }
    }
}

pub async fn up(
    vault_cluster: &Cluster,
    app: &Cluster,
    cfg: &Config,
    state_dir: &Path,
    data: DataVolume,
) -> Result<ClusterVault> {
    let dir = dir(state_dir);
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir.join("tls"))
        .map_err(Error::io(format!("cannot create {}", dir.display())))?;
    let endpoint = deploy(vault_cluster, cfg, &dir, data).await?;
    let vault = Vault::connect(&endpoint, None)?;
    let keys_file = dir.join("secrets.json");
    let root = if keys_file.exists() {
        let keys = read_keys(&dir)?;
        if vault.status().await?.sealed {
            step!("operator unseal with the stored keys");
            vault
                .unseal(keys.unseal_keys.iter().take(cfg.vault.key_threshold.into()))
                .await?;
        }
        vault.wait_active().await?;
        vault.with_token(&keys.root_token)?
    } else {
        let runbook = Runbook::init_and_unseal(vault, cfg).await?;
        let json = serde_json::to_vec_pretty(runbook.keys()).map_err(|e| Error::State(format!("keys: {e}")))?;
        write_private_file(&keys_file, &json)?;
        write_private_file(&dir.join("token"), runbook.keys().root_token.expose_secret().as_bytes())?;
        runbook.put_article_secret().await?;
        runbook.write_read_policy().await?;
        Vault::connect(&endpoint, Some(&runbook.keys().root_token))?
    };
    crate::interrupt::failpoint("up-vault-initialised");
    if cfg.vault.flavor == Flavor::Vault {
        enable_stdout_audit(&root).await?;
    }
    configure_kubernetes_auth(&root, app, cfg).await?;
    let state = ClusterVault {
        flavor: cfg.vault.flavor,
        endpoint,
        kubernetes_auth_mount: cfg.kubernetes_auth.mount.clone(),
    };
    let json = serde_json::to_vec_pretty(&state).map_err(|e| Error::State(format!("state: {e}")))?;
    std::fs::write(dir.join("state.json"), json).map_err(Error::io("cannot write the cluster Vault state"))?;
    Ok(state)
}

/// HashiCorp Vault takes audit devices through the API (OpenBao only from its config file, see
/// [`audit_hcl`]); an existing one (a second `up`) is fine.
async fn enable_stdout_audit(root: &Vault) -> Result<()> {
    step!("audit enable -path=stdout file file_path=stdout");
    let body = json!({ "type": "file", "options": { "file_path": "stdout" } });
    match root.raw(Method::PUT, "sys/audit/stdout", Some(body)).await {
        Err(e) if e.vault_status() == Some(400) => Ok(()),
        other => other.map(drop),
    }
}

fn read_keys(dir: &Path) -> Result<InitKeys> {
    let file = dir.join("secrets.json");
    let bytes = std::fs::read(&file).map_err(Error::io(format!("cannot read {}", file.display())))?;
    serde_json::from_slice(&bytes).map_err(|e| Error::State(format!("{} is damaged: {e}", file.display())))
}

/// Vault's audit log on the server's stdout, so the pod log holds one JSON entry per request
/// (values HMAC-ed) for the per-method request rates (`delivery::audit`). OpenBao 2.x refuses
/// audit devices through the API and takes them only from the config file; HashiCorp Vault
/// cannot run in a cluster offline (no image), so it gets none.
fn audit_hcl(flavor: Flavor) -> &'static str {
    match flavor {
        Flavor::OpenBao => "\naudit \"file\" \"stdout\" {\n  options {\n    file_path = \"stdout\"\n  }\n}\n",
        Flavor::Vault => "",
    }
}

fn server_binary(flavor: Flavor) -> &'static str {
    match flavor {
        Flavor::OpenBao => "/bin/bao",
        Flavor::Vault => "/bin/vault",
    }
}

/// The image the server (and every agent) runs: built locally for OpenBao, upstream's for Vault.
pub fn image(flavor: Flavor) -> Result<String> {
    match flavor {
        Flavor::OpenBao => Ok(format!(
            "harness.local/openbao:{}",
            fixtures::version("OPENBAO_VERSION")
        )),
        // Upstream's image: pulled by the nodes, so online only (`harness up` says so offline).
        Flavor::Vault => Ok(format!("hashicorp/vault:{}", fixtures::version("VAULT_VERSION"))),
    }
}

async fn deploy(cluster: &Cluster, cfg: &Config, dir: &Path, data: DataVolume) -> Result<Endpoint> {
    let tls_dir = dir.join("tls");
    let files = if tls_dir.join("ca.pem").exists() {
        tls::TlsFiles {
            ca_cert: tls_dir.join("ca.pem"),
            server_cert: tls_dir.join("server.pem"),
            server_key: tls_dir.join("server-key.pem"),
        }
    } else {
        let names = [
            "vault",
            "vault.vault",
            "vault.vault.svc",
            "vault.vault.svc.cluster.local",
            "localhost",
            "127.0.0.1",
        ];
        let mut names: Vec<&str> = names.to_vec();
        names.push(&cluster.node_address);
        tls::generate(&tls_dir, &names)?
    };
    let read = |p: &Path| std::fs::read_to_string(p).map_err(Error::io(format!("cannot read {}", p.display())));
    let listener = Listener {
        bind: "0.0.0.0",
        advertise: "vault.vault.svc",
        api_port: 8200,
        cluster_port: 8201,
        tls: Some((Path::new("/vault/tls/tls.crt"), Path::new("/vault/tls/tls.key"))),
    };
    let mut hcl = server_hcl(
        cfg.vault.flavor,
        cfg.vault.storage(),
        Path::new("/vault/data"),
        &listener,
    );
    hcl.push_str(audit_hcl(cfg.vault.flavor));
    let indented: String = hcl.lines().map(|l| format!("    {l}\n")).collect();
    let port = cfg.kubernetes_auth.vault_node_port.to_string();
    let image = image(cfg.vault.flavor)?;
    let manifest = apply::render(
        SERVER_MANIFEST,
        &[
            ("IMAGE", &image),
            ("SERVER_BINARY", server_binary(cfg.vault.flavor)),
            ("NODE_PORT", &port),
            ("CONFIG_HCL", indented.trim_end()),
            ("DATA_VOLUME", data.yaml()),
        ],
    )?;
    step!(
        "deploy {} ({image}) into cluster {}, namespace vault, NodePort {port}",
        cfg.vault.flavor,
        cluster.name
    );
    let client = cluster.client().await?;
    apply::apply(&client, &manifest).await?;
    let tls_secret = json!({
        "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
        "metadata": { "name": "vault-tls", "namespace": "vault" },
        "stringData": {
            "tls.crt": read(&files.server_cert)?, "tls.key": read(&files.server_key)?, "ca.crt": read(&files.ca_cert)?
        }
    });
    apply::apply(&client, &tls_secret.to_string()).await?;

    let endpoint = Endpoint {
        addr: format!("https://{}:{port}", cluster.node_address),
        ca_cert: Some(files.ca_cert),
    };
    let probe = Vault::connect(&endpoint, None)?;
    let what = format!("{} at {} to answer", cfg.vault.flavor, endpoint.addr);
    wait::until(&what, SERVER_START_TIMEOUT, Duration::from_millis(500), || async {
        Ok(probe.raw(Method::GET, "sys/seal-status", None).await.ok().map(drop))
    })
    .await?;
    Ok(endpoint)
}

/// The article's kubernetes auth: reviewer token from the app cluster, its API as seen from the
/// vault cluster, its CA, `disable_local_ca_jwt=true` (Vault runs in another cluster), and the role.
async fn configure_kubernetes_auth(root: &Vault, app: &Cluster, cfg: &Config) -> Result<()> {
    let auth = &cfg.kubernetes_auth;
    let client = app.client().await?;
    step!(
        "in cluster {}: service account {}, its token Secret, system:auth-delegator",
        app.name,
        auth.reviewer_service_account
    );
    apply::apply(
        &client,
        &apply::render(VAULT_AUTH_MANIFEST, &[("REVIEWER", &auth.reviewer_service_account)])?,
    )
    .await?;
    let reviewer_jwt = reviewer_token(app, cfg).await?;
    configure_mount(root, app, &auth.mount, cfg.ttl.effective_max_ttl, &reviewer_jwt).await?;
    write_role(
        root,
        cfg,
        &auth.mount,
        &auth.role,
        cfg.ttl.role_ttl,
        &auth.bound_service_accounts,
        &auth.bound_namespaces,
    )
    .await
}

/// Removes what `up` created in clusters the harness does not own: the `vault` namespace (with
/// the server and its Secret) and the reviewer objects in the app cluster.
pub async fn remove(vault_cluster: &Cluster, app: &Cluster, cfg: &Config) -> Result<()> {
    step!("in cluster {}: delete namespace vault", vault_cluster.name);
    let namespace = r#"{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "vault"}}"#;
    apply::delete(&vault_cluster.client().await?, namespace).await?;
    step!(
        "in cluster {}: delete {} and its token and binding",
        app.name,
        cfg.kubernetes_auth.reviewer_service_account
    );
    let reviewer = apply::render(
        VAULT_AUTH_MANIFEST,
        &[("REVIEWER", &cfg.kubernetes_auth.reviewer_service_account)],
    )?;
    apply::delete(&app.client().await?, &reviewer).await
}

/// The long-lived reviewer token of the app cluster (the article's vault-auth Secret).
pub async fn reviewer_token(app: &Cluster, cfg: &Config) -> Result<SecretString> {
    let secret = format!("{}-token", cfg.kubernetes_auth.reviewer_service_account);
    service_account_token(&app.client().await?, &secret).await
}

/// Enables a kubernetes auth mount (when missing) capped at `max_lease_ttl`, pointed at `app`.
pub async fn configure_mount(
    root: &Vault,
    app: &Cluster,
    mount: &str,
    max_lease_ttl: crate::duration::Ttl,
    reviewer_jwt: &SecretString,
) -> Result<()> {
    let mounts: serde_json::Value = root.raw(Method::GET, "sys/auth", None).await?.body()?;
    let key = format!("{mount}/");
    if mounts.get(&key).is_none() && mounts["data"].get(&key).is_none() {
        step!("auth enable -path={mount} -max-lease-ttl={max_lease_ttl} kubernetes");
        root.enable_auth(mount, "kubernetes", max_lease_ttl).await?;
    }
    step!(
        "write auth/{mount}/config kubernetes_host={} disable_local_ca_jwt=true token_reviewer_jwt=…",
        app.internal_api
    );
    let config = json!({
        "kubernetes_host": app.internal_api,
        "kubernetes_ca_cert": cluster_ca(app)?,
        "token_reviewer_jwt": reviewer_jwt.expose_secret(),
        "disable_local_ca_jwt": true,
    });
    root.raw(Method::POST, &format!("auth/{mount}/config"), Some(config))
        .await
        .map(drop)
}

/// `write auth/<mount>/role/<name> bound_service_account_names=… bound_service_account_namespaces=…
/// policies=<read policy> ttl=<ttl>`.
pub async fn write_role(
    root: &Vault,
    cfg: &Config,
    mount: &str,
    name: &str,
    ttl: crate::duration::Ttl,
    accounts: &[String],
    namespaces: &[String],
) -> Result<()> {
    step!(
        "write auth/{mount}/role/{name} bound_service_account_names={} bound_service_account_namespaces={} policies={} ttl={ttl}",
        accounts.join(","),
        namespaces.join(","),
        cfg.policy.name,
    );
    let role = json!({
        "bound_service_account_names": accounts,
        "bound_service_account_namespaces": namespaces,
        "token_policies": [cfg.policy.name],
        "ttl": ttl.to_string(),
    });
    root.raw(Method::POST, &format!("auth/{mount}/role/{name}"), Some(role))
        .await
        .map(drop)
}

async fn service_account_token(client: &kube::Client, secret: &str) -> Result<SecretString> {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "default");
    wait::until(
        &format!("the token controller to fill Secret {secret}"),
        TOKEN_TIMEOUT,
        Duration::from_millis(250),
        || async {
            let current = secrets
                .get(secret)
                .await
                .map_err(|e| Error::State(format!("reading Secret {secret}: {e}")))?;
            let token = current.data.and_then(|d| d.get("token").cloned()).map(|t| t.0);
            Ok(token.and_then(|t| String::from_utf8(t).ok()).map(SecretString::from))
        },
    )
    .await
}

/// The PEM of the CA that signed the cluster's API server certificate, from its kubeconfig.
pub fn cluster_ca(cluster: &Cluster) -> Result<String> {
    let data = crate::cluster::kubeconfig_cluster(&cluster.kubeconfig, &cluster.context)?
        .certificate_authority_data
        .ok_or_else(|| Error::State(format!("kubeconfig of {} holds no CA", cluster.name)))?;
    let pem = base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .map_err(|e| Error::State(format!("CA of {} is not base64: {e}", cluster.name)))?;
    String::from_utf8(pem).map_err(|_| Error::State(format!("CA of {} is not PEM text", cluster.name)))
}

/// Outages the fault scenarios inflict on the cluster Vault, and the way back.
pub mod outage {
    use k8s_openapi::api::{apps::v1::StatefulSet, core::v1::Pod};
    use kube::api::{DeleteParams, Patch, PatchParams};

    use super::*;

    /// Seals the server: every request but status answers 503 until [`restore`].
    pub async fn seal(root: &Vault) -> Result<()> {
        step!("operator seal");
        root.raw(Method::PUT, "sys/seal", None).await.map(drop)
    }

    /// Kills the server's pod at once; the StatefulSet starts a new one, which comes up sealed.
    /// Returns once the killed server has stopped answering: with a zero grace period the pod
    /// object goes at once, but its process serves a moment longer, and a [`restore`] that
    /// found it still unsealed would leave the sealed replacement behind.
    pub async fn kill_pod(vault_cluster: &kube::Client, vault: &Vault) -> Result<()> {
        step!("kill pod vault/vault-0");
        Api::<Pod>::namespaced(vault_cluster.clone(), "vault")
            .delete("vault-0", &DeleteParams::default().grace_period(0))
            .await
            .map_err(|e| Error::State(format!("cannot delete pod vault/vault-0: {e}")))?;
        let what = format!("the killed Vault server at {} to stop answering", vault.endpoint.addr);
        wait::until(&what, SERVER_START_TIMEOUT, Duration::from_millis(100), || async {
            let gone = vault.status().await.map_or(true, |status| status.sealed);
            Ok(gone.then_some(()))
        })
        .await
    }

    /// Scales the server to `replicas`: 0 makes Vault unreachable (connection refused).
    pub async fn scale(vault_cluster: &kube::Client, replicas: i32) -> Result<()> {
        step!("scale statefulset vault/vault to {replicas}");
        let api = Api::<StatefulSet>::namespaced(vault_cluster.clone(), "vault");
        api.patch(
            "vault",
            &PatchParams::default(),
            &Patch::Merge(json!({ "spec": { "replicas": replicas } })),
        )
        .await
        .map_err(|e| Error::State(format!("cannot scale statefulset vault/vault: {e}")))?;
        if replicas == 0 {
            crate::pods::wait_gone(vault_cluster, "vault", "vault-0", SERVER_START_TIMEOUT).await?;
        }
        Ok(())
    }

    /// Waits until the server answers again, unseals it with the stored keys if it is sealed,
    /// and waits until it is active.
    pub async fn restore(state_dir: &Path, key_threshold: u8) -> Result<()> {
        let state = load(state_dir)?;
        let vault = Vault::connect(&state.endpoint, None)?;
        let what = format!("Vault at {} to answer again", state.endpoint.addr);
        let status = wait::until(&what, SERVER_START_TIMEOUT, Duration::from_millis(250), || async {
            Ok(vault.status().await.ok())
        })
        .await?;
        if status.sealed {
            step!("operator unseal with the stored keys");
            let keys = read_keys(&dir(state_dir))?;
            vault.unseal(keys.unseal_keys.iter().take(key_threshold.into())).await?;
        }
        vault.wait_active().await
    }
}
