//! ML-DSA-65 (FIPS 204) known-answer tests against the RustCrypto `ml-dsa` crate, the
//! verifier chosen for format v2's post-quantum signer groups (docs/design/bundle-v2.md).
//!
//! The vectors are pyca/cryptography's (tests/data/mldsa/PROVENANCE.md): key generation from
//! the seed ξ, the deterministic pure signature, and verification, plus refusals of single-bit
//! changes to a signature, message, context or key (`any_single_bit_change_is_refused` says
//! which positions). `through_the_bundle_verify_path` runs every vector through the crate's
//! own key decoding and verification (`PublicKey::from_encoded`, `verifies_with_context`), the
//! code every v2 bundle signature goes through.
#![cfg(feature = "bundle")]

use aws_iot_roots::bundle::{Algorithm, KeyError, PublicKey};
use ml_dsa::{
    EncodedSignature, EncodedVerifyingKey, KeyExport as _, MlDsa65, Signature, VerifyingKey,
};

mod common;
use common::unhex;

const KAT: &str = include_str!("data/mldsa/kat_MLDSA_65_det_pure.first10.rsp");

/// Bytes of an ML-DSA-65 public key and signature (FIPS 204, table 2).
const PUBLIC_KEY_BYTES: usize = 1952;
const SIGNATURE_BYTES: usize = 3309;

struct Vector {
    count: u32,
    xi: Vec<u8>,
    pk: Vec<u8>,
    msg: Vec<u8>,
    ctx: Vec<u8>,
    sig: Vec<u8>,
}

fn vectors() -> Vec<Vector> {
    let mut out = Vec::new();
    for block in KAT.split("count = ").skip(1) {
        let mut lines = block.lines();
        let count: u32 = lines.next().expect("count").trim().parse().expect("count");
        let field = |name: &str| {
            block
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{name} = ")))
                .unwrap_or_else(|| panic!("vector {count}: no {name}"))
                .trim()
        };
        let msg = unhex(field("msg"));
        let sm = unhex(field("sm"));
        assert_eq!(field("mlen").parse::<usize>().expect("mlen"), msg.len());
        assert_eq!(field("smlen").parse::<usize>().expect("smlen"), sm.len());
        assert_eq!(
            sm.len(),
            SIGNATURE_BYTES + msg.len(),
            "vector {count}: sm = sig || msg"
        );
        assert_eq!(
            &sm[SIGNATURE_BYTES..],
            &msg[..],
            "vector {count}: sm ends with msg"
        );
        out.push(Vector {
            count,
            xi: unhex(field("xi")),
            pk: unhex(field("pk")),
            ctx: unhex(field("ctx")),
            sig: sm[..SIGNATURE_BYTES].to_vec(),
            msg,
        });
    }
    out
}

/// The vector's key pair, from its seed ξ (FIPS 204 ML-DSA.KeyGen_internal).
fn signing_key(v: &Vector) -> ml_dsa::SigningKey<MlDsa65> {
    let seed = ml_dsa::Seed::try_from(&v.xi[..]).expect("32-byte seed");
    ml_dsa::SigningKey::<MlDsa65>::from_seed(&seed)
}

fn verify(pk: &[u8], msg: &[u8], ctx: &[u8], sig: &[u8]) -> bool {
    let Ok(pk) = EncodedVerifyingKey::<MlDsa65>::try_from(pk) else {
        return false;
    };
    let Ok(sig) = EncodedSignature::<MlDsa65>::try_from(sig) else {
        return false;
    };
    let Some(sig) = Signature::<MlDsa65>::decode(&sig) else {
        return false;
    };
    VerifyingKey::<MlDsa65>::decode(&pk).verify_with_context(msg, ctx, &sig)
}

#[test]
fn the_vectors_are_the_ten_kept() {
    let v = vectors();
    assert_eq!(
        v.iter().map(|v| v.count).collect::<Vec<_>>(),
        (0..10).collect::<Vec<_>>()
    );
    for v in &v {
        assert_eq!(v.pk.len(), PUBLIC_KEY_BYTES, "vector {}", v.count);
        assert_eq!(v.xi.len(), 32, "vector {}", v.count);
    }
}

#[test]
fn key_generation_from_the_seed_gives_the_published_key() {
    for v in vectors() {
        let sk = signing_key(&v);
        let vk = ml_dsa::signature::Keypair::verifying_key(&sk);
        assert_eq!(&vk.to_bytes()[..], &v.pk[..], "vector {}", v.count);
    }
}

#[test]
fn deterministic_signing_gives_the_published_signature() {
    for v in vectors() {
        let sk = signing_key(&v);
        let sig = sk
            .expanded_key()
            .sign_deterministic(&v.msg, &v.ctx)
            .expect("sign");
        assert_eq!(&sig.encode()[..], &v.sig[..], "vector {}", v.count);
    }
}

#[test]
fn every_published_signature_verifies() {
    for v in vectors() {
        assert!(verify(&v.pk, &v.msg, &v.ctx, &v.sig), "vector {}", v.count);
    }
}

/// A flipped bit is refused wherever it lands. Every message and context byte is tried, and
/// every byte of the signature's challenge `c̃` (the first 48) and hints (the last 61); the
/// rest of the signature (every 7th byte) and the key (every 61st, and both ends of `rho`)
/// are sampled to keep the test fast.
#[test]
fn any_single_bit_change_is_refused() {
    let v = &vectors()[0];
    let mut positions: Vec<usize> = (0..SIGNATURE_BYTES).step_by(7).collect();
    positions.extend(0..48);
    positions.extend(SIGNATURE_BYTES - 61..SIGNATURE_BYTES);
    positions.sort_unstable();
    positions.dedup();
    for i in positions {
        let mut sig = v.sig.clone();
        sig[i] ^= 0x01;
        assert!(!verify(&v.pk, &v.msg, &v.ctx, &sig), "signature byte {i}");
    }
    for i in 0..v.msg.len() {
        let mut msg = v.msg.clone();
        msg[i] ^= 0x80;
        assert!(!verify(&v.pk, &msg, &v.ctx, &v.sig), "message byte {i}");
    }
    for i in 0..v.ctx.len() {
        let mut ctx = v.ctx.clone();
        ctx[i] ^= 0x01;
        assert!(!verify(&v.pk, &v.msg, &ctx, &v.sig), "context byte {i}");
    }
    for i in (0..PUBLIC_KEY_BYTES)
        .step_by(61)
        .chain([0, 31, 32, PUBLIC_KEY_BYTES - 1])
    {
        let mut pk = v.pk.clone();
        pk[i] ^= 0x01;
        assert!(!verify(&pk, &v.msg, &v.ctx, &v.sig), "key byte {i}");
    }
}

/// Format v2 signs with the empty context string: a signature made with a context does not
/// verify without it, nor one made without a context under another, so a context can never be
/// smuggled in or dropped.
#[test]
fn the_context_string_is_bound() {
    let v = &vectors()[0];
    assert!(!v.ctx.is_empty());
    assert!(!verify(&v.pk, &v.msg, &[], &v.sig));
    let sk = signing_key(v);
    let empty = sk
        .expanded_key()
        .sign_deterministic(&v.msg, &[])
        .expect("sign");
    assert!(verify(&v.pk, &v.msg, &[], &empty.encode()));
    assert!(!verify(&v.pk, &v.msg, &v.ctx, &empty.encode()));
}

/// A key one byte short, and a signature one byte short or long, are refused.
#[test]
fn wrong_lengths_are_refused() {
    let v = &vectors()[0];
    assert!(!verify(
        &v.pk[..PUBLIC_KEY_BYTES - 1],
        &v.msg,
        &v.ctx,
        &v.sig
    ));
    assert!(!verify(
        &v.pk,
        &v.msg,
        &v.ctx,
        &v.sig[..SIGNATURE_BYTES - 1]
    ));
    let mut long = v.sig.clone();
    long.push(0);
    assert!(!verify(&v.pk, &v.msg, &v.ctx, &long));
}

/// The published vectors through the code every bundle signature takes: the crate's key
/// decoding and its verification, with each vector's context. The bundle's own path (the empty
/// context) refuses them, since each was made with a context, and accepts the same key's
/// signature without one; a changed signature byte is refused on that path too.
#[test]
fn through_the_bundle_verify_path() {
    for v in vectors() {
        let key = PublicKey::from_encoded(Algorithm::MlDsa65, &v.pk).expect("key");
        assert!(
            key.verifies_with_context(&v.msg, &v.ctx, &v.sig),
            "vector {}",
            v.count
        );
        assert!(!key.verifies(&v.msg, &v.sig), "vector {}", v.count);
        let empty = signing_key(&v)
            .expanded_key()
            .sign_deterministic(&v.msg, &[])
            .expect("sign")
            .encode();
        assert!(key.verifies(&v.msg, &empty), "vector {}", v.count);
        for i in (0..SIGNATURE_BYTES).step_by(331) {
            let mut sig = empty.to_vec();
            sig[i] ^= 0x02;
            assert!(!key.verifies(&v.msg, &sig), "vector {} byte {i}", v.count);
        }
        // Read as ML-DSA-87 or Ed25519 (a wrong label), the key is refused by length.
        for (algorithm, expected) in [(Algorithm::MlDsa87, 2592), (Algorithm::Ed25519, 32)] {
            assert_eq!(
                PublicKey::from_encoded(algorithm, &v.pk),
                Err(KeyError::WrongLength {
                    algorithm,
                    expected,
                    actual: PUBLIC_KEY_BYTES,
                    index: None,
                }),
                "vector {}",
                v.count
            );
        }
    }
}
