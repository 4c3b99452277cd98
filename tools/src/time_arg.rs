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
