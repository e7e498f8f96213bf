//! HyperLogLog, written from Redis 7.0's command reference, against a node and through the
//! proxy in RESP2 and RESP3. The counts asserted are redis-server 7.0.15's for the same
//! elements: the estimator is Redis's, so they match exactly.

use cachering_tests::int;
use cachering_tests::session::on_node_and_proxy;

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
const INVALID: &str = "WRONGTYPE Key is not a valid HyperLogLog string value.";

fn elements(range: std::ops::Range<u32>) -> Vec<String> {
    range.map(|i| format!("e{i}")).collect()
}

#[test]
fn counts_match_redis() {
    on_node_and_proxy(|s| {
        s.expect(&["PFADD", "small", "a", "b", "c", "a"], &int(1));
        s.expect(&["PFADD", "small", "a"], &int(0));
        s.expect(&["PFCOUNT", "small"], &int(3));
        s.expect(&["PFADD", "empty"], &int(1));
        s.expect(&["PFADD", "empty"], &int(0));
        s.expect(&["PFCOUNT", "empty"], &int(0));
        s.expect(&["PFCOUNT", "nokey"], &int(0));
        s.expect(&["TYPE", "small"], "+string\r\n");
        // 100,000 distinct elements in batches; Redis counts 100,853 for exactly these. Keys of
        // one command share a {hash tag}, so the ring keeps them on one replica set.
        for batch in elements(0..100_000).chunks(1000) {
            let mut args = vec!["PFADD", "{h}big"];
            args.extend(batch.iter().map(String::as_str));
            let changed = s.call(&args);
            assert!(changed == int(1) || changed == int(0), "{changed:?}");
        }
        s.expect(&["PFCOUNT", "{h}big"], &int(100_853));
        let mut args = vec!["PFADD", "{h}other"];
        let other = elements(99_000..101_000);
        args.extend(other.iter().map(String::as_str));
        s.expect(&args, &int(1));
        s.expect(&["PFCOUNT", "{h}other"], &int(1_994));
        s.expect(&["PFCOUNT", "{h}big", "{h}other"], &int(101_823));
        s.expect(&["PFMERGE", "{h}merged", "{h}big", "{h}other"], "+OK\r\n");
        s.expect(&["PFCOUNT", "{h}merged"], &int(101_823));
        // The destination's own registers are part of the merge.
        s.expect(&["PFMERGE", "{h}merged"], "+OK\r\n");
        s.expect(&["PFCOUNT", "{h}merged"], &int(101_823));
        // A string that is not a HyperLogLog, and another type.
        s.expect(&["SET", "{h}str", "abc"], "+OK\r\n");
        s.expect_error(&["PFADD", "{h}str", "a"], INVALID);
        s.expect_error(&["PFCOUNT", "{h}str"], INVALID);
        s.expect_error(&["PFMERGE", "{h}str", "{h}big"], INVALID);
        s.expect(&["SADD", "{h}set", "a"], &int(1));
        s.expect_error(&["PFADD", "{h}set", "a"], WRONGTYPE);
        s.expect_error(&["PFCOUNT", "{h}big", "{h}set"], WRONGTYPE);
    });
}
