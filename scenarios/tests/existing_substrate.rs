//! `substrate = "existing"`: the harness runs on two clusters it did not create (here, kind
//! clusters created by the test itself) and `down` removes only what it created in them: the
//! clusters stay, and so do a namespace and service accounts their owner made before `harness up`.
//!
//! The test creates two more clusters next to the ones under test, so it runs alone (nextest
//! profile overrides). Run just it: `cargo nextest run -P e2e -E 'binary(existing_substrate)'`.

use std::{path::Path, process::Command};

use harness::{
    cluster::{Role, kind},
    config::Config,
    delivery::{Method, session::Session},
    fixtures,
    secret::ExposeSecret,
    tier::vault::expect,
    vault::{Vault, in_cluster},
};
use k8s_openapi::api::{
    core::v1::{Namespace, ServiceAccount},
    rbac::v1::ClusterRoleBinding,
};
use kube::{
    Api,
    api::{ObjectMeta, PostParams},
};
use scenarios::{cli::harness_binary, env, scenario};

const CLUSTERS: [&str; 2] = ["ext-vault", "ext-app"];
/// A namespace and a service account the clusters' owner made, without the harness's label.
const USER_NAMESPACE: &str = "team-payments";
const USER_ACCOUNT: &str = "payments-app";

/// Cluster-wide objects labelled as the harness's, as `kind name`.
async fn labelled_cluster_wide(client: &kube::Client) -> Vec<String> {
    let found = harness::cluster::existing::labelled_cluster_wide(client).await.unwrap();
    found
        .into_iter()
        .map(|(kind, name)| format!("{} {name}", kind.kind))
        .collect()
}

/// Deletes the separately created clusters however the test ends.
struct Created;

impl Drop for Created {
    fn drop(&mut self) {
        let kind = kind::kind_binary().unwrap();
        for name in CLUSTERS {
            let _ = Command::new(&kind).args(["delete", "cluster", "--name", name]).output();
        }
    }
}

fn harness(config: &Path, state: &Path, args: &[&str]) -> std::process::Output {
    Command::new(harness_binary())
        .arg("--config")
        .arg(config)
        .arg("--state-dir")
        .arg(state)
        .args(args)
        .output()
        .expect("the harness binary built by the e2e setup script")
}

/// What the owner of a cluster has in it before the harness comes: namespace [`USER_NAMESPACE`]
/// with service account [`USER_ACCOUNT`], and a [`USER_ACCOUNT`] in `default` too, next to the
/// reviewer account `harness up` adds there (and `down` removes).
fn user_owned() -> [(&'static str, &'static str); 2] {
    [(USER_NAMESPACE, USER_ACCOUNT), ("default", USER_ACCOUNT)]
}

async fn create_user_owned(client: &kube::Client) {
    let namespace = Namespace {
        metadata: ObjectMeta {
            name: Some(USER_NAMESPACE.into()),
            ..Default::default()
        },
        ..Default::default()
    };
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &namespace)
        .await
        .unwrap();
    for (namespace, name) in user_owned() {
        let account = ServiceAccount {
            metadata: ObjectMeta {
                name: Some(name.into()),
                ..Default::default()
            },
            ..Default::default()
        };
        Api::<ServiceAccount>::namespaced(client.clone(), namespace)
            .create(&PostParams::default(), &account)
            .await
            .unwrap();
    }
}

/// The user-owned objects that are gone or going (deletion requested), as `kind namespace/name`.
async fn user_owned_missing(client: &kube::Client) -> Vec<String> {
    let going = |meta: &ObjectMeta| meta.deletion_timestamp.is_some();
    let mut missing = Vec::new();
    let namespace = Api::<Namespace>::all(client.clone())
        .get_opt(USER_NAMESPACE)
        .await
        .unwrap();
    if namespace.is_none_or(|n| going(&n.metadata)) {
        missing.push(format!("Namespace {USER_NAMESPACE}"));
    }
    for (namespace, name) in user_owned() {
        let account = Api::<ServiceAccount>::namespaced(client.clone(), namespace)
            .get_opt(name)
            .await
            .unwrap();
        if account.is_none_or(|a| going(&a.metadata)) {
            missing.push(format!("ServiceAccount {namespace}/{name}"));
        }
    }
    missing
}

#[tokio::test]
async fn harness_up_runs_on_two_given_contexts_and_down_removes_only_what_it_created() {
    scenario(async {
        let work = tempfile::tempdir().unwrap();
        let kubeconfig = work.path().join("kubeconfig");
        let kind = kind::kind_binary().unwrap();
        let image = kind::ImageSource::Offline.node_image();
        let cluster_config = work.path().join("kind.yaml");
        std::fs::write(&cluster_config, fixtures::KIND_CLUSTER).unwrap();
        let _created = Created;
        for name in CLUSTERS {
            let out = Command::new(&kind)
                .args(["create", "cluster", "--name", name, "--image", &image, "--config"])
                .arg(&cluster_config)
                .arg("--kubeconfig")
                .arg(&kubeconfig)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "kind create {name}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let mut owners = Vec::new();
        for name in CLUSTERS {
            let client = env::client_for_context(&kubeconfig, &format!("kind-{name}")).await;
            create_user_owned(&client).await;
            owners.push((name, client));
        }
        let config = work.path().join("harness.toml");
        let toml = format!(
            "[clusters]\nsubstrate = \"existing\"\nvault = \"kind-ext-vault\"\napp = \"kind-ext-app\"\nkubeconfig = {:?}\n",
            kubeconfig.display().to_string()
        );
        std::fs::write(&config, toml).unwrap();
        let state = work.path().join("state");

        let up = harness(&config, &state, &["up"]);
        assert!(up.status.success(), "up: {}", String::from_utf8_lossy(&up.stderr));

        let cfg = Config::load(Some(&config)).unwrap();
        let clusters = harness::cluster::load(&state).unwrap();
        let app = clusters.iter().find(|c| c.role == Role::App).unwrap();
        let ns = harness::pods::TestNamespace::create(&app.client().await.unwrap(), "e2e-existing")
            .await
            .unwrap();
        let jwt = env::token_request(ns.client(), &ns.name, "default").await;
        let vault = Vault::connect(&in_cluster::load(&state).unwrap().endpoint, None).unwrap();
        let body = serde_json::json!({ "role": cfg.kubernetes_auth.role, "jwt": jwt.expose_secret() });
        let login = vault
            .login(&format!("{}/login", cfg.kubernetes_auth.mount), body)
            .await
            .unwrap();
        expect::ttl_capped(&login, &cfg).assert_passed();
        // Every method that creates cluster-wide objects (RBAC, webhooks) installs them, for `down` to find.
        let session = Session::load(&state, &cfg).await.unwrap();
        for method in Method::all().into_iter().filter(|m| !m.cluster_scoped_kinds().is_empty()) {
            method.install(&session.app, &session.env().target).await.unwrap();
        }
        assert!(!labelled_cluster_wide(&session.app).await.is_empty());

        let down = harness(&config, &state, &["down"]);
        assert!(down.status.success(), "down: {}", String::from_utf8_lossy(&down.stderr));
        let listed = Command::new(&kind).args(["get", "clusters"]).output().unwrap();
        let listed = String::from_utf8_lossy(&listed.stdout);
        assert!(
            CLUSTERS.iter().all(|c| listed.lines().any(|l| l == *c)),
            "the clusters stay: {listed}"
        );
        let vault_cluster = clusters.iter().find(|c| c.role == Role::Vault).unwrap();
        let namespaces: Api<Namespace> = Api::all(vault_cluster.client().await.unwrap());
        let gone = namespaces
            .get_opt("vault")
            .await
            .unwrap()
            .is_none_or(|n| n.metadata.deletion_timestamp.is_some());
        assert!(gone, "the vault namespace is removed");
        let bindings: Api<ClusterRoleBinding> = Api::all(app.client().await.unwrap());
        assert!(
            bindings.get_opt("vault-auth-delegator").await.unwrap().is_none(),
            "the reviewer binding is removed"
        );
        for (name, client) in &owners {
            assert_eq!(
                user_owned_missing(client).await,
                Vec::<String>::new(),
                "what the owner of {name} created before `harness up` stays"
            );
        }
        assert_eq!(
            labelled_cluster_wide(&session.app).await,
            Vec::<String>::new(),
            "the injector's and ESO's cluster-wide objects are removed"
        );
    })
    .await
}
