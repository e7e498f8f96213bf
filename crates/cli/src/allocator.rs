//! glibc malloc settings for the long-running processes.
//!
//! glibc gives threads that allocate at the same time arenas of their own (up to 8 per CPU),
//! and memory freed into one arena is reused only from that arena. The moka engine frees
//! evicted entries on whichever thread runs its maintenance, so with a worker per CPU its
//! memory spreads over several arenas: a write flood at 6x a 16 MiB `maxmemory`
//! (`redis-benchmark -c 1 -P 1000 -d 100 -n 400000 -r 100000000 -t set`) grew a moka node by
//! 26-29 MiB with glibc's default and 28-33 MiB with two arenas, against 18 MiB with one; the
//! quick engine, which frees on the thread that writes, grew 21 MiB either way, and
//! `tests/tests/memory.rs`'s bound of twice the limit failed in most release runs without the
//! cap. One arena measured the same throughput (`redis-benchmark -c 50 -P 16`, same run: SET
//! 791-820k against 778-837k requests per second, GET 962k-1.0M against 733-971k): freed
//! chunks go to the freeing thread's cache first, so threads rarely wait for the arena's lock.

/// The most arenas glibc malloc may create in this process.
const ARENA_MAX: i32 = 1;

/// Caps glibc's malloc arenas at [`ARENA_MAX`], unless the environment sets malloc's tunables
/// (`MALLOC_ARENA_MAX`, `GLIBC_TUNABLES`): an operator's setting wins. Call before starting any
/// thread.
pub fn limit_arenas() {
    if ["MALLOC_ARENA_MAX", "GLIBC_TUNABLES"]
        .iter()
        .any(|name| std::env::var_os(name).is_some())
    {
        return;
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[allow(unsafe_code)]
    // SAFETY: mallopt only changes malloc's tunables and is called before other threads exist.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, ARENA_MAX);
    }
}
