//! The cachering cache node: an in-memory cache that speaks the Redis protocol.
//!
//! A node knows nothing of the ring: it stores what it is sent, bounded in memory, with TTLs.
//! Distribution, replication and failover belong to the client.

pub mod clock;
pub mod store;
