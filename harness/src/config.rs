//! `harness.toml`: every value a scenario uses. Defaults are the article's values, so an absent
//! file means "reproduce the article". Unknown keys are errors, not silently ignored.

use std::{
    fmt,
    path::{Path, PathBuf},
};

use serde::{Deserialize, Serialize};

use crate::{Error, Result, duration::Ttl, secret::SecretData};

/// The file read when `--config` is not given and it exists in the working directory.
pub const DEFAULT_FILE: &str = "harness.toml";

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub clusters: ClustersConfig,
    pub vault: VaultConfig,
    pub kv: KvConfig,
    pub policy: PolicyConfig,
    pub ttl: TtlConfig,
    pub kubernetes_auth: KubernetesAuthConfig,
}

/// Vault's kubernetes auth for the app cluster, as the article sets it up.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KubernetesAuthConfig {
    /// Auth mount (`vault auth enable kubernetes`).
    pub mount: String,
    /// Role pods log in with (`role=vault-test`); its TTL is `ttl.role_ttl`.
    pub role: String,
    /// Service accounts the role accepts.
    pub bound_service_accounts: Vec<String>,
    /// Namespaces the role accepts; `*` is any.
    pub bound_namespaces: Vec<String>,
    /// The app-cluster service account whose long-lived token Vault uses for TokenReview.
    pub reviewer_service_account: String,
    /// NodePort on the vault node through which the host and the app cluster reach Vault.
    pub vault_node_port: u16,
}

impl Default for KubernetesAuthConfig {
    fn default() -> Self {
        KubernetesAuthConfig {
            mount: "kubernetes".into(),
            role: "vault-test".into(),
            bound_service_accounts: vec!["default".into()],
            bound_namespaces: vec!["*".into()],
            reviewer_service_account: "vault-auth".into(),
            vault_node_port: 30820,
        }
    }
}

/// Which server implements the Vault API.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Flavor {
    #[default]
    #[value(name = "openbao")]
    OpenBao,
    Vault,
}

impl Flavor {
    /// The CLI binary's name on PATH.
    pub fn binary_name(self) -> &'static str {
        match self {
            Flavor::OpenBao => "bao",
            Flavor::Vault => "vault",
        }
    }

    /// Storage backend used when the config names none: the article's `file` where the server has it.
    /// OpenBao 2.x removed `file`; integrated storage (raft) is its persistent single-node backend.
    pub fn default_storage(self) -> Storage {
        match self {
            Flavor::OpenBao => Storage::Raft,
            Flavor::Vault => Storage::File,
        }
    }

    pub fn supports(self, storage: Storage) -> bool {
        !(self == Flavor::OpenBao && storage == Storage::File)
    }
}

impl fmt::Display for Flavor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Flavor::OpenBao => "OpenBao",
            Flavor::Vault => "Vault",
        })
    }
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Storage {
    File,
    Raft,
    Inmem,
}

impl Storage {
    /// The name `status` reports as "Storage Type".
    pub fn name(self) -> &'static str {
        match self {
            Storage::File => "file",
            Storage::Raft => "raft",
            Storage::Inmem => "inmem",
        }
    }

    /// Whether a single server on this backend reports "HA Enabled".
    pub fn ha_enabled(self) -> bool {
        self == Storage::Raft
    }
}

/// Where the two clusters come from.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SubstrateKind {
    /// The harness creates kind clusters and deletes them on `down`.
    #[default]
    Kind,
    /// Two clusters that already exist (EKS, GKE, kind…), named by kube context; `down` removes
    /// only what the harness created in them.
    Existing,
}

/// The two clusters: kind cluster names, or kube contexts with `substrate = "existing"`.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClustersConfig {
    pub substrate: SubstrateKind,
    pub vault: String,
    pub app: String,
    /// Kubeconfig holding both contexts (existing only; default `$KUBECONFIG`, then `~/.kube/config`).
    pub kubeconfig: Option<PathBuf>,
}

impl Default for ClustersConfig {
    fn default() -> Self {
        ClustersConfig {
            substrate: SubstrateKind::Kind,
            vault: "vault".into(),
            app: "app".into(),
            kubeconfig: None,
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VaultConfig {
    pub flavor: Flavor,
    /// Explicit server binary; otherwise the pinned cache, then PATH.
    pub binary: Option<PathBuf>,
    /// Listener port of `harness vault up`; 0 picks a free one.
    pub port: u16,
    pub tls: bool,
    pub storage: Option<Storage>,
    pub key_shares: u8,
    pub key_threshold: u8,
}

impl Default for VaultConfig {
    fn default() -> Self {
        VaultConfig {
            flavor: Flavor::OpenBao,
            binary: None,
            port: 8200,
            tls: false,
            storage: None,
            key_shares: 5,
            key_threshold: 3,
        }
    }
}

impl VaultConfig {
    pub fn storage(&self) -> Storage {
        self.storage.unwrap_or(self.flavor.default_storage())
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KvConfig {
    /// Where the KV engine is mounted (`vault secrets enable -path=secret kv`).
    pub mount: String,
    /// 1 as in the article (`kv` without options), or 2.
    pub version: u8,
    /// Name of the article's secret under the mount.
    pub secret: String,
    /// Its fields and values (`kv put secret/mysecret username=admin password=admin123`).
    pub data: SecretData,
    /// A mount the read policy does not cover, for the "paths outside are denied" check.
    pub outside_mount: String,
}

impl Default for KvConfig {
    fn default() -> Self {
        KvConfig {
            mount: "secret".into(),
            version: 1,
            secret: "mysecret".into(),
            data: SecretData::new([
                ("username".into(), "admin".into()),
                ("password".into(), "admin123".into()),
            ]),
            outside_mount: "private".into(),
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PolicyConfig {
    /// Name of the read-only policy; its rules are `fixtures/vault/policies/read-policy.hcl`.
    pub name: String,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        PolicyConfig {
            name: "read-policy".into(),
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TtlConfig {
    /// Auth mount used for the TTL-cap login when no cluster is involved (userpass).
    pub auth_mount: String,
    /// TTL the role asks for (`ttl=1440h` in the article).
    pub role_ttl: Ttl,
    /// The effective max the mount enforces; 768h is Vault's system default.
    pub effective_max_ttl: Ttl,
    /// A mount max above `role_ttl`, for the "raised cap, no warning" control.
    pub raised_max_ttl: Ttl,
}

impl Default for TtlConfig {
    fn default() -> Self {
        let hours = |h: u64| Ttl::from_secs(h * 3600);
        TtlConfig {
            auth_mount: "userpass".into(),
            role_ttl: hours(1440),
            effective_max_ttl: hours(768),
            raised_max_ttl: hours(2160),
        }
    }
}

impl Config {
    /// Reads `path`, or `harness.toml` in the working directory when present, or the defaults.
    pub fn load(path: Option<&Path>) -> Result<Config> {
        let path = match path {
            Some(p) => p.to_path_buf(),
            None if Path::new(DEFAULT_FILE).exists() => PathBuf::from(DEFAULT_FILE),
            None => return Ok(Config::default()),
        };
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(&path).map_err(|e| Error::Config {
            path: shown.clone(),
            message: e.to_string(),
        })?;
        Config::parse(&text).map_err(|message| Error::Config { path: shown, message })
    }

    /// Parses and validates a config text; the error is one line naming the offending key.
    pub fn parse(text: &str) -> Result<Config, String> {
        let config: Config = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| text[..s.start].matches('\n').count() + 1);
            let message = e.message().trim().replace('\n', " ");
            match line {
                Some(line) => format!("line {line}: {message}"),
                None => message,
            }
        })?;
        config.validate()?;
        Ok(config)
    }

    pub fn validate(&self) -> Result<(), String> {
        let v = &self.vault;
        if v.key_shares == 0 {
            return Err("vault.key_shares must be at least 1".into());
        }
        if v.key_threshold == 0 || v.key_threshold > v.key_shares {
            return Err(format!(
                "vault.key_threshold ({}) must be between 1 and vault.key_shares ({})",
                v.key_threshold, v.key_shares
            ));
        }
        if v.key_shares > 1 && v.key_threshold < 2 {
            return Err("vault.key_threshold must be at least 2 when there is more than one key share".into());
        }
        if !v.flavor.supports(v.storage()) {
            return Err(format!(
                "vault.storage = \"{}\" is not available in {} (it has raft and inmem)",
                v.storage().name(),
                v.flavor
            ));
        }
        let kv = &self.kv;
        if kv.version != 1 && kv.version != 2 {
            return Err(format!("kv.version must be 1 or 2, not {}", kv.version));
        }
        if self.clusters.vault == self.clusters.app {
            return Err(format!(
                "clusters.vault and clusters.app must differ (both {:?})",
                self.clusters.app
            ));
        }
        if self.clusters.substrate == SubstrateKind::Kind {
            for (key, value) in [
                ("clusters.vault", &self.clusters.vault),
                ("clusters.app", &self.clusters.app),
            ] {
                if !is_name(value) {
                    return Err(format!(
                        "{key} = {value:?} must be a kind cluster name of letters, digits, - and _"
                    ));
                }
            }
        }
        for (key, value) in [
            ("kv.mount", &kv.mount),
            ("kv.secret", &kv.secret),
            ("kv.outside_mount", &kv.outside_mount),
            ("policy.name", &self.policy.name),
            ("ttl.auth_mount", &self.ttl.auth_mount),
            ("kubernetes_auth.mount", &self.kubernetes_auth.mount),
            ("kubernetes_auth.role", &self.kubernetes_auth.role),
        ] {
            let valid = !value.is_empty() && value.chars().all(|c| c.is_ascii_alphanumeric() || "-_".contains(c));
            if !valid {
                return Err(format!(
                    "{key} = {value:?} must be a non-empty name of letters, digits, - and _"
                ));
            }
        }
        if kv.outside_mount.starts_with(&kv.mount) {
            return Err(format!(
                "kv.outside_mount ({:?}) starts with kv.mount ({:?}), so the read policy would cover it",
                kv.outside_mount, kv.mount
            ));
        }
        if kv.data.is_empty() {
            return Err("kv.data must hold at least one field".into());
        }
        if !(30000..=32767).contains(&self.kubernetes_auth.vault_node_port) {
            return Err(format!(
                "kubernetes_auth.vault_node_port ({}) must be in the NodePort range 30000-32767",
                self.kubernetes_auth.vault_node_port
            ));
        }
        let ttl = &self.ttl;
        if ttl.role_ttl.as_secs() == 0 || ttl.effective_max_ttl.as_secs() == 0 {
            return Err("ttl.role_ttl and ttl.effective_max_ttl must be longer than 0s".into());
        }
        if ttl.raised_max_ttl <= ttl.role_ttl {
            return Err(format!(
                "ttl.raised_max_ttl ({}) must be above ttl.role_ttl ({}) to show the uncapped control case",
                ttl.raised_max_ttl, ttl.role_ttl
            ));
        }
        Ok(())
    }
}

fn is_name(value: &str) -> bool {
    !value.is_empty() && value.chars().all(|c| c.is_ascii_alphanumeric() || "-_".contains(c))
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    #[test]
    fn defaults_are_the_articles_values() {
        let c = Config::default();
        assert_eq!((c.vault.key_shares, c.vault.key_threshold), (5, 3));
        assert_eq!(
            (c.kv.mount.as_str(), c.kv.version, c.kv.secret.as_str()),
            ("secret", 1, "mysecret")
        );
        assert_eq!(c.kv.data.keys().collect::<Vec<_>>(), ["password", "username"]);
        assert_eq!(c.policy.name, "read-policy");
        assert_eq!(
            (c.ttl.role_ttl.to_string(), c.ttl.effective_max_ttl.to_string()),
            ("1440h".into(), "768h".into())
        );
        c.validate().unwrap();
    }

    #[test]
    fn a_partial_file_overrides_only_what_it_names() {
        let c = Config::parse("[ttl]\nrole_ttl = \"2000h\"\n[kv]\nversion = 2\n").unwrap();
        assert_eq!(c.ttl.role_ttl.to_string(), "2000h");
        assert_eq!(c.kv.version, 2);
        assert_eq!(c.kv.mount, "secret");
        assert_eq!(c.vault.key_shares, 5);
    }

    #[rstest]
    #[case::unknown_key("[vault]\nshares = 5\n", "line 2: unknown field `shares`")]
    #[case::bad_flavor("[vault]\nflavor = \"consul\"\n", "line 2: unknown variant `consul`")]
    #[case::bad_ttl("[ttl]\nrole_ttl = \"ten days\"\n", "line 2: `ten days` is not a duration")]
    #[case::threshold(
        "[vault]\nkey_threshold = 6\n",
        "vault.key_threshold (6) must be between 1 and vault.key_shares (5)"
    )]
    #[case::kv_version("[kv]\nversion = 3\n", "kv.version must be 1 or 2, not 3")]
    #[case::file_on_openbao("[vault]\nstorage = \"file\"\n", "not available in OpenBao")]
    #[case::overlap("[kv]\noutside_mount = \"secret2\"\n", "so the read policy would cover it")]
    #[case::raised(
        "[ttl]\nraised_max_ttl = \"100h\"\n",
        "ttl.raised_max_ttl (100h) must be above ttl.role_ttl (1440h)"
    )]
    #[case::mount_name("[kv]\nmount = \"a/b\"\n", "kv.mount = \"a/b\" must be a non-empty name")]
    fn invalid_files_give_one_line_naming_the_problem(#[case] text: &str, #[case] expected: &str) {
        let message = Config::parse(text).unwrap_err();
        assert!(message.contains(expected), "got: {message}");
        assert!(!message.contains('\n'), "one line: {message}");
    }
}
