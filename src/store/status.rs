//! The store's status: what an agent sends its fleet backend (serializable). The reporting
//! layer only: it reads the store and computes nothing the verifier does not already know.

use std::borrow::ToOwned;
use std::string::{String, ToString};
use std::vec::Vec;

use rustls_pki_types::UnixTime;
use serde::Serialize;

use super::open::parse_hex32;
use super::{at, Access, ActiveSource, DiscardCause, DiscardedEntry, Storage, TrustStore};
use crate::hex::hex;
use crate::timefmt::format_rfc3339;

impl<S: Storage> TrustStore<S> {
    /// The store's status at `now`, for the fleet backend (serializable).
    pub fn status(&self, now: UnixTime) -> Status {
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
                        &r.spki_sha256(),
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
            .map(|r| crate::Deadline::of(r.name.clone(), r.sha256_bytes, at(r.not_after_secs)))
            .min_by_key(|d| (d.at, d.sha256));
        let days_to_earliest_deadline = earliest_deadline.as_ref().map(|d| d.days_left(now));
        let bundle = self.active.as_ref().map(|c| &c.bundle);
        Status {
            source: self.source,
            version: bundle.map(|b| b.payload().version),
            floor_version: self.floors.version,
            roots,
            earliest_deadline,
            days_to_earliest_deadline,
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
    pub earliest_deadline: Option<crate::Deadline<String>>,
    /// Whole days from the status's `now` to `earliest_deadline` (negative once past).
    pub days_to_earliest_deadline: Option<i64>,
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
    pub notes: Vec<super::Note>,
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
    #[serde(skip)]
    sha256_bytes: [u8; 32],
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
        let days = |t: UnixTime| crate::roots::days_until(now, t);
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
            }),
            not_after_secs: not_after.as_secs(),
            sha256_bytes: *sha256,
        }
    }
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
