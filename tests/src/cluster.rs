//! Three node processes, one of which (node 0) is killed, frozen or cut off.

use std::time::Duration;

use crate::netns::IsolatedNode;
use crate::NodeProcess;

/// A fault of node 0 and its heal.
#[derive(Debug, Clone, Copy)]
pub enum Fault {
    /// SIGKILL; the node comes back empty on its port.
    Kill,
    /// SIGSTOP, then SIGCONT.
    Freeze,
    /// Its network namespace cut off, then healed.
    Cut,
}

/// Three nodes; node 0, the one that fails, in its own network namespace for a cut.
pub struct Cluster {
    /// The node processes (node 0 among them unless it is isolated).
    pub nodes: Vec<NodeProcess>,
    /// Node 0, in its own network namespace, for a cut.
    pub isolated: Option<IsolatedNode>,
    /// Every node's address, node 0 first.
    pub addrs: Vec<String>,
}

impl Cluster {
    /// Three nodes, ready for `fault`.
    pub fn start(fault: Fault) -> Self {
        let isolated = matches!(fault, Fault::Cut).then(|| IsolatedNode::start(&[]));
        let plain = if isolated.is_some() { 2 } else { 3 };
        let nodes: Vec<NodeProcess> = (0..plain).map(|_| NodeProcess::start(&[])).collect();
        let mut addrs: Vec<String> = isolated.iter().map(|n| n.addr.to_string()).collect();
        addrs.extend(nodes.iter().map(|n| n.addr.to_string()));
        Self {
            nodes,
            isolated,
            addrs,
        }
    }

    /// Injects `fault` into node 0.
    pub fn begin(&mut self, fault: Fault) {
        match fault {
            Fault::Kill => {
                self.nodes[0].signal("KILL");
                self.nodes[0].wait_exit(Duration::from_secs(5));
            }
            Fault::Freeze => self.nodes[0].signal("STOP"),
            Fault::Cut => self.isolated.as_ref().unwrap().cut(),
        }
    }

    /// Heals node 0.
    pub fn end(&mut self, fault: Fault) {
        match fault {
            // Back on its port, empty.
            Fault::Kill => {
                let port = self.nodes[0].addr.port();
                self.nodes[0] = NodeProcess::start_on(port, &[]);
            }
            Fault::Freeze => self.nodes[0].signal("CONT"),
            Fault::Cut => self.isolated.as_ref().unwrap().heal(),
        }
    }

    /// A raw connection to node `index` of the ring's order.
    pub fn raw(&self, index: usize) -> crate::Client {
        match (&self.isolated, index) {
            (Some(isolated), 0) => crate::Client::connect(isolated.addr),
            (Some(_), i) => self.nodes[i - 1].client(),
            (None, i) => self.nodes[i].client(),
        }
    }
}
