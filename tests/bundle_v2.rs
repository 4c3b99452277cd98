//! Format v2: signer groups of explicit algorithms, all required; the next set's keys named by
//! hash and carried outside the envelope; hybrid Ed25519 AND ML-DSA-65. One named test per
//! rule (docs/bundle-format.md), each checking the exact refusal.
#![cfg(all(
    feature = "signing",
    feature = "amazon-root-ca-1",
    feature = "amazon-root-ca-3"
))]

mod common;

use aws_iot_roots::bundle::{
    verify, Algorithm, BundleBuilder, BundleError, Fingerprint, Format, KeyError, Limit, Limits,
    Part, Policy, PublicKey, SignerGroup, SignerRole, SignerSet, SigningKey, TrustState,
    KMS_RAW_MESSAGE_LIMIT, MAX_SIGNATURES, PAYLOAD_TYPE_V2,
};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use common::bundles::*;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

fn short(role: SignerRole, algorithm: Algorithm, required: u32) -> BundleError {
    BundleError::SignatureThreshold {
        role,
        algorithm,
        required,
    }
}

fn fp(key: &PublicKey) -> Fingerprint {
    Fingerprint(*key.sha256())
}

/// A hybrid device (2-of-3 Ed25519 AND 2-of-3 ML-DSA-65) at version 1, and a v2 payload at
/// version 2 naming the same set.
fn baseline() -> (Hybrid, TrustState, Value) {
    let h = Hybrid::new(3, 3);
    let set = h.set(2, 2);
    let p = payload_v2(2, &amazon_roots(), &set);
    (h, state(set, 1), p)
}

/// Both groups' thresholds, by the keys given.
fn both<'a>(h: &'a Hybrid) -> Vec<Sig<'a>> {
    vec![by(&h.ed[0]), by(&h.ed[1]), by(&h.ml[0]), by(&h.ml[1])]
}

#[test]
fn a_hybrid_bundle_with_both_thresholds_is_accepted() {
    let (h, st, p) = baseline();
    let set = h.set(2, 2);
    let v = apply(
        &file_v2(&p, &both(&h), &amazon_roots(), &carried(&set)),
        &st,
    )
    .expect("ok");
    assert_eq!(v.payload().format, Format::V2);
    assert!(v.payload().signers.same_as(&set));
    assert_eq!(v.roots().len(), 2);
}

/// Every group is required: one group at its threshold and the other short is refused, and
/// the refusal names the group that is short.
#[test]
fn one_group_satisfied_the_other_not_is_refused() {
    let (h, st, p) = baseline();
    let keys = carried(&h.set(2, 2));
    let ed_only = [by(&h.ed[0]), by(&h.ed[1]), by(&h.ed[2]), by(&h.ml[0])];
    assert_eq!(
        refused(&file_v2(&p, &ed_only, &amazon_roots(), &keys), &st),
        short(SignerRole::Current, Algorithm::MlDsa65, 2)
    );
    let ml_only = [by(&h.ed[0]), by(&h.ml[0]), by(&h.ml[1]), by(&h.ml[2])];
    assert_eq!(
        refused(&file_v2(&p, &ml_only, &amazon_roots(), &keys), &st),
        short(SignerRole::Current, Algorithm::Ed25519, 2)
    );
}

/// A signature counts only in its own group: an ML-DSA-65 signature whose keyid names an
/// Ed25519 key (an ML-DSA signature "moved to an Ed25519 slot") counts for nobody.
#[test]
fn an_ml_dsa_signature_moved_to_an_ed25519_slot_does_not_count() {
    let (h, st, p) = baseline();
    let keys = carried(&h.set(2, 2));
    let moved = Sig {
        key: &h.ml[2],
        keyid: Some(h.ed[1].public_key().key_id()),
    };
    let sigs = [by(&h.ed[0]), moved, by(&h.ml[0]), by(&h.ml[1])];
    assert_eq!(
        refused(&file_v2(&p, &sigs, &amazon_roots(), &keys), &st),
        short(SignerRole::Current, Algorithm::Ed25519, 2)
    );
}

/// v2 binds an entry to the key its keyid names: a valid signature filed under another key's
/// id counts for nobody (v1 would try every key), so an entry costs one verification.
#[test]
fn a_v2_keyid_binds_its_entry_to_one_key() {
    let (h, st, p) = baseline();
    let keys = carried(&h.set(2, 2));
    let misfiled = Sig {
        key: &h.ed[1],
        keyid: Some(h.ed[2].public_key().key_id()),
    };
    let sigs = [by(&h.ed[0]), misfiled, by(&h.ml[0]), by(&h.ml[1])];
    assert_eq!(
        refused(&file_v2(&p, &sigs, &amazon_roots(), &keys), &st),
        short(SignerRole::Current, Algorithm::Ed25519, 2)
    );
    let unnamed = Sig {
        key: &h.ed[1],
        keyid: Some(String::new()),
    };
    let sigs = [by(&h.ed[0]), unnamed, by(&h.ml[0]), by(&h.ml[1])];
    assert_eq!(
        refused(&file_v2(&p, &sigs, &amazon_roots(), &keys), &st),
        short(SignerRole::Current, Algorithm::Ed25519, 2)
    );
}

/// The next set's key material is bound by the hashes that were signed: a carried key
/// swapped for another, a named key missing, an extra or repeated key are all refused by
/// the rotation rule, naming the key.
#[test]
fn a_key_bound_by_hash_cannot_be_swapped_dropped_or_added() {
    let (h, st, p) = baseline();
    let set = h.set(2, 2);
    let mut keys = carried(&set);
    let intruder = SigningKey::generate_with(Algorithm::MlDsa65).public_key();
    let victim = h.ml[2].public_key();
    let i = keys
        .iter()
        .position(|k| k == victim.as_bytes())
        .expect("carried");
    keys[i] = intruder.as_bytes().to_vec();
    assert_eq!(
        refused(&file_v2(&p, &both(&h), &amazon_roots(), &keys), &st),
        BundleError::MissingKey {
            sha256: fp(&victim)
        }
    );
    keys.remove(i);
    assert_eq!(
        refused(&file_v2(&p, &both(&h), &amazon_roots(), &keys), &st),
        BundleError::MissingKey {
            sha256: fp(&victim)
        }
    );
    let mut extra = carried(&set);
    extra.push(intruder.as_bytes().to_vec());
    assert_eq!(
        refused(&file_v2(&p, &both(&h), &amazon_roots(), &extra), &st),
        BundleError::UnlistedKey {
            sha256: fp(&intruder)
        }
    );
    let mut twice = carried(&set);
    twice.push(victim.as_bytes().to_vec());
    assert_eq!(
        refused(&file_v2(&p, &both(&h), &amazon_roots(), &twice), &st),
        BundleError::UnlistedKey {
            sha256: fp(&victim)
        }
    );
    assert_eq!(
        BundleError::MissingKey {
            sha256: fp(&victim)
        }
        .rule(),
        aws_iot_roots::bundle::Rule::SignerRotation
    );
}

/// The algorithm comes only from signed data. A label changed after signing breaks the
/// signatures; a label changed *and signed* reads the carried key as the named algorithm,
/// which refuses it by length, never by guessing from the length.
#[test]
fn an_algorithm_label_decides_how_a_key_is_read() {
    let (h, st, p) = baseline();
    let set = h.set(2, 2);
    let keys = carried(&set);
    let signed = file_v2(&p, &both(&h), &amazon_roots(), &keys);
    // Changed after signing: the payload bytes differ, so no current signature verifies.
    let mut v: Value = serde_json::from_slice(&signed).expect("json");
    let mut q = p.clone();
    q["signers"]["groups"][1]["algorithm"] = json!("ml-dsa-87");
    v["envelope"]["payload"] = json!(B64.encode(serde_json::to_vec(&q).expect("json")));
    assert_eq!(
        refused(&serde_json::to_vec(&v).expect("json"), &st),
        short(SignerRole::Current, Algorithm::Ed25519, 2)
    );
    // Signed that way (by the real current keys): the 1,952-byte key is not an ML-DSA-87 key.
    let err = refused(&file_v2(&q, &both(&h), &amazon_roots(), &keys), &st);
    let first_ml = h.ml[0].public_key();
    assert_eq!(
        err,
        BundleError::KeyMaterial {
            sha256: fp(&first_ml),
            error: KeyError::WrongLength {
                algorithm: Algorithm::MlDsa87,
                expected: 2592,
                actual: 1952,
                index: Some(0),
            },
        }
    );
    // An ML-DSA key under an Ed25519 label, likewise.
    let mut q = p.clone();
    q["signers"]["groups"][1]["algorithm"] = json!("ed25519");
    assert_eq!(
        refused(&file_v2(&q, &both(&h), &amazon_roots(), &keys), &st),
        BundleError::SignerSet(KeyError::DuplicateGroup {
            algorithm: Algorithm::Ed25519
        })
    );
    // A label this version does not know.
    q["signers"]["groups"][1]["algorithm"] = json!("ML-DSA-65");
    assert_eq!(
        refused(&file_v2(&q, &both(&h), &amazon_roots(), &keys), &st),
        BundleError::SignerSet(KeyError::UnknownAlgorithm {
            label: "ML-DSA-65".into()
        })
    );
}

/// One secret never counts twice: a key named in two groups is refused, and so are two
/// groups of one algorithm (which would let one Ed25519 secret meet both thresholds).
#[test]
fn a_threshold_is_never_met_by_one_secret_across_groups() {
    let (h, st, p) = baseline();
    let keys = carried(&h.set(2, 2));
    let mut q = p.clone();
    let shared = q["signers"]["groups"][0]["keys"][0].clone();
    q["signers"]["groups"][1]["keys"][2] = shared;
    let err = refused(&file_v2(&q, &both(&h), &amazon_roots(), &keys), &st);
    assert_eq!(
        err,
        BundleError::SignerSet(KeyError::KeyInTwoGroups {
            sha256: *h.ed[0].public_key().sha256(),
            first: Algorithm::Ed25519,
            second: Algorithm::MlDsa65,
        })
    );
    // Two Ed25519 groups of one key each: one secret would satisfy both.
    let one = SignerGroup::new(Algorithm::Ed25519, vec![h.ed[0].public_key()], 1).expect("g");
    assert_eq!(
        SignerSet::from_groups(vec![one.clone(), one]),
        Err(KeyError::DuplicateGroup {
            algorithm: Algorithm::Ed25519
        })
    );
    // A group holding a key of another algorithm.
    assert_eq!(
        SignerGroup::new(Algorithm::Ed25519, vec![h.ml[0].public_key()], 1),
        Err(KeyError::AlgorithmMismatch {
            index: 0,
            group: Algorithm::Ed25519,
            key: Algorithm::MlDsa65,
        })
    );
    assert_eq!(SignerSet::from_groups(vec![]), Err(KeyError::NoGroups));
}

/// The migration: a v1 device (Ed25519 2-of-3) takes a v2 bundle signed by its own
/// threshold whose next set is hybrid. The rotation needs both new groups; afterwards only
/// hybrid-signed bundles are accepted.
#[test]
fn migrating_to_hybrid_needs_every_new_group_and_then_both_schemes() {
    let h = Hybrid::new(3, 3);
    let old = Keys::new(3);
    let v1_state = state(old.set(2), 1);
    let hybrid = h.set(2, 2);
    let p = payload_v2(2, &amazon_roots(), &hybrid);
    let keys = carried(&hybrid);
    let old_two = [by(&old.keys[0]), by(&old.keys[1])];
    // The old threshold alone: the new groups have not signed.
    assert_eq!(
        refused(&file_v2(&p, &old_two, &amazon_roots(), &keys), &v1_state),
        short(SignerRole::New, Algorithm::Ed25519, 2)
    );
    // Old threshold and the new Ed25519 group, one ML-DSA signature short.
    let sigs = [
        by(&old.keys[0]),
        by(&old.keys[1]),
        by(&h.ed[0]),
        by(&h.ed[1]),
        by(&h.ml[0]),
    ];
    assert_eq!(
        refused(&file_v2(&p, &sigs, &amazon_roots(), &keys), &v1_state),
        short(SignerRole::New, Algorithm::MlDsa65, 2)
    );
    let sigs = [
        by(&old.keys[0]),
        by(&old.keys[1]),
        by(&h.ed[0]),
        by(&h.ed[1]),
        by(&h.ml[0]),
        by(&h.ml[1]),
    ];
    let v = apply(&file_v2(&p, &sigs, &amazon_roots(), &keys), &v1_state).expect("migrates");
    let after = v1_state.after(&v);
    assert!(after.signers.same_as(&hybrid));
    // From now on, an Ed25519-only bundle (v1 or v2) is refused for want of ML-DSA.
    let p3 = payload(3, &amazon_roots(), &old.set(2));
    let v1_file = file(&p3, &[by(&h.ed[0]), by(&h.ed[1])], &amazon_roots());
    assert_eq!(
        refused(&v1_file, &after),
        short(SignerRole::Current, Algorithm::MlDsa65, 2)
    );
}

/// A downgrade to an Ed25519-only set is a rotation out of hybrid: it needs the hybrid
/// threshold (both groups), and a v1 bundle, which cannot carry ML-DSA signatures, can
/// never do it.
#[test]
fn a_downgrade_to_ed25519_only_needs_the_hybrid_threshold() {
    let (h, st, _) = baseline();
    let ed_only = SignerSet::new(h.ed.iter().map(SigningKey::public_key).collect(), 2).expect("s");
    let p = payload_v2(2, &amazon_roots(), &ed_only);
    let keys = carried(&ed_only);
    assert_eq!(
        refused(
            &file_v2(&p, &[by(&h.ed[0]), by(&h.ed[1])], &amazon_roots(), &keys),
            &st
        ),
        short(SignerRole::Current, Algorithm::MlDsa65, 2)
    );
    let v = apply(&file_v2(&p, &both(&h), &amazon_roots(), &keys), &st).expect("downgrade");
    assert!(v.payload().signers.same_as(&ed_only));
    // The builder refuses ML-DSA signatures on a v1 bundle outright.
    let mut b = BundleBuilder::new(FLEET, 2, at(ISSUED), at(EXPIRES), ed_only.clone())
        .root(root_der("Amazon Root CA 3").into(), None)
        .build(&Limits::default())
        .expect("v1 bundle");
    assert!(matches!(
        b.sign(&h.ml[0]),
        Err(BundleError::Malformed {
            part: Part::AttachedSignature,
            ..
        })
    ));
    // Built as v2, the same downgrade verifies.
    let mut b = BundleBuilder::new(FLEET, 2, at(ISSUED), at(EXPIRES), ed_only.clone())
        .root(root_der("Amazon Root CA 3").into(), None)
        .format(Format::V2)
        .build(&Limits::default())
        .expect("v2 bundle");
    for k in h.ed.iter().take(2).chain(h.ml.iter().take(2)) {
        b.sign(k).expect("sign");
    }
    assert!(apply(&b.to_bytes(), &st).is_ok());
}

/// Sizes: v1 carries no `keys` and only 64-byte signatures; v2 signatures are one
/// algorithm's exact length, at most MAX_SIGNATURES of each; carried keys are bounded.
#[test]
fn v2_sizes_are_checked_before_decoding() {
    let (h, st, p) = baseline();
    let keys = carried(&h.set(2, 2));
    let good = file_v2(&p, &both(&h), &amazon_roots(), &keys);
    let mut v: Value = serde_json::from_slice(&good).expect("json");
    v["envelope"]["signatures"][2]["sig"] = json!(B64.encode([0u8; 3308]));
    assert_eq!(
        refused(&serde_json::to_vec(&v).expect("json"), &st),
        BundleError::Malformed {
            part: Part::Signature(2),
            detail: "a signature is 64 (ed25519), 3309 (ml-dsa-65) or 4627 (ml-dsa-87) bytes"
                .into()
        }
    );
    let mut v: Value = serde_json::from_slice(&good).expect("json");
    let entry = v["envelope"]["signatures"][2].clone();
    let many: Vec<Value> = (0..=MAX_SIGNATURES).map(|_| entry.clone()).collect();
    v["envelope"]["signatures"] = json!(many);
    assert_eq!(
        refused(&serde_json::to_vec(&v).expect("json"), &st),
        BundleError::TooLarge {
            limit: Limit::Signatures,
            max: MAX_SIGNATURES,
            actual: MAX_SIGNATURES + 1
        }
    );
    let mut v: Value = serde_json::from_slice(&good).expect("json");
    v["keys"][0] = json!(B64.encode([0u8; 2593]));
    assert_eq!(
        refused(&serde_json::to_vec(&v).expect("json"), &st),
        BundleError::TooLarge {
            limit: Limit::KeyBytes,
            max: 2592,
            actual: 2593
        }
    );
    // A v1 file with a `keys` member.
    let v1 = Keys::new(1);
    let mut v: Value = serde_json::from_slice(&file(
        &payload(2, &amazon_roots(), &v1.set(1)),
        &[by(&v1.keys[0])],
        &amazon_roots(),
    ))
    .expect("json");
    v["keys"] = json!([]);
    assert!(matches!(
        refused(&serde_json::to_vec(&v).expect("json"), &state(v1.set(1), 1)),
        BundleError::Malformed { part: Part::Bundle, detail } if detail.contains("no `keys`")
    ));
}

/// Each payload type reads only its own schema: a v2 payload under the v1 type is refused as
/// an unsupported schema, after the signatures, and so is a v1 payload under the v2 type.
#[test]
fn each_payload_type_reads_only_its_own_schema() {
    let (h, st, p) = baseline();
    let body = serde_json::to_vec(&p).expect("json");
    let mut v: Value = serde_json::from_slice(&file_v2(
        &p,
        &both(&h),
        &amazon_roots(),
        &carried(&h.set(2, 2)),
    ))
    .expect("json");
    v["envelope"]["payloadType"] = json!(aws_iot_roots::bundle::PAYLOAD_TYPE);
    let pae = aws_iot_roots::bundle::pae(aws_iot_roots::bundle::PAYLOAD_TYPE, &body);
    let sigs: Vec<Value> = [&h.ed[0], &h.ed[1]]
        .iter()
        .map(|k| json!({"keyid": k.public_key().key_id(), "sig": B64.encode(k.sign(&pae))}))
        .collect();
    v["envelope"]["signatures"] = json!(sigs);
    v.as_object_mut().expect("object").remove("keys");
    let ed_state = state(
        SignerSet::new(h.ed.iter().map(SigningKey::public_key).collect(), 2).expect("s"),
        1,
    );
    assert_eq!(
        refused(&serde_json::to_vec(&v).expect("json"), &ed_state),
        BundleError::UnsupportedSchema { found: 2 }
    );
    let ed_set = ed_state.signers.clone();
    let v1_body = payload(2, &amazon_roots(), &ed_set);
    assert_eq!(
        refused(&file_v2(&v1_body, &both(&h), &amazon_roots(), &[]), &st),
        BundleError::UnsupportedSchema { found: 1 }
    );
}

/// ML-DSA signatures are checked by FIPS 204 with the empty context: a signature made with a
/// non-empty context over the same PAE counts for nobody.
#[test]
fn ml_dsa_signatures_use_the_empty_context() {
    let (h, st, _) = baseline();
    // ML-DSA key 1 signs through the ml-dsa crate directly, with and without a context.
    let seed = [7u8; 32];
    let sk = ml_dsa::SigningKey::<ml_dsa::MlDsa65>::from_seed(&seed.into());
    let pk = PublicKey::from_encoded(
        Algorithm::MlDsa65,
        &ml_dsa::signature::Keypair::verifying_key(&sk).encode(),
    )
    .expect("key");
    let set = SignerSet::from_groups(vec![
        h.set(2, 2).groups()[0].clone(),
        SignerGroup::new(
            Algorithm::MlDsa65,
            vec![h.ml[0].public_key(), pk.clone()],
            2,
        )
        .expect("g"),
    ])
    .expect("set");
    let st = {
        let mut s = st.clone();
        s.signers = set.clone();
        s
    };
    let p = payload_v2(2, &amazon_roots(), &set);
    let body = serde_json::to_vec(&p).expect("json");
    let pae2 = aws_iot_roots::bundle::pae(PAYLOAD_TYPE_V2, &body);
    let with_ctx = sk
        .expanded_key()
        .sign_deterministic(&pae2, b"x")
        .expect("sign");
    let without = sk
        .expanded_key()
        .sign_deterministic(&pae2, b"")
        .expect("sign");
    let file_for = |sig: &[u8]| {
        let mut v: Value = serde_json::from_slice(&file_v2(
            &p,
            &[by(&h.ed[0]), by(&h.ed[1]), by(&h.ml[0])],
            &amazon_roots(),
            &carried(&set),
        ))
        .expect("json");
        v["envelope"]["signatures"]
            .as_array_mut()
            .expect("array")
            .push(json!({"keyid": pk.key_id(), "sig": B64.encode(sig)}));
        serde_json::to_vec(&v).expect("json")
    };
    assert_eq!(
        refused(&file_for(&with_ctx.encode()), &st),
        short(SignerRole::Current, Algorithm::MlDsa65, 2)
    );
    assert!(apply(&file_for(&without.encode()), &st).is_ok());
}

/// The largest v2 bundle the default limits allow (16 roots with the longest names, the
/// longest fleet id, 8 signer keys in three groups, one of each algorithm) still has a PAE
/// AWS KMS signs raw, for Ed25519 and ML-DSA alike.
#[test]
fn largest_hybrid_bundle_within_limits_fits_a_kms_raw_message() {
    let keys: Vec<SigningKey> = [
        (Algorithm::Ed25519, 3),
        (Algorithm::MlDsa65, 3),
        (Algorithm::MlDsa87, 2),
    ]
    .iter()
    .flat_map(|&(a, n)| (0..n).map(move |_| SigningKey::generate_with(a)))
    .collect();
    let groups = [Algorithm::Ed25519, Algorithm::MlDsa65, Algorithm::MlDsa87]
        .iter()
        .map(|&a| {
            let ks: Vec<PublicKey> = keys
                .iter()
                .filter(|k| k.algorithm() == a)
                .map(SigningKey::public_key)
                .collect();
            let t = u32::try_from(ks.len()).expect("small");
            SignerGroup::new(a, ks, t).expect("group")
        })
        .collect();
    let set = SignerSet::from_groups(groups).expect("set");
    assert_eq!(set.keys().count(), 8);
    let mut bundle = largest_builder(set.clone())
        .build(&Limits::default())
        .expect("within limits");
    assert_eq!(bundle.format(), Some(Format::V2));
    let pae = bundle.pae();
    assert!(
        pae.len() <= KMS_RAW_MESSAGE_LIMIT,
        "PAE is {} bytes",
        pae.len()
    );
    for k in &keys {
        bundle.sign(k).expect("sign");
    }
    let bytes = bundle.to_bytes();
    assert!(bytes.len() <= aws_iot_roots::bundle::MAX_BUNDLE_BYTES);
    let mut st = state(set, 1);
    st.fleet = "f".repeat(64);
    verify(&bytes, &st, at(CLOCK), &Policy::default()).expect("largest bundle verifies");
}

/// What the crate writes is what the spec says: v2 type, schema 2, groups with labels and
/// hex hashes in set order, keys carried in group order.
#[test]
fn the_builder_writes_the_documented_v2_form() {
    let h = Hybrid::new(2, 2);
    let set = h.set(1, 2);
    let bundle = BundleBuilder::new(FLEET, 2, at(ISSUED), at(EXPIRES), set.clone())
        .root(root_der("Amazon Root CA 3").into(), None)
        .build(&Limits::default())
        .expect("v2");
    let file: Value = serde_json::from_slice(&bundle.to_bytes()).expect("json");
    assert_eq!(file["envelope"]["payloadType"], json!(PAYLOAD_TYPE_V2));
    let p: Value = serde_json::from_slice(bundle.payload_bytes()).expect("json");
    assert_eq!(p["schema"], json!(2));
    assert_eq!(p["signers"], named_signers(&set));
    let carried_b64: Vec<String> = set.keys().map(PublicKey::to_base64).collect();
    assert_eq!(file["keys"], json!(carried_b64));
    assert_eq!(
        Sha256::digest(set.keys().nth(2).expect("key").as_bytes()).as_slice(),
        set.keys().nth(2).expect("key").sha256()
    );
    // Asked for v1, a hybrid set is refused before anyone signs.
    let err = BundleBuilder::new(FLEET, 2, at(ISSUED), at(EXPIRES), set)
        .root(root_der("Amazon Root CA 3").into(), None)
        .format(Format::V1)
        .build(&Limits::default())
        .expect_err("v1 cannot hold groups");
    assert!(matches!(
        err,
        BundleError::Malformed {
            part: Part::Payload,
            ..
        }
    ));
}

/// The signer-set file reads and writes the groups form, and the v1 form for a single
/// Ed25519 group (so v1 tools keep reading it).
#[test]
fn signer_set_files_round_trip_in_both_forms() {
    let h = Hybrid::new(2, 2);
    let hybrid = h.set(2, 1);
    let text = hybrid.to_json();
    assert!(text.contains("\"groups\""), "{text}");
    assert_eq!(SignerSet::from_json(text.as_bytes()), Ok(hybrid));
    let v1 = SignerSet::new(h.ed.iter().map(SigningKey::public_key).collect(), 2).expect("s");
    let text = v1.to_json();
    assert!(
        text.contains("\"threshold\"") && !text.contains("groups"),
        "{text}"
    );
    assert_eq!(SignerSet::from_json(text.as_bytes()), Ok(v1));
    // Both forms at once, or neither, is not a signer set.
    let both = br#"{"threshold": 1, "keys": [], "groups": []}"#;
    assert!(matches!(
        SignerSet::from_json(both),
        Err(KeyError::Encoding { .. })
    ));
    let wrong = json!({"groups": [{"algorithm": "ml-dsa-65", "threshold": 1,
        "keys": [B64.encode([0u8; 32])]}]});
    assert_eq!(
        SignerSet::from_json(&serde_json::to_vec(&wrong).expect("json")),
        Err(KeyError::WrongLength {
            algorithm: Algorithm::MlDsa65,
            expected: 1952,
            actual: 32,
            index: Some(0)
        })
    );
}

/// Keys survive PKCS#8 and SPKI PEM in RFC 9881's forms, and the algorithm comes from the OID.
#[test]
fn ml_dsa_keys_round_trip_through_pkcs8_and_spki() {
    for alg in [Algorithm::MlDsa65, Algorithm::MlDsa87] {
        let k = SigningKey::generate_with(alg);
        let pem = k.to_pkcs8_pem().expect("pem");
        let back = SigningKey::from_pkcs8_pem(&pem).expect("read");
        assert_eq!(back.algorithm(), alg);
        assert_eq!(back.public_key(), k.public_key());
        let spki = k.public_key().to_spki_pem().expect("spki");
        assert_eq!(PublicKey::from_spki_pem(&spki), Ok(k.public_key()));
        let sig = k.sign(b"message");
        assert_eq!(sig.len(), alg.signature_len());
        // Hedged: two signatures of one message differ.
        assert_ne!(sig, k.sign(b"message"));
    }
}

/// A device's raised key limit (`Limits::max_signer_keys`) holds at every step of v2, the
/// payload's shape and the binding of carried keys alike; the default refuses the same set.
#[test]
fn a_raised_key_limit_applies_to_v2_groups_too() {
    let current = Keys::new(1);
    let st = state(current.set(1), 1);
    let next: Vec<SigningKey> = (0..10).map(|_| SigningKey::generate()).collect();
    let mut p = payload_v2(2, &amazon_roots(), &current.set(1));
    p["signers"]["groups"][0]["keys"] = json!(next
        .iter()
        .map(|k| k.public_key().key_id())
        .collect::<Vec<_>>());
    let keys: Vec<Vec<u8>> = next
        .iter()
        .map(|k| k.public_key().as_bytes().to_vec())
        .collect();
    let file = file_v2(
        &p,
        &[by(&current.keys[0]), by(&next[0])],
        &amazon_roots(),
        &keys,
    );
    assert_eq!(
        refused(&file, &st),
        BundleError::TooLarge {
            limit: Limit::SignerKeys,
            max: 8,
            actual: 10
        }
    );
    let mut raised = Policy::default();
    raised.limits.max_signer_keys = 10;
    match verify(&file, &st, at(CLOCK), &raised) {
        Ok(aws_iot_roots::bundle::Verdict::Apply(v)) => {
            assert_eq!(v.payload().signers.keys().count(), 10)
        }
        other => panic!("{other:?}"),
    }
}

/// The shape of a v2 payload's groups, checked when it is parsed (rule 4, after the
/// signatures): a key named twice in a group, a threshold of 0 or above the group's keys, no
/// group at all, a hash that is not 64 lowercase hex, an unknown member, and a group spelled
/// as an array are each refused by name.
#[test]
fn v2_group_shapes_are_checked_in_the_payload() {
    let (h, st, p) = baseline();
    let keys = carried(&h.set(2, 2));
    let signed = |q: &Value| refused(&file_v2(q, &both(&h), &amazon_roots(), &keys), &st);
    let mut q = p.clone();
    q["signers"]["groups"][1]["keys"][2] = q["signers"]["groups"][1]["keys"][0].clone();
    assert_eq!(
        signed(&q),
        BundleError::SignerSet(KeyError::DuplicateKey { index: 2, first: 0 })
    );
    for t in [0, 4] {
        let mut q = p.clone();
        q["signers"]["groups"][0]["threshold"] = json!(t);
        assert_eq!(
            signed(&q),
            BundleError::SignerSet(KeyError::Threshold {
                threshold: t,
                distinct_keys: 3
            })
        );
    }
    let mut q = p.clone();
    q["signers"]["groups"] = json!([]);
    assert_eq!(signed(&q), BundleError::SignerSet(KeyError::NoGroups));
    let mut q = p.clone();
    let upper = q["signers"]["groups"][0]["keys"][0]
        .as_str()
        .expect("hex")
        .to_uppercase();
    q["signers"]["groups"][0]["keys"][0] = json!(upper);
    assert!(matches!(
        signed(&q),
        BundleError::Malformed { part: Part::Payload, detail }
            if detail.contains("signer key sha256") && detail.contains("64 lowercase hex")
    ));
    let mut q = p.clone();
    q["signers"]["groups"][0]["weight"] = json!(1);
    assert!(matches!(
        signed(&q),
        BundleError::Malformed { part: Part::Payload, detail } if detail.contains("weight")
    ));
    let mut q = p.clone();
    let g = q["signers"]["groups"][0].clone();
    q["signers"]["groups"][0] = json!([g["algorithm"], g["threshold"], g["keys"]]);
    assert!(matches!(
        signed(&q),
        BundleError::Malformed { part: Part::Payload, detail }
            if detail.contains("a signer group object")
    ));
}

/// The file's `keys` member is bounded before decoding: more keys than a set may hold, and
/// a key that is not base64, are refused where they are, before any signature is tried.
#[test]
fn carried_keys_are_bounded_and_decoded_before_anything_else() {
    let (h, st, p) = baseline();
    let mut keys = carried(&h.set(2, 2));
    let good = file_v2(&p, &both(&h), &amazon_roots(), &keys);
    keys.extend((0..3).map(|_| vec![0u8; 32]));
    assert_eq!(
        refused(&file_v2(&p, &both(&h), &amazon_roots(), &keys), &st),
        BundleError::TooLarge {
            limit: Limit::SignerKeys,
            max: 8,
            actual: 9
        }
    );
    let mut v: Value = serde_json::from_slice(&good).expect("json");
    v["keys"][3] = json!("not base64!");
    assert!(matches!(
        refused(&serde_json::to_vec(&v).expect("json"), &st),
        BundleError::Malformed {
            part: Part::Key(3),
            ..
        }
    ));
    // In a signer-set file, an oversized key is refused by its base64 length, undecoded.
    let text = json!({"groups": [{"algorithm": "ed25519", "threshold": 1,
        "keys": ["A".repeat(1 << 16)]}]});
    assert_eq!(
        SignerSet::from_json(&serde_json::to_vec(&text).expect("json")),
        Err(KeyError::WrongLength {
            algorithm: Algorithm::Ed25519,
            expected: 32,
            actual: (1 << 16) / 4 * 3,
            index: Some(0)
        })
    );
}

/// `Bundle::attach` (what KMS and other external signers go through) checks an ML-DSA
/// signature by the key's algorithm: the wrong length is malformed, a changed byte does not
/// verify, and a v1 bundle takes no ML-DSA signature at all.
#[test]
fn attaching_an_ml_dsa_signature_checks_it_by_the_keys_algorithm() {
    let h = Hybrid::new(1, 1);
    let build = |set: SignerSet| {
        BundleBuilder::new(FLEET, 2, at(ISSUED), at(EXPIRES), set)
            .root(root_der("Amazon Root CA 3").into(), None)
            .build(&Limits::default())
            .expect("bundle")
    };
    let mut b = build(h.set(1, 1));
    let key = h.ml[0].public_key();
    let sig = h.ml[0].sign(&b.pae());
    assert_eq!(
        b.attach(&key, &sig[..64]),
        Err(BundleError::Malformed {
            part: Part::AttachedSignature,
            detail: "an ml-dsa-65 signature is 3309 bytes".into()
        })
    );
    let mut bad = sig.clone();
    bad[100] ^= 1;
    assert_eq!(b.attach(&key, &bad), Err(BundleError::BadSignature));
    assert_eq!(b.signature_count(), 0);
    b.attach(&key, &sig).expect("attach");
    b.sign(&h.ed[0]).expect("sign");
    let st = state(h.set(1, 1), 1);
    assert!(apply(&b.to_bytes(), &st).is_ok_and(|v| v.payload().version == 2));
    let ed_only = SignerSet::new(vec![h.ed[0].public_key()], 1).expect("set");
    let mut v1 = build(ed_only);
    assert!(matches!(
        v1.attach(&key, &sig),
        Err(BundleError::Malformed { part: Part::AttachedSignature, detail })
            if detail.contains("v1 bundle carries only ed25519")
    ));
}
