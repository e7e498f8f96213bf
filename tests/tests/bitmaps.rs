//! Bitmaps, written from Redis 7.0's command reference: every command, option and error text,
//! asserted byte for byte (the replies were taken from redis-server 7.0.15) against a node and
//! through the proxy, in RESP2 and RESP3.

use cachering_tests::session::on_node_and_proxy;
use cachering_tests::{bulk, int};

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
const SYNTAX: &str = "ERR syntax error";
const BAD_OFFSET: &str = "ERR bit offset is not an integer or out of range";

fn ints(values: &[Option<i64>], null: &str) -> String {
    let mut out = format!("*{}\r\n", values.len());
    for value in values {
        match value {
            Some(n) => out.push_str(&int(*n)),
            None => out.push_str(null),
        }
    }
    out
}

#[test]
fn bits_answer_as_redis() {
    on_node_and_proxy(|s| {
        s.expect(&["SETBIT", "k", "7", "1"], &int(0));
        s.expect(&["SETBIT", "k", "7", "1"], &int(1));
        s.expect(&["SETBIT", "k", "100", "1"], &int(0));
        s.expect(&["STRLEN", "k"], &int(13));
        s.expect(&["GETBIT", "k", "7"], &int(1));
        s.expect(&["GETBIT", "k", "8"], &int(0));
        s.expect(&["GETBIT", "k", "1000000"], &int(0));
        s.expect(&["GETBIT", "nokey", "100"], &int(0));
        s.expect_error(&["SETBIT", "k", "-1", "1"], BAD_OFFSET);
        s.expect_error(&["SETBIT", "k", "4294967296", "1"], BAD_OFFSET);
        s.expect_error(
            &["SETBIT", "k", "7", "2"],
            "ERR bit is not an integer or out of range",
        );
        s.expect_error(&["GETBIT", "k", "x"], BAD_OFFSET);
        // "abc": 0x61 0x62 0x63.
        s.expect(&["SET", "str", "abc"], "+OK\r\n");
        s.expect(&["BITCOUNT", "str"], &int(10));
        s.expect(&["BITCOUNT", "str", "1", "-1"], &int(7));
        s.expect(&["BITCOUNT", "str", "0", "1", "BIT"], &int(1));
        s.expect(&["BITCOUNT", "str", "-2", "-1", "BIT"], &int(2));
        s.expect(&["BITCOUNT", "str", "5", "30", "BIT"], &int(8));
        s.expect(&["BITCOUNT", "nokey", "x"], &int(0));
        s.expect_error(&["BITCOUNT", "str", "0"], SYNTAX);
        s.expect_error(&["BITCOUNT", "str", "0", "1", "FOO"], SYNTAX);
        s.expect(&["BITPOS", "str", "1"], &int(1));
        s.expect(&["BITPOS", "str", "0"], &int(0));
        s.expect(&["BITPOS", "str", "1", "1"], &int(9));
        s.expect(&["BITPOS", "str", "1", "7", "15", "BIT"], &int(7));
        s.expect(&["BITPOS", "str", "1", "100"], &int(-1));
        s.expect(&["BITPOS", "nokey", "1"], &int(-1));
        s.expect(&["BITPOS", "nokey", "0"], &int(0));
        s.expect_error(
            &["BITPOS", "str", "2"],
            "ERR The bit argument must be 1 or 0.",
        );
        // A string of set bits: a clear bit past its end, unless an end is given.
        s.expect(&["SETBIT", "ones", "0", "1"], &int(0));
        s.expect(
            &["BITFIELD", "ones", "SET", "u8", "0", "255"],
            "*1\r\n:128\r\n",
        );
        s.expect(&["BITPOS", "ones", "0"], &int(8));
        s.expect(&["BITPOS", "ones", "0", "0", "-1"], &int(-1));
        s.expect(&["SADD", "set", "a"], &int(1));
        s.expect_error(&["SETBIT", "set", "0", "1"], WRONGTYPE);
        s.expect_error(&["BITCOUNT", "set"], WRONGTYPE);
    });
}

#[test]
fn bitop_and_bitfield_answer_as_redis() {
    on_node_and_proxy(|s| {
        let null = s.null();
        // Keys of one BITOP share a {hash tag}, so the ring keeps them on one replica set.
        s.expect(&["SET", "{b}x", "abc"], "+OK\r\n");
        s.expect(&["SET", "{b}y", "ab"], "+OK\r\n");
        s.expect(&["BITOP", "AND", "{b}d", "{b}x", "{b}none"], &int(3));
        s.expect(&["GET", "{b}d"], &bulk("\0\0\0"));
        s.expect(&["BITOP", "XOR", "{b}d", "{b}x", "{b}y"], &int(3));
        s.expect(&["GET", "{b}d"], &bulk("\0\0c"));
        s.expect(&["BITOP", "OR", "{b}d", "{b}none"], &int(0));
        s.expect(&["EXISTS", "{b}d"], &int(0));
        s.expect_error(&["BITOP", "FOO", "{b}d", "{b}x"], SYNTAX);
        s.expect_error(
            &["BITOP", "NOT", "{b}d", "{b}x", "{b}y"],
            "ERR BITOP NOT must be called with a single source key.",
        );
        // BITFIELD: SET answers the old value, INCRBY the new one, FAIL a nil.
        s.expect(
            &["BITFIELD", "f", "SET", "u8", "0", "300", "GET", "u8", "0"],
            &ints(&[Some(0), Some(44)], null),
        );
        s.expect(
            &[
                "BITFIELD", "f", "OVERFLOW", "SAT", "SET", "u8", "0", "-1", "GET", "u8", "0",
            ],
            &ints(&[Some(44), Some(255)], null),
        );
        s.expect(
            &[
                "BITFIELD", "f", "OVERFLOW", "FAIL", "INCRBY", "u8", "0", "1",
            ],
            &ints(&[None], null),
        );
        s.expect(
            &[
                "BITFIELD", "f", "OVERFLOW", "WRAP", "INCRBY", "i8", "0", "200", "GET", "i8", "0",
                "OVERFLOW", "SAT", "INCRBY", "i8", "0", "-500",
            ],
            &ints(&[Some(-57), Some(-57), Some(-128)], null),
        );
        s.expect(
            &[
                "BITFIELD", "f", "SET", "u5", "#3", "31", "GET", "u5", "#3", "GET", "i5", "#3",
            ],
            &ints(&[Some(0), Some(31), Some(-1)], null),
        );
        s.expect(
            &["BITFIELD_RO", "f", "GET", "u8", "0"],
            &ints(&[Some(128)], null),
        );
        s.expect(
            &["BITFIELD_RO", "nokey", "GET", "i16", "3"],
            &ints(&[Some(0)], null),
        );
        // A failed write still creates the key, as in Redis.
        s.expect(
            &[
                "BITFIELD", "new", "OVERFLOW", "FAIL", "INCRBY", "u2", "0", "10",
            ],
            &ints(&[None], null),
        );
        s.expect(&["GET", "new"], &bulk("\0"));
        s.expect_error(
            &["BITFIELD", "f", "GET", "u64", "0"],
            "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.",
        );
        s.expect_error(&["BITFIELD", "f", "GET", "u8", "-1"], BAD_OFFSET);
        s.expect_error(
            &["BITFIELD", "f", "OVERFLOW", "FOO"],
            "ERR Invalid OVERFLOW type specified",
        );
        s.expect_error(&["BITFIELD", "f", "GET"], SYNTAX);
        s.expect_error(
            &["BITFIELD", "f", "INCRBY", "i8", "0", "x"],
            "ERR value is not an integer or out of range",
        );
        s.expect_error(
            &["BITFIELD_RO", "f", "SET", "u8", "0", "1"],
            "ERR BITFIELD_RO only supports the GET subcommand",
        );
        s.expect(&["SADD", "set", "a"], &int(1));
        s.expect_error(&["BITFIELD", "set", "GET", "u8", "0"], WRONGTYPE);
    });
}
