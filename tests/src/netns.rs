//! A node on its own network host: a network namespace joined to this one by a veth pair, so a
//! test can cut it off (a blackhole route: open connections hang, new ones fail at once) and
//! heal it, as a network partition would. Needs root and iproute2.

use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::binary;

static NEXT: AtomicU32 = AtomicU32::new(0);

fn ip(args: &[&str]) {
    let output = Command::new("ip").args(args).output().unwrap_or_else(|e| {
        panic!("`ip` is missing ({e}): install it with `apt-get install -y iproute2`; network tests also need root")
    });
    assert!(
        output.status.success(),
        "ip {} failed: {} (network tests need root)",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A `cachering node` inside its own network namespace.
pub struct IsolatedNode {
    namespace: String,
    host_link: String,
    node_ip: String,
    child: Option<Child>,
    extra: Vec<String>,
    /// Where the node listens, as the host reaches it.
    pub addr: SocketAddr,
}

impl IsolatedNode {
    /// Creates the namespace and link and starts a node there.
    pub fn start(extra: &[&str]) -> Self {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let id = (std::process::id() % 200 + n * 7) % 250 + 1;
        let tag = format!("{}{n}", std::process::id() % 100_000);
        let namespace = format!("crt{tag}");
        let host_link = format!("crh{tag}");
        let node_link = format!("crn{tag}");
        let subnet = format!("10.213.{id}");
        ip(&["netns", "add", &namespace]);
        ip(&[
            "link", "add", &host_link, "type", "veth", "peer", "name", &node_link,
        ]);
        ip(&["link", "set", &node_link, "netns", &namespace]);
        ip(&["addr", "add", &format!("{subnet}.1/24"), "dev", &host_link]);
        ip(&["link", "set", &host_link, "up"]);
        ip(&[
            "netns",
            "exec",
            &namespace,
            "ip",
            "addr",
            "add",
            &format!("{subnet}.2/24"),
            "dev",
            &node_link,
        ]);
        ip(&[
            "netns", "exec", &namespace, "ip", "link", "set", &node_link, "up",
        ]);
        ip(&["netns", "exec", &namespace, "ip", "link", "set", "lo", "up"]);
        let node_ip = format!("{subnet}.2");
        let mut node = Self {
            addr: format!("{node_ip}:6379").parse().unwrap(),
            namespace,
            host_link,
            node_ip,
            child: None,
            extra: extra.iter().map(|s| s.to_string()).collect(),
        };
        node.launch();
        node
    }

    fn launch(&mut self) {
        let child = Command::new("ip")
            .args(["netns", "exec", &self.namespace])
            .arg(binary())
            .args([
                "node",
                "--bind",
                &self.node_ip,
                "--port",
                "6379",
                "--log-level",
                "warn",
            ])
            .args(&self.extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("start a node in the namespace");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect_timeout(&self.addr, Duration::from_millis(200)).is_err() {
            assert!(
                Instant::now() < deadline,
                "node in {} did not start",
                self.namespace
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Cuts the node off: packets to it are dropped.
    pub fn cut(&self) {
        ip(&["route", "add", "blackhole", &format!("{}/32", self.node_ip)]);
    }

    /// Heals the cut.
    pub fn heal(&self) {
        ip(&["route", "del", "blackhole", &format!("{}/32", self.node_ip)]);
    }
}

impl Drop for IsolatedNode {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = Command::new("ip")
            .args(["route", "del", "blackhole", &format!("{}/32", self.node_ip)])
            .output();
        let _ = Command::new("ip")
            .args(["link", "del", &self.host_link])
            .output();
        let _ = Command::new("ip")
            .args(["netns", "del", &self.namespace])
            .output();
    }
}

/// A network namespace joined to this host by a veth pair, for a process that must see the
/// network differently from the test: cut off from one node while the test still reaches it.
/// The host side of the pair has several addresses (nodes bind to them, one each, so one can
/// be cut off alone); the namespace has one.
pub struct Namespace {
    name: String,
    host_link: String,
    subnet: String,
    host_addresses: usize,
}

impl Namespace {
    /// Creates the namespace with `host_addresses` addresses on the host side.
    pub fn new(host_addresses: usize) -> Self {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let id = (std::process::id() % 200 + n * 11) % 250 + 1;
        let tag = format!("{}{n}", std::process::id() % 100_000);
        let name = format!("crp{tag}");
        let host_link = format!("cph{tag}");
        let inner_link = format!("cpn{tag}");
        let subnet = format!("10.216.{id}");
        ip(&["netns", "add", &name]);
        let namespace = Self {
            name,
            host_link,
            subnet,
            host_addresses,
        };
        ip(&[
            "link",
            "add",
            &namespace.host_link,
            "type",
            "veth",
            "peer",
            "name",
            &inner_link,
        ]);
        ip(&["link", "set", &inner_link, "netns", &namespace.name]);
        for i in 0..host_addresses {
            ip(&[
                "addr",
                "add",
                &format!("{}/24", namespace.host_ip(i)),
                "dev",
                &namespace.host_link,
            ]);
        }
        ip(&["link", "set", &namespace.host_link, "up"]);
        namespace.inside(&[
            "ip",
            "addr",
            "add",
            &format!("{}/24", namespace.inside_ip()),
            "dev",
            &inner_link,
        ]);
        namespace.inside(&["ip", "link", "set", &inner_link, "up"]);
        namespace.inside(&["ip", "link", "set", "lo", "up"]);
        namespace
    }

    fn inside(&self, args: &[&str]) {
        let mut full = vec!["netns", "exec", self.name.as_str()];
        full.extend_from_slice(args);
        ip(&full);
    }

    /// The host side's address `i` (0 to `host_addresses - 1`).
    pub fn host_ip(&self, i: usize) -> String {
        assert!(i < self.host_addresses);
        format!("{}.{}", self.subnet, if i == 0 { 1 } else { i + 2 })
    }

    /// The namespace's address.
    pub fn inside_ip(&self) -> String {
        format!("{}.2", self.subnet)
    }

    /// Runs `program` with `args` inside the namespace.
    pub fn spawn(&self, program: &std::path::Path, args: &[&str]) -> Child {
        Command::new("ip")
            .args(["netns", "exec", &self.name])
            .arg(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("start a process in the namespace")
    }

    /// Cuts the namespace off from `address` on the host: its packets there are dropped.
    pub fn cut(&self, address: &str) {
        self.inside(&["ip", "route", "add", "blackhole", &format!("{address}/32")]);
    }

    /// Heals a cut.
    pub fn heal(&self, address: &str) {
        self.inside(&["ip", "route", "del", "blackhole", &format!("{address}/32")]);
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["link", "del", &self.host_link])
            .output();
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}
