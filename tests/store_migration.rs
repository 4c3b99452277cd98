//! The v1 → hybrid migration end to end through the trust store: a device that trusts an
//! Ed25519 signer set takes a v2 bundle whose next set is hybrid, with a power cut at every
//! step, and from then on accepts only bundles both schemes signed, across reboots.
#![cfg(all(
    feature = "store",
    feature = "signing",
    feature = "amazon-root-ca-1",
    feature = "amazon-root-ca-3"
))]

mod common;

use aws_iot_roots::bundle::{
    Algorithm, BundleBuilder, BundleError, Format, Limits, SignerRole, SignerSet, SigningKey,
};
use aws_iot_roots::store::{Storage as _, StoreConfig, StoreError, TrustStore};
use common::bundles::*;
use common::release::*;
use common::simfs::SimStorage;

/// The fleet's release side before and after the migration.
struct Fleet {
    old: Keys,
    new: Hybrid,
}

impl Fleet {
    fn new() -> Self {
        Self {
            old: Keys::new(3),
            new: Hybrid::new(3, 3),
        }
    }
    fn config(&self) -> StoreConfig {
        StoreConfig::new(FLEET, self.old.set(2))
    }
    fn bundle(&self, v: u64, next: SignerSet, signers: &[&SigningKey], format: Format) -> Vec<u8> {
        let mut b =
            BundleBuilder::new(FLEET, v, at(ISSUED + v * 60), at(EXPIRES), next).format(format);
        for r in V1 {
            b = b.root(root_der(r).into(), Some((*r).into()));
        }
        let mut bundle = b.build(&Limits::default()).expect("bundle");
        for k in signers {
            bundle.sign(k).expect("sign");
        }
        bundle.to_bytes()
    }
    /// Version 2: signed by the old threshold and both new groups', installing hybrid.
    fn migration(&self) -> Vec<u8> {
        let (o, n) = (&self.old.keys, &self.new);
        self.bundle(
            2,
            n.set(2, 2),
            &[&o[0], &o[1], &n.ed[0], &n.ed[1], &n.ml[0], &n.ml[1]],
            Format::V2,
        )
    }
}

/// A device that took the migration bundle, and its storage.
fn migrated() -> (Fleet, SimStorage) {
    let fleet = Fleet::new();
    let sim = SimStorage::new();
    let mut s = TrustStore::open_with(sim.clone(), fleet.config()).expect("open");
    s.apply(&fleet.migration(), now(), &mut pass)
        .expect("migrates");
    (fleet, sim)
}

fn short(store_err: StoreError) -> Option<(SignerRole, Algorithm)> {
    match store_err {
        StoreError::Bundle(BundleError::SignatureThreshold {
            role, algorithm, ..
        }) => Some((role, algorithm)),
        _ => None,
    }
}

/// After the migration, on every (re)open: only hybrid-signed bundles are accepted.
fn assert_hybrid(store: &mut TrustStore<SimStorage>, fleet: &Fleet, v: u64, step: &str) {
    assert!(
        store.floors().signers.same_as(&fleet.new.set(2, 2)),
        "{step}: the floors name the hybrid set"
    );
    let (o, n) = (&fleet.old.keys, &fleet.new);
    let ed_signed = fleet.bundle(v, n.set(2, 2), &[&n.ed[0], &n.ed[1]], Format::V2);
    let err = store
        .apply(&ed_signed, now(), &mut pass)
        .expect_err("Ed25519 alone");
    assert_eq!(
        short(err),
        Some((SignerRole::Current, Algorithm::MlDsa65)),
        "{step}"
    );
    let v1_old = fleet.bundle(v, fleet.old.set(2), &[&o[0], &o[1]], Format::V1);
    let err = store
        .apply(&v1_old, now(), &mut pass)
        .expect_err("a v1 bundle by the old keys");
    assert_eq!(
        short(err),
        Some((SignerRole::Current, Algorithm::Ed25519)),
        "{step}"
    );
}

#[test]
fn the_migration_to_hybrid_survives_a_power_cut_at_every_step() {
    let fleet = Fleet::new();
    let base = SimStorage::new();
    let mut store = TrustStore::open_with(base.clone(), fleet.config()).expect("open");
    let o = &fleet.old.keys;
    store
        .apply(
            &fleet.bundle(1, fleet.old.set(2), &[&o[0], &o[1]], Format::V1),
            now(),
            &mut pass,
        )
        .expect("v1 bundle");
    drop(store);
    let migration = fleet.migration();
    let probe = base.fork();
    let start = probe.ops();
    let mut s = TrustStore::open_with(probe.clone(), fleet.config()).expect("open");
    s.apply(&migration, now(), &mut pass).expect("migrates");
    let steps = probe.ops() - start;
    assert!(steps >= 12, "the migration takes {steps} steps");

    let (mut old, mut new) = (0, 0);
    for k in 0..=steps {
        let step = format!("power cut after step {k}");
        let sim = base.fork();
        sim.crash_after(k);
        if let Ok(mut s) = TrustStore::open_with(sim.clone(), fleet.config()) {
            let _ = s.apply(&migration, now(), &mut pass);
        }
        sim.crash();
        let mut s = TrustStore::open_with(sim.clone(), fleet.config()).expect("reopen");
        assert!(!s.anchors().is_empty(), "{step}: zero roots");
        match version(&s) {
            Some(1) => {
                old += 1;
                assert!(
                    s.floors().signers.same_as(&fleet.old.set(2)),
                    "{step}: the signers moved without the bundle"
                );
                s.apply(&migration, now(), &mut pass)
                    .unwrap_or_else(|e| panic!("{step}: retry: {e}"));
            }
            Some(2) => new += 1,
            other => panic!("{step}: version {other:?}"),
        }
        // Whichever way it went, the device is now hybrid, and stays so after a reboot.
        assert_hybrid(&mut s, &fleet, 3, &step);
        drop(s);
        let mut s = TrustStore::open_with(sim.clone(), fleet.config()).expect("reboot");
        assert_eq!(version(&s), Some(2), "{step}");
        assert_hybrid(&mut s, &fleet, 3, &format!("{step}, rebooted"));
    }
    assert!(old > 0 && new > 0, "old {old}, new {new}");
}

/// The floor record persists the groups (the one signer-set file form), so a device whose
/// generation files are all lost still demands both schemes; a downgrade back to Ed25519
/// needs both groups and is persisted in v1's form.
#[test]
fn the_hybrid_floor_survives_lost_generations_and_a_downgrade_needs_both_schemes() {
    let (fleet, sim) = migrated();
    for name in sim.names() {
        if name.starts_with("gen-") {
            sim.remove(&name).expect("remove");
        }
    }
    let mut s = TrustStore::open_with(sim.clone(), fleet.config()).expect("reopen");
    assert!(s.floors().signers.same_as(&fleet.new.set(2, 2)));
    assert_hybrid(&mut s, &fleet, 3, "generations lost");

    let n = &fleet.new;
    let ed_only = SignerSet::new(n.ed.iter().map(SigningKey::public_key).collect(), 2).expect("s");
    let down = fleet.bundle(3, ed_only.clone(), &[&n.ed[0], &n.ed[1]], Format::V2);
    let err = s.apply(&down, now(), &mut pass).expect_err("Ed25519 alone");
    assert_eq!(short(err), Some((SignerRole::Current, Algorithm::MlDsa65)));
    let down = fleet.bundle(
        3,
        ed_only.clone(),
        &[&n.ed[0], &n.ed[1], &n.ml[0], &n.ml[1]],
        Format::V2,
    );
    s.apply(&down, now(), &mut pass).expect("downgrade");
    drop(s);
    let s = TrustStore::open_with(sim.clone(), fleet.config()).expect("reopen");
    assert!(s.floors().signers.same_as(&ed_only));
}

/// A resealed floor record whose signer set is malformed (both the v1 and the groups form,
/// or an unknown algorithm) is refused as corrupt, and the floors still come from the
/// committed hybrid generation: a hostile file cannot drop the ML-DSA group.
#[test]
fn a_hostile_floor_record_cannot_drop_the_ml_dsa_group() {
    let (fleet, sim) = migrated();
    let sealed = sim.contents("floor.json").expect("floor record");
    let body = &sealed[65..];
    let rec: serde_json::Value = serde_json::from_slice(body).expect("json");
    assert!(rec["groups"].is_array(), "{rec}");
    let reseal = |rec: &serde_json::Value| {
        let body = serde_json::to_vec(rec).expect("json");
        let mut out = hex(&<sha2::Sha256 as sha2::Digest>::digest(&body)).into_bytes();
        out.push(b'\n');
        out.extend_from_slice(&body);
        out
    };
    let ed_only = fleet.old.set(2);
    let v1_form: serde_json::Value = serde_json::from_str(&ed_only.to_json()).expect("json");
    let mut both_forms = rec.clone();
    both_forms["threshold"] = v1_form["threshold"].clone();
    both_forms["keys"] = v1_form["keys"].clone();
    let mut unknown = rec.clone();
    unknown["groups"][1]["algorithm"] = serde_json::json!("ml-dsa-44");
    for (what, bad) in [("both forms", both_forms), ("unknown algorithm", unknown)] {
        let sim = sim.fork();
        sim.set_contents("floor.json", reseal(&bad));
        let s = TrustStore::open_with(sim.clone(), fleet.config()).expect("reopen");
        assert_note(&s, NoteKind::Corrupt, "floor.json");
        assert!(
            s.floors().signers.same_as(&fleet.new.set(2, 2)),
            "{what}: the floors lost the hybrid set"
        );
    }
}
