//! Retry policies: how many attempts a step gets, how long to wait between
//! them, and which failures are worth another attempt.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::report::StepFailure;

type RetryPredicate = Arc<dyn Fn(&StepFailure) -> bool + Send + Sync>;

/// How a failed step is retried.
///
/// The delay before attempt `n + 1` is `initial_backoff * multiplier^(n - 1)`,
/// capped at `max_backoff`, then reduced by a random fraction of at most
/// `jitter` so that many retrying steps do not wake in lockstep.
///
/// ```
/// use std::time::Duration;
/// use orchestrator_core::RetryPolicy;
///
/// let policy = RetryPolicy::attempts(5)
///     .backoff(Duration::from_millis(100), Duration::from_secs(5))
///     .jitter(0.2)
///     .retry_if(|failure| !failure.is_panic());
/// assert_eq!(policy.max_attempts(), 5);
/// ```
#[derive(Clone)]
pub struct RetryPolicy {
    max_attempts: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
    multiplier: f64,
    jitter: f64,
    retry_if: Option<RetryPredicate>,
}

impl RetryPolicy {
    /// A policy of `max_attempts` attempts in all (the first one included),
    /// with a 100 ms initial backoff doubling up to 10 s, 10 % jitter, and
    /// every error and timeout retried (panics are not).
    ///
    /// `attempts(0)` is treated as `attempts(1)`: a step always runs once.
    pub fn attempts(max_attempts: u32) -> Self {
        Self {
            max_attempts: max_attempts.max(1),
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(10),
            multiplier: 2.0,
            jitter: 0.1,
            retry_if: None,
        }
    }

    /// Sets the first delay and the cap on every delay.
    pub fn backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_backoff = initial;
        self.max_backoff = max.max(initial);
        self
    }

    /// Sets the factor each delay grows by (at least 1.0; default 2.0).
    pub fn multiplier(mut self, multiplier: f64) -> Self {
        self.multiplier = if multiplier.is_finite() {
            multiplier.max(1.0)
        } else {
            1.0
        };
        self
    }

    /// Sets the largest fraction (0.0 to 1.0) randomly taken off a delay.
    pub fn jitter(mut self, jitter: f64) -> Self {
        self.jitter = if jitter.is_finite() {
            jitter.clamp(0.0, 1.0)
        } else {
            0.0
        };
        self
    }

    /// Retries only the failures for which `predicate` returns `true`.
    ///
    /// Use [`StepFailure::downcast_ref`] to look at the handler's own error
    /// type.
    pub fn retry_if(
        mut self,
        predicate: impl Fn(&StepFailure) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.retry_if = Some(Arc::new(predicate));
        self
    }

    /// The number of attempts in all.
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// Whether `failure`, on attempt `attempt` (1-based), earns another attempt.
    pub fn should_retry(&self, attempt: u32, failure: &StepFailure) -> bool {
        attempt < self.max_attempts
            && match &self.retry_if {
                Some(predicate) => predicate(failure),
                None => !failure.is_panic(),
            }
    }

    /// The delay before the attempt that follows failed attempt `attempt`
    /// (1-based), jitter included.
    pub fn delay_after(&self, attempt: u32) -> Duration {
        let base = self.delay_without_jitter(attempt);
        if self.jitter == 0.0 || base.is_zero() {
            return base;
        }
        base.mul_f64(1.0 - self.jitter * fastrand::f64())
    }

    fn delay_without_jitter(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(1_000) as i32;
        let factor = self.multiplier.powi(exponent);
        let secs = self.initial_backoff.as_secs_f64() * factor;
        if !secs.is_finite() || secs >= self.max_backoff.as_secs_f64() {
            self.max_backoff
        } else {
            Duration::from_secs_f64(secs)
        }
    }
}

impl Default for RetryPolicy {
    /// A single attempt: no retry.
    fn default() -> Self {
        Self::attempts(1)
    }
}

impl fmt::Debug for RetryPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryPolicy")
            .field("max_attempts", &self.max_attempts)
            .field("initial_backoff", &self.initial_backoff)
            .field("max_backoff", &self.max_backoff)
            .field("multiplier", &self.multiplier)
            .field("jitter", &self.jitter)
            .field("retry_if", &self.retry_if.as_ref().map(|_| ".."))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_exponentially_up_to_the_cap() {
        let policy = RetryPolicy::attempts(10)
            .backoff(Duration::from_millis(100), Duration::from_millis(350))
            .jitter(0.0);
        let delays: Vec<_> = (1..=4).map(|a| policy.delay_after(a)).collect();
        assert_eq!(
            delays,
            [100, 200, 350, 350].map(Duration::from_millis).to_vec()
        );
    }

    #[test]
    fn jitter_only_shortens_a_delay_by_at_most_its_fraction() {
        let policy = RetryPolicy::attempts(3)
            .backoff(Duration::from_millis(1000), Duration::from_secs(1))
            .jitter(0.25);
        for _ in 0..200 {
            let d = policy.delay_after(1);
            assert!(d <= Duration::from_millis(1000) && d >= Duration::from_millis(750));
        }
    }

    #[test]
    fn huge_attempt_numbers_saturate_at_the_cap() {
        let policy = RetryPolicy::attempts(u32::MAX).jitter(0.0);
        assert_eq!(policy.delay_after(u32::MAX), Duration::from_secs(10));
    }

    #[test]
    fn the_last_attempt_is_never_retried() {
        let policy = RetryPolicy::attempts(2);
        let failure = StepFailure::from_error("boom");
        assert!(policy.should_retry(1, &failure));
        assert!(!policy.should_retry(2, &failure));
    }
}
