//! Typed bitmap commands. SETBIT runs on one replica and is replayed on the others (a bit set
//! in a large string is not a copy of the string); GETBIT and BITCOUNT read one replica by the
//! client's read consistency.

use crate::client::Client;
use crate::collections::int;
use crate::error::Result;

impl Client {
    /// Sets the bit at `offset` of the string at `key` (bit 0 is the first byte's most
    /// significant), growing it with clear bits as needed; the bit's old value.
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
    /// // One bit per user id: who was seen today.
    /// assert!(!client.setbit("seen:2026-12-04", 42, true).await?);
    /// client.setbit("seen:2026-12-04", 7, true).await?;
    /// assert!(client.getbit("seen:2026-12-04", 42).await?);
    /// assert_eq!(client.bitcount("seen:2026-12-04").await?, 2);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`crate::ErrorKind::Server`] with `WRONGTYPE` when the key holds a collection, or
    /// `ERR bit offset is not an integer or out of range` past 2^32 - 1; otherwise as
    /// [`Client::command`] for a mutation.
    pub async fn setbit(&self, key: impl AsRef<[u8]>, offset: u64, on: bool) -> Result<bool> {
        let offset = offset.to_string();
        let bit: &[u8] = if on { b"1" } else { b"0" };
        let reply = self
            .call(&[b"SETBIT", key.as_ref(), offset.as_bytes(), bit])
            .await?;
        Ok(int(reply, "SETBIT")? == 1)
    }

    /// The bit at `offset` (clear past the end of the string or for a missing key).
    ///
    /// # Errors
    ///
    /// As [`Client::setbit`], for a read.
    pub async fn getbit(&self, key: impl AsRef<[u8]>, offset: u64) -> Result<bool> {
        let offset = offset.to_string();
        Ok(self
            .count("GETBIT", &[key.as_ref(), offset.as_bytes()])
            .await?
            == 1)
    }

    /// The number of set bits in the string at `key`.
    ///
    /// # Errors
    ///
    /// As [`Client::getbit`].
    pub async fn bitcount(&self, key: impl AsRef<[u8]>) -> Result<u64> {
        self.count("BITCOUNT", &[key.as_ref()]).await
    }
}
