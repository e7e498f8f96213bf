//! `cachering`: one binary for the cache node, the proxy and the tools around them.

mod allocator;
mod exporter;
mod logging;
mod node;
mod ping;
mod proxy;
mod ring;
mod runtime;
mod status;
mod up;

use anyhow::Result;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

/// A consistent-hashing distributed cache that speaks the Redis protocol.
#[derive(Debug, Parser)]
#[command(name = "cachering", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a cache node: an in-memory, Redis-protocol cache server.
    Node(cachering_node::NodeArgs),
    /// Run the proxy: one Redis endpoint for the whole ring.
    Proxy(cachering_proxy::ProxyArgs),
    /// Start a local cluster (a proxy and three nodes) in one process.
    Up(up::UpArgs),
    /// Show where keys live on a ring, or how a ring balances random keys.
    Ring(ring::RingArgs),
    /// One table of every node's state, keys, memory, hit ratio and load.
    Status(status::StatusArgs),
    /// Check that a node or proxy answers (for container health checks).
    Ping(ping::PingArgs),
}

/// The listener's flags are shared by `node` and `proxy`; only the default port differs.
fn command() -> clap::Command {
    let port = |default: u16| {
        move |arg: clap::Arg| {
            arg.help(format!(
                "Port to listen on; 0 picks a free port [default: {default}]"
            ))
        }
    };
    Cli::command()
        .mut_subcommand("node", |c| {
            c.mut_arg("port", port(cachering_node::config::DEFAULT_PORT))
        })
        .mut_subcommand("proxy", |c| {
            c.mut_arg("port", port(cachering_proxy::config::DEFAULT_PORT))
        })
}

fn main() -> Result<()> {
    allocator::limit_arenas();
    let cli = Cli::from_arg_matches(&command().get_matches())?;
    match cli.command {
        Command::Node(args) => node::run(args),
        Command::Proxy(args) => proxy::run(args),
        Command::Up(args) => up::run(args),
        Command::Ring(args) => ring::run(args),
        Command::Status(args) => status::run(args),
        Command::Ping(args) => ping::run(args),
    }
}
