//! Evidence kept when a cluster scenario fails: the events and every container's log of the
//! namespaces involved, one file per container, and `kind export logs` of the clusters, under
//! `target/harness/evidence/<scenario>/`.

use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::{Event, Namespace, Pod};
use kube::{Api, api::LogParams};

use crate::{Error, Result, fixtures};

/// Runs a scenario's body; when it panics (a failed assertion), first keeps the evidence under
/// [`dir`]`(scenario)`: Vault's namespace in the vault cluster, every app-cluster namespace
/// created since the body started (parallel scenarios' included: more evidence, never less) and
/// `kind export logs` of both clusters (not on an existing substrate: kind does not list them).
pub async fn kept_on_failure<F: Future>(scenario: &str, body: F) -> F::Output {
    use futures::FutureExt;
    let started = jiff::Timestamp::now() - jiff::SignedDuration::from_secs(1);
    match std::panic::AssertUnwindSafe(body).catch_unwind().await {
        Ok(output) => output,
        Err(panic) => {
            if let Err(e) = keep_since(scenario, started).await {
                eprintln!("could not keep the evidence of {scenario}: {e}");
            }
            std::panic::resume_unwind(panic)
        }
    }
}

async fn keep_since(scenario: &str, started: jiff::Timestamp) -> Result<()> {
    let clusters = crate::cluster::load(&crate::paths::state_dir())?;
    for cluster in &clusters {
        let client = cluster.client().await?;
        let namespaces: Vec<String> = match cluster.role {
            crate::cluster::Role::Vault => vec!["vault".into()],
            crate::cluster::Role::App => Api::<Namespace>::all(client.clone())
                .list(&Default::default())
                .await
                .map_err(|e| Error::State(format!("cannot list namespaces: {e}")))?
                .items
                .into_iter()
                .filter(|n| n.metadata.creation_timestamp.as_ref().is_some_and(|t| t.0 >= started))
                .filter_map(|n| n.metadata.name)
                .collect(),
        };
        let names: Vec<&str> = namespaces.iter().map(String::as_str).collect();
        collect(
            &client,
            &names,
            &dir(scenario).join(format!("{}-cluster", cluster.role)),
        )
        .await?;
    }
    let names = clusters.iter().map(|c| (c.role, c.name.clone())).collect();
    let state = crate::cluster::dir(&crate::paths::state_dir());
    crate::cluster::kind::Kind::new(names, crate::cluster::kind::ImageSource::Offline, &state)?
        .export_logs(&dir(scenario).join("kind-logs"))
        .await?;
    eprintln!("evidence of {scenario} kept in {}", dir(scenario).display());
    Ok(())
}

/// Where the evidence of `scenario` goes.
pub fn dir(scenario: &str) -> PathBuf {
    fixtures::repo_root().join("target/harness/evidence").join(scenario)
}

/// Writes the events and container logs of each namespace into `dir`; best effort per file (a
/// log that cannot be read is noted in its place), an error only when `dir` cannot be written.
pub async fn collect(client: &kube::Client, namespaces: &[&str], dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(Error::io(format!("cannot create {}", dir.display())))?;
    for namespace in namespaces {
        write(
            dir,
            &format!("{namespace}.events.txt"),
            &events(client, namespace)
                .await
                .iter()
                .map(|line| format!("{line}\n"))
                .collect::<String>(),
        )?;
        let pods = Api::<Pod>::namespaced(client.clone(), namespace)
            .list(&Default::default())
            .await
            .map(|l| l.items)
            .unwrap_or_default();
        for pod in pods {
            let name = pod.metadata.name.clone().unwrap_or_default();
            let spec = pod.spec.unwrap_or_default();
            let containers = spec
                .init_containers
                .unwrap_or_default()
                .into_iter()
                .chain(spec.containers);
            for container in containers {
                let params = LogParams {
                    container: Some(container.name.clone()),
                    ..Default::default()
                };
                let log = Api::<Pod>::namespaced(client.clone(), namespace)
                    .logs(&name, &params)
                    .await
                    .unwrap_or_else(|e| format!("(log not readable: {e})\n"));
                write(dir, &format!("{namespace}.{name}.{}.log", container.name), &log)?;
            }
        }
    }
    Ok(())
}

/// The events of `namespace`, one line each: time, reason, object, message.
pub async fn events(client: &kube::Client, namespace: &str) -> Vec<String> {
    let list = Api::<Event>::namespaced(client.clone(), namespace)
        .list(&Default::default())
        .await
        .map(|l| l.items)
        .unwrap_or_default();
    list.into_iter()
        .map(|e| {
            format!(
                "{} {} {}: {}",
                e.last_timestamp.map(|t| t.0.to_string()).unwrap_or_default(),
                e.reason.unwrap_or_default(),
                e.involved_object.name.unwrap_or_default(),
                e.message.unwrap_or_default()
            )
        })
        .collect()
}

fn write(dir: &Path, name: &str, text: &str) -> Result<()> {
    let file = dir.join(name);
    std::fs::write(&file, text).map_err(Error::io(format!("cannot write {}", file.display())))
}
