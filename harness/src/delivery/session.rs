//! Everything a delivery run needs from the clusters `harness up` created, loaded once.

use std::{collections::BTreeMap, path::Path};

use super::{Method, Target, activity, fault, run};
use crate::{
    Error, Result,
    cluster::{self, Role, kind::ImageSource},
    config::Config,
    fixtures,
    vault::{Vault, in_cluster},
};

/// The clusters, the cluster Vault and the delivery's KV mount.
pub struct Session {
    /// The config with the delivery's KV mount: `<mount>-delivery`, KV **v2**. The article's KV v1
    /// answers with a 768h lease, and Vault Agent re-reads a leased secret only near the end of
    /// its lease, so rotations would never show within a run; its `static_secret_render_interval`
    /// applies only to lease-less (KV v2) secrets. The read policy (`<mount>*`) covers this mount.
    pub cfg: Config,
    pub app: kube::Client,
    pub app_config: kube::Config,
    pub vault_cluster: kube::Client,
    pub writer: Vault,
    pub vault: in_cluster::ClusterVault,
    pub ca_pem: String,
    pub versions: BTreeMap<String, String>,
    /// Where the app cluster's images come from, as `harness up` recorded it.
    pub images: ImageSource,
    state_dir: std::path::PathBuf,
}

impl Session {
    pub async fn load(state_dir: &Path, cfg: &Config) -> Result<Session> {
        let clusters = cluster::load(state_dir)?;
        let pick = |role: Role| {
            clusters.iter().find(|c| c.role == role).ok_or_else(|| {
                Error::State(format!(
                    "no {role:?} cluster in {}; run `harness up`",
                    state_dir.display()
                ))
            })
        };
        let images = pick(Role::App)?.images;
        let app_config = pick(Role::App)?.config().await?;
        let app = kube::Client::try_from(app_config.clone())
            .map_err(|e| Error::State(format!("client for the app cluster: {e}")))?;
        let vault_cluster = pick(Role::Vault)?.client().await?;
        let vault = in_cluster::load(state_dir)?;
        let writer = in_cluster::root(state_dir)?;
        let ca_file = vault
            .endpoint
            .ca_cert
            .clone()
            .ok_or_else(|| Error::State("the cluster Vault has no CA file".into()))?;
        let ca_pem =
            std::fs::read_to_string(&ca_file).map_err(Error::io(format!("cannot read {}", ca_file.display())))?;

        let mut cfg = cfg.clone();
        cfg.kv.mount = format!("{}-delivery", cfg.kv.mount);
        cfg.kv.version = 2;
        match writer.enable_kv(&cfg.kv.mount, cfg.kv.version).await {
            Err(e) if e.vault_status() == Some(400) => {} // enabled by an earlier run on these clusters
            other => other?,
        }

        let kubernetes = app
            .apiserver_version()
            .await
            .map_err(|e| Error::State(format!("reading the app cluster's version: {e}")))?
            .git_version;
        let versions = BTreeMap::from([
            (cfg.vault.flavor.to_string(), writer.status().await?.version),
            ("kubernetes".to_string(), kubernetes),
            ("kind".to_string(), fixtures::version("KIND_VERSION").to_string()),
            ("harness".to_string(), env!("CARGO_PKG_VERSION").to_string()),
        ]);
        Ok(Session {
            cfg,
            app,
            app_config,
            vault_cluster,
            writer,
            vault,
            ca_pem,
            versions,
            images,
            state_dir: state_dir.to_path_buf(),
        })
    }

    pub fn env(&self) -> run::Env<'_> {
        run::Env {
            app: &self.app,
            app_config: &self.app_config,
            vault_cluster: &self.vault_cluster,
            writer: &self.writer,
            target: Target {
                cfg: &self.cfg,
                vault: &self.vault,
                ca_pem: &self.ca_pem,
                images: self.images,
            },
            versions: self.versions.clone(),
            activity: activity::dir(&self.state_dir),
            logs: cluster::dir(&self.state_dir).join("logs"),
        }
    }

    /// Inflicts `fault` on the cluster Vault under one consumer of each of `methods` (see
    /// [`fault::run`]); Vault is brought back with the keys in the state dir.
    pub async fn fault(&self, fault: fault::Fault, methods: &[Method], evidence: &Path) -> Result<Vec<run::MethodRun>> {
        let recovery = fault::Recovery {
            state_dir: &self.state_dir,
            key_threshold: self.cfg.vault.key_threshold,
        };
        fault::run(fault, methods, &self.env(), &recovery, evidence).await
    }

    /// Runs `plan` for `method` (see [`run::run`]); on failure the evidence goes to `evidence`.
    pub async fn run(&self, method: Method, plan: run::Plan, evidence: &Path) -> Result<run::MethodRun> {
        run::run(method, &self.env(), plan, evidence).await
    }
}
