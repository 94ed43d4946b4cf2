//! What a method asks of the cluster and where it keeps the secret, read from admitted pods: the
//! CPU and memory its containers request, counted the way the scheduler counts a pod, and what
//! backs the application container's secrets directory.

use k8s_openapi::api::core::v1::{
    Container, Pod, PodSpec, ProjectedVolumeSource, Volume, VolumeMount, VolumeProjection,
};

use super::{APP, SECRETS_DIR};
use crate::{Error, Result};

/// CPU and memory requests.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Requests {
    pub cpu_millicores: f64,
    pub memory_mib: f64,
}

impl Requests {
    fn plus(self, other: Requests) -> Requests {
        Requests {
            cpu_millicores: self.cpu_millicores + other.cpu_millicores,
            memory_mib: self.memory_mib + other.memory_mib,
        }
    }

    /// The larger of each resource.
    fn max(self, other: Requests) -> Requests {
        Requests {
            cpu_millicores: self.cpu_millicores.max(other.cpu_millicores),
            memory_mib: self.memory_mib.max(other.memory_mib),
        }
    }
}

/// A Kubernetes quantity (`250m`, `0.5`, `64Mi`, `1G`) in its base unit (cores, bytes).
pub fn quantity(text: &str) -> Result<f64> {
    let invalid = || Error::State(format!("`{text}` is not a Kubernetes quantity"));
    let digits = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(digits);
    let multiplier = match suffix {
        "" => 1.0,
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "Ki" => 1024.0,
        "Mi" => 1024.0_f64.powi(2),
        "Gi" => 1024.0_f64.powi(3),
        "Ti" => 1024.0_f64.powi(4),
        _ => return Err(invalid()),
    };
    let value: f64 = number.parse().map_err(|_| invalid())?;
    Ok(value * multiplier)
}

/// A container's requests; a resource it does not request counts 0.
fn container_requests(pod: &str, container: &Container) -> Result<Requests> {
    let requests = container.resources.as_ref().and_then(|r| r.requests.as_ref());
    let requested = |resource: &str| -> Result<f64> {
        match requests.and_then(|r| r.get(resource)) {
            Some(q) => {
                quantity(&q.0).map_err(|e| Error::State(format!("{resource} request of {pod}/{}: {e}", container.name)))
            }
            None => Ok(0.0),
        }
    };
    Ok(Requests {
        cpu_millicores: requested("cpu")? * 1000.0,
        memory_mib: requested("memory")? / (1024.0 * 1024.0),
    })
}

/// The requests the scheduler counts for the containers of `pod` that `counted` accepts, per
/// resource: the regular containers and the native sidecars (restartable init containers) side
/// by side, or the largest init container with the sidecars started before it, if that is more.
pub fn pod_requests(pod: &Pod, counted: impl Fn(&Container) -> bool) -> Result<Requests> {
    let Some(spec) = &pod.spec else {
        return Ok(Requests::default());
    };
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    let mut running = Requests::default();
    for container in spec.containers.iter().filter(|c| counted(c)) {
        running = running.plus(container_requests(name, container)?);
    }
    let (mut sidecars, mut init) = (Requests::default(), Requests::default());
    for container in spec.init_containers.iter().flatten().filter(|c| counted(c)) {
        let own = container_requests(name, container)?;
        if container.restart_policy.as_deref() == Some("Always") {
            running = running.plus(own);
            sidecars = sidecars.plus(own);
            init = init.max(sidecars);
        } else {
            init = init.max(own.plus(sidecars));
        }
    }
    Ok(running.max(init))
}

/// The requests a method added to an admitted consumer pod: every container but the app's.
pub fn added_requests(pod: &Pod) -> Result<Requests> {
    pod_requests(pod, |c| c.name != APP)
}

/// The requests of the pods the scheduler still counts (not finished), summed.
pub fn total_requests(pods: &[Pod]) -> Result<Requests> {
    let finished = |pod: &Pod| {
        let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
        matches!(phase, Some("Succeeded" | "Failed"))
    };
    pods.iter()
        .filter(|pod| !finished(pod))
        .try_fold(Requests::default(), |total, pod| {
            Ok(total.plus(pod_requests(pod, |_| true)?))
        })
}

/// What backs the application container's secrets directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecretMount {
    /// An emptyDir another container of the pod also mounts (the one that writes the files).
    SharedVolume,
    /// A volume only the application container mounts (a CSI volume, typically).
    Volume,
    /// A Secret volume, or a projected volume of Secrets only.
    KubernetesSecret,
    Other,
}

impl SecretMount {
    /// The class as samples record it.
    pub fn name(self) -> &'static str {
        match self {
            SecretMount::SharedVolume => "shared_volume",
            SecretMount::Volume => "volume",
            SecretMount::KubernetesSecret => "kubernetes_secret",
            SecretMount::Other => "other",
        }
    }
}

/// What backs [`SECRETS_DIR`] in the application container of `pod`: the volume of its mount
/// there, or at the closest parent directory.
pub fn secret_mount(pod: &Pod) -> SecretMount {
    let Some(spec) = &pod.spec else {
        return SecretMount::Other;
    };
    let app_mount = spec
        .containers
        .iter()
        .find(|c| c.name == APP)
        .and_then(|app| closest_mount(app, SECRETS_DIR));
    let volume = app_mount.and_then(|m| spec.volumes.iter().flatten().find(|v| v.name == m.name));
    match volume {
        Some(volume) => classify(volume, mounted_by_another(spec, &volume.name)),
        None => SecretMount::Other,
    }
}

fn classify(volume: &Volume, shared: bool) -> SecretMount {
    let secrets_only = |projected: &ProjectedVolumeSource| {
        let sources = projected.sources.as_deref().unwrap_or_default();
        !sources.is_empty() && sources.iter().all(only_a_secret)
    };
    match volume {
        v if v.secret.is_some() || v.projected.as_ref().is_some_and(secrets_only) => SecretMount::KubernetesSecret,
        v if v.csi.is_some() => SecretMount::Volume,
        v if v.empty_dir.is_some() && shared => SecretMount::SharedVolume,
        _ if !shared => SecretMount::Volume,
        _ => SecretMount::Other,
    }
}

fn only_a_secret(source: &VolumeProjection) -> bool {
    let without_secret = VolumeProjection {
        secret: None,
        ..source.clone()
    };
    source.secret.is_some() && without_secret == VolumeProjection::default()
}

/// The container's mount at `dir` or at its closest parent directory.
fn closest_mount<'c>(container: &'c Container, dir: &str) -> Option<&'c VolumeMount> {
    let covers = |mount: &VolumeMount| {
        let path = mount.mount_path.trim_end_matches('/');
        dir == path || dir.starts_with(&format!("{path}/"))
    };
    container
        .volume_mounts
        .iter()
        .flatten()
        .filter(|m| covers(m))
        .max_by_key(|m| m.mount_path.trim_end_matches('/').len())
}

/// Whether a container other than the application's (init containers included) mounts `volume`.
fn mounted_by_another(spec: &PodSpec, volume: &str) -> bool {
    spec.init_containers
        .iter()
        .flatten()
        .chain(&spec.containers)
        .filter(|c| c.name != APP)
        .flat_map(|c| c.volume_mounts.iter().flatten())
        .any(|m| m.name == volume)
}

#[cfg(test)]
mod tests {
    use rstest::rstest;
    use serde_json::json;

    use super::*;

    fn pod(spec: serde_json::Value) -> Pod {
        serde_json::from_value(json!({ "metadata": { "name": "consumer-0" }, "spec": spec })).unwrap()
    }

    fn container(name: &str, requests: serde_json::Value) -> serde_json::Value {
        json!({ "name": name, "resources": { "requests": requests } })
    }

    #[rstest]
    #[case("250m", 0.25)]
    #[case("2", 2.0)]
    #[case("0.5", 0.5)]
    #[case("1.5", 1.5)]
    #[case("64Mi", 64.0 * 1024.0 * 1024.0)]
    #[case("1Gi", 1024.0 * 1024.0 * 1024.0)]
    #[case("512Ki", 512.0 * 1024.0)]
    #[case("1k", 1e3)]
    #[case("128M", 128e6)]
    #[case("1G", 1e9)]
    #[case("0", 0.0)]
    fn quantities_are_read_in_their_base_unit(#[case] text: &str, #[case] expected: f64) {
        let value = quantity(text).unwrap();
        assert!((value - expected).abs() < 1e-9 * expected.max(1.0), "{text}: {value}");
    }

    #[rstest]
    #[case("")]
    #[case("Mi")]
    #[case("1.2.3")]
    #[case("10x")]
    #[case("1 Gi")]
    fn what_is_not_a_quantity_is_refused(#[case] text: &str) {
        let err = quantity(text).unwrap_err().to_string();
        assert!(err.contains("is not a Kubernetes quantity"), "{err}");
    }

    #[test]
    fn added_requests_leave_out_the_app_and_count_init_containers_like_the_scheduler() {
        let injected = pod(json!({
            "initContainers": [container("vault-agent-init", json!({ "cpu": "250m", "memory": "64Mi" }))],
            "containers": [
                container("app", json!({ "cpu": "10m", "memory": "16Mi" })),
                container("vault-agent", json!({ "cpu": "250m", "memory": "64Mi" })),
            ],
        }));
        let added = added_requests(&injected).unwrap();
        assert_eq!(
            added,
            Requests {
                cpu_millicores: 250.0,
                memory_mib: 64.0
            }
        );

        let large_init = pod(json!({
            "initContainers": [container("init", json!({ "cpu": "1", "memory": "8Mi" }))],
            "containers": [
                container("app", json!({ "cpu": "2" })),
                container("agent", json!({ "cpu": "100m", "memory": "32Mi" })),
                container("helper", json!({ "memory": "0.5Gi" })),
            ],
        }));
        let added = added_requests(&large_init).unwrap();
        assert_eq!(
            added,
            Requests {
                cpu_millicores: 1000.0,
                memory_mib: 544.0
            },
            "max per resource"
        );
    }

    #[test]
    fn native_sidecars_run_beside_the_containers_and_the_later_init_containers() {
        let sidecar = pod(json!({
            "initContainers": [
                { "name": "agent", "restartPolicy": "Always", "resources": { "requests": { "cpu": "100m", "memory": "10Mi" } } },
                container("init", json!({ "cpu": "500m" })),
            ],
            "containers": [container("app", json!({ "cpu": "10m" }))],
        }));
        let added = added_requests(&sidecar).unwrap();
        assert_eq!(
            added,
            Requests {
                cpu_millicores: 600.0,
                memory_mib: 10.0
            }
        );
    }

    #[test]
    fn nothing_requested_is_zero_and_a_bad_quantity_names_its_container() {
        let bare = pod(json!({ "containers": [{ "name": "app" }, { "name": "agent" }] }));
        assert_eq!(added_requests(&bare).unwrap(), Requests::default());
        let bad = pod(json!({ "containers": [container("agent", json!({ "cpu": "lots" }))] }));
        let err = added_requests(&bad).unwrap_err().to_string();
        assert!(err.contains("cpu request of consumer-0/agent"), "{err}");
    }

    #[test]
    fn components_sum_every_container_of_the_pods_still_counted() {
        let controller =
            pod(json!({ "containers": [container("controller", json!({ "cpu": "10m", "memory": "32Mi" }))] }));
        let mut finished = controller.clone();
        finished.status = Some(serde_json::from_value(json!({ "phase": "Succeeded" })).unwrap());
        let total = total_requests(&[controller.clone(), controller, finished]).unwrap();
        assert_eq!(
            total,
            Requests {
                cpu_millicores: 20.0,
                memory_mib: 64.0
            }
        );
    }

    fn app_mounting(volume: &str, path: &str) -> serde_json::Value {
        json!({ "name": "app", "volumeMounts": [{ "name": volume, "mountPath": path }] })
    }

    #[test]
    fn an_empty_dir_the_agent_also_mounts_is_a_shared_volume() {
        let injected = pod(json!({
            "initContainers": [{ "name": "vault-agent-init", "volumeMounts": [{ "name": "home-init", "mountPath": "/home/vault" }, { "name": "vault-secrets", "mountPath": "/vault/secrets" }] }],
            "containers": [app_mounting("vault-secrets", "/vault/secrets")],
            "volumes": [{ "name": "vault-secrets", "emptyDir": { "medium": "Memory" } }, { "name": "home-init", "emptyDir": {} }],
        }));
        assert_eq!(secret_mount(&injected), SecretMount::SharedVolume);
        assert_eq!(secret_mount(&injected).name(), "shared_volume");
    }

    #[test]
    fn a_csi_volume_or_an_unshared_one_is_a_volume() {
        let csi = pod(json!({
            "containers": [app_mounting("secrets", "/vault/secrets/")],
            "volumes": [{ "name": "secrets", "csi": { "driver": "secrets-store.csi.k8s.io" } }],
        }));
        assert_eq!(secret_mount(&csi), SecretMount::Volume);
        let parent = pod(json!({
            "containers": [app_mounting("vault", "/vault"), { "name": "other", "volumeMounts": [{ "name": "elsewhere", "mountPath": "/vault/secrets" }] }],
            "volumes": [{ "name": "vault", "emptyDir": {} }, { "name": "elsewhere", "emptyDir": {} }],
        }));
        assert_eq!(
            secret_mount(&parent),
            SecretMount::Volume,
            "the app's own mount at the closest parent"
        );
    }

    #[test]
    fn a_secret_volume_or_a_projection_of_secrets_is_a_kubernetes_secret() {
        let secret = pod(json!({
            "containers": [app_mounting("secrets", "/vault/secrets")],
            "volumes": [{ "name": "secrets", "secret": { "secretName": "consumer-0" } }],
        }));
        assert_eq!(secret_mount(&secret), SecretMount::KubernetesSecret);
        let projected = |sources: serde_json::Value| {
            pod(json!({
                "containers": [app_mounting("secrets", "/vault/secrets")],
                "volumes": [{ "name": "secrets", "projected": { "sources": sources } }],
            }))
        };
        let secrets = projected(json!([{ "secret": { "name": "a" } }, { "secret": { "name": "b" } }]));
        assert_eq!(secret_mount(&secrets), SecretMount::KubernetesSecret);
        let mixed = projected(json!([{ "secret": { "name": "a" } }, { "configMap": { "name": "c" } }]));
        assert_eq!(secret_mount(&mixed), SecretMount::Volume);
    }

    #[test]
    fn a_shared_volume_that_is_no_empty_dir_or_no_mount_at_all_is_other() {
        let shared_config = pod(json!({
            "containers": [app_mounting("config", "/vault/secrets"), { "name": "agent", "volumeMounts": [{ "name": "config", "mountPath": "/etc/agent" }] }],
            "volumes": [{ "name": "config", "configMap": { "name": "c" } }],
        }));
        assert_eq!(secret_mount(&shared_config), SecretMount::Other);
        let unmounted = pod(
            json!({ "containers": [app_mounting("data", "/vault/secrets-old")], "volumes": [{ "name": "data", "emptyDir": {} }] }),
        );
        assert_eq!(secret_mount(&unmounted), SecretMount::Other);
        assert_eq!(secret_mount(&unmounted).name(), "other");
    }
}
