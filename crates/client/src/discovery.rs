//! Nodes found by DNS: `dns+NAME:PORT` (every A/AAAA record of NAME is a node, as a Kubernetes
//! headless Service answers) and `dnssrv+NAME` (every SRV record is a node: its target host
//! and port), the convention Thanos, Mimir and Grafana use for memcached.
//!
//! A background task resolves every source at start, every `discovery_interval` after that,
//! and soon after a node is ejected (a pod that moved fails first). Each node keeps a stable
//! place on the ring whatever its address:
//!
//! - an SRV record's node is named by its target host (a StatefulSet pod's own DNS name);
//! - an A/AAAA record's node is named by what the node reports about itself (INFO's
//!   `cachering_node_name`: `--name`, by default the host name, which is the pod's name), read
//!   once per address over a short connection. A node that reports no name (a plain Redis) is
//!   named by its address.
//!
//! A node that an answer leaves out stays on the ring until it has been missing for
//! `discovery_grace`, so a DNS blip or a pod between addresses does not reshuffle keys; a
//! source whose lookup fails keeps every node it had. A name found at a new address moves
//! there at once.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::xfer::Protocol;
use hickory_resolver::TokioResolver;
use tokio::time::Instant;

use crate::connection::Connection;
use crate::error::{Error, ErrorKind, Result};
use crate::options::{NodeSpec, Settings};

/// Where nodes are found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Source {
    /// Every A/AAAA record of `host` is a node listening on `port`.
    Hosts {
        /// The name looked up.
        host: String,
        /// The nodes' port.
        port: u16,
    },
    /// Every SRV record of `name` is a node: target host and port.
    Srv {
        /// The name looked up (`_redis._tcp.cache.default.svc.cluster.local`, say).
        name: String,
    },
}

impl Source {
    /// Whether `text` names a discovery source rather than one node.
    pub fn is_source(text: &str) -> bool {
        text.starts_with("dns+") || text.starts_with("dnssrv+")
    }

    /// Parses `dns+NAME:PORT` or `dnssrv+NAME`.
    pub fn parse(text: &str) -> Result<Source> {
        let bad = |why: &str| Error::new(ErrorKind::Config, format!("'{text}': {why}"));
        if let Some(name) = text.strip_prefix("dnssrv+") {
            if name.is_empty() || name.contains(':') {
                return Err(bad(
                    "expected dnssrv+NAME (the SRV records give hosts and ports)",
                ));
            }
            return Ok(Source::Srv {
                name: name.to_string(),
            });
        }
        let rest = text
            .strip_prefix("dns+")
            .ok_or_else(|| bad("not a discovery source"))?;
        let (host, port) = rest
            .rsplit_once(':')
            .ok_or_else(|| bad("expected dns+NAME:PORT"))?;
        let port = port
            .parse::<u16>()
            .ok()
            .filter(|&p| p > 0)
            .ok_or_else(|| bad("the port is not a number from 1 to 65535"))?;
        if host.is_empty() {
            return Err(bad("expected dns+NAME:PORT"));
        }
        Ok(Source::Hosts {
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string(),
            port,
        })
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Hosts { host, port } => write!(f, "dns+{host}:{port}"),
            Source::Srv { name } => write!(f, "dnssrv+{name}"),
        }
    }
}

/// A node found, and when it was last in an answer.
#[derive(Debug, Clone)]
struct Seen {
    spec: NodeSpec,
    at: Instant,
    source: usize,
}

/// The nodes discovery knows: what each source answered, kept for the grace period.
#[derive(Debug, Default)]
pub(crate) struct Membership {
    seen: HashMap<String, Seen>,
}

impl Membership {
    /// Records one round: for each source, the nodes it answered, or `None` when its lookup
    /// failed (its nodes are kept as they are). Returns the ring's nodes, sorted by name.
    pub fn update(
        &mut self,
        answers: Vec<Option<Vec<NodeSpec>>>,
        now: Instant,
        grace: std::time::Duration,
    ) -> Vec<NodeSpec> {
        for (source, answer) in answers.into_iter().enumerate() {
            match answer {
                Some(specs) => {
                    for spec in specs {
                        // A name found at a new address moves there at once.
                        self.seen.insert(
                            spec.name.clone(),
                            Seen {
                                spec,
                                at: now,
                                source,
                            },
                        );
                    }
                }
                None => {
                    for seen in self.seen.values_mut().filter(|s| s.source == source) {
                        seen.at = now;
                    }
                }
            }
        }
        self.seen
            .retain(|_, seen| now.saturating_duration_since(seen.at) <= grace);
        let mut specs: Vec<NodeSpec> = self.seen.values().map(|s| s.spec.clone()).collect();
        specs.sort_by(|a, b| a.name.cmp(&b.name));
        specs
    }
}

/// Resolves the sources and names what it finds.
pub(crate) struct Discoverer {
    sources: Vec<Source>,
    statics: Vec<NodeSpec>,
    settings: Arc<Settings>,
    resolver: Option<TokioResolver>,
    /// The name each A/AAAA address reported.
    names: HashMap<SocketAddr, String>,
    membership: Membership,
}

impl Discoverer {
    /// A discoverer of `sources`, beside the fixed nodes `statics`.
    pub fn new(sources: Vec<Source>, statics: Vec<NodeSpec>, settings: Arc<Settings>) -> Self {
        Self {
            sources,
            statics,
            settings,
            resolver: None,
            names: HashMap::new(),
            membership: Membership::default(),
        }
    }

    /// Forgets the name an address reported (the node there reported another since).
    pub fn forget_name(&mut self, addr: &str) {
        if let Ok(addr) = addr.parse::<SocketAddr>() {
            self.names.remove(&addr);
        }
    }

    /// One round: every source resolved, every new address asked for its name. Returns the
    /// ring's nodes (the fixed ones first), and the sources whose lookup failed, with why.
    pub async fn round(&mut self) -> (Vec<NodeSpec>, Vec<String>) {
        let mut answers = Vec::with_capacity(self.sources.len());
        let mut failures = Vec::new();
        for index in 0..self.sources.len() {
            let source = self.sources[index].clone();
            match self.resolve(&source).await {
                Ok(specs) => answers.push(Some(specs)),
                Err(error) => {
                    failures.push(format!("{source}: {error}"));
                    answers.push(None);
                }
            }
        }
        let found = self
            .membership
            .update(answers, Instant::now(), self.settings.discovery_grace);
        let mut specs = self.statics.clone();
        specs.extend(
            found
                .into_iter()
                .filter(|spec| !self.statics.iter().any(|s| s.name == spec.name)),
        );
        (specs, failures)
    }

    async fn resolve(&mut self, source: &Source) -> Result<Vec<NodeSpec>> {
        match source {
            Source::Hosts { host, port } => {
                let addrs = self.lookup_hosts(host, *port).await?;
                let mut specs = Vec::with_capacity(addrs.len());
                let unnamed: Vec<SocketAddr> = addrs
                    .iter()
                    .filter(|addr| !self.names.contains_key(addr))
                    .copied()
                    .collect();
                let probes = unnamed.iter().map(|addr| probe_name(*addr, &self.settings));
                for (addr, name) in unnamed.iter().zip(futures::future::join_all(probes).await) {
                    match name {
                        Ok(name) => {
                            self.names.insert(*addr, name);
                        }
                        Err(error) => {
                            tracing::debug!(%addr, %error, "discovered node not reachable yet")
                        }
                    }
                }
                for addr in addrs {
                    if let Some(name) = self.names.get(&addr) {
                        specs.push(NodeSpec::new(addr.to_string()).with_name(name.clone()));
                    }
                }
                Ok(specs)
            }
            Source::Srv { name } => {
                let resolver = self.resolver()?;
                let lookup = resolver.srv_lookup(name.as_str()).await.map_err(|e| {
                    Error::new(ErrorKind::Io, format!("SRV lookup of {name} failed: {e}"))
                })?;
                Ok(lookup
                    .iter()
                    .map(|srv| {
                        let target = srv.target().to_utf8();
                        let host = target.trim_end_matches('.');
                        NodeSpec::new(format!("{host}:{}", srv.port())).with_name(host)
                    })
                    .collect())
            }
        }
    }

    /// Every address of `host`: through the configured DNS server, or the system's resolver
    /// (`/etc/hosts`, then DNS, as every program on the host resolves).
    async fn lookup_hosts(&mut self, host: &str, port: u16) -> Result<Vec<SocketAddr>> {
        let failed = |e: &dyn std::fmt::Display| {
            Error::new(ErrorKind::Io, format!("lookup of {host} failed: {e}"))
        };
        let mut addrs: Vec<SocketAddr> = if self.settings.dns_server.is_some() {
            let resolver = self.resolver()?;
            resolver
                .lookup_ip(host)
                .await
                .map_err(|e| failed(&e))?
                .iter()
                .map(|ip| SocketAddr::new(ip, port))
                .collect()
        } else {
            tokio::net::lookup_host((host, port))
                .await
                .map_err(|e| failed(&e))?
                .collect()
        };
        addrs.sort();
        addrs.dedup();
        Ok(addrs)
    }

    /// The DNS resolver for SRV lookups (and all lookups with a configured server), built on
    /// first use. It caches nothing, so every round sees the current records.
    fn resolver(&mut self) -> Result<&TokioResolver> {
        if self.resolver.is_none() {
            let mut options = ResolverOpts::default();
            options.cache_size = 0;
            options.timeout = self.settings.connect_timeout;
            options.attempts = 2;
            let builder = match self.settings.dns_server {
                Some(server) => {
                    let mut config = ResolverConfig::new();
                    config.add_name_server(NameServerConfig::new(server, Protocol::Udp));
                    config.add_name_server(NameServerConfig::new(server, Protocol::Tcp));
                    TokioResolver::builder_with_config(config, TokioConnectionProvider::default())
                }
                None => TokioResolver::builder_tokio().map_err(|e| {
                    Error::new(
                        ErrorKind::Config,
                        format!("cannot read the system's DNS configuration: {e}"),
                    )
                })?,
            };
            let mut builder = builder;
            *builder.options_mut() = options;
            self.resolver = Some(builder.build());
        }
        Ok(self.resolver.as_ref().expect("built above"))
    }
}

/// The name the node at `addr` reports (INFO's `cachering_node_name`), or its address when it
/// reports none.
async fn probe_name(addr: SocketAddr, settings: &Settings) -> Result<String> {
    let (_, info) = Connection::open(
        &addr.to_string(),
        settings.connect_timeout,
        settings.request_timeout,
        settings.password.as_deref(),
    )
    .await?;
    let name = info.as_deref().and_then(reported_name);
    Ok(name.unwrap_or_else(|| addr.to_string()))
}

/// The `cachering_node_name` line of an INFO reply.
pub(crate) fn reported_name(info: &[u8]) -> Option<String> {
    std::str::from_utf8(info)
        .ok()?
        .lines()
        .find_map(|line| line.strip_prefix("cachering_node_name:"))
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn sources_parse() {
        assert_eq!(
            Source::parse("dns+cache.default.svc:6379").unwrap(),
            Source::Hosts {
                host: "cache.default.svc".into(),
                port: 6379
            }
        );
        assert_eq!(
            Source::parse("dns+[::1]:7000").unwrap(),
            Source::Hosts {
                host: "::1".into(),
                port: 7000
            }
        );
        assert_eq!(
            Source::parse("dnssrv+_redis._tcp.cache").unwrap(),
            Source::Srv {
                name: "_redis._tcp.cache".into()
            }
        );
        for bad in [
            "dns+cache",
            "dns+cache:0",
            "dns+cache:x",
            "dns+:1",
            "dnssrv+",
            "dnssrv+a:1",
        ] {
            let error = Source::parse(bad).unwrap_err();
            assert_eq!(error.kind(), ErrorKind::Config, "{bad}");
        }
        assert!(Source::is_source("dnssrv+x") && Source::is_source("dns+x:1"));
        assert!(!Source::is_source("cache-0:6379"));
    }

    fn spec(name: &str, addr: &str) -> NodeSpec {
        NodeSpec::new(addr).with_name(name)
    }

    #[test]
    fn a_node_left_out_is_kept_for_the_grace_period() {
        let grace = Duration::from_secs(30);
        let start = Instant::now();
        let mut members = Membership::default();
        let all = vec![Some(vec![
            spec("a", "1:1"),
            spec("b", "2:1"),
            spec("c", "3:1"),
        ])];
        assert_eq!(members.update(all, start, grace).len(), 3);
        // One answer without c: c stays.
        let without_c = || vec![Some(vec![spec("a", "1:1"), spec("b", "2:1")])];
        let names = |specs: Vec<NodeSpec>| specs.into_iter().map(|s| s.name).collect::<Vec<_>>();
        assert_eq!(
            names(members.update(without_c(), start + Duration::from_secs(10), grace)),
            ["a", "b", "c"]
        );
        // Still missing past the grace period: gone.
        assert_eq!(
            names(members.update(without_c(), start + Duration::from_secs(31), grace)),
            ["a", "b"]
        );
    }

    #[test]
    fn a_failed_lookup_keeps_its_nodes_and_a_moved_name_follows_its_address() {
        let grace = Duration::from_secs(30);
        let start = Instant::now();
        let mut members = Membership::default();
        members.update(
            vec![Some(vec![spec("a", "1:1")]), Some(vec![spec("s", "9:1")])],
            start,
            grace,
        );
        // The second source fails for longer than the grace period: its node stays.
        let later = start + Duration::from_secs(60);
        let specs = members.update(vec![Some(vec![spec("a", "5:1")]), None], later, grace);
        assert_eq!(specs, [spec("a", "5:1"), spec("s", "9:1")]);
    }

    #[test]
    fn the_reported_name_is_read_from_info() {
        assert_eq!(
            reported_name(b"# Server\r\nredis_version:7.0.0\r\ncachering_node_name:cache-2\r\n")
                .as_deref(),
            Some("cache-2")
        );
        assert_eq!(reported_name(b"# Server\r\nredis_version:7.2.4\r\n"), None);
    }
}
