//! Vault outages, measured per method (tuned profile, one consumer per method, all methods side
//! by side against the same outage):
//! - `vault_sealed`: Vault sealed under running consumers;
//! - `vault_killed_during_rotation`: a new value written, then Vault's pod killed at once (its
//!   replacement starts sealed);
//! - `vault_down_at_pod_start`: consumers created while Vault is scaled to zero.
//!
//! For each: whether the consumer pod runs during the outage, whether the application keeps (or,
//! for a new pod, has) a complete value, container restarts, and the time from Vault being back
//! (answering and unsealed) until the application sees the current value. Vault is always brought
//! back, also when a step fails.

use std::{path::Path, time::Duration};

use futures::future::try_join_all;

use serde::{Deserialize, Serialize};

use super::{
    APP, Method, Profile,
    activity::{Activity, Gate, Seen},
    run::{self, Env, MethodRun, Plan, Run, Watched, now, random_value},
};
use crate::{
    Error, Result, interrupt,
    measure::{Metric, Sample},
    pods::{self, TestNamespace},
    secret::SecretData,
    vault::in_cluster::outage,
    wait,
};

/// How long Vault stays away: three tuned refresh intervals.
const OUTAGE: Duration = Duration::from_secs(30);
/// How long the application may take to see the current value once Vault is back.
const RECOVERY_BOUND: Duration = Duration::from_secs(360);

/// A Vault outage; the serde names are the names in samples, reports and evidence directories.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Fault {
    #[serde(rename = "vault_sealed")]
    Sealed,
    #[serde(rename = "vault_killed_during_rotation")]
    KilledDuringRotation,
    #[serde(rename = "vault_down_at_pod_start")]
    DownAtPodStart,
}

impl Fault {
    pub const ALL: [Fault; 3] = [Fault::Sealed, Fault::KilledDuringRotation, Fault::DownAtPodStart];
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        crate::measure::write_serde_name(self, f)
    }
}

/// What a fault run needs besides the delivery environment: where Vault's keys are, to bring it back.
pub struct Recovery<'a> {
    pub state_dir: &'a Path,
    pub key_threshold: u8,
}

/// Inflicts `fault` on the cluster Vault under one consumer of each method; returns each method's
/// fault samples. Every method's namespace is removed afterwards and Vault is brought back.
pub async fn run(
    fault: Fault,
    methods: &[Method],
    env: &Env<'_>,
    recovery: &Recovery<'_>,
    evidence: &Path,
) -> Result<Vec<MethodRun>> {
    let plan = Plan {
        profile: Profile::Tuned,
        consumers: 1,
        rounds: 1,
        rotations: 0,
        bound: RECOVERY_BOUND,
    };
    let label = format!("fault {fault}");
    let activity = Activity::begin(&env.activity, &label)?;
    {
        let _gate = interrupt::guarded(Gate::acquire(&env.activity, &label)).await?;
        for method in methods {
            interrupt::guarded(method.install(env.app, &env.target)).await?;
        }
    }
    let mut namespaces = Vec::new();
    for method in methods {
        let prefix = format!("fault-{}", method.name().replace('_', "-"));
        namespaces.push(TestNamespace::create(env.app, &prefix).await?);
    }
    let runs: Vec<Run<'_>> = methods
        .iter()
        .zip(&namespaces)
        .map(|(method, ns)| Run {
            method: *method,
            env,
            plan,
            namespace: &ns.name,
            versions: run::versions(*method, env),
        })
        .collect();
    crate::step!("fault {}: {} methods", fault, runs.len());

    let outcome = interrupt::guarded(async {
        match fault {
            Fault::Sealed | Fault::KilledDuringRotation => {
                under_running_consumers(fault, &runs, recovery, &activity).await
            }
            Fault::DownAtPodStart => at_pod_start(&runs, recovery, &activity).await,
        }
    })
    .await;
    // Whatever happened, Vault must be back for whoever runs next.
    let restored = match fault {
        Fault::DownAtPodStart => match outage::scale(env.vault_cluster, 1).await {
            Ok(()) => outage::restore(recovery.state_dir, recovery.key_threshold).await,
            Err(e) => Err(e),
        },
        _ => outage::restore(recovery.state_dir, recovery.key_threshold).await,
    };
    if outcome.as_ref().is_err_and(|e| !matches!(e, Error::Interrupted)) {
        let mut kept: Vec<&str> = namespaces.iter().map(|ns| ns.name.as_str()).collect();
        kept.extend(methods.iter().filter_map(|m| m.components()).map(|c| c.namespace));
        run::keep_evidence(env, &kept, evidence).await;
    }
    for ns in namespaces {
        ns.delete().await?;
    }
    restored?;
    let samples = outcome.map_err(|e| match e {
        Error::Interrupted => e,
        e => Error::State(format!("fault {}: {e} (evidence in {})", fault, evidence.display())),
    })?;
    Ok(methods
        .iter()
        .zip(samples)
        .map(|(method, samples)| MethodRun {
            method: *method,
            profile: Profile::Tuned,
            samples,
        })
        .collect())
}

/// Sealed / killed: consumers get their value, Vault goes away, comes back; then a new value
/// (sealed) or the value written just before the kill must reach the application.
async fn under_running_consumers(
    fault: Fault,
    runs: &[Run<'_>],
    recovery: &Recovery<'_>,
    activity: &Activity,
) -> Result<Vec<Vec<Sample>>> {
    let starting = Activity::begin(&runs[0].env.activity, &format!("fault {fault}: pod starts"))?;
    let mut watched: Vec<Watched> = try_join_all(runs.iter().map(|r| r.start(0, 0, &starting)))
        .await?
        .into_iter()
        .map(|(w, _)| w)
        .collect();
    drop(starting);
    let before: Vec<SecretData> = watched.iter().map(|w| w.expected.clone()).collect();
    let root = runs[0].env.writer;
    let struck = match fault {
        Fault::KilledDuringRotation => {
            for (run, w) in runs.iter().zip(watched.iter_mut()) {
                w.expected = rotated(&w.expected);
                run.write(&w.consumer.secret_name, &w.expected).await?;
            }
            let struck = now();
            outage::kill_pod(runs[0].env.vault_cluster, root).await?;
            struck
        }
        _ => {
            let struck = now();
            outage::seal(root).await?;
            struck
        }
    };
    interrupt::failpoint("fault-vault-away");
    wait::pause(OUTAGE).await;
    let mut during = Vec::new();
    for ((run, w), old) in runs.iter().zip(&watched).zip(&before) {
        // After a kill the new value may have been read just before Vault went: either is kept.
        let kept = run.check_app_reads(&w.consumer, old).await.is_ok()
            || run.check_app_reads(&w.consumer, &w.expected).await.is_ok();
        during.push((pod_running(run, &w.consumer.pod).await?, kept));
    }

    outage::restore(recovery.state_dir, recovery.key_threshold).await?;
    let back = now();
    if fault == Fault::Sealed {
        for (run, w) in runs.iter().zip(watched.iter_mut()) {
            w.expected = rotated(&w.expected);
            run.write(&w.consumer.secret_name, &w.expected).await?;
        }
    }
    let since = if fault == Fault::Sealed { back } else { struck };
    let mut all = Vec::new();
    for ((run, w), (running, kept)) in runs.iter().zip(watched.iter_mut()).zip(during) {
        let recovered = recovery_sample(run, fault, w, since, back, activity).await?;
        all.push(fault_samples(run, fault, running, kept, recovered, &w.consumer.pod).await?);
    }
    Ok(all)
}

/// Down at pod start: consumers created while Vault is scaled to zero; Vault comes back.
async fn at_pod_start(runs: &[Run<'_>], recovery: &Recovery<'_>, activity: &Activity) -> Result<Vec<Vec<Sample>>> {
    let mut prepared = Vec::new();
    for run in runs {
        prepared.push(run.consumer(0, 0).await?);
    }
    outage::scale(runs[0].env.vault_cluster, 0).await?;
    interrupt::failpoint("fault-vault-away");
    for (run, (consumer, _)) in runs.iter().zip(&prepared) {
        run.create(consumer).await?;
    }
    wait::pause(OUTAGE).await;
    let mut during = Vec::new();
    for (run, (consumer, expected)) in runs.iter().zip(&prepared) {
        let running = pod_running(run, &consumer.pod).await?;
        let has_value = running && run.check_app_reads(consumer, expected).await.is_ok();
        during.push((running, has_value));
    }

    outage::scale(runs[0].env.vault_cluster, 1).await?;
    outage::restore(recovery.state_dir, recovery.key_threshold).await?;
    let back = now();
    let mut all = Vec::new();
    for ((run, (consumer, expected)), (running, has_value)) in runs.iter().zip(prepared).zip(during) {
        pods::wait_running(run.env.app, run.namespace, &consumer.pod, RECOVERY_BOUND).await?;
        let changes = pods::follow_log(run.env.app, run.namespace, &consumer.pod, APP).await?;
        let pod = consumer.pod.clone();
        let mut w = Watched {
            consumer,
            changes,
            expected,
            added_containers: Vec::new(),
        };
        // The first value the application ever sees, however early.
        let recovered = recovery_sample(run, Fault::DownAtPodStart, &mut w, 0.0, back, activity).await?;
        all.push(fault_samples(run, Fault::DownAtPodStart, running, has_value, recovered, &pod).await?);
    }
    Ok(all)
}

/// Time from Vault being back until the application sees a change made after `since` (clamped at
/// zero when it saw it before Vault was back), checked to be the current value; or the bound.
/// Records what else ran while it waited, as seen from the fault's `activity`.
async fn recovery_sample(
    run: &Run<'_>,
    fault: Fault,
    w: &mut Watched,
    since: f64,
    back: f64,
    activity: &Activity,
) -> Result<Sample> {
    let mut seen = Seen::default();
    seen.look(activity);
    let sample = match run
        .seen(&mut w.changes, &w.consumer, &w.expected, since, RECOVERY_BOUND)
        .await
    {
        Ok(seen) => run.sample_ms(Metric::RecoveryLatency, Duration::from_secs_f64((seen - back).max(0.0))),
        Err(Error::Timeout { .. }) => run.not_within(Metric::RecoveryLatency, RECOVERY_BOUND),
        Err(e) => return Err(e),
    };
    seen.look(activity);
    Ok(sample.under(fault).during(back, &seen.labels()))
}

async fn fault_samples(
    run: &Run<'_>,
    fault: Fault,
    running: bool,
    kept: bool,
    recovered: Sample,
    pod: &str,
) -> Result<Vec<Sample>> {
    let restarts = pods::restarts(run.env.app, run.namespace, pod).await?;
    let flag = |b: bool| if b { 1.0 } else { 0.0 };
    Ok(vec![
        run.sample(Metric::PodRunningDuringOutage, flag(running), "bool")
            .under(fault),
        run.sample(Metric::AppHasValueDuringOutage, flag(kept), "bool")
            .under(fault),
        run.sample(Metric::Restarts, f64::from(restarts), "count").under(fault),
        recovered,
    ])
}

async fn pod_running(run: &Run<'_>, pod: &str) -> Result<bool> {
    Ok(pods::phase(run.env.app, run.namespace, pod).await?.as_deref() == Some("Running"))
}

fn rotated(data: &SecretData) -> SecretData {
    SecretData::new(data.keys().map(|k| (k.to_string(), random_value())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_names_are_distinct_and_round_trip_through_the_samples() {
        let names: std::collections::BTreeSet<_> = Fault::ALL.iter().map(|f| f.to_string()).collect();
        assert_eq!(names.len(), Fault::ALL.len());
        assert_eq!(Fault::Sealed.to_string(), "vault_sealed");
        for fault in Fault::ALL {
            let json = serde_json::to_string(&fault).unwrap();
            assert_eq!(serde_json::from_str::<Fault>(&json).unwrap(), fault);
        }
    }
}
