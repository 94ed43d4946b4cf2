//! The air-gapped kind clusters `harness up` creates: both run the node image built here and are
//! Ready, CoreDNS answers cluster names and forwards nothing, a pod from a locally built image
//! runs, each cluster reaches the other's API server over the kind network, and nothing was
//! pulled from a registry.
//!
//! Run just these: `cargo nextest run -P e2e -E 'binary(clusters)'`.

use harness::{
    cluster::{Cluster, Role},
    fixtures,
    pods::TestNamespace,
};
use scenarios::{
    env::{cluster, clusters},
    scenario,
};
use tokio::process::Command;

const LOCAL_IMAGE: &str = "harness.local/debian-minbase:bookworm";

async fn docker(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).output().await.expect("docker runs");
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn control_plane(cluster: &Cluster) -> String {
    format!("{}-control-plane", cluster.name)
}

#[tokio::test]
async fn both_clusters_run_the_locally_built_node_image_and_are_ready() {
    scenario(async {
        let built = format!("harness.local/kind-node:{}", fixtures::version("KUBE_VERSION"));
        for cluster in clusters() {
            let node = control_plane(&cluster);
            let image = docker(&["inspect", "--format", "{{.Config.Image}}", &node]).await;
            assert_eq!(image.trim(), built, "{node} runs the node image built here");
            let client = cluster.client().await.unwrap();
            let nodes: kube::Api<k8s_openapi::api::core::v1::Node> = kube::Api::all(client);
            let status = nodes.get(&node).await.unwrap().status.unwrap();
            let ready = status
                .conditions
                .unwrap()
                .into_iter()
                .find(|c| c.type_ == "Ready")
                .unwrap();
            assert_eq!(ready.status, "True", "{node} is Ready");
            let version = status.node_info.unwrap().kubelet_version;
            assert_eq!(
                version,
                fixtures::version("KUBE_VERSION"),
                "kubelet built from the pinned module"
            );
        }
    })
    .await
}

#[tokio::test]
async fn coredns_answers_cluster_names_and_has_no_upstream() {
    scenario(async {
        for cluster in clusters() {
            let client = cluster.client().await.unwrap();
            let ns = TestNamespace::create(&client, "e2e-dns").await.unwrap();
            let lookup = ns
                .run(
                    "lookup",
                    LOCAL_IMAGE,
                    &["getent", "hosts", "kubernetes.default.svc.cluster.local"],
                )
                .await
                .unwrap();
            assert!(
                lookup.succeeded(),
                "{}: {lookup:?} {:?}",
                cluster.name,
                ns.events().await
            );
            assert!(
                lookup.logs.starts_with("10.96.0.1 "),
                "{}: {}",
                cluster.name,
                lookup.logs
            );
            // A name outside the cluster must not resolve: CoreDNS has nowhere to forward it.
            let outside = ns
                .run("outside", LOCAL_IMAGE, &["getent", "hosts", "example.com"])
                .await
                .unwrap();
            assert!(
                !outside.succeeded(),
                "{}: example.com resolved: {}",
                cluster.name,
                outside.logs
            );
            ns.delete().await.unwrap();
        }
    })
    .await
}

#[tokio::test]
async fn a_pod_from_a_locally_built_image_runs_to_completion() {
    scenario(async {
        let app = cluster(Role::App);
        let ns = TestNamespace::create(&app.client().await.unwrap(), "e2e-local-image")
            .await
            .unwrap();
        let outcome = ns
            .run("hello", LOCAL_IMAGE, &["sh", "-c", "echo built-here"])
            .await
            .unwrap();
        assert!(outcome.succeeded(), "{outcome:?} {:?}", ns.events().await);
        assert_eq!(outcome.logs.trim(), "built-here");
        ns.delete().await.unwrap();
    })
    .await
}

#[tokio::test]
async fn a_pod_in_each_cluster_reaches_the_other_clusters_api_server_over_the_kind_network() {
    scenario(async {
        for (from, to) in [
            (cluster(Role::App), cluster(Role::Vault)),
            (cluster(Role::Vault), cluster(Role::App)),
        ] {
            let ns = TestNamespace::create(&from.client().await.unwrap(), "e2e-cross")
                .await
                .unwrap();
            // bash's /dev/tcp: a TCP connection from inside the pod to the other API server.
            let connect = format!("exec 3<>/dev/tcp/{}/6443 && echo connected", to.node_address);
            let outcome = ns.run("cross", LOCAL_IMAGE, &["bash", "-c", &connect]).await.unwrap();
            assert!(outcome.succeeded(), "{} -> {}: {outcome:?}", from.name, to.internal_api);
            assert_eq!(outcome.logs.trim(), "connected");
            ns.delete().await.unwrap();
        }
    })
    .await
}

#[tokio::test]
async fn nothing_was_pulled_from_a_registry() {
    scenario(async {
        for id in docker(&["images", "--quiet", "--no-trunc"]).await.lines() {
            let digests = docker(&["image", "inspect", "--format", "{{.RepoTags}} {{.RepoDigests}}", id]).await;
            assert!(
                digests.trim_end().ends_with("[]"),
                "a pulled image carries a repo digest: {digests}"
            );
        }
        for cluster in clusters() {
            let node = control_plane(&cluster);
            let journal = docker(&["exec", &node, "journalctl", "-u", "containerd", "--no-pager"]).await;
            assert_eq!(
                journal.matches("PullImage").count(),
                0,
                "containerd in {node} pulled an image"
            );
        }
    })
    .await
}
