//! `harness up` / `harness down`: the two clusters, Vault in the vault cluster, and its
//! kubernetes auth for the app cluster.

use std::{path::Path, process::ExitCode, time::Instant};

use crate::{
    Error, Result,
    cluster::{
        self, Cluster, Role, Substrate,
        existing::Existing,
        kind::{self, ImageSource, Kind},
    },
    config::{Config, SubstrateKind},
    interrupt::guarded,
    vault::in_cluster::{self, ClusterVault, DataVolume},
};

#[derive(Debug, clap::Args)]
pub struct UpArgs {
    /// Node image source (kind); default: offline when the built node image exists, else online.
    #[arg(long, value_enum)]
    images: Option<ImageSource>,
    /// Keep what was created when `up` fails or is interrupted (for debugging).
    #[arg(long)]
    keep: bool,
    /// Also merge the kind clusters' contexts (kind-<name>) into your kubeconfig.
    #[arg(long)]
    merge_kubeconfig: bool,
}

fn names(cfg: &Config) -> Vec<(Role, String)> {
    vec![
        (Role::Vault, cfg.clusters.vault.clone()),
        (Role::App, cfg.clusters.app.clone()),
    ]
}

pub async fn up(args: UpArgs, cfg: Config, state_dir: &Path) -> Result<ExitCode> {
    let started = Instant::now();
    let dir = cluster::dir(state_dir);
    let result = match cfg.clusters.substrate {
        SubstrateKind::Kind => {
            let images = match args.images {
                Some(source) => source,
                None => ImageSource::detect().await,
            };
            if images == ImageSource::Offline && cfg.vault.flavor == crate::config::Flavor::Vault {
                return Err(Error::State(
                    "HashiCorp Vault in a cluster runs upstream's image, which offline clusters cannot pull; \
                     use --images online (or the default flavor, OpenBao)"
                        .into(),
                ));
            }
            crate::prerequisite::docker().await?;
            let kind = Kind::new(names(&cfg), images, &dir)?;
            let existed = kind.existing().await?;
            let result = guarded(bring_up(&kind, &cfg, state_dir, Ownership::Ours)).await;
            if result.is_ok() && args.merge_kubeconfig {
                kind.merge_kubeconfig().await?;
            }
            if result.is_err() {
                let _ = kind.export_logs(&state_dir.join("logs").join("up-failed")).await;
                if !args.keep {
                    // Only what this invocation created goes; clusters that were there before stay.
                    let created = names(&cfg).into_iter().filter(|(_, n)| !existed.contains(n)).collect();
                    Kind::new(created, images, &dir)?.down().await?;
                }
            }
            result
        }
        SubstrateKind::Existing => {
            let existing = Existing::new(&cfg)?;
            let result = guarded(bring_up(&existing, &cfg, state_dir, Ownership::Theirs)).await;
            if result.is_err() && !args.keep {
                existing.down().await?;
            }
            result
        }
    };
    let (clusters, vault) = match result {
        Ok(up) => up,
        Err(error) => {
            if !args.keep {
                let _ = std::fs::remove_dir_all(in_cluster::dir(state_dir));
                forget_clusters(&dir);
            }
            return Err(error);
        }
    };
    for c in &clusters {
        println!(
            "{} cluster {} is up: API {} (kubeconfig {})",
            c.role,
            c.name,
            c.internal_api,
            c.kubeconfig.display()
        );
    }
    println!(
        "{} is up at {} (eval \"$(harness vault env)\" for the stock CLI)",
        vault.flavor, vault.endpoint.addr
    );
    println!("up in {:.0} s", started.elapsed().as_secs_f64());
    Ok(ExitCode::SUCCESS)
}

/// Whether the clusters are the harness's own (kind) or someone else's (existing contexts).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ownership {
    Ours,
    Theirs,
}

/// Removes the state of clusters that no longer exist; their command logs stay as evidence.
fn forget_clusters(dir: &Path) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if entry.file_name() != "logs" {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Clusters first (in parallel), then Vault in the vault cluster and its auth for the app cluster.
async fn bring_up(
    substrate: &impl Substrate,
    cfg: &Config,
    state_dir: &Path,
    ownership: Ownership,
) -> Result<(Vec<Cluster>, ClusterVault)> {
    let dir = cluster::dir(state_dir);
    std::fs::create_dir_all(&dir).map_err(Error::io(format!("cannot create {}", dir.display())))?;
    let clusters = substrate.up(&[Role::Vault, Role::App]).await?;
    crate::interrupt::failpoint("up-clusters-created");
    let file = dir.join("clusters.json");
    let json = serde_json::to_vec_pretty(&clusters).map_err(|e| Error::State(format!("cannot encode state: {e}")))?;
    std::fs::write(&file, json).map_err(Error::io(format!("cannot write {}", file.display())))?;
    let by_role = |role| {
        clusters
            .iter()
            .find(|c| c.role == role)
            .expect("up returns every requested role")
    };
    let (vault, app) = (by_role(Role::Vault), by_role(Role::App));
    let vault = match ownership {
        // CoreDNS restarts without its upstream while Vault starts: neither needs the other.
        Ownership::Ours => {
            let dns = futures::future::try_join_all(clusters.iter().map(kind::isolate_dns));
            let vault = in_cluster::up(vault, app, cfg, state_dir, DataVolume::NodeDisk);
            tokio::try_join!(dns, vault)?.1
        }
        // Someone else's CoreDNS and nodes are left as they are.
        Ownership::Theirs => in_cluster::up(vault, app, cfg, state_dir, DataVolume::PodScratch).await?,
    };
    Ok((clusters, vault))
}

pub async fn down(cfg: Config, state_dir: &Path, export_logs: Option<&Path>) -> Result<ExitCode> {
    let dir = cluster::dir(state_dir);
    match cfg.clusters.substrate {
        SubstrateKind::Kind => {
            crate::prerequisite::docker().await?;
            let names = match cluster::load(state_dir) {
                Ok(clusters) => clusters.into_iter().map(|c| (c.role, c.name)).collect(),
                Err(_) => names(&cfg),
            };
            let kind = Kind::new(names, ImageSource::Offline, &dir)?;
            if let Some(logs) = export_logs {
                kind.export_logs(logs).await?;
            }
            kind.down().await?;
        }
        SubstrateKind::Existing => Existing::new(&cfg)?.down().await?,
    }
    for dir in [dir, in_cluster::dir(state_dir)] {
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(Error::io(format!("cannot remove {}", dir.display())))?;
        }
    }
    println!("removed what `harness up` created");
    Ok(ExitCode::SUCCESS)
}
