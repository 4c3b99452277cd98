//! The fleet trust store: what a device's update agent runs. It holds the active trust set,
//! applies signed bundles by stage → health check → commit, never leaves the device without
//! working roots, and survives power loss at any instant.
//!
//! # On disk
//!
//! | file | what |
//! |---|---|
//! | `gen-<N>.json` | a committed bundle (generation N) with the trusted time it was accepted at and the time floor; the current and the previous generation are kept |
//! | `floor.json` | the rollback floors: version, time floor, signer set, payload hash |
//! | `staged.json` | the staged bundle, its health-check attempts and result |
//! | `attempts.json` | health-check attempts spent per version, kept when another bundle is staged |
//! | `discarded.json` | bundles discarded for good, with cause, reason and time, so they are not retried in a loop |
//! | `LOCK` | held exclusively by the one writer while it is open ([`TrustStore::open`]) |
//! | `SNAPSHOT` | held exclusively during each mutation, shared by read-only opens while they read |
//! | `*.tmp` | debris of an interrupted write: never state, removed on open |
//!
//! Every file is sealed with its SHA-256 and written by temp file, fsync, rename, fsync of the
//! directory; a new state directory is made durable by fsyncing its parent. A commit takes
//! effect at one rename (the new `gen-<N>.json`). The floors on open are the highest of
//! `floor.json` and every valid generation, so no single lost or corrupted file moves them
//! backwards. Only a generation that re-verifies counts: a file name alone decides neither
//! which generation is active nor the next generation number. A staged record at or below
//! the floors (a crash between the commit rename and its removal) is cleared on open.
//!
//! # Access
//!
//! [`TrustStore::open`] opens the one writer. On a read-only file system it opens read-only
//! instead ([`Access::ReadOnly`]): the committed roots stay in use, the status says so, and
//! `stage`, `health_check`, `commit` and `discard` return [`StoreError::ReadOnly`].
//! [`TrustStore::open_read_only`] does the same on purpose, for status tools: it writes
//! nothing and waits out a mutation in progress.
//!
//! # Health checks and discards
//!
//! Attempts are counted on disk before each check, per version and across stagings, so a
//! check that reboots the device ends the loop after [`StoreConfig::max_health_attempts`],
//! however bundles are offered. Only what is the bundle's fault discards it:
//! [`HealthCheckError::Failed`] at the limit, or the limit reached by restarts. A check that
//! could not run ([`HealthCheckError::Unavailable`]) spends nothing, and a staged bundle that
//! does not verify at the moment (a clock far ahead) stays staged. A discard can be undone by
//! [`TrustStore::clear_discarded`].
//!
//! # What it assumes of the directory
//!
//! The store never follows a symbolic link and never opens anything but a regular file for
//! its own files: an entry of another kind where state or debris belongs is removed on open
//! (reported in [`TrustStore::notes`]), every write creates a new file, and reads use
//! `O_NOFOLLOW`. It does not defend against a process that writes the directory *while* the
//! agent runs: keep the directory, and every directory above it, writable only by the agent.
//!
//! # Limits
//!
//! Deleting the whole directory resets anti-rollback to the compiled-in floor (version 0, the
//! crate's build time, the signer set the application passes in): an attacker who can delete
//! it can replay any bundle still unexpired and signed by that set. Keep the directory on
//! storage only the agent can write, and keep bundles' expiry short.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::Path;
use std::string::{String, ToString};
use std::vec::Vec;

use rustls_pki_types::{TrustAnchor, UnixTime};
use serde::Serialize;

mod error;
mod health;
mod lock;
mod note;
mod open;
mod records;
mod status;
pub(crate) mod storage;
#[cfg(feature = "rustls")]
mod tls_check;
mod update;

pub use error::StoreError;
pub use health::{HealthCheck, HealthCheckError};
pub use note::{Note, NoteKind};
pub use records::DiscardCause;
pub use status::{DiscardedBundle, RemovalStatus, RootStatus, StagedStatus, Status};
pub use storage::{DirStorage, Entry, EntryKind, Storage};
#[cfg(feature = "rustls")]
pub use tls_check::{TlsHandshakeCheck, DEFAULT_HANDSHAKE_TIMEOUT};

use crate::bundle::error::BundleError;
use crate::bundle::keys::SignerSet;
use crate::bundle::limits::{Policy, MAX_BUNDLE_BYTES};
use crate::bundle::verify::{verify, verify_reapply, TrustState, Verdict, VerifiedBundle};
use crate::hex::hex;
use crate::store::storage::{remove_durably, OpError, TMP_SUFFIX};
use lock::{
    is_read_only_fs, lock_holder, lock_io, lock_within, open_lock_file, record_holder, FileLock,
    LockKind,
};
use records::{
    is_store_name, read_sealed, write_sealed, AttemptsRecord, DiscardedEntry, DiscardedRecord,
    FloorRecord, GenerationRecord, StagedRecord,
};

/// Health-check attempts before a staged bundle is discarded. Three survives a transient
/// network failure or two, and still ends a reboot loop quickly.
pub const DEFAULT_MAX_HEALTH_ATTEMPTS: u32 = 3;

/// Discarded bundles remembered. A fleet has at most a few bad bundles in flight; older
/// entries are dropped first.
pub const MAX_DISCARDED: usize = 16;

/// Largest state file read: a bundle at [`MAX_BUNDLE_BYTES`] in base64, plus its record.
const MAX_STATE_FILE_BYTES: usize = MAX_BUNDLE_BYTES / 3 * 4 + 16 * 1024;

const FORMAT: u32 = 1;
const FLOOR_FILE: &str = "floor.json";
const STAGED_FILE: &str = "staged.json";
const DISCARDED_FILE: &str = "discarded.json";
const ATTEMPTS_FILE: &str = "attempts.json";
const LOCK_FILE: &str = "LOCK";
const SNAPSHOT_FILE: &str = "SNAPSHOT";

fn gen_file(n: u64) -> String {
    std::format!("gen-{n:020}.json")
}

fn parse_gen_file(name: &str) -> Option<u64> {
    let digits = name.strip_prefix("gen-")?.strip_suffix(".json")?;
    (digits.len() == 20 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

/// How a [`TrustStore`] is set up by the application. Start from [`StoreConfig::new`] and
/// assign the fields to change (new settings may be added).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct StoreConfig {
    /// The fleet this device belongs to.
    pub fleet: String,
    /// The signer set trusted before any bundle is committed: each fleet operator signs its
    /// own bundles, so the application supplies it.
    pub signers: SignerSet,
    /// Limits and clock tolerance for verifying bundles.
    pub policy: Policy,
    /// See [`DEFAULT_MAX_HEALTH_ATTEMPTS`].
    pub max_health_attempts: u32,
}

impl StoreConfig {
    /// A configuration with the default policy and attempts.
    pub fn new(fleet: impl Into<String>, signers: SignerSet) -> Self {
        Self {
            fleet: fleet.into(),
            signers,
            policy: Policy::default(),
            max_health_attempts: DEFAULT_MAX_HEALTH_ATTEMPTS,
        }
    }
}

/// How a store was opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Access {
    /// The one writer: stages, checks and commits.
    ReadWrite,
    /// Serves the committed roots and reports status; every update is refused
    /// ([`StoreError::ReadOnly`]). Either asked for ([`TrustStore::open_read_only`]) or
    /// because the state directory is on a read-only file system.
    ReadOnly,
}

/// Where the active trust set comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ActiveSource {
    /// The newest committed bundle.
    Bundle {
        /// Its generation.
        generation: u64,
    },
    /// An older committed bundle, because the newest one failed re-verification.
    PreviousGeneration {
        /// Its generation.
        generation: u64,
    },
    /// The roots compiled into this build: no valid committed bundle.
    CompiledIn,
}

/// What `stage` did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StageOutcome {
    /// The bundle is staged (or was already staged, with its attempt count kept).
    Staged {
        /// Its version.
        version: u64,
    },
    /// The bundle is the active one: nothing to do.
    AlreadyActive {
        /// Its version.
        version: u64,
    },
}

/// A staged bundle: its version and where its health checks stand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct StagedBundle {
    /// Its version.
    pub version: u64,
    /// Health-check attempts spent on its version (across stagings).
    pub attempts: u32,
    /// Whether the last check passed, so that it can be committed.
    pub passed: bool,
}

/// What `commit` did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CommitOutcome {
    /// The committed bundle's version.
    pub version: u64,
    /// Its generation on disk.
    pub generation: u64,
}

#[derive(Clone, Debug)]
struct Committed {
    generation: u64,
    bundle: VerifiedBundle,
}

fn io_err(e: OpError) -> StoreError {
    StoreError::Io {
        op: e.op,
        file: e.name,
        source: e.source,
    }
}

fn at(secs: u64) -> UnixTime {
    UnixTime::since_unix_epoch(core::time::Duration::from_secs(secs))
}

/// The fleet trust store. See the [module documentation](self).
#[derive(Debug)]
pub struct TrustStore<S: Storage = DirStorage> {
    storage: S,
    // Held for the store's lifetime by the one writer; the OS releases it if the process dies.
    _lock: Option<FileLock>,
    // Taken exclusively around each mutation, so that read-only opens (shared) never see a
    // mutation half done; with its directory, for errors.
    snapshot: Option<(File, std::path::PathBuf)>,
    access: Access,
    config: StoreConfig,
    floors: TrustState,
    active: Option<Committed>,
    source: ActiveSource,
    notes: Vec<Note>,
    /// The highest generation backed by a verified bundle: the next commit's is one more.
    max_generation: u64,
    staged: Option<StagedRecord>,
    discarded: Vec<DiscardedEntry>,
    attempts: BTreeMap<u64, u32>,
    extra: Vec<TrustAnchor<'static>>,
}

impl TrustStore<DirStorage> {
    /// Opens (or creates) the store in `dir` as its one writer, holding its lock until
    /// dropped.
    ///
    /// On a read-only file system (a state partition remounted read-only after an error, a
    /// read-only bind mount) the store opens read-only instead ([`Access::ReadOnly`]): the
    /// committed roots stay in use, and updates are refused.
    ///
    /// # Errors
    ///
    /// [`StoreError::Busy`] when another process has it open; [`StoreError::Io`] when the
    /// directory or lock cannot be created; [`StoreError::NoRoots`] when there is neither a
    /// valid committed bundle nor a compiled-in root.
    pub fn open(dir: impl AsRef<Path>, config: StoreConfig) -> Result<Self, StoreError> {
        let dir = dir.as_ref();
        let storage = DirStorage::new(dir).map_err(|source| StoreError::Io {
            op: "create",
            file: dir.display().to_string(),
            source,
        })?;
        let lock = match open_lock_file(dir, LOCK_FILE, true) {
            Ok(Some(f)) => f,
            Err(e) if is_read_only_fs(&e) => {
                let mut store = Self::open_read_only(dir, config)?;
                store.notes.push(Note::new(
                    dir.display().to_string(),
                    NoteKind::ReadOnlyFileSystem,
                    std::format!(
                        "read-only file system ({e}); serving the committed roots, refusing updates"
                    ),
                ));
                return Ok(store);
            }
            Ok(None) => return Err(lock_io(dir, LOCK_FILE, std::io::ErrorKind::NotFound.into())),
            Err(e) => return Err(lock_io(dir, LOCK_FILE, e)),
        };
        let mut lock = lock;
        match fs4::FileExt::try_lock(&lock) {
            Ok(()) => record_holder(&mut lock),
            Err(fs4::TryLockError::WouldBlock) => {
                return Err(StoreError::Busy {
                    dir: dir.to_path_buf(),
                    pid: lock_holder(&mut lock),
                })
            }
            Err(fs4::TryLockError::Error(source)) => return Err(lock_io(dir, LOCK_FILE, source)),
        }
        let lock = FileLock(lock);
        let snapshot = open_lock_file(dir, SNAPSHOT_FILE, true)
            .map_err(|e| lock_io(dir, SNAPSHOT_FILE, e))?
            .ok_or_else(|| lock_io(dir, SNAPSHOT_FILE, std::io::ErrorKind::NotFound.into()))?;
        let mut store = Self::open_inner(
            storage,
            config,
            Access::ReadWrite,
            Some((snapshot, dir.to_path_buf())),
        )?;
        store._lock = Some(lock);
        Ok(store)
    }

    /// Opens the store in `dir` read-only, for status and inspection (the CLI's `status`)
    /// while an agent may be running: nothing is written, cleaned up or discarded. It waits
    /// (up to a few seconds) for a writer's mutation in progress, so it never reads one half
    /// done, and holds no lock afterwards.
    ///
    /// # Errors
    ///
    /// [`StoreError::Io`] when `dir` is not a directory or cannot be read;
    /// [`StoreError::Busy`] when a writer's mutation does not finish in time;
    /// [`StoreError::NoRoots`].
    pub fn open_read_only(dir: impl AsRef<Path>, config: StoreConfig) -> Result<Self, StoreError> {
        let dir = dir.as_ref();
        if !dir.is_dir() {
            return Err(StoreError::Io {
                op: "open",
                file: dir.display().to_string(),
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no such state directory",
                ),
            });
        }
        let storage = DirStorage::new(dir).map_err(|source| StoreError::Io {
            op: "open",
            file: dir.display().to_string(),
            source,
        })?;
        // A directory no writer ever opened has no SNAPSHOT file, and nothing to race. A
        // SNAPSHOT that is not a regular file is hostile: it must not stop the device from
        // serving its roots, so it is reported and read past (a writer removes it).
        let mut hostile = None;
        let snapshot = match open_lock_file(dir, SNAPSHOT_FILE, false) {
            Ok(f) => f,
            Err(e) => {
                hostile = Some(Note::new(
                    SNAPSHOT_FILE,
                    NoteKind::SnapshotLockUnusable,
                    std::format!("{e}; read without it"),
                ));
                None
            }
        };
        let guard = match snapshot {
            Some(f) => Some(lock_within(f, LockKind::Shared, dir)?),
            None => None,
        };
        let mut store = Self::open_inner(storage, config, Access::ReadOnly, None);
        drop(guard);
        if let (Ok(s), Some(note)) = (&mut store, hostile) {
            s.notes.push(note);
        }
        store
    }
}

impl<S: Storage> TrustStore<S> {
    /// Opens a store on any [`Storage`] as its writer. The caller guarantees that nothing
    /// else writes it at the same time ([`TrustStore::open`] does so with a lock).
    ///
    /// Re-verifies every committed generation; falls back to the previous one, then to the
    /// compiled-in roots, and reports which is active ([`TrustStore::source`]). Removes
    /// debris and any entry that is not a regular file where state belongs, and reconciles
    /// a staged bundle with what is committed.
    ///
    /// # Errors
    ///
    /// [`StoreError::Io`] when the directory cannot be listed; [`StoreError::NoRoots`].
    pub fn open_with(storage: S, config: StoreConfig) -> Result<Self, StoreError> {
        Self::open_inner(storage, config, Access::ReadWrite, None)
    }

    /// Opens a store on any [`Storage`] read-only: as [`TrustStore::open_with`], but nothing
    /// is written.
    ///
    /// # Errors
    ///
    /// As [`TrustStore::open_with`].
    pub fn open_read_only_with(storage: S, config: StoreConfig) -> Result<Self, StoreError> {
        Self::open_inner(storage, config, Access::ReadOnly, None)
    }

    fn open_inner(
        storage: S,
        config: StoreConfig,
        access: Access,
        snapshot: Option<(File, std::path::PathBuf)>,
    ) -> Result<Self, StoreError> {
        let mut store = Self {
            storage,
            _lock: None,
            snapshot,
            access,
            floors: TrustState::initial(config.fleet.clone(), config.signers.clone()),
            config,
            active: None,
            source: ActiveSource::CompiledIn,
            notes: Vec::new(),
            max_generation: 0,
            staged: None,
            discarded: Vec::new(),
            attempts: BTreeMap::new(),
            extra: Vec::new(),
        };
        let _guard = store.mutation()?;
        store.load()?;
        Ok(store)
    }

    /// Takes the snapshot lock for a mutation (a no-op without one, as on other storage).
    fn mutation(&self) -> Result<Option<FileLock>, StoreError> {
        match &self.snapshot {
            Some((f, dir)) => {
                let f = f.try_clone().map_err(|e| lock_io(dir, SNAPSHOT_FILE, e))?;
                Ok(Some(lock_within(f, LockKind::Exclusive, dir)?))
            }
            None => Ok(None),
        }
    }

    fn writable(&self) -> Result<(), StoreError> {
        match self.access {
            Access::ReadWrite => Ok(()),
            _ => Err(StoreError::ReadOnly),
        }
    }

    /// How the store was opened.
    pub fn access(&self) -> Access {
        self.access
    }

    /// Where the active trust set comes from.
    pub fn source(&self) -> ActiveSource {
        self.source
    }

    /// What open found wrong (corrupt files, failed re-verification), for the fleet backend.
    pub fn notes(&self) -> &[Note] {
        &self.notes
    }

    /// The rollback floors new bundles are checked against.
    pub fn floors(&self) -> &TrustState {
        &self.floors
    }

    /// The active bundle, if the active set comes from one.
    pub fn active_bundle(&self) -> Option<&VerifiedBundle> {
        self.active.as_ref().map(|c| &c.bundle)
    }

    /// The active signed (or compiled-in) anchors, without the extra anchors.
    pub fn signed_anchors(&self) -> Vec<TrustAnchor<'static>> {
        match &self.active {
            Some(c) => c.bundle.anchors(),
            None => crate::TLS_SERVER_ROOTS.to_vec(),
        }
    }

    /// Every anchor to trust: the active set, then the extra anchors.
    pub fn anchors(&self) -> Vec<TrustAnchor<'static>> {
        let mut all = self.signed_anchors();
        all.extend(self.extra.iter().cloned());
        all
    }

    /// Adds an anchor of the application's own (a private CA behind a custom domain, a
    /// Greengrass core device CA). Kept in memory, apart from the signed set: never persisted,
    /// never mistaken for a signed root, and not part of a staged bundle's health check.
    pub fn add_extra_anchor(&mut self, anchor: TrustAnchor<'static>) {
        self.extra.push(anchor);
    }

    /// The application's extra anchors.
    pub fn extra_anchors(&self) -> &[TrustAnchor<'static>] {
        &self.extra
    }

    /// A rustls root store of [`TrustStore::anchors`].
    #[cfg(feature = "rustls")]
    pub fn root_cert_store(&self) -> rustls::RootCertStore {
        rustls::RootCertStore {
            roots: self.anchors(),
        }
    }

    /// The staged bundle, if one is staged.
    pub fn staged(&self) -> Option<StagedBundle> {
        self.staged.as_ref().map(|s| StagedBundle {
            version: s.version,
            attempts: s.attempts,
            passed: s.passed,
        })
    }

    /// Bundles discarded for good, oldest first.
    pub fn discarded(&self) -> Vec<DiscardedBundle> {
        self.discarded.iter().map(DiscardedBundle::from).collect()
    }
}
