//! Lists, written from Redis 7.0's command reference: every command, option and error text,
//! asserted byte for byte (the replies were taken from redis-server 7.0.15) against a node and
//! through the proxy, in RESP2 and RESP3.

use cachering_tests::session::{on_node_and_proxy, Session};
use cachering_tests::{array, bulk, int};

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
const SYNTAX: &str = "ERR syntax error";
const NOT_INTEGER: &str = "ERR value is not an integer or out of range";

/// RESP2's null array (`*-1`), RESP3's null.
fn null_array(s: &Session) -> &'static str {
    if s.resp3 {
        "_\r\n"
    } else {
        "*-1\r\n"
    }
}

#[test]
fn push_pop_and_read_answer_as_redis() {
    on_node_and_proxy(|s| {
        let null = s.null();
        s.expect(&["RPUSH", "l", "a", "b", "c"], &int(3));
        s.expect(&["LPUSH", "l", "y", "z"], &int(5));
        s.expect(
            &["LRANGE", "l", "0", "-1"],
            &array(&["z", "y", "a", "b", "c"]),
        );
        s.expect(&["LRANGE", "l", "-2", "-1"], &array(&["b", "c"]));
        s.expect(&["LRANGE", "l", "-100", "1"], &array(&["z", "y"]));
        s.expect(&["LRANGE", "l", "3", "1"], "*0\r\n");
        s.expect(&["LRANGE", "nokey", "0", "-1"], "*0\r\n");
        s.expect(&["LLEN", "l"], &int(5));
        s.expect(&["LLEN", "nokey"], &int(0));
        s.expect(&["LINDEX", "l", "-1"], &bulk("c"));
        s.expect(&["LINDEX", "l", "100"], null);
        s.expect(&["LINDEX", "nokey", "x"], null);
        s.expect_error(&["LINDEX", "l", "x"], NOT_INTEGER);
        s.expect(&["LPUSHX", "nokey", "a"], &int(0));
        s.expect(&["RPUSHX", "l", "d"], &int(6));
        s.expect(&["EXISTS", "nokey"], &int(0));
        // Pops: one element, or with a count an array (a null array for a missing key).
        s.expect(&["LPOP", "l"], &bulk("z"));
        s.expect(&["RPOP", "l", "2"], &array(&["d", "c"]));
        s.expect(&["LPOP", "l", "0"], "*0\r\n");
        s.expect(&["LPOP", "nokey"], null);
        s.expect(&["LPOP", "nokey", "2"], null_array(s));
        s.expect_error(
            &["LPOP", "l", "-1"],
            "ERR value is out of range, must be positive",
        );
        s.expect_error(
            &["LPOP", "l", "x"],
            "ERR value is out of range, must be positive",
        );
        s.expect_error(
            &["LPOP", "l", "1", "2"],
            "ERR wrong number of arguments for 'lpop' command",
        );
        s.expect(&["RPOP", "l", "10"], &array(&["b", "a", "y"]));
        s.expect(&["EXISTS", "l"], &int(0));
        s.expect(&["SET", "str", "x"], "+OK\r\n");
        s.expect_error(&["LPUSH", "str", "a"], WRONGTYPE);
        s.expect_error(&["LRANGE", "str", "0", "1"], WRONGTYPE);
        s.expect_error(&["LPOP", "str", "0"], WRONGTYPE);
        s.expect_error(&["RPUSHX", "str", "a"], WRONGTYPE);
        s.expect(&["RPUSH", "l", "a"], &int(1));
        s.expect(&["TYPE", "l"], "+list\r\n");
        s.expect(&["OBJECT", "ENCODING", "l"], &bulk("quicklist"));
        s.expect_error(&["GET", "l"], WRONGTYPE);
    });
}

#[test]
fn edits_in_place_answer_as_redis() {
    on_node_and_proxy(|s| {
        let null = s.null();
        s.expect(&["RPUSH", "l", "a", "b", "c", "a", "b", "c"], &int(6));
        s.expect(&["LSET", "l", "-1", "last"], "+OK\r\n");
        s.expect_error(&["LSET", "l", "100", "x"], "ERR index out of range");
        s.expect_error(&["LSET", "nokey", "x", "v"], "ERR no such key");
        s.expect_error(&["LSET", "l", "x", "v"], NOT_INTEGER);
        s.expect(&["LINSERT", "l", "BEFORE", "b", "B"], &int(7));
        s.expect(&["LINSERT", "l", "after", "c", "C"], &int(8));
        s.expect(&["LINSERT", "l", "BEFORE", "zz", "x"], &int(-1));
        s.expect(&["LINSERT", "nokey", "BEFORE", "a", "x"], &int(0));
        s.expect_error(&["LINSERT", "l", "MIDDLE", "a", "x"], SYNTAX);
        s.expect(
            &["LRANGE", "l", "0", "-1"],
            &array(&["a", "B", "b", "c", "C", "a", "b", "last"]),
        );
        // LREM from the head, from the tail, or every match.
        s.expect(&["LREM", "l", "1", "a"], &int(1));
        s.expect(&["LREM", "l", "-1", "b"], &int(1));
        s.expect(&["LREM", "l", "0", "C"], &int(1));
        s.expect(&["LREM", "nokey", "0", "C"], &int(0));
        s.expect_error(&["LREM", "l", "x", "a"], NOT_INTEGER);
        s.expect(
            &["LRANGE", "l", "0", "-1"],
            &array(&["B", "b", "c", "a", "last"]),
        );
        // LPOS: RANK, COUNT (0: all), MAXLEN.
        s.expect(&["RPUSH", "p", "a", "b", "c", "a", "b", "c"], &int(6));
        s.expect(&["LPOS", "p", "a"], &int(0));
        s.expect(
            &["LPOS", "p", "a", "RANK", "-1", "COUNT", "0"],
            &format!("*2\r\n{}{}", int(3), int(0)),
        );
        s.expect(
            &["LPOS", "p", "a", "COUNT", "0", "RANK", "2"],
            &format!("*1\r\n{}", int(3)),
        );
        s.expect(
            &["LPOS", "p", "a", "COUNT", "0", "MAXLEN", "2"],
            &format!("*1\r\n{}", int(0)),
        );
        s.expect(&["LPOS", "p", "z"], null);
        s.expect(&["LPOS", "p", "z", "COUNT", "0"], "*0\r\n");
        s.expect(&["LPOS", "nokey", "a", "COUNT", "2"], "*0\r\n");
        s.expect_error(
            &["LPOS", "p", "a", "RANK", "0"],
            "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list",
        );
        s.expect_error(
            &["LPOS", "p", "a", "COUNT", "-1"],
            "ERR COUNT can't be negative",
        );
        s.expect_error(
            &["LPOS", "p", "a", "MAXLEN", "x"],
            "ERR MAXLEN can't be negative",
        );
        s.expect_error(&["LPOS", "p", "a", "RANK"], SYNTAX);
        s.expect_error(&["LPOS", "p", "a", "FOO", "1"], SYNTAX);
        // LTRIM keeps a range; an empty one deletes the key.
        s.expect(&["LTRIM", "p", "1", "-2"], "+OK\r\n");
        s.expect(&["LRANGE", "p", "0", "-1"], &array(&["b", "c", "a", "b"]));
        s.expect(&["LTRIM", "nokey", "0", "1"], "+OK\r\n");
        s.expect_error(&["LTRIM", "p", "x", "1"], NOT_INTEGER);
        s.expect(&["LTRIM", "p", "5", "1"], "+OK\r\n");
        s.expect(&["EXISTS", "p"], &int(0));
    });
}

#[test]
fn moves_and_lmpop_answer_as_redis() {
    on_node_and_proxy(|s| {
        let null = s.null();
        // Keys of one command share a {hash tag}, so the ring keeps them on one replica set.
        s.expect(&["RPUSH", "{m}l", "a", "b", "c", "d", "e"], &int(5));
        s.expect(&["LMOVE", "{m}l", "{m}d", "LEFT", "RIGHT"], &bulk("a"));
        s.expect(&["RPOPLPUSH", "{m}l", "{m}l"], &bulk("e"));
        s.expect(&["RPOPLPUSH", "{m}l", "{m}d"], &bulk("d"));
        s.expect(&["LRANGE", "{m}l", "0", "-1"], &array(&["e", "b", "c"]));
        s.expect(&["LRANGE", "{m}d", "0", "-1"], &array(&["d", "a"]));
        s.expect(&["LMOVE", "{m}none", "{m}d", "LEFT", "LEFT"], null);
        s.expect_error(&["LMOVE", "{m}l", "{m}d", "LEFT", "MIDDLE"], SYNTAX);
        s.expect(&["SET", "{m}str", "x"], "+OK\r\n");
        s.expect_error(&["LMOVE", "{m}str", "{m}d", "LEFT", "LEFT"], WRONGTYPE);
        s.expect_error(&["LMOVE", "{m}l", "{m}str", "LEFT", "LEFT"], WRONGTYPE);
        s.expect(&["LMOVE", "{m}none", "{m}str", "LEFT", "LEFT"], null);
        // LMPOP: the first non-empty list; [key, [elements]].
        s.expect(
            &["LMPOP", "2", "{m}none", "{m}l", "RIGHT", "COUNT", "2"],
            &format!("*2\r\n{}{}", bulk("{m}l"), array(&["c", "b"])),
        );
        s.expect(
            &["LMPOP", "1", "{m}l", "LEFT"],
            &format!("*2\r\n{}{}", bulk("{m}l"), array(&["e"])),
        );
        s.expect(&["LMPOP", "1", "{m}l", "LEFT"], null_array(s));
        s.expect_error(
            &["LMPOP", "0", "{m}l", "LEFT"],
            "ERR numkeys should be greater than 0",
        );
        s.expect_error(
            &["LMPOP", "x", "{m}l", "LEFT"],
            "ERR numkeys should be greater than 0",
        );
        s.expect_error(&["LMPOP", "2", "{m}l", "LEFT"], SYNTAX);
        s.expect_error(&["LMPOP", "1", "{m}d", "UP"], SYNTAX);
        s.expect_error(
            &["LMPOP", "1", "{m}d", "LEFT", "COUNT", "0"],
            "ERR count should be greater than 0",
        );
        s.expect_error(&["LMPOP", "1", "{m}d", "LEFT", "COUNT", "1", "x"], SYNTAX);
        s.expect_error(&["LMPOP", "2", "{m}none", "{m}str", "LEFT"], WRONGTYPE);
        // COMMAND tells where LMPOP's keys are.
        let info = s.call(&["COMMAND", "INFO", "lmpop"]);
        assert!(info.contains("movablekeys"), "{info:?}");
        s.expect(
            &["COMMAND", "GETKEYS", "LMPOP", "2", "k1", "k2", "LEFT"],
            &array(&["k1", "k2"]),
        );
    });
}

#[test]
fn long_lists_span_chunks() {
    on_node_and_proxy(|s| {
        // 2,000 elements of 20 bytes: about ten 4 KiB chunks.
        let elements: Vec<String> = (0..2000).map(|i| format!("element-{i:012}")).collect();
        for batch in elements.chunks(500) {
            let mut args = vec!["RPUSH", "long"];
            args.extend(batch.iter().map(String::as_str));
            let len = s.call(&args);
            assert!(len.starts_with(':'), "{len:?}");
        }
        s.expect(&["LLEN", "long"], &int(2000));
        s.expect(&["LINDEX", "long", "1234"], &bulk(&elements[1234]));
        s.expect(&["LINDEX", "long", "-1"], &bulk(&elements[1999]));
        s.expect(
            &["LRANGE", "long", "998", "1001"],
            &array(&[
                &elements[998],
                &elements[999],
                &elements[1000],
                &elements[1001],
            ]),
        );
        s.expect(&["LSET", "long", "1500", "changed"], "+OK\r\n");
        s.expect(
            &["LINSERT", "long", "AFTER", "changed", "inserted"],
            &int(2001),
        );
        s.expect(&["LPOS", "long", "inserted"], &int(1501));
        s.expect(&["LREM", "long", "0", "changed"], &int(1));
        s.expect(&["LINDEX", "long", "1500"], &bulk("inserted"));
        s.expect(&["LTRIM", "long", "1000", "1009"], "+OK\r\n");
        s.expect(&["LLEN", "long"], &int(10));
        s.expect(&["LINDEX", "long", "0"], &bulk(&elements[1000]));
    });
}
