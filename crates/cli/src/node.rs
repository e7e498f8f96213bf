//! `cachering node`: runs one cache node until SIGINT or SIGTERM.

use anyhow::{Context, Result};
use cachering_node::NodeArgs;

use crate::runtime;

pub fn run(args: NodeArgs) -> Result<()> {
    let config = args.resolve()?;
    let log_level = config.log_level.clone();
    let metrics_addr = config.metrics_addr.clone();
    let threads = config.threads;
    runtime::serve(threads, &log_level, metrics_addr.as_deref(), async move {
        let address = format!("{}:{}", config.listener.bind, config.port());
        let node = cachering_node::start(config)
            .await
            .with_context(|| format!("cannot start the node on {address}"))?;
        let state = std::sync::Arc::clone(node.state());
        let stopped = node.stopped();
        tokio::pin!(stopped);
        tokio::select! {
            () = &mut stopped => return Ok(()),
            signal = runtime::stop_signal() => tracing::info!("{} received, stopping", signal?),
        }
        state.endpoint.request_shutdown();
        runtime::finish_stop(stopped).await;
        Ok(())
    })
}
