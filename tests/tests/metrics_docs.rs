//! Every registered metric is documented in docs/metrics.md, and no name is registered twice.

use std::collections::HashSet;

#[test]
fn every_metric_is_documented_once() {
    let doc = include_str!("../../docs/metrics.md");
    let mut seen = HashSet::new();
    let all = cachering_node::metrics::ALL
        .iter()
        .chain(cachering_client::metrics::ALL)
        .chain(cachering_proxy::metrics::ALL);
    for name in all {
        assert!(seen.insert(*name), "{name} is registered twice");
        assert!(
            doc.contains(&format!("| `{name}` |")),
            "{name} is not documented in docs/metrics.md"
        );
        assert!(
            name.starts_with("cachering_"),
            "{name} does not follow cachering_<area>_<what>"
        );
    }
    // And the document lists nothing that is not registered.
    for line in doc.lines().filter(|l| l.starts_with("| `cachering_")) {
        let name = line.trim_start_matches("| `").split('`').next().unwrap();
        assert!(
            seen.contains(name),
            "docs/metrics.md lists {name}, which nothing registers"
        );
    }
}
