//! Versions on the node: every write leaves its key at a version, so that replicas written by
//! many clients in different orders end up the same.
//!
//! - A **versioned write** (VSET, VDEL, from the client crate) carries its version and applies
//!   only if it is newer than what the key holds ([`supersedes`]); the node's clock observes
//!   it.
//! - A **plain write** (SET, DEL, INCR, EXPIRE, ... from any Redis client) applies as Redis
//!   applies it and is stamped with the node's own clock, which is above every version the
//!   node has seen: a plain write is the newest thing the node knows.
//! - A **delete** leaves a tombstone at its version for `tombstone-ttl` seconds (default 60),
//!   so an older write that arrives late (queued behind a frozen node, say) cannot bring the
//!   key back. Tombstones are charged against `maxmemory` like keys and may be evicted like
//!   them; with `tombstone-ttl 0` deletes leave nothing. Expiry and eviction leave nothing.

use std::sync::atomic::{AtomicU64, Ordering};

use cachering_proto::version::Clock;

use crate::state::NodeState;
use crate::store::{Change, StoreError, Value};
use crate::types::{Body, Kind};

/// How long a delete is remembered: well above the longest a write can wait in a queue or a
/// socket buffer behind it (request timeouts are 250 ms by default, a frozen node's backlog is
/// applied within milliseconds of its return), and short enough that tombstones of a steady
/// stream of deletes hold little memory.
pub const DEFAULT_TOMBSTONE_TTL_SECS: u64 = 60;

/// The node's clock and its tombstone lifetime.
#[derive(Debug)]
pub struct Versions {
    clock: Clock,
    tombstone_ttl_ms: AtomicU64,
}

impl Versions {
    /// A clock at zero and tombstones kept `tombstone_ttl_secs`.
    pub fn new(tombstone_ttl_secs: u64) -> Self {
        Self {
            clock: Clock::new(),
            tombstone_ttl_ms: AtomicU64::new(tombstone_ttl_secs.saturating_mul(1000)),
        }
    }

    /// A version for a plain write at `now`: above everything this node has seen.
    pub fn stamp(&self, now: u64) -> u64 {
        self.clock.next(now)
    }

    /// Records a version a client sent.
    pub fn observe(&self, version: u64) {
        self.clock.observe(version);
    }

    /// How long tombstones live, in milliseconds (0: deletes leave nothing).
    pub fn tombstone_ttl_ms(&self) -> u64 {
        self.tombstone_ttl_ms.load(Ordering::Relaxed)
    }

    /// Changes how long new tombstones live.
    pub fn set_tombstone_ttl_secs(&self, secs: u64) {
        self.tombstone_ttl_ms
            .store(secs.saturating_mul(1000), Ordering::Relaxed);
    }

    /// What a delete at `version` leaves behind at `now`.
    pub fn deleted(&self, version: u64, now: u64) -> Change {
        match self.tombstone_ttl_ms() {
            0 => Change::Remove,
            ttl => Change::Put(Value::tombstone(version, now + ttl)),
        }
    }
}

/// How a write's version is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stamping {
    /// A plain write: the node's clock, above every version it has seen.
    Clock,
    /// A replayed write (VAPPLY with an expected version): applies only if the key's last write
    /// is `expected` (VVER's signed form), stamped `version`.
    Replay {
        /// The key's version the write must find.
        expected: i64,
        /// The version it is stamped with.
        version: u64,
    },
    /// A client's mutation (VAPPLY `*`): stamped `version`, the client's clock when it issued
    /// it, or just above the key's own version if that is higher. A mutation that waited in a
    /// frozen node's socket and runs late is then stamped as old as it is, not as new as the
    /// thaw, so it cannot win over writes made meanwhile on the other replicas.
    Floor {
        /// The client's version.
        version: u64,
    },
}

/// The signed version of an entry, as VVER tells it: its version, negative for a tombstone, 0
/// for none.
pub fn signed_version(entry: Option<&Value>) -> i64 {
    match entry {
        None => 0,
        Some(entry) if entry.is_tombstone() => -(entry.version() as i64),
        Some(entry) => entry.version() as i64,
    }
}

/// What a versioned write brings: a string's bytes, or a collection's dump and kind.
#[derive(Debug, Clone, Copy)]
pub struct Payload<'a> {
    /// `None` for a string.
    pub kind: Option<Kind>,
    /// The string's bytes or the collection's dump.
    pub bytes: &'a [u8],
}

impl<'a> Payload<'a> {
    /// A string's bytes.
    pub fn string(bytes: &'a [u8]) -> Self {
        Self { kind: None, bytes }
    }
}

/// Whether a write at `version` of `incoming` (`None`: a delete) supersedes the key's entry
/// `current` (a value, a tombstone, or nothing). The order is total, so every replica keeps
/// the same one of two writes whatever order they arrive in: the higher version wins; at equal
/// versions (two clients issued the same one) a value beats a delete, a collection beats a
/// string, and of two values of one type the greater bytes (or dump) win.
pub fn supersedes(version: u64, incoming: Option<Payload<'_>>, current: Option<&Value>) -> bool {
    let Some(current) = current else {
        return true;
    };
    match version.cmp(&current.version()) {
        std::cmp::Ordering::Greater => true,
        std::cmp::Ordering::Less => false,
        std::cmp::Ordering::Equal => match (incoming, current.is_tombstone()) {
            (None, _) => false,
            (Some(_), true) => true,
            (Some(incoming), false) => {
                let rank = |kind: Option<Kind>| kind.map(Kind::name);
                let (mine, theirs) = (rank(incoming.kind), rank(current.kind()));
                if mine != theirs {
                    return mine > theirs;
                }
                match (current.as_collection(), incoming.kind) {
                    (Some(collection), Some(kind)) => {
                        // Dumps list a table in an order its history decides: compared in a
                        // canonical order, so every replica picks the same winner.
                        let Some(incoming) = Body::restore(kind, incoming.bytes) else {
                            return false;
                        };
                        incoming.canonical_dump() > collection.read().canonical_dump()
                    }
                    _ => incoming.bytes > current.string().unwrap_or_default(),
                }
            }
        },
    }
}

impl NodeState {
    /// A command's write of `key`: `decide` sees the live value (a tombstone reads as
    /// nothing), what it puts is stamped as `stamping` says (see [`Stamping`]: the node's clock
    /// for a plain write), and a delete of a live key leaves a tombstone. False when a replay
    /// found the key at another version and left it.
    pub fn write(
        &self,
        key: &[u8],
        now: u64,
        stamping: Stamping,
        writer: Option<u64>,
        decide: &mut dyn FnMut(Option<&Value>) -> Change,
    ) -> Result<bool, StoreError> {
        let clock = match stamping {
            Stamping::Clock => self.versions.stamp(now),
            Stamping::Replay { version, .. } | Stamping::Floor { version } => {
                self.versions.observe(version);
                version
            }
        };
        let mut matched = true;
        let mut changed = false;
        let written = self.store.update(key, now, &mut |current| {
            changed = false;
            let stamp = match stamping {
                Stamping::Replay { expected, .. } => {
                    matched = signed_version(current) == expected;
                    if !matched {
                        return Change::Keep;
                    }
                    clock
                }
                // Above the key's own version, so writes to it still follow each other.
                Stamping::Floor { version } => {
                    version.max(current.map_or(0, |value| value.version() + 1))
                }
                Stamping::Clock => clock,
            };
            let live = current.filter(|value| !value.is_tombstone());
            let change = match decide(live) {
                Change::Keep => Change::Keep,
                Change::Put(value) => Change::Put(value.with_version(stamp)),
                Change::Expire { deadline, .. } => Change::Expire {
                    deadline,
                    version: stamp,
                },
                Change::Remove if live.is_some() => self.versions.deleted(stamp, now),
                Change::Remove => Change::Keep,
            };
            changed = !matches!(change, Change::Keep);
            change
        });
        if changed && written.is_ok() {
            self.key_changed(key, writer);
        }
        written?;
        Ok(matched)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_order_of_writes_is_total() {
        let value = |bytes: &[u8], version| Value::versioned(bytes, 0, version);
        let tomb = |version| Value::tombstone(version, 0);
        assert!(supersedes(5, Some(Payload::string(b"a")), None));
        assert!(supersedes(5, None, None));
        assert!(supersedes(
            6,
            Some(Payload::string(b"a")),
            Some(&value(b"z", 5))
        ));
        assert!(!supersedes(
            4,
            Some(Payload::string(b"z")),
            Some(&value(b"a", 5))
        ));
        assert!(supersedes(6, None, Some(&value(b"a", 5))));
        assert!(
            !supersedes(5, None, Some(&value(b"a", 5))),
            "a value beats a delete at the same version"
        );
        assert!(supersedes(5, Some(Payload::string(b"a")), Some(&tomb(5))));
        assert!(!supersedes(5, None, Some(&tomb(5))));
        assert!(
            supersedes(5, Some(Payload::string(b"b")), Some(&value(b"a", 5))),
            "greater bytes win a tie"
        );
        assert!(!supersedes(
            5,
            Some(Payload::string(b"a")),
            Some(&value(b"b", 5))
        ));
        assert!(
            !supersedes(5, Some(Payload::string(b"a")), Some(&value(b"a", 5))),
            "the same write twice is a no-op"
        );
        assert!(
            !supersedes(4, Some(Payload::string(b"a")), Some(&tomb(5))),
            "an older write stays deleted"
        );
    }

    #[test]
    fn a_tie_between_two_collections_is_broken_alike_everywhere() {
        use crate::types::{Hash, Kind};
        // Tables of equal contents built in different orders, and one that differs.
        let table = |fields: &mut dyn Iterator<Item = u32>, extra: Option<&[u8]>| {
            let mut hash = Hash::new();
            for i in fields {
                hash.set(format!("field:{i}").as_bytes(), b"v");
            }
            if let Some(extra) = extra {
                hash.set(b"extra", extra);
            }
            Value::collection(Body::Hash(hash), 0).with_version(7)
        };
        let a = table(&mut (0..300), None);
        let b = table(&mut (0..300).rev(), None);
        let c = table(&mut (0..300), Some(b"x"));
        let dump = |value: &Value| value.as_collection().unwrap().dump();
        fn payload(bytes: &[u8]) -> Payload<'_> {
            Payload {
                kind: Some(Kind::Hash),
                bytes,
            }
        }
        let (dump_a, dump_b, dump_c) = (dump(&a), dump(&b), dump(&c));
        assert!(
            !supersedes(7, Some(payload(&dump_a)), Some(&b)),
            "equal contents"
        );
        assert!(
            !supersedes(7, Some(payload(&dump_b)), Some(&a)),
            "equal contents"
        );
        // Of two different collections exactly one wins, whichever replica holds which.
        assert_ne!(
            supersedes(7, Some(payload(&dump_c)), Some(&b)),
            supersedes(7, Some(payload(&dump_b)), Some(&c))
        );
        assert_eq!(
            supersedes(7, Some(payload(&dump_c)), Some(&a)),
            supersedes(7, Some(payload(&dump_c)), Some(&b))
        );
    }

    #[test]
    fn any_arrival_order_ends_in_the_same_entry() {
        // Every permutation of four writes to one key, applied by the rule, leaves the same
        // entry: the replicas that see them in different orders converge.
        let writes: [(u64, Option<&[u8]>); 4] = [
            (10, Some(b"x")),
            (12, None),
            (11, Some(b"y")),
            (12, Some(b"z")),
        ];
        let mut results = std::collections::HashSet::new();
        let mut order = [0, 1, 2, 3];
        permute(&mut order, 0, &mut |order| {
            let mut entry: Option<Value> = None;
            for &i in order {
                let (version, bytes) = writes[i];
                if supersedes(version, bytes.map(Payload::string), entry.as_ref()) {
                    entry = Some(match bytes {
                        Some(bytes) => Value::versioned(bytes, 0, version),
                        None => Value::tombstone(version, 0),
                    });
                }
            }
            let entry = entry.unwrap();
            results.insert((
                entry.version(),
                entry.is_tombstone(),
                entry.string().unwrap_or_default().to_vec(),
            ));
        });
        assert_eq!(results.len(), 1, "{results:?}");
        assert!(results.contains(&(12, false, b"z".to_vec())));
    }

    fn permute(items: &mut [usize; 4], start: usize, visit: &mut dyn FnMut(&[usize; 4])) {
        if start == items.len() {
            return visit(items);
        }
        for i in start..items.len() {
            items.swap(start, i);
            permute(items, start + 1, visit);
            items.swap(start, i);
        }
    }
}
