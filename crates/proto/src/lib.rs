//! The Redis wire protocol as cachering speaks it.
//!
//! This crate owns what crosses the wire: turning untrusted request bytes into argument vectors
//! ([`RequestDecoder`]), turning replies into RESP2 or RESP3 bytes ([`ReplyWriter`]), and the
//! format of the versions that order writes ([`version`]). It knows no command and no store.
//!
//! Requests never go through `redis-protocol`'s decoder: that decoder recurses on nested arrays
//! (about 28 KB of `*1\r\n*1\r\n…` overflow the stack), has no bound on declared lengths and
//! re-parses a partial frame from the start on every call. A request is always a flat array of
//! bulk strings or an inline line, so [`RequestDecoder`] is flat, bounded and resumable. Replies
//! are encoded with `redis-protocol`.

mod decoder;
mod inline;
mod reply;
pub mod version;

pub use decoder::{parse_i64, DecodeError, Limits, RequestDecoder};
pub use reply::{format_double, format_score, Protocol, ReplyWriter};
