//! Vault request load per method, from Vault's audit log: one JSON entry per request and one per
//! response on the server's stdout (configured by `vault::in_cluster`), values HMAC-ed by Vault.
//! A response entry carries the caller's token metadata, which for a kubernetes-auth token names
//! the service account's namespace; each delivery run has a namespace of its own.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use crate::{Error, Result};

#[derive(Deserialize)]
struct Entry {
    time: String,
    #[serde(rename = "type")]
    kind: String,
    auth: Option<Auth>,
    request: Option<Request>,
}

#[derive(Deserialize)]
struct Auth {
    metadata: Option<BTreeMap<String, String>>,
    /// HMAC-ed like every value, so equal accessors still compare equal.
    accessor: Option<String>,
    #[serde(default)]
    policies: Vec<String>,
}

#[derive(Deserialize)]
struct Request {
    path: Option<String>,
    operation: Option<String>,
    mount_type: Option<String>,
    remote_address: Option<String>,
}

/// The audit log's answered requests (response entries); lines that are not audit entries (the
/// server's own log) are skipped.
fn responses(log: &str) -> impl Iterator<Item = Entry> + '_ {
    log.lines()
        .filter(|l| l.starts_with('{'))
        .filter_map(|l| serde_json::from_str::<Entry>(l).ok())
        .filter(|e| e.kind == "response")
}

impl Entry {
    fn namespace(&self) -> Option<&str> {
        let metadata = self.auth.as_ref()?.metadata.as_ref()?;
        metadata.get("service_account_namespace").map(String::as_str)
    }

    fn path(&self) -> &str {
        self.request.as_ref().and_then(|r| r.path.as_deref()).unwrap_or("")
    }

    /// The auth mount a login went to (`auth/<mount>/login`), if this is a login.
    fn login_mount(&self) -> Option<String> {
        let mount = self.path().strip_prefix("auth/")?.strip_suffix("/login")?;
        Some(format!("auth/{mount}"))
    }
}

/// How one namespace's service accounts authenticated and read, from the audit log.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct NamespaceAuth {
    pub logins: usize,
    /// The auth mounts logged in at, with their types (`auth/kubernetes (kubernetes)`).
    pub login_mounts: BTreeSet<String>,
    /// Reads of secrets (not of `auth/` or `sys/`).
    pub reads: usize,
    /// Of those, the reads made with a token that one of these logins issued.
    pub reads_with_login_token: usize,
    pub revokes: usize,
}

/// The logins, reads and revokes made with tokens of `namespace`'s service accounts.
pub fn namespace_auth(log: &str, namespace: &str) -> NamespaceAuth {
    let entries: Vec<Entry> = responses(log).filter(|e| e.namespace() == Some(namespace)).collect();
    let mut auth = NamespaceAuth::default();
    let mut issued = BTreeSet::new();
    for entry in entries.iter() {
        if let Some(mount) = entry.login_mount() {
            auth.logins += 1;
            let kind = entry
                .request
                .as_ref()
                .and_then(|r| r.mount_type.as_deref())
                .unwrap_or("type not logged");
            auth.login_mounts.insert(format!("{mount} ({kind})"));
            issued.extend(entry.auth.as_ref().and_then(|a| a.accessor.clone()));
        }
    }
    for entry in &entries {
        let path = entry.path();
        if path.starts_with("auth/token/revoke") {
            auth.revokes += 1;
        }
        let operation = entry.request.as_ref().and_then(|r| r.operation.as_deref());
        if operation == Some("read") && !path.starts_with("auth/") && !path.starts_with("sys/") {
            auth.reads += 1;
            let accessor = entry.auth.as_ref().and_then(|a| a.accessor.as_ref());
            if accessor.is_some_and(|a| issued.contains(a)) {
                auth.reads_with_login_token += 1;
            }
        }
    }
    auth
}

/// Answered requests made with a root token from one of `addresses` (the app cluster's nodes).
pub fn root_requests_from(log: &str, addresses: &[String]) -> usize {
    responses(log)
        .filter(|e| e.auth.as_ref().is_some_and(|a| a.policies.iter().any(|p| p == "root")))
        .filter(|e| {
            let from = e.request.as_ref().and_then(|r| r.remote_address.as_ref());
            from.is_some_and(|a| addresses.contains(a))
        })
        .count()
}

/// Answered requests made with a token of `namespace`'s service accounts (logins included)
/// between `from` and `to` (unix seconds). Lines that are not audit entries (the server's own
/// log) are skipped.
pub fn requests_from_namespace(log: &str, namespace: &str, from: f64, to: f64) -> Result<usize> {
    let mut count = 0;
    for entry in responses(log).filter(|e| e.namespace() == Some(namespace)) {
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

    const AUTH_LOG: &str = r#"{"time":"2026-11-28T21:00:01.000Z","type":"request","auth":{"metadata":{"service_account_namespace":"d-1"}},"request":{"path":"auth/kubernetes/login","operation":"update"}}
{"time":"2026-11-28T21:00:01.100Z","type":"response","auth":{"accessor":"hmac-sha256:a1","policies":["default","read"],"metadata":{"service_account_namespace":"d-1"}},"request":{"path":"auth/kubernetes/login","operation":"update","mount_type":"kubernetes","remote_address":"172.18.0.3"}}
{"time":"2026-11-28T21:00:01.200Z","type":"response","auth":{"accessor":"hmac-sha256:a1","metadata":{"service_account_namespace":"d-1"}},"request":{"path":"secret/data/d-1-0-0","operation":"read","remote_address":"172.18.0.3"}}
{"time":"2026-11-28T21:00:02.000Z","type":"response","auth":{"accessor":"hmac-sha256:zz","metadata":{"service_account_namespace":"d-1"}},"request":{"path":"secret/data/d-1-0-0","operation":"read"}}
{"time":"2026-11-28T21:00:02.500Z","type":"response","auth":{"accessor":"hmac-sha256:a1","metadata":{"service_account_namespace":"d-1"}},"request":{"path":"auth/token/revoke-self","operation":"update"}}
{"time":"2026-11-28T21:00:03.000Z","type":"response","auth":{"accessor":"hmac-sha256:r","policies":["root"]},"request":{"path":"secret/data/x","operation":"update","remote_address":"172.18.0.1"}}
{"time":"2026-11-28T21:00:04.000Z","type":"response","auth":{"accessor":"hmac-sha256:r","policies":["root"]},"request":{"path":"sys/health","operation":"read","remote_address":"172.18.0.3"}}
"#;

    #[test]
    fn logins_reads_and_revokes_split_by_path_and_reads_match_their_logins_token() {
        let auth = namespace_auth(AUTH_LOG, "d-1");
        assert_eq!(auth.logins, 1);
        assert_eq!(
            auth.login_mounts.iter().collect::<Vec<_>>(),
            ["auth/kubernetes (kubernetes)"]
        );
        assert_eq!((auth.reads, auth.reads_with_login_token, auth.revokes), (2, 1, 1));
        assert_eq!(namespace_auth(AUTH_LOG, "other"), NamespaceAuth::default());
        assert_eq!(root_requests_from(AUTH_LOG, &["172.18.0.3".to_string()]), 1);
        assert_eq!(root_requests_from(AUTH_LOG, &["172.18.0.9".to_string()]), 0);
    }

    #[test]
    fn only_responses_of_the_namespace_inside_the_window_count() {
        let t0 = "2026-11-28T21:00:00Z".parse::<jiff::Timestamp>().unwrap().as_second() as f64;
        assert_eq!(requests_from_namespace(LOG, "d-1", t0, t0 + 60.0).unwrap(), 1);
        assert_eq!(requests_from_namespace(LOG, "d-1", t0, t0 + 120.0).unwrap(), 2);
        assert_eq!(requests_from_namespace(LOG, "other", t0, t0 + 120.0).unwrap(), 1);
        assert_eq!(requests_from_namespace(LOG, "none", t0, t0 + 120.0).unwrap(), 0);
    }
}
