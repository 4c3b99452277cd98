//! Property tests of `bundle::verify`.
#![cfg(all(
    feature = "signing",
    feature = "amazon-root-ca-1",
    feature = "amazon-root-ca-3"
))]

mod common;

use std::collections::BTreeSet;
use std::sync::OnceLock;

use aws_iot_roots::bundle::{verify, Bundle, Limits, Rule, SignerSet, Verdict};
use common::bundles::*;
use proptest::prelude::*;
use serde_json::json;

struct Fixture {
    keys: Keys,
    valid: Vec<u8>,
}

/// A valid 2-of-2 bundle over CA 1 and CA 3; generated once (key generation is random).
fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let keys = Keys::new(2);
        let p = payload(2, &amazon_roots(), &keys.set(2));
        let valid = file(&p, &[by(&keys.keys[0]), by(&keys.keys[1])], &amazon_roots());
        Fixture { keys, valid }
    })
}

/// What a bundle makes a device trust: the payload bytes and the certificates.
fn trusted_content(bytes: &[u8]) -> (Vec<u8>, BTreeSet<Vec<u8>>) {
    let b = Bundle::from_bytes(bytes, &Limits::default()).expect("accepted bundles parse");
    (
        b.payload_bytes().to_vec(),
        b.certificates().map(|c| c.to_vec()).collect(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// No byte-level mutation of a valid bundle changes what a device trusts: every mutant is
    /// refused, unless it differs only where nothing is trusted (whitespace, a keyid hint).
    #[test]
    fn no_mutation_of_a_valid_bundle_changes_what_is_trusted(pos in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let f = fixture();
        let mut bytes = f.valid.clone();
        let i = pos.index(bytes.len());
        prop_assume!(bytes[i] != byte);
        bytes[i] = byte;
        let st = state(f.keys.set(2), 1);
        if let Ok(Verdict::Apply(_)) = verify(&bytes, &st, at(CLOCK), &policy()) {
            prop_assert_eq!(trusted_content(&bytes), trusted_content(&f.valid));
        }
    }

    /// Any bit flipped in the signed payload, a signature or a certificate is refused.
    #[test]
    fn flipping_a_bit_in_any_signed_or_bound_part_is_refused(part in 0usize..3, pos in any::<prop::sample::Index>(), bit in 0u8..8) {
        let f = fixture();
        let mut v: serde_json::Value = serde_json::from_slice(&f.valid).expect("json");
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD;
        let field = match part {
            0 => &mut v["envelope"]["payload"],
            1 => &mut v["envelope"]["signatures"][0]["sig"],
            _ => &mut v["certificates"][1],
        };
        let mut raw = b64.decode(field.as_str().expect("string")).expect("base64");
        let i = pos.index(raw.len());
        raw[i] ^= 1 << bit;
        *field = json!(b64.encode(&raw));
        let st = state(f.keys.set(2), 1);
        let err = verify(&serde_json::to_vec(&v).expect("json"), &st, at(CLOCK), &policy())
            .expect_err("a flipped bit is refused");
        // A changed payload or signature no longer verifies: the threshold fails, before the
        // payload is parsed. A changed certificate no longer has the hash the payload lists.
        let expected = if part == 2 { Rule::Roots } else { Rule::CurrentSignatures };
        prop_assert_eq!(err.rule(), expected, "{}", err);
    }

    /// Random bundles against a model of the rules: the verifier accepts exactly when every
    /// rule holds, so every accepted bundle satisfies every rule.
    #[test]
    fn verifier_accepts_exactly_when_every_rule_holds(
        signed_by in prop::collection::vec(0usize..4, 0..5),
        state_version in 0u64..4,
        version in 0u64..4,
        other_fleet in any::<bool>(),
        rotate in any::<bool>(),
        issued_offset in -3i64..3,
        expires_offset in -3i64..3,
        listed in 0usize..4,
        carried in 0usize..4,
    ) {
        // Keys 0 and 1: current 2-of-2 set; key 2: the rotated-in set (1-of-1); key 3: a stranger.
        let keys = Keys::new(4);
        let current = SignerSet::new(vec![keys.keys[0].public_key(), keys.keys[1].public_key()], 2).expect("set");
        let next = if rotate { SignerSet::new(vec![keys.keys[2].public_key()], 1).expect("set") } else { current.clone() };
        let roots = amazon_roots();
        // listed/carried: bit 0 = CA 1, bit 1 = CA 3.
        let pick = |mask: usize| roots.iter().enumerate().filter(|(i, _)| mask & (1 << i) != 0).map(|(_, d)| d.clone()).collect::<Vec<_>>();
        let (listed_roots, carried_roots) = (pick(listed), pick(carried));
        let day = 86_400i64;
        let issued = (CLOCK as i64 + issued_offset * day) as u64;
        let expires = (CLOCK as i64 + expires_offset * day + day / 2) as u64;
        let mut p = payload(version, &listed_roots, &next);
        p["issued_at"] = json!(common::rfc3339(issued));
        p["expires_at"] = json!(common::rfc3339(expires));
        if other_fleet {
            p["fleet"] = json!("someone-else");
        }
        let sigs: Vec<Sig<'_>> = signed_by.iter().map(|&i| by(&keys.keys[i])).collect();
        let bytes = file(&p, &sigs, &carried_roots);
        let st = state(current, state_version);

        let signers: BTreeSet<usize> = signed_by.iter().copied().collect();
        let rules = [
            signers.contains(&0) && signers.contains(&1),          // current threshold
            issued < expires,                                      // well-formed validity
            !other_fleet,                                          // fleet
            version > state_version,                               // version (no active payload)
            !rotate || signers.contains(&2),                       // new signers' threshold
            expires > CLOCK,                                       // not expired
            issued <= CLOCK + 3600,                                // not issued in the future
            listed != 0 && listed == carried,                      // roots present and bound
        ];
        let result = verify(&bytes, &st, at(CLOCK), &policy());
        prop_assert_eq!(result.is_ok(), rules.iter().all(|r| *r), "rules {:?} gave {:?}", rules, result);
        // And a refusal names the first rule the model says fails, in the verifier's order.
        let rule_of = [
            Rule::CurrentSignatures,
            Rule::Payload,
            Rule::Fleet,
            Rule::Version,
            Rule::SignerRotation,
            Rule::Time,
            Rule::Time,
            Rule::Roots,
        ];
        if let (Err(e), Some(first)) = (&result, rules.iter().position(|r| !r)) {
            prop_assert_eq!(e.rule(), rule_of[first], "rules {:?} gave {}", rules, e);
        }
        if let Ok(Verdict::Apply(v)) = result {
            prop_assert!(v.payload().version > st.version);
            prop_assert_eq!(&v.payload().fleet, &st.fleet);
            prop_assert!(v.payload().expires_at > v.trusted_time());
            prop_assert_eq!(v.roots().len(), listed_roots.len());
        }
    }
}
