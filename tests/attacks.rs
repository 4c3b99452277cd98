//! The attack catalogue, in the style of tuf-conformance: every folder in
//! tests/attacks/cases/ is one attack, with the device state before, the bundle offered and
//! the expected outcome (case.json, bundle.json). Read and extend it without touching code.
#![cfg(all(
    feature = "signing",
    feature = "amazon-root-ca-1",
    feature = "amazon-root-ca-2",
    feature = "amazon-root-ca-3"
))]

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use aws_iot_roots::bundle::{verify, Policy, SignerSet, TrustState, Verdict};
use rustls_pki_types::UnixTime;
use serde_json::Value;

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/attacks/cases")
}

fn time(v: &Value) -> UnixTime {
    let t = time::OffsetDateTime::parse(
        v.as_str().expect("time"),
        &time::format_description::well_known::Rfc3339,
    )
    .expect("RFC 3339");
    UnixTime::since_unix_epoch(Duration::from_secs(t.unix_timestamp() as u64))
}

fn state(v: &Value) -> TrustState {
    // The signer-set file's forms: v1's threshold and keys, or groups.
    let signers =
        SignerSet::from_json(&serde_json::to_vec(&v["signers"]).expect("json")).expect("set");
    let payload_sha256 = v["payload_sha256"]
        .as_str()
        .map(|h| <[u8; 32]>::try_from(common::unhex(h)).expect("32-byte hash"));
    let mut st = TrustState::initial(v["fleet"].as_str().expect("fleet"), signers);
    st.version = v["version"].as_u64().expect("version");
    st.time_floor = time(&v["time_floor"]);
    st.payload_sha256 = payload_sha256;
    st
}

/// Runs one case; `Err` says how the outcome differed from the expectation.
fn run(dir: &Path) -> Result<(), String> {
    let case: Value =
        serde_json::from_slice(&std::fs::read(dir.join("case.json")).map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
    let bundle = std::fs::read(dir.join("bundle.json")).map_err(|e| e.to_string())?;
    let result = verify(
        &bundle,
        &state(&case["state"]),
        time(&case["clock"]),
        &Policy::default(),
    );
    let expect = &case["expect"];
    match (expect["outcome"].as_str(), &result) {
        (Some("accepted"), Ok(Verdict::Apply(v))) => match expect["clock_behind_floor"].as_bool() {
            Some(flag) if flag != v.clock_behind_floor() => {
                Err(format!("clock_behind_floor {} ", v.clock_behind_floor()))
            }
            _ => Ok(()),
        },
        (Some("already_active"), Ok(Verdict::AlreadyActive { .. })) => Ok(()),
        (Some("refused"), Err(e)) => {
            let rule = e.rule().as_str();
            let want_rule = expect["rule"].as_str().unwrap_or_default();
            let want_text = expect["error_contains"].as_str().unwrap_or_default();
            if rule != want_rule {
                Err(format!("refused by rule {rule}, expected {want_rule}: {e}"))
            } else if !e.to_string().contains(want_text) {
                Err(format!("error {:?} lacks {want_text:?}", e.to_string()))
            } else {
                Ok(())
            }
        }
        (want, got) => Err(format!("expected {want:?}, got {got:?}")),
    }
}

#[test]
fn every_case_in_the_catalogue_has_its_expected_outcome() {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(cases_dir())
        .expect("cases")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    let failures: Vec<String> = dirs
        .iter()
        .filter_map(|d| {
            run(d).err().map(|e| {
                format!(
                    "{}: {e}",
                    d.file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default()
                )
            })
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        dirs.len(),
        failures.join("\n")
    );
    assert!(dirs.len() >= 52, "only {} cases", dirs.len());
}

/// The attacks the threat model names must stay in the catalogue.
#[test]
fn the_catalogue_covers_the_required_attacks() {
    let required = [
        "rollback",
        "replay-across-fleets",
        "expired",
        "future-dated",
        "duplicate-signatures",
        "one-key-two-key-ids",
        "rotated-out-keys",
        "fast-forward-below-threshold",
        "fast-forward-last-version",
        "oversized-bundle",
        "oversized-payload",
        "malformed-base64",
        "malformed-json",
        "trailing-data",
        "wrong-payload-type",
        "weak-key",
        "non-ca-root",
        "unlisted-certificate",
        "missing-certificate",
        "swapped-certificate-same-subject",
        "empty-root-set",
        "duplicate-root-spki",
        "clock-stepped-back",
        "clock-stepped-back-expired",
        // Issue 14: format v2, hybrid signer sets.
        "hybrid-valid",
        "hybrid-one-group-short",
        "hybrid-key-swapped",
        "hybrid-algorithm-label-changed",
        "hybrid-ml-dsa-signature-in-ed25519-slot",
        "hybrid-downgrade-ed25519-signed",
        "hybrid-downgrade-v1-bundle",
        "hybrid-one-secret-in-two-groups",
        "hybrid-migration-from-v1",
        "hybrid-migration-missing-new-group",
        "hybrid-extra-key-carried",
        "hybrid-signature-under-another-keyid",
        "v1-schema-under-v2-type",
        // Issue 11.
        "torsioned-twin-key",
        "duplicate-signer-key",
        "array-bundle",
        "array-envelope",
        "array-signature",
        "array-payload",
        "array-root-entry",
        "array-signers",
        "null-keyid",
        "null-root-name",
        "same-key-compressed-point",
        "rsa-parameters-absent",
        "root-valid-at-its-not-after-second",
        "root-expired-one-second-after-not-after",
    ];
    let missing: Vec<&str> = required
        .iter()
        .copied()
        .filter(|n| !cases_dir().join(n).join("case.json").exists())
        .collect();
    assert!(missing.is_empty(), "missing cases: {missing:?}");
}

/// The committed catalogue is exactly what the generator produces from the committed keys
/// (cases added by hand are not affected).
#[test]
fn the_generated_cases_are_reproducible() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let cases = common::attack_gen::cases(
        common::attack_gen::load_keys(&root.join("tests/attacks/keys")),
        common::attack_gen::load_ml_keys(&root.join("tests/attacks/keys")),
        &root.join("tests/data"),
    );
    let tmp = tempfile::tempdir().expect("tmp");
    common::attack_gen::write(&cases, tmp.path());
    for c in &cases {
        for f in ["case.json", "bundle.json"] {
            let fresh = std::fs::read(tmp.path().join(c.name).join(f)).expect("fresh");
            let committed = std::fs::read(cases_dir().join(c.name).join(f)).unwrap_or_else(|_| {
                panic!(
                    "{}/{f} not committed: run the make_attack_cases example",
                    c.name
                )
            });
            assert!(
                fresh == committed,
                "{}/{f} differs from the generator: run the make_attack_cases example",
                c.name
            );
        }
    }
}

#[test]
fn a_case_with_the_wrong_expectation_fails() {
    // The runner itself: a copy of a refused case, expected to be accepted, must fail.
    let tmp = tempfile::tempdir().expect("tmp");
    let src = cases_dir().join("rollback");
    std::fs::copy(src.join("bundle.json"), tmp.path().join("bundle.json")).expect("copy");
    let mut case: Value =
        serde_json::from_slice(&std::fs::read(src.join("case.json")).expect("read")).expect("json");
    case["expect"] = serde_json::json!({ "outcome": "accepted" });
    std::fs::write(
        tmp.path().join("case.json"),
        serde_json::to_vec(&case).expect("json"),
    )
    .expect("write");
    let err = run(tmp.path()).expect_err("a refused bundle expected to be accepted");
    assert!(
        err.starts_with("expected Some(\"accepted\"), got Err(Rollback"),
        "{err}"
    );
    case["expect"] =
        serde_json::json!({ "outcome": "refused", "rule": "fleet", "error_contains": "rollback" });
    std::fs::write(
        tmp.path().join("case.json"),
        serde_json::to_vec(&case).expect("json"),
    )
    .expect("write");
    assert!(run(tmp.path())
        .expect_err("wrong rule")
        .contains("expected fleet"));
}
