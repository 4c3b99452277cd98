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

use std::borrow::ToOwned;
use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::path::Path;
use std::string::{String, ToString};
use std::vec::Vec;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use rustls_pki_types::{TrustAnchor, UnixTime};
use serde::{Deserialize, Serialize};

use crate::error::BundleError;
pub use crate::error::StoreError;
#[cfg(feature = "rustls")]
pub use crate::health::{TlsHandshakeCheck, DEFAULT_HANDSHAKE_TIMEOUT};
use crate::json::json_object;
use crate::keys::{hex, SignerSet};
use crate::limits::{Policy, MAX_BUNDLE_BYTES};
use crate::storage::{remove_durably, seal, unseal, write_atomic, OpError, TMP_SUFFIX};
pub use crate::storage::{DirStorage, Entry, EntryKind, Storage};
use crate::timefmt::format_rfc3339;
use crate::verifier::{
    verify, verify_committed, verify_reapply, TrustState, Verdict, VerifiedBundle,
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

/// Checks, before a commit, that the device can do its job trusting only the staged anchors.
pub trait HealthCheck {
    /// `Ok` if the device works with exactly `anchors`.
    ///
    /// # Errors
    ///
    /// [`HealthCheckError::Unavailable`] when the device could not run the check (it says
    /// nothing about the bundle), [`HealthCheckError::Failed`] when the check ran and the
    /// anchors did not do the job.
    fn check(&mut self, anchors: &[TrustAnchor<'static>]) -> Result<(), HealthCheckError>;
}

impl<F: FnMut(&[TrustAnchor<'static>]) -> Result<(), HealthCheckError>> HealthCheck for F {
    fn check(&mut self, anchors: &[TrustAnchor<'static>]) -> Result<(), HealthCheckError> {
        self(anchors)
    }
}

/// Why a health check did not pass. Only [`HealthCheckError::Failed`] counts against the
/// bundle: a device that is offline, or whose endpoint is down, must not throw a good bundle
/// away.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HealthCheckError {
    /// The device could not run the check: network down, name resolution, connection
    /// refused, a timeout, a local configuration error. The attempt is not counted and the
    /// bundle stays staged.
    Unavailable {
        /// What happened.
        reason: String,
    },
    /// The check ran and failed with only the staged anchors (the endpoint's chain did not
    /// verify): the bundle's fault. Counted; at the limit the bundle is discarded.
    Failed {
        /// What happened.
        reason: String,
    },
}

impl HealthCheckError {
    /// The reason, whichever the kind.
    pub fn reason(&self) -> &str {
        match self {
            Self::Unavailable { reason } | Self::Failed { reason } => reason,
        }
    }
}

impl core::fmt::Display for HealthCheckError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Unavailable { reason } => write!(f, "check could not run: {reason}"),
            Self::Failed { reason } => write!(f, "check failed: {reason}"),
        }
    }
}

impl std::error::Error for HealthCheckError {}

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

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
struct GenerationRecord {
    format: u32,
    generation: u64,
    accepted_at: u64,
    time_floor: u64,
    bundle: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
struct FloorRecord {
    format: u32,
    /// Floors belong to one fleet: a directory reused under another fleet does not impose
    /// the old fleet's version and signers.
    fleet: String,
    version: u64,
    time_floor: u64,
    payload_sha256: Option<String>,
    threshold: u32,
    keys: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
struct StagedRecord {
    format: u32,
    bundle: String,
    payload_sha256: String,
    version: u64,
    attempts: u32,
    passed: bool,
    last_failure: Option<String>,
}

/// Why a bundle was discarded for good.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DiscardCause {
    /// The health check ran and failed with only its anchors, as often as allowed.
    HealthCheckFailed,
    /// The device restarted during its health checks as often as allowed (a check that
    /// reboots the device, or a boot loop).
    AttemptsExhausted,
    /// The application or operator discarded it ([`TrustStore::discard`]).
    Operator,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(remote = "Self", deny_unknown_fields)]
struct DiscardedEntry {
    payload_sha256: String,
    version: u64,
    cause: DiscardCause,
    reason: String,
    /// Trusted time of the discard, seconds.
    at: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
struct DiscardedRecord {
    format: u32,
    entries: Vec<DiscardedEntry>,
}

/// Health-check attempts spent per version, kept across stagings: offering two bundles in
/// turn must not restart either's count.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
struct AttemptsRecord {
    format: u32,
    /// `[version, attempts]` pairs, versions ascending.
    versions: Vec<(u64, u32)>,
}

json_object!(
    GenerationRecord => "a generation record",
    FloorRecord => "the floor record",
    StagedRecord => "the staged record",
    DiscardedEntry => "a discarded entry",
    DiscardedRecord => "the discarded record",
    AttemptsRecord => "the attempts record",
);

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

fn read_sealed<T: for<'de> Deserialize<'de>>(
    s: &dyn Storage,
    name: &str,
) -> Result<Option<T>, String> {
    let Some(bytes) = s
        .read(name, MAX_STATE_FILE_BYTES)
        .map_err(|e| std::format!("{name}: {e}"))?
    else {
        return Ok(None);
    };
    let body = unseal(&bytes)
        .ok_or_else(|| std::format!("{name}: checksum mismatch (corrupt or torn)"))?;
    serde_json::from_slice(body)
        .map(Some)
        .map_err(|e| std::format!("{name}: {e}"))
}

fn write_sealed<T: Serialize>(s: &dyn Storage, name: &str, value: &T) -> Result<(), StoreError> {
    let body = serde_json::to_vec(value).map_err(|e| StoreError::Io {
        op: "encode",
        file: name.to_owned(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
    })?;
    write_atomic(s, name, &seal(&body)).map_err(io_err)
}

/// Whether `name` is one the store owns: state, debris or a lock. Only these are cleaned up;
/// anything else in the directory is left alone.
fn is_store_name(name: &str) -> bool {
    name.ends_with(TMP_SUFFIX)
        || name.starts_with("gen-") && name.ends_with(".json")
        || [
            FLOOR_FILE,
            STAGED_FILE,
            DISCARDED_FILE,
            ATTEMPTS_FILE,
            LOCK_FILE,
            SNAPSHOT_FILE,
        ]
        .contains(&name)
}

/// An flock held until dropped.
#[derive(Debug)]
struct FileLock(File);

impl Drop for FileLock {
    fn drop(&mut self) {
        let _ = fs4::FileExt::unlock(&self.0);
    }
}

/// Opens a lock file without following a symbolic link. A non-regular entry in its place is
/// removed first when writable (it is never state, and may point anywhere).
fn open_lock_file(dir: &Path, name: &str, write: bool) -> std::io::Result<Option<File>> {
    let path = dir.join(name);
    if write {
        if let Ok(m) = std::fs::symlink_metadata(&path) {
            if !m.is_file() {
                DirStorage::new(dir)?.remove(name)?;
            }
        }
    }
    let mut options = OpenOptions::new();
    options.read(true);
    if write {
        options.write(true).create(true).truncate(false);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    match options.open(&path) {
        Ok(f) if f.metadata()?.is_file() => Ok(Some(f)),
        Ok(_) => Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            std::format!("{name} is not a regular file"),
        )),
        Err(e) if !write && e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

fn lock_io(dir: &Path, file: &str, source: std::io::Error) -> StoreError {
    StoreError::Io {
        op: "lock",
        file: dir.join(file).display().to_string(),
        source,
    }
}

#[cfg(unix)]
fn is_read_only_fs(e: &std::io::Error) -> bool {
    e.raw_os_error() == Some(libc::EROFS)
}

#[cfg(not(unix))]
fn is_read_only_fs(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::PermissionDenied
}

/// How long a read-only open waits for a writer's mutation, or a writer for readers, before
/// it reports [`StoreError::Busy`]: a commit is a few fsyncs and a read a few small files,
/// well under a second even on slow flash. Bounded both ways, so that a process holding
/// SNAPSHOT (anyone who can read the directory can flock it) delays an update, never hangs it.
const SNAPSHOT_WAIT: core::time::Duration = core::time::Duration::from_secs(5);

#[derive(Clone, Copy)]
enum LockKind {
    Shared,
    Exclusive,
}

/// Takes `file`'s flock within [`SNAPSHOT_WAIT`], retrying every 20 ms, else `Busy`.
fn lock_within(file: File, kind: LockKind, dir: &Path) -> Result<FileLock, StoreError> {
    let deadline = std::time::Instant::now() + SNAPSHOT_WAIT;
    loop {
        let attempt = match kind {
            LockKind::Shared => fs4::FileExt::try_lock_shared(&file),
            LockKind::Exclusive => fs4::FileExt::try_lock(&file),
        };
        match attempt {
            Ok(()) => return Ok(FileLock(file)),
            Err(fs4::TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                std::thread::sleep(core::time::Duration::from_millis(20));
            }
            Err(fs4::TryLockError::WouldBlock) => {
                return Err(StoreError::Busy {
                    dir: dir.to_path_buf(),
                })
            }
            Err(fs4::TryLockError::Error(e)) => return Err(lock_io(dir, SNAPSHOT_FILE, e)),
        }
    }
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
    notes: Vec<String>,
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
                store.notes.push(std::format!(
                    "{}: read-only file system ({e}); serving the committed roots, refusing updates",
                    dir.display()
                ));
                return Ok(store);
            }
            Ok(None) => return Err(lock_io(dir, LOCK_FILE, std::io::ErrorKind::NotFound.into())),
            Err(e) => return Err(lock_io(dir, LOCK_FILE, e)),
        };
        match fs4::FileExt::try_lock(&lock) {
            Ok(()) => {}
            Err(fs4::TryLockError::WouldBlock) => {
                return Err(StoreError::Busy {
                    dir: dir.to_path_buf(),
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
                hostile = Some(std::format!("{SNAPSHOT_FILE}: {e}; read without it"));
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

    fn load(&mut self) -> Result<(), StoreError> {
        let entries = self.storage.list().map_err(|source| StoreError::Io {
            op: "list",
            file: ".".into(),
            source,
        })?;
        let can_write = self.access == Access::ReadWrite;

        // 1. Debris of interrupted writes is never state, whatever its kind; nor is an entry
        //    that is not a regular file where state belongs (a symbolic link may point
        //    anywhere). Neither is ever opened or followed. Best effort: a failing disk
        //    still opens.
        let mut removed = false;
        let mut files: Vec<&str> = Vec::new();
        for e in &entries {
            let debris = e.name.ends_with(TMP_SUFFIX);
            let hostile = e.kind != EntryKind::File && is_store_name(&e.name);
            if hostile && e.name != LOCK_FILE && e.name != SNAPSHOT_FILE {
                self.notes.push(std::format!(
                    "{}: not a regular file; {}",
                    e.name,
                    if can_write { "removed" } else { "ignored" }
                ));
            }
            if (debris || hostile) && can_write && e.name != LOCK_FILE && e.name != SNAPSHOT_FILE {
                removed |= self.storage.remove(&e.name).is_ok();
            }
            if e.kind == EntryKind::File && !debris {
                files.push(&e.name);
            }
        }
        if removed {
            let _ = self.storage.sync_dir();
        }

        // 2. Committed generations, newest first, each re-verified. Only a generation backed
        //    by a verified bundle counts: a file name alone moves nothing.
        let mut gens: Vec<u64> = files.iter().filter_map(|n| parse_gen_file(n)).collect();
        gens.sort_unstable_by(|a, b| b.cmp(a));
        let mut valid: Vec<(Committed, u64)> = Vec::new();
        for &n in &gens {
            match Self::load_generation(&self.storage, &self.config, n) {
                Ok(c) => valid.push(c),
                Err(why) => self.notes.push(std::format!("{}: {why}", gen_file(n))),
            }
        }
        self.max_generation = valid.first().map_or(0, |(c, _)| c.generation);

        // 3. Floors: the highest of every source, so one lost or corrupt file cannot lower them.
        match read_sealed::<FloorRecord>(&self.storage, FLOOR_FILE) {
            Ok(Some(rec)) if rec.fleet != self.config.fleet => {
                self.notes.push(std::format!(
                    "{FLOOR_FILE}: for fleet {:?}, not {:?}; ignored",
                    rec.fleet,
                    self.config.fleet
                ));
            }
            Ok(Some(rec)) => match SignerSet::from_base64(
                &rec.keys,
                rec.threshold,
                self.config.policy.limits.max_signer_keys,
            ) {
                Ok(signers) => {
                    let sha = rec.payload_sha256.as_deref().and_then(parse_hex32);
                    raise(
                        &mut self.floors,
                        rec.version,
                        signers,
                        sha,
                        at(rec.time_floor),
                    );
                }
                Err(e) => self.notes.push(std::format!("{FLOOR_FILE}: {e}")),
            },
            Ok(None) => {}
            Err(why) => self.notes.push(why),
        }
        for (c, time_floor) in &valid {
            let p = c.bundle.payload();
            // A generation's own floor, as `TrustState::after` computed it on commit.
            let floor = at(*time_floor).max(p.issued_at.min(c.bundle.trusted_time()));
            raise(
                &mut self.floors,
                p.version,
                p.signers.clone(),
                Some(*c.bundle.payload_sha256()),
                floor,
            );
        }

        // 4. The active set: the newest valid generation, else the compiled-in roots. It is
        //    "previous" when a newer generation file failed re-verification.
        let newest_named = gens.first().copied().unwrap_or(0);
        self.active = valid.into_iter().next().map(|(c, _)| c);
        self.source = match &self.active {
            Some(c) if c.generation == newest_named => ActiveSource::Bundle {
                generation: c.generation,
            },
            Some(c) => ActiveSource::PreviousGeneration {
                generation: c.generation,
            },
            None => ActiveSource::CompiledIn,
        };
        if self.active.is_none() && crate::TLS_SERVER_ROOTS.is_empty() {
            return Err(StoreError::NoRoots);
        }

        // 5. Discarded bundles. A committed bundle is never "discarded": an entry for the
        //    payload the floors hold is dropped, so re-offering it (to repair a rotted
        //    generation) is not refused.
        let floor_sha = self.floors.payload_sha256.map(|h| hex(&h));
        match read_sealed::<DiscardedRecord>(&self.storage, DISCARDED_FILE) {
            Ok(r) => {
                self.discarded = r.map(|r| r.entries).unwrap_or_default();
                self.discarded
                    .retain(|d| Some(&d.payload_sha256) != floor_sha.as_ref());
            }
            Err(why) => self.notes.push(why),
        }

        // 6. Attempts per version, for versions still above the floor.
        match read_sealed::<AttemptsRecord>(&self.storage, ATTEMPTS_FILE) {
            Ok(r) => {
                let floor = self.floors.version;
                self.attempts = r
                    .map(|r| r.versions)
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|(v, _)| *v > floor)
                    .collect();
            }
            Err(why) => self.notes.push(why),
        }

        // 7. The staged bundle, reconciled with what is committed.
        let staged = match read_sealed::<StagedRecord>(&self.storage, STAGED_FILE) {
            Ok(r) => r,
            Err(why) => {
                self.notes.push(why);
                self.drop_staged_file();
                None
            }
        };
        let Some(mut rec) = staged else {
            return Ok(());
        };
        if rec.version <= self.floors.version {
            // A crash between the commit point (the generation rename) and the removal of
            // staged.json leaves the committed bundle recorded as staged: it is done, not
            // pending, and never a candidate for discarding.
            let why = if Some(&rec.payload_sha256) == floor_sha.as_ref() {
                std::format!("version {} is already committed", rec.version)
            } else {
                std::format!("superseded by committed version {}", self.floors.version)
            };
            self.notes
                .push(std::format!("{STAGED_FILE}: {why}; cleared"));
            self.drop_staged_file();
            return Ok(());
        }
        if let Some(d) = self
            .discarded
            .iter()
            .find(|d| d.payload_sha256 == rec.payload_sha256)
        {
            self.notes.push(std::format!(
                "{STAGED_FILE}: version {} was discarded ({})",
                d.version,
                d.reason
            ));
            self.drop_staged_file();
            return Ok(());
        }
        rec.attempts = rec
            .attempts
            .max(self.attempts.get(&rec.version).copied().unwrap_or(0));
        let exhausted = rec.attempts >= self.config.max_health_attempts && !rec.passed;
        self.staged = Some(rec);
        if exhausted && can_write {
            // A reboot during the last allowed check: the loop ends here.
            let reason = std::format!(
                "the device restarted during {} health checks",
                self.config.max_health_attempts
            );
            let now = self.floors.time_floor;
            let _ = self.discard_staged(DiscardCause::AttemptsExhausted, &reason, now);
        }
        Ok(())
    }

    fn drop_staged_file(&self) {
        if self.access == Access::ReadWrite {
            let _ = remove_durably(&self.storage, STAGED_FILE);
        }
    }

    fn load_generation(
        storage: &S,
        config: &StoreConfig,
        n: u64,
    ) -> Result<(Committed, u64), String> {
        let rec: GenerationRecord = read_sealed(storage, &gen_file(n))?.ok_or("missing")?;
        if rec.format != FORMAT || rec.generation != n {
            return Err("record does not match its file name or format".into());
        }
        let bytes = B64.decode(&rec.bundle).map_err(|e| e.to_string())?;
        let bundle = verify_committed(
            &bytes,
            &config.fleet,
            at(rec.accepted_at),
            &config.policy.limits,
        )
        .map_err(|e| std::format!("re-verification failed: {e}"))?;
        Ok((
            Committed {
                generation: n,
                bundle,
            },
            rec.time_floor,
        ))
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
    pub fn notes(&self) -> &[String] {
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

    /// Forgets that the bundle with this payload SHA-256 was discarded, so that it can be
    /// staged again (an operator who fixed what made its health check fail). Returns whether
    /// there was such an entry.
    ///
    /// # Errors
    ///
    /// [`StoreError::ReadOnly`], [`StoreError::Io`] (nothing changes then).
    pub fn clear_discarded(&mut self, payload_sha256: &[u8; 32]) -> Result<bool, StoreError> {
        self.writable()?;
        let _guard = self.mutation()?;
        let sha = hex(payload_sha256);
        let Some(version) = self
            .discarded
            .iter()
            .find(|e| e.payload_sha256 == sha)
            .map(|e| e.version)
        else {
            return Ok(false);
        };
        // The operator's word gives the version a fresh health-check budget too: the budget
        // first, so that a crash in between leaves it refused, never retried unbounded.
        if self.attempts.contains_key(&version) {
            let mut attempts = self.attempts.clone();
            attempts.remove(&version);
            self.write_attempts(attempts)?;
        }
        let mut entries = self.discarded.clone();
        entries.retain(|e| e.payload_sha256 != sha);
        self.write_discarded(entries)?;
        Ok(true)
    }

    /// The staged bundle, verified again against the floors at `now`.
    fn staged_bundle(&self, now: UnixTime) -> Result<(StagedRecord, VerifiedBundle), StoreError> {
        let rec = self.staged.clone().ok_or(StoreError::NothingStaged)?;
        let bytes = B64.decode(&rec.bundle).map_err(|e| {
            StoreError::Bundle(BundleError::Malformed {
                part: crate::error::Part::StagedRecord,
                detail: e.to_string(),
            })
        })?;
        match self.verify_for_apply(&bytes, now)? {
            Some(v) => Ok((rec, v)),
            // Open clears a staged record at or below the floors, so only a bundle that is
            // active already could get here: nothing is pending.
            None => Err(StoreError::NothingStaged),
        }
    }

    /// `verify` against the floors; `None` when the bundle is the active one. A bundle that
    /// is "already active" by the floors but not by the active set (the newest generation
    /// was lost) is verified in full so that it can be re-applied.
    fn verify_for_apply(
        &self,
        bytes: &[u8],
        now: UnixTime,
    ) -> Result<Option<VerifiedBundle>, StoreError> {
        match verify(bytes, &self.floors, now, &self.config.policy)? {
            Verdict::Apply(v) => Ok(Some(v)),
            Verdict::AlreadyActive { .. } => {
                let active_sha = self.active.as_ref().map(|c| *c.bundle.payload_sha256());
                if active_sha == self.floors.payload_sha256 {
                    return Ok(None);
                }
                // The floors name this payload but its generation was lost: every rule again,
                // for re-application (no state is faked to get there).
                match verify_reapply(bytes, &self.floors, now, &self.config.policy)? {
                    Verdict::Apply(v) => Ok(Some(v)),
                    _ => Ok(None),
                }
            }
        }
    }

    /// Verifies a bundle against the floors and persists it as pending. The active set is
    /// not touched, whatever happens.
    ///
    /// Health-check attempts are counted per version and kept across stagings, so neither an
    /// agent that restarts nor an attacker who offers two bundles in turn can reset the
    /// reboot-loop counter.
    ///
    /// # Errors
    ///
    /// [`StoreError::Bundle`] when verification refuses it, [`StoreError::PreviouslyDiscarded`],
    /// [`StoreError::ReadOnly`], [`StoreError::Io`] when it cannot be persisted (nothing
    /// changes then).
    pub fn stage(&mut self, bytes: &[u8], now: UnixTime) -> Result<StageOutcome, StoreError> {
        let Some(v) = self.verify_for_apply(bytes, now)? else {
            return Ok(StageOutcome::AlreadyActive {
                version: self.floors.version,
            });
        };
        self.writable()?;
        let _guard = self.mutation()?;
        let sha = hex(v.payload_sha256());
        let version = v.payload().version;
        if let Some(d) = self.discarded.iter().find(|d| d.payload_sha256 == sha) {
            return Err(StoreError::PreviouslyDiscarded {
                version: d.version,
                reason: d.reason.clone(),
            });
        }
        if self
            .staged
            .as_ref()
            .is_some_and(|s| s.payload_sha256 == sha)
        {
            return Ok(StageOutcome::Staged { version });
        }
        // The bundle being replaced keeps the attempts it spent, before anything else moves.
        if let Some((old_version, old_attempts)) = self
            .staged
            .as_ref()
            .filter(|s| s.attempts > 0)
            .map(|s| (s.version, s.attempts))
        {
            let mut attempts = self.attempts.clone();
            let spent = attempts.entry(old_version).or_insert(0);
            *spent = (*spent).max(old_attempts);
            self.write_attempts(attempts)?;
        }
        let rec = StagedRecord {
            format: FORMAT,
            bundle: B64.encode(bytes),
            payload_sha256: sha,
            version,
            attempts: self.attempts.get(&version).copied().unwrap_or(0),
            passed: false,
            last_failure: None,
        };
        if let Err(e) = write_sealed(&self.storage, STAGED_FILE, &rec) {
            // The write may have got as far as the rename; make "stage failed" mean nothing
            // is staged, on disk as in memory (best effort: the storage is failing).
            let _ = remove_durably(&self.storage, STAGED_FILE);
            self.staged = None;
            return Err(e);
        }
        let exhausted = rec.attempts >= self.config.max_health_attempts;
        self.staged = Some(rec);
        if exhausted {
            let reason = std::format!(
                "version {version} already used its {} health-check attempts",
                self.config.max_health_attempts
            );
            self.discard_staged(DiscardCause::AttemptsExhausted, &reason, now)?;
            return Err(StoreError::PreviouslyDiscarded { version, reason });
        }
        Ok(StageOutcome::Staged { version })
    }

    /// Runs `check` with only the staged bundle's anchors. The attempt is counted on disk
    /// *before* the check runs, so a check that reboots the device still counts; after
    /// [`StoreConfig::max_health_attempts`] failures the bundle is discarded.
    ///
    /// What the device, not the bundle, is to blame for costs the bundle nothing: a check
    /// that could not run ([`HealthCheckError::Unavailable`]) gives its attempt back, and a
    /// staged bundle that does not verify at `now` (a clock far ahead reads it as expired)
    /// stays staged for when the clock is right.
    ///
    /// # Errors
    ///
    /// [`StoreError::NothingStaged`], [`StoreError::HealthCheckFailed`],
    /// [`StoreError::HealthCheckUnavailable`], [`StoreError::ReadOnly`], [`StoreError::Io`],
    /// or [`StoreError::Bundle`] when the staged bundle does not verify at `now`.
    pub fn health_check(
        &mut self,
        check: &mut dyn HealthCheck,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        self.writable()?;
        let (mut rec, v) = self.staged_bundle(now)?;
        {
            let _guard = self.mutation()?;
            rec.attempts += 1;
            rec.passed = false;
            write_sealed(&self.storage, STAGED_FILE, &rec)?;
            self.staged = Some(rec.clone());
        }
        let result = check.check(&v.anchors());
        let _guard = self.mutation()?;
        match result {
            Ok(()) => {
                rec.passed = true;
                rec.last_failure = None;
                write_sealed(&self.storage, STAGED_FILE, &rec)?;
                self.staged = Some(rec);
                Ok(())
            }
            Err(HealthCheckError::Unavailable { reason }) => {
                rec.attempts -= 1;
                rec.last_failure = Some(std::format!("could not run: {reason}"));
                write_sealed(&self.storage, STAGED_FILE, &rec)?;
                self.staged = Some(rec.clone());
                Err(StoreError::HealthCheckUnavailable {
                    version: rec.version,
                    reason,
                })
            }
            Err(HealthCheckError::Failed { reason }) => {
                let max = self.config.max_health_attempts;
                let discarded = rec.attempts >= max;
                if discarded {
                    let why = std::format!("health check failed {} times: {reason}", rec.attempts);
                    self.discard_staged(DiscardCause::HealthCheckFailed, &why, now)?;
                } else {
                    rec.last_failure = Some(reason.clone());
                    write_sealed(&self.storage, STAGED_FILE, &rec)?;
                    self.staged = Some(rec.clone());
                }
                Err(StoreError::HealthCheckFailed {
                    version: rec.version,
                    attempt: rec.attempts,
                    max_attempts: max,
                    reason,
                    discarded,
                })
            }
        }
    }

    /// Makes the staged, health-checked bundle active and moves the floors, in one atomic
    /// step (the rename of the new generation file). The previous generation is kept.
    ///
    /// # Errors
    ///
    /// [`StoreError::NothingStaged`], [`StoreError::NotHealthChecked`], [`StoreError::Io`]
    /// (nothing changed), [`StoreError::ReadOnly`], [`StoreError::GenerationExhausted`], or
    /// [`StoreError::Bundle`] if it does not verify at `now` (it stays staged).
    pub fn commit(&mut self, now: UnixTime) -> Result<CommitOutcome, StoreError> {
        self.writable()?;
        let staged = self.staged.as_ref().ok_or(StoreError::NothingStaged)?;
        if !staged.passed {
            return Err(StoreError::NotHealthChecked {
                version: staged.version,
            });
        }
        let v = self.staged_bundle(now)?.1;
        let _guard = self.mutation()?;
        let floors = self.floors.after(&v);
        let generation =
            self.max_generation
                .checked_add(1)
                .ok_or(StoreError::GenerationExhausted {
                    generation: self.max_generation,
                })?;
        let rec = GenerationRecord {
            format: FORMAT,
            generation,
            accepted_at: v.trusted_time().as_secs(),
            time_floor: floors.time_floor.as_secs(),
            bundle: B64.encode(v.bytes()),
        };
        // The commit point: once this rename is durable, the bundle is active. If a step
        // fails, undo the new file so that "commit failed" means old state; if even that
        // fails, power loss can only leave the old or the new generation, never a mix.
        if let Err(e) = write_sealed(&self.storage, &gen_file(generation), &rec) {
            let _ = remove_durably(&self.storage, &gen_file(generation));
            return Err(e);
        }

        let previous = self.active.as_ref().map(|c| c.generation);
        let version = v.payload().version;
        self.max_generation = generation;
        self.floors = floors;
        self.active = Some(Committed {
            generation,
            bundle: v,
        });
        self.source = ActiveSource::Bundle { generation };
        self.staged = None;

        // After the commit point, failures cannot undo it; on open, the floors and the
        // cleanup follow from the generation file (a staged.json left behind is cleared).
        let _ = write_sealed(&self.storage, FLOOR_FILE, &self.floor_record());
        let _ = remove_durably(&self.storage, STAGED_FILE);
        let pending: BTreeMap<u64, u32> = self
            .attempts
            .iter()
            .filter(|(v, _)| **v > version)
            .map(|(v, a)| (*v, *a))
            .collect();
        if pending.len() != self.attempts.len() {
            let _ = self.write_attempts(pending);
        }
        if let Ok(entries) = self.storage.list() {
            for n in entries.iter().filter_map(|e| parse_gen_file(&e.name)) {
                if n != generation && Some(n) != previous {
                    let _ = self.storage.remove(&gen_file(n));
                }
            }
            let _ = self.storage.sync_dir();
        }
        Ok(CommitOutcome {
            version,
            generation,
        })
    }

    fn floor_record(&self) -> FloorRecord {
        FloorRecord {
            format: FORMAT,
            fleet: self.config.fleet.clone(),
            version: self.floors.version,
            time_floor: self.floors.time_floor.as_secs(),
            payload_sha256: self.floors.payload_sha256.map(|h| hex(&h)),
            threshold: self.floors.signers.threshold(),
            keys: self
                .floors
                .signers
                .keys()
                .iter()
                .map(|k| k.to_base64())
                .collect(),
        }
    }

    fn write_attempts(&mut self, attempts: BTreeMap<u64, u32>) -> Result<(), StoreError> {
        // Bounded like the discarded list: the highest versions are the ones still offered.
        let excess = attempts.len().saturating_sub(MAX_DISCARDED);
        let attempts: BTreeMap<u64, u32> = attempts.into_iter().skip(excess).collect();
        write_sealed(
            &self.storage,
            ATTEMPTS_FILE,
            &AttemptsRecord {
                format: FORMAT,
                versions: attempts.iter().map(|(v, a)| (*v, *a)).collect(),
            },
        )?;
        self.attempts = attempts;
        Ok(())
    }

    fn write_discarded(&mut self, entries: Vec<DiscardedEntry>) -> Result<(), StoreError> {
        write_sealed(
            &self.storage,
            DISCARDED_FILE,
            &DiscardedRecord {
                format: FORMAT,
                entries: entries.clone(),
            },
        )?;
        self.discarded = entries;
        Ok(())
    }

    /// Drops the staged bundle and records why, so the same bundle is refused if offered
    /// again instead of being retried in a loop ([`TrustStore::clear_discarded`] undoes
    /// that).
    ///
    /// # Errors
    ///
    /// [`StoreError::NothingStaged`], [`StoreError::ReadOnly`], [`StoreError::Io`].
    pub fn discard(&mut self, reason: &str) -> Result<(), StoreError> {
        self.writable()?;
        let _guard = self.mutation()?;
        let now = self.floors.time_floor;
        self.discard_staged(DiscardCause::Operator, reason, now)
    }

    fn discard_staged(
        &mut self,
        cause: DiscardCause,
        reason: &str,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        let rec = self.staged.as_ref().ok_or(StoreError::NothingStaged)?;
        let mut entries = self.discarded.clone();
        entries.retain(|e| e.payload_sha256 != rec.payload_sha256);
        entries.push(DiscardedEntry {
            payload_sha256: rec.payload_sha256.clone(),
            version: rec.version,
            cause,
            reason: reason.to_owned(),
            at: now.max(self.floors.time_floor).as_secs(),
        });
        let excess = entries.len().saturating_sub(MAX_DISCARDED);
        entries.drain(..excess);
        // The version keeps the attempts it spent, so that a re-issue at the same version
        // (another payload) cannot restart the budget.
        let (version, spent) = (rec.version, rec.attempts);
        if spent > self.attempts.get(&version).copied().unwrap_or(0) {
            let mut attempts = self.attempts.clone();
            attempts.insert(version, spent);
            self.write_attempts(attempts)?;
        }
        // Record first: a crash before the staged file goes leaves it to be dropped on open.
        self.write_discarded(entries)?;
        remove_durably(&self.storage, STAGED_FILE).map_err(io_err)?;
        self.staged = None;
        Ok(())
    }

    /// Stage, health-check and commit in one call.
    ///
    /// # Errors
    ///
    /// As [`TrustStore::stage`], [`TrustStore::health_check`] and [`TrustStore::commit`].
    pub fn apply(
        &mut self,
        bytes: &[u8],
        now: UnixTime,
        check: &mut dyn HealthCheck,
    ) -> Result<StageOutcome, StoreError> {
        match self.stage(bytes, now)? {
            StageOutcome::Staged { version } => {
                self.health_check(check, now)?;
                self.commit(now)?;
                Ok(StageOutcome::Staged { version })
            }
            other => Ok(other),
        }
    }

    /// The store's status at `now`, for the fleet backend (serializable).
    pub fn status(&self, now: UnixTime) -> Status {
        let days = |t: UnixTime| (t.as_secs() as i64 - now.as_secs() as i64).div_euclid(86_400);
        let roots: Vec<RootStatus> = match &self.active {
            Some(c) => c
                .bundle
                .roots()
                .iter()
                .map(|r| {
                    RootStatus::new(
                        r.name().unwrap_or(r.subject()),
                        r.subject(),
                        r.sha256(),
                        r.spki_sha256(),
                        r.key(),
                        r.not_after(),
                        now,
                    )
                })
                .collect(),
            None => crate::ROOTS
                .iter()
                .map(|r| {
                    RootStatus::new(
                        r.name,
                        r.subject,
                        &r.sha256,
                        &r.spki_sha256,
                        r.key,
                        r.not_after,
                        now,
                    )
                })
                .collect(),
        };
        let earliest_deadline = roots
            .iter()
            .map(|r| match &r.root_program_removal {
                Some(rm) if rm.date_secs < r.not_after_secs => {
                    (rm.date_secs, r.name.clone(), "loses root-program trust")
                }
                _ => (r.not_after_secs, r.name.clone(), "expires"),
            })
            .min()
            .map(|(t, root, what)| Deadline {
                root,
                what: what.into(),
                at: format_rfc3339(at(t)),
                days_left: days(at(t)),
            });
        let bundle = self.active.as_ref().map(|c| &c.bundle);
        Status {
            source: self.source,
            version: bundle.map(|b| b.payload().version),
            floor_version: self.floors.version,
            roots,
            earliest_deadline,
            bundle_expires_at: bundle.map(|b| format_rfc3339(b.payload().expires_at)),
            stale_bundle: bundle
                .is_some_and(|b| b.payload().expires_at <= now.max(self.floors.time_floor)),
            clock_behind_floor: now < self.floors.time_floor,
            time_floor: format_rfc3339(self.floors.time_floor),
            staged: self.staged.as_ref().map(|s| StagedStatus {
                version: s.version,
                attempts: s.attempts,
                passed: s.passed,
                last_failure: s.last_failure.clone(),
            }),
            extra_anchors: self.extra.len(),
            read_only: self.access == Access::ReadOnly,
            discarded: self.discarded(),
            notes: self.notes.clone(),
        }
    }
}

fn parse_hex32(text: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    if text.len() != 64 {
        return None;
    }
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// Raises `floors` to a source's values: the highest version wins (with its signer set and
/// payload), and the time floor only ever rises.
fn raise(
    floors: &mut TrustState,
    version: u64,
    signers: SignerSet,
    payload_sha256: Option<[u8; 32]>,
    time_floor: UnixTime,
) {
    if version > floors.version {
        floors.version = version;
        floors.signers = signers;
        floors.payload_sha256 = payload_sha256;
    }
    floors.time_floor = floors.time_floor.max(time_floor);
}

/// A trust store's status, for an agent to send to its fleet backend.
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct Status {
    /// Where the active set comes from.
    pub source: ActiveSource,
    /// The active bundle's version, if the set comes from a bundle.
    pub version: Option<u64>,
    /// The rollback floor: new bundles must be above it.
    pub floor_version: u64,
    /// Every active root.
    pub roots: Vec<RootStatus>,
    /// The first root to expire or lose root-program trust.
    pub earliest_deadline: Option<Deadline>,
    /// The active bundle's `expires_at`.
    pub bundle_expires_at: Option<String>,
    /// The active bundle has expired: it keeps working, but the fleet is overdue for one.
    pub stale_bundle: bool,
    /// The clock reads behind the time floor (it stepped back, or was never set).
    pub clock_behind_floor: bool,
    /// Trusted time never goes below this.
    pub time_floor: String,
    /// The staged bundle, if any.
    pub staged: Option<StagedStatus>,
    /// Extra (application) anchors in memory.
    pub extra_anchors: usize,
    /// The store is read-only (asked for, or a read-only file system): updates are refused.
    pub read_only: bool,
    /// Bundles discarded for good, oldest first.
    pub discarded: Vec<DiscardedBundle>,
    /// What open found wrong.
    pub notes: Vec<String>,
}

/// One active root in a [`Status`].
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct RootStatus {
    /// Display name.
    pub name: String,
    /// Subject, RFC 4514.
    pub subject: String,
    /// Certificate SHA-256, hex.
    pub sha256: String,
    /// SPKI SHA-256, hex.
    pub spki_sha256: String,
    /// Key algorithm.
    pub key: String,
    /// notAfter, RFC 3339.
    pub not_after: String,
    /// Whole days until notAfter (negative when past).
    pub days_left: i64,
    /// A known root-program removal.
    pub root_program_removal: Option<RemovalStatus>,
    #[serde(skip)]
    not_after_secs: u64,
}

/// A root-program removal in a [`Status`].
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct RemovalStatus {
    /// The root program.
    pub program: String,
    /// The date, RFC 3339.
    pub date: String,
    /// "announced" or "projected".
    pub basis: String,
    /// Whole days until then (negative when past).
    pub days_left: i64,
    #[serde(skip)]
    date_secs: u64,
}

impl RootStatus {
    fn new(
        name: &str,
        subject: &str,
        sha256: &[u8; 32],
        spki_sha256: &[u8; 32],
        key: crate::KeyAlgorithm,
        not_after: UnixTime,
        now: UnixTime,
    ) -> Self {
        let days = |t: UnixTime| (t.as_secs() as i64 - now.as_secs() as i64).div_euclid(86_400);
        Self {
            name: name.to_owned(),
            subject: subject.to_owned(),
            sha256: hex(sha256),
            spki_sha256: hex(spki_sha256),
            key: key.to_string(),
            not_after: format_rfc3339(not_after),
            days_left: days(not_after),
            root_program_removal: crate::known_removal(sha256).map(|r| RemovalStatus {
                program: r.program.to_owned(),
                date: format_rfc3339(r.date),
                basis: match r.basis {
                    crate::RemovalBasis::Announced => "announced".into(),
                    _ => "projected".into(),
                },
                days_left: days(r.date),
                date_secs: r.date.as_secs(),
            }),
            not_after_secs: not_after.as_secs(),
        }
    }
}

/// The first deadline among the active roots.
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct Deadline {
    /// The root.
    pub root: String,
    /// "expires" or "loses root-program trust".
    pub what: String,
    /// When, RFC 3339.
    pub at: String,
    /// Whole days left (negative when past).
    pub days_left: i64,
}

/// A bundle the store discarded for good, and why: enough for an operator to decide, and to
/// clear it with [`TrustStore::clear_discarded`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct DiscardedBundle {
    /// SHA-256 of its payload (what [`TrustStore::clear_discarded`] takes), hex in JSON.
    #[serde(serialize_with = "serialize_hex")]
    pub payload_sha256: [u8; 32],
    /// Its version.
    pub version: u64,
    /// What kind of failure.
    pub cause: DiscardCause,
    /// What happened, in words.
    pub reason: String,
    /// Trusted time of the discard.
    #[serde(serialize_with = "serialize_time")]
    pub at: UnixTime,
}

impl From<&DiscardedEntry> for DiscardedBundle {
    fn from(e: &DiscardedEntry) -> Self {
        Self {
            payload_sha256: parse_hex32(&e.payload_sha256).unwrap_or_default(),
            version: e.version,
            cause: e.cause,
            reason: e.reason.clone(),
            at: at(e.at),
        }
    }
}

fn serialize_hex<S: serde::Serializer>(bytes: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&hex(bytes))
}

fn serialize_time<S: serde::Serializer>(t: &UnixTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_rfc3339(*t))
}

/// The staged bundle in a [`Status`].
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct StagedStatus {
    /// Its version.
    pub version: u64,
    /// Health-check attempts so far.
    pub attempts: u32,
    /// Whether the last check passed (it can be committed).
    pub passed: bool,
    /// The last failure reported by the check.
    pub last_failure: Option<String>,
}
