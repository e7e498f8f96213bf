//! The server layer cachering's node and proxy share, in the manner of pelikan's server core:
//! the listener (bind, accept, `maxclients`, drain and forced close on stop), the connection
//! loop (decode a batch, run it, write at once when the socket takes it, buffer limits), the
//! session and the connection-level commands (PING, ECHO, QUIT, RESET, SELECT, AUTH, HELLO,
//! CLIENT, COMMAND, TIME, MULTI/EXEC/DISCARD), the client registry, and one listener config
//! section with one set of flags.
//!
//! A binary plugs in its command handling as a [`Service`] (generic, not `dyn`: the node's
//! hot path stays monomorphic and synchronous). The layer never knows what a key is: it hands
//! the service every request it does not answer itself.
//!
//! ```no_run
//! # async fn example(service: std::sync::Arc<impl cachering_server::Service>) -> std::io::Result<()> {
//! use std::sync::Arc;
//! use cachering_server::{Bound, Endpoint, ListenerConfig};
//!
//! let settings = ListenerConfig::default();
//! let bound = Bound::bind(&settings.bind, settings.port_or(6379)).await?;
//! let endpoint = Arc::new(Endpoint::new(settings));
//! let server = bound.serve(endpoint, service);
//! server.shutdown();
//! server.stopped().await;
//! # Ok(())
//! # }
//! ```

pub mod clients;
pub mod commands;
pub mod config;
mod connection;
mod dispatch;
mod endpoint;
pub mod glob;
mod listener;
pub mod monitor;
mod service;
mod session;
pub mod tracking;

pub use config::{ByteSize, ListenerArgs, ListenerConfig};
pub use connection::write_now;
pub use dispatch::{run_batch, Exchange};
pub use endpoint::{Endpoint, Stats};
pub use listener::{Bound, ServerHandle};
pub use service::{Ctx, Flow, Request, Service};
pub use session::Session;
