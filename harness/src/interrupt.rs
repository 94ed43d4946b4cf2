//! Ctrl-C (and SIGTERM, SIGHUP) and panics, turned into errors at the places that clean up after
//! themselves.
//!
//! The watcher is installed before any command runs, so Ctrl-C never hits the default action
//! mid-step: work run through [`guarded`] (or raced against [`interrupted`]) sees it, even one
//! that came early, and its caller removes what it created; a command that races nothing ends at
//! once with 130, and so does a second Ctrl-C while the cleanup runs.

use std::{
    any::Any,
    future::Future,
    panic::AssertUnwindSafe,
    sync::{
        OnceLock,
        atomic::{AtomicBool, Ordering},
    },
};

use futures::FutureExt;

use crate::{Error, Result};

static INTERRUPTS: OnceLock<tokio::sync::watch::Receiver<bool>> = OnceLock::new();
static HANDLED: AtomicBool = AtomicBool::new(false);

/// Starts watching for Ctrl-C, SIGTERM (CI cancellation, `timeout`, nextest's terminate-after)
/// and SIGHUP, inside the runtime, before the command: all three take the same cleanup path.
pub fn watch() {
    use tokio::signal::unix::{SignalKind, signal};
    let (sender, receiver) = tokio::sync::watch::channel(false);
    let _ = INTERRUPTS.set(receiver);
    let streams = (signal(SignalKind::terminate()), signal(SignalKind::hangup()));
    tokio::spawn(async move {
        let (mut term, mut hangup) = match streams {
            (Ok(term), Ok(hangup)) => (Some(term), Some(hangup)),
            _ => (None, None),
        };
        let mut seen = 0;
        loop {
            // A stream that could not be set up never yields (its signal keeps its default action).
            let (name, exit_code) = tokio::select! {
                Ok(()) = tokio::signal::ctrl_c() => ("SIGINT", 130),
                Some(()) = recv(&mut term) => ("SIGTERM", 143),
                Some(()) = recv(&mut hangup) => ("SIGHUP", 129),
                else => return,
            };
            seen += 1;
            let _ = sender.send(true);
            if seen > 1 || !HANDLED.load(Ordering::SeqCst) {
                eprintln!(
                    "error: interrupted ({name}){}",
                    if seen > 1 { " again; cleanup skipped" } else { "" }
                );
                std::process::exit(exit_code);
            }
        }
    });
}

async fn recv(stream: &mut Option<tokio::signal::unix::Signal>) -> Option<()> {
    match stream {
        Some(stream) => stream.recv().await,
        None => std::future::pending().await,
    }
}

/// Waits for Ctrl-C (returns at once when it already came).
pub async fn interrupted() -> Error {
    HANDLED.store(true, Ordering::SeqCst);
    match INTERRUPTS.get() {
        Some(receiver) => {
            let _ = receiver.clone().wait_for(|signalled| *signalled).await;
        }
        None => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
    Error::Interrupted
}

/// Runs `work` until it ends, Ctrl-C comes or it panics; the last two become errors, so the
/// caller's cleanup after it runs on every path.
pub async fn guarded<T>(work: impl Future<Output = Result<T>>) -> Result<T> {
    tokio::select! {
        outcome = AssertUnwindSafe(work).catch_unwind() => outcome.unwrap_or_else(|panic| Err(panicked(panic))),
        error = interrupted() => Err(error),
    }
}

fn panicked(payload: Box<dyn Any + Send>) -> Error {
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into());
    Error::Panicked(message)
}

/// Panics here when `HARNESS_FAILPOINT` names this point: the test hook that proves a panic in a
/// given phase is cleaned up like an error (scenarios/tests/e2e.rs, `interrupts`). Unset, it
/// does nothing.
#[track_caller]
pub fn failpoint(point: &str) {
    if std::env::var_os("HARNESS_FAILPOINT").is_some_and(|p| p == point) {
        panic!("failpoint {point}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panic_in_guarded_work_is_an_error_with_its_message() {
        let outcome: Result<()> = guarded(async { panic!("boom at step 3") }).await;
        let error = outcome.unwrap_err();
        assert!(matches!(error, Error::Panicked(_)));
        assert!(error.to_string().contains("boom at step 3"), "{error}");
    }

    #[tokio::test]
    async fn guarded_work_that_ends_returns_its_outcome() {
        assert_eq!(guarded(async { Ok(7) }).await.unwrap(), 7);
    }
}
