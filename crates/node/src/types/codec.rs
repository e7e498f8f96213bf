//! The length-prefixed element encoding collections are packed and dumped with: each element is
//! its length as a varint (one byte up to 127) followed by its bytes.

use integer_encoding::VarInt;

/// Appends `len` as a varint.
pub fn put_len(out: &mut Vec<u8>, len: usize) {
    let mut buf = [0u8; 10];
    let used = (len as u64).encode_var(&mut buf);
    out.extend_from_slice(&buf[..used]);
}

/// Appends one element.
pub fn put(out: &mut Vec<u8>, element: &[u8]) {
    put_len(out, element.len());
    out.extend_from_slice(element);
}

/// Bytes one element takes encoded.
pub fn encoded_len(element: &[u8]) -> usize {
    (element.len() as u64).required_space() + element.len()
}

/// Replaces `range` of an exact-size buffer with `insert`, leaving it at its new exact size
/// (a packed collection is reallocated on each change, as Redis reallocates a listpack).
///
/// Built in a buffer of the exact new size: `Vec::splice` grows by doubling and the shrink
/// back to size split malloc's chunks, which left small free fragments between the packed
/// buffers (ten-field hashes grew from 321 to 440 bytes of RSS per key).
pub fn splice(buf: &mut Box<[u8]>, range: std::ops::Range<usize>, insert: &[u8]) {
    let mut edited = Vec::with_capacity(buf.len() - range.len() + insert.len());
    edited.extend_from_slice(&buf[..range.start]);
    edited.extend_from_slice(insert);
    edited.extend_from_slice(&buf[range.end..]);
    *buf = edited.into_boxed_slice();
}

/// Reads a varint length; `None` if `input` does not start with one.
pub fn take_len(input: &[u8]) -> Option<(usize, &[u8])> {
    let (len, used) = u64::decode_var(input)?;
    Some((usize::try_from(len).ok()?, &input[used..]))
}

/// Reads one element: it and the rest of `input`; `None` if `input` is cut short.
pub fn take(input: &[u8]) -> Option<(&[u8], &[u8])> {
    let (len, rest) = take_len(input)?;
    if rest.len() < len {
        return None;
    }
    Some(rest.split_at(len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elements_round_trip() {
        let mut out = Vec::new();
        put(&mut out, b"");
        put(&mut out, b"field");
        put(&mut out, &[7u8; 300]);
        assert_eq!(out.len(), 1 + 6 + 2 + 300);
        let (a, rest) = take(&out).unwrap();
        let (b, rest) = take(rest).unwrap();
        let (c, rest) = take(rest).unwrap();
        assert_eq!(
            (a, b, c.len(), rest.len()),
            (&b""[..], &b"field"[..], 300, 0)
        );
        assert_eq!(encoded_len(&[0u8; 300]), 302);
        assert!(take(&out[..8]).is_some());
        assert!(take(&[5, b'a']).is_none(), "cut short");
        assert!(take(&[0x80]).is_none(), "a varint cut short");
    }
}
