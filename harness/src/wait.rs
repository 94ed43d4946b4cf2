//! The only place that sleeps. Every wait has a name and a deadline, and says which one ran out.

use std::{future::Future, time::Duration};

use tokio::time::Instant;

use crate::{Error, Result};

/// Polls `check` every `interval` until it yields `Some`, an error, or `timeout` passes; each
/// check runs under what is left of the timeout, so one that hangs ends the wait at its bound.
/// `what` names the wait in the timeout error ("OpenBao on 127.0.0.1:8200 to answer").
pub async fn until<T, F, Fut>(what: &str, timeout: Duration, interval: Duration, mut check: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>>>,
{
    let deadline = Instant::now() + timeout;
    let ran_out = || Error::Timeout {
        what: what.to_string(),
        seconds: timeout.as_secs_f64(),
    };
    loop {
        let checked = tokio::time::timeout_at(deadline, check())
            .await
            .map_err(|_| ran_out())?;
        if let Some(value) = checked? {
            return Ok(value);
        }
        if Instant::now() + interval > deadline {
            return Err(Error::Timeout {
                what: what.to_string(),
                seconds: timeout.as_secs_f64(),
            });
        }
        // The one sanctioned sleep: between two polls of a bounded, named wait.
        #[allow(clippy::disallowed_methods)]
        tokio::time::sleep(interval).await;
    }
}

/// A deliberate pause of known length (a random phase between measurement samples), not a wait
/// for a condition.
pub async fn pause(duration: Duration) {
    // The other sanctioned sleep: its length is the point, nothing is being waited for.
    #[allow(clippy::disallowed_methods)]
    tokio::time::sleep(duration).await;
}

/// Bounds a single future (an HTTP call, a process exit) by a named deadline.
pub async fn within<T>(what: &str, timeout: Duration, future: impl Future<Output = Result<T>>) -> Result<T> {
    tokio::time::timeout(timeout, future)
        .await
        .map_err(|_| Error::Timeout {
            what: what.to_string(),
            seconds: timeout.as_secs_f64(),
        })?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn names_the_wait_that_ran_out() {
        let err = until(
            "the impossible",
            Duration::from_secs(2),
            Duration::from_millis(100),
            || async { Ok(None::<()>) },
        )
        .await
        .unwrap_err();
        assert_eq!(err.to_string(), "timed out after 2s waiting for the impossible");
    }

    #[tokio::test(start_paused = true)]
    async fn a_check_that_hangs_ends_the_wait_at_its_bound() {
        let started = Instant::now();
        let err = until(
            "a port that accepts and never answers",
            Duration::from_secs(3),
            Duration::from_millis(100),
            std::future::pending::<Result<Option<()>>>,
        )
        .await
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "timed out after 3s waiting for a port that accepts and never answers"
        );
        assert_eq!(
            started.elapsed(),
            Duration::from_secs(3),
            "the paused clock ends at the bound"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn returns_as_soon_as_the_condition_holds() {
        let mut polls = 0;
        let value = until("third poll", Duration::from_secs(5), Duration::from_millis(10), || {
            polls += 1;
            let done = polls == 3;
            async move { Ok(done.then_some(42)) }
        })
        .await
        .unwrap();
        assert_eq!((value, polls), (42, 3));
    }
}
