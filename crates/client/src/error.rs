//! Errors, in the manner of redis-rs: one opaque [`Error`] with a non-exhaustive [`ErrorKind`]
//! and predicates that tell the caller what happened and whether retrying can help.

use std::fmt;
use std::sync::Arc;

/// What went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A node did not answer within the request timeout (or a connect timed out).
    Timeout,
    /// The connection to a node failed or closed.
    Io,
    /// A node sent bytes that are not a valid reply.
    Protocol,
    /// A node answered with an error reply (`ERR …`, `OOM …`); the node itself is healthy.
    Server,
    /// No node could serve the request: all of the key's replicas are ejected or failed.
    Unavailable,
    /// Fewer replicas acknowledged a write than the write rule requires.
    WriteNotAcknowledged,
    /// The client was built or called with an invalid setting.
    Config,
    /// The command is unknown, has the wrong number of arguments, or is not one a ring routes
    /// (CONFIG and SHUTDOWN are about one node: send them with [`Client::on_node`]). The
    /// detail is Redis's wording (`ERR unknown command ...`).
    ///
    /// [`Client::on_node`]: crate::Client::on_node
    Command,
    /// The loader of [`Client::get_or_load`] failed; the detail is its error.
    ///
    /// [`Client::get_or_load`]: crate::Client::get_or_load
    Load,
}

/// A client error.
#[derive(Debug, Clone)]
pub struct Error {
    kind: ErrorKind,
    detail: String,
    node: Option<String>,
    source: Option<Arc<std::io::Error>>,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, detail: impl Into<String>) -> Self {
        Self {
            kind,
            detail: detail.into(),
            node: None,
            source: None,
        }
    }

    /// An I/O failure (connect, read, write), keeping the operating system's error as the
    /// [`source`](std::error::Error::source).
    pub(crate) fn io(context: impl Into<String>, error: std::io::Error) -> Self {
        let context = context.into();
        Self {
            kind: ErrorKind::Io,
            detail: format!("{context}: {error}"),
            node: None,
            source: Some(Arc::new(error)),
        }
    }

    pub(crate) fn with_node(mut self, node: &str) -> Self {
        self.node = Some(node.to_string());
        self
    }

    /// The kind of error.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The node involved, when one was.
    pub fn node(&self) -> Option<&str> {
        self.node.as_deref()
    }

    /// The error text (for [`ErrorKind::Server`], the node's reply without its leading `-`).
    pub fn detail(&self) -> &str {
        &self.detail
    }

    /// A node did not answer in time.
    pub fn is_timeout(&self) -> bool {
        self.kind == ErrorKind::Timeout
    }

    /// A connection failed or closed.
    pub fn is_io_error(&self) -> bool {
        self.kind == ErrorKind::Io
    }

    /// The node answered with an error reply: retrying the same command will fail the same way.
    pub fn is_server_error(&self) -> bool {
        self.kind == ErrorKind::Server
    }

    /// No replica of the key could be reached.
    pub fn is_unavailable(&self) -> bool {
        self.kind == ErrorKind::Unavailable
    }

    /// Whether the failure came from reaching nodes (timeouts, connections, unavailability),
    /// so that trying again later may succeed; server errors and bad settings are not.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::Timeout
                | ErrorKind::Io
                | ErrorKind::Unavailable
                | ErrorKind::WriteNotAcknowledged
        )
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            ErrorKind::Timeout => "timeout",
            ErrorKind::Io => "connection error",
            ErrorKind::Protocol => "protocol error",
            ErrorKind::Server => "server error",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::WriteNotAcknowledged => "write not acknowledged",
            ErrorKind::Config => "configuration error",
            ErrorKind::Command => "command error",
            ErrorKind::Load => "load error",
        };
        match &self.node {
            Some(node) => write!(f, "{kind} ({node}): {}", self.detail),
            None => write!(f, "{kind}: {}", self.detail),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|error| error as &(dyn std::error::Error + 'static))
    }
}

/// The client's result type.
pub type Result<T> = std::result::Result<T, Error>;

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    #[test]
    fn io_errors_keep_their_source() {
        let error = Error::io(
            "connect 127.0.0.1:1",
            std::io::Error::from(std::io::ErrorKind::ConnectionRefused),
        );
        assert!(error.is_io_error() && error.is_retryable());
        let source = error.source().expect("an I/O error has a source");
        let io = source.downcast_ref::<std::io::Error>().unwrap();
        assert_eq!(io.kind(), std::io::ErrorKind::ConnectionRefused);
        assert!(Error::new(ErrorKind::Server, "ERR x").source().is_none());
    }
}
