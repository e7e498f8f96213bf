//! Installing the Prometheus exporter and serving `/metrics`: only the binary does this; the
//! libraries record through the `metrics` facade.
//!
//! The endpoint is served here rather than by the exporter's own listener because the node's
//! per-command counts and latencies are not recorded through the facade: the node keeps them
//! itself and writes them at scrape time ([`cachering_node::metrics::render_commands`]),
//! which the exporter's listener has no place for. Each scrape is the exporter's rendering
//! followed by those.

use std::convert::Infallible;
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use anyhow::{Context, Result};
use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// How often histograms recorded through the facade are drained into their buckets.
const UPKEEP: Duration = Duration::from_secs(5);

/// Serves `/metrics` at `addr`, with bucketed histograms for every `_seconds` metric. Must run
/// inside the tokio runtime, which then also serves the endpoint.
pub fn install(addr: &str) -> Result<SocketAddr> {
    let socket: SocketAddr = addr
        .to_socket_addrs()
        .with_context(|| format!("invalid metrics address '{addr}'"))?
        .next()
        .with_context(|| format!("metrics address '{addr}' resolves to nothing"))?;
    let listener = std::net::TcpListener::bind(socket)
        .with_context(|| format!("cannot serve metrics on {socket}"))?;
    listener.set_nonblocking(true)?;
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let local = listener.local_addr()?;
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Suffix("_seconds".to_string()),
            cachering_node::metrics::LATENCY_BUCKETS,
        )
        .context("invalid histogram buckets")?
        .install_recorder()
        .context("cannot install the metrics recorder")?;
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(UPKEEP);
        loop {
            ticker.tick().await;
            upkeep.run_upkeep();
        }
    });
    tokio::spawn(serve(listener, handle));
    tracing::info!(socket = %local, "serving Prometheus metrics at /metrics");
    Ok(local)
}

/// Accepts scrapers until the process ends.
async fn serve(listener: tokio::net::TcpListener, handle: PrometheusHandle) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(error) => {
                tracing::warn!(%error, "cannot accept a metrics connection");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let handle = handle.clone();
        tokio::spawn(async move {
            let service =
                hyper::service::service_fn(move |request| respond(request, handle.clone()));
            let served = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
            if let Err(error) = served {
                tracing::debug!(%error, "metrics connection ended with an error");
            }
        });
    }
}

/// `/health` answers OK; any other path the metrics, in the text format.
async fn respond<B>(
    request: Request<B>,
    handle: PrometheusHandle,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = if request.uri().path() == "/health" {
        "OK".to_string()
    } else {
        // Rendering walks every series: off the async workers, as the exporter does.
        tokio::task::spawn_blocking(move || render(&handle))
            .await
            .unwrap_or_default()
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    Ok(response)
}

/// The whole scrape: the facade's metrics, then the nodes' per-command ones.
fn render(handle: &PrometheusHandle) -> String {
    let mut text = handle.render();
    if !text.is_empty() && !text.ends_with("\n\n") {
        text.push('\n');
    }
    cachering_node::metrics::render_commands(&mut text);
    text
}
