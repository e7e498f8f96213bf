//! The proxy's settings: one typed struct that flags and an optional TOML file map onto. The
//! listener's settings are the `[listener]` table and flags the node shares.

use std::path::{Path, PathBuf};
use std::time::Duration;

use cachering_server::{ByteSize, ListenerArgs, ListenerConfig};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The port `cachering up` and the proxy default to (twemproxy uses 22121; 7000 sits below the
/// nodes' 7001-7003 in a local cluster).
pub const DEFAULT_PORT: u16 = 7000;

/// Everything a proxy is started with. In TOML, the listener's settings are the `[listener]`
/// table; the rest are top-level keys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
#[non_exhaustive]
pub struct ProxyConfig {
    /// Address, port, client limits, password, shutdown timeout. Default port: 7000.
    pub listener: ListenerConfig,
    /// The ring: `host:port`, `name=host:port` or either with `*weight`, or nodes found by
    /// DNS: `dns+NAME:PORT` (every A/AAAA record) or `dnssrv+NAME` (every SRV record).
    /// Required.
    pub nodes: Vec<String>,
    /// Copies of each key. Default: 2.
    pub replicas: usize,
    /// Milliseconds to connect to a node. Default: 500.
    pub connect_timeout_ms: u64,
    /// Milliseconds for one request to one node. Default: 250.
    pub request_timeout_ms: u64,
    /// Consecutive failures (timeouts, connection errors) that eject a node. Default: 3.
    pub failure_threshold: u32,
    /// Milliseconds before the first probe of an ejected node; the wait doubles up to
    /// `max-probe-interval-ms`, with jitter. Default: 1000.
    pub probe_interval_ms: u64,
    /// Longest wait between probes of an ejected node, in milliseconds. Default: 30000.
    pub max_probe_interval_ms: u64,
    /// Milliseconds between lookups of nodes found by DNS. Default: 5000.
    pub discovery_interval_ms: u64,
    /// Milliseconds a node found by DNS stays after answers stop listing it. Default: 30000.
    pub discovery_grace_ms: u64,
    /// The DNS server (`ip:port`) discovery asks instead of the system's. Default: the
    /// system's resolver.
    pub dns_server: Option<String>,
    /// Milliseconds after a ring change during which keys are looked for on their former
    /// replicas and copied over; 0 turns it off. Default: 60000.
    pub migration_window_ms: u64,
    /// What a read waits for: `newest` (every replica's version, the newest answer, replicas
    /// behind repaired) or `one` (one replica). Default: newest.
    pub read_consistency: ReadConsistencyName,
    /// Password the nodes require; the proxy sends it on every connection. Default: none.
    pub node_password: Option<String>,
    /// The near cache's size (GET's values kept in the proxy, exact by the nodes'
    /// invalidations); 0 for none. Default: 0.
    pub near_cache: ByteSize,
    /// Only hot keys go into the near cache. Default: false.
    pub near_cache_hot_only: bool,
    /// Reads of hot keys are spread over their replicas. Default: false.
    pub hot_key_spreading: bool,
    /// Log filter. Default: `info`.
    pub log_level: String,
    /// Address of the Prometheus `/metrics` endpoint; none serves no metrics. Default: none
    /// (`--metrics-addr` alone: 127.0.0.1:9471).
    pub metrics_addr: Option<String>,
    /// Threads serving clients and node connections; 0 is one per CPU the process may use.
    /// Read by the binary, which builds the runtime; [`crate::start`] runs on the caller's.
    /// Default: [`DEFAULT_THREADS`].
    pub threads: usize,
}

/// [`ReadConsistency`](cachering_client::ReadConsistency) by name, for flags and TOML.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ReadConsistencyName {
    /// Every replica's version; the newest answer.
    #[default]
    Newest,
    /// One replica.
    One,
}

impl From<ReadConsistencyName> for cachering_client::ReadConsistency {
    fn from(name: ReadConsistencyName) -> Self {
        match name {
            ReadConsistencyName::Newest => cachering_client::ReadConsistency::Newest,
            ReadConsistencyName::One => cachering_client::ReadConsistency::One,
        }
    }
}

/// The proxy's default thread count: one, as twemproxy. A proxy shares its host with the
/// clients or the nodes, and one thread hands nothing between threads: through the proxy at
/// pipeline depth 1 one thread served 51-59k requests per second where a worker per CPU
/// served 37-39k, and 465-555k against 392-451k at depth 16 (`redis-benchmark -c 50`, proxy,
/// node and load on 2 CPUs). On a host of its own with CPUs to spare, raise it.
pub const DEFAULT_THREADS: usize = 1;

/// Where `--metrics-addr` without an address serves the proxy's `/metrics` (the node's default
/// plus one, so a node and a proxy on one host do not collide).
pub const DEFAULT_METRICS_ADDR: &str = "127.0.0.1:9471";

impl Default for ProxyConfig {
    fn default() -> Self {
        Self {
            listener: ListenerConfig::default(),
            nodes: Vec::new(),
            replicas: cachering_client::DEFAULT_REPLICAS,
            connect_timeout_ms: cachering_client::DEFAULT_CONNECT_TIMEOUT.as_millis() as u64,
            request_timeout_ms: cachering_client::DEFAULT_REQUEST_TIMEOUT.as_millis() as u64,
            failure_threshold: cachering_client::DEFAULT_FAILURE_THRESHOLD,
            probe_interval_ms: cachering_client::DEFAULT_PROBE_INTERVAL.as_millis() as u64,
            max_probe_interval_ms: cachering_client::DEFAULT_MAX_PROBE_INTERVAL.as_millis() as u64,
            discovery_interval_ms: cachering_client::DEFAULT_DISCOVERY_INTERVAL.as_millis() as u64,
            discovery_grace_ms: cachering_client::DEFAULT_DISCOVERY_GRACE.as_millis() as u64,
            dns_server: None,
            migration_window_ms: cachering_client::DEFAULT_MIGRATION_WINDOW.as_millis() as u64,
            read_consistency: ReadConsistencyName::Newest,
            node_password: None,
            near_cache: ByteSize(0),
            near_cache_hot_only: false,
            hot_key_spreading: false,
            log_level: "info".to_string(),
            metrics_addr: None,
            threads: DEFAULT_THREADS,
        }
    }
}

/// A config that could not be used.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid.
    #[error("invalid config file {path}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// Why.
        source: Box<toml::de::Error>,
    },
    /// A setting is missing or wrong.
    #[error("{0}")]
    Invalid(String),
}

impl ProxyConfig {
    /// Reads a TOML file; keys not in it keep their defaults.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        toml::from_str(&text).map_err(|source| ConfigError::Parse {
            path: path.to_owned(),
            source: Box::new(source),
        })
    }

    /// The port to listen on (7000 unless set).
    pub fn port(&self) -> u16 {
        self.listener.port_or(DEFAULT_PORT)
    }

    /// The client the proxy runs over these nodes.
    pub fn client_builder(&self) -> Result<cachering_client::ClientBuilder, ConfigError> {
        if self.nodes.is_empty() {
            return Err(ConfigError::Invalid(
                "no nodes: give --nodes host:port,host:port,...".to_string(),
            ));
        }
        let mut builder = cachering_client::ClientBuilder::new()
            .with_replicas(self.replicas)
            .with_connect_timeout(Duration::from_millis(self.connect_timeout_ms))
            .with_request_timeout(Duration::from_millis(self.request_timeout_ms))
            .with_failure_threshold(self.failure_threshold)
            .with_probe_interval(
                Duration::from_millis(self.probe_interval_ms),
                Duration::from_millis(self.max_probe_interval_ms),
            )
            .with_read_consistency(self.read_consistency.into())
            .with_near_cache(self.near_cache.bytes())
            .with_near_cache_hot_only(self.near_cache_hot_only)
            .with_hot_key_spreading(self.hot_key_spreading);
        if let Some(password) = &self.node_password {
            builder = builder.with_password(password.clone());
        }
        builder = builder
            .with_discovery_interval(Duration::from_millis(self.discovery_interval_ms))
            .with_discovery_grace(Duration::from_millis(self.discovery_grace_ms))
            .with_migration_window(Duration::from_millis(self.migration_window_ms));
        if let Some(server) = &self.dns_server {
            let addr = server.parse().map_err(|_| {
                ConfigError::Invalid(format!("dns-server '{server}' is not ip:port"))
            })?;
            builder = builder.with_dns_server(addr);
        }
        for node in &self.nodes {
            if node.starts_with("dns+") || node.starts_with("dnssrv+") {
                builder = builder.node(node.clone());
                continue;
            }
            let spec = cachering_client::NodeSpec::parse(node)
                .map_err(|e| ConfigError::Invalid(e.to_string()))?;
            builder = builder.node_spec(spec);
        }
        Ok(builder)
    }
}

/// `cachering proxy` flags; each overrides the config file and the default.
#[derive(Debug, Clone, Default, clap::Args)]
#[non_exhaustive]
pub struct ProxyArgs {
    /// TOML config file; flags override its values.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The listener's flags, shared with the node.
    #[command(flatten)]
    pub listener: ListenerArgs,
    /// The ring's nodes, comma-separated: host:port, name=host:port, optionally *weight; or found by DNS: dns+NAME:PORT, dnssrv+NAME
    #[arg(long, value_delimiter = ',', value_name = "NODES")]
    pub nodes: Vec<String>,
    /// Copies of each key [default: 2]
    #[arg(long, value_name = "R")]
    pub replicas: Option<usize>,
    /// Milliseconds to connect to a node [default: 500]
    #[arg(long, value_name = "MS")]
    pub connect_timeout_ms: Option<u64>,
    /// Milliseconds for one request to one node [default: 250]
    #[arg(long, value_name = "MS")]
    pub request_timeout_ms: Option<u64>,
    /// Consecutive failures that eject a node [default: 3]
    #[arg(long, value_name = "N")]
    pub failure_threshold: Option<u32>,
    /// Milliseconds before the first probe of an ejected node, doubling [default: 1000]
    #[arg(long, value_name = "MS")]
    pub probe_interval_ms: Option<u64>,
    /// Longest wait between probes of an ejected node, in milliseconds [default: 30000]
    #[arg(long, value_name = "MS")]
    pub max_probe_interval_ms: Option<u64>,
    /// Milliseconds between lookups of nodes found by DNS [default: 5000]
    #[arg(long, value_name = "MS")]
    pub discovery_interval_ms: Option<u64>,
    /// Milliseconds a node found by DNS stays after answers stop listing it [default: 30000]
    #[arg(long, value_name = "MS")]
    pub discovery_grace_ms: Option<u64>,
    /// Milliseconds after a ring change during which keys are copied from their former replicas [default: 60000]
    #[arg(long, value_name = "MS")]
    pub migration_window_ms: Option<u64>,
    /// DNS server (ip:port) for dns+ and dnssrv+ lookups [default: the system's resolver]
    #[arg(long, value_name = "ADDR")]
    pub dns_server: Option<String>,
    /// What a read waits for: newest (every replica's version) or one (one replica) [default: newest]
    #[arg(long, value_name = "CONSISTENCY")]
    pub read_consistency: Option<ReadConsistencyName>,
    /// Password the nodes require (their requirepass) [default: none]
    #[arg(
        long,
        value_name = "PASSWORD",
        env = "CACHERING_NODE_PASSWORD",
        hide_env_values = true
    )]
    pub node_password: Option<String>,
    /// Keep GET's values in the proxy, up to SIZE, exact by the nodes' invalidations [default: 0, none]
    #[arg(long, value_name = "SIZE")]
    pub near_cache: Option<ByteSize>,
    /// Keep only hot keys (each 2 % or more of the requests) in the near cache [default: false]
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub near_cache_hot_only: Option<bool>,
    /// Spread reads of hot keys over their replicas [default: false]
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub hot_key_spreading: Option<bool>,
    /// Log level or tracing filter [default: info]
    #[arg(long, value_name = "LEVEL")]
    pub log_level: Option<String>,
    /// Serve Prometheus metrics at this address; alone, 127.0.0.1:9471 [default: off]
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = DEFAULT_METRICS_ADDR)]
    pub metrics_addr: Option<String>,
    /// Threads serving clients and node connections; 0 is one per CPU [default: 1]
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
}

impl ProxyArgs {
    /// Defaults, then the file, then the flags.
    pub fn resolve(&self) -> Result<ProxyConfig, ConfigError> {
        let mut config = match &self.config {
            Some(path) => ProxyConfig::from_file(path)?,
            None => ProxyConfig::default(),
        };
        macro_rules! apply {
            ($($field:ident),*) => {$(
                if let Some(value) = &self.$field {
                    config.$field = value.clone();
                }
            )*};
        }
        self.listener.apply(&mut config.listener);
        apply!(
            replicas,
            connect_timeout_ms,
            request_timeout_ms,
            failure_threshold,
            probe_interval_ms,
            max_probe_interval_ms,
            discovery_interval_ms,
            discovery_grace_ms,
            migration_window_ms,
            read_consistency,
            near_cache,
            near_cache_hot_only,
            hot_key_spreading,
            log_level,
            threads
        );
        if let Some(password) = &self.node_password {
            config.node_password = Some(password.clone());
        }
        if let Some(server) = &self.dns_server {
            config.dns_server = Some(server.clone());
        }
        if !self.nodes.is_empty() {
            config.nodes = self.nodes.clone();
        }
        if let Some(addr) = &self.metrics_addr {
            config.metrics_addr = Some(addr.clone());
        }
        Ok(config)
    }
}
