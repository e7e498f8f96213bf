//! `cachering`: one binary for the cache node and the tools around it.

mod logging;
mod node;

use anyhow::Result;
use clap::{Parser, Subcommand};

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
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Node(args) => node::run(args),
    }
}
