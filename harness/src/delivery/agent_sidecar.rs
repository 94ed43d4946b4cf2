//! The hand-written Vault Agent sidecar (the article's pattern, corrected): an app container and
//! an agent container sharing an emptyDir; the agent's config in a ConfigMap.

use crate::{Result, apply, config::Config, duration::Ttl, vault::in_cluster::ClusterVault};

const AGENT_HCL: &str = include_str!("../../../fixtures/delivery/agent-sidecar/agent.hcl");
const POD: &str = include_str!("../../../fixtures/delivery/agent-sidecar/pod.yaml");

/// Where the app container finds the rendered secret.
pub const SECRET_FILE: &str = "/vault/secrets/secret";
pub const APP_CONTAINER: &str = "app";
pub const POD_NAME: &str = "consumer";

/// The agent's config for `secret_name` under the KV mount, re-rendered every `interval`.
pub fn agent_hcl(cfg: &Config, vault: &ClusterVault, secret_name: &str, interval: Ttl) -> Result<String> {
    let (path, data) = match cfg.kv.version {
        1 => (format!("{}/{secret_name}", cfg.kv.mount), ".Data"),
        _ => (format!("{}/data/{secret_name}", cfg.kv.mount), ".Data.data"),
    };
    apply::render(
        AGENT_HCL,
        &[
            ("VAULT_ADDR", &vault.endpoint.addr),
            ("AUTH_MOUNT", &cfg.kubernetes_auth.mount),
            ("ROLE", &cfg.kubernetes_auth.role),
            ("SECRET_PATH", &path),
            ("DATA_PREFIX", data),
            ("RENDER_INTERVAL", &interval.to_string()),
        ],
    )
}

/// Every object of the consumer pod in `namespace`.
pub fn manifests(
    cfg: &Config,
    vault: &ClusterVault,
    ca_pem: &str,
    namespace: &str,
    secret_name: &str,
    interval: Ttl,
) -> Result<String> {
    let indent = |text: &str| text.lines().map(|l| format!("    {l}")).collect::<Vec<_>>().join("\n");
    let image = crate::vault::in_cluster::image(cfg.vault.flavor)?;
    apply::render(
        POD,
        &[
            ("NAMESPACE", namespace),
            ("AGENT_HCL", &indent(&agent_hcl(cfg, vault, secret_name, interval)?)),
            ("CA_PEM", &indent(ca_pem)),
            ("APP_IMAGE", "harness.local/debian-minbase:bookworm"),
            ("AGENT_IMAGE", &image),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{config::Flavor, vault::Endpoint};

    fn vault() -> ClusterVault {
        ClusterVault {
            flavor: Flavor::OpenBao,
            endpoint: Endpoint {
                addr: "https://10.0.0.2:30820".into(),
                ca_cert: None,
            },
            kubernetes_auth_mount: "kubernetes".into(),
        }
    }

    #[test]
    fn the_agent_renders_the_kv_v1_secret_with_kubernetes_auto_auth() {
        let hcl = agent_hcl(&Config::default(), &vault(), "app-db", Ttl::from_secs(10)).unwrap();
        assert!(hcl.contains("address = \"https://10.0.0.2:30820\""), "{hcl}");
        assert!(
            hcl.contains("mount_path = \"auth/kubernetes\"") && hcl.contains("role = \"vault-test\""),
            "{hcl}"
        );
        assert!(
            hcl.contains("with secret \"secret/app-db\"") && hcl.contains("range $k, $v := .Data }}"),
            "{hcl}"
        );
        assert!(hcl.contains("static_secret_render_interval = \"10s\""), "{hcl}");
    }

    #[test]
    fn kv_v2_reads_through_the_data_path() {
        let mut cfg = Config::default();
        cfg.kv.version = 2;
        let hcl = agent_hcl(&cfg, &vault(), "app-db", Ttl::from_secs(10)).unwrap();
        assert!(
            hcl.contains("secret/data/app-db") && hcl.contains(".Data.data }}"),
            "{hcl}"
        );
    }

    #[test]
    fn the_pod_manifest_parses_with_both_containers() {
        let text = manifests(
            &Config::default(),
            &vault(),
            "-----BEGIN CERTIFICATE-----\nx\n",
            "ns1",
            "s",
            Ttl::from_secs(10),
        )
        .unwrap();
        let objects = apply::parse(&text).unwrap();
        let kinds: Vec<_> = objects
            .iter()
            .map(|o| o.types.as_ref().unwrap().kind.as_str())
            .collect();
        assert_eq!(kinds, ["ConfigMap", "ConfigMap", "Pod"]);
        let pod = &objects[2].data["spec"]["containers"];
        assert_eq!(pod[0]["name"], "app");
        assert_eq!(pod[1]["name"], "vault-agent");
    }
}
