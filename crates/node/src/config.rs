//! The node's settings: one typed struct that command-line flags and an optional TOML file both
//! map onto, with defaults as named constants.
//!
//! Precedence: built-in defaults, then the TOML file (`--config`), then flags.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

use crate::store::StoreKind;

/// Loopback only, as Redis's protected mode: exposing a cache takes a deliberate `--bind`.
pub const DEFAULT_BIND: &str = "127.0.0.1";
/// Redis's port, so `redis-cli` with no arguments reaches a node.
pub const DEFAULT_PORT: u16 = 6379;
/// 256 MiB: a bounded default that fits a laptop and a small container; Redis's default of
/// "no limit" is the wrong default for a cache.
pub const DEFAULT_MAXMEMORY: u64 = 256 * 1024 * 1024;
/// Redis's default.
pub const DEFAULT_MAXCLIENTS: usize = 10_000;
/// Redis's `proto-max-bulk-len` default: 512 MiB.
pub const DEFAULT_PROTO_MAX_BULK_LEN: u64 = 512 * 1024 * 1024;
/// Redis's `client-query-buffer-limit` default: 1 GiB.
pub const DEFAULT_CLIENT_QUERY_BUFFER_LIMIT: u64 = 1024 * 1024 * 1024;
/// Largest single pending reply before the client is disconnected. Redis's default for normal
/// clients is no limit; a client that asks for a reply larger than this (`KEYS *` on a big
/// node, a huge `MGET`) is cut off instead of growing the node's memory without bound.
pub const DEFAULT_CLIENT_OUTPUT_BUFFER_LIMIT: u64 = 64 * 1024 * 1024;
/// Where `--metrics-addr` without an address serves `/metrics`: a port of its own, clear of
/// Prometheus (9090), node_exporter (9100) and redis_exporter (9121).
pub const DEFAULT_METRICS_ADDR: &str = "127.0.0.1:9470";
/// How long a stopping node lets connections finish what they were sent.
pub const DEFAULT_SHUTDOWN_TIMEOUT_SECS: u64 = 10;

/// A byte count that reads and prints the way Redis's config does: `64mb`, `2gb`, `100k`
/// (`k`/`m`/`g` are powers of 1000, `kb`/`mb`/`gb` powers of 1024).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct ByteSize(pub u64);

impl ByteSize {
    /// The number of bytes.
    pub fn bytes(self) -> u64 {
        self.0
    }
}

/// Parses Redis's memory notation. No crate reads it: `bytesize` takes `mb` as 10^6, Redis as 2^20.
impl std::str::FromStr for ByteSize {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let lower = text.trim().to_ascii_lowercase();
        let split = lower
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(lower.len());
        let (digits, unit) = lower.split_at(split);
        let multiplier: u64 = match unit {
            "" | "b" => 1,
            "k" => 1000,
            "kb" => 1024,
            "m" => 1000 * 1000,
            "mb" => 1024 * 1024,
            "g" => 1000 * 1000 * 1000,
            "gb" => 1024 * 1024 * 1024,
            _ => return Err(format!("invalid size '{text}': use a number of bytes with an optional unit (k, kb, m, mb, g, gb)")),
        };
        let number: u64 = digits
            .parse()
            .map_err(|_| format!("invalid size '{text}'"))?;
        number
            .checked_mul(multiplier)
            .map(ByteSize)
            .ok_or_else(|| format!("size '{text}' is too large"))
    }
}

impl std::fmt::Display for ByteSize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl Serialize for ByteSize {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(self.0)
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(u64),
            Text(String),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Number(n) => Ok(ByteSize(n)),
            Raw::Text(text) => text.parse().map_err(serde::de::Error::custom),
        }
    }
}

/// Everything a node is started with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
#[non_exhaustive]
pub struct NodeConfig {
    /// Address to listen on. Default: `127.0.0.1`.
    pub bind: String,
    /// Port to listen on; 0 picks a free one. Default: 6379.
    pub port: u16,
    /// Byte limit for keys, values and per-entry overhead; 0 for none. Default: 256 MiB.
    pub maxmemory: ByteSize,
    /// Storage engine. Default: `quick`.
    pub store: StoreKind,
    /// Most clients connected at once. Default: 10000.
    pub maxclients: usize,
    /// Password clients must send with AUTH or HELLO; none if unset. Default: none.
    pub requirepass: Option<String>,
    /// Seconds a client may stay idle before it is closed; 0 never. Default: 0.
    pub timeout: u64,
    /// Largest bulk string in a request. Default: 512 MiB.
    pub proto_max_bulk_len: ByteSize,
    /// Largest unprocessed input buffered per client. Default: 1 GiB.
    pub client_query_buffer_limit: ByteSize,
    /// Largest pending reply per client before it is disconnected. Default: 64 MiB.
    pub client_output_buffer_limit: ByteSize,
    /// Log filter (`error`, `warn`, `info`, `debug`, `trace`, or a tracing filter). Default: `info`.
    pub log_level: String,
    /// Seconds a stopping node waits for connections to finish. Default: 10.
    pub shutdown_timeout: u64,
    /// Address of the Prometheus `/metrics` endpoint; none serves no metrics. Default: none
    /// (`--metrics-addr` alone: 127.0.0.1:9470).
    pub metrics_addr: Option<String>,
    /// Threads serving clients; 0 is one per CPU the process may use. Read by the binary,
    /// which builds the runtime; [`crate::start`] runs on the caller's. Default: 0.
    pub threads: usize,
}

impl Default for NodeConfig {
    fn default() -> Self {
        Self {
            bind: DEFAULT_BIND.to_string(),
            port: DEFAULT_PORT,
            maxmemory: ByteSize(DEFAULT_MAXMEMORY),
            store: StoreKind::Quick,
            maxclients: DEFAULT_MAXCLIENTS,
            requirepass: None,
            timeout: 0,
            proto_max_bulk_len: ByteSize(DEFAULT_PROTO_MAX_BULK_LEN),
            client_query_buffer_limit: ByteSize(DEFAULT_CLIENT_QUERY_BUFFER_LIMIT),
            client_output_buffer_limit: ByteSize(DEFAULT_CLIENT_OUTPUT_BUFFER_LIMIT),
            log_level: "info".to_string(),
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT_SECS,
            metrics_addr: None,
            threads: 0,
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
        Self {
            port: 0,
            ..Self::default()
        }
    }

    /// With a different port.
    pub fn with_port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// With a different bind address.
    pub fn with_bind(mut self, bind: impl Into<String>) -> Self {
        self.bind = bind.into();
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
        self.requirepass = Some(password.into());
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
    /// Address to listen on [default: 127.0.0.1]
    #[arg(long)]
    pub bind: Option<String>,
    /// Port to listen on; 0 picks a free port [default: 6379]
    #[arg(long)]
    pub port: Option<u16>,
    /// Memory limit: bytes, or with a unit (64mb, 2gb); 0 for none [default: 256mb]
    #[arg(long, value_name = "SIZE")]
    pub maxmemory: Option<ByteSize>,
    /// Storage engine: quick (compact, the default) or moka [default: quick]
    #[arg(long, value_name = "ENGINE")]
    pub store: Option<StoreKind>,
    /// Most clients connected at once [default: 10000]
    #[arg(long, value_name = "N")]
    pub maxclients: Option<usize>,
    /// Password clients must give with AUTH or HELLO [default: none]
    #[arg(
        long,
        value_name = "PASSWORD",
        env = "CACHERING_REQUIREPASS",
        hide_env_values = true
    )]
    pub requirepass: Option<String>,
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
    /// Serve Prometheus metrics at this address; alone, 127.0.0.1:9470 [default: off]
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = DEFAULT_METRICS_ADDR)]
    pub metrics_addr: Option<String>,
    /// Threads serving clients; 0 is one per CPU [default: 0]
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
}

impl NodeArgs {
    /// The config these flags describe: defaults, then the file, then the flags.
    pub fn resolve(&self) -> Result<NodeConfig, ConfigError> {
        let mut config = match &self.config {
            Some(path) => NodeConfig::from_file(path)?,
            None => NodeConfig::default(),
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
            maxmemory,
            store,
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
        if let Some(addr) = &self.metrics_addr {
            config.metrics_addr = Some(addr.clone());
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_redis() {
        assert_eq!("64mb".parse::<ByteSize>().unwrap().0, 64 << 20);
        assert_eq!("2GB".parse::<ByteSize>().unwrap().0, 2 << 30);
        assert_eq!("100k".parse::<ByteSize>().unwrap().0, 100_000);
        assert_eq!("1234".parse::<ByteSize>().unwrap().0, 1234);
        assert!("12xb".parse::<ByteSize>().is_err());
        assert!("mb".parse::<ByteSize>().is_err());
        assert!("99999999999gb".parse::<ByteSize>().is_err());
    }

    #[test]
    fn file_then_flags() {
        let dir = std::env::temp_dir().join(format!("cachering-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("node.toml");
        std::fs::write(
            &path,
            "port = 7001\nmaxmemory = \"64mb\"\nstore = \"moka\"\n",
        )
        .unwrap();
        let args = NodeArgs {
            config: Some(path.clone()),
            port: Some(7002),
            ..NodeArgs::default()
        };
        let config = args.resolve().unwrap();
        assert_eq!(config.port, 7002);
        assert_eq!(config.maxmemory, ByteSize(64 << 20));
        assert_eq!(config.store, StoreKind::Moka);
        assert_eq!(config.bind, DEFAULT_BIND);
        std::fs::write(&path, "prot = 1\n").unwrap();
        assert!(matches!(args.resolve(), Err(ConfigError::Parse { .. })));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
