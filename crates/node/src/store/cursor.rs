//! Resumable walks over an engine's entries: SCAN cursors, the expiry sweep, RANDOMKEY.
//!
//! Neither engine exposes a resumable position, but both iterate in an order that keeps every
//! entry present for the whole walk (quick_cache walks its slab slots shard by shard; moka its
//! segments). So a SCAN cursor is a handle on a live iterator kept here, not an encoded
//! position. The table is bounded: past [`MAX_OPEN_CURSORS`] the least recently used walk is
//! dropped, and a cursor that is no longer known starts a new walk, which keeps Redis's
//! guarantee (keys may repeat; a key present throughout is still returned).

use std::borrow::Borrow;
use std::collections::HashMap;
use std::sync::Mutex;

use super::{StoreKey, Value};

/// Most SCAN walks kept open at once. Each costs one iterator (a few words); a client that
/// abandons a scan leaves its walk here until newer ones push it out.
pub(crate) const MAX_OPEN_CURSORS: usize = 1024;

pub(crate) struct CursorTable<I> {
    inner: Mutex<Inner<I>>,
}

struct Inner<I> {
    next_id: u64,
    clock: u64,
    open: HashMap<u64, (I, u64)>,
}

impl<I: Iterator> CursorTable<I> {
    pub fn new() -> Self {
        Self {
            inner: Mutex::new(Inner {
                // Start away from small numbers so a cursor from another node or an earlier
                // run is unlikely to name a live walk.
                next_id: rand::random::<u32>() as u64 + 1,
                clock: 0,
                open: HashMap::new(),
            }),
        }
    }

    /// Advances the walk named `cursor` (0 starts one) until `visit` has accepted `count`
    /// items or the walk ends. Returns the cursor to continue with, 0 when done.
    pub fn step(
        &self,
        cursor: u64,
        count: usize,
        start: impl FnOnce() -> I,
        visit: &mut dyn FnMut(I::Item) -> bool,
    ) -> u64 {
        let walk = if cursor == 0 {
            None
        } else {
            self.lock().open.remove(&cursor).map(|(walk, _)| walk)
        };
        let mut walk = walk.unwrap_or_else(start);
        let mut accepted = 0;
        let count = count.max(1);
        while accepted < count {
            match walk.next() {
                Some(item) => {
                    if visit(item) {
                        accepted += 1;
                    }
                }
                None => return 0,
            }
        }
        let mut inner = self.lock();
        if inner.open.len() >= MAX_OPEN_CURSORS {
            if let Some(oldest) = inner
                .open
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(id, _)| *id)
            {
                inner.open.remove(&oldest);
            }
        }
        let id = inner.next_id;
        inner.next_id = inner.next_id.wrapping_add(1).max(1);
        inner.clock += 1;
        let clock = inner.clock;
        inner.open.insert(id, (walk, clock));
        id
    }

    /// Drops every open walk (after FLUSHALL).
    pub fn clear(&self) {
        self.lock().open.clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner<I>> {
        // A panic while holding this lock leaves only iterators behind; they stay usable.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// One endless walk that wraps around: the expiry sweep and RANDOMKEY use it.
pub(crate) struct Ring<I> {
    walk: Mutex<Option<I>>,
}

impl<I: Iterator> Ring<I> {
    pub fn new() -> Self {
        Self {
            walk: Mutex::new(None),
        }
    }

    /// Calls `visit` on up to `budget` items, wrapping at the end at most once. Returns how
    /// many items were visited and whether the walk wrapped.
    pub fn advance(
        &self,
        budget: usize,
        start: impl Fn() -> I,
        visit: &mut dyn FnMut(I::Item) -> bool,
    ) -> (usize, bool) {
        let mut guard = self
            .walk
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut visited = 0;
        let mut wrapped = false;
        while visited < budget {
            let walk = guard.get_or_insert_with(&start);
            match walk.next() {
                Some(item) => {
                    visited += 1;
                    if !visit(item) {
                        break;
                    }
                }
                None => {
                    *guard = None;
                    if wrapped {
                        break;
                    }
                    wrapped = true;
                }
            }
        }
        (visited, wrapped)
    }

    pub fn reset(&self) {
        *self
            .walk
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = None;
    }
}

/// One SCAN step over an engine's walk: live keys only, COUNT counting the keys visited.
pub(crate) fn scan_live<I, K>(
    table: &CursorTable<I>,
    cursor: u64,
    count: usize,
    now: u64,
    start: impl FnOnce() -> I,
    visit: &mut dyn FnMut(&[u8]),
) -> u64
where
    I: Iterator<Item = (K, Value)>,
    K: Borrow<StoreKey>,
{
    table.step(cursor, count, start, &mut |(key, value)| {
        if !value.is_live(now) {
            return false;
        }
        visit(key.borrow().as_bytes());
        true
    })
}

/// RANDOMKEY over an engine's endless walk: skips a random number (0-15) of live keys, so
/// repeated calls spread over the key space; not uniform within one call, as Redis's is not.
pub(crate) fn random_live_key<I, K>(
    ring: &Ring<I>,
    now: u64,
    start: impl Fn() -> I,
) -> Option<Vec<u8>>
where
    I: Iterator<Item = (K, Value)>,
    K: Borrow<StoreKey>,
{
    let mut skip = rand::random_range(0..16usize);
    let mut found = None;
    ring.advance(usize::MAX, start, &mut |(key, value)| {
        if !value.is_live(now) {
            // Stop at an expired entry only once a live key was found.
            return found.is_none();
        }
        found = Some(key.borrow().as_bytes().to_vec());
        if skip == 0 {
            return false;
        }
        skip -= 1;
        true
    });
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_walk_resumes_and_ends_with_zero() {
        let table = CursorTable::new();
        let mut seen = Vec::new();
        let mut cursor = 0;
        loop {
            cursor = table.step(cursor, 3, || 0..10, &mut |i| {
                seen.push(i);
                true
            });
            if cursor == 0 {
                break;
            }
        }
        assert_eq!(seen, (0..10).collect::<Vec<_>>());
    }

    #[test]
    fn an_unknown_cursor_starts_over() {
        let table = CursorTable::new();
        let mut seen = Vec::new();
        let next = table.step(12345, 2, || 0..5, &mut |i| {
            seen.push(i);
            true
        });
        assert_ne!(next, 0);
        assert_eq!(seen, vec![0, 1]);
    }

    #[test]
    fn the_table_is_bounded() {
        let table = CursorTable::new();
        for _ in 0..MAX_OPEN_CURSORS + 10 {
            table.step(0, 1, || 0..100, &mut |_| true);
        }
        assert_eq!(table.lock().open.len(), MAX_OPEN_CURSORS);
    }

    #[test]
    fn the_ring_wraps_once_per_call() {
        let ring = Ring::new();
        let mut seen = Vec::new();
        let (visited, wrapped) = ring.advance(7, || 0..5, &mut |i| {
            seen.push(i);
            true
        });
        assert_eq!((visited, wrapped), (7, true));
        assert_eq!(seen, vec![0, 1, 2, 3, 4, 0, 1]);
        let (visited, _) = Ring::new().advance(100, || 0..0, &mut |_| true);
        assert_eq!(visited, 0);
    }
}
