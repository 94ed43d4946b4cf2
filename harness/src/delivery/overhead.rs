//! Overhead at steady state, as the kubelet reports it (its Summary API, read through the API
//! server's node proxy, so it works on any substrate): memory working set and CPU usage of the
//! containers a method adds to consumer pods and of its per-cluster components.

use serde::Deserialize;

use crate::{Error, Result};

#[derive(Debug, Deserialize)]
struct Summary {
    #[serde(default)]
    pods: Vec<PodStats>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodStats {
    pod_ref: PodRef,
    #[serde(default)]
    containers: Vec<ContainerStats>,
}

#[derive(Debug, Deserialize)]
struct PodRef {
    name: String,
    namespace: String,
}

#[derive(Debug, Deserialize)]
struct ContainerStats {
    name: String,
    cpu: Option<Cpu>,
    memory: Option<Memory>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Cpu {
    usage_nano_cores: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Memory {
    working_set_bytes: Option<u64>,
}

/// Summed usage of a set of containers.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Usage {
    pub containers: usize,
    pub cpu_millicores: f64,
    pub memory_mib: f64,
}

/// Every pod's stats on every node of the cluster.
pub async fn pod_stats(client: &kube::Client) -> Result<Vec<PodStats>> {
    use k8s_openapi::api::core::v1::Node;
    let nodes = kube::Api::<Node>::all(client.clone())
        .list(&Default::default())
        .await
        .map_err(|e| Error::State(format!("listing nodes: {e}")))?;
    let mut all = Vec::new();
    for node in nodes {
        let name = node.metadata.name.unwrap_or_default();
        let request = http::Request::get(format!("/api/v1/nodes/{name}/proxy/stats/summary"))
            .body(Vec::new())
            .map_err(|e| Error::State(format!("kubelet summary request: {e}")))?;
        let summary: Summary = client
            .request(request)
            .await
            .map_err(|e| Error::State(format!("reading the kubelet summary of node {name}: {e}")))?;
        all.extend(summary.pods);
    }
    Ok(all)
}

/// Usage of the containers accepted by `wanted(namespace, pod, container)`. A container the
/// kubelet has no figures for yet is an error, not a zero.
pub fn usage(stats: &[PodStats], wanted: impl Fn(&str, &str, &str) -> bool) -> Result<Usage> {
    let mut total = Usage::default();
    for pod in stats {
        for c in pod
            .containers
            .iter()
            .filter(|c| wanted(&pod.pod_ref.namespace, &pod.pod_ref.name, &c.name))
        {
            let missing = || {
                Error::State(format!(
                    "the kubelet reports no usage yet for {}/{}/{}",
                    pod.pod_ref.namespace, pod.pod_ref.name, c.name
                ))
            };
            let cpu = c.cpu.as_ref().and_then(|c| c.usage_nano_cores).ok_or_else(missing)?;
            let memory = c
                .memory
                .as_ref()
                .and_then(|m| m.working_set_bytes)
                .ok_or_else(missing)?;
            total.containers += 1;
            total.cpu_millicores += cpu as f64 / 1e6;
            total.memory_mib += memory as f64 / (1024.0 * 1024.0);
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUMMARY: &str = r#"{"node":{"nodeName":"app-control-plane"},"pods":[
      {"podRef":{"name":"consumer-0","namespace":"d-1"},"containers":[
        {"name":"app","cpu":{"usageNanoCores":2000000},"memory":{"workingSetBytes":1048576}},
        {"name":"vault-agent","cpu":{"usageNanoCores":1500000},"memory":{"workingSetBytes":20971520}}]},
      {"podRef":{"name":"consumer-1","namespace":"d-1"},"containers":[
        {"name":"vault-agent","cpu":{"usageNanoCores":500000},"memory":{"workingSetBytes":10485760}}]},
      {"podRef":{"name":"fresh","namespace":"d-2"},"containers":[{"name":"vault-agent"}]}]}"#;

    #[test]
    fn usage_sums_the_chosen_containers_in_millicores_and_mib() {
        let summary: Summary = serde_json::from_str(SUMMARY).unwrap();
        let agents = usage(&summary.pods, |ns, _, c| ns == "d-1" && c != "app").unwrap();
        assert_eq!(agents.containers, 2);
        assert!((agents.cpu_millicores - 2.0).abs() < 1e-9, "{agents:?}");
        assert!((agents.memory_mib - 30.0).abs() < 1e-9, "{agents:?}");
        let err = usage(&summary.pods, |ns, _, _| ns == "d-2").unwrap_err().to_string();
        assert!(err.contains("no usage yet for d-2/fresh/vault-agent"), "{err}");
    }
}
