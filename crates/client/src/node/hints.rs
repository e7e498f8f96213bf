//! Repair hints: the keys a node missed writes or deletes for, with the newest version it
//! missed of each.
//!
//! While a node is ejected (or after a write to it failed), the client remembers each key it
//! missed. The node serves no read of a hinted key, and before it serves reads again every
//! hinted key is invalidated on it at the version it missed (`VDEL key version`: whatever older
//! value it holds is replaced by a tombstone at that version, which the write it missed
//! outranks wherever it landed, and a newer write is left alone). The set is bounded: past its
//! capacity it stops remembering keys and marks the node as overflowed, and an overflowed node
//! is emptied (FLUSHALL) before it serves any read.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use bytes::Bytes;

#[derive(Default)]
struct HintSet {
    /// Key → the sequence number of the latest miss (so a replay removes only hints it
    /// covered) and the newest version missed.
    keys: HashMap<Bytes, (u64, u64)>,
    next: u64,
    overflowed: bool,
}

/// The hints for one node.
pub(crate) struct Hints {
    set: Mutex<HintSet>,
    /// Hinted keys plus one when overflowed: lets the read path skip the lock when zero.
    pending: AtomicUsize,
    capacity: usize,
}

/// A batch taken for replay.
pub(crate) struct Batch {
    /// Key, sequence number, version.
    pub keys: Vec<(Bytes, u64, u64)>,
}

impl Hints {
    pub fn new(capacity: usize) -> Self {
        Self {
            set: Mutex::new(HintSet::default()),
            pending: AtomicUsize::new(0),
            capacity,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HintSet> {
        self.set
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn publish(&self, set: &HintSet) {
        self.pending.store(
            set.keys.len() + usize::from(set.overflowed),
            Ordering::Release,
        );
    }

    /// Records that the node missed a write of `key` at `version`.
    pub fn add(&self, key: &[u8], version: u64) {
        let mut set = self.lock();
        if set.overflowed {
            return;
        }
        if set.keys.len() >= self.capacity && !set.keys.contains_key(key) {
            // Stop tracking keys: the node will be emptied instead.
            set.overflowed = true;
            set.keys.clear();
        } else {
            set.next += 1;
            let seq = set.next;
            let version = set
                .keys
                .get(key)
                .map_or(version, |(_, v)| (*v).max(version));
            set.keys.insert(Bytes::copy_from_slice(key), (seq, version));
        }
        self.publish(&set);
    }

    /// Whether the node may hold a stale value for `key`.
    pub fn covers(&self, key: &[u8]) -> bool {
        if self.pending.load(Ordering::Acquire) == 0 {
            return false;
        }
        let set = self.lock();
        set.overflowed || set.keys.contains_key(key)
    }

    /// Whether anything is pending.
    pub fn is_empty(&self) -> bool {
        self.pending.load(Ordering::Acquire) == 0
    }

    /// Keys remembered (not counting an overflow).
    pub fn len(&self) -> usize {
        self.lock().keys.len()
    }

    /// Whether the node must be emptied before it serves reads.
    pub fn overflowed(&self) -> bool {
        self.lock().overflowed
    }

    /// Up to `max` hinted keys to replay.
    pub fn take(&self, max: usize) -> Batch {
        let set = self.lock();
        Batch {
            keys: set
                .keys
                .iter()
                .take(max)
                .map(|(key, (seq, version))| (key.clone(), *seq, *version))
                .collect(),
        }
    }

    /// Forgets the hints of a replayed batch, unless the key was missed again meanwhile.
    pub fn replayed(&self, batch: &Batch) {
        let mut set = self.lock();
        for (key, seq, _) in &batch.keys {
            if set.keys.get(key).is_some_and(|(current, _)| current == seq) {
                set.keys.remove(key);
            }
        }
        self.publish(&set);
    }

    /// Makes the node unreadable until it is emptied (after a flush it missed).
    pub fn mark_overflowed(&self) {
        let mut set = self.lock();
        set.overflowed = true;
        set.keys.clear();
        self.publish(&set);
    }

    /// Forgets everything: the node was emptied (restart or FLUSHALL), nothing on it is stale.
    pub fn clear(&self) {
        let mut set = self.lock();
        set.keys.clear();
        set.overflowed = false;
        self.publish(&set);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_replay_and_overflow() {
        let hints = Hints::new(3);
        assert!(!hints.covers(b"a"));
        hints.add(b"a", 10);
        hints.add(b"b", 11);
        hints.add(b"a", 9);
        assert!(hints.covers(b"a") && !hints.covers(b"z"));
        let batch = hints.take(10);
        let a = batch
            .keys
            .iter()
            .find(|(key, ..)| key.as_ref() == b"a")
            .unwrap();
        assert_eq!(a.2, 10, "the newest version missed is kept");
        hints.add(b"a", 12); // missed again after the batch was taken
        hints.replayed(&batch);
        assert!(
            hints.covers(b"a"),
            "a newer miss survives the replay of an older one"
        );
        assert!(!hints.covers(b"b"));
        hints.add(b"c", 1);
        hints.add(b"d", 1);
        hints.add(b"e", 1);
        assert!(hints.overflowed());
        assert!(
            hints.covers(b"anything"),
            "an overflowed node serves no read"
        );
        hints.clear();
        assert!(hints.is_empty() && !hints.covers(b"a"));
    }
}
