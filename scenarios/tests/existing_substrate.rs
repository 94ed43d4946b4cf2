//! `substrate = "existing"`: the harness runs on two clusters it did not create (here, kind
//! clusters created by the test itself) and `down` removes only what it created in them.
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
use k8s_openapi::api::{core::v1::Namespace, rbac::v1::ClusterRoleBinding};
use kube::Api;
use scenarios::{cli::harness_binary, env, scenario};

const CLUSTERS: [&str; 2] = ["ext-vault", "ext-app"];
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
        // The injector and ESO add cluster-wide objects (RBAC, the webhook) `down` must find.
        let session = Session::load(&state, &cfg).await.unwrap();
        for method in [Method::Injector, Method::Eso] {
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
        let default_ns = namespaces.get_opt("default").await.unwrap();
        assert!(default_ns.is_some(), "what the harness did not create stays");
        assert_eq!(
            labelled_cluster_wide(&session.app).await,
            Vec::<String>::new(),
            "the injector's and ESO's cluster-wide objects are removed"
        );
    })
    .await
}
