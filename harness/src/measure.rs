//! Measurements are data: each sample is one JSON line; summaries are computed from samples only.
//! Every sample says which run it belongs to (run id, harness commit, host CPUs), when its
//! measurement started and what else the harness was doing at the time.

use std::{collections::BTreeMap, io::Write, path::Path, sync::OnceLock, time::Duration};

use serde::{Deserialize, Serialize};

use crate::{Error, Result, delivery::fault::Fault};

/// What a sample measures. The serde names are the metric names in `samples.jsonl`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Consumer pod created → the value readable in the application container (ms).
    DeliveryLatency,
    /// Vault write → the application container sees the new value (ms).
    RotationLatency,
    /// Containers (init containers included) in the admitted consumer pod besides the app's.
    AddedContainersPerPod,
    /// CPU of those containers per pod (millicores).
    PodOverheadCpu,
    /// Working-set memory of those containers per pod (MiB).
    PodOverheadMemory,
    /// Containers of the method's per-cluster components.
    ClusterComponents,
    ClusterComponentsCpu,
    ClusterComponentsMemory,
    /// Vault requests from the consumers' namespace, per pod per minute, from the audit log.
    VaultRequestsPerPodMinute,
    /// Whether a Kubernetes Secret in the consumer's namespace holds every delivered value.
    StoredAsKubernetesSecret,
    /// Pod-minutes of the window `VaultRequestsPerPodMinute` was counted over: its resolution is
    /// one request in this many pod-minutes.
    VaultRequestsWindow,
    /// CPU requested by the containers the method added, per pod (millicores; none requested = 0).
    RequestedCpuPerPod,
    /// Memory requested by those containers, per pod (MiB).
    RequestedMemoryPerPod,
    /// CPU requested by the method's per-cluster components, summed (millicores).
    ComponentsRequestedCpu,
    /// Memory requested by the method's per-cluster components, summed (MiB).
    ComponentsRequestedMemory,
    /// What backs the application container's secrets directory in the admitted pod: `observed`
    /// is the class (`shared_volume`, `volume`, `kubernetes_secret`, or `other`).
    SecretMount,
    /// The filesystem type of the secrets directory (`stat -f`, in the app container): 1 when
    /// tmpfs; `observed` is the type.
    SecretMountTmpfs,
    /// The refresh period a method runs with when the user sets none, read from the live objects
    /// (s); `observed` says which object and field.
    DefaultRefreshPeriod,
    /// Logins by the consumers' namespace's service accounts, from the audit log; `observed`
    /// names the auth mounts and their types.
    AuthLogins,
    /// Secret reads made with those service accounts' tokens.
    AuthReads,
    /// Of those reads, the ones made with a token one of the logins issued.
    AuthReadsWithLoginToken,
    /// Token revocations by those tokens.
    AuthRevokes,
    /// Requests with a root token from the app cluster's nodes during the method's run.
    RootRequestsFromApp,
    /// Consumer pod created → its application container started, as the kubelet reports it
    /// (`startedAt`, whole seconds) (ms).
    AppStart,
    /// The same for pods with only the application container and no secret, in the same run (ms).
    PlainAppStart,
    /// Lines a user writes for one app beyond the plain pod: the non-blank, non-comment lines of
    /// a consumer's manifests, a pasted PEM block counting as one.
    UserLinesPerApp,
    /// Kubernetes objects a user writes for one app beyond the plain pod, each container written
    /// into its pod spec besides the app's counting as one more.
    UserObjectsPerApp,
    /// Distinct key paths (kind and mapping keys) of a consumer's manifests the plain pod has not.
    UserKeysPerApp,
    /// One Go module the method's offline images were built from: 1 when its LICENSE was read;
    /// `observed` names the module, its licence and owner (the Support row's stand-in).
    SourceLicence,
    /// The env-var variant of a rotation: 1 when a pod taking the method's Kubernetes Secret as
    /// environment variables saw its `/proc/1/environ` change after the Secret was rotated, 0
    /// when it did not; "not applicable" when the Secret was not rotated within the bound.
    EnvVarUpdatedInPlace,
    /// Whether a consumer in the method's default output format read the configured values back
    /// intact (1), measured only when the run's consumers ask for another format because the
    /// default cannot carry them; `observed` says how many fields came back.
    DefaultFormatReadsBack,
    /// Objects the method's per-cluster install applies for the profile's components, CRDs
    /// included (a user installs them once per cluster).
    ClusterObjects,
    /// Of those, CustomResourceDefinitions.
    ClusterCrds,
    /// Where one per-app setting lives in a consumer's objects: 1 when written per app, 0 when
    /// not (per-cluster or a default); `observed` is `setting → channels (fields)`
    /// ([`crate::delivery::channels::Placed::observed`]).
    ConfigChannel,
    /// Distinct (verb, resource) pairs the ClusterRoles bound to the service accounts of the
    /// method's per-cluster components grant.
    ClusterRbacPairs,
    /// S1: whether the app cluster's etcd holds the delivered value in plaintext (1). On a kind
    /// cluster the harness made, read from the control-plane node's etcd database when a Secret
    /// in the consumer's namespace holds the value (0 without looking when none does); elsewhere
    /// that Secret stands in. `observed` says which Secret and what was read.
    SecretInEtcdPlaintext,
    /// S3: privileged containers and hostPath volumes in the method's component pods (once per
    /// workload) and in what it added to the consumer pod; `observed` names them.
    PrivilegedOrHostPath,
    /// S4: what the component pods' service accounts may do in every namespace (create
    /// `serviceaccounts/token`, get or list `secrets`), each allowed power one, plus the
    /// mutating webhooks on pod creation served from the components' namespace; `observed` names
    /// them.
    ClusterWidePowers,
    /// S5: whether a service account allowed only to get and list Secrets in the consumer's
    /// namespace reads a Secret holding every delivered value (1); `observed` names the Secret.
    ReadableWithGetSecrets,
    /// One Kubernetes-auth login from a pod (ms).
    LoginLatency,
    /// Under a fault: the consumer pod was Running during the outage.
    PodRunningDuringOutage,
    /// Under a fault: the application held (or, for a new pod, had) a complete value.
    AppHasValueDuringOutage,
    /// Under a fault: container restarts of the consumer pod.
    Restarts,
    /// Under a fault: Vault back and unsealed → the application sees the current value (ms).
    RecoveryLatency,
}

/// The metric's serde name, as in `samples.jsonl`.
impl std::fmt::Display for Metric {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write_serde_name(self, f)
    }
}

/// Writes a unit variant's serde name (its name in samples and reports).
pub(crate) fn write_serde_name<T: Serialize + std::fmt::Debug>(
    value: &T,
    f: &mut std::fmt::Formatter<'_>,
) -> std::fmt::Result {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(name)) => f.write_str(&name),
        _ => write!(f, "{value:?}"),
    }
}

/// One measured value, as written to `samples.jsonl`: what was measured (method, profile,
/// metric, and the fault it was measured under, if any), the value with its unit, the versions it
/// was measured on, and the run it belongs to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    pub method: String,
    pub profile: String,
    pub metric: Metric,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<Fault>,
    pub value: f64,
    pub unit: String,
    pub outcome: Outcome,
    pub versions: BTreeMap<String, String>,
    #[serde(default)]
    pub run: RunInfo,
    /// Unix time (s) at which this sample's measurement started.
    #[serde(default)]
    pub started_at: f64,
    /// What else the harness was doing while this sample was measured (other methods' phases,
    /// other scenarios), as their labels; empty when nothing else ran.
    #[serde(default)]
    pub concurrent: Vec<String>,
    /// What was observed, for a metric whose answer is a category or a place (never a secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed: Option<String>,
}

/// Which run a sample belongs to.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RunInfo {
    /// One id per `harness run` process, or per `cargo nextest run` (its `NEXTEST_RUN_ID`).
    pub id: String,
    /// The harness's git commit (`-dirty` with uncommitted changes), or `unknown`.
    pub commit: String,
    /// CPUs of the host the run was measured on.
    pub host_cpus: usize,
}

impl RunInfo {
    /// This process's run, computed once.
    pub fn current() -> &'static RunInfo {
        static CURRENT: OnceLock<RunInfo> = OnceLock::new();
        CURRENT.get_or_init(|| RunInfo {
            id: std::env::var("NEXTEST_RUN_ID").unwrap_or_else(|_| {
                let started = jiff::Timestamp::now().strftime("%Y%m%dT%H%M%SZ");
                format!("{started}-{}", std::process::id())
            }),
            commit: commit(),
            host_cpus: std::thread::available_parallelism().map_or(0, usize::from),
        })
    }

    /// `id` shortened for tables.
    pub fn label(&self) -> String {
        match self.id.is_empty() {
            true => "unrecorded".into(),
            false => self.id.chars().take(20).collect(),
        }
    }
}

/// The checkout's commit, from git (bounded: git answers these from local files).
fn commit() -> String {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .arg("-C")
            .arg(crate::fixtures::repo_root())
            .args(args)
            .stderr(std::process::Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    match git(&["rev-parse", "--short=12", "HEAD"]) {
        Some(head) if !head.is_empty() => {
            let dirty = git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
            if dirty { format!("{head}-dirty") } else { head }
        }
        _ => "unknown".into(),
    }
}

/// Whether a sample is a measurement, the bound a wait ran out at, or a figure that does not
/// apply to the method (it has nothing to measure there).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Measured,
    /// The bounded wait ran out: `value` is the bound, the real value is larger (or infinite).
    NotWithin,
    /// Nothing to measure (e.g. the per-cluster components of a method that has none).
    NotApplicable,
}

impl Sample {
    pub fn millis(method: &str, profile: &str, metric: Metric, elapsed: Duration) -> Sample {
        Sample::new(method, profile, metric, elapsed.as_secs_f64() * 1000.0, "ms")
    }

    pub fn new(method: &str, profile: &str, metric: Metric, value: f64, unit: &str) -> Sample {
        Sample {
            method: method.into(),
            profile: profile.into(),
            metric,
            fault: None,
            value,
            unit: unit.into(),
            outcome: Outcome::Measured,
            versions: BTreeMap::new(),
            run: RunInfo::current().clone(),
            started_at: 0.0,
            concurrent: Vec::new(),
            observed: None,
        }
    }

    /// A wait for `metric` that ran out after `bound`.
    pub fn not_within(method: &str, profile: &str, metric: Metric, bound: Duration) -> Sample {
        Sample {
            outcome: Outcome::NotWithin,
            ..Sample::millis(method, profile, metric, bound)
        }
    }

    /// `metric` does not apply to `method`.
    pub fn not_applicable(method: &str, profile: &str, metric: Metric) -> Sample {
        Sample {
            outcome: Outcome::NotApplicable,
            ..Sample::new(method, profile, metric, 0.0, "")
        }
    }

    pub fn with_versions(mut self, versions: &BTreeMap<String, String>) -> Sample {
        self.versions = versions.clone();
        self
    }

    pub fn observed(mut self, observed: impl Into<String>) -> Sample {
        self.observed = Some(observed.into());
        self
    }

    pub fn under(mut self, fault: Fault) -> Sample {
        self.fault = Some(fault);
        self
    }

    /// When the measurement started and what ran meanwhile.
    pub fn during(mut self, started_at: f64, concurrent: &[String]) -> Sample {
        self.started_at = started_at;
        self.concurrent = concurrent.to_vec();
        self
    }
}

/// Appends samples to a JSONL file (created with its directory when missing).
pub fn append(path: &Path, samples: &[Sample]) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(Error::io(format!("cannot create {}", dir.display())))?;
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(Error::io(format!("cannot write {}", path.display())))?;
    for sample in samples {
        let line = serde_json::to_string(sample).map_err(|e| Error::State(format!("sample: {e}")))?;
        writeln!(file, "{line}").map_err(Error::io(format!("cannot write {}", path.display())))?;
    }
    Ok(())
}

/// The nearest-rank percentile (`p` in 0..=100) of `values`; `None` when there are none.
pub fn percentile(values: &[f64], p: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    Some(sorted[rank.min(sorted.len()) - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let values: Vec<f64> = (1..=20).map(f64::from).collect();
        assert_eq!(percentile(&values, 50.0), Some(10.0));
        assert_eq!(percentile(&values, 95.0), Some(19.0));
        assert_eq!(percentile(&values, 100.0), Some(20.0));
        assert_eq!(percentile(&[7.0], 95.0), Some(7.0));
        assert_eq!(percentile(&[], 50.0), None);
        assert_eq!(percentile(&[3.0, 1.0, 2.0], 0.0), Some(1.0));
    }

    #[test]
    fn a_metric_displays_as_its_name_in_the_samples() {
        assert_eq!(
            Metric::StoredAsKubernetesSecret.to_string(),
            "stored_as_kubernetes_secret"
        );
        let parsed: Metric = serde_json::from_str("\"vault_requests_per_pod_minute\"").unwrap();
        assert_eq!(parsed, Metric::VaultRequestsPerPodMinute);
    }

    #[test]
    fn samples_round_trip_as_json_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s/samples.jsonl");
        let versions = BTreeMap::from([("openbao".to_string(), "2.7.2".to_string())]);
        let sample = Sample::millis("kubernetes_auth", "-", Metric::LoginLatency, Duration::from_millis(12))
            .with_versions(&versions);
        let bound = Sample::not_within("m", "defaults", Metric::RotationLatency, Duration::from_secs(360));
        append(&path, &[sample.clone(), bound.clone()]).unwrap();
        let read: Vec<Sample> = std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(read, [sample, bound.clone()]);
        assert_eq!(bound.value, 360_000.0);
        let line = serde_json::to_string(&bound).unwrap();
        assert!(line.contains("\"outcome\":\"not_within\""), "{line}");
        assert!(line.contains("\"metric\":\"rotation_latency\""), "{line}");
        assert_eq!(bound.run.id, RunInfo::current().id);
        assert!(bound.run.host_cpus >= 1);
    }
}
