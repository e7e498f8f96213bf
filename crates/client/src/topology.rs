//! The topology: the ring and the nodes on it, swapped as one value when the node list changes,
//! so a request sees one consistent ring from start to end.

use std::sync::Arc;

use smallvec::SmallVec;

use crate::node::Node;
use crate::ring::Ring;

/// A key's replicas, primary first. No allocation for up to four.
pub(crate) type Replicas = SmallVec<[Arc<Node>; 4]>;

pub(crate) struct Topology {
    pub ring: Ring,
    pub nodes: Vec<Arc<Node>>,
}

impl Topology {
    /// A topology over `nodes`, each placed by its name and weight.
    pub fn new(nodes: Vec<Arc<Node>>) -> Self {
        let specs: Vec<(&str, f64)> = nodes
            .iter()
            .map(|node| (node.spec.name.as_str(), node.spec.weight))
            .collect();
        Self {
            ring: Ring::new(&specs),
            nodes,
        }
    }

    /// The `count` replicas of `key`, in ring order. This runs for every command: the ring
    /// walk fills a per-thread index buffer, and the result allocates nothing for R <= 4.
    pub fn replicas(&self, key: &[u8], count: usize) -> Replicas {
        thread_local! {
            static INDICES: std::cell::RefCell<Vec<usize>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        INDICES.with_borrow_mut(|indices| {
            self.ring.replicas_into(key, count, indices);
            indices
                .iter()
                .map(|&index| Arc::clone(&self.nodes[index]))
                .collect()
        })
    }
}
