//! How one key and one value are held in memory, shared by both engines.
//!
//! A string's bytes are one allocation: a reference count, the expiry deadline, the length and
//! the bytes (`triomphe::ThinArc`), behind an 8-byte pointer. Engines hand out clones on reads,
//! and a clone is a reference-count increment, never a copy of the bytes. The deadline is atomic
//! so that `EXPIRE` and `PERSIST` change it in place without copying the value.
//!
//! A collection (hash, set, sorted set, list) is an `Arc<Collection>` instead, in the same
//! 8 bytes: the pointer is a union of the two, and a bit of the version word says which it is,
//! so a value costs no more than before collections existed.
//!
//! Beside the pointer each entry keeps its *version* (8 bytes in the cache's entry, not in the
//! allocation: 56 bytes of header and data fit one 64-byte malloc chunk, 64 would take 80). A
//! version orders writes to a key across clients (`crate::versions`); its top bit marks a
//! *tombstone*: a deleted key remembered, with no bytes, until its deadline, so that an older
//! write arriving late cannot bring the key back; the next bit marks a collection (clocks never
//! issue versions with either bit set).

use std::borrow::Borrow;
use std::hash::{Hash, Hasher};
use std::mem::ManuallyDrop;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use ref_cast::RefCast;
use triomphe::ThinArc;

use crate::types::{Body, Collection, Kind};

/// "No expiry", as a deadline.
pub const NO_DEADLINE: u64 = 0;

/// The bit of a version that marks a tombstone.
const TOMBSTONE: u64 = 1 << 63;
/// The bit of a version that marks a collection.
const COLLECTION: u64 = 1 << 62;
/// The bits of a version word that are marks, not the version.
const MARKS: u64 = TOMBSTONE | COLLECTION;

/// A string's bytes or a collection; which one is told by the [`COLLECTION`] bit of the
/// value's version word, which never changes after the value is built.
union Payload {
    string: ManuallyDrop<ThinArc<AtomicU64, u8>>,
    collection: ManuallyDrop<Arc<Collection>>,
}

/// A stored value: a string (bytes) or a collection, an expiry deadline in Unix milliseconds
/// ([`NO_DEADLINE`] for none), and a version (0 until the node stamps it); or a tombstone.
pub struct Value {
    payload: Payload,
    version: u64,
}

impl Clone for Value {
    fn clone(&self) -> Self {
        let payload = match self.as_collection() {
            Some(collection) => Payload {
                collection: ManuallyDrop::new(Arc::clone(collection)),
            },
            None => Payload {
                string: ManuallyDrop::new(ThinArc::clone(self.thin())),
            },
        };
        Self {
            payload,
            version: self.version,
        }
    }
}

impl Drop for Value {
    #[allow(unsafe_code)]
    fn drop(&mut self) {
        // SAFETY: the COLLECTION bit is set exactly when the payload was built from an
        // `Arc<Collection>` (it is fixed at construction: `set_version` keeps the marks), and
        // each field is dropped once, here.
        unsafe {
            if self.version & COLLECTION != 0 {
                ManuallyDrop::drop(&mut self.payload.collection);
            } else {
                ManuallyDrop::drop(&mut self.payload.string);
            }
        }
    }
}

impl Value {
    /// A string value holding a copy of `data`, not yet versioned.
    pub fn new(data: &[u8], deadline: u64) -> Self {
        Self {
            payload: Payload {
                string: ManuallyDrop::new(ThinArc::from_header_and_slice(
                    AtomicU64::new(deadline),
                    data,
                )),
            },
            version: 0,
        }
    }

    /// A string value with its version.
    pub fn versioned(data: &[u8], deadline: u64, version: u64) -> Self {
        Self::new(data, deadline).with_version(version)
    }

    /// A collection value holding `body`, not yet versioned.
    pub fn collection(body: Body, deadline: u64) -> Self {
        Self {
            payload: Payload {
                collection: ManuallyDrop::new(Arc::new(Collection::new(body, deadline))),
            },
            version: COLLECTION,
        }
    }

    /// A tombstone: the key was deleted at `version`; it is forgotten at `deadline`.
    pub fn tombstone(version: u64, deadline: u64) -> Self {
        let mut value = Self::new(&[], deadline);
        value.version = (version & !MARKS) | TOMBSTONE;
        value
    }

    /// The same value (the same bytes or collection, shared) at another version.
    pub fn with_version(mut self, version: u64) -> Self {
        self.set_version(version);
        self
    }

    /// Changes the version, keeping the tombstone and collection marks.
    pub fn set_version(&mut self, version: u64) {
        self.version = (version & !MARKS) | (self.version & MARKS);
    }

    /// A value of its own with the same contents and `deadline`: a string's bytes are copied,
    /// a collection is copied whole (a collection shared by two keys would change under both).
    pub fn duplicate(&self, deadline: u64) -> Value {
        let mut copy = match self.as_collection() {
            Some(collection) => Value::collection(collection.read().clone(), deadline),
            None => Value::new(self.thin().slice.as_ref(), deadline),
        };
        copy.version = (self.version & !COLLECTION) | (copy.version & COLLECTION);
        copy
    }

    #[allow(unsafe_code)]
    fn thin(&self) -> &ThinArc<AtomicU64, u8> {
        debug_assert!(self.version & COLLECTION == 0);
        // SAFETY: called only when the COLLECTION bit is clear, so the payload is a string.
        unsafe { &self.payload.string }
    }

    /// The collection, if this value is one.
    #[allow(unsafe_code)]
    pub fn as_collection(&self) -> Option<&Arc<Collection>> {
        if self.version & COLLECTION == 0 {
            return None;
        }
        // SAFETY: the COLLECTION bit is set, so the payload is a collection.
        Some(unsafe { &self.payload.collection })
    }

    /// The string's bytes, or `None` for a collection (a tombstone has no bytes).
    pub fn string(&self) -> Option<&[u8]> {
        match self.as_collection() {
            Some(_) => None,
            None => Some(&self.thin().slice),
        }
    }

    /// What kind of value this is; `None` for a string.
    pub fn kind(&self) -> Option<Kind> {
        self.as_collection().map(|collection| collection.kind())
    }

    /// Redis's name for the value's type: `string`, `hash`, ...
    pub fn type_name(&self) -> &'static str {
        self.kind().map_or("string", Kind::name)
    }

    /// The bytes the value holds, as charged to the byte budget (its own allocations' overhead
    /// included for a collection).
    pub fn size(&self) -> u64 {
        match self.as_collection() {
            Some(collection) => collection.weight(),
            None => self.thin().slice.len() as u64,
        }
    }

    /// The version, 0 if never stamped.
    pub fn version(&self) -> u64 {
        self.version & !MARKS
    }

    /// Whether this is a tombstone rather than a value.
    pub fn is_tombstone(&self) -> bool {
        self.version & TOMBSTONE != 0
    }

    fn deadline_cell(&self) -> &AtomicU64 {
        match self.as_collection() {
            Some(collection) => collection.deadline_cell(),
            None => &self.thin().header.header,
        }
    }

    /// The deadline in Unix milliseconds, or [`NO_DEADLINE`].
    pub fn deadline(&self) -> u64 {
        self.deadline_cell().load(Ordering::Relaxed)
    }

    /// Changes the deadline in place (every clone sees it).
    pub fn set_deadline(&self, deadline: u64) {
        self.deadline_cell().store(deadline, Ordering::Relaxed);
    }

    /// Whether the entry is expired at `now` (Unix milliseconds).
    pub fn is_expired(&self, now: u64) -> bool {
        is_expired(self.deadline(), now)
    }

    /// Whether a read at `now` sees this entry: not expired, not a tombstone.
    pub fn is_live(&self, now: u64) -> bool {
        !self.is_tombstone() && !self.is_expired(now)
    }
}

impl std::fmt::Debug for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Value")
            .field("type", &self.type_name())
            .field("size", &self.size())
            .field("deadline", &self.deadline())
            .field("version", &self.version())
            .field("tombstone", &self.is_tombstone())
            .finish()
    }
}

/// Whether `deadline` has passed at `now`. Redis keeps a key until its deadline is strictly in
/// the past, so a key with deadline `now` is already gone.
pub fn is_expired(deadline: u64, now: u64) -> bool {
    deadline != NO_DEADLINE && deadline <= now
}

/// Keys up to this many bytes are stored inline, without an allocation of their own.
pub const INLINE_KEY_BYTES: usize = 16;

/// An owned key. Hashes its bytes exactly (no length prefix) so that a borrowed [`KeyRef`]
/// hashes the same way.
///
/// A key of up to 16 bytes lives inline in the cache's entry (24 bytes instead of a 16-byte
/// boxed slice pointing at a 32-byte allocation): 24 bytes less per entry for short keys,
/// measured as the difference between 155 and 131 bytes per key for 1M keys of 16 + 32 bytes;
/// longer keys cost 8 bytes more than a boxed slice.
#[derive(Clone, PartialEq, Eq)]
pub struct StoreKey(smallvec::SmallVec<[u8; INLINE_KEY_BYTES]>);

impl StoreKey {
    /// A key holding a copy of `bytes`.
    pub fn new(bytes: &[u8]) -> Self {
        Self(smallvec::SmallVec::from_slice(bytes))
    }

    /// The key's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl Hash for StoreKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write(&self.0);
    }
}

/// A borrowed key, for looking up a [`StoreKey`] without allocating.
#[derive(RefCast, PartialEq, Eq)]
#[repr(transparent)]
pub struct KeyRef([u8]);

impl KeyRef {
    /// Views `bytes` as a key.
    pub fn new(bytes: &[u8]) -> &Self {
        Self::ref_cast(bytes)
    }
}

impl Hash for KeyRef {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write(&self.0);
    }
}

impl Borrow<KeyRef> for StoreKey {
    fn borrow(&self) -> &KeyRef {
        KeyRef::new(&self.0)
    }
}

impl ToOwned for KeyRef {
    type Owned = StoreKey;
    fn to_owned(&self) -> StoreKey {
        StoreKey::new(&self.0)
    }
}
