//! External Secrets Operator: its controller and CRDs once per app cluster; per consumer a
//! SecretStore, an ExternalSecret and a pod mounting the Secret it produces.

use std::time::Duration;

use futures::future::BoxFuture;
use k8s_openapi::{
    api::rbac::v1::{ClusterRole, ClusterRoleBinding},
    apiextensions_apiserver::pkg::apis::apiextensions::v1::{CustomResourceDefinition, JSONSchemaProps},
};
use kube::api::ApiResource;

use crate::{
    Error, Result, apply,
    delivery::{Components, Consumer, DeliveryMethod, Files, Profile, Target, app_container},
    duration::Ttl,
    fixtures, paths,
    secret::SecretData,
};

const INSTALL: &str = include_str!("../../../../fixtures/delivery/eso/install.yaml");
const POD: &str = include_str!("../../../../fixtures/delivery/eso/pod.yaml");

const NAMESPACE: &str = "external-secrets";
const EXTERNAL_SECRET_CRD: &str = "externalsecrets.external-secrets.io";
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

    fn default_refresh_period<'a>(&'a self, client: &'a kube::Client) -> BoxFuture<'a, Result<Option<(f64, String)>>> {
        Box::pin(default_refresh_period(client))
    }

    fn installed_objects(&self, _target: &Target<'_>, _profile: Profile) -> Result<String> {
        Ok(format!("{}\n---\n{}", crd_bundle()?, install_manifests()?))
    }

    fn source_modules(&self) -> Vec<crate::delivery::provenance::SourceModule> {
        vec![crate::delivery::provenance::SourceModule {
            path: "github.com/external-secrets/external-secrets",
            version: fixtures::version("ESO_VERSION"),
        }]
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

/// The refresh interval an ExternalSecret gets when it sets none: the live CRD's default for the
/// version the consumer fixture is written in.
async fn default_refresh_period(client: &kube::Client) -> Result<Option<(f64, String)>> {
    let crd = kube::Api::<CustomResourceDefinition>::all(client.clone())
        .get(EXTERNAL_SECRET_CRD)
        .await
        .map_err(|e| Error::State(format!("reading CRD {EXTERNAL_SECRET_CRD}: {e}")))?;
    refresh_interval_default(&crd, fixture_version()?)
}

/// The ExternalSecret version of `fixtures/delivery/eso/pod.yaml` (its `external-secrets.io/<version>`).
fn fixture_version() -> Result<&'static str> {
    POD.split("\n---")
        .find(|document| document.lines().any(|l| l.trim() == "kind: ExternalSecret"))
        .and_then(|document| {
            document
                .lines()
                .find_map(|l| l.trim().strip_prefix("apiVersion: external-secrets.io/"))
        })
        .ok_or_else(|| Error::State("fixtures/delivery/eso/pod.yaml has no external-secrets.io ExternalSecret".into()))
}

/// `spec.refreshInterval`'s default in `version` of the CRD, in seconds, and where it was read.
fn refresh_interval_default(crd: &CustomResourceDefinition, version: &str) -> Result<Option<(f64, String)>> {
    let served = crd
        .spec
        .versions
        .iter()
        .find(|v| v.name == version && v.served)
        .ok_or_else(|| {
            Error::State(format!(
                "CRD {EXTERNAL_SECRET_CRD} does not serve {version}, the fixtures' version"
            ))
        })?;
    let default = served
        .schema
        .as_ref()
        .and_then(|s| s.open_api_v3_schema.as_ref())
        .and_then(|root| property(root, "spec"))
        .and_then(|spec| property(spec, "refreshInterval"))
        .and_then(|field| field.default.as_ref());
    let Some(default) = default else {
        return Ok(None);
    };
    let field = format!("CRD {EXTERNAL_SECRET_CRD} {version} spec.refreshInterval default");
    let text = default
        .0
        .as_str()
        .ok_or_else(|| Error::State(format!("{field} {} is not a duration", default.0)))?;
    let period: Ttl = text.parse().map_err(|e| Error::State(format!("{field}: {e}")))?;
    Ok(Some((period.as_secs() as f64, format!("{field} {text:?}"))))
}

fn property<'s>(schema: &'s JSONSchemaProps, name: &str) -> Option<&'s JSONSchemaProps> {
    schema.properties.as_ref()?.get(name)
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

    fn crd(refresh_interval: serde_json::Value) -> CustomResourceDefinition {
        let schema = |refresh_interval: serde_json::Value| {
            serde_json::json!({ "openAPIV3Schema": { "type": "object", "properties": { "spec": {
                "type": "object",
                "properties": { "refreshInterval": refresh_interval },
            } } } })
        };
        serde_json::from_value(serde_json::json!({
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": { "name": EXTERNAL_SECRET_CRD },
            "spec": {
                "group": "external-secrets.io",
                "names": { "kind": "ExternalSecret", "plural": "externalsecrets" },
                "scope": "Namespaced",
                "versions": [
                    { "name": "v1beta1", "served": true, "storage": false,
                      "schema": schema(serde_json::json!({ "type": "string", "default": "5m" })) },
                    { "name": "v1", "served": true, "storage": true, "schema": schema(refresh_interval) },
                ],
            },
        }))
        .unwrap()
    }

    #[test]
    fn the_default_refresh_period_is_read_from_the_fixtures_version_of_the_crd() {
        assert_eq!(fixture_version().unwrap(), "v1");
        let read = refresh_interval_default(&crd(serde_json::json!({ "type": "string", "default": "1h" })), "v1");
        assert_eq!(
            read.unwrap(),
            Some((
                3600.0,
                r#"CRD externalsecrets.external-secrets.io v1 spec.refreshInterval default "1h""#.to_string()
            ))
        );
        let go_style = refresh_interval_default(&crd(serde_json::json!({ "default": "1h0m0s" })), "v1");
        assert_eq!(go_style.unwrap().unwrap().0, 3600.0);
    }

    #[test]
    fn no_default_records_nothing_and_a_version_not_served_is_an_error() {
        let without = crd(serde_json::json!({ "type": "string" }));
        assert_eq!(refresh_interval_default(&without, "v1").unwrap(), None);
        let err = refresh_interval_default(&without, "v2").unwrap_err().to_string();
        assert!(err.contains("does not serve v2"), "{err}");
        let odd = refresh_interval_default(&crd(serde_json::json!({ "default": "soon" })), "v1");
        let err = odd.unwrap_err().to_string();
        assert!(
            err.contains("spec.refreshInterval default: `soon` is not a duration"),
            "{err}"
        );
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
