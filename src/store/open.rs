//! Opening a store: recovery. Debris and hostile entries go, every committed generation is
//! re-verified, the floors are the highest of every source, and a staged record is reconciled
//! with what is committed.

use std::string::{String, ToString};
use std::vec::Vec;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use rustls_pki_types::UnixTime;

use super::*;
use crate::bundle::verify::verify_committed;

impl<S: Storage> TrustStore<S> {
    pub(super) fn load(&mut self) -> Result<(), StoreError> {
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
                self.notes.push(Note::new(
                    &e.name,
                    NoteKind::NotARegularFile,
                    if can_write {
                        "not a regular file; removed"
                    } else {
                        "not a regular file; ignored"
                    },
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
                Err(note) => self.notes.push(note),
            }
        }
        self.max_generation = valid.first().map_or(0, |(c, _)| c.generation);

        // 3. Floors: the highest of every source, so one lost or corrupt file cannot lower them.
        match read_sealed::<FloorRecord>(&self.storage, FLOOR_FILE) {
            Ok(Some(rec)) if rec.fleet != self.config.fleet => {
                self.notes.push(Note::new(
                    FLOOR_FILE,
                    NoteKind::OtherFleet,
                    std::format!(
                        "for fleet {:?}, not {:?}; ignored",
                        rec.fleet,
                        self.config.fleet
                    ),
                ));
            }
            Ok(Some(rec)) => match rec.signers(self.config.policy.limits.max_signer_keys) {
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
                Err(e) => self
                    .notes
                    .push(Note::new(FLOOR_FILE, NoteKind::Corrupt, e.to_string())),
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
            self.notes.push(Note::new(
                STAGED_FILE,
                NoteKind::StagedCleared,
                std::format!("{why}; cleared"),
            ));
            self.drop_staged_file();
            return Ok(());
        }
        if let Some(d) = self
            .discarded
            .iter()
            .find(|d| d.payload_sha256 == rec.payload_sha256)
        {
            self.notes.push(Note::new(
                STAGED_FILE,
                NoteKind::StagedDiscarded,
                std::format!("version {} was discarded ({})", d.version, d.reason),
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

    pub(super) fn drop_staged_file(&self) {
        if self.access == Access::ReadWrite {
            let _ = remove_durably(&self.storage, STAGED_FILE);
        }
    }

    pub(super) fn load_generation(
        storage: &S,
        config: &StoreConfig,
        n: u64,
    ) -> Result<(Committed, u64), Note> {
        let file = gen_file(n);
        let corrupt = |detail: String| Note::new(&file, NoteKind::Corrupt, detail);
        let rec: GenerationRecord =
            read_sealed(storage, &file)?.ok_or_else(|| corrupt("missing".into()))?;
        if rec.format != FORMAT || rec.generation != n {
            return Err(corrupt(
                "record does not match its file name or format".into(),
            ));
        }
        let bytes = B64
            .decode(&rec.bundle)
            .map_err(|e| corrupt(e.to_string()))?;
        let bundle = verify_committed(
            &bytes,
            &config.fleet,
            at(rec.accepted_at),
            &config.policy.limits,
        )
        .map_err(|e| {
            Note::new(
                &file,
                NoteKind::FailedReverification,
                std::format!("re-verification failed: {e}"),
            )
        })?;
        Ok((
            Committed {
                generation: n,
                bundle,
            },
            rec.time_floor,
        ))
    }
}

pub(super) fn parse_hex32(text: &str) -> Option<[u8; 32]> {
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
pub(super) fn raise(
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
