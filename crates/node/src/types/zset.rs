//! The sorted-set type: members, each once, with a score; ordered by score, then by member
//! (bytewise), as Redis orders them.
//!
//! Up to [`PACKED_MAX_ENTRIES`] members of at most [`PACKED_MAX_VALUE`] bytes (Redis's
//! `zset-max-listpack-entries` and `-value` defaults) live packed in one buffer, in order:
//! `[score][len][member]...`, where a whole score takes a varint of one to a few bytes and
//! any other score nine. Past that the sorted set becomes a tree: an order-statistic B-tree
//! (`indexset`, for ranks and positions in about O(log n)) of (score, member) and a hash table
//! (hashbrown) from member to score, both holding one shared allocation of the member behind
//! an 8-byte pointer (`triomphe::ThinArc`), so an entry is 16 bytes in each. It stays a tree,
//! as Redis's skiplist stays one.

use hashbrown::{DefaultHashBuilder, HashTable};
use indexset::BTreeSet;
use std::cmp::Ordering;
use std::hash::BuildHasher;
use triomphe::ThinArc;

use super::{allocation, codec};

/// Most members a packed sorted set holds.
pub const PACKED_MAX_ENTRIES: usize = 128;
/// Longest member a packed sorted set holds.
pub const PACKED_MAX_VALUE: usize = 64;
/// Entries per node of a tree's ordered index: an insert moves at most this many entries,
/// and a node holds between half of it and all of it.
const NODE_SIZE: usize = 64;
/// Largest magnitude of a whole score stored as an integer (2^52: every such double is exact).
const WHOLE_LIMIT: f64 = 4_503_599_627_370_496.0;

/// A sorted set.
#[derive(Debug, Clone, Default)]
pub struct ZSet {
    repr: Repr,
}

#[derive(Debug, Clone)]
enum Repr {
    /// The buffer is kept at its exact size, as a hash's is.
    Packed { buf: Box<[u8]>, len: u32 },
    /// Boxed, so a packed sorted set's collection stays small.
    Tree(Box<Tree>),
}

impl Default for Repr {
    fn default() -> Self {
        Repr::Packed {
            buf: Box::default(),
            len: 0,
        }
    }
}

/// A member held once, shared by the tree and the table.
type Member = ThinArc<(), u8>;

/// A member with its score, ordered as Redis orders them.
#[derive(Debug, Clone)]
struct Entry {
    score: f64,
    member: Member,
}

impl Entry {
    fn member(&self) -> &[u8] {
        &self.member.slice
    }
}

impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        // Scores are never NaN (every write refuses one), so this order is total.
        compare(self.score, self.member(), other.score, other.member())
    }
}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Entry {}

/// Redis's order: by score, then by member bytewise (0 and -0 are one score).
fn compare(a_score: f64, a_member: &[u8], b_score: f64, b_member: &[u8]) -> Ordering {
    a_score
        .partial_cmp(&b_score)
        .unwrap_or(Ordering::Equal)
        .then_with(|| a_member.cmp(b_member))
}

#[derive(Debug, Clone)]
struct Tree {
    order: BTreeSet<Entry>,
    scores: HashTable<Entry>,
    state: DefaultHashBuilder,
    /// What the members' allocations take.
    bytes: u64,
    /// Bumped whenever table entries may move between buckets (see [`super::scan_table`]).
    generation: u16,
}

impl Default for Tree {
    fn default() -> Self {
        Self {
            order: BTreeSet::with_maximum_node_size(NODE_SIZE),
            scores: HashTable::new(),
            state: DefaultHashBuilder::default(),
            bytes: 0,
            generation: 0,
        }
    }
}

impl Tree {
    fn find(&self, member: &[u8]) -> Option<&Entry> {
        self.scores
            .find(self.state.hash_one(member), |e| e.member() == member)
    }

    fn insert(&mut self, member: &[u8], score: f64) -> bool {
        let hash = self.state.hash_one(member);
        if let Some(found) = self.scores.find_mut(hash, |e| e.member() == member) {
            let old = std::mem::replace(&mut found.score, score);
            let shared = found.member.clone();
            self.order.remove(&Entry {
                score: old,
                member: shared.clone(),
            });
            self.order.insert(Entry {
                score,
                member: shared,
            });
            return false;
        }
        let shared: Member = ThinArc::from_header_and_slice((), member);
        self.bytes += allocation(16 + member.len());
        let state = &self.state;
        let entry = Entry {
            score,
            member: shared.clone(),
        };
        super::insert_scanned(&mut self.scores, &mut self.generation, hash, entry, |e| {
            state.hash_one(e.member())
        });
        self.order.insert(Entry {
            score,
            member: shared,
        });
        true
    }

    fn remove(&mut self, member: &[u8]) -> bool {
        let hash = self.state.hash_one(member);
        let Ok(found) = self.scores.find_entry(hash, |e| e.member() == member) else {
            return false;
        };
        let (entry, _) = found.remove();
        self.bytes -= allocation(16 + entry.member().len());
        self.order.remove(&entry);
        let state = &self.state;
        super::shrink_scanned(&mut self.scores, &mut self.generation, |e| {
            state.hash_one(e.member())
        });
        true
    }

    /// What the ordered index takes at most: every node between half full and full.
    fn order_bytes(&self) -> u64 {
        let nodes = 1 + (2 * self.order.len()).div_ceil(NODE_SIZE) as u64;
        nodes * (allocation(NODE_SIZE * size_of::<Entry>()) + 32)
    }
}

/// Tag of a score stored as its eight bytes.
const RAW: u8 = 1;
/// Tag of a score stored as decimal digits and a power of ten.
const DECIMAL: u8 = 3;
/// Powers of ten that are exact doubles.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];
/// Largest digits a decimal score holds (2^53: every such integer is an exact double).
const DIGITS_LIMIT: i64 = 1 << 53;

fn zigzag(n: i64) -> u64 {
    ((n << 1) ^ (n >> 63)) as u64
}

fn unzigzag(z: u64) -> i64 {
    ((z >> 1) as i64) ^ -((z & 1) as i64)
}

/// `digits × 10^exponent`, computed exactly (both exact doubles, one correctly rounded
/// operation).
fn from_decimal(digits: i64, exponent: i8) -> Option<f64> {
    let scale = *POW10.get(usize::from(exponent.unsigned_abs()))?;
    Some(if exponent < 0 {
        digits as f64 / scale
    } else {
        digits as f64 * scale
    })
}

/// The shortest decimal form of `score` (as Rust prints it) as digits and a power of ten, if
/// it reads back to the same double exactly: 0.5 is (5, -1), 130.25 is (13025, -2).
fn to_decimal(score: f64) -> Option<(i64, i8)> {
    let text = format!("{score:e}");
    let (mantissa, exponent) = text.split_once('e')?;
    let exponent: i32 = exponent.parse().ok()?;
    let fraction = mantissa.split_once('.').map_or(0, |(_, f)| f.len()) as i32;
    let digits: i64 = mantissa.replace('.', "").parse().ok()?;
    let exponent = i8::try_from(exponent - fraction).ok()?;
    if digits.abs() >= DIGITS_LIMIT {
        return None;
    }
    let back = from_decimal(digits, exponent)?;
    (back.to_bits() == score.to_bits()).then_some((digits, exponent))
}

/// Appends a score: a whole one within ±2^52 as a varint of its zigzag form shifted left (an
/// even first byte: one byte up to ±31); one with a short decimal form as the byte 3, its
/// digits (a zigzag varint) and a power of ten (0.5 takes three bytes); any other as the byte
/// 1 and the double's eight bytes. Redis's listpack keeps a score as its `%.17g` text. -0 is
/// stored as 0, as Redis's listpack stores it (a tree keeps -0, as Redis's skiplist does).
fn put_score(out: &mut Vec<u8>, score: f64) {
    let whole = score == score.trunc() && score.abs() < WHOLE_LIMIT;
    if whole {
        codec::put_len(out, (zigzag(score as i64) << 1) as usize);
    } else if let Some((digits, exponent)) = to_decimal(score) {
        out.push(DECIMAL);
        codec::put_len(out, zigzag(digits) as usize);
        out.push(exponent as u8);
    } else {
        out.push(RAW);
        out.extend_from_slice(&score.to_le_bytes());
    }
}

/// Reads a score written by [`put_score`]; `None` if cut short or NaN.
fn take_score(input: &[u8]) -> Option<(f64, &[u8])> {
    match input.first() {
        Some(&RAW) => {
            let bytes: [u8; 8] = input.get(1..9)?.try_into().ok()?;
            let score = f64::from_le_bytes(bytes);
            (!score.is_nan()).then_some((score, &input[9..]))
        }
        Some(&DECIMAL) => {
            let (digits, rest) = codec::take_len(&input[1..])?;
            let (&exponent, rest) = rest.split_first()?;
            let score = from_decimal(unzigzag(digits as u64), exponent as i8)?;
            Some((score, rest))
        }
        _ => {
            let (tagged, rest) = codec::take_len(input)?;
            Some((unzigzag((tagged as u64) >> 1) as f64, rest))
        }
    }
}

/// Bytes a packed entry takes.
fn packed_len(member: &[u8], score: f64) -> usize {
    let mut scratch = Vec::with_capacity(10);
    put_score(&mut scratch, score);
    scratch.len() + codec::encoded_len(member)
}

/// Walks a packed buffer: each step yields (offset of the entry, member, score, offset after).
struct PackedIter<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Iterator for PackedIter<'a> {
    type Item = (usize, &'a [u8], f64, usize);
    fn next(&mut self) -> Option<Self::Item> {
        let start = self.at;
        let (score, rest) = take_score(&self.buf[start..])?;
        let (member, rest) = codec::take(rest)?;
        self.at = self.buf.len() - rest.len();
        Some((start, member, score, self.at))
    }
}

impl ZSet {
    /// An empty sorted set.
    pub fn new() -> Self {
        Self::default()
    }

    fn packed(buf: &[u8]) -> PackedIter<'_> {
        PackedIter { buf, at: 0 }
    }

    /// Members held.
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Packed { len, .. } => *len as usize,
            Repr::Tree(tree) => tree.order.len(),
        }
    }

    /// Whether it holds no member.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The score of `member`.
    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match &self.repr {
            Repr::Packed { buf, .. } => {
                Self::packed(buf).find_map(|(_, m, score, _)| (m == member).then_some(score))
            }
            Repr::Tree(tree) => tree.find(member).map(|e| e.score),
        }
    }

    /// Sets the score of `member` (never NaN); true if the member is new.
    pub fn insert(&mut self, member: &[u8], score: f64) -> bool {
        debug_assert!(!score.is_nan());
        if let Repr::Packed { buf, len } = &mut self.repr {
            let found = Self::packed(buf)
                .find(|(_, m, _, _)| *m == member)
                .map(|(start, _, old, end)| (start, old, end));
            if let Some((_, old, _)) = found {
                if old == score {
                    return false;
                }
            }
            let fits = member.len() <= PACKED_MAX_VALUE
                && (found.is_some() || (*len as usize) < PACKED_MAX_ENTRIES);
            if fits {
                if let Some((start, _, end)) = found {
                    codec::splice(buf, start..end, &[]);
                }
                let at = Self::packed(buf)
                    .find(|(_, m, s, _)| compare(*s, m, score, member) == Ordering::Greater)
                    .map_or(buf.len(), |(start, _, _, _)| start);
                let mut encoded = Vec::with_capacity(packed_len(member, score));
                put_score(&mut encoded, score);
                codec::put(&mut encoded, member);
                codec::splice(buf, at..at, &encoded);
                if found.is_none() {
                    *len += 1;
                }
                return found.is_none();
            }
            self.convert_to_tree();
        }
        match &mut self.repr {
            Repr::Tree(tree) => tree.insert(member, score),
            Repr::Packed { .. } => unreachable!("converted above"),
        }
    }

    /// Removes `member`; true if it was there.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match &mut self.repr {
            Repr::Packed { buf, len } => {
                let Some((start, _, _, end)) = Self::packed(buf).find(|(_, m, _, _)| *m == member)
                else {
                    return false;
                };
                codec::splice(buf, start..end, &[]);
                *len -= 1;
                true
            }
            Repr::Tree(tree) => tree.remove(member),
        }
    }

    fn convert_to_tree(&mut self) {
        let Repr::Packed { buf, .. } = &self.repr else {
            return;
        };
        let mut tree = Tree::default();
        for (_, member, score, _) in Self::packed(buf) {
            tree.insert(member, score);
        }
        self.repr = Repr::Tree(Box::new(tree));
    }

    /// The position of `member` in ascending order (ZRANK).
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        match &self.repr {
            Repr::Packed { buf, .. } => Self::packed(buf).position(|(_, m, _, _)| m == member),
            Repr::Tree(tree) => tree.find(member).map(|entry| tree.order.rank(entry)),
        }
    }

    /// The member and score at position `index` in ascending order.
    pub fn at(&self, index: usize) -> Option<(&[u8], f64)> {
        match &self.repr {
            Repr::Packed { buf, .. } => Self::packed(buf).nth(index).map(|(_, m, s, _)| (m, s)),
            Repr::Tree(tree) => tree.order.get_index(index).map(|e| (e.member(), e.score)),
        }
    }

    /// The members and scores at positions `start..end` in ascending order.
    pub fn range(&self, start: usize, end: usize) -> Box<dyn Iterator<Item = (&[u8], f64)> + '_> {
        let end = end.min(self.len());
        if start >= end {
            return Box::new(std::iter::empty());
        }
        match &self.repr {
            Repr::Packed { buf, .. } => Box::new(
                Self::packed(buf)
                    .skip(start)
                    .take(end - start)
                    .map(|(_, m, s, _)| (m, s)),
            ),
            Repr::Tree(tree) => Box::new(
                tree.order
                    .range_idx(start..end)
                    .map(|e| (e.member(), e.score)),
            ),
        }
    }

    /// Every member and score, in ascending order.
    pub fn iter(&self) -> Box<dyn Iterator<Item = (&[u8], f64)> + '_> {
        self.range(0, self.len())
    }

    /// How many members, from the lowest, satisfy `before` (which must hold for a prefix of
    /// the order and not after it: "score below 5", "member before [c"): where a range starts
    /// or ends. A binary search over positions.
    pub fn partition_point(&self, before: impl Fn(&[u8], f64) -> bool) -> usize {
        let (mut low, mut high) = (0, self.len());
        while low < high {
            let mid = low + (high - low) / 2;
            match self.at(mid) {
                Some((member, score)) if before(member, score) => low = mid + 1,
                _ => high = mid,
            }
        }
        low
    }

    /// A member chosen by `random` (a random number), uniformly; `None` when empty.
    pub fn pick(&self, random: u64) -> Option<(&[u8], f64)> {
        let len = self.len() as u64;
        if len == 0 {
            return None;
        }
        self.at((random % len) as usize)
    }

    /// One step of ZSCAN from `cursor`: calls `visit` for about `count` members and returns
    /// the cursor to continue from, 0 at the end. A packed sorted set is returned whole; a
    /// tree is walked by its hash table's buckets ([`super::scan_table`]).
    pub fn scan(&self, cursor: u64, count: usize, visit: &mut dyn FnMut(&[u8], f64)) -> u64 {
        match &self.repr {
            Repr::Packed { .. } => {
                for (member, score) in self.iter() {
                    visit(member, score);
                }
                0
            }
            Repr::Tree(tree) => {
                super::scan_table(&tree.scores, tree.generation, cursor, count, &mut |e| {
                    visit(e.member(), e.score)
                })
            }
        }
    }

    /// OBJECT ENCODING's name for its representation.
    pub fn encoding(&self) -> &'static str {
        match &self.repr {
            Repr::Packed { .. } => "listpack",
            Repr::Tree(_) => "skiplist",
        }
    }

    /// The bytes it takes: the packed buffer, or the tree's index, table and members.
    pub fn weight(&self) -> u64 {
        match &self.repr {
            Repr::Packed { buf, .. } => allocation(buf.len()),
            Repr::Tree(tree) => {
                allocation(size_of::<Tree>())
                    + tree.order_bytes()
                    + allocation(tree.scores.allocation_size())
                    + tree.bytes
            }
        }
    }

    /// Appends the dump: the count, then each score and member in order. The order is the
    /// same for equal sorted sets, so this is also the canonical dump.
    pub fn dump(&self, out: &mut Vec<u8>) {
        codec::put_len(out, self.len());
        match &self.repr {
            Repr::Packed { buf, .. } => out.extend_from_slice(buf),
            Repr::Tree(_) => {
                for (member, score) in self.iter() {
                    put_score(out, score);
                    codec::put(out, member);
                }
            }
        }
    }

    /// The sorted set a dump holds; `None` if it is malformed (cut short, trailing bytes, a
    /// member twice, a NaN score).
    pub fn restore(dump: &[u8]) -> Option<ZSet> {
        let (count, mut rest) = codec::take_len(dump)?;
        let mut zset = ZSet::new();
        for _ in 0..count {
            let (score, after) = take_score(rest)?;
            let (member, after) = codec::take(after)?;
            rest = after;
            if !zset.insert(member, score) {
                return None;
            }
        }
        rest.is_empty().then_some(zset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn check(zset: &ZSet, model: &BTreeMap<Vec<u8>, f64>) {
        assert_eq!(zset.len(), model.len());
        let mut ordered: Vec<(Vec<u8>, f64)> = model.iter().map(|(m, s)| (m.clone(), *s)).collect();
        ordered.sort_by(|a, b| compare(a.1, &a.0, b.1, &b.0));
        let seen: Vec<(Vec<u8>, f64)> = zset.iter().map(|(m, s)| (m.to_vec(), s)).collect();
        assert_eq!(seen, ordered);
        for (i, (member, score)) in ordered.iter().enumerate() {
            assert_eq!(zset.score(member), Some(*score));
            assert_eq!(zset.rank(member), Some(i));
            assert_eq!(
                zset.at(i).map(|(m, s)| (m.to_vec(), s)),
                Some((member.clone(), *score))
            );
        }
        let below = zset.partition_point(|_, s| s < 50.0);
        assert_eq!(below, ordered.iter().filter(|(_, s)| *s < 50.0).count());
        let mut dump = Vec::new();
        zset.dump(&mut dump);
        let back = ZSet::restore(&dump).expect("a dump restores");
        let again: Vec<(Vec<u8>, f64)> = back.iter().map(|(m, s)| (m.to_vec(), s)).collect();
        assert_eq!(again, ordered);
        let mut scanned = Vec::new();
        let mut cursor = 0;
        loop {
            cursor = zset.scan(cursor, 10, &mut |m, s| scanned.push((m.to_vec(), s)));
            if cursor == 0 {
                break;
            }
        }
        scanned.sort_by(|a, b| compare(a.1, &a.0, b.1, &b.0));
        assert_eq!(scanned, ordered);
    }

    #[test]
    fn packed_then_tree_behave_the_same() {
        let mut zset = ZSet::new();
        let mut model = BTreeMap::new();
        for i in 0..600u32 {
            let member = format!("m{}", i % 260).into_bytes();
            let score = match i % 5 {
                0 => f64::from(i % 97),
                1 => f64::from(i) / 7.0,
                2 => -f64::from(i),
                3 => 1e300 * f64::from(i % 3),
                _ => 42.0,
            };
            assert_eq!(
                zset.insert(&member, score),
                model.insert(member.clone(), score).is_none()
            );
            if i % 3 == 0 {
                let gone = format!("m{}", i / 3).into_bytes();
                assert_eq!(zset.remove(&gone), model.remove(&gone).is_some());
            }
            if i == 100 {
                assert_eq!(zset.encoding(), "listpack");
                check(&zset, &model);
            }
        }
        assert_eq!(zset.encoding(), "skiplist");
        check(&zset, &model);
    }

    #[test]
    fn scores_pack_small() {
        for score in [
            0.0,
            1.0,
            -1.0,
            1e15,
            -4.5e15,
            0.1,
            0.1 + 0.2,
            1.5e-300,
            123.456,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ] {
            let mut out = Vec::new();
            put_score(&mut out, score);
            let (back, rest) = take_score(&out).unwrap();
            assert!(rest.is_empty());
            assert_eq!(back.to_bits(), score.to_bits(), "{score}");
        }
        let mut out = Vec::new();
        put_score(&mut out, -0.0);
        assert_eq!(take_score(&out).unwrap().0.to_bits(), 0.0f64.to_bits());
        assert_eq!(packed_len(b"abc", 7.0), 1 + 4);
        assert_eq!(packed_len(b"abc", 0.5), 3 + 4);
        assert_eq!(
            packed_len(b"abc", 0.1 + 0.2),
            9 + 4,
            "no short decimal form"
        );
        assert_eq!(to_decimal(130.25), Some((13025, -2)));
        assert_eq!(to_decimal(1.1), Some((11, -1)));
        assert_eq!(
            to_decimal(1e-30),
            None,
            "a power of ten beyond the exact ones"
        );
        // Every double with a short decimal form reads back bit for bit.
        for i in 0..100_000u32 {
            let score = f64::from(i) / 1000.0 - 37.5;
            let mut out = Vec::new();
            put_score(&mut out, score);
            assert_eq!(
                take_score(&out).unwrap().0.to_bits(),
                score.to_bits(),
                "{score}"
            );
        }
    }

    #[test]
    fn a_long_member_makes_a_tree_and_ties_order_by_member() {
        let mut zset = ZSet::new();
        zset.insert(b"b", 1.0);
        zset.insert(b"a", 1.0);
        zset.insert(b"c", 0.0);
        let order: Vec<&[u8]> = zset.iter().map(|(m, _)| m).collect();
        assert_eq!(order, [&b"c"[..], b"a", b"b"]);
        zset.insert(&[b'x'; 65], 5.0);
        assert_eq!(zset.encoding(), "skiplist");
        assert_eq!(zset.rank(b"b"), Some(2));
        assert!(!zset.insert(b"a", 1.0), "the same score changes nothing");
        assert!(!zset.insert(b"a", 9.0));
        assert_eq!(zset.rank(b"a"), Some(3));
    }

    #[test]
    fn malformed_dumps_are_refused() {
        let mut zset = ZSet::new();
        zset.insert(b"m", 1.5);
        let mut dump = Vec::new();
        zset.dump(&mut dump);
        assert!(ZSet::restore(&dump[..dump.len() - 1]).is_none());
        let mut trailing = dump.clone();
        trailing.push(0);
        assert!(ZSet::restore(&trailing).is_none());
        assert!(
            ZSet::restore(&[2, 2, 1, b'm', 4, 1, b'm']).is_none(),
            "a member twice"
        );
        let mut nan = vec![1, 1];
        nan.extend_from_slice(&f64::NAN.to_le_bytes());
        nan.extend_from_slice(&[1, b'm']);
        assert!(ZSet::restore(&nan).is_none());
    }
}
