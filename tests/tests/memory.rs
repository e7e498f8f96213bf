//! Memory bounds of a node process: a write flood at several times `maxmemory` keeps the
//! process near its limit with either engine, and expired keys are reclaimed without being read.

use std::time::{Duration, Instant};

use cachering_tests::{encode, NodeProcess};

/// Sends `count` SETs of `value_len`-byte values in pipelined batches, reading every reply.
fn flood(node: &NodeProcess, prefix: &str, count: usize, value_len: usize, extra: &[&[u8]]) {
    let mut client = node.client();
    let value = vec![b'v'; value_len];
    for start in (0..count).step_by(1000) {
        let mut batch = Vec::new();
        let end = (start + 1000).min(count);
        for i in start..end {
            let key = format!("{prefix}:{i}");
            let mut args: Vec<&[u8]> = vec![b"SET", key.as_bytes(), &value];
            args.extend_from_slice(extra);
            batch.extend(encode(&args));
        }
        client.send_raw(&batch);
        for _ in start..end {
            assert_eq!(client.read_reply().as_deref(), Some("+OK\r\n"));
        }
    }
}

fn info_field(node: &NodeProcess, field: &str) -> u64 {
    let info = node.client().call(&["INFO"]);
    info.lines()
        .find_map(|line| line.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("INFO has no {field}"))
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn a_write_flood_stays_near_maxmemory_with_both_engines() {
    const LIMIT: u64 = 16 * 1024 * 1024;
    for engine in ["quick", "moka"] {
        let node = NodeProcess::start(&["--store", engine, "--maxmemory", "16mb"]);
        let before = node.rss_bytes();
        // About 6x the limit: 400k entries of 100-byte values with 16-byte keys.
        flood(&node, "flood", 400_000, 100, &[]);
        let used = info_field(&node, "used_memory");
        let evicted = info_field(&node, "evicted_keys");
        let grown = node.rss_bytes().saturating_sub(before);
        assert!(used <= LIMIT, "{engine}: used_memory {used} over the limit");
        assert!(evicted > 100_000, "{engine}: only {evicted} evictions");
        // The budget charges a per-entry overhead, so the process tracks the limit: allow for
        // allocator slack and connection buffers, not for uncounted bookkeeping.
        assert!(
            grown < LIMIT * 2,
            "{engine}: process grew {grown} bytes for a {LIMIT}-byte limit"
        );
        // The newest keys are there: a SET is always kept.
        assert_eq!(
            node.client().call(&["EXISTS", "flood:399999"]),
            ":1\r\n",
            "{engine}"
        );
    }
}

#[test]
fn expired_keys_are_reclaimed_without_being_read() {
    for engine in ["quick", "moka"] {
        let node = NodeProcess::start(&["--store", engine]);
        flood(&node, "short", 20_000, 32, &[b"PX", b"200"]);
        flood(&node, "long", 1_000, 32, &[]);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let keys = node.client().call(&["DBSIZE"]);
            if keys == ":1000\r\n" {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{engine}: expired keys still held: {keys}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        assert!(info_field(&node, "expired_keys") >= 20_000, "{engine}");
    }
}
