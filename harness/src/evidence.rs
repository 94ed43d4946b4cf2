//! Evidence kept when a cluster scenario fails: the events and every container's log of the
//! namespaces involved, under `target/harness/evidence/<scenario>/`, one file per container.
//! (`scripts/test.sh` adds `kind export logs` for the whole run.)

use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::{Event, Pod};
use kube::{Api, api::LogParams};

use crate::{Error, Result, fixtures};

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
            &events(client, namespace).await,
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

async fn events(client: &kube::Client, namespace: &str) -> String {
    let list = Api::<Event>::namespaced(client.clone(), namespace)
        .list(&Default::default())
        .await
        .map(|l| l.items)
        .unwrap_or_default();
    list.into_iter()
        .map(|e| {
            format!(
                "{} {} {}: {}\n",
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
