//! Every node command over real TCP against a `cachering node` process, in RESP2 and RESP3,
//! asserting the exact reply bytes Redis 7 sends.

use cachering_tests::session::{each_endpoint_and_protocol, Session};
use cachering_tests::{bulk, int, Client, NodeProcess};

fn both_protocols(test: impl Fn(&mut Session)) {
    let node = NodeProcess::start(&[]);
    each_endpoint_and_protocol(&[node.addr], test);
}

#[test]
fn get_set_and_options() {
    both_protocols(|s| {
        let null = s.null();
        s.expect(&["GET", "k"], null);
        s.expect(&["SET", "k", "v"], "+OK\r\n");
        s.expect(&["GET", "k"], &bulk("v"));
        s.expect(&["SET", "k", "w", "NX"], null);
        s.expect(&["SET", "k", "w", "XX"], "+OK\r\n");
        s.expect(&["SET", "other", "w", "XX"], null);
        s.expect(&["SET", "k", "x", "GET"], &bulk("w"));
        s.expect(&["SET", "new", "x", "NX", "GET"], null);
        s.expect(&["SET", "k", "y", "EX", "100"], "+OK\r\n");
        s.expect(&["TTL", "k"], &int(100));
        s.expect(&["SET", "k", "z", "KEEPTTL"], "+OK\r\n");
        s.expect(&["TTL", "k"], &int(100));
        s.expect(&["SET", "k", "z"], "+OK\r\n");
        s.expect(&["TTL", "k"], &int(-1));
        s.expect(&["SET", "k", "p", "PX", "100000"], "+OK\r\n");
        let pttl: i64 = s
            .call(&["PTTL", "k"])
            .trim_start_matches(':')
            .trim()
            .parse()
            .unwrap();
        assert!((99_000..=100_000).contains(&pttl), "{pttl}");
        s.expect(&["SET", "k", "a", "EXAT", "4102444800"], "+OK\r\n");
        s.expect(&["EXPIRETIME", "k"], &int(4_102_444_800));
        s.expect(&["SET", "k", "a", "PXAT", "4102444800123"], "+OK\r\n");
        s.expect(&["PEXPIRETIME", "k"], &int(4_102_444_800_123));
        s.expect(&["SET", "gone", "a", "EXAT", "1"], "+OK\r\n");
        s.expect(&["EXISTS", "gone"], &int(0));
        s.expect_error(
            &["SET", "k", "v", "EX", "0"],
            "ERR invalid expire time in 'set' command",
        );
        s.expect_error(
            &["SET", "k", "v", "EX", "-5"],
            "ERR invalid expire time in 'set' command",
        );
        s.expect_error(
            &["SET", "k", "v", "EX", "abc"],
            "ERR value is not an integer or out of range",
        );
        s.expect_error(
            &["SET", "k", "v", "EX", "9223372036854775807"],
            "ERR invalid expire time in 'set' command",
        );
        s.expect_error(&["SET", "k", "v", "NX", "XX"], "ERR syntax error");
        s.expect_error(
            &["SET", "k", "v", "EX", "10", "PX", "10"],
            "ERR syntax error",
        );
        s.expect_error(
            &["SET", "k", "v", "KEEPTTL", "EX", "10"],
            "ERR syntax error",
        );
        s.expect_error(&["SET", "k", "v", "EX"], "ERR syntax error");
        s.expect_error(&["SET", "k", "v", "BOGUS"], "ERR syntax error");
        s.expect_error(
            &["SET", "k"],
            "ERR wrong number of arguments for 'set' command",
        );
        s.expect_error(&["GET"], "ERR wrong number of arguments for 'get' command");
        s.expect(&["set", "lower", "case"], "+OK\r\n");
        s.expect(&["gEt", "lower"], &bulk("case"));
    });
}

#[test]
fn string_variants() {
    both_protocols(|s| {
        let null = s.null();
        s.expect(&["SETNX", "a", "1"], &int(1));
        s.expect(&["SETNX", "a", "2"], &int(0));
        s.expect(&["GET", "a"], &bulk("1"));
        s.expect(&["SETEX", "b", "50", "v"], "+OK\r\n");
        s.expect(&["TTL", "b"], &int(50));
        s.expect_error(
            &["SETEX", "b", "0", "v"],
            "ERR invalid expire time in 'setex' command",
        );
        s.expect(&["PSETEX", "c", "50000", "v"], "+OK\r\n");
        s.expect(&["TTL", "c"], &int(50));
        s.expect_error(
            &["PSETEX", "c", "-1", "v"],
            "ERR invalid expire time in 'psetex' command",
        );
        s.expect(&["GETSET", "b", "new"], &bulk("v"));
        s.expect(&["TTL", "b"], &int(-1));
        s.expect(&["GETSET", "nokey", "x"], null);
        s.expect(&["GETDEL", "b"], &bulk("new"));
        s.expect(&["GETDEL", "b"], null);
        s.expect(&["GETEX", "a", "EX", "30"], &bulk("1"));
        s.expect(&["TTL", "a"], &int(30));
        s.expect(&["GETEX", "a", "PERSIST"], &bulk("1"));
        s.expect(&["TTL", "a"], &int(-1));
        s.expect(&["GETEX", "a", "PX", "40000"], &bulk("1"));
        s.expect(&["TTL", "a"], &int(40));
        s.expect(&["GETEX", "a", "EXAT", "4102444800"], &bulk("1"));
        s.expect(&["GETEX", "a", "PXAT", "4102444800000"], &bulk("1"));
        s.expect(&["GETEX", "a"], &bulk("1"));
        s.expect(&["GETEX", "missing", "EX", "5"], null);
        s.expect_error(
            &["GETEX", "a", "EX", "0"],
            "ERR invalid expire time in 'getex' command",
        );
        s.expect_error(&["GETEX", "a", "PERSIST", "EX", "5"], "ERR syntax error");
        s.expect(&["MSET", "m1", "x", "m2", "y"], "+OK\r\n");
        s.expect(
            &["MGET", "m1", "nope", "m2"],
            &format!("*3\r\n{}{null}{}", bulk("x"), bulk("y")),
        );
        s.expect_error(
            &["MSET", "m1", "x", "m2"],
            "ERR wrong number of arguments for 'mset' command",
        );
        s.expect(&["MSETNX", "m1", "z", "m3", "z"], &int(0));
        s.expect(&["EXISTS", "m3"], &int(0));
        s.expect(&["MSETNX", "m3", "z", "m4", "z"], &int(1));
        s.expect(
            &["MGET", "m3", "m4"],
            &format!("*2\r\n{}{}", bulk("z"), bulk("z")),
        );
        // A key given twice takes its last value, as in Redis.
        s.expect(&["MSETNX", "m5", "first", "m5", "last"], &int(1));
        s.expect(&["GET", "m5"], &bulk("last"));
        s.expect(&["APPEND", "ap", "Hello"], &int(5));
        s.expect(&["APPEND", "ap", " World"], &int(11));
        s.expect(&["STRLEN", "ap"], &int(11));
        s.expect(&["STRLEN", "nope"], &int(0));
        s.expect(&["GETRANGE", "ap", "0", "4"], &bulk("Hello"));
        s.expect(&["GETRANGE", "ap", "-5", "-1"], &bulk("World"));
        s.expect(&["GETRANGE", "ap", "0", "-1"], &bulk("Hello World"));
        s.expect(&["GETRANGE", "ap", "5", "3"], &bulk(""));
        s.expect(&["GETRANGE", "ap", "-1", "-5"], &bulk(""));
        s.expect(&["GETRANGE", "ap", "0", "100"], &bulk("Hello World"));
        s.expect(&["GETRANGE", "nope", "0", "-1"], &bulk(""));
        s.expect_error(
            &["GETRANGE", "ap", "a", "1"],
            "ERR value is not an integer or out of range",
        );
        s.expect(&["SETRANGE", "ap", "6", "Redis"], &int(11));
        s.expect(&["GET", "ap"], &bulk("Hello Redis"));
        s.expect(&["SETRANGE", "pad", "3", "x"], &int(4));
        s.expect(&["GET", "pad"], &bulk("\0\0\0x"));
        s.expect(&["SETRANGE", "empty", "5", ""], &int(0));
        s.expect(&["EXISTS", "empty"], &int(0));
        s.expect_error(&["SETRANGE", "ap", "-1", "x"], "ERR offset is out of range");
        s.expect_error(
            &["SETRANGE", "ap", "536870911", "xx"],
            "ERR string exceeds maximum allowed size (proto-max-bulk-len)",
        );
    });
}

#[test]
fn counters() {
    both_protocols(|s| {
        s.expect(&["INCR", "n"], &int(1));
        s.expect(&["INCRBY", "n", "41"], &int(42));
        s.expect(&["DECR", "n"], &int(41));
        s.expect(&["DECRBY", "n", "51"], &int(-10));
        s.expect(&["SET", "n", "10", "EX", "100"], "+OK\r\n");
        s.expect(&["INCR", "n"], &int(11));
        s.expect(&["TTL", "n"], &int(100));
        s.expect(&["SET", "s", "abc"], "+OK\r\n");
        s.expect_error(
            &["INCR", "s"],
            "ERR value is not an integer or out of range",
        );
        s.expect(&["SET", "s", " 1"], "+OK\r\n");
        s.expect_error(
            &["INCR", "s"],
            "ERR value is not an integer or out of range",
        );
        s.expect_error(
            &["INCRBY", "n", "x"],
            "ERR value is not an integer or out of range",
        );
        s.expect(&["SET", "max", "9223372036854775807"], "+OK\r\n");
        s.expect_error(
            &["INCR", "max"],
            "ERR increment or decrement would overflow",
        );
        s.expect(&["SET", "min", "-9223372036854775808"], "+OK\r\n");
        s.expect_error(
            &["DECR", "min"],
            "ERR increment or decrement would overflow",
        );
        s.expect_error(
            &["DECRBY", "n", "-9223372036854775808"],
            "ERR decrement would overflow",
        );
        s.expect(&["INCRBYFLOAT", "f", "10.5"], &bulk("10.5"));
        s.expect(&["INCRBYFLOAT", "f", "0.1"], &bulk("10.6"));
        s.expect(&["INCRBYFLOAT", "f", "-5"], &bulk("5.6"));
        s.expect(&["SET", "f", "5.0e3"], "+OK\r\n");
        s.expect(&["INCRBYFLOAT", "f", "2.0e2"], &bulk("5200"));
        s.expect_error(
            &["INCRBYFLOAT", "f", "abc"],
            "ERR value is not a valid float",
        );
        s.expect_error(&["INCRBYFLOAT", "s", "1"], "ERR value is not a valid float");
        s.expect_error(
            &["INCRBYFLOAT", "f", "inf"],
            "ERR increment would produce NaN or Infinity",
        );
        s.expect_error(
            &["INCRBYFLOAT", "f", "nan"],
            "ERR value is not a valid float",
        );
    });
}

#[test]
fn keys_and_scan() {
    both_protocols(|s| {
        let null = s.null();
        s.expect(&["RANDOMKEY"], null);
        s.expect(&["DBSIZE"], &int(0));
        for i in 0..25 {
            s.expect(&["SET", &format!("user:{i}"), "v"], "+OK\r\n");
        }
        s.expect(&["SET", "other", "v"], "+OK\r\n");
        s.expect(&["DBSIZE"], &int(26));
        s.expect(&["EXISTS", "user:1", "user:1", "nope"], &int(2));
        s.expect(&["TOUCH", "user:1", "nope"], &int(1));
        s.expect(&["TYPE", "user:1"], "+string\r\n");
        s.expect(&["TYPE", "nope"], "+none\r\n");
        let keys = s.call(&["KEYS", "user:1?"]);
        assert!(keys.starts_with("*10\r\n"), "{keys}");
        let keys = s.call(&["KEYS", "oth[a-f]r"]);
        assert_eq!(keys, format!("*1\r\n{}", bulk("other")));
        let random = s.call(&["RANDOMKEY"]);
        assert!(random.starts_with('$'), "{random}");
        // A full SCAN returns every key, with MATCH applied.
        let mut cursor = "0".to_string();
        let mut seen = std::collections::HashSet::new();
        loop {
            let reply = s.call(&["SCAN", &cursor, "MATCH", "user:*", "COUNT", "5"]);
            let lines: Vec<&str> = reply.split("\r\n").collect();
            assert_eq!(lines[0], "*2");
            cursor = lines[2].to_string();
            for key in lines[4..].iter().skip(1).step_by(2) {
                if !key.is_empty() {
                    seen.insert(key.to_string());
                }
            }
            if cursor == "0" {
                break;
            }
        }
        assert_eq!(seen.len(), 25, "{seen:?}");
        // TYPE filters out every key (a node holds strings only), but the walk still ends.
        let mut cursor = "0".to_string();
        loop {
            let reply = s.call(&["SCAN", &cursor, "TYPE", "hash"]);
            let lines: Vec<&str> = reply.split("\r\n").collect();
            assert_eq!(lines[3], "*0", "{reply}");
            cursor = lines[2].to_string();
            if cursor == "0" {
                break;
            }
        }
        s.expect_error(&["SCAN", "abc"], "ERR invalid cursor");
        s.expect_error(&["SCAN", "0", "COUNT", "0"], "ERR syntax error");
        s.expect_error(
            &["SCAN", "0", "COUNT", "x"],
            "ERR value is not an integer or out of range",
        );
        s.expect_error(&["SCAN", "0", "MATCH"], "ERR syntax error");
        s.expect(&["DEL", "user:1", "user:2", "nope"], &int(2));
        s.expect(&["UNLINK", "user:3"], &int(1));
        s.expect(&["DBSIZE"], &int(23));
        s.expect(&["FLUSHDB"], "+OK\r\n");
        s.expect(&["DBSIZE"], &int(0));
        s.expect(&["SET", "x", "1"], "+OK\r\n");
        s.expect(&["FLUSHALL", "ASYNC"], "+OK\r\n");
        s.expect(&["FLUSHALL", "SYNC"], "+OK\r\n");
        s.expect_error(&["FLUSHALL", "LATER"], "ERR syntax error");
        s.expect(&["EXISTS", "x"], &int(0));
    });
}

#[test]
fn expiry_commands() {
    both_protocols(|s| {
        s.expect(&["TTL", "nope"], &int(-2));
        s.expect(&["PTTL", "nope"], &int(-2));
        s.expect(&["EXPIRETIME", "nope"], &int(-2));
        s.expect(&["SET", "k", "v"], "+OK\r\n");
        s.expect(&["TTL", "k"], &int(-1));
        s.expect(&["PEXPIRETIME", "k"], &int(-1));
        s.expect(&["EXPIRE", "k", "100", "XX"], &int(0));
        s.expect(&["EXPIRE", "k", "100", "GT"], &int(0));
        s.expect(&["EXPIRE", "k", "100", "NX"], &int(1));
        s.expect(&["EXPIRE", "k", "200", "NX"], &int(0));
        s.expect(&["EXPIRE", "k", "50", "GT"], &int(0));
        s.expect(&["EXPIRE", "k", "200", "GT"], &int(1));
        s.expect(&["TTL", "k"], &int(200));
        s.expect(&["EXPIRE", "k", "300", "LT"], &int(0));
        s.expect(&["EXPIRE", "k", "150", "LT"], &int(1));
        s.expect(&["PEXPIRE", "k", "120000"], &int(1));
        s.expect(&["TTL", "k"], &int(120));
        s.expect(&["EXPIREAT", "k", "4102444800"], &int(1));
        s.expect(&["EXPIRETIME", "k"], &int(4_102_444_800));
        s.expect(&["PEXPIREAT", "k", "4102444800500"], &int(1));
        s.expect(&["PEXPIRETIME", "k"], &int(4_102_444_800_500));
        s.expect(&["PERSIST", "k"], &int(1));
        s.expect(&["PERSIST", "k"], &int(0));
        s.expect(&["TTL", "k"], &int(-1));
        s.expect(&["EXPIRE", "k", "100", "LT"], &int(1));
        s.expect(&["EXPIRE", "nope", "100"], &int(0));
        s.expect_error(
            &["EXPIRE", "k", "100", "NX", "XX"],
            "ERR NX and XX, GT or LT options at the same time are not compatible",
        );
        s.expect_error(
            &["EXPIRE", "k", "100", "GT", "LT"],
            "ERR GT and LT options at the same time are not compatible",
        );
        s.expect_error(&["EXPIRE", "k", "100", "FOO"], "ERR Unsupported option FOO");
        s.expect_error(
            &["EXPIRE", "k", "abc"],
            "ERR value is not an integer or out of range",
        );
        s.expect_error(
            &["EXPIRE", "k", "9223372036854775807"],
            "ERR invalid expire time in 'expire' command",
        );
        s.expect(&["EXPIRE", "k", "-1"], &int(1));
        s.expect(&["EXISTS", "k"], &int(0));
        s.expect(&["SET", "short", "v", "PX", "30"], "+OK\r\n");
        std::thread::sleep(std::time::Duration::from_millis(60));
        s.expect(&["GET", "short"], s.null());
        s.expect(&["TTL", "short"], &int(-2));
    });
}

#[test]
fn connection_commands() {
    both_protocols(|s| {
        s.expect(&["PING"], "+PONG\r\n");
        s.expect(&["PING", "hi"], &bulk("hi"));
        s.expect_error(
            &["PING", "a", "b"],
            "ERR wrong number of arguments for 'ping' command",
        );
        s.expect(&["ECHO", "hello world"], &bulk("hello world"));
        s.expect(&["SELECT", "0"], "+OK\r\n");
        s.expect_error(&["SELECT", "1"], "ERR DB index is out of range");
        s.expect_error(
            &["SELECT", "x"],
            "ERR value is not an integer or out of range",
        );
        s.expect_error(&["AUTH", "pw"], "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?");
        s.expect(&["CLIENT", "SETNAME", "tester"], "+OK\r\n");
        s.expect(&["CLIENT", "GETNAME"], &bulk("tester"));
        s.expect_error(
            &["CLIENT", "SETNAME", "bad name"],
            "ERR Client names cannot contain spaces, newlines or special characters.",
        );
        s.expect(&["CLIENT", "SETINFO", "LIB-NAME", "mylib"], "+OK\r\n");
        s.expect(&["CLIENT", "SETINFO", "lib-ver", "1.2"], "+OK\r\n");
        s.expect_error(
            &["CLIENT", "SETINFO", "color", "red"],
            "ERR Unrecognized option 'color'",
        );
        let id = s.call(&["CLIENT", "ID"]);
        assert!(id.starts_with(':'), "{id}");
        let info = s.call(&["CLIENT", "INFO"]);
        assert!(
            info.contains("name=tester")
                && info.contains("lib-name=mylib")
                && info.contains("lib-ver=1.2"),
            "{info}"
        );
        let list = s.call(&["CLIENT", "LIST"]);
        assert!(
            list.contains(&format!("id={}", id.trim().trim_start_matches(':'))),
            "{list}"
        );
        s.expect_error(
            &["CLIENT", "FOO"],
            "ERR unknown subcommand 'FOO'. Try CLIENT HELP.",
        );
        s.expect_error(
            &["CLIENT", "SETNAME"],
            "ERR wrong number of arguments for 'client|setname' command",
        );
        s.expect_error(&["CLIENT", "KILL", "1.2.3.4:5"], "ERR No such client");
        s.expect(&["CLIENT", "KILL", "ID", "999999"], &int(0));
        // CLIENT UNBLOCK: 0 for a client that is not blocked; Redis's errors.
        s.expect(&["CLIENT", "UNBLOCK", "999999"], &int(0));
        s.expect(&["CLIENT", "UNBLOCK", "1", "ERROR"], &int(0));
        s.expect_error(
            &["CLIENT", "UNBLOCK", "x"],
            "ERR value is not an integer or out of range",
        );
        s.expect_error(
            &["CLIENT", "UNBLOCK", "1", "FOO"],
            "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR",
        );
        s.expect_error(&["HELLO", "4"], "NOPROTO unsupported protocol version");
        s.expect_error(
            &["HELLO", "x"],
            "ERR Protocol version is not an integer or out of range",
        );
        s.expect_error(
            &["HELLO", "3", "FOO"],
            "ERR Syntax error in HELLO option 'FOO'",
        );
        let time = s.call(&["TIME"]);
        assert!(time.starts_with("*2\r\n$10\r\n"), "{time}");
        s.expect_error(
            &["NOSUCH", "a", "b"],
            "ERR unknown command 'NOSUCH', with args beginning with: 'a' 'b' ",
        );
        s.expect(&["PING"], "+PONG\r\n");
    });
}

#[test]
fn hello_switches_protocol_and_reset_restores_it() {
    let node = NodeProcess::start(&[]);
    let mut c = node.client();
    c.call(&["SET", "k", "v"]);
    assert_eq!(c.call(&["GET", "nope"]), "$-1\r\n");
    c.set_resp3(true);
    let hello = c.call(&["HELLO", "3", "SETNAME", "n1"]);
    assert!(
        hello.contains("proto\r\n:3\r\n") && hello.contains("$6\r\nserver\r\n$5\r\nredis\r\n"),
        "{hello}"
    );
    assert_eq!(c.call(&["GET", "nope"]), "_\r\n");
    assert_eq!(c.call(&["CLIENT", "GETNAME"]), bulk("n1"));
    assert_eq!(c.call(&["RESET"]), "+RESET\r\n");
    c.set_resp3(false);
    assert_eq!(c.call(&["GET", "nope"]), "$-1\r\n");
    assert_eq!(c.call(&["CLIENT", "GETNAME"]), "$-1\r\n");
    let hello2 = c.call(&["HELLO"]);
    assert!(
        hello2.starts_with("*14\r\n") && hello2.contains("proto\r\n:2\r\n"),
        "{hello2}"
    );
}

#[test]
fn transactions() {
    both_protocols(|s| {
        s.expect(&["MULTI"], "+OK\r\n");
        s.expect(&["SET", "t", "1"], "+QUEUED\r\n");
        s.expect(&["INCR", "t"], "+QUEUED\r\n");
        s.expect(&["GET", "t"], "+QUEUED\r\n");
        s.expect(&["EXEC"], &format!("*3\r\n+OK\r\n{}{}", int(2), bulk("2")));
        s.expect(&["MULTI"], "+OK\r\n");
        s.expect_error(&["MULTI"], "ERR MULTI calls can not be nested");
        s.expect(&["SET", "t", "x"], "+QUEUED\r\n");
        s.expect(&["INCR", "t"], "+QUEUED\r\n");
        s.expect(
            &["EXEC"],
            "*2\r\n+OK\r\n-ERR value is not an integer or out of range\r\n",
        );
        s.expect(&["MULTI"], "+OK\r\n");
        s.expect_error(&["GET"], "ERR wrong number of arguments for 'get' command");
        s.expect_error(
            &["NOSUCH"],
            "ERR unknown command 'NOSUCH', with args beginning with: ",
        );
        s.expect_error(
            &["EXEC"],
            "EXECABORT Transaction discarded because of previous errors.",
        );
        s.expect(&["MULTI"], "+OK\r\n");
        s.expect(&["SET", "t", "never"], "+QUEUED\r\n");
        s.expect(&["DISCARD"], "+OK\r\n");
        s.expect(&["GET", "t"], &bulk("x"));
        s.expect_error(&["EXEC"], "ERR EXEC without MULTI");
        s.expect_error(&["DISCARD"], "ERR DISCARD without MULTI");
        s.expect(&["MULTI"], "+OK\r\n");
        s.expect_error(
            &["SHUTDOWN"],
            "ERR Command not allowed inside a transaction",
        );
        s.expect_error(
            &["EXEC"],
            "EXECABORT Transaction discarded because of previous errors.",
        );
    });
}

#[test]
fn server_commands() {
    both_protocols(|s| {
        let info = s.call(&["INFO"]);
        for field in [
            "redis_version:",
            "run_id:",
            "connected_clients:",
            "used_memory:",
            "maxmemory:",
            "keyspace_hits:",
            "total_commands_processed:",
            "# Keyspace",
        ] {
            assert!(info.contains(field), "INFO lacks {field}");
        }
        if s.resp3 {
            assert!(
                info.starts_with('='),
                "RESP3 INFO is a verbatim string: {}",
                &info[..20]
            );
        }
        let server = s.call(&["INFO", "server"]);
        assert!(server.contains("run_id:") && !server.contains("# Memory"));
        // The sections Redis 7.0 prints by default that tools read: cpu, cluster (redis-py's
        // own test setup asks cluster_enabled), keyspace; in Redis's order.
        for section in ["# Replication", "# CPU", "# Cluster", "# Keyspace"] {
            assert!(info.contains(section), "INFO lacks {section}");
        }
        let order: Vec<usize> = [
            "# Stats",
            "# Replication",
            "# CPU",
            "# Cluster",
            "# Keyspace",
        ]
        .iter()
        .map(|section| info.find(section).unwrap())
        .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
        let cluster = s.call(&["INFO", "cluster"]);
        assert!(cluster.contains("cluster_enabled:0") && !cluster.contains("# Server"));
        let cpu = s.call(&["INFO", "cpu"]);
        let used: Vec<f64> = [
            "used_cpu_sys:",
            "used_cpu_user:",
            "used_cpu_sys_children:",
            "used_cpu_user_children:",
        ]
        .iter()
        .map(|field| {
            let at = cpu
                .find(field)
                .unwrap_or_else(|| panic!("{cpu} lacks {field}"));
            let rest = &cpu[at + field.len()..];
            rest[..rest.find('\r').unwrap()].parse().unwrap()
        })
        .collect();
        assert!(
            used[0] + used[1] > 0.0,
            "a running node has used some CPU: {cpu}"
        );
        let map = s.map(1);
        s.expect(
            &["CONFIG", "GET", "maxclients"],
            &format!("{map}{}{}", bulk("maxclients"), bulk("10000")),
        );
        s.expect(&["CONFIG", "SET", "maxclients", "500"], "+OK\r\n");
        s.expect(
            &["CONFIG", "GET", "maxclients"],
            &format!("{map}{}{}", bulk("maxclients"), bulk("500")),
        );
        s.expect(&["CONFIG", "SET", "maxmemory", "128mb"], "+OK\r\n");
        s.expect(
            &["CONFIG", "GET", "maxmemory"],
            &format!("{map}{}{}", bulk("maxmemory"), bulk("134217728")),
        );
        s.expect_error(
            &["CONFIG", "SET", "nosuch", "1"],
            "ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'",
        );
        s.expect_error(&["CONFIG", "SET", "maxmemory", "lots"], "ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value");
        s.expect(&["CONFIG", "RESETSTAT"], "+OK\r\n");
        s.expect_error(
            &["CONFIG", "FOO"],
            "ERR unknown subcommand 'FOO'. Try CONFIG HELP.",
        );
        let count = s.call(&["COMMAND", "COUNT"]);
        let count: usize = count.trim().trim_start_matches(':').parse().unwrap();
        assert!(count >= 55, "{count}");
        let get_info = s.call(&["COMMAND", "INFO", "get"]);
        assert!(
            get_info.starts_with("*1\r\n*10\r\n$3\r\nget\r\n:2\r\n"),
            "{get_info}"
        );
        let docs = s.call(&["COMMAND", "DOCS", "set"]);
        assert!(docs.contains("summary") && docs.contains("since"), "{docs}");
        let list = s.call(&["COMMAND", "LIST", "FILTERBY", "PATTERN", "get*"]);
        assert!(
            list.contains("getex") && list.contains("getrange") && !list.contains("$3\r\nset\r\n"),
            "{list}"
        );
        s.expect(
            &["COMMAND", "GETKEYS", "MSET", "a", "1", "b", "2"],
            &format!("*2\r\n{}{}", bulk("a"), bulk("b")),
        );
        // GETKEYSANDFLAGS: each key with Redis 7.0's key-spec flags (replies taken from
        // redis-server 7.0.15).
        s.expect(
            &["COMMAND", "GETKEYSANDFLAGS", "LMOVE", "a", "b", "LEFT", "LEFT"],
            "*2\r\n*2\r\n$1\r\na\r\n*3\r\n+RW\r\n+access\r\n+delete\r\n*2\r\n$1\r\nb\r\n*2\r\n+RW\r\n+insert\r\n",
        );
        s.expect(
            &["COMMAND", "GETKEYSANDFLAGS", "ZUNIONSTORE", "d", "2", "a", "b"],
            "*3\r\n*2\r\n$1\r\nd\r\n*2\r\n+OW\r\n+update\r\n*2\r\n$1\r\na\r\n*2\r\n+RO\r\n+access\r\n*2\r\n$1\r\nb\r\n*2\r\n+RO\r\n+access\r\n",
        );
        // Flags that depend on the arguments: SET with GET reads; BITFIELD of GETs only reads.
        s.expect(
            &["COMMAND", "GETKEYSANDFLAGS", "SET", "k", "v", "NX"],
            "*1\r\n*2\r\n$1\r\nk\r\n*2\r\n+OW\r\n+update\r\n",
        );
        s.expect(
            &["COMMAND", "GETKEYSANDFLAGS", "SET", "k", "v", "GET"],
            "*1\r\n*2\r\n$1\r\nk\r\n*3\r\n+RW\r\n+access\r\n+update\r\n",
        );
        s.expect(
            &[
                "COMMAND",
                "GETKEYSANDFLAGS",
                "BITFIELD",
                "k",
                "GET",
                "u8",
                "0",
            ],
            "*1\r\n*2\r\n$1\r\nk\r\n*2\r\n+RO\r\n+access\r\n",
        );
        s.expect(
            &["COMMAND", "GETKEYSANDFLAGS", "ZUNIONSTORE", "d", "5", "a"],
            "-ERR Invalid arguments specified for command\r\n",
        );
        s.expect(
            &["COMMAND", "GETKEYSANDFLAGS", "GET", "k", "x"],
            "-ERR Invalid number of arguments specified for command\r\n",
        );
        s.expect(
            &["COMMAND", "GETKEYSANDFLAGS", "PING", "x"],
            "-ERR The command has no key arguments\r\n",
        );
        s.expect(
            &["COMMAND", "GETKEYS", "GET"],
            "-ERR wrong number of arguments for 'command|getkeys' command\r\n",
        );
        let all = s.call(&["COMMAND"]);
        assert!(all.starts_with(&format!("*{count}\r\n")));
        s.expect(
            &["CONFIG", "SET", "maxclients", "10000", "maxmemory", "256mb"],
            "+OK\r\n",
        );
    });
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let node = NodeProcess::start(&[]);
    let mut c = node.client();
    let mut batch = Vec::new();
    for i in 0..1000 {
        batch.extend(cachering_tests::encode(&[
            b"SET",
            format!("p{i}").as_bytes(),
            i.to_string().as_bytes(),
        ]));
        batch.extend(cachering_tests::encode(&[
            b"GET",
            format!("p{i}").as_bytes(),
        ]));
    }
    c.send_raw(&batch);
    for i in 0..1000 {
        assert_eq!(c.read_reply().unwrap(), "+OK\r\n");
        assert_eq!(c.read_reply().unwrap(), bulk(&i.to_string()));
    }
}

#[test]
fn inline_commands_work_as_typed_into_nc() {
    let node = NodeProcess::start(&[]);
    let mut c = node.client();
    c.send_raw(b"PING\r\nset greeting \"hello world\"\nget greeting\r\n\r\n");
    assert_eq!(c.read_reply().unwrap(), "+PONG\r\n");
    assert_eq!(c.read_reply().unwrap(), "+OK\r\n");
    assert_eq!(c.read_reply().unwrap(), bulk("hello world"));
}

#[test]
fn binary_keys_and_values_round_trip() {
    let node = NodeProcess::start(&[]);
    let mut c = node.client();
    let key: &[u8] = b"\x00\xff\r\nkey";
    let value: Vec<u8> = (0..=255u8).collect();
    assert_eq!(c.call_bytes(&[b"SET", key, &value]), "+OK\r\n");
    c.send_raw(&cachering_tests::encode(&[b"GET", key]));
    let mut expected = format!("${}\r\n", value.len()).into_bytes();
    expected.extend(&value);
    expected.extend(b"\r\n");
    let mut got = vec![0u8; expected.len()];
    std::io::Read::read_exact(c.stream(), &mut got).unwrap();
    assert_eq!(got, expected);
    assert_eq!(c.call_bytes(&[b"SET", b"", b""]), "+OK\r\n");
    assert_eq!(c.call_bytes(&[b"GET", b""]), bulk(""));
}

/// CLIENT REPLY OFF|ON|SKIP, on a node and through the proxy: the replies that arrive are
/// exactly the ones asked for, in order, whether the commands come one by one or pipelined.
#[test]
fn client_reply_drops_the_replies_asked_not_to_be_sent() {
    let proxy = cachering_tests::ProxyProcess::start(&[], &[]);
    let node = NodeProcess::start(&[]);
    for addr in [node.addr, proxy.addr] {
        let mut c = Client::connect(addr);
        let pipeline: Vec<Vec<String>> = [
            &["CLIENT", "REPLY", "OFF"][..],
            &["SET", "r1", "1"],
            &["GET", "r1"],
            &["NOSUCH"],
            &["CLIENT", "REPLY", "SKIP"],
            &["CLIENT", "REPLY", "ON"],
            &["GET", "r1"],
            &["CLIENT", "REPLY", "SKIP"],
            &["SET", "r2", "2"],
            &["GET", "r2"],
        ]
        .iter()
        .map(|args| args.iter().map(|a| a.to_string()).collect())
        .collect();
        let mut bytes = Vec::new();
        for command in &pipeline {
            let args: Vec<&[u8]> = command.iter().map(|a| a.as_bytes()).collect();
            bytes.extend(cachering_tests::encode(&args));
        }
        c.send_raw(&bytes);
        // OFF silences everything up to ON (SKIP included); ON answers; SKIP silences itself and
        // the SET after it.
        for expected in ["+OK\r\n", "$1\r\n1\r\n", "$1\r\n2\r\n"] {
            assert_eq!(c.read_reply().as_deref(), Some(expected), "{addr}");
        }
        // One at a time: SKIP drops exactly the next reply.
        c.send_raw(&cachering_tests::encode(&[b"CLIENT", b"REPLY", b"SKIP"]));
        c.send_raw(&cachering_tests::encode(&[b"INCR", b"n"]));
        assert_eq!(c.call(&["GET", "n"]), "$1\r\n1\r\n", "{addr}");
        assert_eq!(
            c.call(&["CLIENT", "REPLY", "MAYBE"]),
            "-ERR syntax error\r\n",
            "{addr}"
        );
        assert_eq!(
            c.call(&["CLIENT", "REPLY"]),
            "-ERR wrong number of arguments for 'client|reply' command\r\n",
            "{addr}"
        );
        // Other connections are answered as usual meanwhile.
        c.send_raw(&cachering_tests::encode(&[b"CLIENT", b"REPLY", b"OFF"]));
        assert_eq!(Client::connect(addr).call(&["GET", "r2"]), "$1\r\n2\r\n");
        assert_eq!(c.call(&["CLIENT", "REPLY", "ON"]), "+OK\r\n", "{addr}");
    }
}

#[test]
fn rename_renamenx_and_copy() {
    both_protocols(|s| {
        s.expect_error(&["RENAME", "nosuch", "x"], "ERR no such key");
        s.expect_error(&["RENAMENX", "nosuch", "x"], "ERR no such key");
        s.expect(&["SET", "a", "1", "EX", "100"], "+OK\r\n");
        s.expect(&["RENAME", "a", "a"], "+OK\r\n");
        s.expect(&["RENAMENX", "a", "a"], &int(0));
        s.expect(&["RENAME", "a", "b"], "+OK\r\n");
        s.expect(&["EXISTS", "a"], &int(0));
        s.expect(&["GET", "b"], &bulk("1"));
        let ttl = s.call(&["TTL", "b"]);
        assert!(
            ttl == ":100\r\n" || ttl == ":99\r\n",
            "the TTL moves: {ttl}"
        );
        s.expect(&["SET", "c", "3"], "+OK\r\n");
        s.expect(&["RENAMENX", "b", "c"], &int(0));
        s.expect(&["GET", "c"], &bulk("3"));
        s.expect(&["RENAME", "b", "c"], "+OK\r\n");
        s.expect(&["GET", "c"], &bulk("1"));
        s.expect(&["RENAMENX", "c", "d"], &int(1));
        s.expect(&["GET", "d"], &bulk("1"));
        s.expect_error(
            &["RENAME", "d"],
            "ERR wrong number of arguments for 'rename' command",
        );

        s.expect(&["COPY", "nosuch", "e"], &int(0));
        s.expect(&["COPY", "d", "e"], &int(1));
        s.expect(&["GET", "e"], &bulk("1"));
        let ttl = |s: &mut Session, key: &str| -> i64 {
            s.call(&["TTL", key])
                .trim()
                .trim_start_matches(':')
                .parse()
                .unwrap()
        };
        assert!((90..=100).contains(&ttl(s, "e")), "the copy keeps the TTL");
        // The copy is its own value: changing one leaves the other.
        s.expect(&["PERSIST", "e"], &int(1));
        assert!((90..=100).contains(&ttl(s, "d")));
        s.expect(&["SET", "f", "6"], "+OK\r\n");
        s.expect(&["COPY", "d", "f"], &int(0));
        s.expect(&["GET", "f"], &bulk("6"));
        s.expect(&["COPY", "d", "f", "REPLACE"], &int(1));
        s.expect(&["GET", "f"], &bulk("1"));
        s.expect(&["COPY", "d", "g", "DB", "0"], &int(1));
        s.expect_error(
            &["COPY", "d", "g", "DB", "1"],
            "ERR DB index is out of range",
        );
        s.expect_error(
            &["COPY", "d", "g", "DB", "x"],
            "ERR value is not an integer or out of range",
        );
        s.expect_error(&["COPY", "d", "g", "NOPE"], "ERR syntax error");
        s.expect_error(
            &["COPY", "d", "d"],
            "ERR source and destination objects are the same",
        );
    });
}

/// LCS, its replies checked against redis-server 7.0.15's for the same inputs.
#[test]
fn lcs_answers_as_redis() {
    both_protocols(|s| {
        s.expect(
            &["MSET", "key1", "ohmytext", "key2", "mynewtext"],
            "+OK\r\n",
        );
        s.expect(&["LCS", "key1", "key2"], &bulk("mytext"));
        s.expect(&["LCS", "key1", "key2", "LEN"], &int(6));
        let map = s.map(2);
        s.expect(
            &["LCS", "key1", "key2", "IDX"],
            &format!("{map}$7\r\nmatches\r\n*2\r\n*2\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n*2\r\n*2\r\n:2\r\n:3\r\n*2\r\n:0\r\n:1\r\n$3\r\nlen\r\n:6\r\n"),
        );
        s.expect(
            &["LCS", "key1", "key2", "IDX", "MINMATCHLEN", "4"],
            &format!("{map}$7\r\nmatches\r\n*1\r\n*2\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n$3\r\nlen\r\n:6\r\n"),
        );
        s.expect(&["MSET", "a", "ABCBDAB", "b", "BDCABA"], "+OK\r\n");
        s.expect(
            &["LCS", "a", "b", "IDX", "WITHMATCHLEN"],
            &format!("{map}$7\r\nmatches\r\n*2\r\n*3\r\n*2\r\n:5\r\n:6\r\n*2\r\n:3\r\n:4\r\n:2\r\n*3\r\n*2\r\n:3\r\n:4\r\n*2\r\n:0\r\n:1\r\n:2\r\n$3\r\nlen\r\n:4\r\n"),
        );
        s.expect(&["LCS", "key1", "nosuch"], "$0\r\n\r\n");
        s.expect(
            &["LCS", "nosuch", "nosuch2", "IDX"],
            &format!("{map}$7\r\nmatches\r\n*0\r\n$3\r\nlen\r\n:0\r\n"),
        );
        s.expect_error(
            &["LCS", "key1", "key2", "LEN", "IDX"],
            "ERR If you want both the length and indexes, please just use IDX.",
        );
        s.expect_error(
            &["LCS", "key1", "key2", "MINMATCHLEN", "x"],
            "ERR value is not an integer or out of range",
        );
        s.expect_error(&["LCS", "key1", "key2", "MINMATCHLEN"], "ERR syntax error");
        s.expect_error(&["LCS", "key1", "key2", "FOO"], "ERR syntax error");
        s.expect_error(
            &["LCS", "key1"],
            "ERR wrong number of arguments for 'lcs' command",
        );
        // The table is bounded: two 20,000-byte strings would need 1.6 GB.
        let long = "x".repeat(20_000);
        s.expect(&["MSET", "big1", &long, "big2", &long], "+OK\r\n");
        s.expect_error(
            &["LCS", "big1", "big2", "LEN"],
            "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len",
        );
    });
}
