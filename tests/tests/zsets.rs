//! Sorted sets, written from Redis 7.0's command reference: every command, option and error
//! text, asserted byte for byte (the replies were taken from redis-server 7.0.15) against a
//! node and through the proxy, in RESP2 and RESP3.

use cachering_tests::session::{on_node_and_proxy, Session};
use cachering_tests::{array, bulk, int};

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
const SYNTAX: &str = "ERR syntax error";

fn abcd(s: &mut Session, key: &str) {
    s.expect(
        &["ZADD", key, "1", "a", "2", "b", "3", "c", "4", "d"],
        &int(4),
    );
}

#[test]
fn zadd_and_member_commands_answer_as_redis() {
    on_node_and_proxy(|s| {
        let null = s.null();
        abcd(s, "z");
        // Flags: CH counts changed scores too; NX and XX; GT and LT only move one way.
        s.expect(&["ZADD", "z", "CH", "2", "a", "3", "b", "9", "e"], &int(3));
        s.expect(&["ZADD", "z", "NX", "5", "a", "6", "f"], &int(1));
        s.expect(&["ZADD", "z", "XX", "7", "a", "8", "g"], &int(0));
        s.expect(&["ZADD", "z", "LT", "CH", "1", "a", "100", "b"], &int(1));
        s.expect(&["ZADD", "z", "GT", "0", "a", "100", "b"], &int(0));
        s.expect(&["ZSCORE", "z", "a"], &s.score("1"));
        s.expect(&["ZSCORE", "z", "b"], &s.score("100"));
        s.expect(&["ZSCORE", "z", "g"], null);
        s.expect(&["ZSCORE", "nokey", "g"], null);
        // INCR answers the new score, or nil when a flag kept the member.
        s.expect(&["ZADD", "z", "INCR", "1.5", "a"], &s.score("2.5"));
        s.expect(&["ZADD", "z", "NX", "INCR", "1", "a"], null);
        s.expect(&["ZADD", "z", "XX", "INCR", "1", "zz"], null);
        s.expect(&["ZADD", "z", "LT", "INCR", "1", "a"], null);
        s.expect(&["ZADD", "z", "GT", "INCR", "1", "a"], &s.score("3.5"));
        s.expect(&["ZADD", "nokey", "XX", "1", "a"], &int(0));
        s.expect(&["EXISTS", "nokey"], &int(0));
        s.expect(
            &["ZINCRBY", "z", "0.1", "a"],
            &s.score("3.6000000000000001"),
        );
        s.expect(&["ZINCRBY", "z", "2", "new"], &s.score("2"));
        s.expect(&["ZCARD", "z"], &int(7));
        s.expect(&["ZCARD", "nokey"], &int(0));
        s.expect(
            &["ZMSCORE", "z", "c", "nope", "new"],
            &format!("*3\r\n{}{null}{}", s.score("3"), s.score("2")),
        );
        s.expect(&["ZMSCORE", "nokey", "a"], &format!("*1\r\n{null}"));
        // Ranks count from the lowest score (ties by member) or from the highest.
        s.expect(&["ZRANK", "z", "new"], &int(0));
        s.expect(&["ZRANK", "z", "c"], &int(1));
        s.expect(&["ZREVRANK", "z", "b"], &int(0));
        s.expect(&["ZRANK", "z", "nope"], null);
        s.expect(&["ZRANK", "nokey", "a"], null);
        s.expect(&["ZREM", "z", "new", "nope", "c"], &int(2));
        s.expect(&["ZREM", "nokey", "a"], &int(0));
        // Scores print as Redis 7.0 prints them (%.17g); infinities are scores too.
        s.expect(
            &[
                "ZADD", "f", "1.1", "m1", "1e20", "m2", "-0", "m3", "-inf", "m4",
            ],
            &int(4),
        );
        s.expect(
            &["ZRANGE", "f", "0", "-1", "WITHSCORES"],
            &s.scored(&[
                ("m4", "-inf"),
                ("m3", "0"),
                ("m1", "1.1000000000000001"),
                ("m2", "1e+20"),
            ]),
        );
        s.expect(&["ZINCRBY", "f", "+inf", "m1"], &s.score("inf"));
        s.expect_error(
            &["ZINCRBY", "f", "-inf", "m1"],
            "ERR resulting score is not a number (NaN)",
        );
        // Errors, in Redis's order: syntax, flag conflicts, then scores, then the type.
        s.expect_error(&["ZADD", "z", "INCR", "NX"], SYNTAX);
        s.expect_error(&["ZADD", "z", "1", "a", "2"], SYNTAX);
        s.expect_error(
            &["ZADD", "z", "NX", "XX", "1", "a"],
            "ERR XX and NX options at the same time are not compatible",
        );
        s.expect_error(
            &["ZADD", "z", "GT", "LT", "1", "a"],
            "ERR GT, LT, and/or NX options at the same time are not compatible",
        );
        s.expect_error(
            &["ZADD", "z", "GT", "NX", "1", "a"],
            "ERR GT, LT, and/or NX options at the same time are not compatible",
        );
        s.expect_error(
            &["ZADD", "z", "INCR", "1", "a", "2", "b"],
            "ERR INCR option supports a single increment-element pair",
        );
        s.expect_error(
            &["ZADD", "z", "1", "a", "nan", "b"],
            "ERR value is not a valid float",
        );
        s.expect_error(
            &["ZADD", "z", "1"],
            "ERR wrong number of arguments for 'zadd' command",
        );
        s.expect(&["SET", "str", "x"], "+OK\r\n");
        s.expect_error(&["ZADD", "str", "x", "a"], "ERR value is not a valid float");
        s.expect_error(&["ZADD", "str", "1", "a"], WRONGTYPE);
        s.expect_error(&["ZSCORE", "str", "a"], WRONGTYPE);
        s.expect_error(&["ZCARD", "str"], WRONGTYPE);
        s.expect_error(&["GET", "z"], WRONGTYPE);
        s.expect_error(&["SADD", "z", "a"], WRONGTYPE);
        s.expect(&["TYPE", "z"], "+zset\r\n");
        s.expect_error(
            &["ZINCRBY", "z", "x", "a"],
            "ERR value is not a valid float",
        );
    });
}

#[test]
fn zrange_and_its_older_forms_answer_as_redis() {
    on_node_and_proxy(|s| {
        abcd(s, "z");
        s.expect(&["ZRANGE", "z", "0", "-1"], &array(&["a", "b", "c", "d"]));
        s.expect(&["ZRANGE", "z", "-2", "-1"], &array(&["c", "d"]));
        s.expect(
            &["ZRANGE", "z", "-100", "100"],
            &array(&["a", "b", "c", "d"]),
        );
        s.expect(&["ZRANGE", "z", "2", "1"], "*0\r\n");
        s.expect(&["ZRANGE", "nokey", "0", "-1"], "*0\r\n");
        s.expect(&["ZRANGE", "z", "0", "1", "REV"], &array(&["d", "c"]));
        s.expect(
            &["ZREVRANGE", "z", "0", "1", "WITHSCORES"],
            &s.scored(&[("d", "4"), ("c", "3")]),
        );
        s.expect(&["ZRANGE", "z", "(1", "3", "BYSCORE"], &array(&["b", "c"]));
        s.expect(
            &["ZRANGE", "z", "3", "(1", "BYSCORE", "REV"],
            &array(&["c", "b"]),
        );
        s.expect(
            &["ZRANGE", "z", "(1", "+inf", "BYSCORE", "LIMIT", "1", "1"],
            &array(&["c"]),
        );
        s.expect(
            &["ZRANGE", "z", "(1", "3", "BYSCORE", "LIMIT", "0", "-1"],
            &array(&["b", "c"]),
        );
        s.expect(
            &["ZRANGE", "z", "(1", "3", "BYSCORE", "LIMIT", "-1", "2"],
            "*0\r\n",
        );
        s.expect(
            &[
                "ZRANGEBYSCORE",
                "z",
                "1",
                "2",
                "WITHSCORES",
                "LIMIT",
                "0",
                "1",
                "WITHSCORES",
            ],
            &s.scored(&[("a", "1")]),
        );
        s.expect(
            &[
                "ZREVRANGEBYSCORE",
                "z",
                "+inf",
                "-inf",
                "WITHSCORES",
                "LIMIT",
                "1",
                "2",
            ],
            &s.scored(&[("c", "3"), ("b", "2")]),
        );
        s.expect(&["ZCOUNT", "z", "(1", "3"], &int(2));
        s.expect(&["ZCOUNT", "z", "-inf", "+inf"], &int(4));
        s.expect(&["ZCOUNT", "nokey", "-inf", "+inf"], &int(0));
        // Lexicographic ranges over equal scores.
        s.expect(
            &[
                "ZADD", "lex", "0", "a", "0", "b", "0", "c", "0", "d", "0", "e",
            ],
            &int(5),
        );
        s.expect(
            &["ZRANGEBYLEX", "lex", "[b", "(e"],
            &array(&["b", "c", "d"]),
        );
        s.expect(
            &["ZRANGEBYLEX", "lex", "(b", "[e", "LIMIT", "1", "5"],
            &array(&["d", "e"]),
        );
        s.expect(
            &["ZREVRANGEBYLEX", "lex", "[e", "(a"],
            &array(&["e", "d", "c", "b"]),
        );
        s.expect(
            &["ZRANGE", "lex", "+", "-", "BYLEX", "REV", "LIMIT", "1", "2"],
            &array(&["d", "c"]),
        );
        s.expect(&["ZLEXCOUNT", "lex", "-", "+"], &int(5));
        s.expect(&["ZLEXCOUNT", "lex", "[b", "(d"], &int(2));
        // Errors.
        s.expect_error(
            &["ZRANGE", "z", "0", "-1", "BYLEX", "WITHSCORES"],
            "ERR syntax error, WITHSCORES not supported in combination with BYLEX",
        );
        s.expect_error(
            &["ZRANGE", "z", "0", "-1", "LIMIT", "0", "1"],
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        );
        s.expect_error(
            &["ZREVRANGE", "z", "0", "1", "LIMIT", "0", "1"],
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        );
        s.expect_error(
            &["ZRANGE", "z", "a", "b", "BYSCORE"],
            "ERR min or max is not a float",
        );
        s.expect_error(
            &["ZRANGE", "z", "a", "b", "BYLEX"],
            "ERR min or max not valid string range item",
        );
        s.expect_error(
            &["ZRANGE", "z", "a", "b"],
            "ERR value is not an integer or out of range",
        );
        s.expect_error(&["ZRANGE", "z", "0", "-1", "REV", "REV"], SYNTAX);
        s.expect_error(&["ZRANGEBYSCORE", "z", "-inf", "+inf", "REV"], SYNTAX);
        s.expect_error(&["ZRANGEBYSCORE", "z", "1", "2", "LIMIT", "0"], SYNTAX);
        s.expect_error(
            &["ZRANGEBYLEX", "z", "-", "+", "WITHSCORES"],
            "ERR syntax error, WITHSCORES not supported in combination with BYLEX",
        );
        s.expect_error(&["ZCOUNT", "z", "(1", "x"], "ERR min or max is not a float");
        s.expect_error(
            &["ZLEXCOUNT", "z", "a", "b"],
            "ERR min or max not valid string range item",
        );
        // Removing ranges; the key goes with its last member.
        s.expect(&["ZREMRANGEBYSCORE", "z", "-inf", "(2"], &int(1));
        s.expect(&["ZREMRANGEBYRANK", "z", "-1", "-1"], &int(1));
        s.expect(&["ZRANGE", "z", "0", "-1"], &array(&["b", "c"]));
        s.expect(&["ZREMRANGEBYLEX", "lex", "[b", "(d"], &int(2));
        s.expect(&["ZRANGE", "lex", "0", "-1"], &array(&["a", "d", "e"]));
        s.expect(&["ZREMRANGEBYLEX", "lex", "-", "+"], &int(3));
        s.expect(&["EXISTS", "lex"], &int(0));
        s.expect_error(
            &["ZREMRANGEBYRANK", "z", "x", "1"],
            "ERR value is not an integer or out of range",
        );
    });
}

#[test]
fn zpop_zrandmember_and_zscan_answer_as_redis() {
    on_node_and_proxy(|s| {
        abcd(s, "z");
        // Without a count the pair stays flat in RESP3; with one, RESP3 gives pairs.
        let flat = if s.resp3 {
            format!("*2\r\n{}{}", bulk("a"), s.score("1"))
        } else {
            array(&["a", "1"])
        };
        s.expect(&["ZPOPMIN", "z"], &flat);
        s.expect(&["ZPOPMAX", "z", "2"], &s.scored(&[("d", "4"), ("c", "3")]));
        s.expect(&["ZPOPMAX", "z", "0"], "*0\r\n");
        s.expect(&["ZPOPMIN", "z", "100"], &s.scored(&[("b", "2")]));
        s.expect(&["EXISTS", "z"], &int(0));
        s.expect(&["ZPOPMIN", "nokey"], "*0\r\n");
        s.expect_error(
            &["ZPOPMIN", "z", "-1"],
            "ERR value is out of range, must be positive",
        );
        s.expect_error(
            &["ZPOPMIN", "z", "x"],
            "ERR value is out of range, must be positive",
        );
        s.expect_error(&["ZPOPMIN", "z", "1", "2"], SYNTAX);
        // ZRANDMEMBER: distinct members for a positive count, all of them at most.
        abcd(s, "z");
        let picked = s.call(&["ZRANDMEMBER", "z"]);
        assert!(
            ["a", "b", "c", "d"].iter().any(|m| picked == bulk(m)),
            "{picked:?}"
        );
        s.expect(
            &["ZRANDMEMBER", "z", "10", "WITHSCORES"],
            &s.scored(&[("a", "1"), ("b", "2"), ("c", "3"), ("d", "4")]),
        );
        let repeated = s.call(&["ZRANDMEMBER", "z", "-6"]);
        assert!(repeated.starts_with("*6\r\n"), "{repeated:?}");
        s.expect(&["ZRANDMEMBER", "nokey"], s.null());
        s.expect(&["ZRANDMEMBER", "nokey", "5"], "*0\r\n");
        s.expect_error(&["ZRANDMEMBER", "z", "1", "foo"], SYNTAX);
        s.expect_error(
            &["ZRANDMEMBER", "z", "-5000000000000000000", "WITHSCORES"],
            "ERR value is out of range",
        );
        s.expect_error(
            &["ZRANDMEMBER", "z", "x"],
            "ERR value is not an integer or out of range",
        );
        // ZSCAN of a small sorted set answers it whole, scores as strings in both protocols.
        s.expect(
            &["ZSCAN", "z", "0"],
            &format!(
                "*2\r\n{}{}",
                bulk("0"),
                array(&["a", "1", "b", "2", "c", "3", "d", "4"])
            ),
        );
        s.expect(
            &["ZSCAN", "z", "0", "MATCH", "[bc]"],
            &format!("*2\r\n{}{}", bulk("0"), array(&["b", "2", "c", "3"])),
        );
        s.expect_error(&["ZSCAN", "z", "0", "COUNT", "0"], SYNTAX);
    });
}

#[test]
fn zset_algebra_and_stores_answer_as_redis() {
    on_node_and_proxy(|s| {
        abcd(s, "{a}z");
        s.expect(&["SADD", "{a}st", "a", "x"], &int(2));
        s.expect(
            &[
                "ZUNION",
                "2",
                "{a}z",
                "{a}st",
                "WEIGHTS",
                "2",
                "3",
                "WITHSCORES",
            ],
            &s.scored(&[("x", "3"), ("b", "4"), ("a", "5"), ("c", "6"), ("d", "8")]),
        );
        s.expect(
            &["ZUNION", "1", "{a}z", "AGGREGATE", "MAX", "WITHSCORES"],
            &s.scored(&[("a", "1"), ("b", "2"), ("c", "3"), ("d", "4")]),
        );
        s.expect(
            &["ZINTER", "2", "{a}z", "{a}st", "WITHSCORES"],
            &s.scored(&[("a", "2")]),
        );
        s.expect(&["ZDIFF", "2", "{a}z", "{a}st"], &array(&["b", "c", "d"]));
        s.expect(&["ZINTERCARD", "2", "{a}z", "{a}st"], &int(1));
        s.expect(&["ZINTERCARD", "1", "{a}z", "LIMIT", "2"], &int(2));
        // STORE forms replace any type; an empty result deletes the destination.
        s.expect(&["SET", "{a}d", "x"], "+OK\r\n");
        s.expect(
            &[
                "ZINTERSTORE",
                "{a}d",
                "2",
                "{a}z",
                "{a}st",
                "WEIGHTS",
                "2",
                "0.5",
                "AGGREGATE",
                "MIN",
            ],
            &int(1),
        );
        s.expect(
            &["ZRANGE", "{a}d", "0", "-1", "WITHSCORES"],
            &s.scored(&[("a", "0.5")]),
        );
        s.expect(&["ZUNIONSTORE", "{a}d", "2", "{a}z", "{a}st"], &int(5));
        s.expect(&["ZDIFFSTORE", "{a}d", "2", "{a}z", "{a}st"], &int(3));
        s.expect(&["ZDIFFSTORE", "{a}d", "2", "{a}none", "{a}z"], &int(0));
        s.expect(&["EXISTS", "{a}d"], &int(0));
        s.expect(
            &[
                "ZRANGESTORE",
                "{a}d",
                "{a}z",
                "(1",
                "+inf",
                "BYSCORE",
                "LIMIT",
                "1",
                "1",
            ],
            &int(1),
        );
        s.expect(
            &["ZRANGE", "{a}d", "0", "-1", "WITHSCORES"],
            &s.scored(&[("c", "3")]),
        );
        s.expect(&["ZRANGESTORE", "{a}d", "{a}none", "0", "-1"], &int(0));
        s.expect(&["EXISTS", "{a}d"], &int(0));
        // Errors, WRONGTYPE before the options.
        s.expect(&["SET", "{a}str", "x"], "+OK\r\n");
        s.expect_error(&["ZUNION", "1", "{a}str", "WITHSCORES", "bad"], WRONGTYPE);
        s.expect_error(&["ZUNIONSTORE", "{a}d", "1", "{a}z", "WITHSCORES"], SYNTAX);
        s.expect_error(
            &["ZUNIONSTORE", "{a}d", "0", "{a}z"],
            "ERR at least 1 input key is needed for 'zunionstore' command",
        );
        s.expect_error(&["ZUNIONSTORE", "{a}d", "3", "{a}z"], SYNTAX);
        s.expect_error(
            &["ZUNION", "1", "{a}z", "WEIGHTS", "a"],
            "ERR weight value is not a float",
        );
        s.expect_error(&["ZUNION", "1", "{a}z", "AGGREGATE", "foo"], SYNTAX);
        s.expect_error(&["ZDIFF", "1", "{a}z", "WEIGHTS", "1"], SYNTAX);
        s.expect_error(
            &["ZRANGESTORE", "{a}d", "{a}z", "0", "-1", "WITHSCORES"],
            SYNTAX,
        );
        s.expect_error(&["ZINTERCARD", "1", "{a}str", "LIMIT", "-1"], WRONGTYPE);
        s.expect_error(
            &["ZINTERCARD", "1", "{a}z", "LIMIT", "-1"],
            "ERR LIMIT can't be negative",
        );
        s.expect_error(
            &["ZINTERCARD", "0", "{a}z"],
            "ERR at least 1 input key is needed for 'zintercard' command",
        );
        // COMMAND tells where the keys are: after a count, past the destination.
        let info = s.call(&["COMMAND", "INFO", "zunionstore"]);
        assert!(info.contains("movablekeys"), "{info:?}");
        s.expect(
            &[
                "COMMAND",
                "GETKEYS",
                "ZUNIONSTORE",
                "dst",
                "2",
                "k1",
                "k2",
                "WEIGHTS",
                "1",
                "2",
            ],
            &array(&["dst", "k1", "k2"]),
        );
    });
}

#[test]
fn large_sorted_sets_change_encoding_and_scan_every_member() {
    on_node_and_proxy(|s| {
        let mut args: Vec<String> = vec!["ZADD".into(), "big".into()];
        for i in 0..300 {
            args.push(format!("{}", i % 50));
            args.push(format!("member-{i:03}"));
        }
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        s.expect(&refs, &int(300));
        s.expect(&["OBJECT", "ENCODING", "big"], &bulk("skiplist"));
        s.expect(&["ZCARD", "big"], &int(300));
        // Ties order by member: score 0 holds member-000, -050, ..., -250.
        s.expect(&["ZRANK", "big", "member-050"], &int(1));
        s.expect(&["ZREVRANK", "big", "member-299"], &int(0));
        s.expect(&["ZCOUNT", "big", "10", "(20"], &int(60));
        s.expect(
            &["ZRANGE", "big", "10", "(11", "BYSCORE", "LIMIT", "2", "2"],
            &array(&["member-110", "member-160"]),
        );
        let mut seen = std::collections::BTreeSet::new();
        let mut cursor = "0".to_string();
        loop {
            let reply = s.call(&["ZSCAN", "big", &cursor, "COUNT", "20"]);
            let lines: Vec<&str> = reply.split("\r\n").collect();
            cursor = lines[2].to_string();
            let items: Vec<&str> = lines[4..].iter().skip(1).step_by(2).copied().collect();
            for pair in items.chunks(2) {
                if pair.len() == 2 && !pair[0].is_empty() {
                    seen.insert(pair[0].to_string());
                }
            }
            if cursor == "0" {
                break;
            }
        }
        assert_eq!(seen.len(), 300, "ZSCAN returns every member");
        s.expect(&["ZREMRANGEBYRANK", "big", "0", "249"], &int(250));
        s.expect(&["ZCARD", "big"], &int(50));
        s.expect(&["OBJECT", "ENCODING", "big"], &bulk("skiplist"));
        s.expect(&["ZADD", "small", "1", "a"], &int(1));
        s.expect(&["OBJECT", "ENCODING", "small"], &bulk("listpack"));
    });
}
