//! Herd control for cache-aside reads: [`Client::get_or_load`].
//!
//! When a popular key is missing (it expired, or was never there), every process that reads it
//! would call the loader (a database query) at once. Here:
//!
//! - **within a process**, the callers that ask for a key while a load of it is in flight share
//!   that load (single-flight): one node read, and on a miss one loader call, whatever the
//!   number of callers;
//! - **across processes**, optionally ([`LoadOptions::lease`]), the first process to miss takes a
//!   short lease on the key (a token written with `SET … NX PX`, the memcache paper's leases);
//!   the others wait for the value it writes, polling the key, and load themselves only if it
//!   has not appeared when the lease runs out (the loader failed, or the process died).
//!
//! Plain reads (`get`, `call`, pipelines) are never shared: a read that joined one already in
//! flight could return a value older than a write another process had acknowledged before the
//! read began. A caller of `get_or_load` asks for "the value, loading it if missing", which a
//! shared load answers.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use futures::future::{BoxFuture, FutureExt, Shared};

use crate::client::{Client, SetOptions};
use crate::error::{Error, ErrorKind, Result};

/// How [`Client::get_or_load_with`] loads a missing key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoadOptions {
    /// The loaded value's time to live.
    pub ttl: Duration,
    /// Take a lease this long before loading, so that one process in all loads a missing
    /// key; `None` (the default) loads once per process.
    pub lease: Option<Duration>,
    /// How often a process that waits for another's load looks for the value.
    pub poll: Duration,
}

impl LoadOptions {
    /// Values live `ttl`; no lease; a waiting process polls every 10 ms.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            lease: None,
            poll: Duration::from_millis(10),
        }
    }

    /// One load across processes: the first to miss holds a lease of `lease` while it loads;
    /// the others wait for its value up to that long.
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = Some(lease);
        self
    }

    /// How often a waiting process looks for the value (at least 1 ms).
    pub fn poll(mut self, poll: Duration) -> Self {
        self.poll = poll.max(Duration::from_millis(1));
        self
    }
}

/// A load in flight, shared by the callers that ask for its key meanwhile.
type Flight = Shared<BoxFuture<'static, Result<Bytes>>>;

/// The loads in flight in one client.
#[derive(Default)]
pub(crate) struct Flights {
    loads: Mutex<HashMap<Bytes, (u64, Flight)>>,
    next: std::sync::atomic::AtomicU64,
}

impl Flights {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Bytes, (u64, Flight)>> {
        self.loads.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The key a lease on `key` is written under.
pub fn lease_key(key: &[u8]) -> Vec<u8> {
    let mut lease = b"__cachering_lease__:".to_vec();
    lease.extend_from_slice(key);
    lease
}

impl Client {
    /// The value of `key`; if it is missing, `loader`'s, stored with a time to live of `ttl`.
    /// Callers in this process that ask for `key` while it loads share the load: one node
    /// read and at most one loader call. See [`Client::get_or_load_with`] for one load
    /// across processes.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let node = cachering_node::start(cachering_node::NodeConfig::ephemeral()).await?;
    /// # let addr = node.local_addr().to_string();
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use cachering_client::ClientBuilder;
    ///
    /// let client = ClientBuilder::new().node(&addr).build()?;
    /// let queries = Arc::new(AtomicUsize::new(0));
    /// let readers = (0..50).map(|_| {
    ///     let (client, queries) = (client.clone(), Arc::clone(&queries));
    ///     tokio::spawn(async move {
    ///         client
    ///             .get_or_load("user:42", Duration::from_secs(60), move || async move {
    ///                 queries.fetch_add(1, Ordering::SeqCst); // the database query
    ///                 Ok::<_, std::io::Error>(bytes::Bytes::from("Ada"))
    ///             })
    ///             .await
    ///     })
    /// });
    /// for reader in futures::future::join_all(readers).await {
    ///     assert_eq!(&reader??[..], b"Ada");
    /// }
    /// assert_eq!(queries.load(Ordering::SeqCst), 1);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Load`] with the loader's error (every caller sharing the load gets it; the
    /// next call loads again); otherwise as [`Client::get`] and [`Client::set_with`].
    pub async fn get_or_load<F, Fut, E>(
        &self,
        key: impl AsRef<[u8]>,
        ttl: Duration,
        loader: F,
    ) -> Result<Bytes>
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = std::result::Result<Bytes, E>> + Send + 'static,
        E: std::fmt::Display,
    {
        self.get_or_load_with(key, LoadOptions::new(ttl), loader)
            .await
    }

    /// [`Client::get_or_load`] with a lease across processes (see [`LoadOptions`]): the first
    /// process to miss `key` loads it; the others wait for its value, polling the key, up to
    /// the lease's length, then load themselves.
    ///
    /// # Errors
    ///
    /// As [`Client::get_or_load`].
    pub async fn get_or_load_with<F, Fut, E>(
        &self,
        key: impl AsRef<[u8]>,
        options: LoadOptions,
        loader: F,
    ) -> Result<Bytes>
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = std::result::Result<Bytes, E>> + Send + 'static,
        E: std::fmt::Display,
    {
        let key = Bytes::copy_from_slice(key.as_ref());
        let (id, flight) = {
            let mut loads = self.inner.flights.lock();
            match loads.get(&key) {
                Some((id, flight)) => {
                    self.inner.metrics.shared_loads.increment(1);
                    (*id, flight.clone())
                }
                None => {
                    let id = self
                        .inner
                        .flights
                        .next
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let loader = move || {
                        let load = loader();
                        async move { load.await.map_err(|e| e.to_string()) }.boxed()
                    };
                    let flight = Box::pin(self.clone().load(key.clone(), options, loader))
                        .boxed()
                        .shared();
                    loads.insert(key.clone(), (id, flight.clone()));
                    (id, flight)
                }
            }
        };
        let result = flight.await;
        let mut loads = self.inner.flights.lock();
        if loads.get(&key).is_some_and(|(current, _)| *current == id) {
            loads.remove(&key);
        }
        result
    }

    /// One load of `key`: read it; if missing, load it (under a lease, when asked) and store it.
    async fn load(
        self,
        key: Bytes,
        options: LoadOptions,
        loader: impl FnOnce() -> BoxFuture<'static, std::result::Result<Bytes, String>>,
    ) -> Result<Bytes> {
        if let Some(value) = self.get(&key).await? {
            return Ok(value);
        }
        let lease = match options.lease {
            Some(lease) => Some((lease, self.take_lease(&key, lease).await?)),
            None => None,
        };
        if let Some((length, false)) = lease {
            // Another process loads it: wait for its value, up to the lease's length.
            self.inner.metrics.lease_waits.increment(1);
            let deadline = tokio::time::Instant::now() + length;
            while tokio::time::Instant::now() < deadline {
                tokio::time::sleep(options.poll).await;
                if let Some(value) = self.get(&key).await? {
                    return Ok(value);
                }
            }
        }
        self.inner.metrics.loads.increment(1);
        let loaded = loader().await;
        let stored = match &loaded {
            Ok(value) => self
                .set_with(&key, value, SetOptions::new().ttl(options.ttl))
                .await
                .map(drop),
            Err(_) => Ok(()),
        };
        if let Some((_, true)) = lease {
            // Released early, so the next miss need not wait it out. Whether or not it is
            // still ours, the value (or the failure) is known now.
            let _ = self.del(lease_key(&key)).await;
        }
        let value = loaded.map_err(|e| Error::new(ErrorKind::Load, e))?;
        stored?;
        Ok(value)
    }

    /// Tries to take the lease on `key` for `length`: true if this process holds it now.
    async fn take_lease(&self, key: &[u8], length: Duration) -> Result<bool> {
        let token = self.next_version().to_string();
        let taken = self
            .set_with(
                lease_key(key),
                token,
                SetOptions::new().ttl(length).if_absent(),
            )
            .await?;
        Ok(taken.applied)
    }
}
