//! The proxy's settings: one typed struct that flags and an optional TOML file map onto.

use std::path::{Path, PathBuf};
use std::time::Duration;

use cachering_node::ByteSize;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The port `cachering up` and the proxy default to (twemproxy uses 22121; 7000 sits below the
/// nodes' 7001-7003 in a local cluster).
pub const DEFAULT_PORT: u16 = 7000;

/// Everything a proxy is started with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
#[non_exhaustive]
pub struct ProxyConfig {
    /// Address to listen on. Default: `127.0.0.1`.
    pub bind: String,
    /// Port to listen on; 0 picks a free one. Default: 7000.
    pub port: u16,
    /// The ring: `host:port`, `name=host:port` or either with `*weight`. Required.
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
    /// Password clients must give with AUTH or HELLO. Default: none.
    pub requirepass: Option<String>,
    /// Password the nodes require; the proxy sends it on every connection. Default: none.
    pub node_password: Option<String>,
    /// Most clients connected at once. Default: 10000.
    pub maxclients: usize,
    /// Seconds a client may stay idle; 0 never. Default: 0.
    pub timeout: u64,
    /// Largest bulk string in a request. Default: 512 MiB.
    pub proto_max_bulk_len: ByteSize,
    /// Largest unprocessed input per client. Default: 1 GiB.
    pub client_query_buffer_limit: ByteSize,
    /// Largest pending reply per client. Default: 64 MiB.
    pub client_output_buffer_limit: ByteSize,
    /// Log filter. Default: `info`.
    pub log_level: String,
    /// Seconds a stopping proxy waits for connections to finish. Default: 10.
    pub shutdown_timeout: u64,
    /// Address of the Prometheus `/metrics` endpoint; none serves no metrics. Default: none
    /// (`--metrics-addr` alone: 127.0.0.1:9471).
    pub metrics_addr: Option<String>,
    /// Threads serving clients and node connections; 0 is one per CPU the process may use.
    /// Read by the binary, which builds the runtime; [`crate::start`] runs on the caller's.
    /// Default: [`DEFAULT_THREADS`].
    pub threads: usize,
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
        let node = cachering_node::NodeConfig::default();
        Self {
            bind: cachering_node::config::DEFAULT_BIND.to_string(),
            port: DEFAULT_PORT,
            nodes: Vec::new(),
            replicas: cachering_client::DEFAULT_REPLICAS,
            connect_timeout_ms: cachering_client::DEFAULT_CONNECT_TIMEOUT.as_millis() as u64,
            request_timeout_ms: cachering_client::DEFAULT_REQUEST_TIMEOUT.as_millis() as u64,
            failure_threshold: cachering_client::DEFAULT_FAILURE_THRESHOLD,
            probe_interval_ms: cachering_client::DEFAULT_PROBE_INTERVAL.as_millis() as u64,
            max_probe_interval_ms: cachering_client::DEFAULT_MAX_PROBE_INTERVAL.as_millis() as u64,
            requirepass: None,
            node_password: None,
            maxclients: node.maxclients,
            timeout: 0,
            proto_max_bulk_len: node.proto_max_bulk_len,
            client_query_buffer_limit: node.client_query_buffer_limit,
            client_output_buffer_limit: node.client_output_buffer_limit,
            log_level: "info".to_string(),
            shutdown_timeout: node.shutdown_timeout,
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
            );
        if let Some(password) = &self.node_password {
            builder = builder.with_password(password.clone());
        }
        for node in &self.nodes {
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
    /// Address to listen on [default: 127.0.0.1]
    #[arg(long)]
    pub bind: Option<String>,
    /// Port to listen on; 0 picks a free port [default: 7000]
    #[arg(long)]
    pub port: Option<u16>,
    /// The ring's nodes, comma-separated: host:port, name=host:port, optionally *weight
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
    /// Password clients must give with AUTH or HELLO [default: none]
    #[arg(
        long,
        value_name = "PASSWORD",
        env = "CACHERING_PROXY_REQUIREPASS",
        hide_env_values = true
    )]
    pub requirepass: Option<String>,
    /// Password the nodes require (their requirepass) [default: none]
    #[arg(
        long,
        value_name = "PASSWORD",
        env = "CACHERING_NODE_PASSWORD",
        hide_env_values = true
    )]
    pub node_password: Option<String>,
    /// Most clients connected at once [default: 10000]
    #[arg(long, value_name = "N")]
    pub maxclients: Option<usize>,
    /// Close clients idle for this many seconds; 0 never [default: 0]
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<u64>,
    /// Largest bulk string in a request [default: 512mb]
    #[arg(long, value_name = "SIZE")]
    pub proto_max_bulk_len: Option<ByteSize>,
    /// Largest unprocessed input buffered per client [default: 1gb]
    #[arg(long, value_name = "SIZE")]
    pub client_query_buffer_limit: Option<ByteSize>,
    /// Largest pending reply per client before it is disconnected [default: 64mb]
    #[arg(long, value_name = "SIZE")]
    pub client_output_buffer_limit: Option<ByteSize>,
    /// Log level or tracing filter [default: info]
    #[arg(long, value_name = "LEVEL")]
    pub log_level: Option<String>,
    /// Seconds to let connections finish on SIGINT/SIGTERM [default: 10]
    #[arg(long, value_name = "SECONDS")]
    pub shutdown_timeout: Option<u64>,
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
        apply!(
            bind,
            port,
            replicas,
            connect_timeout_ms,
            request_timeout_ms,
            failure_threshold,
            probe_interval_ms,
            max_probe_interval_ms,
            maxclients,
            timeout,
            proto_max_bulk_len,
            client_query_buffer_limit,
            client_output_buffer_limit,
            log_level,
            shutdown_timeout,
            threads
        );
        if let Some(password) = &self.requirepass {
            config.requirepass = Some(password.clone());
        }
        if let Some(password) = &self.node_password {
            config.node_password = Some(password.clone());
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
