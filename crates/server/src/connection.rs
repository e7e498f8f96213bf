//! One client connection: read, decode every complete request, run them ([`run_batch`]),
//! write the replies at once if the socket takes them, wait.
//!
//! Every complete request in the read buffer is answered before the next write, so a pipeline
//! gets one write per batch, and the replies are written as soon as they are ready (as Redis
//! does before it waits again), so a request costs one turn of this loop. Reading continues
//! while replies wait to be written: a client that sends without reading makes its pending
//! replies grow until `client-output-buffer-limit`, and is then disconnected; its input is
//! bounded by `client-query-buffer-limit`. Memory per client therefore stays within those two
//! limits. Limits changed by CONFIG SET apply from the next batch.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use cachering_commands::CommandSpec;
use cachering_proto::{Limits, ReplyWriter, RequestDecoder};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::clients::ClientInfo;
use crate::dispatch::{run_batch, Exchange};
use crate::endpoint::Endpoint;
use crate::service::{Flow, Request, Service};
use crate::session::Session;

/// Room kept free in the read buffer before each read.
const READ_CHUNK: usize = 16 * 1024;
/// Buffers that grew past this are given back once empty, so one large request does not pin
/// memory for the life of the connection.
const SHRINK_ABOVE: usize = 1024 * 1024;
/// Requests decoded per turn; more waiting in the buffer are taken on the next turn, before
/// any wait.
const MAX_BATCH: usize = 1024;
/// While the server stops, how long a connection waits for more of what its client already
/// sent.
const DRAIN_WAIT: Duration = Duration::from_millis(50);
/// How long a closing connection may take to write its last replies.
const FINAL_FLUSH: Duration = Duration::from_secs(5);

/// The limits a connection applies, read from the settings before each batch so that CONFIG
/// SET takes effect on open connections.
struct ConnectionLimits {
    decoder: Limits,
    query_buffer: usize,
    output_buffer: usize,
    idle: Option<Duration>,
}

impl ConnectionLimits {
    fn current(endpoint: &Endpoint) -> Self {
        endpoint.with_settings(|settings| Self {
            decoder: Limits::default()
                .with_max_bulk_len(settings.proto_max_bulk_len.bytes() as usize),
            query_buffer: settings.client_query_buffer_limit.bytes() as usize,
            output_buffer: settings.client_output_buffer_limit.bytes() as usize,
            idle: (settings.timeout > 0).then(|| Duration::from_secs(settings.timeout)),
        })
    }
}

/// Why a connection ended, for the log.
#[derive(Debug)]
enum Ending {
    ClientClosed,
    Quit,
    Killed,
    Shutdown,
    Idle,
    ProtocolError,
    QueryBufferLimit,
    OutputBufferLimit,
    Io(std::io::Error),
}

/// A batch of decoded requests, with the argument vectors of earlier batches kept for reuse.
struct Batch {
    requests: Vec<Request>,
    spare: Vec<Vec<Bytes>>,
    /// The last command looked up: pipelines repeat commands, and comparing one name is cheaper
    /// than hashing it.
    last: Option<&'static CommandSpec>,
}

impl Batch {
    fn new() -> Self {
        Self {
            requests: Vec::new(),
            spare: Vec::new(),
            last: None,
        }
    }

    /// Decodes up to `limit` requests from `input`; a protocol error if the input is not RESP.
    fn fill(
        &mut self,
        decoder: &mut RequestDecoder,
        input: &mut BytesMut,
        session: &Session,
        limit: usize,
    ) -> Result<(), cachering_proto::DecodeError> {
        while self.requests.len() < limit {
            decoder.set_authenticated(session.authenticated);
            let mut args = self.spare.pop().unwrap_or_default();
            match decoder.decode(input, &mut args) {
                Ok(true) => {
                    let cached = self
                        .last
                        .filter(|spec| args[0].eq_ignore_ascii_case(spec.name.as_bytes()));
                    let mut request = Request::default();
                    request.reuse_with(args, cached);
                    self.last = request.known().or(self.last);
                    self.requests.push(request);
                }
                Ok(false) => {
                    self.spare.push(args);
                    return Ok(());
                }
                Err(error) => {
                    self.spare.push(args);
                    return Err(error);
                }
            }
        }
        Ok(())
    }

    /// Empties the batch, keeping the argument vectors (their slices of the read buffer
    /// released) for the next one.
    fn recycle(&mut self) {
        for request in self.requests.drain(..) {
            let mut args = request.args;
            args.clear();
            if self.spare.len() < MAX_BATCH {
                self.spare.push(args);
            }
        }
    }
}

/// Serves one accepted connection until it ends.
pub(crate) async fn serve<S: Service>(
    mut stream: TcpStream,
    endpoint: Arc<Endpoint>,
    service: Arc<S>,
    client: Arc<ClientInfo>,
) {
    let _ = stream.set_nodelay(true);
    let ending = run(&mut stream, &endpoint, &*service, &client).await;
    endpoint.tracking.disable(&client);
    match &ending {
        Ending::QueryBufferLimit => {
            tracing::warn!(client = client.id, addr = %client.addr, "closing client that reached the query buffer limit")
        }
        Ending::OutputBufferLimit => {
            tracing::warn!(client = client.id, addr = %client.addr, "closing client whose pending replies exceeded the output buffer limit")
        }
        Ending::ProtocolError => {
            tracing::debug!(client = client.id, addr = %client.addr, "closing client after a protocol error")
        }
        Ending::Io(error) => tracing::debug!(client = client.id, %error, "connection failed"),
        other => tracing::trace!(client = client.id, ending = ?other, "connection closed"),
    }
    endpoint.clients.unregister(client.id);
}

async fn run<S: Service>(
    stream: &mut TcpStream,
    endpoint: &Endpoint,
    service: &S,
    client: &ClientInfo,
) -> Ending {
    // A kill or the server's stop wakes the task through the client's atomic waker: waiting
    // on a `Notify` and the shutdown watch instead, made anew for every request, their
    // registration and removal under the notifiers' locks was 3 % of a node's CPU at pipeline
    // depth 1.
    let mut stop_seen = false;
    let mut session = Session::new(endpoint.with_settings(|s| s.requirepass.is_none()));
    let mut local = S::Local::default();
    let mut limits_read_at = endpoint.settings_changes();
    let mut limits = ConnectionLimits::current(endpoint);
    let mut decoder = RequestDecoder::new(limits.decoder);
    let mut input = BytesMut::with_capacity(READ_CHUNK);
    let mut output = BytesMut::with_capacity(READ_CHUNK);
    let mut batch = Batch::new();
    let mut eof = false;
    let mut pushes = client.take_pushes();
    loop {
        // Answer every complete request received so far. Before authentication, one at a
        // time: the next is decoded with the small unauthenticated limits unless this one
        // authenticates.
        let limit = if session.authenticated { MAX_BATCH } else { 1 };
        let decoded = batch.fill(&mut decoder, &mut input, &session, limit);
        let full = batch.requests.len() == limit && decoded.is_ok();
        let mut ending = None;
        if !batch.requests.is_empty() {
            let mut exchange = Exchange {
                service,
                endpoint,
                client,
                session: &mut session,
                local: &mut local,
                out: &mut output,
                output_limit: limits.output_buffer,
            };
            let blocking = batch.requests.iter().any(|request| {
                request
                    .known()
                    .is_some_and(|spec| spec.has(cachering_commands::Flag::Blocking))
            });
            let flow = if blocking {
                // A blocking command may wait for long: watch the socket meanwhile, so a
                // client that goes away ends the wait before anything is taken for it.
                let running = run_batch(&mut exchange, &batch.requests);
                tokio::pin!(running);
                let mut watching = !eof;
                loop {
                    tokio::select! {
                        // The socket first: a node that thaws with a departed waiter and a
                        // changed list must see the departure before it takes anything.
                        biased;
                        gone = peer_gone(stream), if watching => {
                            if gone {
                                return Ending::ClientClosed;
                            }
                            // More requests arrived: they wait in the socket.
                            watching = false;
                        }
                        flow = &mut running => break flow,
                    }
                }
            } else {
                run_batch(&mut exchange, &batch.requests).await
            };
            if output.len() > limits.output_buffer {
                return Ending::OutputBufferLimit;
            }
            if flow == Flow::Close {
                ending = Some(if client.is_killed() {
                    Ending::Killed
                } else {
                    Ending::Quit
                });
            }
        }
        batch.recycle();
        if let (Err(error), None) = (&decoded, &ending) {
            endpoint
                .stats
                .protocol_errors
                .fetch_add(1, Ordering::Relaxed);
            service.observe_error("ERR Protocol error");
            ReplyWriter::new(&mut output, session.protocol).error(&format!("ERR {error}"));
            ending = Some(Ending::ProtocolError);
        }
        if session.processed > 0 {
            endpoint
                .stats
                .commands_processed
                .fetch_add(std::mem::take(&mut session.processed), Ordering::Relaxed);
            service.batch_done(&mut local);
            client.touch();
        }
        client.query_buffer.store(input.len(), Ordering::Relaxed);
        client.output_buffer.store(output.len(), Ordering::Relaxed);
        if ending.is_none() && eof && !full {
            ending = Some(Ending::ClientClosed);
        }
        if ending.is_none() && input.len() >= limits.query_buffer {
            ending = Some(Ending::QueryBufferLimit);
        }
        if let Some(ending) = ending {
            if !output.is_empty() {
                let _ = tokio::time::timeout(FINAL_FLUSH, stream.write_all(&output)).await;
                endpoint
                    .stats
                    .net_output_bytes
                    .fetch_add(output.len() as u64, Ordering::Relaxed);
            }
            return ending;
        }
        if client.is_killed() {
            return Ending::Killed;
        }
        if full {
            // More complete requests may be waiting in the buffer: take them first.
            continue;
        }

        if endpoint.is_shutting_down() {
            // Stopping: answer what the client already sent (it sits in the socket buffer,
            // so reads return at once), then close. New input that takes longer than
            // DRAIN_WAIT to arrive was sent after the stop and is not waited for.
            if tokio::time::timeout(FINAL_FLUSH, stream.write_all(&output))
                .await
                .is_err()
            {
                return Ending::Shutdown;
            }
            endpoint
                .stats
                .net_output_bytes
                .fetch_add(output.len() as u64, Ordering::Relaxed);
            output.clear();
            prepare_read_buffer(&mut input, &decoder, limits.query_buffer);
            match tokio::time::timeout(DRAIN_WAIT, stream.read_buf(&mut input)).await {
                Ok(Ok(n)) if n > 0 => {
                    endpoint
                        .stats
                        .net_input_bytes
                        .fetch_add(n as u64, Ordering::Relaxed);
                    continue;
                }
                _ => return Ending::Shutdown,
            }
        }

        let changes = endpoint.settings_changes();
        if changes != limits_read_at {
            limits_read_at = changes;
            limits = ConnectionLimits::current(endpoint);
            decoder.set_limits(limits.decoder);
        }
        prepare_read_buffer(&mut input, &decoder, limits.query_buffer);
        if output.is_empty() && output.capacity() > SHRINK_ABOVE {
            output = BytesMut::with_capacity(READ_CHUNK);
        }
        // Write the replies now if the socket takes them: a request then costs one turn of
        // this loop, not one to read and one to write (at pipeline depth 1 the extra turn,
        // with its wakers, was the difference between the node and redis-server in a perf
        // profile).
        match write_now(stream, &mut output) {
            Ok(n) => {
                endpoint
                    .stats
                    .net_output_bytes
                    .fetch_add(n as u64, Ordering::Relaxed);
            }
            Err(e) => return Ending::Io(e),
        }
        let idle_limit = limits.idle.filter(|_| output.is_empty());
        let idle = async move {
            match idle_limit {
                Some(idle) => tokio::time::sleep(idle).await,
                None => std::future::pending().await,
            }
        };
        let (mut reader, mut writer) = stream.split();
        let monitored = async {
            match session.monitor.as_mut() {
                Some(monitor) => monitor.next().await,
                None => std::future::pending().await,
            }
        };
        let pushed = async {
            match pushes.as_mut() {
                Some(pushes) => pushes.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            written = writer.write_buf(&mut output), if !output.is_empty() => match written {
                Ok(0) => return Ending::ClientClosed,
                Ok(n) => {
                    endpoint.stats.net_output_bytes.fetch_add(n as u64, Ordering::Relaxed);
                }
                Err(e) => return Ending::Io(e),
            },
            read = reader.read_buf(&mut input), if !eof => match read {
                // The client closed its side: answer what it sent, then end.
                Ok(0) => eof = true,
                Ok(n) => {
                    endpoint.stats.net_input_bytes.fetch_add(n as u64, Ordering::Relaxed);
                }
                Err(e) => return Ending::Io(e),
            },
            // After the socket's branches: it is polled only when they wait, once per request
            // at depth 1 rather than twice. A busy connection still sees a kill or a stop
            // between batches, where the loop checks both flags.
            () = std::future::poll_fn(|cx| {
                client.attention(cx, || !stop_seen && endpoint.is_shutting_down())
            }) => {
                if client.is_killed() {
                    return Ending::Killed;
                }
                // Seen once; the loop then checks the endpoint's flag.
                stop_seen = true;
            }
            // After the socket's branches, so a busy server's lines do not starve reads.
            line = monitored => {
                output.extend_from_slice(&line);
                if output.len() > limits.output_buffer {
                    return Ending::OutputBufferLimit;
                }
            }
            // Invalidations (CLIENT TRACKING), after the replies already pending.
            Some(push) = pushed => {
                crate::tracking::encode(&push, session.protocol, session.subscribed, &mut output);
                if output.len() > limits.output_buffer {
                    return Ending::OutputBufferLimit;
                }
            }
            () = idle => return Ending::Idle,
        }
    }
}

/// Completes when the peer closed the connection (true) or sent more bytes (false).
async fn peer_gone(stream: &TcpStream) -> bool {
    let mut byte = [0u8; 1];
    !matches!(stream.peek(&mut byte).await, Ok(n) if n > 0)
}

/// Writes what the socket takes of `output` without waiting and removes it from `output`;
/// the bytes written (0 if the socket is full or there is nothing to write).
pub fn write_now(stream: &TcpStream, output: &mut BytesMut) -> std::io::Result<usize> {
    if output.is_empty() {
        return Ok(0);
    }
    match stream.try_write(output) {
        Ok(n) => {
            output.advance(n);
            Ok(n)
        }
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Ok(0),
        Err(e) => Err(e),
    }
}

/// Makes room for the next read: a request whose size is known gets room for all of it at
/// once (bounded by the query buffer limit), anything else a fixed chunk.
fn prepare_read_buffer(input: &mut BytesMut, decoder: &RequestDecoder, query_limit: usize) {
    if input.is_empty() && input.capacity() > SHRINK_ABOVE {
        *input = BytesMut::with_capacity(READ_CHUNK);
    }
    let wanted = decoder.bytes_wanted().unwrap_or(0).min(query_limit);
    let additional = wanted.saturating_sub(input.len()).max(READ_CHUNK);
    if input.capacity() - input.len() < additional {
        input.reserve(additional);
    }
}
