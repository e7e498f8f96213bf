//! One client connection to the proxy: the node's decoder and limits, commands answered in
//! order (each awaits its nodes), one write per batch of pipelined requests.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use cachering_client::Routed;
use cachering_node::connection::write_now;
use cachering_proto::{Limits, Protocol, ReplyWriter, RequestDecoder};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use std::collections::HashSet;

use futures::future::join_all;

use crate::dispatch::{
    dispatch, dispatch_concurrent, write_error, write_reply, Concurrent, Flow, Session,
};
use crate::state::ProxyState;

const READ_CHUNK: usize = 16 * 1024;
/// Requests taken from the read buffer per turn.
const MAX_BATCH: usize = 1024;
/// Most requests sent to the nodes at once from one pipeline.
const MAX_CONCURRENT: usize = 64;

/// The requests from the start of `batch` that can run concurrently (none or one: run alone).
fn concurrent_run<'a>(session: &Session, batch: &'a [Vec<Bytes>]) -> Vec<Concurrent<'a>> {
    let mut run = Vec::new();
    let mut seen: HashSet<&[u8]> = HashSet::new();
    for args in batch.iter().take(MAX_CONCURRENT) {
        match Concurrent::of(session, args) {
            Some(request) if request.keys.iter().all(|key| !seen.contains(key)) => {
                seen.extend(request.keys.iter().copied());
                run.push(request);
            }
            _ => break,
        }
    }
    run
}
const FINAL_FLUSH: Duration = Duration::from_secs(5);

/// Runs requests with disjoint keys together and writes their replies in request order.
/// Single-key commands go to the nodes as one client pipeline (one write and one wait per
/// node connection); the others run side by side, each on its own.
async fn run_concurrently(
    state: &ProxyState,
    protocol: Protocol,
    requests: &[Vec<Bytes>],
    run: Vec<Concurrent<'_>>,
    output: &mut BytesMut,
) {
    let mut commands = Vec::with_capacity(requests.len());
    let mut positions = Vec::with_capacity(requests.len());
    let mut alone = Vec::new();
    for (position, (args, request)) in requests.iter().zip(&run).enumerate() {
        match request.single_key_route(args) {
            Some((key, access)) => {
                state.metrics.command(request.spec);
                commands.push(Routed::new(key, args, access));
                positions.push(position);
            }
            None => alone.push(position),
        }
    }
    state
        .commands_processed
        .fetch_add(commands.len() as u64, Ordering::Relaxed);
    // Boxed: a request's future holds the whole client call chain (kilobytes), and join_all
    // moves each one on completion; unboxed, those moves took 5 % of the proxy's CPU (perf).
    let (piped, replies) = futures::join!(
        state.client.pipeline(&commands),
        join_all(alone.iter().map(|&position| Box::pin(dispatch_concurrent(
            state,
            protocol,
            run[position].spec,
            &requests[position]
        ))))
    );
    let mut piped = positions.into_iter().zip(piped).peekable();
    let mut replies = alone.into_iter().zip(replies).peekable();
    for position in 0..requests.len() {
        if piped.peek().is_some_and(|(p, _)| *p == position) {
            let (_, result) = piped.next().expect("peeked");
            let mut writer = ReplyWriter::new(output, protocol);
            match result {
                Ok(answer) => write_reply(&mut writer, &answer),
                Err(error) => write_error(&mut writer, &error),
            }
        } else {
            let (_, reply) = replies.next().expect("every request has a reply");
            output.extend_from_slice(&reply);
        }
    }
}

/// Serves one accepted connection until it ends.
pub async fn serve(mut stream: TcpStream, state: Arc<ProxyState>) {
    let _ = stream.set_nodelay(true);
    let gauge = metrics::gauge!(crate::metrics::CONNECTIONS);
    gauge.set(state.connected.fetch_add(1, Ordering::Relaxed) as f64 + 1.0);
    run(&mut stream, &state).await;
    gauge.set(state.connected.fetch_sub(1, Ordering::Relaxed) as f64 - 1.0);
}

async fn run(stream: &mut TcpStream, state: &ProxyState) {
    let config = &state.config;
    let mut session = Session {
        authenticated: config.requirepass.is_none(),
        id: state.next_client_id.fetch_add(1, Ordering::Relaxed),
        ..Session::default()
    };
    let mut decoder = RequestDecoder::new(
        Limits::default().with_max_bulk_len(config.proto_max_bulk_len.bytes() as usize),
    );
    let query_limit = config.client_query_buffer_limit.bytes() as usize;
    let output_limit = config.client_output_buffer_limit.bytes() as usize;
    let idle = (config.timeout > 0).then(|| Duration::from_secs(config.timeout));
    let mut shutdown = state.shutdown.subscribe();
    let mut input = BytesMut::with_capacity(READ_CHUNK);
    let mut output = BytesMut::with_capacity(READ_CHUNK);
    let mut args: Vec<Bytes> = Vec::with_capacity(8);
    let mut eof = false;
    loop {
        let mut close = false;
        // Take every complete request first, so a pipeline can run concurrently.
        let mut batch: Vec<Vec<Bytes>> = Vec::new();
        let mut protocol_error = None;
        // Before authentication, one request at a time: the next is decoded with the small
        // unauthenticated limits unless this one authenticates.
        let batch_limit = if session.authenticated { MAX_BATCH } else { 1 };
        while batch.len() < batch_limit {
            decoder.set_authenticated(session.authenticated);
            match decoder.decode(&mut input, &mut args) {
                Ok(true) => batch.push(std::mem::take(&mut args)),
                Ok(false) => break,
                Err(error) => {
                    protocol_error = Some(error);
                    break;
                }
            }
        }
        // A full batch may leave complete requests in the input: take them before waiting.
        let more_waiting = batch.len() == batch_limit && protocol_error.is_none();
        let mut i = 0;
        while i < batch.len() && !close {
            // A run of requests with disjoint keys goes to the nodes at once; replies are
            // written in request order. A last request runs alone without the check (at
            // pipeline depth 1, every request).
            let run = if batch.len() - i > 1 {
                concurrent_run(&session, &batch[i..])
            } else {
                Vec::new()
            };
            let run_end = run.len();
            if run_end > 1 {
                let requests = &batch[i..i + run_end];
                run_concurrently(state, session.protocol, requests, run, &mut output).await;
                i += run_end;
            } else {
                if dispatch(state, &mut session, &mut output, &batch[i]).await == Flow::Close {
                    close = true;
                }
                i += 1;
            }
            if output.len() > output_limit {
                tracing::warn!(
                    client = session.id,
                    "closing client whose pending replies exceeded the output buffer limit"
                );
                return;
            }
        }
        if let Some(error) = protocol_error {
            if !close {
                ReplyWriter::new(&mut output, session.protocol).error(&format!("ERR {error}"));
                close = true;
            }
        }
        args.clear();
        if !close && !session.authenticated && !input.is_empty() && !batch.is_empty() {
            // More requests may be waiting behind the one that just ran; take them next turn.
            continue;
        }
        if close || eof || *state.shutdown.borrow() || input.len() >= query_limit {
            let _ = tokio::time::timeout(FINAL_FLUSH, stream.write_all(&output)).await;
            return;
        }
        let wanted = decoder.bytes_wanted().unwrap_or(0).min(query_limit);
        let additional = wanted.saturating_sub(input.len()).max(READ_CHUNK);
        if input.capacity() - input.len() < additional {
            input.reserve(additional);
        }
        // Write the replies now if the socket takes them (as the node does): a request then
        // costs one turn of this loop, not one to read and one to write.
        if write_now(stream, &mut output).is_err() {
            return;
        }
        if more_waiting {
            continue;
        }
        let idle_limit = idle.filter(|_| output.is_empty());
        let idle_wait = async move {
            match idle_limit {
                Some(limit) => tokio::time::sleep(limit).await,
                None => std::future::pending().await,
            }
        };
        let (mut reader, mut writer) = stream.split();
        tokio::select! {
            biased;
            _ = shutdown.changed() => {}
            written = writer.write_buf(&mut output), if !output.is_empty() => {
                if !matches!(written, Ok(n) if n > 0) {
                    return;
                }
            }
            read = reader.read_buf(&mut input), if !eof => match read {
                Ok(0) => eof = true,
                Ok(_) => {}
                Err(_) => return,
            },
            () = idle_wait => return,
        }
    }
}
