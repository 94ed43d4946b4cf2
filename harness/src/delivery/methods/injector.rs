//! The Vault Agent Injector (vault-k8s): installed once in the app cluster; consumer pods carry
//! only the article's annotations and get the agent containers from its webhook.

use std::time::Duration;

use futures::future::BoxFuture;
use k8s_openapi::api::{
    admissionregistration::v1::MutatingWebhookConfiguration,
    rbac::v1::{ClusterRole, ClusterRoleBinding},
};
use kube::api::ApiResource;

use crate::{
    Error, Result, apply,
    delivery::{Components, Consumer, DeliveryMethod, Files, Profile, Target, app_container, file, parse_json_fields},
    fixtures,
    secret::{ExposeSecret, SecretData, SecretString},
};

const INSTALL: &str = include_str!("../../../../fixtures/delivery/injector/install.yaml");
const POD: &str = include_str!("../../../../fixtures/delivery/injector/pod.yaml");

const NAMESPACE: &str = "vault-injector";
/// The file `agent-inject-secret-mysecret` renders to.
const SECRET_FILE: &str = "mysecret";
const READY_TIMEOUT: Duration = Duration::from_secs(120);

pub struct Injector;

impl DeliveryMethod for Injector {
    fn name(&self) -> &'static str {
        "injector"
    }

    fn title(&self) -> &'static str {
        "Vault Agent Injector (vault-k8s)"
    }

    fn versions(&self, _target: &Target<'_>) -> Vec<(&'static str, &'static str)> {
        vec![("vault-k8s", fixtures::version("VAULT_K8S_VERSION"))]
    }

    fn images(&self) -> Vec<String> {
        vec![image()]
    }

    fn components(&self) -> Option<Components> {
        Some(Components {
            namespace: NAMESPACE,
            selector: "app.kubernetes.io/name=vault-injector",
        })
    }

    fn cluster_scoped_kinds(&self) -> Vec<ApiResource> {
        vec![
            ApiResource::erase::<MutatingWebhookConfiguration>(&()),
            ApiResource::erase::<ClusterRoleBinding>(&()),
            ApiResource::erase::<ClusterRole>(&()),
        ]
    }

    fn install<'a>(&'a self, client: &'a kube::Client, target: &'a Target<'_>) -> BoxFuture<'a, Result<()>> {
        Box::pin(install(client, target))
    }

    fn installed_objects(&self, target: &Target<'_>, _profile: Profile) -> Result<String> {
        install_manifests(target)
    }

    fn source_modules(&self) -> Vec<crate::delivery::provenance::SourceModule> {
        vec![crate::delivery::provenance::SourceModule {
            path: "github.com/hashicorp/vault-k8s",
            version: fixtures::version("VAULT_K8S_VERSION"),
        }]
    }

    fn manifests(&self, target: &Target<'_>, consumer: &Consumer, profile: Profile) -> Result<String> {
        let template = match default_template_carries(&target.cfg.kv.data) {
            true => Template::Default,
            false => Template::Json,
        };
        manifests(target, consumer, profile, template)
    }

    fn default_format_manifests(
        &self,
        target: &Target<'_>,
        consumer: &Consumer,
        profile: Profile,
    ) -> Result<Option<String>> {
        match default_template_carries(&target.cfg.kv.data) {
            true => Ok(None),
            false => manifests(target, consumer, profile, Template::Default).map(Some),
        }
    }

    fn decode(&self, files: &Files) -> Result<SecretData> {
        let text = file(self, files, SECRET_FILE)?.expose_secret();
        match text.trim_start().starts_with('{') {
            true => parse_json_fields(text),
            false => parse_default_template(text),
        }
    }

    fn expected_containers(&self) -> &'static [&'static str] {
        &["vault-agent-init", "vault-agent"]
    }
}

fn image() -> String {
    format!("harness.local/vault-k8s:{}", fixtures::version("VAULT_K8S_VERSION"))
}

fn install_manifests(target: &Target<'_>) -> Result<String> {
    let image = image();
    let agent_image = crate::vault::in_cluster::image(target.cfg.vault.flavor)?;
    apply::render(
        INSTALL,
        &[
            ("IMAGE", &image),
            ("AGENT_IMAGE", &agent_image),
            ("VAULT_ADDR", &target.vault.endpoint.addr),
            ("CA_PEM_BASE64", &target.ca_pem_base64()),
            ("AUTH_MOUNT", &target.cfg.kubernetes_auth.mount),
        ],
    )
}

/// Deploys the injector and waits until its webhook has a CA bundle and the injector is ready:
/// before that, `failurePolicy: Ignore` would admit consumer pods without agents.
async fn install(client: &kube::Client, target: &Target<'_>) -> Result<()> {
    crate::step!("install the Vault Agent Injector in namespace {NAMESPACE}");
    apply::apply(client, &install_manifests(target)?).await?;
    crate::pods::wait_deployment_ready(client, NAMESPACE, "vault-injector", READY_TIMEOUT).await?;
    wait_ca_bundle(client).await?;
    wait_injecting(client, target).await
}

/// Waits until the API server really calls the webhook and gets agents back: a ready injector
/// with its CA bundle written can still be unreachable for a few seconds (Service endpoints,
/// kube-proxy rules), and `failurePolicy: Ignore` admits pods without agents meanwhile (seen).
/// Checked with server-side dry-run creations of an annotated pod, which run the webhook and
/// store nothing.
async fn wait_injecting(client: &kube::Client, target: &Target<'_>) -> Result<()> {
    use k8s_openapi::api::core::v1::Pod;
    let canary: Pod = serde_json::from_value(serde_json::json!({
        "metadata": {
            "name": "injection-canary",
            "annotations": {
                "vault.hashicorp.com/agent-inject": "true",
                "vault.hashicorp.com/role": target.cfg.kubernetes_auth.role,
                "vault.hashicorp.com/agent-inject-secret-canary": target.secret_path("canary"),
            }
        },
        "spec": { "containers": [{ "name": "app", "image": crate::delivery::APP_IMAGE }] }
    }))
    .map_err(|e| Error::State(format!("canary pod manifest: {e}")))?;
    let pods: kube::Api<Pod> = kube::Api::namespaced(client.clone(), NAMESPACE);
    let params = kube::api::PostParams {
        dry_run: true,
        ..Default::default()
    };
    crate::wait::until(
        "the injector's webhook to add agents to a (dry-run) pod",
        READY_TIMEOUT,
        Duration::from_millis(500),
        || async {
            let admitted = pods
                .create(&params, &canary)
                .await
                .map_err(|e| Error::State(format!("dry-run of the injection canary: {e}")))?;
            let injected = admitted
                .spec
                .and_then(|s| s.init_containers)
                .unwrap_or_default()
                .iter()
                .any(|c| c.name == "vault-agent-init");
            Ok(injected.then_some(()))
        },
    )
    .await
}

async fn wait_ca_bundle(client: &kube::Client) -> Result<()> {
    use k8s_openapi::api::admissionregistration::v1::MutatingWebhookConfiguration;
    let api: kube::Api<MutatingWebhookConfiguration> = kube::Api::all(client.clone());
    crate::wait::until(
        "the injector to write its CA bundle into webhook harness-vault-agent-injector",
        READY_TIMEOUT,
        Duration::from_millis(500),
        || async {
            let webhook = api
                .get("harness-vault-agent-injector")
                .await
                .map_err(|e| Error::State(format!("reading the injector webhook: {e}")))?;
            let has_bundle = webhook
                .webhooks
                .unwrap_or_default()
                .iter()
                .all(|w| w.client_config.ca_bundle.as_ref().is_some_and(|b| !b.0.is_empty()));
            Ok(has_bundle.then_some(()))
        },
    )
    .await
}

/// The file's template: the injector's default (`map[…]`), or JSON through the template
/// annotation.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Template {
    Default,
    Json,
}

fn manifests(target: &Target<'_>, consumer: &Consumer, profile: Profile, template: Template) -> Result<String> {
    let mut annotations = Vec::new();
    if let Some(interval) = profile.interval() {
        annotations.push(format!(
            "    vault.hashicorp.com/template-static-secret-render-interval: \"{}s\"",
            interval.as_secs()
        ));
    }
    if template == Template::Json {
        let data = match target.cfg.kv.version {
            1 => ".Data",
            _ => ".Data.data",
        };
        let path = target.secret_path(&consumer.secret_name);
        annotations.push(format!(
            "    vault.hashicorp.com/agent-inject-template-{SECRET_FILE}: '{{{{ with secret \"{path}\" }}}}{{{{ {data} | toJSON }}}}{{{{ end }}}}'"
        ));
    }
    let annotations = annotations.join("\n");
    apply::render(
        POD,
        &[
            ("NAMESPACE", &consumer.namespace),
            ("POD", &consumer.pod),
            ("ROLE", &target.cfg.kubernetes_auth.role),
            ("SECRET_PATH", &target.secret_path(&consumer.secret_name)),
            ("AUTH_MOUNT", &target.cfg.kubernetes_auth.mount),
            ("PROFILE_ANNOTATIONS", &annotations),
            ("APP_CONTAINER", &app_container("[]")?),
        ],
    )
}

/// Whether the default template's `map[k:v …]` output can be read back: a key or value with a
/// space, colon, bracket or line break cannot be told apart there. For such values the consumer
/// asks for the documented alternative, a template annotation rendering JSON (said once per run).
fn default_template_carries(data: &SecretData) -> bool {
    let plain = |text: &str| !text.contains([' ', ':', '[', ']', '\n', '\r', '\t']);
    let carries = data
        .iter()
        .all(|(key, value)| plain(key) && plain(value.expose_secret()));
    if !carries {
        static SAID: std::sync::Once = std::sync::Once::new();
        SAID.call_once(|| {
            crate::step!(
                "injector: the secret's values cannot be read back from the default template's map[…] output (a space, colon, bracket or line break); consumers carry agent-inject-template-{SECRET_FILE} rendering JSON"
            )
        });
    }
    carries
}

/// The injector's default template (`map`) prints each top-level field of the secret as Go prints
/// a value: for KV v2 `data: map[password:p username:u]` (plus `metadata: map[...]`), for KV v1
/// `password: p`. Values containing spaces cannot be told apart in that format
/// ([`default_template_carries`]).
fn parse_default_template(text: &str) -> Result<SecretData> {
    let malformed = || Error::State("the injector's rendered file is not in its default template's format".into());
    if let Some(line) = text.lines().find(|l| l.starts_with("data: map[")) {
        let inner = line
            .strip_prefix("data: map[")
            .and_then(|rest| rest.strip_suffix(']'))
            .ok_or_else(malformed)?;
        let fields = inner.split(' ').filter(|f| !f.is_empty()).map(|field| {
            field
                .split_once(':')
                .map(|(k, v)| (k.to_string(), SecretString::from(v)))
                .ok_or_else(malformed)
        });
        return Ok(SecretData::new(fields.collect::<Result<Vec<_>>>()?));
    }
    let fields = text.lines().filter(|l| !l.is_empty()).map(|l| {
        l.split_once(": ")
            .map(|(k, v)| (k.to_string(), SecretString::from(v)))
            .ok_or_else(malformed)
    });
    Ok(SecretData::new(fields.collect::<Result<Vec<_>>>()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::tests_support::{consumer, target_on, target_with};

    #[test]
    fn kv_v2_default_template_output_is_parsed_and_metadata_ignored() {
        let text = "data: map[password:p4ss username:admin]\nmetadata: map[created_time:2026-11-28T21:00:00Z custom_metadata:<nil> deletion_time: destroyed:false version:3]\n";
        let data = parse_default_template(text).unwrap();
        assert_eq!(data.keys().collect::<Vec<_>>(), ["password", "username"]);
        assert_eq!(data.get("password").unwrap().expose_secret(), "p4ss");
    }

    #[test]
    fn values_the_default_template_cannot_carry_get_a_json_template_annotation() {
        let plain = SecretData::new([("password".to_string(), SecretString::from("p4ss"))]);
        assert!(default_template_carries(&plain));
        for awkward in ["two words", "a:b", "x]y", "line\nbreak"] {
            let data = SecretData::new([("note".to_string(), SecretString::from(awkward))]);
            assert!(!default_template_carries(&data), "{awkward:?}");
        }
        let data = SecretData::new([
            ("user".to_string(), SecretString::from("admin")),
            ("note".to_string(), SecretString::from("two words")),
        ]);
        let mut cfg = crate::config::Config::default();
        cfg.kv.data = data;
        let mut rendered = String::new();
        let mut default_format = None;
        target_on(&cfg, |target| {
            rendered = Injector.manifests(target, &consumer(), Profile::Tuned).unwrap();
            default_format = Injector
                .default_format_manifests(target, &consumer(), Profile::Tuned)
                .unwrap();
        });
        let manifests = rendered;
        let default_format = default_format.expect("a default-format consumer for these values");
        assert!(!default_format.contains("agent-inject-template"), "{default_format}");
        assert!(
            manifests.contains("vault.hashicorp.com/agent-inject-template-mysecret: '{{ with secret \"secret/s1\" }}"),
            "{manifests}"
        );
        assert!(
            manifests.contains("{{ .Data | toJSON }}{{ end }}'"),
            "KV v1 by default: {manifests}"
        );
        let files = Files::from([(
            "mysecret".to_string(),
            SecretString::from("{\"note\":\"two words\",\"user\":\"admin\"}"),
        )]);
        let decoded = Injector.decode(&files).unwrap();
        assert_eq!(decoded.get("note").unwrap().expose_secret(), "two words");
    }

    #[test]
    fn kv_v1_default_template_output_is_parsed() {
        let data = parse_default_template("password: p\nusername: u\n").unwrap();
        assert_eq!(data.get("username").unwrap().expose_secret(), "u");
        assert!(parse_default_template("garbage").is_err());
    }

    #[test]
    fn the_consumer_carries_the_articles_annotations_and_no_agent_container() {
        target_with(2, |target| {
            let text = Injector.manifests(target, &consumer(), Profile::Tuned).unwrap();
            assert_eq!(
                Injector
                    .default_format_manifests(target, &consumer(), Profile::Tuned)
                    .unwrap(),
                None,
                "the consumers use the default format"
            );
            let pod = &apply::parse(&text).unwrap()[0];
            let annotations = &pod.metadata.annotations.as_ref().unwrap();
            assert_eq!(annotations["vault.hashicorp.com/agent-inject"], "true");
            assert_eq!(annotations["vault.hashicorp.com/role"], "vault-test");
            assert_eq!(
                annotations["vault.hashicorp.com/agent-inject-secret-mysecret"],
                "secret/data/s1"
            );
            assert_eq!(
                annotations["vault.hashicorp.com/template-static-secret-render-interval"],
                "10s"
            );
            assert_eq!(pod.data["spec"]["containers"].as_array().unwrap().len(), 1);

            let text = Injector.manifests(target, &consumer(), Profile::Defaults).unwrap();
            let pod = &apply::parse(&text).unwrap()[0];
            let annotations = pod.metadata.annotations.as_ref().unwrap();
            assert!(!annotations.contains_key("vault.hashicorp.com/template-static-secret-render-interval"));
        });
    }

    #[test]
    fn the_install_points_at_the_vault_with_its_ca() {
        target_with(2, |target| {
            let objects = apply::parse(&install_manifests(target).unwrap()).unwrap();
            let deployment = objects
                .iter()
                .find(|o| o.types.as_ref().unwrap().kind == "Deployment")
                .unwrap();
            let env = deployment.data["spec"]["template"]["spec"]["containers"][0]["env"]
                .as_array()
                .unwrap();
            let value = |name: &str| env.iter().find(|e| e["name"] == name).unwrap()["value"].clone();
            assert_eq!(value("AGENT_INJECT_VAULT_ADDR"), "https://10.0.0.2:30820");
            assert_eq!(value("AGENT_INJECT_VAULT_AUTH_PATH"), "auth/kubernetes");
            assert_eq!(
                value("AGENT_INJECT_VAULT_CACERT_BYTES"),
                target.ca_pem_base64().as_str()
            );
        });
    }
}
