//! Typed hash and set commands (sorted sets are in `zsets`). Each is [`Client::call`] with its reply converted, so it takes
//! the route the command table gives it: reads go to the key's replicas by the client's read
//! consistency, writes run on one replica and are replayed on the others.

use bytes::Bytes;

use crate::client::Client;
use crate::error::{Error, ErrorKind, Result};
use crate::reply::Reply;

/// A reply that is not the shape its command answers.
pub(crate) fn unexpected(command: &str) -> Error {
    Error::new(
        ErrorKind::Protocol,
        format!("unexpected reply to {command}"),
    )
}

pub(crate) fn int(reply: Reply, command: &str) -> Result<i64> {
    reply.as_int().ok_or_else(|| unexpected(command))
}

pub(crate) fn array(reply: Reply, command: &str) -> Result<Vec<Reply>> {
    match reply {
        Reply::Array(items) => Ok(items),
        _ => Err(unexpected(command)),
    }
}

pub(crate) fn bulk_or_nil(reply: Reply) -> Option<Bytes> {
    match reply {
        Reply::Bulk(bytes) => Some(bytes),
        _ => None,
    }
}

impl Client {
    /// Sets `field` of the hash at `key` to `value`, creating the hash if needed; whether
    /// the field is new.
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
    /// assert!(client.hset("user:42", "name", "Ada").await?);
    /// client.hset_many("user:42", [("lang", "Rust"), ("visits", "1")]).await?;
    /// assert_eq!(client.hincr_by("user:42", "visits", 2).await?, 3);
    /// assert_eq!(client.hget("user:42", "name").await?.as_deref(), Some(&b"Ada"[..]));
    /// assert_eq!(client.hlen("user:42").await?, 3);
    /// assert_eq!(client.hdel("user:42", ["lang", "nope"]).await?, 1);
    /// let all = client.hgetall("user:42").await?;
    /// assert_eq!(all.len(), 2);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Server`] with `WRONGTYPE` when the key holds another type; otherwise as
    /// [`Client::command`] for a mutation.
    pub async fn hset(
        &self,
        key: impl AsRef<[u8]>,
        field: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
    ) -> Result<bool> {
        let reply = self
            .change_field("HSET", key.as_ref(), field.as_ref(), value.as_ref())
            .await?;
        Ok(int(reply, "HSET")? == 1)
    }

    /// Sets several fields of the hash at `key` in one command; the number that were new.
    ///
    /// # Errors
    ///
    /// As [`Client::hset`].
    pub async fn hset_many<F: AsRef<[u8]>, V: AsRef<[u8]>>(
        &self,
        key: impl AsRef<[u8]>,
        pairs: impl IntoIterator<Item = (F, V)>,
    ) -> Result<u64> {
        let pairs: Vec<(F, V)> = pairs.into_iter().collect();
        let mut args: Vec<&[u8]> = vec![b"HSET", key.as_ref()];
        for (field, value) in &pairs {
            args.push(field.as_ref());
            args.push(value.as_ref());
        }
        Ok(int(self.call(&args).await?, "HSET")? as u64)
    }

    /// Sets `field` only if the hash at `key` does not have it; whether it did set it.
    ///
    /// # Errors
    ///
    /// As [`Client::hset`].
    pub async fn hset_nx(
        &self,
        key: impl AsRef<[u8]>,
        field: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
    ) -> Result<bool> {
        let reply = self
            .change_field("HSETNX", key.as_ref(), field.as_ref(), value.as_ref())
            .await?;
        Ok(int(reply, "HSETNX")? == 1)
    }

    /// The value of `field` in the hash at `key`.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Server`] with `WRONGTYPE` when the key holds another type; otherwise as
    /// [`Client::get`].
    pub async fn hget(
        &self,
        key: impl AsRef<[u8]>,
        field: impl AsRef<[u8]>,
    ) -> Result<Option<Bytes>> {
        let reply = self
            .call(&[&b"HGET"[..], key.as_ref(), field.as_ref()])
            .await?;
        Ok(bulk_or_nil(reply))
    }

    /// The values of several fields, `None` for each one missing.
    ///
    /// # Errors
    ///
    /// As [`Client::hget`].
    pub async fn hmget<F: AsRef<[u8]>>(
        &self,
        key: impl AsRef<[u8]>,
        fields: impl IntoIterator<Item = F>,
    ) -> Result<Vec<Option<Bytes>>> {
        let fields: Vec<F> = fields.into_iter().collect();
        let mut args: Vec<&[u8]> = vec![b"HMGET", key.as_ref()];
        args.extend(fields.iter().map(|field| field.as_ref()));
        let items = array(self.call(&args).await?, "HMGET")?;
        Ok(items.into_iter().map(bulk_or_nil).collect())
    }

    /// Every field and value of the hash at `key` (none for a missing key).
    ///
    /// # Errors
    ///
    /// As [`Client::hget`].
    pub async fn hgetall(&self, key: impl AsRef<[u8]>) -> Result<Vec<(Bytes, Bytes)>> {
        let items = array(
            self.call(&[&b"HGETALL"[..], key.as_ref()]).await?,
            "HGETALL",
        )?;
        let mut pairs = Vec::with_capacity(items.len() / 2);
        let mut items = items.into_iter();
        while let (Some(field), Some(value)) = (items.next(), items.next()) {
            match (field, value) {
                (Reply::Bulk(field), Reply::Bulk(value)) => pairs.push((field, value)),
                _ => return Err(unexpected("HGETALL")),
            }
        }
        Ok(pairs)
    }

    /// Deletes fields of the hash at `key` (the key goes with its last field); how many
    /// existed.
    ///
    /// # Errors
    ///
    /// As [`Client::hset`].
    pub async fn hdel<F: AsRef<[u8]>>(
        &self,
        key: impl AsRef<[u8]>,
        fields: impl IntoIterator<Item = F>,
    ) -> Result<u64> {
        let fields: Vec<F> = fields.into_iter().collect();
        let mut args: Vec<&[u8]> = vec![b"HDEL", key.as_ref()];
        args.extend(fields.iter().map(|field| field.as_ref()));
        Ok(int(self.call(&args).await?, "HDEL")? as u64)
    }

    /// Whether the hash at `key` has `field`.
    ///
    /// # Errors
    ///
    /// As [`Client::hget`].
    pub async fn hexists(&self, key: impl AsRef<[u8]>, field: impl AsRef<[u8]>) -> Result<bool> {
        Ok(self
            .count("HEXISTS", &[key.as_ref(), field.as_ref()])
            .await?
            == 1)
    }

    /// The number of fields of the hash at `key` (0 for a missing key).
    ///
    /// # Errors
    ///
    /// As [`Client::hget`].
    pub async fn hlen(&self, key: impl AsRef<[u8]>) -> Result<u64> {
        self.count("HLEN", &[key.as_ref()]).await
    }

    /// Adds `delta` to the integer in `field` (0 when missing); the new value.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Server`] with `ERR hash value is not an integer` or an overflow;
    /// otherwise as [`Client::hset`].
    pub async fn hincr_by(
        &self,
        key: impl AsRef<[u8]>,
        field: impl AsRef<[u8]>,
        delta: i64,
    ) -> Result<i64> {
        let reply = self
            .change_field(
                "HINCRBY",
                key.as_ref(),
                field.as_ref(),
                delta.to_string().as_bytes(),
            )
            .await?;
        int(reply, "HINCRBY")
    }

    /// Adds `delta` to the number in `field` (0 when missing); the new value.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Server`] with `ERR hash value is not a float`, or when the result would
    /// be infinite; otherwise as [`Client::hset`].
    pub async fn hincr_by_float(
        &self,
        key: impl AsRef<[u8]>,
        field: impl AsRef<[u8]>,
        delta: f64,
    ) -> Result<f64> {
        let reply = self
            .change_field(
                "HINCRBYFLOAT",
                key.as_ref(),
                field.as_ref(),
                delta.to_string().as_bytes(),
            )
            .await?;
        reply
            .as_bytes()
            .and_then(|text| std::str::from_utf8(text).ok()?.parse().ok())
            .ok_or_else(|| unexpected("HINCRBYFLOAT"))
    }

    /// Runs `command key field argument`.
    async fn change_field(
        &self,
        command: &str,
        key: &[u8],
        field: &[u8],
        argument: &[u8],
    ) -> Result<Reply> {
        self.call(&[command.as_bytes(), key, field, argument]).await
    }

    /// Adds members to the set at `key`, creating it if needed; how many were new.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let node = cachering_node::start(cachering_node::NodeConfig::ephemeral()).await?;
    /// # let addr = node.local_addr().to_string();
    /// use cachering_client::ClientBuilder;
    ///
    /// let client = ClientBuilder::new().node(&addr).build()?;
    /// assert_eq!(client.sadd("tags:42", ["rust", "cache", "rust"]).await?, 2);
    /// assert!(client.sismember("tags:42", "rust").await?);
    /// assert_eq!(client.scard("tags:42").await?, 2);
    /// assert_eq!(client.srem("tags:42", ["cache"]).await?, 1);
    /// assert_eq!(client.smembers("tags:42").await?, vec![bytes::Bytes::from("rust")]);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Server`] with `WRONGTYPE` when the key holds another type; otherwise as
    /// [`Client::command`] for a mutation.
    pub async fn sadd<M: AsRef<[u8]>>(
        &self,
        key: impl AsRef<[u8]>,
        members: impl IntoIterator<Item = M>,
    ) -> Result<u64> {
        self.with_members("SADD", key.as_ref(), members).await
    }

    /// Removes members from the set at `key` (the key goes with its last member); how many
    /// were there.
    ///
    /// # Errors
    ///
    /// As [`Client::sadd`].
    pub async fn srem<M: AsRef<[u8]>>(
        &self,
        key: impl AsRef<[u8]>,
        members: impl IntoIterator<Item = M>,
    ) -> Result<u64> {
        self.with_members("SREM", key.as_ref(), members).await
    }

    /// Runs `command args…`, answering an integer that is a count or a flag.
    pub(crate) async fn count(&self, command: &str, args: &[&[u8]]) -> Result<u64> {
        let mut full: Vec<&[u8]> = vec![command.as_bytes()];
        full.extend_from_slice(args);
        Ok(int(self.call(&full).await?, command)?.max(0) as u64)
    }

    /// Runs `command key member…`, answering a count.
    pub(crate) async fn with_members<M: AsRef<[u8]>>(
        &self,
        command: &str,
        key: &[u8],
        members: impl IntoIterator<Item = M>,
    ) -> Result<u64> {
        let members: Vec<M> = members.into_iter().collect();
        let mut args: Vec<&[u8]> = vec![command.as_bytes(), key];
        args.extend(members.iter().map(|member| member.as_ref()));
        Ok(int(self.call(&args).await?, command)? as u64)
    }

    /// Whether `member` is in the set at `key`.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Server`] with `WRONGTYPE` when the key holds another type; otherwise as
    /// [`Client::get`].
    pub async fn sismember(&self, key: impl AsRef<[u8]>, member: impl AsRef<[u8]>) -> Result<bool> {
        Ok(self
            .count("SISMEMBER", &[key.as_ref(), member.as_ref()])
            .await?
            == 1)
    }

    /// The number of members of the set at `key` (0 for a missing key).
    ///
    /// # Errors
    ///
    /// As [`Client::sismember`].
    pub async fn scard(&self, key: impl AsRef<[u8]>) -> Result<u64> {
        self.count("SCARD", &[key.as_ref()]).await
    }

    /// Every member of the set at `key`, in the set's order.
    ///
    /// # Errors
    ///
    /// As [`Client::sismember`].
    pub async fn smembers(&self, key: impl AsRef<[u8]>) -> Result<Vec<Bytes>> {
        let items = array(
            self.call(&[&b"SMEMBERS"[..], key.as_ref()]).await?,
            "SMEMBERS",
        )?;
        items
            .into_iter()
            .map(|item| bulk_or_nil(item).ok_or_else(|| unexpected("SMEMBERS")))
            .collect()
    }

    /// Removes and returns a random member of the set at `key`.
    ///
    /// # Errors
    ///
    /// As [`Client::sadd`]; the other replicas get the resulting set copied whole (a random
    /// choice cannot be replayed).
    pub async fn spop(&self, key: impl AsRef<[u8]>) -> Result<Option<Bytes>> {
        let reply = self.call(&[&b"SPOP"[..], key.as_ref()]).await?;
        Ok(bulk_or_nil(reply))
    }
}
