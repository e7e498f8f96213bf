//! `cachering proxy`: runs the proxy until SIGINT or SIGTERM.

use anyhow::{Context, Result};
use cachering_proxy::ProxyArgs;

use crate::{logging, runtime};

pub fn run(args: ProxyArgs) -> Result<()> {
    let config = args.resolve()?;
    logging::init(&config.log_level)?;
    runtime::build()?.block_on(async move {
        if let Some(addr) = &config.metrics_addr {
            crate::exporter::install(addr)?;
        }
        let address = format!("{}:{}", config.bind, config.port);
        let proxy = cachering_proxy::start(config)
            .await
            .with_context(|| format!("cannot start the proxy on {address}"))?;
        let signal = runtime::stop_signal().await?;
        tracing::info!("{signal} received, stopping");
        runtime::finish_stop(proxy.stop()).await;
        Ok(())
    })
}
