//! `iot-roots export`: roots for C SDKs, paho and esp-idf, from the compiled-in set or a
//! bundle.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context as _};

use crate::fsutil::{write_atomic, write_out, Existing};
use crate::source::{labelled_pem, Entry, SourceArgs};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    /// One PEM file (C SDKs, paho-mqtt, the AWS SDK's TrustStore).
    Pem,
    /// One PEM file with a terminating NUL (esp-idf `cacert_buf`).
    PemNul,
    /// A directory of DER files, one per root (`<SHA-256>.der`).
    DerDir,
}

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The output format.
    #[arg(long, value_enum)]
    format: Format,
    /// The file (pem, pem-nul; `-` for standard output) or directory (der-dir) to write.
    #[arg(long, value_name = "PATH")]
    out: PathBuf,
    /// Replace an existing file.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    source: SourceArgs,
}

/// The bytes of one output file.
pub(crate) fn pem_bytes(entries: &[Entry], nul: bool) -> Vec<u8> {
    let mut bytes = labelled_pem(entries).into_bytes();
    if nul {
        bytes.push(0);
    }
    bytes
}

pub(crate) fn run(a: &Args) -> anyhow::Result<ExitCode> {
    let (source, entries) = a.source.load()?;
    let existing = Existing::unless_forced(a.force);
    match a.format {
        Format::Pem | Format::PemNul => write_out(
            &a.out,
            &pem_bytes(&entries, a.format == Format::PemNul),
            0o644,
            existing,
        )?,
        Format::DerDir => {
            if a.out.as_os_str() == "-" {
                bail!("der-dir writes a directory: give --out DIR");
            }
            std::fs::create_dir_all(&a.out)
                .with_context(|| format!("create {}", a.out.display()))?;
            for e in &entries {
                let name = format!("{}.der", crate::inspect::hex(&e.sha256));
                write_atomic(&a.out.join(name), e.der.as_ref(), 0o644, existing)?;
            }
        }
    }
    let n = entries.len();
    let roots = if n == 1 { "root" } else { "roots" };
    // Standard output may be the PEM itself: the summary goes to standard error.
    eprintln!("{n} {roots} from {source} written to {}", a.out.display());
    Ok(ExitCode::SUCCESS)
}
