//! `iot-roots export`: the compiled-in roots for C SDKs, paho and esp-idf.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use aws_iot_roots::{PEM_BUNDLE, PEM_BUNDLE_NUL, ROOTS};

use crate::fsutil::{write_atomic, Existing};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    /// One PEM file (C SDKs, paho-mqtt, the AWS SDK's TrustStore).
    Pem,
    /// One PEM file with a terminating NUL (esp-idf `cacert_buf`).
    PemNul,
    /// A directory of DER files, one per root (`<feature>.der`).
    DerDir,
}

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The output format.
    #[arg(long, value_enum)]
    format: Format,
    /// The file (pem, pem-nul) or directory (der-dir) to write.
    #[arg(long, value_name = "PATH")]
    out: PathBuf,
}

pub(crate) fn run(a: &Args) -> anyhow::Result<ExitCode> {
    match a.format {
        Format::Pem => write_atomic(&a.out, PEM_BUNDLE.as_bytes(), 0o644, Existing::Replace)?,
        Format::PemNul => write_atomic(
            &a.out,
            PEM_BUNDLE_NUL.to_bytes_with_nul(),
            0o644,
            Existing::Replace,
        )?,
        Format::DerDir => {
            std::fs::create_dir_all(&a.out)
                .with_context(|| format!("create {}", a.out.display()))?;
            for r in ROOTS {
                write_atomic(
                    &a.out.join(format!("{}.der", r.feature)),
                    &r.der,
                    0o644,
                    Existing::Replace,
                )?;
            }
        }
    }
    println!("{} roots written to {}", ROOTS.len(), a.out.display());
    Ok(ExitCode::SUCCESS)
}
