//! kind as the substrate: two clusters on the shared `kind` Docker network, created in parallel
//! from the node image the harness built (offline) or from upstream's (online).

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use k8s_openapi::api::{
    apps::v1::Deployment,
    core::v1::{ConfigMap, Node},
};
use kube::{
    Api,
    api::{Patch, PatchParams},
};
use serde_json::json;
use tokio::process::Command;

use super::{Cluster, Role, Substrate, coredns};
use crate::{Error, Result, fixtures, paths, process::run_logged, step, wait};

/// kind v0.30.0 with a warm image cache creates a cluster in ~1–3 min on 2 cores.
const CREATE_TIMEOUT: Duration = Duration::from_secs(600);
const NODE_READY_TIMEOUT: Duration = Duration::from_secs(300);
const ROLLOUT_TIMEOUT: Duration = Duration::from_secs(300);
const SHORT_COMMAND: Duration = Duration::from_secs(120);

/// Where the node image comes from (and, online, the images of components with upstream
/// images the harness does not build itself, such as the CSI provider).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImageSource {
    /// Built from source by `harness images build`; nothing is pulled.
    #[default]
    Offline,
    /// Upstream's kindest/node, pulled as usual.
    Online,
}

impl ImageSource {
    /// Offline when the built node image is present; otherwise online. Decided from local
    /// state only: probing a registry would send traffic off the machine.
    pub async fn detect() -> ImageSource {
        let built = Command::new("docker")
            .args(["image", "inspect", &offline_node_image()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .await
            .is_ok_and(|s| s.success());
        if built {
            ImageSource::Offline
        } else {
            ImageSource::Online
        }
    }

    pub fn node_image(self) -> String {
        match self {
            ImageSource::Offline => offline_node_image(),
            // The nightly matrix picks the Kubernetes minor through this variable.
            ImageSource::Online => std::env::var("HARNESS_KIND_NODE_IMAGE")
                .unwrap_or_else(|_| fixtures::version("KIND_ONLINE_NODE_IMAGE").to_string()),
        }
    }
}

fn offline_node_image() -> String {
    format!("harness.local/kind-node:{}", fixtures::version("KUBE_VERSION"))
}

/// Images the harness builds itself: the consumer pods' base, the OpenBao image (server and
/// agents), and every delivery method's own. The offline node image has them all preloaded; on an
/// upstream node image they are loaded with `kind load` (no registry either way).
pub fn local_images() -> Vec<String> {
    let mut images = vec![
        crate::delivery::APP_IMAGE.to_string(),
        format!("harness.local/openbao:{}", fixtures::version("OPENBAO_VERSION")),
    ];
    images.extend(crate::delivery::Method::all().iter().flat_map(|m| m.images()));
    images
}

pub struct Kind {
    binary: PathBuf,
    images: ImageSource,
    names: Vec<(Role, String)>,
    dir: PathBuf,
}

impl Kind {
    /// `dir` holds the kubeconfigs and command logs (`<state-dir>/clusters`).
    pub fn new(names: Vec<(Role, String)>, images: ImageSource, dir: &Path) -> Result<Kind> {
        Ok(Kind {
            binary: kind_binary()?,
            images,
            names,
            dir: dir.to_path_buf(),
        })
    }

    fn log(&self, name: &str) -> PathBuf {
        self.dir.join("logs").join(format!("kind-{name}.log"))
    }

    fn kind(&self) -> Command {
        let mut command = Command::new(&self.binary);
        // kind shells out to docker; keep the user's KUBECONFIG untouched.
        command.env_remove("KUBECONFIG");
        command
    }

    /// Runs `kind <args>` (with the user's KUBECONFIG left out), logged to `log`.
    async fn run(&self, args: &[&str], log: &Path, timeout: Duration) -> Result<String> {
        let what = format!("kind {}", args.iter().take(4).copied().collect::<Vec<_>>().join(" "));
        let mut command = self.kind();
        command.args(args);
        run_logged(&what, &mut command, log, timeout).await
    }

    /// Names of the kind clusters that exist now.
    pub async fn existing(&self) -> Result<Vec<String>> {
        let out = self.run(&["get", "clusters"], &self.log("get"), SHORT_COMMAND).await?;
        Ok(out
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with("No kind"))
            .map(String::from)
            .collect())
    }

    async fn create(&self, role: Role, name: &str, exists: bool) -> Result<Cluster> {
        let kubeconfig = self.dir.join(format!("{name}.kubeconfig"));
        let log = self.log(name);
        if exists {
            step!("cluster {name} ({role}) exists: reusing it");
            let kubeconfig = kubeconfig.to_string_lossy();
            self.run(
                &["export", "kubeconfig", "--name", name, "--kubeconfig", &kubeconfig],
                &log,
                SHORT_COMMAND,
            )
            .await?;
        } else {
            step!(
                "kind create cluster --name {name} --image {} ({role} cluster)",
                self.images.node_image()
            );
            let config = self.dir.join("kind-cluster.yaml");
            std::fs::write(&config, fixtures::KIND_CLUSTER)
                .map_err(Error::io(format!("cannot write {}", config.display())))?;
            let image = self.images.node_image();
            let (config, kubeconfig) = (config.to_string_lossy(), kubeconfig.to_string_lossy());
            let args = [
                "create",
                "cluster",
                "--name",
                name,
                "--image",
                &image,
                "--wait",
                "0s",
                "--config",
                &config,
                "--kubeconfig",
                &kubeconfig,
            ];
            self.run(&args, &log, CREATE_TIMEOUT).await?;
        }
        let node_address = node_address(name, &log).await?;
        let cluster = Cluster {
            role,
            name: name.to_string(),
            kubeconfig,
            context: format!("kind-{name}"),
            internal_api: format!("https://{node_address}:6443"),
            node_address,
            images: self.images,
        };
        let client = cluster.client().await?;
        wait_node_ready(&client, &control_plane(name)).await?;
        let to_load = match self.images {
            ImageSource::Offline => vec![],
            ImageSource::Online => local_images(),
        };
        for image in to_load {
            step!("kind load docker-image {image} --name {name}");
            self.run(&["load", "docker-image", &image, "--name", name], &log, SHORT_COMMAND)
                .await?;
        }
        Ok(cluster)
    }

    /// `kind export kubeconfig` into the user's kubeconfig, on request only.
    pub async fn merge_kubeconfig(&self) -> Result<()> {
        for (_, name) in &self.names {
            step!("kind export kubeconfig --name {name} (into your kubeconfig)");
            // Not `self.run`: this one must see the user's KUBECONFIG, it writes there.
            let mut export = Command::new(&self.binary);
            export.args(["export", "kubeconfig", "--name", name]);
            run_logged(
                &format!("kind export kubeconfig --name {name}"),
                &mut export,
                &self.log(name),
                SHORT_COMMAND,
            )
            .await?;
        }
        Ok(())
    }

    /// `kind export logs` for every existing cluster of this run, into `dir/<cluster>`.
    pub async fn export_logs(&self, dir: &Path) -> Result<()> {
        let existing = self.existing().await?;
        for (_, name) in self.names.iter().filter(|(_, n)| existing.contains(n)) {
            step!("kind export logs --name {name} {}", dir.join(name).display());
            let into = dir.join(name);
            self.run(
                &["export", "logs", "--name", name, &into.to_string_lossy()],
                &self.log(name),
                SHORT_COMMAND,
            )
            .await?;
        }
        Ok(())
    }
}

impl Substrate for Kind {
    async fn up(&self, roles: &[Role]) -> Result<Vec<Cluster>> {
        std::fs::create_dir_all(&self.dir).map_err(Error::io(format!("cannot create {}", self.dir.display())))?;
        let existing = self.existing().await?;
        let creations = self
            .names
            .iter()
            .filter(|(role, _)| roles.contains(role))
            .map(|(role, name)| self.create(*role, name, existing.contains(name)));
        futures::future::try_join_all(creations).await
    }

    /// Deletes every cluster of `names`, found by kind's container label, not only those `kind
    /// get clusters` lists: an interrupted or crashed `up` can leave a node container that the
    /// Docker daemon finishes creating after its client died. Re-checks until none is left.
    async fn down(&self) -> Result<()> {
        for (_, name) in &self.names {
            let deleted = std::cell::Cell::new(0);
            let what = format!("the nodes of cluster {name} to be gone");
            // Two passes when something was deleted: a container still being created when the
            // first pass looked shows up in the second.
            for pass in 0..2 {
                wait::until(&what, SHORT_COMMAND, Duration::from_secs(2), || async {
                    if node_containers(name, &self.log(name)).await?.is_empty() {
                        return Ok(Some(()));
                    }
                    step!("kind delete cluster --name {name}");
                    self.run(&["delete", "cluster", "--name", name], &self.log(name), SHORT_COMMAND)
                        .await?;
                    deleted.set(deleted.get() + 1);
                    Ok(None)
                })
                .await?;
                if deleted.get() == 0 || pass == 1 {
                    break;
                }
                wait::pause(Duration::from_secs(2)).await;
            }
        }
        remove_idle_kind_network(&self.log("network")).await
    }
}

/// Containers (in any state) carrying kind's label for cluster `name`.
async fn node_containers(name: &str, log: &Path) -> Result<Vec<String>> {
    let mut ps = Command::new("docker");
    let filter = format!("label=io.x-k8s.kind.cluster={name}");
    ps.args(["ps", "-a", "--filter", &filter, "--format", "{{.Names}}"]);
    let out = run_logged("docker ps -a (kind nodes)", &mut ps, log, SHORT_COMMAND).await?;
    Ok(out
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect())
}

/// kind creates the `kind` Docker network and never removes it; `down` does, once no container
/// (ours or anyone's) is attached to it any more.
async fn remove_idle_kind_network(log: &Path) -> Result<()> {
    let mut inspect = Command::new("docker");
    inspect.args(["network", "inspect", "kind", "--format", "{{len .Containers}}"]);
    let Ok(attached) = run_logged("docker network inspect kind", &mut inspect, log, SHORT_COMMAND).await else {
        return Ok(()); // no such network
    };
    if attached.trim() == "0" {
        step!("docker network rm kind");
        let mut remove = Command::new("docker");
        remove.args(["network", "rm", "kind"]);
        run_logged("docker network rm kind", &mut remove, log, SHORT_COMMAND).await?;
    }
    Ok(())
}

/// The built kind CLI in the cache, else `kind` on PATH.
pub fn kind_binary() -> Result<PathBuf> {
    let version = fixtures::version("KIND_VERSION");
    let cached = paths::cache_dir()
        .join("images")
        .join(format!("kind-{version}"))
        .join("bin")
        .join("kind");
    if cached.is_file() {
        return Ok(cached);
    }
    paths::on_path("kind").ok_or_else(|| Error::MissingBinary {
        what: format!("kind {version}"),
        hint: "run `harness images build` (builds it from the Go module)".into(),
    })
}

/// The Docker container (and node name) of cluster `name`'s control-plane node.
pub fn control_plane(name: &str) -> String {
    format!("{name}-control-plane")
}

async fn node_address(name: &str, log: &Path) -> Result<String> {
    let node = control_plane(name);
    let mut inspect = Command::new("docker");
    inspect.args([
        "inspect",
        "--format",
        "{{range $net, $cfg := .NetworkSettings.Networks}}{{if eq $net \"kind\"}}{{$cfg.IPAddress}}{{end}}{{end}}",
        &node,
    ]);
    let out = run_logged(&format!("docker inspect {node}"), &mut inspect, log, SHORT_COMMAND).await?;
    let address = out.trim().to_string();
    if address.is_empty() {
        return Err(Error::State(format!("{node} has no address on the kind network")));
    }
    Ok(address)
}

async fn wait_node_ready(client: &kube::Client, node: &str) -> Result<()> {
    let nodes: Api<Node> = Api::all(client.clone());
    // Polled rather than watched: right after a (re)start the API server refuses connections for
    // a while, which is "not ready yet", not a failure.
    wait::until(
        &format!("node {node} to be Ready"),
        NODE_READY_TIMEOUT,
        Duration::from_secs(1),
        || async {
            let ready = nodes
                .get(node)
                .await
                .ok()
                .and_then(|n| n.status)
                .and_then(|s| s.conditions)
                .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
            Ok(ready.then_some(()))
        },
    )
    .await
}

/// Removes CoreDNS's upstream forwarder and waits for CoreDNS to run with it.
pub async fn isolate_dns(cluster: &Cluster) -> Result<()> {
    let client = cluster.client().await?;
    drop_dns_upstream(&client, &cluster.name).await
}

async fn drop_dns_upstream(client: &kube::Client, cluster: &str) -> Result<()> {
    let kube_error = |what: &str| {
        let what = format!("{what} in cluster {cluster}");
        move |e: kube::Error| Error::State(format!("{what}: {e}"))
    };
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), "kube-system");
    let current = config_maps
        .get("coredns")
        .await
        .map_err(kube_error("reading the CoreDNS config"))?;
    let corefile = current
        .data
        .as_ref()
        .and_then(|d| d.get("Corefile"))
        .cloned()
        .unwrap_or_default();
    let isolated = coredns::without_forward(&corefile);
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "kube-system");
    if isolated != corefile {
        step!("CoreDNS in {cluster}: remove the upstream forwarder");
        let patch = json!({ "data": { "Corefile": isolated } });
        config_maps
            .patch("coredns", &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map_err(kube_error("patching the CoreDNS config"))?;
        // The restart also trims CoreDNS for a single-node test cluster: one replica, and a 1 s
        // readiness period instead of 10 s (two replicas rolling one after the other made this
        // the slowest step of `up`, ~20 s measured).
        let restart = json!({ "spec": {
            "replicas": 1,
            "template": {
                "metadata": { "annotations": { "harness/corefile": "no-upstream" } },
                "spec": { "containers": [{ "name": "coredns", "readinessProbe": { "periodSeconds": 1 } }] }
            }
        } });
        deployments
            .patch("coredns", &PatchParams::default(), &Patch::Strategic(&restart))
            .await
            .map_err(kube_error("restarting CoreDNS"))?;
    }
    let what = format!("CoreDNS in {cluster} to roll out");
    wait::until(&what, ROLLOUT_TIMEOUT, Duration::from_millis(500), || async {
        let d = deployments
            .get("coredns")
            .await
            .map_err(kube_error("reading the CoreDNS deployment"))?;
        Ok(rolled_out(&d).then_some(()))
    })
    .await
}

/// Every replica updated and available, and the controller has seen the latest spec.
pub fn rolled_out(d: &Deployment) -> bool {
    let wanted = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let Some(status) = &d.status else { return false };
    status.observed_generation >= d.metadata.generation
        && status.updated_replicas.unwrap_or(0) == wanted
        && status.available_replicas.unwrap_or(0) == wanted
        && status.replicas.unwrap_or(0) == wanted
}
