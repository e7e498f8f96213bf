//! The listener's settings: one typed section that the node and the proxy share, with one set
//! of command-line flags ([`ListenerArgs`], flattened into each binary's) and one TOML table
//! (`[listener]` in either config file).
//!
//! A nested table, not flattened keys: serde's `flatten` does not combine with
//! `deny_unknown_fields`, and a misspelt setting must be an error, not a silent default.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Loopback only, as Redis's protected mode: exposing a cache takes a deliberate `--bind`.
pub const DEFAULT_BIND: &str = "127.0.0.1";
/// Redis's default.
pub const DEFAULT_MAXCLIENTS: usize = 10_000;
/// Redis's `proto-max-bulk-len` default: 512 MiB.
pub const DEFAULT_PROTO_MAX_BULK_LEN: u64 = 512 * 1024 * 1024;
/// Redis's `client-query-buffer-limit` default: 1 GiB.
pub const DEFAULT_CLIENT_QUERY_BUFFER_LIMIT: u64 = 1024 * 1024 * 1024;
/// Largest pending reply before the client is disconnected. Redis's default for normal
/// clients is no limit; a client that asks for a reply larger than this (`KEYS *` on a big
/// node, a huge `MGET`) is cut off instead of growing the server's memory without bound.
pub const DEFAULT_CLIENT_OUTPUT_BUFFER_LIMIT: u64 = 64 * 1024 * 1024;
/// How long a stopping server lets connections finish what they were sent.
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

/// How a server listens and what it allows each client: the `[listener]` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
#[non_exhaustive]
pub struct ListenerConfig {
    /// Address to listen on. Default: `127.0.0.1`.
    pub bind: String,
    /// Port to listen on; 0 picks a free one. Default: the binary's (6379 for a node, 7000
    /// for the proxy).
    pub port: Option<u16>,
    /// Most clients connected at once; the next is refused with Redis's error before any
    /// work is done for it. Default: 10000.
    pub maxclients: usize,
    /// Password clients must send with AUTH or HELLO; none if unset. Default: none.
    pub requirepass: Option<String>,
    /// Seconds a client may stay idle before it is closed; 0 never. Default: 0.
    pub timeout: u64,
    /// Largest bulk string in a request. Default: 512 MiB.
    pub proto_max_bulk_len: ByteSize,
    /// Largest unprocessed input buffered per client, and largest MULTI queue. Default: 1 GiB.
    pub client_query_buffer_limit: ByteSize,
    /// Largest pending reply per client before it is disconnected. Default: 64 MiB.
    pub client_output_buffer_limit: ByteSize,
    /// Seconds a stopping server waits for connections to finish. Default: 10.
    pub shutdown_timeout: u64,
}

impl Default for ListenerConfig {
    fn default() -> Self {
        Self {
            bind: DEFAULT_BIND.to_string(),
            port: None,
            maxclients: DEFAULT_MAXCLIENTS,
            requirepass: None,
            timeout: 0,
            proto_max_bulk_len: ByteSize(DEFAULT_PROTO_MAX_BULK_LEN),
            client_query_buffer_limit: ByteSize(DEFAULT_CLIENT_QUERY_BUFFER_LIMIT),
            client_output_buffer_limit: ByteSize(DEFAULT_CLIENT_OUTPUT_BUFFER_LIMIT),
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT_SECS,
        }
    }
}

impl ListenerConfig {
    /// The port, or `default` when none was set.
    pub fn port_or(&self, default: u16) -> u16 {
        self.port.unwrap_or(default)
    }
}

/// The listener's flags, the same for `cachering node` and `cachering proxy`; each overrides
/// the config file's `[listener]` table and the default.
#[derive(Debug, Clone, Default, clap::Args)]
#[non_exhaustive]
pub struct ListenerArgs {
    /// Address to listen on [default: 127.0.0.1]
    #[arg(long)]
    pub bind: Option<String>,
    /// Port to listen on; 0 picks a free port [default: 6379 for a node, 7000 for the proxy]
    #[arg(long)]
    pub port: Option<u16>,
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
    /// Largest unprocessed input buffered per client, and largest MULTI queue [default: 1gb]
    #[arg(long, value_name = "SIZE")]
    pub client_query_buffer_limit: Option<ByteSize>,
    /// Largest pending reply per client before it is disconnected [default: 64mb]
    #[arg(long, value_name = "SIZE")]
    pub client_output_buffer_limit: Option<ByteSize>,
    /// Seconds to let connections finish on SIGINT/SIGTERM [default: 10]
    #[arg(long, value_name = "SECONDS")]
    pub shutdown_timeout: Option<u64>,
}

impl ListenerArgs {
    /// Applies the flags given over `config`.
    pub fn apply(&self, config: &mut ListenerConfig) {
        macro_rules! apply {
            ($($field:ident),*) => {$(
                if let Some(value) = &self.$field {
                    config.$field = value.clone();
                }
            )*};
        }
        apply!(
            bind,
            maxclients,
            timeout,
            proto_max_bulk_len,
            client_query_buffer_limit,
            client_output_buffer_limit,
            shutdown_timeout
        );
        if let Some(port) = self.port {
            config.port = Some(port);
        }
        if let Some(password) = &self.requirepass {
            config.requirepass = Some(password.clone());
        }
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
    fn flags_override_the_table() {
        let mut config: ListenerConfig =
            toml::from_str("port = 7001\nmaxclients = 5\nclient-output-buffer-limit = \"1mb\"\n")
                .unwrap();
        let args = ListenerArgs {
            maxclients: Some(7),
            ..ListenerArgs::default()
        };
        args.apply(&mut config);
        assert_eq!(config.port, Some(7001));
        assert_eq!(config.maxclients, 7);
        assert_eq!(config.client_output_buffer_limit, ByteSize(1 << 20));
        assert_eq!(config.bind, DEFAULT_BIND);
        assert!(toml::from_str::<ListenerConfig>("prot = 1\n").is_err());
    }
}
