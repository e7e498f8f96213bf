//! The data types, written from Redis 7.0's command reference: every command, option and error
//! text, asserted byte for byte against a node and through the proxy, in RESP2 and RESP3.

use cachering_tests::session::{on_node_and_proxy, Session};
use cachering_tests::{array, bulk, int};

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

#[test]
fn hash_commands_answer_as_redis() {
    on_node_and_proxy(|s| {
        let null = s.null();
        // HSET counts new fields; HMSET answers OK; a field set again keeps its place.
        s.expect(&["HSET", "h", "f1", "v1", "f2", "v2"], &int(2));
        s.expect(&["HSET", "h", "f1", "v1b", "f3", "v3"], &int(1));
        s.expect(&["HMSET", "h", "f4", "v4"], "+OK\r\n");
        s.expect(&["HGET", "h", "f1"], &bulk("v1b"));
        s.expect(&["HGET", "h", "nope"], null);
        s.expect(&["HGET", "nokey", "f"], null);
        s.expect(
            &["HMGET", "h", "f1", "nope", "f3"],
            &format!("*3\r\n{}{null}{}", bulk("v1b"), bulk("v3")),
        );
        s.expect(
            &["HMGET", "nokey", "a", "b"],
            &format!("*2\r\n{null}{null}"),
        );
        s.expect(&["HSETNX", "h", "f1", "x"], &int(0));
        s.expect(&["HSETNX", "h", "f9", "x"], &int(1));
        s.expect(&["HLEN", "h"], &int(5));
        s.expect(&["HLEN", "nokey"], &int(0));
        s.expect(&["HEXISTS", "h", "f1"], &int(1));
        s.expect(&["HEXISTS", "h", "zz"], &int(0));
        s.expect(&["HSTRLEN", "h", "f1"], &int(3));
        s.expect(&["HSTRLEN", "h", "zz"], &int(0));
        s.expect(&["HKEYS", "h"], &array(&["f1", "f2", "f3", "f4", "f9"]));
        s.expect(&["HVALS", "h"], &array(&["v1b", "v2", "v3", "v4", "x"]));
        s.expect(&["HDEL", "h", "f9", "zz", "f4"], &int(2));
        s.expect(&["HDEL", "h", "zz"], &int(0));
        s.expect(&["HDEL", "nokey", "zz"], &int(0));
        let all = format!(
            "{}{}{}{}{}{}{}",
            s.map(3),
            bulk("f1"),
            bulk("v1b"),
            bulk("f2"),
            bulk("v2"),
            bulk("f3"),
            bulk("v3")
        );
        s.expect(&["HGETALL", "h"], &all);
        s.expect(&["HGETALL", "nokey"], &s.map(0));
        s.expect(&["HKEYS", "nokey"], "*0\r\n");
        // Arity: field-value pairs only.
        s.expect_error(
            &["HSET", "h", "f"],
            "ERR wrong number of arguments for 'hset' command",
        );
        s.expect_error(
            &["HSET", "h", "f", "v", "g"],
            "ERR wrong number of arguments for 'hset' command",
        );
        s.expect_error(
            &["HMSET", "h", "a", "1", "b"],
            "ERR wrong number of arguments for 'hmset' command",
        );
        // The last field deleted deletes the key.
        s.expect(&["HSET", "one", "a", "1"], &int(1));
        s.expect(&["HDEL", "one", "a"], &int(1));
        s.expect(&["EXISTS", "one"], &int(0));
        s.expect(&["TYPE", "h"], "+hash\r\n");
    });
}

#[test]
fn hash_counters_answer_as_redis() {
    on_node_and_proxy(|s| {
        s.expect(&["HINCRBY", "c", "n", "5"], &int(5));
        s.expect(&["HINCRBY", "c", "n", "-7"], &int(-2));
        s.expect(&["HSET", "c", "s", "abc"], &int(1));
        s.expect_error(
            &["HINCRBY", "c", "s", "1"],
            "ERR hash value is not an integer",
        );
        s.expect_error(
            &["HINCRBY", "c", "n", "x"],
            "ERR value is not an integer or out of range",
        );
        s.expect(&["HSET", "c", "max", "9223372036854775807"], &int(1));
        s.expect_error(
            &["HINCRBY", "c", "max", "1"],
            "ERR increment or decrement would overflow",
        );
        s.expect(&["HINCRBYFLOAT", "c", "f", "1.5"], &bulk("1.5"));
        s.expect(&["HINCRBYFLOAT", "c", "f", "1e3"], &bulk("1001.5"));
        s.expect(&["HINCRBYFLOAT", "c", "n", "0.25"], &bulk("-1.75"));
        s.expect_error(
            &["HINCRBYFLOAT", "c", "s", "1"],
            "ERR hash value is not a float",
        );
        s.expect_error(
            &["HINCRBYFLOAT", "c", "f", "abc"],
            "ERR value is not a valid float",
        );
        s.expect_error(
            &["HINCRBYFLOAT", "c", "f", "inf"],
            "ERR value is NaN or Infinity",
        );
        // A failed increment of a missing key creates nothing.
        s.expect(&["HSET", "text", "s", "x"], &int(1));
        s.expect(&["DEL", "text"], &int(1));
        s.expect_error(
            &["HINCRBY", "nokey", "n", "x"],
            "ERR value is not an integer or out of range",
        );
        s.expect(&["EXISTS", "nokey"], &int(0));
    });
}

#[test]
fn types_refuse_each_other_with_wrongtype() {
    on_node_and_proxy(|s| {
        let null = s.null();
        s.expect(&["SET", "s", "str"], "+OK\r\n");
        s.expect(&["HSET", "h", "f", "v"], &int(1));
        for args in [
            &["HGET", "s", "f"][..],
            &["HSET", "s", "f", "v"],
            &["HLEN", "s"],
            &["HGETALL", "s"],
            &["HINCRBY", "s", "f", "1"],
            &["HDEL", "s", "f"],
            &["HSCAN", "s", "0"],
            &["GET", "h"],
            &["APPEND", "h", "x"],
            &["INCR", "h"],
            &["INCRBYFLOAT", "h", "1"],
            &["STRLEN", "h"],
            &["GETRANGE", "h", "0", "1"],
            &["SETRANGE", "h", "0", "x"],
            &["GETSET", "h", "x"],
            &["GETDEL", "h"],
            &["GETEX", "h"],
            &["SET", "h", "x", "GET"],
        ] {
            s.expect_error(args, WRONGTYPE);
        }
        // None of the refused writes changed anything.
        s.expect(&["HGET", "h", "f"], &bulk("v"));
        s.expect(&["GET", "s"], &bulk("str"));
        s.expect(&["HSET", "{t}a", "f", "v"], &int(1));
        s.expect(&["SET", "{t}b", "v"], "+OK\r\n");
        s.expect_error(
            &["LCS", "{t}a", "{t}b"],
            "ERR The specified keys must contain string values",
        );
        // MGET answers nil for a key of another type; SET overwrites any type.
        s.expect(&["MGET", "h", "s"], &format!("*2\r\n{null}{}", bulk("str")));
        s.expect(&["TYPE", "s"], "+string\r\n");
        s.expect(&["SET", "h", "now a string"], "+OK\r\n");
        s.expect(&["TYPE", "h"], "+string\r\n");
        s.expect(&["GET", "h"], &bulk("now a string"));
    });
}

#[test]
fn hrandfield_and_hscan_answer_as_redis() {
    on_node_and_proxy(|s| {
        let null = s.null();
        s.expect(&["HRANDFIELD", "nokey"], null);
        s.expect(&["HRANDFIELD", "nokey", "3"], "*0\r\n");
        s.expect(&["HSET", "h", "a", "1", "b", "2", "c", "3"], &int(3));
        s.expect(&["HRANDFIELD", "h", "0"], "*0\r\n");
        s.expect_error(&["HRANDFIELD", "h", "3", "foo"], "ERR syntax error");
        s.expect_error(
            &["HRANDFIELD", "h", "3", "WITHVALUES", "x"],
            "ERR syntax error",
        );
        s.expect_error(
            &["HRANDFIELD", "h", "abc"],
            "ERR value is not an integer or out of range",
        );
        s.expect_error(
            &["HRANDFIELD", "h", "-9223372036854775807"],
            "ERR value is out of range",
        );
        // A count at least the size: the whole hash, in its order.
        s.expect(&["HRANDFIELD", "h", "10"], &array(&["a", "b", "c"]));
        let one = s.call(&["HRANDFIELD", "h"]);
        assert!([bulk("a"), bulk("b"), bulk("c")].contains(&one), "{one:?}");
        // Distinct fields for a positive count, repeats allowed for a negative one.
        let two = s.call(&["HRANDFIELD", "h", "2"]);
        assert!(two.starts_with("*2\r\n"), "{two:?}");
        let lines: Vec<&str> = two
            .split("\r\n")
            .filter(|l| !l.starts_with(['*', '$']))
            .collect();
        assert_eq!(lines.len(), 3, "{two:?}");
        assert_ne!(lines[0], lines[1], "{two:?}");
        let many = s.call(&["HRANDFIELD", "h", "-5"]);
        assert!(many.starts_with("*5\r\n"), "{many:?}");
        let with_values = s.call(&["HRANDFIELD", "h", "-2", "WITHVALUES"]);
        if s.resp3 {
            assert!(with_values.starts_with("*2\r\n*2\r\n"), "{with_values:?}");
        } else {
            assert!(with_values.starts_with("*4\r\n"), "{with_values:?}");
        }
        // HSCAN of a small hash: everything in one step, cursor 0.
        s.expect(&["HSCAN", "nokey", "0"], "*2\r\n$1\r\n0\r\n*0\r\n");
        s.expect(
            &["HSCAN", "h", "0"],
            &format!(
                "*2\r\n$1\r\n0\r\n{}",
                array(&["a", "1", "b", "2", "c", "3"])
            ),
        );
        s.expect(
            &["HSCAN", "h", "0", "MATCH", "b*", "COUNT", "1"],
            &format!("*2\r\n$1\r\n0\r\n{}", array(&["b", "2"])),
        );
        s.expect_error(&["HSCAN", "h", "abc"], "ERR invalid cursor");
        s.expect_error(&["HSCAN", "h", "0", "COUNT", "0"], "ERR syntax error");
        s.expect_error(&["HSCAN", "h", "0", "NOVALUES"], "ERR syntax error");
    });
}

/// Walks an HSCAN to its end, returning every field seen (with repeats); between steps it
/// adds a field and deletes the one added before, growing and shrinking the table.
fn hscan_all(s: &mut Session, key: &str, count: &str) -> Vec<String> {
    let mut cursor = "0".to_string();
    let mut fields = Vec::new();
    for step in 0.. {
        s.call(&["HSET", key, &format!("extra:{step}"), "x"]);
        if step > 0 {
            s.call(&["HDEL", key, &format!("extra:{}", step - 1)]);
        }
        let reply = s.call(&["HSCAN", key, &cursor, "COUNT", count]);
        let lines: Vec<&str> = reply.split("\r\n").collect();
        // *2, $n, cursor, *m, then $len/field/$len/value pairs.
        cursor = lines[2].to_string();
        let elements: Vec<&str> = lines[4..]
            .iter()
            .filter(|l| !l.starts_with('$') && !l.is_empty())
            .copied()
            .collect();
        fields.extend(elements.chunks(2).map(|pair| pair[0].to_string()));
        if cursor == "0" {
            s.call(&["HDEL", key, &format!("extra:{step}")]);
            break;
        }
    }
    fields.retain(|field| !field.starts_with("extra:"));
    fields
}

#[test]
fn large_hashes_change_encoding_and_scan_every_field() {
    on_node_and_proxy(|s| {
        for i in 0..300 {
            s.expect(
                &["HSET", "big", &format!("field:{i}"), &format!("{i}")],
                &int(1),
            );
        }
        s.expect(&["HLEN", "big"], &int(300));
        s.expect(&["HGET", "big", "field:299"], &bulk("299"));
        // A scan in small steps returns every field present throughout, while fields are
        // added and removed between steps.
        let mut fields = hscan_all(s, "big", "10");
        fields.sort();
        fields.dedup();
        assert_eq!(fields.len(), 300);
        s.expect(&["HSET", "long", "f", &"x".repeat(100)], &int(1));
        s.expect(&["HSTRLEN", "long", "f"], &int(100));
        for i in 0..300 {
            s.expect(&["HDEL", "big", &format!("field:{i}")], &int(1));
        }
        s.expect(&["EXISTS", "big"], &int(0));
    });
}

#[test]
fn hashes_are_renamed_copied_expired_and_scanned_by_type() {
    on_node_and_proxy(|s| {
        let null = s.null();
        s.expect(&["HSET", "{u}1", "name", "Ada", "lang", "Rust"], &int(2));
        s.expect(&["EXPIRE", "{u}1", "100"], &int(1));
        s.expect(&["COPY", "{u}1", "{u}2"], &int(1));
        // The copy is its own hash: changing one leaves the other.
        s.expect(&["HSET", "{u}2", "name", "Grace"], &int(0));
        s.expect(&["HGET", "{u}1", "name"], &bulk("Ada"));
        s.expect(&["RENAME", "{u}1", "{u}3"], "+OK\r\n");
        s.expect(&["HGET", "{u}3", "lang"], &bulk("Rust"));
        s.expect(&["HGET", "{u}1", "lang"], null);
        let ttl = s.call(&["TTL", "{u}3"]);
        assert!(ttl == ":100\r\n" || ttl == ":99\r\n", "{ttl:?}");
        s.expect(&["PERSIST", "{u}3"], &int(1));
        s.expect(&["TTL", "{u}3"], &int(-1));
        s.expect(&["PEXPIRE", "{u}3", "1"], &int(1));
        std::thread::sleep(std::time::Duration::from_millis(20));
        s.expect(&["HLEN", "{u}3"], &int(0));
        s.expect(&["SET", "str", "x"], "+OK\r\n");
        let scanned = s.call(&["SCAN", "0", "TYPE", "hash", "COUNT", "1000"]);
        assert!(
            scanned.contains("{u}2") && !scanned.contains("str"),
            "{scanned:?}"
        );
        let scanned = s.call(&["SCAN", "0", "TYPE", "string", "COUNT", "1000"]);
        assert!(
            !scanned.contains("{u}2") && scanned.contains("str"),
            "{scanned:?}"
        );
    });
}

#[test]
fn object_tells_encodings_as_redis() {
    on_node_and_proxy(|s| {
        let null = s.null();
        s.expect(&["SET", "n", "12345"], "+OK\r\n");
        s.expect(&["SET", "short", "hello"], "+OK\r\n");
        s.expect(&["SET", "long", &"x".repeat(45)], "+OK\r\n");
        s.expect(&["SET", "lead", "0123"], "+OK\r\n");
        s.expect(&["OBJECT", "ENCODING", "n"], &bulk("int"));
        s.expect(&["OBJECT", "ENCODING", "short"], &bulk("embstr"));
        s.expect(&["OBJECT", "ENCODING", "long"], &bulk("raw"));
        s.expect(&["OBJECT", "ENCODING", "lead"], &bulk("embstr"));
        s.expect(&["OBJECT", "ENCODING", "nokey"], null);
        s.expect(&["HSET", "h", "f", "v"], &int(1));
        s.expect(&["OBJECT", "ENCODING", "h"], &bulk("listpack"));
        s.expect(&["HSET", "h", "big", &"v".repeat(65)], &int(1));
        s.expect(&["OBJECT", "ENCODING", "h"], &bulk("hashtable"));
        s.expect(&["OBJECT", "REFCOUNT", "h"], &int(1));
        s.expect_error(
            &["OBJECT", "FREQ", "h"],
            "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.",
        );
        s.expect_error(
            &["OBJECT", "IDLETIME", "h"],
            "ERR idle time is not tracked: this node's store keeps no access time per key",
        );
        s.expect_error(
            &["OBJECT", "NOPE", "h"],
            "ERR unknown subcommand 'NOPE'. Try OBJECT HELP.",
        );
        s.expect_error(
            &["OBJECT", "ENCODING", "a", "b"],
            "ERR wrong number of arguments for 'object|encoding' command",
        );
        let help = s.call(&["OBJECT", "HELP"]);
        assert!(
            help.starts_with(
                "*15\r\n+OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n"
            ),
            "{help:?}"
        );
    });
}

/// The members of a reply of bulk strings (an array or a RESP3 set), sorted.
fn members(reply: &str) -> Vec<String> {
    let mut members: Vec<String> = reply
        .split("\r\n")
        .skip(1)
        .filter(|line| !line.starts_with('$') && !line.is_empty())
        .map(str::to_string)
        .collect();
    members.sort();
    members
}

#[test]
fn set_commands_answer_as_redis() {
    on_node_and_proxy(|s| {
        let null = s.null();
        s.expect(&["SADD", "s", "a", "b", "c", "a"], &int(3));
        s.expect(&["SADD", "s", "c", "d"], &int(1));
        s.expect(&["SCARD", "s"], &int(4));
        s.expect(&["SCARD", "nokey"], &int(0));
        s.expect(&["SISMEMBER", "s", "a"], &int(1));
        s.expect(&["SISMEMBER", "s", "z"], &int(0));
        s.expect(&["SMISMEMBER", "s", "a", "z"], "*2\r\n:1\r\n:0\r\n");
        let all = s.call(&["SMEMBERS", "s"]);
        assert!(all.starts_with(&s.set(4)), "{all:?}");
        assert_eq!(members(&all), ["a", "b", "c", "d"]);
        s.expect(&["SMEMBERS", "nokey"], &s.set(0));
        s.expect(&["SREM", "s", "d", "z"], &int(1));
        s.expect(&["SREM", "nokey", "z"], &int(0));
        s.expect_error(
            &["SADD", "s"],
            "ERR wrong number of arguments for 'sadd' command",
        );
        s.expect(&["TYPE", "s"], "+set\r\n");
        s.expect(&["OBJECT", "ENCODING", "s"], &bulk("listpack"));
        // SPOP and SRANDMEMBER.
        s.expect(&["SPOP", "nokey"], null);
        s.expect(&["SPOP", "nokey", "2"], &s.set(0));
        s.expect_error(
            &["SPOP", "s", "-1"],
            "ERR value is out of range, must be positive",
        );
        s.expect_error(&["SPOP", "s", "1", "x"], "ERR syntax error");
        s.expect_error(
            &["SRANDMEMBER", "s", "abc"],
            "ERR value is not an integer or out of range",
        );
        s.expect(&["SRANDMEMBER", "nokey"], null);
        s.expect(&["SRANDMEMBER", "s", "10"], &array(&["a", "b", "c"]));
        let two = s.call(&["SRANDMEMBER", "s", "2"]);
        let two = members(&two);
        assert!(two.len() == 2 && two[0] != two[1], "{two:?}");
        assert!(s.call(&["SRANDMEMBER", "s", "-5"]).starts_with("*5\r\n"));
        s.expect_error(
            &["SRANDMEMBER", "s", "-9223372036854775807"],
            "ERR value is out of range",
        );
        let popped = s.call(&["SPOP", "s", "2"]);
        assert!(popped.starts_with(&s.set(2)), "{popped:?}");
        s.expect(&["SCARD", "s"], &int(1));
        let last = s.call(&["SPOP", "s"]);
        assert!(
            [bulk("a"), bulk("b"), bulk("c")].contains(&last),
            "{last:?}"
        );
        s.expect(&["EXISTS", "s"], &int(0));
        // SSCAN.
        s.expect(&["SADD", "small", "x", "y"], &int(2));
        s.expect(
            &["SSCAN", "small", "0", "MATCH", "x*"],
            &format!("*2\r\n$1\r\n0\r\n{}", array(&["x"])),
        );
        s.expect(&["SSCAN", "nokey", "0"], "*2\r\n$1\r\n0\r\n*0\r\n");
        for i in 0..200 {
            s.expect(&["SADD", "big", &format!("member:{i}")], &int(1));
        }
        s.expect(&["OBJECT", "ENCODING", "big"], &bulk("hashtable"));
        let mut cursor = "0".to_string();
        let mut seen = Vec::new();
        loop {
            let reply = s.call(&["SSCAN", "big", &cursor, "COUNT", "10"]);
            let lines: Vec<&str> = reply.split("\r\n").collect();
            cursor = lines[2].to_string();
            seen.extend(members(&lines[3..].join("\r\n")));
            if cursor == "0" {
                break;
            }
        }
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 200);
        // Wrong types.
        s.expect(&["SET", "str", "x"], "+OK\r\n");
        for args in [
            &["SADD", "str", "a"][..],
            &["SMEMBERS", "str"],
            &["SPOP", "str"],
            &["SSCAN", "str", "0"],
            &["SINTER", "str"],
        ] {
            s.expect_error(args, WRONGTYPE);
        }
        s.expect_error(&["GET", "small"], WRONGTYPE);
    });
}

#[test]
fn set_algebra_and_moves_answer_as_redis() {
    on_node_and_proxy(|s| {
        // Keys of one command share a {hash tag}, so the ring keeps them on one replica set.
        s.expect(&["SADD", "{s}a", "1", "2", "3"], &int(3));
        s.expect(&["SADD", "{s}b", "2", "3", "4"], &int(3));
        let inter = s.call(&["SINTER", "{s}a", "{s}b"]);
        assert!(inter.starts_with(&s.set(2)), "{inter:?}");
        assert_eq!(members(&inter), ["2", "3"]);
        assert_eq!(
            members(&s.call(&["SUNION", "{s}a", "{s}b"])),
            ["1", "2", "3", "4"]
        );
        assert_eq!(members(&s.call(&["SDIFF", "{s}a", "{s}b"])), ["1"]);
        s.expect(&["SINTER", "{s}a", "{s}none"], &s.set(0));
        assert_eq!(
            members(&s.call(&["SDIFF", "{s}a", "{s}none"])),
            ["1", "2", "3"]
        );
        s.expect(&["SINTERSTORE", "{s}i", "{s}a", "{s}b"], &int(2));
        assert_eq!(members(&s.call(&["SMEMBERS", "{s}i"])), ["2", "3"]);
        s.expect(&["SUNIONSTORE", "{s}u", "{s}a", "{s}b"], &int(4));
        s.expect(&["SDIFFSTORE", "{s}d", "{s}a", "{s}b"], &int(1));
        // A STORE overwrites any type, and an empty result deletes the destination.
        s.expect(&["SET", "{s}str", "x"], "+OK\r\n");
        s.expect(&["SINTERSTORE", "{s}str", "{s}a", "{s}b"], &int(2));
        s.expect(&["TYPE", "{s}str"], "+set\r\n");
        s.expect(&["SDIFFSTORE", "{s}str", "{s}a", "{s}a"], &int(0));
        s.expect(&["EXISTS", "{s}str"], &int(0));
        // SMOVE.
        s.expect(&["SMOVE", "{s}a", "{s}b", "1"], &int(1));
        s.expect(&["SMOVE", "{s}a", "{s}b", "1"], &int(0));
        s.expect(&["SISMEMBER", "{s}b", "1"], &int(1));
        s.expect(&["SMOVE", "{s}a", "{s}a", "2"], &int(1));
        s.expect(&["SMOVE", "{s}a", "{s}a", "9"], &int(0));
        s.expect(&["SET", "{s}str", "x"], "+OK\r\n");
        s.expect_error(&["SMOVE", "{s}a", "{s}str", "2"], WRONGTYPE);
        s.expect_error(&["SMOVE", "{s}str", "{s}a", "2"], WRONGTYPE);
        s.expect(&["SISMEMBER", "{s}a", "2"], &int(1));
        s.expect(&["SMOVE", "{s}a", "{s}new", "2"], &int(1));
        s.expect(&["SMOVE", "{s}a", "{s}new", "3"], &int(1));
        s.expect(&["EXISTS", "{s}a"], &int(0));
        assert_eq!(members(&s.call(&["SMEMBERS", "{s}new"])), ["2", "3"]);
    });
}

#[test]
fn sintercard_counts_its_keys_from_an_argument() {
    on_node_and_proxy(|s| {
        s.expect(&["SADD", "{c}a", "1", "2", "3"], &int(3));
        s.expect(&["SADD", "{c}b", "2", "3", "4"], &int(3));
        s.expect(&["SINTERCARD", "2", "{c}a", "{c}b"], &int(2));
        s.expect(&["SINTERCARD", "2", "{c}a", "{c}b", "LIMIT", "1"], &int(1));
        s.expect(&["SINTERCARD", "2", "{c}a", "{c}b", "LIMIT", "0"], &int(2));
        s.expect(&["SINTERCARD", "1", "{c}none"], &int(0));
        s.expect_error(
            &["SINTERCARD", "3", "{c}a", "{c}b"],
            "ERR Number of keys can't be greater than number of args",
        );
        s.expect_error(
            &["SINTERCARD", "0", "{c}a"],
            "ERR numkeys should be greater than 0",
        );
        s.expect_error(
            &["SINTERCARD", "x", "{c}a"],
            "ERR numkeys should be greater than 0",
        );
        s.expect_error(
            &["SINTERCARD", "1", "{c}a", "LIMIT", "-1"],
            "ERR LIMIT can't be negative",
        );
        s.expect_error(&["SINTERCARD", "1", "{c}a", "FOO"], "ERR syntax error");
        // COMMAND tells where the keys are: movablekeys, and GETKEYS follows the count.
        let info = s.call(&["COMMAND", "INFO", "sintercard"]);
        assert!(info.contains("movablekeys"), "{info:?}");
        s.expect(
            &[
                "COMMAND",
                "GETKEYS",
                "SINTERCARD",
                "2",
                "{c}a",
                "{c}b",
                "LIMIT",
                "1",
            ],
            &array(&["{c}a", "{c}b"]),
        );
    });
}
