//! The retry loop of downloads: an attempt that fails for a reason another attempt may cure
//! ([`DownloadError::transient`]: connection errors, 5xx and 429, truncated bodies, checksum
//! mismatches) is tried again after a wait that doubles each time, up to a number of
//! attempts; any other failure is returned at once.

use std::time::Duration;

use super::error::DownloadError;

/// How often and how patiently to try.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Attempts in all (at least one is made).
    pub attempts: u32,
    /// Wait before the second attempt; doubled for each further one.
    pub backoff: Duration,
}

/// Runs `once` until it succeeds, fails for good, or the attempts run out
/// ([`DownloadError::GaveUp`] then carries the last failure). `sleep` waits between attempts.
pub fn retry<T>(
    policy: Policy,
    mut sleep: impl FnMut(Duration),
    mut once: impl FnMut() -> Result<T, DownloadError>,
) -> Result<T, DownloadError> {
    let attempts = policy.attempts.max(1);
    let mut wait = policy.backoff;
    let mut attempt = 1;
    loop {
        match once() {
            Ok(value) => return Ok(value),
            Err(e) if !e.transient() => return Err(e),
            Err(e) if attempt == attempts => {
                return Err(DownloadError::GaveUp {
                    attempts,
                    last: Box::new(e),
                });
            }
            Err(e) => {
                tracing::warn!("{e}; retrying in {} ms", wait.as_millis());
                sleep(wait);
                wait *= 2;
                attempt += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(status: u16) -> DownloadError {
        DownloadError::Status {
            file: "kubelet".into(),
            url: "https://dl.example/kubelet".into(),
            status,
            hint: String::new(),
        }
    }

    const POLICY: Policy = Policy {
        attempts: 4,
        backoff: Duration::from_millis(500),
    };

    #[test]
    fn transient_failures_are_retried_with_doubling_waits() {
        let mut waits = Vec::new();
        let mut calls = 0;
        let result = retry(
            POLICY,
            |d| waits.push(d.as_millis()),
            || {
                calls += 1;
                if calls < 3 {
                    Err(status(503))
                } else {
                    Ok(calls)
                }
            },
        );
        assert_eq!(result.unwrap(), 3);
        assert_eq!(waits, [500, 1000]);
    }

    #[test]
    fn gives_up_after_the_attempts_with_the_last_failure() {
        let mut waits = Vec::new();
        let mut calls = 0;
        let result: Result<(), _> = retry(
            POLICY,
            |d| waits.push(d.as_millis()),
            || {
                calls += 1;
                Err(status(500 + calls))
            },
        );
        let e = result.unwrap_err();
        assert!(
            matches!(&e, DownloadError::GaveUp { attempts: 4, last } if matches!(**last, DownloadError::Status { status: 504, .. })),
            "{e:?}"
        );
        assert_eq!(calls, 4);
        assert_eq!(waits, [500, 1000, 2000]);
    }

    #[test]
    fn a_lasting_failure_is_returned_at_once() {
        let mut calls = 0;
        let result: Result<(), _> = retry(
            POLICY,
            |_| panic!("no wait for a lasting failure"),
            || {
                calls += 1;
                Err(status(404))
            },
        );
        assert!(matches!(
            result,
            Err(DownloadError::Status { status: 404, .. })
        ));
        assert_eq!(calls, 1);
    }

    #[test]
    fn at_least_one_attempt() {
        let policy = Policy {
            attempts: 0,
            ..POLICY
        };
        let result: Result<(), _> = retry(policy, |_| {}, || Err(status(502)));
        assert!(matches!(
            result,
            Err(DownloadError::GaveUp { attempts: 1, .. })
        ));
    }
}
