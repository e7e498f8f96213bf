//! A consistent-hashing client for a ring of cachering nodes.
//!
//! List the nodes and get one cache: keys spread evenly over the nodes ([`ring`]), every key
//! kept on R of them, reads that keep working when a node dies, freezes or is cut off, and no
//! stale value served after a node comes back: while a node is away the client remembers which
//! keys it missed and invalidates them on it before it serves reads again.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let mut addrs = Vec::new();
//! # let mut nodes = Vec::new();
//! # for _ in 0..3 {
//! #     let node = cachering_node::start(cachering_node::NodeConfig::ephemeral()).await?;
//! #     addrs.push(node.local_addr().to_string());
//! #     nodes.push(node);
//! # }
//! use cachering_client::ClientBuilder;
//!
//! let client = ClientBuilder::new()
//!     .nodes(addrs) // ["10.0.0.1:6379", "10.0.0.2:6379", "10.0.0.3:6379"]
//!     .with_replicas(2)
//!     .build()?;
//! client.set("greeting", "hello").await?;
//! assert_eq!(client.get("greeting").await?.as_deref(), Some(&b"hello"[..]));
//! # Ok(())
//! # }
//! ```
//!
//! `docs/client.md` describes the behaviour under failures in full; [`Client`] lists it.

mod backoff;
mod bitmaps;
mod client;
mod collections;
mod connection;
mod discovery;
mod error;
mod herd;
mod hot;
mod hyperloglog;
mod lists;
pub mod metrics;
mod near;
mod node;
mod options;
mod reply;
pub mod ring;
mod route;
mod topology;
mod zsets;

pub use client::{Client, SetOptions, SetOutcome, Ttl};
pub use error::{Error, ErrorKind, Result};
pub use herd::{lease_key, LoadOptions};
pub use hot::HotKey;
pub use lists::ListEnd;
pub use node::{NodeState, NodeStatus};
pub use options::{
    ClientBuilder, NodeSpec, ReadConsistency, WriteRule, DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_DISCOVERY_GRACE, DEFAULT_DISCOVERY_INTERVAL, DEFAULT_FAILURE_THRESHOLD,
    DEFAULT_HINT_CAPACITY, DEFAULT_MAX_EJECTED_FRACTION, DEFAULT_MAX_PROBE_INTERVAL,
    DEFAULT_MIGRATION_WINDOW, DEFAULT_PROBE_INTERVAL, DEFAULT_REPLICAS, DEFAULT_REQUEST_TIMEOUT,
    DEFAULT_WARMUP,
};
pub use reply::Reply;
pub use route::{Access, Routed};

/// Entry points for the fuzz targets; not part of the API.
#[doc(hidden)]
pub mod fuzzing {
    pub use crate::connection::decode_replies;
}
