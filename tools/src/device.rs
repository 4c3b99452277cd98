//! `iot-roots device …`: the device side, for Linux gateways whose C clients (mosquitto, curl,
//! paho, the AWS IoT Device SDK for Embedded C) read a CA file, and for AWS IoT Device Client
//! job handlers. Every command goes through the library's `TrustStore`, so the device side of
//! the CLI has the same guarantees as a Rust agent: verify before anything is written,
//! stage → health check → commit, power loss at any instant leaves the old or the new state.
//!
//! `apply` prints one line on standard output, a word and a colon first, so that a job
//! handler maps it to a job status without parsing prose:
//! - `applied: version N, generation G` (exit 0);
//! - `already-active: version N` (exit 0);
//! - `refused: …` (exit 1: the bundle failed verification or the store refused it);
//! - `unhealthy: …` (exit 1: the health check failed; the active roots are unchanged);
//! - errors reading inputs or writing the PEM file go to standard error (exit 3).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context as _};
use aws_iot_roots::store::{
    HealthCheckError, StageOutcome, StoreConfig, StoreError, TlsHandshakeCheck, TrustStore,
};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, TrustAnchor, UnixTime};

use crate::fsutil::{read, write_out, Existing};
use crate::keys::load_signer_set;
use crate::source::{entry_from_der, labelled_pem, Entry};
use crate::time_arg::{now_or_clock, parse_rfc3339};
use crate::EXIT_CHECK_FAILED;

#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Verify, stage, health-check and commit a bundle; optionally write the active roots as
    /// the PEM CA file C clients read.
    Apply(ApplyArgs),
    /// Show the trust store's status (read-only).
    Status(crate::status::Args),
    /// Write the active roots as a PEM CA file (read-only on the store).
    ExportPem(ExportArgs),
    /// Drop the staged bundle, recording why, so it is not retried.
    Discard(DiscardArgs),
}

/// Which trust store: the device's state directory, fleet and initial signer set.
#[derive(Debug, clap::Args)]
pub(crate) struct StoreArgs {
    /// The device's trust store directory.
    #[arg(long, value_name = "DIR")]
    pub(crate) state: PathBuf,
    /// The device's fleet.
    #[arg(long)]
    pub(crate) fleet: String,
    /// The signer-set file the device trusts before any bundle (its firmware's).
    #[arg(long, value_name = "FILE")]
    pub(crate) signers: PathBuf,
}

impl StoreArgs {
    pub(crate) fn config(&self) -> anyhow::Result<StoreConfig> {
        Ok(StoreConfig::new(
            &self.fleet,
            load_signer_set(&self.signers)?,
        ))
    }
}

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("check").required(true).args(["health_check", "skip_health_check"])))]
pub(crate) struct ApplyArgs {
    /// The bundle file.
    bundle: PathBuf,
    #[command(flatten)]
    store: StoreArgs,
    /// Before committing, a TLS handshake to HOST:PORT must succeed trusting only the
    /// bundle's roots (your AWS IoT endpoint, e.g. `PREFIX-ats.iot.REGION.amazonaws.com:8883`).
    #[arg(long, value_name = "HOST:PORT")]
    health_check: Option<String>,
    /// The name the health check presents (SNI) and verifies; the host by default.
    #[arg(long, value_name = "NAME", requires = "health_check")]
    server_name: Option<String>,
    /// An ALPN protocol to offer (x-amzn-mqtt-ca on port 443).
    #[arg(long, value_name = "PROTOCOL", requires = "health_check")]
    alpn: Option<String>,
    /// The device certificate (PEM chain) for endpoints that require one, as AWS IoT does.
    #[arg(long, value_name = "FILE", requires_all = ["health_check", "client_key"])]
    client_cert: Option<PathBuf>,
    /// The device's private key (PEM) for --client-cert.
    #[arg(long, value_name = "FILE", requires = "client_cert")]
    client_key: Option<PathBuf>,
    /// Commit without a health check. Acceptable only where the device cannot reach its
    /// endpoint at update time, and a wrong root would be recovered by another update path.
    #[arg(long)]
    skip_health_check: bool,
    /// After success, write the active roots here (PEM, 0644, atomically).
    #[arg(long, value_name = "FILE")]
    pem_out: Option<PathBuf>,
    /// The device clock (RFC 3339); IOT_ROOTS_NOW or the system clock by default.
    #[arg(long, value_parser = parse_rfc3339)]
    now: Option<UnixTime>,
}

#[derive(Debug, clap::Args)]
pub(crate) struct ExportArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// The PEM file to write (replaced atomically), or `-` for standard output.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
}

#[derive(Debug, clap::Args)]
pub(crate) struct DiscardArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// Why: recorded with the discard, shown by `status`.
    #[arg(long)]
    reason: String,
}

pub(crate) fn run(cmd: &Command) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::Apply(a) => apply(a),
        Command::Status(a) => crate::status::run(a),
        Command::ExportPem(a) => export_pem(a),
        Command::Discard(a) => discard(a),
    }
}

/// The active roots of a store, as entries for PEM output.
fn active_entries<S: aws_iot_roots::store::Storage>(
    store: &TrustStore<S>,
) -> anyhow::Result<Vec<Entry>> {
    match store.active_bundle() {
        Some(b) => b
            .roots()
            .iter()
            .map(|r| entry_from_der(r.der().clone(), r.name().map(str::to_owned)))
            .collect(),
        None => Ok(crate::source::compiled_in()),
    }
}

/// Writes the PEM CA file: temp file, fsync, rename, fsync the directory; 0644.
fn write_pem<S: aws_iot_roots::store::Storage>(
    store: &TrustStore<S>,
    path: &Path,
) -> anyhow::Result<()> {
    let pem = labelled_pem(&active_entries(store)?);
    write_out(path, pem.as_bytes(), 0o644, Existing::Replace)
}

/// Opens the store as its writer, saying plainly why not when it cannot be.
fn open_writer(a: &StoreArgs) -> anyhow::Result<Result<TrustStore, String>> {
    match TrustStore::open(&a.state, a.config()?) {
        Ok(s) if s.access() == aws_iot_roots::store::Access::ReadOnly => Ok(Err(format!(
            "{} is read-only: the committed roots stay in use, updates are refused",
            a.state.display()
        ))),
        Ok(s) => Ok(Ok(s)),
        Err(StoreError::Busy { dir, .. }) => Ok(Err(format!(
            "{} is in use by another agent; try again when it has finished",
            dir.display()
        ))),
        Err(e) => Err(e).with_context(|| format!("open {}", a.state.display())),
    }
}

fn outcome(line: &str, code: u8) -> anyhow::Result<ExitCode> {
    println!("{line}");
    Ok(ExitCode::from(code))
}

fn tls_check(a: &ApplyArgs, target: &str) -> anyhow::Result<TlsHandshakeCheck> {
    let (host, port) = target
        .rsplit_once(':')
        .and_then(|(h, p)| Some((h, p.parse::<u16>().ok()?)))
        .with_context(|| format!("--health-check {target:?}: expected HOST:PORT"))?;
    let name = a.server_name.as_deref().unwrap_or(host);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut check = TlsHandshakeCheck::new(host, port, name, provider)
        .map_err(|e| anyhow::anyhow!("--server-name {name:?}: {e}"))?;
    if let Some(p) = &a.alpn {
        check = check.with_alpn(vec![p.as_bytes().to_vec()]);
    }
    if let (Some(cert), Some(key)) = (&a.client_cert, &a.client_key) {
        let chain = CertificateDer::pem_slice_iter(&read(cert)?)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| {
                anyhow::anyhow!("{}: not a PEM certificate chain: {e:?}", cert.display())
            })?;
        if chain.is_empty() {
            bail!("{}: no certificate", cert.display());
        }
        let key_der = PrivateKeyDer::from_pem_slice(&read(key)?)
            .map_err(|e| anyhow::anyhow!("{}: not a PEM private key: {e:?}", key.display()))?;
        check = check.with_client_auth(chain, key_der);
    }
    Ok(check)
}

fn apply(a: &ApplyArgs) -> anyhow::Result<ExitCode> {
    let bytes = read(&a.bundle)?;
    // Inputs first: a bad health-check target or key is exit 3 before the store is touched.
    let mut check = match &a.health_check {
        Some(target) => Some(tls_check(a, target)?),
        None => None,
    };
    let now = now_or_clock(a.now);
    let mut store = match open_writer(&a.store)? {
        Ok(s) => s,
        Err(why) => return outcome(&format!("refused: {why}"), EXIT_CHECK_FAILED),
    };
    let version = match store.stage(&bytes, now) {
        Ok(StageOutcome::Staged { version }) => version,
        Ok(StageOutcome::AlreadyActive { version }) => {
            if let Some(p) = &a.pem_out {
                write_pem(&store, p)?;
            }
            return outcome(&format!("already-active: version {version}"), 0);
        }
        Ok(other) => return outcome(&format!("refused: {other:?}"), EXIT_CHECK_FAILED),
        Err(e @ StoreError::Io { .. }) => {
            return Err(e).with_context(|| format!("stage into {}", a.store.state.display()))
        }
        Err(e) => return outcome(&format!("refused: {e}"), EXIT_CHECK_FAILED),
    };
    let result = match check.as_mut() {
        Some(c) => store.health_check(c, now),
        None => store.health_check(
            &mut |_: &[TrustAnchor<'static>]| Ok::<(), HealthCheckError>(()),
            now,
        ),
    };
    if let Err(e) = result {
        return outcome(&format!("unhealthy: {e}"), EXIT_CHECK_FAILED);
    }
    let committed = match store.commit(now) {
        Ok(c) => c,
        Err(e @ StoreError::Io { .. }) => {
            return Err(e).with_context(|| format!("commit in {}", a.store.state.display()))
        }
        Err(e) => return outcome(&format!("refused: {e}"), EXIT_CHECK_FAILED),
    };
    if let Some(p) = &a.pem_out {
        write_pem(&store, p).with_context(|| {
            format!(
                "version {version} is applied, but {} was not written (run apply again to write it)",
                p.display()
            )
        })?;
    }
    outcome(
        &format!(
            "applied: version {}, generation {}",
            committed.version, committed.generation
        ),
        0,
    )
}

fn export_pem(a: &ExportArgs) -> anyhow::Result<ExitCode> {
    let store = TrustStore::open_read_only(&a.store.state, a.store.config()?)?;
    write_pem(&store, &a.out)?;
    if a.out.as_os_str() != "-" {
        let n = active_entries(&store)?.len();
        eprintln!(
            "{n} {} written to {}",
            crate::table::plural(n, "root", "roots"),
            a.out.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn discard(a: &DiscardArgs) -> anyhow::Result<ExitCode> {
    let mut store = match open_writer(&a.store)? {
        Ok(s) => s,
        Err(why) => return outcome(&format!("refused: {why}"), EXIT_CHECK_FAILED),
    };
    let Some(version) = store.staged().map(|s| s.version) else {
        return outcome("nothing-staged: no bundle is staged", EXIT_CHECK_FAILED);
    };
    store
        .discard(&a.reason)
        .with_context(|| format!("discard in {}", a.store.state.display()))?;
    outcome(&format!("discarded: version {version}"), 0)
}
