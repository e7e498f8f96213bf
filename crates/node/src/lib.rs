//! The cache node.
