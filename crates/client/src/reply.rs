//! Node replies as the client hands them out.

use bytes::Bytes;
use redis_protocol::resp2::types::BytesFrame;

/// One reply from a node (RESP2, which is what the client speaks to nodes).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reply {
    /// The null bulk string or null array.
    Nil,
    /// A simple string such as `OK`.
    Status(Bytes),
    /// An integer.
    Int(i64),
    /// A bulk string.
    Bulk(Bytes),
    /// An array.
    Array(Vec<Reply>),
    /// An error reply nested in an array (a top-level error reply is an [`Error`](crate::Error)).
    Error(Bytes),
}

impl Reply {
    /// The bytes of a bulk or status reply.
    pub fn as_bytes(&self) -> Option<&Bytes> {
        match self {
            Reply::Bulk(bytes) | Reply::Status(bytes) => Some(bytes),
            _ => None,
        }
    }

    /// The integer of an integer reply.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Reply::Int(n) => Some(*n),
            _ => None,
        }
    }

    /// Whether this is the null reply.
    pub fn is_nil(&self) -> bool {
        matches!(self, Reply::Nil)
    }

    /// Converts a decoded frame.
    pub(crate) fn from_frame(frame: BytesFrame) -> Reply {
        match frame {
            BytesFrame::Null => Reply::Nil,
            BytesFrame::SimpleString(bytes) => Reply::Status(bytes),
            BytesFrame::Error(text) => Reply::Error(Bytes::copy_from_slice(text.as_bytes())),
            BytesFrame::Integer(n) => Reply::Int(n),
            BytesFrame::BulkString(bytes) => Reply::Bulk(bytes),
            BytesFrame::Array(items) => {
                Reply::Array(items.into_iter().map(Reply::from_frame).collect())
            }
        }
    }
}
