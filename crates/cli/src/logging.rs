//! Logging setup shared by every subcommand: `tracing` to stderr, filtered by `--log-level`
//! (or `RUST_LOG` when set).

use anyhow::{Context, Result};
use tracing_subscriber::EnvFilter;

pub fn init(level: &str) -> Result<()> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(from_env) if !from_env.is_empty() => EnvFilter::try_new(from_env),
        _ => EnvFilter::try_new(level),
    }
    .with_context(|| format!("invalid log level '{level}'"))?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    Ok(())
}
