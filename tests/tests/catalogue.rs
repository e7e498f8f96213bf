//! The bad-input catalogue: every case runs against a node and against the proxy (over three
//! nodes), so the two binaries, which share one server layer, are held to one standard. Each
//! asserts the reply or the disconnect, that another client is served meanwhile, and that the
//! process's memory stays bounded. A case may add flags for the nodes (`[node: ...]`: the node
//! target itself, or the proxy's nodes) and for the front (`[front: ...]`: the node target, or
//! the proxy).

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::time::{Duration, Instant};

use cachering_tests::{bulk, encode, Client, NodeProcess, ProxyProcess};

/// Either a node or a proxy, started with the same limits.
enum Target {
    Node(NodeProcess),
    Proxy(ProxyProcess),
}

/// Limits both targets share, small enough to hit in a test.
const LIMITS: &[&str] = &[
    "--client-query-buffer-limit",
    "4mb",
    "--client-output-buffer-limit",
    "2mb",
    "--proto-max-bulk-len",
    "2mb",
];

impl Target {
    fn node(node_flags: &[&str], front_flags: &[&str]) -> Self {
        let mut flags = LIMITS.to_vec();
        flags.extend_from_slice(node_flags);
        flags.extend_from_slice(front_flags);
        Target::Node(NodeProcess::start(&flags))
    }

    fn proxy(node_flags: &[&str], front_flags: &[&str]) -> Self {
        let mut flags = LIMITS.to_vec();
        flags.extend_from_slice(front_flags);
        Target::Proxy(ProxyProcess::start(node_flags, &flags))
    }

    fn addr(&self) -> SocketAddr {
        match self {
            Target::Node(n) => n.addr,
            Target::Proxy(p) => p.addr,
        }
    }

    fn client(&self) -> Client {
        Client::connect(self.addr())
    }

    fn rss(&self) -> u64 {
        match self {
            Target::Node(n) => n.rss_bytes(),
            Target::Proxy(p) => p.rss_bytes(),
        }
    }

    #[track_caller]
    fn still_serves(&self) {
        let mut other = self.client();
        assert_eq!(other.call(&["SET", "canary", "alive"]), "+OK\r\n");
        assert_eq!(other.call(&["GET", "canary"]), bulk("alive"));
    }

    /// Runs `case`, then checks the target serves another client and grew less than `bound`.
    fn check(&self, bound: u64, case: impl FnOnce(&Target)) {
        let before = self.rss();
        case(self);
        self.still_serves();
        let grown = self.rss().saturating_sub(before);
        assert!(grown < bound, "memory grew by {grown} bytes");
    }
}

const MB: u64 = 1024 * 1024;

#[track_caller]
fn refused_and_closed(t: &Target, input: &[u8], error: &str) {
    let mut client = t.client();
    client.send_raw(input);
    assert_eq!(
        client.read_reply().as_deref(),
        Some(format!("-{error}\r\n").as_str())
    );
    assert!(client.is_closed(), "connection should close after: {error}");
}

/// Connects until the target accepts (a just-closed client frees its slot a moment later).
fn accepted_client(t: &Target) -> Client {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut client = t.client();
        client.send_raw(&encode(&[b"PING"]));
        match client.read_reply().as_deref() {
            Some("+PONG\r\n") => return client,
            other => assert!(Instant::now() < deadline, "still refused: {other:?}"),
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Each case is one function over a target; `catalogue!` runs it against a node and a proxy.
macro_rules! catalogue {
    ($($name:ident $([node: $($node_flag:literal),*])? $([front: $($front_flag:literal),*])? => $body:expr;)*) => {
        mod node {
            use super::*;
            $(#[test] fn $name() {
                let target = Target::node(&[$($($node_flag),*)?], &[$($($front_flag),*)?]);
                ($body)(&target);
            })*
        }
        mod proxy {
            use super::*;
            $(#[test] fn $name() {
                let target = Target::proxy(&[$($($node_flag),*)?], &[$($($front_flag),*)?]);
                ($body)(&target);
            })*
        }
    };
}

catalogue! {
    bulk_length_over_the_limit => |t: &Target| t.check(16 * MB, |t| refused_and_closed(t, b"*1\r\n$3000000\r\n", "ERR Protocol error: invalid bulk length"));
    negative_bulk_length => |t: &Target| t.check(16 * MB, |t| refused_and_closed(t, b"*1\r\n$-2\r\n", "ERR Protocol error: invalid bulk length"));
    non_numeric_bulk_length => |t: &Target| t.check(16 * MB, |t| refused_and_closed(t, b"*1\r\n$12a\r\n", "ERR Protocol error: invalid bulk length"));
    non_numeric_multibulk_length => |t: &Target| t.check(16 * MB, |t| refused_and_closed(t, b"*1x\r\n", "ERR Protocol error: invalid multibulk length"));
    multibulk_length_over_a_million => |t: &Target| t.check(16 * MB, |t| refused_and_closed(t, b"*1048577\r\n", "ERR Protocol error: invalid multibulk length"));
    negative_multibulk_length_is_skipped => |t: &Target| t.check(16 * MB, |t| {
        let mut c = t.client();
        c.send_raw(b"*-5\r\n*0\r\n");
        assert_eq!(c.call(&["PING"]), "+PONG\r\n");
    });
    a_million_arguments_declared_then_close => |t: &Target| t.check(16 * MB, |t| {
        let mut c = t.client();
        c.send_raw(b"*1000000\r\n$1\r\na\r\n");
        drop(c);
    });
    deep_nesting => |t: &Target| t.check(16 * MB, |t| refused_and_closed(t, &b"*1\r\n".repeat(100_000), "ERR Protocol error: expected '$', got '*'"));
    wrong_type_marker => |t: &Target| t.check(16 * MB, |t| refused_and_closed(t, b"*2\r\n$3\r\nGET\r\n:1\r\n", "ERR Protocol error: expected '$', got ':'"));
    huge_inline_line => |t: &Target| t.check(16 * MB, |t| refused_and_closed(t, &vec![b'x'; 100 * 1024], "ERR Protocol error: too big inline request"));
    huge_header_line => |t: &Target| t.check(16 * MB, |t| {
        let mut header = b"*".to_vec();
        header.extend(vec![b'1'; 100 * 1024]);
        refused_and_closed(t, &header, "ERR Protocol error: too big mbulk count string");
    });
    unbalanced_quotes => |t: &Target| t.check(16 * MB, |t| refused_and_closed(t, b"SET k \"open\r\n", "ERR Protocol error: unbalanced quotes in request"));
    garbage_bytes => |t: &Target| t.check(32 * MB, |t| {
        let mut c = t.client();
        let junk: Vec<u8> = (0..300_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        let _ = c.stream().write_all(&junk);
        drop(c);
    });
    truncated_request_then_close => |t: &Target| t.check(16 * MB, |t| {
        let mut c = t.client();
        c.send_raw(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100\r\nabc");
        drop(c);
        assert_eq!(t.client().call(&["EXISTS", "k"]), ":0\r\n");
    });
    missing_crlf_after_a_payload_is_not_checked => |t: &Target| t.check(16 * MB, |t| {
        // Redis reads the two bytes after a payload without checking them; so does cachering.
        let mut c = t.client();
        c.send_raw(b"*1\r\n$4\r\nPINGxx*1\r\n$4\r\nPING\r\n");
        assert_eq!(c.read_reply().as_deref(), Some("+PONG\r\n"));
        assert_eq!(c.read_reply().as_deref(), Some("+PONG\r\n"));
    });
    binary_and_empty_keys => |t: &Target| t.check(16 * MB, |t| {
        let mut c = t.client();
        assert_eq!(c.call_bytes(&[b"SET", b"\x00\r\n\xff", b"\x00"]), "+OK\r\n");
        assert_eq!(c.call_bytes(&[b"GET", b"\x00\r\n\xff"]), "$1\r\n\x00\r\n");
        assert_eq!(c.call_bytes(&[b"SET", b"", b"empty"]), "+OK\r\n");
        assert_eq!(c.call_bytes(&[b"GET", b""]), bulk("empty"));
    });
    a_one_megabyte_key => |t: &Target| t.check(32 * MB, |t| {
        let key = "k".repeat(1 << 20);
        let mut c = t.client();
        assert_eq!(c.call(&["SET", &key, "v"]), "+OK\r\n");
        assert_eq!(c.call(&["GET", &key]), bulk("v"));
        assert_eq!(c.call(&["DEL", &key]), ":1\r\n");
    });
    query_buffer_past_its_limit => |t: &Target| t.check(32 * MB, |t| {
        let mut c = t.client();
        // A 2 MB argument is allowed, but a pipeline of them past 4 MB unread is not buffered.
        c.send_raw(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2000000\r\n");
        let chunk = vec![b'x'; 64 * 1024];
        let mut sent = 0;
        while sent < 12 * MB as usize && c.stream().write_all(&chunk).is_ok() {
            sent += chunk.len();
        }
        assert!(c.is_closed() || sent < 12 * MB as usize, "a client past the query buffer limit must be cut off");
    });
    slowloris_one_byte_at_a_time => |t: &Target| t.check(16 * MB, |t| {
        let mut slow = t.client();
        let request = encode(&[b"PING"]);
        for byte in &request[..request.len() - 1] {
            slow.send_raw(&[*byte]);
            // Others are served while the slow client dribbles.
            t.still_serves();
            std::thread::sleep(Duration::from_millis(50));
        }
        slow.send_raw(&request[request.len() - 1..]);
        assert_eq!(slow.read_reply().as_deref(), Some("+PONG\r\n"));
    });
    a_client_that_pipelines_and_never_reads => |t: &Target| t.check(64 * MB, |t| {
        let mut setup = t.client();
        assert_eq!(setup.call(&["SET", "big", &"x".repeat(200 * 1024)]), "+OK\r\n");
        let mut greedy = t.client();
        let request = encode(&[b"GET", b"big"]);
        let started = Instant::now();
        let mut sent = 0;
        while sent < 2000 && started.elapsed() < Duration::from_secs(20) {
            if greedy.stream().write_all(&request).is_err() {
                break;
            }
            sent += 1;
        }
        t.still_serves();
        std::thread::sleep(Duration::from_millis(500));
        let mut received = 0usize;
        let mut chunk = vec![0u8; 1 << 20];
        greedy.stream().set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        while let Ok(n) = greedy.stream().read(&mut chunk) {
            if n == 0 {
                break;
            }
            received += n;
        }
        assert!(received < 200 * 1024 * 2000 / 2, "received {received} bytes: the greedy client was not cut off");
    });
    half_closed_socket_still_gets_its_reply => |t: &Target| t.check(16 * MB, |t| {
        let mut c = t.client();
        c.send_raw(&encode(&[b"SET", b"half", b"closed"]));
        c.send_raw(&encode(&[b"GET", b"half"]));
        c.stream().shutdown(Shutdown::Write).unwrap();
        assert_eq!(c.read_reply().as_deref(), Some("+OK\r\n"));
        assert_eq!(c.read_reply().as_deref(), Some(bulk("closed").as_str()));
        assert!(c.is_closed());
    });
    fifteen_hundred_connections => |t: &Target| t.check(96 * MB, |t| {
        let mut clients: Vec<Client> = (0..1500).map(|_| t.client()).collect();
        for c in clients.iter_mut().step_by(100) {
            assert_eq!(c.call(&["PING"]), "+PONG\r\n");
        }
        drop(clients);
    });
    ten_thousand_pipelined_pings => |t: &Target| t.check(32 * MB, |t| {
        let mut c = t.client();
        c.send_raw(&encode(&[b"PING"]).repeat(10_000));
        for _ in 0..10_000 {
            assert_eq!(c.read_reply().as_deref(), Some("+PONG\r\n"));
        }
    });
    unknown_command_with_huge_arguments => |t: &Target| t.check(32 * MB, |t| {
        let big = "a".repeat(1 << 20);
        let reply = t.client().call(&["NOSUCH", &big, &big]);
        assert!(reply.starts_with("-ERR unknown command 'NOSUCH', with args beginning with: 'aaa"), "{}", &reply[..60]);
        assert!(reply.len() < 400, "the error quotes {} bytes of the arguments", reply.len());
    });
    a_value_larger_than_a_shard => |t: &Target| t.check(64 * MB, |t| {
        let reply = t.client().call(&["SET", "huge", &"x".repeat(1_900_000)]);
        assert_eq!(reply, "+OK\r\n", "1.9 MB fits under the 2 MB bulk limit and the default maxmemory");
        assert_eq!(t.client().call(&["STRLEN", "huge"]), ":1900000\r\n");
    });
    multi_abuse => |t: &Target| t.check(32 * MB, |t| {
        let mut c = t.client();
        assert_eq!(c.call(&["EXEC"]), "-ERR EXEC without MULTI\r\n");
        assert_eq!(c.call(&["DISCARD"]), "-ERR DISCARD without MULTI\r\n");
        assert_eq!(c.call(&["MULTI"]), "+OK\r\n");
        assert_eq!(c.call(&["MULTI"]), "-ERR MULTI calls can not be nested\r\n");
        assert_eq!(c.call(&["NOSUCH"]), "-ERR unknown command 'NOSUCH', with args beginning with: \r\n");
        assert_eq!(c.call(&["EXEC"]), "-EXECABORT Transaction discarded because of previous errors.\r\n");
        assert_eq!(c.call(&["PING"]), "+PONG\r\n");
    });
    select_and_hello_abuse => |t: &Target| t.check(16 * MB, |t| {
        let mut c = t.client();
        assert_eq!(c.call(&["SELECT", "9"]), "-ERR DB index is out of range\r\n");
        assert_eq!(c.call(&["HELLO", "99"]), "-NOPROTO unsupported protocol version\r\n");
        assert_eq!(c.call(&["HELLO", "three"]), "-ERR Protocol version is not an integer or out of range\r\n");
        assert_eq!(c.call(&["PING"]), "+PONG\r\n");
    });
    scan_with_a_bogus_cursor => |t: &Target| t.check(16 * MB, |t| {
        assert_eq!(t.client().call(&["SCAN", "-1"]), "-ERR invalid cursor\r\n");
    });
    wrong_arity_everywhere => |t: &Target| t.check(16 * MB, |t| {
        let mut c = t.client();
        for command in ["GET", "SET", "INCRBY", "EXPIRE", "GETRANGE", "MSET"] {
            assert_eq!(c.call(&[command]), format!("-ERR wrong number of arguments for '{}' command\r\n", command.to_lowercase()));
        }
    });
    huge_bulk_count_string => |t: &Target| t.check(16 * MB, |t| {
        let mut header = b"*1\r\n$".to_vec();
        header.extend(vec![b'9'; 70 * 1024]);
        refused_and_closed(t, &header, "ERR Protocol error: too big bulk count string");
    });
    binary_junk_on_one_line_is_an_unknown_command => |t: &Target| t.check(16 * MB, |t| {
        let mut c = t.client();
        c.send_raw(b"\x01\x02\xff\xfe junk\r\n");
        let reply = c.read_reply().unwrap();
        assert!(reply.starts_with("-ERR unknown command"), "{reply}");
        assert_eq!(c.call(&["PING"]), "+PONG\r\n");
    });
    a_large_request_in_small_pieces => |t: &Target| t.check(32 * MB, |t| {
        let mut args: Vec<Vec<u8>> = vec![b"MSET".to_vec()];
        for i in 0..1000 {
            args.push(format!("piece:{i}").into_bytes());
            args.push(vec![b'v'; 2048]);
        }
        let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
        let request = encode(&refs);
        let mut c = t.client();
        for piece in request.chunks(16 * 1024) {
            c.send_raw(piece);
        }
        assert_eq!(c.read_reply().unwrap(), "+OK\r\n");
        assert_eq!(c.call(&["EXISTS", "piece:0", "piece:500", "piece:999"]), ":3\r\n");
    });
    maxclients_holds_under_a_burst_of_connects [front: "--maxclients", "5"] => |t: &Target| t.check(32 * MB, |t| {
        // Forty clients connect at the same instant and hold on: at most five are served,
        // every other one gets Redis's refusal.
        let addr = t.addr();
        let start = std::sync::Arc::new(std::sync::Barrier::new(40));
        let done = std::sync::Arc::new(std::sync::Barrier::new(41));
        let threads: Vec<_> = (0..40)
            .map(|_| {
                let (start, done) = (start.clone(), done.clone());
                std::thread::spawn(move || {
                    start.wait();
                    let reply = Client::try_connect(addr).ok().and_then(|mut c| {
                        c.send_raw(&encode(&[b"PING"]));
                        let reply = c.read_reply();
                        done.wait();
                        reply
                    });
                    if reply.is_none() {
                        done.wait();
                    }
                    reply.unwrap_or_default()
                })
            })
            .collect();
        done.wait();
        let replies: Vec<String> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        let served = replies.iter().filter(|r| *r == "+PONG\r\n").count();
        let refused = replies.iter().filter(|r| *r == "-ERR max number of clients reached\r\n").count();
        assert!((1..=5).contains(&served), "{served} served: {replies:?}");
        assert_eq!(served + refused, 40, "{replies:?}");
        let info = accepted_client(t).call(&["INFO", "stats"]);
        assert!(!info.contains("rejected_connections:0\r\n"), "{info}");
    });
    idle_clients_are_closed [front: "--timeout", "1"] => |t: &Target| t.check(16 * MB, |t| {
        let mut idle = t.client();
        assert_eq!(idle.call(&["PING"]), "+PONG\r\n");
        let started = Instant::now();
        assert!(idle.is_closed(), "an idle client should be closed");
        assert!(started.elapsed() >= Duration::from_millis(900));
    });
    a_value_over_maxmemory_is_refused_with_oom [node: "--maxmemory", "1mb"] => |t: &Target| t.check(16 * MB, |t| {
        let mut c = t.client();
        assert_eq!(
            c.call(&["SET", "big", &"x".repeat(1_500_000)]),
            "-OOM command not allowed when used memory > 'maxmemory'.\r\n"
        );
        assert_eq!(c.call(&["EXISTS", "big"]), ":0\r\n");
        assert_eq!(c.call(&["SET", "small", "v"]), "+OK\r\n");
        // A refused write leaves the key's current value in place, on every replica.
        assert_eq!(c.call(&["SET", "small", &"x".repeat(1_500_000)]).chars().next(), Some('-'));
        assert_eq!(c.call(&["GET", "small"]), bulk("v"));
        assert_eq!(c.call(&["EXPIRE", "small", "soon"]), "-ERR value is not an integer or out of range\r\n");
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(c.call(&["GET", "small"]), bulk("v"));
    });
    the_multi_queue_is_bounded => |t: &Target| t.check(16 * MB, |t| {
        // The query buffer limit (4 MB here) bounds what a transaction may queue.
        let mut c = t.client();
        assert_eq!(c.call(&["MULTI"]), "+OK\r\n");
        let value = "x".repeat(100 * 1024);
        let mut queued = 0;
        loop {
            let reply = c.call(&["SET", "k", &value]);
            if reply.starts_with("-ERR MULTI queue exceeds client-query-buffer-limit") {
                break;
            }
            assert_eq!(reply, "+QUEUED\r\n");
            queued += 1;
            assert!(queued < 60, "a queue past the query buffer limit must be refused");
        }
        assert_eq!(c.call(&["EXEC"]), "-EXECABORT Transaction discarded because of previous errors.\r\n");
        assert_eq!(c.call(&["EXISTS", "k"]), ":0\r\n");
    });
    connection_commands_answer_alike => |t: &Target| t.check(16 * MB, |t| {
        let mut c = t.client();
        assert_eq!(c.call(&["PING", "a", "b"]), "-ERR wrong number of arguments for 'ping' command\r\n");
        assert_eq!(c.call(&["PING", "hi"]), bulk("hi"));
        assert_eq!(c.call(&["ECHO", "hi"]), bulk("hi"));
        assert_eq!(c.call(&["AUTH", "a", "b", "c"]), "-ERR syntax error\r\n");
        assert!(c.call(&["AUTH", "x"]).starts_with("-ERR AUTH <password> called without any password configured"));
        // A HELLO with a bad name changes nothing, the protocol included.
        assert_eq!(
            c.call(&["HELLO", "3", "SETNAME", "bad name"]),
            "-ERR Client names cannot contain spaces, newlines or special characters.\r\n"
        );
        assert!(c.call(&["CLIENT", "INFO"]).contains(" resp=2 "), "HELLO with a bad name switched the protocol");
        assert!(c.call(&["CLIENT", "HELP"]).starts_with('*'));
        assert_eq!(c.call(&["CLIENT", "SETNAME", "catalogue"]), "+OK\r\n");
        assert_eq!(c.call(&["CLIENT", "GETNAME"]), bulk("catalogue"));
        assert_eq!(c.call(&["CLIENT", "NO-EVICT", "on"]), "+OK\r\n");
        let id = c.call(&["CLIENT", "ID"]);
        let id = id.trim_start_matches(':').trim_end();
        let mine = c.call(&["CLIENT", "LIST", "ID", id]);
        assert_eq!(mine.matches("id=").count(), 1, "{mine}");
        assert!(mine.contains("name=catalogue"), "{mine}");
        assert_eq!(c.call(&["CLIENT", "LIST", "TYPE", "pubsub"]), "$0\r\n\r\n");
        let mut other = t.client();
        let other_id = other.call(&["CLIENT", "ID"]);
        let other_id = other_id.trim_start_matches(':').trim_end();
        assert_eq!(c.call(&["CLIENT", "KILL", "ID", other_id]), ":1\r\n");
        assert!(other.is_closed(), "CLIENT KILL should close the other connection");
        assert_eq!(c.call(&["CLIENT", "BOGUS"]), "-ERR unknown subcommand 'BOGUS'. Try CLIENT HELP.\r\n");
        assert_eq!(c.call(&["SELECT", "0"]), "+OK\r\n");
        assert!(c.call(&["TIME"]).starts_with("*2\r\n"));
        assert!(c.call(&["COMMAND", "COUNT"]).starts_with(':'));
        assert_eq!(c.call(&["RESET"]), "+RESET\r\n");
        assert_eq!(c.call(&["CLIENT", "GETNAME"]), "$-1\r\n");
    });
}

/// Authentication cases: a node and a proxy that require a password (the proxy also
/// authenticates to nodes that require one).
mod auth {
    use super::*;

    fn targets() -> Vec<Target> {
        vec![
            Target::node(&[], &["--requirepass", "s3cret"]),
            Target::Proxy(ProxyProcess::start(
                &["--requirepass", "nodepw"],
                &["--requirepass", "s3cret", "--node-password", "nodepw"],
            )),
        ]
    }

    #[test]
    fn nothing_runs_before_auth() {
        for t in targets() {
            let mut c = t.client();
            for command in [
                &["GET", "k"][..],
                &["SET", "k", "v"],
                &["PING"],
                &["INFO"],
                &["CLIENT", "ID"],
                &["FLUSHALL"],
                &["SCAN", "0"],
            ] {
                assert_eq!(
                    c.call(command),
                    "-NOAUTH Authentication required.\r\n",
                    "{command:?}"
                );
            }
            assert_eq!(c.call(&["QUIT"]), "+OK\r\n");
        }
    }

    #[test]
    fn wrong_passwords_and_users_are_refused() {
        for t in targets() {
            let mut c = t.client();
            for attempt in [
                &["AUTH", "wrong"][..],
                &["AUTH", "s3cre"],
                &["AUTH", "s3cret!"],
                &["AUTH", "admin", "s3cret"],
                &["AUTH", ""],
            ] {
                assert_eq!(
                    c.call(attempt),
                    "-WRONGPASS invalid username-password pair or user is disabled.\r\n",
                    "{attempt:?}"
                );
            }
            assert_eq!(
                c.call(&["GET", "k"]),
                "-NOAUTH Authentication required.\r\n"
            );
            assert_eq!(c.call(&["AUTH", "s3cret"]), "+OK\r\n");
            assert_eq!(c.call(&["SET", "k", "v"]), "+OK\r\n");
            assert_eq!(c.call(&["GET", "k"]), bulk("v"));
        }
    }

    #[test]
    fn reset_drops_authentication_and_hello_authenticates() {
        for t in targets() {
            let mut c = t.client();
            assert!(c
                .call(&["HELLO", "2"])
                .starts_with("-NOAUTH HELLO must be called with the client already authenticated"));
            assert_eq!(c.call(&["AUTH", "s3cret"]), "+OK\r\n");
            assert_eq!(c.call(&["SET", "k", "v"]), "+OK\r\n");
            assert_eq!(c.call(&["RESET"]), "+RESET\r\n");
            assert_eq!(
                c.call(&["GET", "k"]),
                "-NOAUTH Authentication required.\r\n"
            );
            let mut h = t.client();
            h.set_resp3(true);
            assert!(h
                .call(&["HELLO", "3", "AUTH", "default", "s3cret"])
                .starts_with("%7\r\n"));
            assert_eq!(h.call(&["GET", "k"]), bulk("v"));
        }
    }

    #[test]
    fn strangers_cannot_make_the_server_buffer() {
        for t in targets() {
            let before = t.rss();
            let mut c = t.client();
            c.send_raw(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1000000\r\n");
            assert_eq!(
                c.read_reply().as_deref(),
                Some("-ERR Protocol error: unauthenticated bulk length\r\n")
            );
            let mut c = t.client();
            c.send_raw(b"*100\r\n");
            assert_eq!(
                c.read_reply().as_deref(),
                Some("-ERR Protocol error: unauthenticated multibulk length\r\n")
            );
            assert!(t.rss().saturating_sub(before) < 16 * MB);
        }
    }
}

/// A negative count asks for that many random picks, repeats allowed: Redis's bound lets it be
/// 2^62. The picks are drawn as they are written and the reply stops at the output limit, which
/// closes the connection; through the proxy, the node closes the proxy's connection the same
/// way and the proxy answers an error. Memory stays bounded and other clients are served.
fn huge_random_picks(t: &Target) {
    t.check(48 * MB, |t| {
        let mut setup = t.client();
        assert_eq!(setup.call(&["HSET", "h", "f", "v"]), ":1\r\n");
        assert_eq!(setup.call(&["SADD", "s", "m"]), ":1\r\n");
        assert_eq!(setup.call(&["ZADD", "z", "1", "m"]), ":1\r\n");
        let huge = (-(i64::MAX / 2)).to_string();
        for args in [
            ["HRANDFIELD", "h", &huge, "WITHVALUES"],
            ["SRANDMEMBER", "s", &huge, ""],
            ["ZRANDMEMBER", "z", &huge, "WITHSCORES"],
        ] {
            let args: Vec<&[u8]> = args
                .iter()
                .filter(|a| !a.is_empty())
                .map(|a| a.as_bytes())
                .collect();
            let mut client = t.client();
            client.send_raw(&encode(&args));
            let mut head = [0u8; 32];
            let read = client.stream().read(&mut head).unwrap_or(0);
            let head = String::from_utf8_lossy(&head[..read]).to_string();
            let command = String::from_utf8_lossy(args[0]);
            match t {
                Target::Node(_) => {
                    // Dropped with the connection, or cut off after a header that announces
                    // every pick (doubled for the flat pairs of RESP2).
                    let announced = if args.len() == 4 {
                        i64::MAX - 1
                    } else {
                        i64::MAX / 2
                    };
                    assert!(
                        head.is_empty() || head.starts_with(&format!("*{announced}\r\n")),
                        "{command}: {head:?}"
                    );
                    assert!(client.is_closed(), "{command}: closed at the output limit");
                }
                Target::Proxy(_) => {
                    assert!(
                        head.starts_with("-ERR") || client.is_closed(),
                        "{command}: {head:?}"
                    )
                }
            }
        }
        // A node may still be writing its cut-off reply when the proxy has given up on it (its
        // request timeout is short here); it serves again once done.
        let deadline = Instant::now() + Duration::from_secs(10);
        while t.client().call(&["SET", "canary", "alive"]) != "+OK\r\n" {
            assert!(Instant::now() < deadline, "not serving again");
            std::thread::sleep(Duration::from_millis(100));
        }
    });
}

#[test]
fn node_random_picks_with_a_huge_negative_count() {
    huge_random_picks(&Target::node(&[], &[]));
}

#[test]
fn proxy_random_picks_with_a_huge_negative_count() {
    huge_random_picks(&Target::proxy(
        &["--client-output-buffer-limit", "256kb"],
        &[],
    ));
}
