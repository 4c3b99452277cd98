//! Turns roots/ into const tables. Everything build.rs decides lives here, as a function of
//! its inputs (a roots directory, a catalogue, the enabled features, a clock), so that
//! tests/build_script.rs can run the same logic on scratch directories and tests/codegen.rs can
//! check that the committed roots regenerate the exact tables the crate was built with.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::anchor::{self, Refusal};
use crate::certparse;
use crate::hex::hex;
use crate::key::KeyAlgorithm;

/// One root that build.rs may compile in. The catalogue is roots/catalogue.rs.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CatalogueEntry {
    /// File name under roots/.
    pub(crate) file: &'static str,
    /// Display name.
    pub(crate) name: &'static str,
    /// The Cargo feature that enables this root.
    pub(crate) feature: &'static str,
    /// SHA-256 of the certificate DER, lowercase hex, as published by the CA.
    pub(crate) sha256: &'static str,
    /// SHA-256 of the SubjectPublicKeyInfo DER, lowercase hex, as published by the CA.
    pub(crate) spki_sha256: &'static str,
    /// When a root program stops trusting it, if known.
    pub(crate) removal: Option<Removal>,
}

/// A root program's removal of a root.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Removal {
    /// (year, month, day), UTC midnight.
    pub(crate) date: (u16, u8, u8),
    pub(crate) program: &'static str,
    pub(crate) basis: Basis,
    pub(crate) note: &'static str,
}

/// Whether a removal date was announced or follows from a published rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Basis {
    Announced,
    Projected,
}

/// Files in roots/ that are not certificates.
pub(crate) const NON_ROOT_FILES: &[&str] = &["README.md", "catalogue.rs"];

/// The environment variable that sets the expiry warning window, in days.
pub(crate) const WARN_DAYS_ENV: &str = "AWS_IOT_ROOTS_EXPIRY_WARN_DAYS";

/// Default warning window: two years. A fleet needs the time to stage, sign and roll out a
/// root bundle, and to reach devices that are offline for months; one year proved short for
/// the 2025 Starfield Class 2 removal, which AWS announced 8 months ahead.
pub(crate) const DEFAULT_WARN_DAYS: u64 = 730;

const SECS_PER_DAY: u64 = 86_400;

/// What build.rs needs to know.
#[derive(Debug)]
pub(crate) struct Inputs<'a> {
    pub(crate) roots_dir: &'a Path,
    pub(crate) catalogue: &'a [CatalogueEntry],
    /// Cargo feature names that are on.
    pub(crate) enabled: &'a [&'a str],
    /// Build time, seconds since the Unix epoch.
    pub(crate) now: u64,
    pub(crate) warn_days: u64,
}

/// What build.rs writes.
#[derive(Debug, Default)]
pub(crate) struct Output {
    /// The generated Rust, for `include!`.
    pub(crate) rust: String,
    /// The PEM bundle of the enabled roots.
    pub(crate) pem: String,
    /// (file name in OUT_DIR, DER bytes) for each enabled root.
    pub(crate) ders: Vec<(String, Vec<u8>)>,
    /// Lines for `cargo:warning`.
    pub(crate) warnings: Vec<String>,
    /// Every file read, for `cargo:rerun-if-changed`.
    pub(crate) inputs: Vec<PathBuf>,
}

/// Why the build refuses the roots. Every variant names the file at fault.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum BuildError {
    Io {
        path: String,
        error: String,
    },
    UnlistedFile {
        file: String,
    },
    DuplicateCatalogueEntry {
        field: &'static str,
        value: String,
    },
    UnknownFeature {
        feature: String,
    },
    MissingFile {
        file: String,
    },
    CertificateCount {
        file: String,
        found: usize,
    },
    Pem {
        file: String,
        error: String,
    },
    BadFingerprint {
        file: String,
        field: &'static str,
        value: String,
    },
    Malformed {
        file: String,
        error: String,
    },
    NotCa {
        file: String,
    },
    NotSelfIssued {
        file: String,
    },
    NameConstraints {
        file: String,
    },
    UnsupportedKey {
        file: String,
    },
    DuplicateKey {
        file: String,
        other: String,
    },
    Expired {
        file: String,
        not_after: String,
        now: String,
    },
    BadEnv {
        name: &'static str,
        value: String,
        expected: &'static str,
    },
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io { path, error } => write!(f, "{path}: cannot read: {error}"),
            Self::UnlistedFile { file } => write!(
                f,
                "roots/{file}: not listed in roots/catalogue.rs; list it (with its published SHA-256) or remove it"
            ),
            Self::DuplicateCatalogueEntry { field, value } => {
                write!(f, "roots/catalogue.rs: {field} {value:?} is listed twice")
            }
            Self::UnknownFeature { feature } => write!(
                f,
                "roots/catalogue.rs: feature {feature:?} is not declared in Cargo.toml"
            ),
            Self::MissingFile { file } => write!(f, "roots/{file}: listed in roots/catalogue.rs but missing"),
            Self::CertificateCount { file, found } => write!(
                f,
                "roots/{file}: must hold exactly one PEM certificate, found {found} PEM sections"
            ),
            Self::Pem { file, error } => write!(f, "roots/{file}: bad PEM: {error}"),
            Self::BadFingerprint { file, field, value } => write!(
                f,
                "roots/catalogue.rs: {file}: {field} {value:?} is not 64 lowercase hex digits"
            ),
            Self::Malformed { file, error } => write!(f, "roots/{file}: {error}"),
            Self::NotCa { file } => {
                write!(f, "roots/{file}: not a CA certificate (basicConstraints cA is not true)")
            }
            Self::NotSelfIssued { file } => {
                write!(f, "roots/{file}: not a root: its issuer differs from its subject")
            }
            Self::NameConstraints { file } => write!(
                f,
                "roots/{file}: has name constraints, which the compiled-in tables do not carry"
            ),
            Self::UnsupportedKey { file } => {
                write!(f, "roots/{file}: public key type is not one rustls can use")
            }
            Self::DuplicateKey { file, other } => {
                write!(f, "roots/{file}: same public key as roots/{other}")
            }
            Self::Expired { file, not_after, now } => write!(
                f,
                "roots/{file}: expired on {not_after} (build time {now}); disable its feature or replace it"
            ),
            Self::BadEnv { name, value, expected } => {
                write!(f, "{name}={value:?}: expected {expected}")
            }
        }
    }
}

/// The build-time clock: `SOURCE_DATE_EPOCH` when set (reproducible builds), else `fallback`.
pub(crate) fn build_time(
    source_date_epoch: Option<&str>,
    fallback: u64,
) -> Result<u64, BuildError> {
    match source_date_epoch {
        None => Ok(fallback),
        Some(v) => v.trim().parse::<u64>().map_err(|_| BuildError::BadEnv {
            name: "SOURCE_DATE_EPOCH",
            value: v.to_owned(),
            expected: "whole seconds since 1970-01-01T00:00:00Z",
        }),
    }
}

/// The warning window in days, from [`WARN_DAYS_ENV`]; 0 turns warnings off.
pub(crate) fn warn_days(value: Option<&str>) -> Result<u64, BuildError> {
    match value {
        None => Ok(DEFAULT_WARN_DAYS),
        Some(v) => v.trim().parse::<u64>().map_err(|_| BuildError::BadEnv {
            name: WARN_DAYS_ENV,
            value: v.to_owned(),
            expected: "a whole number of days",
        }),
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ`.
pub(crate) fn fmt_time(secs: u64) -> String {
    match der::DateTime::from_unix_duration(Duration::from_secs(secs)) {
        Ok(t) => t.to_string(),
        Err(_) => format!("{secs} seconds after the epoch"),
    }
}

fn removal_secs(r: &Removal) -> u64 {
    let (y, m, d) = r.date;
    // Catalogue dates are checked by tests/build_script.rs; an impossible one is a bug there.
    der::DateTime::new(y, m, d, 0, 0, 0)
        .map(|t| t.unix_duration().as_secs())
        .unwrap_or(0)
}

fn byte_array(bytes: &[u8]) -> String {
    let mut s = String::from("[");
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        let _ = write!(s, "0x{b:02x}");
    }
    s.push(']');
    s
}

fn key_expr(key: KeyAlgorithm) -> String {
    match key {
        KeyAlgorithm::Rsa { bits } => format!("KeyAlgorithm::Rsa {{ bits: {bits} }}"),
        KeyAlgorithm::EcdsaP256 => "KeyAlgorithm::EcdsaP256".into(),
        KeyAlgorithm::EcdsaP384 => "KeyAlgorithm::EcdsaP384".into(),
        KeyAlgorithm::EcdsaP521 => "KeyAlgorithm::EcdsaP521".into(),
        KeyAlgorithm::Ed25519 => "KeyAlgorithm::Ed25519".into(),
    }
}

fn ident(feature: &str) -> String {
    feature.to_ascii_uppercase().replace('-', "_")
}

/// A checked root, ready for code generation.
struct Checked {
    entry: CatalogueEntry,
    der: Vec<u8>,
    subject_text: String,
    sha256: [u8; 32],
    spki_sha256: [u8; 32],
    /// The subjectPublicKey bits: the key's identity (`anchor::key_identity`).
    key_bits: Vec<u8>,
    subject_contents: (usize, usize),
    spki_contents: (usize, usize),
    key: KeyAlgorithm,
    not_before: u64,
    not_after: u64,
}

/// Decodes one roots/ file: exactly one PEM section, labelled CERTIFICATE.
pub(crate) fn decode_single_pem(file: &str, text: &[u8]) -> Result<Vec<u8>, BuildError> {
    let sections = text
        .split(|&b| b == b'\n')
        .filter(|line| line.starts_with(b"-----BEGIN "))
        .count();
    if sections != 1 {
        return Err(BuildError::CertificateCount {
            file: file.into(),
            found: sections,
        });
    }
    let (label, der) = der::pem::decode_vec(text).map_err(|e| BuildError::Pem {
        file: file.into(),
        error: e.to_string(),
    })?;
    if label != "CERTIFICATE" {
        return Err(BuildError::Pem {
            file: file.into(),
            error: format!("section is {label:?}, not CERTIFICATE"),
        });
    }
    Ok(der)
}

/// A catalogue fingerprint as bytes: exactly 64 lowercase hex digits.
fn fingerprint(file: &str, field: &'static str, value: &str) -> Result<[u8; 32], BuildError> {
    let bad = || BuildError::BadFingerprint {
        file: file.into(),
        field,
        value: value.into(),
    };
    let digits = value.as_bytes();
    if digits.len() != 64
        || !digits
            .iter()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    {
        return Err(bad());
    }
    let mut out = [0u8; 32];
    for (o, pair) in out.iter_mut().zip(digits.chunks(2)) {
        let text = core::str::from_utf8(pair).map_err(|_| bad())?;
        *o = u8::from_str_radix(text, 16).map_err(|_| bad())?;
    }
    Ok(out)
}

fn check_catalogue(
    catalogue: &[CatalogueEntry],
    known_features: &[&str],
) -> Result<(), BuildError> {
    for (field, get) in [
        (
            "file",
            (|e: &CatalogueEntry| e.file) as fn(&CatalogueEntry) -> &'static str,
        ),
        ("name", |e| e.name),
        ("feature", |e| e.feature),
        // Not spki_sha256: one key in two roots is DuplicateKey, decided by the key bits.
        ("sha256", |e| e.sha256),
    ] {
        let mut seen = std::collections::BTreeSet::new();
        for e in catalogue {
            if !seen.insert(get(e)) {
                return Err(BuildError::DuplicateCatalogueEntry {
                    field,
                    value: get(e).into(),
                });
            }
        }
    }
    if !known_features.is_empty() {
        if let Some(e) = catalogue
            .iter()
            .find(|e| !known_features.contains(&e.feature))
        {
            return Err(BuildError::UnknownFeature {
                feature: e.feature.into(),
            });
        }
    }
    Ok(())
}

fn check_root(dir: &Path, entry: &CatalogueEntry, now: u64) -> Result<Checked, BuildError> {
    let file = entry.file.to_owned();
    let path = dir.join(entry.file);
    let text = std::fs::read(&path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => BuildError::MissingFile { file: file.clone() },
        _ => BuildError::Io {
            path: path.display().to_string(),
            error: e.to_string(),
        },
    })?;
    let der = decode_single_pem(&file, &text)?;
    // The published fingerprints are copied, not recomputed: hashing here would put sha2 in
    // every downstream build to re-check what the crate's own CI already checks (tests/anchors.rs
    // and tests/codegen.rs hash every file against these values; BENCHMARKS.md, build cost).
    let sha256 = fingerprint(entry.file, "sha256", entry.sha256)?;
    let spki_sha256 = fingerprint(entry.file, "spki_sha256", entry.spki_sha256)?;
    let facts = certparse::parse(&der).map_err(|e| BuildError::Malformed {
        file: file.clone(),
        error: e.to_string(),
    })?;
    let key = anchor::accept(&facts).map_err(|refusal| match refusal {
        Refusal::NotCa => BuildError::NotCa { file: file.clone() },
        Refusal::NameConstraints => BuildError::NameConstraints { file: file.clone() },
        Refusal::UnsupportedKey => BuildError::UnsupportedKey { file: file.clone() },
    })?;
    // A compiled-in root must also be self-issued: it is a root, not an intermediate.
    if !facts.is_self_issued() {
        return Err(BuildError::NotSelfIssued { file });
    }
    // Expired means past notAfter: notAfter itself is still valid (RFC 5280 §4.1.2.5).
    if now > facts.not_after {
        return Err(BuildError::Expired {
            file,
            not_after: fmt_time(facts.not_after),
            now: fmt_time(now),
        });
    }
    let mut subject_text = String::new();
    certparse::write_name(facts.subject, &mut subject_text).map_err(|e| BuildError::Malformed {
        file: file.clone(),
        error: e.to_string(),
    })?;
    Ok(Checked {
        entry: *entry,
        spki_sha256,
        key_bits: anchor::key_identity(&facts).to_vec(),
        subject_contents: facts.subject_contents,
        spki_contents: facts.spki_contents,
        key,
        not_before: facts.not_before,
        not_after: facts.not_after,
        subject_text,
        sha256,
        der,
    })
}

fn warnings_for(c: &Checked, now: u64, warn_days: u64) -> Vec<String> {
    let mut out = Vec::new();
    if warn_days == 0 {
        return out;
    }
    let horizon = now.saturating_add(warn_days.saturating_mul(SECS_PER_DAY));
    let file = c.entry.file;
    if c.not_after <= horizon {
        out.push(format!(
            "roots/{file}: {} expires on {} ({} days after build time); ship a root bundle before then",
            c.entry.name,
            fmt_time(c.not_after),
            (c.not_after - now) / SECS_PER_DAY
        ));
    }
    if let Some(r) = &c.entry.removal {
        let at = removal_secs(r);
        let basis = match r.basis {
            Basis::Announced => "announced",
            Basis::Projected => "projected",
        };
        if at <= now {
            out.push(format!(
                "roots/{file}: {} lost {} trust on {} ({basis}: {})",
                c.entry.name,
                r.program,
                fmt_time(at),
                r.note
            ));
        } else if at <= horizon {
            out.push(format!(
                "roots/{file}: {} loses {} trust on {} ({basis}: {}); {} days after build time",
                c.entry.name,
                r.program,
                fmt_time(at),
                r.note,
                (at - now) / SECS_PER_DAY
            ));
        }
    }
    out
}

/// Checks every enabled root and generates the tables.
///
/// `known_features` is the crate's declared root features; empty skips that check (scratch
/// catalogues in tests declare their own).
pub(crate) fn generate(input: &Inputs<'_>, known_features: &[&str]) -> Result<Output, BuildError> {
    check_catalogue(input.catalogue, known_features)?;
    let mut out = Output::default();

    // 1. Every file in roots/ is either listed or one of the known non-root files: a stray
    //    certificate must never be mistaken for a trusted one, nor silently ignored.
    let listing = std::fs::read_dir(input.roots_dir).map_err(|e| BuildError::Io {
        path: input.roots_dir.display().to_string(),
        error: e.to_string(),
    })?;
    let mut names = Vec::new();
    for entry in listing {
        let entry = entry.map_err(|e| BuildError::Io {
            path: input.roots_dir.display().to_string(),
            error: e.to_string(),
        })?;
        names.push(entry.file_name().to_string_lossy().into_owned());
    }
    names.sort();
    for name in &names {
        out.inputs.push(input.roots_dir.join(name));
        let listed = input.catalogue.iter().any(|e| e.file == name);
        if !listed && !NON_ROOT_FILES.contains(&name.as_str()) {
            return Err(BuildError::UnlistedFile { file: name.clone() });
        }
    }

    // 2. Check each enabled root on its own.
    let mut checked = Vec::new();
    for entry in input
        .catalogue
        .iter()
        .filter(|e| input.enabled.contains(&e.feature))
    {
        let c = check_root(input.roots_dir, entry, input.now)?;
        out.warnings
            .extend(warnings_for(&c, input.now, input.warn_days));
        checked.push(c);
    }

    // 3. Then as a set: two roots with one key would be one anchor listed twice. Keys are
    //    compared by their bits, not their SPKI encoding (the bundle verifier's rule).
    let mut by_key: BTreeMap<&[u8], &str> = BTreeMap::new();
    for c in &checked {
        if let Some(other) = by_key.insert(&c.key_bits, c.entry.file) {
            return Err(BuildError::DuplicateKey {
                file: c.entry.file.into(),
                other: other.into(),
            });
        }
    }

    // 4. Generate, sorted by name so that the output does not depend on catalogue order.
    checked.sort_by(|a, b| a.entry.name.cmp(b.entry.name));
    out.rust = render_rust(&checked);
    out.rust.push_str(&render_known_removals(input.catalogue));
    for c in &checked {
        out.pem.push_str(
            &der::pem::encode_string("CERTIFICATE", der::pem::LineEnding::LF, &c.der).map_err(
                |e| BuildError::Pem {
                    file: c.entry.file.into(),
                    error: e.to_string(),
                },
            )?,
        );
        out.ders
            .push((format!("{}.der", c.entry.feature), c.der.clone()));
    }
    Ok(out)
}

/// Removal dates of every catalogued root, enabled or not, by certificate SHA-256: a root
/// that arrives in a signed bundle is reported with its deadline even when it is not compiled
/// in.
fn render_known_removals(catalogue: &[CatalogueEntry]) -> String {
    let mut entries: Vec<&CatalogueEntry> =
        catalogue.iter().filter(|e| e.removal.is_some()).collect();
    entries.sort_by_key(|e| e.sha256);
    let mut s = String::from(
        "/// Root-program removals of every catalogued root, by certificate SHA-256.\n",
    );
    s.push_str("pub(crate) const KNOWN_REMOVALS: &[([u8; 32], RootProgramRemoval)] = &[\n");
    for e in entries {
        let Some(r) = &e.removal else { continue };
        let Ok(sha) = fingerprint(e.file, "sha256", e.sha256) else {
            continue;
        };
        let _ = writeln!(
            s,
            "    ({}, RootProgramRemoval {{ program: {:?}, date: UnixTime::since_unix_epoch(Duration::from_secs({})), basis: RemovalBasis::{:?}, note: {:?} }}), // {}",
            byte_array(&sha),
            r.program,
            removal_secs(r),
            r.basis,
            r.note,
            e.name
        );
    }
    s.push_str("];\n");
    s
}

fn render_rust(roots: &[Checked]) -> String {
    let mut s = String::new();
    let w = &mut s;
    let _ = writeln!(
        w,
        "// @generated by build.rs from roots/. Do not edit: change roots/ instead."
    );
    let _ = writeln!(
        w,
        "// Checked by tests/codegen.rs, which regenerates this file from roots/."
    );
    let _ = writeln!(w);
    for c in roots {
        let id = ident(c.entry.feature);
        let (so, sl) = c.subject_contents;
        let (ko, kl) = c.spki_contents;
        let _ = writeln!(w, "// {}", c.entry.name);
        let _ = writeln!(w, "// Subject: {}", c.subject_text);
        let _ = writeln!(w, "// SHA-256: {}", hex(&c.sha256));
        let _ = writeln!(w, "// SPKI SHA-256: {}", hex(&c.spki_sha256));
        let _ = writeln!(w, "// notAfter: {}", fmt_time(c.not_after));
        let _ = writeln!(
            w,
            "// Source: roots/{} (feature \"{}\")",
            c.entry.file, c.entry.feature
        );
        let _ = writeln!(
            w,
            "const {id}_DER: &[u8] = include_bytes!(concat!(env!(\"OUT_DIR\"), \"/{}.der\"));",
            c.entry.feature
        );
        let _ = writeln!(
            w,
            "const {id}_ANCHOR: TrustAnchor<'static> = TrustAnchor {{"
        );
        let _ = writeln!(
            w,
            "    subject: Der::from_slice(sub({id}_DER, {so}, {sl})),"
        );
        let _ = writeln!(
            w,
            "    subject_public_key_info: Der::from_slice(sub({id}_DER, {ko}, {kl})),"
        );
        let _ = writeln!(w, "    name_constraints: None,");
        let _ = writeln!(w, "}};");
        let removal = match &c.entry.removal {
            None => "None".to_owned(),
            Some(r) => format!(
                "Some(RootProgramRemoval {{ program: {:?}, date: UnixTime::since_unix_epoch(Duration::from_secs({})), basis: RemovalBasis::{:?}, note: {:?} }})",
                r.program,
                removal_secs(r),
                r.basis,
                r.note
            ),
        };
        let _ = writeln!(w, "const {id}: Root = Root {{");
        let _ = writeln!(w, "    name: {:?},", c.entry.name);
        let _ = writeln!(w, "    feature: {:?},", c.entry.feature);
        let _ = writeln!(w, "    subject: {:?},", c.subject_text);
        let _ = writeln!(w, "    der: CertificateDer::from_slice({id}_DER),");
        let _ = writeln!(w, "    anchor: {id}_ANCHOR,");
        let _ = writeln!(w, "    sha256: {},", byte_array(&c.sha256));
        let _ = writeln!(w, "    spki_sha256: {},", byte_array(&c.spki_sha256));
        let _ = writeln!(w, "    key: {},", key_expr(c.key));
        let _ = writeln!(
            w,
            "    not_before: UnixTime::since_unix_epoch(Duration::from_secs({})),",
            c.not_before
        );
        let _ = writeln!(
            w,
            "    not_after: UnixTime::since_unix_epoch(Duration::from_secs({})),",
            c.not_after
        );
        let _ = writeln!(w, "    root_program_removal: {removal},");
        let _ = writeln!(w, "}};");
        let _ = writeln!(w);
    }
    let list = |suffix: &str| {
        roots
            .iter()
            .map(|c| format!("{}{suffix}", ident(c.entry.feature)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let _ = writeln!(w, "/// Every enabled root, sorted by name.");
    let _ = writeln!(
        w,
        "pub(crate) const GENERATED_ROOTS: &[Root] = &[{}];",
        list("")
    );
    let _ = writeln!(
        w,
        "/// The enabled roots' trust anchors, in the order of `GENERATED_ROOTS`."
    );
    let _ = writeln!(
        w,
        "pub(crate) const GENERATED_ANCHORS: &[TrustAnchor<'static>] = &[{}];",
        list("_ANCHOR")
    );
    let certs = roots
        .iter()
        .map(|c| format!("CertificateDer::from_slice({}_DER)", ident(c.entry.feature)))
        .collect::<Vec<_>>()
        .join(", ");
    let _ = writeln!(
        w,
        "/// The enabled roots' certificates, in the order of `GENERATED_ROOTS` (the same bytes)."
    );
    let _ = writeln!(
        w,
        "pub(crate) const GENERATED_CERTS: &[CertificateDer<'static>] = &[{certs}];"
    );
    s
}
