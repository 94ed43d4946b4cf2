//! Vault outages under one consumer of each delivery method: measured, never assumed. One trial
//! per outage, generated from `Fault::ALL` (see [`trials`]); each runs every method against the
//! same outage, appends the samples to `target/harness/samples/faults.jsonl`, and checks what its
//! name promises ([`unmet`]). Vault is back and unsealed after each.
//!
//! They take the shared Vault away, so each runs alone, after the scenarios that share the
//! clusters (nextest profile overrides). Run just these:
//! `cargo nextest run -P e2e -E 'binary(faults)'`.

use harness::{
    delivery::{Method, fault::Fault, run::MethodRun},
    evidence,
    measure::{self, Metric, Outcome},
    report,
};
use libtest_mimic::{Arguments, Trial};

fn main() {
    scenarios::init_tracing();
    libtest_mimic::run(&Arguments::from_args(), trials()).exit();
}

/// One trial per Vault outage, each under one consumer of every method.
fn trials() -> Vec<Trial> {
    Fault::ALL
        .into_iter()
        .map(|fault| trial(fault, Method::all()))
        .collect()
}

/// `<fault>::<claim>`.
fn trial(fault: Fault, methods: Vec<Method>) -> Trial {
    let claim = if survived(fault) {
        "is_survived_by_every_method_and_recovery_is_timed"
    } else {
        "is_recorded_and_the_app_gets_its_value_once_vault_is_back"
    };
    let name = format!("{}::{claim}", fault);
    Trial::test(name.clone(), move || {
        scenarios::trial(&name, |test| async move { measured(&test, fault, &methods).await });
        Ok(())
    })
}

/// Outages a running consumer must survive: it was running and had its value before Vault went.
fn survived(fault: Fault) -> bool {
    match fault {
        Fault::Sealed | Fault::KilledDuringRotation => true,
        Fault::DownAtPodStart => false,
    }
}

async fn measured(test: &str, fault: Fault, methods: &[Method]) {
    let session = scenarios::env::session().await;
    let evidence = evidence::dir(test).join("run");
    let runs = session
        .fault(fault, methods, &evidence)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let samples: Vec<_> = runs.iter().flat_map(|r| r.samples.iter().cloned()).collect();
    println!("{}", report::terminal(&report::build(&samples)));
    measure::append(
        &harness::fixtures::repo_root().join("target/harness/samples/faults.jsonl"),
        &samples,
    )
    .unwrap();
    let status = session.writer.status().await.unwrap();
    assert!(!status.sealed, "Vault is back and unsealed after the fault");
    let unmet: Vec<String> = runs.iter().flat_map(|run| unmet(fault, run)).collect();
    assert_eq!(unmet, Vec::<String>::new(), "{}: what the trial's name promises", fault);
}

/// What the trial's name promises that one method's samples of `fault` do not show, one line
/// each (empty: all kept):
/// - for every fault, exactly one sample of each of its four metrics (pod running during the
///   outage, app has a value, restarts, recovery latency), and the recovery measured, not the
///   bound (`not_within`): once Vault is back, the application gets the current value;
/// - "is survived" (`vault_sealed`, `vault_killed_during_rotation`): besides, the pod ran during
///   the outage (1), the application held a complete value (1) and no container restarted (0).
///
/// `vault_down_at_pod_start` records whether the pods created while Vault was away ran and had a
/// value meanwhile; that differs by method, so it is a measurement, not an expectation.
fn unmet(fault: Fault, run: &MethodRun) -> Vec<String> {
    let samples = |metric: Metric| {
        run.samples
            .iter()
            .filter(move |s| s.fault == Some(fault) && s.metric == metric)
    };
    let mut unmet = Vec::new();
    for metric in [
        Metric::PodRunningDuringOutage,
        Metric::AppHasValueDuringOutage,
        Metric::Restarts,
        Metric::RecoveryLatency,
    ] {
        let count = samples(metric).count();
        if count != 1 {
            unmet.push(format!("{}: {count} samples of {fault} {metric}, not one", run.method));
        }
    }
    for recovery in samples(Metric::RecoveryLatency).filter(|s| s.outcome == Outcome::NotWithin) {
        unmet.push(format!(
            "{}: {fault} {} not within {} {}",
            run.method, recovery.metric, recovery.value, recovery.unit
        ));
    }
    if survived(fault) {
        for (metric, expected) in [
            (Metric::PodRunningDuringOutage, 1.0),
            (Metric::AppHasValueDuringOutage, 1.0),
            (Metric::Restarts, 0.0),
        ] {
            for sample in samples(metric).filter(|s| s.value != expected) {
                unmet.push(format!(
                    "{}: {fault} {} is {}, not {expected}",
                    run.method, sample.metric, sample.value
                ));
            }
        }
    }
    unmet
}
