//! Starting and stopping nodes: signals, SHUTDOWN, run ids, flags and config files, and the
//! node as a library started in-process on port 0.

use std::process::Command;
use std::time::{Duration, Instant};

use cachering_tests::{binary, bulk, encode, free_port, Client, NodeProcess, ProxyProcess};

fn run_id(client: &mut Client) -> String {
    let info = client.call(&["INFO", "server"]);
    let line = info
        .lines()
        .find(|l| l.starts_with("run_id:"))
        .expect("run_id in INFO");
    line.trim_start_matches("run_id:").to_string()
}

#[test]
fn sigterm_finishes_in_flight_requests_then_exits() {
    for signal in ["TERM", "INT"] {
        let mut node = NodeProcess::start(&[]);
        let mut client = node.client();
        let mut batch = Vec::new();
        for i in 0..2000 {
            batch.extend(encode(&[b"SET", format!("k{i}").as_bytes(), b"v"]));
        }
        client.send_raw(&batch);
        // The first reply proves the batch arrived before the signal.
        assert_eq!(client.read_reply().unwrap(), "+OK\r\n");
        node.signal(signal);
        for _ in 1..2000 {
            assert_eq!(
                client.read_reply().as_deref(),
                Some("+OK\r\n"),
                "a request sent before SIG{signal} went unanswered"
            );
        }
        let status = node
            .wait_exit(Duration::from_secs(15))
            .unwrap_or_else(|| panic!("node ignored SIG{signal}"));
        assert!(status.success(), "exit status after SIG{signal}: {status}");
        assert!(
            Client::try_connect(node.addr).is_err(),
            "the node stopped accepting"
        );
    }
}

#[test]
fn shutdown_command_stops_the_node() {
    let mut node = NodeProcess::start(&[]);
    let mut client = node.client();
    client.send_raw(&encode(&[b"SHUTDOWN", b"NOSAVE"]));
    assert!(client.is_closed());
    let status = node
        .wait_exit(Duration::from_secs(15))
        .expect("node exits after SHUTDOWN");
    assert!(status.success());
}

#[test]
fn a_stuck_client_does_not_hold_shutdown_past_its_timeout() {
    let mut node = NodeProcess::start(&["--shutdown-timeout", "1"]);
    let mut stuck = node.client();
    // Half a request: the node waits for the rest until its shutdown timeout.
    stuck.send_raw(b"*2\r\n$3\r\nGET\r\n");
    std::thread::sleep(Duration::from_millis(100));
    let started = Instant::now();
    node.signal("TERM");
    let status = node.wait_exit(Duration::from_secs(10)).expect("node exits");
    assert!(status.success());
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn a_second_signal_exits_at_once_during_a_graceful_stop() {
    let mut node = NodeProcess::start(&["--shutdown-timeout", "60"]);
    let mut stuck = node.client();
    assert_eq!(stuck.call(&["SET", "big", &"x".repeat(1 << 20)]), "+OK\r\n");
    // 40 MiB of replies the client never reads: the node's last flush waits for it (up to
    // its 5 s bound)...
    stuck.send_raw(&encode(&[b"GET", b"big"]).repeat(40));
    std::thread::sleep(Duration::from_millis(300));
    node.signal("TERM");
    assert!(
        node.wait_exit(Duration::from_millis(500)).is_none(),
        "the node stopped without trying to flush its client's replies"
    );
    // ...unless a second signal says to exit at once.
    node.signal("TERM");
    let status = node
        .wait_exit(Duration::from_secs(3))
        .expect("a second SIGTERM ends the node before its flush gives up");
    assert!(status.success(), "{status}");
}

#[test]
fn run_id_changes_on_every_start() {
    let first = NodeProcess::start(&[]);
    let a = run_id(&mut first.client());
    let second = NodeProcess::start(&[]);
    let b = run_id(&mut second.client());
    assert_eq!(a.len(), 40);
    assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
    assert_ne!(a, b);
}

/// A field of INFO server.
fn info_field(client: &mut Client, field: &str) -> String {
    let info = client.call(&["INFO", "server"]);
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("{field} in INFO: {info}"))
        .trim()
        .to_string()
}

#[test]
fn a_node_reports_its_name_by_default_the_host_name() {
    let named = NodeProcess::start(&["--name", "cache-7"]);
    assert_eq!(
        info_field(&mut named.client(), "cachering_node_name"),
        "cache-7"
    );
    let unnamed = NodeProcess::start(&[]);
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(
        info_field(&mut unnamed.client(), "cachering_node_name"),
        host.trim()
    );
    let refused = Command::new(binary())
        .args(["node", "--port", "0", "--name", "two words"])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("invalid node name"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
}

#[test]
fn help_documents_every_flag_with_its_default() {
    let output = Command::new(binary())
        .args(["node", "--help"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    for (flag, default) in [
        ("--bind", "127.0.0.1"),
        ("--port", "6379"),
        ("--maxmemory", "256mb"),
        ("--store", "compact"),
        ("--maxclients", "10000"),
        ("--requirepass", "none"),
        ("--timeout", "0"),
        ("--proto-max-bulk-len", "512mb"),
        ("--client-query-buffer-limit", "1gb"),
        ("--client-output-buffer-limit", "64mb"),
        ("--log-level", "info"),
        ("--shutdown-timeout", "10"),
        ("--threads", "0"),
        ("--tombstone-ttl", "60"),
        ("--name", "the host name"),
    ] {
        let line = help
            .lines()
            .skip_while(|l| !l.contains(flag))
            .take(2)
            .collect::<String>();
        assert!(
            line.contains(&format!("[default: {default}]")),
            "{flag}: {line}"
        );
    }
    assert!(help.contains("--config"));
}

#[test]
fn a_config_file_sets_options_and_flags_override_it() {
    let dir = std::env::temp_dir().join(format!("cachering-lifecycle-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("node.toml");
    let port = free_port();
    std::fs::write(
        &path,
        format!(
            "maxmemory = \"32mb\"\nstore = \"moka\"\n\n[listener]\nport = {port}\nmaxclients = 77\n"
        ),
    )
    .unwrap();
    let node = NodeProcess::start_on(
        port,
        &["--config", path.to_str().unwrap(), "--maxclients", "88"],
    );
    let mut c = node.client();
    let config = c.call(&["CONFIG", "GET", "*"]);
    assert!(config.contains(&bulk("33554432")), "{config}");
    assert!(config.contains(&bulk("moka")), "{config}");
    assert!(config.contains(&bulk("88")), "{config}");
    assert!(config.contains(&bulk(&port.to_string())), "{config}");
    // A file with an unknown key is refused with a message naming the problem, and so is a
    // listener setting at the top level (it belongs in [listener]).
    for (text, key) in [("prot = 1\n", "prot"), ("maxclients = 77\n", "maxclients")] {
        std::fs::write(&path, text).unwrap();
        let output = Command::new(binary())
            .args(["node", "--config", path.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("unknown field") && stderr.contains(key),
            "{stderr}"
        );
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn both_engines_serve_the_same_commands() {
    for engine in ["quick", "moka"] {
        let node = NodeProcess::start(&["--store", engine]);
        let mut c = node.client();
        assert_eq!(c.call(&["SET", "k", "v", "EX", "100"]), "+OK\r\n");
        assert_eq!(c.call(&["INCR", "n"]), ":1\r\n");
        assert_eq!(c.call(&["GET", "k"]), bulk("v"));
        assert_eq!(c.call(&["DBSIZE"]), ":2\r\n");
        let info = c.call(&["INFO", "server"]);
        assert!(info.contains(&format!("store:{engine}")), "{info}");
    }
}

#[test]
fn the_node_runs_in_process_on_port_zero() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let first = cachering_node::start(cachering_node::NodeConfig::ephemeral())
            .await
            .unwrap();
        let second = cachering_node::start(cachering_node::NodeConfig::ephemeral())
            .await
            .unwrap();
        assert_ne!(first.local_addr().port(), 0);
        assert_ne!(first.local_addr(), second.local_addr());
        let addr = first.local_addr();
        let reply = tokio::task::spawn_blocking(move || {
            let mut client = Client::connect(addr);
            (client.call(&["SET", "k", "v"]), client.call(&["GET", "k"]))
        })
        .await
        .unwrap();
        assert_eq!(reply, ("+OK\r\n".to_string(), bulk("v")));
        tokio::time::timeout(Duration::from_secs(15), first.stop())
            .await
            .expect("stops");
        tokio::time::timeout(Duration::from_secs(15), second.stop())
            .await
            .expect("stops");
        assert!(std::net::TcpStream::connect(addr).is_err());
    });
}

/// On one CPU (`taskset`, or a container limited to one) the node runs a single-threaded
/// runtime: it still serves clients side by side and stops cleanly on SIGTERM.
#[test]
fn on_one_cpu_the_node_serves_clients_side_by_side_and_stops_on_sigterm() {
    let port = free_port();
    let child = Command::new("taskset")
        .args(["-c", "0"])
        .arg(binary())
        .args(["node", "--port", &port.to_string(), "--log-level", "warn"])
        .spawn()
        .expect("taskset (util-linux) runs the node on one CPU");
    // Killed on drop if the test fails; taskset execs the node, so the pid is the node's.
    let mut node = NodeProcess {
        child,
        addr: format!("127.0.0.1:{port}").parse().unwrap(),
    };
    let addr = node.addr;
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut first = loop {
        if let Ok(client) = Client::try_connect(addr) {
            break client;
        }
        assert!(
            Instant::now() < deadline,
            "the node did not start on one CPU"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut batch = Vec::new();
    for i in 0..5000 {
        batch.extend(encode(&[b"SET", format!("k{i}").as_bytes(), b"v"]));
    }
    first.send_raw(&batch);
    // A second client is served while the first one's pipeline is in progress.
    let mut second = Client::connect(addr);
    assert_eq!(second.call(&["PING"]), "+PONG\r\n");
    for _ in 0..5000 {
        assert_eq!(first.read_reply().as_deref(), Some("+OK\r\n"));
    }
    assert_eq!(second.call(&["DBSIZE"]), ":5000\r\n");
    node.signal("TERM");
    let exit = node
        .wait_exit(Duration::from_secs(15))
        .expect("the node stops on SIGTERM on one CPU");
    assert!(exit.success(), "exit status on one CPU: {exit}");
}

/// Threads of a process, from `/proc`.
fn thread_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .expect("/proc lists the process's threads")
        .count()
}

/// The proxy runs one thread unless told otherwise (as twemproxy), and `--threads` gives the
/// node and the proxy that many workers; each still serves.
#[test]
fn threads_sets_the_workers_of_node_and_proxy() {
    let single = ProxyProcess::start(&["--threads", "1"], &[]);
    assert_eq!(
        Client::connect(single.addr).call(&["SET", "k", "v"]),
        "+OK\r\n"
    );
    assert_eq!(
        thread_count(single.child.id()),
        1,
        "the proxy's default is one thread"
    );
    assert_eq!(single.nodes[0].client().call(&["PING"]), "+PONG\r\n");
    // The node's thread: the runtime's own, plus at most the blocking pool's expiry sweep.
    assert!(thread_count(single.nodes[0].pid()) <= 2);

    let wide = ProxyProcess::start(&["--threads", "3"], &["--threads", "3"]);
    let mut client = Client::connect(wide.addr);
    assert_eq!(client.call(&["SET", "k", "v"]), "+OK\r\n");
    assert_eq!(client.call(&["GET", "k"]), bulk("v"));
    // Three workers beside the thread that started the runtime.
    assert!(thread_count(wide.child.id()) >= 4);
    assert!(thread_count(wide.nodes[0].pid()) >= 4);
}
