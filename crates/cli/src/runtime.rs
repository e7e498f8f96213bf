//! The async runtime and signal handling shared by the long-running subcommands.

use anyhow::{Context, Result};
use tokio::signal::unix::{signal, SignalKind};

/// A multi-threaded runtime.
pub fn build() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("cachering")
        .build()
        .context("cannot start the async runtime")
}

/// Waits for SIGINT or SIGTERM.
pub async fn stop_signal() -> Result<&'static str> {
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(tokio::select! {
        _ = interrupt.recv() => "SIGINT",
        _ = terminate.recv() => "SIGTERM",
    })
}
