//! Builds bundles for tests, independently of the library's serializer where a test needs to
//! say exactly which bytes go where.
#![allow(dead_code, unreachable_pub)]

use std::time::Duration;

use aws_iot_roots::bundle::{
    pae, Policy, PublicKey, SignerSet, SigningKey, TrustState, PAYLOAD_TYPE,
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

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

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
            "threshold": signers.threshold(),
            "keys": signers.keys().iter().map(|k| k.to_base64()).collect::<Vec<_>>(),
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
    let a = curve25519_dalek::edwards::CompressedEdwardsY(*key.as_bytes())
        .decompress()
        .expect("point");
    (a + curve25519_dalek::constants::EIGHT_TORSION[1])
        .compress()
        .to_bytes()
}
