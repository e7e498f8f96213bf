//! `cachering node`: runs one cache node until SIGINT or SIGTERM.

use anyhow::{Context, Result};
use cachering_node::NodeArgs;
use tokio::signal::unix::{signal, SignalKind};

use crate::logging;

pub fn run(args: NodeArgs) -> Result<()> {
    let config = args.resolve()?;
    logging::init(&config.log_level)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("cachering-node")
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let address = format!("{}:{}", config.bind, config.port);
        let node = cachering_node::start(config)
            .await
            .with_context(|| format!("cannot listen on {address}"))?;
        let mut interrupt = signal(SignalKind::interrupt())?;
        let mut terminate = signal(SignalKind::terminate())?;
        let state = std::sync::Arc::clone(node.state());
        let stopped = node.stopped();
        tokio::pin!(stopped);
        tokio::select! {
            () = &mut stopped => return Ok(()),
            _ = interrupt.recv() => tracing::info!("SIGINT received, stopping"),
            _ = terminate.recv() => tracing::info!("SIGTERM received, stopping"),
        }
        state.request_shutdown();
        tokio::select! {
            () = &mut stopped => {}
            _ = interrupt.recv() => tracing::warn!("second signal received, exiting at once"),
            _ = terminate.recv() => tracing::warn!("second signal received, exiting at once"),
        }
        Ok(())
    })
}
