//! Typed HyperLogLog commands. PFADD runs on one replica and is replayed on the others;
//! PFCOUNT reads one replica; PFCOUNT and PFMERGE over several keys need keys that share
//! their replicas (a `{hash tag}`).

use crate::client::Client;
use crate::collections::int;
use crate::error::Result;

impl Client {
    /// Adds elements to the HyperLogLog at `key`, creating it if needed; whether its
    /// estimate may have changed.
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
    /// client.pfadd("{visits}mon", ["ada", "bob", "ada"]).await?;
    /// client.pfadd("{visits}tue", ["bob", "cy"]).await?;
    /// assert_eq!(client.pfcount(["{visits}mon"]).await?, 2);
    /// assert_eq!(client.pfcount(["{visits}mon", "{visits}tue"]).await?, 3);
    /// client.pfmerge("{visits}week", ["{visits}mon", "{visits}tue"]).await?;
    /// assert_eq!(client.pfcount(["{visits}week"]).await?, 3);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`crate::ErrorKind::Server`] with `WRONGTYPE` when the key holds something that is
    /// not a HyperLogLog; otherwise as [`Client::command`] for a mutation.
    pub async fn pfadd<E: AsRef<[u8]>>(
        &self,
        key: impl AsRef<[u8]>,
        elements: impl IntoIterator<Item = E>,
    ) -> Result<bool> {
        Ok(self.with_members("PFADD", key.as_ref(), elements).await? == 1)
    }

    /// The estimated number of distinct elements added to the HyperLogLogs at `keys`
    /// together (Redis's estimator: the same count as Redis for the same elements).
    ///
    /// # Errors
    ///
    /// As [`Client::pfadd`]; keys on different replicas are refused
    /// ([`crate::ErrorKind::Command`]).
    pub async fn pfcount<K: AsRef<[u8]>>(&self, keys: impl IntoIterator<Item = K>) -> Result<u64> {
        let keys: Vec<K> = keys.into_iter().collect();
        let mut args: Vec<&[u8]> = vec![b"PFCOUNT"];
        args.extend(keys.iter().map(|key| key.as_ref()));
        Ok(int(self.call(&args).await?, "PFCOUNT")?.max(0) as u64)
    }

    /// Writes the union of the HyperLogLogs at `sources` (and `destination`'s own) to
    /// `destination`.
    ///
    /// # Errors
    ///
    /// As [`Client::pfcount`].
    pub async fn pfmerge<K: AsRef<[u8]>>(
        &self,
        destination: impl AsRef<[u8]>,
        sources: impl IntoIterator<Item = K>,
    ) -> Result<()> {
        let sources: Vec<K> = sources.into_iter().collect();
        let mut args: Vec<&[u8]> = vec![b"PFMERGE", destination.as_ref()];
        args.extend(sources.iter().map(|key| key.as_ref()));
        self.call(&args).await?;
        Ok(())
    }
}
