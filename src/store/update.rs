//! Updating a store: stage → health check → commit, discard and clear. Each mutation takes
//! the SNAPSHOT lock, writes sealed files atomically, and leaves the old or the new state.

use std::borrow::ToOwned;
use std::collections::BTreeMap;
use std::string::ToString;
use std::vec::Vec;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use rustls_pki_types::UnixTime;

use super::*;

impl<S: Storage> TrustStore<S> {
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
                part: crate::bundle::error::Part::StagedRecord,
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
            threshold: None,
            keys: None,
            groups: None,
        }
        .with_signers(&self.floors.signers)
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

    pub(super) fn discard_staged(
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
}
