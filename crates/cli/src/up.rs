//! `cachering up`: a local cluster in one process, for trying cachering out.

use anyhow::{Context, Result};
use cachering_node::NodeConfig;
use cachering_proxy::ProxyConfig;

use crate::{logging, runtime};

/// `cachering up` flags.
#[derive(Debug, clap::Args)]
pub struct UpArgs {
    /// Address everything listens on
    #[arg(long, default_value = "127.0.0.1")]
    bind: String,
    /// The proxy's port; nodes take the ports after it
    #[arg(long, default_value_t = 7000)]
    port: u16,
    /// Number of nodes
    #[arg(long, default_value_t = 3)]
    nodes: u16,
    /// Copies of each key
    #[arg(long, default_value_t = 2)]
    replicas: usize,
    /// Memory limit of each node (bytes, or 64mb, 1gb)
    #[arg(long, default_value = "64mb")]
    maxmemory: cachering_node::ByteSize,
    /// Log level
    #[arg(long, default_value = "warn")]
    log_level: String,
    /// Where the cluster serves Prometheus metrics (every node and the proxy, told apart by
    /// labels); "off" serves none
    #[arg(long, default_value = cachering_node::config::DEFAULT_METRICS_ADDR)]
    metrics_addr: String,
}

pub fn run(args: UpArgs) -> Result<()> {
    logging::init(&args.log_level)?;
    runtime::build(0)?.block_on(async move {
        let metrics = (args.metrics_addr != "off")
            .then(|| crate::exporter::install(&args.metrics_addr))
            .transpose()?;
        let mut nodes = Vec::new();
        for i in 1..=args.nodes {
            let port = args.port.checked_add(i).context("node port out of range")?;
            let mut config = NodeConfig::default()
                .with_bind(args.bind.clone())
                .with_port(port)
                .with_maxmemory(args.maxmemory.bytes());
            config.metrics_addr = metrics.map(|addr| addr.to_string());
            // Nodes sharing a host cannot go by its name.
            config.name = Some(format!("{}:{port}", args.bind));
            let node = cachering_node::start(config)
                .await
                .with_context(|| format!("cannot start a node on {}:{port}", args.bind))?;
            nodes.push(node);
        }
        let mut proxy_config = ProxyConfig::default();
        proxy_config.listener.bind = args.bind.clone();
        proxy_config.listener.port = Some(args.port);
        proxy_config.replicas = args.replicas;
        proxy_config.nodes = nodes.iter().map(|n| n.local_addr().to_string()).collect();
        let proxy = cachering_proxy::start(proxy_config)
            .await
            .with_context(|| format!("cannot start the proxy on {}:{}", args.bind, args.port))?;
        println!(
            "cachering local cluster: {} nodes, {} replicas per key",
            nodes.len(),
            args.replicas
        );
        println!("  proxy  {}", proxy.local_addr());
        for node in &nodes {
            println!("  node   {}  run_id {}", node.local_addr(), node.run_id());
        }
        if let Some(addr) = metrics {
            println!("  metrics http://{addr}/metrics");
        }
        println!();
        println!(
            "Try:  redis-cli -p {} set greeting hello && redis-cli -p {} get greeting",
            proxy.local_addr().port(),
            proxy.local_addr().port()
        );
        println!("Ctrl-C stops the cluster.");
        let signal = runtime::stop_signal().await?;
        println!("{signal} received, stopping");
        proxy.stop().await;
        for node in nodes {
            node.stop().await;
        }
        println!("stopped");
        Ok(())
    })
}
