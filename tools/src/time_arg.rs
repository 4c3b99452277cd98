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

/// The environment variable that fixes the clock of every command: for rehearsing a release
/// at a given date, and for tests that must not depend on the wall clock.
pub(crate) const NOW_ENV: &str = "IOT_ROOTS_NOW";

/// The given time, else `IOT_ROOTS_NOW`, else the wall clock.
pub(crate) fn now_or_clock(given: Option<UnixTime>) -> UnixTime {
    if let Some(t) = given {
        return t;
    }
    if let Some(t) = std::env::var(NOW_ENV)
        .ok()
        .and_then(|v| parse_rfc3339(&v).ok())
    {
        return t;
    }
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    UnixTime::since_unix_epoch(Duration::from_secs(secs))
}

/// Checks `IOT_ROOTS_NOW` once, so that a typo in it is an error rather than the wall clock.
pub(crate) fn check_now_env() -> Result<(), String> {
    match std::env::var(NOW_ENV) {
        Ok(v) => parse_rfc3339(&v)
            .map(|_| ())
            .map_err(|e| format!("{NOW_ENV}={v:?}: {e}")),
        Err(_) => Ok(()),
    }
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

/// Seconds per unit of a duration. A month is 30 days and a year 365: windows, not calendar
/// arithmetic.
const UNITS: &[(&[&str], u64)] = &[
    (&["s", "sec", "second", "seconds"], 1),
    (&["min", "minute", "minutes"], 60),
    (&["h", "hour", "hours"], 3600),
    (&["d", "day", "days"], 86_400),
    (&["w", "week", "weeks"], 7 * 86_400),
    (&["mo", "month", "months"], 30 * 86_400),
    (&["y", "year", "years"], 365 * 86_400),
];

/// A duration: a whole number and a unit, e.g. `90d`, `6mo`, `2y`, `18 months`. A bare `m` is
/// refused: in an expiry gate, minutes for months is a trap that passes.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let unit = unit.trim_start();
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{text:?}: expected a number and a unit, e.g. 90d, 6mo, 2y"))?;
    if unit == "m" {
        return Err(format!(
            "{text:?}: \"m\" is ambiguous; write {n}mo for months or {n}min for minutes"
        ));
    }
    let secs = UNITS
        .iter()
        .find(|(names, _)| names.contains(&unit))
        .map(|(_, secs)| *secs)
        .ok_or_else(|| {
            format!("{text:?}: unit must be one of s, min, h, d, w, mo, y (or the words)")
        })?;
    n.checked_mul(secs)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("{text:?}: too long"))
}

/// A duration in whole days, for messages ("730 days").
pub(crate) fn days(d: Duration) -> u64 {
    d.as_secs() / 86_400
}

/// `--expires`: a date (RFC 3339) or a duration from `issued`.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Expiry {
    At(UnixTime),
    After(Duration),
}

pub(crate) fn parse_expiry(text: &str) -> Result<Expiry, String> {
    if let Ok(t) = parse_rfc3339(text) {
        return Ok(Expiry::At(t));
    }
    parse_duration(text)
        .map(Expiry::After)
        .map_err(|e| format!("expected an RFC 3339 date or a duration: {e}"))
}

impl Expiry {
    pub(crate) fn from(self, issued: UnixTime) -> UnixTime {
        match self {
            Self::At(t) => t,
            Self::After(d) => UnixTime::since_unix_epoch(Duration::from_secs(
                issued.as_secs().saturating_add(d.as_secs()),
            )),
        }
    }
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
        assert_eq!(parse_duration("6mo"), Ok(Duration::from_secs(180 * 86_400)));
        assert_eq!(
            parse_duration("18 months"),
            Ok(Duration::from_secs(540 * 86_400))
        );
        assert_eq!(
            parse_duration("1 week"),
            Ok(Duration::from_secs(7 * 86_400))
        );
        assert_eq!(parse_duration("36h"), Ok(Duration::from_secs(36 * 3600)));
        assert_eq!(parse_duration("5min"), Ok(Duration::from_secs(300)));
        assert_eq!(
            parse_duration("6m"),
            Err("\"6m\": \"m\" is ambiguous; write 6mo for months or 6min for minutes".into())
        );
        for bad in [
            "",
            "d",
            "90",
            "-1d",
            "1.5y",
            "3fortnights",
            "99999999999999999999y",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
