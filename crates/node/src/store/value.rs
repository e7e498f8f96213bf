//! How one key and one value are held in memory, shared by both engines.
//!
//! A value's bytes are one allocation: a reference count, the expiry deadline, the length and
//! the bytes (`triomphe::ThinArc`), behind an 8-byte pointer. Engines hand out clones on reads,
//! and a clone is a reference-count increment, never a copy of the bytes. The deadline is atomic
//! so that `EXPIRE` and `PERSIST` change it in place without copying the value.
//!
//! Beside the pointer each entry keeps its *version* (8 bytes in the cache's entry, not in the
//! allocation: 56 bytes of header and data fit one 64-byte malloc chunk, 64 would take 80). A
//! version orders writes to a key across clients (`crate::versions`); its top bit marks a
//! *tombstone*: a deleted key remembered, with no bytes, until its deadline, so that an older
//! write arriving late cannot bring the key back.

use std::borrow::Borrow;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

use ref_cast::RefCast;
use triomphe::ThinArc;

/// "No expiry", as a deadline.
pub const NO_DEADLINE: u64 = 0;

/// The bit of a version that marks a tombstone.
const TOMBSTONE: u64 = 1 << 63;

/// A stored value: bytes, an expiry deadline in Unix milliseconds ([`NO_DEADLINE`] for none),
/// and a version (0 until the node stamps it); or a tombstone.
#[derive(Clone)]
pub struct Value {
    bytes: ThinArc<AtomicU64, u8>,
    version: u64,
}

impl Value {
    /// A value holding a copy of `data`, not yet versioned.
    pub fn new(data: &[u8], deadline: u64) -> Self {
        Self {
            bytes: ThinArc::from_header_and_slice(AtomicU64::new(deadline), data),
            version: 0,
        }
    }

    /// A value with its version.
    pub fn versioned(data: &[u8], deadline: u64, version: u64) -> Self {
        Self::new(data, deadline).with_version(version)
    }

    /// A tombstone: the key was deleted at `version`; it is forgotten at `deadline`.
    pub fn tombstone(version: u64, deadline: u64) -> Self {
        Self {
            bytes: ThinArc::from_header_and_slice(AtomicU64::new(deadline), &[]),
            version: (version & !TOMBSTONE) | TOMBSTONE,
        }
    }

    /// The same value (the same bytes, shared) at another version.
    pub fn with_version(mut self, version: u64) -> Self {
        self.set_version(version);
        self
    }

    /// Changes the version, keeping the tombstone mark.
    pub fn set_version(&mut self, version: u64) {
        self.version = (version & !TOMBSTONE) | (self.version & TOMBSTONE);
    }

    /// The bytes (empty for a tombstone).
    pub fn data(&self) -> &[u8] {
        &self.bytes.slice
    }

    /// The version, 0 if never stamped.
    pub fn version(&self) -> u64 {
        self.version & !TOMBSTONE
    }

    /// Whether this is a tombstone rather than a value.
    pub fn is_tombstone(&self) -> bool {
        self.version & TOMBSTONE != 0
    }

    /// The deadline in Unix milliseconds, or [`NO_DEADLINE`].
    pub fn deadline(&self) -> u64 {
        self.bytes.header.header.load(Ordering::Relaxed)
    }

    /// Changes the deadline in place (every clone sees it).
    pub fn set_deadline(&self, deadline: u64) {
        self.bytes.header.header.store(deadline, Ordering::Relaxed);
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
            .field("len", &self.data().len())
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
