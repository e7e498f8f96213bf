//! The alternative engine, on moka.
//!
//! moka keeps precise expiry timers and suits workloads that lean on TTLs, at a cost measured
//! here: about 360 bytes per small entry with a deadline against quick_cache's 118, and 3.5 to
//! 12 times the CPU per operation. Its default TinyLFU admission kept 0 of 100 new keys written
//! into a full cache of hot keys; a Redis user expects `SET` then `GET` to return the value, so
//! this engine uses plain LRU, which kept all 100.
//!
//! Every write goes through `and_compute_with`, which takes moka's per-key lock: a plain
//! `insert` was measured losing a SET made during a concurrent INCR.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use moka::notification::RemovalCause;
use moka::ops::compute::Op;
use moka::policy::EvictionPolicy;
use moka::Expiry;

use super::cursor::{random_live_key, scan_live, CursorTable, Ring};
use super::value::KeyRef;
use super::{
    Change, Counters, Shape, Store, StoreError, StoreKey, StoreKind, StoreStats, Sweep, Value,
    NO_DEADLINE,
};

/// Bytes charged per entry beyond its key and value: moka's fixed bookkeeping (hash node,
/// `Arc<ValueEntry>`, entry info, deque and timer nodes), measured at about 265 bytes, plus the
/// key's and value's own allocations.
pub const ENTRY_OVERHEAD: u64 = 300;

type MokaCache = moka::sync::Cache<StoreKey, Value>;
type MokaIterator<'a> = moka::sync::Iter<'a, StoreKey, Value>;

self_cell::self_cell!(
    struct OwnedWalk {
        owner: Arc<MokaCache>,
        #[not_covariant]
        dependent: MokaIterator,
    }
);

impl Iterator for OwnedWalk {
    type Item = (Arc<StoreKey>, Value);
    fn next(&mut self) -> Option<Self::Item> {
        self.with_dependent_mut(|_, walk| walk.next())
    }
}

fn walk(cache: &Arc<MokaCache>) -> OwnedWalk {
    OwnedWalk::new(Arc::clone(cache), |cache| cache.iter())
}

fn entry_weight(key_len: usize, value_size: u64) -> u64 {
    key_len as u64 + value_size + ENTRY_OVERHEAD
}

/// Lets moka's timers drop a key at its deadline; reads still check the deadline themselves,
/// so a key is never returned late even if a timer fires late.
struct DeadlineExpiry;

fn until(deadline: u64) -> Option<Duration> {
    if deadline == NO_DEADLINE {
        return None;
    }
    Some(Duration::from_millis(
        deadline.saturating_sub(crate::clock::now_ms()),
    ))
}

impl Expiry<StoreKey, Value> for DeadlineExpiry {
    fn expire_after_create(
        &self,
        _key: &StoreKey,
        value: &Value,
        _at: Instant,
    ) -> Option<Duration> {
        until(value.deadline())
    }

    fn expire_after_update(
        &self,
        _key: &StoreKey,
        value: &Value,
        _at: Instant,
        _left: Option<Duration>,
    ) -> Option<Duration> {
        until(value.deadline())
    }
}

/// The moka engine.
pub struct MokaStore {
    cache: Arc<MokaCache>,
    counters: Arc<Counters>,
    limit: AtomicU64,
    cursors: CursorTable<OwnedWalk>,
    sampler: Ring<OwnedWalk>,
}

impl MokaStore {
    /// An engine holding at most `limit_bytes` (0: no limit).
    pub fn new(limit_bytes: u64) -> Self {
        let counters = Arc::new(Counters::default());
        let listener_counters = Arc::clone(&counters);
        let mut builder = moka::sync::Cache::builder()
            .eviction_policy(EvictionPolicy::lru())
            .weigher(|key: &StoreKey, value: &Value| {
                u32::try_from(entry_weight(key.as_bytes().len(), value.size())).unwrap_or(u32::MAX)
            })
            .expire_after(DeadlineExpiry)
            .eviction_listener(move |key: Arc<StoreKey>, old: Value, cause| {
                // Every way out of the cache passes here with the old value, so the counts of
                // deadlines and tombstones are kept here; writes add the new value's.
                match cause {
                    RemovalCause::Size => listener_counters.left(key.as_bytes(), &old, true),
                    RemovalCause::Expired => listener_counters.left(key.as_bytes(), &old, false),
                    RemovalCause::Explicit | RemovalCause::Replaced => {
                        listener_counters.reshaped(Shape::of(&old), Shape::NONE)
                    }
                }
            });
        if limit_bytes != 0 {
            builder = builder.max_capacity(limit_bytes);
        }
        Self {
            cache: Arc::new(builder.build()),
            counters,
            limit: limit_bytes.into(),
            cursors: CursorTable::new(),
            sampler: Ring::new(),
        }
    }

    fn check_fits(&self, key: &[u8], value: &Value) -> Result<(), StoreError> {
        let weight = entry_weight(key.len(), value.size());
        let max = self.max_entry();
        if weight > max {
            return Err(StoreError::TooLarge { weight, max });
        }
        Ok(())
    }
}

impl Store for MokaStore {
    fn kind(&self) -> StoreKind {
        StoreKind::Moka
    }

    fn entry(&self, key: &[u8], now: u64) -> Option<Value> {
        let value = self.cache.get(KeyRef::new(key))?;
        if value.is_expired(now) {
            self.remove(key, now);
            return None;
        }
        Some(value)
    }

    fn update(
        &self,
        key: &[u8],
        now: u64,
        decide: &mut dyn FnMut(Option<&Value>) -> Change,
    ) -> Result<(), StoreError> {
        let mut outcome = Ok(());
        let counters = &self.counters;
        self.cache
            .entry_by_ref(KeyRef::new(key))
            .and_compute_with(|entry| {
                let current = entry.map(|entry| entry.into_value());
                let expired = current.as_ref().is_some_and(|value| value.is_expired(now));
                if expired && current.as_ref().is_some_and(|value| !value.is_tombstone()) {
                    counters.expired.fetch_add(1, Ordering::Relaxed);
                }
                let live = if expired { None } else { current.as_ref() };
                let cleanup = if expired { Op::Remove } else { Op::Nop };
                match decide(live) {
                    Change::Keep => cleanup,
                    Change::Remove => {
                        if current.is_some() {
                            Op::Remove
                        } else {
                            Op::Nop
                        }
                    }
                    Change::Expire { deadline, version } => match live {
                        // A copy, not an in-place change: the eviction listener must see the old
                        // deadline when moka replaces the entry.
                        Some(value) => {
                            let value = value.duplicate(deadline).with_version(version);
                            counters.reshaped(Shape::NONE, Shape::of(&value));
                            Op::Put(value)
                        }
                        None => cleanup,
                    },
                    Change::Put(value) => match self.check_fits(key, &value) {
                        Ok(()) => {
                            counters.reshaped(Shape::NONE, Shape::of(&value));
                            Op::Put(value)
                        }
                        Err(e) => {
                            outcome = Err(e);
                            cleanup
                        }
                    },
                }
            });
        outcome
    }

    fn max_entry(&self) -> u64 {
        let limit = self.limit.load(Ordering::Relaxed);
        if limit == 0 {
            u64::from(u32::MAX)
        } else {
            limit.min(u64::from(u32::MAX))
        }
    }

    fn len(&self) -> u64 {
        // moka applies writes to its policy lazily; DBSIZE must be exact after writes.
        self.cache.run_pending_tasks();
        self.cache
            .entry_count()
            .saturating_sub(self.counters.tombstones())
    }

    fn clear(&self) {
        self.cache.invalidate_all();
        self.cache.run_pending_tasks();
        self.cursors.clear();
        self.sampler.reset();
    }

    fn scan(&self, cursor: u64, count: usize, now: u64, visit: &mut dyn FnMut(&[u8])) -> u64 {
        scan_live(
            &self.cursors,
            cursor,
            count,
            now,
            || walk(&self.cache),
            visit,
        )
    }

    fn random_key(&self, now: u64) -> Option<Vec<u8>> {
        random_live_key(&self.sampler, now, || walk(&self.cache))
    }

    fn sweep_expired(&self, _now: u64, _budget: usize) -> Sweep {
        // moka's own timers remove expired entries during its housekeeping.
        self.cache.run_pending_tasks();
        Sweep::default()
    }

    fn stats(&self) -> StoreStats {
        self.cache.run_pending_tasks();
        StoreStats {
            keys: self
                .cache
                .entry_count()
                .saturating_sub(self.counters.tombstones()),
            keys_with_deadline: self.counters.keys_with_deadline(),
            tombstones: self.counters.tombstones(),
            used_bytes: self.cache.weighted_size(),
            limit_bytes: self.limit.load(Ordering::Relaxed),
            evicted_keys: self.counters.evicted.load(Ordering::Relaxed),
            expired_keys: self.counters.expired.load(Ordering::Relaxed),
        }
    }

    fn on_departure(&self, departed: super::Departed) {
        let _ = self.counters.departures.0.set(departed);
    }

    fn set_limit(&self, _bytes: u64) -> Result<(), StoreError> {
        Err(StoreError::Unsupported(
            "the moka store cannot change its limit at run time",
        ))
    }
}
