//! The README's feature table states each root's size, key and notAfter: keep it true.

mod common;

use aws_iot_roots::ROOTS;
use common::civil;

#[test]
fn feature_table_matches_the_compiled_roots() {
    let readme = include_str!("../README.md");
    for root in ROOTS {
        let row = readme
            .lines()
            .find(|l| l.starts_with(&format!("| `{}` |", root.feature)))
            .unwrap_or_else(|| panic!("README has no row for {}", root.feature));
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        // | feature | default | root | key | bytes | notAfter | role |
        assert_eq!(cells[3], root.name, "{row}");
        assert_eq!(cells[4], root.key.to_string(), "{row}");
        assert_eq!(cells[5], root.der.len().to_string(), "{row}");
        let days = root.not_after.as_secs() / 86_400;
        let (y, m, d) = civil(days as i64);
        assert_eq!(cells[6], format!("{y:04}-{m:02}-{d:02}"), "{row}");
    }
}

/// docs/bundle-format.md states the limits; they must be the constants' values.
#[cfg(feature = "bundle")]
#[test]
fn bundle_format_doc_states_the_real_limits() {
    use aws_iot_roots::bundle::{
        MAX_BUNDLE_BYTES, MAX_CERTIFICATE_BYTES, MAX_PAYLOAD_BYTES, MAX_ROOTS, MAX_SIGNATURES,
    };
    let doc = include_str!("../docs/bundle-format.md");
    let thousands = |n: usize| {
        let s = n.to_string();
        let mut out = String::new();
        for (i, c) in s.chars().enumerate() {
            if i > 0 && (s.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(c);
        }
        out
    };
    for needle in [
        format!("payload ≤ {} bytes", thousands(MAX_PAYLOAD_BYTES)),
        format!("At most {} bytes decoded", thousands(MAX_PAYLOAD_BYTES)),
        format!("file ≤ {} bytes", thousands(MAX_BUNDLE_BYTES)),
        format!("≤ {MAX_SIGNATURES} signatures"),
        format!(
            "≤ {MAX_ROOTS} certificates of ≤ {} bytes",
            thousands(MAX_CERTIFICATE_BYTES)
        ),
    ] {
        assert!(
            doc.contains(&needle),
            "docs/bundle-format.md should say {needle:?}"
        );
    }
}
