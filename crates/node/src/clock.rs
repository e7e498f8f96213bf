//! Wall-clock time in Unix milliseconds, the unit of every deadline.
//!
//! Deadlines are absolute wall-clock times because `EXPIREAT`, `PXAT` and `EXPIRETIME` speak in
//! them, as Redis does. Only the connection layer and the sweeper read the clock; the store is
//! handed `now`, so tests control time without sleeping.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as u64)
}

/// Microseconds since the Unix epoch (for `TIME`).
pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_micros() as u64)
}
