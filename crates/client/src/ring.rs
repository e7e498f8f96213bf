//! The consistent-hash ring: where a key lives, and on which nodes its replicas live.
//!
//! The layout is specified byte for byte in `docs/ring.md` so that any implementation, in any
//! language, places keys identically:
//!
//! - a node's identity is its configured name (by default the `host:port` text as configured,
//!   never a resolved address), so a DNS change moves no key;
//! - each node gets `round(160 × weight)` points (at least one); point `i` of node `name` sits at
//!   `SipHash-2-4(k0 = 0, k1 = 0)` of the UTF-8 bytes `name` + `-` + decimal `i`;
//! - a key hashes the same way over its bytes, or only over its hash tag (the bytes between the
//!   first `{` and the next `}`, when non-empty: Redis Cluster's rule);
//! - the key's primary owns the first point at or after the key's hash (wrapping to the first
//!   point), and its replicas are the next distinct nodes met walking clockwise.
//!
//! Hashing goes through `hashring`'s hasher over explicit bytes (`RawBytes`): std's `Hash` for
//! `str` and `[u8]` adds bytes of its own that no other language would reproduce. hashring's
//! own ring cannot place replicas (its `get_with_replicas` clones the ring and repeats nodes), so
//! the points live here, and a test checks that primaries match `hashring::HashRing::get`.

use std::hash::{BuildHasher, Hash, Hasher};

use hashring::DefaultHashBuilder;

/// Points per node of weight 1: twemproxy's and libmemcached's ketama default.
pub const POINTS_PER_NODE: u32 = 160;

/// Bytes fed to a hasher exactly as they are, with no length prefix or terminator.
#[derive(Debug, Clone, Copy)]
pub struct RawBytes<'a>(pub &'a [u8]);

impl Hash for RawBytes<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write(self.0);
    }
}

/// SipHash-2-4 with key (0, 0) over `bytes`: the ring's hash function.
pub fn hash_bytes(bytes: &[u8]) -> u64 {
    DefaultHashBuilder.hash_one(RawBytes(bytes))
}

/// The part of `key` that is hashed: the hash tag if the key has a non-empty `{tag}`, else
/// the whole key (Redis Cluster's rule: the first `{`, then the first `}` after it).
pub fn hash_tag(key: &[u8]) -> &[u8] {
    if let Some(open) = key.iter().position(|&b| b == b'{') {
        if let Some(len) = key[open + 1..].iter().position(|&b| b == b'}') {
            if len > 0 {
                return &key[open + 1..open + 1 + len];
            }
        }
    }
    key
}

/// The ring position of a key.
pub fn key_hash(key: &[u8]) -> u64 {
    hash_bytes(hash_tag(key))
}

/// The bytes hashed for point `index` of node `name`: `name-index`.
pub fn point_bytes(name: &str, index: u32) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(name.len() + 11);
    bytes.extend_from_slice(name.as_bytes());
    bytes.push(b'-');
    bytes.extend_from_slice(itoa::Buffer::new().format(index).as_bytes());
    bytes
}

/// How many points a node of `weight` gets.
pub fn points_for(weight: f64) -> u32 {
    let points = (f64::from(POINTS_PER_NODE) * weight).round();
    if points.is_finite() && points >= 1.0 {
        points.min(f64::from(u32::MAX)) as u32
    } else {
        1
    }
}

/// A ring over a fixed list of nodes, identified by their position in that list.
///
/// ```
/// use cachering_client::ring::Ring;
///
/// let ring = Ring::new(&[("a:6379", 1.0), ("b:6379", 1.0), ("c:6379", 1.0)]);
/// let replicas = ring.replicas(b"user:42", 2);
/// assert_eq!(replicas.len(), 2);
/// assert_ne!(replicas[0], replicas[1]);
/// assert_eq!(ring.primary(b"user:42"), Some(replicas[0]));
/// // Keys with the same hash tag land together.
/// assert_eq!(ring.replicas(b"{user:42}:name", 2), ring.replicas(b"{user:42}:email", 2));
/// ```
#[derive(Debug, Clone)]
pub struct Ring {
    /// Point positions, sorted. Kept apart from `owners` so the binary search reads only
    /// positions: 8 bytes a point instead of 16, half the cache lines touched.
    hashes: Vec<u64>,
    /// The node owning each point, by the same index.
    owners: Vec<u32>,
    names: Vec<String>,
}

impl Ring {
    /// A ring over `(name, weight)` pairs; a node's index is its position in `nodes`.
    pub fn new<S: AsRef<str>>(nodes: &[(S, f64)]) -> Self {
        let mut points: Vec<(u64, u32)> = Vec::new();
        for (index, (name, weight)) in nodes.iter().enumerate() {
            for point in 0..points_for(*weight) {
                points.push((hash_bytes(&point_bytes(name.as_ref(), point)), index as u32));
            }
        }
        // Stable: points with equal hashes keep node order, as hashring's sort does.
        points.sort_by_key(|point| point.0);
        Self {
            hashes: points.iter().map(|point| point.0).collect(),
            owners: points.iter().map(|point| point.1).collect(),
            names: nodes
                .iter()
                .map(|(name, _)| name.as_ref().to_string())
                .collect(),
        }
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether the ring has no node.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The name of node `index`.
    pub fn name(&self, index: usize) -> &str {
        &self.names[index]
    }

    /// All node names, by index.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    fn first_point_at_or_after(&self, hash: u64) -> usize {
        let index = self.hashes.partition_point(|&point| point < hash);
        if index == self.hashes.len() {
            0
        } else {
            index
        }
    }

    /// The key's primary node, `None` for an empty ring.
    pub fn primary(&self, key: &[u8]) -> Option<usize> {
        if self.hashes.is_empty() {
            return None;
        }
        Some(self.owners[self.first_point_at_or_after(key_hash(key))] as usize)
    }

    /// The key's `count` replica nodes (fewer if the ring is smaller), primary first, in ring
    /// order. The returned list is the only allocation.
    pub fn replicas(&self, key: &[u8], count: usize) -> Vec<usize> {
        let mut out = Vec::with_capacity(count.min(self.names.len()));
        self.replicas_into(key, count, &mut out);
        out
    }

    /// Like [`replicas`](Self::replicas), into a caller's buffer (cleared first).
    pub fn replicas_into(&self, key: &[u8], count: usize, out: &mut Vec<usize>) {
        out.clear();
        let wanted = count.min(self.names.len());
        if wanted == 0 {
            return;
        }
        let start = self.first_point_at_or_after(key_hash(key));
        let total = self.owners.len();
        for step in 0..total {
            let index = if start + step < total {
                start + step
            } else {
                start + step - total
            };
            let node = self.owners[index] as usize;
            if !out.contains(&node) {
                out.push(node);
                if out.len() == wanted {
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn names(n: usize) -> Vec<(String, f64)> {
        (0..n).map(|i| (format!("10.0.0.{i}:6379"), 1.0)).collect()
    }

    /// A hashring node with explicit bytes, to compare placements with hashring's own ring.
    #[derive(Debug, Clone)]
    struct VNode {
        bytes: Vec<u8>,
        node: usize,
    }

    impl Hash for VNode {
        fn hash<H: Hasher>(&self, state: &mut H) {
            state.write(&self.bytes);
        }
    }

    #[test]
    fn primaries_match_hashring_over_100k_keys() {
        let nodes = names(5);
        let ring = Ring::new(&nodes);
        let mut reference = hashring::HashRing::new();
        let vnodes = nodes
            .iter()
            .enumerate()
            .flat_map(|(node, (name, _))| {
                (0..POINTS_PER_NODE).map(move |i| VNode {
                    bytes: point_bytes(name, i),
                    node,
                })
            })
            .collect();
        reference.batch_add(vnodes);
        for i in 0..100_000 {
            let key = format!("key:{i}");
            let expected = reference.get(&RawBytes(key.as_bytes())).unwrap().node;
            assert_eq!(ring.primary(key.as_bytes()), Some(expected), "{key}");
        }
    }

    #[test]
    fn hash_tags_follow_redis_cluster() {
        assert_eq!(hash_tag(b"{user1000}.following"), b"user1000");
        assert_eq!(hash_tag(b"foo{}{bar}"), b"foo{}{bar}");
        assert_eq!(hash_tag(b"foo{{bar}}zap"), b"{bar");
        assert_eq!(hash_tag(b"foo{bar}{zap}"), b"bar");
        assert_eq!(hash_tag(b"nobraces"), b"nobraces");
        assert_eq!(hash_tag(b"open{only"), b"open{only");
    }

    #[test]
    fn siphash_matches_the_reference_vectors() {
        // Computed by an independent SipHash-2-4 (checked against the reference vector for
        // key 00..0f) with key (0, 0); docs/ring.md lists them.
        assert_eq!(hash_bytes(b""), 0x1e92_4b9d_7377_00d7);
        assert_eq!(hash_bytes(b"a"), 0x96c2_0860_cd93_a249);
    }

    #[test]
    fn balance_and_movement() {
        let ring = Ring::new(&names(3));
        let mut load = [0usize; 3];
        for i in 0..30_000 {
            load[ring.primary(format!("k{i}").as_bytes()).unwrap()] += 1;
        }
        let mean = 10_000.0;
        let max = *load.iter().max().unwrap() as f64;
        assert!(max / mean < 1.25, "max/mean {}", max / mean);
    }

    #[test]
    fn weights_scale_points() {
        assert_eq!(points_for(1.0), 160);
        assert_eq!(points_for(0.5), 80);
        assert_eq!(points_for(0.0), 1);
        assert_eq!(points_for(f64::NAN), 1);
        let ring = Ring::new(&[("a", 1.0), ("b", 3.0)]);
        let heavy = (0..20_000)
            .filter(|i| ring.primary(format!("k{i}").as_bytes()) == Some(1))
            .count();
        assert!((13_000..17_000).contains(&heavy), "{heavy}");
    }

    proptest! {
        #[test]
        fn replica_lists_hold_distinct_nodes(key in proptest::collection::vec(any::<u8>(), 0..40), n in 1usize..12, r in 1usize..5) {
            let ring = Ring::new(&names(n));
            let replicas = ring.replicas(&key, r);
            prop_assert_eq!(replicas.len(), r.min(n));
            let mut sorted = replicas.clone();
            sorted.sort_unstable();
            sorted.dedup();
            prop_assert_eq!(sorted.len(), replicas.len());
            prop_assert_eq!(Some(replicas[0]), ring.primary(&key));
        }

        #[test]
        fn adding_a_node_moves_keys_only_to_it(n in 2usize..8) {
            let before = Ring::new(&names(n));
            let after = Ring::new(&names(n + 1));
            let mut moved = 0;
            for i in 0..5_000 {
                let key = format!("key:{i}");
                let (old, new) = (before.primary(key.as_bytes()).unwrap(), after.primary(key.as_bytes()).unwrap());
                if old != new {
                    prop_assert_eq!(new, n, "a key moved between old nodes");
                    moved += 1;
                }
            }
            let share = moved as f64 / 5_000.0;
            let ideal = 1.0 / (n as f64 + 1.0);
            prop_assert!(share > ideal * 0.6 && share < ideal * 1.5, "moved {share}, ideal {ideal}");
        }

        #[test]
        fn removing_a_node_moves_only_its_keys(n in 3usize..8, removed in 0usize..3) {
            let all = names(n);
            let before = Ring::new(&all);
            let kept: Vec<(String, f64)> = all.iter().enumerate().filter(|(i, _)| *i != removed).map(|(_, node)| node.clone()).collect();
            let after = Ring::new(&kept);
            for i in 0..5_000 {
                let key = format!("key:{i}");
                let old = before.name(before.primary(key.as_bytes()).unwrap());
                let new = after.name(after.primary(key.as_bytes()).unwrap());
                if old != before.name(removed) {
                    prop_assert_eq!(old, new, "a key not on the removed node moved");
                }
            }
        }
    }
}

#[cfg(test)]
mod golden {
    use super::Ring;

    /// The vectors of docs/ring.md, read from the document itself so the two cannot drift.
    #[test]
    fn docs_ring_md_vectors() {
        let doc = include_str!("../../../docs/ring.md");
        let ring = Ring::new(&[
            ("10.0.0.1:6379", 1.0),
            ("10.0.0.2:6379", 1.0),
            ("10.0.0.3:6379", 1.0),
            ("cache-d.internal:6380", 2.0),
        ]);
        let mut checked = 0;
        for line in doc.lines() {
            let cells: Vec<&str> = line
                .trim()
                .trim_matches('|')
                .split('|')
                .map(str::trim)
                .collect();
            if cells.len() != 3 || !cells[0].starts_with('`') || !cells[2].contains(':') {
                continue;
            }
            let hex = cells[0].trim_matches('`');
            let key: Vec<u8> = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                .collect();
            let expected: Vec<&str> = cells[2].split_whitespace().collect();
            let got: Vec<&str> = ring
                .replicas(&key, 3)
                .into_iter()
                .map(|i| ring.name(i))
                .collect();
            assert_eq!(got, expected, "key {hex}");
            checked += 1;
        }
        assert_eq!(checked, 12);
    }
}
