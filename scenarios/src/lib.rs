//! What the scenarios share; the claims themselves are the test binaries in `tests/`, one per area.
//!
//! No cluster needed (`cargo nextest run`, profiles `default` and `ci`):
//! - `vault_tier`: the article's Vault runbook against real OpenBao servers;
//! - `secret_hygiene`: no secret in any log line of the Vault tier;
//! - `workflows`: the GitHub workflows pass actionlint;
//! - `csi_provider`: the harness's CSI provider replays vault-csi-provider 1.7.x's golden vectors.
//!
//! On the two kind clusters `harness up` creates (`cargo nextest run -P e2e`; the profile's setup
//! script `scripts/e2e-up.sh` builds the images and brings them up):
//! - `clusters`: the air-gapped clusters themselves;
//! - `kubernetes_auth`: pods of one cluster log in to the Vault of the other;
//! - `csi`: the CSI method's own cases (vault-csi-provider's bats cases, bad input);
//! - `existing_substrate`: `harness up`/`down` on clusters the harness did not create;
//! - `delivery`: each delivery method × profile, measured (generated trials);
//! - `faults`: each Vault outage under every method, measured (generated trials);
//! - `interrupts`: Ctrl-C and panics in `harness up` and `harness run` leave nothing behind;
//! - `hygiene`: no secret in anything the run left behind (last, alone).
//!
//! One area: `cargo nextest run -P e2e -E 'binary(kubernetes_auth)'`.
//!
//! A cluster scenario's body runs inside [`scenario`] (or [`trial`] in the generated binaries):
//! the test-wide log first, then the body; when it fails, the evidence is kept under
//! `target/harness/evidence/<`[`test_name`]`>/`.

pub mod cli;
pub mod env;

use std::{future::Future, panic::AssertUnwindSafe};

use futures::FutureExt;

/// The running test's name as its evidence directory gets it: `<binary>::<test>`, e.g.
/// `kubernetes_auth::an_unknown_role_is_refused`, whose evidence goes to
/// `target/harness/evidence/kubernetes_auth::an_unknown_role_is_refused/`.
///
/// `<test>` is `NEXTEST_TEST_NAME`, which nextest sets for every test it runs. Without nextest
/// (`cargo test`) it is the name libtest gives the test's thread, and when the thread has none
/// (one-thread runs, custom harnesses) `unnamed-test-<pid>`, so that a directory of evidence
/// never passes for another test's. The generated trials pass their names to [`trial`] instead.
pub fn test_name() -> String {
    let test = std::env::var("NEXTEST_TEST_NAME")
        .ok()
        .filter(|n| !n.is_empty())
        .or_else(|| std::thread::current().name().filter(|n| *n != "main").map(String::from))
        .unwrap_or_else(|| format!("unnamed-test-{}", std::process::id()));
    qualified(&test)
}

/// `<binary>::<test>`: the test binary's name (its file name without Cargo's `-<hash>`).
fn qualified(test: &str) -> String {
    format!("{}::{test}", binary_name())
}

fn binary_name() -> String {
    let exe = std::env::current_exe().unwrap_or_default();
    let stem = exe.file_stem().and_then(|s| s.to_str()).unwrap_or("scenarios");
    without_cargo_hash(stem).to_string()
}

/// `kubernetes_auth-0f3c9a1b2d4e5f60` → `kubernetes_auth` (Cargo names test executables
/// `<target>-<16 hex digits>`).
fn without_cargo_hash(stem: &str) -> &str {
    match stem.rsplit_once('-') {
        Some((name, hash)) if hash.len() == 16 && hash.chars().all(|c| c.is_ascii_hexdigit()) => name,
        _ => stem,
    }
}

/// Installs the test-wide log once per test process: every `tracing` event (the runbook steps of
/// `harness::step!` among them) goes to the test's captured output, so a failing scenario shows
/// its steps. Filter: `$HARNESS_LOG` (as for the `harness` binary), else `info` with vaultrs and
/// rustify off, as the CLI has them (they log refusals a check often expects). Repeated calls do
/// nothing.
pub fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_env("HARNESS_LOG").unwrap_or_else(|_| EnvFilter::new("info,vaultrs=off,rustify=off"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .with_ansi(false)
        .try_init();
}

/// Runs a cluster scenario's body as [`test_name`]: the test-wide log ([`init_tracing`]), then the
/// body; when it panics (a failed assertion), the evidence is kept first
/// ([`harness::evidence::kept_on_failure`], under `target/harness/evidence/<test name>/`).
/// While it runs it is declared as an activity ([`harness::delivery::activity`]), so delivery
/// samples taken meanwhile record it.
pub async fn scenario<F: Future>(body: F) -> F::Output {
    let name = test_name();
    let dir = harness::delivery::activity::dir(&harness::paths::state_dir());
    let _running = harness::delivery::activity::Activity::begin(&dir, &format!("scenario {name}"))
        .unwrap_or_else(|e| panic!("declaring {name} as running: {e}"));
    named(&name, body).await
}

async fn named<F: Future>(name: &str, body: F) -> F::Output {
    init_tracing();
    harness::evidence::kept_on_failure(name, body).await
}

/// Runs one generated trial (the `delivery` and `faults` binaries): its own tokio runtime, then
/// `body` as a [`scenario`] named `<binary>::<name>` (not declared as an activity: the runs
/// declare their own phases). `body` gets that name, for the evidence
/// directory of the run it starts. A failure panics, which libtest-mimic reports as the trial's.
pub fn trial<F, Fut>(name: &str, body: F)
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = ()>,
{
    let name = qualified(name);
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime for the trial");
    runtime.block_on(named(&name, body(name.clone())));
}

/// Runs `body`, then `cleanup`, also when `body` panics (a failed assertion); the panic goes on
/// afterwards. A cleanup that fails fails the test, unless the body already failed it (then the
/// cleanup's error is printed next to the body's).
pub async fn finally<F, C, E>(body: F, cleanup: C) -> F::Output
where
    F: Future,
    C: Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    let outcome = AssertUnwindSafe(body).catch_unwind().await;
    let cleaned = cleanup.await;
    match outcome {
        Ok(output) => {
            if let Err(e) = cleaned {
                panic!("cleanup failed: {e}");
            }
            output
        }
        Err(panic) => {
            if let Err(e) = cleaned {
                eprintln!("cleanup failed too: {e}");
            }
            std::panic::resume_unwind(panic)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cargo_s_hash_is_cut_from_the_executable_name() {
        assert_eq!(
            without_cargo_hash("kubernetes_auth-0f3c9a1b2d4e5f60"),
            "kubernetes_auth"
        );
        assert_eq!(without_cargo_hash("delivery"), "delivery");
        assert_eq!(without_cargo_hash("my-face"), "my-face");
    }

    #[test]
    fn the_test_name_is_the_binary_and_nextest_s_name_else_the_thread_s() {
        let name = test_name();
        let expected_test = std::env::var("NEXTEST_TEST_NAME")
            .unwrap_or_else(|_| "tests::the_test_name_is_the_binary_and_nextest_s_name_else_the_thread_s".into());
        assert_eq!(name, format!("scenarios::{expected_test}"));
    }

    #[tokio::test]
    async fn finally_cleans_up_after_a_panic_and_the_panic_goes_on() {
        let cleaned = std::sync::atomic::AtomicBool::new(false);
        let outcome = AssertUnwindSafe(finally(async { panic!("the body failed") }, async {
            cleaned.store(true, std::sync::atomic::Ordering::SeqCst);
            Ok::<(), String>(())
        }))
        .catch_unwind()
        .await;
        assert!(outcome.is_err(), "the body's panic goes on");
        assert!(cleaned.load(std::sync::atomic::Ordering::SeqCst), "the cleanup ran");
    }

    #[tokio::test]
    async fn a_failed_cleanup_fails_a_passing_body() {
        let outcome = AssertUnwindSafe(finally(async {}, async { Err("mount still there") }))
            .catch_unwind()
            .await;
        assert!(outcome.is_err());
    }
}
