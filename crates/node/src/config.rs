//! The node's settings: one typed struct that command-line flags and an optional TOML file both
//! map onto, with defaults as named constants.
//!
//! Precedence: built-in defaults, then the TOML file (`--config`), then flags.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::store::StoreKind;

pub use cachering_server::config::{
    ByteSize, DEFAULT_BIND, DEFAULT_CLIENT_OUTPUT_BUFFER_LIMIT, DEFAULT_CLIENT_QUERY_BUFFER_LIMIT,
    DEFAULT_MAXCLIENTS, DEFAULT_PROTO_MAX_BULK_LEN, DEFAULT_SHUTDOWN_TIMEOUT_SECS,
};
use cachering_server::{ListenerArgs, ListenerConfig};

/// Redis's port, so `redis-cli` with no arguments reaches a node.
pub const DEFAULT_PORT: u16 = 6379;
/// 256 MiB: a bounded default that fits a laptop and a small container; Redis's default of
/// "no limit" is the wrong default for a cache.
pub const DEFAULT_MAXMEMORY: u64 = 256 * 1024 * 1024;
/// Where `--metrics-addr` without an address serves `/metrics`: a port of its own, clear of
/// Prometheus (9090), node_exporter (9100) and redis_exporter (9121).
pub const DEFAULT_METRICS_ADDR: &str = "127.0.0.1:9470";

/// Everything a node is started with. In TOML, the listener's settings are the `[listener]`
/// table; the rest are top-level keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
#[non_exhaustive]
pub struct NodeConfig {
    /// Address, port, client limits, password, shutdown timeout. Default port: 6379.
    pub listener: ListenerConfig,
    /// Byte limit for keys, values and per-entry overhead; 0 for none. Default: 256 MiB.
    pub maxmemory: ByteSize,
    /// Storage engine. Default: `compact`.
    pub store: StoreKind,
    /// Seconds a deleted key is remembered (a tombstone), so that an older write arriving late
    /// cannot bring it back; 0 remembers nothing. Default: 60.
    pub tombstone_ttl: u64,
    /// Log filter (`error`, `warn`, `info`, `debug`, `trace`, or a tracing filter). Default: `info`.
    pub log_level: String,
    /// Address of the Prometheus `/metrics` endpoint; none serves no metrics. Default: none
    /// (`--metrics-addr` alone: 127.0.0.1:9470).
    pub metrics_addr: Option<String>,
    /// Threads serving clients; 0 is one per CPU the process may use. Read by the binary,
    /// which builds the runtime; [`crate::start`] runs on the caller's. Default: 0.
    pub threads: usize,
    /// The node's name, reported by INFO (`cachering_node_name`). Clients that find nodes by
    /// DNS place a node on the ring by this name, so a node that comes back at a new address
    /// keeps its keys. Default: the host name (a Kubernetes pod's name).
    pub name: Option<String>,
}

impl Default for NodeConfig {
    fn default() -> Self {
        Self {
            listener: ListenerConfig::default(),
            maxmemory: ByteSize(DEFAULT_MAXMEMORY),
            store: StoreKind::default(),
            tombstone_ttl: crate::versions::DEFAULT_TOMBSTONE_TTL_SECS,
            log_level: "info".to_string(),
            metrics_addr: None,
            threads: 0,
            name: None,
        }
    }
}

/// A config file that could not be used.
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
    /// The file is not valid TOML for this config.
    #[error("invalid config file {path}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// Why.
        source: Box<toml::de::Error>,
    },
}

impl NodeConfig {
    /// Reads a TOML file; keys not in the file keep their defaults.
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

    /// A config for tests and embedding: loopback, port 0 (any free port).
    pub fn ephemeral() -> Self {
        Self::default().with_port(0)
    }

    /// The port to listen on (6379 unless set).
    pub fn port(&self) -> u16 {
        self.listener.port_or(DEFAULT_PORT)
    }

    /// With a different port.
    pub fn with_port(mut self, port: u16) -> Self {
        self.listener.port = Some(port);
        self
    }

    /// With a different bind address.
    pub fn with_bind(mut self, bind: impl Into<String>) -> Self {
        self.listener.bind = bind.into();
        self
    }

    /// With a different memory limit in bytes.
    pub fn with_maxmemory(mut self, bytes: u64) -> Self {
        self.maxmemory = ByteSize(bytes);
        self
    }

    /// With a different storage engine.
    pub fn with_store(mut self, store: StoreKind) -> Self {
        self.store = store;
        self
    }

    /// With a password.
    pub fn with_requirepass(mut self, password: impl Into<String>) -> Self {
        self.listener.requirepass = Some(password.into());
        self
    }
}

/// `cachering node` flags; each overrides the config file and the default.
#[derive(Debug, Clone, Default, clap::Args)]
#[non_exhaustive]
pub struct NodeArgs {
    /// TOML config file; flags override its values.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The listener's flags, shared with the proxy.
    #[command(flatten)]
    pub listener: ListenerArgs,
    /// Memory limit: bytes, or with a unit (64mb, 2gb); 0 for none [default: 256mb]
    #[arg(long, value_name = "SIZE")]
    pub maxmemory: Option<ByteSize>,
    /// Storage engine: compact (the default: least memory per key), quick or moka [default: compact]
    #[arg(long, value_name = "ENGINE")]
    pub store: Option<StoreKind>,
    /// Seconds a deleted key is remembered, so a late older write cannot revive it; 0 none [default: 60]
    #[arg(long, value_name = "SECONDS")]
    pub tombstone_ttl: Option<u64>,
    /// Log level or tracing filter [default: info]
    #[arg(long, value_name = "LEVEL")]
    pub log_level: Option<String>,
    /// Serve Prometheus metrics at this address; alone, 127.0.0.1:9470 [default: off]
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = DEFAULT_METRICS_ADDR)]
    pub metrics_addr: Option<String>,
    /// Threads serving clients; 0 is one per CPU [default: 0]
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// The name clients that find nodes by DNS place this node by [default: the host name]
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
}

impl NodeArgs {
    /// The config these flags describe: defaults, then the file, then the flags.
    pub fn resolve(&self) -> Result<NodeConfig, ConfigError> {
        let mut config = match &self.config {
            Some(path) => NodeConfig::from_file(path)?,
            None => NodeConfig::default(),
        };
        self.listener.apply(&mut config.listener);
        if let Some(bytes) = self.maxmemory {
            config.maxmemory = bytes;
        }
        if let Some(store) = self.store {
            config.store = store;
        }
        if let Some(secs) = self.tombstone_ttl {
            config.tombstone_ttl = secs;
        }
        if let Some(level) = &self.log_level {
            config.log_level = level.clone();
        }
        if let Some(addr) = &self.metrics_addr {
            config.metrics_addr = Some(addr.clone());
        }
        if let Some(threads) = self.threads {
            config.threads = threads;
        }
        if let Some(name) = &self.name {
            config.name = Some(name.clone());
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_then_flags() {
        let dir = std::env::temp_dir().join(format!("cachering-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("node.toml");
        std::fs::write(
            &path,
            "maxmemory = \"64mb\"\nstore = \"moka\"\n[listener]\nport = 7001\n",
        )
        .unwrap();
        let mut args = NodeArgs {
            config: Some(path.clone()),
            ..NodeArgs::default()
        };
        assert_eq!(args.resolve().unwrap().port(), 7001);
        args.listener.port = Some(7002);
        let config = args.resolve().unwrap();
        assert_eq!(config.port(), 7002);
        assert_eq!(config.maxmemory, ByteSize(64 << 20));
        assert_eq!(config.store, StoreKind::Moka);
        assert_eq!(config.listener.bind, DEFAULT_BIND);
        std::fs::write(&path, "port = 1\n").unwrap();
        assert!(matches!(args.resolve(), Err(ConfigError::Parse { .. })));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
