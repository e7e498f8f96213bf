//! Typed sorted-set commands. Each is [`Client::call`] with its reply converted, so it takes
//! the route the command table gives it: reads go to the key's replicas by the client's read
//! consistency; writes (ZADD, ZINCRBY, ZREM, ZPOPMIN, ...) run on one replica and are replayed
//! on the others at the same version.

use bytes::Bytes;

use crate::client::Client;
use crate::collections::{array, bulk_or_nil, int, unexpected};
use crate::error::Result;
use crate::reply::Reply;

/// A score as an argument: Rust's shortest exact form, which Redis's parser reads back to the
/// same double (`inf` and `-inf` included).
fn score_arg(score: f64) -> String {
    score.to_string()
}

/// A score in a reply (Redis's `%.17g`, `inf`, `-inf`).
fn score_of(reply: &Reply, command: &str) -> Result<f64> {
    reply
        .as_bytes()
        .and_then(|text| std::str::from_utf8(text).ok()?.parse().ok())
        .ok_or_else(|| unexpected(command))
}

/// A flat reply of members and scores.
fn scored(reply: Reply, command: &str) -> Result<Vec<(Bytes, f64)>> {
    let items = array(reply, command)?;
    if items.len() % 2 != 0 {
        return Err(unexpected(command));
    }
    items
        .chunks(2)
        .map(|pair| {
            let member = bulk_or_nil(pair[0].clone()).ok_or_else(|| unexpected(command))?;
            Ok((member, score_of(&pair[1], command)?))
        })
        .collect()
}

impl Client {
    /// Adds `member` to the sorted set at `key` with `score`, or moves it to that score;
    /// whether the member is new.
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
    /// assert!(client.zadd("board", "ada", 120.0).await?);
    /// client.zadd_many("board", [(95.0, "bob"), (130.0, "cy")]).await?;
    /// assert_eq!(client.zincr_by("board", "bob", 40.0).await?, 135.0);
    /// assert_eq!(client.zrank("board", "ada").await?, Some(0));
    /// let top = client.zrevrange_withscores("board", 0, 1).await?;
    /// assert_eq!(top[0], (bytes::Bytes::from("bob"), 135.0));
    /// assert_eq!(client.zcount("board", 100.0, f64::INFINITY).await?, 3);
    /// assert_eq!(client.zpop_min("board", 1).await?[0].0, "ada");
    /// assert_eq!(client.zcard("board").await?, 2);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`crate::ErrorKind::Server`] with `WRONGTYPE` when the key holds another type, or
    /// `ERR value is not a valid float` for a NaN score; otherwise as [`Client::command`]
    /// for a mutation.
    pub async fn zadd(
        &self,
        key: impl AsRef<[u8]>,
        member: impl AsRef<[u8]>,
        score: f64,
    ) -> Result<bool> {
        Ok(self.zadd_many(key, [(score, member)]).await? == 1)
    }

    /// Adds or moves several members in one command; how many were new.
    ///
    /// # Errors
    ///
    /// As [`Client::zadd`].
    pub async fn zadd_many<M: AsRef<[u8]>>(
        &self,
        key: impl AsRef<[u8]>,
        entries: impl IntoIterator<Item = (f64, M)>,
    ) -> Result<u64> {
        let entries: Vec<(String, M)> = entries
            .into_iter()
            .map(|(score, member)| (score_arg(score), member))
            .collect();
        let mut args: Vec<&[u8]> = vec![b"ZADD", key.as_ref()];
        for (score, member) in &entries {
            args.push(score.as_bytes());
            args.push(member.as_ref());
        }
        Ok(int(self.call(&args).await?, "ZADD")?.max(0) as u64)
    }

    /// Adds `delta` to the score of `member` (0 when missing); the new score.
    ///
    /// # Errors
    ///
    /// [`crate::ErrorKind::Server`] with `ERR resulting score is not a number (NaN)` for
    /// `inf` added to `-inf`; otherwise as [`Client::zadd`].
    pub async fn zincr_by(
        &self,
        key: impl AsRef<[u8]>,
        member: impl AsRef<[u8]>,
        delta: f64,
    ) -> Result<f64> {
        let delta = score_arg(delta);
        let reply = self
            .call(&[b"ZINCRBY", key.as_ref(), delta.as_bytes(), member.as_ref()])
            .await?;
        score_of(&reply, "ZINCRBY")
    }

    /// The score of `member`, if it is in the sorted set at `key`.
    ///
    /// # Errors
    ///
    /// [`crate::ErrorKind::Server`] with `WRONGTYPE` when the key holds another type;
    /// otherwise as [`Client::get`].
    pub async fn zscore(
        &self,
        key: impl AsRef<[u8]>,
        member: impl AsRef<[u8]>,
    ) -> Result<Option<f64>> {
        let reply = self
            .call(&[b"ZSCORE", key.as_ref(), member.as_ref()])
            .await?;
        match reply {
            Reply::Nil => Ok(None),
            reply => score_of(&reply, "ZSCORE").map(Some),
        }
    }

    /// Removes members (the key goes with its last one); how many were there.
    ///
    /// # Errors
    ///
    /// As [`Client::zadd`].
    pub async fn zrem<M: AsRef<[u8]>>(
        &self,
        key: impl AsRef<[u8]>,
        members: impl IntoIterator<Item = M>,
    ) -> Result<u64> {
        self.with_members("ZREM", key.as_ref(), members).await
    }

    /// The number of members (0 for a missing key).
    ///
    /// # Errors
    ///
    /// As [`Client::zscore`].
    pub async fn zcard(&self, key: impl AsRef<[u8]>) -> Result<u64> {
        self.count("ZCARD", &[key.as_ref()]).await
    }

    /// The number of members with a score from `min` to `max`, both included.
    ///
    /// # Errors
    ///
    /// As [`Client::zscore`].
    pub async fn zcount(&self, key: impl AsRef<[u8]>, min: f64, max: f64) -> Result<u64> {
        let (min, max) = (score_arg(min), score_arg(max));
        self.count("ZCOUNT", &[key.as_ref(), min.as_bytes(), max.as_bytes()])
            .await
    }

    /// The position of `member` from the lowest score (ties by member), if it is there.
    ///
    /// # Errors
    ///
    /// As [`Client::zscore`].
    pub async fn zrank(
        &self,
        key: impl AsRef<[u8]>,
        member: impl AsRef<[u8]>,
    ) -> Result<Option<u64>> {
        self.rank("ZRANK", key.as_ref(), member.as_ref()).await
    }

    /// The position of `member` from the highest score, if it is there.
    ///
    /// # Errors
    ///
    /// As [`Client::zscore`].
    pub async fn zrevrank(
        &self,
        key: impl AsRef<[u8]>,
        member: impl AsRef<[u8]>,
    ) -> Result<Option<u64>> {
        self.rank("ZREVRANK", key.as_ref(), member.as_ref()).await
    }

    async fn rank(&self, command: &str, key: &[u8], member: &[u8]) -> Result<Option<u64>> {
        match self.call(&[command.as_bytes(), key, member]).await? {
            Reply::Nil => Ok(None),
            reply => Ok(Some(int(reply, command)?.max(0) as u64)),
        }
    }

    /// The members at positions `start..=stop` from the lowest score (negative positions
    /// count from the end, as in Redis).
    ///
    /// # Errors
    ///
    /// As [`Client::zscore`].
    pub async fn zrange(&self, key: impl AsRef<[u8]>, start: i64, stop: i64) -> Result<Vec<Bytes>> {
        let (start, stop) = (start.to_string(), stop.to_string());
        let items = array(
            self.call(&[b"ZRANGE", key.as_ref(), start.as_bytes(), stop.as_bytes()])
                .await?,
            "ZRANGE",
        )?;
        items
            .into_iter()
            .map(|item| bulk_or_nil(item).ok_or_else(|| unexpected("ZRANGE")))
            .collect()
    }

    /// The members and scores at positions `start..=stop` from the lowest score.
    ///
    /// # Errors
    ///
    /// As [`Client::zscore`].
    pub async fn zrange_withscores(
        &self,
        key: impl AsRef<[u8]>,
        start: i64,
        stop: i64,
    ) -> Result<Vec<(Bytes, f64)>> {
        self.range_withscores(key.as_ref(), start, stop, false)
            .await
    }

    /// The members and scores at positions `start..=stop` from the highest score.
    ///
    /// # Errors
    ///
    /// As [`Client::zscore`].
    pub async fn zrevrange_withscores(
        &self,
        key: impl AsRef<[u8]>,
        start: i64,
        stop: i64,
    ) -> Result<Vec<(Bytes, f64)>> {
        self.range_withscores(key.as_ref(), start, stop, true).await
    }

    async fn range_withscores(
        &self,
        key: &[u8],
        start: i64,
        stop: i64,
        reverse: bool,
    ) -> Result<Vec<(Bytes, f64)>> {
        let (start, stop) = (start.to_string(), stop.to_string());
        let mut args: Vec<&[u8]> = vec![b"ZRANGE", key, start.as_bytes(), stop.as_bytes()];
        if reverse {
            args.push(b"REV");
        }
        args.push(b"WITHSCORES");
        scored(self.call(&args).await?, "ZRANGE")
    }

    /// The members and scores with a score from `min` to `max`, both included, lowest first.
    ///
    /// # Errors
    ///
    /// As [`Client::zscore`].
    pub async fn zrange_by_score_withscores(
        &self,
        key: impl AsRef<[u8]>,
        min: f64,
        max: f64,
    ) -> Result<Vec<(Bytes, f64)>> {
        let (min, max) = (score_arg(min), score_arg(max));
        let reply = self
            .call(&[
                b"ZRANGEBYSCORE",
                key.as_ref(),
                min.as_bytes(),
                max.as_bytes(),
                b"WITHSCORES",
            ])
            .await?;
        scored(reply, "ZRANGEBYSCORE")
    }

    /// Removes and returns up to `count` members with the lowest scores.
    ///
    /// # Errors
    ///
    /// As [`Client::zadd`].
    pub async fn zpop_min(&self, key: impl AsRef<[u8]>, count: u64) -> Result<Vec<(Bytes, f64)>> {
        self.pop("ZPOPMIN", key.as_ref(), count).await
    }

    /// Removes and returns up to `count` members with the highest scores.
    ///
    /// # Errors
    ///
    /// As [`Client::zadd`].
    pub async fn zpop_max(&self, key: impl AsRef<[u8]>, count: u64) -> Result<Vec<(Bytes, f64)>> {
        self.pop("ZPOPMAX", key.as_ref(), count).await
    }

    async fn pop(&self, command: &str, key: &[u8], count: u64) -> Result<Vec<(Bytes, f64)>> {
        let count = count.to_string();
        let reply = self
            .call(&[command.as_bytes(), key, count.as_bytes()])
            .await?;
        scored(reply, command)
    }
}
