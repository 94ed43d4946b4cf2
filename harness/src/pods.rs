//! Short-lived pods for checks: run a command in an image, wait (bounded) for it to finish, read
//! its logs. Each caller works in its own namespace, removed by [`TestNamespace::delete`].

use std::{collections::BTreeMap, time::Duration};

use k8s_openapi::api::core::v1::{Namespace, Pod, ServiceAccount};
use kube::{
    Api,
    api::{DeleteParams, LogParams, PostParams},
};
use serde_json::json;

use crate::{Error, Result, wait};

const POD_TIMEOUT: Duration = Duration::from_secs(180);

/// A namespace with a random suffix, for one scenario.
pub struct TestNamespace {
    client: kube::Client,
    pub name: String,
}

impl TestNamespace {
    pub async fn create(client: &kube::Client, prefix: &str) -> Result<TestNamespace> {
        use rand::distr::{Alphanumeric, SampleString};
        let suffix = Alphanumeric.sample_string(&mut rand::rng(), 6).to_lowercase();
        let name = format!("{prefix}-{suffix}");
        let namespace: Namespace = serde_json::from_value(json!({
            "metadata": { "name": name, "labels": { "app.kubernetes.io/managed-by": "vault-k8s-harness" } }
        }))
        .map_err(|e| Error::State(format!("namespace manifest: {e}")))?;
        Api::<Namespace>::all(client.clone())
            .create(&PostParams::default(), &namespace)
            .await
            .map_err(|e| Error::State(format!("cannot create namespace {name}: {e}")))?;
        let created = TestNamespace {
            client: client.clone(),
            name,
        };
        // A pod created before the service-account controller has made `default` in the new
        // namespace is refused ("serviceaccount \"default\" not found"; seen in CI).
        let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), &created.name);
        let what = format!("service account default in the new namespace {}", created.name);
        let ready = wait::until(&what, Duration::from_secs(60), Duration::from_millis(200), || async {
            let found = accounts
                .get_opt("default")
                .await
                .map_err(|e| Error::State(format!("reading service account default: {e}")))?;
            Ok(found.map(drop))
        })
        .await;
        match ready {
            Ok(()) => Ok(created),
            Err(e) => {
                let _ = created.delete().await;
                Err(e)
            }
        }
    }

    /// Runs `command` in `image` (never pulled) to completion; returns its phase and logs.
    pub async fn run(&self, pod: &str, image: &str, command: &[&str]) -> Result<PodOutcome> {
        let spec = json!({
            "restartPolicy": "Never",
            "containers": [{ "name": "main", "image": image, "imagePullPolicy": "Never", "command": command }]
        });
        self.run_spec(pod, spec).await
    }

    /// Runs a pod with the given spec (restartPolicy Never) to completion; returns phase and logs.
    pub async fn run_spec(&self, pod: &str, spec: serde_json::Value) -> Result<PodOutcome> {
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), &self.name);
        let manifest: Pod = serde_json::from_value(json!({ "metadata": { "name": pod }, "spec": spec }))
            .map_err(|e| Error::State(format!("pod manifest: {e}")))?;
        pods.create(&PostParams::default(), &manifest)
            .await
            .map_err(|e| Error::State(format!("cannot create pod {}/{pod}: {e}", self.name)))?;
        let what = format!("pod {}/{pod} to finish", self.name);
        let phase = wait::until(&what, POD_TIMEOUT, Duration::from_millis(500), || async {
            let current = pods
                .get(pod)
                .await
                .map_err(|e| Error::State(format!("reading pod {pod}: {e}")))?;
            let phase = current.status.and_then(|s| s.phase).unwrap_or_default();
            Ok(matches!(phase.as_str(), "Succeeded" | "Failed").then_some(phase))
        })
        .await?;
        let logs = pods
            .logs(pod, &LogParams::default())
            .await
            .map_err(|e| Error::State(format!("reading logs of pod {pod}: {e}")))?;
        Ok(PodOutcome { phase, logs })
    }

    /// Events of this namespace, for failure evidence.
    pub async fn events(&self) -> Vec<String> {
        crate::evidence::events(&self.client, &self.name).await
    }

    pub fn client(&self) -> &kube::Client {
        &self.client
    }

    pub async fn delete(self) -> Result<()> {
        Api::<Namespace>::all(self.client.clone())
            .delete(&self.name, &DeleteParams::background())
            .await
            .map(drop)
            .map_err(|e| Error::State(format!("cannot delete namespace {}: {e}", self.name)))
    }
}

/// `cat <path>` in a container of a running pod, bounded.
pub async fn read_file(
    client: &kube::Client,
    namespace: &str,
    pod: &str,
    container: &str,
    path: &str,
) -> Result<String> {
    exec(
        client,
        namespace,
        pod,
        container,
        &["cat", path],
        &format!("cat {path}"),
    )
    .await
}

/// Runs `command` in a container of a running pod and returns its stdout (bounded, 30 s).
pub async fn exec(
    client: &kube::Client,
    namespace: &str,
    pod: &str,
    container: &str,
    command: &[&str],
    shown: &str,
) -> Result<String> {
    Ok(exec_streams(client, namespace, pod, container, command, shown, false)
        .await?
        .0)
}

/// [`exec`] returning stdout and, when `stderr` is set, stderr too (a Go binary's `--help`
/// prints there).
pub async fn exec_streams(
    client: &kube::Client,
    namespace: &str,
    pod: &str,
    container: &str,
    command: &[&str],
    shown: &str,
    stderr: bool,
) -> Result<(String, String)> {
    use kube::api::AttachParams;
    use tokio::io::{AsyncRead, AsyncReadExt};
    async fn drain(stream: Option<impl AsyncRead + Unpin>, what: &str) -> Result<String> {
        let mut out = String::new();
        if let Some(mut stream) = stream {
            stream
                .read_to_string(&mut out)
                .await
                .map_err(Error::io(what.to_string()))?;
        }
        Ok(out)
    }
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let what = format!("{shown} in {namespace}/{pod}/{container}");
    wait::within(&what, Duration::from_secs(30), async {
        let params = AttachParams::default().container(container).stderr(stderr);
        let mut process = pods
            .exec(pod, command.iter().copied(), &params)
            .await
            .map_err(|e| Error::State(format!("{what}: {e}")))?;
        let (out, err) = tokio::try_join!(drain(process.stdout(), &what), drain(process.stderr(), &what))?;
        process.join().await.map_err(|e| Error::State(format!("{what}: {e}")))?;
        Ok((out, err))
    })
    .await
}

/// Follows a container's log and forwards every line, as it arrives, to the returned channel.
pub async fn follow_log(
    client: &kube::Client,
    namespace: &str,
    pod: &str,
    container: &str,
) -> Result<tokio::sync::mpsc::UnboundedReceiver<String>> {
    use futures::{AsyncBufReadExt, StreamExt};
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let params = LogParams {
        follow: true,
        container: Some(container.to_string()),
        ..Default::default()
    };
    let stream = pods
        .log_stream(pod, &params)
        .await
        .map_err(|e| Error::State(format!("following the log of {namespace}/{pod}/{container}: {e}")))?;
    let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut lines = stream.lines();
        while let Some(Ok(line)) = lines.next().await {
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    Ok(receiver)
}

/// Waits (bounded) until a pod is Running.
pub async fn wait_running(client: &kube::Client, namespace: &str, pod: &str, timeout: Duration) -> Result<()> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    wait::until(
        &format!("pod {namespace}/{pod} to run"),
        timeout,
        Duration::from_millis(250),
        || async {
            let current = pods
                .get(pod)
                .await
                .map_err(|e| Error::State(format!("reading pod {pod}: {e}")))?;
            Ok((current.status.and_then(|s| s.phase).as_deref() == Some("Running")).then_some(()))
        },
    )
    .await
}

/// The files directly under `dir` in a container, by name (bounded). Read by a shell loop that
/// separates names and contents with NUL bytes; the contents are secrets and are kept as such.
pub async fn read_files(
    client: &kube::Client,
    namespace: &str,
    pod: &str,
    container: &str,
    dir: &str,
) -> Result<BTreeMap<String, crate::secret::SecretString>> {
    let script = format!(
        r#"for f in {dir}/*; do [ -f "$f" ] || continue; printf '%s\0' "${{f##*/}}"; cat "$f"; printf '\0'; done"#
    );
    let out = exec(
        client,
        namespace,
        pod,
        container,
        &["sh", "-c", &script],
        &format!("read {dir}"),
    )
    .await?;
    let parts: Vec<&str> = out.split('\0').collect();
    Ok(parts
        .chunks_exact(2)
        .map(|pair| (pair[0].to_string(), crate::secret::SecretString::from(pair[1])))
        .collect())
}

/// Waits (bounded) until a Deployment has all its replicas ready.
pub async fn wait_deployment_ready(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    timeout: Duration,
) -> Result<()> {
    use k8s_openapi::api::apps::v1::Deployment;
    let api: Api<Deployment> = Api::namespaced(client.clone(), namespace);
    wait::until(
        &format!("deployment {namespace}/{name} to be ready"),
        timeout,
        Duration::from_millis(500),
        || async {
            let current = api
                .get(name)
                .await
                .map_err(|e| Error::State(format!("reading deployment {namespace}/{name}: {e}")))?;
            let wanted = current.spec.and_then(|s| s.replicas).unwrap_or(1);
            let ready = current.status.and_then(|s| s.ready_replicas).unwrap_or(0);
            Ok((ready >= wanted).then_some(()))
        },
    )
    .await
}

/// Waits (bounded) until a DaemonSet runs a ready pod of its current template on every node it wants.
pub async fn wait_daemonset_ready(client: &kube::Client, namespace: &str, name: &str, timeout: Duration) -> Result<()> {
    use k8s_openapi::api::apps::v1::DaemonSet;
    let api: Api<DaemonSet> = Api::namespaced(client.clone(), namespace);
    wait::until(
        &format!("daemonset {namespace}/{name} to be ready"),
        timeout,
        Duration::from_millis(500),
        || async {
            let current = api
                .get(name)
                .await
                .map_err(|e| Error::State(format!("reading daemonset {namespace}/{name}: {e}")))?;
            // The status must describe the current template: right after an apply that changed
            // it, the old pods are still counted as ready.
            let generation = current.metadata.generation;
            let ready = current.status.is_some_and(|s| {
                s.observed_generation >= generation
                    && s.desired_number_scheduled > 0
                    && s.number_ready == s.desired_number_scheduled
                    && s.updated_number_scheduled.unwrap_or(0) == s.desired_number_scheduled
            });
            Ok(ready.then_some(()))
        },
    )
    .await
}

/// Waits (bounded) until a CustomResourceDefinition is established (its API is served).
pub async fn wait_crd_established(client: &kube::Client, name: &str, timeout: Duration) -> Result<()> {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    wait::until(
        &format!("CRD {name} to be established"),
        timeout,
        Duration::from_millis(250),
        || async {
            let crd = api
                .get(name)
                .await
                .map_err(|e| Error::State(format!("reading CRD {name}: {e}")))?;
            let established = crd
                .status
                .and_then(|s| s.conditions)
                .unwrap_or_default()
                .iter()
                .any(|c| c.type_ == "Established" && c.status == "True");
            Ok(established.then_some(()))
        },
    )
    .await
}

/// Waits (bounded) until a pod no longer exists.
pub async fn wait_gone(client: &kube::Client, namespace: &str, pod: &str, timeout: Duration) -> Result<()> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    wait::until(
        &format!("pod {namespace}/{pod} to be gone"),
        timeout,
        Duration::from_millis(250),
        || async {
            match pods.get_opt(pod).await {
                Ok(found) => Ok(found.is_none().then_some(())),
                Err(e) => Err(Error::State(format!("reading pod {pod}: {e}"))),
            }
        },
    )
    .await
}

/// A pod as the API server holds it (admitted: mutated by the webhooks, defaults filled in).
pub async fn get(client: &kube::Client, namespace: &str, pod: &str) -> Result<Pod> {
    Api::<Pod>::namespaced(client.clone(), namespace)
        .get(pod)
        .await
        .map_err(|e| Error::State(format!("reading pod {namespace}/{pod}: {e}")))
}

/// The pods of `namespace` that match the label `selector` (every pod when it is empty).
pub async fn list(client: &kube::Client, namespace: &str, selector: &str) -> Result<Vec<Pod>> {
    let params = match selector.is_empty() {
        true => kube::api::ListParams::default(),
        false => kube::api::ListParams::default().labels(selector),
    };
    let pods = Api::<Pod>::namespaced(client.clone(), namespace)
        .list(&params)
        .await
        .map_err(|e| Error::State(format!("listing pods {selector:?} in {namespace}: {e}")))?;
    Ok(pods.items)
}

/// Every InternalIP of the cluster's nodes: where its pods' requests to an outside server come
/// from (kind nodes, without SNAT to another address).
pub async fn node_addresses(client: &kube::Client) -> Result<Vec<String>> {
    let nodes = Api::<k8s_openapi::api::core::v1::Node>::all(client.clone())
        .list(&Default::default())
        .await
        .map_err(|e| Error::State(format!("listing nodes: {e}")))?;
    Ok(nodes
        .items
        .into_iter()
        .filter_map(|n| n.status?.addresses)
        .flatten()
        .filter(|a| a.type_ == "InternalIP")
        .map(|a| a.address)
        .collect())
}

/// Pod created → `container` started running, in seconds, both as the cluster recorded them
/// (whole seconds: creationTimestamp and the kubelet's startedAt).
pub async fn container_start_delay(client: &kube::Client, namespace: &str, pod: &str, container: &str) -> Result<f64> {
    let current = get(client, namespace, pod).await?;
    let created = current.metadata.creation_timestamp.map(|t| t.0);
    let statuses = current.status.and_then(|s| s.container_statuses).unwrap_or_default();
    let started = statuses
        .into_iter()
        .find(|c| c.name == container)
        .and_then(|c| c.state?.running?.started_at)
        .map(|t| t.0);
    match (created, started) {
        (Some(created), Some(started)) => Ok((started.as_second() - created.as_second()) as f64),
        _ => Err(Error::State(format!(
            "pod {namespace}/{pod} has no creation time or its container {container} is not running"
        ))),
    }
}

/// A pod's phase (`Pending`, `Running`, ...), if it reports one.
pub async fn phase(client: &kube::Client, namespace: &str, pod: &str) -> Result<Option<String>> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let current = pods
        .get(pod)
        .await
        .map_err(|e| Error::State(format!("reading pod {pod}: {e}")))?;
    Ok(current.status.and_then(|s| s.phase))
}

/// Names of a pod's init containers and containers.
pub async fn container_names(client: &kube::Client, namespace: &str, pod: &str) -> Result<Vec<String>> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let current = pods
        .get(pod)
        .await
        .map_err(|e| Error::State(format!("reading pod {pod}: {e}")))?;
    let spec = current.spec.unwrap_or_default();
    Ok(spec
        .init_containers
        .unwrap_or_default()
        .into_iter()
        .chain(spec.containers)
        .map(|c| c.name)
        .collect())
}

/// Restarts of every container of a pod, summed.
pub async fn restarts(client: &kube::Client, namespace: &str, pod: &str) -> Result<i32> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let current = pods
        .get(pod)
        .await
        .map_err(|e| Error::State(format!("reading pod {pod}: {e}")))?;
    let statuses = current.status.and_then(|s| s.container_statuses).unwrap_or_default();
    Ok(statuses.iter().map(|c| c.restart_count).sum())
}

#[derive(Debug)]
pub struct PodOutcome {
    pub phase: String,
    pub logs: String,
}

impl PodOutcome {
    pub fn succeeded(&self) -> bool {
        self.phase == "Succeeded"
    }
}

/// Labels every object the harness creates carries, so `down` finds leftovers.
pub fn managed_labels() -> BTreeMap<String, String> {
    BTreeMap::from([(
        "app.kubernetes.io/managed-by".to_string(),
        "vault-k8s-harness".to_string(),
    )])
}
