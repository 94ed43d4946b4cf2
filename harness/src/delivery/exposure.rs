//! The Security row's exposures of one method run, read from the live app cluster (S2, a copy on
//! the node's disk, is the footprint's `secret_mount_tmpfs`):
//! - S1 `secret_in_etcd_plaintext`: when a Kubernetes Secret in the consumer's namespace holds
//!   the delivered value, whether etcd keeps its bytes in plaintext: read from the control-plane
//!   node's database on a kind cluster the harness made; elsewhere, etcd being out of reach, the
//!   Secret stands in;
//! - S3 `privileged_or_host_path`: privileged containers and hostPath volumes of the method's
//!   component pods and of what it added to the consumer pod;
//! - S4 `cluster_wide_powers`: what the components' service accounts may do in every namespace
//!   (mint tokens, get or list Secrets), and mutating webhooks on pod creation they serve;
//! - S5 `readable_with_get_secrets`: a service account allowed only to get and list Secrets in
//!   the consumer's namespace reads every delivered value.
//!
//! Values are compared in memory or fed to a command's stdin, never put on a command line, in a
//! log or in `observed`.

use std::{collections::BTreeSet, path::Path, time::Duration};

use k8s_openapi::api::{
    admissionregistration::v1::{MutatingWebhook, MutatingWebhookConfiguration},
    authentication::v1::{TokenRequest, TokenRequestSpec},
    authorization::v1::{ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec},
    core::v1::{Container, Pod, Secret, ServiceAccount},
};
use kube::{Api, api::PostParams};

use super::{
    APP, Components, Consumer,
    run::{Run, Watched},
};
use crate::{
    Error, Result, apply,
    measure::{Metric, Sample},
    pods, process,
    secret::{ExposeSecret, SecretData, SecretString},
    wait,
};

/// Where kubeadm (and so kind) keeps etcd's database on the control-plane node.
const ETCD_DB: &str = "/var/lib/etcd/member/snap/db";
const DOCKER_EXEC_TIMEOUT: Duration = Duration::from_secs(60);
const SECRET_READER: &str = include_str!("../../../fixtures/delivery/secret-reader.yaml");
/// The service account (and Role, and RoleBinding) of S5.
const READER: &str = "harness-secret-reader";
/// How long a new RoleBinding may take to reach the API server's authorizer.
const RBAC_PROPAGATION: Duration = Duration::from_secs(15);

impl Run<'_> {
    /// S1, S3, S4 and S5 for the method, read at `watched` (running, its value delivered): the
    /// values looked for are those its application container holds now (after a rotation that
    /// did not arrive within the bound, the earlier ones).
    pub(super) async fn exposures(&self, watched: &Watched) -> Result<Vec<Sample>> {
        let consumer = &watched.consumer;
        let held = self.app_holds(consumer).await?;
        let held = SecretData::new(
            watched
                .expected
                .keys()
                .filter_map(|key| Some((key.to_string(), held.get(key)?.clone()))),
        );
        if held.len() < watched.expected.len() || held.iter().all(|(_, v)| v.expose_secret().is_empty()) {
            return Err(Error::State(format!(
                "the app container of {} lacks a value of {:?} to look for",
                consumer.pod,
                watched.expected.keys().collect::<Vec<_>>()
            )));
        }
        let components = self.method.components();
        let component_pods = match components {
            Some(c) => pods::list(self.env.app, c.namespace, c.selector).await?,
            None => Vec::new(),
        };
        Ok(vec![
            self.etcd_plaintext(&held).await?,
            self.privileged_or_host_path(consumer, &component_pods).await?,
            self.cluster_wide_powers(components, &component_pods).await?,
            self.readable_with_get_secrets(&held).await?,
        ])
    }

    /// S1. A value no Secret holds is not looked for: what etcd keeps of other objects (and of
    /// other runs' Secrets, pages freed but not overwritten) is not this method's doing.
    async fn etcd_plaintext(&self, held: &SecretData) -> Result<Sample> {
        let secrets = Api::<Secret>::namespaced(self.env.app.clone(), self.namespace)
            .list(&Default::default())
            .await
            .map_err(|e| Error::State(format!("listing Secrets in {}: {e}", self.namespace)))?;
        let holding = secrets.items.iter().find(|s| holds_every_value(s, held));
        let metric = Metric::SecretInEtcdPlaintext;
        let Some(secret) = holding.map(|s| s.metadata.name.clone().unwrap_or_default()) else {
            let why = format!("no Secret in {} holds the value: etcd not read", self.namespace);
            return Ok(self.sample(metric, 0.0, "bool").observed(why));
        };
        let Some(node) = self.env.target.kind_control_plane() else {
            let why = format!("off kind: Secret {secret} holds it, etcd not read");
            return Ok(self.sample(metric, 1.0, "bool").observed(why));
        };
        let needle = etcd_needle(held).ok_or_else(|| Error::State("the delivered value is empty".into()))?;
        let found = in_etcd_db(&node, needle, &self.env.logs).await?;
        let observed = match found {
            true => format!("Secret {secret}: the value is in plaintext in {node}:{ETCD_DB}"),
            false => format!("Secret {secret}: the value is not in plaintext in {node}:{ETCD_DB}"),
        };
        Ok(self
            .sample(metric, f64::from(u8::from(found)), "bool")
            .observed(observed))
    }

    /// S3.
    async fn privileged_or_host_path(&self, consumer: &Consumer, component_pods: &[Pod]) -> Result<Sample> {
        let admitted = pods::get(self.env.app, self.namespace, &consumer.pod).await?;
        let mut found: Vec<String> = privileged_and_host_paths(&admitted, |c| c.name != APP)
            .into_iter()
            .map(|what| format!("consumer pod: {what}"))
            .collect();
        found.extend(component_findings(component_pods));
        let observed = listed_or(&found, "none");
        Ok(self
            .sample(Metric::PrivilegedOrHostPath, found.len() as f64, "count")
            .observed(observed))
    }

    /// S4.
    async fn cluster_wide_powers(&self, components: Option<Components>, component_pods: &[Pod]) -> Result<Sample> {
        let metric = Metric::ClusterWidePowers;
        let Some(components) = components else {
            return Ok(self.sample(metric, 0.0, "count").observed("no per-cluster components"));
        };
        let mut found = allowed_powers(self.env.app, &service_accounts(component_pods)).await?;
        found.extend(pod_creation_webhooks(self.env.app, components.namespace).await?);
        let observed = listed_or(&found, "none");
        Ok(self.sample(metric, found.len() as f64, "count").observed(observed))
    }

    /// S5.
    async fn readable_with_get_secrets(&self, held: &SecretData) -> Result<Sample> {
        let listed = secrets_a_reader_lists(self.env.app, self.env.app_config, self.namespace).await?;
        let holding = listed.iter().find(|s| holds_every_value(s, held));
        let who = format!("{READER} (get, list secrets in {})", self.namespace);
        let (value, observed) = match holding {
            Some(secret) => (
                1.0,
                format!(
                    "{who} read Secret {}, which holds the value",
                    secret.metadata.name.as_deref().unwrap_or_default()
                ),
            ),
            None => (
                0.0,
                format!("{who} listed {} Secrets, none holds the value", listed.len()),
            ),
        };
        Ok(self
            .sample(Metric::ReadableWithGetSecrets, value, "bool")
            .observed(observed))
    }
}

/// Whether `secret` holds every one of `values` under its key, compared byte for byte.
pub fn holds_every_value(secret: &Secret, values: &SecretData) -> bool {
    let Some(data) = &secret.data else { return false };
    !values.is_empty()
        && values.iter().all(|(key, value)| {
            data.get(key)
                .is_some_and(|bytes| bytes.0 == value.expose_secret().as_bytes())
        })
}

/// The name of a Secret of `namespace` that holds every one of `values`, if any.
pub async fn secret_holding(client: &kube::Client, namespace: &str, values: &SecretData) -> Result<Option<String>> {
    let secrets = kube::Api::<Secret>::namespaced(client.clone(), namespace)
        .list(&Default::default())
        .await
        .map_err(|e| Error::State(format!("listing Secrets in {namespace}: {e}")))?;
    Ok(secrets
        .items
        .into_iter()
        .find(|s| holds_every_value(s, values))
        .and_then(|s| s.metadata.name))
}

/// What S1 looks for in etcd's database: the longest line of the values (`grep` takes one
/// pattern per line, and a longer one is less likely to occur by chance).
pub fn etcd_needle(values: &SecretData) -> Option<&str> {
    values
        .iter()
        .flat_map(|(_, v)| v.expose_secret().lines())
        .filter(|line| !line.is_empty())
        .max_by_key(|line| line.len())
}

/// Whether the database of etcd on kind node `node` holds `needle`: `grep` in the node
/// container, the needle fed on its stdin.
async fn in_etcd_db(node: &str, needle: &str, logs: &Path) -> Result<bool> {
    let mut grep = tokio::process::Command::new("docker");
    grep.args(["exec", "-i", node, "grep", "-c", "-F", "-f", "-", ETCD_DB]);
    let what = format!("docker exec {node} grep -c -F -f - {ETCD_DB}");
    let log = logs.join(format!("exposure-{node}.log"));
    let (code, _) = process::run_fed(
        &what,
        &mut grep,
        needle.as_bytes(),
        &log,
        DOCKER_EXEC_TIMEOUT,
        grep_answered,
    )
    .await?;
    Ok(grep_found(code))
}

/// `grep` exits 0 when it found the pattern, 1 when it did not, 2 when it could not look.
fn grep_answered(code: i32) -> bool {
    matches!(code, 0 | 1)
}

fn grep_found(code: i32) -> bool {
    code == 0
}

/// `found`, one finding after the other, or `none` when there is none.
fn listed_or(found: &[String], none: &str) -> String {
    match found.is_empty() {
        true => none.to_string(),
        false => found.join("; "),
    }
}

/// The privileged containers (init containers included) of `pod` that `counted` accepts, and all
/// its hostPath volumes (a consumer's plain pod has none: any is the method's), each named.
pub fn privileged_and_host_paths(pod: &Pod, counted: impl Fn(&Container) -> bool) -> Vec<String> {
    let Some(spec) = &pod.spec else {
        return Vec::new();
    };
    let privileged = |c: &Container| c.security_context.as_ref().and_then(|s| s.privileged) == Some(true);
    let containers = spec.init_containers.iter().flatten().chain(&spec.containers);
    let mut found: Vec<String> = containers
        .filter(|c| counted(c) && privileged(c))
        .map(|c| format!("container {} is privileged", c.name))
        .collect();
    found.extend(spec.volumes.iter().flatten().filter_map(|v| {
        let host = v.host_path.as_ref()?;
        Some(format!("volume {} is hostPath {}", v.name, host.path))
    }));
    found
}

/// S3's findings in the component pods, once per workload (replicas of one are alike).
fn component_findings(component_pods: &[Pod]) -> BTreeSet<String> {
    component_pods
        .iter()
        .flat_map(|pod| {
            let workload = workload(pod);
            privileged_and_host_paths(pod, |_| true)
                .into_iter()
                .map(move |what| format!("{workload}: {what}"))
        })
        .collect()
}

/// The controller that made `pod` (`DaemonSet secrets-store-csi-driver`), else the pod.
fn workload(pod: &Pod) -> String {
    let controller = pod
        .metadata
        .owner_references
        .iter()
        .flatten()
        .find(|o| o.controller == Some(true));
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    let namespace = pod.metadata.namespace.as_deref().unwrap_or_default();
    match controller {
        Some(owner) => format!("{} {namespace}/{}", owner.kind, owner.name),
        None => format!("Pod {namespace}/{name}"),
    }
}

/// The distinct service accounts the pods run as, as (namespace, name).
pub fn service_accounts(pods: &[Pod]) -> BTreeSet<(String, String)> {
    pods.iter()
        .map(|pod| {
            let account = pod.spec.as_ref().and_then(|s| s.service_account_name.clone());
            (
                pod.metadata.namespace.clone().unwrap_or_default(),
                account.unwrap_or_else(|| "default".into()),
            )
        })
        .collect()
}

/// A power over every namespace S4 asks about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Power {
    pub verb: &'static str,
    pub resource: &'static str,
    pub subresource: Option<&'static str>,
}

impl std::fmt::Display for Power {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.subresource {
            Some(sub) => write!(f, "{} {}/{sub}", self.verb, self.resource),
            None => write!(f, "{} {}", self.verb, self.resource),
        }
    }
}

/// Minting any service account's token, and reading any Secret: each opens every namespace.
pub const POWERS: [Power; 3] = [
    Power {
        verb: "create",
        resource: "serviceaccounts",
        subresource: Some("token"),
    },
    Power {
        verb: "get",
        resource: "secrets",
        subresource: None,
    },
    Power {
        verb: "list",
        resource: "secrets",
        subresource: None,
    },
];

/// Asks whether service account `account` of `namespace` holds `power` in every namespace (the
/// empty namespace), with the groups its tokens authenticate with.
pub fn access_review(namespace: &str, account: &str, power: Power) -> SubjectAccessReview {
    SubjectAccessReview {
        spec: SubjectAccessReviewSpec {
            user: Some(format!("system:serviceaccount:{namespace}:{account}")),
            groups: Some(vec![
                "system:serviceaccounts".into(),
                format!("system:serviceaccounts:{namespace}"),
                "system:authenticated".into(),
            ]),
            resource_attributes: Some(ResourceAttributes {
                namespace: Some(String::new()),
                group: Some(String::new()),
                verb: Some(power.verb.into()),
                resource: Some(power.resource.into()),
                subresource: power.subresource.map(Into::into),
                ..Default::default()
            }),
            ..Default::default()
        },
        ..Default::default()
    }
}

/// Every (account, power) of [`POWERS`] the authorizer allows, named.
async fn allowed_powers(client: &kube::Client, accounts: &BTreeSet<(String, String)>) -> Result<Vec<String>> {
    let reviews: Api<SubjectAccessReview> = Api::all(client.clone());
    let mut allowed = Vec::new();
    for (namespace, account) in accounts {
        for power in POWERS {
            let answer = reviews
                .create(&PostParams::default(), &access_review(namespace, account, power))
                .await
                .map_err(|e| {
                    Error::State(format!(
                        "SubjectAccessReview of service account {namespace}/{account} for {power}: {e}"
                    ))
                })?;
            if answer.status.is_some_and(|s| s.allowed) {
                allowed.push(format!(
                    "service account {namespace}/{account} may {power} in every namespace"
                ));
            }
        }
    }
    Ok(allowed)
}

/// The mutating webhooks served from `namespace` that see every pod created, named.
async fn pod_creation_webhooks(client: &kube::Client, namespace: &str) -> Result<Vec<String>> {
    let configs = Api::<MutatingWebhookConfiguration>::all(client.clone())
        .list(&Default::default())
        .await
        .map_err(|e| Error::State(format!("listing MutatingWebhookConfigurations: {e}")))?;
    Ok(webhooks_on_pod_creation(&configs.items, namespace))
}

/// [`pod_creation_webhooks`] from listed configurations.
pub fn webhooks_on_pod_creation(configs: &[MutatingWebhookConfiguration], namespace: &str) -> Vec<String> {
    configs
        .iter()
        .flat_map(|config| {
            let name = config.metadata.name.as_deref().unwrap_or_default();
            config
                .webhooks
                .iter()
                .flatten()
                .filter(|w| served_from(w, namespace) && mutates_pod_creation(w))
                .map(move |w| {
                    format!(
                        "MutatingWebhookConfiguration {name}: webhook {} mutates every pod created",
                        w.name
                    )
                })
        })
        .collect()
}

fn served_from(webhook: &MutatingWebhook, namespace: &str) -> bool {
    webhook
        .client_config
        .service
        .as_ref()
        .is_some_and(|s| s.namespace == namespace)
}

/// A rule of `webhook` covers CREATE of core `v1` pods (namespaced objects: a rule scoped to
/// the cluster does not).
pub fn mutates_pod_creation(webhook: &MutatingWebhook) -> bool {
    let names = |list: &Option<Vec<String>>, wanted: &[&str]| {
        list.iter()
            .flatten()
            .any(|item| item == "*" || wanted.contains(&item.as_str()))
    };
    webhook.rules.iter().flatten().any(|rule| {
        names(&rule.operations, &["CREATE"])
            && names(&rule.api_groups, &[""])
            && names(&rule.api_versions, &["v1"])
            && names(&rule.resources, &["pods", "*/*"])
            && rule.scope.as_deref().is_none_or(|scope| scope != "Cluster")
    })
}

/// S5's reader: its objects in `namespace`, a token for it, the Secrets it lists with that token;
/// its objects are deleted again, also when a step failed.
async fn secrets_a_reader_lists(app: &kube::Client, config: &kube::Config, namespace: &str) -> Result<Vec<Secret>> {
    let objects = apply::render(SECRET_READER, &[("NAMESPACE", namespace)])?;
    let listed = async {
        apply::apply(app, &objects).await?;
        let token = reader_token(app, namespace).await?;
        list_secrets_as(config, token, namespace).await
    }
    .await;
    let removed = apply::delete(app, &objects).await;
    let listed = listed?;
    removed?;
    Ok(listed)
}

async fn reader_token(app: &kube::Client, namespace: &str) -> Result<SecretString> {
    let request = TokenRequest {
        spec: TokenRequestSpec {
            expiration_seconds: Some(600),
            ..Default::default()
        },
        ..Default::default()
    };
    let minted = Api::<ServiceAccount>::namespaced(app.clone(), namespace)
        .create_token_request(READER, &PostParams::default(), &request)
        .await
        .map_err(|e| Error::State(format!("TokenRequest for service account {namespace}/{READER}: {e}")))?;
    let token = minted.status.map(|s| s.token).unwrap_or_default();
    match token.is_empty() {
        true => Err(Error::State(format!(
            "TokenRequest for service account {namespace}/{READER} returned no token"
        ))),
        false => Ok(token.into()),
    }
}

/// The Secrets of `namespace`, listed as the holder of `token`. Forbidden counts as "not yet":
/// the authorizer learns of a new RoleBinding from a watch.
async fn list_secrets_as(config: &kube::Config, token: SecretString, namespace: &str) -> Result<Vec<Secret>> {
    let client = client_with_token(config, token)?;
    let secrets: Api<Secret> = Api::namespaced(client, namespace);
    let what = format!("service account {namespace}/{READER} to list Secrets in {namespace}");
    wait::until(&what, RBAC_PROPAGATION, Duration::from_millis(250), || async {
        match secrets.list(&Default::default()).await {
            Ok(list) => Ok(Some(list.items)),
            Err(kube::Error::Api(status)) if status.code == 403 => Ok(None),
            Err(e) => Err(Error::State(format!(
                "listing Secrets in {namespace} as service account {READER}: {e}"
            ))),
        }
    })
    .await
}

/// A client of the cluster `config` points at, authenticated by `token` alone.
fn client_with_token(config: &kube::Config, token: SecretString) -> Result<kube::Client> {
    let mut config = config.clone();
    config.auth_info = kube::config::AuthInfo {
        token: Some(token),
        ..Default::default()
    };
    kube::Client::try_from(config).map_err(|e| Error::State(format!("a client with the {READER} token: {e}")))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pod(value: serde_json::Value) -> Pod {
        serde_json::from_value(value).unwrap()
    }

    fn data(pairs: &[(&str, &str)]) -> SecretData {
        SecretData::new(pairs.iter().map(|(k, v)| (k.to_string(), SecretString::from(*v))))
    }

    #[test]
    fn privileged_containers_and_host_path_volumes_are_counted_and_named() {
        let consumer = pod(json!({
            "metadata": { "name": "consumer-2-0", "namespace": "ns1" },
            "spec": {
                "initContainers": [
                    { "name": "agent-init", "securityContext": { "privileged": true } },
                ],
                "containers": [
                    { "name": "app", "securityContext": { "privileged": true } },
                    { "name": "agent", "securityContext": { "privileged": false } },
                    { "name": "helper" },
                ],
                "volumes": [
                    { "name": "secrets", "emptyDir": {} },
                    { "name": "plugins", "hostPath": { "path": "/var/lib/kubelet/plugins", "type": "Directory" } },
                ],
            }
        }));
        let found = privileged_and_host_paths(&consumer, |c| c.name != APP);
        assert_eq!(
            found,
            [
                "container agent-init is privileged",
                "volume plugins is hostPath /var/lib/kubelet/plugins"
            ]
        );
        assert_eq!(privileged_and_host_paths(&consumer, |_| true).len(), 3);
        assert!(privileged_and_host_paths(&pod(json!({ "metadata": {} })), |_| true).is_empty());
    }

    #[test]
    fn component_findings_are_named_once_per_workload() {
        let replica = |name: &str| {
            pod(json!({
                "metadata": {
                    "name": name,
                    "namespace": "csi",
                    "ownerReferences": [{ "apiVersion": "apps/v1", "kind": "DaemonSet", "name": "driver", "uid": "u", "controller": true }],
                },
                "spec": {
                    "serviceAccountName": "csi-driver",
                    "containers": [{ "name": "secrets-store", "securityContext": { "privileged": true } }],
                },
            }))
        };
        let lone = pod(json!({
            "metadata": { "name": "provider", "namespace": "csi" },
            "spec": { "containers": [{ "name": "p" }], "volumes": [{ "name": "sock", "hostPath": { "path": "/run/p" } }] },
        }));
        let pods = [replica("driver-a"), replica("driver-b"), lone];
        let found: Vec<String> = component_findings(&pods).into_iter().collect();
        assert_eq!(
            found,
            [
                "DaemonSet csi/driver: container secrets-store is privileged",
                "Pod csi/provider: volume sock is hostPath /run/p"
            ]
        );
        let accounts: Vec<(String, String)> = service_accounts(&pods).into_iter().collect();
        assert_eq!(
            accounts,
            [
                ("csi".to_string(), "csi-driver".to_string()),
                ("csi".to_string(), "default".to_string())
            ]
        );
    }

    fn webhooks(namespace: &str, rules: serde_json::Value) -> MutatingWebhookConfiguration {
        serde_json::from_value(json!({
            "metadata": { "name": "injector" },
            "webhooks": [{
                "name": "vault.hashicorp.com",
                "sideEffects": "None",
                "admissionReviewVersions": ["v1"],
                "clientConfig": { "service": { "name": "svc", "namespace": namespace, "path": "/mutate" } },
                "rules": rules,
            }],
        }))
        .unwrap()
    }

    #[test]
    fn a_webhook_counts_when_served_from_the_components_namespace_and_mutating_pod_creation() {
        let pods_create =
            json!([{ "operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"] }]);
        let injector = webhooks("vault-injector", pods_create.clone());
        assert_eq!(
            webhooks_on_pod_creation(std::slice::from_ref(&injector), "vault-injector"),
            ["MutatingWebhookConfiguration injector: webhook vault.hashicorp.com mutates every pod created"]
        );
        assert!(webhooks_on_pod_creation(&[injector], "elsewhere").is_empty());

        let matches = |rules: serde_json::Value| {
            let config = webhooks("ns", rules);
            mutates_pod_creation(&config.webhooks.unwrap()[0])
        };
        assert!(matches(
            json!([{ "operations": ["*"], "apiGroups": ["*"], "apiVersions": ["*"], "resources": ["*/*"] }])
        ));
        assert!(matches(json!([
            { "operations": ["UPDATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"] },
            { "operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"] },
        ])));
        for other in [
            json!([{ "operations": ["UPDATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"] }]),
            json!([{ "operations": ["CREATE"], "apiGroups": ["apps"], "apiVersions": ["v1"], "resources": ["pods"] }]),
            json!([{ "operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods/exec"] }]),
            json!([{ "operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["configmaps"] }]),
            json!([{ "operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["*"], "scope": "Cluster" }]),
            json!([]),
        ] {
            assert!(!matches(other.clone()), "{other}");
        }
    }

    #[test]
    fn access_reviews_ask_for_the_service_account_in_every_namespace() {
        let body = serde_json::to_value(access_review("vault-injector", "injector", POWERS[0])).unwrap();
        assert_eq!(
            body["spec"],
            json!({
                "user": "system:serviceaccount:vault-injector:injector",
                "groups": ["system:serviceaccounts", "system:serviceaccounts:vault-injector", "system:authenticated"],
                "resourceAttributes": {
                    "namespace": "", "group": "", "verb": "create",
                    "resource": "serviceaccounts", "subresource": "token",
                },
            })
        );
        assert_eq!(body["apiVersion"], "authorization.k8s.io/v1");
        assert_eq!(body["kind"], "SubjectAccessReview");
        let get = serde_json::to_value(access_review("eso", "controller", POWERS[1])).unwrap();
        assert_eq!(get["spec"]["resourceAttributes"]["verb"], "get");
        assert!(get["spec"]["resourceAttributes"].get("subresource").is_none());
        let named: Vec<String> = POWERS.iter().map(ToString::to_string).collect();
        assert_eq!(named, ["create serviceaccounts/token", "get secrets", "list secrets"]);
    }

    #[test]
    fn a_secret_holds_the_value_only_with_every_key_byte_for_byte() {
        let secret = |pairs: serde_json::Value| -> Secret { serde_json::from_value(json!({ "data": pairs })).unwrap() };
        let held = data(&[("username", "admin"), ("password", "s3cr3t")]);
        // `data` is base64: admin, s3cr3t, other.
        let both = secret(json!({ "username": "YWRtaW4=", "password": "czNjcjN0" }));
        let one = secret(json!({ "username": "YWRtaW4=" }));
        let wrong = secret(json!({ "username": "YWRtaW4=", "password": "b3RoZXI=" }));
        assert!(holds_every_value(&both, &held));
        assert!(!holds_every_value(&one, &held));
        assert!(!holds_every_value(&wrong, &held));
        assert!(!holds_every_value(&both, &data(&[])));
        assert!(!holds_every_value(&Secret::default(), &held));
    }

    #[test]
    fn etcd_is_searched_for_the_longest_line_of_the_values() {
        assert_eq!(
            etcd_needle(&data(&[("username", "admin"), ("password", "Zq9WkP2mXv7L")])),
            Some("Zq9WkP2mXv7L")
        );
        assert_eq!(
            etcd_needle(&data(&[(
                "pem",
                "-----BEGIN X-----\nAAAAAAAAAAAAAAAAAAAAAAAA\n-----END X-----\n"
            )])),
            Some("AAAAAAAAAAAAAAAAAAAAAAAA")
        );
        assert_eq!(etcd_needle(&data(&[("empty", "")])), None);
        assert!(grep_answered(0) && grep_answered(1) && !grep_answered(2));
        assert!(grep_found(0) && !grep_found(1));
    }

    #[test]
    fn the_reader_holds_only_get_and_list_on_secrets_in_its_namespace() {
        let objects = apply::documents(&apply::render(SECRET_READER, &[("NAMESPACE", "ns1")]).unwrap()).unwrap();
        let kinds: Vec<&str> = objects.iter().map(|o| o["kind"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["ServiceAccount", "Role", "RoleBinding"]);
        for object in &objects {
            assert_eq!(object["metadata"]["name"], READER);
            assert_eq!(object["metadata"]["namespace"], "ns1");
            assert_eq!(
                object["metadata"]["labels"]["app.kubernetes.io/managed-by"],
                pods::managed_labels()["app.kubernetes.io/managed-by"]
            );
        }
        assert_eq!(
            objects[1]["rules"],
            json!([{ "apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list"] }])
        );
        assert_eq!(objects[2]["subjects"][0]["name"], READER);
    }
}
