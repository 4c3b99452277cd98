//! The one timestamp form bundles use: RFC 3339 in UTC, whole seconds, `YYYY-MM-DDTHH:MM:SSZ`.
//! One spelling per instant, so a payload's bytes follow from its values.

use std::string::String;

use rustls_pki_types::UnixTime;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Parses `YYYY-MM-DDTHH:MM:SSZ`, nothing looser.
pub(crate) fn parse_rfc3339_utc(text: &str) -> Result<UnixTime, String> {
    let shape_ok =
        text.len() == 20 && text.ends_with('Z') && text.as_bytes().get(10) == Some(&b'T');
    if !shape_ok {
        return Err(std::format!(
            "{text:?}: expected UTC RFC 3339 with whole seconds, e.g. 2026-11-27T00:00:00Z"
        ));
    }
    let t = OffsetDateTime::parse(text, &Rfc3339).map_err(|e| std::format!("{text:?}: {e}"))?;
    let secs =
        u64::try_from(t.unix_timestamp()).map_err(|_| std::format!("{text:?}: before 1970"))?;
    Ok(UnixTime::since_unix_epoch(core::time::Duration::from_secs(
        secs,
    )))
}

/// Formats as `YYYY-MM-DDTHH:MM:SSZ`.
pub(crate) fn format_rfc3339(t: UnixTime) -> String {
    i64::try_from(t.as_secs())
        .ok()
        .and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok())
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| std::format!("@{}", t.as_secs()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_other_spellings() {
        let t = parse_rfc3339_utc("2026-11-27T12:34:56Z").expect("valid");
        assert_eq!(t.as_secs(), 1_795_782_896);
        assert_eq!(format_rfc3339(t), "2026-11-27T12:34:56Z");
        for bad in [
            "2026-11-27T12:34:56+00:00",
            "2026-11-27T12:34:56.5Z",
            "2026-11-27 12:34:56Z",
            "2026-02-30T00:00:00Z",
            "1969-12-31T23:59:59Z",
            "",
        ] {
            assert!(parse_rfc3339_utc(bad).is_err(), "{bad}");
        }
    }
}
