//! `harness up` / `harness down`: the two clusters (and, with issue #4, Vault in the vault cluster).

use std::{path::Path, process::ExitCode, time::Instant};

use super::interrupted;
use crate::{
    Error, Result,
    cluster::{
        self, Cluster, Role, Substrate,
        kind::{self, ImageSource, Kind},
    },
    config::Config,
    vault::in_cluster::{self, ClusterVault},
};

#[derive(Debug, clap::Args)]
pub struct UpArgs {
    /// Node image source; default: offline when the built node image exists, else online.
    #[arg(long, value_enum)]
    images: Option<ImageSource>,
    /// Keep what was created when `up` fails or is interrupted (for debugging).
    #[arg(long)]
    keep: bool,
}

fn names(cfg: &Config) -> Vec<(Role, String)> {
    vec![
        (Role::Vault, cfg.clusters.vault.clone()),
        (Role::App, cfg.clusters.app.clone()),
    ]
}

pub async fn up(args: UpArgs, cfg: Config, state_dir: &Path) -> Result<ExitCode> {
    let started = Instant::now();
    let images = match args.images {
        Some(source) => source,
        None => ImageSource::detect().await,
    };
    let dir = cluster::dir(state_dir);
    let kind = Kind::new(names(&cfg), images, &dir)?;
    let existed = kind.existing().await?;
    let result = tokio::select! {
        result = bring_up(&kind, &cfg, state_dir) => result,
        error = interrupted() => Err(error),
    };
    let (clusters, vault) = match result {
        Ok(up) => up,
        Err(error) => {
            let evidence = state_dir.join("logs").join("up-failed");
            let _ = kind.export_logs(&evidence).await;
            if !args.keep {
                // Only what this invocation created goes; clusters that were there before stay.
                let created: Vec<(Role, String)> =
                    names(&cfg).into_iter().filter(|(_, n)| !existed.contains(n)).collect();
                Kind::new(created, images, &dir)?.down().await?;
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
    println!(
        "up in {:.0} s (node image: {})",
        started.elapsed().as_secs_f64(),
        images.node_image()
    );
    Ok(ExitCode::SUCCESS)
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
async fn bring_up(kind: &Kind, cfg: &Config, state_dir: &Path) -> Result<(Vec<Cluster>, ClusterVault)> {
    let clusters = kind.up(&[Role::Vault, Role::App]).await?;
    let file = cluster::dir(state_dir).join("clusters.json");
    let json = serde_json::to_vec_pretty(&clusters).map_err(|e| Error::State(format!("cannot encode state: {e}")))?;
    std::fs::write(&file, json).map_err(Error::io(format!("cannot write {}", file.display())))?;
    let by_role = |role| {
        clusters
            .iter()
            .find(|c| c.role == role)
            .expect("up returns every requested role")
    };
    // CoreDNS restarts without its upstream while Vault starts: neither needs the other.
    let dns = futures::future::try_join_all(clusters.iter().map(kind::isolate_dns));
    let vault = in_cluster::up(by_role(Role::Vault), by_role(Role::App), cfg, state_dir);
    let (_, vault) = tokio::try_join!(dns, vault)?;
    Ok((clusters, vault))
}

pub async fn down(cfg: Config, state_dir: &Path, export_logs: Option<&Path>) -> Result<ExitCode> {
    let dir = cluster::dir(state_dir);
    let names = match cluster::load(state_dir) {
        Ok(clusters) => clusters.into_iter().map(|c| (c.role, c.name)).collect(),
        Err(_) => names(&cfg),
    };
    let kind = Kind::new(names, ImageSource::Offline, &dir)?;
    if let Some(logs) = export_logs {
        kind.export_logs(logs).await?;
    }
    kind.down().await?;
    for dir in [dir, in_cluster::dir(state_dir)] {
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(Error::io(format!("cannot remove {}", dir.display())))?;
        }
    }
    println!("clusters removed");
    Ok(ExitCode::SUCCESS)
}
