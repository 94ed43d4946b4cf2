//! The Secrets Store CSI driver with a Vault provider: the driver (built from its module) mounts a
//! tmpfs volume into each consumer pod and writes the files the provider fetched from Vault. The
//! provider is the harness's own, compatible with vault-csi-provider 1.7.x (the Go module proxy
//! here does not serve HashiCorp's), and so is the kubelet plugin registrar beside the driver.
//! Two driver instances run: no rotation flag (the driver's own defaults) for the defaults
//! profile, rotation on with a short poll for the tuned one.

use std::time::Duration;

use futures::future::BoxFuture;
use k8s_openapi::api::{
    rbac::v1::{ClusterRole, ClusterRoleBinding},
    storage::v1::{CSIDriver, CSINode},
};
use kube::api::ApiResource;

use crate::{
    Error, Result, apply,
    cluster::kind::ImageSource,
    delivery::{Components, Consumer, DeliveryMethod, Files, Profile, Target, app_container, indent},
    fixtures, paths,
    secret::SecretData,
};

const INSTALL: &str = include_str!("../../../../fixtures/delivery/csi/install.yaml");
const DRIVER: &str = include_str!("../../../../fixtures/delivery/csi/driver.yaml");
const POD: &str = include_str!("../../../../fixtures/delivery/csi/pod.yaml");

/// The tuned driver and the provider: the per-cluster components a real installation has.
const NAMESPACE: &str = "secrets-store-csi";
/// The driver with no rotation flag set.
const DEFAULTS_NAMESPACE: &str = "secrets-store-csi-defaults";
const READY_TIMEOUT: Duration = Duration::from_secs(180);
/// Files of the driver module's `deploy/` that `scripts/images/csi.sh` copies.
const DEPLOY_CRDS: [&str; 2] = [
    "secrets-store.csi.x-k8s.io_secretproviderclasses.yaml",
    "secrets-store.csi.x-k8s.io_secretproviderclasspodstatuses.yaml",
];
const DEPLOY_RBAC: &str = "rbac-secretproviderclass.yaml";
const DEPLOY_CSIDRIVER: &str = "csidriver.yaml";
const ROTATION_FLAG: &str = "--enable-secret-rotation";
const POLL_FLAG: &str = "--rotation-poll-interval";
/// The driver's container in its DaemonSets.
const DRIVER_CONTAINER: &str = "secrets-store";
/// What ran as the provider offline, for every report line that names it.
pub const PROVIDER: &str =
    "harness-vault-provider (the harness's own, vault-csi-provider 1.7.x-compatible; HashiCorp's is not served here)";

/// The images one installation runs: the harness's own offline, upstream's online.
struct Images {
    driver: String,
    registrar: String,
    /// The container command that picks the registrar in the driver image (offline only).
    registrar_command: &'static str,
    provider: String,
    pull_policy: &'static str,
}

fn images(source: ImageSource) -> Images {
    match source {
        ImageSource::Offline => Images {
            driver: driver_image(),
            registrar: driver_image(),
            registrar_command: r#"command: ["/bin/registrar"]"#,
            provider: provider_image(),
            pull_policy: "Never",
        },
        ImageSource::Online => Images {
            driver: fixtures::version("CSI_DRIVER_ONLINE_IMAGE").into(),
            registrar: fixtures::version("CSI_REGISTRAR_ONLINE_IMAGE").into(),
            registrar_command: "",
            provider: fixtures::version("CSI_PROVIDER_ONLINE_IMAGE").into(),
            pull_policy: "IfNotPresent",
        },
    }
}

/// One running instance of the driver.
struct Instance {
    namespace: &'static str,
    daemonset: &'static str,
    driver: &'static str,
    plugin_dir: &'static str,
    profile: Profile,
}

const INSTANCES: [Instance; 2] = [
    Instance {
        namespace: NAMESPACE,
        daemonset: "csi-secrets-store-tuned",
        driver: "tuned.secrets-store.csi.k8s.io",
        plugin_dir: "csi-secrets-store-tuned",
        profile: Profile::Tuned,
    },
    Instance {
        namespace: DEFAULTS_NAMESPACE,
        daemonset: "csi-secrets-store",
        driver: "secrets-store.csi.k8s.io",
        plugin_dir: "csi-secrets-store",
        profile: Profile::Defaults,
    },
];

fn instance(profile: Profile) -> &'static Instance {
    INSTANCES
        .iter()
        .find(|i| i.profile == profile)
        .expect("one driver per profile")
}

impl Instance {
    /// `--enable-secret-rotation` and `--rotation-poll-interval` as items of the driver's args
    /// when the profile sets an interval; nothing otherwise (the driver's own defaults).
    fn rotation_args(&self) -> String {
        match self.profile.interval() {
            Some(interval) => [
                format!("{ROTATION_FLAG}=true"),
                format!("{POLL_FLAG}={}s", interval.as_secs()),
            ]
            .map(|arg| format!("            - \"{arg}\""))
            .join("\n"),
            None => String::new(),
        }
    }
}

pub struct Csi;

impl DeliveryMethod for Csi {
    fn name(&self) -> &'static str {
        "csi"
    }

    fn title(&self) -> &'static str {
        "Secrets Store CSI driver with the harness's Vault provider (vault-csi-provider 1.7.x-compatible)"
    }

    fn versions(&self, target: &Target<'_>) -> Vec<(&'static str, &'static str)> {
        let provider = match target.images {
            ImageSource::Offline => PROVIDER,
            ImageSource::Online => fixtures::version("CSI_PROVIDER_ONLINE_IMAGE"),
        };
        vec![
            ("secrets-store-csi-driver", fixtures::version("CSI_DRIVER_VERSION")),
            ("csi-provider", provider),
        ]
    }

    fn images(&self) -> Vec<String> {
        vec![driver_image(), provider_image()]
    }

    fn components(&self) -> Option<Components> {
        Some(Components {
            namespace: NAMESPACE,
            selector: "app.kubernetes.io/part-of=secrets-store-csi",
        })
    }

    fn cluster_scoped_kinds(&self) -> Vec<ApiResource> {
        vec![
            ApiResource::erase::<CSIDriver>(&()),
            ApiResource::erase::<ClusterRoleBinding>(&()),
            ApiResource::erase::<ClusterRole>(&()),
        ]
    }

    fn install<'a>(&'a self, client: &'a kube::Client, target: &'a Target<'_>) -> BoxFuture<'a, Result<()>> {
        Box::pin(install(client, target))
    }

    /// 0 when rotation is off, as it is unless a flag turns it on.
    fn default_refresh_period<'a>(&'a self, client: &'a kube::Client) -> BoxFuture<'a, Result<Option<(f64, String)>>> {
        Box::pin(default_rotation(client))
    }

    fn installed_objects(&self, target: &Target<'_>, profile: Profile) -> Result<String> {
        installed_objects(target, profile)
    }

    fn own_components(&self) -> Vec<&'static str> {
        vec![PROVIDER]
    }

    fn source_modules(&self) -> Vec<crate::delivery::provenance::SourceModule> {
        vec![crate::delivery::provenance::SourceModule {
            path: "sigs.k8s.io/secrets-store-csi-driver",
            version: fixtures::version("CSI_DRIVER_VERSION"),
        }]
    }

    fn manifests(&self, target: &Target<'_>, consumer: &Consumer, profile: Profile) -> Result<String> {
        manifests(target, consumer, profile)
    }

    /// One file per field (the SecretProviderClass names them after the fields).
    fn decode(&self, files: &Files) -> Result<SecretData> {
        Ok(crate::delivery::files_as_fields(files))
    }
}

fn driver_image() -> String {
    format!(
        "harness.local/secrets-store-csi-driver:{}",
        fixtures::version("CSI_DRIVER_VERSION")
    )
}

fn provider_image() -> String {
    format!(
        "harness.local/harness-vault-provider:{}-compatible",
        fixtures::version("CSI_PROVIDER_COMPAT")
    )
}

/// A file of the driver module's `deploy/`, as `scripts/images/csi.sh` copied it.
fn deploy_file(name: &str) -> Result<String> {
    let file = paths::cache_dir()
        .join("images")
        .join(format!(
            "secrets-store-csi-driver-{}",
            fixtures::version("CSI_DRIVER_VERSION")
        ))
        .join("deploy")
        .join(name);
    std::fs::read_to_string(&file).map_err(|e| {
        Error::State(format!(
            "cannot read the CSI driver's {name} at {} ({e}); run `harness images build`",
            file.display()
        ))
    })
}

/// Objects as JSON documents (valid YAML) for [`apply::apply`].
fn documents(objects: &[serde_json::Value]) -> String {
    objects
        .iter()
        .map(|o| o.to_string())
        .collect::<Vec<_>>()
        .join("\n---\n")
}

fn managed(mut object: serde_json::Value) -> serde_json::Value {
    object["metadata"]["labels"]["app.kubernetes.io/managed-by"] = "vault-k8s-harness".into();
    object
}

/// The driver's RBAC from `deploy/` for both instances: its service account in each namespace
/// (upstream's is in kube-system), bound to upstream's ClusterRole, which may read both CSIDrivers.
fn driver_rbac(deploy: &str) -> Result<String> {
    let mut out = Vec::new();
    for object in apply::parse(deploy)? {
        let kind = object.types.as_ref().map(|t| t.kind.clone()).unwrap_or_default();
        let mut value = serde_json::to_value(&object).map_err(|e| Error::State(format!("{DEPLOY_RBAC}: {e}")))?;
        match kind.as_str() {
            "ServiceAccount" => {
                for i in &INSTANCES {
                    value["metadata"]["namespace"] = i.namespace.into();
                    out.push(value.clone());
                }
            }
            "ClusterRole" => {
                for rule in value["rules"].as_array_mut().into_iter().flatten() {
                    if rule["resources"] == serde_json::json!(["csidrivers"]) {
                        rule["resourceNames"] = INSTANCES.iter().map(|i| i.driver).collect();
                    }
                }
                out.push(managed(value));
            }
            "ClusterRoleBinding" => {
                let account = value["subjects"][0]["name"].clone();
                value["subjects"] = INSTANCES
                    .iter()
                    .map(|i| serde_json::json!({"kind": "ServiceAccount", "name": account, "namespace": i.namespace}))
                    .collect();
                out.push(managed(value));
            }
            other => return Err(Error::State(format!("{DEPLOY_RBAC}: unexpected {other}"))),
        }
    }
    Ok(documents(&out))
}

/// Upstream's CSIDriver object from `deploy/`, once per instance under its driver name.
fn csidrivers(deploy: &str) -> Result<String> {
    let object = apply::parse(deploy)?
        .into_iter()
        .next()
        .ok_or_else(|| Error::State(format!("{DEPLOY_CSIDRIVER} is empty")))?;
    let value = serde_json::to_value(&object).map_err(|e| Error::State(format!("{DEPLOY_CSIDRIVER}: {e}")))?;
    let objects: Vec<_> = INSTANCES
        .iter()
        .map(|i| {
            let mut v = managed(value.clone());
            v["metadata"]["name"] = i.driver.into();
            v
        })
        .collect();
    Ok(documents(&objects))
}

fn install_manifests(target: &Target<'_>) -> Result<String> {
    let images = images(target.images);
    let mut parts = vec![apply::render(
        INSTALL,
        &[
            ("NAMESPACE", NAMESPACE),
            ("DEFAULTS_NAMESPACE", DEFAULTS_NAMESPACE),
            ("PROVIDER_IMAGE", &images.provider),
            ("PULL_POLICY", images.pull_policy),
            ("VAULT_ADDR", &target.vault.endpoint.addr),
            ("CA_PEM", &indent(target.ca_pem, 4)),
            ("AUTH_MOUNT", &target.cfg.kubernetes_auth.mount),
        ],
    )?];
    for i in &INSTANCES {
        parts.push(apply::render(
            DRIVER,
            &[
                ("NAMESPACE", i.namespace),
                ("NAME", i.daemonset),
                ("DRIVER_NAME", i.driver),
                ("PLUGIN_DIR", i.plugin_dir),
                ("IMAGE", &images.driver),
                ("REGISTRAR_IMAGE", &images.registrar),
                ("REGISTRAR_COMMAND", images.registrar_command),
                ("PULL_POLICY", images.pull_policy),
                ("ROTATION_ARGS", &i.rotation_args()),
            ],
        )?);
    }
    Ok(parts.join("\n---\n"))
}

/// What [`install`] applies, less what belongs to the other profile's driver instance: the
/// objects one installation of the driver and the provider has.
fn installed_objects(target: &Target<'_>, profile: Profile) -> Result<String> {
    one_installation(target, profile, deploy_file)
}

/// [`installed_objects`] with the driver module's `deploy/` files read by `deploy_file`.
fn one_installation(
    target: &Target<'_>,
    profile: Profile,
    deploy_file: impl Fn(&str) -> Result<String>,
) -> Result<String> {
    let other = INSTANCES
        .iter()
        .find(|i| i.profile != profile)
        .expect("two driver instances");
    let mut parts: Vec<String> = DEPLOY_CRDS.iter().map(|crd| deploy_file(crd)).collect::<Result<_>>()?;
    parts.push(driver_rbac(&deploy_file(DEPLOY_RBAC)?)?);
    parts.push(csidrivers(&deploy_file(DEPLOY_CSIDRIVER)?)?);
    parts.push(install_manifests(target)?);
    let mut objects = Vec::new();
    for object in apply::documents(&parts.join("\n---\n"))? {
        let name = object["metadata"]["name"].as_str();
        let in_other = object["metadata"]["namespace"].as_str() == Some(other.namespace);
        // The provider and its CA live in the tuned instance's namespace and serve both.
        let of_other = match object["kind"].as_str() {
            Some("DaemonSet") => in_other && name == Some(other.daemonset),
            Some("ServiceAccount") => in_other && name != Some("harness-vault-provider"),
            Some("CSIDriver") => name == Some(other.driver),
            Some("Namespace") => name == Some(other.namespace) && other.namespace != NAMESPACE,
            _ => false,
        };
        if !of_other {
            objects.push(object);
        }
    }
    Ok(documents(&objects))
}

/// CRDs first (until served), the namespaces and RBAC, the CSIDrivers, the provider and both
/// drivers; then waits until every DaemonSet is ready and every node's CSINode lists both
/// drivers, which proves the kubelet accepted the harness's registrar.
async fn install(client: &kube::Client, target: &Target<'_>) -> Result<()> {
    crate::step!("install the Secrets Store CSI driver and the harness's Vault provider in namespace {NAMESPACE}");
    for crd in DEPLOY_CRDS {
        let text = deploy_file(crd)?;
        let objects: Vec<_> = apply::parse(&text)?
            .iter()
            .map(|o| serde_json::to_value(o).map(managed))
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| Error::State(format!("{crd}: {e}")))?;
        apply::apply(client, &documents(&objects)).await?;
        for object in apply::parse(&text)? {
            crate::pods::wait_crd_established(client, &object.metadata.name.unwrap_or_default(), READY_TIMEOUT).await?;
        }
    }
    let manifests = install_manifests(target)?;
    let (namespaces, rest): (Vec<_>, Vec<_>) = apply::parse(&manifests)?
        .into_iter()
        .partition(|o| o.types.as_ref().is_some_and(|t| t.kind == "Namespace"));
    let as_yaml = |objects: Vec<kube::api::DynamicObject>| -> Result<String> {
        let values: Vec<_> = objects
            .iter()
            .map(serde_json::to_value)
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| Error::State(format!("CSI install manifests: {e}")))?;
        Ok(documents(&values))
    };
    apply::apply(client, &as_yaml(namespaces)?).await?;
    apply::apply(client, &driver_rbac(&deploy_file(DEPLOY_RBAC)?)?).await?;
    apply::apply(client, &csidrivers(&deploy_file(DEPLOY_CSIDRIVER)?)?).await?;
    apply::apply(client, &as_yaml(rest)?).await?;
    crate::pods::wait_daemonset_ready(client, NAMESPACE, "harness-vault-provider", READY_TIMEOUT).await?;
    for i in &INSTANCES {
        crate::pods::wait_daemonset_ready(client, i.namespace, i.daemonset, READY_TIMEOUT).await?;
    }
    wait_registered(client).await
}

/// The rotation period of the driver the defaults profile runs: the flags its live DaemonSet
/// sets, else the defaults the running binary itself prints (`--help` of the container's PID 1
/// executable, so it is the binary that serves, whichever image); 0 when rotation is off.
async fn default_rotation(client: &kube::Client) -> Result<Option<(f64, String)>> {
    use k8s_openapi::api::apps::v1::DaemonSet;
    let i = instance(Profile::Defaults);
    let name = format!("DaemonSet {}/{}", i.namespace, i.daemonset);
    let daemonset = kube::Api::<DaemonSet>::namespaced(client.clone(), i.namespace)
        .get(i.daemonset)
        .await
        .map_err(|e| Error::State(format!("reading {name}: {e}")))?;
    let args = daemonset
        .spec
        .and_then(|s| s.template.spec)
        .and_then(|s| s.containers.into_iter().find(|c| c.name == DRIVER_CONTAINER))
        .and_then(|c| c.args)
        .unwrap_or_default();
    let selector = format!("app.kubernetes.io/name={}", i.daemonset);
    let pod = crate::pods::list(client, i.namespace, &selector)
        .await?
        .into_iter()
        .find_map(|p| p.metadata.name)
        .ok_or_else(|| Error::State(format!("{name} has no pod")))?;
    let (out, err) = crate::pods::exec_streams(
        client,
        i.namespace,
        &pod,
        DRIVER_CONTAINER,
        &["/proc/1/exe", "--help"],
        "the driver's --help",
        true,
    )
    .await?;
    let (secs, source) = rotation_period(&args, &format!("{out}{err}"))?;
    Ok(Some((secs, format!("{name}: {source}"))))
}

/// The rotation period (s; 0 when off) from the driver's args, falling back to the defaults of
/// its `--help`; and where each value came from.
fn rotation_period(args: &[String], help: &str) -> Result<(f64, String)> {
    let (enabled, from) = match flag_arg(args, ROTATION_FLAG) {
        Some(value) => (value == "true", format!("{ROTATION_FLAG}={value} in its args")),
        None => {
            let default = help_default(help, ROTATION_FLAG)?.unwrap_or_else(|| "false".into());
            let from = format!("{ROTATION_FLAG} not in its args, the binary's default is {default}");
            (default == "true", from)
        }
    };
    if !enabled {
        return Ok((0.0, format!("rotation off ({from})")));
    }
    let (poll, poll_from) = match flag_arg(args, POLL_FLAG) {
        Some(value) => (value.to_string(), "in its args"),
        None => (
            help_default(help, POLL_FLAG)?
                .ok_or_else(|| Error::State(format!("the driver's --help gives {POLL_FLAG} no default")))?,
            "the binary's default",
        ),
    };
    let secs = poll
        .parse::<crate::duration::Ttl>()
        .map_err(|e| Error::State(format!("{POLL_FLAG}: {e}")))?
        .as_secs();
    Ok((
        secs as f64,
        format!("rotation on ({from}), polled every {poll} ({poll_from})"),
    ))
}

/// The value of `--flag=value` (or `-flag=value`; a bare flag is `true`) among `args`.
fn flag_arg<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    let name = flag.trim_start_matches('-');
    args.iter().find_map(|arg| {
        let (key, value) = arg.split_once('=').unwrap_or((arg.as_str(), "true"));
        (key.trim_start_matches('-') == name).then_some(value)
    })
}

/// The `(default …)` Go's flag package prints under `flag` in a usage text; `None` when it
/// prints none (a zero value, such as a false bool). An error when the flag is not listed.
fn help_default(help: &str, flag: &str) -> Result<Option<String>> {
    let name = flag.trim_start_matches('-');
    let mut lines = help.lines().skip_while(|line| {
        let item = line.trim_start().trim_start_matches('-');
        !(line.trim_start().starts_with('-') && item.split_whitespace().next() == Some(name))
    });
    let Some(first) = lines.next() else {
        return Err(Error::State(format!("the driver's --help does not list {flag}")));
    };
    let block: String = std::iter::once(first)
        .chain(lines.take_while(|line| !line.trim_start().starts_with('-')))
        .collect::<Vec<_>>()
        .join(" ");
    Ok(block
        .rsplit_once("(default ")
        .and_then(|(_, rest)| rest.split_once(')'))
        .map(|(value, _)| value.trim_matches('"').to_string()))
}

/// Waits until every node's CSINode lists both driver names.
async fn wait_registered(client: &kube::Client) -> Result<()> {
    let api: kube::Api<CSINode> = kube::Api::all(client.clone());
    crate::wait::until(
        "every node's CSINode to list both CSI drivers (the kubelet accepted the registrar)",
        READY_TIMEOUT,
        Duration::from_millis(500),
        || async {
            let nodes = api
                .list(&Default::default())
                .await
                .map_err(|e| Error::State(format!("listing CSINodes: {e}")))?;
            let all = !nodes.items.is_empty()
                && nodes.items.iter().all(|n| {
                    INSTANCES
                        .iter()
                        .all(|i| n.spec.drivers.iter().any(|d| d.name == i.driver))
                });
            Ok(all.then_some(()))
        },
    )
    .await
}

fn manifests(target: &Target<'_>, consumer: &Consumer, profile: Profile) -> Result<String> {
    apply::render(
        POD,
        &[
            ("NAMESPACE", &consumer.namespace),
            ("POD", &consumer.pod),
            ("DRIVER", instance(profile).driver),
            ("ROLE", &target.cfg.kubernetes_auth.role),
            ("SECRET_PATH", &target.secret_path(&consumer.secret_name)),
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
    use crate::delivery::tests_support::{consumer, target_with};

    #[test]
    fn each_profile_mounts_through_its_own_driver_with_the_class_naming_both_fields() {
        target_with(2, |target| {
            for (profile, driver) in [
                (Profile::Tuned, "tuned.secrets-store.csi.k8s.io"),
                (Profile::Defaults, "secrets-store.csi.k8s.io"),
            ] {
                let objects = apply::parse(&manifests(target, &consumer(), profile).unwrap()).unwrap();
                let kinds: Vec<_> = objects
                    .iter()
                    .map(|o| o.types.as_ref().unwrap().kind.as_str())
                    .collect();
                assert_eq!(kinds, ["SecretProviderClass", "Pod"]);
                let spc = &objects[0].data["spec"];
                assert_eq!(spc["provider"], "vault");
                assert_eq!(spc["parameters"]["roleName"], "vault-test");
                let listed: serde_json::Value =
                    serde_saphyr::from_str(spc["parameters"]["objects"].as_str().unwrap()).unwrap();
                assert_eq!(listed[0]["objectName"], "username");
                assert_eq!(listed[1]["secretKey"], "password");
                assert_eq!(listed[1]["secretPath"], "secret/data/s1");
                let volume = &objects[1].data["spec"]["volumes"][0]["csi"];
                assert_eq!(volume["driver"], driver);
                assert_eq!(volume["readOnly"], true);
                assert_eq!(volume["volumeAttributes"]["secretProviderClass"], "consumer-0");
            }
        });
    }

    #[test]
    fn the_tuned_driver_rotates_every_interval_and_the_defaults_one_sets_no_rotation_flag() {
        target_with(2, |target| {
            let objects = apply::parse(&install_manifests(target).unwrap()).unwrap();
            let args = |name: &str| -> Vec<String> {
                let ds = objects
                    .iter()
                    .find(|o| o.metadata.name.as_deref() == Some(name) && o.types.as_ref().unwrap().kind == "DaemonSet")
                    .unwrap();
                let containers = ds.data["spec"]["template"]["spec"]["containers"].as_array().unwrap();
                let driver = containers.iter().find(|c| c["name"] == "secrets-store").unwrap();
                serde_json::from_value(driver["args"].clone()).unwrap()
            };
            let tuned = args("csi-secrets-store-tuned");
            assert!(
                tuned.contains(&"--enable-secret-rotation=true".to_string()),
                "{tuned:?}"
            );
            assert!(tuned.contains(&"--rotation-poll-interval=10s".to_string()), "{tuned:?}");
            assert!(tuned.contains(&"--drivername=tuned.secrets-store.csi.k8s.io".to_string()));
            let defaults = args("csi-secrets-store");
            assert!(
                !defaults.iter().any(|a| a.contains("rotation")),
                "the defaults driver sets no rotation flag: {defaults:?}"
            );
            assert!(defaults.contains(&"--drivername=secrets-store.csi.k8s.io".to_string()));
            let provider = objects
                .iter()
                .find(|o| {
                    o.metadata.name.as_deref() == Some("harness-vault-provider")
                        && o.types.as_ref().unwrap().kind == "DaemonSet"
                })
                .unwrap();
            let provider_args = &provider.data["spec"]["template"]["spec"]["containers"][0]["args"];
            assert_eq!(provider_args[1], "-vault-addr=https://10.0.0.2:30820");
            let ca = objects
                .iter()
                .find(|o| o.types.as_ref().unwrap().kind == "ConfigMap")
                .unwrap();
            assert_eq!(ca.data["data"]["ca.pem"], target.ca_pem);
        });
    }

    #[test]
    fn one_installation_is_the_shared_objects_and_one_driver_instance() {
        let deploy_file = |name: &str| -> Result<String> {
            Ok(match name {
                DEPLOY_RBAC => RBAC.to_string(),
                DEPLOY_CSIDRIVER => {
                    "apiVersion: storage.k8s.io/v1\nkind: CSIDriver\nmetadata: {name: secrets-store.csi.k8s.io}\n"
                        .into()
                }
                crd => format!(
                    "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {{name: {}}}\n",
                    crd.trim_end_matches(".yaml")
                ),
            })
        };
        {
            target_with(2, |target| {
                let listed = |profile| -> Vec<String> {
                    apply::documents(&one_installation(target, profile, deploy_file).unwrap())
                        .unwrap()
                        .iter()
                        .map(|o| {
                            format!(
                                "{} {}/{}",
                                o["kind"].as_str().unwrap(),
                                o["metadata"]["namespace"].as_str().unwrap_or(""),
                                o["metadata"]["name"].as_str().unwrap()
                            )
                        })
                        .collect()
                };
                let tuned = listed(Profile::Tuned);
                assert!(
                    tuned.contains(&"DaemonSet secrets-store-csi/csi-secrets-store-tuned".to_string()),
                    "{tuned:#?}"
                );
                assert!(
                    tuned.contains(&"CSIDriver /tuned.secrets-store.csi.k8s.io".to_string()),
                    "{tuned:#?}"
                );
                assert!(
                    !tuned
                        .iter()
                        .any(|o| o.contains(DEFAULTS_NAMESPACE) || o == "CSIDriver /secrets-store.csi.k8s.io"),
                    "{tuned:#?}"
                );
                assert_eq!(
                    tuned
                        .iter()
                        .filter(|o| o.starts_with("CustomResourceDefinition"))
                        .count(),
                    2
                );
                let defaults = listed(Profile::Defaults);
                assert_eq!(
                    defaults.len(),
                    tuned.len() + 1,
                    "its own namespace beside the provider's: {defaults:#?}"
                );
                assert!(defaults.contains(&"DaemonSet secrets-store-csi-defaults/csi-secrets-store".to_string()));
                assert!(
                    defaults.contains(&"DaemonSet secrets-store-csi/harness-vault-provider".to_string()),
                    "the provider is shared"
                );
            })
        }
    }

    const HELP: &str = "Usage of /bin/secrets-store-csi-driver:\n  -enable-secret-rotation\n    \tEnable secret rotation feature [alpha]\n  -endpoint string\n    \tCSI endpoint (default \"unix://tmp/csi.sock\")\n  -rotation-poll-interval duration\n    \tSecret rotation poll interval duration (default 2m0s)\n";

    #[test]
    fn the_rotation_period_comes_from_the_args_else_from_the_binarys_help_and_is_0_when_off() {
        let args = |list: &[&str]| list.iter().map(|a| a.to_string()).collect::<Vec<_>>();
        let (secs, from) = rotation_period(&args(&["--endpoint=x"]), HELP).unwrap();
        assert_eq!(secs, 0.0);
        assert_eq!(
            from,
            "rotation off (--enable-secret-rotation not in its args, the binary's default is false)"
        );
        let (secs, from) = rotation_period(&args(&["--enable-secret-rotation=true"]), HELP).unwrap();
        assert_eq!(secs, 120.0, "2m0s from --help");
        assert!(from.ends_with("polled every 2m0s (the binary's default)"), "{from}");
        let on = args(&["-enable-secret-rotation", "--rotation-poll-interval=10s"]);
        assert_eq!(rotation_period(&on, HELP).unwrap().0, 10.0, "a bare bool flag is true");
        let off = args(&["--enable-secret-rotation=false", "--rotation-poll-interval=10s"]);
        assert_eq!(rotation_period(&off, HELP).unwrap().0, 0.0);
        assert_eq!(
            help_default(HELP, "--endpoint").unwrap().as_deref(),
            Some("unix://tmp/csi.sock")
        );
        let err = rotation_period(&args(&[]), "Usage:\n  -endpoint string\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "the driver's --help does not list --enable-secret-rotation"
        );
    }

    const RBAC: &str = "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: secrets-store-csi-driver, namespace: kube-system}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: secretproviderclasses-role}\nrules:\n- apiGroups: [storage.k8s.io]\n  resourceNames: [secrets-store.csi.k8s.io]\n  resources: [csidrivers]\n  verbs: [get]\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: secretproviderclasses-rolebinding}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: secretproviderclasses-role}\nsubjects:\n- {kind: ServiceAccount, name: secrets-store-csi-driver, namespace: kube-system}\n";

    #[test]
    fn upstreams_rbac_binds_the_driver_account_of_both_namespaces_and_is_marked() {
        let objects = apply::parse(&driver_rbac(RBAC).unwrap()).unwrap();
        let namespaces: Vec<_> = objects
            .iter()
            .filter(|o| o.types.as_ref().unwrap().kind == "ServiceAccount")
            .map(|o| o.metadata.namespace.clone().unwrap())
            .collect();
        assert_eq!(namespaces, [NAMESPACE, DEFAULTS_NAMESPACE]);
        let role = &objects[2];
        assert_eq!(
            role.data["rules"][0]["resourceNames"],
            serde_json::json!(["tuned.secrets-store.csi.k8s.io", "secrets-store.csi.k8s.io"])
        );
        assert_eq!(
            role.metadata.labels.as_ref().unwrap()["app.kubernetes.io/managed-by"],
            "vault-k8s-harness"
        );
        let binding = &objects[3];
        assert_eq!(binding.data["subjects"][1]["namespace"], DEFAULTS_NAMESPACE);
        assert!(driver_rbac("apiVersion: v1\nkind: Secret\nmetadata: {name: x}\n").is_err());
    }

    #[test]
    fn one_csidriver_per_instance_as_upstream_declares_it() {
        let deploy = "apiVersion: storage.k8s.io/v1\nkind: CSIDriver\nmetadata: {name: secrets-store.csi.k8s.io}\nspec: {podInfoOnMount: true, attachRequired: false, volumeLifecycleModes: [Ephemeral], requiresRepublish: true}\n";
        let objects = apply::parse(&csidrivers(deploy).unwrap()).unwrap();
        let names: Vec<_> = objects.iter().map(|o| o.metadata.name.clone().unwrap()).collect();
        assert_eq!(names, ["tuned.secrets-store.csi.k8s.io", "secrets-store.csi.k8s.io"]);
        assert!(
            objects
                .iter()
                .all(|o| o.data["spec"]["requiresRepublish"] == true && o.data["spec"]["podInfoOnMount"] == true)
        );
    }

    #[test]
    fn offline_the_provider_is_named_as_the_harnesss_own_and_online_as_hashicorps_image() {
        target_with(2, |target| {
            let versions = Csi.versions(target);
            assert!(versions.iter().any(|(k, v)| *k == "csi-provider"
                && v.contains("harness-vault-provider (the harness's own")
                && v.contains(fixtures::version("CSI_PROVIDER_COMPAT"))));
            let online = Target {
                images: ImageSource::Online,
                ..*target
            };
            let versions = Csi.versions(&online);
            assert!(
                versions.contains(&("csi-provider", "hashicorp/vault-csi-provider:1.7.4")),
                "{versions:?}"
            );
        });
    }

    /// Every container of the install's DaemonSets: name, image, command, pull policy.
    fn containers(target: &Target<'_>) -> Vec<(String, String, serde_json::Value, String)> {
        apply::parse(&install_manifests(target).unwrap())
            .unwrap()
            .iter()
            .filter(|o| o.types.as_ref().unwrap().kind == "DaemonSet")
            .flat_map(|ds| {
                ds.data["spec"]["template"]["spec"]["containers"]
                    .as_array()
                    .unwrap()
                    .clone()
            })
            .map(|c| {
                (
                    c["name"].as_str().unwrap().to_string(),
                    c["image"].as_str().unwrap().to_string(),
                    c["command"].clone(),
                    c["imagePullPolicy"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }

    #[test]
    fn no_component_requests_cpu_so_the_quick_runs_rounds_still_fit_two_cores() {
        target_with(2, |target| {
            let objects = apply::parse(&install_manifests(target).unwrap()).unwrap();
            for ds in objects.iter().filter(|o| o.types.as_ref().unwrap().kind == "DaemonSet") {
                for c in ds.data["spec"]["template"]["spec"]["containers"].as_array().unwrap() {
                    assert_eq!(c["resources"]["requests"]["cpu"], "0", "{}", c["name"]);
                }
            }
        });
    }

    #[test]
    fn offline_every_image_is_the_harnesss_and_online_upstreams() {
        target_with(2, |target| {
            for (name, image, command, policy) in containers(target) {
                assert!(image.starts_with("harness.local/"), "{name}: {image}");
                assert_eq!(policy, "Never");
                assert_eq!(command.is_null(), name != "registrar", "{name}: {command}");
            }
            let online = Target {
                images: ImageSource::Online,
                ..*target
            };
            let upstream = containers(&online);
            assert_eq!(upstream.len(), 5, "provider + 2 × (registrar, driver)");
            for (name, image, command, policy) in upstream {
                let want = match name.as_str() {
                    "registrar" => "registry.k8s.io/sig-storage/csi-node-driver-registrar:v2.16.0",
                    "secrets-store" => "registry.k8s.io/csi-secrets-store/driver:v1.6.0",
                    _ => "hashicorp/vault-csi-provider:1.7.4",
                };
                assert_eq!(image, want, "{name}");
                assert!(command.is_null(), "{name} runs its image's own entrypoint");
                assert_eq!(policy, "IfNotPresent");
            }
        });
    }
}
