//! Why a trust store operation failed.

use core::fmt;
use std::string::String;

use crate::bundle::BundleError;

/// Why a trust store operation failed. Whatever the error, the active trust set and the
/// rollback floors on disk are as they were before the call.
#[derive(Debug)]
#[non_exhaustive]
pub enum StoreError {
    /// A file operation failed (ENOSPC, EIO, a read-only directory, ...).
    Io {
        /// The operation: "write", "fsync", "rename", "fsync directory", "remove", "read",
        /// "list", "lock".
        op: &'static str,
        /// The file it was applied to.
        file: String,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// Another process holds the store's lock, or kept SNAPSHOT locked past the bounded
    /// wait (a writer mid-mutation for a reader; a reader for the writer).
    Busy {
        /// The store's directory.
        dir: std::path::PathBuf,
        /// The process holding the writer's lock, as it recorded itself in `LOCK` (absent for
        /// a held SNAPSHOT, or a holder that wrote nothing readable).
        pid: Option<u32>,
    },
    /// The bundle was refused.
    Bundle(BundleError),
    /// No bundle is staged.
    NothingStaged,
    /// The staged bundle has not passed a health check, so it cannot be committed.
    NotHealthChecked {
        /// The staged bundle's version.
        version: u64,
    },
    /// The health check failed with only the staged anchors.
    HealthCheckFailed {
        /// The staged bundle's version.
        version: u64,
        /// Failed attempts so far, including this one.
        attempt: u32,
        /// Attempts allowed before the bundle is discarded.
        max_attempts: u32,
        /// What the check reported.
        reason: String,
        /// Whether the bundle was discarded (attempts exhausted).
        discarded: bool,
    },
    /// The health check could not run (the device is offline, the endpoint is down):
    /// nothing is known about the bundle, which stays staged with its attempts unspent.
    HealthCheckUnavailable {
        /// The staged bundle's version.
        version: u64,
        /// What the check reported.
        reason: String,
    },
    /// The store is open read-only: updates are refused, the committed roots stay in use.
    ReadOnly,
    /// The generation counter is at its maximum: no further commit can be numbered.
    GenerationExhausted {
        /// The current generation.
        generation: u64,
    },
    /// This bundle was discarded before; it is not retried.
    PreviouslyDiscarded {
        /// Its version.
        version: u64,
        /// Why it was discarded.
        reason: String,
    },
    /// No bundle is committed and no root is compiled in: the store has nothing to trust.
    NoRoots,
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io { op, file, source } => write!(f, "{op} {file}: {source}"),
            Self::Busy { dir, pid: Some(pid) } => write!(
                f,
                "busy: the trust store in {} is in use by another agent (pid {pid}); try again",
                dir.display()
            ),
            Self::Busy { dir, pid: None } => write!(
                f,
                "busy: another process is using the trust store in {}; try again",
                dir.display()
            ),
            Self::Bundle(e) => write!(f, "bundle refused: {e}"),
            Self::NothingStaged => f.write_str("no bundle is staged"),
            Self::NotHealthChecked { version } => {
                write!(
                    f,
                    "staged bundle version {version} has not passed a health check"
                )
            }
            Self::HealthCheckFailed {
                version,
                attempt,
                max_attempts,
                reason,
                discarded,
            } => {
                write!(f, "health check of bundle version {version} failed (attempt {attempt} of {max_attempts}): {reason}")?;
                if *discarded {
                    f.write_str("; the bundle was discarded")?;
                }
                Ok(())
            }
            Self::HealthCheckUnavailable { version, reason } => write!(
                f,
                "health check of bundle version {version} could not run: {reason}; it stays staged, and the attempt is not counted"
            ),
            Self::ReadOnly => f.write_str(
                "the trust store is open read-only: updates are refused, the committed roots stay in use",
            ),
            Self::GenerationExhausted { generation } => write!(
                f,
                "generation {generation} is the last one that can be numbered; no further commit is possible"
            ),
            Self::PreviouslyDiscarded { version, reason } => {
                write!(
                    f,
                    "bundle version {version} was discarded before ({reason}); not retrying it"
                )
            }
            Self::NoRoots => {
                f.write_str("no committed bundle and no compiled-in root: nothing to trust")
            }
        }
    }
}

/// The message already includes the cause (the OS error, the bundle's refusal), so no
/// `source()` is reported: error chains (`anyhow`'s `{:#}`) would print it twice. Match
/// on the variant for the typed cause.
impl std::error::Error for StoreError {}

impl From<BundleError> for StoreError {
    fn from(e: BundleError) -> Self {
        Self::Bundle(e)
    }
}
