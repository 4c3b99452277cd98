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
