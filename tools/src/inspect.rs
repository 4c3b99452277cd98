//! `iot-roots inspect`: roots, their pins and how long each has left.

use std::process::ExitCode;

use aws_iot_roots::{RemovalBasis, RootProgramRemoval};
use rustls_pki_types::UnixTime;
use serde::Serialize;

use crate::source::{Entry, SourceArgs};
use crate::table::{use_colour, Column, Table, Tone};
use crate::time_arg::{days_between, now_or_clock, parse_rfc3339, rfc3339};

/// Days left under which a deadline is highlighted: the build script's default warning
/// window, the time a fleet needs to roll a root bundle out.
pub(crate) const WARN_DAYS: i64 = 730;

/// How a read command reports: JSON or a table, at a given time or now.
#[derive(Debug, clap::Args)]
pub(crate) struct ReportArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub(crate) json: bool,
    /// Evaluate at this time (RFC 3339) instead of now (or IOT_ROOTS_NOW).
    #[arg(long, value_name = "RFC3339", value_parser = parse_rfc3339)]
    pub(crate) now: Option<UnixTime>,
    /// Every column in full, however wide (tables fit the terminal, or 80 columns, otherwise).
    #[arg(long)]
    pub(crate) wide: bool,
}

impl ReportArgs {
    /// The width a table must fit, or `None` with `--wide`.
    pub(crate) fn width(&self) -> Option<usize> {
        (!self.wide).then(crate::table::output_width)
    }
}

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    source: SourceArgs,
    #[command(flatten)]
    report: ReportArgs,
}

#[derive(Debug, Serialize)]
pub(crate) struct RootView {
    pub(crate) name: String,
    pub(crate) subject: String,
    pub(crate) key: String,
    pub(crate) not_after: String,
    pub(crate) days_left: i64,
    pub(crate) root_program_removal: Option<RemovalView>,
    pub(crate) sha256: String,
    pub(crate) spki_sha256: String,
}

#[derive(Debug, Serialize)]
pub(crate) struct RemovalView {
    pub(crate) program: &'static str,
    pub(crate) date: String,
    pub(crate) basis: &'static str,
    pub(crate) days_left: i64,
    pub(crate) note: &'static str,
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn removal_view(r: &RootProgramRemoval, now: UnixTime) -> RemovalView {
    RemovalView {
        program: r.program,
        date: rfc3339(r.date),
        basis: match r.basis {
            RemovalBasis::Announced => "announced",
            _ => "projected",
        },
        days_left: days_between(now, r.date),
        note: r.note,
    }
}

pub(crate) fn view(e: &Entry, now: UnixTime) -> RootView {
    RootView {
        name: e.name.clone(),
        subject: e.subject.clone(),
        key: e.key.clone(),
        not_after: rfc3339(e.not_after),
        days_left: days_between(now, e.not_after),
        root_program_removal: e.removal.as_ref().map(|r| removal_view(r, now)),
        sha256: hex(&e.sha256),
        spki_sha256: hex(&e.spki_sha256),
    }
}

pub(crate) fn tone(days: i64) -> Tone {
    match days {
        d if d < 0 => Tone::Bad,
        d if d < WARN_DAYS => Tone::Warn,
        _ => Tone::Plain,
    }
}

pub(crate) fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let now = now_or_clock(args.report.now);
    let (source, entries) = args.source.load()?;
    let views: Vec<RootView> = entries.iter().map(|e| view(e, now)).collect();
    if args.report.json {
        println!(
            "{}",
            serde_json::to_string_pretty(
                &serde_json::json!({ "schema": 1, "source": source, "roots": views })
            )?
        );
        return Ok(ExitCode::SUCCESS);
    }
    let wide = args.report.wide;
    let mut columns = vec![
        Column::shrinkable("NAME"),
        Column::new("KEY"),
        Column::new("NOT AFTER"),
        Column::new("DAYS"),
        Column::shrinkable("ROOT PROGRAM"),
    ];
    if wide {
        columns.push(Column::new("SHA-256"));
    }
    columns.push(Column::digest("SPKI PIN"));
    let mut t = Table::new(columns);
    for v in &views {
        let removal = match &v.root_program_removal {
            Some(r) if wide => (
                format!(
                    "{} {} ({}, {} days)",
                    r.program,
                    &r.date[..10],
                    r.basis,
                    r.days_left
                ),
                tone(r.days_left),
            ),
            // Narrow: the basis as one letter, explained below the table.
            Some(r) => (
                format!("{} ({})", &r.date[..10], &r.basis[..1]),
                tone(r.days_left),
            ),
            None => ("-".into(), Tone::Plain),
        };
        let mut row = vec![
            (v.name.clone(), Tone::Plain),
            (v.key.clone(), Tone::Plain),
            (v.not_after[..10].into(), Tone::Plain),
            (v.days_left.to_string(), tone(v.days_left)),
            removal,
        ];
        if wide {
            row.push((v.sha256.clone(), Tone::Plain));
        }
        row.push((v.spki_sha256.clone(), Tone::Plain));
        t.row(row);
    }
    print!("{}", t.render(use_colour(), args.report.width()));
    if let Some(signers) = &source.signers {
        println!("next signer set: {}", signers.summary);
        for k in &signers.keys {
            println!("  {}  {}", &k.key_id[..16], k.shown());
        }
    }
    if !wide && views.iter().any(|v| v.root_program_removal.is_some()) {
        eprintln!("root program: (a) announced, (p) projected; --wide shows every column in full");
    }
    eprintln!("source: {source}");
    if views.is_empty() {
        eprintln!("note: no roots");
    }
    Ok(ExitCode::SUCCESS)
}
