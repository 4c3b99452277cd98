//! The device's root status for the fleet, as a named Device Shadow (`iot-roots`): what
//! operators query with Fleet Indexing (docs/aws-iot-jobs.md has the queries).
//!
//! Sans-IO like the rest of `jobs`: [`shadow_update`] builds the publish, the application
//! sends it (on start, after each job, and when [`DeadlineWatch`] says a deadline crossed a
//! threshold).

use alloc::string::String;
use alloc::vec::Vec;

use rustls_pki_types::UnixTime;
use serde_json::{json, Value};

use super::Publish;
use crate::store::{Storage, TrustStore};

/// The named shadow's name.
pub const SHADOW_NAME: &str = "iot-roots";

/// AWS IoT's limit for a shadow's state document: 8 KB. A report of the largest store the
/// limits allow (16 roots, 8 signer keys) stays under it.
pub const MAX_SHADOW_STATE_BYTES: usize = 8 * 1024;

/// Days before the earliest deadline at which the status is published again, whatever else
/// happened: a fleet's dashboard moves as the deadline comes closer.
pub const DEADLINE_THRESHOLDS_DAYS: [i64; 8] = [365, 180, 90, 30, 14, 7, 1, 0];

/// `$aws/things/<thing>/shadow/name/iot-roots/update` with the store's status at `now` as
/// the shadow's `reported` state.
///
/// Fields (all top-level in `state.reported`, so Fleet Indexing can query each):
/// `schema` (1), `source`, `generation`, `version`, `floor_version`,
/// `earliest_deadline` (root, sha256, kind, what, at), `earliest_deadline_epoch` (seconds, for
/// range queries), `days_to_earliest_deadline`, `roots` (name, sha256, not_after, days_left),
/// `root_sha256s` (for "which devices still trust this root"), `signer_key_ids`,
/// `signer_threshold`, `signer_groups`, `clock_behind_floor`, `stale_bundle`, `staged_version`,
/// `reported_at`.
pub fn shadow_update<S: Storage>(thing: &str, store: &TrustStore<S>, now: UnixTime) -> Publish {
    let status = store.status(now);
    let floors = store.floors();
    let (source, generation) = match status.source {
        crate::store::ActiveSource::Bundle { generation } => ("bundle", Some(generation)),
        crate::store::ActiveSource::PreviousGeneration { generation } => {
            ("previous-generation", Some(generation))
        }
        _ => ("compiled-in", None),
    };
    let roots: Vec<Value> = status
        .roots
        .iter()
        .map(|r| {
            json!({ "name": r.name, "sha256": r.sha256, "not_after": r.not_after,
                    "days_left": r.days_left })
        })
        .collect();
    let root_sha256s: Vec<&String> = status.roots.iter().map(|r| &r.sha256).collect();
    let key_ids: Vec<String> = floors.signers.keys().map(|k| k.key_id()).collect();
    let groups: Vec<Value> = floors
        .signers
        .groups()
        .iter()
        .map(|g| {
            json!({ "algorithm": g.algorithm().as_str(), "threshold": g.threshold(),
                    "key_ids": g.keys().iter().map(|k| k.key_id()).collect::<Vec<_>>() })
        })
        .collect();
    let reported = json!({
        "schema": 1,
        "source": source,
        "generation": generation,
        "version": status.version,
        "floor_version": status.floor_version,
        "earliest_deadline": status.earliest_deadline,
        "earliest_deadline_epoch": status.earliest_deadline.as_ref().map(|d| d.at.as_secs()),
        "days_to_earliest_deadline": status.days_to_earliest_deadline,
        "roots": roots,
        "root_sha256s": root_sha256s,
        "signer_key_ids": key_ids,
        // The v1 field, for a single Ed25519 group; `signer_groups` says it for every set.
        "signer_threshold": floors.signers.v1_group().map(|g| g.threshold()),
        "signer_groups": groups,
        "clock_behind_floor": status.clock_behind_floor,
        "stale_bundle": status.stale_bundle,
        "staged_version": status.staged.as_ref().map(|s| s.version),
        "reported_at": crate::timefmt::format_rfc3339(now),
    });
    Publish {
        topic: alloc::format!("$aws/things/{thing}/shadow/name/{SHADOW_NAME}/update"),
        payload: serde_json::to_vec(&json!({ "state": { "reported": reported } }))
            .unwrap_or_default(),
    }
}

/// Says when the earliest deadline crossed one of [`DEADLINE_THRESHOLDS_DAYS`] since the last
/// report (and on the first call), so the agent republishes its shadow then.
#[derive(Clone, Debug, Default)]
pub struct DeadlineWatch {
    last: Option<usize>,
}

impl DeadlineWatch {
    /// A watch that reports on its first call.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether to publish for `days_to_earliest_deadline` (from `store::Status`).
    pub fn crossed(&mut self, days_to_earliest_deadline: Option<i64>) -> bool {
        let bucket = days_to_earliest_deadline.map_or(0, |d| {
            DEADLINE_THRESHOLDS_DAYS.iter().filter(|&&t| d <= t).count()
        });
        let changed = self.last != Some(bucket);
        self.last = Some(bucket);
        changed
    }
}
