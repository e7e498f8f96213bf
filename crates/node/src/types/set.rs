//! The set type: members, each once. A set is held as a hash whose values are empty, so it has
//! the hash's two forms: packed while small (up to 128 members of at most 64 bytes, one byte
//! per member more than the member and its length) and a table past that.

use super::hash::Hash;

/// A set.
#[derive(Debug, Clone, Default)]
pub struct Set {
    members: Hash,
}

impl Set {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Members held.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether it holds no member.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Whether `member` is in the set.
    pub fn contains(&self, member: &[u8]) -> bool {
        self.members.get(member).is_some()
    }

    /// Adds `member`; true if it was not there.
    pub fn insert(&mut self, member: &[u8]) -> bool {
        !self.contains(member) && self.members.set(member, b"")
    }

    /// Removes `member`; true if it was there.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        self.members.remove(member)
    }

    /// Every member, in the set's order.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.members.iter().map(|(member, _)| member)
    }

    /// A member chosen by `random` (see [`Hash::pick`]).
    pub fn pick(&self, random: u64) -> Option<&[u8]> {
        self.members.pick(random).map(|(member, _)| member)
    }

    /// One step of SSCAN (see [`Hash::scan`]).
    pub fn scan(&self, cursor: u64, count: usize, visit: &mut dyn FnMut(&[u8])) -> u64 {
        self.members
            .scan(cursor, count, &mut |member, _| visit(member))
    }

    /// OBJECT ENCODING's name for its representation.
    pub fn encoding(&self) -> &'static str {
        self.members.encoding()
    }

    /// The bytes it takes.
    pub fn weight(&self) -> u64 {
        self.members.weight()
    }

    /// Appends the dump (a hash's, every value empty).
    pub fn dump(&self, out: &mut Vec<u8>) {
        self.members.dump(out);
    }

    /// Appends the dump in a canonical order.
    pub fn canonical_dump(&self, out: &mut Vec<u8>) {
        self.members.canonical_dump(out);
    }

    /// The set a dump holds; `None` if it is malformed or a value is not empty.
    pub fn restore(dump: &[u8]) -> Option<Set> {
        let members = Hash::restore(dump)?;
        let only_members = members.iter().all(|(_, value)| value.is_empty());
        only_members.then_some(Set { members })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_are_kept_once_in_both_forms() {
        let mut set = Set::new();
        for i in 0..300u32 {
            assert!(set.insert(format!("m{i}").as_bytes()));
            assert!(!set.insert(format!("m{i}").as_bytes()));
            if i == 100 {
                assert_eq!(set.encoding(), "listpack");
            }
        }
        assert_eq!(set.encoding(), "hashtable");
        assert_eq!(set.len(), 300);
        assert!(set.contains(b"m7") && !set.contains(b"m300"));
        assert!(set.remove(b"m7") && !set.remove(b"m7"));
        let mut dump = Vec::new();
        set.dump(&mut dump);
        let back = Set::restore(&dump).unwrap();
        assert_eq!(back.len(), 299);
        let mut not_a_set = Hash::new();
        not_a_set.set(b"f", b"v");
        let mut dump = Vec::new();
        not_a_set.dump(&mut dump);
        assert!(Set::restore(&dump).is_none());
    }
}
