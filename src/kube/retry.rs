//! Bounded retries with exponential backoff. The sleeping is passed in, so tests run it
//! with a fake that only records the delays.

use std::time::Duration;

/// A bounded retry policy: `attempts` tries, waiting `initial`, then twice as long each
/// time, at most `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// How many tries in all.
    pub attempts: u32,
    /// The wait after the first failure.
    pub initial: Duration,
    /// The longest wait.
    pub max: Duration,
}

/// What one try reports.
#[derive(Debug)]
pub enum Attempt<T, E> {
    /// It worked.
    Done(T),
    /// It failed in a way worth trying again (for example: the API server is not up yet).
    Retry(E),
    /// It failed for good.
    Fail(E),
}

/// How a retried operation ended without success.
#[derive(Debug, PartialEq, Eq)]
pub struct GaveUp<E> {
    /// The last error.
    pub error: E,
    /// How many tries were made.
    pub attempts: u32,
    /// Whether the tries ran out (rather than a non-retryable failure).
    pub exhausted: bool,
}

impl Backoff {
    /// Polling at a steady interval for about `total`: interval `total / 30` kept between
    /// 100 ms and 5 s.
    pub fn polling(total: Duration) -> Backoff {
        let interval = (total / 30).clamp(Duration::from_millis(100), Duration::from_secs(5));
        let attempts = u32::try_from(total.as_millis() / interval.as_millis().max(1))
            .unwrap_or(u32::MAX)
            .saturating_add(1);
        Backoff {
            attempts,
            initial: interval,
            max: interval,
        }
    }

    /// The longest the pauses between tries add up to (all tries failing): the deadline a
    /// retried wait reports.
    pub fn total_wait(&self) -> Duration {
        let pauses = self.attempts.saturating_sub(1);
        let mut total = Duration::ZERO;
        for n in 0..pauses {
            let delay = self.delay(n);
            if delay >= self.max {
                return total.saturating_add(self.max.saturating_mul(pauses - n));
            }
            total += delay;
        }
        total
    }

    /// The wait after failed try number `n` (0-based).
    pub fn delay(&self, n: u32) -> Duration {
        let factor = 2u32.saturating_pow(n.min(31));
        self.initial.saturating_mul(factor).min(self.max)
    }

    /// Runs `attempt` (given the 1-based try number) until it is done, fails for good, or
    /// the tries run out, calling `sleep` between tries.
    pub fn run<T, E>(
        &self,
        sleep: &mut dyn FnMut(Duration),
        mut attempt: impl FnMut(u32) -> Attempt<T, E>,
    ) -> Result<T, GaveUp<E>> {
        let mut n = 0;
        loop {
            n += 1;
            match attempt(n) {
                Attempt::Done(value) => return Ok(value),
                Attempt::Fail(error) => {
                    return Err(GaveUp {
                        error,
                        attempts: n,
                        exhausted: false,
                    });
                }
                Attempt::Retry(error) if n >= self.attempts => {
                    return Err(GaveUp {
                        error,
                        attempts: n,
                        exhausted: true,
                    });
                }
                Attempt::Retry(_) => sleep(self.delay(n - 1)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Backoff {
        Backoff {
            attempts: 5,
            initial: Duration::from_secs(2),
            max: Duration::from_secs(5),
        }
    }

    #[test]
    fn doubles_up_to_the_maximum_then_gives_up() {
        let mut slept = Vec::new();
        let out: Result<(), _> = policy().run(&mut |d| slept.push(d.as_secs()), |n| {
            Attempt::Retry(format!("down {n}"))
        });
        assert_eq!(slept, [2, 4, 5, 5]);
        let gave_up = out.unwrap_err();
        assert_eq!(gave_up.attempts, 5);
        assert!(gave_up.exhausted);
        assert_eq!(gave_up.error, "down 5");
    }

    #[test]
    fn stops_when_done_or_on_a_final_failure() {
        let mut slept = Vec::new();
        let out = policy().run(&mut |d| slept.push(d), |n| {
            if n == 3 {
                Attempt::Done(n)
            } else {
                Attempt::Retry(())
            }
        });
        assert_eq!(out, Ok(3));
        assert_eq!(slept.len(), 2);
        let out: Result<(), _> =
            policy().run(&mut |_| panic!("no sleep"), |_| Attempt::Fail("bad"));
        assert_eq!(
            out.unwrap_err(),
            GaveUp {
                error: "bad",
                attempts: 1,
                exhausted: false
            }
        );
    }

    #[test]
    fn polling_is_bounded_by_the_total() {
        assert_eq!(policy().total_wait(), Duration::from_secs(2 + 4 + 5 + 5));
        assert_eq!(
            Backoff::polling(Duration::from_secs(300)).total_wait(),
            Duration::from_secs(300)
        );
        let endless = Backoff {
            attempts: u32::MAX,
            initial: Duration::from_secs(1),
            max: Duration::from_secs(30),
        };
        assert!(
            endless.total_wait() > Duration::from_secs(3600 * 24 * 365),
            "computed, not looped"
        );
        let p = Backoff::polling(Duration::from_secs(300));
        assert_eq!(p.initial, Duration::from_secs(5));
        assert_eq!(p.attempts, 61);
        let p = Backoff::polling(Duration::from_millis(500));
        assert_eq!(p.initial, Duration::from_millis(100));
        assert_eq!(p.attempts, 6);
    }
}
