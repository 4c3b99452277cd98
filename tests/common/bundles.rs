//! Builds bundles for tests, independently of the library's serializer where a test needs to
//! say exactly which bytes go where.
#![allow(dead_code, unreachable_pub)]

use std::time::Duration;

use aws_iot_roots::bundle::{
    pae, Algorithm, Policy, PublicKey, SignerGroup, SignerSet, SigningKey, TrustState,
    PAYLOAD_TYPE, PAYLOAD_TYPE_V2,
};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use rustls_pki_types::UnixTime;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

pub const FLEET: &str = "acme-prod";

pub fn at(secs: u64) -> UnixTime {
    UnixTime::since_unix_epoch(Duration::from_secs(secs))
}

/// Fixed times (never the wall clock): floor 2026-12-01, issued 2027-01-01, clock
/// 2027-01-02, expiry 2028-01-01.
pub const FLOOR: u64 = 1_796_083_200;
pub const ISSUED: u64 = 1_798_761_600;
pub const CLOCK: u64 = 1_798_848_000;
pub const EXPIRES: u64 = 1_830_297_600;

/// The one hex helper of the tests (common::hex), here too for `use bundles::*`.
pub(crate) use crate::common::hex;

pub fn sha(der: &[u8]) -> String {
    hex(&Sha256::digest(der))
}

pub fn root_der(name: &str) -> Vec<u8> {
    aws_iot_roots::ROOTS
        .iter()
        .find(|r| r.name == name)
        .unwrap_or_else(|| panic!("{name} not compiled in"))
        .der
        .to_vec()
}

pub fn amazon_roots() -> Vec<Vec<u8>> {
    ["Amazon Root CA 1", "Amazon Root CA 3"]
        .iter()
        .map(|n| root_der(n))
        .collect()
}

pub struct Keys {
    pub keys: Vec<SigningKey>,
}

impl Keys {
    pub fn new(n: usize) -> Self {
        Self {
            keys: (0..n).map(|_| SigningKey::generate()).collect(),
        }
    }
    pub fn public(&self) -> Vec<PublicKey> {
        self.keys.iter().map(SigningKey::public_key).collect()
    }
    pub fn set(&self, threshold: u32) -> SignerSet {
        SignerSet::new(self.public(), threshold).expect("signer set")
    }
}

pub fn state(signers: SignerSet, version: u64) -> TrustState {
    let mut st = TrustState::initial(FLEET, signers);
    st.version = version;
    st.time_floor = at(FLOOR);
    st
}

pub fn policy() -> Policy {
    Policy::default()
}

/// A payload as JSON `Value`, to be edited by tests before serializing.
/// A certificate's fingerprint, as refusals carry it.
pub fn fp(der: &[u8]) -> aws_iot_roots::bundle::Fingerprint {
    aws_iot_roots::bundle::Fingerprint(Sha256::digest(der).into())
}

pub fn payload(version: u64, roots: &[Vec<u8>], signers: &SignerSet) -> Value {
    json!({
        "schema": 1,
        "fleet": FLEET,
        "version": version,
        "issued_at": "2027-01-01T00:00:00Z",
        "expires_at": "2028-01-01T00:00:00Z",
        "roots": roots.iter().map(|d| json!({"sha256": sha(d)})).collect::<Vec<_>>(),
        "signers": {
            "threshold": signers.v1_group().expect("a v1 set").threshold(),
            "keys": signers.keys().map(|k| k.to_base64()).collect::<Vec<_>>(),
        },
    })
}

/// The payload's member values as a JSON array, in the spec's member order: the spelling
/// serde would read as the same struct, which the format refuses.
pub fn payload_as_array(p: &Value) -> Value {
    let members = [
        "schema",
        "fleet",
        "version",
        "issued_at",
        "expires_at",
        "roots",
        "signers",
    ];
    json!(members.iter().map(|m| p[*m].clone()).collect::<Vec<_>>())
}

/// One signature entry: who signs, and the keyid written next to it.
pub struct Sig<'a> {
    pub key: &'a SigningKey,
    pub keyid: Option<String>,
}

pub fn by(key: &SigningKey) -> Sig<'_> {
    Sig { key, keyid: None }
}

/// The bundle file for exactly these payload bytes, type, signers and certificates.
pub fn file_with(
    payload_type: &str,
    payload: &[u8],
    sigs: &[Sig<'_>],
    certs: &[Vec<u8>],
) -> Vec<u8> {
    let pae = pae(payload_type, payload);
    let signatures: Vec<Value> = sigs
        .iter()
        .map(|s| {
            json!({
                "keyid": s.keyid.clone().unwrap_or_else(|| s.key.public_key().key_id()),
                "sig": B64.encode(s.key.sign(&pae)),
            })
        })
        .collect();
    serde_json::to_vec(&json!({
        "envelope": {"payloadType": payload_type, "payload": B64.encode(payload), "signatures": signatures},
        "certificates": certs.iter().map(|c| B64.encode(c)).collect::<Vec<_>>(),
    }))
    .expect("json")
}

pub fn file(payload: &Value, sigs: &[Sig<'_>], certs: &[Vec<u8>]) -> Vec<u8> {
    file_with(
        PAYLOAD_TYPE,
        &serde_json::to_vec(payload).expect("json"),
        sigs,
        certs,
    )
}

/// A self-signed CA (certificate and key), for tests that need a root of their own.
pub type ScratchCa = rcgen::CertifiedIssuer<'static, rcgen::KeyPair>;

/// A self-signed CA, for tests that need a root of their own.
pub fn scratch_ca(common_name: &str) -> ScratchCa {
    let key = rcgen::KeyPair::generate().expect("key");
    let mut p = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    p.distinguished_name
        .push(rcgen::DnType::CommonName, common_name);
    rcgen::CertifiedIssuer::self_signed(p, key).expect("self-signed CA")
}

/// `A + T` for `key`'s point `A` and `T` of order 8: a canonical, not-small-order encoding
/// of a point outside the prime-order subgroup, whose signatures `A`'s secret can make.
pub fn torsioned_twin(key: &PublicKey) -> [u8; 32] {
    let raw: [u8; 32] = key.as_bytes().try_into().expect("an Ed25519 key");
    let a = curve25519_dalek::edwards::CompressedEdwardsY(raw)
        .decompress()
        .expect("point");
    (a + curve25519_dalek::constants::EIGHT_TORSION[1])
        .compress()
        .to_bytes()
}

// Format v2: hybrid signer sets and hand-built v2 files.

/// Ed25519 and ML-DSA-65 release keys of one hybrid fleet.
pub struct Hybrid {
    pub ed: Vec<SigningKey>,
    pub ml: Vec<SigningKey>,
}

impl Hybrid {
    pub fn new(ed: usize, ml: usize) -> Self {
        Self {
            ed: (0..ed).map(|_| SigningKey::generate()).collect(),
            ml: (0..ml)
                .map(|_| SigningKey::generate_with(Algorithm::MlDsa65))
                .collect(),
        }
    }
    /// An Ed25519 group of threshold `ed` AND an ML-DSA-65 group of threshold `ml`.
    pub fn set(&self, ed: u32, ml: u32) -> SignerSet {
        let group = |keys: &[SigningKey], alg, t| {
            SignerGroup::new(alg, keys.iter().map(SigningKey::public_key).collect(), t)
                .expect("group")
        };
        SignerSet::from_groups(vec![
            group(&self.ed, Algorithm::Ed25519, ed),
            group(&self.ml, Algorithm::MlDsa65, ml),
        ])
        .expect("hybrid set")
    }
}

/// A v2 payload's `signers`: each group by algorithm label, threshold and key hashes.
pub fn named_signers(set: &SignerSet) -> Value {
    json!({ "groups": set.groups().iter().map(|g| json!({
        "algorithm": g.algorithm().as_str(),
        "threshold": g.threshold(),
        "keys": g.keys().iter().map(|k| hex(&Sha256::digest(k.as_bytes()))).collect::<Vec<_>>(),
    })).collect::<Vec<_>>() })
}

/// A v2 payload at `version` listing `roots`, naming `signers` as the next set.
pub fn payload_v2(version: u64, roots: &[Vec<u8>], signers: &SignerSet) -> Value {
    json!({
        "schema": 2,
        "fleet": FLEET,
        "version": version,
        "issued_at": "2027-01-01T00:00:00Z",
        "expires_at": "2028-01-01T00:00:00Z",
        "roots": roots.iter().map(|d| json!({"sha256": sha(d)})).collect::<Vec<_>>(),
        "signers": named_signers(signers),
    })
}

/// The encoded keys a v2 file carries for `set`.
pub fn carried(set: &SignerSet) -> Vec<Vec<u8>> {
    set.keys().map(|k| k.as_bytes().to_vec()).collect()
}

/// A v2 bundle file for exactly this payload, signers, certificates and carried keys.
pub fn file_v2(payload: &Value, sigs: &[Sig<'_>], certs: &[Vec<u8>], keys: &[Vec<u8>]) -> Vec<u8> {
    let mut v: Value = serde_json::from_slice(&file_with(
        PAYLOAD_TYPE_V2,
        &serde_json::to_vec(payload).expect("json"),
        sigs,
        certs,
    ))
    .expect("json");
    v["keys"] = json!(keys.iter().map(|k| B64.encode(k)).collect::<Vec<_>>());
    serde_json::to_vec(&v).expect("json")
}

/// The largest payload the default limits allow, but for the signer set: the longest fleet
/// id, the last version that may be applied, and 16 roots with 64-byte names.
pub fn largest_builder(set: SignerSet) -> aws_iot_roots::bundle::BundleBuilder {
    let mut builder = aws_iot_roots::bundle::BundleBuilder::new(
        "f".repeat(64),
        u64::MAX - 1,
        at(ISSUED),
        at(EXPIRES),
        set,
    );
    for i in 0..16 {
        let key = rcgen::KeyPair::generate().expect("key");
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, format!("root {i}"));
        let cert = params.self_signed(&key).expect("cert");
        builder = builder.root(cert.der().clone(), Some(format!("{i:x<64}")));
    }
    builder
}

/// `verify` at CLOCK with the default policy, expecting a bundle to apply.
pub fn apply(
    bytes: &[u8],
    state: &TrustState,
) -> Result<aws_iot_roots::bundle::VerifiedBundle, aws_iot_roots::bundle::BundleError> {
    match aws_iot_roots::bundle::verify(bytes, state, at(CLOCK), &policy())? {
        aws_iot_roots::bundle::Verdict::Apply(v) => Ok(v),
        other => panic!("expected Apply, got {other:?}"),
    }
}

/// `verify` at CLOCK with the default policy, expecting a refusal.
pub fn refused(bytes: &[u8], state: &TrustState) -> aws_iot_roots::bundle::BundleError {
    aws_iot_roots::bundle::verify(bytes, state, at(CLOCK), &policy()).expect_err("must be refused")
}
