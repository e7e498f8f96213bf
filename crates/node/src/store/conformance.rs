//! The engine-level suite: every test runs against every engine.

use std::collections::HashSet;

use super::*;

// moka's timers run on the real clock, so the suite's "now" is real and its deadlines are far
// enough away (a minute) that no timer fires during a test.
static START: std::sync::LazyLock<u64> = std::sync::LazyLock::new(crate::clock::now_ms);
const MINUTE: u64 = 60_000;

fn now() -> u64 {
    *START
}

fn engines(limit: u64) -> Vec<Arc<dyn Store>> {
    vec![
        build(StoreKind::Quick, limit),
        build(StoreKind::Moka, limit),
        build(StoreKind::Compact, limit),
    ]
}

fn put(store: &dyn Store, key: &str, value: &str, deadline: u64) {
    store
        .set(key.as_bytes(), Value::new(value.as_bytes(), deadline))
        .unwrap();
}

fn read(store: &dyn Store, key: &str, now: u64) -> Option<String> {
    store
        .get(key.as_bytes(), now)
        .map(|v| String::from_utf8(v.string().unwrap().to_vec()).unwrap())
}

#[test]
fn set_then_get_and_remove() {
    for store in engines(64 << 20) {
        let store = &*store;
        put(store, "k", "v", NO_DEADLINE);
        assert_eq!(
            read(store, "k", now()).as_deref(),
            Some("v"),
            "{:?}",
            store.kind()
        );
        assert_eq!(store.len(), 1);
        assert!(store.remove(b"k", now()));
        assert!(!store.remove(b"k", now()));
        assert_eq!(read(store, "k", now()), None);
        assert_eq!(store.len(), 0);
    }
}

#[test]
fn an_expired_key_is_never_returned() {
    for store in engines(64 << 20) {
        let store = &*store;
        put(store, "k", "v", now() + MINUTE);
        assert_eq!(read(store, "k", now() + MINUTE - 1).as_deref(), Some("v"));
        assert_eq!(read(store, "k", now() + MINUTE), None, "{:?}", store.kind());
        let mut seen = None;
        store
            .update(b"k", now() + MINUTE, &mut |current| {
                seen = Some(current.is_some());
                Change::Keep
            })
            .unwrap();
        assert_eq!(seen, Some(false));
        assert!(!store.remove(b"k", now() + MINUTE + 1));
    }
}

#[test]
fn update_is_atomic_under_concurrency() {
    for store in engines(64 << 20) {
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let store = Arc::clone(&store);
                std::thread::spawn(move || {
                    for _ in 0..2000 {
                        store
                            .update(b"counter", now(), &mut |current| {
                                let n: u64 = current.map_or(0, |v| {
                                    std::str::from_utf8(v.string().unwrap())
                                        .unwrap()
                                        .parse()
                                        .unwrap()
                                });
                                Change::Put(Value::new((n + 1).to_string().as_bytes(), NO_DEADLINE))
                            })
                            .unwrap();
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        assert_eq!(
            read(&*store, "counter", now()).as_deref(),
            Some("8000"),
            "{:?}",
            store.kind()
        );
    }
}

#[test]
fn expire_changes_the_deadline_and_counts() {
    for store in engines(64 << 20) {
        let store = &*store;
        put(store, "k", "v", NO_DEADLINE);
        store
            .update(b"k", now(), &mut |_| Change::expire(now() + MINUTE))
            .unwrap();
        assert_eq!(store.get(b"k", now()).unwrap().deadline(), now() + MINUTE);
        assert_eq!(store.stats().keys_with_deadline, 1, "{:?}", store.kind());
        store
            .update(b"k", now(), &mut |_| Change::expire(NO_DEADLINE))
            .unwrap();
        assert_eq!(store.stats().keys_with_deadline, 0, "{:?}", store.kind());
        assert_eq!(read(store, "k", now() + 10 * MINUTE).as_deref(), Some("v"));
    }
}

#[test]
fn the_sweep_reclaims_expired_keys() {
    // moka expires by its own timers; the others by this sweep.
    for kind in [StoreKind::Quick, StoreKind::Compact] {
        sweep_reclaims_expired_keys(&*build(kind, 64 << 20));
    }
}

fn sweep_reclaims_expired_keys(store: &dyn Store) {
    for i in 0..1000 {
        put(
            store,
            &format!("k{i}"),
            "v",
            if i % 2 == 0 {
                now() + MINUTE
            } else {
                NO_DEADLINE
            },
        );
    }
    let mut total = 0;
    for _ in 0..20 {
        total += store.sweep_expired(now() + MINUTE + 1, 100).expired;
    }
    assert_eq!(total, 500, "{:?}", store.kind());
    assert_eq!(store.len(), 500);
    assert_eq!(store.stats().expired_keys, 500);
    assert_eq!(store.stats().keys_with_deadline, 0);
}

#[test]
fn writes_are_kept_and_memory_stays_under_the_limit() {
    let limit = 4 << 20;
    for store in engines(limit) {
        let value = vec![b'x'; 100];
        for i in 0..200_000u32 {
            store
                .set(
                    format!("key:{i}").as_bytes(),
                    Value::new(&value, NO_DEADLINE),
                )
                .unwrap();
            // A new key is kept, even into a full cache of older keys.
            assert!(
                store.get(format!("key:{i}").as_bytes(), now()).is_some(),
                "{:?} dropped key {i}",
                store.kind()
            );
        }
        let stats = store.stats();
        assert!(
            stats.used_bytes <= limit,
            "{:?}: {} > {}",
            store.kind(),
            stats.used_bytes,
            limit
        );
        assert!(stats.evicted_keys > 0);
        assert!(
            stats.keys > 10_000 && stats.keys < 200_000,
            "{:?}: {}",
            store.kind(),
            stats.keys
        );
    }
}

#[test]
fn an_entry_larger_than_the_store_is_refused() {
    for store in engines(1 << 20) {
        let huge = vec![0u8; 2 << 20];
        let err = store
            .set(b"big", Value::new(&huge, NO_DEADLINE))
            .unwrap_err();
        assert!(
            matches!(err, StoreError::TooLarge { .. }),
            "{:?}",
            store.kind()
        );
        assert_eq!(
            store.get(b"big", now()).map(|v| v.string().unwrap().len()),
            None
        );
    }
}

#[test]
fn scan_returns_every_key_present_throughout() {
    for store in engines(64 << 20) {
        for i in 0..5000 {
            put(&*store, &format!("k{i}"), "v", NO_DEADLINE);
        }
        let mut seen = HashSet::new();
        let mut cursor = 0;
        let mut round = 0;
        loop {
            cursor = store.scan(cursor, 100, now(), &mut |key| {
                seen.insert(key.to_vec());
            });
            // Churn while the scan runs: add and delete other keys.
            round += 1;
            put(&*store, &format!("new{round}"), "v", NO_DEADLINE);
            store.remove(format!("new{}", round - 1).as_bytes(), now());
            if cursor == 0 {
                break;
            }
        }
        for i in 0..5000 {
            assert!(
                seen.contains(format!("k{i}").as_bytes()),
                "{:?} missed k{i}",
                store.kind()
            );
        }
    }
}

#[test]
fn random_key_and_clear() {
    for store in engines(64 << 20) {
        assert_eq!(store.random_key(now()), None);
        put(&*store, "a", "1", NO_DEADLINE);
        put(&*store, "b", "2", NO_DEADLINE);
        let key = store.random_key(now()).unwrap();
        assert!(key == b"a" || key == b"b");
        store.clear();
        assert_eq!(store.len(), 0, "{:?}", store.kind());
        assert_eq!(store.random_key(now()), None);
    }
}

#[test]
fn set_limit_shrinks_the_store() {
    for kind in [StoreKind::Quick, StoreKind::Compact] {
        let store = build(kind, 64 << 20);
        for i in 0..10_000 {
            put(&*store, &format!("k{i}"), "value", NO_DEADLINE);
        }
        store.set_limit(256 << 10).unwrap();
        let stats = store.stats();
        assert!(
            stats.used_bytes <= 256 << 10,
            "{kind:?}: {}",
            stats.used_bytes
        );
        assert!(
            stats.keys > 0 && stats.keys < 10_000,
            "{kind:?}: {}",
            stats.keys
        );
        assert_eq!(stats.evicted_keys, 10_000 - stats.keys, "{kind:?}");
    }
    assert!(build(StoreKind::Moka, 1 << 20).set_limit(2 << 20).is_err());
}

#[test]
fn overwriting_keys_in_every_shard_does_not_deadlock() {
    // Regression: a write that replaced a value in the shard holding the engine's capacity
    // figure took that shard's lock twice.
    for store in engines(64 << 20) {
        for i in 0..2000 {
            put(&*store, &format!("k{i}"), "a", NO_DEADLINE);
            put(&*store, &format!("k{i}"), "b", NO_DEADLINE);
        }
        assert_eq!(read(&*store, "k1999", now()).as_deref(), Some("b"));
    }
}

#[test]
fn tombstones_are_kept_out_of_every_read_and_counted_apart() {
    for store in engines(64 << 20) {
        let store = &*store;
        put(store, "live", "v", NO_DEADLINE);
        store
            .set(b"gone", Value::tombstone(7, now() + MINUTE))
            .unwrap();
        assert!(store.get(b"gone", now()).is_none(), "{:?}", store.kind());
        let entry = store.entry(b"gone", now()).unwrap();
        assert!(entry.is_tombstone() && entry.version() == 7);
        assert_eq!(store.len(), 1, "DBSIZE counts keys, not tombstones");
        let stats = store.stats();
        assert_eq!((stats.keys, stats.tombstones), (1, 1));
        assert_eq!(
            stats.keys_with_deadline, 0,
            "a tombstone's deadline is not a key's TTL"
        );
        let mut seen = Vec::new();
        let mut cursor = 0;
        loop {
            cursor = store.scan(cursor, 10, now(), &mut |key| seen.push(key.to_vec()));
            if cursor == 0 {
                break;
            }
        }
        assert_eq!(seen, vec![b"live".to_vec()]);
        for _ in 0..20 {
            assert_eq!(store.random_key(now()).as_deref(), Some(&b"live"[..]));
        }
        // A tombstone ends at its deadline like any entry.
        assert!(store.entry(b"gone", now() + MINUTE).is_none());
        // Replacing it with a value counts the value and forgets the tombstone.
        store
            .set(b"gone", Value::versioned(b"back", NO_DEADLINE, 9))
            .unwrap();
        let stats = store.stats();
        assert_eq!((stats.keys, stats.tombstones), (2, 0), "{:?}", store.kind());
        assert_eq!(store.get(b"gone", now()).unwrap().version(), 9);
    }
}

#[test]
fn expire_sets_the_version_with_the_deadline() {
    for store in engines(64 << 20) {
        let store = &*store;
        store
            .set(b"k", Value::versioned(b"v", NO_DEADLINE, 3))
            .unwrap();
        store
            .update(b"k", now(), &mut |_| Change::Expire {
                deadline: now() + MINUTE,
                version: 4,
            })
            .unwrap();
        let value = store.get(b"k", now()).unwrap();
        assert_eq!((value.version(), value.deadline()), (4, now() + MINUTE));
        assert_eq!(value.string(), Some(&b"v"[..]));
    }
}
