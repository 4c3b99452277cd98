//! `iot-roots inspect`: the compiled-in roots, their pins and how long each has left.

use std::process::ExitCode;

use aws_iot_roots::{RemovalBasis, Root, ROOTS};
use rustls_pki_types::UnixTime;
use serde::Serialize;

use crate::table::{use_colour, Table, Tone};
use crate::time_arg::{days_between, now_or_clock, parse_rfc3339, rfc3339};

/// Days left under which a deadline is highlighted: the build script's default warning
/// window, the time a fleet needs to roll a root bundle out.
const WARN_DAYS: i64 = 730;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Evaluate days left at this time (RFC 3339) instead of now.
    #[arg(long, value_name = "RFC3339", value_parser = parse_rfc3339)]
    now: Option<UnixTime>,
}

#[derive(Debug, Serialize)]
struct RootView {
    name: &'static str,
    feature: &'static str,
    subject: &'static str,
    key: String,
    not_before: String,
    not_after: String,
    days_left: i64,
    root_program_removal: Option<RemovalView>,
    sha256: String,
    spki_sha256: String,
}

#[derive(Debug, Serialize)]
struct RemovalView {
    program: &'static str,
    date: String,
    basis: &'static str,
    days_left: i64,
    note: &'static str,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn view(root: &Root, now: UnixTime) -> RootView {
    RootView {
        name: root.name,
        feature: root.feature,
        subject: root.subject,
        key: root.key.to_string(),
        not_before: rfc3339(root.not_before),
        not_after: rfc3339(root.not_after),
        days_left: days_between(now, root.not_after),
        root_program_removal: root.root_program_removal.map(|r| RemovalView {
            program: r.program,
            date: rfc3339(r.date),
            basis: match r.basis {
                RemovalBasis::Announced => "announced",
                _ => "projected",
            },
            days_left: days_between(now, r.date),
            note: r.note,
        }),
        sha256: hex(&root.sha256),
        spki_sha256: hex(&root.spki_sha256),
    }
}

fn tone(days: i64) -> Tone {
    match days {
        d if d < 0 => Tone::Bad,
        d if d < WARN_DAYS => Tone::Warn,
        _ => Tone::Plain,
    }
}

pub(crate) fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let now = now_or_clock(args.now);
    let views: Vec<RootView> = ROOTS.iter().map(|r| view(r, now)).collect();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&views)?);
        return Ok(ExitCode::SUCCESS);
    }
    let mut t = Table::new(vec![
        "NAME",
        "KEY",
        "NOT AFTER",
        "DAYS LEFT",
        "ROOT-PROGRAM REMOVAL",
        "SHA-256",
        "SPKI SHA-256 (pin)",
    ]);
    for v in &views {
        let removal = match &v.root_program_removal {
            Some(r) => (
                format!(
                    "{} {} ({}, {} days)",
                    r.program,
                    &r.date[..10],
                    r.basis,
                    r.days_left
                ),
                tone(r.days_left),
            ),
            None => ("-".into(), Tone::Plain),
        };
        t.row(vec![
            (v.name.into(), Tone::Plain),
            (v.key.clone(), Tone::Plain),
            (v.not_after[..10].into(), Tone::Plain),
            (v.days_left.to_string(), tone(v.days_left)),
            removal,
            (v.sha256.clone(), Tone::Plain),
            (v.spki_sha256.clone(), Tone::Plain),
        ]);
    }
    print!("{}", t.render(use_colour()));
    if views.is_empty() {
        eprintln!("note: no root feature is enabled in this build");
    }
    Ok(ExitCode::SUCCESS)
}
