//! The node's key space: a small trait over interchangeable storage engines.
//!
//! Commands talk to [`Store`] only, the way pelikan keeps storage apart from protocols, so an
//! engine can be measured and replaced without touching a command. The trait owns what every
//! engine must guarantee: an expired key is never returned, every write is atomic per key
//! (read-modify-write included), a write is always kept (no admission filter), the byte budget
//! counts a per-entry overhead, and a scan returns every key present for its whole duration.
//!
//! Entries carry a version, and a deleted key may stay as a tombstone until its deadline
//! ([`Value`]). Engines store tombstones like values (weighed, expired, evicted); the trait
//! keeps them out of every read ([`Store::get`], scans, counts), and [`Store::entry`] and
//! [`Store::update`] show them to the versioned commands that need them.
//!
//! Times are Unix milliseconds passed in by the caller, so engines never read a clock and tests
//! control time exactly.

mod compact_engine;
mod cursor;
mod moka_engine;
mod quick_engine;
mod value;

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use thiserror::Error;

pub use compact_engine::CompactStore;
pub use moka_engine::MokaStore;
pub use quick_engine::QuickStore;
pub use value::{is_expired, StoreKey, Value, NO_DEADLINE};

/// What an [`Store::update`] callback decides for the key it was shown.
#[derive(Debug)]
pub enum Change {
    /// Leave the key as it is.
    Keep,
    /// Store this value (its deadline and version included).
    Put(Value),
    /// Keep the bytes, change the deadline (Unix ms, or [`NO_DEADLINE`]) and the version.
    Expire {
        /// The new deadline.
        deadline: u64,
        /// The new version (0: leave it to the node to stamp).
        version: u64,
    },
    /// Delete the key, leaving nothing behind.
    Remove,
}

impl Change {
    /// A new deadline for the value, the version stamped by the node.
    pub fn expire(deadline: u64) -> Self {
        Change::Expire {
            deadline,
            version: 0,
        }
    }
}

/// Why a store refused a write.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The entry is larger than the engine can ever hold under its limit.
    #[error("entry of {weight} bytes exceeds the largest entry the store can hold ({max} bytes)")]
    TooLarge {
        /// The entry's weight, overhead included.
        weight: u64,
        /// The largest weight one entry may have.
        max: u64,
    },
    /// The engine cannot do this.
    #[error("{0}")]
    Unsupported(&'static str),
}

/// Which engine backs the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum StoreKind {
    /// quick_cache: about 120 bytes per small entry, exact budget, lazy expiry plus an
    /// incremental sweep; reads share the stored value instead of copying it.
    Quick,
    /// moka: precise expiry timers, higher memory per entry (about 360 bytes).
    Moka,
    /// Keys and values packed into segments with a small index (in the manner of Segcache):
    /// the least memory per key (about 78 bytes for a 16-byte key and a 32-byte value),
    /// exact budget, lazy expiry plus an incremental sweep; reads copy the value out. The
    /// default.
    #[default]
    Compact,
}

impl StoreKind {
    /// The name used in flags, config files and INFO.
    pub fn name(self) -> &'static str {
        match self {
            StoreKind::Quick => "quick",
            StoreKind::Moka => "moka",
            StoreKind::Compact => "compact",
        }
    }
}

impl std::str::FromStr for StoreKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "quick" => Ok(StoreKind::Quick),
            "moka" => Ok(StoreKind::Moka),
            "compact" => Ok(StoreKind::Compact),
            other => Err(format!(
                "unknown store '{other}' (expected 'quick', 'moka' or 'compact')"
            )),
        }
    }
}

/// Counters every engine keeps, read by INFO.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Keys held, expired ones not yet reclaimed included (as Redis's DBSIZE); tombstones not.
    pub keys: u64,
    /// Keys with a deadline (tombstones not counted).
    pub keys_with_deadline: u64,
    /// Tombstones held: deleted keys remembered until their deadline.
    pub tombstones: u64,
    /// Bytes counted against the limit: keys, values and the per-entry overhead.
    pub used_bytes: u64,
    /// The byte limit; 0 when unlimited.
    pub limit_bytes: u64,
    /// Keys evicted to stay under the limit.
    pub evicted_keys: u64,
    /// Keys removed because their deadline passed.
    pub expired_keys: u64,
}

/// What one sweep step did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sweep {
    /// Entries looked at.
    pub examined: usize,
    /// Expired entries removed.
    pub expired: usize,
    /// Whether the sweep reached the end of the key space and will start over.
    pub wrapped: bool,
}

/// A key space with a byte budget and per-key deadlines. Object-safe: the node holds an
/// `Arc<dyn Store>` chosen at start-up.
pub trait Store: Send + Sync + 'static {
    /// Which engine this is.
    fn kind(&self) -> StoreKind;

    /// The entry of `key` at `now`, value or tombstone (`None` if absent or expired), counting
    /// as an access for eviction.
    fn entry(&self, key: &[u8], now: u64) -> Option<Value>;

    /// The live value of `key` at `now` (not a tombstone).
    fn get(&self, key: &[u8], now: u64) -> Option<Value> {
        self.entry(key, now).filter(|value| !value.is_tombstone())
    }

    /// Atomically reads the entry of `key` (`None` if absent or expired; a tombstone is shown)
    /// and applies what `decide` returns. Concurrent updates of one key are serialised; `decide`
    /// may run more than once if it races with another writer, so it must only compute, not
    /// act.
    fn update(
        &self,
        key: &[u8],
        now: u64,
        decide: &mut dyn FnMut(Option<&Value>) -> Change,
    ) -> Result<(), StoreError>;

    /// Stores `value` under `key` unconditionally.
    fn set(&self, key: &[u8], value: Value) -> Result<(), StoreError> {
        self.update(key, 0, &mut |_| Change::Put(value.clone()))
    }

    /// Deletes the entry of `key` (a tombstone too); true if a live key was deleted.
    fn remove(&self, key: &[u8], now: u64) -> bool {
        let mut removed = false;
        // An update that always removes cannot fail.
        let _ = self.update(key, now, &mut |current| {
            removed = current.is_some_and(|value| !value.is_tombstone());
            if current.is_some() {
                Change::Remove
            } else {
                Change::Keep
            }
        });
        removed
    }

    /// The largest weight one entry may have (key, value and overhead): a collection that
    /// would grow past it is refused before it is changed.
    fn max_entry(&self) -> u64;

    /// Number of keys, exact after writes (expired keys not yet reclaimed included, as in Redis;
    /// tombstones not).
    fn len(&self) -> u64;

    /// Whether the store holds no key.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Deletes every key.
    fn clear(&self);

    /// One step of a scan: calls `visit` with up to about `count` live keys (no tombstones) and
    /// returns the cursor to continue from (0 when the scan is complete). Every key present for the whole
    /// scan is visited at least once; keys may be visited more than once.
    fn scan(&self, cursor: u64, count: usize, now: u64, visit: &mut dyn FnMut(&[u8])) -> u64;

    /// A live key chosen at random, or `None` when the store is empty.
    fn random_key(&self, now: u64) -> Option<Vec<u8>>;

    /// Examines up to `budget` entries for expiry, continuing where the last call stopped.
    fn sweep_expired(&self, now: u64, budget: usize) -> Sweep;

    /// Counters for INFO.
    fn stats(&self) -> StoreStats;

    /// Changes the byte limit at run time.
    fn set_limit(&self, bytes: u64) -> Result<(), StoreError>;

    /// Sets what is called with each key that leaves by expiry or eviction (once; a second
    /// call is ignored).
    fn on_departure(&self, departed: Departed);
}

/// Builds the engine `kind` with a byte limit (0 for none).
pub fn build(kind: StoreKind, limit_bytes: u64) -> Arc<dyn Store> {
    match kind {
        StoreKind::Quick => Arc::new(QuickStore::new(limit_bytes)),
        StoreKind::Moka => Arc::new(MokaStore::new(limit_bytes)),
        StoreKind::Compact => Arc::new(CompactStore::new(limit_bytes)),
    }
}

/// What an entry counts towards: a deadline, a tombstone, or neither (or no entry).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Shape {
    deadline: bool,
    tombstone: bool,
}

impl Shape {
    /// No entry.
    pub const NONE: Shape = Shape {
        deadline: false,
        tombstone: false,
    };

    /// The shape of `value`.
    pub fn of(value: &Value) -> Shape {
        Shape {
            deadline: value.deadline() != NO_DEADLINE,
            tombstone: value.is_tombstone(),
        }
    }
}

/// Called with each key that leaves by expiry or eviction.
pub type Departed = Box<dyn Fn(&[u8]) + Send + Sync>;

/// What the node is told when a key leaves by expiry or eviction (CLIENT TRACKING's
/// invalidations): set once, after the engine is built.
#[derive(Default)]
pub(crate) struct Departures(pub std::sync::OnceLock<Departed>);

impl std::fmt::Debug for Departures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.get().is_some() {
            "Departures(set)"
        } else {
            "Departures(unset)"
        })
    }
}

/// Counters shared between an engine and its eviction hooks.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub evicted: AtomicU64,
    pub expired: AtomicU64,
    /// Entries with a deadline, tombstones included (they gate the expiry sweep).
    pub with_deadline: AtomicI64,
    pub tombstones: AtomicI64,
    pub departures: Departures,
}

impl Counters {
    /// Accounts for an entry changing shape from `old` to `new` (either may be
    /// [`Shape::NONE`]).
    pub fn reshaped(&self, old: Shape, new: Shape) {
        let deadline = i64::from(new.deadline) - i64::from(old.deadline);
        if deadline != 0 {
            self.with_deadline.fetch_add(deadline, Ordering::Relaxed);
        }
        let tombstone = i64::from(new.tombstone) - i64::from(old.tombstone);
        if tombstone != 0 {
            self.tombstones.fetch_add(tombstone, Ordering::Relaxed);
        }
    }

    /// Counts the entry of `key` leaving by expiry or eviction (tombstones are not keys), and
    /// tells the node.
    pub fn left(&self, key: &[u8], old: &Value, evicted: bool) {
        self.reshaped(Shape::of(old), Shape::NONE);
        if !old.is_tombstone() {
            if let Some(departed) = self.departures.0.get() {
                departed(key);
            }
            let counter = if evicted {
                &self.evicted
            } else {
                &self.expired
            };
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Entries with a deadline, the sweep's gate (tombstones included).
    pub fn entries_with_deadline(&self) -> u64 {
        self.with_deadline.load(Ordering::Relaxed).max(0) as u64
    }

    pub fn tombstones(&self) -> u64 {
        self.tombstones.load(Ordering::Relaxed).max(0) as u64
    }

    /// Keys with a deadline, for INFO (every tombstone has one).
    pub fn keys_with_deadline(&self) -> u64 {
        self.entries_with_deadline()
            .saturating_sub(self.tombstones())
    }
}

#[cfg(test)]
mod conformance;
