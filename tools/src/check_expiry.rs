//! `iot-roots check-expiry --within <duration>`: the release pipeline's gate. Exits 1 when any
//! root expires, or loses root-program trust, within the window.

use std::process::ExitCode;
use std::time::Duration;

use rustls_pki_types::UnixTime;
use serde::Serialize;

use crate::inspect::{hex, tone, ReportArgs};
use crate::source::{Entry, SourceArgs};
use crate::table::{use_colour, Table, Tone};
use crate::time_arg::{days_between, now_or_clock, parse_duration, rfc3339};
use crate::EXIT_CHECK_FAILED;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The window, e.g. 90d, 26w, 2y (units: s, m, h, d, w, y).
    #[arg(long, value_parser = parse_duration)]
    within: Duration,
    #[command(flatten)]
    source: SourceArgs,
    #[command(flatten)]
    report: ReportArgs,
}

#[derive(Debug, Serialize)]
struct Due {
    name: String,
    sha256: String,
    what: &'static str,
    at: String,
    days_left: i64,
    due: bool,
}

/// The first deadline of a root: root-program removal or notAfter, whichever is earlier.
fn deadline(e: &Entry) -> (UnixTime, &'static str) {
    match &e.removal {
        Some(r) if r.date < e.not_after => (r.date, "loses root-program trust"),
        _ => (e.not_after, "expires"),
    }
}

pub(crate) fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let now = now_or_clock(args.report.now);
    let horizon = UnixTime::since_unix_epoch(Duration::from_secs(
        now.as_secs().saturating_add(args.within.as_secs()),
    ));
    let (source, entries) = args.source.load()?;
    let rows: Vec<Due> = entries
        .iter()
        .map(|e| {
            let (at, what) = deadline(e);
            Due {
                name: e.name.clone(),
                sha256: hex(&e.sha256),
                what,
                at: rfc3339(at),
                days_left: days_between(now, at),
                due: at <= horizon,
            }
        })
        .collect();
    let due = rows.iter().filter(|r| r.due).count();
    if args.report.json {
        let out = serde_json::json!({
            "source": source, "now": rfc3339(now), "within_seconds": args.within.as_secs(),
            "horizon": rfc3339(horizon), "due": due, "roots": rows,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        let mut t = Table::new(vec![
            "NAME",
            "DEADLINE",
            "WHAT",
            "DAYS LEFT",
            "WITHIN WINDOW",
        ]);
        for r in &rows {
            t.row(vec![
                (r.name.clone(), Tone::Plain),
                (r.at[..10].into(), Tone::Plain),
                (r.what.into(), Tone::Plain),
                (r.days_left.to_string(), tone(r.days_left)),
                if r.due {
                    ("DUE".into(), Tone::Bad)
                } else {
                    ("ok".into(), Tone::Plain)
                },
            ]);
        }
        print!("{}", t.render(use_colour()));
        eprintln!("source: {source}; window ends {}", rfc3339(horizon));
    }
    if due > 0 {
        eprintln!("{due} root(s) expire or lose root-program trust within the window");
        return Ok(ExitCode::from(EXIT_CHECK_FAILED));
    }
    Ok(ExitCode::SUCCESS)
}
