//! The README's feature table states each root's size, key and notAfter: keep it true.

use aws_iot_roots::ROOTS;

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

/// Howard Hinnant's civil_from_days, independent of the code under test.
fn civil(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}
