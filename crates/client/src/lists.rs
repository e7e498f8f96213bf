//! Typed list commands. Each is [`Client::call`] with its reply converted, so it takes the
//! route the command table gives it: reads go to the key's replicas by the client's read
//! consistency; writes (pushes, pops, LSET, LREM, LTRIM) run on one replica and are replayed
//! on the others at the same version (each gives the same result on the same list).

use bytes::Bytes;

use crate::client::Client;
use crate::collections::{array, bulk_or_nil, int, unexpected};
use crate::error::Result;
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
}
