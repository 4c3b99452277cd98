//! `iot-roots status --state DIR`: a device trust store's status, read without changing it.

use std::process::ExitCode;

use aws_iot_roots::store::TrustStore;

use crate::table::{use_colour, Column, Table, Tone};
use crate::time_arg::{now_or_clock, rfc3339};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    store: crate::device::StoreArgs,
    #[command(flatten)]
    report: crate::inspect::ReportArgs,
}

pub(crate) fn run(a: &Args) -> anyhow::Result<ExitCode> {
    // Read-only: inspection never cleans up, discards or writes anything on a device's
    // state, and waits out an agent's mutation in progress instead of reading it half done.
    // The store's errors name the directory or the file in it.
    let store = TrustStore::open_read_only(&a.store.state, a.store.config()?)?;
    let now = now_or_clock(a.report.now);
    let s = store.status(now);
    if a.report.json {
        // The library's status, plus what a fleet script needs to match it to a release:
        // docs/cli-json.md.
        let floors = store.floors();
        let mut json = serde_json::to_value(&s)?;
        if let Some(obj) = json.as_object_mut() {
            obj.insert("schema".into(), 1.into());
            obj.insert("now".into(), rfc3339(now).into());
            obj.insert("fleet".into(), floors.fleet.clone().into());
            obj.insert(
                "payload_sha256".into(),
                floors
                    .payload_sha256
                    .map(|h| crate::inspect::hex(&h))
                    .into(),
            );
            obj.insert(
                "signers".into(),
                serde_json::to_value(crate::bundle_cmd::SignerSetView::from(&floors.signers))?,
            );
        }
        println!("{}", serde_json::to_string_pretty(&json)?);
        return Ok(ExitCode::SUCCESS);
    }
    let source = serde_json::to_value(s.source)?;
    println!("source:        {}", source["kind"].as_str().unwrap_or("?"));
    println!(
        "version:       {}",
        s.version
            .map(|v| v.to_string())
            .unwrap_or_else(|| "-".into())
    );
    println!("floor version: {}", s.floor_version);
    println!("time floor:    {}", s.time_floor);
    if let Some(e) = &s.bundle_expires_at {
        println!(
            "bundle until:  {e}{}",
            if s.stale_bundle {
                "  (STALE: expired, still active)"
            } else {
                ""
            }
        );
    }
    if s.clock_behind_floor {
        println!("clock:         BEHIND THE TIME FLOOR");
    }
    if let Some(st) = &s.staged {
        println!(
            "staged:        version {} ({} attempts, passed: {})",
            st.version, st.attempts, st.passed
        );
    }
    if let (Some(d), Some(days)) = (&s.earliest_deadline, s.days_to_earliest_deadline) {
        // Two lines: the longest root name alone takes 50 of the 80 columns.
        println!("next deadline: {}", d.root);
        println!(
            "               {} on {} ({days} days)",
            d.kind.describe(),
            &rfc3339(d.at)[..10],
        );
    }
    for d in &s.discarded {
        println!(
            "discarded:     version {} ({}): {}",
            d.version,
            serde_json::to_value(d.cause)?.as_str().unwrap_or("?"),
            d.reason
        );
    }
    for n in &s.notes {
        println!("note:          {n}");
    }
    let mut t = Table::new(vec![
        Column::shrinkable("NAME"),
        Column::new("KEY"),
        Column::new("NOT AFTER"),
        Column::new("DAYS LEFT"),
        Column::digest("SPKI PIN"),
    ]);
    for r in &s.roots {
        t.row(vec![
            (r.name.clone(), Tone::Plain),
            (r.key.clone(), Tone::Plain),
            (r.not_after[..10].into(), Tone::Plain),
            (r.days_left.to_string(), crate::inspect::tone(r.days_left)),
            (r.spki_sha256.clone(), Tone::Plain),
        ]);
    }
    print!("{}", t.render(use_colour(), a.report.width()));
    Ok(ExitCode::SUCCESS)
}
