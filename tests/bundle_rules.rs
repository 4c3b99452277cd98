//! One named test per verification rule of `bundle::verify`, each failing if its rule is
//! removed, plus regression tests named after the advisories in shared/NOTES.md §4.
#![cfg(all(
    feature = "signing",
    feature = "amazon-root-ca-1",
    feature = "amazon-root-ca-3"
))]

mod common;

use aws_iot_roots::bundle::{
    verify, Algorithm, BundleBuilder, BundleError, KeyError, Limit, Limits, Policy, PublicKey,
    Rule, SignerRole, SignerSet, TrustState, Verdict, KMS_RAW_MESSAGE_LIMIT, MAX_BUNDLE_BYTES,
    MAX_PAYLOAD_BYTES, PAYLOAD_TYPE,
};
use common::bundles::*;
use serde_json::json;

/// Amazon Root CA 1 cross-signed by Starfield Services G2: same subject and key, other hash.
fn cross_signed_ca1() -> rustls_pki_types::CertificateDer<'static> {
    common::load_pem(&common::data(
        "aws-chains/crosssign/Amazon_Root_CA_1__by__SFS_G2.pem",
    ))
    .remove(0)
}

/// The opaque refusal for too few distinct signing keys of a signer set.
fn below_threshold(role: SignerRole, required: u32) -> BundleError {
    BundleError::SignatureThreshold {
        role,
        algorithm: Algorithm::Ed25519,
        required,
    }
}

/// A valid 2-of-3 bundle at version 2 over CA 1 and CA 3, and a state at version 1.
fn baseline() -> (Keys, TrustState, serde_json::Value) {
    let k = Keys::new(3);
    let set = k.set(2);
    let p = payload(2, &amazon_roots(), &set);
    (k, state(set, 1), p)
}

#[test]
fn valid_bundle_is_accepted() {
    let (k, st, p) = baseline();
    let v = apply(
        &file(&p, &[by(&k.keys[0]), by(&k.keys[1])], &amazon_roots()),
        &st,
    )
    .expect("valid");
    assert_eq!(v.payload().version, 2);
    assert_eq!(v.roots().len(), 2);
    assert!(!v.clock_behind_floor());
}

// 1. Sizes, before decoding.

#[test]
fn oversized_file_is_refused_before_it_is_parsed() {
    let (_, st, _) = baseline();
    let junk = vec![b'{'; MAX_BUNDLE_BYTES + 1];
    assert_eq!(
        refused(&junk, &st),
        BundleError::TooLarge {
            limit: Limit::BundleBytes,
            max: MAX_BUNDLE_BYTES,
            actual: MAX_BUNDLE_BYTES + 1
        }
    );
}

#[test]
fn oversized_payload_is_refused_before_it_is_decoded() {
    let (k, st, _) = baseline();
    let big = vec![b' '; MAX_PAYLOAD_BYTES + 3];
    let err = refused(
        &file_with(PAYLOAD_TYPE, &big, &[by(&k.keys[0])], &amazon_roots()),
        &st,
    );
    assert!(
        matches!(
            err,
            BundleError::TooLarge {
                limit: Limit::PayloadBytes,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn too_many_signatures_are_refused() {
    let (k, st, p) = baseline();
    let sigs: Vec<_> = (0..17).map(|i| by(&k.keys[i % 3])).collect();
    let err = refused(&file(&p, &sigs, &amazon_roots()), &st);
    assert_eq!(
        err,
        BundleError::TooLarge {
            limit: Limit::Signatures,
            max: 16,
            actual: 17
        }
    );
}

#[test]
fn too_many_certificates_are_refused() {
    let (k, st, p) = baseline();
    let certs: Vec<Vec<u8>> = (0..17).map(|_| root_der("Amazon Root CA 3")).collect();
    let err = refused(&file(&p, &[by(&k.keys[0]), by(&k.keys[1])], &certs), &st);
    assert_eq!(
        err,
        BundleError::TooLarge {
            limit: Limit::Roots,
            max: 16,
            actual: 17
        }
    );
}

#[test]
fn oversized_certificate_is_refused() {
    let (k, st, p) = baseline();
    let err = refused(
        &file(&p, &[by(&k.keys[0]), by(&k.keys[1])], &[vec![0x30; 9000]]),
        &st,
    );
    assert!(
        matches!(
            err,
            BundleError::TooLarge {
                limit: Limit::CertificateBytes,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn too_many_listed_roots_are_refused() {
    let (k, st, mut p) = baseline();
    p["roots"] = json!((0..17)
        .map(|i| json!({"sha256": format!("{i:064x}")}))
        .collect::<Vec<_>>());
    let err = refused(
        &file(&p, &[by(&k.keys[0]), by(&k.keys[1])], &amazon_roots()),
        &st,
    );
    assert_eq!(
        err,
        BundleError::TooLarge {
            limit: Limit::Roots,
            max: 16,
            actual: 17
        }
    );
}

// 2. payloadType.

#[test]
fn wrong_payload_type_is_refused_even_when_signed() {
    let (k, st, p) = baseline();
    let body = serde_json::to_vec(&p).expect("json");
    let other = "application/vnd.aws-iot-roots.bundle.v3+json";
    let err = refused(
        &file_with(
            other,
            &body,
            &[by(&k.keys[0]), by(&k.keys[1])],
            &amazon_roots(),
        ),
        &st,
    );
    assert_eq!(
        err,
        BundleError::PayloadType {
            found: other.into()
        }
    );
}

// 3. Signatures.

#[test]
fn fewer_signatures_than_the_threshold_are_refused() {
    let (k, st, p) = baseline();
    let err = refused(&file(&p, &[by(&k.keys[0])], &amazon_roots()), &st);
    assert_eq!(err, below_threshold(SignerRole::Current, 2));
}

/// CVE-2020-15093 (tough): one key's signature repeated met the threshold.
#[test]
fn cve_2020_15093_duplicate_signatures_by_one_key_count_once() {
    let (k, st, p) = baseline();
    let err = refused(
        &file(
            &p,
            &[by(&k.keys[0]), by(&k.keys[0]), by(&k.keys[0])],
            &amazon_roots(),
        ),
        &st,
    );
    assert_eq!(err, below_threshold(SignerRole::Current, 2));
}

/// GHSA-8m7c-8m39-rv4x (tough, 2026): one key under two key ids met a threshold.
#[test]
fn ghsa_8m7c_one_key_under_two_key_ids_counts_once() {
    let (k, st, p) = baseline();
    let other_id = k.keys[1].public_key().key_id();
    let sigs = [
        by(&k.keys[0]),
        Sig {
            key: &k.keys[0],
            keyid: Some(other_id),
        },
    ];
    let err = refused(&file(&p, &sigs, &amazon_roots()), &st);
    assert_eq!(err, below_threshold(SignerRole::Current, 2));
}

/// A set listing one key twice is refused when loaded, in code and in a payload: no
/// implementation can then count it twice (the class of CVE-2020-15093).
#[test]
fn a_key_listed_twice_in_a_signer_set_is_refused() {
    let k = Keys::new(2);
    let a = k.keys[0].public_key();
    assert_eq!(
        SignerSet::new(vec![a.clone(), k.keys[1].public_key(), a], 2),
        Err(KeyError::DuplicateKey { index: 2, first: 0 })
    );
    let (kk, st, mut p) = baseline();
    let first = p["signers"]["keys"][0].clone();
    p["signers"]["keys"]
        .as_array_mut()
        .expect("keys")
        .push(first);
    let err = refused(
        &file(&p, &[by(&kk.keys[0]), by(&kk.keys[1])], &amazon_roots()),
        &st,
    );
    assert_eq!(
        err,
        BundleError::SignerSet(KeyError::DuplicateKey { index: 3, first: 0 })
    );
    assert_eq!(err.rule(), Rule::Payload);
}

#[test]
fn keyid_is_only_a_hint() {
    let (k, st, p) = baseline();
    let sigs = [
        Sig {
            key: &k.keys[0],
            keyid: Some("not-a-key-id".into()),
        },
        Sig {
            key: &k.keys[1],
            keyid: Some(String::new()),
        },
    ];
    apply(&file(&p, &sigs, &amazon_roots()), &st).expect("keyid must not matter");
}

#[test]
fn signature_from_an_unknown_key_is_ignored_not_fatal() {
    let (k, st, p) = baseline();
    let stranger = Keys::new(1);
    let sigs = [by(&stranger.keys[0]), by(&k.keys[0]), by(&k.keys[2])];
    apply(&file(&p, &sigs, &amazon_roots()), &st).expect("unknown key ignored");
    let err = refused(
        &file(
            &p,
            &[by(&stranger.keys[0]), by(&k.keys[0])],
            &amazon_roots(),
        ),
        &st,
    );
    assert_eq!(err, below_threshold(SignerRole::Current, 2));
}

#[test]
fn signature_over_other_bytes_does_not_count() {
    let (k, st, p) = baseline();
    let mut bytes = file(&p, &[by(&k.keys[0]), by(&k.keys[1])], &amazon_roots());
    // Re-sign key 1 over a different payload and splice its signature in.
    let mut other = p.clone();
    other["version"] = json!(3);
    let forged = file(&other, &[by(&k.keys[1])], &amazon_roots());
    let forged: serde_json::Value = serde_json::from_slice(&forged).expect("json");
    let mut v: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
    v["envelope"]["signatures"][1] = forged["envelope"]["signatures"][0].clone();
    bytes = serde_json::to_vec(&v).expect("json");
    let err = refused(&bytes, &st);
    assert_eq!(err, below_threshold(SignerRole::Current, 2));
}

#[test]
fn signatures_are_checked_before_the_payload_is_parsed() {
    let (k, st, _) = baseline();
    // Unsigned garbage must be refused for its signatures, not parsed.
    let err = refused(
        &file_with(
            PAYLOAD_TYPE,
            b"{not json",
            &[by(&Keys::new(1).keys[0])],
            &[],
        ),
        &st,
    );
    assert_eq!(err, below_threshold(SignerRole::Current, 2));
    // Signed garbage gets as far as the parser.
    let err = refused(
        &file_with(
            PAYLOAD_TYPE,
            b"{not json",
            &[by(&k.keys[0]), by(&k.keys[1])],
            &[],
        ),
        &st,
    );
    assert!(
        matches!(err, BundleError::Malformed { ref part, .. } if *part == aws_iot_roots::bundle::Part::Payload),
        "{err:?}"
    );
}

// 4. Payload parsing.

#[test]
fn unknown_field_in_payload_is_refused() {
    let (k, st, mut p) = baseline();
    p["note"] = json!("hello");
    let err = refused(
        &file(&p, &[by(&k.keys[0]), by(&k.keys[1])], &amazon_roots()),
        &st,
    );
    assert!(
        matches!(&err, BundleError::Malformed { detail, .. } if detail.contains("unknown field")),
        "{err:?}"
    );
}

#[test]
fn duplicate_key_in_payload_is_refused() {
    let (k, st, p) = baseline();
    let text = serde_json::to_string(&p).expect("json");
    // {"expires_at":…,"fleet":"acme-prod",…} → a second "fleet" member.
    let dup = text.replacen(
        "\"fleet\":\"acme-prod\"",
        "\"fleet\":\"acme-prod\",\"fleet\":\"acme-prod\"",
        1,
    );
    assert_ne!(dup, text);
    let err = refused(
        &file_with(
            PAYLOAD_TYPE,
            dup.as_bytes(),
            &[by(&k.keys[0]), by(&k.keys[1])],
            &amazon_roots(),
        ),
        &st,
    );
    assert!(
        matches!(&err, BundleError::Malformed { detail, .. } if detail.contains("duplicate field")),
        "{err:?}"
    );
}

#[test]
fn unsupported_schema_is_refused() {
    let (k, st, mut p) = baseline();
    p["schema"] = json!(2);
    let err = refused(
        &file(&p, &[by(&k.keys[0]), by(&k.keys[1])], &amazon_roots()),
        &st,
    );
    assert_eq!(err, BundleError::UnsupportedSchema { found: 2 });
}

#[test]
fn trailing_data_and_bad_base64_are_refused() {
    let (k, st, p) = baseline();
    let mut bytes = file(&p, &[by(&k.keys[0]), by(&k.keys[1])], &amazon_roots());
    bytes.extend_from_slice(b"{}");
    assert!(matches!(
        refused(&bytes, &st),
        BundleError::Malformed { .. }
    ));
    let good = file(&p, &[by(&k.keys[0]), by(&k.keys[1])], &amazon_roots());
    let mut v: serde_json::Value = serde_json::from_slice(&good).expect("json");
    v["envelope"]["payload"] = json!("!!!not base64!!!");
    assert!(matches!(
        refused(&serde_json::to_vec(&v).expect("json"), &st),
        BundleError::Malformed { .. }
    ));
}

#[test]
fn bad_fleet_id_and_timestamps_are_refused() {
    let (k, st, p) = baseline();
    let sign = |p: &serde_json::Value| file(p, &[by(&k.keys[0]), by(&k.keys[1])], &amazon_roots());
    let mut q = p.clone();
    q["issued_at"] = json!("2027-01-01T00:00:00+00:00");
    assert!(
        matches!(refused(&sign(&q), &st), BundleError::Malformed { ref part, .. } if *part == aws_iot_roots::bundle::Part::IssuedAt)
    );
    let mut q = p.clone();
    q["expires_at"] = json!("2026-12-31T00:00:00Z");
    assert!(matches!(
        refused(&sign(&q), &st),
        BundleError::EmptyValidity { .. }
    ));
}

// 5. Fleet.

#[test]
fn bundle_for_another_fleet_is_refused() {
    let (k, st, mut p) = baseline();
    p["fleet"] = json!("acme-staging");
    let err = refused(
        &file(&p, &[by(&k.keys[0]), by(&k.keys[1])], &amazon_roots()),
        &st,
    );
    assert_eq!(
        err,
        BundleError::WrongFleet {
            expected: FLEET.into(),
            found: "acme-staging".into()
        }
    );
}

// 6. Versions.

/// CVE-2025-2885 class (tough accepted versions it should not): a lower version is refused,
/// with both numbers in the error.
#[test]
fn cve_2025_2885_rollback_is_refused() {
    let (k, _, p0) = baseline();
    let mut p = p0.clone();
    p["version"] = json!(5);
    let st = state(k.set(2), 7);
    let err = refused(
        &file(&p, &[by(&k.keys[0]), by(&k.keys[1])], &amazon_roots()),
        &st,
    );
    assert_eq!(
        err,
        BundleError::Rollback {
            offered: 5,
            current: 7
        }
    );
    assert_eq!(err.to_string(), "rollback: offered 5, current 7");
}

#[test]
fn equal_version_with_identical_payload_is_a_no_op() {
    let (k, st, p) = baseline();
    let bytes = file(&p, &[by(&k.keys[0]), by(&k.keys[1])], &amazon_roots());
    let v = apply(&bytes, &st).expect("first time");
    let after = st.after(&v);
    assert_eq!(
        verify(&bytes, &after, at(CLOCK), &policy()),
        Ok(Verdict::AlreadyActive { version: 2 })
    );
}

#[test]
fn equal_version_with_a_different_payload_is_refused() {
    let (k, st, p) = baseline();
    let v = apply(
        &file(&p, &[by(&k.keys[0]), by(&k.keys[1])], &amazon_roots()),
        &st,
    )
    .expect("first");
    let mut q = p.clone();
    q["roots"] = json!([{"sha256": sha(&root_der("Amazon Root CA 3"))}]);
    let err = refused(
        &file(
            &q,
            &[by(&k.keys[0]), by(&k.keys[1])],
            &[root_der("Amazon Root CA 3")],
        ),
        &st.after(&v),
    );
    assert_eq!(err, BundleError::VersionConflict { version: 2 });
}

// 7. Signer rotation.

#[test]
fn rotation_needs_a_threshold_of_the_old_and_of_the_new_keys() {
    let (old, st, _) = baseline();
    let new = Keys::new(2);
    let p = payload(2, &amazon_roots(), &new.set(2));
    let only_old = file(&p, &[by(&old.keys[0]), by(&old.keys[1])], &amazon_roots());
    assert_eq!(refused(&only_old, &st), below_threshold(SignerRole::New, 2));
    let only_new = file(&p, &[by(&new.keys[0]), by(&new.keys[1])], &amazon_roots());
    assert_eq!(
        refused(&only_new, &st),
        below_threshold(SignerRole::Current, 2)
    );
    let one_new = file(
        &p,
        &[by(&old.keys[0]), by(&old.keys[1]), by(&new.keys[0])],
        &amazon_roots(),
    );
    assert_eq!(refused(&one_new, &st), below_threshold(SignerRole::New, 2));
    let both = file(
        &p,
        &[
            by(&old.keys[0]),
            by(&old.keys[1]),
            by(&new.keys[0]),
            by(&new.keys[1]),
        ],
        &amazon_roots(),
    );
    apply(&both, &st).expect("both thresholds met");
}

/// tough shipped without persisting rotated roots, so rotated-out keys could still sign.
#[test]
fn rotated_out_keys_cannot_sign_the_next_bundle() {
    let (old, st, _) = baseline();
    let new = Keys::new(2);
    let p = payload(2, &amazon_roots(), &new.set(2));
    let rotation = file(
        &p,
        &[
            by(&old.keys[0]),
            by(&old.keys[1]),
            by(&new.keys[0]),
            by(&new.keys[1]),
        ],
        &amazon_roots(),
    );
    let rotated = st.after(&apply(&rotation, &st).expect("rotation"));
    let mut p3 = payload(3, &amazon_roots(), &old.set(2));
    p3["issued_at"] = json!("2027-01-01T12:00:00Z");
    let forged = file(
        &p3,
        &[by(&old.keys[0]), by(&old.keys[1]), by(&old.keys[2])],
        &amazon_roots(),
    );
    assert_eq!(
        refused(&forged, &rotated),
        below_threshold(SignerRole::Current, 2)
    );
}

#[test]
fn reordered_keys_are_not_a_rotation() {
    let (k, st, _) = baseline();
    let pk = k.public();
    let same = SignerSet::new(vec![pk[2].clone(), pk[1].clone(), pk[0].clone()], 2).expect("set");
    let p = payload(2, &amazon_roots(), &same);
    apply(
        &file(&p, &[by(&k.keys[0]), by(&k.keys[1])], &amazon_roots()),
        &st,
    )
    .expect("same set");
}

// 8. Time.

#[test]
fn expired_bundle_is_refused() {
    let (k, st, p) = baseline();
    let bytes = file(&p, &[by(&k.keys[0]), by(&k.keys[1])], &amazon_roots());
    let err = verify(&bytes, &st, at(EXPIRES), &policy()).expect_err("expired");
    assert_eq!(
        err,
        BundleError::Expired {
            expires_at: at(EXPIRES),
            trusted_time: at(EXPIRES)
        }
    );
}

#[test]
fn bundle_issued_beyond_the_clock_tolerance_is_refused() {
    let (k, st, p) = baseline();
    let bytes = file(&p, &[by(&k.keys[0]), by(&k.keys[1])], &amazon_roots());
    // Issued 2027-01-01T00:00:00Z; an hour of tolerance.
    verify(&bytes, &st, at(ISSUED - 3600), &policy()).expect("within tolerance");
    let err = verify(&bytes, &st, at(ISSUED - 3601), &policy()).expect_err("too early");
    assert_eq!(
        err,
        BundleError::IssuedInFuture {
            issued_at: at(ISSUED),
            trusted_time: at(ISSUED - 3601)
        }
    );
}

#[test]
fn clock_behind_the_floor_is_reported_not_fatal() {
    let (k, _, p) = baseline();
    let mut st = state(k.set(2), 1);
    st.time_floor = at(ISSUED);
    let bytes = file(&p, &[by(&k.keys[0]), by(&k.keys[1])], &amazon_roots());
    // The device clock stepped back to 2020; trusted time stays at the floor.
    let v = match verify(&bytes, &st, at(1_577_836_800), &policy()).expect("accepted") {
        Verdict::Apply(v) => v,
        other => panic!("{other:?}"),
    };
    assert!(v.clock_behind_floor());
    assert_eq!(v.trusted_time(), at(ISSUED));
}

/// tough#603: a clock stepping backwards must not revive an expired bundle.
#[test]
fn a_clock_set_back_cannot_revive_an_expired_bundle() {
    let (k, _, p) = baseline();
    let mut st = state(k.set(2), 1);
    st.time_floor = at(EXPIRES + 1);
    let bytes = file(&p, &[by(&k.keys[0]), by(&k.keys[1])], &amazon_roots());
    let err = verify(&bytes, &st, at(ISSUED), &policy()).expect_err("floor is past expiry");
    assert_eq!(
        err,
        BundleError::Expired {
            expires_at: at(EXPIRES),
            trusted_time: at(EXPIRES + 1)
        }
    );
}

#[test]
fn the_floor_starts_at_the_crate_build_time() {
    let k = Keys::new(1);
    let st = TrustState::initial(FLEET, k.set(1));
    assert_eq!(st.time_floor, aws_iot_roots::BUILD_TIME);
    // A bundle that expired in 2001, offered to a device whose clock reads 2000.
    let mut p = payload(1, &amazon_roots(), &k.set(1));
    p["issued_at"] = json!("2000-06-01T00:00:00Z");
    p["expires_at"] = json!("2001-01-01T00:00:00Z");
    let err = verify(
        &file(&p, &[by(&k.keys[0])], &amazon_roots()),
        &st,
        at(946_684_800),
        &policy(),
    )
    .expect_err("old");
    assert!(
        matches!(err, BundleError::Expired { trusted_time, .. } if trusted_time == aws_iot_roots::BUILD_TIME)
    );
}

#[test]
fn applying_raises_the_floor_to_issued_at_and_never_lowers_it() {
    let (k, st, p) = baseline();
    let v = apply(
        &file(&p, &[by(&k.keys[0]), by(&k.keys[1])], &amazon_roots()),
        &st,
    )
    .expect("ok");
    assert_eq!(st.after(&v).time_floor, at(ISSUED));
    let mut high = st.clone();
    high.time_floor = at(ISSUED + 10);
    assert_eq!(high.after(&v).time_floor, at(ISSUED + 10));
}

// 9. Roots.

#[test]
fn empty_root_set_is_refused() {
    let (k, st, mut p) = baseline();
    p["roots"] = json!([]);
    assert_eq!(
        refused(&file(&p, &[by(&k.keys[0]), by(&k.keys[1])], &[]), &st),
        BundleError::NoRoots
    );
}

#[test]
fn certificate_not_listed_in_the_payload_is_refused() {
    let (k, st, p) = baseline();
    let mut certs = amazon_roots();
    certs.push(root_der("Amazon Root CA 2"));
    let err = refused(&file(&p, &[by(&k.keys[0]), by(&k.keys[1])], &certs), &st);
    assert_eq!(
        err,
        BundleError::UnlistedCertificate {
            sha256: fp(&root_der("Amazon Root CA 2"))
        }
    );
}

#[test]
fn listed_root_without_its_certificate_is_refused() {
    let (k, st, p) = baseline();
    let err = refused(
        &file(
            &p,
            &[by(&k.keys[0]), by(&k.keys[1])],
            &[root_der("Amazon Root CA 1")],
        ),
        &st,
    );
    assert_eq!(
        err,
        BundleError::MissingCertificate {
            sha256: fp(&root_der("Amazon Root CA 3"))
        }
    );
}

#[test]
fn certificate_swapped_for_one_with_the_same_subject_is_refused() {
    // The cross-signed Amazon Root CA 1 has the same subject and key as the root it replaces.
    let (k, st, p) = baseline();
    let cross = cross_signed_ca1();
    let certs = vec![cross.to_vec(), root_der("Amazon Root CA 3")];
    let err = refused(&file(&p, &[by(&k.keys[0]), by(&k.keys[1])], &certs), &st);
    assert_eq!(err, BundleError::UnlistedCertificate { sha256: fp(&cross) });
}

#[test]
fn duplicate_certificate_or_listing_is_refused() {
    let (k, st, p) = baseline();
    let mut certs = amazon_roots();
    certs.push(root_der("Amazon Root CA 3"));
    let err = refused(&file(&p, &[by(&k.keys[0]), by(&k.keys[1])], &certs), &st);
    assert_eq!(
        err,
        BundleError::DuplicateRoot {
            sha256: fp(&root_der("Amazon Root CA 3"))
        }
    );
    let mut q = p.clone();
    q["roots"]
        .as_array_mut()
        .expect("roots")
        .push(json!({"sha256": sha(&root_der("Amazon Root CA 1"))}));
    let err = refused(
        &file(&q, &[by(&k.keys[0]), by(&k.keys[1])], &amazon_roots()),
        &st,
    );
    assert_eq!(
        err,
        BundleError::DuplicateRoot {
            sha256: fp(&root_der("Amazon Root CA 1"))
        }
    );
}

#[test]
fn two_roots_sharing_a_key_are_refused() {
    // Amazon Root CA 1 self-signed and cross-signed: two CA certificates, one SPKI.
    let (k, st, _) = baseline();
    let cross = cross_signed_ca1();
    let certs = vec![root_der("Amazon Root CA 1"), cross.to_vec()];
    let p = payload(2, &certs, &k.set(2));
    let err = refused(&file(&p, &[by(&k.keys[0]), by(&k.keys[1])], &certs), &st);
    assert!(matches!(err, BundleError::DuplicateKey { .. }), "{err:?}");
}

#[test]
fn non_ca_root_is_refused() {
    let (k, st, _) = baseline();
    let leaf = common::load_pem(&common::data(
        "aws-chains/iot_eu-central-1_m04_2025/0_leaf_star.iot.eu-central-1.amazonaws.com.pem",
    ))
    .remove(0);
    let certs = vec![leaf.to_vec()];
    let p = payload(2, &certs, &k.set(2));
    let err = refused(&file(&p, &[by(&k.keys[0]), by(&k.keys[1])], &certs), &st);
    assert_eq!(err, BundleError::NotCa { sha256: fp(&leaf) });
}

#[test]
fn root_with_a_key_rustls_cannot_use_is_refused() {
    let (k, st, _) = baseline();
    let p224 = common::load_pem(&common::data("build/p224-root.pem")).remove(0);
    let certs = vec![p224.to_vec()];
    let p = payload(2, &certs, &k.set(2));
    let err = refused(&file(&p, &[by(&k.keys[0]), by(&k.keys[1])], &certs), &st);
    assert_eq!(err, BundleError::UnsupportedKey { sha256: fp(&p224) });
}

#[test]
fn garbage_certificate_is_refused() {
    let (k, st, _) = baseline();
    let certs = vec![b"not a certificate".to_vec()];
    let p = payload(2, &certs, &k.set(2));
    let err = refused(&file(&p, &[by(&k.keys[0]), by(&k.keys[1])], &certs), &st);
    assert!(matches!(err, BundleError::BadCertificate { .. }), "{err:?}");
}

#[test]
fn at_least_one_root_must_be_valid_at_trusted_time() {
    let (k, _, _) = baseline();
    let certs = vec![root_der("Amazon Root CA 1")]; // notAfter 2038-01-17
    let mut p = payload(2, &certs, &k.set(2));
    p["issued_at"] = json!("2038-06-01T00:00:00Z");
    p["expires_at"] = json!("2039-06-01T00:00:00Z");
    let st = state(k.set(2), 1);
    let clock = 2_159_049_600; // 2038-06-01T12:00:00Z
    let bytes = file(&p, &[by(&k.keys[0]), by(&k.keys[1])], &certs);
    let err = verify(&bytes, &st, at(clock), &policy()).expect_err("root expired");
    assert_eq!(
        err,
        BundleError::NoValidRoot {
            trusted_time: at(clock)
        }
    );
}

// Signer sets, checked when loaded.

#[test]
fn signer_set_threshold_must_be_between_one_and_the_distinct_keys() {
    let k = Keys::new(2);
    let pk = k.public();
    assert_eq!(
        SignerSet::new(pk.clone(), 0),
        Err(KeyError::Threshold {
            threshold: 0,
            distinct_keys: 2
        })
    );
    assert_eq!(
        SignerSet::new(pk.clone(), 3),
        Err(KeyError::Threshold {
            threshold: 3,
            distinct_keys: 2
        })
    );
    assert_eq!(
        SignerSet::new(vec![pk[0].clone()], 2),
        Err(KeyError::Threshold {
            threshold: 2,
            distinct_keys: 1
        })
    );
    // The same rule on a bundle's next signer set.
    let (kk, st, mut p) = baseline();
    p["signers"]["threshold"] = json!(4);
    let err = refused(
        &file(&p, &[by(&kk.keys[0]), by(&kk.keys[1])], &amazon_roots()),
        &st,
    );
    assert_eq!(
        err,
        BundleError::SignerSet(KeyError::Threshold {
            threshold: 4,
            distinct_keys: 3
        })
    );
}

#[test]
fn weak_and_non_canonical_keys_are_refused_when_a_set_is_loaded() {
    use aws_iot_roots::bundle::PublicKey;
    // The identity point (small order) and p + 1 (a second encoding of y = 1).
    let mut identity = [0u8; 32];
    identity[0] = 1;
    assert_eq!(
        PublicKey::from_bytes(&identity),
        Err(KeyError::Weak { index: None })
    );
    let mut p_plus_1 = [0xffu8; 32];
    p_plus_1[0] = 0xee;
    p_plus_1[31] = 0x7f;
    assert!(matches!(
        PublicKey::from_bytes(&p_plus_1),
        Err(KeyError::NonCanonical { .. } | KeyError::Weak { .. })
    ));
    // A non-canonical encoding of a point of large order: y = p + k for small k.
    let mut found = false;
    for k in 2u8..19 {
        let mut enc = [0xffu8; 32];
        enc[0] = 0xed + k;
        enc[31] = 0x7f;
        let Ok(vk) = ed25519_dalek::VerifyingKey::from_bytes(&enc) else {
            continue;
        };
        if vk.is_weak() {
            continue;
        }
        assert_eq!(
            PublicKey::from_bytes(&enc),
            Err(KeyError::NonCanonical { index: None })
        );
        found = true;
    }
    assert!(found, "no non-canonical large-order encoding found");
    // In a bundle's signer set, the key's position is named.
    let (kk, st, mut p) = baseline();
    use base64::Engine as _;
    p["signers"]["keys"][1] = json!(base64::engine::general_purpose::STANDARD.encode(identity));
    let err = refused(
        &file(&p, &[by(&kk.keys[0]), by(&kk.keys[1])], &amazon_roots()),
        &st,
    );
    assert_eq!(
        err,
        BundleError::SignerSet(KeyError::Weak { index: Some(1) })
    );
}

// The signing limit.

/// The largest bundle the default limits allow still has a PAE AWS KMS can sign.
#[test]
fn largest_bundle_within_limits_fits_a_kms_raw_message() {
    let k = Keys::new(8);
    let set = k.set(8);
    let mut bundle = largest_builder(set.clone())
        .build(&Limits::default())
        .expect("within limits");
    let pae = bundle.pae();
    assert!(
        pae.len() <= KMS_RAW_MESSAGE_LIMIT,
        "PAE is {} bytes",
        pae.len()
    );
    for key in &k.keys {
        bundle.sign(key).expect("sign");
    }
    let mut st = state(set, 1);
    st.fleet = "f".repeat(64);
    verify(&bundle.to_bytes(), &st, at(CLOCK), &Policy::default())
        .expect("largest bundle verifies");
    // One more byte of fleet id is over its limit.
    let err = BundleBuilder::new("f".repeat(65), 2, at(ISSUED), at(EXPIRES), k.set(1))
        .root(root_der("Amazon Root CA 3").into(), None)
        .build(&Limits::default())
        .expect_err("fleet id too long");
    assert_eq!(
        err,
        BundleError::TooLarge {
            limit: Limit::FleetIdBytes,
            max: 64,
            actual: 65
        }
    );
}

/// CVE-2025-2888 (tough persisted metadata before every check passed): a bundle that passes
/// signatures, fleet and version but fails a later rule yields nothing to apply.
#[test]
fn cve_2025_2888_nothing_is_trusted_before_every_check_passes() {
    let (k, st, p) = baseline();
    let before = st.clone();
    let err = refused(
        &file(
            &p,
            &[by(&k.keys[0]), by(&k.keys[1])],
            &[root_der("Amazon Root CA 1")],
        ),
        &st,
    );
    assert!(matches!(err, BundleError::MissingCertificate { .. }));
    assert_eq!(st, before);
}

/// `BundleError::rule` names the rule each refusal broke, in checking order: what
/// `iot-roots bundle verify` prints.
#[test]
fn every_refusal_names_the_rule_it_broke() {
    use aws_iot_roots::bundle::Rule;
    let (k, st, p) = baseline();
    let two = |p: &serde_json::Value, certs: &[Vec<u8>]| {
        file(p, &[by(&k.keys[0]), by(&k.keys[1])], certs)
    };
    let mut other_fleet = p.clone();
    other_fleet["fleet"] = json!("x");
    let mut old = p.clone();
    old["version"] = json!(0);
    let cases: Vec<(Vec<u8>, Rule)> = vec![
        (vec![b'{'; MAX_BUNDLE_BYTES + 1], Rule::Sizes),
        (b"not json".to_vec(), Rule::Sizes),
        (file_with("text/plain", b"{}", &[], &[]), Rule::PayloadType),
        (
            file(&p, &[by(&k.keys[0])], &amazon_roots()),
            Rule::CurrentSignatures,
        ),
        (
            file_with(PAYLOAD_TYPE, b"[]", &[by(&k.keys[0]), by(&k.keys[1])], &[]),
            Rule::Payload,
        ),
        (two(&other_fleet, &amazon_roots()), Rule::Fleet),
        (two(&old, &amazon_roots()), Rule::Version),
        (two(&p, &[root_der("Amazon Root CA 1")]), Rule::Roots),
    ];
    for (i, (bytes, rule)) in cases.iter().enumerate() {
        assert_eq!(refused(bytes, &st).rule(), *rule, "case {i}");
    }
    let expired =
        verify(&two(&p, &amazon_roots()), &st, at(EXPIRES), &policy()).expect_err("expired");
    assert_eq!(expired.rule(), Rule::Time);
    let new = Keys::new(1);
    let rotating = payload(2, &amazon_roots(), &new.set(1));
    assert_eq!(
        refused(&two(&rotating, &amazon_roots()), &st).rule(),
        Rule::SignerRotation
    );
    assert!(Rule::ALL.windows(2).all(|w| w[0] < w[1]));
}

/// A fast-forward to the last possible version would freeze the fleet: nothing is greater.
#[test]
fn fast_forward_to_the_last_version_is_refused() {
    let (k, st, mut p) = baseline();
    p["version"] = json!(u64::MAX);
    let err = refused(
        &file(&p, &[by(&k.keys[0]), by(&k.keys[1])], &amazon_roots()),
        &st,
    );
    assert_eq!(err, BundleError::VersionExhausted { version: u64::MAX });
    // One below is an ordinary (if large) step.
    p["version"] = json!(u64::MAX - 1);
    apply(
        &file(&p, &[by(&k.keys[0]), by(&k.keys[1])], &amazon_roots()),
        &st,
    )
    .expect("large but not final");
}

// Rejection paths that the named rules above do not reach.

#[test]
fn a_signature_of_the_wrong_size_is_malformed() {
    let (k, st, p) = baseline();
    let bytes = file(&p, &[by(&k.keys[0]), by(&k.keys[1])], &amazon_roots());
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut v: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
    v["envelope"]["signatures"][0]["sig"] = json!(b64.encode([7u8; 63]));
    let err = refused(&serde_json::to_vec(&v).expect("json"), &st);
    assert!(
        matches!(&err, BundleError::Malformed { part, .. } if *part == aws_iot_roots::bundle::Part::Signature(0)),
        "{err:?}"
    );
}

#[test]
fn too_many_keys_in_the_next_signer_set_are_refused() {
    let (k, st, mut p) = baseline();
    let many = Keys::new(9);
    p["signers"]["keys"] = json!(many
        .public()
        .iter()
        .map(|k| k.to_base64())
        .collect::<Vec<_>>());
    let err = refused(
        &file(&p, &[by(&k.keys[0]), by(&k.keys[1])], &amazon_roots()),
        &st,
    );
    assert_eq!(
        err,
        BundleError::TooLarge {
            limit: Limit::SignerKeys,
            max: 8,
            actual: 9
        }
    );
}

#[test]
fn a_malformed_key_in_the_next_signer_set_is_refused() {
    let (k, st, p) = baseline();
    use base64::Engine as _;
    for (bad, index, want) in [
        (
            json!(base64::engine::general_purpose::STANDARD.encode([1u8; 31])),
            0,
            KeyError::WrongLength {
                algorithm: Algorithm::Ed25519,
                expected: 32,
                actual: 31,
                index: Some(0),
            },
        ),
        (
            json!("not base64!"),
            2,
            KeyError::Malformed { index: Some(2) },
        ),
    ] {
        let mut q = p.clone();
        q["signers"]["keys"][index] = bad;
        let err = refused(
            &file(&q, &[by(&k.keys[0]), by(&k.keys[1])], &amazon_roots()),
            &st,
        );
        assert_eq!(err, BundleError::SignerSet(want));
    }
}

#[test]
fn fleet_ids_root_names_and_root_hashes_are_checked() {
    let (k, st, p) = baseline();
    let sign = |q: &serde_json::Value| file(q, &[by(&k.keys[0]), by(&k.keys[1])], &amazon_roots());
    let mut q = p.clone();
    q["fleet"] = json!("acme prod");
    assert!(
        matches!(refused(&sign(&q), &st), BundleError::Malformed { detail, .. } if detail.contains("fleet id"))
    );
    let mut q = p.clone();
    q["roots"][0]["name"] = json!("n".repeat(65));
    assert_eq!(
        refused(&sign(&q), &st),
        BundleError::TooLarge {
            limit: Limit::RootNameBytes,
            max: 64,
            actual: 65
        }
    );
    let mut q = p.clone();
    q["roots"][0]["name"] = json!("Amazon\nRoot");
    assert!(
        matches!(refused(&sign(&q), &st), BundleError::Malformed { detail, .. } if detail.contains("control"))
    );
    let mut q = p.clone();
    q["roots"][0]["sha256"] = json!(sha(&root_der("Amazon Root CA 1")).to_uppercase());
    assert!(
        matches!(refused(&sign(&q), &st), BundleError::Malformed { detail, .. } if detail.contains("lowercase hex"))
    );
}

#[test]
fn a_root_with_name_constraints_is_refused() {
    let (k, st, _) = baseline();
    let key = rcgen::KeyPair::generate().expect("key");
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.name_constraints = Some(rcgen::NameConstraints {
        permitted_subtrees: vec![rcgen::GeneralSubtree::DnsName("example.com".into())],
        excluded_subtrees: vec![],
    });
    let der = params.self_signed(&key).expect("cert").der().to_vec();
    let certs = vec![der.clone()];
    let err = refused(
        &file(
            &payload(2, &certs, &k.set(2)),
            &[by(&k.keys[0]), by(&k.keys[1])],
            &certs,
        ),
        &st,
    );
    assert_eq!(err, BundleError::NameConstraints { sha256: fp(&der) });
}

#[test]
fn a_root_with_an_rsa_key_below_2048_bits_is_refused() {
    let (k, st, _) = baseline();
    let der = common::load_pem(&common::data("build/rsa1024-root.pem"))
        .remove(0)
        .to_vec();
    let certs = vec![der.clone()];
    let err = refused(
        &file(
            &payload(2, &certs, &k.set(2)),
            &[by(&k.keys[0]), by(&k.keys[1])],
            &certs,
        ),
        &st,
    );
    assert_eq!(err, BundleError::UnsupportedKey { sha256: fp(&der) });
}

// Issue 11: identity means one signer, one key, one encoding; boundaries as RFC 5280 has them.

/// Item 1. `A' = A + T` (T of order 8) is canonical and not of small order, yet `A`'s secret
/// signs for it: `verify_strict` accepts whenever 8 divides the challenge, one nonce in
/// eight. So a set holding A and A' gives one secret two votes; the key is refused at load.
#[test]
fn torsioned_twin_keys_are_refused_one_secret_one_vote() {
    use ed25519_dalek::hazmat::{raw_sign, ExpandedSecretKey};
    use ed25519_dalek::{Verifier as _, VerifyingKey};

    // The attack works: grind the nonce prefix until the twin verifies a signature by A's
    // secret, under verify_strict.
    let seed = [7u8; 32];
    let a = ed25519_dalek::SigningKey::from_bytes(&seed);
    let twin_bytes =
        torsioned_twin(&PublicKey::from_bytes(a.verifying_key().as_bytes()).expect("A"));
    let twin = VerifyingKey::from_bytes(&twin_bytes).expect("on the curve");
    assert!(!twin.is_weak(), "passes the small-order check");
    let msg = b"DSSEv1 a PAE";
    let mut esk = ExpandedSecretKey::from(&seed);
    let forged = (0..=255u8).find_map(|i| {
        esk.hash_prefix[0] = i;
        let sig = raw_sign::<sha2::Sha512>(&esk, msg, &twin);
        twin.verify_strict(msg, &sig).is_ok().then_some(sig)
    });
    let forged = forged.expect("one nonce in eight verifies");
    assert!(twin.verify(msg, &forged).is_ok());

    // The defence: such a key never loads, alone or in a payload's signer set.
    assert_eq!(
        PublicKey::from_bytes(&twin_bytes),
        Err(KeyError::Torsion { index: None })
    );
    let (k, st, mut p) = baseline();
    let twin_of_k0 = torsioned_twin(&k.keys[0].public_key());
    use base64::Engine as _;
    p["signers"]["keys"][1] = json!(base64::engine::general_purpose::STANDARD.encode(twin_of_k0));
    let err = refused(
        &file(&p, &[by(&k.keys[0]), by(&k.keys[1])], &amazon_roots()),
        &st,
    );
    assert_eq!(
        err,
        BundleError::SignerSet(KeyError::Torsion { index: Some(1) })
    );
    assert_eq!(err.rule(), Rule::Payload);
    assert!(err.to_string().contains("torsion"), "{err}");
}

/// Item 2. serde's derived structs also read a JSON array of the field values; every level
/// the spec names an object refuses one.
#[test]
fn json_arrays_are_refused_wherever_the_spec_names_an_object() {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let (k, st, p) = baseline();
    let sigs = [by(&k.keys[0]), by(&k.keys[1])];
    let valid: serde_json::Value =
        serde_json::from_slice(&file(&p, &sigs, &amazon_roots())).expect("json");
    let env = &valid["envelope"];
    use aws_iot_roots::bundle::Part;
    let malformed = |bytes: &[u8], part: Part, what: &str| {
        let err = refused(bytes, &st);
        match &err {
            BundleError::Malformed { part: p, detail } => {
                assert_eq!(*p, part, "{err}");
                assert!(
                    detail.contains(&format!("invalid type: sequence, expected {what}")),
                    "{err}"
                );
            }
            other => panic!("{what}: {other:?}"),
        }
    };
    // The bundle file, the envelope and a signature entry.
    let bundle_array = json!([env, valid["certificates"]]);
    malformed(
        &serde_json::to_vec(&bundle_array).expect("json"),
        Part::Bundle,
        "the bundle object",
    );
    let mut v = valid.clone();
    v["envelope"] = json!([env["payloadType"], env["payload"], env["signatures"]]);
    malformed(
        &serde_json::to_vec(&v).expect("json"),
        Part::Bundle,
        "the envelope object",
    );
    let mut v = valid.clone();
    let s0 = &env["signatures"][0];
    v["envelope"]["signatures"][0] = json!([s0["keyid"], s0["sig"]]);
    malformed(
        &serde_json::to_vec(&v).expect("json"),
        Part::Bundle,
        "a signature object",
    );
    // Inside the signed payload: the payload itself, a root entry, the signer set.
    let as_array = payload_as_array(&p);
    let bytes = file_with(
        PAYLOAD_TYPE,
        &serde_json::to_vec(&as_array).expect("json"),
        &sigs,
        &amazon_roots(),
    );
    malformed(&bytes, Part::Payload, "the payload object");
    let mut q = p.clone();
    q["roots"][0] = json!([q["roots"][0]["sha256"], "Amazon Root CA 1"]);
    malformed(
        &file(&q, &sigs, &amazon_roots()),
        Part::Payload,
        "a root object",
    );
    let mut q = p.clone();
    q["signers"] = json!([q["signers"]["threshold"], q["signers"]["keys"]]);
    malformed(
        &file(&q, &sigs, &amazon_roots()),
        Part::Payload,
        "the signers object",
    );
    // The signer-set file (`--signers`) is the same object.
    let set_array = json!([2, p["signers"]["keys"]]);
    match SignerSet::from_json(&serde_json::to_vec(&set_array).expect("json")) {
        Err(KeyError::Encoding { detail }) => assert!(
            detail.contains("invalid type: sequence, expected the signers object"),
            "{detail}"
        ),
        other => panic!("{other:?}"),
    }
    let file_text = k.set(2).to_json();
    assert_eq!(SignerSet::from_json(file_text.as_bytes()), Ok(k.set(2)));
    // A valid envelope still decodes its base64 as before.
    assert!(b64.decode(env["payload"].as_str().expect("b64")).is_ok());
}

/// Item 2. An optional member is absent or a value: `null` is refused alike for a root's
/// `name` and a signature's `keyid` (serde reads `null` as absent for an `Option`).
#[test]
fn null_is_refused_for_every_optional_member() {
    let (k, st, p) = baseline();
    let sigs = [by(&k.keys[0]), by(&k.keys[1])];
    let mut q = p.clone();
    q["roots"][0]["name"] = serde_json::Value::Null;
    match refused(&file(&q, &sigs, &amazon_roots()), &st) {
        BundleError::Malformed { part, detail } => {
            assert_eq!(part, aws_iot_roots::bundle::Part::Payload);
            assert!(
                detail.contains("invalid type: null, expected a string"),
                "{detail}"
            );
        }
        other => panic!("{other:?}"),
    }
    let mut v: serde_json::Value =
        serde_json::from_slice(&file(&p, &sigs, &amazon_roots())).expect("json");
    v["envelope"]["signatures"][0]["keyid"] = serde_json::Value::Null;
    match refused(&serde_json::to_vec(&v).expect("json"), &st) {
        BundleError::Malformed { part, detail } => {
            assert_eq!(part, aws_iot_roots::bundle::Part::Bundle);
            assert!(
                detail.contains("invalid type: null, expected a string"),
                "{detail}"
            );
        }
        other => panic!("{other:?}"),
    }
    // Absent is fine for both.
    v["envelope"]["signatures"][0]
        .as_object_mut()
        .expect("object")
        .remove("keyid");
    apply(&serde_json::to_vec(&v).expect("json"), &st).expect("absent keyid");
}

/// Item 3. One P-256 key, compressed and uncompressed: two certificates, one key. The
/// compressed form (which rustls' providers cannot use) is refused, so the pair cannot pass
/// "no two roots share a key"; so is RSA without its NULL parameters, and an unreduced
/// coordinate (a second spelling of a coordinate below p).
#[test]
fn one_key_in_two_encodings_is_refused() {
    let (k, st, _) = baseline();
    let ca3 = root_der("Amazon Root CA 3");
    let ca1 = root_der("Amazon Root CA 1");
    for (twin, label) in [
        (common::compressed_point_twin(&ca3), "compressed point"),
        (
            common::unreduced_p256_coordinate(&ca3),
            "unreduced coordinate",
        ),
        (
            common::rsa_without_null_parameters(&ca1),
            "RSA without NULL",
        ),
    ] {
        let certs = vec![ca3.clone(), twin.clone()];
        let p = payload(2, &certs, &k.set(2));
        let err = refused(&file(&p, &[by(&k.keys[0]), by(&k.keys[1])], &certs), &st);
        assert_eq!(
            err,
            BundleError::UnsupportedKey { sha256: fp(&twin) },
            "{label}"
        );
        assert_eq!(err.rule(), Rule::Roots);
    }
}

/// Item 4. RFC 5280 §4.1.2.5: the validity period includes notBefore and notAfter. A root is
/// valid at both seconds, and not one second outside them.
#[test]
fn a_root_is_valid_from_its_not_before_through_its_not_after_second() {
    let k = Keys::new(3);
    let set = k.set(2);
    let ca1 = root_der("Amazon Root CA 1");
    // Amazon Root CA 1: notBefore 2015-05-26T00:00:00Z, notAfter 2038-01-17T00:00:00Z.
    let (not_before, not_after) = (common::utc(2015, 5, 26), common::utc(2038, 1, 17));
    for (clock, valid) in [
        (not_before - 1, false),
        (not_before, true),
        (not_after, true),
        (not_after + 1, false),
    ] {
        let mut st = state(set.clone(), 1);
        st.time_floor = at(not_before - 86_400);
        let mut p = payload(2, std::slice::from_ref(&ca1), &set);
        p["issued_at"] = json!(common::rfc3339(clock - 60));
        p["expires_at"] = json!(common::rfc3339(clock + 86_400));
        let bytes = file(
            &p,
            &[by(&k.keys[0]), by(&k.keys[1])],
            std::slice::from_ref(&ca1),
        );
        let result = verify(&bytes, &st, at(clock), &policy());
        match (valid, result) {
            (true, Ok(Verdict::Apply(_))) => {}
            (false, Err(BundleError::NoValidRoot { trusted_time })) => {
                assert_eq!(trusted_time, at(clock))
            }
            (want, got) => panic!("clock {clock}: valid {want}, got {got:?}"),
        }
    }
}

/// Item 12. Each bundle may be issued up to the clock tolerance ahead of trusted time. If its
/// `issued_at` became the floor, the next window would start there: 48 bundles would walk a
/// fixed clock's floor 47 hours ahead. The floor rises to `issued_at` only up to the trusted
/// time it was verified at.
#[test]
fn bundles_alone_cannot_walk_the_time_floor_past_the_clock() {
    let k = Keys::new(3);
    let set = k.set(2);
    let mut st = state(set.clone(), 1);
    assert!(st.time_floor < at(CLOCK));
    for n in 0..48u64 {
        let mut p = payload(2 + n, &amazon_roots(), &set);
        let issued = st.time_floor.as_secs().max(CLOCK) + 59 * 60;
        p["issued_at"] = json!(common::rfc3339(issued));
        let bytes = file(&p, &[by(&k.keys[0]), by(&k.keys[1])], &amazon_roots());
        let v = apply(&bytes, &st).unwrap_or_else(|e| panic!("bundle {n}: {e}"));
        st = st.after(&v);
        assert!(
            st.time_floor <= at(CLOCK),
            "bundle {n} moved the floor past the clock"
        );
    }
    assert_eq!(st.time_floor, at(CLOCK));
    assert_eq!(st.version, 49);
}

/// Every limit a refusal can name is a field of `Limits` (`Limits::of` matches them all), and
/// the two that were constants only are enforced from the policy.
#[test]
fn every_named_limit_is_a_configurable_field() {
    let d = Limits::default();
    for (limit, value) in [
        (Limit::BundleBytes, MAX_BUNDLE_BYTES),
        (Limit::PayloadBytes, MAX_PAYLOAD_BYTES),
        (Limit::Signatures, aws_iot_roots::bundle::MAX_SIGNATURES),
        (Limit::SignerKeys, aws_iot_roots::bundle::MAX_SIGNER_KEYS),
        (Limit::Roots, aws_iot_roots::bundle::MAX_ROOTS),
        (
            Limit::CertificateBytes,
            aws_iot_roots::bundle::MAX_CERTIFICATE_BYTES,
        ),
        (
            Limit::FleetIdBytes,
            aws_iot_roots::bundle::MAX_FLEET_ID_BYTES,
        ),
        (
            Limit::RootNameBytes,
            aws_iot_roots::bundle::MAX_ROOT_NAME_BYTES,
        ),
    ] {
        assert_eq!(d.of(limit), value, "{limit:?}");
    }
    let (k, st, mut p) = baseline();
    p["roots"][0]["name"] = json!("Amazon Root CA 1");
    let bytes = file(&p, &[by(&k.keys[0]), by(&k.keys[1])], &amazon_roots());
    let mut policy = Policy::default();
    policy.limits.max_fleet_id_bytes = 4;
    assert_eq!(
        verify(&bytes, &st, at(CLOCK), &policy),
        Err(BundleError::TooLarge {
            limit: Limit::FleetIdBytes,
            max: 4,
            actual: 9
        })
    );
    let mut policy = Policy::default();
    policy.limits.max_root_name_bytes = 3;
    assert_eq!(
        verify(&bytes, &st, at(CLOCK), &policy),
        Err(BundleError::TooLarge {
            limit: Limit::RootNameBytes,
            max: 3,
            actual: 16
        })
    );
}

/// A signature that is not 64 bytes is malformed at its index, not a count limit ("the
/// signature list is 88 entries" named the wrong limit), and an oversized one is refused
/// before it is decoded.
#[test]
fn a_signature_of_the_wrong_size_is_malformed_where_it_is() {
    use aws_iot_roots::bundle::Part;
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let (k, st, p) = baseline();
    let valid = file(&p, &[by(&k.keys[0]), by(&k.keys[1])], &amazon_roots());
    for sig in [
        b64.encode([7u8; 65]),
        b64.encode([7u8; 63]),
        "A".repeat(1 << 16),
    ] {
        let mut v: serde_json::Value = serde_json::from_slice(&valid).expect("json");
        v["envelope"]["signatures"][1]["sig"] = json!(sig);
        let err = refused(&serde_json::to_vec(&v).expect("json"), &st);
        assert_eq!(
            err,
            BundleError::Malformed {
                part: Part::Signature(1),
                detail: "an Ed25519 signature is 64 bytes".into()
            }
        );
        assert_eq!(err.rule(), Rule::Sizes);
        assert_eq!(
            err.to_string(),
            "malformed signature #1: an Ed25519 signature is 64 bytes"
        );
    }
}

/// The rule-by-rule report comes from the verifier's own steps: every rule once, in order;
/// the rules before a refusal passed, the one that refused says why, the rest were not
/// reached; and the verdict is verify's.
#[test]
fn the_rule_report_is_verifys_own_steps() {
    use aws_iot_roots::bundle::{verify_report, Outcome};
    let (k, st, mut p) = baseline();
    let sigs = [by(&k.keys[0]), by(&k.keys[1])];
    let good = file(&p, &sigs, &amazon_roots());
    let (outcomes, result) = verify_report(&good, &st, at(CLOCK), &policy());
    assert_eq!(result, verify(&good, &st, at(CLOCK), &policy()));
    assert_eq!(
        outcomes.iter().map(|(r, _)| *r).collect::<Vec<_>>(),
        Rule::ALL.to_vec()
    );
    assert!(outcomes.iter().all(|(_, o)| *o == Outcome::Passed));
    // Another fleet: four rules pass, the fleet refuses, four are not reached.
    p["fleet"] = json!("acme-staging");
    let bad = file(&p, &sigs, &amazon_roots());
    let (outcomes, result) = verify_report(&bad, &st, at(CLOCK), &policy());
    let err = result.expect_err("wrong fleet");
    let got: Vec<&Outcome> = outcomes.iter().map(|(_, o)| o).collect();
    assert_eq!(got[..4], [&Outcome::Passed; 4]);
    assert_eq!(got[4], &Outcome::Failed(err));
    assert_eq!(got[5..], [&Outcome::NotReached; 4]);
    // The active bundle again: passed through the version rule, the rest not needed.
    let active = st.after(&apply(&good, &st).expect("valid"));
    let (outcomes, result) = verify_report(&good, &active, at(CLOCK), &policy());
    assert_eq!(result, Ok(Verdict::AlreadyActive { version: 2 }));
    let got: Vec<&Outcome> = outcomes.iter().map(|(_, o)| o).collect();
    assert_eq!(got[..6], [&Outcome::Passed; 6]);
    assert_eq!(got[6..], [&Outcome::NotNeeded; 3]);
}
