//! Where roots come from: the compiled-in set, a directory of PEM files, one PEM file, or a
//! bundle. Every certificate is read by the library's own parser.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use aws_iot_roots::bundle::{Bundle, CertificateInfo, Limits};
use aws_iot_roots::{known_removal, RootProgramRemoval, ROOTS};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, UnixTime};

use crate::bundle_cmd::SignerSetView;
use crate::fsutil::read;

#[derive(Debug, clap::Args)]
pub(crate) struct SourceArgs {
    /// Read every *.pem and *.crt file in this directory instead of the compiled-in roots.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["pem", "bundle"])]
    roots: Option<PathBuf>,
    /// Read the certificates in this PEM file.
    #[arg(long, value_name = "FILE", conflicts_with = "bundle")]
    pem: Option<PathBuf>,
    /// Read the roots a bundle carries (not verified: use `bundle verify` for that).
    #[arg(long, value_name = "FILE")]
    bundle: Option<PathBuf>,
}

/// One root, whatever its source.
#[derive(Debug)]
pub(crate) struct Entry {
    pub(crate) name: String,
    pub(crate) subject: String,
    pub(crate) key: String,
    pub(crate) not_after: UnixTime,
    pub(crate) sha256: [u8; 32],
    pub(crate) spki_sha256: [u8; 32],
    pub(crate) removal: Option<RootProgramRemoval>,
    pub(crate) der: CertificateDer<'static>,
}

pub(crate) fn entry_from_der(
    der: CertificateDer<'static>,
    name: Option<String>,
) -> anyhow::Result<Entry> {
    let info = CertificateInfo::from_der(&der)?;
    Ok(Entry {
        name: name.unwrap_or_else(|| info.default_name.clone()),
        subject: info.subject,
        key: info
            .key
            .map(|k| k.to_string())
            .unwrap_or_else(|| "unsupported".into()),
        not_after: info.not_after,
        removal: known_removal(&info.sha256),
        sha256: info.sha256,
        spki_sha256: info.spki_sha256,
        der,
    })
}

/// Every certificate in a PEM file; a file with none is an error.
pub(crate) fn pem_certificates(path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let bytes = read(path)?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow::anyhow!("{}: bad PEM: {e:?}", path.display()))?;
    if certs.is_empty() {
        bail!("{}: no certificate in this file", path.display());
    }
    Ok(certs)
}

/// The *.pem and *.crt files in a directory, sorted.
pub(crate) fn pem_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for e in std::fs::read_dir(dir).with_context(|| format!("read directory {}", dir.display()))? {
        let p = e?.path();
        if p.extension().is_some_and(|x| x == "pem" || x == "crt") {
            files.push(p);
        }
    }
    files.sort();
    if files.is_empty() {
        bail!("{}: no *.pem or *.crt file", dir.display());
    }
    Ok(files)
}

/// Where roots were read from, for messages and JSON (`source` in docs/cli-json.md).
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct Source {
    /// "compiled-in", "directory", "pem" or "bundle".
    pub(crate) kind: &'static str,
    /// The path given, for all but compiled-in.
    pub(crate) path: Option<String>,
    /// A bundle's fleet.
    pub(crate) fleet: Option<String>,
    /// A bundle's version.
    pub(crate) version: Option<u64>,
    /// A bundle's expires_at.
    pub(crate) expires_at: Option<String>,
    /// A bundle's next signer set: its threshold and keys, by key id.
    pub(crate) signers: Option<SignerSetView>,
    /// Whether the roots were verified as a device would: always false here (`bundle verify`
    /// does that).
    pub(crate) verified: bool,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.kind, &self.path) {
            ("compiled-in", _) => f.write_str("compiled-in roots"),
            ("bundle", Some(p)) => write!(
                f,
                "bundle {p} (not verified), version {}",
                self.version.unwrap_or_default()
            ),
            ("pem", Some(p)) => write!(f, "PEM file {p}"),
            (kind, Some(p)) => write!(f, "{kind} {p}"),
            (kind, None) => f.write_str(kind),
        }
    }
}

impl Source {
    fn at(kind: &'static str, path: &Path) -> Self {
        Self {
            kind,
            path: Some(path.display().to_string()),
            fleet: None,
            version: None,
            expires_at: None,
            signers: None,
            verified: false,
        }
    }
}

/// The roots compiled into this build of the tool.
pub(crate) fn compiled_in() -> Vec<Entry> {
    ROOTS
        .iter()
        .map(|r| Entry {
            name: r.name.into(),
            subject: r.subject.into(),
            key: r.key.to_string(),
            not_after: r.not_after,
            sha256: r.sha256,
            spki_sha256: r.spki_sha256,
            removal: r.root_program_removal,
            der: r.der.clone(),
        })
        .collect()
}

/// A bundle's roots, with the payload's names (not verified).
pub(crate) fn bundle_entries(bundle: &Bundle) -> anyhow::Result<Vec<Entry>> {
    let payload = bundle.payload_unverified(&Limits::default())?;
    let mut out = Vec::new();
    for der in bundle.certificates() {
        let der = der.into_owned();
        let info = CertificateInfo::from_der(&der)?;
        let name = payload
            .roots
            .iter()
            .find(|r| r.sha256 == info.sha256)
            .and_then(|r| r.name.clone());
        out.push(entry_from_der(der, name)?);
    }
    Ok(out)
}

impl SourceArgs {
    /// The roots, and where they came from.
    pub(crate) fn load(&self) -> anyhow::Result<(Source, Vec<Entry>)> {
        if let Some(dir) = &self.roots {
            let mut out = Vec::new();
            for f in pem_files(dir)? {
                for der in pem_certificates(&f)? {
                    out.push(entry_from_der(der, None).with_context(|| f.display().to_string())?);
                }
            }
            return Ok((Source::at("directory", dir), out));
        }
        if let Some(pem) = &self.pem {
            let out = pem_certificates(pem)?
                .into_iter()
                .map(|d| entry_from_der(d, None))
                .collect::<anyhow::Result<_>>()
                .with_context(|| pem.display().to_string())?;
            return Ok((Source::at("pem", pem), out));
        }
        if let Some(path) = &self.bundle {
            let bundle = Bundle::from_bytes(&read(path)?, &Limits::default())
                .with_context(|| path.display().to_string())?;
            let payload = bundle
                .payload_unverified(&Limits::default())
                .with_context(|| path.display().to_string())?;
            let out = bundle_entries(&bundle).with_context(|| path.display().to_string())?;
            let source = Source {
                signers: Some(SignerSetView::from(&payload.signers)),
                fleet: Some(payload.fleet),
                version: Some(payload.version),
                expires_at: Some(crate::time_arg::rfc3339(payload.expires_at)),
                ..Source::at("bundle", path)
            };
            return Ok((source, out));
        }
        let source = Source {
            kind: "compiled-in",
            path: None,
            fleet: None,
            version: None,
            expires_at: None,
            signers: None,
            verified: false,
        };
        Ok((source, compiled_in()))
    }
}

/// PEM for C clients (mosquitto, curl, paho, the AWS IoT Device SDK): each certificate after
/// a comment line naming it, which OpenSSL and mbedTLS skip.
pub(crate) fn labelled_pem(entries: &[Entry]) -> String {
    use base64::Engine as _;
    let mut out = String::new();
    for e in entries {
        out.push_str(&format!(
            "# {} (SHA-256 {})\n",
            e.name,
            crate::inspect::hex(&e.sha256)
        ));
        out.push_str("-----BEGIN CERTIFICATE-----\n");
        let b64 = base64::engine::general_purpose::STANDARD.encode(e.der.as_ref());
        for line in b64.as_bytes().chunks(64) {
            out.push_str(&String::from_utf8_lossy(line));
            out.push('\n');
        }
        out.push_str("-----END CERTIFICATE-----\n");
    }
    out
}
