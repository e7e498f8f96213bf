//! Helpers for the end-to-end tests: start real `cachering` processes on free ports and talk
//! to them over TCP with a minimal RESP client that returns raw reply text, so tests assert
//! the exact bytes a Redis client would see.

pub mod cluster;
pub mod hosts;
pub mod netns;
pub mod relay;
pub mod session;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The `cachering` binary next to the test executable (`target/<profile>/cachering`).
pub fn binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps");
    let binary = profile_dir.join("cachering");
    assert!(
        binary.exists(),
        "{} is missing: build it first with `cargo build -p cachering` (the README's test command does)",
        binary.display()
    );
    binary
}

/// A port that was free a moment ago and that no other test in this process was given.
///
/// Tests in one binary run in parallel: two of them can be handed the same just-released port
/// before either server binds it, and the slower one then talks to the other's server. Ports
/// already handed out are therefore never handed out again.
pub fn free_port() -> u16 {
    static GIVEN: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if GIVEN.lock().unwrap().insert(port) {
            return port;
        }
    }
}

/// A `cachering node` process, killed when dropped.
pub struct NodeProcess {
    /// The child process.
    pub child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl NodeProcess {
    /// Starts a node on a free port with extra flags, and waits until it answers PING. Tests
    /// run in parallel, so if another process takes the port between the pick and the bind,
    /// it tries another.
    pub fn start(extra: &[&str]) -> Self {
        for _ in 0..5 {
            if let Some(node) = Self::try_start_on(free_port(), extra) {
                return node;
            }
        }
        panic!("no node could start");
    }

    /// Starts a node on `port` (to restart one where it was).
    pub fn start_on(port: u16, extra: &[&str]) -> Self {
        Self::try_start_on(port, extra)
            .unwrap_or_else(|| panic!("node on port {port} did not start"))
    }

    /// Starts a node listening on `ip` (an address a test created), on a free port.
    pub fn start_at(ip: &str, extra: &[&str]) -> Self {
        for _ in 0..5 {
            if let Some(node) = Self::try_start(ip, free_port(), extra) {
                return node;
            }
        }
        panic!("no node could start on {ip}");
    }

    fn try_start_on(port: u16, extra: &[&str]) -> Option<Self> {
        Self::try_start("127.0.0.1", port, extra)
    }

    /// Starts a node on `ip:port` exactly; `None` if the port is taken there.
    pub fn start_at_port(ip: &str, port: u16, extra: &[&str]) -> Option<Self> {
        Self::try_start(ip, port, extra)
    }

    fn try_start(ip: &str, port: u16, extra: &[&str]) -> Option<Self> {
        let mut child = Command::new(binary())
            .args([
                "node",
                "--bind",
                ip,
                "--port",
                &port.to_string(),
                "--log-level",
                "warn",
            ])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn cachering node");
        let addr: SocketAddr = format!("{ip}:{port}").parse().unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            // An exit means the port was taken by another process.
            if child.try_wait().ok().flatten().is_some() {
                return None;
            }
            if let Ok(mut client) = Client::try_connect(addr) {
                // Another process may hold the port (one shutting down closes at once): no
                // reply is not an answer from ours, so look again.
                let sent = client.stream.write_all(&encode(&[b"PING"])).is_ok();
                let reply = sent
                    .then(|| client.read_reply())
                    .flatten()
                    .unwrap_or_default();
                let ours = child.try_wait().ok().flatten().is_none();
                if ours && (reply.starts_with("+PONG") || reply.starts_with("-NOAUTH")) {
                    return Some(Self { child, addr });
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        None
    }

    /// A connected client.
    pub fn client(&self) -> Client {
        Client::connect(self.addr)
    }

    /// The node's `total_commands_processed` (INFO stats).
    pub fn commands_processed(&self) -> u64 {
        self.client().commands_processed()
    }

    /// The node's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal to the process.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -{signal} failed");
    }

    /// Waits for the process to exit, up to `limit`; its exit status.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }

    /// Resident memory of the process, in bytes.
    pub fn rss_bytes(&self) -> u64 {
        let statm =
            std::fs::read_to_string(format!("/proc/{}/statm", self.pid())).unwrap_or_default();
        statm
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.parse::<u64>().ok())
            .unwrap_or(0)
            * 4096
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Proxy flags for fast failure detection in tests: a 200 ms request and connect timeout,
/// probes from 100 ms to 500 ms.
pub const FAST_FAILOVER: &[&str] = &[
    "--request-timeout-ms",
    "200",
    "--connect-timeout-ms",
    "200",
    "--probe-interval-ms",
    "100",
    "--max-probe-interval-ms",
    "500",
];

/// A library client over `addrs` (R = 2) with the same fast failure detection as
/// [`FAST_FAILOVER`] gives the proxies.
pub fn fast_failover_library(addrs: &[String]) -> cachering_client::Client {
    cachering_client::ClientBuilder::new()
        .nodes(addrs.iter().cloned())
        .with_replicas(2)
        .with_request_timeout(Duration::from_millis(200))
        .with_connect_timeout(Duration::from_millis(200))
        .with_probe_interval(Duration::from_millis(100), Duration::from_millis(500))
        .build()
        .unwrap()
}

/// `FAST_FAILOVER`, except the flags `extra` sets itself, then `extra`.
pub fn fast_failover_with<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut flags = Vec::new();
    for pair in FAST_FAILOVER.chunks(2) {
        if !extra.contains(&pair[0]) {
            flags.extend_from_slice(pair);
        }
    }
    flags.extend_from_slice(extra);
    flags
}

/// A `cachering proxy` process over three node processes, all killed when dropped.
pub struct ProxyProcess {
    /// The nodes behind it.
    pub nodes: Vec<NodeProcess>,
    /// The proxy process.
    pub child: Child,
    /// Where the proxy listens.
    pub addr: SocketAddr,
}

impl ProxyProcess {
    /// Starts three nodes (with `node_flags`) and a proxy (with `proxy_flags`) over them.
    pub fn start(node_flags: &[&str], proxy_flags: &[&str]) -> Self {
        let nodes: Vec<NodeProcess> = (0..3).map(|_| NodeProcess::start(node_flags)).collect();
        let addrs: Vec<String> = nodes.iter().map(|n| n.addr.to_string()).collect();
        Self::over(nodes, &addrs, proxy_flags)
    }

    /// Starts a proxy over the nodes at `addrs`; it owns `nodes` (which may be fewer, when
    /// some nodes are managed elsewhere).
    pub fn over(nodes: Vec<NodeProcess>, addrs: &[String], proxy_flags: &[&str]) -> Self {
        let list = addrs.join(",");
        let mut flags = vec!["--nodes", &list];
        flags.extend_from_slice(proxy_flags);
        Self::with_flags(nodes, &flags)
    }

    /// Starts a proxy with `flags` alone (after its port and log level): its nodes come from
    /// the flags or a `--config` file.
    pub fn with_flags(nodes: Vec<NodeProcess>, flags: &[&str]) -> Self {
        for _ in 0..5 {
            let port = free_port();
            let mut child = Command::new(binary())
                .args(["proxy", "--port", &port.to_string(), "--log-level", "warn"])
                .args(flags)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("spawn cachering proxy");
            let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline && child.try_wait().ok().flatten().is_none() {
                if Client::try_connect(addr).is_ok() && child.try_wait().ok().flatten().is_none() {
                    return Self { nodes, child, addr };
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("no proxy could start")
    }

    /// A connected client.
    pub fn client(&self) -> Client {
        Client::connect(self.addr)
    }

    /// The proxy's view of node `index` (its INFO line: state, hints, warm-up).
    pub fn node_line(&self, index: usize) -> String {
        let info = self.client().call(&["INFO"]);
        let prefix = format!("node{index}:");
        info.lines()
            .find(|line| line.starts_with(&prefix))
            .unwrap_or_else(|| panic!("no {prefix} line in INFO: {info}"))
            .to_string()
    }

    /// Waits until the proxy sees node `index` healthy with nothing left to repair.
    pub fn wait_repaired(&self, index: usize) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let line = self.node_line(index);
            if line.contains("state=healthy") && line.contains("hints_pending=0") {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "node {index} never recovered: {line}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Resident memory of the proxy process, in bytes.
    pub fn rss_bytes(&self) -> u64 {
        let statm =
            std::fs::read_to_string(format!("/proc/{}/statm", self.child.id())).unwrap_or_default();
        statm
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.parse::<u64>().ok())
            .unwrap_or(0)
            * 4096
    }
}

impl Drop for ProxyProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A blocking RESP client that returns each reply as its raw text.
pub struct Client {
    stream: TcpStream,
    buffer: Vec<u8>,
    resp3: bool,
}

/// Encodes a request as a RESP array of bulk strings.
pub fn encode(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend(format!("${}\r\n", arg.len()).into_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    out
}

impl Client {
    /// Connects or panics.
    pub fn connect(addr: SocketAddr) -> Self {
        Self::try_connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"))
    }

    /// Connects.
    pub fn try_connect(addr: SocketAddr) -> std::io::Result<Self> {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        Ok(Self {
            stream,
            buffer: Vec::new(),
            resp3: false,
        })
    }

    /// Switches this client's reply parsing to RESP3 (after `HELLO 3`).
    pub fn set_resp3(&mut self, resp3: bool) {
        self.resp3 = resp3;
    }

    /// Sends a command and returns its reply's raw text.
    pub fn call(&mut self, args: &[&str]) -> String {
        let raw: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        self.call_bytes(&raw)
    }

    /// Sends a command with binary arguments and returns its reply's raw text.
    pub fn call_bytes(&mut self, args: &[&[u8]]) -> String {
        self.send_raw(&encode(args));
        self.read_reply().unwrap_or_else(|| {
            let shown: Vec<_> = args.iter().map(|a| String::from_utf8_lossy(a)).collect();
            panic!("no reply to {shown:?}")
        })
    }

    /// Sends every command at once (one write) and returns their replies' raw text, in order.
    pub fn pipeline(&mut self, commands: &[Vec<String>]) -> Vec<String> {
        let mut bytes = Vec::new();
        for command in commands {
            let raw: Vec<&[u8]> = command.iter().map(|a| a.as_bytes()).collect();
            bytes.extend(encode(&raw));
        }
        self.send_raw(&bytes);
        (0..commands.len())
            .map(|i| {
                self.read_reply()
                    .unwrap_or_else(|| panic!("no reply to command {i} of the pipeline"))
            })
            .collect()
    }

    /// Sends a command without reading its reply.
    pub fn send(&mut self, args: &[&str]) {
        let raw: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        self.send_raw(&encode(&raw));
    }

    /// The server's `total_commands_processed` (INFO stats).
    pub fn commands_processed(&mut self) -> u64 {
        let info = self.call(&["INFO", "stats"]);
        info.lines()
            .find_map(|line| line.strip_prefix("total_commands_processed:"))
            .and_then(|n| n.trim().parse().ok())
            .expect("INFO stats names total_commands_processed")
    }

    /// INFO's `blocked_clients` (on a node or a proxy).
    pub fn blocked_clients(&mut self) -> u64 {
        let info = self.call(&["INFO", "clients"]);
        info.lines()
            .find_map(|line| line.strip_prefix("blocked_clients:"))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("no blocked_clients in {info:?}"))
    }

    /// Waits, up to 10 s, until INFO's `blocked_clients` is `want`.
    pub fn until_blocked(&mut self, want: u64) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let blocked = self.blocked_clients();
            if blocked == want {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "blocked_clients stayed {blocked}, never {want}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Writes bytes as they are.
    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write");
    }

    /// Reads one reply; `None` if the connection closed first.
    pub fn read_reply(&mut self) -> Option<String> {
        loop {
            if let Some(len) = self.complete_reply_len() {
                let reply: Vec<u8> = self.buffer.drain(..len).collect();
                return Some(String::from_utf8_lossy(&reply).into_owned());
            }
            let mut chunk = [0u8; 65536];
            match self.stream.read(&mut chunk) {
                Ok(0) | Err(_) => {
                    eprintln!("unparsed: {:?}", String::from_utf8_lossy(&self.buffer));
                    return None;
                }
                Ok(n) => self.buffer.extend_from_slice(&chunk[..n]),
            }
        }
    }

    fn complete_reply_len(&self) -> Option<usize> {
        if self.buffer.is_empty() {
            return None;
        }
        if self.resp3 {
            redis_protocol::resp3::decode::complete::decode(&self.buffer)
                .ok()
                .flatten()
                .map(|(_, len)| len)
        } else {
            redis_protocol::resp2::decode::decode(&self.buffer)
                .ok()
                .flatten()
                .map(|(_, len)| len)
        }
    }

    /// Whether the server closed the connection (reads EOF within a few seconds).
    pub fn is_closed(&mut self) -> bool {
        self.stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut chunk = [0u8; 65536];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => return true,
                Ok(_) => continue,
                Err(e) => {
                    return e.kind() != std::io::ErrorKind::WouldBlock
                        && e.kind() != std::io::ErrorKind::TimedOut
                }
            }
        }
    }

    /// The underlying socket.
    pub fn stream(&mut self) -> &mut TcpStream {
        &mut self.stream
    }
}

/// A bulk-string reply's raw text.
pub fn bulk(text: &str) -> String {
    format!("${}\r\n{text}\r\n", text.len())
}

/// An integer reply's raw text.
pub fn int(n: i64) -> String {
    format!(":{n}\r\n")
}

/// An array of bulk strings' raw text.
pub fn array(items: &[&str]) -> String {
    let mut out = format!("*{}\r\n", items.len());
    for item in items {
        out.push_str(&bulk(item));
    }
    out
}
