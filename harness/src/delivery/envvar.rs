//! The Secret Rotation row's env-var variant (F13: environment variables are not updated in
//! place): for a method whose value lands in a Kubernetes Secret, a second pod takes that Secret
//! as environment variables; its `/proc/1/environ` is fingerprinted inside the container before
//! and after a rotation, so the values never leave the pod.

use std::time::Duration;

use super::{APP_IMAGE, exposure};
use crate::{Error, Result, apply, pods, secret::SecretData};

const ENV_READER: &str = include_str!("../../../fixtures/delivery/env-reader.yaml");
const POD: &str = "env-reader";

/// A running env-var consumer of one Secret, and its environment's fingerprint at start.
pub struct EnvReader {
    pub secret: String,
    before: String,
}

/// Starts the env-var consumer of `secret` and fingerprints its environment.
pub async fn start(client: &kube::Client, namespace: &str, secret: &str, bound: Duration) -> Result<EnvReader> {
    let manifest = apply::render(
        ENV_READER,
        &[("NAMESPACE", namespace), ("SECRET", secret), ("APP_IMAGE", APP_IMAGE)],
    )?;
    apply::apply(client, &manifest).await?;
    pods::wait_running(client, namespace, POD, bound).await?;
    Ok(EnvReader {
        secret: secret.to_string(),
        before: fingerprint(client, namespace).await?,
    })
}

impl EnvReader {
    /// Whether the environment changed since the start, and that the Secret it was built from
    /// now holds `rotated` (otherwise the variant shows nothing: `None`).
    pub async fn changed(&self, client: &kube::Client, namespace: &str, rotated: &SecretData) -> Result<Option<bool>> {
        if exposure::secret_holding(client, namespace, rotated).await?.as_deref() != Some(self.secret.as_str()) {
            return Ok(None);
        }
        Ok(Some(fingerprint(client, namespace).await? != self.before))
    }
}

async fn fingerprint(client: &kube::Client, namespace: &str) -> Result<String> {
    let out = pods::exec(
        client,
        namespace,
        POD,
        POD,
        &["sha256sum", "/proc/1/environ"],
        "sha256sum /proc/1/environ",
    )
    .await?;
    out.split_whitespace()
        .next()
        .filter(|hash| hash.len() == 64)
        .map(str::to_string)
        .ok_or_else(|| Error::State(format!("{namespace}/{POD}: sha256sum printed no fingerprint")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_env_reader_takes_every_key_of_the_secret_and_its_pid_1_sleeps() {
        let manifest = apply::render(
            ENV_READER,
            &[("NAMESPACE", "ns1"), ("SECRET", "consumer-0"), ("APP_IMAGE", APP_IMAGE)],
        )
        .unwrap();
        let pod = &apply::documents(&manifest).unwrap()[0];
        assert_eq!(pod["metadata"]["name"], POD);
        let container = &pod["spec"]["containers"][0];
        assert_eq!(container["name"], POD, "exec'd by this name");
        assert_eq!(container["envFrom"][0]["secretRef"]["name"], "consumer-0");
        assert_eq!(container["command"][0], "sleep");
    }
}
