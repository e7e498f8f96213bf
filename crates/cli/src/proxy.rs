//! `cachering proxy`: runs the proxy until SIGINT or SIGTERM.

use anyhow::{Context, Result};
use cachering_proxy::ProxyArgs;

use crate::runtime;

pub fn run(args: ProxyArgs) -> Result<()> {
    let config = args.resolve()?;
    let log_level = config.log_level.clone();
    let metrics_addr = config.metrics_addr.clone();
    let threads = config.threads;
    runtime::serve(threads, &log_level, metrics_addr.as_deref(), async move {
        let address = format!("{}:{}", config.listener.bind, config.port());
        let proxy = cachering_proxy::start(config)
            .await
            .with_context(|| format!("cannot start the proxy on {address}"))?;
        let signal = runtime::stop_signal().await?;
        tracing::info!("{signal} received, stopping");
        runtime::finish_stop(proxy.stop()).await;
        Ok(())
    })
}
