//! The cachering cache node: an in-memory cache that speaks the Redis protocol.
//!
//! A node knows nothing of the ring: it stores what it is sent, bounded in memory, with TTLs.
//! Distribution, replication and failover belong to the client.
//!
//! ```no_run
//! # async fn example() -> std::io::Result<()> {
//! use cachering_node::{start, NodeConfig};
//!
//! let node = start(NodeConfig::ephemeral()).await?;
//! println!("listening on {}", node.local_addr());
//! node.stop().await;
//! # Ok(())
//! # }
//! ```

pub mod clock;
pub mod command;
pub mod config;
pub mod info;
pub mod metrics;
pub mod server;
pub mod state;
pub mod store;
pub mod types;
pub mod versions;

pub use command::NodeService;
pub use config::{ByteSize, NodeArgs, NodeConfig};
pub use server::{start, NodeHandle};
pub use store::StoreKind;
