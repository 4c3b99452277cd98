//! `iot-roots status --state DIR`: a device trust store's status, read without changing it.

use std::path::PathBuf;
use std::process::ExitCode;

use aws_iot_roots::store::{StoreConfig, TrustStore};

use crate::keys::load_signer_set;
use crate::table::{use_colour, Table, Tone};
use crate::time_arg::now_or_clock;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The device's trust store directory.
    #[arg(long, value_name = "DIR")]
    state: PathBuf,
    /// The device's fleet.
    #[arg(long)]
    fleet: String,
    /// The device's initial signer-set file.
    #[arg(long, value_name = "FILE")]
    signers: PathBuf,
    #[command(flatten)]
    report: crate::inspect::ReportArgs,
}

pub(crate) fn run(a: &Args) -> anyhow::Result<ExitCode> {
    let signers = load_signer_set(&a.signers)?;
    // Read-only: inspection never cleans up, discards or writes anything on a device's
    // state, and waits out an agent's mutation in progress instead of reading it half done.
    // The store's errors name the directory or the file in it.
    let store = TrustStore::open_read_only(&a.state, StoreConfig::new(&a.fleet, signers))?;
    let s = store.status(now_or_clock(a.report.now));
    if a.report.json {
        println!("{}", serde_json::to_string_pretty(&s)?);
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
    if let Some(d) = &s.earliest_deadline {
        println!(
            "next deadline: {} {} on {} ({} days)",
            d.root,
            d.what,
            &d.at[..10],
            d.days_left
        );
    }
    if s.read_only {
        println!("access:        read-only");
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
        "NAME",
        "KEY",
        "NOT AFTER",
        "DAYS LEFT",
        "SPKI SHA-256 (pin)",
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
    print!("{}", t.render(use_colour()));
    Ok(ExitCode::SUCCESS)
}
