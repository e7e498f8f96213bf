//! The list type: elements in order, pushed and popped at both ends.
//!
//! Elements live packed in chunks, `[len][element]...` each (Redis's quicklist of listpacks):
//! a list of up to [`CHUNK_BYTES`] bytes is one chunk, a longer one a deque of chunks. A push
//! or pop changes one end chunk; an index is found by walking chunk counts from the nearer
//! end, then the elements of one chunk.

use std::collections::VecDeque;

use super::{allocation, codec};

/// Most bytes of elements a chunk holds before it splits (an element larger than this has a
/// chunk of its own).
pub const CHUNK_BYTES: usize = 4096;

/// A run of packed elements.
#[derive(Debug, Clone, Default)]
struct Chunk {
    /// Kept at its exact size, as a hash's packed buffer is.
    buf: Box<[u8]>,
    count: u32,
}

impl Chunk {
    fn elements(&self) -> impl Iterator<Item = &[u8]> + '_ {
        let mut rest = &self.buf[..];
        std::iter::from_fn(move || {
            let (element, after) = codec::take(rest)?;
            rest = after;
            Some(element)
        })
    }

    /// The byte offset of element `index` (the end for `count`).
    fn offset(&self, index: usize) -> usize {
        let mut at = 0;
        for _ in 0..index {
            match codec::take(&self.buf[at..]) {
                Some((element, _)) => at += codec::encoded_len(element),
                None => break,
            }
        }
        at
    }

    /// Replaces `remove` elements from `index` with `insert`.
    fn splice(&mut self, index: usize, remove: usize, insert: &[&[u8]]) {
        let start = self.offset(index);
        let end = start + self.offset_from(start, remove);
        let mut encoded = Vec::with_capacity(insert.iter().map(|e| codec::encoded_len(e)).sum());
        for element in insert {
            codec::put(&mut encoded, element);
        }
        codec::splice(&mut self.buf, start..end, &encoded);
        self.count = self.count + insert.len() as u32 - remove as u32;
    }

    /// Bytes taken by `n` elements from byte offset `start`.
    fn offset_from(&self, start: usize, n: usize) -> usize {
        let mut at = start;
        for _ in 0..n {
            match codec::take(&self.buf[at..]) {
                Some((element, _)) => at += codec::encoded_len(element),
                None => break,
            }
        }
        at - start
    }

    fn get(&self, index: usize) -> Option<&[u8]> {
        codec::take(&self.buf[self.offset(index)..]).map(|(element, _)| element)
    }

    /// Splits off the second half, if the chunk is past its size and holds more than one
    /// element.
    fn split_if_full(&mut self) -> Option<Chunk> {
        if self.buf.len() <= CHUNK_BYTES || self.count < 2 {
            return None;
        }
        let half = self.count as usize / 2;
        let at = self.offset(half);
        let mut first = std::mem::take(&mut self.buf).into_vec();
        let second = first.split_off(at);
        self.buf = first.into_boxed_slice();
        let moved = self.count - half as u32;
        self.count = half as u32;
        Some(Chunk {
            buf: second.into_boxed_slice(),
            count: moved,
        })
    }
}

/// A list.
#[derive(Debug, Clone, Default)]
pub struct List {
    repr: Repr,
}

#[derive(Debug, Clone)]
enum Repr {
    /// One chunk, held inline: a short list is one allocation.
    Packed(Chunk),
    /// Boxed, so a short list's collection stays small.
    Chunks(Box<Chunks>),
}

impl Default for Repr {
    fn default() -> Self {
        Repr::Packed(Chunk::default())
    }
}

#[derive(Debug, Clone, Default)]
struct Chunks {
    chunks: VecDeque<Chunk>,
    len: usize,
}

impl Chunks {
    /// The chunk holding element `index` and the index within it (the last chunk and its
    /// count for `len`); walked from the nearer end.
    fn locate(&self, index: usize) -> (usize, usize) {
        if index * 2 <= self.len {
            let mut left = index;
            for (i, chunk) in self.chunks.iter().enumerate() {
                if left < chunk.count as usize {
                    return (i, left);
                }
                left -= chunk.count as usize;
            }
        } else {
            let mut right = self.len - index;
            for (i, chunk) in self.chunks.iter().enumerate().rev() {
                if right <= chunk.count as usize {
                    return (i, chunk.count as usize - right);
                }
                right -= chunk.count as usize;
            }
        }
        let last = self.chunks.len().saturating_sub(1);
        (last, self.chunks.get(last).map_or(0, |c| c.count as usize))
    }

    /// Replaces `remove` elements at `index` (within one chunk) with `insert`.
    fn splice(&mut self, index: usize, remove: usize, insert: &[&[u8]]) {
        if self.chunks.is_empty() {
            self.chunks.push_back(Chunk::default());
        }
        let (at, within) = self.locate(index);
        let chunk = &mut self.chunks[at];
        chunk.splice(within, remove, insert);
        self.len = self.len + insert.len() - remove;
        if chunk.count == 0 {
            self.chunks.remove(at);
        } else if let Some(second) = chunk.split_if_full() {
            self.chunks.insert(at + 1, second);
        }
    }
}

impl List {
    /// An empty list.
    pub fn new() -> Self {
        Self::default()
    }

    /// Elements held.
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Packed(chunk) => chunk.count as usize,
            Repr::Chunks(chunks) => chunks.len,
        }
    }

    /// Whether it holds no element.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Runs `change` over the chunks (a packed list lent as a deque of its one chunk, and
    /// packed again while it fits one).
    fn with_chunks<T>(&mut self, change: impl FnOnce(&mut Chunks) -> T) -> T {
        match &mut self.repr {
            Repr::Chunks(chunks) => change(chunks),
            Repr::Packed(chunk) => {
                let chunk = std::mem::take(chunk);
                let len = chunk.count as usize;
                let mut chunks = Chunks {
                    chunks: VecDeque::from([chunk]),
                    len,
                };
                let out = change(&mut chunks);
                self.repr = if chunks.chunks.len() <= 1 {
                    Repr::Packed(chunks.chunks.pop_front().unwrap_or_default())
                } else {
                    Repr::Chunks(Box::new(chunks))
                };
                out
            }
        }
    }

    /// Inserts `elements` at position `index` (0: the head; `len`: after the tail), in order.
    pub fn insert(&mut self, index: usize, element: &[u8]) {
        self.with_chunks(|chunks| chunks.splice(index.min(chunks.len), 0, &[element]));
    }

    /// Adds `element` at the head.
    pub fn push_front(&mut self, element: &[u8]) {
        self.insert(0, element);
    }

    /// Adds `element` at the tail.
    pub fn push_back(&mut self, element: &[u8]) {
        let len = self.len();
        self.insert(len, element);
    }

    /// Removes the element at `index`; it, if there was one.
    pub fn remove(&mut self, index: usize) -> Option<Vec<u8>> {
        let element = self.get(index)?.to_vec();
        self.with_chunks(|chunks| chunks.splice(index, 1, &[]));
        Some(element)
    }

    /// Removes the head.
    pub fn pop_front(&mut self) -> Option<Vec<u8>> {
        self.remove(0)
    }

    /// Removes the tail.
    pub fn pop_back(&mut self) -> Option<Vec<u8>> {
        let len = self.len();
        len.checked_sub(1).and_then(|last| self.remove(last))
    }

    /// The element at `index`.
    pub fn get(&self, index: usize) -> Option<&[u8]> {
        if index >= self.len() {
            return None;
        }
        match &self.repr {
            Repr::Packed(chunk) => chunk.get(index),
            Repr::Chunks(chunks) => {
                let (at, within) = chunks.locate(index);
                chunks.chunks[at].get(within)
            }
        }
    }

    /// Replaces the element at `index`; false if there is none.
    pub fn set(&mut self, index: usize, element: &[u8]) -> bool {
        if index >= self.len() {
            return false;
        }
        self.with_chunks(|chunks| chunks.splice(index, 1, &[element]));
        true
    }

    /// The elements at positions `start..end`, in order.
    pub fn range(&self, start: usize, end: usize) -> impl Iterator<Item = &[u8]> + '_ {
        let end = end.min(self.len());
        let take = end.saturating_sub(start);
        let (first, within) = match &self.repr {
            Repr::Packed(_) => (0, start),
            Repr::Chunks(chunks) => chunks.locate(start.min(chunks.len)),
        };
        let chunks: Box<dyn Iterator<Item = &Chunk>> = match &self.repr {
            Repr::Packed(chunk) => Box::new(std::iter::once(chunk)),
            Repr::Chunks(chunks) => Box::new(chunks.chunks.iter().skip(first)),
        };
        chunks.flat_map(Chunk::elements).skip(within).take(take)
    }

    /// Every element, head first.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.range(0, self.len())
    }

    /// Keeps the elements at positions `start..end` (LTRIM), dropping the rest.
    pub fn keep(&mut self, start: usize, end: usize) {
        let kept: Vec<Vec<u8>> = self.range(start, end).map(<[u8]>::to_vec).collect();
        *self = List::from_elements(kept.iter().map(Vec::as_slice));
    }

    /// A list of `elements`, in order.
    pub fn from_elements<'a>(elements: impl IntoIterator<Item = &'a [u8]>) -> List {
        let mut list = List::new();
        let mut chunks = Chunks::default();
        let mut current: Vec<u8> = Vec::new();
        let mut count = 0u32;
        for element in elements {
            codec::put(&mut current, element);
            count += 1;
            chunks.len += 1;
            if current.len() >= CHUNK_BYTES {
                chunks.chunks.push_back(Chunk {
                    buf: std::mem::take(&mut current).into_boxed_slice(),
                    count: std::mem::take(&mut count),
                });
            }
        }
        if count > 0 {
            chunks.chunks.push_back(Chunk {
                buf: current.into_boxed_slice(),
                count,
            });
        }
        list.repr = if chunks.chunks.len() <= 1 {
            Repr::Packed(chunks.chunks.pop_front().unwrap_or_default())
        } else {
            Repr::Chunks(Box::new(chunks))
        };
        list
    }

    /// OBJECT ENCODING's name for it (Redis 7.0 says `quicklist` for every list).
    pub fn encoding(&self) -> &'static str {
        "quicklist"
    }

    /// The bytes it takes: its chunks, and the deque of a long list.
    pub fn weight(&self) -> u64 {
        match &self.repr {
            Repr::Packed(chunk) => allocation(chunk.buf.len()),
            Repr::Chunks(chunks) => {
                allocation(size_of::<Chunks>())
                    + allocation(chunks.chunks.capacity() * size_of::<Chunk>())
                    + chunks
                        .chunks
                        .iter()
                        .map(|c| allocation(c.buf.len()))
                        .sum::<u64>()
            }
        }
    }

    /// Appends the dump: the count, then each element in order (also the canonical dump).
    pub fn dump(&self, out: &mut Vec<u8>) {
        codec::put_len(out, self.len());
        for element in self.iter() {
            codec::put(out, element);
        }
    }

    /// The list a dump holds; `None` if it is malformed (cut short, trailing bytes).
    pub fn restore(dump: &[u8]) -> Option<List> {
        let (count, mut rest) = codec::take_len(dump)?;
        let mut elements = Vec::new();
        for _ in 0..count {
            let (element, after) = codec::take(rest)?;
            elements.push(element);
            rest = after;
        }
        rest.is_empty()
            .then(|| List::from_elements(elements.iter().copied()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(list: &List, model: &VecDeque<Vec<u8>>) {
        assert_eq!(list.len(), model.len());
        let seen: Vec<Vec<u8>> = list.iter().map(<[u8]>::to_vec).collect();
        let want: Vec<Vec<u8>> = model.iter().cloned().collect();
        assert_eq!(seen, want);
        for (i, element) in model.iter().enumerate().step_by(7) {
            assert_eq!(list.get(i), Some(&element[..]));
        }
        let mid = model.len() / 3;
        let part: Vec<Vec<u8>> = list.range(mid, mid + 50).map(<[u8]>::to_vec).collect();
        let want: Vec<Vec<u8>> = model.iter().skip(mid).take(50).cloned().collect();
        assert_eq!(part, want);
        let mut dump = Vec::new();
        list.dump(&mut dump);
        let back = List::restore(&dump).expect("a dump restores");
        assert!(back.iter().eq(list.iter()));
    }

    #[test]
    fn chunks_behave_as_one_deque() {
        let mut list = List::new();
        let mut model: VecDeque<Vec<u8>> = VecDeque::new();
        for i in 0..5000u32 {
            let element = format!("element-{i}-{}", "x".repeat((i % 13) as usize)).into_bytes();
            match i % 6 {
                0 | 1 => {
                    list.push_back(&element);
                    model.push_back(element);
                }
                2 => {
                    list.push_front(&element);
                    model.push_front(element);
                }
                3 => {
                    let at = (i as usize * 7) % (model.len() + 1);
                    list.insert(at, &element);
                    model.insert(at, element);
                }
                4 if i % 4 == 0 => {
                    assert_eq!(list.pop_front(), model.pop_front());
                    assert_eq!(list.pop_back(), model.pop_back());
                }
                _ => {
                    if !model.is_empty() {
                        let at = (i as usize * 13) % model.len();
                        assert!(list.set(at, &element));
                        model[at] = element;
                        let gone = (i as usize * 3) % model.len();
                        assert_eq!(list.remove(gone), model.remove(gone));
                    }
                }
            }
            if i == 40 {
                check(&list, &model);
                assert!(matches!(list.repr, Repr::Packed(_)));
            }
        }
        assert!(matches!(list.repr, Repr::Chunks(_)));
        check(&list, &model);
        list.keep(100, 200);
        let kept: VecDeque<Vec<u8>> = model.iter().skip(100).take(100).cloned().collect();
        check(&list, &kept);
        while list.pop_back().is_some() {}
        assert!(list.is_empty());
        assert!(matches!(list.repr, Repr::Packed(_)));
    }

    #[test]
    fn a_large_element_has_a_chunk_of_its_own() {
        let mut list = List::new();
        list.push_back(b"a");
        list.push_back(&vec![b'x'; CHUNK_BYTES * 2]);
        list.push_back(b"b");
        list.push_front(b"c");
        assert_eq!(list.len(), 4);
        assert_eq!(list.get(3), Some(&b"b"[..]));
        assert_eq!(list.get(2).map(<[u8]>::len), Some(CHUNK_BYTES * 2));
        assert!(List::restore(&[2, 1, b'a']).is_none(), "cut short");
    }
}
