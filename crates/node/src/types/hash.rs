//! The hash type: fields and their values.
//!
//! Up to [`PACKED_MAX_ENTRIES`] entries whose fields and values are at most
//! [`PACKED_MAX_VALUE`] bytes (Redis's `hash-max-listpack-entries` and `-value` defaults) live
//! packed in one buffer, `[len][field][len][value]...`, searched linearly: a few bytes of
//! overhead per entry. Past that the hash becomes a table (hashbrown) of single allocations,
//! each `[len][field][value]`, and stays one.

use hashbrown::{DefaultHashBuilder, HashTable};
use std::hash::BuildHasher;

use super::{allocation, codec};

/// Most entries a packed hash holds.
pub const PACKED_MAX_ENTRIES: usize = 128;
/// Longest field or value a packed hash holds.
pub const PACKED_MAX_VALUE: usize = 64;

/// A hash.
#[derive(Debug, Clone, Default)]
pub struct Hash {
    repr: Repr,
}

#[derive(Debug, Clone)]
enum Repr {
    /// The buffer is kept at its exact size (a boxed slice, reallocated on each change as Redis
    /// reallocates a listpack): a doubling vector would leave up to half of every small hash
    /// unused, and its capacity word would make every collection larger.
    Packed { buf: Box<[u8]>, len: u32 },
    /// Boxed, so a packed hash's collection stays small.
    Table(Box<Table>),
}

impl Default for Repr {
    fn default() -> Self {
        Repr::Packed {
            buf: Box::default(),
            len: 0,
        }
    }
}

#[derive(Debug, Clone, Default)]
struct Table {
    entries: HashTable<Box<[u8]>>,
    state: DefaultHashBuilder,
    /// What the entries' allocations take.
    bytes: u64,
    /// Bumped whenever entries may move between buckets (a grow, a shrink, a rehash in
    /// place): a scan cursor from before then starts over.
    generation: u16,
}

/// One table entry: `[len][field][value]`.
fn entry(field: &[u8], value: &[u8]) -> Box<[u8]> {
    let mut out = Vec::with_capacity(codec::encoded_len(field) + value.len());
    codec::put(&mut out, field);
    out.extend_from_slice(value);
    out.into_boxed_slice()
}

/// The field and value of a table entry.
fn split(entry: &[u8]) -> (&[u8], &[u8]) {
    // Entries are built by `entry`, so they always decode.
    codec::take(entry).unwrap_or((&[], &[]))
}

/// Walks a packed buffer: each step yields (offset of the entry, field, value, offset after).
struct PackedIter<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Iterator for PackedIter<'a> {
    type Item = (usize, &'a [u8], &'a [u8], usize);
    fn next(&mut self) -> Option<Self::Item> {
        let start = self.at;
        let rest = &self.buf[start..];
        let (field, rest) = codec::take(rest)?;
        let (value, rest) = codec::take(rest)?;
        self.at = self.buf.len() - rest.len();
        Some((start, field, value, self.at))
    }
}

impl Table {
    fn hash(&self, field: &[u8]) -> u64 {
        self.state.hash_one(field)
    }

    fn get(&self, field: &[u8]) -> Option<&[u8]> {
        self.entries
            .find(self.hash(field), |e| split(e).0 == field)
            .map(|e| split(e).1)
    }

    fn set(&mut self, field: &[u8], value: &[u8]) -> bool {
        let hash = self.hash(field);
        let new = entry(field, value);
        self.bytes += allocation(new.len());
        let state = &self.state;
        match self.entries.find_mut(hash, |e| split(e).0 == field) {
            Some(slot) => {
                self.bytes -= allocation(slot.len());
                *slot = new;
                false
            }
            None => {
                super::insert_scanned(&mut self.entries, &mut self.generation, hash, new, |e| {
                    state.hash_one(split(e).0)
                });
                true
            }
        }
    }

    fn remove(&mut self, field: &[u8]) -> bool {
        let hash = self.hash(field);
        match self.entries.find_entry(hash, |e| split(e).0 == field) {
            Ok(found) => {
                let (old, _) = found.remove();
                self.bytes -= allocation(old.len());
                true
            }
            Err(_) => false,
        }
    }
}

impl Hash {
    /// An empty hash.
    pub fn new() -> Self {
        Self::default()
    }

    fn packed(buf: &[u8]) -> PackedIter<'_> {
        PackedIter { buf, at: 0 }
    }

    /// Fields held.
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Packed { len, .. } => *len as usize,
            Repr::Table(table) => table.entries.len(),
        }
    }

    /// Whether it holds no field.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value of `field`.
    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        match &self.repr {
            Repr::Packed { buf, .. } => {
                Self::packed(buf).find_map(|(_, f, v, _)| (f == field).then_some(v))
            }
            Repr::Table(table) => table.get(field),
        }
    }

    /// Sets `field` to `value`; true if the field is new.
    pub fn set(&mut self, field: &[u8], value: &[u8]) -> bool {
        if let Repr::Packed { buf, len } = &mut self.repr {
            let found = Self::packed(buf).find(|(_, f, _, _)| *f == field);
            let fits = field.len() <= PACKED_MAX_VALUE && value.len() <= PACKED_MAX_VALUE;
            match found {
                Some((_, _, old, end)) if fits => {
                    // Replace the value in place: the field's encoding stays.
                    let value_at = end - codec::encoded_len(old);
                    let mut encoded = Vec::with_capacity(codec::encoded_len(value));
                    codec::put(&mut encoded, value);
                    codec::splice(buf, value_at..end, &encoded);
                    return false;
                }
                None if fits && (*len as usize) < PACKED_MAX_ENTRIES => {
                    let mut encoded =
                        Vec::with_capacity(codec::encoded_len(field) + codec::encoded_len(value));
                    codec::put(&mut encoded, field);
                    codec::put(&mut encoded, value);
                    let end = buf.len();
                    codec::splice(buf, end..end, &encoded);
                    *len += 1;
                    return true;
                }
                _ => self.convert_to_table(),
            }
        }
        match &mut self.repr {
            Repr::Table(table) => table.set(field, value),
            Repr::Packed { .. } => unreachable!("converted above"),
        }
    }

    /// Removes `field`; true if it was there.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match &mut self.repr {
            Repr::Packed { buf, len } => {
                let Some((start, _, _, end)) = Self::packed(buf).find(|(_, f, _, _)| *f == field)
                else {
                    return false;
                };
                codec::splice(buf, start..end, &[]);
                *len -= 1;
                true
            }
            Repr::Table(table) => {
                let removed = table.remove(field);
                if removed {
                    let state = &table.state;
                    super::shrink_scanned(&mut table.entries, &mut table.generation, |e| {
                        state.hash_one(split(e).0)
                    });
                }
                removed
            }
        }
    }

    fn convert_to_table(&mut self) {
        let Repr::Packed { buf, len } = &self.repr else {
            return;
        };
        let mut table = Table::default();
        table.entries.reserve(*len as usize + 1, |_| 0);
        for (_, field, value, _) in Self::packed(buf) {
            table.set(field, value);
        }
        self.repr = Repr::Table(Box::new(table));
    }

    /// Every field and value, in the hash's order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        let (packed, table) = match &self.repr {
            Repr::Packed { buf, .. } => (Some(Self::packed(buf)), None),
            Repr::Table(table) => (None, Some(table.entries.iter())),
        };
        packed
            .into_iter()
            .flatten()
            .map(|(_, f, v, _)| (f, v))
            .chain(table.into_iter().flatten().map(|e| split(e)))
    }

    /// One step of HSCAN from `cursor`: calls `visit` for about `count` entries and returns the
    /// cursor to continue from, 0 at the end. A packed hash is returned whole; a table is
    /// walked by bucket ([`super::scan_table`]).
    pub fn scan(&self, cursor: u64, count: usize, visit: &mut dyn FnMut(&[u8], &[u8])) -> u64 {
        let Repr::Table(table) = &self.repr else {
            for (field, value) in self.iter() {
                visit(field, value);
            }
            return 0;
        };
        super::scan_table(
            &table.entries,
            table.generation,
            cursor,
            count,
            &mut |entry| {
                let (field, value) = split(entry);
                visit(field, value);
            },
        )
    }

    /// An entry chosen by `random` (a random number): the entry at that position of a packed
    /// hash, or in a table the first full bucket from a random one (cheap, and close to uniform
    /// at the load hashbrown keeps; Redis picks the same way). `None` when empty.
    pub fn pick(&self, random: u64) -> Option<(&[u8], &[u8])> {
        match &self.repr {
            Repr::Packed { buf, len } => {
                if *len == 0 {
                    return None;
                }
                let index = (random % u64::from(*len)) as usize;
                Self::packed(buf).nth(index).map(|(_, f, v, _)| (f, v))
            }
            Repr::Table(table) => {
                let buckets = table.entries.num_buckets();
                if buckets == 0 || table.entries.is_empty() {
                    return None;
                }
                let start = (random % buckets as u64) as usize;
                (0..buckets)
                    .map(|step| (start + step) % buckets)
                    .find_map(|bucket| table.entries.get_bucket(bucket))
                    .map(|entry| split(entry))
            }
        }
    }

    /// OBJECT ENCODING's name for its representation.
    pub fn encoding(&self) -> &'static str {
        match &self.repr {
            Repr::Packed { .. } => "listpack",
            Repr::Table(_) => "hashtable",
        }
    }

    /// The bytes it takes: the packed buffer, or the table's slots and its entries.
    pub fn weight(&self) -> u64 {
        match &self.repr {
            Repr::Packed { buf, .. } => allocation(buf.len()),
            Repr::Table(table) => {
                allocation(size_of::<Table>())
                    + allocation(table.entries.allocation_size())
                    + table.bytes
            }
        }
    }

    /// Appends the dump: the count, then each field and value.
    pub fn dump(&self, out: &mut Vec<u8>) {
        codec::put_len(out, self.len());
        match &self.repr {
            Repr::Packed { buf, .. } => out.extend_from_slice(buf),
            Repr::Table(_) => {
                for (field, value) in self.iter() {
                    codec::put(out, field);
                    codec::put(out, value);
                }
            }
        }
    }

    /// A dump with the entries sorted by field: the same for two equal hashes whatever their
    /// history (a table's order depends on it and on its hasher's seed).
    pub fn canonical_dump(&self, out: &mut Vec<u8>) {
        let mut entries: Vec<(&[u8], &[u8])> = self.iter().collect();
        entries.sort_unstable();
        codec::put_len(out, entries.len());
        for (field, value) in entries {
            codec::put(out, field);
            codec::put(out, value);
        }
    }

    /// The hash a dump holds; `None` if it is malformed (cut short, trailing bytes, a field
    /// twice).
    pub fn restore(dump: &[u8]) -> Option<Hash> {
        let (count, mut rest) = codec::take_len(dump)?;
        let mut hash = Hash::new();
        for _ in 0..count {
            let (field, after) = codec::take(rest)?;
            let (value, after) = codec::take(after)?;
            rest = after;
            if !hash.set(field, value) {
                return None;
            }
        }
        rest.is_empty().then_some(hash)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model_check(hash: &Hash, model: &std::collections::BTreeMap<Vec<u8>, Vec<u8>>) {
        assert_eq!(hash.len(), model.len());
        for (f, v) in model {
            assert_eq!(hash.get(f), Some(&v[..]));
        }
        let mut seen: Vec<_> = hash.iter().map(|(f, v)| (f.to_vec(), v.to_vec())).collect();
        seen.sort();
        let expected: Vec<_> = model.clone().into_iter().collect();
        assert_eq!(seen, expected);
        let mut dump = Vec::new();
        hash.dump(&mut dump);
        let back = Hash::restore(&dump).expect("a dump restores");
        assert_eq!(back.len(), hash.len());
        assert_eq!(back.encoding(), hash.encoding());
    }

    #[test]
    fn packed_then_table_behave_the_same() {
        let mut hash = Hash::new();
        let mut model = std::collections::BTreeMap::new();
        for i in 0..300u32 {
            let field = format!("f{}", i % 170).into_bytes();
            let value = format!("value-{i}").into_bytes();
            assert_eq!(
                hash.set(&field, &value),
                model.insert(field.clone(), value).is_none()
            );
            if i % 7 == 0 {
                let gone = format!("f{}", i / 2).into_bytes();
                assert_eq!(hash.remove(&gone), model.remove(&gone).is_some());
            }
            if i == 100 {
                assert_eq!(hash.encoding(), "listpack");
                model_check(&hash, &model);
            }
        }
        assert_eq!(hash.encoding(), "hashtable");
        model_check(&hash, &model);
    }

    #[test]
    fn a_long_value_makes_a_table_and_values_change_length() {
        let mut hash = Hash::new();
        hash.set(b"a", b"1");
        hash.set(b"b", b"2");
        hash.set(b"a", b"a much longer value than before");
        assert_eq!(
            hash.get(b"a"),
            Some(&b"a much longer value than before"[..])
        );
        assert_eq!(hash.get(b"b"), Some(&b"2"[..]));
        hash.set(b"a", b"");
        assert_eq!(hash.get(b"a"), Some(&b""[..]));
        assert_eq!(hash.encoding(), "listpack");
        hash.set(b"c", &[b'x'; 65]);
        assert_eq!(hash.encoding(), "hashtable");
        assert_eq!(hash.get(b"b"), Some(&b"2"[..]));
        assert_eq!(hash.len(), 3);
    }

    #[test]
    fn malformed_dumps_are_refused() {
        let mut hash = Hash::new();
        hash.set(b"f", b"v");
        let mut dump = Vec::new();
        hash.dump(&mut dump);
        assert!(Hash::restore(&dump[..dump.len() - 1]).is_none());
        let mut trailing = dump.clone();
        trailing.push(0);
        assert!(Hash::restore(&trailing).is_none());
        assert!(Hash::restore(&[2, 1, b'f', 1, b'v', 1, b'f', 1, b'w']).is_none());
        assert!(Hash::restore(&[0xff, 0xff, 0xff, 0xff, 0x0f]).is_none());
    }
}
