//! Vault request load per method, from Vault's audit log: one JSON entry per request and one per
//! response on the server's stdout (configured by `vault::in_cluster`), values HMAC-ed by Vault.
//! A response entry carries the caller's token metadata, which for a kubernetes-auth token names
//! the service account's namespace; each delivery run has a namespace of its own.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::{Error, Result};

#[derive(Deserialize)]
struct Entry {
    time: String,
    #[serde(rename = "type")]
    kind: String,
    auth: Option<Auth>,
}

#[derive(Deserialize)]
struct Auth {
    metadata: Option<BTreeMap<String, String>>,
}

/// Answered requests made with a token of `namespace`'s service accounts (logins included)
/// between `from` and `to` (unix seconds). Lines that are not audit entries (the server's own
/// log) are skipped.
pub fn requests_from_namespace(log: &str, namespace: &str, from: f64, to: f64) -> Result<usize> {
    let mut count = 0;
    for line in log.lines().filter(|l| l.starts_with('{')) {
        let Ok(entry) = serde_json::from_str::<Entry>(line) else {
            continue;
        };
        if entry.kind != "response" {
            continue;
        }
        let from_namespace = entry
            .auth
            .and_then(|a| a.metadata)
            .is_some_and(|m| m.get("service_account_namespace").map(String::as_str) == Some(namespace));
        if !from_namespace {
            continue;
        }
        let at: jiff::Timestamp = entry
            .time
            .parse()
            .map_err(|e| Error::State(format!("audit entry time {:?}: {e}", entry.time)))?;
        let at = at.as_millisecond() as f64 / 1000.0;
        if (from..=to).contains(&at) {
            count += 1;
        }
    }
    Ok(count)
}

/// The audit log (the Vault pod's stdout) since `since_seconds` ago.
pub async fn read_log(vault_cluster: &kube::Client, since_seconds: i64) -> Result<String> {
    use k8s_openapi::api::core::v1::Pod;
    let pods: kube::Api<Pod> = kube::Api::namespaced(vault_cluster.clone(), "vault");
    let params = kube::api::LogParams {
        container: Some("vault".into()),
        since_seconds: Some(since_seconds.max(1)),
        ..Default::default()
    };
    pods.logs("vault-0", &params)
        .await
        .map_err(|e| Error::State(format!("reading Vault's audit log (pod vault/vault-0): {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = r#"2026-11-28T21:00:00.000Z [INFO]  core: post-unseal setup complete
{"time":"2026-11-28T21:00:01.000Z","type":"request","auth":{"metadata":{"service_account_namespace":"d-1"}}}
{"time":"2026-11-28T21:00:01.100Z","type":"response","auth":{"metadata":{"service_account_namespace":"d-1","role":"vault-test"}}}
{"time":"2026-11-28T21:00:05.000Z","type":"response","auth":{"metadata":{"service_account_namespace":"other"}}}
{"time":"2026-11-28T21:00:09.000Z","type":"response","auth":{"client_token":"hmac-sha256:x"}}
{"time":"2026-11-28T21:01:30.000Z","type":"response","auth":{"metadata":{"service_account_namespace":"d-1"}}}
"#;

    #[test]
    fn only_responses_of_the_namespace_inside_the_window_count() {
        let t0 = "2026-11-28T21:00:00Z".parse::<jiff::Timestamp>().unwrap().as_second() as f64;
        assert_eq!(requests_from_namespace(LOG, "d-1", t0, t0 + 60.0).unwrap(), 1);
        assert_eq!(requests_from_namespace(LOG, "d-1", t0, t0 + 120.0).unwrap(), 2);
        assert_eq!(requests_from_namespace(LOG, "other", t0, t0 + 120.0).unwrap(), 1);
        assert_eq!(requests_from_namespace(LOG, "none", t0, t0 + 120.0).unwrap(), 0);
    }
}
