//! One multiplexed, pipelined connection to a node.
//!
//! Any number of tasks send requests over one socket; a single I/O task writes them in order
//! and matches replies to requests in the same order (RESP replies come back in request order).
//! A request that times out keeps its place in the queue: its reply, when it comes, is read
//! and dropped, so later replies still match. When the socket fails every waiting request gets
//! an I/O error and the connection reports itself dead; the node layer reconnects.
//!
//! Deadlines are kept by the I/O task with one timer for the whole queue, armed at the
//! earliest pending deadline and moved only when it fires, rather than one timer per request:
//! registering and clearing a timer per request took about 8 % of the proxy's CPU at pipeline
//! depth 16 (perf, `redis-benchmark -P 16 -t get` through the proxy).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use cachering_proto::{Protocol, ReplyWriter};
use redis_protocol::resp2::decode::decode_bytes_mut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::error::{Error, ErrorKind, Result};
use crate::reply::Reply;

/// Requests queued per connection before senders wait.
const QUEUE_DEPTH: usize = 4096;
/// Stop taking new requests while this much is waiting to be written.
const MAX_UNWRITTEN: usize = 1 << 20;
const READ_CHUNK: usize = 16 * 1024;

/// Encodes one command as a RESP array of bulk strings.
///
/// Through the node's reply writer, whose arrays of bulk strings are the same bytes:
/// `redis-protocol`'s encoder sizes every length's digits with floating-point logarithms,
/// about 1.5 % of a proxy's CPU serving SET at depth 1 (perf).
pub fn encode_command<A: AsRef<[u8]>>(args: &[A], out: &mut BytesMut) {
    let mut writer = ReplyWriter::new(out, Protocol::Resp2);
    writer.array(args.len());
    for arg in args {
        writer.bulk(arg.as_ref());
    }
}

/// Encodes one command into its own buffer.
pub fn command(args: &[&[u8]]) -> Bytes {
    let mut out = BytesMut::new();
    encode_command(args, &mut out);
    out.freeze()
}

type Done = oneshot::Sender<Result<Vec<Reply>>>;

/// What a request sends.
enum Payload {
    /// Commands, encoded.
    Encoded(Bytes),
    /// A version check of one key: checks queued together go as one `VVER key key …`, and
    /// each gets its element of the reply.
    Check(Bytes),
}

struct Request {
    payload: Payload,
    replies: usize,
    deadline: Instant,
    done: Done,
}

struct Waiting {
    expected: usize,
    received: Vec<Reply>,
    deadline: Instant,
    /// `None` once the requester was told it timed out: the reply is read and dropped.
    done: Option<Done>,
    /// For coalesced checks: who gets each element of the one reply.
    split: Vec<Option<Done>>,
}

impl Waiting {
    fn one(expected: usize, deadline: Instant, done: Done) -> Self {
        Self {
            expected,
            received: Vec::with_capacity(expected),
            deadline,
            done: Some(done),
            split: Vec::new(),
        }
    }

    /// Whether someone still waits for this reply.
    fn wanted(&self) -> bool {
        self.done.is_some() || self.split.iter().any(Option::is_some)
    }

    /// Tells every waiter `error`.
    fn fail(&mut self, error: &Error) {
        if let Some(done) = self.done.take() {
            let _ = done.send(Err(error.clone()));
        }
        for done in self.split.iter_mut().filter_map(Option::take) {
            let _ = done.send(Err(error.clone()));
        }
    }

    /// Hands the replies to the waiter, or each element of a check's reply to its waiter.
    fn finish(self) {
        let Waiting {
            received,
            done,
            split,
            ..
        } = self;
        if let Some(done) = done {
            let _ = done.send(Ok(received));
            return;
        }
        let reply = received.into_iter().next().unwrap_or(Reply::Nil);
        match reply {
            Reply::Array(items) if items.len() == split.len() => {
                for (item, done) in items.into_iter().zip(split) {
                    if let Some(done) = done {
                        let _ = done.send(Ok(vec![item]));
                    }
                }
            }
            other => {
                for done in split.into_iter().flatten() {
                    let _ = done.send(Ok(vec![other.clone()]));
                }
            }
        }
    }
}

/// Checks taken from the queue and not yet encoded.
#[derive(Default)]
struct Checks {
    keys: Vec<Bytes>,
    waiting: Vec<Option<Done>>,
    deadline: Option<Instant>,
}

impl Checks {
    fn add(&mut self, key: Bytes, deadline: Instant, done: Done) {
        self.keys.push(key);
        self.waiting.push(Some(done));
        self.deadline = Some(self.deadline.map_or(deadline, |d| d.min(deadline)));
    }

    /// Encodes the checks as one `VVER` and queues its waiter.
    fn flush(&mut self, unwritten: &mut BytesMut, waiting: &mut VecDeque<Waiting>) {
        let Some(deadline) = self.deadline.take() else {
            return;
        };
        let mut args: Vec<&[u8]> = Vec::with_capacity(self.keys.len() + 1);
        args.push(b"VVER");
        args.extend(self.keys.iter().map(|k| k.as_ref()));
        encode_command(&args, unwritten);
        self.keys.clear();
        waiting.push_back(Waiting {
            expected: 1,
            received: Vec::with_capacity(1),
            deadline,
            done: None,
            split: std::mem::take(&mut self.waiting),
        });
    }
}

/// Takes one request into the write buffer (checks are held until [`Checks::flush`]).
fn take(
    request: Request,
    unwritten: &mut BytesMut,
    waiting: &mut VecDeque<Waiting>,
    checks: &mut Checks,
) {
    match request.payload {
        Payload::Encoded(bytes) => {
            // Keep the order: checks queued before this go before it.
            checks.flush(unwritten, waiting);
            unwritten.extend_from_slice(&bytes);
            waiting.push_back(Waiting::one(
                request.replies,
                request.deadline,
                request.done,
            ));
        }
        Payload::Check(key) => checks.add(key, request.deadline, request.done),
    }
}

fn timed_out() -> Error {
    Error::new(ErrorKind::Timeout, "no reply before the deadline")
}

/// A handle on a connection; cheap to clone.
#[derive(Clone)]
pub struct Connection {
    requests: mpsc::Sender<Request>,
    alive: Arc<AtomicBool>,
    abort: Arc<tokio::sync::Notify>,
}

impl Connection {
    /// Resolves `addr` (`host:port`, looked up again on every connect so a DNS change is
    /// followed) and connects within `timeout`.
    pub async fn connect(addr: &str, timeout: Duration) -> Result<Self> {
        let connect = async {
            let mut last = None;
            for peer in tokio::net::lookup_host(addr).await? {
                match TcpStream::connect(peer).await {
                    Ok(stream) => return Ok(stream),
                    Err(e) => last = Some(e),
                }
            }
            Err(last
                .unwrap_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no address")))
        };
        let stream = match tokio::time::timeout(timeout, connect).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => return Err(Error::io(format!("connect {addr}"), e)),
            Err(_) => {
                return Err(Error::new(
                    ErrorKind::Timeout,
                    format!("connect {addr}: timed out"),
                ))
            }
        };
        let _ = stream.set_nodelay(true);
        let (requests, queue) = mpsc::channel(QUEUE_DEPTH);
        let alive = Arc::new(AtomicBool::new(true));
        let abort = Arc::new(tokio::sync::Notify::new());
        tokio::spawn(run(stream, queue, Arc::clone(&alive), Arc::clone(&abort)));
        Ok(Self {
            requests,
            alive,
            abort,
        })
    }

    /// Connects to `addr` and makes the handshake every node connection makes: AUTH with
    /// `password` when there is one, then `INFO server`, each within `request_timeout`.
    /// Returns the connection and the INFO text (`None` if the node answered something else).
    pub async fn open(
        addr: &str,
        connect_timeout: Duration,
        request_timeout: Duration,
        password: Option<&str>,
    ) -> Result<(Self, Option<Bytes>)> {
        let connection = Self::connect(addr, connect_timeout).await?;
        let step = |args: &[&[u8]], what: &'static str| {
            let sent = connection.send(command(args), 1, Instant::now() + request_timeout);
            async move {
                sent.await.map_err(|e| {
                    if e.is_timeout() {
                        Error::new(ErrorKind::Timeout, format!("{what} timed out"))
                    } else {
                        e
                    }
                })
            }
        };
        if let Some(password) = password {
            let auth = step(&[b"AUTH", password.as_bytes()], "AUTH").await?;
            if let Some(Reply::Error(text)) = auth.first() {
                return Err(Error::new(
                    ErrorKind::Config,
                    format!(
                        "the node refused the password: {}",
                        String::from_utf8_lossy(text)
                    ),
                ));
            }
        }
        let info = match step(&[b"INFO", b"server"], "INFO server").await?.pop() {
            Some(Reply::Bulk(text)) => Some(text),
            _ => None,
        };
        Ok((connection, info))
    }

    /// Closes the connection at once with a reset, discarding what is not yet sent: writes
    /// queued behind a node that stopped answering must not reach it minutes later, after the
    /// tombstones of the deletes that replaced them are gone.
    pub fn abort(&self) {
        self.abort.notify_one();
    }

    /// Whether the socket is still up.
    pub fn is_alive(&self) -> bool {
        self.alive.load(Ordering::Acquire)
    }

    /// Sends pre-encoded commands and waits for their `replies` replies, failing with
    /// [`ErrorKind::Timeout`] if they are not all in by `deadline`.
    pub async fn send(
        &self,
        bytes: Bytes,
        replies: usize,
        deadline: Instant,
    ) -> Result<Vec<Reply>> {
        self.submit(Payload::Encoded(bytes), replies, deadline)
            .await
    }

    /// Asks for the version of `key` (the reply: one `VVER` element). Checks sent together
    /// travel as one command.
    pub async fn check(&self, key: Bytes, deadline: Instant) -> Result<Vec<Reply>> {
        self.submit(Payload::Check(key), 1, deadline).await
    }

    async fn submit(
        &self,
        payload: Payload,
        replies: usize,
        deadline: Instant,
    ) -> Result<Vec<Reply>> {
        let closed = || Error::new(ErrorKind::Io, "connection closed");
        let (done, wait) = oneshot::channel();
        let request = Request {
            payload,
            replies,
            deadline,
            done,
        };
        match self.requests.try_send(request) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Closed(_)) => return Err(closed()),
            // The queue is full (the node is slow to read): wait for room, up to the deadline.
            Err(mpsc::error::TrySendError::Full(request)) => {
                // Boxed: the rare path, kept out of every request's future.
                let wait = Box::pin(tokio::time::timeout_at(
                    deadline,
                    self.requests.send(request),
                ));
                match wait.await {
                    Ok(Ok(())) => {}
                    Ok(Err(_)) => return Err(closed()),
                    Err(_) => return Err(timed_out()),
                }
            }
        }
        wait.await.map_err(|_| closed())?
    }
}

async fn run(
    stream: TcpStream,
    mut queue: mpsc::Receiver<Request>,
    alive: Arc<AtomicBool>,
    abort: Arc<tokio::sync::Notify>,
) {
    let (mut reader, mut writer) = stream.into_split();
    let mut waiting: VecDeque<Waiting> = VecDeque::new();
    let mut unwritten = BytesMut::new();
    let mut input = BytesMut::with_capacity(READ_CHUNK);
    // One timer for every pending deadline (see the module docs).
    let timer = tokio::time::sleep(Duration::ZERO);
    tokio::pin!(timer);
    let mut armed: Option<Instant> = None;
    let mut checks = Checks::default();
    let failure: Error = loop {
        if armed.is_none() {
            if let Some(front) = waiting.iter().find(|w| w.wanted()) {
                armed = Some(front.deadline);
                timer.as_mut().reset(front.deadline);
            }
        }
        tokio::select! {
            () = abort.notified() => {
                // A reset, not a FIN: the kernel drops what it has not sent.
                let _ = writer.as_ref().set_zero_linger();
                break Error::new(ErrorKind::Io, "connection aborted: the node was ejected");
            },
            () = &mut timer, if armed.is_some() => {
                let now = Instant::now();
                let error = timed_out();
                for waiter in waiting.iter_mut().filter(|w| w.deadline <= now) {
                    waiter.fail(&error);
                }
                armed = None;
            },
            read = reader.read_buf(&mut input) => match read {
                Ok(0) => break Error::new(ErrorKind::Io, "connection closed by the node"),
                Ok(_) => {
                    if let Err(e) = deliver(&mut input, &mut waiting) {
                        break Error::new(ErrorKind::Protocol, e);
                    }
                }
                Err(e) => break Error::io("read", e),
            },
            written = writer.write_buf(&mut unwritten), if !unwritten.is_empty() => {
                if let Err(e) = written {
                    break Error::io("write", e);
                }
            },
            request = queue.recv(), if unwritten.len() < MAX_UNWRITTEN => match request {
                Some(request) => {
                    take(request, &mut unwritten, &mut waiting, &mut checks);
                    // Take whatever else is queued, so a burst goes out in one write (and its
                    // checks in one command).
                    while unwritten.len() < MAX_UNWRITTEN {
                        match queue.try_recv() {
                            Ok(request) => take(request, &mut unwritten, &mut waiting, &mut checks),
                            Err(_) => break,
                        }
                    }
                    checks.flush(&mut unwritten, &mut waiting);
                    // Write now if the socket takes it, rather than on the next turn.
                    match writer.try_write(&unwritten) {
                        Ok(n) => unwritten.advance(n),
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                        Err(e) => break Error::io("write", e),
                    }
                }
                // Every handle is gone: finish nothing more.
                None => break Error::new(ErrorKind::Io, "client dropped the connection"),
            },
        }
    };
    alive.store(false, Ordering::Release);
    queue.close();
    let error = failure;
    for mut waiter in waiting.drain(..) {
        waiter.fail(&error);
    }
    for done in checks.waiting.drain(..).flatten() {
        let _ = done.send(Err(error.clone()));
    }
    while let Ok(request) = queue.try_recv() {
        let _ = request.done.send(Err(error.clone()));
    }
}

/// Decodes every complete reply in `input` the way a connection does (for the fuzz target:
/// any byte stream from a node must give replies or an error, never a panic).
#[doc(hidden)]
pub fn decode_replies(input: &mut BytesMut) -> std::result::Result<Vec<Reply>, String> {
    let mut replies = Vec::new();
    loop {
        match decode_bytes_mut(input) {
            Ok(Some((frame, _, _))) => replies.push(Reply::from_frame(frame)),
            Ok(None) => return Ok(replies),
            Err(e) => return Err(format!("invalid reply from the node: {e:?}")),
        }
    }
}

/// Hands every complete reply in `input` to the request waiting for it.
fn deliver(
    input: &mut BytesMut,
    waiting: &mut VecDeque<Waiting>,
) -> std::result::Result<(), String> {
    loop {
        let frame = match decode_bytes_mut(input) {
            Ok(Some((frame, _, _))) => frame,
            Ok(None) => return Ok(()),
            Err(e) => return Err(format!("invalid reply from the node: {e:?}")),
        };
        let Some(front) = waiting.front_mut() else {
            return Err("a reply arrived that no request was waiting for".to_string());
        };
        front.received.push(Reply::from_frame(frame));
        if front.received.len() == front.expected {
            // A requester told it timed out, or gone, has its reply dropped here.
            waiting.pop_front().expect("front exists").finish();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_arrays_of_bulk_strings() {
        let mut out = BytesMut::new();
        encode_command(&[&b"SET"[..], b"k\r\n", b""], &mut out);
        assert_eq!(&out[..], b"*3\r\n$3\r\nSET\r\n$3\r\nk\r\n\r\n$0\r\n\r\n");
        let long = vec![b'x'; 12_345];
        assert_eq!(&command(&[b"GET", &long])[..16], b"*2\r\n$3\r\nGET\r\n$12");
    }
}
