//! Versions and tombstones on a node process, over TCP: versioned writes apply only when newer,
//! deletes are remembered so a late older write cannot revive a key, plain Redis writes are
//! stamped above everything the node has seen, and tombstones stay out of every read.

use std::time::Duration;

use cachering_tests::{bulk, int, NodeProcess};

/// The version in a one-key `VVER` reply (`*1\r\n:n\r\n`), deletes' made positive.
fn version(reply: &str) -> u64 {
    reply
        .trim_start_matches("*1\r\n:")
        .trim_start_matches('-')
        .trim_end()
        .parse()
        .unwrap_or_else(|_| panic!("not a one-key VVER reply: {reply:?}"))
}

#[test]
fn versioned_writes_apply_only_when_newer() {
    let node = NodeProcess::start(&[]);
    let mut c = node.client();
    assert_eq!(c.call(&["VSET", "k", "10", "a"]), int(1));
    assert_eq!(
        c.call(&["VSET", "k", "9", "b"]),
        int(0),
        "an older write is ignored"
    );
    assert_eq!(
        c.call(&["VSET", "k", "10", "a"]),
        int(0),
        "the same write twice is a no-op"
    );
    assert_eq!(c.call(&["GET", "k"]), bulk("a"));
    assert_eq!(c.call(&["VVER", "k"]), "*1\r\n:10\r\n");
    assert_eq!(
        c.call(&["VGET", "k"]),
        format!("*2\r\n{}:10\r\n", bulk("a"))
    );
    // Equal versions from two clients: the greater bytes win, wherever they arrive first.
    assert_eq!(c.call(&["VSET", "k", "10", "b"]), int(1));
    assert_eq!(c.call(&["VSET", "k", "10", "a"]), int(0));
    assert_eq!(c.call(&["GET", "k"]), bulk("b"));
    // With a time to live.
    assert_eq!(c.call(&["VSET", "t", "5", "v", "PX", "60000"]), int(1));
    let ttl: i64 = c
        .call(&["PTTL", "t"])
        .trim_start_matches(':')
        .trim_end()
        .parse()
        .expect("an integer reply");
    assert!((59_000..=60_000).contains(&ttl), "{ttl}");
    assert_eq!(c.call(&["VGET", "missing"]), "*2\r\n$-1\r\n:0\r\n");
    assert_eq!(
        c.call(&["VVER", "missing", "k", "t"]),
        "*3\r\n:0\r\n:10\r\n:5\r\n"
    );
}

#[test]
fn deletes_are_remembered_and_older_writes_stay_deleted() {
    let node = NodeProcess::start(&[]);
    let mut c = node.client();
    assert_eq!(c.call(&["VSET", "k", "10", "a"]), int(1));
    assert_eq!(c.call(&["VDEL", "k", "11"]), int(1));
    assert_eq!(c.call(&["GET", "k"]), "$-1\r\n");
    assert_eq!(c.call(&["EXISTS", "k"]), int(0));
    assert_eq!(
        c.call(&["VVER", "k"]),
        "*1\r\n:-11\r\n",
        "the delete is remembered"
    );
    assert_eq!(c.call(&["VGET", "k"]), "*2\r\n$-1\r\n:-11\r\n");
    assert_eq!(
        c.call(&["VSET", "k", "10", "late"]),
        int(0),
        "a late older write"
    );
    assert_eq!(c.call(&["GET", "k"]), "$-1\r\n");
    assert_eq!(c.call(&["VDEL", "k", "11"]), int(0));
    assert_eq!(
        c.call(&["VSET", "k", "11", "tie"]),
        int(1),
        "a value beats a delete at its version"
    );
    assert_eq!(c.call(&["VSET", "k", "12", "new"]), int(1));
    assert_eq!(c.call(&["GET", "k"]), bulk("new"));
    // Tombstones are not keys: DBSIZE, KEYS, SCAN and INFO leave them out.
    assert_eq!(c.call(&["VDEL", "k", "13"]), int(1));
    assert_eq!(
        c.call(&["VDEL", "never", "5"]),
        int(0),
        "nothing was deleted"
    );
    assert_eq!(
        c.call(&["VVER", "never"]),
        "*1\r\n:-5\r\n",
        "but the delete is remembered"
    );
    assert_eq!(c.call(&["SET", "live", "v"]), "+OK\r\n");
    assert_eq!(c.call(&["DBSIZE"]), int(1));
    assert_eq!(c.call(&["KEYS", "*"]), format!("*1\r\n{}", bulk("live")));
    assert_eq!(
        c.call(&["SCAN", "0"]),
        format!("*2\r\n{}*1\r\n{}", bulk("0"), bulk("live"))
    );
    let info = c.call(&["INFO", "keyspace"]);
    assert!(info.contains("db0:keys=1,"), "{info}");
}

#[test]
fn plain_writes_are_stamped_above_what_the_node_has_seen() {
    let node = NodeProcess::start(&[]);
    let mut c = node.client();
    // A client whose clock runs far ahead wrote this.
    let ahead = ((1u64 << 45) << 16).to_string();
    assert_eq!(c.call(&["VSET", "k", &ahead, "from the future"]), int(1));
    // A plain Redis client's SET is newer than anything the node has seen.
    assert_eq!(c.call(&["SET", "k", "plain"]), "+OK\r\n");
    let stamped = version(&c.call(&["VVER", "k"]));
    assert!(stamped > ahead.parse().unwrap());
    assert_eq!(c.call(&["VSET", "k", &ahead, "again"]), int(0));
    // Every kind of plain write stamps: INCR, APPEND, EXPIRE, and DEL leaves a tombstone.
    let mut last = stamped;
    for command in [
        &["INCR", "n"][..],
        &["APPEND", "n", "0"],
        &["EXPIRE", "n", "100"],
        &["PERSIST", "n"],
        &["DEL", "n"],
    ] {
        c.call(command);
        let stamped = version(&c.call(&["VVER", "n"]));
        assert!(stamped > last, "{command:?} did not stamp a newer version");
        last = stamped;
    }
    assert_eq!(c.call(&["EXISTS", "n"]), int(0));
    assert_eq!(
        c.call(&["VSET", "n", &(last - 1).to_string(), "old"]),
        int(0)
    );
}

/// INFO's count of tombstones.
fn tombstones(c: &mut cachering_tests::Client) -> u64 {
    let info = c.call(&["INFO", "stats"]);
    info.lines()
        .find_map(|line| line.strip_prefix("tombstones:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no tombstones line in INFO: {info}"))
}

#[test]
fn tombstones_end_after_their_lifetime() {
    let node = NodeProcess::start(&["--tombstone-ttl", "1"]);
    let mut c = node.client();
    assert_eq!(
        c.call(&["CONFIG", "GET", "tombstone-ttl"]),
        format!("*2\r\n{}{}", bulk("tombstone-ttl"), bulk("1"))
    );
    assert_eq!(c.call(&["VDEL", "k", "5"]), int(0));
    assert_eq!(c.call(&["VVER", "k"]), "*1\r\n:-5\r\n");
    assert_eq!(tombstones(&mut c), 1, "INFO counts the tombstone");
    assert_eq!(c.call(&["DBSIZE"]), int(0), "and DBSIZE does not");
    std::thread::sleep(Duration::from_millis(1_200));
    assert_eq!(
        c.call(&["VVER", "k"]),
        "*1\r\n:0\r\n",
        "the tombstone is gone"
    );
    assert_eq!(c.call(&["VSET", "k", "4", "v"]), int(1));
    assert_eq!(tombstones(&mut c), 0);
    // With no lifetime, deletes leave nothing.
    assert_eq!(c.call(&["CONFIG", "SET", "tombstone-ttl", "0"]), "+OK\r\n");
    assert_eq!(c.call(&["DEL", "k"]), int(1));
    assert_eq!(c.call(&["VVER", "k"]), "*1\r\n:0\r\n");
}

#[test]
fn versioned_commands_refuse_bad_arguments() {
    let node = NodeProcess::start(&[]);
    let mut c = node.client();
    let invalid = "-ERR invalid version: expected an integer from 1 to 4611686018427387903\r\n";
    assert_eq!(c.call(&["VSET", "k", "0", "v"]), invalid);
    assert_eq!(c.call(&["VSET", "k", "x", "v"]), invalid);
    assert_eq!(c.call(&["VDEL", "k", "-3"]), invalid);
    assert_eq!(c.call(&["VSET", "k", "9223372036854775808", "v"]), invalid);
    assert_eq!(
        c.call(&["VSET", "k", "5", "v", "EX", "0"]),
        "-ERR invalid expire time in 'vset' command\r\n"
    );
    assert_eq!(
        c.call(&["VSET", "k", "5", "v", "EX"]),
        "-ERR syntax error\r\n"
    );
    assert_eq!(
        c.call(&["VSET", "k", "5"]),
        "-ERR wrong number of arguments for 'vset' command\r\n"
    );
    assert_eq!(
        c.call(&["VGET", "k", "x"]),
        "-ERR wrong number of arguments for 'vget' command\r\n"
    );
    assert_eq!(c.call(&["EXISTS", "k"]), int(0));
}
