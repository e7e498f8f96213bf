//! The request decoder: RESP arrays of bulk strings and inline commands.
//!
//! It never recurses, never trusts a declared length beyond [`Limits`], and resumes where it
//! stopped: a 2 MiB `MSET` arriving in 16 KiB reads is scanned once, not once per read.
//! Errors carry Redis's wording so that a client sees the text it knows.

use std::ops::Range;

use bytes::{Bytes, BytesMut};
use thiserror::Error;

use crate::inline::split_inline_args;

/// Redis's `proto-max-bulk-len` default: 512 MiB.
pub const DEFAULT_MAX_BULK_LEN: usize = 512 * 1024 * 1024;
/// Most arguments one request may declare (Redis 6 and earlier used the same 1M cap; a request
/// that declares more is an attack or a bug, and preallocating for it would be one too).
pub const DEFAULT_MAX_ARGS: usize = 1024 * 1024;
/// Redis's `PROTO_INLINE_MAX_SIZE`: longest inline line, and longest `*`/`$` header line.
pub const DEFAULT_MAX_INLINE: usize = 64 * 1024;
/// Redis's limits for a client that has not authenticated yet on a server with a password:
/// a stranger may not make the server buffer more than a few kilobytes.
const UNAUTHENTICATED_MAX_ARGS: usize = 10;
const UNAUTHENTICATED_MAX_BULK_LEN: usize = 16384;
/// Never preallocate room for more than this many arguments on the word of a header.
const MAX_PREALLOCATED_ARGS: usize = 1024;

/// Bounds the decoder enforces. The defaults are Redis's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Largest bulk string accepted. Default: 512 MiB.
    pub max_bulk_len: usize,
    /// Most arguments in one request. Default: 1,048,576.
    pub max_args: usize,
    /// Longest inline request or header line. Default: 64 KiB.
    pub max_inline: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_bulk_len: DEFAULT_MAX_BULK_LEN,
            max_args: DEFAULT_MAX_ARGS,
            max_inline: DEFAULT_MAX_INLINE,
        }
    }
}

impl Limits {
    /// Limits with a different `max_bulk_len`.
    pub fn with_max_bulk_len(mut self, max_bulk_len: usize) -> Self {
        self.max_bulk_len = max_bulk_len;
        self
    }
}

/// A request the decoder refuses. The connection answers `-ERR <Display>` and closes, as
/// Redis does, because the stream can no longer be framed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// A `*` header that is not a number or is too large.
    #[error("Protocol error: invalid multibulk length")]
    InvalidMultibulkLength,
    /// A `$` header that is not a number, negative, or over `max_bulk_len`.
    #[error("Protocol error: invalid bulk length")]
    InvalidBulkLength,
    /// Something other than `$` where a bulk string must start.
    #[error("Protocol error: expected '$', got '{}'", char::from(*.0))]
    ExpectedBulk(u8),
    /// A `*` header line longer than `max_inline` without its end.
    #[error("Protocol error: too big mbulk count string")]
    TooBigMultibulkCount,
    /// A `$` header line longer than `max_inline` without its end.
    #[error("Protocol error: too big bulk count string")]
    TooBigBulkCount,
    /// An inline request longer than `max_inline`.
    #[error("Protocol error: too big inline request")]
    TooBigInline,
    /// An inline request with an unterminated quote.
    #[error("Protocol error: unbalanced quotes in request")]
    UnbalancedQuotes,
    /// Too many arguments before authentication.
    #[error("Protocol error: unauthenticated multibulk length")]
    UnauthenticatedMultibulkLength,
    /// Too large an argument before authentication.
    #[error("Protocol error: unauthenticated bulk length")]
    UnauthenticatedBulkLength,
}

#[derive(Debug, Default)]
enum State {
    /// At the start of a request.
    #[default]
    Idle,
    /// Inside a multibulk request: how many arguments are still expected, where the next
    /// header starts (offset from the request's first byte), and the length of a bulk whose
    /// header was read but whose payload has not fully arrived.
    Multibulk {
        remaining: usize,
        pos: usize,
        pending_bulk: Option<usize>,
    },
}

/// A resumable decoder for requests read from one connection.
///
/// Feed it the connection's read buffer; each call to [`decode`](Self::decode) takes at most
/// one complete request off the front of the buffer.
///
/// ```
/// use bytes::BytesMut;
/// use cachering_proto::{Limits, RequestDecoder};
///
/// let mut decoder = RequestDecoder::new(Limits::default());
/// let mut buf = BytesMut::from(&b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\nPING\r\n"[..]);
/// let mut args = Vec::new();
/// assert!(decoder.decode(&mut buf, &mut args).unwrap());
/// assert_eq!(args, vec!["GET", "k"]);
/// args.clear();
/// assert!(decoder.decode(&mut buf, &mut args).unwrap());
/// assert_eq!(args, vec!["PING"]);
/// assert!(!decoder.decode(&mut buf, &mut args).unwrap());
/// ```
#[derive(Debug)]
pub struct RequestDecoder {
    limits: Limits,
    authenticated: bool,
    state: State,
    /// Byte ranges, within the request, of the arguments decoded so far.
    ranges: Vec<Range<usize>>,
}

impl RequestDecoder {
    /// A decoder for an authenticated client (no password, or already authenticated).
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            authenticated: true,
            state: State::Idle,
            ranges: Vec::new(),
        }
    }

    /// Changes the limits; takes effect from the next request header.
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// Before authentication Redis caps requests at 10 arguments of 16 KiB: a stranger may
    /// not make the server buffer more.
    pub fn set_authenticated(&mut self, authenticated: bool) {
        self.authenticated = authenticated;
    }

    /// How many bytes the buffer must hold before the request in progress can complete, when
    /// the decoder knows (it is waiting for a bulk payload). Lets the caller reserve once.
    pub fn bytes_wanted(&self) -> Option<usize> {
        match self.state {
            State::Multibulk {
                pos,
                pending_bulk: Some(len),
                ..
            } => Some(pos + len + 2),
            _ => None,
        }
    }

    /// Takes one complete request off the front of `buf` and appends its arguments to `args`.
    ///
    /// Returns `Ok(true)` when `args` holds a request, `Ok(false)` when more bytes are needed
    /// (nothing is consumed then, and the work done so far is kept). Empty inline lines and
    /// empty arrays are skipped, as Redis does. After an error the stream cannot be framed;
    /// the caller should reply and close.
    pub fn decode(
        &mut self,
        buf: &mut BytesMut,
        args: &mut Vec<Bytes>,
    ) -> Result<bool, DecodeError> {
        loop {
            if let State::Idle = self.state {
                match buf.first() {
                    None => return Ok(false),
                    Some(b'*') => {
                        let Some((count, header_len)) = self.read_header(buf, 0)? else {
                            return Ok(false);
                        };
                        let count = self.multibulk_count(count)?;
                        if count == 0 {
                            let _ = buf.split_to(header_len);
                            continue;
                        }
                        self.ranges.clear();
                        self.ranges.reserve(count.min(MAX_PREALLOCATED_ARGS));
                        self.state = State::Multibulk {
                            remaining: count,
                            pos: header_len,
                            pending_bulk: None,
                        };
                    }
                    Some(_) => match self.decode_inline(buf, args)? {
                        InlineOutcome::Request => return Ok(true),
                        InlineOutcome::Empty => continue,
                        InlineOutcome::Incomplete => return Ok(false),
                    },
                }
            }
            return self.decode_multibulk(buf, args);
        }
    }

    fn multibulk_count(&self, count: i64) -> Result<usize, DecodeError> {
        if count <= 0 {
            return Ok(0);
        }
        let count = usize::try_from(count).map_err(|_| DecodeError::InvalidMultibulkLength)?;
        if count > self.limits.max_args {
            return Err(DecodeError::InvalidMultibulkLength);
        }
        if !self.authenticated && count > UNAUTHENTICATED_MAX_ARGS {
            return Err(DecodeError::UnauthenticatedMultibulkLength);
        }
        Ok(count)
    }

    fn decode_multibulk(
        &mut self,
        buf: &mut BytesMut,
        args: &mut Vec<Bytes>,
    ) -> Result<bool, DecodeError> {
        let State::Multibulk {
            mut remaining,
            mut pos,
            mut pending_bulk,
        } = self.state
        else {
            unreachable!("decode_multibulk is called only inside a multibulk request");
        };
        let result = loop {
            if remaining == 0 {
                break Ok(true);
            }
            let len = match pending_bulk {
                Some(len) => len,
                None => {
                    match buf.get(pos) {
                        None => break Ok(false),
                        Some(b'$') => {}
                        Some(&other) => break Err(DecodeError::ExpectedBulk(other)),
                    }
                    let header = match self.read_header(buf, pos) {
                        Ok(Some(header)) => header,
                        Ok(None) => break Ok(false),
                        Err(e) => break Err(e),
                    };
                    let (len, header_len) = header;
                    let len = match self.bulk_len(len) {
                        Ok(len) => len,
                        Err(e) => break Err(e),
                    };
                    pos += header_len;
                    pending_bulk = Some(len);
                    len
                }
            };
            if buf.len() < pos + len + 2 {
                break Ok(false);
            }
            // Redis does not check the two bytes after a bulk payload; neither do we.
            self.ranges.push(pos..pos + len);
            pos += len + 2;
            pending_bulk = None;
            remaining -= 1;
        };
        match result {
            Ok(true) => {
                let request = buf.split_to(pos).freeze();
                args.extend(self.ranges.drain(..).map(|range| request.slice(range)));
                self.state = State::Idle;
                Ok(true)
            }
            Ok(false) => {
                self.state = State::Multibulk {
                    remaining,
                    pos,
                    pending_bulk,
                };
                Ok(false)
            }
            Err(e) => {
                self.state = State::Idle;
                Err(e)
            }
        }
    }

    fn bulk_len(&self, len: i64) -> Result<usize, DecodeError> {
        let len = usize::try_from(len).map_err(|_| DecodeError::InvalidBulkLength)?;
        if len > self.limits.max_bulk_len {
            return Err(DecodeError::InvalidBulkLength);
        }
        if !self.authenticated && len > UNAUTHENTICATED_MAX_BULK_LEN {
            return Err(DecodeError::UnauthenticatedBulkLength);
        }
        Ok(len)
    }

    /// Reads a `*N\r\n` or `$N\r\n` line at `at`: the number and the line's length.
    fn read_header(&self, buf: &[u8], at: usize) -> Result<Option<(i64, usize)>, DecodeError> {
        let kind = buf[at];
        let search_end = buf.len().min(at + self.limits.max_inline + 1);
        let Some(cr) = memchr_cr(&buf[at..search_end]) else {
            if buf.len() - at > self.limits.max_inline {
                return Err(if kind == b'*' {
                    DecodeError::TooBigMultibulkCount
                } else {
                    DecodeError::TooBigBulkCount
                });
            }
            return Ok(None);
        };
        // The line ends at '\r'; the '\n' after it must have arrived too.
        if at + cr + 1 >= buf.len() {
            return Ok(None);
        }
        let digits = &buf[at + 1..at + cr];
        let invalid = if kind == b'*' {
            DecodeError::InvalidMultibulkLength
        } else {
            DecodeError::InvalidBulkLength
        };
        let value = parse_i64(digits).ok_or(invalid)?;
        Ok(Some((value, cr + 2)))
    }

    fn decode_inline(
        &mut self,
        buf: &mut BytesMut,
        args: &mut Vec<Bytes>,
    ) -> Result<InlineOutcome, DecodeError> {
        let search_end = buf.len().min(self.limits.max_inline + 1);
        let Some(newline) = buf[..search_end].iter().position(|&b| b == b'\n') else {
            if buf.len() > self.limits.max_inline {
                return Err(DecodeError::TooBigInline);
            }
            return Ok(InlineOutcome::Incomplete);
        };
        let line = buf.split_to(newline + 1).freeze();
        let mut text = &line[..newline];
        if let Some(stripped) = text.strip_suffix(b"\r") {
            text = stripped;
        }
        let before = args.len();
        split_inline_args(text, &line, args)?;
        if args.len() == before {
            Ok(InlineOutcome::Empty)
        } else {
            Ok(InlineOutcome::Request)
        }
    }
}

enum InlineOutcome {
    Request,
    Empty,
    Incomplete,
}

fn memchr_cr(haystack: &[u8]) -> Option<usize> {
    haystack.iter().position(|&b| b == b'\r')
}

/// Parses a decimal integer the way Redis's `string2ll` does: optional '-', digits, no
/// spaces, no '+', no leading zeros except "0" itself. Commands use it for every integer
/// argument and for INCR's stored value, so "not an integer" means the same thing everywhere.
pub fn parse_i64(digits: &[u8]) -> Option<i64> {
    let (negative, rest) = match digits.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, digits),
    };
    if rest.is_empty() || rest.len() > 19 || (rest.len() > 1 && rest[0] == b'0') {
        return None;
    }
    let mut value: i64 = 0;
    for &digit in rest {
        if !digit.is_ascii_digit() {
            return None;
        }
        let d = i64::from(digit - b'0');
        value = if negative {
            value.checked_mul(10)?.checked_sub(d)?
        } else {
            value.checked_mul(10)?.checked_add(d)?
        };
    }
    if negative && value == 0 {
        return None;
    }
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn decode_all(input: &[u8]) -> Result<Vec<Vec<Bytes>>, DecodeError> {
        let mut decoder = RequestDecoder::new(Limits::default());
        let mut buf = BytesMut::from(input);
        let mut out = Vec::new();
        loop {
            let mut args = Vec::new();
            if !decoder.decode(&mut buf, &mut args)? {
                return Ok(out);
            }
            out.push(args);
        }
    }

    #[test]
    fn decodes_multibulk_and_inline_requests() {
        let requests =
            decode_all(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\nPING\r\n  get  \"a b\"\n")
                .unwrap();
        assert_eq!(
            requests,
            vec![vec!["SET", "k", ""], vec!["PING"], vec!["get", "a b"]]
        );
    }

    #[test]
    fn skips_empty_arrays_and_blank_lines() {
        let requests = decode_all(b"*0\r\n*-1\r\n\r\n\n*1\r\n$4\r\nPING\r\n").unwrap();
        assert_eq!(requests, vec![vec!["PING"]]);
    }

    #[test]
    fn rejects_lengths_with_redis_wording() {
        let cases: &[(&[u8], &str)] = &[
            (b"*abc\r\n", "Protocol error: invalid multibulk length"),
            (
                b"*99999999999\r\n",
                "Protocol error: invalid multibulk length",
            ),
            (b"*1\r\n$-1\r\n", "Protocol error: invalid bulk length"),
            (b"*1\r\n$x\r\n", "Protocol error: invalid bulk length"),
            (
                b"*1\r\n$999999999999\r\n",
                "Protocol error: invalid bulk length",
            ),
            (b"*1\r\n*1\r\n", "Protocol error: expected '$', got '*'"),
            (
                b"*2\r\n$1\r\na\r\n:1\r\n",
                "Protocol error: expected '$', got ':'",
            ),
            (
                b"set \"a\r\n",
                "Protocol error: unbalanced quotes in request",
            ),
        ];
        for (input, wording) in cases {
            let err = decode_all(input).unwrap_err();
            assert_eq!(
                err.to_string(),
                *wording,
                "input {:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn bounds_header_and_inline_lines() {
        let long = vec![b'a'; DEFAULT_MAX_INLINE + 1];
        assert_eq!(decode_all(&long).unwrap_err(), DecodeError::TooBigInline);
        let mut header = b"*".to_vec();
        header.extend(vec![b'1'; DEFAULT_MAX_INLINE + 1]);
        assert_eq!(
            decode_all(&header).unwrap_err(),
            DecodeError::TooBigMultibulkCount
        );
        let mut bulk = b"*1\r\n$".to_vec();
        bulk.extend(vec![b'1'; DEFAULT_MAX_INLINE + 1]);
        assert_eq!(decode_all(&bulk).unwrap_err(), DecodeError::TooBigBulkCount);
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let nested = b"*1\r\n".repeat(100_000);
        assert_eq!(
            decode_all(&nested).unwrap_err(),
            DecodeError::ExpectedBulk(b'*')
        );
    }

    #[test]
    fn unauthenticated_clients_get_small_limits() {
        let mut decoder = RequestDecoder::new(Limits::default());
        decoder.set_authenticated(false);
        let mut args = Vec::new();
        let mut buf = BytesMut::from(&b"*11\r\n"[..]);
        assert_eq!(
            decoder.decode(&mut buf, &mut args).unwrap_err(),
            DecodeError::UnauthenticatedMultibulkLength
        );
        let mut buf = BytesMut::from(&b"*1\r\n$16385\r\n"[..]);
        assert_eq!(
            decoder.decode(&mut buf, &mut args).unwrap_err(),
            DecodeError::UnauthenticatedBulkLength
        );
    }

    #[test]
    fn resumes_a_large_bulk_without_rescanning() {
        let payload = vec![b'x'; 1 << 20];
        let mut request =
            format!("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n${}\r\n", payload.len()).into_bytes();
        request.extend_from_slice(&payload);
        request.extend_from_slice(b"\r\n");
        let mut decoder = RequestDecoder::new(Limits::default());
        let mut buf = BytesMut::new();
        let mut args = Vec::new();
        for chunk in request.chunks(16 * 1024) {
            assert!(args.is_empty());
            buf.extend_from_slice(chunk);
            if decoder.decode(&mut buf, &mut args).unwrap() {
                break;
            }
            assert!(decoder
                .bytes_wanted()
                .is_none_or(|wanted| wanted == request.len()));
        }
        assert_eq!(args.len(), 3);
        assert_eq!(args[2].len(), payload.len());
        assert!(buf.is_empty());
    }

    #[test]
    fn parse_i64_follows_string2ll() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        for bad in [
            &b""[..],
            b"-",
            b"01",
            b"+1",
            b" 1",
            b"1 ",
            b"-0",
            b"9223372036854775808",
        ] {
            assert_eq!(parse_i64(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    fn encode_request(args: &[Vec<u8>]) -> Vec<u8> {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for arg in args {
            out.extend(format!("${}\r\n", arg.len()).into_bytes());
            out.extend(arg);
            out.extend(b"\r\n");
        }
        out
    }

    proptest! {
        #[test]
        fn any_bytes_never_panic(input in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = decode_all(&input);
        }

        #[test]
        fn round_trips_in_any_chunking(
            requests in proptest::collection::vec(
                proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 1..6), 1..5),
            chunk in 1usize..64,
        ) {
            let wire: Vec<u8> = requests.iter().flat_map(|r| encode_request(r)).collect();
            let mut decoder = RequestDecoder::new(Limits::default());
            let mut buf = BytesMut::new();
            let mut decoded = Vec::new();
            let mut args = Vec::new();
            for piece in wire.chunks(chunk) {
                buf.extend_from_slice(piece);
                while decoder.decode(&mut buf, &mut args).unwrap() {
                    decoded.push(std::mem::take(&mut args).into_iter().map(|b| b.to_vec()).collect::<Vec<_>>());
                }
            }
            prop_assert_eq!(decoded, requests);
        }
    }
}
