//! Building a [`Client`](crate::Client): nodes, replicas, timeouts and the health settings,
//! each with a documented default drawn from twemproxy, mcrouter and Envoy.

use std::net::SocketAddr;
use std::time::Duration;

use crate::discovery::Source;
use crate::error::{Error, ErrorKind, Result};

/// Copies of each key. Two survive the loss of any one node.
pub const DEFAULT_REPLICAS: usize = 2;
/// Time to establish a connection.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
/// Time for one request to one node: mcrouter's default is 1 s; a cache read that takes longer
/// is better served by a replica, so 250 ms.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_millis(250);
/// Connections per node; one multiplexed connection carries thousands of requests in flight.
pub const DEFAULT_CONNECTIONS_PER_NODE: usize = 1;
/// Consecutive failures (timeouts, connection errors) that eject a node: twemproxy ejects
/// after 2, mcrouter after 3 timeouts.
pub const DEFAULT_FAILURE_THRESHOLD: u32 = 3;
/// First wait before probing an ejected node; doubles (with ±20 % jitter) up to the maximum.
/// mcrouter probes after 10 s, twemproxy retries after 30 s; with repair on re-admission a
/// returning node is safe to take back sooner.
pub const DEFAULT_PROBE_INTERVAL: Duration = Duration::from_secs(1);
/// Longest wait between probes (mcrouter: 60 s).
pub const DEFAULT_MAX_PROBE_INTERVAL: Duration = Duration::from_secs(30);
/// Largest share of the ring that may be ejected at once, so a network blip on the client's
/// side does not eject every node (Envoy caps at 10 %; with three nodes that would allow none).
pub const DEFAULT_MAX_EJECTED_FRACTION: f64 = 0.5;
/// Keys remembered per node for repair while it is away. Past this the node is emptied
/// (FLUSHALL) before it serves reads again, so it never serves a stale value.
pub const DEFAULT_HINT_CAPACITY: usize = 100_000;
/// How long after a node comes back empty (restart, or emptied for repair) a miss on it is
/// checked against the next replica and filled.
pub const DEFAULT_WARMUP: Duration = Duration::from_secs(60);
/// How often nodes found by DNS are looked up again (and soon after a node is ejected):
/// a pod added to a StatefulSet joins the ring within this long.
pub const DEFAULT_DISCOVERY_INTERVAL: Duration = Duration::from_secs(5);
/// How long a node found by DNS stays on the ring after answers stop listing it, so a DNS blip
/// or a pod between addresses does not move keys.
pub const DEFAULT_DISCOVERY_GRACE: Duration = Duration::from_secs(30);
/// How long after a ring change a key missing on its new replicas is looked for on its
/// replicas on the previous ring (and copied over), and a write deletes the old copies.
pub const DEFAULT_MIGRATION_WINDOW: Duration = Duration::from_secs(60);

/// The system clock in Unix milliseconds.
pub(crate) fn wall_clock_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as u64)
}

/// A node of the ring.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct NodeSpec {
    /// The node's identity on the ring. Default: `addr` as written.
    pub name: String,
    /// `host:port`, resolved again on every connect.
    pub addr: String,
    /// Share of keys relative to other nodes. Default: 1.0.
    pub weight: f64,
}

impl NodeSpec {
    /// A node named by its address, weight 1.
    pub fn new(addr: impl Into<String>) -> Self {
        let addr = addr.into();
        Self {
            name: addr.clone(),
            addr,
            weight: 1.0,
        }
    }

    /// With a different ring name (keys follow the name, not the address).
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// With a different weight.
    pub fn with_weight(mut self, weight: f64) -> Self {
        self.weight = weight;
        self
    }

    /// Parses `host:port`, `name=host:port` or either with `*weight` appended.
    ///
    /// ```
    /// use cachering_client::NodeSpec;
    ///
    /// let spec = NodeSpec::parse("cache-1=10.0.0.1:6379*2")?;
    /// assert_eq!((spec.name.as_str(), spec.addr.as_str(), spec.weight), ("cache-1", "10.0.0.1:6379", 2.0));
    /// # Ok::<(), cachering_client::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Config`] when the address has no port or the weight is not a number.
    pub fn parse(text: &str) -> Result<Self> {
        let (rest, weight) = match text.rsplit_once('*') {
            Some((rest, weight)) => (
                rest,
                weight.parse::<f64>().map_err(|_| {
                    Error::new(ErrorKind::Config, format!("bad weight in '{text}'"))
                })?,
            ),
            None => (text, 1.0),
        };
        let (name, addr) = match rest.split_once('=') {
            Some((name, addr)) => (name.to_string(), addr.to_string()),
            None => (rest.to_string(), rest.to_string()),
        };
        if !addr.contains(':') {
            return Err(Error::new(
                ErrorKind::Config,
                format!("'{text}' is not host:port"),
            ));
        }
        Ok(Self { name, addr, weight })
    }
}

/// How many replicas must acknowledge a write for it to succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum WriteRule {
    /// At least one replica. The default: a cache prefers accepting a write to refusing it, and
    /// every replica that missed it is repaired before it serves that key again.
    #[default]
    One,
    /// A majority of the key's replicas.
    Majority,
    /// Every replica.
    All,
}

impl WriteRule {
    /// Acknowledgements needed out of `replicas`.
    pub fn required(self, replicas: usize) -> usize {
        match self {
            WriteRule::One => 1.min(replicas),
            WriteRule::Majority => replicas / 2 + 1,
            WriteRule::All => replicas,
        }
    }
}

/// What a read waits for: the trade between seeing every acknowledged write and the cost of
/// asking more than one replica.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ReadConsistency {
    /// Ask every replica that takes requests for its version of the key (one of them for the
    /// value too, in the same round trip) and answer with the newest; replicas found behind are
    /// repaired on the spot. A read sees every write acknowledged before it started, from any
    /// client process, whichever replica that write reached. The default.
    #[default]
    Newest,
    /// Ask the first replica that serves reads, and the next only on failure or when a node
    /// warming up misses. Cheaper (one request per read), but a process reads a value older
    /// than another process's acknowledged write while a replica it reads from missed that
    /// write and nobody in this process knows (`docs/consistency.md` measures the window).
    One,
}

/// Everything a client runs with.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub replicas: usize,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    pub connections_per_node: usize,
    pub write_rule: WriteRule,
    pub failure_threshold: u32,
    pub probe_interval: Duration,
    pub max_probe_interval: Duration,
    pub max_ejected_fraction: f64,
    pub hint_capacity: usize,
    pub warmup: Duration,
    pub password: Option<String>,
    pub read_consistency: ReadConsistency,
    /// Wall-clock time in Unix milliseconds; replaceable so tests can skew it.
    pub wall_clock: fn() -> u64,
    pub discovery_interval: Duration,
    pub discovery_grace: Duration,
    pub migration_window: Duration,
    /// The DNS server discovery asks, instead of the system's configuration.
    pub dns_server: Option<SocketAddr>,
    /// The near cache's bytes; 0: no near cache.
    pub near_cache: u64,
    /// Only hot keys go into the near cache.
    pub near_cache_hot_only: bool,
    /// Reads of hot keys are spread over their replicas.
    pub spread_hot_reads: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            replicas: DEFAULT_REPLICAS,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            connections_per_node: DEFAULT_CONNECTIONS_PER_NODE,
            write_rule: WriteRule::One,
            failure_threshold: DEFAULT_FAILURE_THRESHOLD,
            probe_interval: DEFAULT_PROBE_INTERVAL,
            max_probe_interval: DEFAULT_MAX_PROBE_INTERVAL,
            max_ejected_fraction: DEFAULT_MAX_EJECTED_FRACTION,
            hint_capacity: DEFAULT_HINT_CAPACITY,
            warmup: DEFAULT_WARMUP,
            password: None,
            read_consistency: ReadConsistency::Newest,
            wall_clock: wall_clock_ms,
            discovery_interval: DEFAULT_DISCOVERY_INTERVAL,
            discovery_grace: DEFAULT_DISCOVERY_GRACE,
            migration_window: DEFAULT_MIGRATION_WINDOW,
            dns_server: None,
            near_cache: 0,
            near_cache_hot_only: false,
            spread_hot_reads: false,
        }
    }
}

/// Builds a [`Client`](crate::Client).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> cachering_client::Result<()> {
/// use std::time::Duration;
/// use cachering_client::{ClientBuilder, WriteRule};
///
/// let client = ClientBuilder::new()
///     .node("10.0.0.1:6379")
///     .node("10.0.0.2:6379")
///     .node("10.0.0.3:6379")
///     .with_replicas(2)
///     .with_request_timeout(Duration::from_millis(100))
///     .with_write_rule(WriteRule::Majority)
///     .build()?;
/// assert_eq!(client.node_status().len(), 3);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Default)]
pub struct ClientBuilder {
    nodes: Vec<NodeSpec>,
    /// Discovery sources as written (`dns+…`, `dnssrv+…`), parsed by `build`.
    sources: Vec<String>,
    settings: Settings,
}

impl ClientBuilder {
    /// A builder with no nodes and the default settings.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a node by `host:port` (its name on the ring is the same text), or the nodes DNS
    /// finds: `dns+NAME:PORT` (every A/AAAA record of NAME, as a Kubernetes headless Service
    /// answers) or `dnssrv+NAME` (every SRV record: host and port). Nodes found by DNS are
    /// looked up again every [`with_discovery_interval`](Self::with_discovery_interval) and
    /// keep their place on the ring by name (an SRV target's host; for A records, the name
    /// the node reports, `cachering node --name`, by default its host name).
    pub fn node(mut self, addr: impl Into<String>) -> Self {
        let addr = addr.into();
        if Source::is_source(&addr) {
            self.sources.push(addr);
        } else {
            self.nodes.push(NodeSpec::new(addr));
        }
        self
    }

    /// Adds a node described in full.
    pub fn node_spec(mut self, spec: NodeSpec) -> Self {
        self.nodes.push(spec);
        self
    }

    /// Adds several nodes.
    pub fn nodes<I, S>(mut self, addrs: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        for addr in addrs {
            self = self.node(addr);
        }
        self
    }

    /// Copies of each key. Default: 2.
    pub fn with_replicas(mut self, replicas: usize) -> Self {
        self.settings.replicas = replicas;
        self
    }

    /// Time to establish a connection. Default: 500 ms.
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.settings.connect_timeout = timeout;
        self
    }

    /// Time for one request to one node; a read that takes longer goes to the next replica.
    /// Default: 250 ms.
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.settings.request_timeout = timeout;
        self
    }

    /// Connections per node, used in turn. Default: 1.
    pub fn with_connections_per_node(mut self, connections: usize) -> Self {
        self.settings.connections_per_node = connections;
        self
    }

    /// Acknowledgements a write needs. Default: [`WriteRule::One`].
    pub fn with_write_rule(mut self, rule: WriteRule) -> Self {
        self.settings.write_rule = rule;
        self
    }

    /// Consecutive failures that eject a node. Default: 3.
    pub fn with_failure_threshold(mut self, failures: u32) -> Self {
        self.settings.failure_threshold = failures;
        self
    }

    /// First and longest wait between probes of an ejected node. Default: 1 s and 30 s.
    pub fn with_probe_interval(mut self, first: Duration, max: Duration) -> Self {
        self.settings.probe_interval = first;
        self.settings.max_probe_interval = max;
        self
    }

    /// Largest share of nodes ejected at once. Default: 0.5.
    pub fn with_max_ejected_fraction(mut self, fraction: f64) -> Self {
        self.settings.max_ejected_fraction = fraction;
        self
    }

    /// Keys remembered per absent node for repair. Default: 100,000.
    pub fn with_hint_capacity(mut self, keys: usize) -> Self {
        self.settings.hint_capacity = keys;
        self
    }

    /// How long a node that came back empty is warmed from its replicas. Default: 60 s.
    pub fn with_warmup(mut self, warmup: Duration) -> Self {
        self.settings.warmup = warmup;
        self
    }

    /// The password nodes require (`requirepass`), sent with AUTH on every new connection.
    /// Default: none.
    pub fn with_password(mut self, password: impl Into<String>) -> Self {
        self.settings.password = Some(password.into());
        self
    }

    /// Keeps GET's values in this process, up to `bytes` (keys and values), exact by the
    /// nodes' invalidations (CLIENT TRACKING): a value changed by any process is not served
    /// from here once its invalidation arrived, and nothing is served from a node whose
    /// invalidation stream broke (see `docs/client.md`). Off (0) by default. [`Client::get_uncached`]
    /// reads past it.
    ///
    /// [`Client::get_uncached`]: crate::Client::get_uncached
    pub fn with_near_cache(mut self, bytes: u64) -> Self {
        self.settings.near_cache = bytes;
        self
    }

    /// Keeps only hot keys in the near cache (see [`Client::hot_keys`]): the others are read
    /// from the nodes every time and cost the cache nothing. Default: off (every GET fills).
    ///
    /// [`Client::hot_keys`]: crate::Client::hot_keys
    pub fn with_near_cache_hot_only(mut self, hot_only: bool) -> Self {
        self.settings.near_cache_hot_only = hot_only;
        self
    }

    /// Spreads reads of hot keys (see [`Client::hot_keys`]) over every replica that serves
    /// reads, in turn, instead of the key's first: a key taking half the traffic then loads its
    /// replicas evenly. With [`ReadConsistency::Newest`] the other replicas are asked for their
    /// version anyway, so this moves the full read, not the request count. Default: off.
    ///
    /// [`Client::hot_keys`]: crate::Client::hot_keys
    pub fn with_hot_key_spreading(mut self, spread: bool) -> Self {
        self.settings.spread_hot_reads = spread;
        self
    }

    /// What reads wait for. Default: [`ReadConsistency::Newest`].
    pub fn with_read_consistency(mut self, consistency: ReadConsistency) -> Self {
        self.settings.read_consistency = consistency;
        self
    }

    /// How often nodes found by DNS are looked up again; a lookup also follows soon after a
    /// node is ejected. Default: 5 s.
    pub fn with_discovery_interval(mut self, interval: Duration) -> Self {
        self.settings.discovery_interval = interval;
        self
    }

    /// How long a node found by DNS stays on the ring after answers stop listing it.
    /// Default: 30 s.
    pub fn with_discovery_grace(mut self, grace: Duration) -> Self {
        self.settings.discovery_grace = grace;
        self
    }

    /// How long after a ring change (nodes added or removed, by discovery or
    /// [`Client::set_nodes`](crate::Client::set_nodes)) a key that its new replicas do not
    /// know is looked for on its replicas on the previous ring and copied over, and a write
    /// deletes the copies left on nodes that no longer hold the key. Default: 60 s; zero turns
    /// it off.
    pub fn with_migration_window(mut self, window: Duration) -> Self {
        self.settings.migration_window = window;
        self
    }

    /// The DNS server (`ip:port`) that `dns+` and `dnssrv+` names are looked up on, instead of
    /// the system's resolver configuration. Default: the system's.
    pub fn with_dns_server(mut self, server: SocketAddr) -> Self {
        self.settings.dns_server = Some(server);
        self
    }

    /// Replaces the wall clock the client's versions follow (for tests of clock skew: a client
    /// whose clock runs ahead or behind). Default: the system clock.
    #[doc(hidden)]
    pub fn with_wall_clock(mut self, clock: fn() -> u64) -> Self {
        self.settings.wall_clock = clock;
        self
    }

    /// Builds the client. Connections open on first use, so nodes need not be up yet. With
    /// nodes found by DNS, the first lookup starts at once in the background; requests wait
    /// for it (up to the connect timeout) rather than fail on an empty ring.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Config`] with no nodes, zero replicas or zero connections per node, a
    /// node name given twice, or a malformed `dns+`/`dnssrv+` source.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime: the client runs a background repair task.
    pub fn build(self) -> Result<crate::Client> {
        if self.nodes.is_empty() && self.sources.is_empty() {
            return Err(Error::new(ErrorKind::Config, "no nodes"));
        }
        let sources = self
            .sources
            .iter()
            .map(|text| Source::parse(text))
            .collect::<Result<Vec<Source>>>()?;
        if !sources.is_empty() && self.settings.discovery_interval.is_zero() {
            return Err(Error::new(
                ErrorKind::Config,
                "the discovery interval must be above zero",
            ));
        }
        if self.settings.replicas == 0 {
            return Err(Error::new(ErrorKind::Config, "replicas must be at least 1"));
        }
        if self.settings.connections_per_node == 0 {
            return Err(Error::new(
                ErrorKind::Config,
                "connections per node must be at least 1",
            ));
        }
        let mut names = std::collections::HashSet::new();
        for node in &self.nodes {
            if !names.insert(node.name.as_str()) {
                return Err(Error::new(
                    ErrorKind::Config,
                    format!("node name '{}' appears twice", node.name),
                ));
            }
        }
        Ok(crate::Client::from_parts(
            self.nodes,
            sources,
            self.settings,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_specs_parse() {
        assert_eq!(NodeSpec::parse("a:1").unwrap(), NodeSpec::new("a:1"));
        let spec = NodeSpec::parse("cache-1=10.0.0.1:6379*2").unwrap();
        assert_eq!(
            (spec.name.as_str(), spec.addr.as_str(), spec.weight),
            ("cache-1", "10.0.0.1:6379", 2.0)
        );
        assert!(NodeSpec::parse("nohost").is_err());
        assert!(NodeSpec::parse("a:1*x").is_err());
    }

    #[test]
    fn write_rules() {
        assert_eq!(WriteRule::One.required(2), 1);
        assert_eq!(WriteRule::Majority.required(2), 2);
        assert_eq!(WriteRule::Majority.required(3), 2);
        assert_eq!(WriteRule::All.required(3), 3);
    }
}
