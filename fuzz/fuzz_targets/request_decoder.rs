//! Any byte stream, cut into any chunks, through the request decoder: it never panics, never
//! hands out an empty request, and consumes only what it decoded.
#![no_main]

use bytes::BytesMut;
use cachering_proto::{Limits, RequestDecoder};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first byte picks the chunk size and whether the client is authenticated.
    let Some((&control, stream)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(control & 0x3f) + 1;
    let mut decoder = RequestDecoder::new(Limits::default().with_max_bulk_len(1 << 16));
    decoder.set_authenticated(control & 0x40 == 0);
    let mut buffer = BytesMut::new();
    let mut args = Vec::new();
    for piece in stream.chunks(chunk) {
        buffer.extend_from_slice(piece);
        loop {
            args.clear();
            let before = buffer.len();
            match decoder.decode(&mut buffer, &mut args) {
                Ok(true) => {
                    assert!(!args.is_empty(), "a decoded request has arguments");
                    assert!(buffer.len() < before, "a decoded request consumes input");
                }
                Ok(false) => break,
                Err(_) => return,
            }
        }
    }
});
