//! Hot-key detection: a sampled top-k sketch of the keys this process asks for.
//!
//! One request in [`SAMPLE`] is observed by a Space-Saving table of [`TRACKED`] keys (Metwally
//! et al., 2005: every key asked for more often than one observation in [`TRACKED`] is kept, its
//! count over-estimated by at most the smallest count). Every [`WINDOW`] observations the keys
//! whose count reaches [`HOT_SHARE`] of the window are published as the hot set, and the counts
//! are halved, so a key that cools leaves within a few windows. Reads ask the published set, a
//! lock-free snapshot.
//!
//! Written here rather than taken from a crate: the Space-Saving implementations published on
//! crates.io are parts of larger crates (database types, anomaly-detection toolkits) that
//! would bring their whole dependency trees for forty lines.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use bytes::Bytes;

/// One request in this many is observed (a power of two).
pub const SAMPLE: u64 = 4;
/// Keys the sketch keeps.
pub const TRACKED: usize = 64;
/// Observations between two publications of the hot set.
pub const WINDOW: u64 = 1024;
/// The share of a window's observations that makes a key hot.
pub const HOT_SHARE: f64 = 0.02;

/// A hot key and its share of the requests observed in the last window.
#[derive(Debug, Clone, PartialEq)]
pub struct HotKey {
    /// The key.
    pub key: Bytes,
    /// Its estimated share of this process's requests (0 to 1).
    pub share: f64,
}

/// The Space-Saving table.
#[derive(Default)]
struct Sketch {
    counts: HashMap<Bytes, u64>,
    observed: u64,
    /// No count is below this: counts only grow between publications, and a newcomer starts
    /// above the count it replaces. A key counted this low is a least one, found without
    /// scanning the whole table (which was most of a proxy's sampling cost when no key is hot).
    floor: u64,
}

impl Sketch {
    fn observe(&mut self, key: &[u8]) {
        self.observed += 1;
        if let Some(count) = self.counts.get_mut(key) {
            *count += 1;
            return;
        }
        let mut count = 1;
        if self.counts.len() >= TRACKED {
            // The least counted key makes room; the newcomer inherits its count (the bound on
            // its over-estimate).
            let floor = self.floor;
            let least = self
                .counts
                .iter()
                .find(|(_, count)| **count <= floor)
                .or_else(|| self.counts.iter().min_by_key(|(_, count)| **count))
                .map(|(key, count)| (key.clone(), *count));
            if let Some((least, least_count)) = least {
                self.floor = least_count;
                self.counts.remove(&least);
                count += least_count;
            }
        }
        self.counts.insert(Bytes::copy_from_slice(key), count);
    }

    /// The keys at or above the hot share of the window, most frequent first; then the counts
    /// are halved.
    fn publish(&mut self) -> Vec<HotKey> {
        let window = self.observed.max(1) as f64;
        let mut hot: Vec<HotKey> = self
            .counts
            .iter()
            .map(|(key, count)| HotKey {
                key: key.clone(),
                share: (*count as f64 / window).min(1.0),
            })
            .filter(|hot| hot.share >= HOT_SHARE)
            .collect();
        hot.sort_by(|a, b| b.share.total_cmp(&a.share));
        self.counts.retain(|_, count| {
            *count /= 2;
            *count > 0
        });
        self.observed /= 2;
        self.floor = 0;
        hot
    }
}

/// The detector: the sketch and the published hot set.
pub(crate) struct HotKeys {
    requests: AtomicU64,
    sketch: Mutex<Sketch>,
    hot: ArcSwap<Vec<HotKey>>,
    gauge: metrics::Gauge,
}

impl HotKeys {
    pub fn new() -> Self {
        Self {
            requests: AtomicU64::new(0),
            sketch: Mutex::new(Sketch::default()),
            hot: ArcSwap::from_pointee(Vec::new()),
            gauge: metrics::gauge!(crate::metrics::HOT_KEYS),
        }
    }

    /// Counts a request for `key` (one in [`SAMPLE`] is observed).
    pub fn observe(&self, key: &[u8]) {
        // The request count scrambled (Fibonacci hashing), so a workload that repeats with a
        // period dividing SAMPLE is not sampled on one phase only.
        let n = self.requests.fetch_add(1, Ordering::Relaxed);
        if n.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32 & (SAMPLE - 1) != 0 {
            return;
        }
        let mut sketch = self.sketch.lock().unwrap_or_else(|p| p.into_inner());
        sketch.observe(key);
        if sketch.observed >= WINDOW {
            let hot = sketch.publish();
            drop(sketch);
            self.gauge.set(hot.len() as f64);
            self.hot.store(Arc::new(hot));
        }
    }

    /// Whether `key` is in the published hot set.
    pub fn is_hot(&self, key: &[u8]) -> bool {
        let hot = self.hot.load();
        !hot.is_empty() && hot.iter().any(|hot| hot.key == key)
    }

    /// The published hot set, most frequent first.
    pub fn hot(&self) -> Vec<HotKey> {
        self.hot.load().as_ref().clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sketch_keeps_space_savings_bounds() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::SmallRng::seed_from_u64(11);
        let mut sketch = Sketch::default();
        let mut truth: HashMap<Vec<u8>, u64> = HashMap::new();
        for n in 1..=20_000u64 {
            // A few warm keys among many cold ones, so the table is always replacing.
            let key = if rng.random_range(0..4) == 0 {
                format!("warm:{}", rng.random_range(0..8))
            } else {
                format!("cold:{}", rng.random_range(0..5_000))
            };
            sketch.observe(key.as_bytes());
            *truth.entry(key.into_bytes()).or_default() += 1;
            // Every observation is counted once, and no tracked key is under-counted.
            assert_eq!(sketch.counts.values().sum::<u64>(), n);
            let least = *sketch.counts.values().min().unwrap();
            assert!(sketch.floor <= least);
            for (key, count) in &sketch.counts {
                assert!(*count >= truth[key.as_ref()]);
            }
        }
        // Keys asked for more often than one observation in TRACKED are all kept.
        for i in 0..8 {
            assert!(sketch.counts.contains_key(format!("warm:{i}").as_bytes()));
        }
    }

    #[test]
    fn keys_above_the_share_are_found_and_cold_ones_leave() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::SmallRng::seed_from_u64(7);
        let hot = HotKeys::new();
        // Half the requests ask for one key, a tenth for another, the rest for 10,000 keys.
        for _ in 0..200_000u64 {
            let key = match rng.random_range(0..10) {
                0..=4 => "half".to_string(),
                5 => "tenth".to_string(),
                _ => format!("cold:{}", rng.random_range(0..10_000)),
            };
            hot.observe(key.as_bytes());
        }
        let found = hot.hot();
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(found[0].key, "half");
        assert!((found[0].share - 0.5).abs() < 0.05, "{found:?}");
        assert_eq!(found[1].key, "tenth");
        assert!((found[1].share - 0.1).abs() < 0.03, "{found:?}");
        assert!(hot.is_hot(b"half") && !hot.is_hot(b"cold:7"));
        // The traffic moves on: the old hot keys leave.
        for i in 0..200_000u64 {
            hot.observe(format!("cold:{}", i % 10_000).as_bytes());
        }
        assert!(hot.hot().is_empty(), "{:?}", hot.hot());
    }
}
