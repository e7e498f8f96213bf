//! `cachering proxy`: runs the proxy until SIGINT or SIGTERM; SIGHUP reads the node list of the
//! config file (and flags) again.

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
        let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
        let stop = runtime::stop_signal();
        tokio::pin!(stop);
        let signal = loop {
            tokio::select! {
                signal = &mut stop => break signal?,
                _ = hangup.recv() => match args.resolve() {
                    Ok(config) => match proxy.reload_nodes(&config) {
                        Ok(done) => tracing::info!("SIGHUP: {done}"),
                        Err(why) => tracing::warn!("SIGHUP: {why}"),
                    },
                    Err(error) => tracing::warn!(%error, "SIGHUP: the configuration cannot be read; keeping the ring"),
                },
            }
        };
        tracing::info!("{signal} received, stopping");
        runtime::finish_stop(proxy.stop()).await;
        Ok(())
    })
}
