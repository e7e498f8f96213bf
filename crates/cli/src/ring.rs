//! `cachering ring`: where keys live, and how a ring balances.

use anyhow::{bail, Result};
use cachering_client::ring::Ring;
use cachering_client::NodeSpec;

/// `cachering ring` flags.
#[derive(Debug, clap::Args)]
pub struct RingArgs {
    /// The ring's nodes, comma-separated: host:port, name=host:port, optionally *weight
    #[arg(long, value_delimiter = ',', required = true)]
    nodes: Vec<String>,
    /// Copies of each key
    #[arg(long, default_value_t = 2)]
    replicas: usize,
    /// Instead of listing keys, place this many random keys and report the balance
    #[arg(long, value_name = "COUNT")]
    random: Option<usize>,
    /// Keys to place
    keys: Vec<String>,
}

pub fn run(args: RingArgs) -> Result<()> {
    let specs: Vec<NodeSpec> = args
        .nodes
        .iter()
        .map(|n| NodeSpec::parse(n))
        .collect::<Result<_, _>>()?;
    let pairs: Vec<(String, f64)> = specs.iter().map(|s| (s.name.clone(), s.weight)).collect();
    let ring = Ring::new(&pairs);
    match args.random {
        Some(count) => balance(&ring, &pairs, count),
        None => {
            if args.keys.is_empty() {
                bail!("give keys to place, or --random COUNT");
            }
            let width = args.keys.iter().map(String::len).max().unwrap_or(0);
            for key in &args.keys {
                let order: Vec<&str> = ring
                    .replicas(key.as_bytes(), args.replicas)
                    .into_iter()
                    .map(|i| ring.name(i))
                    .collect();
                println!("{key:<width$}  {}", order.join("  "));
            }
            Ok(())
        }
    }
}

fn balance(ring: &Ring, pairs: &[(String, f64)], count: usize) -> Result<()> {
    if count == 0 {
        bail!("--random needs at least one key");
    }
    let keys: Vec<String> = (0..count)
        .map(|_| format!("key:{:016x}", rand::random::<u64>()))
        .collect();
    let primaries: Vec<usize> = keys
        .iter()
        .map(|k| ring.primary(k.as_bytes()).expect("a ring with nodes"))
        .collect();
    let mut load = vec![0usize; ring.len()];
    for &p in &primaries {
        load[p] += 1;
    }
    let mean = count as f64 / ring.len() as f64;
    println!(
        "{count} random keys over {} nodes (primary copies)",
        ring.len()
    );
    for (index, keys) in load.iter().enumerate() {
        println!(
            "  {:<24} {:>9} keys  {:>6.2}%  {:.3}x mean",
            ring.name(index),
            keys,
            100.0 * *keys as f64 / count as f64,
            *keys as f64 / mean
        );
    }
    println!(
        "  max/mean {:.3}",
        *load.iter().max().unwrap_or(&0) as f64 / mean
    );
    let mut grown = pairs.to_vec();
    grown.push(("new-node".to_string(), 1.0));
    let grown = Ring::new(&grown);
    let moved = keys
        .iter()
        .zip(&primaries)
        .filter(|(k, &p)| grown.name(grown.primary(k.as_bytes()).unwrap()) != ring.name(p))
        .count();
    println!(
        "adding a node would move {:.2}% of keys (ideal {:.2}%)",
        100.0 * moved as f64 / count as f64,
        100.0 / (ring.len() + 1) as f64
    );
    if ring.len() > 1 {
        for removed in 0..ring.len() {
            let rest: Vec<(String, f64)> = pairs
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != removed)
                .map(|(_, p)| p.clone())
                .collect();
            let shrunk = Ring::new(&rest);
            let moved = keys
                .iter()
                .zip(&primaries)
                .filter(|(k, &p)| {
                    shrunk.name(shrunk.primary(k.as_bytes()).unwrap()) != ring.name(p)
                })
                .count();
            println!(
                "removing {} would move {:.2}% of keys",
                ring.name(removed),
                100.0 * moved as f64 / count as f64
            );
        }
    }
    Ok(())
}
