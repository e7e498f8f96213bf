//! A consistent-hashing client for cachering nodes.

pub mod ring;
