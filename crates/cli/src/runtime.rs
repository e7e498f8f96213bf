//! The async runtime and signal handling shared by the long-running subcommands.

use anyhow::{Context, Result};
use tokio::signal::unix::{signal, SignalKind};

/// A runtime of `threads` threads, 0 meaning one per CPU the process may use. One thread (one
/// CPU: a container limited to one, or `taskset`) is tokio's single-threaded runtime, which
/// does the same work without handing tasks between threads.
pub fn build(threads: usize) -> Result<tokio::runtime::Runtime> {
    let threads = match threads {
        0 => std::thread::available_parallelism().map_or(1, usize::from),
        n => n,
    };
    let mut builder = if threads == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        builder.worker_threads(threads);
        builder
    };
    builder
        .enable_all()
        .thread_name("cachering")
        .build()
        .context("cannot start the async runtime")
}

/// Runs a long-running subcommand: logging at `log_level`, a runtime of `threads` threads
/// (see [`build`]), the Prometheus exporter at `metrics_addr` if one is given, then `serve` to
/// its end.
pub fn serve(
    threads: usize,
    log_level: &str,
    metrics_addr: Option<&str>,
    serve: impl std::future::Future<Output = Result<()>>,
) -> Result<()> {
    crate::logging::init(log_level)?;
    build(threads)?.block_on(async move {
        if let Some(addr) = metrics_addr {
            crate::exporter::install(addr)?;
        }
        serve.await
    })
}

/// Runs a graceful stop to its end, unless a second SIGINT or SIGTERM asks to exit at once.
pub async fn finish_stop(stop: impl std::future::Future<Output = ()>) {
    tokio::select! {
        () = stop => {}
        _ = stop_signal() => tracing::warn!("second signal received, exiting at once"),
    }
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
