//! Reply encoding into one output buffer per connection, in RESP2 or RESP3.
//!
//! Scalars go through `redis-protocol`'s borrowed-frame encoders, so a value read from the
//! store is written straight into the output buffer without an intermediate frame allocation;
//! bulk strings and integers, the commonest replies, are written here (see [`ReplyWriter::bulk`]).
//! Aggregate headers (`*N`, `%N`, `~N`) are written here: `redis-protocol` only encodes whole
//! frame trees, which would force every element of a `SCAN` or `MGET` reply to be collected
//! into a tree first. The header is one line whose format both protocol versions fix.

use bytes::{BufMut, BytesMut};
use redis_protocol::resp2::encode::extend_encode_borrowed as encode2;
use redis_protocol::resp2::types::BorrowedFrame as Frame2;
use redis_protocol::resp3::encode::complete::extend_encode_borrowed as encode3;
use redis_protocol::resp3::types::{BorrowedFrame as Frame3, VerbatimStringFormat};

/// The protocol version a connection speaks: RESP2 until `HELLO 3`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    /// RESP2, the default.
    #[default]
    Resp2,
    /// RESP3, after `HELLO 3`.
    Resp3,
}

/// Writes replies into an output buffer.
///
/// ```
/// use bytes::BytesMut;
/// use cachering_proto::{Protocol, ReplyWriter};
///
/// let mut out = BytesMut::new();
/// let mut reply = ReplyWriter::new(&mut out, Protocol::Resp2);
/// reply.array(2);
/// reply.bulk(b"v");
/// reply.null();
/// assert_eq!(&out[..], b"*2\r\n$1\r\nv\r\n$-1\r\n");
/// ```
#[derive(Debug)]
pub struct ReplyWriter<'a> {
    out: &'a mut BytesMut,
    protocol: Protocol,
}

// Encoding a borrowed frame into a growable buffer only fails if the frame is malformed,
// which none built here can be.
const ENCODE_INFALLIBLE: &str = "borrowed frames built here always encode";

impl<'a> ReplyWriter<'a> {
    /// A writer appending to `out`.
    pub fn new(out: &'a mut BytesMut, protocol: Protocol) -> Self {
        Self { out, protocol }
    }

    /// The protocol this writer speaks.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// Switches protocol for what is written next (HELLO replies in the version it selects).
    pub fn set_protocol(&mut self, protocol: Protocol) {
        self.protocol = protocol;
    }

    /// Bytes written so far to the underlying buffer (including earlier replies).
    pub fn len(&self) -> usize {
        self.out.len()
    }

    /// Whether the underlying buffer is empty.
    pub fn is_empty(&self) -> bool {
        self.out.is_empty()
    }

    /// `+OK`.
    pub fn ok(&mut self) {
        self.simple("OK");
    }

    /// A simple string (`+…`). The text must not hold CR or LF.
    pub fn simple(&mut self, text: &str) {
        match self.protocol {
            Protocol::Resp2 => encode2(self.out, &Frame2::SimpleString(text.as_bytes()), false),
            Protocol::Resp3 => encode3(
                self.out,
                &Frame3::SimpleString {
                    data: text.as_bytes(),
                    attributes: None,
                },
                false,
            ),
        }
        .expect(ENCODE_INFALLIBLE);
    }

    /// An error (`-CODE message`). CR and LF in the text become spaces, as Redis does, so a
    /// message quoting user input cannot break the framing.
    pub fn error(&mut self, text: &str) {
        let clean;
        let text = if text.contains(['\r', '\n']) {
            clean = text.replace(['\r', '\n'], " ");
            clean.as_str()
        } else {
            text
        };
        match self.protocol {
            Protocol::Resp2 => encode2(self.out, &Frame2::Error(text), false),
            Protocol::Resp3 => encode3(
                self.out,
                &Frame3::SimpleError {
                    data: text,
                    attributes: None,
                },
                false,
            ),
        }
        .expect(ENCODE_INFALLIBLE);
    }

    /// An integer (`:` in both protocol versions; written here as [`ReplyWriter::bulk`] is).
    pub fn int(&mut self, value: i64) {
        self.header(b':', value);
    }

    /// A bulk (blob) string (`$` in both protocol versions).
    ///
    /// Written here like the aggregate headers: `redis-protocol`'s encoder sizes the length's
    /// digits with floating-point logarithms, 2.4 % of a node's CPU serving GET at depth 16
    /// (perf); `itoa` formats them.
    pub fn bulk(&mut self, data: &[u8]) {
        self.header(b'$', data.len());
        self.out.reserve(data.len() + 2);
        self.out.put_slice(data);
        self.out.put_slice(b"\r\n");
    }

    /// The null reply: `$-1` in RESP2, `_` in RESP3.
    pub fn null(&mut self) {
        match self.protocol {
            Protocol::Resp2 => encode2(self.out, &Frame2::Null, false),
            Protocol::Resp3 => encode3(self.out, &Frame3::Null, false),
        }
        .expect(ENCODE_INFALLIBLE);
    }

    /// The null array: `*-1` in RESP2 (what `EXEC` answers for an aborted transaction), `_` in RESP3.
    pub fn null_array(&mut self) {
        match self.protocol {
            Protocol::Resp2 => self.out.put_slice(b"*-1\r\n"),
            Protocol::Resp3 => self.null(),
        }
    }

    /// A double: RESP3's `,` type, or a bulk string in RESP2, formatted as Redis formats it.
    pub fn double(&mut self, value: f64) {
        match self.protocol {
            Protocol::Resp2 => self.bulk(format_double(value).as_bytes()),
            Protocol::Resp3 => encode3(
                self.out,
                &Frame3::Double {
                    data: value,
                    attributes: None,
                },
                false,
            )
            .map(|_| ())
            .expect(ENCODE_INFALLIBLE),
        }
    }

    /// A score as Redis 7.0 replies one (ZSCORE, WITHSCORES): `%.17g` ([`format_score`]), as
    /// a RESP3 double or a RESP2 bulk string.
    pub fn score(&mut self, value: f64) {
        self.score_text(format_score(value).as_bytes());
    }

    /// A score already formatted by [`format_score`] (as a node sent it): a RESP3 double
    /// of that text, or a RESP2 bulk string.
    pub fn score_text(&mut self, text: &[u8]) {
        match self.protocol {
            Protocol::Resp2 => self.bulk(text),
            Protocol::Resp3 => {
                self.out.reserve(text.len() + 3);
                self.out.put_u8(b',');
                self.out.put_slice(text);
                self.out.put_slice(b"\r\n");
            }
        }
    }

    /// Free text such as `INFO`'s: a verbatim string (`=…txt:`) in RESP3, a bulk string in RESP2.
    pub fn verbatim(&mut self, text: &[u8]) {
        match self.protocol {
            Protocol::Resp2 => self.bulk(text),
            Protocol::Resp3 => encode3(
                self.out,
                &Frame3::VerbatimString {
                    data: text,
                    format: VerbatimStringFormat::Text,
                    attributes: None,
                },
                false,
            )
            .map(|_| ())
            .expect(ENCODE_INFALLIBLE),
        }
    }

    /// The header of an array of `len` elements; the caller writes the elements next.
    pub fn array(&mut self, len: usize) {
        self.header(b'*', len);
    }

    /// The header of a map of `len` pairs (RESP3 `%`, or an array of `2 × len` in RESP2); the
    /// caller writes key, value, key, value….
    pub fn map(&mut self, len: usize) {
        match self.protocol {
            Protocol::Resp2 => self.header(b'*', len * 2),
            Protocol::Resp3 => self.header(b'%', len),
        }
    }

    /// The header of a set of `len` elements (RESP3 `~`, an array in RESP2).
    pub fn set(&mut self, len: usize) {
        match self.protocol {
            Protocol::Resp2 => self.header(b'*', len),
            Protocol::Resp3 => self.header(b'~', len),
        }
    }

    /// A line of `kind` and a number: an aggregate's or a bulk string's length, an integer.
    fn header(&mut self, kind: u8, number: impl itoa::Integer) {
        let mut digits = itoa::Buffer::new();
        let digits = digits.format(number);
        self.out.reserve(digits.len() + 3);
        self.out.put_u8(kind);
        self.out.put_slice(digits.as_bytes());
        self.out.put_slice(b"\r\n");
    }
}

/// Formats a double the way Redis's `INCRBYFLOAT` does: up to 17 significant digits, no
/// trailing zeros, no exponent for ordinary magnitudes.
pub fn format_double(value: f64) -> String {
    if value.is_infinite() {
        return if value > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        };
    }
    if value == value.trunc() && value.abs() < 1e17 {
        return format!("{}", value as i64);
    }
    // Rust's shortest round-trip representation, in plain (non-exponent) notation.
    let text = format!("{value}");
    if text.contains('e') {
        format!("{value:.17}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
    } else {
        text
    }
}

/// Formats a score as Redis 7.0 does (C's `%.17g`: 17 significant digits, trailing zeros
/// dropped, an exponent below 1e-4 and from 1e17), so replies match Redis's byte for byte.
pub fn format_score(value: f64) -> String {
    if value.is_infinite() {
        return if value > 0.0 { "inf" } else { "-inf" }.into();
    }
    if value == 0.0 {
        return if value.is_sign_negative() { "-0" } else { "0" }.into();
    }
    // Rounded to 17 significant digits first: the exponent is the rounded one's.
    let scientific = format!("{value:.16e}");
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let trim = |text: &str| -> String {
        if text.contains('.') {
            text.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            text.to_string()
        }
    };
    if !(-4..17).contains(&exponent) {
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", trim(mantissa), exponent.abs())
    } else {
        let decimals = (16 - exponent) as usize;
        trim(&format!("{value:.decimals$}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(protocol: Protocol, f: impl FnOnce(&mut ReplyWriter<'_>)) -> String {
        let mut out = BytesMut::new();
        f(&mut ReplyWriter::new(&mut out, protocol));
        String::from_utf8(out.to_vec()).unwrap()
    }

    #[test]
    fn scores_are_formatted_as_c_formats_17g() {
        for (value, text) in [
            (1.1, "1.1000000000000001"),
            (2.0, "2"),
            (-0.0, "-0"),
            (1e20, "1e+20"),
            (0.1, "0.10000000000000001"),
            (3.0000000000000004, "3.0000000000000004"),
            (1e-5, "1.0000000000000001e-05"),
            (0.0001, "0.0001"),
            (123456789012345680.0, "1.2345678901234568e+17"),
            (12345678901234567.0, "12345678901234568"),
            (-2.5, "-2.5"),
            (f64::NEG_INFINITY, "-inf"),
            (1e300, "1.0000000000000001e+300"),
        ] {
            assert_eq!(format_score(value), text, "{value}");
        }
        assert_eq!(written(Protocol::Resp3, |r| r.score(1.5)), ",1.5\r\n");
        assert_eq!(written(Protocol::Resp2, |r| r.score(1.5)), "$3\r\n1.5\r\n");
    }

    #[test]
    fn resp2_and_resp3_scalars() {
        assert_eq!(written(Protocol::Resp2, |r| r.ok()), "+OK\r\n");
        assert_eq!(written(Protocol::Resp2, |r| r.int(-7)), ":-7\r\n");
        assert_eq!(written(Protocol::Resp3, |r| r.int(7)), ":7\r\n");
        assert_eq!(written(Protocol::Resp2, |r| r.null()), "$-1\r\n");
        assert_eq!(written(Protocol::Resp3, |r| r.null()), "_\r\n");
        assert_eq!(written(Protocol::Resp2, |r| r.bulk(b"")), "$0\r\n\r\n");
        assert_eq!(
            written(Protocol::Resp3, |r| r.bulk(&[b'x'; 1234])),
            format!("$1234\r\n{}\r\n", "x".repeat(1234))
        );
        assert_eq!(
            written(Protocol::Resp2, |r| r.int(i64::MIN)),
            ":-9223372036854775808\r\n"
        );
        assert_eq!(
            written(Protocol::Resp2, |r| r.double(10.5)),
            "$4\r\n10.5\r\n"
        );
        assert_eq!(written(Protocol::Resp3, |r| r.double(10.5)), ",10.5\r\n");
        assert_eq!(
            written(Protocol::Resp3, |r| r.verbatim(b"a")),
            "=5\r\ntxt:a\r\n"
        );
    }

    #[test]
    fn errors_cannot_break_framing() {
        assert_eq!(
            written(Protocol::Resp2, |r| r.error("ERR a\r\nb")),
            "-ERR a  b\r\n"
        );
    }

    #[test]
    fn aggregates() {
        assert_eq!(written(Protocol::Resp2, |r| r.map(2)), "*4\r\n");
        assert_eq!(written(Protocol::Resp3, |r| r.map(2)), "%2\r\n");
        assert_eq!(written(Protocol::Resp3, |r| r.set(3)), "~3\r\n");
        assert_eq!(written(Protocol::Resp2, |r| r.null_array()), "*-1\r\n");
    }

    #[test]
    fn doubles_format_like_redis() {
        assert_eq!(format_double(3.0), "3");
        assert_eq!(format_double(10.5), "10.5");
        assert_eq!(format_double(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(format_double(-2.5), "-2.5");
        assert_eq!(format_double(5.0e3), "5000");
    }
}
