//! `iot-roots bundle …`: build, sign, review and dry-run-verify root bundles.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context as _};
use aws_iot_roots::bundle::{
    verify, Bundle, BundleBuilder, Limits, Payload, Policy, PublicKey, Rule, TrustState, Verdict,
};
use aws_iot_roots::store::{StoreConfig, TrustStore};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use rustls_pki_types::UnixTime;
use serde::Serialize;

use crate::fsutil::{read, write_atomic, Existing};
use crate::inspect::hex;
use crate::keys::{load_signer_set, public_key, signing_key};
use crate::source::{entry_from_der, pem_certificates, pem_files};
use crate::time_arg::{now_or_clock, parse_rfc3339, rfc3339};
use crate::EXIT_CHECK_FAILED;

#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Build an unsigned bundle from a roots directory and/or PEM files.
    Create(CreateArgs),
    /// Sign a bundle with a private key and append the signature.
    Sign(SignArgs),
    /// Write the exact bytes an external signer signs (HSM, AWS KMS, openssl pkeyutl -rawin).
    Pae(PaeArgs),
    /// Attach an externally made signature, after checking it.
    Attach(AttachArgs),
    /// Run the device's verification as a dry run and print every rule checked.
    Verify(VerifyArgs),
    /// Show what changes between two bundles: what a reviewer must see before signing.
    Diff(DiffArgs),
}

#[derive(Debug, clap::Args)]
pub(crate) struct CreateArgs {
    /// The fleet the bundle is for.
    #[arg(long)]
    fleet: String,
    /// The bundle version; devices accept only a greater one than they have.
    #[arg(long)]
    version: u64,
    /// When devices stop accepting it (RFC 3339, UTC).
    #[arg(long, value_parser = parse_rfc3339)]
    expires: UnixTime,
    /// Issue time (RFC 3339, UTC); now by default.
    #[arg(long, value_parser = parse_rfc3339)]
    issued: Option<UnixTime>,
    /// The signer-set file (`iot-roots signer-set`) for the next bundles.
    #[arg(long, value_name = "FILE")]
    next_signers: PathBuf,
    /// Every *.pem / *.crt file in this directory is a root.
    #[arg(long, value_name = "DIR")]
    roots: Option<PathBuf>,
    /// Root certificate PEM files.
    pem: Vec<PathBuf>,
    /// Where to write the unsigned bundle.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
}

#[derive(Debug, clap::Args)]
pub(crate) struct SignArgs {
    /// The bundle; signed in place unless --out is given.
    bundle: PathBuf,
    /// The private key (PKCS#8 PEM).
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    /// Write the signed bundle here instead.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub(crate) struct PaeArgs {
    /// The bundle.
    bundle: PathBuf,
    /// Where to write the bytes to sign.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
}

#[derive(Debug, clap::Args)]
pub(crate) struct AttachArgs {
    /// The bundle; updated in place unless --out is given.
    bundle: PathBuf,
    /// The signature: 64 raw bytes, or their base64 (as `aws kms sign` prints it).
    #[arg(long, value_name = "FILE")]
    sig: PathBuf,
    /// The signer's public key (SPKI PEM).
    #[arg(long, value_name = "FILE")]
    pubkey: PathBuf,
    /// Write the bundle here instead.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub(crate) struct VerifyArgs {
    /// The bundle.
    bundle: PathBuf,
    /// The device's fleet.
    #[arg(long)]
    fleet: String,
    /// The device's signer-set file: the set it trusts before any bundle.
    #[arg(long, value_name = "FILE")]
    signers: PathBuf,
    /// A device state directory: check against its floors (version, time floor, signer set).
    #[arg(long, value_name = "DIR")]
    state: Option<PathBuf>,
    /// The device clock (RFC 3339); now by default.
    #[arg(long, value_parser = parse_rfc3339)]
    now: Option<UnixTime>,
    /// Without --state: the device's time floor (its firmware build time, RFC 3339); this
    /// tool's build time by default.
    #[arg(long, value_parser = parse_rfc3339, conflicts_with = "state")]
    time_floor: Option<UnixTime>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
pub(crate) struct DiffArgs {
    /// The bundle devices have now.
    old: PathBuf,
    /// The bundle to review.
    new: PathBuf,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(cmd: &Command) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::Create(a) => create(a),
        Command::Sign(a) => sign(a),
        Command::Pae(a) => pae(a),
        Command::Attach(a) => attach(a),
        Command::Verify(a) => verify_cmd(a),
        Command::Diff(a) => diff(a),
    }
}

fn load(path: &std::path::Path) -> anyhow::Result<Bundle> {
    Bundle::from_bytes(&read(path)?, &Limits::default()).with_context(|| path.display().to_string())
}

fn create(a: &CreateArgs) -> anyhow::Result<ExitCode> {
    let signers = load_signer_set(&a.next_signers)?;
    let mut files = a.pem.clone();
    if let Some(dir) = &a.roots {
        files.extend(pem_files(dir)?);
    }
    if files.is_empty() {
        bail!("no roots: give --roots DIR and/or PEM files");
    }
    let issued = now_or_clock(a.issued);
    let mut builder = BundleBuilder::new(&a.fleet, a.version, issued, a.expires, signers);
    for f in &files {
        let certs = pem_certificates(f)?;
        if certs.len() != 1 {
            bail!(
                "{}: holds {} certificates; give one root per file",
                f.display(),
                certs.len()
            );
        }
        let entry =
            entry_from_der(certs[0].clone(), None).with_context(|| f.display().to_string())?;
        builder = builder.root(entry.der, Some(entry.name));
    }
    let bundle = builder
        .build(&Limits::default())
        .context("refusing to build the bundle")?;
    write_atomic(&a.out, &bundle.to_bytes(), 0o644, Existing::Replace)?;
    let payload = bundle.payload_unverified(&Limits::default())?;
    println!(
        "unsigned bundle {} for fleet {:?}, version {}, {} roots, expires {}, PAE {} bytes",
        a.out.display(),
        payload.fleet,
        payload.version,
        payload.roots.len(),
        rfc3339(payload.expires_at),
        bundle.pae().len()
    );
    Ok(ExitCode::SUCCESS)
}

fn sign(a: &SignArgs) -> anyhow::Result<ExitCode> {
    let mut bundle = load(&a.bundle)?;
    let key = signing_key(&a.key)?;
    let public = key.public_key();
    if bundle.signed_by(&[public]).contains(&public) {
        bail!(
            "{} is already signed by key {}",
            a.bundle.display(),
            public.key_id()
        );
    }
    bundle.sign(&key);
    let out = a.out.as_ref().unwrap_or(&a.bundle);
    write_atomic(out, &bundle.to_bytes(), 0o644, Existing::Replace)?;
    println!(
        "signed by {} ({} signatures)",
        public.key_id(),
        bundle.signature_count()
    );
    Ok(ExitCode::SUCCESS)
}

fn pae(a: &PaeArgs) -> anyhow::Result<ExitCode> {
    let bundle = load(&a.bundle)?;
    let pae = bundle.pae();
    write_atomic(&a.out, &pae, 0o644, Existing::Replace)?;
    println!("{} bytes to sign written to {}", pae.len(), a.out.display());
    Ok(ExitCode::SUCCESS)
}

fn attach(a: &AttachArgs) -> anyhow::Result<ExitCode> {
    let mut bundle = load(&a.bundle)?;
    let key: PublicKey = public_key(&a.pubkey)?;
    let raw = read(&a.sig)?;
    let sig = if raw.len() == 64 {
        raw
    } else {
        let text = String::from_utf8_lossy(&raw);
        B64.decode(text.trim())
            .with_context(|| format!("{}: neither 64 raw bytes nor base64", a.sig.display()))?
    };
    if let Err(e) = bundle.attach(&key, &sig) {
        eprintln!("error: not attached: {e} (key {})", key.key_id());
        return Ok(ExitCode::from(EXIT_CHECK_FAILED));
    }
    let out = a.out.as_ref().unwrap_or(&a.bundle);
    write_atomic(out, &bundle.to_bytes(), 0o644, Existing::Replace)?;
    println!(
        "attached a signature by {} ({} signatures)",
        key.key_id(),
        bundle.signature_count()
    );
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Serialize)]
struct RuleReport {
    rule: usize,
    check: &'static str,
    result: &'static str,
    detail: Option<String>,
}

fn verify_cmd(a: &VerifyArgs) -> anyhow::Result<ExitCode> {
    let bytes = read(&a.bundle)?;
    let signers = load_signer_set(&a.signers)?;
    let now = now_or_clock(a.now);
    let state = match &a.state {
        Some(dir) => {
            let store = TrustStore::open_read_only(dir, StoreConfig::new(&a.fleet, signers))
                .with_context(|| format!("read device state {}", dir.display()))?;
            store.floors().clone()
        }
        None => {
            let initial = TrustState::initial(&a.fleet, signers);
            TrustState {
                time_floor: a.time_floor.unwrap_or(initial.time_floor),
                ..initial
            }
        }
    };
    let result = verify(&bytes, &state, now, &Policy::default());
    let failed_rule = result.as_ref().err().map(|e| e.rule());
    let reports: Vec<RuleReport> = Rule::ALL
        .iter()
        .enumerate()
        .map(|(i, rule)| {
            let (result, detail) = match (&result, failed_rule) {
                (Err(e), Some(f)) if f == *rule => ("FAILED", Some(e.to_string())),
                (Err(_), Some(f)) if f < *rule => ("not reached", None),
                (Ok(Verdict::AlreadyActive { .. }), _) if *rule > Rule::Version => {
                    ("not needed", None)
                }
                _ => ("passed", None),
            };
            RuleReport {
                rule: i + 1,
                check: rule.describe(),
                result,
                detail,
            }
        })
        .collect();
    let verdict = match &result {
        Ok(Verdict::Apply(v)) => {
            format!("ACCEPTED: version {} would be applied", v.payload().version)
        }
        Ok(Verdict::AlreadyActive { version }) => format!("ALREADY ACTIVE: version {version}"),
        Ok(_) => "ACCEPTED".into(),
        Err(e) => format!("REFUSED: {e}"),
    };
    if a.json {
        let out = serde_json::json!({
            "bundle": a.bundle.display().to_string(), "fleet": a.fleet, "now": rfc3339(now),
            "floor_version": state.version, "time_floor": rfc3339(state.time_floor),
            "accepted": result.is_ok(), "verdict": verdict, "rules": reports,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!(
            "device state: fleet {:?}, version {}, time floor {}",
            a.fleet,
            state.version,
            rfc3339(state.time_floor)
        );
        for r in &reports {
            let mark = match r.result {
                "passed" => "ok  ",
                "FAILED" => "FAIL",
                _ => "--  ",
            };
            println!(
                "{mark} {}. {}{}",
                r.rule,
                r.check,
                r.detail
                    .as_ref()
                    .map(|d| format!(": {d}"))
                    .unwrap_or_default()
            );
        }
        println!("{verdict}");
    }
    Ok(if result.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_CHECK_FAILED)
    })
}

#[derive(Debug, Serialize)]
struct Diff {
    fleet: (String, String),
    version: (u64, u64),
    issued_at: (String, String),
    expires_at: (String, String),
    roots_added: Vec<RootLine>,
    roots_removed: Vec<RootLine>,
    roots_kept: Vec<RootLine>,
    threshold: (u32, u32),
    signer_keys_added: Vec<String>,
    signer_keys_removed: Vec<String>,
    signer_set_changed: bool,
}

#[derive(Debug, Serialize)]
struct RootLine {
    name: String,
    sha256: String,
    not_after: String,
}

fn roots_of(bundle: &Bundle, payload: &Payload) -> anyhow::Result<BTreeMap<String, RootLine>> {
    let mut out = BTreeMap::new();
    for der in bundle.certificates() {
        let entry = entry_from_der(der.into_owned(), None)?;
        let name = payload
            .roots
            .iter()
            .find(|r| r.sha256 == entry.sha256)
            .and_then(|r| r.name.clone())
            .unwrap_or(entry.name);
        out.insert(
            hex(&entry.sha256),
            RootLine {
                name,
                sha256: hex(&entry.sha256),
                not_after: rfc3339(entry.not_after),
            },
        );
    }
    Ok(out)
}

fn diff(a: &DiffArgs) -> anyhow::Result<ExitCode> {
    let (old, new) = (load(&a.old)?, load(&a.new)?);
    let limits = Limits::default();
    let (po, pn) = (
        old.payload_unverified(&limits)?,
        new.payload_unverified(&limits)?,
    );
    let (mut ro, mut rn) = (roots_of(&old, &po)?, roots_of(&new, &pn)?);
    let kept_keys: Vec<String> = ro.keys().filter(|k| rn.contains_key(*k)).cloned().collect();
    let roots_kept = kept_keys.iter().filter_map(|k| {
        ro.remove(k);
        rn.remove(k)
    });
    let keys = |p: &Payload| {
        p.signers
            .keys()
            .iter()
            .map(PublicKey::to_base64)
            .collect::<std::collections::BTreeSet<_>>()
    };
    let (ko, kn) = (keys(&po), keys(&pn));
    let d = Diff {
        fleet: (po.fleet.clone(), pn.fleet.clone()),
        version: (po.version, pn.version),
        issued_at: (rfc3339(po.issued_at), rfc3339(pn.issued_at)),
        expires_at: (rfc3339(po.expires_at), rfc3339(pn.expires_at)),
        roots_kept: roots_kept.collect(),
        roots_added: rn.into_values().collect(),
        roots_removed: ro.into_values().collect(),
        threshold: (po.signers.threshold(), pn.signers.threshold()),
        signer_keys_added: kn.difference(&ko).cloned().collect(),
        signer_keys_removed: ko.difference(&kn).cloned().collect(),
        signer_set_changed: !po.signers.same_as(&pn.signers),
    };
    if a.json {
        println!("{}", serde_json::to_string_pretty(&d)?);
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!("note: neither bundle is verified by diff; run `bundle verify` too");
    let change = |label: &str, o: &str, n: &str| {
        if o == n {
            println!("{label:<10} {n}");
        } else {
            println!("{label:<10} {o} -> {n}   CHANGED");
        }
    };
    change("fleet", &d.fleet.0, &d.fleet.1);
    change(
        "version",
        &d.version.0.to_string(),
        &d.version.1.to_string(),
    );
    change("issued", &d.issued_at.0, &d.issued_at.1);
    change("expires", &d.expires_at.0, &d.expires_at.1);
    for (mark, roots) in [("+", &d.roots_added), ("-", &d.roots_removed)] {
        for r in roots {
            println!(
                "{mark} root    {} ({}, until {})",
                r.name,
                r.sha256,
                &r.not_after[..10]
            );
        }
    }
    for r in &d.roots_kept {
        println!("  root    {} ({})", r.name, r.sha256);
    }
    change(
        "threshold",
        &d.threshold.0.to_string(),
        &d.threshold.1.to_string(),
    );
    for k in &d.signer_keys_added {
        println!("+ signer  {k}");
    }
    for k in &d.signer_keys_removed {
        println!("- signer  {k}");
    }
    if d.signer_set_changed {
        println!("SIGNER SET CHANGES: the bundle needs a threshold of the old and of the new keys");
    }
    Ok(ExitCode::SUCCESS)
}
