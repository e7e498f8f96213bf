//! Versions: how writes to one key are ordered across every client and node of a ring.
//!
//! A version is a 64-bit hybrid logical clock reading: Unix milliseconds in the high 48 bits
//! (enough until the year 10889) and a counter in the low 16. A clock never issues a version
//! at or below one it issued or observed, and otherwise stays as close to wall-clock time as it
//! can, so versions follow real time between processes whose clocks agree and still respect
//! causality (a write made after reading version `v` gets a version above `v`) when they do
//! not. Nodes keep the version with each value and apply a versioned write only if it is
//! newer, so replicas converge whatever order writes arrive in (Kulkarni et al., 2014).
//!
//! The top two bits are never set by a clock: nodes use them to mark a deleted key and a
//! collection (a hash, set, sorted set or list) rather than a string. The largest version,
//! 2^62 - 1, is Unix millisecond 2^46, in the year 4199.

use std::sync::atomic::{AtomicU64, Ordering};

/// Bits of a version below its milliseconds.
pub const COUNTER_BITS: u32 = 16;
/// The largest version a clock issues.
pub const MAX_VERSION: u64 = (1 << 62) - 1;

/// The version at Unix millisecond `ms`, counter 0.
pub const fn at_millis(ms: u64) -> u64 {
    ms << COUNTER_BITS
}

/// The Unix milliseconds of `version`.
pub const fn millis(version: u64) -> u64 {
    version >> COUNTER_BITS
}

/// A hybrid logical clock.
#[derive(Debug, Default)]
pub struct Clock {
    last: AtomicU64,
}

impl Clock {
    /// A clock that has issued and observed nothing yet.
    pub const fn new() -> Self {
        Self {
            last: AtomicU64::new(0),
        }
    }

    /// The next version, given wall-clock time `now_ms`: above every version issued or
    /// observed so far, and at `now_ms` when that is later.
    pub fn next(&self, now_ms: u64) -> u64 {
        let wall = at_millis(now_ms).min(MAX_VERSION);
        let mut last = self.last.load(Ordering::Relaxed);
        loop {
            let next = wall.max(last + 1).min(MAX_VERSION);
            match self
                .last
                .compare_exchange_weak(last, next, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => return next,
                Err(seen) => last = seen,
            }
        }
    }

    /// Records a version seen from elsewhere: later versions from this clock are above it.
    pub fn observe(&self, version: u64) {
        self.last
            .fetch_max(version.min(MAX_VERSION), Ordering::AcqRel);
    }

    /// The last version issued or observed.
    pub fn last(&self) -> u64 {
        self.last.load(Ordering::Acquire)
    }
}

/// Parses a version argument: decimal, 1 to [`MAX_VERSION`].
pub fn parse(arg: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(arg).ok()?;
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<u64>()
        .ok()
        .filter(|v| (1..=MAX_VERSION).contains(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_follow_the_wall_clock_and_never_go_back() {
        let clock = Clock::new();
        let a = clock.next(1_000);
        assert_eq!(a, at_millis(1_000));
        let b = clock.next(1_000);
        assert_eq!(b, a + 1, "same millisecond: the counter moves");
        // The wall clock steps back (NTP, a skewed host): versions still rise.
        let c = clock.next(900);
        assert!(c > b);
        assert_eq!(millis(c), 1_000);
        // A version observed from a process whose clock is ahead pulls this one along.
        clock.observe(at_millis(5_000) + 7);
        let d = clock.next(1_001);
        assert_eq!(d, at_millis(5_000) + 8);
        // The wall clock catching up takes over again.
        assert_eq!(clock.next(6_000), at_millis(6_000));
    }

    #[test]
    fn concurrent_callers_never_share_a_version() {
        let clock = std::sync::Arc::new(Clock::new());
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let clock = std::sync::Arc::clone(&clock);
                std::thread::spawn(move || {
                    (0..10_000).map(|_| clock.next(1_000)).collect::<Vec<_>>()
                })
            })
            .collect();
        let mut all: Vec<u64> = threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 40_000);
    }

    #[test]
    fn arguments() {
        assert_eq!(parse(b"42"), Some(42));
        assert_eq!(parse(b"0"), None);
        assert_eq!(parse(b"-1"), None);
        assert_eq!(parse(b"+5"), None);
        assert_eq!(parse(b"4611686018427387904"), None);
        assert_eq!(parse(b"9223372036854775807"), None);
        assert_eq!(parse(b"4611686018427387903"), Some(MAX_VERSION));
    }
}
