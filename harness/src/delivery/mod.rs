//! Delivery methods: how `secret/<name>` reaches an application container. Each method is one
//! [`DeliveryMethod`] in its own file under `methods/`, its manifests in
//! `fixtures/delivery/<name>/`, its image recipe (if it builds images) in
//! `scripts/images/<name>.sh`, and one line in [`methods::REGISTRY`]; everything else — the
//! runner, the faults, the report's order, `harness down`, the image build, the node preload, the
//! e2e tests — iterates the registry.
//!
//! Every consumer pod has the same application container (`fixtures/delivery/app.yaml`): it reads
//! the files under `/vault/secrets` and logs `changed <unix time>` whenever they change, so every
//! method is observed by the same 100 ms poll in the application container itself.

pub mod activity;
pub mod audit;
pub mod channels;
pub mod complexity;
pub mod envvar;
pub mod exposure;
pub mod fault;
pub mod footprint;
pub mod methods;
pub mod overhead;
pub mod provenance;
pub mod run;
pub mod session;

use std::{collections::BTreeMap, fmt, ops::Deref, str::FromStr, time::Duration};

use futures::future::BoxFuture;
use kube::api::ApiResource;

use crate::{
    Error, Result, apply,
    cluster::kind::ImageSource,
    config::{Config, SubstrateKind},
    secret::{SecretData, SecretString},
    vault::in_cluster::ClusterVault,
};

const APP_CONTAINER: &str = include_str!("../../../fixtures/delivery/app.yaml");
/// The image of the application container (preloaded in the node image).
pub const APP_IMAGE: &str = "harness.local/debian-minbase:bookworm";
/// Where every method delivers, as seen from the application container.
pub const SECRETS_DIR: &str = "/vault/secrets";
/// The application container's name in every consumer pod.
pub const APP: &str = "app";

/// The files the application container sees in [`SECRETS_DIR`], by name.
pub type Files = BTreeMap<String, SecretString>;

/// A way of getting a Vault secret into a pod.
pub trait DeliveryMethod: Send + Sync {
    /// Its name in samples, reports, `--methods`, `fixtures/delivery/<name>/` and
    /// `scripts/images/<name>.sh`.
    fn name(&self) -> &'static str;

    /// What it is, in a few words, for people.
    fn title(&self) -> &'static str;

    /// Pinned versions of its own components (beyond Vault and Kubernetes), as they run on `target`.
    fn versions(&self, _target: &Target<'_>) -> Vec<(&'static str, &'static str)> {
        Vec::new()
    }

    /// Images of its own that the harness builds (`scripts/images/<name>.sh`): preloaded in the
    /// offline node image, `kind load`ed on upstream node images.
    fn images(&self) -> Vec<String> {
        Vec::new()
    }

    /// The Go modules its offline images are built from (the Support row's licences).
    fn source_modules(&self) -> Vec<provenance::SourceModule> {
        Vec::new()
    }

    /// Components of its that this project wrote (the Support row names them with the harness's
    /// own licence).
    fn own_components(&self) -> Vec<&'static str> {
        Vec::new()
    }

    /// Namespace and pod selector of its per-cluster components, if it has any.
    fn components(&self) -> Option<Components> {
        None
    }

    /// Cluster-scoped kinds its install creates, labelled as the harness's; `harness down`
    /// removes the labelled objects of these kinds on an existing substrate.
    fn cluster_scoped_kinds(&self) -> Vec<ApiResource> {
        Vec::new()
    }

    /// Installs what it runs per cluster (idempotent) and waits until it serves.
    fn install<'a>(&'a self, _client: &'a kube::Client, _target: &'a Target<'_>) -> BoxFuture<'a, Result<()>> {
        Box::pin(async { Ok(()) })
    }

    /// Every object its per-cluster install applies for one profile's components, CRDs
    /// included (what a user installs once per cluster; empty when it installs nothing).
    fn installed_objects(&self, _target: &Target<'_>, _profile: Profile) -> Result<String> {
        Ok(String::new())
    }

    /// The refresh period it runs with when the user sets none (s), and which live object and
    /// field that was read from; `None` when no live object declares it.
    fn default_refresh_period<'a>(&'a self, _client: &'a kube::Client) -> BoxFuture<'a, Result<Option<(f64, String)>>> {
        Box::pin(async { Ok(None) })
    }

    /// Every object of one consumer.
    fn manifests(&self, target: &Target<'_>, consumer: &Consumer, profile: Profile) -> Result<String>;

    /// A consumer rendered in the method's default output format, when the run's consumers ask
    /// for another because the default cannot carry the configured values; `None` when they use
    /// the default. The run delivers it once and reports whether the values read back intact.
    fn default_format_manifests(
        &self,
        _target: &Target<'_>,
        _consumer: &Consumer,
        _profile: Profile,
    ) -> Result<Option<String>> {
        Ok(None)
    }

    /// The secret's fields from the files the application container sees in [`SECRETS_DIR`].
    fn decode(&self, files: &Files) -> Result<SecretData>;

    /// Containers a consumer pod must have besides the application (init containers included):
    /// checked before anything is measured, so a pod the method never reached measures nothing.
    fn expected_containers(&self) -> &'static [&'static str] {
        &[]
    }
}

/// Where a method's per-cluster components run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Components {
    pub namespace: &'static str,
    pub selector: &'static str,
}

/// A registered delivery method: what the runner, the report and the CLI pass around.
#[derive(Clone, Copy)]
pub struct Method(&'static dyn DeliveryMethod);

impl Method {
    /// Every registered method, in the registry's (the report's) order.
    pub fn all() -> Vec<Method> {
        methods::REGISTRY.iter().map(|m| Method(*m)).collect()
    }

    /// Position in the registry: the report's order; unknown names last.
    pub fn order(name: &str) -> usize {
        methods::REGISTRY
            .iter()
            .position(|m| m.name() == name)
            .unwrap_or(methods::REGISTRY.len())
    }
}

/// The file `name` among `files`, or an error naming the method and the file.
pub fn file<'f>(method: &dyn DeliveryMethod, files: &'f Files, name: &str) -> Result<&'f SecretString> {
    files
        .get(name)
        .ok_or_else(|| Error::State(format!("{} has no file {name} in {SECRETS_DIR}", method.name())))
}

impl Deref for Method {
    type Target = dyn DeliveryMethod;

    fn deref(&self) -> &Self::Target {
        self.0
    }
}

impl PartialEq for Method {
    fn eq(&self, other: &Method) -> bool {
        self.name() == other.name()
    }
}

impl Eq for Method {}

impl fmt::Debug for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
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
        Method::all().into_iter().find(|m| m.name() == s).ok_or_else(|| {
            let known: Vec<_> = Method::all().iter().map(|m| m.name()).collect();
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
    pub const ALL: [Profile; 2] = [Profile::Tuned, Profile::Defaults];

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
    /// Where the app cluster's images come from: online, a method may run upstream's images.
    pub images: ImageSource,
}

impl Target<'_> {
    /// The Vault API path of a secret in the configured KV mount.
    pub fn secret_path(&self, secret_name: &str) -> String {
        match self.cfg.kv.version {
            1 => format!("{}/{secret_name}", self.cfg.kv.mount),
            _ => format!("{}/data/{secret_name}", self.cfg.kv.mount),
        }
    }

    /// The Docker container of the app cluster's control-plane node, when the app cluster is a
    /// kind cluster the harness made (`clusters.substrate = "kind"`); `None` on an existing one.
    pub fn kind_control_plane(&self) -> Option<String> {
        match self.cfg.clusters.substrate {
            SubstrateKind::Kind => Some(crate::cluster::kind::control_plane(&self.cfg.clusters.app)),
            SubstrateKind::Existing => None,
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

/// One field per file, named after it: for methods that write each field to its own file.
pub fn files_as_fields(files: &Files) -> SecretData {
    use crate::secret::ExposeSecret;
    SecretData::new(
        files
            .iter()
            .map(|(k, v)| (k.clone(), v.expose_secret().to_string().into())),
    )
}

/// The secret's fields from a template's `toJSON` output: a JSON object of strings, so values
/// with spaces, quotes, `=` or newlines come through intact.
pub fn parse_json_fields(text: &str) -> Result<SecretData> {
    let fields: BTreeMap<String, String> = serde_json::from_str(text.trim())
        .map_err(|e| Error::State(format!("the rendered file is not a JSON object of strings: {e}")))?;
    Ok(SecretData::new(
        fields.into_iter().map(|(k, v)| (k, SecretString::from(v))),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::ExposeSecret;

    #[test]
    fn json_fields_keep_spaces_quotes_and_newlines_and_anything_else_is_refused() {
        let data =
            parse_json_fields("{\"note\":\"a \\\"b\\\"\\nc=d\",\"password\":\"x y\",\"user\":\"admin\"}\n").unwrap();
        assert_eq!(data.keys().collect::<Vec<_>>(), ["note", "password", "user"]);
        assert_eq!(data.get("note").unwrap().expose_secret(), "a \"b\"\nc=d");
        assert_eq!(data.get("password").unwrap().expose_secret(), "x y");
        let err = parse_json_fields("password=x").unwrap_err().to_string();
        assert!(err.contains("not a JSON object of strings"), "{err}");
    }

    #[test]
    fn method_names_round_trip_and_unknown_ones_are_refused() {
        for m in Method::all() {
            assert_eq!(m.name().parse::<Method>().unwrap(), m);
        }
        let err = "csi-typo".parse::<Method>().unwrap_err();
        assert!(err.contains("unknown delivery method \"csi-typo\""), "{err}");
    }

    #[test]
    fn every_method_has_a_unique_name_its_fixtures_and_a_recipe_for_its_images() {
        let root = crate::fixtures::repo_root();
        let names: std::collections::BTreeSet<_> = Method::all().iter().map(|m| m.name()).collect();
        assert_eq!(names.len(), Method::all().len(), "method names are unique");
        for (i, m) in Method::all().into_iter().enumerate() {
            assert_eq!(Method::order(m.name()), i);
            assert!(
                root.join("fixtures/delivery").join(m.name()).is_dir(),
                "fixtures/delivery/{} holds {}'s manifests",
                m.name(),
                m.title()
            );
            let recipe = root.join("scripts/images").join(format!("{}.sh", m.name()));
            assert_eq!(
                recipe.is_file(),
                !m.images().is_empty(),
                "{}: an image recipe exactly when it has images",
                m.name()
            );
        }
        assert_eq!(Method::order("not-a-method"), Method::all().len());
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
    fn a_missing_file_is_named_with_the_method() {
        let files = Files::from([("password".to_string(), SecretString::from("p"))]);
        let method = Method::all()[0];
        assert_eq!(file(&*method, &files, "password").unwrap().expose_secret(), "p");
        let err = file(&*method, &files, "secret").unwrap_err().to_string();
        assert!(err.contains(&format!("{} has no file secret", method.name())), "{err}");
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
        target_on(&cfg, check)
    }

    /// Runs `check` with a target on `cfg`.
    pub fn target_on(cfg: &Config, check: impl FnOnce(&Target<'_>)) {
        let vault = ClusterVault {
            flavor: Flavor::OpenBao,
            endpoint: Endpoint {
                addr: "https://10.0.0.2:30820".into(),
                ca_cert: None,
            },
            kubernetes_auth_mount: "kubernetes".into(),
        };
        check(&Target {
            cfg,
            vault: &vault,
            ca_pem: "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n",
            images: ImageSource::Offline,
        });
    }
}
