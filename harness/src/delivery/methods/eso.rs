//! External Secrets Operator: its controller and CRDs once per app cluster; per consumer a
//! SecretStore, an ExternalSecret and a pod mounting the Secret it produces.

use std::time::Duration;

use futures::future::BoxFuture;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use kube::api::ApiResource;

use crate::{
    Error, Result, apply,
    delivery::{Components, Consumer, DeliveryMethod, Files, Profile, Target, app_container},
    fixtures, paths,
    secret::SecretData,
};

const INSTALL: &str = include_str!("../../../../fixtures/delivery/eso/install.yaml");
const POD: &str = include_str!("../../../../fixtures/delivery/eso/pod.yaml");

const NAMESPACE: &str = "external-secrets";
const READY_TIMEOUT: Duration = Duration::from_secs(180);

pub struct Eso;

impl DeliveryMethod for Eso {
    fn name(&self) -> &'static str {
        "eso"
    }

    fn title(&self) -> &'static str {
        "External Secrets Operator, through a Kubernetes Secret mounted as a volume"
    }

    fn versions(&self, _target: &Target<'_>) -> Vec<(&'static str, &'static str)> {
        vec![("external-secrets", fixtures::version("ESO_VERSION"))]
    }

    fn images(&self) -> Vec<String> {
        vec![image()]
    }

    fn components(&self) -> Option<Components> {
        Some(Components {
            namespace: NAMESPACE,
            selector: "app.kubernetes.io/name=external-secrets",
        })
    }

    fn cluster_scoped_kinds(&self) -> Vec<ApiResource> {
        vec![
            ApiResource::erase::<ClusterRoleBinding>(&()),
            ApiResource::erase::<ClusterRole>(&()),
        ]
    }

    fn install<'a>(&'a self, client: &'a kube::Client, _target: &'a Target<'_>) -> BoxFuture<'a, Result<()>> {
        Box::pin(install(client))
    }

    fn manifests(&self, target: &Target<'_>, consumer: &Consumer, profile: Profile) -> Result<String> {
        manifests(target, consumer, profile)
    }

    /// The Secret volume holds one file per field.
    fn decode(&self, files: &Files) -> Result<SecretData> {
        Ok(crate::delivery::files_as_fields(files))
    }
}

fn image() -> String {
    format!("harness.local/external-secrets:{}", fixtures::version("ESO_VERSION"))
}

/// ESO's CRD bundle, copied from the pinned module by `scripts/images/eso.sh`.
fn crd_bundle() -> Result<String> {
    let file = paths::cache_dir()
        .join("images")
        .join(format!("external-secrets-{}", fixtures::version("ESO_VERSION")))
        .join("crds.yaml");
    std::fs::read_to_string(&file).map_err(|e| {
        Error::State(format!(
            "cannot read ESO's CRDs at {} ({e}); run `harness images build`",
            file.display()
        ))
    })
}

fn install_manifests() -> Result<String> {
    apply::render(INSTALL, &[("IMAGE", &image())])
}

/// Applies the CRDs, waits until they are served, then deploys the controller and waits for it.
async fn install(client: &kube::Client) -> Result<()> {
    crate::step!("install External Secrets Operator in namespace {NAMESPACE}");
    let bundle = crd_bundle()?;
    apply::apply(client, &bundle).await?;
    for crd in apply::parse(&bundle)? {
        let name = crd.metadata.name.unwrap_or_default();
        crate::pods::wait_crd_established(client, &name, READY_TIMEOUT).await?;
    }
    apply::apply(client, &install_manifests()?).await?;
    crate::pods::wait_deployment_ready(client, NAMESPACE, "external-secrets", READY_TIMEOUT).await
}

fn manifests(target: &Target<'_>, consumer: &Consumer, profile: Profile) -> Result<String> {
    // Without refreshInterval ESO's CRD default applies (1h0m0s).
    let spec = match profile.interval() {
        Some(interval) => format!("  refreshInterval: {}s", interval.as_secs()),
        None => String::new(),
    };
    apply::render(
        POD,
        &[
            ("NAMESPACE", &consumer.namespace),
            ("POD", &consumer.pod),
            ("VAULT_ADDR", &target.vault.endpoint.addr),
            ("KV_MOUNT", &target.cfg.kv.mount),
            ("CA_PEM_BASE64", &target.ca_pem_base64()),
            ("AUTH_MOUNT", &target.cfg.kubernetes_auth.mount),
            ("ROLE", &target.cfg.kubernetes_auth.role),
            ("SECRET_NAME", &consumer.secret_name),
            ("PROFILE_SPEC", &spec),
            (
                "APP_CONTAINER",
                &app_container("[{name: secrets, mountPath: /vault/secrets, readOnly: true}]")?,
            ),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        delivery::tests_support::{consumer, target_with},
        secret::{ExposeSecret, SecretString},
    };

    #[test]
    fn store_secret_and_pod_fit_together() {
        target_with(2, |target| {
            let objects = apply::parse(&manifests(target, &consumer(), Profile::Tuned).unwrap()).unwrap();
            let kinds: Vec<_> = objects
                .iter()
                .map(|o| o.types.as_ref().unwrap().kind.as_str())
                .collect();
            assert_eq!(kinds, ["SecretStore", "ExternalSecret", "Pod"]);
            let vault = &objects[0].data["spec"]["provider"]["vault"];
            assert_eq!(vault["path"], "secret");
            assert_eq!(vault["version"], "v2");
            assert_eq!(vault["auth"]["kubernetes"]["role"], "vault-test");
            assert_eq!(vault["auth"]["kubernetes"]["serviceAccountRef"]["name"], "default");
            let es = &objects[1].data["spec"];
            assert_eq!(es["refreshInterval"], "10s");
            assert_eq!(es["dataFrom"][0]["extract"]["key"], "s1");
            assert_eq!(es["target"]["name"], "consumer-0");
            assert_eq!(
                objects[2].data["spec"]["volumes"][0]["secret"]["secretName"],
                "consumer-0"
            );
        });
    }

    #[test]
    fn defaults_leave_the_refresh_interval_to_eso() {
        target_with(2, |target| {
            let objects = apply::parse(&manifests(target, &consumer(), Profile::Defaults).unwrap()).unwrap();
            assert!(objects[1].data["spec"].get("refreshInterval").is_none());
        });
    }

    #[test]
    fn every_file_of_the_secret_volume_is_a_field() {
        let files = Files::from([
            ("password".to_string(), SecretString::from("p")),
            ("username".to_string(), SecretString::from("u")),
        ]);
        let data = Eso.decode(&files).unwrap();
        assert_eq!(data.keys().collect::<Vec<_>>(), ["password", "username"]);
        assert_eq!(data.get("username").unwrap().expose_secret(), "u");
    }
}
