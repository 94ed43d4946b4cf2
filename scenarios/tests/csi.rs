//! The CSI method's own cases, ported from vault-csi-provider's bats end-to-end tests and run
//! against OpenBao through the real Secrets Store CSI driver and the harness's provider (see
//! docs/csi-provider.md): an inline volume with a per-object file mode on tmpfs, a missing
//! SecretProviderClass, an unauthorised service account, a role with a custom audience, object
//! versions across pod recreation, a JWT auth mount (the kind node's signing key), a PKI
//! certificate issued through `method: PUT` with `secretArgs`, and bad input (a missing key, an unknown role, a malformed `objects` block),
//! each ending in the pod's events with the provider's or Vault's text. Each test has its own
//! namespace (and role, where it needs one) and removes what it added to the shared Vault.
//!
//! Run just these: `cargo nextest run -P e2e -E 'binary(csi)'`.

use std::time::Duration;

use harness::{
    apply,
    delivery::{APP_IMAGE, Method, session::Session},
    pods::{self, TestNamespace},
    secret::ExposeSecret,
    wait,
};
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use scenarios::{env, finally, scenario};
use serde_json::{Value, json};

/// The tuned driver instance (rotation on): what the quick run measures.
const DRIVER: &str = "tuned.secrets-store.csi.k8s.io";
const PROVIDER_NAMESPACE: &str = "secrets-store-csi";
const HMAC_SECRET: &str = "vault-csi-provider-hmac-key";
/// A pod whose volume mounts starts in seconds; the kubelet retries failed mounts with backoff.
const MOUNT_BOUND: Duration = Duration::from_secs(150);

struct Case {
    session: Session,
    ns: TestNamespace,
}

/// The session, the CSI method installed (idempotent), a fresh namespace, and the article's
/// secret (its fields and values) under the namespace's name in the delivery KV mount.
async fn case(prefix: &str) -> Case {
    let session = env::session().await;
    let csi: Method = "csi".parse().unwrap();
    csi.install(&session.app, &session.env().target).await.unwrap();
    let ns = TestNamespace::create(&session.app, prefix).await.unwrap();
    let kv = &session.cfg.kv;
    harness::secret::record_fingerprints(&kv.data).unwrap();
    session
        .writer
        .kv(&kv.mount, kv.version)
        .put(&ns.name, &kv.data)
        .await
        .unwrap();
    Case { session, ns }
}

impl Case {
    fn secret_path(&self) -> String {
        self.session.env().target.secret_path(&self.ns.name)
    }

    /// The `objects` of a class that mounts only the secret's `username` field.
    fn username_object(&self) -> String {
        objects(json!([{"objectName": "username", "secretPath": self.secret_path(), "secretKey": "username"}]))
    }

    /// Asserts that `pod` sees a non-empty `username` file (its value is never printed).
    async fn assert_has_username(&self, pod: &str) {
        let read = self
            .sh(pod, "test -s /mnt/secrets-store/username && echo present")
            .await;
        assert_eq!(read.trim(), "present");
    }

    fn role(&self) -> &str {
        &self.session.cfg.kubernetes_auth.role
    }

    async fn apply(&self, object: Value) {
        apply::apply(&self.session.app, &object.to_string()).await.unwrap();
    }

    /// A SecretProviderClass `name` for the `vault` provider with `parameters`.
    async fn class(&self, name: &str, parameters: Value) {
        self.apply(json!({
            "apiVersion": "secrets-store.csi.x-k8s.io/v1", "kind": "SecretProviderClass",
            "metadata": {"name": name, "namespace": self.ns.name},
            "spec": {"provider": "vault", "parameters": parameters}
        }))
        .await;
    }

    /// A pod running as `account` with the CSI volume of class `class` at /mnt/secrets-store.
    async fn pod(&self, name: &str, class: &str, account: &str) {
        if account != "default" {
            self.apply(json!({"apiVersion": "v1", "kind": "ServiceAccount",
                "metadata": {"name": account, "namespace": self.ns.name}}))
                .await;
        }
        self.apply(json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": self.ns.name},
            "spec": {
                "serviceAccountName": account,
                "terminationGracePeriodSeconds": 1,
                "containers": [{
                    "name": "app", "image": APP_IMAGE, "imagePullPolicy": "Never",
                    "command": ["bash", "-c", "trap 'exit 0' TERM; while sleep 1; do :; done"],
                    "volumeMounts": [{"name": "secrets", "mountPath": "/mnt/secrets-store", "readOnly": true}]
                }],
                "volumes": [{"name": "secrets", "csi": {
                    "driver": DRIVER, "readOnly": true,
                    "volumeAttributes": {"secretProviderClass": class}
                }}]
            }
        }))
        .await;
    }

    async fn running(&self, pod: &str) {
        if let Err(e) = pods::wait_running(&self.session.app, &self.ns.name, pod, MOUNT_BOUND).await {
            panic!("{e}; events: {:#?}", self.ns.events().await);
        }
    }

    async fn sh(&self, pod: &str, script: &str) -> String {
        pods::exec(
            &self.session.app,
            &self.ns.name,
            pod,
            "app",
            &["bash", "-c", script],
            script,
        )
        .await
        .unwrap()
    }

    /// Waits until pod `pod` has a FailedMount event containing every one of `texts`; returns it.
    async fn failed_mount(&self, pod: &str, texts: &[&str]) -> String {
        let what = format!("a FailedMount event of {}/{pod} saying {texts:?}", self.ns.name);
        let found = wait::until(&what, MOUNT_BOUND, Duration::from_millis(500), || async {
            let events = harness::evidence::events(&self.session.app, &self.ns.name).await;
            Ok(events
                .into_iter()
                .find(|e| e.contains(&format!("FailedMount {pod}:")) && texts.iter().all(|t| e.contains(t))))
        })
        .await;
        match found {
            Ok(event) => event,
            Err(e) => panic!("{e}; events: {:#?}", self.ns.events().await),
        }
    }

    /// The object versions the driver recorded for `pod`'s volume (SecretProviderClassPodStatus).
    async fn versions(&self, pod: &str, class: &str) -> Value {
        let api: Api<kube::api::DynamicObject> = Api::namespaced_with(
            self.session.app.clone(),
            &self.ns.name,
            &kube::api::ApiResource {
                group: "secrets-store.csi.x-k8s.io".into(),
                version: "v1".into(),
                api_version: "secrets-store.csi.x-k8s.io/v1".into(),
                kind: "SecretProviderClassPodStatus".into(),
                plural: "secretproviderclasspodstatuses".into(),
            },
        );
        let name = format!("{pod}-{}-{class}", self.ns.name);
        let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(self.session.app.clone(), &self.ns.name);
        let uid = pods.get(pod).await.unwrap().metadata.uid;
        // The status of this pod, not one left by an earlier pod of the same name.
        wait::until(
            &format!("SecretProviderClassPodStatus {name}"),
            MOUNT_BOUND,
            Duration::from_millis(500),
            || async {
                Ok(api.get_opt(&name).await.ok().flatten().and_then(|s| {
                    let owner = s
                        .metadata
                        .owner_references
                        .as_ref()
                        .and_then(|o| o.first())
                        .map(|o| o.uid.clone());
                    let objects = s.data["status"]["objects"].clone();
                    (owner == uid && objects.as_array().is_some_and(|o| !o.is_empty())).then_some(objects)
                }))
            },
        )
        .await
        .unwrap()
    }

    async fn delete_pod(&self, pod: &str) {
        let api: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(self.session.app.clone(), &self.ns.name);
        api.delete(pod, &Default::default()).await.unwrap();
        pods::wait_gone(&self.session.app, &self.ns.name, pod, MOUNT_BOUND)
            .await
            .unwrap();
    }

    /// Writes a role on the kubernetes mount bound to the `default` account, with `extra` fields.
    async fn role_with(&self, name: &str, policies: &[&str], extra: Value) -> String {
        let mount = &self.session.cfg.kubernetes_auth.mount;
        let mut role = json!({
            "bound_service_account_names": ["default"],
            "bound_service_account_namespaces": [self.ns.name],
            "token_policies": policies,
            "ttl": "10m",
        });
        for (k, v) in extra.as_object().unwrap() {
            role[k] = v.clone();
        }
        let path = format!("auth/{mount}/role/{name}");
        self.session
            .writer
            .raw(http::Method::POST, &path, Some(role))
            .await
            .unwrap();
        path
    }

    async fn done(self) {
        self.ns.delete().await.unwrap();
    }
}

/// Deletes `paths` from the shared Vault after `body`, also when it fails.
async fn removing<F: std::future::Future>(session_paths: Vec<String>, body: F) -> F::Output {
    let root = env::root_vault();
    finally(body, async move {
        for path in &session_paths {
            root.raw(http::Method::DELETE, path, None)
                .await
                .map_err(|e| format!("delete {path}: {e}"))?;
        }
        Ok::<(), String>(())
    })
    .await
}

fn objects(list: Value) -> String {
    serde_saphyr::to_string(&list).unwrap()
}

#[tokio::test]
async fn an_inline_volume_is_a_tmpfs_with_the_objects_file_modes_and_the_secrets_values() {
    scenario(async {
        let c = case("csi-inline").await;
        let path = c.secret_path();
        c.class(
            "kv",
            json!({"roleName": c.role(), "objects": objects(json!([
                {"objectName": "username", "secretPath": path, "secretKey": "username", "filePermission": 0o624},
                {"objectName": "password", "secretPath": path, "secretKey": "password"},
            ]))}),
        )
        .await;
        c.pod("nginx-kv", "kv", "default").await;
        c.running("nginx-kv").await;

        let fs = c.sh("nginx-kv", "stat -f -c %T /mnt/secrets-store").await;
        assert_eq!(fs.trim(), "tmpfs");
        let modes = c
            .sh(
                "nginx-kv",
                "stat -L -c %a /mnt/secrets-store/..data/username /mnt/secrets-store/..data/password",
            )
            .await;
        assert_eq!(modes.split_whitespace().collect::<Vec<_>>(), ["624", "644"]);
        let expected = &c.session.cfg.kv.data;
        for field in ["username", "password"] {
            let read = pods::read_file(
                &c.session.app,
                &c.ns.name,
                "nginx-kv",
                "app",
                &format!("/mnt/secrets-store/{field}"),
            )
            .await
            .unwrap();
            assert!(
                read == expected.get(field).unwrap().expose_secret(),
                "{field} differs from Vault's value"
            );
        }
        c.done().await;
    })
    .await
}

#[tokio::test]
async fn a_missing_secretproviderclass_fails_the_mount_with_the_drivers_text() {
    scenario(async {
        let c = case("csi-no-spc").await;
        c.pod("nginx-kv", "vault-kv", "default").await;
        let ns = c.ns.name.clone();
        c.failed_mount(
            "nginx-kv",
            &[&format!("failed to get secretproviderclass {ns}/vault-kv"), "not found"],
        )
        .await;
        c.done().await;
    })
    .await
}

#[tokio::test]
async fn an_unauthorised_service_account_fails_the_mount_with_vaults_text() {
    scenario(async {
        let c = case("csi-wrong-sa").await;
        c.class("kv", json!({"roleName": c.role(), "objects": c.username_object()}))
            .await;
        c.pod("nginx-kv", "kv", "intruder").await;
        let ns = c.ns.name.clone();
        c.failed_mount(
            "nginx-kv",
            &[
                &format!("failed to mount secrets store objects for pod {ns}/nginx-kv"),
                "service account name not authorized",
            ],
        )
        .await;
        c.done().await;
    })
    .await
}

#[tokio::test]
async fn a_role_with_a_custom_audience_is_served_with_a_token_minted_for_it() {
    scenario(async {
        let c = case("csi-audience").await;
        let role = format!("csi-audience-{}", c.ns.name);
        let policy = c.session.cfg.policy.name.clone();
        let added = vec![
            c.role_with(&role, &[&policy], json!({"audience": "custom-audience"}))
                .await,
        ];
        removing(added, async {
            c.class(
                "kv",
                json!({"roleName": role, "audience": "custom-audience",
                       "objects": c.username_object()}),
            )
            .await;
            c.pod("nginx-kv", "kv", "default").await;
            c.running("nginx-kv").await;
            c.assert_has_username("nginx-kv").await;
        })
        .await;
        c.done().await;
    })
    .await
}

#[tokio::test]
async fn object_versions_are_stable_across_pod_recreation_and_follow_the_hmac_key() {
    scenario(async {
        let c = case("csi-versions").await;
        c.class("kv", json!({"roleName": c.role(), "objects": c.username_object()}))
            .await;
        c.pod("nginx-kv", "kv", "default").await;
        c.running("nginx-kv").await;
        let first = c.versions("nginx-kv", "kv").await;
        let secrets: Api<Secret> = Api::namespaced(c.session.app.clone(), PROVIDER_NAMESPACE);
        assert!(
            secrets.get_opt(HMAC_SECRET).await.unwrap().is_some(),
            "the provider created its HMAC key"
        );
        c.delete_pod("nginx-kv").await;
        c.pod("nginx-kv", "kv", "default").await;
        c.running("nginx-kv").await;
        let again = c.versions("nginx-kv", "kv").await;
        assert_eq!(first, again, "same content, same versions");
        assert_eq!(first[0]["version"].as_str().unwrap().len(), 44);

        // A new key (the provider creates one when its Secret is gone) changes every version.
        secrets.delete(HMAC_SECRET, &Default::default()).await.unwrap();
        c.delete_pod("nginx-kv").await;
        c.pod("nginx-kv", "kv", "default").await;
        c.running("nginx-kv").await;
        let rekeyed = c.versions("nginx-kv", "kv").await;
        assert_ne!(
            first[0]["version"], rekeyed[0]["version"],
            "a new HMAC key, new versions"
        );
        c.done().await;
    })
    .await
}

#[tokio::test]
async fn a_pki_certificate_is_issued_through_put_with_secret_args() {
    scenario(async {
        let c = case("csi-pki").await;
        let mount = format!("pki-{}", c.ns.name);
        let policy = format!("csi-pki-{}", c.ns.name);
        let role = format!("csi-pki-{}", c.ns.name);
        let root = &c.session.writer;
        let added = vec![
            c.role_with(&role, &[&policy], json!({})).await,
            format!("sys/policies/acl/{policy}"),
            format!("sys/mounts/{mount}"),
        ];
        removing(added, async {
            root.raw(
                http::Method::POST,
                &format!("sys/mounts/{mount}"),
                Some(json!({"type": "pki", "config": {"max_lease_ttl": "24h"}})),
            )
            .await
            .unwrap();
            root.raw(
                http::Method::POST,
                &format!("{mount}/root/generate/internal"),
                Some(json!({"common_name": "harness.example", "ttl": "24h"})),
            )
            .await
            .unwrap();
            root.raw(
                http::Method::POST,
                &format!("{mount}/roles/example"),
                Some(json!({"allowed_domains": "example.com", "allow_subdomains": true, "max_ttl": "1h"})),
            )
            .await
            .unwrap();
            let rules = format!("path \"{mount}/issue/example\" {{ capabilities = [\"update\"] }}");
            root.raw(
                http::Method::PUT,
                &format!("sys/policies/acl/{policy}"),
                Some(json!({"policy": rules})),
            )
            .await
            .unwrap();
            c.class(
                "pki",
                json!({"roleName": role, "objects": objects(json!([{
                    "objectName": "cert", "secretPath": format!("{mount}/issue/example?ttl=10m"), "method": "PUT",
                    "secretArgs": {"common_name": "a.example.com", "ttl": "10m"}
                }]))}),
            )
            .await;
            c.pod("nginx-pki", "pki", "default").await;
            c.running("nginx-pki").await;
            let whole = pods::read_file(
                &c.session.app,
                &c.ns.name,
                "nginx-pki",
                "app",
                "/mnt/secrets-store/cert",
            )
            .await
            .unwrap();
            let response: Value = serde_json::from_str(&whole).unwrap();
            let pem = response["data"]["certificate"].as_str().unwrap();
            let (_, parsed) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).unwrap();
            let cert = parsed.parse_x509().unwrap();
            let cn: Vec<_> = cert
                .subject()
                .iter_common_name()
                .map(|n| n.as_str().unwrap().to_string())
                .collect();
            assert_eq!(cn, ["a.example.com"]);
            let lifetime = cert.validity().not_after.timestamp() - cert.validity().not_before.timestamp();
            assert!((590..=640).contains(&lifetime), "ttl=10m from secretArgs: {lifetime} s");
        })
        .await;
        c.done().await;
    })
    .await
}

#[tokio::test]
async fn bad_input_ends_in_the_pods_events_with_the_providers_or_vaults_text() {
    scenario(async {
        let c = case("csi-bad-input").await;
        let path = c.secret_path();
        let cases = [
            ("missing-key", json!({"roleName": c.role(), "objects": objects(json!([{"objectName": "a", "secretPath": path, "secretKey": "nope"}]))}),
             vec![format!("{{{path}}}: {{key \"nope\" does not exist at the secret path}}")]),
            ("unknown-role", json!({"roleName": "no-such-role", "objects": objects(json!([{"objectName": "a", "secretPath": path, "secretKey": "username"}]))}),
             vec!["failed to login".to_string(), "Code: 400".to_string()]),
            ("malformed", json!({"roleName": c.role(), "objects": "- objectName: [unclosed"}),
             vec!["yaml".to_string()]),
        ];
        for (name, parameters, _) in &cases {
            c.class(name, parameters.clone()).await;
            c.pod(name, name, "default").await;
        }
        for (name, _, texts) in &cases {
            let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
            c.failed_mount(name, &texts).await;
        }
        c.done().await;
    })
    .await
}

/// The app cluster's service-account signing key, from its kind control-plane node.
fn service_account_public_key() -> String {
    let node = format!("{}-control-plane", env::cluster(harness::cluster::Role::App).name);
    let out = std::process::Command::new("docker")
        .args(["exec", &node, "cat", "/etc/kubernetes/pki/sa.pub"])
        .output()
        .expect("docker");
    assert!(
        out.status.success(),
        "reading sa.pub from {node}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test]
async fn a_jwt_auth_mount_logs_the_pod_in_with_a_token_for_the_vault_audience() {
    scenario(async {
        let c = case("csi-jwt").await;
        let mount = format!("jwt-{}", c.ns.name);
        let policy = c.session.cfg.policy.name.clone();
        let root = &c.session.writer;
        let added = vec![format!("sys/auth/{mount}")];
        removing(added, async {
            root.raw(
                http::Method::POST,
                &format!("sys/auth/{mount}"),
                Some(json!({"type": "jwt"})),
            )
            .await
            .unwrap();
            root.raw(
                http::Method::POST,
                &format!("auth/{mount}/config"),
                Some(json!({"jwt_validation_pubkeys": [service_account_public_key()],
                            "bound_issuer": "https://kubernetes.default.svc.cluster.local"})),
            )
            .await
            .unwrap();
            let subject = format!("system:serviceaccount:{}:default", c.ns.name);
            root.raw(
                http::Method::POST,
                &format!("auth/{mount}/role/jwt-kv"),
                Some(
                    json!({"role_type": "jwt", "bound_audiences": ["vault"], "user_claim": "sub",
                            "bound_subject": subject, "token_policies": [policy], "ttl": "10m"}),
                ),
            )
            .await
            .unwrap();
            c.class(
                "kv",
                json!({"roleName": "jwt-kv", "vaultAuthMountPath": mount, "audience": "vault",
                       "objects": c.username_object()}),
            )
            .await;
            c.pod("nginx-kv", "kv", "default").await;
            c.running("nginx-kv").await;
            c.assert_has_username("nginx-kv").await;
        })
        .await;
        c.done().await;
    })
    .await
}
