//! The one timestamp form bundles use: RFC 3339 in UTC, whole seconds, `YYYY-MM-DDTHH:MM:SSZ`.
//! One spelling per instant, so a payload's bytes follow from its values.
//!
//! der's `DateTime` (already in every bundle build, for certificate times) does the calendar
//! arithmetic and its `Display` is exactly this form, so neither needs a second date crate.

use alloc::string::{String, ToString};
use core::time::Duration;

use der::DateTime;
use rustls_pki_types::UnixTime;

/// Parses `YYYY-MM-DDTHH:MM:SSZ`, nothing looser: no offsets, no fractions, no lowercase `t`
/// or `z`, years 1970-9999 (der's range).
pub(crate) fn parse_rfc3339_utc(text: &str) -> Result<UnixTime, String> {
    let b = text.as_bytes();
    let shape_ok = b.len() == 20
        && b.iter().enumerate().all(|(i, &c)| match i {
            4 | 7 => c == b'-',
            10 => c == b'T',
            13 | 16 => c == b':',
            19 => c == b'Z',
            _ => c.is_ascii_digit(),
        });
    if !shape_ok {
        return Err(alloc::format!(
            "{text:?}: expected UTC RFC 3339 with whole seconds, e.g. 2026-11-27T00:00:00Z"
        ));
    }
    // Only ASCII digits remain at these offsets, so the arithmetic cannot overflow.
    let n = |from: usize, to: usize| {
        b[from..to]
            .iter()
            .fold(0u16, |acc, &d| acc * 10 + u16::from(d - b'0'))
    };
    let narrow = |v: u16| u8::try_from(v).unwrap_or(u8::MAX);
    let t = DateTime::new(
        n(0, 4),
        narrow(n(5, 7)),
        narrow(n(8, 10)),
        narrow(n(11, 13)),
        narrow(n(14, 16)),
        narrow(n(17, 19)),
    )
    .map_err(|_| alloc::format!("{text:?}: not a date and time between 1970 and 9999"))?;
    Ok(UnixTime::since_unix_epoch(t.unix_duration()))
}

/// Formats as `YYYY-MM-DDTHH:MM:SSZ`; `@<seconds>` past 9999, which no bundle can express.
pub(crate) fn format_rfc3339(t: UnixTime) -> String {
    DateTime::from_unix_duration(Duration::from_secs(t.as_secs()))
        .map(|d| d.to_string())
        .unwrap_or_else(|_| alloc::format!("@{}", t.as_secs()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_other_spellings() {
        let t = parse_rfc3339_utc("2026-11-27T12:34:56Z").expect("valid");
        assert_eq!(t.as_secs(), 1_795_782_896);
        assert_eq!(format_rfc3339(t), "2026-11-27T12:34:56Z");
        let leap = parse_rfc3339_utc("2028-02-29T00:00:00Z").expect("leap day");
        assert_eq!(format_rfc3339(leap), "2028-02-29T00:00:00Z");
        assert_eq!(
            format_rfc3339(parse_rfc3339_utc("1970-01-01T00:00:00Z").expect("epoch")),
            "1970-01-01T00:00:00Z"
        );
        for bad in [
            "2026-11-27T12:34:56+00:00",
            "2026-11-27T12:34:56.5Z",
            "2026-11-27 12:34:56Z",
            "2026-11-27t12:34:56Z",
            "2026-11-27T12:34:56z",
            "2026-02-30T00:00:00Z",
            "2027-02-29T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-11-27T24:00:00Z",
            "2026-11-27T23:60:00Z",
            "2026-11-27T23:59:60Z",
            "1969-12-31T23:59:59Z",
            "+026-11-27T12:34:56Z",
            "",
        ] {
            assert!(parse_rfc3339_utc(bad).is_err(), "{bad}");
        }
    }
}
