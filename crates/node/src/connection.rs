//! One client connection: read, decode, dispatch, write.
//!
//! Every complete request in the read buffer is answered before the next write, so a pipeline
//! gets one write per batch. Reading continues while replies wait to be written, as in Redis:
//! a client that sends without reading makes its pending replies grow until
//! `client-output-buffer-limit`, and is then disconnected; its input is bounded by
//! `client-query-buffer-limit`. Memory per client therefore stays within those two limits.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use cachering_proto::{Limits, ReplyWriter, RequestDecoder};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::clients::ClientInfo;
use crate::command::{dispatch, Ctx, Flow, Session};
use crate::state::NodeState;

/// Room kept free in the read buffer before each read.
const READ_CHUNK: usize = 16 * 1024;
/// Buffers that grew past this are given back once empty, so one large request does not pin
/// memory for the life of the connection.
const SHRINK_ABOVE: usize = 1024 * 1024;
/// While the node stops, how long a connection waits for more of what its client already sent.
const DRAIN_WAIT: Duration = Duration::from_millis(50);
/// How long a closing connection may take to write its last replies.
const FINAL_FLUSH: Duration = Duration::from_secs(5);

/// The limits a connection applies, read from the node's settings before each batch so that
/// CONFIG SET takes effect on open connections.
struct ConnectionLimits {
    decoder: Limits,
    query_buffer: usize,
    output_buffer: usize,
    idle: Option<Duration>,
}

impl ConnectionLimits {
    fn current(node: &NodeState) -> Self {
        node.with_config(|config| Self {
            decoder: Limits::default()
                .with_max_bulk_len(config.proto_max_bulk_len.bytes() as usize),
            query_buffer: config.client_query_buffer_limit.bytes() as usize,
            output_buffer: config.client_output_buffer_limit.bytes() as usize,
            idle: (config.timeout > 0).then(|| Duration::from_secs(config.timeout)),
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

/// Serves one accepted connection until it ends.
pub async fn serve(mut stream: TcpStream, node: Arc<NodeState>, client: Arc<ClientInfo>) {
    let _ = stream.set_nodelay(true);
    let ending = run(&mut stream, &node, &client).await;
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
    node.clients.unregister(client.id);
}

async fn run(stream: &mut TcpStream, node: &NodeState, client: &ClientInfo) -> Ending {
    let mut shutdown = node.shutdown.subscribe();
    let mut session = Session {
        authenticated: node.with_config(|config| config.requirepass.is_none()),
        ..Session::default()
    };
    let mut limits = ConnectionLimits::current(node);
    let mut decoder = RequestDecoder::new(limits.decoder);
    let mut input = BytesMut::with_capacity(READ_CHUNK);
    let mut output = BytesMut::with_capacity(READ_CHUNK);
    let mut args: Vec<Bytes> = Vec::with_capacity(8);
    let mut eof = false;
    loop {
        // Answer every complete request received so far.
        let mut ending = None;
        // One clock read per batch, as Redis caches its time per event-loop turn.
        let now = crate::clock::now_ms();
        loop {
            decoder.set_authenticated(session.authenticated);
            args.clear();
            match decoder.decode(&mut input, &mut args) {
                Ok(true) => {
                    let mut ctx = Ctx {
                        node,
                        client,
                        session: &mut session,
                        out: &mut output,
                        now,
                    };
                    let flow = dispatch(&mut ctx, &args);
                    if output.len() > limits.output_buffer {
                        return Ending::OutputBufferLimit;
                    }
                    if flow == Flow::Close {
                        ending = Some(if client.is_killed() {
                            Ending::Killed
                        } else {
                            Ending::Quit
                        });
                        break;
                    }
                }
                Ok(false) => break,
                Err(error) => {
                    node.stats.protocol_errors.fetch_add(1, Ordering::Relaxed);
                    ReplyWriter::new(&mut output, session.protocol).error(&format!("ERR {error}"));
                    ending = Some(Ending::ProtocolError);
                    break;
                }
            }
        }
        args.clear();
        if session.processed > 0 {
            node.stats
                .commands_processed
                .fetch_add(std::mem::take(&mut session.processed), Ordering::Relaxed);
            node.stats
                .keyspace_hits
                .fetch_add(std::mem::take(&mut session.hits), Ordering::Relaxed);
            node.stats
                .keyspace_misses
                .fetch_add(std::mem::take(&mut session.misses), Ordering::Relaxed);
            client.touch();
        }
        client.query_buffer.store(input.len(), Ordering::Relaxed);
        client.output_buffer.store(output.len(), Ordering::Relaxed);
        if ending.is_none() && eof {
            ending = Some(Ending::ClientClosed);
        }
        if ending.is_none() && input.len() >= limits.query_buffer {
            ending = Some(Ending::QueryBufferLimit);
        }
        if let Some(ending) = ending {
            if !output.is_empty() {
                let _ = tokio::time::timeout(FINAL_FLUSH, stream.write_all(&output)).await;
                node.stats
                    .net_output_bytes
                    .fetch_add(output.len() as u64, Ordering::Relaxed);
            }
            return ending;
        }
        if client.is_killed() {
            return Ending::Killed;
        }

        if node.is_shutting_down() {
            // Stopping: answer what the client already sent (it sits in the socket buffer,
            // so reads return at once), then close. New input that takes longer than
            // DRAIN_WAIT to arrive was sent after the stop and is not waited for.
            if tokio::time::timeout(FINAL_FLUSH, stream.write_all(&output))
                .await
                .is_err()
            {
                return Ending::Shutdown;
            }
            node.stats
                .net_output_bytes
                .fetch_add(output.len() as u64, Ordering::Relaxed);
            output.clear();
            prepare_read_buffer(&mut input, &decoder, limits.query_buffer);
            match tokio::time::timeout(DRAIN_WAIT, stream.read_buf(&mut input)).await {
                Ok(Ok(n)) if n > 0 => {
                    node.stats
                        .net_input_bytes
                        .fetch_add(n as u64, Ordering::Relaxed);
                    continue;
                }
                _ => return Ending::Shutdown,
            }
        }

        limits = ConnectionLimits::current(node);
        decoder.set_limits(limits.decoder);
        prepare_read_buffer(&mut input, &decoder, limits.query_buffer);
        if output.is_empty() && output.capacity() > SHRINK_ABOVE {
            output = BytesMut::with_capacity(READ_CHUNK);
        }
        // Write the replies now if the socket takes them, as Redis does before it waits
        // again: a request then costs one turn of this loop, not one to read and one to
        // write (at pipeline depth 1 the extra turn, with its wakers, was the difference
        // between the node and redis-server in a perf profile).
        match write_now(stream, &mut output) {
            Ok(n) => {
                node.stats
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
        tokio::select! {
            biased;
            () = client.killed() => return Ending::Killed,
            _ = shutdown.changed() => {}
            written = writer.write_buf(&mut output), if !output.is_empty() => match written {
                Ok(0) => return Ending::ClientClosed,
                Ok(n) => {
                    node.stats.net_output_bytes.fetch_add(n as u64, Ordering::Relaxed);
                }
                Err(e) => return Ending::Io(e),
            },
            read = reader.read_buf(&mut input), if !eof => match read {
                // The client closed its side: answer what it sent, then end.
                Ok(0) => eof = true,
                Ok(n) => {
                    node.stats.net_input_bytes.fetch_add(n as u64, Ordering::Relaxed);
                }
                Err(e) => return Ending::Io(e),
            },
            () = idle => return Ending::Idle,
        }
    }
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

/// Refuses a connection over `maxclients` with Redis's error.
pub async fn refuse(mut stream: TcpStream, addr: SocketAddr) {
    tracing::warn!(%addr, "refusing connection: max number of clients reached");
    let _ = tokio::time::timeout(
        Duration::from_secs(1),
        stream.write_all(b"-ERR max number of clients reached\r\n"),
    )
    .await;
}
