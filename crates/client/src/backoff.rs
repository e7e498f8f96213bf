//! Waits between attempts: exponential, capped, with jitter, so that many clients that lost the
//! same node do not reconnect or probe it in lock step.
//!
//! The sequence comes from `backon`: the step starts at the shortest wait and doubles, and each
//! wait is the step plus a random part below it, so a wait lies in `[d, 2d)` for the current
//! step `d`, never above the longest wait.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};

/// First wait before reconnecting a connection that failed.
pub(crate) const RECONNECT_MIN: Duration = Duration::from_millis(50);
/// Longest wait between reconnects: a node that is back is found within this.
pub(crate) const RECONNECT_MAX: Duration = Duration::from_secs(2);

/// Successive waits from `min`, doubling up to `max`, with jitter. Never runs out.
pub(crate) struct Backoff {
    min: Duration,
    max: Duration,
    waits: backon::ExponentialBackoff,
}

impl Backoff {
    /// Waits starting at `min`, doubling, capped at `max`.
    pub fn new(min: Duration, max: Duration) -> Self {
        Self {
            min,
            max,
            waits: Self::sequence(min, max),
        }
    }

    fn sequence(min: Duration, max: Duration) -> backon::ExponentialBackoff {
        // backon adds jitter below the current step, so the step stops at half the longest
        // wait.
        ExponentialBuilder::new()
            .with_jitter()
            .with_min_delay(min)
            .with_max_delay((max / 2).max(min))
            .without_max_times()
            .build()
    }

    /// The next wait.
    pub fn next_wait(&mut self) -> Duration {
        self.waits.next().unwrap_or(self.max).min(self.max)
    }

    /// Starts again from the shortest wait (after a success).
    pub fn reset(&mut self) {
        self.waits = Self::sequence(self.min, self.max);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_grow_stay_under_the_cap_and_restart() {
        let min = Duration::from_millis(100);
        let max = Duration::from_secs(2);
        let mut backoff = Backoff::new(min, max);
        let waits: Vec<Duration> = (0..20).map(|_| backoff.next_wait()).collect();
        assert!(waits[0] >= min && waits[0] < min * 2, "{:?}", waits[0]);
        assert!(waits.iter().all(|w| *w <= max), "{waits:?}");
        assert!(waits[10] >= max / 2, "{waits:?}");
        backoff.reset();
        assert!(backoff.next_wait() < min * 2);
    }

    #[test]
    fn jitter_spreads_clients() {
        let firsts: std::collections::HashSet<Duration> = (0..20)
            .map(|_| Backoff::new(Duration::from_secs(1), Duration::from_secs(30)).next_wait())
            .collect();
        assert!(firsts.len() > 10, "{firsts:?}");
    }
}
