//! The compact engine: keys and values packed one after another into segments, and per shard a
//! hash index of 8-byte positions (in the manner of pelikan's Segcache).
//!
//! An *item* is a flag byte, the key's and payload's lengths (varints), the version and, when
//! there is one, the deadline (8 bytes each), then the key and the payload. A 16-byte key with a
//! 32-byte value takes 59 bytes, and its index slot 8 bytes plus a control byte at the table's
//! load: no allocation of its own, no pointer. Collections, tombstones' and large values' items
//! hold a 4-byte handle on a [`Value`] kept beside the segments instead (collections keep their
//! own structures and are changed in place).
//!
//! Segments form one log per shard, written at its tail and reclaimed at its head: a changed or
//! deleted item is only marked dead where it lies. When the shard is over its budget, or its
//! dead bytes pass a quarter of what it holds, the head segment is processed: every live item
//! is evicted, or moved to the tail if it was read since it was last passed over (a two-bit
//! count, so a popular item survives several passes: CLOCK), and the segment is freed. Items
//! only ever move towards the tail, so a walk of the log by position (SCAN, the expiry sweep)
//! meets every item present for its whole length, perhaps twice: the cursor is that position.
//!
//! Reads copy the value out of the segment (a small allocation); the other engines hand out
//! a reference-counted handle instead.

use std::collections::VecDeque;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use hashbrown::{DefaultHashBuilder, HashTable};
use integer_encoding::VarInt;
use parking_lot::{Mutex, MutexGuard};
use slab::Slab;

use super::{
    Change, Counters, Shape, Store, StoreError, StoreKind, StoreStats, Sweep, Value, NO_DEADLINE,
};

/// Bytes of one segment. Segments are the unit memory comes back in: a shard may hold up to
/// one segment's worth beyond its live items while its head is processed. An item starts
/// below this offset (one larger than a segment has a segment of its own, at offset 0), so an
/// offset fits the 16 bits a SCAN cursor gives it.
const SEGMENT: usize = 64 * 1024;
/// Bytes of the head segment compaction processes per write, at least.
const COMPACTION_STEP: usize = 8 * 1024;
/// The bits of a segment's number a position keeps (a shard holds far fewer segments).
const SEQ_BITS: u32 = 24;
const SEQ_MASK: u32 = (1 << SEQ_BITS) - 1;
/// Values larger than this are kept beside the segments, so a segment holds many items.
const LARGE_VALUE: usize = SEGMENT / 8;
/// Bytes charged per key beyond its item: the index's 8-byte slot and control byte at its
/// load (half to seven eighths full) and the segments' unused tails. Measured: 1M keys of
/// 16 + 32 bytes (59-byte items) grew the process by 78.2 bytes each.
pub const INDEX_OVERHEAD: u64 = 19;
/// Bytes charged for a value kept beside the segments beyond its size: its slot there and its
/// allocation's header.
const SIDE_OVERHEAD: u64 = 48;

/// The item is live (not changed or deleted since it was written).
const LIVE: u8 = 1;
/// The item has a deadline field.
const DEADLINE: u8 = 2;
/// The payload is a 4-byte handle on a value kept beside the segments.
const SIDE: u8 = 4;
/// The item is a tombstone (no payload).
const TOMBSTONE: u8 = 8;
/// The read count, two bits: how many head passes the item survives.
const FREQ_SHIFT: u8 = 4;
const FREQ: u8 = 3 << FREQ_SHIFT;

/// Where an item lies: its segment's sequence number and its offset there.
type Slot = u64;

fn slot(seq: u32, offset: usize) -> Slot {
    (u64::from(seq) << 32) | offset as u64
}

fn slot_seq(slot: Slot) -> u32 {
    (slot >> 32) as u32
}

fn slot_offset(slot: Slot) -> usize {
    (slot & 0xffff_ffff) as usize
}

struct Segment {
    seq: u32,
    data: Vec<u8>,
}

/// One item, parsed.
struct Item<'a> {
    flags: u8,
    key: &'a [u8],
    version: u64,
    deadline: u64,
    payload: &'a [u8],
    len: usize,
}

impl<'a> Item<'a> {
    fn parse(data: &'a [u8], offset: usize) -> Item<'a> {
        let flags = data[offset];
        let mut at = offset + 1;
        let (key_len, n) = u32::decode_var(&data[at..]).expect("item lengths are written whole");
        at += n;
        let (payload_len, n) =
            u32::decode_var(&data[at..]).expect("item lengths are written whole");
        at += n;
        let mut word = || {
            let bytes: [u8; 8] = data[at..at + 8].try_into().expect("eight bytes");
            at += 8;
            u64::from_le_bytes(bytes)
        };
        let (version, deadline) = if flags & SIDE != 0 {
            (0, NO_DEADLINE)
        } else {
            let version = word();
            let deadline = if flags & DEADLINE != 0 {
                word()
            } else {
                NO_DEADLINE
            };
            (version, deadline)
        };
        let key = &data[at..at + key_len as usize];
        at += key_len as usize;
        let payload = &data[at..at + payload_len as usize];
        at += payload_len as usize;
        Item {
            flags,
            key,
            version,
            deadline,
            payload,
            len: at - offset,
        }
    }

    fn side(&self) -> Option<usize> {
        (self.flags & SIDE != 0)
            .then(|| u32::from_le_bytes(self.payload.try_into().expect("a side handle")) as usize)
    }
}

/// Bytes an item of these lengths takes in a segment.
fn item_len(key: usize, payload: usize, words: usize) -> usize {
    1 + (key as u32).required_space()
        + (payload as u32).required_space()
        + 8 * words
        + key
        + payload
}

struct Shard {
    index: HashTable<Slot>,
    segments: VecDeque<Segment>,
    next_seq: u32,
    /// Values kept beside the segments, with what each was charged.
    side: Slab<(Value, u64)>,
    /// Bytes charged: every item written to a segment still held (dead ones too, until their
    /// segment is freed), the index overhead of each key, the values kept beside.
    used: u64,
    /// Bytes of dead items in the segments.
    dead: u64,
    /// How far into the head segment compaction has got: every item before this offset is
    /// dead (moved on or evicted).
    head_done: usize,
}

impl Shard {
    fn new() -> Self {
        Self {
            index: HashTable::new(),
            segments: VecDeque::new(),
            next_seq: 1,
            side: Slab::new(),
            used: 0,
            dead: 0,
            head_done: 0,
        }
    }

    fn segment(&self, seq: u32) -> Option<&Segment> {
        held(&self.segments, seq)
    }

    fn segment_mut(&mut self, seq: u32) -> &mut Segment {
        let first = self
            .segments
            .front()
            .expect("a slot names a held segment")
            .seq;
        &mut self.segments[seq.wrapping_sub(first) as usize]
    }

    fn item(&self, slot: Slot) -> Item<'_> {
        let segment = self
            .segment(slot_seq(slot))
            .expect("a slot names a held segment");
        Item::parse(&segment.data, slot_offset(slot))
    }

    fn find(&self, hash: u64, key: &[u8]) -> Option<Slot> {
        self.index
            .find(hash, |&slot| self.item(slot).key == key)
            .copied()
    }

    /// The value an item holds.
    fn value(&self, item: &Item<'_>) -> Value {
        match item.side() {
            Some(handle) => self.side[handle].0.clone(),
            None if item.flags & TOMBSTONE != 0 => Value::tombstone(item.version, item.deadline),
            None => Value::versioned(item.payload, item.deadline, item.version),
        }
    }

    fn expired(&self, item: &Item<'_>, now: u64) -> bool {
        match item.side() {
            Some(handle) => self.side[handle].0.is_expired(now),
            None => super::is_expired(item.deadline, now),
        }
    }

    /// Appends an item for `key` holding `value` at the log's tail; its slot.
    fn append(&mut self, key: &[u8], value: Value, freq: u8) -> Slot {
        let side = value.as_collection().is_some()
            || value
                .string()
                .is_some_and(|bytes| bytes.len() > LARGE_VALUE);
        let mut flags = LIVE | (freq << FREQ_SHIFT);
        let len = if side {
            flags |= SIDE;
            item_len(key.len(), 4, 0)
        } else {
            if value.is_tombstone() {
                flags |= TOMBSTONE;
            }
            let deadline = value.deadline() != NO_DEADLINE;
            if deadline {
                flags |= DEADLINE;
            }
            let payload = value.string().map_or(0, <[u8]>::len);
            item_len(key.len(), payload, 1 + usize::from(deadline))
        };
        let fits = self
            .segments
            .back()
            .is_some_and(|tail| tail.data.len() + len <= SEGMENT);
        if !fits {
            self.open_segment(len);
        }
        let handle = side.then(|| {
            let charge = value.size() + SIDE_OVERHEAD;
            self.used += charge;
            self.side.insert((value.clone(), charge)) as u32
        });
        let tail = self.segments.back_mut().expect("a tail segment");
        let offset = tail.data.len();
        let data = &mut tail.data;
        data.push(flags);
        let mut buf = [0u8; 5];
        let n = (key.len() as u32).encode_var(&mut buf);
        data.extend_from_slice(&buf[..n]);
        match handle {
            Some(handle) => {
                let n = 4u32.encode_var(&mut buf);
                data.extend_from_slice(&buf[..n]);
                data.extend_from_slice(key);
                data.extend_from_slice(&handle.to_le_bytes());
            }
            None => {
                let payload = value.string().unwrap_or_default();
                let n = (payload.len() as u32).encode_var(&mut buf);
                data.extend_from_slice(&buf[..n]);
                data.extend_from_slice(&value.version().to_le_bytes());
                if flags & DEADLINE != 0 {
                    data.extend_from_slice(&value.deadline().to_le_bytes());
                }
                data.extend_from_slice(key);
                data.extend_from_slice(payload);
            }
        }
        debug_assert_eq!(tail.data.len() - offset, len);
        self.used += len as u64;
        slot(tail.seq, offset)
    }

    /// Marks the item at `slot` dead, releasing what it holds beside the segments.
    fn kill(&mut self, slot: Slot) {
        let (len, side) = {
            let item = self.item(slot);
            (item.len, item.side())
        };
        if let Some(handle) = side {
            let (_, charge) = self.side.remove(handle);
            self.used -= charge;
        }
        self.segment_mut(slot_seq(slot)).data[slot_offset(slot)] &= !LIVE;
        self.dead += len as u64;
    }

    /// Writes `value` for `key` (whose current item, if any, is at `old`) with read count
    /// `freq`; the new item's slot.
    fn put(
        &mut self,
        hash: u64,
        key: &[u8],
        old: Option<Slot>,
        value: Value,
        freq: u8,
        hasher: &Hasher,
    ) -> Slot {
        let new = self.append(key, value, freq);
        match old {
            Some(old) => {
                self.kill(old);
                let slot = self
                    .index
                    .find_mut(hash, |&slot| slot == old)
                    .expect("the old slot is indexed");
                *slot = new;
            }
            None => {
                self.used += INDEX_OVERHEAD;
                let Self {
                    index, segments, ..
                } = self;
                index.insert_unique(hash, new, |&slot| hasher.hash_one(key_in(segments, slot)));
            }
        }
        new
    }

    /// Deletes the item at `slot` from the index and marks it dead.
    fn delete(&mut self, hash: u64, slot: Slot) {
        self.kill(slot);
        if let Ok(entry) = self.index.find_entry(hash, |&s| s == slot) {
            entry.remove();
        }
        self.used -= INDEX_OVERHEAD;
    }

    /// Processes the head segment from where the last call stopped, `step` bytes of it at most
    /// (whole items), freeing it when its end is reached: each live item is moved to the tail
    /// if `keep` says so (given its read count, and giving the count it keeps), or else deleted
    /// and passed to `gone`. `protect` (the item just written) is always kept; where it is
    /// afterwards.
    fn reclaim_head(
        &mut self,
        hasher: &Hasher,
        mut protect: Option<Slot>,
        keep: &mut dyn FnMut(u8) -> Option<u8>,
        gone: &mut dyn FnMut(&[u8], Value),
        step: usize,
    ) -> Option<Slot> {
        let Some(head) = self.segments.front() else {
            return protect;
        };
        let seq = head.seq;
        if self.segments.len() == 1 {
            // Moved items need a tail other than the head.
            self.open_segment(SEGMENT);
        }
        let mut offset = self.head_done;
        let stop = offset.saturating_add(step);
        loop {
            let head = self.segments.front().expect("the head segment");
            if offset >= head.data.len() {
                break;
            }
            if offset >= stop {
                self.head_done = offset;
                return protect;
            }
            let item = Item::parse(&head.data, offset);
            let here = slot(seq, offset);
            let len = item.len;
            let flags = item.flags;
            offset += len;
            if flags & LIVE == 0 {
                continue;
            }
            let hash = hasher.hash_one(item.key);
            let freq = (flags & FREQ) >> FREQ_SHIFT;
            let decision = if protect == Some(here) {
                Some(freq)
            } else {
                keep(freq)
            };
            match decision {
                Some(freq) => {
                    let moved = self.relocate(here, len, freq);
                    if let Some(slot) = self.index.find_mut(hash, |&slot| slot == here) {
                        *slot = moved;
                    }
                    if protect == Some(here) {
                        protect = Some(moved);
                    }
                }
                None => {
                    let (key, value) = {
                        let item = self.item(here);
                        (item.key.to_vec(), self.value(&item))
                    };
                    self.delete(hash, here);
                    gone(&key, value);
                }
            }
        }
        let head = self.segments.pop_front().expect("the head segment");
        self.head_done = 0;
        self.used -= head.data.len() as u64;
        self.dead -= head.data.len() as u64;
        protect
    }

    /// Starts a tail segment with room for at least `len` bytes.
    fn open_segment(&mut self, len: usize) {
        let seq = self.next_seq;
        self.next_seq = seq.wrapping_add(1);
        self.segments.push_back(Segment {
            seq,
            data: Vec::with_capacity(SEGMENT.max(len)),
        });
    }

    /// Moves the `len`-byte item at `from` to the tail (a value kept beside stays there), with
    /// read count `freq`; its new slot.
    fn relocate(&mut self, from: Slot, len: usize, freq: u8) -> Slot {
        let bytes: smallvec::SmallVec<[u8; 128]> = {
            let segment = self
                .segment(slot_seq(from))
                .expect("a slot names a held segment");
            let offset = slot_offset(from);
            smallvec::SmallVec::from_slice(&segment.data[offset..offset + len])
        };
        let fits = self
            .segments
            .back()
            .is_some_and(|tail| tail.seq != slot_seq(from) && tail.data.len() + len <= SEGMENT);
        if !fits {
            self.open_segment(len);
        }
        self.segment_mut(slot_seq(from)).data[slot_offset(from)] &= !LIVE;
        self.dead += len as u64;
        let tail = self.segments.back_mut().expect("a tail segment");
        let offset = tail.data.len();
        tail.data.extend_from_slice(&bytes);
        tail.data[offset] = (bytes[0] & !FREQ) | (freq.min(3) << FREQ_SHIFT);
        self.used += len as u64;
        slot(tail.seq, offset)
    }

    /// Counts a read of the item at `slot`.
    fn touch(&mut self, slot: Slot) {
        let flags = &mut self.segment_mut(slot_seq(slot)).data[slot_offset(slot)];
        let freq = (*flags & FREQ) >> FREQ_SHIFT;
        if freq < 3 {
            *flags = (*flags & !FREQ) | ((freq + 1) << FREQ_SHIFT);
        }
    }
}

/// The segment numbered `seq` among `segments`, if it is still held.
fn held(segments: &VecDeque<Segment>, seq: u32) -> Option<&Segment> {
    let first = segments.front()?.seq;
    segments.get(seq.wrapping_sub(first) as usize)
}

/// The key of the item at `slot`, for rehashing the index (which borrows the shard apart
/// from its segments).
fn key_in(segments: &VecDeque<Segment>, slot: Slot) -> &[u8] {
    let segment = held(segments, slot_seq(slot)).expect("a slot names a held segment");
    Item::parse(&segment.data, slot_offset(slot)).key
}

type Hasher = DefaultHashBuilder;

/// Where the expiry sweep stands: a shard and a position in its log.
#[derive(Default)]
struct Walk {
    shard: usize,
    seq: Option<u32>,
    offset: usize,
}

/// The compact engine.
pub struct CompactStore {
    shards: Box<[Mutex<Shard>]>,
    hasher: Hasher,
    counters: Arc<Counters>,
    limit: AtomicU64,
    sweep: Mutex<Walk>,
}

impl CompactStore {
    /// An engine holding at most `limit_bytes` (0: no limit).
    pub fn new(limit_bytes: u64) -> Self {
        let shards = super::quick_engine::shard_count(limit_bytes).min(128);
        Self {
            shards: (0..shards).map(|_| Mutex::new(Shard::new())).collect(),
            hasher: Hasher::default(),
            counters: Arc::new(Counters::default()),
            limit: limit_bytes.into(),
            sweep: Mutex::new(Walk::default()),
        }
    }

    fn hash(&self, key: &[u8]) -> u64 {
        self.hasher.hash_one(key)
    }

    fn shard(&self, hash: u64) -> MutexGuard<'_, Shard> {
        // Bits the index uses least: it places by the low bits and filters by the top seven.
        let index = (hash >> 40) as usize % self.shards.len();
        self.shards[index].lock()
    }

    /// Each shard's budget.
    fn budget(&self) -> u64 {
        match self.limit.load(Ordering::Relaxed) {
            0 => u64::MAX / 2,
            limit => limit / self.shards.len() as u64,
        }
    }

    fn check_fits(&self, key: &[u8], value: &Value) -> Result<(), StoreError> {
        let weight = entry_weight(key, value);
        let max = self.budget();
        if weight > max {
            return Err(StoreError::TooLarge { weight, max });
        }
        Ok(())
    }

    /// Brings `shard` back within its budget, and its dead bytes under a quarter of what it
    /// holds, keeping the item at `protect`.
    fn settle(&self, shard: &mut Shard, protect: Option<Slot>) {
        let budget = self.budget();
        let counters = &*self.counters;
        let mut protect = protect;
        let mut rounds = 0u64;
        while shard.used > budget && !shard.segments.is_empty() {
            protect = shard.reclaim_head(
                &self.hasher,
                protect,
                &mut |freq| freq.checked_sub(1),
                &mut |key, value| counters.left(key, &value, true),
                usize::MAX,
            );
            rounds += 1;
            debug_assert!(rounds < 1 << 24, "eviction does not converge");
        }
        // Compaction, a few KiB of the head per write (whole segments at once cost SET's p99
        // at depth 1): live items move on unchanged. With dead items a quarter or more of the
        // log, four times the item written frees at least as much as that write made dead.
        if shard.dead > (shard.used / 4).max(2 * SEGMENT as u64) && shard.segments.len() >= 2 {
            let written = protect.map_or(0, |slot| shard.item(slot).len);
            shard.reclaim_head(
                &self.hasher,
                protect,
                &mut Some,
                &mut |_, _| unreachable!("compaction keeps every item"),
                COMPACTION_STEP.max(4 * written),
            );
        }
    }
}

/// What an entry of `key` holding `value` is charged, as the other engines weigh it: for the
/// largest-entry check.
fn entry_weight(key: &[u8], value: &Value) -> u64 {
    // The most an item's header takes (flags, two 5-byte lengths, version and deadline), or a
    // side value's slot, handle and overhead.
    key.len() as u64 + value.size() + INDEX_OVERHEAD + SIDE_OVERHEAD + 27
}

impl Store for CompactStore {
    fn kind(&self) -> StoreKind {
        StoreKind::Compact
    }

    fn entry(&self, key: &[u8], now: u64) -> Option<Value> {
        let hash = self.hash(key);
        let mut shard = self.shard(hash);
        let slot = shard.find(hash, key)?;
        let (expired, value) = {
            let item = shard.item(slot);
            (shard.expired(&item, now), shard.value(&item))
        };
        if expired {
            shard.delete(hash, slot);
            drop(shard);
            self.counters.left(key, &value, false);
            return None;
        }
        shard.touch(slot);
        Some(value)
    }

    fn update(
        &self,
        key: &[u8],
        now: u64,
        decide: &mut dyn FnMut(Option<&Value>) -> Change,
    ) -> Result<(), StoreError> {
        let counters = &*self.counters;
        let hash = self.hash(key);
        let mut shard = self.shard(hash);
        let found = shard.find(hash, key);
        let current = found.map(|slot| {
            let item = shard.item(slot);
            (slot, shard.value(&item), shard.expired(&item, now))
        });
        let expired = current.as_ref().is_some_and(|(_, _, expired)| *expired);
        let live = current
            .as_ref()
            .filter(|(_, _, expired)| !expired)
            .map(|(_, value, _)| value);
        let change = decide(live);
        let remove_expired = |shard: &mut Shard| {
            if let Some((slot, old, true)) = &current {
                shard.delete(hash, *slot);
                counters.left(key, old, false);
            }
        };
        match change {
            Change::Keep => remove_expired(&mut shard),
            Change::Remove => match &current {
                Some((_, _, true)) => remove_expired(&mut shard),
                Some((slot, old, false)) => {
                    shard.delete(hash, *slot);
                    counters.reshaped(Shape::of(old), Shape::NONE);
                }
                None => {}
            },
            Change::Expire { .. } if expired => remove_expired(&mut shard),
            Change::Expire { deadline, version } => {
                if let Some((slot, old, _)) = current {
                    let before = Shape::of(&old);
                    let mut value = old;
                    value.set_deadline(deadline);
                    value.set_version(version);
                    counters.reshaped(before, Shape::of(&value));
                    let freq = (shard.item(slot).flags & FREQ) >> FREQ_SHIFT;
                    let new = shard.put(hash, key, Some(slot), value, freq, &self.hasher);
                    self.settle(&mut shard, Some(new));
                }
            }
            Change::Put(value) => {
                if let Err(error) = self.check_fits(key, &value) {
                    remove_expired(&mut shard);
                    return Err(error);
                }
                let old = current.as_ref().map(|(slot, old, expired)| {
                    if *expired && !old.is_tombstone() {
                        counters.expired.fetch_add(1, Ordering::Relaxed);
                    }
                    counters.reshaped(Shape::of(old), Shape::of(&value));
                    *slot
                });
                if old.is_none() {
                    counters.reshaped(Shape::NONE, Shape::of(&value));
                }
                let written = shard.put(hash, key, old, value, 0, &self.hasher);
                self.settle(&mut shard, Some(written));
            }
        }
        Ok(())
    }

    fn remove(&self, key: &[u8], now: u64) -> bool {
        let hash = self.hash(key);
        let mut shard = self.shard(hash);
        let Some(slot) = shard.find(hash, key) else {
            return false;
        };
        let (expired, old) = {
            let item = shard.item(slot);
            (shard.expired(&item, now), shard.value(&item))
        };
        shard.delete(hash, slot);
        self.settle(&mut shard, None);
        drop(shard);
        if expired {
            self.counters.left(key, &old, false);
            false
        } else {
            self.counters.reshaped(Shape::of(&old), Shape::NONE);
            !old.is_tombstone()
        }
    }

    fn max_entry(&self) -> u64 {
        self.budget()
    }

    fn len(&self) -> u64 {
        let entries: usize = self
            .shards
            .iter()
            .map(|shard| shard.lock().index.len())
            .sum();
        (entries as u64).saturating_sub(self.counters.tombstones())
    }

    fn clear(&self) {
        for shard in self.shards.iter() {
            *shard.lock() = Shard::new();
        }
        self.counters.with_deadline.store(0, Ordering::Relaxed);
        self.counters.tombstones.store(0, Ordering::Relaxed);
        *self.sweep.lock() = Walk::default();
    }

    fn scan(&self, cursor: u64, count: usize, now: u64, visit: &mut dyn FnMut(&[u8])) -> u64 {
        // The cursor is a position: shard + 1 (8 bits), the segment's number (its low 24 bits),
        // the offset (16 bits): 48 bits, so a proxy can combine it with a node's index. Any
        // value is safe: an unknown shard ends the scan, an unknown segment starts the shard
        // over, an offset between items resumes at the next item.
        let (mut shard_index, mut seq, mut offset) = if cursor == 0 {
            (0, None, 0)
        } else {
            let shard = (cursor >> 40) as usize;
            if shard == 0 || shard > self.shards.len() {
                return 0;
            }
            (
                shard - 1,
                Some((cursor >> 16) as u32 & SEQ_MASK),
                (cursor & 0xffff) as usize,
            )
        };
        let mut visited = 0;
        let count = count.max(1);
        while shard_index < self.shards.len() {
            let shard = self.shards[shard_index].lock();
            let position = walk_shard(&shard, seq, offset, &mut |item| {
                if visited >= count {
                    return false;
                }
                if item.flags & (LIVE | TOMBSTONE) == LIVE && !shard.expired(item, now) {
                    visit(item.key);
                    visited += 1;
                }
                true
            });
            match position {
                Some((at_seq, at_offset)) => {
                    debug_assert!(at_offset < SEGMENT);
                    return ((shard_index as u64 + 1) << 40)
                        | (u64::from(at_seq & SEQ_MASK) << 16)
                        | at_offset as u64;
                }
                None => {
                    shard_index += 1;
                    seq = None;
                    offset = 0;
                }
            }
        }
        0
    }

    fn random_key(&self, now: u64) -> Option<Vec<u8>> {
        let start = rand::random::<u64>() as usize;
        for i in 0..self.shards.len() {
            let shard = self.shards[(start + i) % self.shards.len()].lock();
            if shard.segments.is_empty() {
                continue;
            }
            // A random segment, then a random live key in it; the others in turn.
            let first = rand::random::<u64>() as usize % shard.segments.len();
            for j in 0..shard.segments.len() {
                let segment = &shard.segments[(first + j) % shard.segments.len()];
                let mut keys = Vec::new();
                let mut offset = 0;
                while offset < segment.data.len() {
                    let item = Item::parse(&segment.data, offset);
                    offset += item.len;
                    if item.flags & (LIVE | TOMBSTONE) == LIVE && !shard.expired(&item, now) {
                        keys.push(item.key);
                    }
                }
                if !keys.is_empty() {
                    return Some(keys[rand::random::<u64>() as usize % keys.len()].to_vec());
                }
            }
        }
        None
    }

    fn sweep_expired(&self, now: u64, budget: usize) -> Sweep {
        if self.counters.entries_with_deadline() == 0 {
            return Sweep::default();
        }
        let mut walk = self.sweep.lock();
        let mut sweep = Sweep::default();
        let mut visited_shards = 0;
        while sweep.examined < budget && visited_shards <= self.shards.len() {
            let index = walk.shard % self.shards.len();
            let mut shard = self.shards[index].lock();
            let mut expired = Vec::new();
            let mut examined = 0;
            let position = walk_shard(&shard, walk.seq, walk.offset, &mut |item| {
                if sweep.examined + examined >= budget {
                    return false;
                }
                if item.flags & LIVE != 0 {
                    examined += 1;
                    if shard.expired(item, now) {
                        expired.push(item.key.to_vec());
                    }
                }
                true
            });
            sweep.examined += examined;
            for key in expired {
                let hash = self.hash(&key);
                if let Some(slot) = shard.find(hash, &key) {
                    let (still, old) = {
                        let item = shard.item(slot);
                        (shard.expired(&item, now), shard.value(&item))
                    };
                    if still {
                        shard.delete(hash, slot);
                        self.counters.left(&key, &old, false);
                        if !old.is_tombstone() {
                            sweep.expired += 1;
                        }
                    }
                }
            }
            self.settle(&mut shard, None);
            match position {
                Some((seq, offset)) => {
                    walk.seq = Some(seq);
                    walk.offset = offset;
                }
                None => {
                    walk.shard = (index + 1) % self.shards.len();
                    walk.seq = None;
                    walk.offset = 0;
                    visited_shards += 1;
                    if walk.shard == 0 {
                        sweep.wrapped = true;
                        break;
                    }
                }
            }
        }
        sweep
    }

    fn stats(&self) -> StoreStats {
        let used = self.shards.iter().map(|shard| shard.lock().used).sum();
        StoreStats {
            keys: self.len(),
            keys_with_deadline: self.counters.keys_with_deadline(),
            tombstones: self.counters.tombstones(),
            used_bytes: used,
            limit_bytes: self.limit.load(Ordering::Relaxed),
            evicted_keys: self.counters.evicted.load(Ordering::Relaxed),
            expired_keys: self.counters.expired.load(Ordering::Relaxed),
        }
    }

    fn set_limit(&self, bytes: u64) -> Result<(), StoreError> {
        self.limit.store(bytes, Ordering::Relaxed);
        for shard in self.shards.iter() {
            self.settle(&mut shard.lock(), None);
        }
        Ok(())
    }

    fn on_departure(&self, departed: super::Departed) {
        let _ = self.counters.departures.0.set(departed);
    }
}

/// Walks `shard`'s items from a position (`seq`, the low bits of a segment's number, `None`:
/// the start) while `visit` returns true; where it stopped, or `None` at the end of the log. A
/// position in a segment freed since (or never held) resumes at the head: whatever lay there and
/// is still live has moved to the tail. An offset that is not an item's start resumes at the
/// next item.
fn walk_shard(
    shard: &Shard,
    seq: Option<u32>,
    offset: usize,
    visit: &mut dyn FnMut(&Item<'_>) -> bool,
) -> Option<(u32, usize)> {
    let first = shard.segments.front()?.seq;
    let (mut index, offset) = match seq {
        Some(seq) => {
            let index = (seq.wrapping_sub(first) & SEQ_MASK) as usize;
            if index < shard.segments.len() {
                (index, offset)
            } else {
                (0, 0)
            }
        }
        None => (0, 0),
    };
    // Items are parsed from the segment's start, so the walk only ever lands on one.
    let mut skip_below = offset;
    while let Some(segment) = shard.segments.get(index) {
        let mut at = 0;
        while at < segment.data.len() {
            let item = Item::parse(&segment.data, at);
            if at >= skip_below && !visit(&item) {
                return Some((segment.seq, at));
            }
            at += item.len;
        }
        index += 1;
        skip_below = 0;
    }
    None
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use proptest::prelude::*;

    use super::*;

    #[derive(Debug, Clone)]
    enum Op {
        Set {
            key: u8,
            len: usize,
            ttl: Option<u64>,
        },
        Get {
            key: u8,
        },
        Remove {
            key: u8,
        },
        Expire {
            key: u8,
            ttl: Option<u64>,
        },
        Tick {
            ms: u64,
        },
        Sweep,
    }

    fn op() -> impl Strategy<Value = Op> {
        let len = prop_oneof![8 => 0usize..64, 1 => 4000usize..12000];
        prop_oneof![
            4 => (0u8..24, len, proptest::option::of(1u64..6))
                .prop_map(|(key, len, ttl)| Op::Set { key, len, ttl }),
            4 => (0u8..24).prop_map(|key| Op::Get { key }),
            1 => (0u8..24).prop_map(|key| Op::Remove { key }),
            1 => (0u8..24, proptest::option::of(1u64..6))
                .prop_map(|(key, ttl)| Op::Expire { key, ttl }),
            1 => (1u64..3).prop_map(|ms| Op::Tick { ms }),
            1 => Just(Op::Sweep),
        ]
    }

    fn key(k: u8) -> Vec<u8> {
        format!("key:{k}").into_bytes()
    }

    proptest! {
        /// Without a limit the engine is a map with deadlines: every read agrees with a model,
        /// whatever the writes, deletes, deadline changes, sweeps and compactions between.
        #[test]
        fn agrees_with_a_map(ops in proptest::collection::vec(op(), 1..300)) {
            let store = CompactStore::new(0);
            let mut model: HashMap<Vec<u8>, (Vec<u8>, u64)> = HashMap::new();
            let mut now = 1_000u64;
            let mut serial = 0u32;
            for op in ops {
                match op {
                    Op::Set { key: k, len, ttl } => {
                        serial += 1;
                        let mut bytes = vec![b'a' + (serial % 26) as u8; len];
                        bytes.extend_from_slice(&serial.to_le_bytes());
                        let deadline = ttl.map_or(NO_DEADLINE, |ttl| now + ttl);
                        store.set(&key(k), Value::new(&bytes, deadline)).unwrap();
                        model.insert(key(k), (bytes, deadline));
                    }
                    Op::Get { key: k } => {
                        let want = model
                            .get(&key(k))
                            .filter(|(_, deadline)| !super::super::is_expired(*deadline, now))
                            .map(|(bytes, _)| bytes.clone());
                        let got = store.get(&key(k), now).map(|v| v.string().unwrap().to_vec());
                        prop_assert_eq!(got, want);
                    }
                    Op::Remove { key: k } => {
                        let live = model
                            .remove(&key(k))
                            .is_some_and(|(_, deadline)| !super::super::is_expired(deadline, now));
                        prop_assert_eq!(store.remove(&key(k), now), live);
                    }
                    Op::Expire { key: k, ttl } => {
                        let deadline = ttl.map_or(NO_DEADLINE, |ttl| now + ttl);
                        store
                            .update(&key(k), now, &mut |current| match current {
                                Some(_) => Change::expire(deadline),
                                None => Change::Keep,
                            })
                            .unwrap();
                        match model.get_mut(&key(k)) {
                            Some(entry) if !super::super::is_expired(entry.1, now) => {
                                entry.1 = deadline;
                            }
                            Some(_) => {
                                model.remove(&key(k));
                            }
                            None => {}
                        }
                    }
                    Op::Tick { ms } => now += ms,
                    Op::Sweep => {
                        store.sweep_expired(now, 1000);
                    }
                }
                let live = model
                    .values()
                    .filter(|(_, deadline)| !super::super::is_expired(*deadline, now))
                    .count() as u64;
                prop_assert!(store.len() >= live && store.len() <= model.len() as u64);
            }
            // A whole scan returns exactly the live keys.
            let mut scanned = std::collections::HashSet::new();
            let mut cursor = 0;
            loop {
                cursor = store.scan(cursor, 7, now, &mut |key| {
                    scanned.insert(key.to_vec());
                });
                if cursor == 0 {
                    break;
                }
            }
            let live: std::collections::HashSet<Vec<u8>> = model
                .iter()
                .filter(|(_, (_, deadline))| !super::super::is_expired(*deadline, now))
                .map(|(key, _)| key.clone())
                .collect();
            prop_assert_eq!(scanned, live);
        }

        /// Under a limit: the charge never passes it, the key just written is always there,
        /// and a key read back is never older than its last write (evicted keys read nothing).
        #[test]
        fn stays_within_its_budget_and_never_reads_stale(
            ops in proptest::collection::vec(op(), 1..400),
        ) {
            let limit = 48 << 10;
            let store = CompactStore::new(limit);
            let mut last: HashMap<Vec<u8>, Vec<u8>> = HashMap::new();
            let now = 1_000u64;
            let mut serial = 0u32;
            for op in ops {
                match op {
                    Op::Set { key: k, len, .. } => {
                        serial += 1;
                        let mut bytes = vec![b'x'; len];
                        bytes.extend_from_slice(&serial.to_le_bytes());
                        store.set(&key(k), Value::new(&bytes, NO_DEADLINE)).unwrap();
                        let got = store.get(&key(k), now).map(|v| v.string().unwrap().to_vec());
                        prop_assert_eq!(got.as_ref(), Some(&bytes), "the write was dropped");
                        last.insert(key(k), bytes);
                    }
                    Op::Get { key: k } | Op::Expire { key: k, .. } => {
                        if let Some(value) = store.get(&key(k), now) {
                            prop_assert_eq!(Some(value.string().unwrap()), last.get(&key(k)).map(Vec::as_slice));
                        }
                    }
                    Op::Remove { key: k } => {
                        store.remove(&key(k), now);
                        last.remove(&key(k));
                    }
                    Op::Tick { .. } | Op::Sweep => {}
                }
                prop_assert!(store.stats().used_bytes <= limit, "{} > {limit}", store.stats().used_bytes);
            }
        }
    }

    #[test]
    fn any_cursor_is_safe_and_a_scan_survives_compaction() {
        let store = CompactStore::new(0);
        for i in 0..20_000u32 {
            store
                .set(
                    format!("key:{i}").as_bytes(),
                    Value::new(&[b'v'; 40], NO_DEADLINE),
                )
                .unwrap();
        }
        // Garbage cursors: every shard, segment and offset bit pattern, none panics.
        for cursor in [
            1u64,
            0xffff,
            1 << 40,
            (1 << 40) | 7,
            (2 << 40) | 0x1_0003,
            u64::MAX,
            3 << 56,
        ]
        .into_iter()
        .chain((0..2000u64).map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15)))
        {
            let next = store.scan(cursor, 5, 0, &mut |_| {});
            assert!(next < 1 << 48, "{next:#x}");
        }
        // A whole scan with a small count while keys are overwritten (which compacts and
        // moves the others): every key present throughout is seen.
        let mut seen = std::collections::HashSet::new();
        let mut cursor = 0;
        let mut round = 0u32;
        loop {
            cursor = store.scan(cursor, 3, 0, &mut |key| {
                seen.insert(key.to_vec());
            });
            assert!(cursor < 1 << 48);
            for j in 0..20 {
                let key = format!("key:{}", (round * 20 + j) % 20_000);
                store
                    .set(key.as_bytes(), Value::new(&[b'w'; 40], NO_DEADLINE))
                    .unwrap();
            }
            round += 1;
            if cursor == 0 {
                break;
            }
        }
        assert!(store.stats().used_bytes > 0);
        for i in 0..20_000u32 {
            // Overwritten keys were present throughout too (an overwrite keeps the key).
            assert!(
                seen.contains(format!("key:{i}").as_bytes()),
                "missed key:{i}"
            );
        }
    }

    #[test]
    fn concurrent_writers_readers_scans_and_sweeps_keep_the_budget() {
        let limit = 1 << 20;
        let store = CompactStore::new(limit);
        std::thread::scope(|scope| {
            for t in 0..4u64 {
                let store = &store;
                scope.spawn(move || {
                    let mut cursor = 0;
                    for i in 0..20_000u64 {
                        let key = format!("key:{}", (i * 7 + t * 13) % 3000);
                        match i % 10 {
                            0..=3 => {
                                let len = if i % 97 == 0 {
                                    9000
                                } else {
                                    (i % 200) as usize
                                };
                                let deadline = if i % 3 == 0 {
                                    1_000 + i % 50
                                } else {
                                    NO_DEADLINE
                                };
                                store
                                    .set(key.as_bytes(), Value::new(&vec![b'v'; len], deadline))
                                    .unwrap();
                            }
                            4..=6 => {
                                store.get(key.as_bytes(), 1_000 + i % 60);
                            }
                            7 => {
                                store.remove(key.as_bytes(), 1_000);
                            }
                            8 => cursor = store.scan(cursor, 10, 1_000, &mut |_| {}),
                            _ => {
                                store.sweep_expired(1_000 + i % 60, 50);
                            }
                        }
                    }
                });
            }
        });
        assert!(store.stats().used_bytes <= limit);
        // Consistent after the storm: a whole scan (at a time before every deadline) meets
        // exactly the keys the index counts.
        let mut keys = 0;
        let mut cursor = 0;
        loop {
            cursor = store.scan(cursor, 100, 0, &mut |_| keys += 1);
            if cursor == 0 {
                break;
            }
        }
        assert_eq!(keys as u64, store.len());
    }

    #[test]
    fn overwrites_are_compacted_away() {
        // No limit: only compaction gives the dead items' segments back.
        let store = CompactStore::new(0);
        for round in 0..200u32 {
            for k in 0..500u32 {
                let value = format!("{k}:{round}:{}", "v".repeat(40));
                store
                    .set(
                        format!("key:{k}").as_bytes(),
                        Value::new(value.as_bytes(), NO_DEADLINE),
                    )
                    .unwrap();
            }
        }
        for k in 0..500u32 {
            let value = store.get(format!("key:{k}").as_bytes(), 0).unwrap();
            assert!(value
                .string()
                .unwrap()
                .starts_with(format!("{k}:199:").as_bytes()));
        }
        // 100,000 writes of about 70-byte items: 7 MB written, about 35 KB live.
        let stats = store.stats();
        let shards = store.shards.len() as u64;
        assert!(
            stats.used_bytes < shards * 5 * SEGMENT as u64,
            "{} bytes held over {shards} shards",
            stats.used_bytes
        );
    }

    #[test]
    fn a_read_key_outlives_keys_never_read() {
        // One shard of 256 KiB; a key read between writes survives a stream of new keys
        // twice the budget, which evicts the keys never read.
        let store = CompactStore::new(256 << 10);
        assert_eq!(store.shards.len(), 1);
        store
            .set(b"hot", Value::new(b"value", NO_DEADLINE))
            .unwrap();
        for i in 0..8000u32 {
            store
                .set(
                    format!("cold:{i}").as_bytes(),
                    Value::new(&[b'c'; 40], NO_DEADLINE),
                )
                .unwrap();
            if i % 100 == 0 {
                assert!(
                    store.get(b"hot", 0).is_some(),
                    "the read key was evicted at {i}"
                );
            }
        }
        assert!(store.get(b"cold:0", 0).is_none());
        assert!(store.stats().evicted_keys > 0);
    }
}
