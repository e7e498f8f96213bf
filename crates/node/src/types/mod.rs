//! Collections: the values that are not strings (hashes, sets, sorted sets and lists so far).
//!
//! A collection lives behind one `Arc` in the store's entry ([`crate::store::Value`]) and is
//! changed in place: a write takes the key's lock in the store (`Store::update`) and the
//! collection's own write lock, so a write of one field costs the field, not the collection.
//! Readers that cloned the value take the read lock. The collection keeps its own weight (the
//! bytes it is charged against `maxmemory`) in an atomic, so the engine re-weighs it without
//! locking after each change.
//!
//! Small collections are packed into one buffer (Redis's listpack idea: a length-prefixed run
//! of elements, searched linearly); they move to a table when they pass Redis's thresholds.
//!
//! Every collection has a dump: a compact whole-value form (`dump`/`restore`) that replicas
//! and a restarted node are brought up to date with.

pub mod codec;
pub mod hash;
pub mod list;
pub mod set;
pub mod zset;

use hashbrown::HashTable;
use parking_lot::{RwLock, RwLockReadGuard};
use std::sync::atomic::{AtomicU64, Ordering};

pub use hash::Hash;
pub use list::List;
pub use set::Set;
pub use zset::ZSet;

/// What kind of collection a value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Kind {
    /// A hash: fields and their values.
    Hash,
    /// A set: members, each once.
    Set,
    /// A sorted set: members, each once, with a score.
    SortedSet,
    /// A list: elements in order.
    List,
}

impl Kind {
    /// Redis's name for it, as TYPE answers.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Hash => "hash",
            Kind::Set => "set",
            Kind::SortedSet => "zset",
            Kind::List => "list",
        }
    }

    /// The kind named `name` (as [`Kind::name`] writes it, any case).
    pub fn from_name(name: &[u8]) -> Option<Kind> {
        [Kind::Hash, Kind::Set, Kind::SortedSet, Kind::List]
            .into_iter()
            .find(|kind| name.eq_ignore_ascii_case(kind.name().as_bytes()))
    }
}

/// A collection's contents.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Body {
    /// A hash.
    Hash(Hash),
    /// A set.
    Set(Set),
    /// A sorted set.
    SortedSet(ZSet),
    /// A list.
    List(List),
}

impl Body {
    /// Its kind.
    pub fn kind(&self) -> Kind {
        match self {
            Body::Hash(_) => Kind::Hash,
            Body::Set(_) => Kind::Set,
            Body::SortedSet(_) => Kind::SortedSet,
            Body::List(_) => Kind::List,
        }
    }

    /// The hash, if it is one.
    pub fn as_hash(&self) -> Option<&Hash> {
        match self {
            Body::Hash(hash) => Some(hash),
            _ => None,
        }
    }

    /// The set, if it is one.
    pub fn as_set(&self) -> Option<&Set> {
        match self {
            Body::Set(set) => Some(set),
            _ => None,
        }
    }

    /// The list, if it is one.
    pub fn as_list(&self) -> Option<&List> {
        match self {
            Body::List(list) => Some(list),
            _ => None,
        }
    }

    /// The list, to change, if it is one.
    pub fn as_list_mut(&mut self) -> Option<&mut List> {
        match self {
            Body::List(list) => Some(list),
            _ => None,
        }
    }

    /// The sorted set, if it is one.
    pub fn as_zset(&self) -> Option<&ZSet> {
        match self {
            Body::SortedSet(zset) => Some(zset),
            _ => None,
        }
    }

    /// The sorted set, to change, if it is one.
    pub fn as_zset_mut(&mut self) -> Option<&mut ZSet> {
        match self {
            Body::SortedSet(zset) => Some(zset),
            _ => None,
        }
    }

    /// The hash, to change, if it is one.
    pub fn as_hash_mut(&mut self) -> Option<&mut Hash> {
        match self {
            Body::Hash(hash) => Some(hash),
            _ => None,
        }
    }

    /// The set, to change, if it is one.
    pub fn as_set_mut(&mut self) -> Option<&mut Set> {
        match self {
            Body::Set(set) => Some(set),
            _ => None,
        }
    }

    /// Elements held (fields of a hash, ...).
    pub fn len(&self) -> usize {
        match self {
            Body::Hash(hash) => hash.len(),
            Body::Set(set) => set.len(),
            Body::SortedSet(zset) => zset.len(),
            Body::List(list) => list.len(),
        }
    }

    /// Whether it holds nothing (Redis deletes such a key).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes it is charged: its elements with their encoding and allocations.
    pub fn weight(&self) -> u64 {
        match self {
            Body::Hash(hash) => hash.weight(),
            Body::Set(set) => set.weight(),
            Body::SortedSet(zset) => zset.weight(),
            Body::List(list) => list.weight(),
        }
    }

    /// OBJECT ENCODING's answer.
    pub fn encoding(&self) -> &'static str {
        match self {
            Body::Hash(hash) => hash.encoding(),
            Body::Set(set) => set.encoding(),
            Body::SortedSet(zset) => zset.encoding(),
            Body::List(list) => list.encoding(),
        }
    }

    /// Appends the whole value in the node's dump format.
    pub fn dump(&self, out: &mut Vec<u8>) {
        match self {
            Body::Hash(hash) => hash.dump(out),
            Body::Set(set) => set.dump(out),
            Body::SortedSet(zset) => zset.dump(out),
            Body::List(list) => list.dump(out),
        }
    }

    /// The dump of its contents in a canonical order: equal for equal collections, so replicas
    /// break a tie between two versions of one key the same way.
    pub fn canonical_dump(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            Body::Hash(hash) => hash.canonical_dump(&mut out),
            Body::Set(set) => set.canonical_dump(&mut out),
            Body::SortedSet(zset) => zset.dump(&mut out),
            Body::List(list) => list.dump(&mut out),
        }
        out
    }

    /// The value a dump of `kind` holds; `None` if the dump is malformed.
    pub fn restore(kind: Kind, dump: &[u8]) -> Option<Body> {
        match kind {
            Kind::Hash => Hash::restore(dump).map(Body::Hash),
            Kind::Set => Set::restore(dump).map(Body::Set),
            Kind::SortedSet => ZSet::restore(dump).map(Body::SortedSet),
            Kind::List => List::restore(dump).map(Body::List),
        }
    }
}

/// Bytes charged for a collection beyond its body's own: the `Arc`'s counts and the collection
/// (deadline and weight cells, the lock, the body's inline part) in the allocator's chunk.
fn collection_overhead() -> u64 {
    allocation(16 + size_of::<Collection>())
}

/// Where a collection's kind sits in its weight cell: the weight takes the low 56 bits (64
/// PiB), the kind the top byte, so the kind costs no word of its own.
const KIND_SHIFT: u32 = 56;

fn kind_bits(kind: Kind) -> u64 {
    let code: u64 = match kind {
        Kind::Hash => 0,
        Kind::Set => 1,
        Kind::SortedSet => 2,
        Kind::List => 3,
    };
    code << KIND_SHIFT
}

/// A collection as stored: its deadline, its kind and weight, and its body behind a lock.
///
/// Kept to 56 bytes, so that with the `Arc`'s counts a small collection's header is one
/// 80-byte chunk of glibc's malloc: the lock is parking_lot's (one word, no poison flag; the
/// standard one took 16 bytes with it), and the kind shares the weight's word. It was 72
/// bytes, a 96-byte chunk, before.
#[derive(Debug)]
pub struct Collection {
    deadline: AtomicU64,
    /// The weight, with the kind in the top byte.
    weight: AtomicU64,
    body: RwLock<Body>,
}

impl Collection {
    /// A collection holding `body`, expiring at `deadline`.
    pub fn new(body: Body, deadline: u64) -> Self {
        Self {
            deadline: AtomicU64::new(deadline),
            weight: AtomicU64::new(
                kind_bits(body.kind()) | (collection_overhead() + body.weight()),
            ),
            body: RwLock::new(body),
        }
    }

    /// Its kind (fixed for its life).
    pub fn kind(&self) -> Kind {
        match self.weight.load(Ordering::Relaxed) >> KIND_SHIFT {
            0 => Kind::Hash,
            1 => Kind::Set,
            2 => Kind::SortedSet,
            _ => Kind::List,
        }
    }

    /// The deadline's cell.
    pub fn deadline_cell(&self) -> &AtomicU64 {
        &self.deadline
    }

    /// The bytes it is charged, as of its last change.
    pub fn weight(&self) -> u64 {
        self.weight.load(Ordering::Relaxed) & ((1 << KIND_SHIFT) - 1)
    }

    /// Reads the body.
    pub fn read(&self) -> RwLockReadGuard<'_, Body> {
        self.body.read()
    }

    /// Changes the body: `change` runs under the write lock, and the weight is brought up to
    /// date afterwards.
    pub fn write<T>(&self, change: impl FnOnce(&mut Body) -> T) -> T {
        let mut body = self.body.write();
        let result = change(&mut body);
        let weight = (collection_overhead() + body.weight()).min((1 << KIND_SHIFT) - 1);
        self.weight
            .store(kind_bits(body.kind()) | weight, Ordering::Relaxed);
        result
    }

    /// The whole value in the node's dump format.
    pub fn dump(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.read().dump(&mut out);
        out
    }
}

/// One step of a scan (HSCAN, SSCAN, ZSCAN) over a hashbrown table: `visit` gets about
/// `count` entries from `cursor`, and the cursor to continue from comes back (0 at the end).
/// Entries do not move between buckets unless the table is resized or rehashed, which its
/// owner marks by changing `generation`; a cursor of another generation starts over (entries
/// may then repeat, as SCAN allows, but none present throughout is missed).
pub fn scan_table<T>(
    table: &HashTable<T>,
    generation: u16,
    cursor: u64,
    count: usize,
    visit: &mut dyn FnMut(&T),
) -> u64 {
    let mut bucket = if cursor & 0xffff == u64::from(generation) {
        (cursor >> 16) as usize
    } else {
        0
    };
    let buckets = table.num_buckets();
    // Empty buckets count a tenth of an entry, so a sparse table still moves on.
    let mut budget = count.saturating_mul(10);
    while bucket < buckets && budget > 0 {
        if let Some(entry) = table.get_bucket(bucket) {
            visit(entry);
            budget = budget.saturating_sub(10);
        } else {
            budget -= 1;
        }
        bucket += 1;
    }
    if bucket >= buckets {
        0
    } else {
        ((bucket as u64) << 16) | u64::from(generation)
    }
}

/// Inserts `value` (new, at `hash`) into a table that [`scan_table`] walks, changing
/// `generation` when the insert may move entries between buckets (a full table grows or
/// rehashes).
pub fn insert_scanned<T>(
    table: &mut HashTable<T>,
    generation: &mut u16,
    hash: u64,
    value: T,
    hasher: impl Fn(&T) -> u64,
) {
    if table.len() == table.capacity() {
        *generation = generation.wrapping_add(1);
    }
    table.insert_unique(hash, value, hasher);
}

/// After a removal from a table that [`scan_table`] walks: shrinks it once it is at most a
/// quarter full, changing `generation` (its entries move).
pub fn shrink_scanned<T>(
    table: &mut HashTable<T>,
    generation: &mut u16,
    hasher: impl Fn(&T) -> u64,
) {
    if table.capacity() > 4 * table.len() + 16 {
        *generation = generation.wrapping_add(1);
        table.shrink_to_fit(hasher);
    }
}

/// What the allocator hands out for a request of `len` bytes (glibc: 16-byte chunks with an
/// 8-byte header, 32 bytes at least), so charges follow what memory actually holds.
pub fn allocation(len: usize) -> u64 {
    if len == 0 {
        return 0;
    }
    ((len as u64 + 8 + 15) & !15).max(32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_collection_fits_one_small_chunk() {
        // Arc counts (16) and the collection: a packed hash's whole header in 80 bytes.
        assert!(size_of::<Collection>() <= 56, "{}", size_of::<Collection>());
        assert_eq!(collection_overhead(), 80);
        for kind in [Kind::Hash, Kind::Set, Kind::SortedSet, Kind::List] {
            let body = match kind {
                Kind::Hash => Body::Hash(Hash::default()),
                Kind::Set => Body::Set(Set::default()),
                Kind::SortedSet => Body::SortedSet(ZSet::default()),
                Kind::List => Body::List(List::default()),
            };
            let collection = Collection::new(body, 0);
            assert_eq!(collection.kind(), kind);
            assert_eq!(collection.weight(), 80);
        }
    }
}
