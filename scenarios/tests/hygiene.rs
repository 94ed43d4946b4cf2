//! Secret hygiene, proven on everything the cluster scenarios left behind: no root token, unseal
//! key or secret value written to Vault appears in any file under `target/harness` (samples,
//! evidence, the console log `scripts/test.sh` keeps), `target/nextest` (JUnit) or the state dir,
//! nor in the logs of Vault's pods and of every delivery method's components.
//!
//! Runs last, alone (nextest profile overrides): every other scenario's output is written by
//! then; `-P hygiene` runs it once more after the e2e run, over that run's JUnit.
//!
//! Run just it: `cargo nextest run -P hygiene` (or `-P e2e -E 'binary(hygiene)'`).

use std::{
    collections::BTreeSet,
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
};

use harness::{
    cluster::Role,
    delivery::Method,
    fixtures,
    secret::{fingerprint, fingerprints_file, words},
    vault::in_cluster,
};

/// Every regular file under `dir`, except private (0600) ones: the harness's own key stores.
fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            files(&path, out);
        } else if meta.is_file() && meta.permissions().mode() & 0o077 != 0 {
            out.push(path);
        }
    }
}

/// The logs of every pod in the namespaces that served the run: Vault's (with its audit log) and
/// those of every delivery method's components (the injector's, ESO's).
async fn component_logs() -> Vec<(String, String)> {
    use k8s_openapi::api::core::v1::Pod;
    let mut logs = Vec::new();
    for c in scenarios::env::clusters() {
        let client = c.client().await.unwrap();
        let namespaces: BTreeSet<&str> = match c.role {
            Role::Vault => BTreeSet::from(["vault"]),
            Role::App => Method::all()
                .iter()
                .filter_map(|m| m.components())
                .map(|c| c.namespace)
                .collect(),
        };
        for ns in namespaces {
            let api: kube::Api<Pod> = kube::Api::namespaced(client.clone(), ns);
            for pod in api.list(&Default::default()).await.unwrap() {
                let name = pod.metadata.name.unwrap_or_default();
                let log = api.logs(&name, &Default::default()).await.unwrap_or_default();
                logs.push((format!("{}:{ns}/{name}", c.name), log));
            }
        }
    }
    logs
}

#[tokio::test]
async fn no_root_token_unseal_key_or_written_secret_value_appears_in_any_output() {
    scenarios::init_tracing();
    let state = scenarios::env::state_dir();
    let keys: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(in_cluster::dir(&state).join("secrets.json")).unwrap()).unwrap();
    let mut secrets: Vec<String> = vec![keys["root_token"].as_str().unwrap().to_string()];
    for key in keys["unseal_keys"].as_array().unwrap() {
        secrets.push(key.as_str().unwrap().to_string());
    }
    assert_eq!(secrets.len(), 6, "root token and 5 unseal keys");
    let values: BTreeSet<String> = std::fs::read_to_string(fingerprints_file())
        .expect("the delivery runs recorded the values they wrote")
        .lines()
        .map(String::from)
        .collect();
    assert!(values.len() >= 2, "fingerprints of the values written");

    let root = fixtures::repo_root();
    let mut outputs = Vec::new();
    for dir in [root.join("target/harness"), root.join("target/nextest"), state.clone()] {
        files(&dir, &mut outputs);
    }
    let mut texts: Vec<(String, String)> = outputs
        .iter()
        .filter(|p| p.as_path() != fingerprints_file())
        .filter_map(|p| Some((p.display().to_string(), std::fs::read_to_string(p).ok()?)))
        .collect();
    texts.extend(component_logs().await);
    assert!(texts.len() > 10, "outputs to check: {}", texts.len());

    let mut hits = Vec::new();
    for (origin, text) in &texts {
        for secret in &secrets {
            if text.contains(secret.as_str()) {
                hits.push(format!("{origin}: root token or unseal key"));
            }
        }
        if words(text, 6).any(|w| values.contains(&fingerprint(w))) {
            hits.push(format!("{origin}: a secret value written to Vault"));
        }
    }
    assert_eq!(hits, Vec::<String>::new(), "secrets found in outputs");
}
