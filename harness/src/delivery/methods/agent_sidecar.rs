//! The hand-written Vault Agent sidecar (the article's pattern, corrected): an app container and
//! an agent container sharing an emptyDir; the agent's config in a ConfigMap.

use crate::{
    Result, apply,
    delivery::{Consumer, DeliveryMethod, Files, Profile, Target, app_container, file, indent, parse_json_fields},
    duration::Ttl,
    secret::{ExposeSecret, SecretData},
};

const AGENT_HCL: &str = include_str!("../../../../fixtures/delivery/agent_sidecar/agent.hcl");
const POD: &str = include_str!("../../../../fixtures/delivery/agent_sidecar/pod.yaml");

/// The file the agent renders, in the shared volume.
const SECRET_FILE: &str = "secret";

pub struct AgentSidecar;

impl DeliveryMethod for AgentSidecar {
    fn name(&self) -> &'static str {
        "agent_sidecar"
    }

    fn title(&self) -> &'static str {
        "hand-written Vault Agent sidecar"
    }

    fn manifests(&self, target: &Target<'_>, consumer: &Consumer, profile: Profile) -> Result<String> {
        manifests(target, consumer, profile)
    }

    fn decode(&self, files: &Files) -> Result<SecretData> {
        parse_json_fields(file(self, files, SECRET_FILE)?.expose_secret())
    }

    fn expected_containers(&self) -> &'static [&'static str] {
        &["vault-agent"]
    }
}

/// The agent's config for `secret_name` under the KV mount. The tuned profile sets the render
/// interval; the defaults profile leaves `template_config` out, so the agent runs with its own
/// default, which the defaults run measures.
fn agent_hcl(target: &Target<'_>, secret_name: &str, profile: Profile) -> Result<String> {
    let data = match target.cfg.kv.version {
        1 => ".Data",
        _ => ".Data.data",
    };
    let template_config = match profile.interval() {
        Some(interval) => format!(
            "template_config {{\n  static_secret_render_interval = \"{}\"\n}}\n",
            Ttl::from_secs(interval.as_secs())
        ),
        None => String::new(),
    };
    apply::render(
        AGENT_HCL,
        &[
            ("VAULT_ADDR", &target.vault.endpoint.addr),
            ("AUTH_MOUNT", &target.cfg.kubernetes_auth.mount),
            ("ROLE", &target.cfg.kubernetes_auth.role),
            ("SECRET_PATH", &target.secret_path(secret_name)),
            ("DATA_PREFIX", data),
            ("TEMPLATE_CONFIG", &template_config),
        ],
    )
}

/// Every object of one consumer pod.
fn manifests(target: &Target<'_>, consumer: &Consumer, profile: Profile) -> Result<String> {
    let image = crate::vault::in_cluster::image(target.cfg.vault.flavor)?;
    apply::render(
        POD,
        &[
            ("NAMESPACE", &consumer.namespace),
            ("POD", &consumer.pod),
            (
                "AGENT_HCL",
                &indent(&agent_hcl(target, &consumer.secret_name, profile)?, 4),
            ),
            ("CA_PEM", &indent(target.ca_pem, 4)),
            (
                "APP_CONTAINER",
                &app_container("[{name: secrets, mountPath: /vault/secrets, readOnly: true}]")?,
            ),
            ("AGENT_IMAGE", &image),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::tests_support::{consumer, target_with};
    use crate::secret::SecretString;

    #[test]
    fn the_agent_renders_the_kv_v1_secret_with_kubernetes_auto_auth() {
        target_with(1, |target| {
            let hcl = agent_hcl(target, "app-db", Profile::Tuned).unwrap();
            assert!(hcl.contains("address = \"https://10.0.0.2:30820\""), "{hcl}");
            assert!(
                hcl.contains("mount_path = \"auth/kubernetes\"") && hcl.contains("role = \"vault-test\""),
                "{hcl}"
            );
            assert!(
                hcl.contains("with secret \"secret/app-db\"") && hcl.contains("{{ .Data | toJSON }}"),
                "{hcl}"
            );
            assert!(hcl.contains("static_secret_render_interval = \"10s\""), "{hcl}");
        });
    }

    #[test]
    fn kv_v2_reads_through_the_data_path_and_defaults_leave_the_render_interval_to_the_agent() {
        target_with(2, |target| {
            let hcl = agent_hcl(target, "app-db", Profile::Defaults).unwrap();
            assert!(
                hcl.contains("secret/data/app-db") && hcl.contains("{{ .Data.data | toJSON }}"),
                "{hcl}"
            );
            assert!(!hcl.contains("template_config"), "{hcl}");
        });
    }

    #[test]
    fn the_pod_manifest_parses_with_both_containers() {
        target_with(2, |target| {
            let text = manifests(target, &consumer(), Profile::Tuned).unwrap();
            let objects = apply::parse(&text).unwrap();
            let kinds: Vec<_> = objects
                .iter()
                .map(|o| o.types.as_ref().unwrap().kind.as_str())
                .collect();
            assert_eq!(kinds, ["ConfigMap", "ConfigMap", "Pod"]);
            let containers = &objects[2].data["spec"]["containers"];
            assert_eq!(containers[0]["name"], "app");
            assert_eq!(containers[0]["volumeMounts"][0]["name"], "secrets");
            assert_eq!(containers[1]["name"], "vault-agent");
        });
    }

    #[test]
    fn the_rendered_file_becomes_the_fields_and_a_missing_one_is_named() {
        let files = Files::from([(
            SECRET_FILE.to_string(),
            SecretString::from("{\"password\":\"p\",\"username\":\"u\"}"),
        )]);
        let data = AgentSidecar.decode(&files).unwrap();
        assert_eq!(data.get("username").unwrap().expose_secret(), "u");
        let err = AgentSidecar.decode(&Files::new()).unwrap_err().to_string();
        assert!(err.contains("agent_sidecar has no file secret"), "{err}");
    }
}
