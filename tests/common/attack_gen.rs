//! Generates the attack catalogue in tests/attacks/cases/ from the committed test keys.
//! Used by `examples/make_attack_cases.rs` (to write it) and `tests/attacks.rs` (to check the
//! committed catalogue is what this produces). Cases may also be added by hand.
#![allow(dead_code, unreachable_pub)]

use std::path::Path;

use aws_iot_roots::bundle::{
    Algorithm, PublicKey, SignerGroup, SignerSet, SigningKey, MAX_BUNDLE_BYTES, MAX_PAYLOAD_BYTES,
    PAYLOAD_TYPE, PAYLOAD_TYPE_V2,
};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::common::bundles::{
    by, file, file_with, hex, payload, payload_as_array, payload_v2, root_der, sha, Sig, CLOCK,
    EXPIRES, FLEET, FLOOR, ISSUED,
};

/// One case: a folder name, and the files in it.
pub struct Case {
    pub name: &'static str,
    pub case_json: Value,
    pub bundle: Vec<u8>,
}

/// An ML-DSA-65 test key, signing deterministically (FIPS 204's optional variant) so the
/// catalogue is reproducible byte for byte; devices verify hedged and deterministic alike.
pub struct MlKey {
    pub public: PublicKey,
    secret: ml_dsa::SigningKey<ml_dsa::MlDsa65>,
}

impl MlKey {
    fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.secret
            .expanded_key()
            .sign_deterministic(message, &[])
            .expect("sign")
            .encode()
            .to_vec()
    }
}

/// m1..m3.pem: RFC 9881 seed-form PKCS#8, written by pyca/cryptography 48.
pub fn load_ml_keys(dir: &Path) -> Vec<MlKey> {
    use ml_dsa::pkcs8::DecodePrivateKey as _;
    (1..=3)
        .map(|i| {
            let pem = std::fs::read_to_string(dir.join(format!("m{i}.pem"))).expect("test key");
            MlKey {
                public: SigningKey::from_pkcs8_pem(&pem)
                    .expect("PKCS#8")
                    .public_key(),
                secret: ml_dsa::SigningKey::from_pkcs8_pem(&pem).expect("PKCS#8"),
            }
        })
        .collect()
}

/// Who makes one signature entry of a hybrid case, and the keyid written next to it.
enum By<'a> {
    Ed(&'a SigningKey),
    Ml(&'a MlKey),
    /// A signature by the first, filed under the second's key id.
    Misfiled(&'a MlKey, &'a SigningKey),
    /// The same, under another ML-DSA key's id.
    MisfiledMl(&'a MlKey, &'a MlKey),
}

/// A v2 file for exactly these payload bytes, entries, certificates and carried keys.
fn v2_file(payload: &Value, sigs: &[By<'_>], certs: &[Vec<u8>], keys: &[&PublicKey]) -> Vec<u8> {
    let body = serde_json::to_vec(payload).expect("json");
    let pae = aws_iot_roots::bundle::pae(PAYLOAD_TYPE_V2, &body);
    let entry = |keyid: String, sig: Vec<u8>| json!({ "keyid": keyid, "sig": B64.encode(sig) });
    let signatures: Vec<Value> = sigs
        .iter()
        .map(|s| match s {
            By::Ed(k) => entry(k.public_key().key_id(), k.sign(&pae)),
            By::Ml(k) => entry(k.public.key_id(), k.sign(&pae)),
            By::Misfiled(k, other) => entry(other.public_key().key_id(), k.sign(&pae)),
            By::MisfiledMl(k, other) => entry(other.public.key_id(), k.sign(&pae)),
        })
        .collect();
    serde_json::to_vec(&json!({
        "envelope": {"payloadType": PAYLOAD_TYPE_V2, "payload": B64.encode(&body), "signatures": signatures},
        "certificates": certs.iter().map(|c| B64.encode(c)).collect::<Vec<_>>(),
        "keys": keys.iter().map(|k| k.to_base64()).collect::<Vec<_>>(),
    }))
    .expect("json")
}

pub fn load_keys(dir: &Path) -> Vec<SigningKey> {
    (1..=4)
        .map(|i| {
            let pem = std::fs::read_to_string(dir.join(format!("k{i}.pem"))).expect("test key");
            SigningKey::from_pkcs8_pem(&pem).expect("PKCS#8")
        })
        .collect()
}

/// The state's `signers`: the signer-set file's form (v1, or groups).
fn set_json(set: &SignerSet) -> Value {
    serde_json::from_str(&set.to_json()).expect("json")
}

struct Ctx {
    keys: Vec<SigningKey>,
    set: SignerSet,
}

impl Ctx {
    fn state(&self, version: u64) -> Value {
        json!({ "fleet": FLEET, "version": version, "time_floor": crate::common::rfc3339(FLOOR), "signers": set_json(&self.set), "payload_sha256": null })
    }
    fn payload(&self, version: u64) -> Value {
        payload(version, &amazon(), &self.set)
    }
    fn two(&self) -> [Sig<'_>; 2] {
        [by(&self.keys[0]), by(&self.keys[1])]
    }
}

fn amazon() -> Vec<Vec<u8>> {
    vec![root_der("Amazon Root CA 1"), root_der("Amazon Root CA 3")]
}

fn refused(rule: &str, error: &str) -> Value {
    json!({ "outcome": "refused", "rule": rule, "error_contains": error })
}

fn case(
    name: &'static str,
    description: &str,
    state: Value,
    clock: u64,
    expect: Value,
    bundle: Vec<u8>,
) -> Case {
    Case {
        name,
        case_json: json!({ "description": description, "clock": crate::common::rfc3339(clock), "state": state, "expect": expect }),
        bundle,
    }
}

fn edit(bundle: &[u8], f: impl FnOnce(&mut Value)) -> Vec<u8> {
    let mut v: Value = serde_json::from_slice(bundle).expect("json");
    f(&mut v);
    serde_json::to_vec(&v).expect("json")
}

pub fn cases(keys: Vec<SigningKey>, ml: Vec<MlKey>, testdata: &Path) -> Vec<Case> {
    let set =
        SignerSet::new(keys[..3].iter().map(SigningKey::public_key).collect(), 2).expect("set");
    let c = Ctx { keys, set };
    let pem_der = |rel: &str| {
        let bytes = std::fs::read(testdata.join(rel)).expect("testdata");
        rustls_pki_types::pem::PemObject::from_pem_slice(&bytes)
            .map(|d: rustls_pki_types::CertificateDer<'static>| d.to_vec())
            .expect("pem")
    };
    let valid = file(&c.payload(2), &c.two(), &amazon());
    let mut out = Vec::new();

    out.push(case("valid-baseline", "A 2-of-3 signed bundle, version 2 over Amazon Root CA 1 and 3, offered to a device at version 1.", c.state(1), CLOCK, json!({ "outcome": "accepted" }), valid.clone()));
    let active_sha = {
        let v: Value = serde_json::from_slice(&valid).expect("json");
        let p = B64
            .decode(v["envelope"]["payload"].as_str().expect("payload"))
            .expect("b64");
        hex(&Sha256::digest(p))
    };
    let mut st = c.state(2);
    st["payload_sha256"] = json!(active_sha);
    out.push(case(
        "already-active",
        "The active bundle offered again: a no-op.",
        st.clone(),
        CLOCK,
        json!({ "outcome": "already_active" }),
        valid.clone(),
    ));
    let mut other = c.payload(2);
    other["roots"] = json!([{ "sha256": sha(&root_der("Amazon Root CA 3")) }]);
    out.push(case(
        "equal-version-other-payload",
        "Version 2 again with a different payload.",
        st,
        CLOCK,
        refused("version", "version conflict"),
        file(&other, &c.two(), &[root_der("Amazon Root CA 3")]),
    ));

    let mut p = c.payload(5);
    p["version"] = json!(5);
    out.push(case(
        "rollback",
        "Version 5 offered to a device at version 7.",
        c.state(7),
        CLOCK,
        refused("version", "rollback: offered 5, current 7"),
        file(&p, &c.two(), &amazon()),
    ));
    let mut p = c.payload(1_000_000);
    p["version"] = json!(1_000_000u64);
    out.push(case(
        "fast-forward-below-threshold",
        "A far-ahead version signed by one compromised key of 2-of-3.",
        c.state(1),
        CLOCK,
        refused("current_signatures", "fewer than 2"),
        file(&p, &[by(&c.keys[0])], &amazon()),
    ));
    let mut p = c.payload(2);
    p["version"] = json!(u64::MAX);
    out.push(case(
        "fast-forward-last-version",
        "Version 2^64-1, properly signed: nothing could follow it.",
        c.state(1),
        CLOCK,
        refused("version", "fast-forward"),
        file(&p, &c.two(), &amazon()),
    ));

    let mut p = c.payload(2);
    p["fleet"] = json!("acme-staging");
    out.push(case(
        "replay-across-fleets",
        "A valid bundle of another fleet (same release keys).",
        c.state(1),
        CLOCK,
        refused("fleet", "wrong fleet"),
        file(&p, &c.two(), &amazon()),
    ));

    out.push(case(
        "expired",
        "The valid bundle, offered after its expires_at.",
        c.state(1),
        EXPIRES + 1,
        refused("time", "expired"),
        valid.clone(),
    ));
    let mut p = c.payload(2);
    p["issued_at"] = json!(crate::common::rfc3339(CLOCK + 2 * 86_400));
    out.push(case(
        "future-dated",
        "Issued two days after the device's clock (tolerance: one hour).",
        c.state(1),
        CLOCK,
        refused("time", "issued in the future"),
        file(&p, &c.two(), &amazon()),
    ));
    let mut st = c.state(1);
    st["time_floor"] = json!(crate::common::rfc3339(ISSUED));
    out.push(case("clock-stepped-back", "The device clock reads 2020, behind its floor: trusted time is the floor; accepted and flagged.", st, 1_577_836_800, json!({ "outcome": "accepted", "clock_behind_floor": true }), valid.clone()));
    let mut st = c.state(1);
    st["time_floor"] = json!(crate::common::rfc3339(EXPIRES + 86_400));
    out.push(case(
        "clock-stepped-back-expired",
        "The clock was set back to before expiry, but the floor is past it: still expired.",
        st,
        CLOCK,
        refused("time", "expired"),
        valid.clone(),
    ));

    out.push(case(
        "unsigned",
        "No signature at all.",
        c.state(1),
        CLOCK,
        refused("current_signatures", "fewer than 2"),
        file(&c.payload(2), &[], &amazon()),
    ));
    out.push(case(
        "duplicate-signatures",
        "One key's signature three times (tough CVE-2020-15093).",
        c.state(1),
        CLOCK,
        refused("current_signatures", "fewer than 2"),
        file(
            &c.payload(2),
            &[by(&c.keys[0]), by(&c.keys[0]), by(&c.keys[0])],
            &amazon(),
        ),
    ));
    let id2 = c.keys[1].public_key().key_id();
    out.push(case(
        "one-key-two-key-ids",
        "One key's signature under its own and another key's id (GHSA-8m7c-8m39-rv4x).",
        c.state(1),
        CLOCK,
        refused("current_signatures", "fewer than 2"),
        file(
            &c.payload(2),
            &[
                by(&c.keys[0]),
                Sig {
                    key: &c.keys[0],
                    keyid: Some(id2),
                },
            ],
            &amazon(),
        ),
    ));
    let spliced = {
        let mut p3 = c.payload(3);
        p3["version"] = json!(3);
        let other = file(&p3, &[by(&c.keys[1])], &amazon());
        let other: Value = serde_json::from_slice(&other).expect("json");
        edit(&valid, |v| {
            v["envelope"]["signatures"][1] = other["envelope"]["signatures"][0].clone()
        })
    };
    out.push(case(
        "signature-over-other-payload",
        "A genuine signature by key 2, but over another payload, spliced in.",
        c.state(1),
        CLOCK,
        refused("current_signatures", "fewer than 2"),
        spliced,
    ));
    let new_set = SignerSet::new(
        vec![
            c.keys[1].public_key(),
            c.keys[2].public_key(),
            c.keys[3].public_key(),
        ],
        2,
    )
    .expect("set");
    let mut st = c.state(3);
    st["signers"] = set_json(&new_set);
    let mut p = payload(4, &amazon(), &c.set);
    p["version"] = json!(4);
    out.push(case(
        "rotated-out-keys",
        "After k1 was rotated out for k4, k1 and k2 sign: k1 no longer counts.",
        st,
        CLOCK,
        refused("current_signatures", "fewer than 2"),
        file(&p, &c.two(), &amazon()),
    ));
    let p = payload(2, &amazon(), &new_set);
    out.push(case("rotation-without-new-keys", "A new signer set signed only by old keys (the new set's k4 did not sign; k2 alone is 1 of 2).", c.state(1), CLOCK, refused("signer_rotation", "new signer set"), file(&p, &[by(&c.keys[0]), by(&c.keys[1])], &amazon())));
    out.push(case(
        "rotation-accepted",
        "A new signer set signed by 2 old keys and 2 new keys.",
        c.state(1),
        CLOCK,
        json!({ "outcome": "accepted" }),
        file(
            &p,
            &[by(&c.keys[0]), by(&c.keys[1]), by(&c.keys[3])],
            &amazon(),
        ),
    ));

    out.push(case(
        "oversized-bundle",
        "One byte over the 512 KiB file limit.",
        c.state(1),
        CLOCK,
        refused("sizes", "the bundle file is 524289 bytes"),
        vec![b' '; MAX_BUNDLE_BYTES + 1],
    ));
    out.push(case(
        "oversized-payload",
        "A payload one byte over what keeps the PAE KMS-signable.",
        c.state(1),
        CLOCK,
        refused("sizes", "the payload is 4037 bytes"),
        file_with(
            PAYLOAD_TYPE,
            &vec![b' '; MAX_PAYLOAD_BYTES + 1],
            &c.two(),
            &amazon(),
        ),
    ));
    let sigs: Vec<Sig<'_>> = (0..17).map(|i| by(&c.keys[i % 3])).collect();
    out.push(case(
        "too-many-signatures",
        "17 signature entries (limit 16).",
        c.state(1),
        CLOCK,
        refused("sizes", "the signature list is 17 entries"),
        file(&c.payload(2), &sigs, &amazon()),
    ));
    out.push(case(
        "malformed-base64",
        "The payload field is not base64.",
        c.state(1),
        CLOCK,
        refused("sizes", "malformed envelope payload"),
        edit(&valid, |v| v["envelope"]["payload"] = json!("%%%")),
    ));
    out.push(case(
        "malformed-json",
        "Not JSON.",
        c.state(1),
        CLOCK,
        refused("sizes", "malformed bundle"),
        b"{\"envelope\": [".to_vec(),
    ));
    let mut trailing = valid.clone();
    trailing.extend_from_slice(b"{}");
    out.push(case(
        "trailing-data",
        "A valid bundle followed by more JSON.",
        c.state(1),
        CLOCK,
        refused("sizes", "trailing"),
        trailing,
    ));
    let mut p = c.payload(2);
    p["note"] = json!("hello");
    out.push(case(
        "unknown-field",
        "An unknown payload field (signed).",
        c.state(1),
        CLOCK,
        refused("payload", "unknown field"),
        file(&p, &c.two(), &amazon()),
    ));
    let text = serde_json::to_string(&c.payload(2))
        .expect("json")
        .replacen(
            "\"fleet\":\"acme-prod\"",
            "\"fleet\":\"acme-prod\",\"fleet\":\"acme-prod\"",
            1,
        );
    out.push(case(
        "duplicate-field",
        "The fleet field twice in the payload (signed).",
        c.state(1),
        CLOCK,
        refused("payload", "duplicate field"),
        file_with(PAYLOAD_TYPE, text.as_bytes(), &c.two(), &amazon()),
    ));
    let body = serde_json::to_vec(&c.payload(2)).expect("json");
    out.push(case(
        "wrong-payload-type",
        "A properly signed payload of another type.",
        c.state(1),
        CLOCK,
        refused("payload_type", "payloadType"),
        file_with(
            "application/vnd.aws-iot-roots.bundle.v3+json",
            &body,
            &c.two(),
            &amazon(),
        ),
    ));
    out.push(case(
        "v1-schema-under-v2-type",
        "A properly signed schema-1 payload under the v2 payload type: each type reads only \
         its own schema.",
        c.state(1),
        CLOCK,
        refused("payload", "payload schema 1"),
        file_with(PAYLOAD_TYPE_V2, &body, &c.two(), &amazon()),
    ));
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let mut p = c.payload(2);
    p["signers"]["keys"][2] = json!(B64.encode(identity));
    out.push(case(
        "weak-key",
        "The next signer set names a small-order key.",
        c.state(1),
        CLOCK,
        refused("payload", "weak"),
        file(&p, &c.two(), &amazon()),
    ));
    let mut p = c.payload(2);
    p["signers"]["threshold"] = json!(0);
    out.push(case(
        "threshold-zero",
        "The next signer set needs zero signatures.",
        c.state(1),
        CLOCK,
        refused("payload", "threshold 0"),
        file(&p, &c.two(), &amazon()),
    ));

    let leaf = pem_der(
        "aws-chains/iot_eu-central-1_m04_2025/0_leaf_star.iot.eu-central-1.amazonaws.com.pem",
    );
    out.push(case(
        "non-ca-root",
        "A server certificate offered as a root.",
        c.state(1),
        CLOCK,
        refused("roots", "not a CA"),
        file(
            &payload(2, std::slice::from_ref(&leaf), &c.set),
            &c.two(),
            &[leaf],
        ),
    ));
    let p224 = pem_der("build/p224-root.pem");
    out.push(case(
        "unsupported-key",
        "A P-224 root, a key rustls cannot use.",
        c.state(1),
        CLOCK,
        refused("roots", "key rustls cannot use"),
        file(
            &payload(2, std::slice::from_ref(&p224), &c.set),
            &c.two(),
            &[p224],
        ),
    ));
    let mut extra = amazon();
    extra.push(root_der("Amazon Root CA 2"));
    out.push(case(
        "unlisted-certificate",
        "A certificate the signed payload does not list.",
        c.state(1),
        CLOCK,
        refused("roots", "not listed"),
        file(&c.payload(2), &c.two(), &extra),
    ));
    out.push(case(
        "missing-certificate",
        "A listed root without its certificate.",
        c.state(1),
        CLOCK,
        refused("roots", "has no certificate"),
        file(&c.payload(2), &c.two(), &[root_der("Amazon Root CA 1")]),
    ));
    let cross = pem_der("aws-chains/crosssign/Amazon_Root_CA_1__by__SFS_G2.pem");
    out.push(case(
        "swapped-certificate-same-subject",
        "Amazon Root CA 1 swapped for its cross-signed twin (same subject and key).",
        c.state(1),
        CLOCK,
        refused("roots", "not listed"),
        file(
            &c.payload(2),
            &c.two(),
            &[cross.clone(), root_der("Amazon Root CA 3")],
        ),
    ));
    let mut dup = amazon();
    dup.push(root_der("Amazon Root CA 3"));
    out.push(case(
        "duplicate-certificate",
        "One certificate carried twice.",
        c.state(1),
        CLOCK,
        refused("roots", "listed twice"),
        file(&c.payload(2), &c.two(), &dup),
    ));
    let same_key = vec![root_der("Amazon Root CA 1"), cross];
    out.push(case(
        "duplicate-root-spki",
        "Two listed roots with one public key.",
        c.state(1),
        CLOCK,
        refused("roots", "share one public key"),
        file(&payload(2, &same_key, &c.set), &c.two(), &same_key),
    ));
    let mut p = c.payload(2);
    p["roots"] = json!([]);
    out.push(case(
        "empty-root-set",
        "No roots: a bundle must never empty a trust store.",
        c.state(1),
        CLOCK,
        refused("roots", "no root"),
        file(&p, &c.two(), &[]),
    ));
    let ca1 = vec![root_der("Amazon Root CA 1")];
    let mut p = payload(2, &ca1, &c.set);
    p["issued_at"] = json!("2038-06-01T00:00:00Z");
    p["expires_at"] = json!("2039-06-01T00:00:00Z");
    out.push(case(
        "no-root-valid",
        "Every root has expired at trusted time (CA 1 ends 2038-01-17).",
        c.state(1),
        2_159_049_600,
        refused("roots", "no root is valid"),
        file(&p, &c.two(), &ca1),
    ));

    // Issue 11: identity is one signer, one key, one encoding; objects are objects.
    let mut p = c.payload(2);
    p["signers"]["keys"][1] = json!(B64.encode(crate::common::bundles::torsioned_twin(
        &c.keys[0].public_key()
    )));
    out.push(case("torsioned-twin-key", "The next signer set holds k1 and k1 + T (T of order 8): one secret signs for both, so it would cast two votes.", c.state(1), CLOCK, refused("payload", "torsion"), file(&p, &c.two(), &amazon())));
    let mut p = c.payload(2);
    p["signers"]["keys"][2] = p["signers"]["keys"][0].clone();
    out.push(case(
        "duplicate-signer-key",
        "The next signer set lists one key twice.",
        c.state(1),
        CLOCK,
        refused("payload", "repeats key #0"),
        file(&p, &c.two(), &amazon()),
    ));
    let v: Value = serde_json::from_slice(&valid).expect("json");
    let env = v["envelope"].clone();
    out.push(case(
        "array-bundle",
        "The bundle file spelled as a JSON array of its members.",
        c.state(1),
        CLOCK,
        refused("sizes", "expected the bundle object"),
        serde_json::to_vec(&json!([env, v["certificates"]])).expect("json"),
    ));
    out.push(case(
        "array-envelope",
        "The envelope spelled as a JSON array.",
        c.state(1),
        CLOCK,
        refused("sizes", "expected the envelope object"),
        edit(&valid, |v| {
            v["envelope"] = json!([env["payloadType"], env["payload"], env["signatures"]])
        }),
    ));
    out.push(case(
        "array-signature",
        "A signature entry spelled as a JSON array.",
        c.state(1),
        CLOCK,
        refused("sizes", "expected a signature object"),
        edit(&valid, |v| {
            let s0 = v["envelope"]["signatures"][0].clone();
            v["envelope"]["signatures"][0] = json!([s0["keyid"], s0["sig"]]);
        }),
    ));
    out.push(case(
        "null-keyid",
        "A signature entry with \"keyid\": null (absent is allowed, null is not).",
        c.state(1),
        CLOCK,
        refused("sizes", "invalid type: null"),
        edit(&valid, |v| {
            v["envelope"]["signatures"][0]["keyid"] = Value::Null
        }),
    ));
    let p = c.payload(2);
    let as_array = payload_as_array(&p);
    out.push(case(
        "array-payload",
        "The signed payload spelled as a JSON array of its members.",
        c.state(1),
        CLOCK,
        refused("payload", "expected the payload object"),
        file_with(
            PAYLOAD_TYPE,
            &serde_json::to_vec(&as_array).expect("json"),
            &c.two(),
            &amazon(),
        ),
    ));
    let mut p = c.payload(2);
    p["roots"][0] = json!([p["roots"][0]["sha256"], "Amazon Root CA 1"]);
    out.push(case(
        "array-root-entry",
        "A root entry spelled as a JSON array.",
        c.state(1),
        CLOCK,
        refused("payload", "expected a root object"),
        file(&p, &c.two(), &amazon()),
    ));
    let mut p = c.payload(2);
    p["signers"] = json!([p["signers"]["threshold"], p["signers"]["keys"]]);
    out.push(case(
        "array-signers",
        "The next signer set spelled as a JSON array.",
        c.state(1),
        CLOCK,
        refused("payload", "expected the signers object"),
        file(&p, &c.two(), &amazon()),
    ));
    let mut p = c.payload(2);
    p["roots"][0]["name"] = Value::Null;
    out.push(case(
        "null-root-name",
        "A root entry with \"name\": null (absent is allowed, null is not).",
        c.state(1),
        CLOCK,
        refused("payload", "invalid type: null"),
        file(&p, &c.two(), &amazon()),
    ));
    let ca3 = root_der("Amazon Root CA 3");
    let twin = crate::common::compressed_point_twin(&ca3);
    let certs = vec![ca3.clone(), twin];
    out.push(case("same-key-compressed-point", "Amazon Root CA 3 twice: as issued, and re-encoded with its P-256 point compressed (one key, two certificates).", c.state(1), CLOCK, refused("roots", "key rustls cannot use"), file(&payload(2, &certs, &c.set), &c.two(), &certs)));
    let certs = vec![crate::common::rsa_without_null_parameters(&root_der(
        "Amazon Root CA 1",
    ))];
    out.push(case(
        "rsa-parameters-absent",
        "Amazon Root CA 1 re-encoded without the NULL parameters of its RSA key.",
        c.state(1),
        CLOCK,
        refused("roots", "key rustls cannot use"),
        file(&payload(2, &certs, &c.set), &c.two(), &certs),
    ));
    let mut p = payload(2, &ca1, &c.set);
    p["issued_at"] = json!("2038-01-16T00:00:00Z");
    p["expires_at"] = json!("2038-02-01T00:00:00Z");
    let at_not_after = file(&p, &c.two(), &ca1);
    out.push(case("root-valid-at-its-not-after-second", "Amazon Root CA 1 alone, at exactly its notAfter (2038-01-17T00:00:00Z): RFC 5280 counts that second as valid.", c.state(1), 2_147_299_200, json!({ "outcome": "accepted" }), at_not_after.clone()));
    out.push(case(
        "root-expired-one-second-after-not-after",
        "The same bundle one second after CA 1's notAfter.",
        c.state(1),
        2_147_299_201,
        refused("roots", "no root is valid"),
        at_not_after,
    ));
    hybrid_cases(&c, &ml, &mut out);
    out
}

/// Writes the cases as folders under `dir`.
pub fn write(cases: &[Case], dir: &Path) {
    for c in cases {
        let d = dir.join(c.name);
        std::fs::create_dir_all(&d).expect("mkdir");
        let mut json = serde_json::to_vec_pretty(&c.case_json).expect("json");
        json.push(b'\n');
        std::fs::write(d.join("case.json"), json).expect("write");
        std::fs::write(d.join("bundle.json"), &c.bundle).expect("write");
    }
}

/// Format v2: hybrid signer sets (Ed25519 k1-k3 2-of-3 AND ML-DSA-65 m1-m3 2-of-3).
fn hybrid_cases(c: &Ctx, ml: &[MlKey], out: &mut Vec<Case>) {
    let ed_group = c.set.groups()[0].clone();
    let ml_group = SignerGroup::new(
        Algorithm::MlDsa65,
        ml.iter().map(|k| k.public.clone()).collect(),
        2,
    )
    .expect("group");
    let hybrid = SignerSet::from_groups(vec![ed_group, ml_group]).expect("hybrid");
    let carried: Vec<&PublicKey> = hybrid.keys().collect();
    let state = |version: u64, set: &SignerSet| json!({ "fleet": FLEET, "version": version, "time_floor": crate::common::rfc3339(FLOOR), "signers": set_json(set), "payload_sha256": null });
    let hs = state(1, &hybrid);
    let p = payload_v2(2, &amazon(), &hybrid);
    let (k, m) = (&c.keys, ml);
    let all = [By::Ed(&k[0]), By::Ed(&k[1]), By::Ml(&m[0]), By::Ml(&m[1])];
    out.push(case(
        "hybrid-valid",
        "A v2 bundle signed 2-of-3 Ed25519 AND 2-of-3 ML-DSA-65, offered to a hybrid device.",
        hs.clone(),
        CLOCK,
        json!({ "outcome": "accepted" }),
        v2_file(&p, &all, &amazon(), &carried),
    ));
    out.push(case(
        "hybrid-one-group-short",
        "All three Ed25519 keys sign, but only one ML-DSA-65 key: every group is required.",
        hs.clone(),
        CLOCK,
        refused(
            "current_signatures",
            "fewer than 2 distinct ml-dsa-65 keys of the current",
        ),
        v2_file(
            &p,
            &[By::Ed(&k[0]), By::Ed(&k[1]), By::Ed(&k[2]), By::Ml(&m[0])],
            &amazon(),
            &carried,
        ),
    ));
    let stranger = &c.keys[3];
    let mut swapped = carried.clone();
    let sk = stranger.public_key();
    swapped[0] = &sk;
    out.push(case(
        "hybrid-key-swapped",
        "A carried key replaced by another: the payload binds each key by its SHA-256.",
        hs.clone(),
        CLOCK,
        refused("signer_rotation", "which the bundle file does not carry"),
        v2_file(&p, &all, &amazon(), &swapped),
    ));
    let mut extra = carried.clone();
    extra.push(&sk);
    out.push(case(
        "hybrid-extra-key-carried",
        "A key the payload does not name carried beside the named ones: nothing unsigned may \
         add key material.",
        hs.clone(),
        CLOCK,
        refused("signer_rotation", "that the payload does not name"),
        v2_file(&p, &all, &amazon(), &extra),
    ));
    out.push(case(
        "hybrid-signature-under-another-keyid",
        "A valid ML-DSA-65 signature by m3 filed under m2's key id, beside m1's: in v2 a keyid \
         binds its entry to one key, so m3's signature counts for nobody.",
        hs.clone(),
        CLOCK,
        refused("current_signatures", "ml-dsa-65 keys of the current"),
        v2_file(
            &p,
            &[
                By::Ed(&k[0]),
                By::Ed(&k[1]),
                By::Ml(&m[0]),
                By::MisfiledMl(&m[2], &m[1]),
            ],
            &amazon(),
            &carried,
        ),
    ));
    let mut relabelled: Value =
        serde_json::from_slice(&v2_file(&p, &all, &amazon(), &carried)).expect("json");
    let mut q = p.clone();
    q["signers"]["groups"][1]["algorithm"] = json!("ml-dsa-87");
    relabelled["envelope"]["payload"] = json!(B64.encode(serde_json::to_vec(&q).expect("json")));
    out.push(case(
        "hybrid-algorithm-label-changed",
        "ml-dsa-65 relabelled ml-dsa-87 after signing: the label is signed.",
        hs.clone(),
        CLOCK,
        refused("current_signatures", "ed25519 keys of the current"),
        serde_json::to_vec(&relabelled).expect("json"),
    ));
    out.push(case(
        "hybrid-ml-dsa-signature-in-ed25519-slot",
        "An ML-DSA-65 signature filed under an Ed25519 key's id counts for nobody.",
        hs.clone(),
        CLOCK,
        refused("current_signatures", "ed25519 keys of the current"),
        v2_file(
            &p,
            &[
                By::Ed(&k[0]),
                By::Misfiled(&m[2], &k[1]),
                By::Ml(&m[0]),
                By::Ml(&m[1]),
            ],
            &amazon(),
            &carried,
        ),
    ));
    let pd = payload_v2(2, &amazon(), &c.set);
    let ed_only: Vec<&PublicKey> = c.set.keys().collect();
    out.push(case(
        "hybrid-downgrade-ed25519-signed",
        "A v2 bundle to an Ed25519-only set signed only by Ed25519 keys: a downgrade needs the \
         hybrid threshold.",
        hs.clone(),
        CLOCK,
        refused("current_signatures", "ml-dsa-65 keys of the current"),
        v2_file(&pd, &[By::Ed(&k[0]), By::Ed(&k[1])], &amazon(), &ed_only),
    ));
    out.push(case(
        "hybrid-downgrade-v1-bundle",
        "A v1 bundle (which cannot carry ML-DSA signatures) offered to a hybrid device.",
        hs.clone(),
        CLOCK,
        refused("current_signatures", "ml-dsa-65 keys of the current"),
        file(&c.payload(2), &c.two(), &amazon()),
    ));
    let mut q = p.clone();
    let shared = q["signers"]["groups"][0]["keys"][0].clone();
    q["signers"]["groups"][1]["keys"][2] = shared;
    out.push(case(
        "hybrid-one-secret-in-two-groups",
        "The next set names one Ed25519 key in both groups, so one secret would count twice.",
        hs.clone(),
        CLOCK,
        refused("payload", "is in both the ed25519 and the ml-dsa-65 group"),
        v2_file(&q, &all, &amazon(), &carried),
    ));
    let v1s = state(1, &c.set);
    let migrate = [By::Ed(&k[0]), By::Ed(&k[1]), By::Ml(&m[0]), By::Ml(&m[1])];
    out.push(case(
        "hybrid-migration-from-v1",
        "A v1 device (Ed25519 2-of-3) takes a v2 bundle, signed by its threshold and both new \
         groups', whose next set is hybrid.",
        v1s.clone(),
        CLOCK,
        json!({ "outcome": "accepted" }),
        v2_file(&p, &migrate, &amazon(), &carried),
    ));
    out.push(case(
        "hybrid-migration-missing-new-group",
        "The same migration without the new ML-DSA-65 group's signatures.",
        v1s,
        CLOCK,
        refused("signer_rotation", "ml-dsa-65 keys of the new"),
        v2_file(&p, &[By::Ed(&k[0]), By::Ed(&k[1])], &amazon(), &carried),
    ));
}
