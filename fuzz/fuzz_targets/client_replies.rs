//! Any bytes a node might send, through the client's reply decoding: replies or an error,
//! never a panic, and never more replies than complete frames.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut input = BytesMut::from(data);
    if let Ok(replies) = cachering_client::fuzzing::decode_replies(&mut input) {
        assert!(
            replies.len() <= data.len() / 3,
            "each reply takes at least three bytes"
        );
    }
});
