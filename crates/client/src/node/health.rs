//! Health: `Healthy` → (consecutive failures reach the threshold, and the ejection cap allows)
//! → `Ejected` → (a probe after a jittered, doubling wait: connect, PING every connection,
//! read the run id) → `Recovering` (repair: invalidate hinted keys, or empty the node if the
//! hints overflowed; writes reach it, reads do not) → `Healthy`.
//!
//! Timing runs on tokio's clock, so tests can pause and advance it.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::{Node, NodeState};
use crate::backoff::Backoff;
use crate::error::{Error, Result};

impl Node {
    pub(super) fn record_success(&self) {
        self.failures.store(0, Ordering::Relaxed);
    }

    pub(super) fn record_failure(self: &Arc<Self>, error: &Error) {
        let failures = self.failures.fetch_add(1, Ordering::AcqRel) + 1;
        if failures >= self.settings.failure_threshold && self.state() == NodeState::Healthy {
            self.try_eject(error);
        }
    }

    fn try_eject(self: &Arc<Self>, error: &Error) {
        let total = self.fleet.total.load(Ordering::Acquire);
        let allowed = ((total as f64) * self.settings.max_ejected_fraction).floor() as usize;
        let admitted = self
            .fleet
            .ejected
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |ejected| {
                (ejected < allowed).then_some(ejected + 1)
            })
            .is_ok();
        if !admitted {
            tracing::warn!(node = self.name(), %error, allowed, "not ejecting: the ejection cap is reached");
            return;
        }
        if self
            .state
            .compare_exchange(
                NodeState::Healthy.as_u8(),
                NodeState::Ejected.as_u8(),
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_err()
        {
            self.fleet.ejected.fetch_sub(1, Ordering::AcqRel);
            return;
        }
        self.metrics.state.set(1.0);
        self.metrics.ejections.increment(1);
        // Writes queued for the node are dropped with its connections (each was hinted when it
        // failed); if they arrived after the node's return they could revive deleted keys.
        self.pool.abort_all();
        tracing::warn!(node = self.name(), %error, "node ejected after consecutive failures");
        self.fleet.rediscover.notify_one();
        tokio::spawn(Arc::clone(self).probe_until_back());
    }

    /// Probes with jittered exponential backoff until the node answers, then repairs and
    /// re-admits it.
    async fn probe_until_back(self: Arc<Self>) {
        let mut backoff = Backoff::new(
            self.settings.probe_interval,
            self.settings.max_probe_interval,
        );
        loop {
            tokio::time::sleep(backoff.next_wait()).await;
            if self.retired.load(Ordering::Acquire) {
                return;
            }
            self.probes.fetch_add(1, Ordering::Relaxed);
            self.metrics.probes.increment(1);
            match self.probe().await {
                Ok(()) => {
                    self.set_state(NodeState::Recovering);
                    match self.repair().await {
                        Ok(()) => {
                            self.failures.store(0, Ordering::Relaxed);
                            self.fleet.ejected.fetch_sub(1, Ordering::AcqRel);
                            self.set_state(NodeState::Healthy);
                            self.metrics.readmissions.increment(1);
                            tracing::info!(node = self.name(), "node re-admitted after repair");
                            return;
                        }
                        Err(error) => {
                            tracing::warn!(node = self.name(), %error, "repair failed; node stays ejected");
                            self.set_state(NodeState::Ejected);
                        }
                    }
                }
                Err(error) => tracing::debug!(node = self.name(), %error, "probe failed"),
            }
        }
    }

    /// PINGs every connection slot. The connections open at ejection were aborted, so these
    /// are new, and nothing sent before the outage can overtake the repair that follows.
    async fn probe(self: &Arc<Self>) -> Result<()> {
        for slot in 0..self.slots() {
            self.call(slot, &[b"PING"]).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;
    use std::sync::Arc;
    use std::time::Duration;

    use crate::error::{Error, ErrorKind};
    use crate::node::{Fleet, Node, NodeState};
    use crate::options::{NodeSpec, Settings};

    fn node(fleet: &Arc<Fleet>, settings: Settings) -> Arc<Node> {
        // Nothing listens on port 1: every probe fails.
        Node::new(
            NodeSpec::new("127.0.0.1:1"),
            Arc::new(settings),
            Arc::clone(fleet),
        )
    }

    fn failure() -> Error {
        Error::new(ErrorKind::Timeout, "test")
    }

    #[tokio::test(start_paused = true)]
    async fn ejected_after_the_threshold_within_the_cap() {
        let fleet = Arc::new(Fleet::default());
        fleet.total.store(4, Ordering::Release);
        let settings = Settings {
            failure_threshold: 3,
            max_ejected_fraction: 0.5,
            ..Settings::default()
        };
        let nodes: Vec<Arc<Node>> = (0..3).map(|_| node(&fleet, settings.clone())).collect();
        for node in &nodes {
            node.record_failure(&failure());
            node.record_failure(&failure());
            assert_eq!(
                node.state(),
                NodeState::Healthy,
                "two failures eject nothing"
            );
        }
        nodes[0].record_success();
        nodes[0].record_failure(&failure());
        nodes[0].record_failure(&failure());
        assert_eq!(
            nodes[0].state(),
            NodeState::Healthy,
            "a success resets the count"
        );
        for node in &nodes {
            node.record_failure(&failure());
        }
        let ejected = nodes
            .iter()
            .filter(|n| n.state() == NodeState::Ejected)
            .count();
        assert_eq!(ejected, 2, "half of four nodes may be ejected, not three");
        for node in &nodes {
            node.retire();
        }
    }

    #[tokio::test(start_paused = true)]
    async fn probes_back_off_up_to_the_longest_wait() {
        let fleet = Arc::new(Fleet::default());
        fleet.total.store(2, Ordering::Release);
        let settings = Settings {
            failure_threshold: 1,
            probe_interval: Duration::from_secs(1),
            max_probe_interval: Duration::from_secs(8),
            request_timeout: Duration::from_millis(50),
            connect_timeout: Duration::from_millis(50),
            ..Settings::default()
        };
        let node = node(&fleet, settings);
        node.record_failure(&failure());
        assert_eq!(node.state(), NodeState::Ejected);
        let probes = || node.probes.load(Ordering::Relaxed);
        // Waits lie in [1, 2), [2, 4), [4, 8), then stay in [4, 8].
        tokio::time::sleep(Duration::from_millis(900)).await;
        assert_eq!(probes(), 0, "no probe before the first wait");
        tokio::time::sleep(Duration::from_millis(1200)).await;
        assert_eq!(probes(), 1, "one probe within the first two seconds");
        tokio::time::sleep(Duration::from_secs(60)).await;
        let after_a_minute = probes();
        assert!(
            (8..=17).contains(&after_a_minute),
            "{after_a_minute} probes in a minute: waits should reach 4-8 s"
        );
        assert_eq!(node.state(), NodeState::Ejected);
        node.retire();
    }
}
