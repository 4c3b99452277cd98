//! `iot-roots check-expiry --within <duration>`: the release pipeline's gate.
//!
//! Two kinds of deadline, judged differently:
//! - **expires** (notAfter) is hard: past it no TLS stack accepts the root, so a root that
//!   expires within the window fails the gate;
//! - **loses root-program trust** (Mozilla's removal date, announced or projected) is advice
//!   for AWS IoT relying parties: Amazon Trust Services recommends trusting all five roots
//!   whatever browsers do, and a device is not a browser. It is reported, and fails the gate
//!   only with `--fail-on root-program`.
//!
//! A fleet that has handled a deadline (a bundle without that root is rolled out, or the
//! advice was weighed and accepted) says so with `--acknowledge NAME_OR_SHA256`; with
//! `--bundle current.json`, only the roots that bundle carries are checked at all.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use rustls_pki_types::UnixTime;
use serde::Serialize;

use crate::fsutil::read_string;
use crate::inspect::{hex, tone, ReportArgs};
use crate::source::{Entry, SourceArgs};
use crate::table::{plural, use_colour, Column, Table, Tone};
use crate::time_arg::{days, days_between, now_or_clock, parse_duration, rfc3339};
use crate::EXIT_CHECK_FAILED;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum FailOn {
    /// Root-program removal dates fail the gate too, not only expiry.
    RootProgram,
}

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The window, e.g. 90d, 26w, 6mo, 2y (or 18 months; a bare "m" is refused).
    #[arg(long, value_parser = parse_duration)]
    within: Duration,
    /// Also fail on what is advice by default.
    #[arg(long, value_enum, value_name = "WHAT")]
    fail_on: Vec<FailOn>,
    /// A deadline this fleet has handled: a root's name or certificate SHA-256 (repeatable).
    #[arg(long, value_name = "NAME_OR_SHA256")]
    acknowledge: Vec<String>,
    /// A file of acknowledgements, one name or SHA-256 per line (`#` starts a comment).
    #[arg(long, value_name = "FILE")]
    acknowledge_file: Option<PathBuf>,
    #[command(flatten)]
    source: SourceArgs,
    #[command(flatten)]
    report: ReportArgs,
}

/// What the gate makes of one deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum Verdict {
    /// Outside the window.
    Ok,
    /// Inside the window and failing the gate.
    Due,
    /// Inside the window, reported but not failing (root-program advice).
    Advice,
    /// Inside the window, acknowledged by the fleet.
    Acknowledged,
}

#[derive(Debug, Serialize)]
struct Deadline {
    name: String,
    sha256: String,
    what: &'static str,
    basis: &'static str,
    at: String,
    days_left: i64,
    verdict: Verdict,
}

fn acknowledgements(a: &Args) -> anyhow::Result<Vec<String>> {
    let mut out: Vec<String> = a.acknowledge.iter().map(|s| s.trim().to_owned()).collect();
    if let Some(f) = &a.acknowledge_file {
        let text = read_string(f)?;
        out.extend(
            text.lines()
                .map(|l| l.split('#').next().unwrap_or_default().trim())
                .filter(|l| !l.is_empty())
                .map(str::to_owned),
        );
    }
    Ok(out)
}

fn acknowledged(e: &Entry, acks: &[String]) -> bool {
    let sha = hex(&e.sha256);
    acks.iter()
        .any(|a| a.eq_ignore_ascii_case(&sha) || a == &e.name)
}

pub(crate) fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let now = now_or_clock(args.report.now);
    let horizon = UnixTime::since_unix_epoch(Duration::from_secs(
        now.as_secs().saturating_add(args.within.as_secs()),
    ));
    let acks = acknowledgements(args)?;
    let (source, entries) = args.source.load()?;
    for a in &acks {
        let known = entries
            .iter()
            .any(|e| a == &e.name || a.eq_ignore_ascii_case(&hex(&e.sha256)));
        if !known {
            eprintln!("warning: --acknowledge {a:?} matches no root of the {source}");
        }
    }
    let fail_program = args.fail_on.contains(&FailOn::RootProgram);
    let judge = |e: &Entry, at: UnixTime, hard: bool| {
        if at > horizon {
            Verdict::Ok
        } else if acknowledged(e, &acks) {
            Verdict::Acknowledged
        } else if hard || fail_program {
            Verdict::Due
        } else {
            Verdict::Advice
        }
    };
    let mut rows = Vec::new();
    for e in &entries {
        rows.push(Deadline {
            name: e.name.clone(),
            sha256: hex(&e.sha256),
            what: "expires",
            basis: "notAfter",
            at: rfc3339(e.not_after),
            days_left: days_between(now, e.not_after),
            verdict: judge(e, e.not_after, true),
        });
        if let Some(r) = e.removal.filter(|r| r.date < e.not_after) {
            rows.push(Deadline {
                name: e.name.clone(),
                sha256: hex(&e.sha256),
                what: "loses root-program trust",
                basis: match r.basis {
                    aws_iot_roots::RemovalBasis::Announced => "announced",
                    _ => "projected",
                },
                at: rfc3339(r.date),
                days_left: days_between(now, r.date),
                verdict: judge(e, r.date, false),
            });
        }
    }
    let count = |v: Verdict| rows.iter().filter(|r| r.verdict == v).count();
    let (due, advice) = (count(Verdict::Due), count(Verdict::Advice));
    if args.report.json {
        let out = serde_json::json!({
            "schema": 1, "source": source, "now": rfc3339(now),
            "within_days": days(args.within), "horizon": rfc3339(horizon),
            "fail_on_root_program": fail_program, "due": due, "advice": advice,
            "deadlines": rows,
        });
        println!("{}", serde_json::to_string_pretty(&out).context("JSON")?);
    } else {
        let mut t = Table::new(vec![
            Column::shrinkable("NAME"),
            Column::new("DATE"),
            Column::new("DEADLINE"),
            Column::new("DAYS"),
            Column::new("VERDICT"),
        ]);
        for r in &rows {
            let what = if r.what == "expires" {
                "expires".to_owned()
            } else {
                format!("root program ({})", r.basis)
            };
            let verdict = match r.verdict {
                Verdict::Ok => ("ok", Tone::Plain),
                Verdict::Due => ("DUE", Tone::Bad),
                Verdict::Advice => ("advice", Tone::Warn),
                Verdict::Acknowledged => ("acknowledged", Tone::Plain),
            };
            t.row(vec![
                (r.name.clone(), Tone::Plain),
                (r.at[..10].into(), Tone::Plain),
                (what, Tone::Plain),
                (r.days_left.to_string(), tone(r.days_left)),
                (verdict.0.into(), verdict.1),
            ]);
        }
        print!("{}", t.render(use_colour(), args.report.width()));
        eprintln!(
            "source: {source}; window: {} days, until {}",
            days(args.within),
            &rfc3339(horizon)[..10]
        );
    }
    if advice > 0 {
        eprintln!(
            "{advice} root-program {} within the window: advice for AWS IoT devices \
             (--fail-on root-program makes {} fail the gate)",
            plural(advice, "deadline", "deadlines"),
            if advice == 1 { "it" } else { "them" }
        );
    }
    if due > 0 {
        eprintln!(
            "{due} {} within the window",
            plural(due, "deadline fails the gate", "deadlines fail the gate")
        );
        return Ok(ExitCode::from(EXIT_CHECK_FAILED));
    }
    Ok(ExitCode::SUCCESS)
}
