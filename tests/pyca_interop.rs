//! Format v2 against an independent implementation: pyca/cryptography (Ed25519 and
//! ML-DSA-65) in tests/interop/pyca_bundle.py, written from docs/bundle-format.md alone.
//! cryptography signs a hybrid bundle the crate verifies; the crate signs one cryptography
//! verifies; a change to any signed or bound byte is refused on both sides.
//!
//! Needs Python 3 with cryptography 48 or later (`IOT_ROOTS_PYTHON`, else `python3`);
//! scripts/test-all.sh installs it.
#![cfg(all(
    feature = "signing",
    feature = "amazon-root-ca-1",
    feature = "amazon-root-ca-3"
))]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use aws_iot_roots::bundle::{
    verify, Algorithm, BundleBuilder, BundleError, Limits, Policy, SignerGroup, SignerSet,
    SigningKey, TrustState, Verdict,
};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use common::bundles::{at, root_der, CLOCK, EXPIRES, FLOOR, ISSUED};
use serde_json::Value;

fn python() -> Option<String> {
    let exe = std::env::var("IOT_ROOTS_PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = Command::new(&exe)
        .args([
            "-c",
            "from cryptography.hazmat.primitives.asymmetric import mldsa",
        ])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    common::available(
        ok,
        &format!("{exe} with cryptography >= 48 (ML-DSA)"),
        "scripts/test-all.sh installs it and sets IOT_ROOTS_PYTHON",
    )
    .then_some(exe)
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/pyca_bundle.py")
}

/// Runs the script with `args` under `py`.
fn pyca(py: &str, args: &[&std::ffi::OsStr]) -> std::process::Output {
    Command::new(py)
        .arg(script())
        .args(args)
        .output()
        .expect("run python")
}

fn root_pem(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("roots")
        .join(name)
}

/// What a device verifying `bundle` with the python-written `signers.json` as its state says.
fn device_verdict(bundle: &[u8], signers: &SignerSet) -> Result<Verdict, BundleError> {
    let mut st = TrustState::initial("acme-prod", signers.clone());
    st.version = 1;
    st.time_floor = at(FLOOR);
    verify(bundle, &st, at(CLOCK), &Policy::default())
}

/// Byte positions to change in a part of `len` bytes: every `stride`-th, and the last.
fn positions(len: usize, stride: usize) -> impl Iterator<Item = usize> {
    (0..len).step_by(stride).chain(std::iter::once(len - 1))
}

/// The bundle with one decoded byte of a base64 member (at `path`) flipped.
fn flip(file: &Value, path: &[&str], index: Option<usize>, at: usize) -> Vec<u8> {
    let mut v = file.clone();
    let mut slot = &mut v;
    for p in path {
        slot = &mut slot[*p];
    }
    if let Some(i) = index {
        slot = &mut slot[i];
    }
    let mut raw = B64.decode(slot.as_str().expect("base64")).expect("base64");
    raw[at] ^= 0x01;
    *slot = Value::String(B64.encode(raw));
    serde_json::to_vec(&v).expect("json")
}

#[test]
fn a_hybrid_bundle_signed_by_cryptography_verifies_and_tampering_is_refused() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().expect("tmp");
    let out = pyca(
        &py,
        &[
            "make".as_ref(),
            dir.path().as_os_str(),
            root_pem("Amazon_Root_CA_1.pem").as_os_str(),
            root_pem("Amazon_Root_CA_3.pem").as_os_str(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bytes = std::fs::read(dir.path().join("bundle.json")).expect("bundle");
    let signers =
        SignerSet::from_json(&std::fs::read(dir.path().join("signers.json")).expect("signers"))
            .expect("the signer-set file cryptography wrote");
    assert_eq!(signers.groups().len(), 2);
    match device_verdict(&bytes, &signers) {
        Ok(Verdict::Apply(v)) => {
            assert_eq!(v.roots().len(), 2);
            assert!(v.payload().signers.same_as(&signers));
        }
        other => panic!("cryptography's bundle: {other:?}"),
    }
    let file: Value = serde_json::from_slice(&bytes).expect("json");
    let n = |path: &[&str]| {
        let mut v = &file;
        for p in path {
            v = &v[*p];
        }
        v.as_array().map_or(0, Vec::len)
    };
    let len_of = |path: &[&str], i: Option<usize>| {
        let mut v = &file;
        for p in path {
            v = &v[*p];
        }
        if let Some(i) = i {
            v = &v[i];
        }
        B64.decode(v.as_str().expect("b64")).expect("b64").len()
    };
    let mut tried = 0;
    // The payload (signed): every byte.
    for at in positions(len_of(&["envelope", "payload"], None), 1) {
        let bad = flip(&file, &["envelope", "payload"], None, at);
        assert!(
            device_verdict(&bad, &signers).is_err(),
            "payload byte {at} changed, yet accepted"
        );
        tried += 1;
    }
    // Each signature: a change in any one makes its group one short.
    for i in 0..n(&["envelope", "signatures"]) {
        let sig = file["envelope"]["signatures"][i]["sig"]
            .as_str()
            .expect("sig");
        let len = B64.decode(sig).expect("b64").len();
        for at in positions(len, len / 64) {
            let mut v = file.clone();
            let entry = &mut v["envelope"]["signatures"][i]["sig"];
            let mut raw = B64.decode(entry.as_str().expect("b64")).expect("b64");
            raw[at] ^= 0x01;
            *entry = Value::String(B64.encode(raw));
            let err = device_verdict(&serde_json::to_vec(&v).expect("json"), &signers)
                .expect_err("a changed signature");
            assert!(
                matches!(err, BundleError::SignatureThreshold { .. }),
                "signature #{i} byte {at}: {err:?}"
            );
            tried += 1;
        }
    }
    // Each carried key (bound by hash): the named key goes missing.
    for i in 0..n(&["keys"]) {
        let len = len_of(&["keys"], Some(i));
        for at in positions(len, len.div_ceil(32)) {
            let err = device_verdict(&flip(&file, &["keys"], Some(i), at), &signers)
                .expect_err("a changed key");
            assert!(
                matches!(err, BundleError::MissingKey { .. }),
                "key #{i} byte {at}: {err:?}"
            );
            tried += 1;
        }
    }
    // Each certificate (bound by hash).
    for i in 0..n(&["certificates"]) {
        let len = len_of(&["certificates"], Some(i));
        for at in positions(len, 97) {
            let err = device_verdict(&flip(&file, &["certificates"], Some(i), at), &signers)
                .expect_err("a changed certificate");
            assert!(
                matches!(
                    err,
                    BundleError::MissingCertificate { .. }
                        | BundleError::UnlistedCertificate { .. }
                ),
                "certificate #{i} byte {at}: {err:?}"
            );
            tried += 1;
        }
    }
    eprintln!("{tried} single-byte changes refused");
    assert!(tried > 1200, "{tried} changes tried");
}

#[test]
fn a_hybrid_bundle_signed_by_the_crate_verifies_in_cryptography() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().expect("tmp");
    let keys: Vec<SigningKey> = (0..3)
        .map(|_| SigningKey::generate())
        .chain((0..3).map(|_| SigningKey::generate_with(Algorithm::MlDsa65)))
        .collect();
    let group = |alg| {
        let ks = keys
            .iter()
            .filter(|k| k.algorithm() == alg)
            .map(SigningKey::public_key)
            .collect();
        SignerGroup::new(alg, ks, 2).expect("group")
    };
    let set = SignerSet::from_groups(vec![group(Algorithm::Ed25519), group(Algorithm::MlDsa65)])
        .expect("set");
    let mut bundle = BundleBuilder::new("acme-prod", 2, at(ISSUED), at(EXPIRES), set.clone())
        .root(root_der("Amazon Root CA 1").into(), None)
        .root(root_der("Amazon Root CA 3").into(), None)
        .build(&Limits::default())
        .expect("bundle");
    for k in [&keys[0], &keys[1], &keys[3], &keys[4]] {
        bundle.sign(k).expect("sign");
    }
    let bytes = bundle.to_bytes();
    std::fs::write(dir.path().join("signers.json"), set.to_json()).expect("signers");
    let check = |bytes: &[u8]| {
        std::fs::write(dir.path().join("bundle.json"), bytes).expect("bundle");
        let out = pyca(
            &py,
            &[
                "verify".as_ref(),
                dir.path().join("bundle.json").as_os_str(),
                dir.path().join("signers.json").as_os_str(),
            ],
        );
        let verdict: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|_| panic!("python: {}", String::from_utf8_lossy(&out.stderr)));
        (out.status.success(), verdict)
    };
    let (ok, verdict) = check(&bytes);
    assert!(ok, "cryptography refused the crate's bundle: {verdict}");
    // The other side refuses tampering too, or this test would prove nothing.
    let file: Value = serde_json::from_slice(&bytes).expect("json");
    for (path, index, at, why) in [
        (
            &["envelope", "payload"][..],
            None,
            40,
            "current ed25519 threshold",
        ),
        (
            &["envelope", "signatures"][..],
            Some(2),
            100,
            "current ml-dsa-65 threshold",
        ),
        (
            &["keys"][..],
            Some(4),
            1000,
            "carried keys do not match the named hashes",
        ),
        (
            &["certificates"][..],
            Some(1),
            200,
            "certificates do not match the listed roots",
        ),
    ] {
        let bad = if path == ["envelope", "signatures"] {
            let mut v = file.clone();
            let entry = &mut v["envelope"]["signatures"][index.expect("index")]["sig"];
            let mut raw = B64.decode(entry.as_str().expect("b64")).expect("b64");
            raw[at] ^= 1;
            *entry = Value::String(B64.encode(raw));
            serde_json::to_vec(&v).expect("json")
        } else {
            flip(&file, path, index, at)
        };
        let (ok, verdict) = check(&bad);
        assert!(!ok, "{path:?} changed, yet cryptography accepted");
        assert_eq!(verdict["reason"], Value::String(why.into()), "{path:?}");
    }
}

/// `keygen --alg ml-dsa-65`'s encodings (RFC 9881 seed-only PKCS#8, SPKI) are what
/// cryptography reads, and cryptography's are what the crate reads: the same public key on
/// both sides.
#[test]
fn ml_dsa_key_files_are_interchangeable_with_cryptography() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().expect("tmp");
    let ours = SigningKey::generate_with(Algorithm::MlDsa65);
    std::fs::write(
        dir.path().join("ours.pem"),
        ours.to_pkcs8_pem().expect("pem").as_bytes(),
    )
    .expect("write");
    std::fs::write(
        dir.path().join("ours.pub"),
        ours.public_key().to_spki_pem().expect("spki"),
    )
    .expect("write");
    let out = pyca(
        &py,
        &[
            "keys".as_ref(),
            dir.path().join("ours.pem").as_os_str(),
            dir.path().join("ours.pub").as_os_str(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let read: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(read["type"], "MLDSA65PrivateKey");
    assert_eq!(
        read["from_private"],
        Value::String(common::hex(ours.public_key().as_bytes()))
    );
    let out = pyca(&py, &["genkey".as_ref(), dir.path().as_os_str()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let theirs_hex = String::from_utf8(out.stdout).expect("utf-8");
    let theirs = SigningKey::from_pkcs8_pem(
        &std::fs::read_to_string(dir.path().join("py.pem")).expect("pem"),
    )
    .expect("cryptography's PKCS#8");
    assert_eq!(theirs.algorithm(), Algorithm::MlDsa65);
    assert_eq!(
        common::hex(theirs.public_key().as_bytes()),
        theirs_hex.trim()
    );
    let public = aws_iot_roots::bundle::PublicKey::from_spki_pem(
        &std::fs::read_to_string(dir.path().join("py.pub")).expect("pem"),
    )
    .expect("cryptography's SPKI");
    assert_eq!(public, theirs.public_key());
}
