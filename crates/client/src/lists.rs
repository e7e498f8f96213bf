//! Typed list commands. Each is [`Client::call`] with its reply converted, so it takes the
//! route the command table gives it: reads go to the key's replicas by the client's read
//! consistency; writes (pushes, pops, LSET, LREM, LTRIM) run on one replica and are replayed
//! on the others at the same version (each gives the same result on the same list). The
//! blocking pops take the blocking route: what they take is a mutation, and they wait for an
//! element on a connection of their own.

use std::time::Duration;

use bytes::Bytes;

use crate::client::Client;
use crate::collections::{array, bulk_or_nil, int, unexpected};
use crate::error::{Error, ErrorKind, Result};
use crate::reply::Reply;

fn elements(reply: Reply, command: &str) -> Result<Vec<Bytes>> {
    match reply {
        Reply::Nil => Ok(Vec::new()),
        reply => array(reply, command)?
            .into_iter()
            .map(|item| bulk_or_nil(item).ok_or_else(|| unexpected(command)))
            .collect(),
    }
}

/// An end of a list, for the moves between lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListEnd {
    /// The head (`LEFT`).
    Left,
    /// The tail (`RIGHT`).
    Right,
}

impl ListEnd {
    fn word(self) -> &'static [u8] {
        match self {
            ListEnd::Left => b"LEFT",
            ListEnd::Right => b"RIGHT",
        }
    }
}

/// A blocking command's timeout argument: seconds, `0` for none.
fn timeout_arg(timeout: Option<Duration>) -> String {
    match timeout {
        None => "0".to_string(),
        // At least a millisecond: 0 would wait for ever.
        Some(wait) => format!("{:.3}", wait.as_secs_f64().max(0.001)),
    }
}

/// BLPOP's and BRPOP's reply: the key and the element, or nothing on timeout.
fn popped(reply: Reply, command: &str) -> Result<Option<(Bytes, Bytes)>> {
    match reply {
        Reply::Nil => Ok(None),
        reply => match <[Reply; 2]>::try_from(array(reply, command)?) {
            Ok([Reply::Bulk(key), Reply::Bulk(element)]) => Ok(Some((key, element))),
            _ => Err(unexpected(command)),
        },
    }
}

impl Client {
    /// Pushes elements at the head of the list at `key`, creating it if needed, so the last
    /// one given ends first; the list's length after.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let nodes = [
    /// #     cachering_node::start(cachering_node::NodeConfig::ephemeral()).await?,
    /// #     cachering_node::start(cachering_node::NodeConfig::ephemeral()).await?,
    /// # ];
    /// # let addrs: Vec<String> = nodes.iter().map(|n| n.local_addr().to_string()).collect();
    /// use cachering_client::ClientBuilder;
    ///
    /// let client = ClientBuilder::new().nodes(addrs).with_replicas(2).build()?;
    /// assert_eq!(client.rpush("jobs", ["a", "b", "c"]).await?, 3);
    /// assert_eq!(client.lpush("jobs", ["first"]).await?, 4);
    /// assert_eq!(client.lrange("jobs", 0, -1).await?, ["first", "a", "b", "c"]);
    /// assert_eq!(client.lpop("jobs").await?.as_deref(), Some(&b"first"[..]));
    /// assert_eq!(client.rpop_count("jobs", 2).await?, ["c", "b"]);
    /// assert_eq!(client.llen("jobs").await?, 1);
    /// client.ltrim("jobs", 0, 99).await?; // a capped list
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`crate::ErrorKind::Server`] with `WRONGTYPE` when the key holds another type;
    /// otherwise as [`Client::command`] for a mutation.
    pub async fn lpush<E: AsRef<[u8]>>(
        &self,
        key: impl AsRef<[u8]>,
        elements: impl IntoIterator<Item = E>,
    ) -> Result<u64> {
        self.with_members("LPUSH", key.as_ref(), elements).await
    }

    /// Pushes elements at the tail of the list at `key`, creating it if needed; the length
    /// after.
    ///
    /// # Errors
    ///
    /// As [`Client::lpush`].
    pub async fn rpush<E: AsRef<[u8]>>(
        &self,
        key: impl AsRef<[u8]>,
        elements: impl IntoIterator<Item = E>,
    ) -> Result<u64> {
        self.with_members("RPUSH", key.as_ref(), elements).await
    }

    /// Removes and returns the head (the key goes with its last element).
    ///
    /// # Errors
    ///
    /// As [`Client::lpush`].
    pub async fn lpop(&self, key: impl AsRef<[u8]>) -> Result<Option<Bytes>> {
        Ok(bulk_or_nil(self.call(&[b"LPOP", key.as_ref()]).await?))
    }

    /// Removes and returns the tail.
    ///
    /// # Errors
    ///
    /// As [`Client::lpush`].
    pub async fn rpop(&self, key: impl AsRef<[u8]>) -> Result<Option<Bytes>> {
        Ok(bulk_or_nil(self.call(&[b"RPOP", key.as_ref()]).await?))
    }

    /// Removes and returns up to `count` elements from the head.
    ///
    /// # Errors
    ///
    /// As [`Client::lpush`].
    pub async fn lpop_count(&self, key: impl AsRef<[u8]>, count: u64) -> Result<Vec<Bytes>> {
        let count = count.to_string();
        let reply = self
            .call(&[b"LPOP", key.as_ref(), count.as_bytes()])
            .await?;
        elements(reply, "LPOP")
    }

    /// Removes and returns up to `count` elements from the tail.
    ///
    /// # Errors
    ///
    /// As [`Client::lpush`].
    pub async fn rpop_count(&self, key: impl AsRef<[u8]>, count: u64) -> Result<Vec<Bytes>> {
        let count = count.to_string();
        let reply = self
            .call(&[b"RPOP", key.as_ref(), count.as_bytes()])
            .await?;
        elements(reply, "RPOP")
    }

    /// The number of elements (0 for a missing key).
    ///
    /// # Errors
    ///
    /// [`crate::ErrorKind::Server`] with `WRONGTYPE` when the key holds another type;
    /// otherwise as [`Client::get`].
    pub async fn llen(&self, key: impl AsRef<[u8]>) -> Result<u64> {
        self.count("LLEN", &[key.as_ref()]).await
    }

    /// The elements at positions `start..=stop` (negative positions count from the tail).
    ///
    /// # Errors
    ///
    /// As [`Client::llen`].
    pub async fn lrange(&self, key: impl AsRef<[u8]>, start: i64, stop: i64) -> Result<Vec<Bytes>> {
        let (start, stop) = (start.to_string(), stop.to_string());
        let reply = self
            .call(&[b"LRANGE", key.as_ref(), start.as_bytes(), stop.as_bytes()])
            .await?;
        elements(reply, "LRANGE")
    }

    /// The element at `index` (negative from the tail), if there is one.
    ///
    /// # Errors
    ///
    /// As [`Client::llen`].
    pub async fn lindex(&self, key: impl AsRef<[u8]>, index: i64) -> Result<Option<Bytes>> {
        let index = index.to_string();
        let reply = self
            .call(&[b"LINDEX", key.as_ref(), index.as_bytes()])
            .await?;
        Ok(bulk_or_nil(reply))
    }

    /// Replaces the element at `index`.
    ///
    /// # Errors
    ///
    /// [`crate::ErrorKind::Server`] with `ERR no such key` or `ERR index out of range`;
    /// otherwise as [`Client::lpush`].
    pub async fn lset(
        &self,
        key: impl AsRef<[u8]>,
        index: i64,
        element: impl AsRef<[u8]>,
    ) -> Result<()> {
        let index = index.to_string();
        self.call(&[b"LSET", key.as_ref(), index.as_bytes(), element.as_ref()])
            .await?;
        Ok(())
    }

    /// Removes up to `count` elements equal to `element` from the head (from the tail for a
    /// negative count, every one for 0); how many.
    ///
    /// # Errors
    ///
    /// As [`Client::lpush`].
    pub async fn lrem(
        &self,
        key: impl AsRef<[u8]>,
        count: i64,
        element: impl AsRef<[u8]>,
    ) -> Result<u64> {
        let count = count.to_string();
        let reply = self
            .call(&[b"LREM", key.as_ref(), count.as_bytes(), element.as_ref()])
            .await?;
        Ok(int(reply, "LREM")?.max(0) as u64)
    }

    /// Keeps only the elements at positions `start..=stop` (a capped list: `ltrim(key, 0,
    /// n - 1)` after each push).
    ///
    /// # Errors
    ///
    /// As [`Client::lpush`].
    pub async fn ltrim(&self, key: impl AsRef<[u8]>, start: i64, stop: i64) -> Result<()> {
        let (start, stop) = (start.to_string(), stop.to_string());
        self.call(&[b"LTRIM", key.as_ref(), start.as_bytes(), stop.as_bytes()])
            .await?;
        Ok(())
    }

    /// Removes and returns the head of the first non-empty list of `keys` (with its key),
    /// waiting up to `timeout` (`None`: for ever) for an element to be pushed while they are
    /// all empty; `None` when the wait ends with nothing. The keys must share their replicas
    /// (one key, or a `{hash tag}`). Many processes may wait on one list: each element goes to
    /// one of them.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let nodes = [
    /// #     cachering_node::start(cachering_node::NodeConfig::ephemeral()).await?,
    /// #     cachering_node::start(cachering_node::NodeConfig::ephemeral()).await?,
    /// # ];
    /// # let addrs: Vec<String> = nodes.iter().map(|n| n.local_addr().to_string()).collect();
    /// use std::time::Duration;
    /// use cachering_client::ClientBuilder;
    ///
    /// let client = ClientBuilder::new().nodes(addrs).with_replicas(2).build()?;
    /// let consumer = client.clone();
    /// let waiting = tokio::spawn(async move {
    ///     consumer.blpop(["jobs"], Some(Duration::from_secs(5))).await
    /// });
    /// client.rpush("jobs", ["resize:42"]).await?;
    /// let (key, job) = waiting.await??.expect("a job within 5 s");
    /// assert_eq!((&key[..], &job[..]), (&b"jobs"[..], &b"resize:42"[..]));
    /// // Nothing left: the wait ends at its timeout.
    /// assert_eq!(client.blpop(["jobs"], Some(Duration::from_millis(50))).await?, None);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Command`] when the keys do not share their replicas, or none is given;
    /// [`ErrorKind::Server`] with `WRONGTYPE` when a key holds another type; otherwise as
    /// [`Client::command`] for a mutation, or [`ErrorKind::Unavailable`] when no replica of
    /// the keys serves them during the wait.
    pub async fn blpop<K: AsRef<[u8]>>(
        &self,
        keys: impl IntoIterator<Item = K>,
        timeout: Option<Duration>,
    ) -> Result<Option<(Bytes, Bytes)>> {
        self.bpop("BLPOP", keys, timeout).await
    }

    /// [`Client::blpop`] from the tails.
    ///
    /// # Errors
    ///
    /// As [`Client::blpop`].
    pub async fn brpop<K: AsRef<[u8]>>(
        &self,
        keys: impl IntoIterator<Item = K>,
        timeout: Option<Duration>,
    ) -> Result<Option<(Bytes, Bytes)>> {
        self.bpop("BRPOP", keys, timeout).await
    }

    async fn bpop<K: AsRef<[u8]>>(
        &self,
        command: &'static str,
        keys: impl IntoIterator<Item = K>,
        timeout: Option<Duration>,
    ) -> Result<Option<(Bytes, Bytes)>> {
        let keys: Vec<K> = keys.into_iter().collect();
        if keys.is_empty() {
            return Err(Error::new(
                ErrorKind::Command,
                cachering_commands::wrong_arity_error(&command.to_ascii_lowercase()),
            ));
        }
        let timeout = timeout_arg(timeout);
        let mut args: Vec<&[u8]> = Vec::with_capacity(keys.len() + 2);
        args.push(command.as_bytes());
        args.extend(keys.iter().map(AsRef::as_ref));
        args.push(timeout.as_bytes());
        popped(self.call(&args).await?, command)
    }

    /// Moves an element from the `from` end of `source` to the `to` end of `destination`
    /// and returns it, waiting up to `timeout` (`None`: for ever) while `source` is empty
    /// (BLMOVE: a reliable queue, where `destination` holds what is being worked on). Both
    /// keys must share their replicas (a `{hash tag}`).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let node = cachering_node::start(cachering_node::NodeConfig::ephemeral()).await?;
    /// # let addr = node.local_addr().to_string();
    /// use std::time::Duration;
    /// use cachering_client::{ClientBuilder, ListEnd};
    ///
    /// let client = ClientBuilder::new().node(&addr).build()?;
    /// client.rpush("{q}pending", ["a", "b"]).await?;
    /// let job = client
    ///     .blmove("{q}pending", "{q}working", ListEnd::Left, ListEnd::Right, None)
    ///     .await?;
    /// assert_eq!(job.as_deref(), Some(&b"a"[..]));
    /// assert_eq!(client.lrange("{q}working", 0, -1).await?, ["a"]);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`Client::blpop`].
    pub async fn blmove(
        &self,
        source: impl AsRef<[u8]>,
        destination: impl AsRef<[u8]>,
        from: ListEnd,
        to: ListEnd,
        timeout: Option<Duration>,
    ) -> Result<Option<Bytes>> {
        let timeout = timeout_arg(timeout);
        let reply = self
            .call(&[
                b"BLMOVE",
                source.as_ref(),
                destination.as_ref(),
                from.word(),
                to.word(),
                timeout.as_bytes(),
            ])
            .await?;
        Ok(bulk_or_nil(reply))
    }
}
