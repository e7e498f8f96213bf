//! One client connection to the proxy: the node's decoder and limits, commands answered in
//! order (each awaits its nodes), one write per batch of pipelined requests.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use cachering_proto::{Limits, ReplyWriter, RequestDecoder};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::dispatch::{dispatch, Flow, Session};
use crate::state::ProxyState;

const READ_CHUNK: usize = 16 * 1024;
const FINAL_FLUSH: Duration = Duration::from_secs(5);

/// Serves one accepted connection until it ends.
pub async fn serve(mut stream: TcpStream, state: Arc<ProxyState>) {
    let _ = stream.set_nodelay(true);
    state.connected.fetch_add(1, Ordering::Relaxed);
    run(&mut stream, &state).await;
    state.connected.fetch_sub(1, Ordering::Relaxed);
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
        loop {
            decoder.set_authenticated(session.authenticated);
            args.clear();
            match decoder.decode(&mut input, &mut args) {
                Ok(true) => {
                    if dispatch(state, &mut session, &mut output, &args).await == Flow::Close {
                        close = true;
                        break;
                    }
                    if output.len() > output_limit {
                        tracing::warn!(
                            client = session.id,
                            "closing client whose pending replies exceeded the output buffer limit"
                        );
                        return;
                    }
                }
                Ok(false) => break,
                Err(error) => {
                    ReplyWriter::new(&mut output, session.protocol).error(&format!("ERR {error}"));
                    close = true;
                    break;
                }
            }
        }
        args.clear();
        if close || eof || *state.shutdown.borrow() || input.len() >= query_limit {
            let _ = tokio::time::timeout(FINAL_FLUSH, stream.write_all(&output)).await;
            return;
        }
        let wanted = decoder.bytes_wanted().unwrap_or(0).min(query_limit);
        let additional = wanted.saturating_sub(input.len()).max(READ_CHUNK);
        if input.capacity() - input.len() < additional {
            input.reserve(additional);
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
