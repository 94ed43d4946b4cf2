//! One measured run of one delivery method, the way a platform engineer would check it by hand:
//! 1. install the method's components in the app cluster (if it has any);
//! 2. create consumer pods in rounds; for each, time pod creation → the value readable in the
//!    application container, and check it reads the right username and password;
//! 3. in the last round's pods, rotate the secret in Vault at random phases and time each write →
//!    the application container seeing the change; no pod may restart;
//! 4. read the overhead at steady state, what the method requests and where the admitted pod keeps
//!    the secret, what a user writes per app and the RBAC its components hold (the Complexity
//!    figures, see [`complexity`]), the Security row's exposures (see [`exposure`]), and Vault's
//!    request load from its audit log.
//!
//! Installing and starting pods are CPU-bound: they run behind the [`activity::Gate`], one method
//! at a time (across processes too); rotations and what follows are timer-bound and overlap with
//! other methods. Every sample records what else ran (see [`activity`]).
//!
//! Every change is detected by the application container's own 100 ms poll and stamped with the
//! node's wall clock, which on kind is the host's clock the harness stamps Vault writes with.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use futures::future::try_join_all;
use rand::Rng;
use tokio::sync::mpsc::UnboundedReceiver;

use super::{
    APP, Consumer, Method, Profile, SECRETS_DIR, Target,
    activity::{Activity, Gate, Seen},
    audit, channels, complexity, envvar, exposure, footprint, overhead, provenance,
};
use crate::{
    Error, Result, apply,
    cluster::kind::ImageSource,
    evidence, interrupt,
    measure::{self, Metric, Sample},
    pods::{self, TestNamespace},
    secret::{SecretData, SecretString},
    vault::Vault,
    wait,
};

const PLAIN_POD: &str = include_str!("../../../fixtures/delivery/plain-pod.yaml");
/// Pods of the app-start baseline per method run.
const PLAIN_PODS: usize = 3;

/// How many consumers, rounds and rotations a run takes, and how long any one wait may last.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    pub profile: Profile,
    /// Consumer pods per round (run side by side).
    pub consumers: usize,
    /// Rounds of consumers: `consumers × rounds` delivery samples.
    pub rounds: usize,
    /// Rotations in each pod of the last round: `consumers × rotations` rotation samples.
    pub rotations: usize,
    /// The bound of every wait; in the defaults profile a rotation that is not seen within it is
    /// recorded as "not within" instead of failing the run.
    pub bound: Duration,
}

impl Plan {
    /// The quick run: tuned profile, 12 deliveries (3 rounds of 4 pods), 20 rotations (5 in each
    /// of 4 pods). Four pods per round fit the largest per-pod CPU requests a method adds (two
    /// agents of 250m each) next to the control plane on a 2-core node.
    pub fn quick() -> Plan {
        Plan {
            profile: Profile::Tuned,
            consumers: 4,
            rounds: 3,
            rotations: 5,
            bound: Duration::from_secs(180),
        }
    }

    /// The nightly defaults profile: 3 consumers, one rotation each, every wait bounded at 6 min.
    pub fn defaults() -> Plan {
        Plan {
            profile: Profile::Defaults,
            consumers: 3,
            rounds: 1,
            rotations: 1,
            bound: Duration::from_secs(360),
        }
    }

    /// The spread of random rotation phases: one refresh interval (tuned), or a minute.
    fn phase_spread(&self) -> Duration {
        self.profile.interval().unwrap_or(Duration::from_secs(60))
    }
}

/// Where a run happens.
pub struct Env<'a> {
    /// The app cluster, where consumers and the method's components run.
    pub app: &'a kube::Client,
    /// What `app` was built from: for clients of the app cluster with another identity.
    pub app_config: &'a kube::Config,
    /// The vault cluster, whose Vault pod log is the audit log.
    pub vault_cluster: &'a kube::Client,
    /// A Vault client allowed to write the delivered secrets (the harness's root token).
    pub writer: &'a Vault,
    pub target: Target<'a>,
    /// Versions every sample is tagged with (Vault, Kubernetes, harness; the method's are added).
    pub versions: BTreeMap<String, String>,
    /// Where running phases declare themselves and the pod-start gate lives ([`super::activity::dir`]).
    pub activity: PathBuf,
    /// Where the commands a run executes on the host (`docker exec`) are logged.
    pub logs: PathBuf,
}

/// The samples of one method in one profile.
#[derive(Debug)]
pub struct MethodRun {
    pub method: Method,
    pub profile: Profile,
    pub samples: Vec<Sample>,
}

impl MethodRun {
    /// Measured values of `metric` (not-within samples excluded).
    pub fn values(&self, metric: Metric) -> Vec<f64> {
        self.samples
            .iter()
            .filter(|s| s.metric == metric && s.outcome == measure::Outcome::Measured)
            .map(|s| s.value)
            .collect()
    }

    /// Samples of `metric` whose wait ran out.
    pub fn not_within(&self, metric: Metric) -> usize {
        self.samples
            .iter()
            .filter(|s| s.metric == metric && s.outcome == measure::Outcome::NotWithin)
            .count()
    }
}

/// Runs `plan` for `method`. The run's namespace is removed afterwards, also after Ctrl-C or a
/// panic; on failure its events and logs, the method's components' and Vault's are first kept in
/// `evidence`, and the error says so.
pub async fn run(method: Method, env: &Env<'_>, plan: Plan, evidence: &Path) -> Result<MethodRun> {
    let namespace = TestNamespace::create(env.app, &format!("delivery-{}", method.name().replace('_', "-"))).await?;
    crate::step!(
        "{method} ({}): measuring in namespace {}",
        plan.profile.name(),
        namespace.name
    );
    let run = Run {
        method,
        env,
        plan,
        namespace: &namespace.name,
        versions: versions(method, env),
    };
    let outcome = match interrupt::guarded(run.measure()).await {
        Ok(samples) => Ok(samples),
        Err(Error::Interrupted) => Err(Error::Interrupted),
        Err(e) => {
            let mut namespaces = vec![namespace.name.as_str()];
            namespaces.extend(method.components().map(|c| c.namespace));
            keep_evidence(env, &namespaces, evidence).await;
            Err(Error::State(format!(
                "{method} ({}): {e} (evidence in {})",
                plan.profile.name(),
                evidence.display()
            )))
        }
    };
    namespace.delete().await?;
    Ok(MethodRun {
        method,
        profile: plan.profile,
        samples: outcome?,
    })
}

/// Keeps the evidence of a failure; a failure to keep it is reported, not raised, so the
/// original error stays the one the user sees.
pub(super) async fn keep_evidence(env: &Env<'_>, app_namespaces: &[&str], dir: &Path) {
    let kept = async {
        evidence::collect(env.app, app_namespaces, &dir.join("app-cluster")).await?;
        evidence::collect(env.vault_cluster, &["vault"], &dir.join("vault-cluster")).await
    };
    if let Err(e) = kept.await {
        tracing::warn!("could not keep the evidence in {}: {e}", dir.display());
    }
}

pub(super) fn versions(method: Method, env: &Env<'_>) -> BTreeMap<String, String> {
    let mut versions = env.versions.clone();
    for (name, version) in method.versions(&env.target) {
        versions.insert(name.to_string(), version.to_string());
    }
    versions
}

pub(super) struct Run<'a> {
    pub(super) method: Method,
    pub(super) env: &'a Env<'a>,
    pub(super) plan: Plan,
    pub(super) namespace: &'a str,
    pub(super) versions: BTreeMap<String, String>,
}

/// A running consumer and the stream of its application container's `changed <time>` lines.
pub(super) struct Watched {
    pub(super) consumer: Consumer,
    pub(super) changes: UnboundedReceiver<String>,
    pub(super) expected: SecretData,
    /// The containers of the admitted pod besides the application's (init containers included).
    pub(super) added_containers: Vec<String>,
}

impl Run<'_> {
    /// The label of one of this run's phases, as other samples record it.
    pub(super) fn label(&self, phase: &str) -> String {
        format!("{} ({}): {phase}", self.method, self.plan.profile.name())
    }

    async fn measure(&self) -> Result<Vec<Sample>> {
        let started = now();
        let (mut samples, mut last_round) = self.deliveries().await?;
        let rotating = Activity::begin(&self.env.activity, &self.label("rotations"))?;

        // Before the rotations: the value the app container was just checked to hold is the one to
        // look for (a rotation the method never delivers would hide a stored Secret).
        let mut env_reader = None;
        if let Some(first) = last_round.first() {
            let (stored, secret) = self.stored_as_secret(first, &rotating).await?;
            samples.push(stored);
            if let Some(secret) = secret {
                env_reader = Some(envvar::start(self.env.app, self.namespace, &secret, self.plan.bound).await?);
            }
        }
        let rotation_start = now();
        let mut seen = Seen::default();
        seen.look(&rotating);
        let rotated = try_join_all(last_round.iter_mut().map(|w| self.rotate(w, &rotating))).await?;
        let rotation_end = now();
        seen.look(&rotating);
        samples.extend(rotated.into_iter().flatten());
        if let (Some(reader), Some(first)) = (&env_reader, last_round.first()) {
            samples.push(
                self.env_var_after_rotation(reader, first)
                    .await?
                    .during(rotation_end, &seen.labels()),
            );
        }

        let labels = seen.labels();
        samples.extend(stamped_now(self.overhead(&last_round), &labels).await?);
        samples.extend(stamped_now(self.footprint(&last_round), &labels).await?);
        if let Some(first) = last_round.first() {
            samples.extend(stamped_now(self.complexity(&first.consumer), &labels).await?);
            samples.extend(stamped_now(self.exposures(first), &labels).await?);
        }
        let load = self.vault_load(last_round.len(), rotation_start, rotation_end).await?;
        samples.extend(load.into_iter().map(|s| s.during(rotation_start, &labels)));
        let auth = self.vault_auth(started).await?;
        samples.extend(auth.into_iter().map(|s| s.during(started, &labels)));
        // Last: its pod's login and reads are not the consumers' and must not count as theirs.
        samples.extend(stamped_now(self.default_format(), &labels).await?);
        Ok(samples)
    }

    /// When the consumers use another format than the method's default because the default
    /// cannot carry the configured values: one consumer in the default format, and whether the
    /// values read back intact from what it renders.
    async fn default_format(&self) -> Result<Vec<Sample>> {
        let consumer = Consumer {
            namespace: self.namespace.to_string(),
            pod: "default-format".into(),
            secret_name: format!("{}-default-format", self.namespace),
        };
        let Some(manifests) = self
            .method
            .default_format_manifests(&self.env.target, &consumer, self.plan.profile)?
        else {
            return Ok(Vec::new());
        };
        let expected = self.env.target.cfg.kv.data.clone();
        self.write(&consumer.secret_name, &expected).await?;
        apply::apply(self.env.app, &manifests).await?;
        pods::wait_running(self.env.app, self.namespace, &consumer.pod, self.plan.bound).await?;
        let what = format!("{}: the default-format consumer's files", self.method);
        let files = wait::until(&what, self.plan.bound, Duration::from_millis(500), || async {
            let files = pods::read_files(self.env.app, self.namespace, &consumer.pod, APP, SECRETS_DIR).await?;
            Ok((!files.is_empty()).then_some(files))
        })
        .await?;
        let (intact, observed) = match self.method.decode(&files) {
            Ok(read) => {
                let wrong = expected.mismatched_keys(&read);
                let text = format!(
                    "its default format read back {} of {} fields intact",
                    expected.len() - wrong.len().min(expected.len()),
                    expected.len()
                );
                (wrong.is_empty(), text)
            }
            Err(e) => (false, format!("its default format does not read back: {e}")),
        };
        Ok(vec![
            self.sample(Metric::DefaultFormatReadsBack, f64::from(u8::from(intact)), "bool")
                .observed(observed),
        ])
    }

    /// Install and every round of consumers, behind the pod-start gate; returns the delivery
    /// samples and the last round's consumers, still running.
    async fn deliveries(&self) -> Result<(Vec<Sample>, Vec<Watched>)> {
        let _gate = Gate::acquire(&self.env.activity, &self.label("install and pod starts")).await?;
        let starting = Activity::begin(&self.env.activity, &self.label("install and pod starts"))?;
        // Installed components are shared by every run and stay; nothing to undo when interrupted.
        self.method.install(self.env.app, &self.env.target).await?;
        let mut samples = self.plain_app_starts(&starting).await?;
        let mut last_round = Vec::new();
        for round in 0..self.plan.rounds {
            let started = try_join_all((0..self.plan.consumers).map(|i| self.start(round, i, &starting))).await?;
            interrupt::failpoint("run-consumers-started");
            let (watched, delivered): (Vec<_>, Vec<_>) = started.into_iter().unzip();
            samples.extend(delivered.into_iter().flatten());
            if round + 1 < self.plan.rounds {
                try_join_all(watched.iter().map(|w| self.remove(&w.consumer))).await?;
            } else {
                last_round = watched;
            }
        }
        Ok((samples, last_round))
    }

    pub(super) fn sample_ms(&self, metric: Metric, elapsed: Duration) -> Sample {
        Sample::millis(self.method.name(), self.plan.profile.name(), metric, elapsed).with_versions(&self.versions)
    }

    pub(super) fn sample(&self, metric: Metric, value: f64, unit: &str) -> Sample {
        Sample::new(self.method.name(), self.plan.profile.name(), metric, value, unit).with_versions(&self.versions)
    }

    pub(super) fn not_within(&self, metric: Metric, bound: Duration) -> Sample {
        Sample::not_within(self.method.name(), self.plan.profile.name(), metric, bound).with_versions(&self.versions)
    }

    fn not_applicable(&self, metric: Metric) -> Sample {
        Sample::not_applicable(self.method.name(), self.plan.profile.name(), metric).with_versions(&self.versions)
    }

    /// Consumer `i` of `round`, and its secret written to Vault.
    pub(super) async fn consumer(&self, round: usize, i: usize) -> Result<(Consumer, SecretData)> {
        let consumer = Consumer {
            namespace: self.namespace.to_string(),
            pod: format!("consumer-{round}-{i}"),
            secret_name: format!("{}-{round}-{i}", self.namespace),
        };
        let expected = self.env.target.cfg.kv.data.clone();
        self.write(&consumer.secret_name, &expected).await?;
        Ok((consumer, expected))
    }

    /// Applies a consumer's objects; returns the time just before.
    pub(super) async fn create(&self, consumer: &Consumer) -> Result<f64> {
        let manifests = self.method.manifests(&self.env.target, consumer, self.plan.profile)?;
        let created = now();
        apply::apply(self.env.app, &manifests).await?;
        Ok(created)
    }

    /// The app-start baseline: pods with the application container alone, created together as
    /// a round of consumers is; removed once measured.
    async fn plain_app_starts(&self, activity: &Activity) -> Result<Vec<Sample>> {
        let started = try_join_all((0..PLAIN_PODS).map(|i| async move {
            let pod = format!("plain-{i}");
            let manifest = plain_pod(self.namespace, &pod)?;
            let mut seen = Seen::default();
            seen.look(activity);
            let created = now();
            apply::apply(self.env.app, &manifest).await?;
            pods::wait_running(self.env.app, self.namespace, &pod, self.plan.bound).await?;
            let delay = pods::container_start_delay(self.env.app, self.namespace, &pod, APP).await?;
            seen.look(activity);
            apply::delete(self.env.app, &manifest).await?;
            Ok::<_, Error>(
                self.sample_ms(Metric::PlainAppStart, Duration::from_secs_f64(delay))
                    .during(created, &seen.labels()),
            )
        }))
        .await?;
        Ok(started)
    }

    /// The Complexity row's figures: what a user writes for `consumer` beyond the plain pod, and
    /// the RBAC pairs the method's components hold cluster-wide ("not applicable" without any);
    /// and the Configuration row's: where each per-app setting sits.
    async fn complexity(&self, consumer: &Consumer) -> Result<Vec<Sample>> {
        let manifests = self.method.manifests(&self.env.target, consumer, self.plan.profile)?;
        let plain = plain_pod(self.namespace, "plain-0")?;
        let count = |metric, n: usize, unit| self.sample(metric, n as f64, unit);
        let rbac_pairs = match self.method.components() {
            Some(components) => count(
                Metric::ClusterRbacPairs,
                complexity::cluster_rbac_pairs(self.env.app, components.namespace).await?,
                "pairs",
            ),
            None => self.not_applicable(Metric::ClusterRbacPairs),
        };
        let installed = apply::documents(&self.method.installed_objects(&self.env.target, self.plan.profile)?)?;
        let crds = installed
            .iter()
            .filter(|o| o["kind"] == "CustomResourceDefinition")
            .count();
        let placed = channels::place(
            &manifests,
            &channels::settings(&self.env.target, consumer, self.plan.profile),
        )?;
        let channels = placed.iter().map(|p| {
            self.sample(Metric::ConfigChannel, f64::from(u8::from(!p.channels.is_empty())), "")
                .observed(p.observed())
        });
        Ok([
            count(
                Metric::UserLinesPerApp,
                complexity::user_lines_per_app(&manifests, &plain),
                "lines",
            ),
            count(
                Metric::UserObjectsPerApp,
                complexity::user_objects_per_app(&manifests, &plain)?,
                "objects",
            )
            .observed(complexity::written_kinds(&manifests, &plain)?),
            count(
                Metric::UserKeysPerApp,
                complexity::user_keys_per_app(&manifests, &plain)?,
                "keys",
            ),
            rbac_pairs,
            count(Metric::ClusterObjects, installed.len(), "objects"),
            count(Metric::ClusterCrds, crds, "CRDs"),
        ]
        .into_iter()
        .chain(channels)
        .collect())
    }

    /// Creates consumer `i` of `round` and measures its delivery and its app container's start;
    /// `activity` is the phase it runs in, whose neighbours the samples record.
    pub(super) async fn start(&self, round: usize, i: usize, activity: &Activity) -> Result<(Watched, Vec<Sample>)> {
        let (consumer, expected) = self.consumer(round, i).await?;
        let mut seen = Seen::default();
        seen.look(activity);
        let created = self.create(&consumer).await?;
        pods::wait_running(self.env.app, self.namespace, &consumer.pod, self.plan.bound).await?;
        let app_start = pods::container_start_delay(self.env.app, self.namespace, &consumer.pod, APP).await?;
        let added_containers = self.check_method_in_place(&consumer).await?;
        let mut changes = pods::follow_log(self.env.app, self.namespace, &consumer.pod, APP).await?;
        let delivered = self
            .seen(&mut changes, &consumer, &expected, created, self.plan.bound)
            .await?;
        seen.look(activity);
        let samples = [
            self.sample_ms(Metric::DeliveryLatency, Duration::from_secs_f64(delivered - created)),
            self.sample_ms(Metric::AppStart, Duration::from_secs_f64(app_start)),
        ]
        .map(|s| s.during(created, &seen.labels()))
        .to_vec();
        Ok((
            Watched {
                consumer,
                changes,
                expected,
                added_containers,
            },
            samples,
        ))
    }

    /// The method's containers are in the pod: with `failurePolicy: Ignore` a slow webhook
    /// silently admits pods without agents, which would measure nothing. Returns the admitted
    /// pod's containers besides the application's.
    pub(super) async fn check_method_in_place(&self, consumer: &Consumer) -> Result<Vec<String>> {
        let names = pods::container_names(self.env.app, self.namespace, &consumer.pod).await?;
        let missing: Vec<_> = self
            .method
            .expected_containers()
            .iter()
            .filter(|c| !names.iter().any(|n| n == *c))
            .collect();
        match missing.is_empty() {
            true => Ok(names.into_iter().filter(|n| n != APP).collect()),
            false => Err(Error::State(format!(
                "pod {} lacks the {} containers {missing:?} (it has {names:?})",
                consumer.pod, self.method
            ))),
        }
    }

    /// The application container (not the agent's) reads exactly `expected`.
    pub(super) async fn check_app_reads(&self, consumer: &Consumer, expected: &SecretData) -> Result<()> {
        match self.app_reads(consumer, expected).await? {
            Reads::Expected => Ok(()),
            Reads::Other(why) => Err(Error::State(format!("the app container of {} {why}", consumer.pod))),
        }
    }

    /// What the application container holds now; an error when its files do not decode.
    pub(super) async fn app_holds(&self, consumer: &Consumer) -> Result<SecretData> {
        let files = pods::read_files(self.env.app, self.namespace, &consumer.pod, APP, SECRETS_DIR).await?;
        self.method.decode(&files)
    }

    async fn app_reads(&self, consumer: &Consumer, expected: &SecretData) -> Result<Reads> {
        let files = pods::read_files(self.env.app, self.namespace, &consumer.pod, APP, SECRETS_DIR).await?;
        let seen = match self.method.decode(&files) {
            Ok(seen) => seen,
            Err(e) => return Ok(Reads::Other(format!("reads files that do not decode: {e}"))),
        };
        let wrong = expected.mismatched_keys(&seen);
        Ok(match wrong.is_empty() {
            true => Reads::Expected,
            false => Reads::Other(format!("reads wrong or missing values for {wrong:?}")),
        })
    }

    /// When the application container first saw `expected`: the first change it logs at or after
    /// `after` at which it reads `expected`. A change that shows something else — a writer's
    /// temporary file next to the old one (seen: consul-template creates its temp file in the
    /// destination directory, ~0.6 s before the rename on a loaded node) — is passed over.
    pub(super) async fn seen(
        &self,
        changes: &mut UnboundedReceiver<String>,
        consumer: &Consumer,
        expected: &SecretData,
        after: f64,
        within: Duration,
    ) -> Result<f64> {
        let deadline = tokio::time::Instant::now() + within;
        let mut after = after;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let at = next_change(changes, after, left, consumer).await?;
            match self.app_reads(consumer, expected).await? {
                Reads::Expected => return Ok(at),
                Reads::Other(why) => {
                    tracing::debug!("{}: a change at {at} that {why}; waiting for the next", consumer.pod);
                    after = at + 1e-6;
                }
            }
        }
    }

    /// Deletes a consumer and waits until its pod is gone, so the next round is not measured
    /// while this one still holds the node's CPU requests.
    async fn remove(&self, consumer: &Consumer) -> Result<()> {
        apply::delete(
            self.env.app,
            &self.method.manifests(&self.env.target, consumer, self.plan.profile)?,
        )
        .await?;
        pods::wait_gone(self.env.app, self.namespace, &consumer.pod, self.plan.bound).await
    }

    /// Rotates a consumer's secret `plan.rotations` times at random phases.
    async fn rotate(&self, watched: &mut Watched, activity: &Activity) -> Result<Vec<Sample>> {
        let mut samples = Vec::new();
        for _ in 0..self.plan.rotations {
            let phase = rand::rng().random_range(0.0..self.plan.phase_spread().as_secs_f64());
            wait::pause(Duration::from_secs_f64(phase)).await;
            watched.expected = SecretData::new(watched.expected.keys().map(|k| (k.to_string(), random_value())));
            let mut neighbours = Seen::default();
            neighbours.look(activity);
            let written = now();
            self.write(&watched.consumer.secret_name, &watched.expected).await?;
            let outcome = self
                .seen(
                    &mut watched.changes,
                    &watched.consumer,
                    &watched.expected,
                    written,
                    self.plan.bound,
                )
                .await;
            neighbours.look(activity);
            match outcome {
                Ok(seen) => samples.push(
                    self.sample_ms(Metric::RotationLatency, Duration::from_secs_f64(seen - written))
                        .during(written, &neighbours.labels()),
                ),
                Err(Error::Timeout { .. }) if self.plan.profile == Profile::Defaults => {
                    samples.push(
                        self.not_within(Metric::RotationLatency, self.plan.bound)
                            .during(written, &neighbours.labels()),
                    );
                    return Ok(samples);
                }
                Err(e) => return Err(e),
            }
        }
        self.check_app_reads(&watched.consumer, &watched.expected).await?;
        let restarts = pods::restarts(self.env.app, self.namespace, &watched.consumer.pod).await?;
        match restarts {
            0 => Ok(samples),
            n => Err(Error::State(format!(
                "pod {} restarted {n} times while rotating",
                watched.consumer.pod
            ))),
        }
    }

    /// The containers the method added to the admitted pods and their usage (per pod), and its
    /// per-cluster components ("not applicable" for a method that has none). Containers that are
    /// gone by now (init containers) count as added, with no usage left to measure.
    async fn overhead(&self, consumers: &[Watched]) -> Result<Vec<Sample>> {
        let stats = overhead::pod_stats(self.env.app).await?;
        let pods: Vec<&str> = consumers.iter().map(|w| w.consumer.pod.as_str()).collect();
        let added = overhead::usage(&stats, |ns, pod, container| {
            ns == self.namespace && pods.contains(&pod) && container != APP
        })?;
        let per_pod = consumers.len().max(1) as f64;
        let added_per_pod = consumers.iter().map(|w| w.added_containers.len()).sum::<usize>() as f64 / per_pod;
        let mut samples = vec![
            self.sample(Metric::AddedContainersPerPod, added_per_pod, "count"),
            self.sample(Metric::PodOverheadCpu, added.cpu_millicores / per_pod, "millicores"),
            self.sample(Metric::PodOverheadMemory, added.memory_mib / per_pod, "MiB"),
        ];
        let per_cluster = [
            Metric::ClusterComponents,
            Metric::ClusterComponentsCpu,
            Metric::ClusterComponentsMemory,
        ];
        match self.method.components() {
            Some(components) => {
                let usage = overhead::usage(&stats, |ns, _, _| ns == components.namespace)?;
                samples.push(self.sample(per_cluster[0], usage.containers as f64, "containers"));
                samples.push(self.sample(per_cluster[1], usage.cpu_millicores, "millicores"));
                samples.push(self.sample(per_cluster[2], usage.memory_mib, "MiB"));
            }
            None => samples.extend(per_cluster.map(|metric| self.not_applicable(metric))),
        }
        Ok(samples)
    }

    /// Whether the secret is also stored as a Kubernetes Secret: one in the consumer's namespace
    /// holding every value the app container holds (what etcd makes of it is exposure S1's);
    /// and that Secret's name, for the env-var variant.
    async fn stored_as_secret(&self, watched: &Watched, activity: &Activity) -> Result<(Sample, Option<String>)> {
        let secret = exposure::secret_holding(self.env.app, self.namespace, &watched.expected).await?;
        let read_at = now();
        let mut seen = Seen::default();
        seen.look(activity);
        let sample = self
            .sample(
                Metric::StoredAsKubernetesSecret,
                f64::from(u8::from(secret.is_some())),
                "bool",
            )
            .during(read_at, &seen.labels());
        Ok((sample, secret))
    }

    /// Whether the env-var consumer's environment followed the Secret's rotation.
    async fn env_var_after_rotation(&self, reader: &envvar::EnvReader, watched: &Watched) -> Result<Sample> {
        let changed = reader.changed(self.env.app, self.namespace, &watched.expected).await?;
        let secret = &reader.secret;
        Ok(match changed {
            Some(changed) => self
                .sample(Metric::EnvVarUpdatedInPlace, f64::from(u8::from(changed)), "bool")
                .observed(match changed {
                    true => format!("Secret {secret} rotated; the env-var pod's environment changed in place"),
                    false => format!(
                        "Secret {secret} rotated; the env-var pod's environment did not change (env vars are read at container start)"
                    ),
                }),
            None => self
                .not_applicable(Metric::EnvVarUpdatedInPlace)
                .observed(format!("Secret {secret} was not rotated within the bound")),
        })
    }

    /// Vault requests per pod per minute during the rotation phase, from the audit log, and the
    /// pod-minutes they were counted over.
    async fn vault_load(&self, pods: usize, from: f64, to: f64) -> Result<Vec<Sample>> {
        let since = (now() - from).ceil() as i64 + 5;
        let log = audit::read_log(self.env.vault_cluster, since).await?;
        let requests = audit::requests_from_namespace(&log, self.namespace, from, to)?;
        let minutes = ((to - from) / 60.0).max(f64::EPSILON);
        let pod_minutes = pods.max(1) as f64 * minutes;
        Ok(vec![
            self.sample(
                Metric::VaultRequestsPerPodMinute,
                requests as f64 / pod_minutes,
                "requests/pod/min",
            ),
            self.sample(Metric::VaultRequestsWindow, pod_minutes, "pod-minutes"),
        ])
    }

    /// How the consumers' namespace authenticated to Vault since `started` (this run's
    /// deliveries and rotations), and root-token requests from the app cluster's nodes meanwhile.
    async fn vault_auth(&self, started: f64) -> Result<Vec<Sample>> {
        let since = (now() - started).ceil() as i64 + 5;
        let log = audit::read_log(self.env.vault_cluster, since).await?;
        let auth = audit::namespace_auth(&log, self.namespace);
        let nodes = pods::node_addresses(self.env.app).await?;
        let mounts: Vec<&str> = auth.login_mounts.iter().map(String::as_str).collect();
        let count = |metric, n: usize| self.sample(metric, n as f64, "requests");
        Ok(vec![
            count(Metric::AuthLogins, auth.logins).observed(mounts.join(", ")),
            count(Metric::AuthReads, auth.reads),
            count(Metric::AuthReadsWithLoginToken, auth.reads_with_login_token),
            count(Metric::AuthRevokes, auth.revokes),
            count(Metric::RootRequestsFromApp, audit::root_requests_from(&log, &nodes)),
        ])
    }

    /// What the method requests of the cluster, what backs the secrets directory of the admitted
    /// pod, and the refresh period the method defaults to; all read from the live cluster.
    async fn footprint(&self, consumers: &[Watched]) -> Result<Vec<Sample>> {
        let mut samples = self.requested_per_pod(consumers).await?;
        samples.extend(self.components_requested().await?);
        if let Some(first) = consumers.first() {
            samples.push(self.secret_mount(&first.consumer).await?);
            samples.push(self.secret_mount_tmpfs(&first.consumer).await?);
        }
        samples.extend(self.default_refresh_period().await?);
        samples.extend(self.source_licences());
        Ok(samples)
    }

    /// The licence and owner of each module the method's offline images were built from; none
    /// when upstream's images ran.
    fn source_licences(&self) -> Vec<Sample> {
        let modules = match self.env.target.images {
            ImageSource::Offline => self.method.source_modules(),
            ImageSource::Online => Vec::new(),
        };
        let Some(cache) = provenance::module_cache() else {
            return Vec::new();
        };
        let own = self.method.own_components().into_iter().map(|component| {
            let line = format!(
                "{component}: {}, owner this project (the harness's Cargo.toml)",
                env!("CARGO_PKG_LICENSE")
            );
            self.sample(Metric::SourceLicence, 1.0, "").observed(line)
        });
        modules
            .into_iter()
            .map(|module| {
                let (read, line) = provenance::licence_line(&cache, module);
                self.sample(Metric::SourceLicence, f64::from(u8::from(read)), "")
                    .observed(line)
            })
            .chain(own)
            .collect()
    }

    /// Requests of the containers the method added to the admitted pods, per pod.
    async fn requested_per_pod(&self, consumers: &[Watched]) -> Result<Vec<Sample>> {
        let admitted = try_join_all(
            consumers
                .iter()
                .map(|w| pods::get(self.env.app, self.namespace, &w.consumer.pod)),
        )
        .await?;
        let added = admitted
            .iter()
            .map(footprint::added_requests)
            .collect::<Result<Vec<_>>>()?;
        let per_pod = consumers.len().max(1) as f64;
        Ok(vec![
            self.sample(
                Metric::RequestedCpuPerPod,
                added.iter().map(|r| r.cpu_millicores).sum::<f64>() / per_pod,
                "millicores",
            ),
            self.sample(
                Metric::RequestedMemoryPerPod,
                added.iter().map(|r| r.memory_mib).sum::<f64>() / per_pod,
                "MiB",
            ),
        ])
    }

    /// Requests of the method's per-cluster components, summed ("not applicable" without any).
    async fn components_requested(&self) -> Result<Vec<Sample>> {
        let metrics = [Metric::ComponentsRequestedCpu, Metric::ComponentsRequestedMemory];
        let Some(components) = self.method.components() else {
            return Ok(metrics.map(|metric| self.not_applicable(metric)).to_vec());
        };
        let running = pods::list(self.env.app, components.namespace, components.selector).await?;
        if running.is_empty() {
            return Err(Error::State(format!(
                "no pods {:?} in {} to read the {} components' requests from",
                components.selector, components.namespace, self.method
            )));
        }
        let requested = footprint::total_requests(&running)?;
        Ok(vec![
            self.sample(metrics[0], requested.cpu_millicores, "millicores"),
            self.sample(metrics[1], requested.memory_mib, "MiB"),
        ])
    }

    /// What backs the application container's secrets directory in the admitted pod.
    async fn secret_mount(&self, consumer: &Consumer) -> Result<Sample> {
        let admitted = pods::get(self.env.app, self.namespace, &consumer.pod).await?;
        let class = footprint::secret_mount(&admitted);
        Ok(self.sample(Metric::SecretMount, 1.0, "class").observed(class.name()))
    }

    /// Whether the secrets directory is a tmpfs, as the application container sees it.
    async fn secret_mount_tmpfs(&self, consumer: &Consumer) -> Result<Sample> {
        let shown = format!("stat -f {SECRETS_DIR}");
        let command = ["stat", "-f", "-c", "%T", SECRETS_DIR];
        let out = pods::exec(self.env.app, self.namespace, &consumer.pod, APP, &command, &shown).await?;
        let fs_type = out.trim();
        if fs_type.is_empty() {
            return Err(Error::State(format!(
                "{shown} in {}/{}/{APP} printed no filesystem type",
                self.namespace, consumer.pod
            )));
        }
        let tmpfs = if fs_type == "tmpfs" { 1.0 } else { 0.0 };
        Ok(self.sample(Metric::SecretMountTmpfs, tmpfs, "bool").observed(fs_type))
    }

    /// The refresh period the method runs with when none is set, if a live object declares it.
    async fn default_refresh_period(&self) -> Result<Option<Sample>> {
        let read = self.method.default_refresh_period(self.env.app).await?;
        Ok(read.map(|(secs, source)| self.sample(Metric::DefaultRefreshPeriod, secs, "s").observed(source)))
    }

    /// Writes a consumer's secret to Vault, recording the values' fingerprints for the hygiene
    /// check (never the values).
    pub(super) async fn write(&self, secret_name: &str, data: &SecretData) -> Result<()> {
        crate::secret::record_fingerprints(data)?;
        let kv = &self.env.target.cfg.kv;
        self.env.writer.kv(&kv.mount, kv.version).put(secret_name, data).await
    }
}

/// The app-start baseline's pod `pod`: the application container alone, no secret; also what
/// the Complexity figures count a consumer's manifests against.
pub(super) fn plain_pod(namespace: &str, pod: &str) -> Result<String> {
    apply::render(
        PLAIN_POD,
        &[
            ("NAMESPACE", namespace),
            ("POD", pod),
            ("APP_CONTAINER", &super::app_container("[]")?),
        ],
    )
}

/// The samples `measuring` returns, each stamped with the time it started and what ran meanwhile.
async fn stamped_now(
    measuring: impl std::future::Future<Output = Result<Vec<Sample>>>,
    concurrent: &[String],
) -> Result<Vec<Sample>> {
    let started = now();
    Ok(measuring
        .await?
        .into_iter()
        .map(|s| s.during(started, concurrent))
        .collect())
}

pub(super) fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default()
}

pub(super) fn random_value() -> SecretString {
    use rand::distr::{Alphanumeric, SampleString};
    Alphanumeric.sample_string(&mut rand::rng(), 24).into()
}

/// What the application container reads.
enum Reads {
    Expected,
    /// Something else, and what.
    Other(String),
}

/// The next `changed <unix time>` the application container logs at or after `after`.
pub(super) async fn next_change(
    lines: &mut UnboundedReceiver<String>,
    after: f64,
    within: Duration,
    consumer: &Consumer,
) -> Result<f64> {
    let what = format!("the app container of {} to see a change", consumer.pod);
    wait::within(&what, within, async {
        while let Some(line) = lines.recv().await {
            if let Some(at) = parse_change(&line).filter(|at| *at >= after) {
                return Ok(at);
            }
        }
        Err(Error::State(format!("the app container log of {} ended", consumer.pod)))
    })
    .await
}

fn parse_change(line: &str) -> Option<f64> {
    line.strip_prefix("changed ")?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn change_lines_carry_the_containers_clock() {
        assert_eq!(parse_change("changed 1764363000.250000000"), Some(1_764_363_000.25));
        assert_eq!(parse_change("something else"), None);
    }

    #[test]
    fn the_quick_plan_meets_the_sample_counts_and_defaults_are_bounded_at_6_min() {
        let quick = Plan::quick();
        assert!(quick.consumers * quick.rounds >= 10, "≥ 10 delivery samples");
        assert!(quick.consumers * quick.rotations >= 20, "≥ 20 rotation samples");
        let defaults = Plan::defaults();
        assert!(defaults.consumers * defaults.rotations >= 3);
        assert_eq!(defaults.bound, Duration::from_secs(360));
        assert_eq!(defaults.phase_spread(), Duration::from_secs(60));
    }
}
