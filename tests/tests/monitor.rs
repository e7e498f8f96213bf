//! MONITOR against a node and through the proxy: another client's commands arrive as Redis
//! writes them (time, address, quoted arguments), credentials redacted, admin commands left
//! out; the monitoring connection may only PING, QUIT or RESET (which ends monitoring).

use std::time::{Duration, Instant};

use cachering_tests::{Client, NodeProcess, ProxyProcess};

/// Reads from `monitor` until `want` lines arrived (or a few seconds passed).
fn lines(monitor: &mut Client, want: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut got = Vec::new();
    while got.len() < want && Instant::now() < deadline {
        if let Some(line) = monitor.read_reply() {
            got.push(line);
        }
    }
    got
}

/// The line's text after its time and address: `"GET" "a"`.
fn command_of(line: &str) -> &str {
    let after = line.split_once("] ").map_or("", |(_, rest)| rest);
    after.trim_end_matches("\r\n")
}

fn monitor_shows_commands(addr: std::net::SocketAddr) {
    let mut monitor = Client::connect(addr);
    assert_eq!(monitor.call(&["MONITOR"]), "+OK\r\n");
    let mut other = Client::connect(addr);
    let local = other.stream().local_addr().unwrap();
    assert_eq!(other.call(&["SET", "k\"\n\u{1}", "v"]), "+OK\r\n");
    assert!(other.call(&["AUTH", "secret"]).starts_with("-ERR"));
    // An admin command (answered, or refused by the proxy) is not shown.
    other.call(&["CONFIG", "GET", "maxmemory"]);
    other.send_raw(b"MULTI\r\nGET a\r\nEXEC\r\nNOSUCH\r\n");
    for _ in 0..4 {
        other.read_reply();
    }
    let got = lines(&mut monitor, 5);
    let commands: Vec<&str> = got.iter().map(|l| command_of(l)).collect();
    assert_eq!(
        commands,
        [
            r#""SET" "k\"\n\x01" "v""#,
            r#""AUTH" "(redacted)""#,
            r#""MULTI""#,
            r#""GET" "a""#,
            r#""EXEC""#,
        ],
        "{got:?}"
    );
    // `+<seconds>.<microseconds> [0 <address>] ...`, the address the other client's.
    let first = &got[0];
    let (time, rest) = first[1..].split_once(' ').unwrap();
    let (seconds, micros) = time.split_once('.').unwrap();
    assert!(
        seconds.parse::<u64>().is_ok() && micros.len() == 6,
        "{first:?}"
    );
    assert!(
        rest.starts_with(&format!("[0 {local}]")),
        "{first:?} from {local}"
    );
    // The monitoring connection may only PING, QUIT or RESET.
    assert_eq!(
        monitor.call(&["GET", "k"]),
        "-ERR Replica can't interact with the keyspace\r\n"
    );
    assert_eq!(monitor.call(&["PING"]), "+PONG\r\n");
    assert!(command_of(&lines(&mut monitor, 1)[0]) == r#""PING""#);
    assert_eq!(monitor.call(&["RESET"]), "+RESET\r\n");
    assert_eq!(monitor.call(&["GET", "nokey"]), "$-1\r\n");
}

#[test]
fn a_node_shows_commands_to_monitors() {
    let node = NodeProcess::start(&[]);
    monitor_shows_commands(node.addr);
}

#[test]
fn the_proxy_shows_the_commands_it_receives() {
    let proxy = ProxyProcess::start(&[], &[]);
    monitor_shows_commands(proxy.addr);
}
