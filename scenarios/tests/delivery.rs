//! Secret delivery into an application container by each method, measured. One trial per method
//! and profile, generated from the method registry (`Method::all()`, see [`trials`]); each runs the whole plan
//! (`delivery::run`) and appends its samples to `target/harness/samples/delivery.jsonl`:
//! - `<method>::tuned::…` (every refresh interval 10 s, `Plan::quick`): ≥ 10 deliveries checked
//!   for the right username and password in the app container, ≥ 20 rotations at random phases
//!   seen by the app container without a restart, then overhead and Vault load;
//! - `<method>::defaults::…` (upstream defaults, `Plan::defaults`, every wait bounded at 6 min):
//!   delivery must work; a rotation may legitimately not arrive within the bound (ESO refreshes
//!   hourly), which is recorded as "not within 6 min", not a failure. Nightly only.
//!
//! Run just these: `cargo nextest run -P e2e -E 'binary(delivery)'` (tuned);
//! `cargo nextest run -P nightly -E 'binary(delivery)'` (both profiles); one method:
//! `-E 'binary(delivery) & test(/^eso::/)'`.

use harness::{
    delivery::{
        Method, Profile,
        run::{MethodRun, Plan},
    },
    evidence,
    measure::{self, Metric},
    report,
};
use libtest_mimic::{Arguments, Trial};

fn main() {
    scenarios::init_tracing();
    libtest_mimic::run(&Arguments::from_args(), trials()).exit();
}

/// One trial per delivery method × profile.
fn trials() -> Vec<Trial> {
    let methods = Method::all();
    let plans = [Plan::quick(), Plan::defaults()];
    methods
        .into_iter()
        .flat_map(|method| plans.map(|plan| trial(method, plan)))
        .collect()
}

/// `<method>::<profile>::<claim>`, the claim by profile; the profile is part of the name so the
/// nextest profiles can tell the quick run from the nightly one.
fn trial(method: Method, plan: Plan) -> Trial {
    let claim = match plan.profile {
        Profile::Tuned => "delivers_to_the_app_container_and_rotations_arrive_without_restart",
        Profile::Defaults => "delivers_and_rotations_are_timed_or_bounded",
    };
    let name = format!("{method}::{}::{claim}", plan.profile.name());
    Trial::test(name.clone(), move || {
        scenarios::trial(&name, |test| async move {
            let run = measured(&test, method, plan).await;
            assert_all_measured(&run, plan);
        });
        Ok(())
    })
}

/// Runs the plan; on failure its evidence is kept under target/harness/evidence/<test>/run (the
/// trial's own guard adds the clusters' evidence next to it).
async fn measured(test: &str, method: Method, plan: Plan) -> MethodRun {
    let session = scenarios::env::session().await;
    let run = session
        .run(method, plan, &evidence::dir(test).join("run"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    println!("{}", report::terminal(&report::build(&run.samples)));
    measure::append(
        &harness::fixtures::repo_root().join("target/harness/samples/delivery.jsonl"),
        &run.samples,
    )
    .unwrap();
    run
}

/// The run's own checks (right values, no restart, method containers present) fail it with
/// evidence; what is left to check here is that the plan's samples were all taken: every
/// delivery measured, and every rotation measured (tuned) or, under the defaults, measured or
/// bounded.
fn assert_all_measured(run: &MethodRun, plan: Plan) {
    assert_eq!(run.values(Metric::DeliveryLatency).len(), plan.consumers * plan.rounds);
    let rotations = plan.consumers * plan.rotations;
    match plan.profile {
        Profile::Tuned => {
            assert_eq!(run.values(Metric::RotationLatency).len(), rotations);
            assert_eq!(run.values(Metric::VaultRequestsPerPodMinute).len(), 1);
        }
        Profile::Defaults => assert_eq!(
            run.values(Metric::RotationLatency).len() + run.not_within(Metric::RotationLatency),
            rotations
        ),
    }
}
