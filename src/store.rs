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
//! | `discarded.json` | bundles discarded and why, so they are not retried in a loop |
//! | `LOCK` | held while a store is open ([`TrustStore::open`]) |
//! | `*.tmp` | debris of an interrupted write: never state, removed on open |
//!
//! Every file is sealed with its SHA-256 and written by temp file, fsync, rename, fsync of the
//! directory. A commit takes effect at one rename (the new `gen-<N>.json`). The floors on open
//! are the highest of `floor.json` and every valid generation, so no single lost or corrupted
//! file moves them backwards.
//!
//! # Limits
//!
//! Deleting the whole directory resets anti-rollback to the compiled-in floor (version 0, the
//! crate's build time, the signer set the application passes in): an attacker who can delete
//! it can replay any bundle still unexpired and signed by that set. Keep the directory on
//! storage only the agent can write, and keep bundles' expiry short.

use std::borrow::ToOwned;
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
use crate::keys::{hex, SignerSet};
use crate::limits::{Policy, MAX_BUNDLE_BYTES};
use crate::storage::{remove_durably, seal, unseal, write_atomic, OpError, TMP_SUFFIX};
pub use crate::storage::{DirStorage, Storage};
use crate::timefmt::format_rfc3339;
use crate::verifier::{verify, verify_committed, TrustState, Verdict, VerifiedBundle};

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
const LOCK_FILE: &str = "LOCK";

fn gen_file(n: u64) -> String {
    std::format!("gen-{n:020}.json")
}

fn parse_gen_file(name: &str) -> Option<u64> {
    let digits = name.strip_prefix("gen-")?.strip_suffix(".json")?;
    (digits.len() == 20 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

/// How a [`TrustStore`] is set up by the application.
#[derive(Clone, Debug)]
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
    /// `Ok` if the device works with exactly `anchors`; `Err` says why not.
    ///
    /// # Errors
    ///
    /// A human-readable reason, recorded with the attempt.
    fn check(&mut self, anchors: &[TrustAnchor<'static>]) -> Result<(), String>;
}

impl<F: FnMut(&[TrustAnchor<'static>]) -> Result<(), String>> HealthCheck for F {
    fn check(&mut self, anchors: &[TrustAnchor<'static>]) -> Result<(), String> {
        self(anchors)
    }
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
#[serde(deny_unknown_fields)]
struct GenerationRecord {
    format: u32,
    generation: u64,
    accepted_at: u64,
    time_floor: u64,
    bundle: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
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
#[serde(deny_unknown_fields)]
struct StagedRecord {
    format: u32,
    bundle: String,
    payload_sha256: String,
    version: u64,
    attempts: u32,
    passed: bool,
    last_failure: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
struct DiscardedEntry {
    payload_sha256: String,
    version: u64,
    reason: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct DiscardedRecord {
    format: u32,
    entries: Vec<DiscardedEntry>,
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

/// The fleet trust store. See the [module documentation](self).
#[derive(Debug)]
pub struct TrustStore<S: Storage = DirStorage> {
    storage: S,
    // Held for the store's lifetime; the OS releases it if the process dies.
    _lock: Option<File>,
    config: StoreConfig,
    floors: TrustState,
    active: Option<Committed>,
    source: ActiveSource,
    notes: Vec<String>,
    max_generation: u64,
    staged: Option<StagedRecord>,
    discarded: Vec<DiscardedEntry>,
    extra: Vec<TrustAnchor<'static>>,
}

impl TrustStore<DirStorage> {
    /// Opens (or creates) the store in `dir`, holding its lock until dropped.
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
        let lock_path = dir.join(LOCK_FILE);
        let lock = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(|source| StoreError::Io {
                op: "lock",
                file: LOCK_FILE.into(),
                source,
            })?;
        match fs4::FileExt::try_lock(&lock) {
            Ok(()) => {}
            Err(fs4::TryLockError::WouldBlock) => {
                return Err(StoreError::Busy {
                    dir: dir.to_path_buf(),
                })
            }
            Err(fs4::TryLockError::Error(source)) => {
                return Err(StoreError::Io {
                    op: "lock",
                    file: LOCK_FILE.into(),
                    source,
                })
            }
        }
        let mut store = Self::open_with(storage, config)?;
        store._lock = Some(lock);
        Ok(store)
    }
}

impl<S: Storage> TrustStore<S> {
    /// Opens a store on any [`Storage`]. The caller guarantees that nothing else writes it
    /// at the same time ([`TrustStore::open`] does so with a lock).
    ///
    /// Re-verifies every committed generation; falls back to the previous one, then to the
    /// compiled-in roots, and reports which is active ([`TrustStore::source`]). Removes
    /// temporary files and any staged bundle that is corrupt or was discarded.
    ///
    /// # Errors
    ///
    /// [`StoreError::Io`] when the directory cannot be listed; [`StoreError::NoRoots`].
    pub fn open_with(storage: S, config: StoreConfig) -> Result<Self, StoreError> {
        let names = storage.list().map_err(|source| StoreError::Io {
            op: "list",
            file: ".".into(),
            source,
        })?;
        let mut notes = Vec::new();

        // 1. Debris of interrupted writes is never state. Best effort: a read-only store
        //    still opens.
        let mut removed = false;
        for name in names.iter().filter(|n| n.ends_with(TMP_SUFFIX)) {
            removed |= storage.remove(name).is_ok();
        }
        if removed {
            let _ = storage.sync_dir();
        }

        // 2. Committed generations, newest first, each re-verified.
        let mut gens: Vec<u64> = names.iter().filter_map(|n| parse_gen_file(n)).collect();
        gens.sort_unstable_by(|a, b| b.cmp(a));
        let max_generation = gens.first().copied().unwrap_or(0);
        let mut valid: Vec<(Committed, u64)> = Vec::new();
        for &n in &gens {
            match Self::load_generation(&storage, &config, n) {
                Ok(c) => valid.push(c),
                Err(why) => notes.push(std::format!("{}: {why}", gen_file(n))),
            }
        }

        // 3. Floors: the highest of every source, so one lost or corrupt file cannot lower them.
        let mut floors = TrustState::initial(config.fleet.clone(), config.signers.clone());
        match read_sealed::<FloorRecord>(&storage, FLOOR_FILE) {
            Ok(Some(rec)) if rec.fleet != config.fleet => {
                notes.push(std::format!(
                    "{FLOOR_FILE}: for fleet {:?}, not {:?}; ignored",
                    rec.fleet,
                    config.fleet
                ));
            }
            Ok(Some(rec)) => match SignerSet::from_base64(
                &rec.keys,
                rec.threshold,
                config.policy.limits.max_signer_keys,
            ) {
                Ok(signers) => {
                    let sha = rec.payload_sha256.as_deref().and_then(parse_hex32);
                    raise(&mut floors, rec.version, signers, sha, at(rec.time_floor));
                }
                Err(e) => notes.push(std::format!("{FLOOR_FILE}: {e}")),
            },
            Ok(None) => {}
            Err(why) => notes.push(why),
        }
        for (c, time_floor) in &valid {
            let p = c.bundle.payload();
            raise(
                &mut floors,
                p.version,
                p.signers.clone(),
                Some(*c.bundle.payload_sha256()),
                at(*time_floor),
            );
            floors.time_floor = floors.time_floor.max(p.issued_at);
        }

        // 4. The active set: the newest valid generation, else the compiled-in roots.
        let active = valid.into_iter().next().map(|(c, _)| c);
        let source = match &active {
            Some(c) if c.generation == max_generation => ActiveSource::Bundle {
                generation: c.generation,
            },
            Some(c) => ActiveSource::PreviousGeneration {
                generation: c.generation,
            },
            None => ActiveSource::CompiledIn,
        };
        if active.is_none() && crate::TLS_SERVER_ROOTS.is_empty() {
            return Err(StoreError::NoRoots);
        }

        // 5. Discarded bundles and the staged one.
        let discarded = match read_sealed::<DiscardedRecord>(&storage, DISCARDED_FILE) {
            Ok(r) => r.map(|r| r.entries).unwrap_or_default(),
            Err(why) => {
                notes.push(why);
                Vec::new()
            }
        };
        let mut store = Self {
            storage,
            _lock: None,
            config,
            floors,
            active,
            source,
            notes,
            max_generation,
            staged: None,
            discarded,
            extra: Vec::new(),
        };
        match read_sealed::<StagedRecord>(&store.storage, STAGED_FILE) {
            Ok(Some(rec)) => {
                if let Some(d) = store
                    .discarded
                    .iter()
                    .find(|d| d.payload_sha256 == rec.payload_sha256)
                {
                    let why = std::format!(
                        "{STAGED_FILE}: version {} was discarded ({})",
                        d.version,
                        d.reason
                    );
                    store.notes.push(why);
                    let _ = remove_durably(&store.storage, STAGED_FILE);
                } else if rec.attempts >= store.config.max_health_attempts && !rec.passed {
                    // A reboot during the last allowed check: the loop ends here.
                    store.staged = Some(rec);
                    let reason = std::format!(
                        "health check attempts exhausted ({})",
                        store.config.max_health_attempts
                    );
                    let _ = store.discard(&reason);
                } else {
                    store.staged = Some(rec);
                }
            }
            Ok(None) => {}
            Err(why) => {
                store.notes.push(why);
                let _ = remove_durably(&store.storage, STAGED_FILE);
            }
        }
        Ok(store)
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

    /// The staged bundle's version and attempts, if one is staged.
    pub fn staged(&self) -> Option<(u64, u32)> {
        self.staged.as_ref().map(|s| (s.version, s.attempts))
    }

    fn staged_bundle(&self, now: UnixTime) -> Result<(StagedRecord, VerifiedBundle), StoreError> {
        let rec = self.staged.clone().ok_or(StoreError::NothingStaged)?;
        let bytes = B64.decode(&rec.bundle).map_err(|e| {
            StoreError::Bundle(BundleError::Malformed {
                part: STAGED_FILE.into(),
                detail: e.to_string(),
            })
        })?;
        match self.verify_for_apply(&bytes, now)? {
            Some(v) => Ok((rec, v)),
            None => Err(StoreError::Bundle(BundleError::VersionConflict {
                version: rec.version,
            })),
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
                let below = TrustState {
                    version: self.floors.version.saturating_sub(1),
                    payload_sha256: None,
                    ..self.floors.clone()
                };
                match verify(bytes, &below, now, &self.config.policy)? {
                    Verdict::Apply(v) => Ok(Some(v)),
                    _ => Ok(None),
                }
            }
        }
    }

    /// Verifies a bundle against the floors and persists it as pending. The active set is
    /// not touched, whatever happens.
    ///
    /// Staging the bundle that is already staged keeps its attempt count, so an agent that
    /// restarts cannot reset the reboot-loop counter.
    ///
    /// # Errors
    ///
    /// [`StoreError::Bundle`] when verification refuses it, [`StoreError::PreviouslyDiscarded`],
    /// [`StoreError::Io`] when it cannot be persisted (nothing changes then).
    pub fn stage(&mut self, bytes: &[u8], now: UnixTime) -> Result<StageOutcome, StoreError> {
        let Some(v) = self.verify_for_apply(bytes, now)? else {
            return Ok(StageOutcome::AlreadyActive {
                version: self.floors.version,
            });
        };
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
        let rec = StagedRecord {
            format: FORMAT,
            bundle: B64.encode(bytes),
            payload_sha256: sha,
            version,
            attempts: 0,
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
        self.staged = Some(rec);
        Ok(StageOutcome::Staged { version })
    }

    /// Runs `check` with only the staged bundle's anchors. The attempt is counted on disk
    /// *before* the check runs, so a check that reboots the device still counts; after
    /// [`StoreConfig::max_health_attempts`] failures the bundle is discarded.
    ///
    /// # Errors
    ///
    /// [`StoreError::NothingStaged`], [`StoreError::HealthCheckFailed`], [`StoreError::Io`],
    /// or [`StoreError::Bundle`] when the staged bundle no longer verifies (it expired): it
    /// is discarded.
    pub fn health_check(
        &mut self,
        check: &mut dyn HealthCheck,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        let (mut rec, v) = match self.staged_bundle(now) {
            Err(StoreError::Bundle(e)) => {
                self.discard(&std::format!("no longer verifies: {e}"))?;
                return Err(StoreError::Bundle(e));
            }
            other => other?,
        };
        rec.attempts += 1;
        rec.passed = false;
        write_sealed(&self.storage, STAGED_FILE, &rec)?;
        self.staged = Some(rec.clone());
        match check.check(&v.anchors()) {
            Ok(()) => {
                rec.passed = true;
                rec.last_failure = None;
                write_sealed(&self.storage, STAGED_FILE, &rec)?;
                self.staged = Some(rec);
                Ok(())
            }
            Err(reason) => {
                let max = self.config.max_health_attempts;
                let discarded = rec.attempts >= max;
                if discarded {
                    self.discard(&std::format!(
                        "health check failed {} times: {reason}",
                        rec.attempts
                    ))?;
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
    /// (nothing changed), or [`StoreError::Bundle`] if it no longer verifies (discarded).
    pub fn commit(&mut self, now: UnixTime) -> Result<CommitOutcome, StoreError> {
        let staged = self.staged.as_ref().ok_or(StoreError::NothingStaged)?;
        if !staged.passed {
            return Err(StoreError::NotHealthChecked {
                version: staged.version,
            });
        }
        let v = match self.staged_bundle(now) {
            Err(StoreError::Bundle(e)) => {
                self.discard(&std::format!("no longer verifies: {e}"))?;
                return Err(StoreError::Bundle(e));
            }
            other => other?.1,
        };
        let floors = self.floors.after(&v);
        let generation = self.max_generation + 1;
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
        // cleanup follow from the generation file.
        let _ = write_sealed(&self.storage, FLOOR_FILE, &self.floor_record());
        let _ = remove_durably(&self.storage, STAGED_FILE);
        if let Ok(names) = self.storage.list() {
            for n in names.iter().filter_map(|n| parse_gen_file(n)) {
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

    /// Drops the staged bundle and records why, so the same bundle is refused if offered
    /// again instead of being retried in a loop.
    ///
    /// # Errors
    ///
    /// [`StoreError::NothingStaged`], [`StoreError::Io`].
    pub fn discard(&mut self, reason: &str) -> Result<(), StoreError> {
        let rec = self.staged.as_ref().ok_or(StoreError::NothingStaged)?;
        let mut entries = self.discarded.clone();
        entries.retain(|e| e.payload_sha256 != rec.payload_sha256);
        entries.push(DiscardedEntry {
            payload_sha256: rec.payload_sha256.clone(),
            version: rec.version,
            reason: reason.to_owned(),
        });
        let excess = entries.len().saturating_sub(MAX_DISCARDED);
        entries.drain(..excess);
        // Record first: a crash before the staged file goes leaves it to be dropped on open.
        write_sealed(
            &self.storage,
            DISCARDED_FILE,
            &DiscardedRecord {
                format: FORMAT,
                entries: entries.clone(),
            },
        )?;
        self.discarded = entries;
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
