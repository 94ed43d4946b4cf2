//! Vault outages under one consumer of each delivery method: measured, never assumed. One trial
//! per outage, generated from `Fault::ALL` (see [`trials`]); each runs every method against the
//! same outage, appends the samples to `target/harness/samples/faults.jsonl`, and checks that
//! each method's recovery was measured or bounded. Vault is back and unsealed after each.
//!
//! They take the shared Vault away, so each runs alone, after the scenarios that share the
//! clusters (nextest profile overrides). Run just these:
//! `cargo nextest run -P e2e -E 'binary(faults)'`.

use harness::{
    delivery::{Method, fault::Fault},
    evidence,
    measure::{self, Outcome},
    report,
};
use libtest_mimic::{Arguments, Trial};

fn main() {
    scenarios::init_tracing();
    libtest_mimic::run(&Arguments::from_args(), trials()).exit();
}

/// One trial per Vault outage.
fn trials() -> Vec<Trial> {
    Fault::ALL.into_iter().map(trial).collect()
}

/// `<fault>::<claim>`.
fn trial(fault: Fault) -> Trial {
    let claim = match fault {
        Fault::Sealed | Fault::KilledDuringRotation => "is_survived_by_every_method_and_recovery_is_timed",
        Fault::DownAtPodStart => "is_recorded_and_the_app_gets_its_value_once_vault_is_back",
    };
    let name = format!("{}::{claim}", fault.name());
    Trial::test(name.clone(), move || {
        scenarios::trial(&name, |test| async move { measured(&test, fault).await });
        Ok(())
    })
}

async fn measured(test: &str, fault: Fault) {
    let session = scenarios::env::session().await;
    let evidence = evidence::dir(test).join("run");
    let runs = session
        .fault(fault, &Method::ALL, &evidence)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let samples: Vec<_> = runs.iter().flat_map(|r| r.samples.iter().cloned()).collect();
    println!("{}", report::terminal(&report::build(&samples)));
    measure::append(
        &harness::fixtures::repo_root().join("target/harness/samples/faults.jsonl"),
        &samples,
    )
    .unwrap();
    for run in &runs {
        let recovery: Vec<_> = run
            .samples
            .iter()
            .filter(|s| s.metric == format!("{}_recovery_latency", fault.name()))
            .collect();
        assert_eq!(recovery.len(), 1, "{}: one recovery sample", run.method);
        assert!(
            recovery[0].outcome == Outcome::NotWithin || recovery[0].value >= 0.0,
            "{}: recovery measured or bounded",
            run.method
        );
    }
    let status = session.writer.status().await.unwrap();
    assert!(!status.sealed, "Vault is back and unsealed after the fault");
}
