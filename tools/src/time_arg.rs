//! Time arguments: `--now` takes RFC 3339 so that runs (and tests) can be reproduced.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustls_pki_types::UnixTime;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// A `--now` value: RFC 3339, parsed by clap so that a bad value is a usage error.
pub(crate) fn parse_rfc3339(text: &str) -> Result<UnixTime, String> {
    let t = OffsetDateTime::parse(text, &Rfc3339)
        .map_err(|e| format!("expected RFC 3339, e.g. 2026-11-27T00:00:00Z ({e})"))?;
    let secs = u64::try_from(t.unix_timestamp()).map_err(|_| "before 1970".to_owned())?;
    Ok(UnixTime::since_unix_epoch(Duration::from_secs(secs)))
}

/// The given time, or the wall clock.
pub(crate) fn now_or_clock(given: Option<UnixTime>) -> UnixTime {
    given.unwrap_or_else(|| {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        UnixTime::since_unix_epoch(Duration::from_secs(secs))
    })
}

/// `YYYY-MM-DDTHH:MM:SSZ`.
pub(crate) fn rfc3339(t: UnixTime) -> String {
    let secs = i64::try_from(t.as_secs()).unwrap_or(i64::MAX);
    OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| format!("@{secs}"))
}

/// Whole days from `now` to `t`, negative when `t` has passed.
pub(crate) fn days_between(now: UnixTime, t: UnixTime) -> i64 {
    (t.as_secs() as i64 - now.as_secs() as i64).div_euclid(86_400)
}

/// A `--within` value: a whole number and a unit (s, m, h, d, w, y = 365 d), e.g. `90d`.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (num, unit) = text.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{text:?}: expected a number and a unit, e.g. 90d, 26w, 2y"))?;
    let secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        "y" => 365 * 86_400,
        _ => return Err(format!("{text:?}: unit must be one of s, m, h, d, w, y")),
    };
    n.checked_mul(secs)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("{text:?}: too long"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_strictly() {
        assert_eq!(parse_duration("90d"), Ok(Duration::from_secs(90 * 86_400)));
        assert_eq!(
            parse_duration("2y"),
            Ok(Duration::from_secs(2 * 365 * 86_400))
        );
        assert_eq!(parse_duration("36h"), Ok(Duration::from_secs(36 * 3600)));
        for bad in [
            "",
            "d",
            "90",
            "90 d",
            "-1d",
            "1.5y",
            "3mo",
            "99999999999999999999y",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
