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

/// Hashes are charged for every field: a node with a 2 MiB limit fed 8 MiB of hashes stays
/// within it by evicting whole hashes (every hash left has all its fields), with both engines;
/// a field that would push one hash past the largest entry is refused with OOM and changes
/// nothing.
#[test]
fn hashes_are_charged_and_evicted_whole() {
    const LIMIT: u64 = 2 * 1024 * 1024;
    const FIELDS: usize = 200;
    for engine in ["quick", "moka"] {
        let node = NodeProcess::start(&["--store", engine, "--maxmemory", "2mb"]);
        let mut client = node.client();
        let value = "v".repeat(30);
        for key in 0..200 {
            let mut batch = Vec::new();
            for field in 0..FIELDS {
                let args: Vec<&[u8]> = vec![
                    b"HSET",
                    format!("h:{key}").leak().as_bytes(),
                    format!("f{field}").leak().as_bytes(),
                    value.as_bytes(),
                ];
                batch.extend(cachering_tests::encode(&args));
            }
            client.send_raw(&batch);
            for _ in 0..FIELDS {
                assert_eq!(client.read_reply().as_deref(), Some(":1\r\n"), "{engine}");
            }
        }
        let used = info_field(&node, "used_memory");
        let evicted = info_field(&node, "evicted_keys");
        assert!(used <= LIMIT, "{engine}: used_memory {used} over the limit");
        assert!(
            evicted > 0,
            "{engine}: 8 MiB of hashes in 2 MiB evicted nothing"
        );
        let mut whole = 0;
        for key in 0..200 {
            match client.call(&["HLEN", &format!("h:{key}")]).as_str() {
                ":0\r\n" => {}
                reply => {
                    assert_eq!(
                        reply,
                        format!(":{FIELDS}\r\n"),
                        "{engine}: h:{key} lost fields"
                    );
                    whole += 1;
                }
            }
        }
        assert!(whole > 0, "{engine}: no hash left");
        // One hash as large as the whole limit cannot be held: refused, not truncated.
        client.call(&["FLUSHALL"]);
        let big = "x".repeat(64 * 1024);
        let mut refused = false;
        for field in 0..64 {
            let reply = client.call(&["HSET", "huge", &format!("f{field}"), &big]);
            if reply.starts_with("-OOM") {
                refused = true;
                assert_eq!(
                    client.call(&["HLEN", "huge"]),
                    format!(":{field}\r\n"),
                    "{engine}: a refused field changed the hash"
                );
                break;
            }
            assert_eq!(reply, ":1\r\n", "{engine}");
        }
        assert!(refused, "{engine}: a 4 MiB hash fit a 2 MiB node");
    }
}
