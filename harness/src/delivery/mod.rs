//! Delivery methods: how `secret/<name>` reaches an application container. Each method renders
//! its manifests from `fixtures/delivery/<method>/`; [`run`] deploys them and measures.
//!
//! Every consumer pod has the same application container (`fixtures/delivery/app.yaml`): it reads
//! the files under `/vault/secrets` and logs `changed <unix time>` whenever they change, so every
//! method is observed by the same 100 ms poll in the application container itself.

pub mod agent_sidecar;
pub mod audit;
pub mod eso;
pub mod fault;
pub mod injector;
pub mod overhead;
pub mod run;
pub mod session;

use std::{collections::BTreeMap, fmt, str::FromStr, time::Duration};

use crate::{
    Error, Result, apply,
    config::Config,
    fixtures,
    secret::{SecretData, SecretString},
    vault::in_cluster::ClusterVault,
};

const APP_CONTAINER: &str = include_str!("../../../fixtures/delivery/app.yaml");
/// The image of the application container (preloaded in the node image).
pub const APP_IMAGE: &str = "harness.local/debian-minbase:bookworm";
/// Where every method delivers, as seen from the application container.
pub const SECRETS_DIR: &str = "/vault/secrets";

/// A way of getting a Vault secret into a pod.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Method {
    /// The article's hand-written Vault Agent sidecar.
    AgentSidecar,
    /// The Vault Agent Injector (vault-k8s).
    Injector,
    /// External Secrets Operator, through a Kubernetes Secret mounted as a volume.
    Eso,
}

impl Method {
    pub const ALL: [Method; 3] = [Method::AgentSidecar, Method::Injector, Method::Eso];

    pub fn name(self) -> &'static str {
        match self {
            Method::AgentSidecar => "agent_sidecar",
            Method::Injector => "injector",
            Method::Eso => "eso",
        }
    }

    /// Installs what the method runs per cluster (idempotent) and waits until it serves.
    pub async fn install(self, client: &kube::Client, target: &Target<'_>) -> Result<()> {
        match self {
            Method::AgentSidecar => Ok(()),
            Method::Injector => injector::install(client, target).await,
            Method::Eso => eso::install(client, target).await,
        }
    }

    /// Every object of one consumer.
    pub fn manifests(self, target: &Target<'_>, consumer: &Consumer, profile: Profile) -> Result<String> {
        match self {
            Method::AgentSidecar => agent_sidecar::manifests(target, consumer, profile),
            Method::Injector => injector::manifests(target, consumer, profile),
            Method::Eso => eso::manifests(target, consumer, profile),
        }
    }

    /// The secret's fields from the files the application container sees in [`SECRETS_DIR`].
    pub fn decode(self, files: &BTreeMap<String, SecretString>) -> Result<SecretData> {
        use crate::secret::ExposeSecret;
        let only = |name: &str| {
            files
                .get(name)
                .map(|f| f.expose_secret().to_string())
                .ok_or_else(|| Error::State(format!("{} has no file {name} in {SECRETS_DIR}", self.name())))
        };
        match self {
            Method::AgentSidecar => Ok(parse_rendered(&only(agent_sidecar::SECRET_FILE)?)),
            Method::Injector => injector::parse_default_template(&only(injector::SECRET_FILE)?),
            Method::Eso => Ok(SecretData::new(
                files
                    .iter()
                    .map(|(k, v)| (k.clone(), v.expose_secret().to_string().into())),
            )),
        }
    }

    /// Containers a consumer pod must have besides the application, by name (init containers
    /// included): proof that the method is in place before anything is measured.
    pub fn added_containers(self) -> &'static [&'static str] {
        match self {
            Method::AgentSidecar => &["vault-agent"],
            Method::Injector => &["vault-agent-init", "vault-agent"],
            Method::Eso => &[],
        }
    }

    /// Namespace and pod label selector of the method's per-cluster components, if any.
    pub fn components(self) -> Option<(&'static str, &'static str)> {
        match self {
            Method::AgentSidecar => None,
            Method::Injector => Some((injector::NAMESPACE, "app.kubernetes.io/name=vault-injector")),
            Method::Eso => Some((eso::NAMESPACE, "app.kubernetes.io/name=external-secrets")),
        }
    }

    /// Pinned versions of the method's own components (beyond Vault and Kubernetes).
    pub fn component_versions(self) -> Vec<(&'static str, &'static str)> {
        match self {
            Method::AgentSidecar => vec![],
            Method::Injector => vec![("vault-k8s", fixtures::version("VAULT_K8S_VERSION"))],
            Method::Eso => vec![("external-secrets", fixtures::version("ESO_VERSION"))],
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Method {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Method, String> {
        Method::ALL.into_iter().find(|m| m.name() == s).ok_or_else(|| {
            let known: Vec<_> = Method::ALL.iter().map(|m| m.name()).collect();
            format!("unknown delivery method {s:?} (known: {})", known.join(", "))
        })
    }
}

/// Which configuration a method runs with, so the table separates mechanism from configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    /// Every refresh interval the method has set to [`TUNED_INTERVAL`].
    Tuned,
    /// Upstream defaults: nothing set (agent render 5m, ESO refresh 1h).
    Defaults,
}

/// The refresh interval of every method in the tuned profile.
pub const TUNED_INTERVAL: Duration = Duration::from_secs(10);

impl Profile {
    pub fn name(self) -> &'static str {
        match self {
            Profile::Tuned => "tuned",
            Profile::Defaults => "defaults",
        }
    }

    /// The refresh interval the profile sets, or `None` to leave the method's default.
    pub fn interval(self) -> Option<Duration> {
        match self {
            Profile::Tuned => Some(TUNED_INTERVAL),
            Profile::Defaults => None,
        }
    }
}

/// What every method's manifests are rendered from: the harness config and the cluster Vault.
pub struct Target<'a> {
    pub cfg: &'a Config,
    pub vault: &'a ClusterVault,
    /// Vault's CA certificate (PEM), for every client in the app cluster.
    pub ca_pem: &'a str,
}

impl Target<'_> {
    /// The Vault API path of a secret in the configured KV mount.
    pub fn secret_path(&self, secret_name: &str) -> String {
        match self.cfg.kv.version {
            1 => format!("{}/{secret_name}", self.cfg.kv.mount),
            _ => format!("{}/data/{secret_name}", self.cfg.kv.mount),
        }
    }

    pub fn ca_pem_base64(&self) -> String {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(self.ca_pem)
    }
}

/// One consumer pod and the Vault secret it receives.
#[derive(Clone, Debug)]
pub struct Consumer {
    pub namespace: String,
    pub pod: String,
    pub secret_name: String,
}

/// The application container, indented as an item of a pod's `containers:` list.
pub fn app_container(volume_mounts: &str) -> Result<String> {
    let body: String = APP_CONTAINER
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| format!("    {l}\n"))
        .collect();
    apply::render(
        body.trim_end(),
        &[("APP_IMAGE", APP_IMAGE), ("VOLUME_MOUNTS", volume_mounts)],
    )
}

/// `text` with every line indented by `spaces`.
pub fn indent(text: &str, spaces: usize) -> String {
    let pad = " ".repeat(spaces);
    text.lines().map(|l| format!("{pad}{l}")).collect::<Vec<_>>().join("\n")
}

/// Parses the `key=value` lines a delivery method renders into the app's file.
pub fn parse_rendered(text: &str) -> SecretData {
    SecretData::new(
        text.lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), SecretString::from(v))),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::ExposeSecret;

    #[test]
    fn rendered_lines_become_fields() {
        let data = parse_rendered("password=a=b\nusername=admin\n\n");
        assert_eq!(data.keys().collect::<Vec<_>>(), ["password", "username"]);
        assert_eq!(data.get("password").unwrap().expose_secret(), "a=b");
    }

    #[test]
    fn method_names_round_trip_and_unknown_ones_are_refused() {
        for m in Method::ALL {
            assert_eq!(m.name().parse::<Method>().unwrap(), m);
        }
        let err = "csi-typo".parse::<Method>().unwrap_err();
        assert!(err.contains("unknown delivery method \"csi-typo\""), "{err}");
    }

    #[test]
    fn the_app_container_is_a_list_item_with_the_given_mounts() {
        let text = app_container("[{name: s, mountPath: /vault/secrets}]").unwrap();
        let pod = format!("spec:\n  containers:\n{text}\n");
        let parsed: serde_json::Value = serde_saphyr::from_str(&pod).unwrap();
        let app = &parsed["spec"]["containers"][0];
        assert_eq!(app["name"], "app");
        assert_eq!(app["volumeMounts"][0]["mountPath"], "/vault/secrets");
        assert!(app["command"][2].as_str().unwrap().contains("changed $(date +%s.%N)"));
    }

    #[test]
    fn eso_files_are_the_fields_and_a_missing_file_is_named() {
        let files = BTreeMap::from([
            ("password".to_string(), SecretString::from("p")),
            ("username".to_string(), SecretString::from("u")),
        ]);
        let data = Method::Eso.decode(&files).unwrap();
        assert_eq!(data.get("username").unwrap().expose_secret(), "u");
        let err = Method::AgentSidecar.decode(&files).unwrap_err().to_string();
        assert!(err.contains("agent_sidecar has no file secret"), "{err}");
    }
}

#[cfg(test)]
pub(crate) mod tests_support {
    use super::*;
    use crate::{config::Flavor, vault::Endpoint};

    pub fn consumer() -> Consumer {
        Consumer {
            namespace: "ns1".into(),
            pod: "consumer-0".into(),
            secret_name: "s1".into(),
        }
    }

    /// Runs `check` with a target on the default config, KV at `kv_version`.
    pub fn target_with(kv_version: u8, check: impl FnOnce(&Target<'_>)) {
        let mut cfg = Config::default();
        cfg.kv.version = kv_version;
        let vault = ClusterVault {
            flavor: Flavor::OpenBao,
            endpoint: Endpoint {
                addr: "https://10.0.0.2:30820".into(),
                ca_cert: None,
            },
            kubernetes_auth_mount: "kubernetes".into(),
        };
        check(&Target {
            cfg: &cfg,
            vault: &vault,
            ca_pem: "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n",
        });
    }
}
