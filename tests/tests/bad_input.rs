//! Hostile and broken clients against a node process: each gets Redis's error or a disconnect,
//! the node's memory stays bounded, and another client keeps being served throughout.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use cachering_tests::{bulk, encode, Client, NodeProcess};

/// Asserts the node still serves a well-behaved client.
#[track_caller]
fn still_serves(node: &NodeProcess) {
    let mut other = node.client();
    assert_eq!(other.call(&["SET", "canary", "alive"]), "+OK\r\n");
    assert_eq!(other.call(&["GET", "canary"]), bulk("alive"));
}

/// Sends `input`, expects `error` as the reply, then a closed connection.
#[track_caller]
fn refused_and_closed(node: &NodeProcess, input: &[u8], error: &str) {
    let mut client = node.client();
    client.send_raw(input);
    assert_eq!(
        client.read_reply().as_deref(),
        Some(format!("-{error}\r\n").as_str())
    );
    assert!(client.is_closed(), "connection should close after: {error}");
    still_serves(node);
}

#[test]
fn protocol_errors_get_redis_wording_and_a_disconnect() {
    let node = NodeProcess::start(&[]);
    refused_and_closed(
        &node,
        b"*1\r\n$600000000\r\n",
        "ERR Protocol error: invalid bulk length",
    );
    refused_and_closed(
        &node,
        b"*1\r\n$-5\r\n",
        "ERR Protocol error: invalid bulk length",
    );
    refused_and_closed(
        &node,
        b"*1\r\n$abc\r\n",
        "ERR Protocol error: invalid bulk length",
    );
    refused_and_closed(
        &node,
        b"*2000000\r\n",
        "ERR Protocol error: invalid multibulk length",
    );
    refused_and_closed(
        &node,
        b"*x\r\n",
        "ERR Protocol error: invalid multibulk length",
    );
    refused_and_closed(
        &node,
        b"*2\r\n$3\r\nGET\r\n:1\r\n",
        "ERR Protocol error: expected '$', got ':'",
    );
    refused_and_closed(
        &node,
        b"SET k \"unterminated\r\n",
        "ERR Protocol error: unbalanced quotes in request",
    );
}

#[test]
fn deep_nesting_does_not_crash_the_node() {
    let node = NodeProcess::start(&[]);
    let nested = b"*1\r\n".repeat(200_000);
    refused_and_closed(&node, &nested, "ERR Protocol error: expected '$', got '*'");
}

#[test]
fn huge_inline_lines_and_headers_are_cut_off() {
    let node = NodeProcess::start(&[]);
    refused_and_closed(
        &node,
        &vec![b'a'; 70 * 1024],
        "ERR Protocol error: too big inline request",
    );
    let mut header = b"*1\r\n$".to_vec();
    header.extend(vec![b'9'; 70 * 1024]);
    refused_and_closed(
        &node,
        &header,
        "ERR Protocol error: too big bulk count string",
    );
}

#[test]
fn garbage_bytes_get_errors_not_crashes() {
    let node = NodeProcess::start(&[]);
    let mut client = node.client();
    // Binary junk on one line is an unknown command; the connection stays usable.
    client.send_raw(b"\x01\x02\xff\xfe junk\r\n");
    let reply = client.read_reply().unwrap();
    assert!(reply.starts_with("-ERR unknown command"), "{reply}");
    assert_eq!(client.call(&["PING"]), "+PONG\r\n");
    // A pseudo-random stream: whatever it decodes to, the node survives it.
    let mut state: u32 = 12345;
    let junk: Vec<u8> = (0..200_000)
        .map(|_| {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (state >> 16) as u8
        })
        .collect();
    let mut raw = node.client();
    let _ = raw.stream().write_all(&junk);
    drop(raw);
    still_serves(&node);
}

#[test]
fn a_query_buffer_past_its_limit_closes_the_client() {
    let node = NodeProcess::start(&[]);
    let mut admin = node.client();
    assert_eq!(
        admin.call(&["CONFIG", "SET", "client-query-buffer-limit", "1mb"]),
        "+OK\r\n"
    );
    let before = node.rss_bytes();
    let mut client = node.client();
    // Declares a 100 MB argument and starts sending it: the node must not buffer past 1 MB.
    client.send_raw(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100000000\r\n");
    let chunk = vec![b'x'; 64 * 1024];
    let mut sent = 0;
    while sent < 8 * 1024 * 1024 {
        if client.stream().write_all(&chunk).is_err() {
            break;
        }
        sent += chunk.len();
    }
    assert!(
        client.is_closed(),
        "the node should close a client past its query buffer limit"
    );
    assert!(
        sent < 8 * 1024 * 1024,
        "the node kept reading past the limit"
    );
    let grown = node.rss_bytes().saturating_sub(before);
    assert!(grown < 32 * 1024 * 1024, "node grew {grown} bytes");
    still_serves(&node);
}

#[test]
fn a_large_request_in_small_pieces_is_accepted() {
    let node = NodeProcess::start(&[]);
    let mut args: Vec<Vec<u8>> = vec![b"MSET".to_vec()];
    for i in 0..1000 {
        args.push(format!("key:{i}").into_bytes());
        args.push(vec![b'v'; 2048]);
    }
    let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
    let request = encode(&refs);
    let mut client = node.client();
    for piece in request.chunks(16 * 1024) {
        client.send_raw(piece);
    }
    assert_eq!(client.read_reply().unwrap(), "+OK\r\n");
    assert_eq!(client.call(&["DBSIZE"]), ":1000\r\n");
}

/// Connects until the node accepts (a just-closed client frees its slot a moment later).
fn accepted_client(node: &NodeProcess) -> Client {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut client = node.client();
        client.send_raw(&encode(&[b"PING"]));
        match client.read_reply().as_deref() {
            Some("+PONG\r\n") => return client,
            other => assert!(Instant::now() < deadline, "still refused: {other:?}"),
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn clients_over_maxclients_are_refused() {
    let node = NodeProcess::start(&["--maxclients", "3"]);
    let mut held: Vec<Client> = (0..3).map(|_| accepted_client(&node)).collect();
    let mut extra = node.client();
    assert_eq!(
        extra.read_reply().as_deref(),
        Some("-ERR max number of clients reached\r\n")
    );
    assert!(extra.is_closed());
    drop(held.pop());
    let _again = accepted_client(&node);
    let mut admin = held.pop().unwrap();
    let info = admin.call(&["INFO", "stats"]);
    assert!(info.contains("rejected_connections:"), "{info}");
    assert!(!info.contains("rejected_connections:0\r\n"), "{info}");
}

#[test]
fn a_client_that_never_reads_is_disconnected_with_bounded_memory() {
    let node = NodeProcess::start(&[]);
    let mut admin = node.client();
    assert_eq!(
        admin.call(&["CONFIG", "SET", "client-output-buffer-limit", "1mb"]),
        "+OK\r\n"
    );
    let value = "x".repeat(100 * 1024);
    assert_eq!(admin.call(&["SET", "big", &value]), "+OK\r\n");
    let before = node.rss_bytes();

    let mut greedy = node.client();
    let request = encode(&[b"GET", b"big"]);
    // 1000 replies of 100 KB = 100 MB of output that is never read.
    for _ in 0..1000 {
        if greedy.stream().write_all(&request).is_err() {
            break;
        }
    }
    // Meanwhile another client is served.
    still_serves(&node);
    // The greedy client gets cut off: reading now yields far less than was asked for.
    std::thread::sleep(Duration::from_millis(500));
    greedy
        .stream()
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut received = 0usize;
    let mut chunk = vec![0u8; 1 << 20];
    loop {
        match greedy.stream().read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => received += n,
        }
    }
    assert!(
        received < 50 * 1024 * 1024,
        "received {received} bytes: the client was not disconnected"
    );
    let grown = node.rss_bytes().saturating_sub(before);
    assert!(grown < 64 * 1024 * 1024, "node grew {grown} bytes");
    still_serves(&node);
}

#[test]
fn authentication_gates_every_command() {
    let node = NodeProcess::start(&["--requirepass", "s3cret"]);
    let mut c = node.client();
    assert_eq!(
        c.call(&["GET", "k"]),
        "-NOAUTH Authentication required.\r\n"
    );
    assert_eq!(
        c.call(&["SET", "k", "v"]),
        "-NOAUTH Authentication required.\r\n"
    );
    assert_eq!(
        c.call(&["AUTH", "wrong"]),
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    assert_eq!(
        c.call(&["AUTH", "nobody", "s3cret"]),
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    assert!(c
        .call(&["HELLO", "2"])
        .starts_with("-NOAUTH HELLO must be called with the client already authenticated"));
    assert_eq!(c.call(&["AUTH", "s3cret"]), "+OK\r\n");
    assert_eq!(c.call(&["SET", "k", "v"]), "+OK\r\n");
    // RESET drops the authentication.
    assert_eq!(c.call(&["RESET"]), "+RESET\r\n");
    assert_eq!(
        c.call(&["GET", "k"]),
        "-NOAUTH Authentication required.\r\n"
    );
    // HELLO can authenticate and switch protocol at once.
    let mut h = node.client();
    h.set_resp3(true);
    assert!(h
        .call(&["HELLO", "3", "AUTH", "default", "s3cret"])
        .starts_with("%7\r\n"));
    assert_eq!(h.call(&["GET", "k"]), bulk("v"));
    // Before authentication, requests are capped at Redis's small limits.
    let mut stranger = node.client();
    stranger.send_raw(b"*20\r\n");
    assert_eq!(
        stranger.read_reply().as_deref(),
        Some("-ERR Protocol error: unauthenticated multibulk length\r\n")
    );
    assert!(stranger.is_closed());
    let mut stranger = node.client();
    stranger.send_raw(b"*2\r\n$4\r\nAUTH\r\n$100000\r\n");
    assert_eq!(
        stranger.read_reply().as_deref(),
        Some("-ERR Protocol error: unauthenticated bulk length\r\n")
    );
}

#[test]
fn idle_clients_are_closed_after_timeout() {
    let node = NodeProcess::start(&["--timeout", "1"]);
    let mut idle = node.client();
    assert_eq!(idle.call(&["PING"]), "+PONG\r\n");
    let started = Instant::now();
    assert!(idle.is_closed(), "an idle client should be closed");
    assert!(started.elapsed() >= Duration::from_millis(900));
}

#[test]
fn an_oversized_value_is_refused_with_oom() {
    let node = NodeProcess::start(&["--maxmemory", "1mb"]);
    let mut c = node.client();
    let value = "x".repeat(2 * 1024 * 1024);
    assert_eq!(
        c.call(&["SET", "big", &value]),
        "-OOM command not allowed when used memory > 'maxmemory'.\r\n"
    );
    assert_eq!(c.call(&["EXISTS", "big"]), ":0\r\n");
    assert_eq!(c.call(&["SET", "small", "v"]), "+OK\r\n");
}

#[test]
fn multi_abuse_is_bounded() {
    let node = NodeProcess::start(&[]);
    let mut c = node.client();
    assert_eq!(
        c.call(&["CONFIG", "SET", "client-query-buffer-limit", "1mb"]),
        "+OK\r\n"
    );
    assert_eq!(c.call(&["MULTI"]), "+OK\r\n");
    let value = "x".repeat(100 * 1024);
    let mut refused = false;
    for _ in 0..20 {
        let reply = c.call(&["SET", "k", &value]);
        if reply.starts_with("-ERR MULTI queue exceeds") {
            refused = true;
            break;
        }
        assert_eq!(reply, "+QUEUED\r\n");
    }
    assert!(
        refused,
        "a transaction queue past the query buffer limit must be refused"
    );
    assert_eq!(
        c.call(&["EXEC"]),
        "-EXECABORT Transaction discarded because of previous errors.\r\n"
    );
    assert_eq!(c.call(&["EXISTS", "k"]), ":0\r\n");
}
