//! `iot-roots status --state DIR`: a device trust store's status, read without changing it.

use std::io;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use aws_iot_roots::store::{DirStorage, Storage, StoreConfig, TrustStore};

use crate::keys::load_signer_set;
use crate::table::{use_colour, Table, Tone};
use crate::time_arg::now_or_clock;

/// A store directory opened for reading only: inspection never cleans up, discards or
/// writes anything on a device's state. It takes no lock, so it never blocks the agent.
#[derive(Debug)]
pub(crate) struct ReadOnlyDir(DirStorage);

impl ReadOnlyDir {
    pub(crate) fn new(dir: &Path) -> anyhow::Result<Self> {
        if !dir.is_dir() {
            anyhow::bail!("{}: no such state directory", dir.display());
        }
        Ok(Self(
            DirStorage::new(dir).with_context(|| dir.display().to_string())?,
        ))
    }
}

fn read_only() -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::PermissionDenied,
        "opened read-only for inspection",
    ))
}

impl Storage for ReadOnlyDir {
    fn read(&self, name: &str, max: usize) -> io::Result<Option<Vec<u8>>> {
        self.0.read(name, max)
    }
    fn list(&self) -> io::Result<Vec<String>> {
        self.0.list()
    }
    fn write(&self, _: &str, _: &[u8]) -> io::Result<()> {
        read_only()
    }
    fn sync(&self, _: &str) -> io::Result<()> {
        read_only()
    }
    fn rename(&self, _: &str, _: &str) -> io::Result<()> {
        read_only()
    }
    fn sync_dir(&self) -> io::Result<()> {
        read_only()
    }
    fn remove(&self, _: &str) -> io::Result<()> {
        read_only()
    }
}

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
    let store = TrustStore::open_with(
        ReadOnlyDir::new(&a.state)?,
        StoreConfig::new(&a.fleet, signers),
    )
    .with_context(|| format!("open {}", a.state.display()))?;
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
