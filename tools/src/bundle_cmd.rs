//! `iot-roots bundle …`: build, sign, review and dry-run-verify root bundles.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context as _};
use aws_iot_roots::bundle::{
    verify_report, Bundle, BundleBuilder, Limits, Outcome, Payload, Policy, PublicKey, TrustState,
    Verdict,
};
use aws_iot_roots::store::{StoreConfig, TrustStore};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use rustls_pki_types::UnixTime;
use serde::Serialize;

use crate::fsutil::{read, write_atomic, Existing};
use crate::inspect::hex;
use crate::keys::{load_signer_set, public_key, signing_key};
use crate::source::{bundle_entries, compiled_in, entry_from_der, pem_certificates, pem_files};
use crate::table::plural;
use crate::time_arg::{now_or_clock, parse_expiry, parse_rfc3339, rfc3339, Expiry};
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
    /// Show who has signed, and who is still missing, for each signer set.
    Signatures(SignaturesArgs),
}

#[derive(Debug, clap::Args)]
pub(crate) struct CreateArgs {
    /// The fleet the bundle is for.
    #[arg(long)]
    fleet: String,
    /// The bundle version; devices accept only a greater one than they have.
    #[arg(long)]
    version: u64,
    /// When devices stop accepting it: a date (RFC 3339) or a duration from --issued (180d,
    /// 6mo). Keep it short: an expired bundle cannot be replayed to a wiped device.
    #[arg(long, value_parser = parse_expiry)]
    expires: Expiry,
    /// Issue time (RFC 3339, UTC); IOT_ROOTS_NOW or now by default.
    #[arg(long, value_parser = parse_rfc3339)]
    issued: Option<UnixTime>,
    /// The signer-set file (`iot-roots signer-set`) for the next bundles.
    #[arg(long, value_name = "FILE")]
    next_signers: PathBuf,
    /// Include the roots compiled into this tool (the set devices ship with).
    #[arg(long)]
    compiled_in: bool,
    /// Every *.pem / *.crt file in this directory is a root.
    #[arg(long, value_name = "DIR")]
    roots: Option<PathBuf>,
    /// Root certificate PEM files.
    pem: Vec<PathBuf>,
    /// A root's display name: FILE=NAME for a PEM file given (repeatable); derived from the
    /// subject (CN, else OU, else O) otherwise.
    #[arg(long, value_name = "FILE=NAME")]
    name: Vec<String>,
    /// Where to write the unsigned bundle.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Replace an existing file (it may hold signatures: they would be lost).
    #[arg(long)]
    force: bool,
    /// The bundle format: v1 (Ed25519 only, readable by every firmware) or v2 (signer
    /// groups). By default v1 when the next set is one Ed25519 group, else v2. Give v2 when
    /// the devices' current set has an ML-DSA group (their bundles need its signatures).
    #[arg(long, value_name = "v1|v2", value_parser = parse_format)]
    format: Option<aws_iot_roots::bundle::Format>,
}

fn parse_format(s: &str) -> Result<aws_iot_roots::bundle::Format, String> {
    match s {
        "v1" => Ok(aws_iot_roots::bundle::Format::V1),
        "v2" => Ok(aws_iot_roots::bundle::Format::V2),
        _ => Err(format!("{s:?}: expected v1 or v2")),
    }
}

#[derive(Debug, clap::Args)]
pub(crate) struct SignArgs {
    /// The bundle; signed in place (atomically) unless --out is given.
    bundle: PathBuf,
    /// The private key (PKCS#8 PEM).
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "pkcs11_module",
        conflicts_with = "pkcs11_module"
    )]
    key: Option<PathBuf>,
    #[command(flatten)]
    pkcs11: crate::pkcs11::TokenArgs,
    /// Write the signed bundle here instead.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// With --out: replace an existing file.
    #[arg(long, requires = "out")]
    force: bool,
    /// The signer set this key should belong to (warns when it does not).
    #[arg(long, value_name = "FILE")]
    signers: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub(crate) struct PaeArgs {
    /// The bundle.
    bundle: PathBuf,
    /// Where to write the bytes to sign.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Replace an existing file.
    #[arg(long)]
    force: bool,
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
    /// With --out: replace an existing file.
    #[arg(long, requires = "out")]
    force: bool,
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
    /// OLD NEW: the bundle devices have now, then the bundle to review (only NEW with
    /// --compiled-in).
    #[arg(required = true, num_args = 1..=2, value_name = "BUNDLE")]
    bundles: Vec<PathBuf>,
    /// Compare with the roots compiled into this tool: what a first bundle keeps and drops.
    #[arg(long)]
    compiled_in: bool,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Args)]
pub(crate) struct SignaturesArgs {
    /// The bundle.
    bundle: PathBuf,
    /// The signer set devices trust now (the bundle's own next set is always shown).
    #[arg(long, value_name = "FILE")]
    signers: Option<PathBuf>,
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
        Command::Signatures(a) => signatures_cmd(a),
    }
}

fn load(path: &Path) -> anyhow::Result<Bundle> {
    Bundle::from_bytes(&read(path)?, &Limits::default()).with_context(|| path.display().to_string())
}

fn create(a: &CreateArgs) -> anyhow::Result<ExitCode> {
    let signers = load_signer_set(&a.next_signers)?;
    let mut files = a.pem.clone();
    if let Some(dir) = &a.roots {
        files.extend(pem_files(dir)?);
    }
    if files.is_empty() && !a.compiled_in {
        bail!("no roots: give --compiled-in, --roots DIR and/or PEM files");
    }
    let mut names: BTreeMap<PathBuf, String> = BTreeMap::new();
    for n in &a.name {
        let Some((file, name)) = n.split_once('=') else {
            bail!("--name {n:?}: expected FILE=NAME");
        };
        if !files.iter().any(|f| f == Path::new(file)) {
            bail!("--name {n:?}: {file} is not one of the PEM files given");
        }
        names.insert(PathBuf::from(file), name.to_owned());
    }
    let issued = now_or_clock(a.issued);
    let expires = a.expires.from(issued);
    let mut entries = if a.compiled_in {
        compiled_in()
    } else {
        Vec::new()
    };
    for f in &files {
        let certs = pem_certificates(f)?;
        if certs.len() != 1 {
            bail!(
                "{}: holds {} certificates; give one root per file",
                f.display(),
                certs.len()
            );
        }
        let entry = entry_from_der(certs[0].clone(), names.get(f).cloned())
            .with_context(|| f.display().to_string())?;
        entries.push(entry);
    }
    let mut builder = BundleBuilder::new(&a.fleet, a.version, issued, expires, signers);
    if let Some(f) = a.format {
        builder = builder.format(f);
    }
    for e in &entries {
        builder = builder.root(e.der.clone(), Some(e.name.clone()));
    }
    let bundle = builder.build(&Limits::default()).map_err(|e| {
        // Name the file the user gave for a refusal about one certificate.
        let file = certificate_file(&e, &entries, &files, a.compiled_in);
        anyhow::anyhow!("refusing to build the bundle: {e}{file}")
    })?;
    write_atomic(
        &a.out,
        &bundle.to_bytes(),
        0o644,
        Existing::unless_forced(a.force),
    )?;
    let payload = bundle.payload_unverified(&Limits::default())?;
    let n = payload.roots.len();
    println!(
        "unsigned bundle {}: fleet {}, version {}, {n} {}, expires {}, PAE {} bytes",
        a.out.display(),
        payload.fleet,
        payload.version,
        plural(n, "root", "roots"),
        &rfc3339(payload.expires_at)[..10],
        bundle.pae().len()
    );
    if expires.as_secs().saturating_sub(issued.as_secs()) > EXPIRY_WARN.as_secs() {
        eprintln!(
            "warning: the bundle expires more than a year after it is issued; a short expiry \
             limits how long a captured bundle can be replayed to a wiped device"
        );
    }
    if !entries.iter().any(|e| is_ats_root(&e.spki_sha256)) {
        eprintln!(
            "warning: no root is one AWS IoT Core ATS endpoints chain to (Amazon Root CA 1 or 3, \
             or Starfield Services G2): devices applying this bundle cannot reach AWS IoT Core"
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `bundle create` warns past this: a bundle's expiry bounds its replay to a wiped device.
const EXPIRY_WARN: std::time::Duration = std::time::Duration::from_secs(365 * 86_400);

/// The keys AWS IoT Core ATS chains end in: Amazon Root CA 1 (RSA suites), Amazon Root CA 3
/// (ECDSA suites), and Starfield Services G2, which cross-signs both. Compared by SPKI, so a
/// cross-signed copy of CA 1 or 3 counts too.
fn is_ats_root(spki_sha256: &[u8; 32]) -> bool {
    const ATS: [&str; 3] = [
        "fbe3018031f9586bcbf41727e417b7d1c45c2f47f93be372a17b96b50757d5a2",
        "36abc32656acfc645c61b71613c4bf21c787f5cabbee48348d58597803d7abc9",
        "2b071c59a0a0ae76b0eadb2bad23bad4580b69c3601b630c2eaf0613afa83f92",
    ];
    ATS.contains(&hex(spki_sha256).as_str())
}

/// " (FILE)" when a builder error names a certificate that came from a file the user gave.
fn certificate_file(
    e: &aws_iot_roots::bundle::BundleError,
    entries: &[crate::source::Entry],
    files: &[PathBuf],
    compiled_in: bool,
) -> String {
    use aws_iot_roots::bundle::BundleError as E;
    let sha = match e {
        E::NotCa { sha256 }
        | E::CertificateExpired { sha256, .. }
        | E::UnsupportedKey { sha256 }
        | E::NameConstraints { sha256 }
        | E::BadCertificate { sha256, .. }
        | E::DuplicateKey { sha256, .. } => sha256,
        _ => return String::new(),
    };
    let offset = if compiled_in {
        aws_iot_roots::ROOTS.len()
    } else {
        0
    };
    entries
        .iter()
        .position(|x| x.sha256 == sha.0)
        .and_then(|i| i.checked_sub(offset))
        .and_then(|i| files.get(i))
        .map(|f| format!(" ({})", f.display()))
        .unwrap_or_default()
}

fn load_signing(a: &SignArgs) -> anyhow::Result<Signer> {
    match &a.key {
        Some(k) => Ok(Signer::File(signing_key(k)?)),
        None => Ok(Signer::Token(crate::pkcs11::TokenKey::open(&a.pkcs11)?)),
    }
}

/// A release key: a PKCS#8 file, or a key in an HSM that never leaves it.
enum Signer {
    File(aws_iot_roots::bundle::SigningKey),
    Token(crate::pkcs11::TokenKey),
}

impl Signer {
    fn public_key(&self) -> PublicKey {
        match self {
            Self::File(k) => k.public_key(),
            Self::Token(t) => t.public_key(),
        }
    }
    fn sign_into(&self, bundle: &mut Bundle) -> anyhow::Result<()> {
        match self {
            Self::File(k) => bundle
                .sign(k)
                .context("this key's algorithm cannot sign this bundle"),
            Self::Token(t) => {
                let sig = t.sign(&bundle.pae())?;
                bundle
                    .attach(&t.public_key(), &sig)
                    .context("the token's signature does not verify under its public key")
            }
        }
    }
}

fn sign(a: &SignArgs) -> anyhow::Result<ExitCode> {
    let mut bundle = load(&a.bundle)?;
    let signer = load_signing(a)?;
    let public = signer.public_key();
    if bundle
        .signed_by(std::slice::from_ref(&public))
        .contains(&public)
    {
        bail!(
            "{} is already signed by key {}",
            a.bundle.display(),
            public.key_id()
        );
    }
    // Never lose a signature: an existing --out is kept unless --force.
    if let Some(out) = &a.out {
        if out.exists() && !a.force {
            bail!(
                "{} already exists; refusing to overwrite it (--force replaces it)",
                out.display()
            );
        }
    }
    let next = bundle
        .payload_unverified(&Limits::default())
        .with_context(|| a.bundle.display().to_string())?
        .signers;
    let current = a.signers.as_deref().map(load_signer_set).transpose()?;
    if !next.contains(&public) && !current.as_ref().is_some_and(|c| c.contains(&public)) {
        eprintln!(
            "warning: key {} is in neither the bundle's next signer set{}: its signature \
             counts for no threshold",
            public.key_id(),
            if current.is_some() {
                " nor the --signers set"
            } else {
                " (give --signers for the devices' current set)"
            }
        );
    }
    signer.sign_into(&mut bundle)?;
    let (out, existing) = match &a.out {
        Some(o) => (o, Existing::unless_forced(a.force)),
        None => (&a.bundle, Existing::Replace),
    };
    write_atomic(out, &bundle.to_bytes(), 0o644, existing)?;
    let n = bundle.signature_count();
    println!(
        "signed by key {} ({}); {n} {}",
        public.key_id(),
        KeyLine::from(&public).shown(),
        plural(n, "signature", "signatures")
    );
    Ok(ExitCode::SUCCESS)
}

fn pae(a: &PaeArgs) -> anyhow::Result<ExitCode> {
    let bundle = load(&a.bundle)?;
    let pae = bundle.pae();
    write_atomic(&a.out, &pae, 0o644, Existing::unless_forced(a.force))?;
    println!("{} bytes to sign written to {}", pae.len(), a.out.display());
    Ok(ExitCode::SUCCESS)
}

fn attach(a: &AttachArgs) -> anyhow::Result<ExitCode> {
    let mut bundle = load(&a.bundle)?;
    let key: PublicKey = public_key(&a.pubkey)?;
    let raw = read(&a.sig)?;
    // Raw bytes of the key's signature length (openssl, pkcs11-tool, `aws kms sign` through
    // `base64 -d`), or the base64 `aws kms sign` prints.
    let expected = key.algorithm().signature_len();
    let sig = if raw.len() == expected {
        raw
    } else {
        let text = String::from_utf8_lossy(&raw);
        B64.decode(text.trim()).with_context(|| {
            format!(
                "{}: neither {expected} raw bytes (an {} signature) nor base64",
                a.sig.display(),
                key.algorithm()
            )
        })?
    };
    if let Err(e) = bundle.attach(&key, &sig) {
        eprintln!("error: not attached: {e} (key {})", key.key_id());
        return Ok(ExitCode::from(EXIT_CHECK_FAILED));
    }
    let (out, existing) = match &a.out {
        Some(o) => (o, Existing::unless_forced(a.force)),
        None => (&a.bundle, Existing::Replace),
    };
    write_atomic(out, &bundle.to_bytes(), 0o644, existing)?;
    let n = bundle.signature_count();
    println!(
        "attached a signature by key {} ({}); {n} {}",
        key.key_id(),
        KeyLine::from(&key).shown(),
        plural(n, "signature", "signatures")
    );
    Ok(ExitCode::SUCCESS)
}

/// A key as people match it to a holder: its algorithm, its id (hex SHA-256 of the encoded
/// key) and the key in base64.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct KeyLine {
    pub(crate) algorithm: &'static str,
    pub(crate) key_id: String,
    pub(crate) public_key: String,
}

impl From<&PublicKey> for KeyLine {
    fn from(k: &PublicKey) -> Self {
        Self {
            algorithm: k.algorithm().as_str(),
            key_id: k.key_id(),
            public_key: k.to_base64(),
        }
    }
}

impl KeyLine {
    /// What a line shows after the key id within 80 columns: an Ed25519 key itself, or the
    /// algorithm of a key too long to print (2.6 KiB of base64 for ML-DSA-65).
    pub(crate) fn shown(&self) -> &str {
        if self.algorithm == "ed25519" {
            &self.public_key
        } else {
            self.algorithm
        }
    }
}

/// A signer set in one line: "2 of 3 ed25519 + 2 of 3 ml-dsa-65".
pub(crate) fn set_summary(set: &aws_iot_roots::bundle::SignerSet) -> String {
    set.groups()
        .iter()
        .map(|g| format!("{} of {} {}", g.threshold(), g.keys().len(), g.algorithm()))
        .collect::<Vec<_>>()
        .join(" + ")
}

/// One group of a signer set, as scripts read it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct GroupView {
    pub(crate) algorithm: &'static str,
    pub(crate) threshold: u32,
    pub(crate) keys: Vec<KeyLine>,
}

/// A signer set as scripts and people read it: every key by id, each group, and (for a
/// single Ed25519 group, v1's kind of set) the threshold.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct SignerSetView {
    pub(crate) threshold: Option<u32>,
    pub(crate) keys: Vec<KeyLine>,
    pub(crate) groups: Vec<GroupView>,
    pub(crate) summary: String,
}

impl From<&aws_iot_roots::bundle::SignerSet> for SignerSetView {
    fn from(set: &aws_iot_roots::bundle::SignerSet) -> Self {
        Self {
            threshold: set.v1_group().map(|g| g.threshold()),
            keys: set.keys().map(KeyLine::from).collect(),
            groups: set
                .groups()
                .iter()
                .map(|g| GroupView {
                    algorithm: g.algorithm().as_str(),
                    threshold: g.threshold(),
                    keys: g.keys().iter().map(KeyLine::from).collect(),
                })
                .collect(),
            summary: set_summary(set),
        }
    }
}

/// One signer group's standing on a bundle.
#[derive(Debug, Serialize)]
struct SetStanding {
    /// "current" (the devices' set) or "next" (the set the bundle installs).
    role: &'static str,
    /// The group's algorithm: every group of a set must meet its threshold.
    algorithm: &'static str,
    threshold: u32,
    signed: Vec<KeyLine>,
    missing: Vec<KeyLine>,
    met: bool,
}

/// Who signed a bundle, per signer set, and what else its signatures are.
#[derive(Debug, Serialize)]
struct SignatureReview {
    entries: usize,
    sets: Vec<SetStanding>,
    /// Entries that verify under no key of either set and name none.
    by_unknown_keys: usize,
    /// Keys of either set named by an entry whose signature does not verify: the payload
    /// changed after they signed (or the entry is corrupt).
    not_verifying: Vec<KeyLine>,
}

fn review(
    bundle: &Bundle,
    current: Option<&aws_iot_roots::bundle::SignerSet>,
    next: Option<&aws_iot_roots::bundle::SignerSet>,
) -> SignatureReview {
    let mut candidates: Vec<PublicKey> = Vec::new();
    for set in [current, next].into_iter().flatten() {
        for k in set.keys() {
            if !candidates.contains(k) {
                candidates.push(k.clone());
            }
        }
    }
    let checks = bundle.signature_checks(&candidates);
    // What devices count: in v2 an entry counts only for the key its keyid names.
    let counted = bundle.signed_by(&candidates);
    let standing = |role, set: &aws_iot_roots::bundle::SignerSet| {
        set.groups()
            .iter()
            .map(|g| {
                let (signed, missing): (Vec<&PublicKey>, Vec<&PublicKey>) =
                    g.keys().iter().partition(|k| counted.contains(*k));
                SetStanding {
                    role,
                    algorithm: g.algorithm().as_str(),
                    threshold: g.threshold(),
                    met: signed.len() >= g.threshold() as usize,
                    signed: signed.into_iter().map(KeyLine::from).collect(),
                    missing: missing.into_iter().map(KeyLine::from).collect(),
                }
            })
            .collect::<Vec<_>>()
    };
    let mut sets = Vec::new();
    if let Some(c) = current {
        sets.extend(standing("current", c));
    }
    if let Some(n) = next {
        if current.is_none_or(|c| !c.same_as(n)) {
            sets.extend(standing("next", n));
        }
    }
    SignatureReview {
        entries: checks.len(),
        sets,
        by_unknown_keys: checks
            .iter()
            .filter(|c| c.verified_by.is_none() && c.named.is_none())
            .count(),
        not_verifying: checks
            .iter()
            .filter(|c| c.verified_by.is_none())
            .filter_map(|c| c.named.as_ref())
            .map(KeyLine::from)
            .collect(),
    }
}

impl SignatureReview {
    /// Why a threshold was not met, in one sentence, for `verify`'s refusal.
    fn explain(&self, role: &str) -> String {
        let mut parts = Vec::new();
        for s in self.sets.iter().filter(|s| s.role == role && !s.met) {
            parts.push(format!(
                "{} of the {} required {} keys of the {role} set signed",
                s.signed.len(),
                s.threshold,
                s.algorithm
            ));
            if !s.missing.is_empty() {
                let ids: Vec<&str> = s.missing.iter().map(|k| &k.key_id[..16]).collect();
                parts.push(format!("not signed by {}", ids.join(", ")));
            }
        }
        if self.by_unknown_keys > 0 {
            parts.push(format!(
                "{} {} by keys in no signer set",
                self.by_unknown_keys,
                plural(self.by_unknown_keys, "signature", "signatures")
            ));
        }
        for k in &self.not_verifying {
            parts.push(format!(
                "the signature by {} does not verify: the payload changed after it signed",
                &k.key_id[..16]
            ));
        }
        parts.join("; ")
    }

    /// A stable code for scripts (docs/cli-json.md).
    fn code(&self) -> &'static str {
        if !self.not_verifying.is_empty() {
            "payload_changed_after_signing"
        } else if self.by_unknown_keys > 0 {
            "signatures_by_unknown_keys"
        } else {
            "missing_signatures"
        }
    }

    fn print(&self) {
        let n = self.entries;
        println!("{n} {}", plural(n, "signature", "signatures"));
        for s in &self.sets {
            println!(
                "{} signer set, {}: {} of {} required: {}",
                s.role,
                s.algorithm,
                s.signed.len(),
                s.threshold,
                if s.met { "MET" } else { "NOT MET" }
            );
            for k in &s.signed {
                println!("  signed   {}  {}", &k.key_id[..16], k.shown());
            }
            for k in &s.missing {
                println!("  missing  {}  {}", &k.key_id[..16], k.shown());
            }
        }
        if self.by_unknown_keys > 0 {
            println!(
                "{} {} by keys in no signer set (ignored by devices)",
                self.by_unknown_keys,
                plural(self.by_unknown_keys, "signature", "signatures")
            );
        }
        for k in &self.not_verifying {
            println!(
                "the signature by {} does not verify: the payload changed after it signed",
                &k.key_id[..16]
            );
        }
    }
}

fn signatures_cmd(a: &SignaturesArgs) -> anyhow::Result<ExitCode> {
    let bundle = load(&a.bundle)?;
    let next = bundle
        .payload_unverified(&Limits::default())
        .with_context(|| a.bundle.display().to_string())?
        .signers;
    let current = a.signers.as_deref().map(load_signer_set).transpose()?;
    let r = review(&bundle, current.as_ref(), Some(&next));
    if a.json {
        let out = serde_json::json!({ "schema": 1, "bundle": a.bundle.display().to_string(), "review": r });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        r.print();
    }
    Ok(if r.sets.iter().all(|s| s.met) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_CHECK_FAILED)
    })
}

#[derive(Debug, Serialize)]
struct RuleReport {
    rule: usize,
    name: &'static str,
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
            let mut initial = TrustState::initial(&a.fleet, signers);
            if let Some(t) = a.time_floor {
                initial.time_floor = t;
            }
            initial
        }
    };
    // The library runs the rules and reports each: the same steps as a device.
    let (outcomes, result) = verify_report(&bytes, &state, now, &Policy::default());
    // What review tools may read without trusting it: the payload and the signatures.
    let bundle = Bundle::from_bytes(&bytes, &Limits::default()).ok();
    let payload = bundle
        .as_ref()
        .and_then(|b| b.payload_unverified(&Limits::default()).ok());
    let sig_review = bundle.as_ref().map(|b| {
        review(
            b,
            Some(&state.signers),
            payload.as_ref().map(|p| &p.signers),
        )
    });
    let detail_of = |e: &aws_iot_roots::bundle::BundleError| match (e, &sig_review) {
        (aws_iot_roots::bundle::BundleError::SignatureThreshold { role, .. }, Some(r)) => {
            let role = if *role == aws_iot_roots::bundle::SignerRole::Current {
                "current"
            } else {
                "next"
            };
            format!("{e} ({})", r.explain(role))
        }
        _ => e.to_string(),
    };
    let reports: Vec<RuleReport> = outcomes
        .iter()
        .enumerate()
        .map(|(i, (rule, outcome))| {
            let (result, detail) = match outcome {
                Outcome::Passed => ("passed", None),
                Outcome::Failed(e) => ("FAILED", Some(detail_of(e))),
                Outcome::NotReached => ("not reached", None),
                Outcome::NotNeeded => ("not needed", None),
                _ => ("unknown", None),
            };
            RuleReport {
                rule: i + 1,
                name: rule.as_str(),
                check: rule.describe(),
                result,
                detail,
            }
        })
        .collect();
    let (verdict, reason) = match &result {
        Ok(Verdict::Apply(v)) => (
            format!("ACCEPTED: version {} would be applied", v.payload().version),
            "accepted",
        ),
        Ok(Verdict::AlreadyActive { version }) => (
            format!("ALREADY ACTIVE: version {version} (success: nothing to do)"),
            "already_active",
        ),
        Ok(_) => ("ACCEPTED".into(), "accepted"),
        Err(e) => (format!("REFUSED: {}", detail_of(e)), e.rule().as_str()),
    };
    if a.json {
        let roots: Vec<serde_json::Value> = bundle
            .as_ref()
            .and_then(|b| bundle_entries(b).ok())
            .unwrap_or_default()
            .iter()
            .map(|e| serde_json::json!({ "name": e.name, "sha256": hex(&e.sha256) }))
            .collect();
        let missing: Vec<&KeyLine> = sig_review
            .iter()
            .flat_map(|r| r.sets.iter().flat_map(|s| &s.missing))
            .collect();
        let out = serde_json::json!({
            "schema": 1,
            "bundle": a.bundle.display().to_string(), "fleet": a.fleet, "now": rfc3339(now),
            "floor_version": state.version, "time_floor": rfc3339(state.time_floor),
            "accepted": result.is_ok(), "verdict": verdict, "reason": reason,
            "signature_problem": match (&result, &sig_review) {
                (Err(aws_iot_roots::bundle::BundleError::SignatureThreshold { .. }), Some(r)) => Some(r.code()),
                _ => None,
            },
            "version": payload.as_ref().map(|p| p.version),
            "expires_at": payload.as_ref().map(|p| rfc3339(p.expires_at)),
            "roots": roots,
            "signatures": sig_review,
            "missing_signers": missing,
            "rules": reports,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!(
            "device state: fleet {}, version {}, time floor {}",
            a.fleet,
            state.version,
            &rfc3339(state.time_floor)[..10]
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
            // The signature rules cover every group: say how each one stood.
            let role = match r.name {
                "current_signatures" => "current",
                "signer_rotation" => "next",
                _ => continue,
            };
            if r.result == "passed" {
                let groups: Vec<String> = sig_review
                    .iter()
                    .flat_map(|rv| rv.sets.iter().filter(|s| s.role == role))
                    .map(|s| {
                        format!(
                            "{}: {} signed, {} needed",
                            s.algorithm,
                            s.signed.len(),
                            s.threshold
                        )
                    })
                    .collect();
                if !groups.is_empty() {
                    println!("        {}", groups.join(", "));
                }
            }
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
    schema: u32,
    fleet: (String, String),
    version: (u64, u64),
    issued_at: (String, String),
    expires_at: (String, String),
    roots_added: Vec<RootLine>,
    roots_removed: Vec<RootLine>,
    roots_kept: Vec<RootLine>,
    /// The threshold of a single Ed25519 group (v1's kind of set), else 0.
    threshold: (u32, u32),
    /// Each side's signer set in one line ("2 of 3 ed25519 + 2 of 3 ml-dsa-65").
    signers: (String, String),
    signer_keys_added: Vec<KeyLine>,
    signer_keys_removed: Vec<KeyLine>,
    signer_set_changed: bool,
    warnings: Vec<String>,
}

#[derive(Debug, Serialize)]
struct RootLine {
    name: String,
    sha256: String,
    not_after: String,
}

/// One side of a diff: a bundle's payload and roots, or the compiled-in set.
struct Side {
    label: String,
    payload: Option<Payload>,
    roots: BTreeMap<String, RootLine>,
}

fn side_of(entries: &[crate::source::Entry]) -> BTreeMap<String, RootLine> {
    entries
        .iter()
        .map(|e| {
            (
                hex(&e.sha256),
                RootLine {
                    name: e.name.clone(),
                    sha256: hex(&e.sha256),
                    not_after: rfc3339(e.not_after),
                },
            )
        })
        .collect()
}

fn bundle_side(path: &Path) -> anyhow::Result<Side> {
    let b = load(path)?;
    let payload = b
        .payload_unverified(&Limits::default())
        .with_context(|| path.display().to_string())?;
    let entries = bundle_entries(&b).with_context(|| path.display().to_string())?;
    Ok(Side {
        label: path.display().to_string(),
        payload: Some(payload),
        roots: side_of(&entries),
    })
}

fn diff(a: &DiffArgs) -> anyhow::Result<ExitCode> {
    let (old, new_path) = match (&a.bundles[..], a.compiled_in) {
        ([old, new], false) => (bundle_side(old)?, new),
        ([new], true) => (
            Side {
                label: "compiled-in roots".into(),
                payload: None,
                roots: side_of(&compiled_in()),
            },
            new,
        ),
        (_, false) => bail!("give two bundles, OLD NEW (or --compiled-in NEW)"),
        (_, true) => bail!("with --compiled-in, give only the NEW bundle"),
    };
    let new = bundle_side(new_path)?;
    let pn = new.payload.as_ref().context("payload")?;
    let (mut ro, mut rn) = (old.roots, new.roots);
    let kept_keys: Vec<String> = ro.keys().filter(|k| rn.contains_key(*k)).cloned().collect();
    let roots_kept: Vec<RootLine> = kept_keys
        .iter()
        .filter_map(|k| {
            ro.remove(k);
            rn.remove(k)
        })
        .collect();
    let keys = |p: &Payload| p.signers.keys().cloned().collect::<Vec<_>>();
    let kn = keys(pn);
    let ko = old.payload.as_ref().map(keys).unwrap_or_default();
    let mut warnings = Vec::new();
    if let Some(po) = &old.payload {
        if pn.version <= po.version {
            warnings.push(format!(
                "version goes from {} to {}: devices at {} will refuse this bundle",
                po.version, pn.version, po.version
            ));
        }
        if pn.fleet != po.fleet {
            warnings.push(format!(
                "fleet changes from {} to {}: devices of {} will refuse this bundle",
                po.fleet, pn.fleet, po.fleet
            ));
        }
    }
    let d = Diff {
        schema: 1,
        fleet: (
            old.payload
                .as_ref()
                .map_or_else(|| "-".into(), |p| p.fleet.clone()),
            pn.fleet.clone(),
        ),
        version: (old.payload.as_ref().map_or(0, |p| p.version), pn.version),
        issued_at: (
            old.payload
                .as_ref()
                .map_or_else(|| "-".into(), |p| rfc3339(p.issued_at)),
            rfc3339(pn.issued_at),
        ),
        expires_at: (
            old.payload
                .as_ref()
                .map_or_else(|| "-".into(), |p| rfc3339(p.expires_at)),
            rfc3339(pn.expires_at),
        ),
        roots_kept,
        roots_added: rn.into_values().collect(),
        roots_removed: ro.into_values().collect(),
        threshold: (
            old.payload.as_ref().map_or(0, |p| v1_threshold(&p.signers)),
            v1_threshold(&pn.signers),
        ),
        signers: (
            old.payload
                .as_ref()
                .map_or_else(|| "-".into(), |p| set_summary(&p.signers)),
            set_summary(&pn.signers),
        ),
        signer_keys_added: kn
            .iter()
            .filter(|k| old.payload.is_some() && !ko.contains(k))
            .map(KeyLine::from)
            .collect(),
        signer_keys_removed: ko
            .iter()
            .filter(|k| !kn.contains(k))
            .map(KeyLine::from)
            .collect(),
        signer_set_changed: old
            .payload
            .as_ref()
            .is_some_and(|po| !po.signers.same_as(&pn.signers)),
        warnings,
    };
    if a.json {
        println!("{}", serde_json::to_string_pretty(&d)?);
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!("note: neither side is verified by diff; run `bundle verify` too");
    println!("old: {}", old.label);
    println!("new: {}", new.label);
    let change = |label: &str, o: &str, n: &str| {
        if o == n || o == "-" {
            println!("{label:<10} {n}");
        } else {
            println!("{label:<10} {o} -> {n}   CHANGED");
        }
    };
    change("fleet", &d.fleet.0, &d.fleet.1);
    if old.payload.is_some() {
        change(
            "version",
            &d.version.0.to_string(),
            &d.version.1.to_string(),
        );
    } else {
        println!("{:<10} {} (devices start at 0)", "version", d.version.1);
    }
    change(
        "issued",
        &d.issued_at.0[..10.min(d.issued_at.0.len())],
        &d.issued_at.1[..10],
    );
    change(
        "expires",
        &d.expires_at.0[..10.min(d.expires_at.0.len())],
        &d.expires_at.1[..10],
    );
    for (mark, roots) in [("+", &d.roots_added), ("-", &d.roots_removed)] {
        for r in roots {
            // Two lines, so that the longest root name still fits 80 columns.
            println!("{mark} root    {}", r.name);
            println!(
                "          until {}, SHA-256 {}",
                &r.not_after[..10],
                &r.sha256[..16]
            );
        }
    }
    for r in &d.roots_kept {
        println!("  root    {} ({})", r.name, &r.sha256[..16]);
    }
    let both_v1 = d.threshold.0 != 0 && d.threshold.1 != 0;
    if old.payload.is_some() && both_v1 {
        change(
            "threshold",
            &d.threshold.0.to_string(),
            &d.threshold.1.to_string(),
        );
    } else if old.payload.is_some() {
        change("signers", &d.signers.0, &d.signers.1);
    } else {
        println!("{:<10} {}", "signers", d.signers.1);
        for k in kn.iter().map(KeyLine::from) {
            println!("  signer  {}  {}", &k.key_id[..16], k.shown());
        }
    }
    for k in &d.signer_keys_added {
        println!("+ signer  {}  {}", &k.key_id[..16], k.shown());
    }
    for k in &d.signer_keys_removed {
        println!("- signer  {}  {}", &k.key_id[..16], k.shown());
    }
    if d.signer_set_changed {
        println!("SIGNER SET CHANGES: every group of the old set and of the new one must sign");
    }
    if a.compiled_in {
        println!("A bundle replaces the whole set: devices that apply it trust exactly the");
        println!("roots listed above without \"-\", and drop every root marked \"-\".");
    }
    for w in &d.warnings {
        println!("WARNING: {w}");
    }
    Ok(ExitCode::SUCCESS)
}

/// The threshold of a set v1 can express, else 0 (diff's JSON `threshold`).
fn v1_threshold(set: &aws_iot_roots::bundle::SignerSet) -> u32 {
    set.v1_group().map_or(0, |g| g.threshold())
}
