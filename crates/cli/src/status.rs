//! `cachering status`: one table of every node, from each node's INFO.

use std::time::Duration;

use anyhow::{bail, Context, Result};
use cachering_client::{ClientBuilder, NodeSpec, Reply};

use crate::runtime;

/// `cachering status` flags.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// The nodes, comma-separated host:port (or name=host:port), or found by DNS: dns+NAME:PORT, dnssrv+NAME
    #[arg(long, value_delimiter = ',', conflicts_with = "proxy")]
    nodes: Vec<String>,
    /// Ask a proxy for its nodes and their state instead
    #[arg(long, value_name = "HOST:PORT")]
    proxy: Option<String>,
    /// Milliseconds to wait for each node
    #[arg(long, default_value_t = 1000)]
    timeout_ms: u64,
}

/// One row of the table.
struct Row {
    name: String,
    addr: String,
    state: String,
    info: Option<String>,
}

fn field<'a>(info: &'a str, name: &str) -> Option<&'a str> {
    info.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
        .map(str::trim)
}

fn number(info: &str, name: &str) -> u64 {
    field(info, name).and_then(|v| v.parse().ok()).unwrap_or(0)
}

async fn info_of(specs: Vec<NodeSpec>, timeout: Duration) -> Result<Vec<Option<String>>> {
    let mut builder = ClientBuilder::new()
        .with_replicas(1)
        .with_request_timeout(timeout)
        .with_connect_timeout(timeout)
        .with_failure_threshold(u32::MAX);
    for spec in specs {
        builder = builder.node_spec(spec);
    }
    let client = builder.build()?;
    let mut out = Vec::new();
    for index in 0..client.node_count() {
        out.push(match client.on_node(index, &[b"INFO"]).await {
            Ok(Reply::Bulk(text)) => Some(String::from_utf8_lossy(&text).into_owned()),
            _ => None,
        });
    }
    Ok(out)
}

fn human(bytes: u64) -> String {
    cachering_node::info::human_bytes(bytes)
}

pub fn run(args: StatusArgs) -> Result<()> {
    let timeout = Duration::from_millis(args.timeout_ms);
    runtime::build(1)?.block_on(async move {
        let mut rows: Vec<Row> = Vec::new();
        let mut summary = String::new();
        if let Some(proxy) = &args.proxy {
            let info = info_of(vec![NodeSpec::new(proxy.clone())], timeout)
                .await?
                .pop()
                .flatten()
                .with_context(|| format!("no answer from the proxy at {proxy}"))?;
            let migration_ms = number(&info, "migration_remaining_ms");
            summary = format!("ring: {} nodes", number(&info, "nodes"));
            if migration_ms > 0 {
                summary.push_str(&format!(
                    "; migration in progress, {:.0} s left (keys still copied from their former replicas)",
                    migration_ms as f64 / 1000.0
                ));
            }
            let hot: Vec<String> = info
                .lines()
                .filter(|l| l.starts_with("hotkey"))
                .filter_map(|l| {
                    let (_, fields) = l.split_once(':')?;
                    let (key, share) = fields.strip_prefix("key=")?.rsplit_once(",share=")?;
                    let share: f64 = share.trim().parse().ok()?;
                    Some(format!("{key} ({:.0} %)", share * 100.0))
                })
                .collect();
            if !hot.is_empty() {
                summary.push_str(&format!("; hot keys: {}", hot.join(", ")));
            }
            for line in info
                .lines()
                .filter(|l| l.starts_with("node") && l.contains(":name="))
            {
                let fields = line
                    .split_once(':')
                    .map(|(_, rest)| rest)
                    .unwrap_or_default();
                let get = |key: &str| {
                    fields
                        .split(',')
                        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
                        .unwrap_or("-")
                        .to_string()
                };
                rows.push(Row {
                    name: get("name"),
                    addr: get("addr"),
                    state: get("state"),
                    info: None,
                });
            }
        } else if args
            .nodes
            .iter()
            .any(|n| n.starts_with("dns+") || n.starts_with("dnssrv+"))
        {
            let client = ClientBuilder::new()
                .nodes(args.nodes.iter().cloned())
                .with_connect_timeout(timeout)
                .build()?;
            client.wait_for_discovery().await;
            for node in client.node_status() {
                rows.push(Row {
                    name: node.name,
                    addr: node.addr,
                    state: String::new(),
                    info: None,
                });
            }
            summary = format!("ring: {} nodes found by DNS", rows.len());
        } else {
            if args.nodes.is_empty() {
                bail!("give --nodes host:port,... or --proxy host:port");
            }
            for node in &args.nodes {
                let spec = NodeSpec::parse(node)?;
                rows.push(Row {
                    name: spec.name.clone(),
                    addr: spec.addr.clone(),
                    state: String::new(),
                    info: None,
                });
            }
        }
        let specs: Vec<NodeSpec> = rows
            .iter()
            .map(|r| NodeSpec::new(r.addr.clone()).with_name(r.name.clone()))
            .collect();
        for (row, info) in rows.iter_mut().zip(info_of(specs, timeout).await?) {
            if row.state.is_empty() {
                row.state = if info.is_some() {
                    "up".into()
                } else {
                    "down".into()
                };
            } else if info.is_none() {
                row.state = format!("{} (unreachable)", row.state);
            }
            row.info = info;
        }
        if !summary.is_empty() {
            println!("{summary}");
        }
        println!(
            "{:<22} {:<20} {:<10} {:>10} {:>19} {:>7} {:>9}",
            "NODE", "STATE", "RUN ID", "KEYS", "MEMORY USED/LIMIT", "HIT %", "OPS/S"
        );
        for row in &rows {
            match &row.info {
                Some(info) => {
                    let keys = field(info, "db0")
                        .and_then(|v| {
                            v.split(',')
                                .next()?
                                .strip_prefix("keys=")?
                                .parse::<u64>()
                                .ok()
                        })
                        .unwrap_or(0);
                    let (hits, misses) = (
                        number(info, "keyspace_hits"),
                        number(info, "keyspace_misses"),
                    );
                    let ratio = if hits + misses == 0 {
                        "-".to_string()
                    } else {
                        format!("{:.1}", 100.0 * hits as f64 / (hits + misses) as f64)
                    };
                    let memory = format!(
                        "{}/{}",
                        human(number(info, "used_memory")),
                        human(number(info, "maxmemory"))
                    );
                    let run_id: String = field(info, "run_id")
                        .unwrap_or("-")
                        .chars()
                        .take(8)
                        .collect();
                    println!(
                        "{:<22} {:<20} {:<10} {:>10} {:>19} {:>7} {:>9}",
                        row.name,
                        row.state,
                        run_id,
                        keys,
                        memory,
                        ratio,
                        number(info, "instantaneous_ops_per_sec")
                    );
                }
                None => println!(
                    "{:<22} {:<20} {:<10} {:>10} {:>19} {:>7} {:>9}",
                    row.name, row.state, "-", "-", "-", "-", "-"
                ),
            }
        }
        Ok(())
    })
}
